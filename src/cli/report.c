/* cli_report.c - `zplan report`: draw a recorded run's charts and tables. */
#include "config.h"
#include "cli.h"
#include "jsonget.h"
#include "report.h"
#include "result.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const fmt_names[] = {"png", "svg", "both", NULL};

/* zp_store_execs callback: each finished record into an array */
static int add_exec(void *arg, int64_t id, const char *status, const char *record)
{
    /* only finished executions are drawn: a row still running (or lost)
     * has no measurement */
    if (!status || !strcmp(status, "running") || !strcmp(status, "lost"))
        return 0;
    cJSON *r = record ? cJSON_Parse(record) : NULL;
    if (!cJSON_IsObject(r)) {   /* truncated or edited: zp_exec_record_check refuses it */
        cJSON_Delete(r);
        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "stored_record", record ? record : "");
    }
    if (!cJSON_GetObjectItem(r, "exec_id"))
        cJSON_AddNumberToObject(r, "exec_id", (double)id);
    cJSON_DeleteItemFromObject(r, "status");
    cJSON_AddStringToObject(r, "status", status);
    cJSON_AddItemToArray(arg, r);
    return 0;
}

int zp_report_run(zp_cli *cli, const char *dbpath, long long id, const char *out, int fmt, int top_n, FILE *to)
{
    zp_store *s;
    char *json = NULL, created[40] = "", dir[4096];
    zp_status st = zp_store_open_existing(dbpath, &s, &cli->err);
    if (st)
        return zp_fail(cli, st);
    st = zp_store_result(s, id, &json, created, sizeof created, &cli->err);
    cJSON *execs = cJSON_CreateArray();
    if (!st && execs)
        st = zp_store_execs(s, id, add_exec, execs, &cli->err);
    zp_store_close(s);
    if (st) {
        free(json);
        cJSON_Delete(execs);
        return zp_fail(cli, st);
    }
    cJSON *r = cJSON_Parse(json);
    free(json);
    if (!r) {
        cJSON_Delete(execs);
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "run %lld: the stored result is not valid JSON", id));
    }
    char what[64];
    snprintf(what, sizeof what, "run %lld", id);
    st = zp_result_check(r, what, &cli->err);
    const cJSON *x;
    cJSON_ArrayForEach(x, execs)
    {
        if (st)
            break;
        snprintf(what, sizeof what, "execution %.0f of run %lld", zp_jnum(x, "exec_id"), id);
        st = zp_exec_record_check(x, what, &cli->err);
    }
    if (st) {
        cJSON_Delete(r);
        cJSON_Delete(execs);
        return zp_fail(cli, st);
    }
    zp_report_opts o = {out, (zp_fmt)fmt, NULL, top_n, execs};
    st = zp_report_write(r, id, created, &o, dir, sizeof dir, &cli->err);
    cJSON_Delete(r);
    cJSON_Delete(execs);
    if (st)
        return zp_fail(cli, st);
    fprintf(to, "%s/index.html\n", dir);
    return 0;
}

typedef struct report_opts {
    const char *db, *out;
    int fmt, top_n, help;
} report_opts;

enum { R_OUT = 1, R_FORMAT, R_TOP, R_DB, R_HELP };

static const zp_opt report_opts_table[] = {
    {"out", R_OUT, "DIR", NULL, "the report's directory (default report-RUN_ID/)", "Options:"},
    {"format", R_FORMAT, "F", NULL, "png (default), svg or both", NULL},
    {"top", R_TOP, "N", NULL, "plans in the top-plans chart (default 10)", NULL},
    ZP_OPT_DB(R_DB, NULL),
    ZP_OPT_HELP(R_HELP),
    ZP_OPT_END};

static zp_status report_set(void *ctx, int id, const char *v, zp_err *e)
{
    report_opts *o = ctx;
    int64_t n;
    zp_status st;
    switch (id) {
    case R_OUT: o->out = v; break;
    case R_DB: return zp_opt_db(v, &o->db, e);
    case R_HELP: o->help = 1; break;
    case R_FORMAT: return zp_parse_enum("--format", v, fmt_names, &o->fmt, e);
    case R_TOP:
        if ((st = zp_parse_int("--top", v, 1, 64, &n, e)))
            return st;
        o->top_n = (int)n;
        break;
    default: break;
    }
    return ZP_OK;
}

