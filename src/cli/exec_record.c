/* exec_record.c - what zplan exec reads of zplan-engine's stdout (a
 * separate program: checked before it is read) and the execution's record
 * and measured GPU profile it builds from it. */
#include "config.h"
#include "exec.h"
#include "jsonget.h"
#include "preset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The engine's stdout, a JSON value per line: its progress lines (into
 * *progress, an array of their objects, each as zp_engine_progress_check
 * accepts it; a line that is not is no step) and its result, the last other
 * line (NULL when there is none: the run was ended before it reported). */
cJSON *zp_exec_engine_output(const char *out, cJSON **progress)
{
    cJSON *res = NULL;
    *progress = cJSON_CreateArray();
    for (const char *p = out; p && *p;) {
        size_t len = strcspn(p, "\n");
        cJSON *j = len ? cJSON_ParseWithLength(p, len) : NULL;
        zp_err pe;
        if (j && zp_jobj(j, "progress")) {
            if (zp_engine_progress_check(zp_jobj(j, "progress"), &pe) == ZP_OK)
                cJSON_AddItemToArray(*progress, cJSON_DetachItemFromObject(j, "progress"));
        } else if (j && cJSON_IsObject(j)) {
            cJSON_Delete(res);
            res = j;
            j = NULL;
        }
        cJSON_Delete(j);
        p += len + (p[len] == '\n');
    }
    return res;
}

/* What the schema cannot say of the engine's output: that it answers for
 * the ranks launched (each once; every one, where it lists them, when it
 * finished) and for no
 * more steps than were asked.  Writes why not into why; 0 when it does. */
static int engine_mismatch(const cJSON *eo, int64_t ranks, int64_t steps, char *why, size_t n)
{
    if ((int64_t)zp_jnum(eo, "ranks") != ranks) {
        snprintf(why, n, "the engine's output is not valid: ranks %.0f, but %lld were launched", zp_jnum(eo, "ranks"),
                 (long long)ranks);
        return 1;
    }
    const cJSON *ls = zp_jobj(eo, "losses"), *pr = zp_jobj(eo, "per_rank"), *x;
    if (cJSON_GetArraySize(ls) > steps) {
        snprintf(why, n, "the engine's output is not valid: losses holds %d values for %lld steps",
                 cJSON_GetArraySize(ls), (long long)steps);
        return 1;
    }
    unsigned char *seen = calloc((size_t)ranks, 1);
    int bad = !seen, count = 0;
    cJSON_ArrayForEach(x, pr)
    {
        int64_t r = (int64_t)zp_jnum(x, "rank");
        if (bad || r < 0 || r >= ranks || seen[r]) {
            snprintf(why, n, "the engine's output is not valid: per_rank[%d].rank %lld is %s", count, (long long)r,
                     bad ? "unreadable" : r < 0 || r >= ranks ? "not a rank launched" : "given twice");
            free(seen);
            return 1;
        }
        seen[r] = 1;
        count++;
    }
    free(seen);
    if (!strcmp(zp_jstr(eo, "status"), "ok") && cJSON_IsArray(pr) && count != ranks) {
        snprintf(why, n, "the engine's output is not valid: per_rank has %d of the %lld ranks of a finished run", count,
                 (long long)ranks);
        return 1;
    }
    return 0;
}

/* The record of an execution (what zplan show and report read, checked by
 * zp_exec_record_check; written by zp_exec_record_json): v's run, launch
 * and prediction beside what the engine measured, from the launcher's exit
 * status rc and the engine's stdout (out; NULL when it printed nothing),
 * read only once zp_engine_output_check accepts it.  Its status is "ok",
 * "oom", "failed" or "interrupted".  *granule and *gpu_mem receive the
 * engine's allocation granule and device memory (bytes; 0 when not
 * reported), for the profile a CUDA execution keeps. */
