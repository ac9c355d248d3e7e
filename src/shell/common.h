/* common.h - what every command shares, below the commands (shell code):
 * the context of one invocation, failing with one line on stderr, and the
 * database's path. */
#ifndef ZP_COMMON_H
#define ZP_COMMON_H

#include "core.h"

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

#endif
