/* common.c - see common.h. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

int zp_fail(zp_cli *cli, zp_status st)
{
    fprintf(stderr, "%s: %s\n", cli->prog, cli->err.msg[0] ? cli->err.msg : "failed");
    return zp_status_exit(st);
}

const char *zp_db_path(const char *opt)
{
    const char *env = getenv("ZPLAN_DB");
    return opt ? opt : (env && *env ? env : "zplan.db");
}
