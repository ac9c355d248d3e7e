/* main.c - the zplan program: a table of subcommands (git-style). */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char help_usage[] = "Usage: zplan help [COMMAND]\n\nShow general help, or a command's options.\n";

static int zp_cmd_help(zp_cli *cli, int argc, char **argv);
static const zp_cmd help_cmd = {"help", zp_cmd_help, "show help for a command", help_usage, NULL, NULL};
/* The command table: each row is defined in its command's file. */
static const zp_cmd *const commands[] = {&zp_plan_cmd, &zp_models_cmd, &zp_gpus_cmd, &zp_list_cmd, &zp_show_cmd,
                                         &zp_report_cmd, &zp_exec_cmd, &zp_calibrate_cmd, &zp_import_cmd, &help_cmd,
                                         NULL};

static const zp_cmd *zp_cmd_find(const char *name)
{
    for (const zp_cmd *const *c = commands; *c; c++)
        if (strcmp((*c)->name, name) == 0)
            return *c;
    return NULL;
}

static int zp_cmd_help(zp_cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        printf("Usage: %s [COMMAND] [OPTIONS]\n\n"
               "Plan, record and check the memory, communication and speed of parallel layouts for\n"
               "training large transformer models.  Without a command, zplan plans:\n\n"
               "  %s --params 11e9 --gpus 8\n\nCommands:\n", cli->prog, cli->prog);
        for (const zp_cmd *const *c = commands; *c; c++)
            printf("  %-10s %s\n", (*c)->name, (*c)->summary);
        printf("\nGeneral options:\n  --help     show help (zplan help COMMAND for a command's options)\n"
               "  --version  show the version\n\n"
               "Exit status: 0 success, 1 runtime failure, 2 bad usage or input.\n"
               "Environment: ZPLAN_DB (database path, default ./zplan.db), ZPLAN_DATADIR (presets).\n"
               "See zplan(1) and README.md.\n");
        return 0;
    }
    const zp_cmd *c = zp_cmd_find(argv[1]);
    if (!c) {
        char list[256] = "";
        for (const zp_cmd *const *x = commands; *x; x++) {
            strcat(list, (*x)->name);
            if (x[1])
                strcat(list, ", ");
        }
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "help: unknown command '%s' (allowed: %s)", argv[1],
                                       list));
    }
    zp_usage(c);
    return 0;
}

/* A command that succeeded but whose output could not be written (a full
 * disk, a closed pipe) failed. */
static int delivered(zp_cli *cli, int rc)
{
    if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout)))
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "cannot write the output: %s", strerror(errno)));
    return rc;
}

int main(int argc, char **argv)
{
    /* a closed pipe is a write error to report (exit 1), not a death by
     * SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    zp_cli cli = {"zplan", NULL, {ZP_OK, ""}};
    char cmdline[2048] = "zplan";
    size_t used = 5;
    for (int i = 1; i < argc && used < sizeof cmdline - 1; i++) {
        int w = snprintf(cmdline + used, sizeof cmdline - used, " %s", argv[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    cli.cmdline = cmdline;
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("zplan %s\n", PACKAGE_VERSION);
        return delivered(&cli, 0);
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return delivered(&cli, zp_cmd_help(&cli, 1, argv));
    if (argc < 2)
        return zp_cmd_help(&cli, 1, argv), 2;
    if (argv[1][0] == '-')
        return delivered(&cli, zp_plan_cmd.fn(&cli, argc, argv));   /* the default command */
    const zp_cmd *c = zp_cmd_find(argv[1]);
    if (!c) {
        snprintf(cli.err.msg, sizeof cli.err.msg,
                 "'%s' is not a zplan command (allowed: plan, models, gpus, list, show, report, exec, calibrate, import, help; see zplan --help)",
                 argv[1]);
        return zp_fail(&cli, ZP_EINVAL);
    }
    return delivered(&cli, c->fn(&cli, argc - 1, argv + 1));
}
