/* exec.h - the parts of `zplan exec` (exec.c) that live in their own
 * files: scaling the model (exec_scale.c) and building the record from what
 * the engine printed (exec_record.c). */
#ifndef ZP_CLI_EXEC_H
#define ZP_CLI_EXEC_H

#include <cjson/cJSON.h>
#include "core.h"
#include "result.h"

/* micro-batches per step a scaled run keeps at most (--scale accum= sets it) */
#define ZP_SCALE_ACCUM 4

/* Apply --scale's "key=value,..." (or a parameter count) to the model and
 * batch. */
zp_status zp_exec_apply_scale(const char *spec, zp_model *m, zp_train *tr, zp_layout *l, zp_err *e);
/* Check the scaled problem against zplan-engine's argument ranges; which
 * names the plan in the message. */
zp_status zp_exec_engine_limits(const zp_model *m, const zp_train *t, const zp_layout *l, int64_t steps,
                                const char *which, zp_err *e);

/* The plan's architecture is what zplan-engine builds (GPT-2 blocks), or
 * ZP_EINVAL naming what differs. */
zp_status zp_exec_engine_arch(const zp_model *m, const char *which, zp_err *e);

/* The engine's stdout: its progress lines into *progress (an array) and
 * its result, the last other line (NULL when none). */
cJSON *zp_exec_engine_output(const char *out, cJSON **progress);
/* The execution's record from v (the run, the launch, the prediction), the
 * launcher's exit status rc and the engine's stdout out. */
cJSON *zp_exec_record(zp_exec_view v, int rc, const char *out, double *granule, double *gpu_mem);
/* The profile <gpu>-cuda a CUDA execution keeps (malloc'd text), or NULL. */
char *zp_exec_measured_profile(const cJSON *rec, const zp_gpu *base, const char *slug, const char *gpu_name,
                               double granule, double gpu_mem, const char *ovh_source, zp_err *e);

#endif
