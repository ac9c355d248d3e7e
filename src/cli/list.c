/* list.c - `zplan list`: the recorded planning runs. */
#include "config.h"
#include "cli.h"
#include "opts.h"
#include "preset.h"
#include "render.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

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
    } else {
        /* names as stored (a shared database may hold anything): control
         * characters shown as '?'; a shape derived from --params says so */
        char mn[64], gn[64], cr[64], bp[256];
        zp_printable(mn, sizeof mn, r->model && strcmp(r->model, "derived") != 0 ? r->model : "(from --params)");
        zp_printable(gn, sizeof gn, r->gpu);
        zp_printable(cr, sizeof cr, r->created ? r->created : "");
        zp_printable(bp, sizeof bp, r->best ? r->best : "(nothing fits)");
        printf("%5lld  %-20s  %-16s %9s  %5lld x %-10s %8lld %7lld  %s\n", (long long)r->id, cr, mn,
               zp_fmt_count(c, sizeof c, (double)r->params), (long long)r->gpus, gn, (long long)r->candidates,
               (long long)r->fitting, bp);
    }
    return 0;
}

static const zp_opt list_opts[] = {
    ZP_OPT_DB(ZP_SO_DB, "\nOptions:"),
    {"json", ZP_SO_JSON, NULL, NULL, "print the runs as JSON", NULL},
    ZP_OPT_UNITS(ZP_SO_UNITS),
    ZP_OPT_HELP(ZP_SO_HELP),
    ZP_OPT_END};

static int zp_cmd_list(zp_cli *cli, int argc, char **argv)
{
    zp_small_opts o;
    zp_store *s;
    zp_status st = zp_small_parse(cli, "list", list_opts, argc, argv, &o, 0);
    if (st)
        return zp_fail(cli, st);
    if (o.help)
        return zp_usage(&zp_list_cmd);
    if ((st = zp_store_open_existing(zp_db_path(o.db), &s, &cli->err)))
        return zp_fail(cli, st);
    /* a zplan database without runs (its profiles only, or a run whose
     * recording failed) answers as an empty file does: nothing to list */
    int64_t last;
    if ((st = zp_store_latest(s, &last, &cli->err))) {
        zp_store_close(s);
        if (st == ZP_ENOTFOUND)
            zp_err_set(&cli->err, st, "%s holds no runs yet (plan something first)", zp_db_path(o.db));
        return zp_fail(cli, st);
    }
    /* executions whose launcher is gone, in a database recognised above */
    zp_store_mark_lost(zp_db_path(o.db));
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

static const char list_usage[] =
    "Usage: zplan list [--db PATH] [--json] [--units gib|gb]\n\nList the recorded planning runs, newest first.\n";

const zp_cmd zp_list_cmd = {"list", zp_cmd_list, "list recorded runs", list_usage, list_opts, NULL};
