/* result.h - reading a stored planning result back into the core's structs. */
#ifndef ZP_RESULT_H
#define ZP_RESULT_H

#include <cjson/cJSON.h>
#include "core.h"

/* The problem (model, training, cluster, conventions; no pins) of a result. */
void zp_result_problem(const cJSON *result, zp_problem *pb);
/* Index of s in a NULL-terminated list of names (0 when absent). */
int zp_name_index(const char *s, const char *const *names);
/* The layout of one plan object of a result. */
void zp_result_layout(const cJSON *plan, zp_layout *l);

#endif
