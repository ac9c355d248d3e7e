/* opts.c - see opts.h; and the option tables of cli.h: help, lookup,
 * suggestions and parsing from one table per command. */
#include "config.h"
#include "cli.h"
#include "opts.h"

#include <string.h>

static zp_status small_set(void *ctx, int id, const char *v, zp_err *e)
{
    zp_small_opts *o = ctx;
    static const char *const un[] = {"gib", "gb", NULL};
    int u = 0;
    zp_status st;
    switch (id) {
    case ZP_SO_JSON: o->json = 1; break;
    case ZP_SO_HELP: o->help = 1; break;
    case ZP_SO_DB: return zp_opt_db(v, &o->db, e);
    case ZP_SO_UNITS:
        if ((st = zp_parse_enum("--units", v, un, &u, e)))
            return st;
        o->units = (zp_units)u;
        o->units_set = 1;
        break;
    default: break;
    }
    return ZP_OK;
}

/* The small commands' options (--json, --db PATH, --help, --units), each
 * from its own table. */
zp_status zp_small_parse(zp_cli *cli, const char *cmd, const zp_opt *t, int argc, char **argv, zp_small_opts *o,
                         int max_pos)
{
    memset(o, 0, sizeof *o);
    if (max_pos > 8)
        max_pos = 8;
    return zp_opts_parse(cmd, t, argc, argv, small_set, o, o->pos, max_pos, &o->npos, &cli->err);
}

int zp_usage(const zp_cmd *c)
{
    fputs(c->usage, stdout);
    if (c->opts)
        zp_opts_help(stdout, c->opts);
    if (c->tail)
        fputs(c->tail, stdout);
    return 0;
}

/* The help's left column is 22 wide after two spaces: longer ones take the
 * line and their text starts on the next. */
#define HELP_COL 24

void zp_opts_help(FILE *f, const zp_opt *t)
{
    for (; t->name; t++) {
        if (t->section)
            fprintf(f, "%s\n", t->section);
        if (t->show && !t->show[0])
            continue;
        char left[160];
        if (t->show)
            snprintf(left, sizeof left, "  %s", t->show);
        else
            snprintf(left, sizeof left, "  --%s%s%s", t->name, t->meta ? " " : "", t->meta ? t->meta : "");
        const char *h = t->help ? t->help : "";
        size_t n = strlen(left);
        if (n + 1 >= HELP_COL) {   /* the text on lines of its own */
            fprintf(f, "%s\n%*s", left, HELP_COL, "");
        } else
            fprintf(f, "%-*s", HELP_COL, left);
        for (; *h; h++) {
            fputc(*h, f);
            if (*h == '\n' && h[1])
                fprintf(f, "%*s", HELP_COL, "");
        }
        fputc('\n', f);
    }
}

const zp_opt *zp_opts_find(const zp_opt *t, const char *word, const char **val)
{
    *val = NULL;
    if (strncmp(word, "--", 2) != 0)
        return NULL;
    const char *name = word + 2, *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    for (; t->name; t++)
        if (strlen(t->name) == n && strncmp(t->name, name, n) == 0) {
            *val = eq ? eq + 1 : NULL;
            return t;
        }
    return NULL;
}

const char *zp_opts_nearest(const zp_opt *t, const char *w)
{
    const char *best = NULL;
    size_t bd = 4;
    for (; t->name; t++) {
        size_t d = zp_edit_distance(w, t->name);
        if (d < bd)
            bd = d, best = t->name;
    }
    return best;
}

zp_status zp_opts_parse(const char *cmd, const zp_opt *t, int argc, char **argv,
                        zp_status (*set)(void *ctx, int id, const char *val, zp_err *e), void *ctx, const char **pos,
                        int maxpos, int *npos, zp_err *e)
{
    zp_status st;
    int dashdash = 0;   /* after "--" every word is an argument, as GNU getopt reads them */
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i], *val;
        if (!dashdash && strcmp(w, "--") == 0) {
            dashdash = 1;
            continue;
        }
        if (strcmp(w, "-h") == 0 && !dashdash)
            w = "--help";
        if (dashdash || w[0] != '-' || !w[1]) {
            if (*npos >= maxpos)
                return zp_err_set(e, ZP_EINVAL, "unexpected argument '%s' (see zplan help %s)", w, cmd);
            pos[(*npos)++] = w;
            continue;
        }
        const zp_opt *o = zp_opts_find(t, w, &val);
        if (!o) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(w + (w[1] == '-' ? 2 : 1), "="),
                     w + (w[1] == '-' ? 2 : 1));
            size_t n = strlen(name);
            for (const zp_opt *p = t; p->name && n > 0; p++)   /* an abbreviation of one option */
                if (strncmp(p->name, name, n) == 0)
                    return zp_err_set(e, ZP_EINVAL, "unknown option '--%s' (options are not abbreviated: did you mean "
                                      "--%s?)", name, p->name);
            const char *near = zp_opts_nearest(t, name);
            if (near)
                return zp_err_set(e, ZP_EINVAL, "unknown option '%s' (did you mean --%s? see zplan help %s)", w, near,
                                  cmd);
            return zp_err_set(e, ZP_EINVAL, "unknown option '%s' (see zplan help %s)", w, cmd);
        }
        if (!o->meta && val)
            return zp_err_set(e, ZP_EINVAL, "--%s takes no value (got '%s'; see zplan help %s)", o->name, val, cmd);
        if (o->meta && !val) {
            if (i + 1 >= argc)
                return zp_err_set(e, ZP_EINVAL, "--%s needs a value (see zplan help %s)", o->name, cmd);
            /* the next word another option ("--gpus --tp 2"): the value was left out */
            const char *nx = argv[i + 1];
            if (nx[0] == '-' && nx[1] == '-' && nx[2]) {
                char nm[64];
                size_t k = strcspn(nx + 2, "=");
                snprintf(nm, sizeof nm, "%.*s", (int)(k < sizeof nm ? k : sizeof nm - 1), nx + 2);
                for (const zp_opt *p = t; p->name; p++)
                    if (!strcmp(p->name, nm))
                        return zp_err_set(e, ZP_EINVAL, "--%s needs a value (got the option %s; see zplan help %s)",
                                          o->name, nx, cmd);
            }
            val = argv[++i];
        }
        if ((st = set(ctx, o->id, val, e)))
            return st;
    }
    return ZP_OK;
}

zp_status zp_opt_db(const char *v, const char **db, zp_err *e)
{
    if (!*v)
        return zp_err_set(e, ZP_EINVAL, "--db needs a path (allowed: a file to create or open; not empty)");
    *db = v;
    return ZP_OK;
}
