/* cli.h - subcommands of the zplan program (shell code: parses, prints). */
#ifndef ZP_CLI_H
#define ZP_CLI_H

#include <stdio.h>
#include "core.h"

/* Common context of one invocation. */
typedef struct zp_cli {
    const char *prog;      /* "zplan" */
    const char *cmdline;   /* the whole command line, for the record */
    zp_err err;
} zp_cli;

typedef int (*zp_cmd_fn)(zp_cli *cli, int argc, char **argv);

typedef struct zp_cmd {
    const char *name;
    zp_cmd_fn fn;
    const char *summary;   /* one line for `zplan --help` */
    const char *usage;     /* full help for `zplan help NAME` */
} zp_cmd;

extern const zp_cmd zp_commands[];
const zp_cmd *zp_cmd_find(const char *name);

int zp_cmd_plan(zp_cli *cli, int argc, char **argv);
int zp_cmd_models(zp_cli *cli, int argc, char **argv);
int zp_cmd_gpus(zp_cli *cli, int argc, char **argv);
int zp_cmd_list(zp_cli *cli, int argc, char **argv);
int zp_cmd_show(zp_cli *cli, int argc, char **argv);
int zp_cmd_help(zp_cli *cli, int argc, char **argv);
int zp_cmd_report(zp_cli *cli, int argc, char **argv);
int zp_cmd_exec(zp_cli *cli, int argc, char **argv);
int zp_cmd_calibrate(zp_cli *cli, int argc, char **argv);
/* Draw the report of one recorded run (fmt: a zp_fmt); prints the path of
 * its index.html on `to`. */
int zp_report_run(zp_cli *cli, const char *dbpath, long long id, const char *out, int fmt, int top_n, FILE *to);

/* The database path: --db, else $ZPLAN_DB, else ./zplan.db. */
const char *zp_db_path(const char *opt);

/* Print "zplan: msg" on stderr and return the exit status for st. */
int zp_fail(zp_cli *cli, zp_status st);

#endif
