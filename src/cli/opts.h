/* opts.h - the options the small commands share (models, gpus, list,
 * show): --json, --db PATH, --help, --units, and positional arguments. */
#ifndef ZP_OPTS_H
#define ZP_OPTS_H

#include "cli.h"

typedef struct zp_small_opts {
    int json, help;
    const char *db;
    zp_units units;
    int units_set;   /* --units given (show: else the run's own) */
    const char *pos[8];
    int npos;
} zp_small_opts;

/* The small commands' options (ids for their tables). */
enum { ZP_SO_JSON = 1, ZP_SO_DB, ZP_SO_UNITS, ZP_SO_HELP };
/* Parse argv[1..] of command `cmd` with its table t (rows of the ids
 * above), at most max_pos positional arguments. */
zp_status zp_small_parse(zp_cli *cli, const char *cmd, const zp_opt *t, int argc, char **argv, zp_small_opts *o,
                         int max_pos);

#endif
