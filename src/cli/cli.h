/* cli.h - the commands of the zplan program (shell code: parses, prints).
 * Each command lives in its own file with its row of the table (name,
 * function, summary, usage); main.c lists the rows and dispatches.  The
 * commands depend on the shell below them (common.h: the invocation's
 * context, zp_fail, zp_db_path), never on main.c or on each other, but
 * for zp_report_run (plan --report). */
#ifndef ZP_CLI_H
#define ZP_CLI_H

#include <stdio.h>
#include "common.h"

typedef int (*zp_cmd_fn)(zp_cli *cli, int argc, char **argv);

typedef struct zp_cmd {
    const char *name;
    zp_cmd_fn fn;
    const char *summary;   /* one line for `zplan --help` */
    const char *usage;     /* full help for `zplan help NAME` and NAME --help */
} zp_cmd;

extern const zp_cmd zp_plan_cmd, zp_models_cmd, zp_gpus_cmd, zp_list_cmd, zp_show_cmd, zp_report_cmd, zp_exec_cmd,
    zp_calibrate_cmd, zp_import_cmd;

/* Print the command's usage on stdout; returns 0 (the exit status). */
int zp_usage(const zp_cmd *c);

/* Draw the report of one recorded run (fmt: a zp_fmt); prints the path of
 * its index.html on `to`. */
int zp_report_run(zp_cli *cli, const char *dbpath, long long id, const char *out, int fmt, int top_n, FILE *to);

#endif
