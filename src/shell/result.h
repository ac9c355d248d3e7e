/* result.h - the stored documents, written, checked and read back in one
 * place (result.c). */
#ifndef ZP_RESULT_H
#define ZP_RESULT_H

#include <cjson/cJSON.h>
#include "core.h"

/* Everything the plan command computes: what the result document holds. */
typedef struct zp_answer {
    zp_problem pb;
    char source[300];
    zp_units units;
    int top_n;
    zp_plan *top;
    char (*same)[200];   /* per top plan: the settings that give it to the byte and second ("" for none) */
    zp_search_result sr;
    int pinned_all;
    int act_offload_asked;   /* --act-offload (1) or --no-act-offload (0) given, else -1 */
    int have_chosen;
    zp_plan chosen;
    /* the chosen plan rebuilds every block (full recompute): the fewest
     * blocks of a stage (chunk) full recompute could rebuild instead and
     * still fit (--ckpt-layers N), with that plan; have_partial 0: none */
    int have_partial;
    int64_t partial_n, partial_of;
    zp_plan partial;
    struct { const char *name; int have; zp_plan plan; char why[200]; } classic[7];   /* why: when !have */
    char sugg[4][400];
    int nsugg;
    char note[600];   /* what zplan changed or converted (a GPU's defaults, Megatron's vp), said on stderr */
    char gpu_over[300];   /* the GPU's values the command line overrode ("" for none) */
} zp_answer;

/* The plan result document (zplan --json; stored as the run's result_json)
 * of an answer: run_id 0 for none (null), stages the chosen plan's pp
 * stages, comm its collectives. */
cJSON *zp_result_to_json(const zp_answer *a, int64_t run_id, const zp_mem *stages, const zp_comm *comm);

/* Check a stored planning result before anything reads it: every field
 * the readers use, present and in the range the planner accepts, the
 * model's shape consistent, each plan's degrees using the cluster's GPUs.
 * ZP_EIO (exit 1) with e naming `what` ("run 5") and the field. */
zp_status zp_result_check(const cJSON *result, const char *what, zp_err *e);
/* What an execution record is made of (zplan exec): the run's outcome, the
 * prediction for the scaled model, and the engine's output (checked). */
typedef struct zp_exec_view {
    int64_t exec_id, run_id;
    int plan;                     /* its rank in the run */
    const char *status;           /* ok oom failed interrupted */
    int launcher_exit;            /* 124 timed out, 130 interrupted */
    const char *malformed;        /* why the engine's output was not read ("" when it was) */
    const char *backend;
    int64_t ranks, steps;
    const char *scale;            /* NULL: none */
    const zp_layout *lay;
    uint64_t device_cap;
    const zp_model *model;        /* the scaled model */
    const zp_train *train;
    const cJSON *engine;          /* the engine's output, or NULL */
    const cJSON *progress;        /* its progress lines (a run ended early) */
    const char *profile;          /* the profile of the predicted step time, or NULL */
    const zp_cost *cost;
    const zp_comm *comm;
    const zp_mem *mem;
    const zp_mem *stage_mem;      /* per stage (nstages of them, a pipeline's), or NULL: mem for every rank */
    int64_t nstages;
    int cuda;                     /* --backend cuda: the rest */
    const char *gpu;
    int shared_gpu;
    int64_t ranks_per_gpu;
    const char *overhead_source;
    uint64_t pr_ctx, pr_blas, pr_comm, pr_round;   /* the runtime's memory, predicted */
    /* on a GPU, the products' time a step by the default curve of the
     * device's preset (no profile), and that preset; < 0 / NULL: none */
    double gemm_preset_s;
    const char *gemm_preset_gpu;
} zp_exec_view;
/* The execution record (zplan exec --json, the executions table's
 * record_json): written here, checked by zp_exec_record_check. */
cJSON *zp_exec_record_json(const zp_exec_view *v);
/* Check an execution record (the executions table) before show or report
 * read it; what: "execution 7". */
zp_status zp_exec_record_check(const cJSON *rec, const char *what, zp_err *e);
/* Check what zplan-engine printed before exec reads it: every field exec
 * copies into the execution's record, in the range zp_exec_record_check
 * allows there. */
zp_status zp_engine_output_check(const cJSON *out, zp_err *e);
/* Check one progress line's "progress" object (step, loss, time_s): a line
 * that fails is not a step exec counts. */
zp_status zp_engine_progress_check(const cJSON *progress, zp_err *e);
/* The problem (model, training, cluster, conventions; no pins) of a result
 * (checked by zp_result_check). */
void zp_result_problem(const cJSON *result, zp_problem *pb);
/* Index of s in a NULL-terminated list of names (0 when absent). */
int zp_name_index(const char *s, const char *const *names);
/* The layout of one plan object of a result. */
void zp_result_layout(const cJSON *plan, zp_layout *l);

#endif