static int zp_cmd_report(zp_cli *cli, int argc, char **argv)
{
    const char *db = NULL, *out = NULL;
    long long ids[64];
    int nid = 0, fmt = 0, top_n = 10;
    zp_status st;
    report_opts ro = {NULL, NULL, 0, 10, 0};
    const char *pos[64];
    int npos;
    if ((st = zp_opts_parse("report", report_opts_table, argc, argv, report_set, &ro, pos, 64, &npos, &cli->err)))
        return zp_fail(cli, npos >= 64 && strncmp(cli->err.msg, "unexpected", 10) == 0
                                ? zp_err_set(&cli->err, ZP_EINVAL, "at most 64 run ids at once")
                                : st);
    if (ro.help)
        return zp_usage(&zp_report_cmd);
    db = ro.db, out = ro.out, fmt = ro.fmt, top_n = ro.top_n;
    for (int i = 0; i < npos; i++) {
        int64_t id;
        if ((st = zp_parse_int("run id", pos[i], 1, INT64_MAX / 2, &id, &cli->err)))
            return zp_fail(cli, st);
        ids[nid++] = id;
    }
    if (out && !*out)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "--out needs a directory"));
    char gp[4096];
    if (!zp_report_gnuplot(gp, sizeof gp))
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "gnuplot is not installed (Debian: apt-get install "
                                       "gnuplot-nox; scripts/setup installs it) or $ZPLAN_GNUPLOT does not name a "
                                       "program"));
    const char *dbpath = zp_db_path(db);
    if (nid == 0) {
        zp_store *s;
        int64_t id;
        if ((st = zp_store_open_existing(dbpath, &s, &cli->err)))
            return zp_fail(cli, st);
        st = zp_store_latest(s, &id, &cli->err);
        zp_store_close(s);
        if (st)
            return zp_fail(cli, st);
        ids[nid++] = id;
    }
    /* several runs: every one there before any report is written (an
     * unknown id leaves nothing behind), then one report each, inside
     * --out when given */
    if (nid > 1) {
        zp_store *s;
        if ((st = zp_store_open_existing(dbpath, &s, &cli->err)))
            return zp_fail(cli, st);
        for (int i = 0; i < nid && !st; i++) {
            char *json = NULL;
            if ((st = zp_store_result(s, ids[i], &json, NULL, 0, &cli->err)) == ZP_OK) {
                /* and readable as zplan writes it (zp_report_run checks it again) */
                cJSON *r = cJSON_Parse(json);
                char what[64];
                snprintf(what, sizeof what, "run %lld", ids[i]);
                st = r ? zp_result_check(r, what, &cli->err)
                       : zp_err_set(&cli->err, ZP_EIO, "run %lld: the stored result is not valid JSON", ids[i]);
                cJSON_Delete(r);
            }
            free(json);
        }
        zp_store_close(s);
        if (st)
            return zp_fail(cli, st);
    }
    if (nid > 1 && out && mkdir(out, 0777) != 0 && errno != EEXIST)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "--out %s: %s", out, strerror(errno)));
    for (int i = 0; i < nid; i++) {
        char sub[4200];
        const char *dest = out;
        if (nid > 1 && out) {
            snprintf(sub, sizeof sub, "%s/report-%lld", out, ids[i]);
            dest = sub;
        }
        int rc = zp_report_run(cli, dbpath, ids[i], dest, fmt_names[fmt][0] == 'p' ? ZP_FMT_PNG :
                               fmt_names[fmt][0] == 's' ? ZP_FMT_SVG : ZP_FMT_BOTH, top_n, stdout);
        if (rc)
            return rc;
    }
    return 0;
}

static const char report_usage[] =
    "Usage: zplan report [RUN_ID...] [--out DIR] [--format png|svg|both] [--top N] [--db PATH]\n\n"
    "Draw a recorded run (default: the latest) with gnuplot into DIR (default report-RUN_ID/):\n"
    "strategy comparison, scaling with the number of GPUs per ZeRO stage, the top plans'\n"
    "step time and memory, communication by collective, memory per pipeline stage, and\n"
    "predicted vs measured once executions exist; each chart with its .dat and .gp, plus\n"
    "index.html and report.md with the same tables.  With several runs and --out, one\n"
    "report-RUN_ID/ each inside DIR.  The directory appears only when complete.  An\n"
    "existing DIR is replaced only when it is an earlier report holding nothing but the\n"
    "files its .zplan-report lists; a symbolic link or anything else there is refused.\n";
static const char report_tail[] = "Environment: ZPLAN_GNUPLOT names the gnuplot program (default: gnuplot in PATH).\n";

const zp_cmd zp_report_cmd = {"report", zp_cmd_report, "draw a recorded run's charts and tables (gnuplot)", report_usage,
                              report_opts_table, report_tail};
