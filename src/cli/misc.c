/* cli_misc.c - `zplan models|gpus|list|show|help` and shared CLI helpers. */
#include "config.h"
#include "cli.h"
#include "preset.h"
#include "render.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

int zp_fail(zp_cli *cli, zp_status st)
{
    fprintf(stderr, "%s: %s\n", cli->prog, cli->err.msg[0] ? cli->err.msg : "failed");
    return zp_status_exit(st);
}

const char *zp_db_path(const char *opt)
{
    const char *env = getenv("ZPLAN_DB");
    return opt ? opt : (env && *env ? env : "zplan.db");
}

/* Options shared by the small commands: --json, --db PATH, --help, --units. */
typedef struct small_opts {
    int json, help;
    const char *db;
    zp_units units;
    const char *pos[8];
    int npos;
} small_opts;

static zp_status small_parse(zp_cli *cli, const char *cmd, int argc, char **argv, small_opts *o, int max_pos)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0)
            o->json = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            o->help = 1;
        else if (strcmp(a, "--db") == 0 || strncmp(a, "--db=", 5) == 0) {
            o->db = a[4] == '=' ? a + 5 : (i + 1 < argc ? argv[++i] : NULL);
            if (!o->db || !*o->db)
                return zp_err_set(&cli->err, ZP_EINVAL, "--db needs a path");
        } else if (strcmp(a, "--units") == 0 || strncmp(a, "--units=", 8) == 0) {
            static const char *const un[] = {"gib", "gb", NULL};
            const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            int u = 0;
            zp_status st = zp_parse_enum("--units", v, un, &u, &cli->err);
            if (st)
                return st;
            o->units = (zp_units)u;
        } else if (a[0] == '-' && a[1])
            return zp_err_set(&cli->err, ZP_EINVAL, "unknown option '%s' for zplan %s (see zplan help %s)", a, cmd,
                              cmd);
        else if (o->npos < max_pos)
            o->pos[o->npos++] = a;
        else
            return zp_err_set(&cli->err, ZP_EINVAL, "unexpected argument '%s' for zplan %s (see zplan help %s)", a,
                              cmd, cmd);
    }
    return ZP_OK;
}

static int help_of(const char *name)
{
    fputs(zp_cmd_find(name)->usage, stdout);
    return 0;
}

int zp_cmd_models(zp_cli *cli, int argc, char **argv)
{
    small_opts o;
    zp_status st = small_parse(cli, "models", argc, argv, &o, 0);
    if (st)
        return zp_fail(cli, st);
    if (o.help)
        return help_of("models");
    char names[128][64];
    int n = zp_preset_names("models", names, 128);
    if (n == 0)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "no model presets in %s/models (set ZPLAN_DATADIR)",
                                       zp_data_dir()));
    cJSON *arr = o.json ? cJSON_CreateArray() : NULL;
    if (!o.json)
        printf("%-16s %6s %7s %6s %5s %7s %8s %10s  %s\n", "name", "layers", "hidden", "heads", "kv", "ffn", "vocab",
               "params", "kind");
    for (int i = 0; i < n; i++) {
        zp_model m;
        zp_err e;
        char c[32];
        if (zp_model_preset(names[i], &m, &e) != ZP_OK) {
            fprintf(stderr, "%s: %s\n", cli->prog, e.msg);
            continue;
        }
        if (o.json) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "name", m.name);
            cJSON_AddNumberToObject(x, "params", (double)zp_model_params(&m));
            cJSON_AddNumberToObject(x, "layers", (double)m.layers);
            cJSON_AddNumberToObject(x, "hidden", (double)m.hidden);
            cJSON_AddNumberToObject(x, "heads", (double)m.heads);
            cJSON_AddNumberToObject(x, "kv_heads", (double)m.kv_heads);
            cJSON_AddNumberToObject(x, "ffn", (double)m.ffn);
            cJSON_AddNumberToObject(x, "vocab", (double)m.vocab);
            cJSON_AddItemToArray(arr, x);
        } else
            printf("%-16s %6lld %7lld %6lld %5lld %7lld %8lld %10s  %s %s%s\n", m.name, (long long)m.layers,
                   (long long)m.hidden, (long long)m.heads, (long long)m.kv_heads, (long long)m.ffn,
                   (long long)m.vocab, zp_fmt_count(c, sizeof c, (double)zp_model_params(&m)),
                   m.mlp == ZP_MLP_GELU ? "GELU" : "SwiGLU", m.norm == ZP_NORM_LAYERNORM ? "LayerNorm" : "RMSNorm",
                   m.tied ? ", tied" : "");
    }
    if (arr) {
        char *t = cJSON_Print(arr);
        puts(t ? t : "[]");
        free(t);
        cJSON_Delete(arr);
    }
    return 0;
}

