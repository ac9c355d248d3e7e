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
    zp_search_result sr;
    int pinned_all;
    int have_chosen;
    zp_plan chosen;
    struct { const char *name; int have; zp_plan plan; } classic[7];
    char sugg[4][400];
    int nsugg;
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
/* Check an execution record (the executions table) before show or report
 * read it; what: "execution 7". */
zp_status zp_exec_record_check(const cJSON *rec, const char *what, zp_err *e);
/* Check what zplan-engine printed before exec reads it. */
zp_status zp_engine_output_check(const cJSON *out, zp_err *e);
/* The problem (model, training, cluster, conventions; no pins) of a result
 * (checked by zp_result_check). */
void zp_result_problem(const cJSON *result, zp_problem *pb);
/* Index of s in a NULL-terminated list of names (0 when absent). */
int zp_name_index(const char *s, const char *const *names);
/* The layout of one plan object of a result. */
void zp_result_layout(const cJSON *plan, zp_layout *l);

#endif
