/* render.h - human-readable rendering of a planning result.  The result is
 * the same JSON object that `--json` prints and the store keeps, so a fresh
 * run and `zplan show ID` print through one path. */
#ifndef ZP_RENDER_H
#define ZP_RENDER_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include "util.h"

void zp_render_result(FILE *out, const cJSON *result, zp_units units);
/* One execution record (zplan exec): prediction beside measurement. */
void zp_render_exec(FILE *out, const cJSON *rec);
/* Whether a stored run trained its 16-bit dtype by PyTorch's autocast
 * (conventions.eager with master weights): fp32 parameters and gradients,
 * no master copy, as its Training lines say. */
int zp_render_autocast(const cJSON *result);
/* v (NULL: "") into b of n bytes with control characters shown as '?': a
 * stored name printed to a terminal (a shared database holds anything). */
const char *zp_printable(char *b, size_t n, const char *v);

#endif
