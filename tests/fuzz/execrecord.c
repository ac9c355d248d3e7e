/* execrecord.c - fuzz stored execution records (the executions table's
 * record_json, written by zplan exec or added by zplan import; the
 * database may be shared and edited) as zplan show and zplan report read
 * them: zp_exec_record_check (src/shell/result.c) is the gate, then the
 * text (zp_render_exec) and the report's predicted-vs-measured chart and
 * pages (a fixed planning run, planned once at start-up). */
#include "fuzz.h"
#include "render.h"
#include "result.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static cJSON *run;   /* the run the executions belong to */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char *json = NULL;
    const char *args[] = {"zplan", "--params", "1e8", "--gpus", "2", "--dp", "2", "--tp", "1", "--pp", "1"};
    int rc = fuzz_plan(11, args, &json);
    FUZZ_REQUIRE(rc == 0 && json && (run = cJSON_Parse(json)), "cannot plan the run of the executions");
    free(json);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[4200], *s = fuzz_str(data, size);
    zp_err e = {0};

    /* zplan show: the record with its id and the row's status */
    cJSON *rec = cJSON_Parse(s);
    if (!rec)
        rec = cJSON_CreateObject();
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "status");
    char status[32];
    snprintf(status, sizeof status, "%s", cJSON_IsString(st) ? st->valuestring : "failed");
    if (!cJSON_GetObjectItem(rec, "exec_id"))
        cJSON_AddNumberToObject(rec, "exec_id", 1);
    cJSON_DeleteItemFromObject(rec, "status");
    cJSON_AddStringToObject(rec, "status", status);
    if (zp_exec_record_check(rec, "execution 1 of run 1", &e) == ZP_OK)
        zp_render_exec(fuzz_null(), rec);
    else
        FUZZ_REQUIRE(e.code == ZP_EIO, "refused with status %d: %s", (int)e.code, e.msg);
    cJSON_Delete(rec);

    /* zplan report: the records that are objects, as stored */
    cJSON *r = cJSON_Parse(s);
    free(s);
    if (!cJSON_IsObject(r)) {
        cJSON_Delete(r);
        return 0;
    }
    e = (zp_err){0};
    if (zp_exec_record_check(r, "execution 1 of run 1", &e) == ZP_OK) {
        cJSON *execs = cJSON_CreateArray();
        cJSON_AddItemToArray(execs, r);
        fuzz_report(run, execs, fuzz_path(dir, sizeof dir, "report"));
        cJSON_Delete(execs);
    } else
        cJSON_Delete(r);
    return 0;
}
