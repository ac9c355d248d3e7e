/* opts.c - see opts.h. */
#include "config.h"
#include "cli.h"
#include "opts.h"

#include <string.h>

/* Options shared by the small commands: --json, --db PATH, --help, --units. */
zp_status zp_small_parse(zp_cli *cli, const char *cmd, int argc, char **argv, zp_small_opts *o, int max_pos)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0)
            o->json = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            o->help = 1;
        else if (strcmp(a, "--db") == 0 || strncmp(a, "--db=", 5) == 0) {
            o->db = a[4] == '=' ? a + 5 : (i + 1 < argc ? argv[++i] : NULL);
            if (!o->db || !*o->db)
                return zp_err_set(&cli->err, ZP_EINVAL, "--db needs a path");
        } else if (strcmp(a, "--units") == 0 || strncmp(a, "--units=", 8) == 0) {
            static const char *const un[] = {"gib", "gb", NULL};
            const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            int u = 0;
            zp_status st = zp_parse_enum("--units", v, un, &u, &cli->err);
            if (st)
                return st;
            o->units = (zp_units)u;
        } else if (a[0] == '-' && a[1])
            return zp_err_set(&cli->err, ZP_EINVAL, "unknown option '%s' for zplan %s (see zplan help %s)", a, cmd,
                              cmd);
        else if (o->npos < max_pos)
            o->pos[o->npos++] = a;
        else
            return zp_err_set(&cli->err, ZP_EINVAL, "unexpected argument '%s' for zplan %s (see zplan help %s)", a,
                              cmd, cmd);
    }
    return ZP_OK;
}

int zp_usage(const zp_cmd *c)
{
    fputs(c->usage, stdout);
    return 0;
}
