/* common.c - see common.h. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line, whatever the message holds: a value echoed back with a
 * newline or another control character in it is shown escaped. */
int zp_fail(zp_cli *cli, zp_status st)
{
    char line[2 * sizeof cli->err.msg];
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)(cli->err.msg[0] ? cli->err.msg : "failed");
         *p && k + 5 < sizeof line; p++) {
        if (*p == '\n')
            line[k++] = '\\', line[k++] = 'n';
        else if (*p < 0x20 || *p == 0x7f)
            k += (size_t)snprintf(line + k, sizeof line - k, "\\x%02x", *p);
        else
            line[k++] = (char)*p;
    }
    line[k] = '\0';
    fprintf(stderr, "%s: %s\n", cli->prog, line);
    return zp_status_exit(st);
}

const char *zp_db_path(const char *opt)
{
    const char *env = getenv("ZPLAN_DB");
    return opt ? opt : (env && *env ? env : "zplan.db");
}
