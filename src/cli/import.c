/* import.c - `zplan import FILE`: an execution that could not be recorded
 * when it ended (the database locked, read-only, ...) was saved to FILE;
 * this adds it to the database.  The file's format and the SQL are the
 * store's (zp_store_import_exec). */
#include "config.h"
#include "cli.h"
#include "opts.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static const zp_opt import_opts[] = {
    ZP_OPT_DB(ZP_SO_DB, "\nOptions:"),
    {"json", ZP_SO_JSON, NULL, NULL, "print the imported record as JSON", NULL},
    ZP_OPT_HELP(ZP_SO_HELP),
    ZP_OPT_END};

static int zp_cmd_import(zp_cli *cli, int argc, char **argv)
{
    zp_small_opts o;
    zp_saved_exec x;
    zp_import_how how;
    const char *db = NULL;
    zp_status st = zp_small_parse(cli, "import", import_opts, argc, argv, &o, 1);
    if (st)
        return zp_fail(cli, st);
    if (o.help)
        return zp_usage(&zp_import_cmd);
    if (o.npos != 1)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "say which file: zplan import FILE (the file zplan "
                                       "exec named when it could not record an execution)"));
    /* the database the file names, unless --db says otherwise */
    if ((st = zp_store_import_exec(o.pos[0], o.db, &x, &db, &how, &cli->err))) {
        zp_saved_exec_fini(&x);
        return zp_fail(cli, st);
    }
    static const char *const hows[] = {"finished", "added", "already"};
    if (o.json) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "file", o.pos[0]);
        cJSON_AddStringToObject(r, "database", db);
        cJSON_AddNumberToObject(r, "exec_id", (double)x.exec_id);
        cJSON_AddNumberToObject(r, "run_id", (double)x.run_id);
        cJSON_AddNumberToObject(r, "plan", (double)x.plan_rank);
        cJSON_AddStringToObject(r, "status", x.status);
        cJSON_AddStringToObject(r, "import", hows[how]);
        char *t = cJSON_Print(r);
        puts(t ? t : "{}");
        free(t);
        cJSON_Delete(r);
    } else if (how == ZP_IMPORT_ALREADY)
        printf("Execution %lld of run %lld (%s) is already in %s: nothing to do (%s can be deleted).\n",
               (long long)x.exec_id, (long long)x.run_id, x.status, db, o.pos[0]);
    else
        printf("Execution %lld of run %lld (%s) is now recorded in %s (zplan show %lld); %s can be deleted.\n",
               (long long)x.exec_id, (long long)x.run_id, x.status, db, (long long)x.run_id, o.pos[0]);
    zp_saved_exec_fini(&x);
    return 0;
}

static const char import_usage[] =
    "Usage: zplan import FILE [--db PATH] [--json]\n\n"
    "Add an execution that zplan exec could not record when it ended (the database\n"
    "locked past ZPLAN_DB_WAIT_S, read-only, ...) and saved to FILE instead.\n"
    "It goes to the database FILE names, or to --db PATH: its row is finished, or\n"
    "added if missing, in one transaction.  Importing the same file again changes\n"
    "nothing (exit 0); a row that is another execution, or one that finished with\n"
    "another record, is refused (exit 2).\n";

const zp_cmd zp_import_cmd = {"import", zp_cmd_import, "add an execution saved to a file", import_usage, import_opts, NULL};
