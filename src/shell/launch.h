/* launch.h - starting the engine's ranks and capturing what they print
 * (shell code: processes, the environment). */
#ifndef ZP_LAUNCH_H
#define ZP_LAUNCH_H

#include <signal.h>
#include <stddef.h>
#include "core.h"

/* The engine binary: $ZPLAN_ENGINE, else zplan-engine beside this program,
 * else "zplan-engine" (looked up in PATH); buf holds the path built. */
const char *zp_engine_path(char *buf, size_t n);
/* 1 when prog (a path, or a name looked up in PATH) is executable. */
int zp_in_path(const char *prog);
/* The launcher's part of the command line, in args[0 .. *n_out): inside a
 * Slurm allocation (SLURM_JOB_ID set, srun on PATH, no hostfile) `srun -n
 * NP`, else `mpirun -np NP [--hostfile F]`; ZPLAN_LAUNCHER=mpirun or srun
 * chooses.  Checks that the launcher, the hostfile and the engine exist and
 * sets the environment the ranks need; *name: "mpirun" or "srun". */
zp_status zp_launcher(char **args, int *n_out, const char *npbuf, const char *hostfile, const char *eng,
                      const char **name, zp_err *e);
/* An Open MPI hostfile, checked before any launch: readable, at least one
 * host, each line "HOST [slots=N] [max_slots=N]" (# comments). */
zp_status zp_hostfile_check(const char *path, zp_err *e);
/* Run argv in its own process group, capturing stdout into *out
 * (malloc'd, possibly NULL); stderr passes through, and with `progress`
 * (the program's name) so do the engine's progress lines, as text.  On
 * timeout, or once *stop is set (a signal handler's flag; NULL: none), the
 * group gets SIGTERM, then SIGKILL 5 s later.  Returns the exit status,
 * 124 on timeout, 130 when stopped, -1 when it could not start. */
int zp_run_capture(char *const *argv, int64_t timeout_s, const char *progress, char **out,
                   const volatile sig_atomic_t *stop);

#endif
