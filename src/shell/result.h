/* result.h - reading a stored planning result back into the core's structs. */
#ifndef ZP_RESULT_H
#define ZP_RESULT_H

#include <cjson/cJSON.h>
#include "core.h"

/* Check a stored planning result before anything reads it: every field
 * the readers use, present and in the range the planner accepts, the
 * model's shape consistent, each plan's degrees using the cluster's GPUs.
 * ZP_EIO (exit 1) with e naming `what` ("run 5") and the field. */
zp_status zp_result_check(const cJSON *result, const char *what, zp_err *e);
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
