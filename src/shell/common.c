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

static const int stop_signals[3] = {SIGINT, SIGTERM, SIGHUP};

void zp_stop_signals_catch(void (*handler)(int), struct sigaction old[3])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++) {
        sigaction(stop_signals[i], NULL, &old[i]);
        if (old[i].sa_handler != SIG_IGN)
            sigaction(stop_signals[i], &sa, NULL);
    }
}

void zp_stop_signals_restore(const struct sigaction old[3])
{
    for (int i = 0; i < 3; i++)
        sigaction(stop_signals[i], &old[i], NULL);
}
