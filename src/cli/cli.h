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

/* One option of a command: its row of the command's table, from which
 * the parsing, the help's option list, the man page's (checked by a test)
 * and the "did you mean" suggestions all come (opts.c). */
typedef struct zp_opt {
    const char *name;      /* the long name without "--"; NULL ends the table */
    int id;                /* what the command's parser switches on (> 0) */
    const char *meta;      /* the value's name in the help ("N", "SIZE"); NULL: a switch */
    const char *show;      /* the help's left column when it is not "--name META"; "": listed with another */
    const char *help;      /* the help's text; a '\n' continues it on the next line */
    const char *section;   /* a heading the help prints before this option */
} zp_opt;

/* Rows many commands' tables share. */
#define ZP_OPT_DB(id, section) {"db", id, "PATH", NULL, "the database (default $ZPLAN_DB or ./zplan.db)", section}
/* --db's value into *db; an empty path is refused (SQLite would open a
 * temporary database and drop what is recorded in it) */
zp_status zp_opt_db(const char *v, const char **db, zp_err *e);
#define ZP_OPT_UNITS(id) {"units", id, "U", NULL, "gib (default) or gb for printed sizes", NULL}
#define ZP_OPT_HELP(id) {"help", id, NULL, NULL, "this help", NULL}
#define ZP_OPT_END {NULL, 0, NULL, NULL, NULL, NULL}

typedef struct zp_cmd {
    const char *name;
    zp_cmd_fn fn;
    const char *summary;   /* one line for `zplan --help` */
    const char *usage;     /* the help's head for `zplan help NAME` and NAME --help */
    const zp_opt *opts;    /* the command's options (NULL: none), listed after the head */
    const char *tail;      /* the help after the options (NULL: none) */
} zp_cmd;

extern const zp_cmd zp_plan_cmd, zp_models_cmd, zp_gpus_cmd, zp_list_cmd, zp_show_cmd, zp_report_cmd, zp_exec_cmd,
    zp_calibrate_cmd, zp_import_cmd;

/* Print the command's usage on stdout; returns 0 (the exit status). */
int zp_usage(const zp_cmd *c);
/* The options of table t as the help lists them, on f. */
void zp_opts_help(FILE *f, const zp_opt *t);
/* The option of t that word ("--name" or "--name=value") names, or NULL;
 * *val: the text after '=', or NULL. */
const zp_opt *zp_opts_find(const zp_opt *t, const char *word, const char **val);
/* Whether the plan file sets the plan option NAME or its no- form, as
 * --from reads it (0 where it cannot be read: the planner says why). */
int zp_plan_file_gives(const char *path, const char *name);
/* The option of t nearest to name (edit distance at most 3), or NULL. */
const char *zp_opts_nearest(const zp_opt *t, const char *name);
/* Parse argv[1..] of command cmd with table t: each option found calls
 * set(ctx, id, value) (value NULL for a switch), which may fail with e;
 * other words are positional, at most maxpos into pos (*npos).  Refused
 * with exit 2 and one line: an unknown option (naming the nearest, or the
 * option it abbreviates: options are spelled out), a missing value, a
 * value given to a switch, one positional word too many. */
zp_status zp_opts_parse(const char *cmd, const zp_opt *t, int argc, char **argv,
                        zp_status (*set)(void *ctx, int id, const char *val, zp_err *e), void *ctx, const char **pos,
                        int maxpos, int *npos, zp_err *e);

/* Draw the report of one recorded run (fmt: a zp_fmt); prints the path of
 * its index.html on `to`. */
int zp_report_run(zp_cli *cli, const char *dbpath, long long id, const char *out, int fmt, int top_n, FILE *to);

#endif
