/* exec_plan.c - which plan `zplan exec` runs: plan N of a recorded run
 * (ID or ID/N), or the best plan of a plan file, planned by running this
 * zplan on it (--from FILE --no-store) so that nothing is recorded until
 * exec has checked all it can; the planning run is recorded afterwards
 * (zp_exec_record_planning). */
#include "config.h"
#include "cli.h"
#include "jsonget.h"
#include "launch.h"
#include "result.h"
#include "store.h"
#include "exec.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Run this zplan on the plan file with extra (--no-store or not), its JSON
 * answer parsed into *res; *rc the planner's own exit 1 or 2 (it said why
 * on stderr: the caller returns it), else 0 with e set on a failure. */
static zp_status plan_file(zp_exec_target *t, const char *dbpath, int64_t timeout_s, int store, cJSON **res, int *rc,
                           zp_err *e)
{
    char *pargs[] = {t->self, "--from", (char *)t->plan_file, "--db", (char *)dbpath, "--json", NULL, NULL, NULL};
    int n = 6;
    if (!store)
        pargs[n++] = "--no-store";
    /* the engine runs activation offload in one mode only: a plan file
     * that does not ask for it is planned without it */
    if (!zp_plan_file_gives(t->plan_file, "act-offload"))
        pargs[n++] = "--no-act-offload";
    char *pout = NULL;
    int prc = zp_run_capture(pargs, timeout_s, NULL, &pout, &zp_exec_interrupted);
    *res = prc == 0 && pout ? cJSON_Parse(pout) : NULL;
    free(pout);
    *rc = 0;
    if (prc == 1 || prc == 2) {   /* the planner said why, in its one line on stderr */
        cJSON_Delete(*res);
        *res = NULL;
        *rc = prc;
        return ZP_EIO;
    }
    if (prc != 0)
        return zp_err_set(e, ZP_EIO, "%s could not be planned (the planner %s %d)", t->plan_file,
                          prc == 124 ? "timed out, --timeout" : prc < 0 ? "did not start:" : "ended with status", prc);
    if (!*res)
        return zp_err_set(e, ZP_EIO, "%s: the planner's answer is not JSON", t->plan_file);
    return ZP_OK;
}

zp_status zp_exec_load(const char *target, const char *dbpath, int64_t timeout_s, zp_exec_target *t, int *rc,
                       zp_err *e)
{
    struct stat fst;
    size_t tl = strlen(target);
    zp_status st;
    cJSON *res = NULL;
    memset(t, 0, sizeof *t);
    t->rank = 1;
    *rc = 0;
    if ((tl > 5 && strcmp(target + tl - 5, ".plan") == 0) ||
        (strspn(target, "0123456789/") != tl && stat(target, &fst) == 0 && S_ISREG(fst.st_mode))) {
        ssize_t k = readlink("/proc/self/exe", t->self, sizeof t->self - 1);
        if (k <= 0)
            return zp_err_set(e, ZP_EIO, "cannot find the zplan program to plan %s", target);
        t->self[k] = '\0';
        if (stat(target, &fst) != 0)
            return zp_err_set(e, ZP_EINVAL, "%s: %s (a plan file, or ID[/N] of zplan list)", target, strerror(errno));
        t->plan_file = target;
        if ((st = plan_file(t, dbpath, timeout_s, 0, &res, rc, e)))
            return st;
    } else {
        char idbuf[64];
        snprintf(idbuf, sizeof idbuf, "%s", target);
        char *slash = strchr(idbuf, '/');
        if (slash) {
            *slash = '\0';
            if ((st = zp_parse_int("plan number", slash + 1, 1, 1000, &t->rank, e)))
                return st;
        }
        if ((st = zp_parse_int("run id", idbuf, 1, INT64_MAX / 2, &t->run_id, e)))
            return zp_err_set(e, ZP_EINVAL, "'%s' is not a run (allowed: ID or ID/N of zplan list)", target);
        char *json = NULL;
        zp_store *s;
        if ((st = zp_store_open_existing(dbpath, &s, e)))
            return st;
        st = zp_store_result(s, t->run_id, &json, NULL, 0, e);
        zp_store_close(s);
        if (st)
            return st;
        res = cJSON_Parse(json);
        free(json);
        if (!res)
            return zp_err_set(e, ZP_EIO, "run %lld: the stored result is not valid JSON", (long long)t->run_id);
    }
    /* the stored (or just planned) result, checked before it is read */
    char what[4200];
    if (t->plan_file)
        snprintf(what, sizeof what, "%s", t->plan_file);
    else
        snprintf(what, sizeof what, "run %lld", (long long)t->run_id);
    if ((st = zp_result_check(res, what, e))) {
        cJSON_Delete(res);
        return st;
    }
    /* what the plan is called in messages */
    if (t->plan_file)
        snprintf(t->which, sizeof t->which, "the best plan of %s", t->plan_file);
    else
        snprintf(t->which, sizeof t->which, "plan %lld/%lld", (long long)t->run_id, (long long)t->rank);
    const cJSON *plan = cJSON_GetArrayItem(zp_jobj(res, "plans"), (int)t->rank - 1);
    if (!plan) {
        int nplans = cJSON_GetArraySize(zp_jobj(res, "plans"));
        cJSON_Delete(res);
        if (t->plan_file)
            return zp_err_set(e, ZP_EINVAL, "%s: no layout fits, so there is no plan to run", t->plan_file);
        return zp_err_set(e, ZP_EINVAL, "run %lld has no plan %lld (it lists %d)", (long long)t->run_id,
                          (long long)t->rank, nplans);
    }
    zp_result_problem(res, &t->full);
    zp_result_layout(plan, &t->l);
    t->full_total = (uint64_t)zp_jnum(zp_jobj(plan, "memory_bytes"), "total");
    cJSON_Delete(res);
    return ZP_OK;
}

zp_status zp_exec_record_planning(zp_exec_target *t, const char *dbpath, int64_t timeout_s, int *rc, zp_err *e)
{
    cJSON *res = NULL;
    zp_status st = plan_file(t, dbpath, timeout_s, 1, &res, rc, e);
    t->run_id = res ? (int64_t)zp_jnum(res, "run_id") : 0;
    cJSON_Delete(res);
    if (*rc)
        return ZP_EIO;
    if (st || t->run_id < 1)
        return zp_err_set(e, ZP_EIO, "%s: the planning run was not recorded", t->plan_file);
    return ZP_OK;
}