cJSON *zp_exec_record(zp_exec_view v, int rc, const char *out, double *granule, double *gpu_mem)
{
    cJSON *prog = NULL, *eo = zp_exec_engine_output(out, &prog);
    char malformed[sizeof ((zp_err *)0)->msg] = "";
    {   /* the engine's answer, checked before it is read */
        zp_err ee = {0};
        if (eo && zp_engine_output_check(eo, &ee)) {
            snprintf(malformed, sizeof malformed, "%s", ee.msg);
            cJSON_Delete(eo);
            eo = NULL;
        } else if (eo && engine_mismatch(eo, v.ranks, v.steps, malformed, sizeof malformed)) {
            cJSON_Delete(eo);
            eo = NULL;
        }
    }
    v.status = rc == 130 ? "interrupted" : rc == 124 ? "failed"
               : eo ? (strcmp(zp_jstr(eo, "status"), "ok") == 0 ? "ok"
                       : strcmp(zp_jstr(eo, "status"), "oom") == 0 ? "oom" : "failed")
                    : "failed";
    v.launcher_exit = rc;
    v.malformed = malformed;
    v.engine = eo;
    v.progress = prog;
    cJSON *rec = zp_exec_record_json(&v);
    *granule = zp_jnum(eo, "granule_bytes");
    *gpu_mem = zp_jnum(eo, "device_memory_bytes");
    cJSON_Delete(prog);
    cJSON_Delete(eo);
    return rec;
}

/* The runtime memory a CUDA execution measured (rank 0 of its record rec)
 * as the stored profile <gpu>-cuda: base (this GPU's earlier profile or
 * preset) with the measured context, cuBLAS, NCCL communicator, allocation
 * granule and device memory.  The profile's text (malloc'd), only when the
 * planner reads it back (zp_gpu_from_json, as --gpu <gpu>-cuda will); NULL
 * otherwise, with e saying why, or with e->msg empty when rec measured
 * nothing to keep. */
char *zp_exec_measured_profile(const cJSON *rec, const zp_gpu *base, const char *slug, const char *gpu_name,
                              double granule, double gpu_mem, const char *ovh_source, zp_err *e)
{
    const cJSON *rm0 = zp_jobj(zp_jobj(cJSON_GetArrayItem(zp_jobj(rec, "per_rank"), 0), "runtime_bytes"), "measured");
    e->msg[0] = '\0';
    if (!rm0 || strcmp(zp_jstr(rec, "status"), "ok") != 0 || zp_jnum(rm0, "context") <= 0)
        return NULL;
    zp_gpu pg = *base, back;
    char src[512];
    snprintf(pg.name, sizeof pg.name, "%s", slug);
    snprintf(pg.desc, sizeof pg.desc, "%.60s: runtime memory as measured", gpu_name);
    pg.cuda_ctx_bytes = (uint64_t)zp_jnum(rm0, "context");
    pg.cublas_bytes = (uint64_t)zp_jnum(rm0, "blas");
    if (zp_jnum(rm0, "communicator") > 0)
        pg.nccl_comm_bytes = (uint64_t)zp_jnum(rm0, "communicator");
    if (granule > 0)
        pg.alloc_granule_bytes = (uint64_t)granule;
    if (gpu_mem > 0)
        pg.mem_bytes = (uint64_t)gpu_mem;
    snprintf(src, sizeof src, "runtime memory (cudaMemGetInfo: context, cuBLAS, NCCL communicator) measured by "
             "zplan exec, execution %.0f; rates from %s", zp_jnum(rec, "exec_id"), ovh_source);
    cJSON *pj = zp_gpu_to_json(&pg, src);
    char *pt = pj ? cJSON_PrintUnformatted(pj) : NULL;
    cJSON_Delete(pj);
    if (!pt) {
        zp_err_set(e, ZP_ENOMEM, "out of memory");
        return NULL;
    }
    /* a profile the planner would refuse is not kept (it would stand in the
     * way of --gpu <gpu>-cuda and of the next execution's prediction) */
    if (zp_gpu_from_json(pt, "the measured profile", &back, e) != ZP_OK) {
        free(pt);
        return NULL;
    }
    return pt;
}
