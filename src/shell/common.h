/* common.h - what every command shares, below the commands (shell code):
 * the context of one invocation, failing with one line on stderr, and the
 * database's path. */
#ifndef ZP_COMMON_H
#define ZP_COMMON_H

#include "core.h"

#include <signal.h>

/* Common context of one invocation. */
typedef struct zp_cli {
    const char *prog;      /* "zplan" */
    const char *cmdline;   /* the whole command line, for the record */
    zp_err err;
} zp_cli;

/* Print "zplan: msg" on stderr and return the exit status for st. */
int zp_fail(zp_cli *cli, zp_status st);

/* The database path: --db, else $ZPLAN_DB, else ./zplan.db. */
const char *zp_db_path(const char *opt);

/* The signals that stop a long command (SIGINT, SIGTERM, SIGHUP: a closed
 * terminal) sent to handler, each unless it was ignored when zplan started
 * (nohup, a background job), which stays ignored; old[3] keeps what
 * zp_stop_signals_restore puts back. */
void zp_stop_signals_catch(void (*handler)(int), struct sigaction old[3]);
void zp_stop_signals_restore(const struct sigaction old[3]);

#endif
