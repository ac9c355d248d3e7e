/* exec.h - the parts of `zplan exec` (exec.c) that live in their own
 * files: scaling the model (exec_scale.c) and building the record from what
 * the engine printed (exec_record.c). */
#ifndef ZP_CLI_EXEC_H
#define ZP_CLI_EXEC_H

#include <cjson/cJSON.h>
#include "core.h"
#include "result.h"

#include <signal.h>
#include "cli.h"

/* SIGINT, SIGTERM or SIGHUP during `zplan exec` (exec_run.c): the signal's
 * number, which ends what runs (the planner of a plan file, the ranks). */
extern volatile sig_atomic_t zp_exec_interrupted;

/* The plan exec runs (exec_plan.c). */
typedef struct zp_exec_target {
    const char *plan_file;   /* a plan file, or NULL: a recorded run */
    int64_t run_id, rank;    /* the run (a plan file's: once recorded) and the plan's rank in it */
    char self[4096];         /* this program, which plans the file */
    char which[4200];        /* the plan in messages: "plan 3/1", "the best plan of F" */
    zp_problem full;         /* the plan's problem and layout, unscaled */
    zp_layout l;
    uint64_t full_total;     /* its predicted device total */
} zp_exec_target;
/* The plan of target (ID, ID/N or a plan file, planned without recording);
 * ZP_OK, or an error in e, or *rc the planner's own exit status when it
 * refused the file (it said why on stderr). */
zp_status zp_exec_load(const char *target, const char *dbpath, int64_t timeout_s, zp_exec_target *t, int *rc,
                       zp_err *e);
/* A plan file's planning run, recorded now (t->run_id set); as above. */
zp_status zp_exec_record_planning(zp_exec_target *t, const char *dbpath, int64_t timeout_s, int *rc, zp_err *e);

/* The launch and its supervision (exec_run.c). */
typedef struct zp_exec_launch {
    char **args;             /* the launcher's command line (mpirun ... zplan-engine key=value ...) */
    const char *lname, *eng; /* the launcher's name, the engine's path */
    const char *dbpath;
    int64_t timeout_s;
    int json, hostfile;      /* --json; a hostfile given */
    long cores;              /* this machine's */
    int64_t profile_ranks;   /* the ranks the profile was measured on */
    const zp_gpu *ovh_gpu;   /* on a GPU: the runtime's memory as predicted from */
    const char *gpu_slug;    /* the profile <gpu>-cuda to keep */
    zp_exec_view view;       /* the record's inputs (its exec_id set by zp_exec_run) */
} zp_exec_launch;
/* The engine's arguments after args[n] (a: their storage); returns the new n. */
int zp_exec_engine_args(char a[][64], char **args, int n, const zp_model *m, const zp_train *tr, const zp_layout *l,
                        int64_t steps, uint64_t cap, int cuda);
/* Add the execution's row, launch and supervise the ranks, build and keep
 * the record, print it; returns the command's exit status. */
int zp_exec_run(zp_cli *cli, zp_exec_launch *x);

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