int zp_cmd_gpus(zp_cli *cli, int argc, char **argv)
{
    small_opts o;
    zp_status st = small_parse(cli, "gpus", argc, argv, &o, 0);
    if (st)
        return zp_fail(cli, st);
    if (o.help)
        return help_of("gpus");
    char names[128][64];
    int n = zp_preset_names("gpus", names, 128);
    if (n == 0)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "no GPU presets in %s/gpus (set ZPLAN_DATADIR)",
                                       zp_data_dir()));
    cJSON *arr = o.json ? cJSON_CreateArray() : NULL;
    if (!o.json)
        printf("%-12s %-12s %10s %8s %8s %8s %7s %7s %6s %5s %10s  %s\n", "preset", "name", "memory", "fp32", "fp16",
               "bf16", "HBM", "NVLink", "NIC", "/node", "host/node", "description");
    for (int i = 0; i < n; i++) {
        zp_gpu g;
        zp_err e;
        char m[32], h[32];
        if (zp_gpu_preset(names[i], &g, &e) != ZP_OK) {
            fprintf(stderr, "%s: %s\n", cli->prog, e.msg);
            continue;
        }
        if (o.json) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "preset", names[i]);
            cJSON_AddStringToObject(x, "name", g.name);
            cJSON_AddNumberToObject(x, "memory_bytes", (double)g.mem_bytes);
            for (int d = 0; d < ZP_DT_N; d++)
                cJSON_AddNumberToObject(x, d == 0 ? "fp32_flops" : d == 1 ? "fp16_flops" : "bf16_flops",
                                        g.peak_flops[d]);
            cJSON_AddNumberToObject(x, "hbm_gbps", g.hbm_gbps);
            cJSON_AddNumberToObject(x, "nvlink_gbps", g.nvlink_gbps);
            cJSON_AddNumberToObject(x, "nic_gbps", g.nic_gbps);
            cJSON_AddNumberToObject(x, "gpus_per_node", (double)g.gpus_per_node);
            cJSON_AddNumberToObject(x, "host_memory_bytes", (double)g.host_mem_bytes);
            cJSON_AddItemToArray(arr, x);
        } else
            printf("%-12s %-12s %10s %8.1f %8.1f %8.1f %7.0f %7.0f %6.1f %5lld %10s  %s\n", names[i], g.name,
                   zp_fmt_bytes(m, sizeof m, g.mem_bytes, o.units), g.peak_flops[0] / 1e12, g.peak_flops[1] / 1e12,
                   g.peak_flops[2] / 1e12, g.hbm_gbps, g.nvlink_gbps, g.nic_gbps, (long long)g.gpus_per_node,
                   zp_fmt_bytes(h, sizeof h, g.host_mem_bytes, o.units), g.desc);
    }
    if (arr) {
        char *t = cJSON_Print(arr);
        puts(t ? t : "[]");
        free(t);
        cJSON_Delete(arr);
    } else
        printf("(peak: dense TFLOP/s; bandwidths: GB/s per GPU, one direction)\n");
    return 0;
}

typedef struct list_ctx {
    cJSON *arr;
    int n;
} list_ctx;

static int list_row(void *arg, const zp_run_row *r)
{
    list_ctx *x = arg;
    char c[32];
    x->n++;
    if (x->arr) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "run_id", (double)r->id);
        cJSON_AddStringToObject(o, "created", r->created ? r->created : "");
        cJSON_AddStringToObject(o, "model", r->model ? r->model : "");
        cJSON_AddNumberToObject(o, "params", (double)r->params);
        cJSON_AddStringToObject(o, "gpu", r->gpu ? r->gpu : "");
        cJSON_AddNumberToObject(o, "gpus", (double)r->gpus);
        cJSON_AddNumberToObject(o, "candidates_evaluated", (double)r->candidates);
        cJSON_AddNumberToObject(o, "fitting", (double)r->fitting);
        if (r->best)
            cJSON_AddStringToObject(o, "best", r->best);
        else
            cJSON_AddNullToObject(o, "best");
        cJSON_AddItemToArray(x->arr, o);
    } else
        printf("%5lld  %-20s  %-16s %9s  %5lld x %-10s %8lld %7lld  %s\n", (long long)r->id,
               r->created ? r->created : "", r->model ? r->model : "", zp_fmt_count(c, sizeof c, (double)r->params),
               (long long)r->gpus, r->gpu ? r->gpu : "", (long long)r->candidates, (long long)r->fitting,
               r->best ? r->best : "(nothing fits)");
    return 0;
}

