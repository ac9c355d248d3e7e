/* show.c - `zplan show`: a recorded run as it was answered, and its executions. */
#include "config.h"
#include "cli.h"
#include "opts.h"
#include "preset.h"
#include "render.h"
#include "result.h"
#include "jsonget.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* An execution's stored record, its status from the row.  A record that
 * is not a JSON object (truncated, edited) is kept as its text under
 * "stored_record", which zp_exec_record_check refuses (show's text view
 * fails; --json shows it as stored). */
static int add_exec(void *arg, int64_t id, const char *status, const char *record)
{
    cJSON *rec = cJSON_Parse(record ? record : "{}");
    if (rec && !cJSON_IsObject(rec)) {
        cJSON_Delete(rec);
        rec = NULL;
    }
    if (!rec) {
        rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "stored_record", record ? record : "");
    }
    if (!cJSON_GetObjectItem(rec, "exec_id"))
        cJSON_AddNumberToObject(rec, "exec_id", (double)id);
    cJSON_DeleteItemFromObject(rec, "status");
    cJSON_AddStringToObject(rec, "status", status ? status : "failed");
    cJSON_AddItemToArray((cJSON *)arg, rec);
    return 0;
}

static const zp_opt show_opts[] = {
    ZP_OPT_DB(ZP_SO_DB, "\nOptions:"),
    {"json", ZP_SO_JSON, NULL, NULL, "print the stored result object", NULL},
    ZP_OPT_UNITS(ZP_SO_UNITS),
    ZP_OPT_HELP(ZP_SO_HELP),
    ZP_OPT_END};

static int zp_cmd_show(zp_cli *cli, int argc, char **argv)
{
    zp_small_opts o;
    zp_store *s;
    int64_t id = 0;
    char *json = NULL;
    zp_status st = zp_small_parse(cli, "show", show_opts, argc, argv, &o, 1);
    if (st)
        return zp_fail(cli, st);
    if (o.help)
        return zp_usage(&zp_show_cmd);
    if (o.npos == 1 && (st = zp_parse_int("run id", o.pos[0], 1, INT64_MAX / 2, &id, &cli->err)))
        return zp_fail(cli, st);
    if ((st = zp_store_open_existing(zp_db_path(o.db), &s, &cli->err)))
        return zp_fail(cli, st);
    /* executions whose launcher is gone, in a database recognised above */
    zp_store_mark_lost(zp_db_path(o.db));
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
    if (r && !cJSON_IsObject(r)) {
        cJSON_Delete(r);
        r = NULL;
    }
    if (!r) {
        /* --json shows it as stored, its text under "stored_result" with
         * the executions, and fails as the text view does */
        if (o.json) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "run_id", (double)id);
            cJSON_AddStringToObject(x, "stored_result", json ? json : "");
            cJSON_AddItemToObject(x, "executions", execs);
            char *t = cJSON_Print(x);
            puts(t ? t : "{}");
            free(t);
            cJSON_Delete(x);
        } else
            cJSON_Delete(execs);
        free(json);
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "run %lld: the stored result is not a JSON object "
                                       "(truncated or edited?)", (long long)id));
    }
    free(json);
    if (!o.json) {   /* what is rendered is checked first (--json shows it as stored) */
        char what[64];
        snprintf(what, sizeof what, "run %lld", (long long)id);
        st = zp_result_check(r, what, &cli->err);
        const cJSON *x;
        cJSON_ArrayForEach(x, execs)
        {
            if (st)
                break;
            snprintf(what, sizeof what, "execution %.0f of run %lld", zp_jnum(x, "exec_id"), (long long)id);
            st = zp_exec_record_check(x, what, &cli->err);
        }
        if (st) {
            cJSON_Delete(r);
            cJSON_Delete(execs);
            return zp_fail(cli, st);
        }
    }
    cJSON_AddItemToObject(r, "executions", execs);
    if (o.json) {
        char *t = cJSON_Print(r);
        puts(t ? t : "{}");
        free(t);
    } else {
        char vb[64];
        printf("Run %lld (zplan %s)\n", (long long)id,
               zp_printable(vb, sizeof vb, cJSON_IsString(cJSON_GetObjectItem(r, "zplan_version"))
                                               ? cJSON_GetObjectItem(r, "zplan_version")->valuestring : "?"));
        /* in the units the run was answered in, unless --units says */
        zp_units u = o.units_set ? o.units
                     : strcmp(zp_jstr(zp_jobj(r, "conventions"), "units"), "gb") == 0 ? ZP_UNITS_DECIMAL
                                                                                       : ZP_UNITS_BINARY;
        zp_render_result(stdout, r, u);
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

static const char show_usage[] =
    "Usage: zplan show [ID] [--db PATH] [--json] [--units gib|gb]\n\nPrint a recorded run (default: the latest) as "
    "it was answered; --json prints\nthe stored result object.\n";

const zp_cmd zp_show_cmd = {"show", zp_cmd_show, "show a recorded run", show_usage, show_opts, NULL};