int zp_cmd_list(zp_cli *cli, int argc, char **argv)
{
    small_opts o;
    zp_store *s;
    zp_status st = small_parse(cli, "list", argc, argv, &o, 0);
    if (st)
        return zp_fail(cli, st);
    if (o.help)
        return help_of("list");
    if ((st = zp_store_open_existing(zp_db_path(o.db), &s, &cli->err)))
        return zp_fail(cli, st);
    list_ctx x = {o.json ? cJSON_CreateArray() : NULL, 0};
    if (!o.json)
        printf("%5s  %-20s  %-16s %9s  %-18s %8s %7s  %s\n", "run", "created (UTC)", "model", "params", "cluster",
               "searched", "fit", "best plan");
    st = zp_store_runs(s, 1000000, list_row, &x, &cli->err);
    zp_store_close(s);
    if (st) {
        cJSON_Delete(x.arr);
        return zp_fail(cli, st);
    }
    if (x.arr) {
        char *t = cJSON_Print(x.arr);
        puts(t ? t : "[]");
        free(t);
        cJSON_Delete(x.arr);
    }
    return 0;
}

/* Collect execution records (each its stored JSON) into an array. */
static int add_exec(void *arg, int64_t id, const char *status, const char *record)
{
    cJSON *rec = cJSON_Parse(record ? record : "{}");
    if (!rec)
        rec = cJSON_CreateObject();
    if (!cJSON_GetObjectItem(rec, "exec_id"))
        cJSON_AddNumberToObject(rec, "exec_id", (double)id);
    cJSON_DeleteItemFromObject(rec, "status");
    cJSON_AddStringToObject(rec, "status", status ? status : "failed");
    cJSON_AddItemToArray((cJSON *)arg, rec);
    return 0;
}

int zp_cmd_show(zp_cli *cli, int argc, char **argv)
{
    small_opts o;
    zp_store *s;
    int64_t id = 0;
    char *json = NULL;
    zp_status st = small_parse(cli, "show", argc, argv, &o, 1);
    if (st)
        return zp_fail(cli, st);
    if (o.help)
        return help_of("show");
    if (o.npos == 1 && (st = zp_parse_int("run id", o.pos[0], 1, INT64_MAX / 2, &id, &cli->err)))
        return zp_fail(cli, st);
    if ((st = zp_store_open_existing(zp_db_path(o.db), &s, &cli->err)))
        return zp_fail(cli, st);
    if ((o.npos == 0 && (st = zp_store_latest(s, &id, &cli->err))) || (st = zp_store_result(s, id, &json, NULL, 0, &cli->err))) {
        zp_store_close(s);
        return zp_fail(cli, st);
    }
    cJSON *execs = cJSON_CreateArray();
    if (zp_store_schema_version(s) >= 2 && (st = zp_store_execs(s, id, add_exec, execs, &cli->err))) {
        zp_store_close(s);
        cJSON_Delete(execs);
        free(json);
        return zp_fail(cli, st);
    }
    zp_store_close(s);
    cJSON *r = cJSON_Parse(json);
    free(json);
    if (!r) {
        cJSON_Delete(execs);
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "run %lld: the stored result is not valid JSON",
                                       (long long)id));
    }
    cJSON_AddItemToObject(r, "executions", execs);
    if (o.json) {
        char *t = cJSON_Print(r);
        puts(t ? t : "{}");
        free(t);
    } else {
        printf("Run %lld (zplan %s)\n", (long long)id,
               cJSON_IsString(cJSON_GetObjectItem(r, "zplan_version")) ? cJSON_GetObjectItem(r, "zplan_version")->valuestring : "?");
        zp_render_result(stdout, r, o.units);
        const cJSON *x;
        cJSON_ArrayForEach(x, execs)
        {
            putchar('\n');
            zp_render_exec(stdout, x);
        }
    }
    cJSON_Delete(r);
    return 0;
}

int zp_cmd_help(zp_cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        printf("Usage: %s [COMMAND] [OPTIONS]\n\n"
               "Plan, record and check the memory, communication and speed of parallel layouts for\n"
               "training large transformer models.  Without a command, zplan plans:\n\n"
               "  %s --params 11e9 --gpus 8\n\nCommands:\n", cli->prog, cli->prog);
        for (const zp_cmd *c = zp_commands; c->name; c++)
            printf("  %-8s %s\n", c->name, c->summary);
        printf("\nGeneral options:\n  --help     show help (zplan help COMMAND for a command's options)\n"
               "  --version  show the version\n\n"
               "Exit status: 0 success, 1 runtime failure, 2 bad usage or input.\n"
               "Environment: ZPLAN_DB (database path, default ./zplan.db), ZPLAN_DATADIR (presets).\n"
               "See zplan(1) and README.md.\n");
        return 0;
    }
    const zp_cmd *c = zp_cmd_find(argv[1]);
    if (!c) {
        char list[256] = "";
        for (const zp_cmd *x = zp_commands; x->name; x++) {
            strcat(list, x->name);
            if (x[1].name)
                strcat(list, ", ");
        }
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "help: unknown command '%s' (allowed: %s)", argv[1],
                                       list));
    }
    fputs(c->usage, stdout);
    return 0;
}
