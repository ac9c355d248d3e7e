/* report.c - memory comparison reports: .dat tables, gnuplot scripts and
 * charts, index.html and report.md, from a run's stored result.
 *
 * Every chart is one table (struct tab) written three ways: a .dat file
 * with '#' headers and units that its .gp script plots, an HTML table and a
 * Markdown table, so the numbers a reader sees are the numbers drawn.
 * Colours per memory class are one table (class_colour) for all charts. */
#include "config.h"
#include "report.h"
#include "render.h"
#include "jsonget.h"
#include "result.h"
#include "core.h"
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* params grads optimizer activations buffers overhead */
static const char *const class_colour[ZP_MEM_NCLASS] = {"#1f77b4", "#ff7f0e", "#2ca02c",
                                                         "#d62728", "#9467bd", "#7f7f7f"};
static const char *const time_colour[4] = {"#4c72b0", "#dd8452", "#c44e52", "#8c8c8c"};
static const char *const zero_colour[4] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a"};

/* ------------------------------------------------------------ names */

/* Every name a report prints (model, GPU, strategy, recompute mode, an
 * execution's GPU) is untrusted input: a --config file's name, a GPU preset
 * or profile, or a stored run, and a database may be shared and edited.
 * Each is cleaned here once, then escaped for where it goes: quoted as data
 * in the gnuplot scripts (gp_text), escaped in HTML (html_escape) and in
 * Markdown (md_escape), kept to one column in the .dat tables (write_dat). */

/* Bytes of the valid UTF-8 character at s, 0 when s does not start one. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    unsigned char lo = s[0] == 0xe0 ? 0xa0 : s[0] == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = s[0] == 0xed ? 0x9f : s[0] == 0xf4 ? 0x8f : 0xbf;
    if (n == 0 || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* Cut s (of length len) back to whole UTF-8 characters. */
static void utf8_cut(char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t k = utf8_len((const unsigned char *)s + i);
        if (k == 0 || i + k > len)
            break;
        i += k;
    }
    s[i] = '\0';
}

/* A name as one printable line of valid UTF-8, at most n - 1 bytes, cut
 * between characters: control characters (C0, DEL, C1) become blanks and
 * bytes that are not UTF-8 '?'.  Returns dst. */
static const char *clean_name(char *dst, size_t n, const char *src)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    while (*s) {
        size_t k = utf8_len(s);
        const unsigned char *from = s;
        unsigned char one;
        if (k == 0 || (k == 1 && (*s < 0x20 || *s == 0x7f)) || (k == 2 && s[0] == 0xc2 && s[1] < 0xa0)) {
            one = k == 0 ? '?' : ' ';
            from = &one;
            s += k ? k : 1;
            k = 1;
        } else {
            s += k;
        }
        if (o + k >= n)
            break;
        memcpy(dst + o, from, k);
        o += k;
    }
    dst[o] = '\0';
    return dst;
}

/* A name of object o, cleaned (see clean_name). */
static const char *jname(char *dst, size_t n, const cJSON *o, const char *k)
{
    return clean_name(dst, n, zp_jstr(o, k));
}

#define NAME 100   /* bytes kept of a model or GPU name */

/* ------------------------------------------------------------ tables */

#define TAB_COLS 32
#define TAB_ROWS 64
#define CELL 64

typedef struct tab {
    const char *file;           /* base name: strategy -> strategy.dat */
    char title[200];
    char note[400];             /* units and conventions, printed under the title */
    int ncol, nrow;
    char col[TAB_COLS][40];
    char unit[TAB_COLS][16];
    int text[TAB_COLS];         /* a label column (quoted in .dat) */
    int hide[TAB_COLS];         /* in the .dat for the chart, not in the page's table */
    char disp[TAB_COLS][40];    /* the page's header ("" : the name, '_' read as ' ') */
    char cell[TAB_ROWS][TAB_COLS][CELL];
} tab;

/* Columns from "name|Header[unit]:t,name[unit]:h,...": ":t" marks a text
 * column, ":h" one the page's table leaves out (the chart's data only),
 * "|Header" the page's header (else the name with '_' read as ' '), and
 * the unit "U" stands for the report's memory unit (GiB or GB). */
static void tab_cols(tab *t, const char *spec, const char *U)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", spec);
    t->ncol = 0;
    for (char *save = NULL, *f = strtok_r(buf, ",", &save); f && t->ncol < TAB_COLS;
         f = strtok_r(NULL, ",", &save)) {
        int i = t->ncol++;
        char *colon = strstr(f, ":t");
        t->text[i] = colon != NULL;
        if (colon)
            *colon = '\0';
        colon = strstr(f, ":h");
        t->hide[i] = colon != NULL;
        if (colon)
            *colon = '\0';
        char *bar = strchr(f, '|');
        t->disp[i][0] = '\0';
        if (bar) {
            *bar = '\0';
            int n = (int)strcspn(bar + 1, "[");
            snprintf(t->disp[i], sizeof t->disp[i], "%.*s", n, bar + 1);
            memmove(bar, bar + 1 + n, strlen(bar + 1 + n) + 1);   /* "name[unit]" again */
        }
        char *br = strchr(f, '[');
        t->unit[i][0] = '\0';
        if (br) {
            *br = '\0';
            int n = (int)strcspn(br + 1, "]");
            if (n == 1 && br[1] == 'U')
                snprintf(t->unit[i], sizeof t->unit[i], "%s", U);
            else
                snprintf(t->unit[i], sizeof t->unit[i], "%.*s", n, br + 1);
        }
        snprintf(t->col[i], sizeof t->col[i], "%s", f);
    }
}

static void cellf(tab *t, int row, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void cellf(tab *t, int row, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->cell[row][col], CELL, fmt, ap);
    va_end(ap);
    if (k >= CELL)
        utf8_cut(t->cell[row][col], CELL - 1);
}

static int write_dat(const char *dir, const tab *t)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.dat", dir, t->file);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# zplan %s: %s\n# %s\n#", PACKAGE_VERSION, t->title, t->note);
    for (int c = 0; c < t->ncol; c++)
        fprintf(f, " %s%s%s%s", t->col[c], t->unit[c][0] ? "[" : "", t->unit[c], t->unit[c][0] ? "]" : "");
    fputc('\n', f);
    for (int r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) {
            if (!t->text[c]) {
                fprintf(f, "%s%s", c ? " " : "", t->cell[r][c]);
                continue;
            }
            /* labels without blanks or quotes, so that awk and gnuplot split
             * alike and a name stays one column (cells are clean_name'd) */
            fputs(c ? " \"" : "\"", f);
            for (const char *p = t->cell[r][c]; *p; p++)
                fputc(*p == ' ' || *p == '\t' ? '_' : *p == '"' ? '\'' : *p, f);
            fputc('"', f);
        }
        fputc('\n', f);
    }
    return fclose(f);
}

static void html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Text in Markdown (a list item or a table cell): one line, no markup, no
 * cell separator.  Markup is written as HTML entities, which Markdown shows
 * as the characters; Markdown's own punctuation is backslash-escaped. */
static void md_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f)
            fputc(' ', f);
        else if (ch == '<')
            fputs("&lt;", f);
        else if (ch == '>')
            fputs("&gt;", f);
        else if (ch == '&')
            fputs("&amp;", f);
        else if (strchr("\\`*_[]|#!", ch))
            fprintf(f, "\\%c", ch);
        else
            fputc(ch, f);
    }
}

/* A column's header on the page: its display name, or its name with '_'
 * read as ' ', and its unit in parentheses. */
static void header_of(char *buf, size_t n, const tab *t, int c)
{
    char name[40];
    snprintf(name, sizeof name, "%s", t->disp[c][0] ? t->disp[c] : t->col[c]);
    for (char *p = name; *p; p++)
        if (*p == '_')
            *p = ' ';
    snprintf(buf, n, "%s%s%s%s", name, t->unit[c][0] ? " (" : "", t->unit[c], t->unit[c][0] ? ")" : "");
}

/* A cell on the page: text as it is; a number with 4 significant digits
 * (the .dat keeps what the chart needs), "0" for zero. */
static const char *cell_of(char *buf, size_t n, const tab *t, int r, int c)
{
    const char *v = t->cell[r][c];
    char *end;
    double d = strtod(v, &end);
    if (t->text[c] || end == v || *end)
        snprintf(buf, n, "%s", v);
    else
        snprintf(buf, n, "%.4g", d);
    return buf;
}

static void html_table(FILE *f, const tab *t)
{
    char buf[CELL + 64];
    fputs("<table>\n<thead><tr>", f);
    for (int c = 0; c < t->ncol; c++) {
        if (t->hide[c])
            continue;
        fputs("<th>", f);
        header_of(buf, sizeof buf, t, c);
        html_escape(f, buf);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (int r = 0; r < t->nrow; r++) {
        fputs("<tr>", f);
        for (int c = 0; c < t->ncol; c++) {
            if (t->hide[c])
                continue;
            fputs(t->text[c] ? "<td class=\"t\">" : "<td>", f);
            html_escape(f, cell_of(buf, sizeof buf, t, r, c));
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
}

static void md_table(FILE *f, const tab *t)
{
    char buf[CELL + 64];
    fputc('|', f);
    for (int c = 0; c < t->ncol; c++)
        if (!t->hide[c]) {
            header_of(buf, sizeof buf, t, c);
            fprintf(f, " %s |", buf);
        }
    fputs("\n|", f);
    for (int c = 0; c < t->ncol; c++)
        if (!t->hide[c])
            fputs(t->text[c] ? "---|" : "---:|", f);
    fputc('\n', f);
    for (int r = 0; r < t->nrow; r++) {
        fputc('|', f);
        for (int c = 0; c < t->ncol; c++) {
            if (t->hide[c])
                continue;
            fputc(' ', f);
            md_escape(f, cell_of(buf, sizeof buf, t, r, c));
            fputs(" |", f);
        }
        fputc('\n', f);
    }
}

/* ------------------------------------------------------------ charts */

typedef struct chart {
    tab t;
    char gp[65536];   /* the plot commands after the terminal lines */
    size_t len;       /* bytes used in gp */
    int overflow;     /* gp was too short: the script is not written */
    int omitted;      /* no chart, only the note */
    int height;       /* pixels (0: 700) */
} chart;

typedef struct ctx {
    const cJSON *r;
    const cJSON *execs;   /* execution records, oldest first */
    zp_problem pb;
    zp_units units;
    double unit;      /* bytes per GiB (or GB) */
    const char *uname;
    zp_fmt fmt;
} ctx;

static void gpf(chart *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gpf(chart *c, const char *fmt, ...)
{
    if (c->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(c->gp + c->len, sizeof c->gp - c->len, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof c->gp - c->len) {
        c->overflow = 1;   /* a cut script could end inside a string */
        c->gp[c->len] = '\0';
        return;
    }
    c->len += (size_t)k;
}

/* Text as a gnuplot string expression that is data, never code: pieces in
 * single quotes, inside which gnuplot expands nothing (no backslash escape,
 * no `command`, no @macro; ';' and '#' are plain characters), joined by
 * '.'; a ' is the piece "\047" and a newline the piece "\n" (a line break
 * of the label).  No ' is ever written but as a piece's delimiter: gnuplot
 * finds @macros by counting every ' on the line, inside "..." too (so "'"
 * would let a name's @GPVAL_PWD expand), and its lexer splits a string
 * that starts with its own '' escape.  Other control characters become
 * blanks.  Every label that holds a name is also set noenhanced, so that
 * ^ _ @ & { } ~ are drawn, not read as enhanced-text markup. */
static void gp_text(chart *c, const char *s)
{
    int inq = 0, pieces = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\'' || ch == '\n') {
            gpf(c, "%s%s%s", inq ? "'" : "", pieces++ ? "." : "", ch == '\'' ? "\"\\047\"" : "\"\\n\"");
            inq = 0;
            continue;
        }
        if (!inq)
            gpf(c, "%s'", pieces++ ? "." : "");
        inq = 1;
        gpf(c, "%c", ch < 0x20 || ch == 0x7f ? ' ' : (char)ch);
    }
    gpf(c, "%s", inq ? "'" : pieces ? "" : "''");
}

/* One command that takes a text: before, the text (gp_text), after. */
static void gp_cmd(chart *c, const char *before, const char *text, const char *after)
{
    gpf(c, "%s", before);
    gp_text(c, text);
    gpf(c, "%s", after);
}

/* ", and N more with activations offloaded" where the search tried some
 * (absent in runs stored before: nothing) */
static const char *act_fit_text(const cJSON *r)
{
    static char buf[96];
    buf[0] = '\0';
    if (zp_jnum(r, "act_offload_tried") > 0)
        snprintf(buf, sizeof buf, ", and %.0f more with their activations offloaded to the host (of %.0f tried)",
                 zp_jnum(r, "act_offload_fit"), zp_jnum(r, "act_offload_tried"));
    return buf;
}

static void label_of(char *buf, size_t n, const cJSON *p)
{
    const char *off = zp_jstr(p, "offload");
    char ck[32];
    char cp[16] = "";
    if (zp_jnum(p, "cp") > 1)
        snprintf(cp, sizeof cp, " cp%.0f", zp_jnum(p, "cp"));
    snprintf(buf, n, "%.0fx%.0fx%.0f%s z%.0f%s%s %s mb%.0f", zp_jnum(p, "dp"), zp_jnum(p, "tp"), zp_jnum(p, "pp"), cp,
             zp_jnum(p, "zero"),
             strcmp(off, "none") == 0 ? "" : strcmp(off, "optimizer") == 0 ? " +off(opt)" : " +off(opt+par)",
             zp_jflag(p, "act_offload") ? " +off(act)" : "", jname(ck, sizeof ck, p, "ckpt"), zp_jnum(p, "micro_batch"));
}

/* A short label for a bar's tic, two lines: "8x1x1 z3+opt+par", "none mb1". */
static void tic_of(char *buf, size_t n, const cJSON *p)
{
    const char *off = zp_jstr(p, "offload");
    char ck[32];
    char cp[16] = "";
    if (zp_jnum(p, "cp") > 1)
        snprintf(cp, sizeof cp, " cp%.0f", zp_jnum(p, "cp"));
    snprintf(buf, n, "%.0fx%.0fx%.0f%s z%.0f%s%s\n%s mb%.0f", zp_jnum(p, "dp"), zp_jnum(p, "tp"), zp_jnum(p, "pp"), cp,
             zp_jnum(p, "zero"),
             strcmp(off, "none") == 0 ? "" : strcmp(off, "optimizer") == 0 ? "+opt" : "+opt+par",
             zp_jflag(p, "act_offload") ? "+act" : "", jname(ck, sizeof ck, p, "ckpt"), zp_jnum(p, "micro_batch"));
}

/* The tics of the strategy bars: strategy name over the layout, at x = 1..n;
 * the names are cells of column 1 (clean). */
static void strategy_tics(chart *c, const cJSON *const *list, int n)
{
    gpf(c, "set xtics (");
    for (int i = 0; i < n; i++) {
        char tic[96], lab[200];
        tic_of(tic, sizeof tic, list[i]);
        snprintf(lab, sizeof lab, "%s\n%s", c->t.cell[i][1], tic);
        gp_cmd(c, i ? ", " : "", lab, "");
        gpf(c, " %d", i + 1);
    }
    gpf(c, ") font ',10' nomirror noenhanced\n");
}

/* Largest value of a numeric table column. */
static double col_max(const tab *t, int col)
{
    double m = 0.0;
    for (int r = 0; r < t->nrow; r++) {
        double v = atof(t->cell[r][col]);
        if (v > m)
            m = v;
    }
    return m;
}

/* y range from 0 to above both the data and the capacity line. */
static void mem_yrange(chart *c, const ctx *x, double data_max)
{
    double cap = zp_jnum(zp_jobj(x->r, "cluster"), "gpu_memory_bytes") / x->unit;
    gpf(c, "set yrange [0:%.4f]\n", (data_max > cap ? data_max : cap) * 1.12);
}

/* The capacity line and its label. */
static void capacity(chart *c, const ctx *x)
{
    double cap = zp_jnum(zp_jobj(x->r, "cluster"), "gpu_memory_bytes") / x->unit;
    char gpu[NAME], lab[NAME + 64];
    gpf(c, "CAP = %.4f\n", cap);
    gpf(c, "set arrow 1 from graph 0, first CAP to graph 1, first CAP nohead lw 2 dt 2 lc rgb '#000000' front\n");
    snprintf(lab, sizeof lab, "%s capacity %.1f %s", jname(gpu, sizeof gpu, zp_jobj(x->r, "cluster"), "gpu"), cap, x->uname);
    gp_cmd(c, "set label 1 ", lab, " at graph 0.01, first CAP offset 0,0.8 front noenhanced\n");
}

/* The plans the strategy and communication charts compare: the classic
 * strategies that have a valid layout, then the chosen plan. */
static int compared(const ctx *x, const cJSON *list[9], const char *names[9])
{
    const cJSON *p;
    int n = 0;
    cJSON_ArrayForEach(p, zp_jobj(x->r, "classic"))
    {
        if (zp_jobj(p, "invalid") || n >= 8)
            continue;
        list[n] = p;
        names[n++] = zp_jstr(p, "strategy");
    }
    if (cJSON_IsObject(zp_jobj(x->r, "chosen"))) {
        list[n] = zp_jobj(x->r, "chosen");
        names[n++] = "chosen";
    }
    return n;
}

/* Plot commands for a stack of boxes: column first .. first+n-1 of file,
 * drawn tallest (cumulative) first so that the smaller ones sit in front.
 * `x` is the using-expression of the x position, `style` extra box style;
 * ends with ", \" when more plot items follow (more != 0). */
static void stack(chart *c, const char *file, const char *x, int first, int n, const char *const *colours,
                  const char *const *titles, const char *style, int more)
{
    for (int k = n - 1; k >= 0; k--) {
        gpf(c, "'%s' using %s:(", file, x);
        for (int j = 0; j <= k; j++)
            gpf(c, "%s$%d", j ? "+" : "", first + j);
        gpf(c, ") with boxes %s lc rgb '%s' title '%s'%s", style, colours[k], titles[k],
            k || more ? ", \\\n     " : "\n");
    }
}

/* 1. Strategy comparison: device stacks (solid) and host stacks (hatched). */
static void chart_strategy(chart *c, const ctx *x)
{
    tab *t = &c->t;
    t->file = "strategy";
    snprintf(t->title, sizeof t->title, "per-GPU memory by class for each strategy");
    snprintf(t->note, sizeof t->note,
             "units %s (%s); device: the worst rank's device memory; host: one rank's host RAM "
             "(host RAM per node = ranks per node x host); each strategy with its best micro-batch and recompute",
             x->uname, x->units == ZP_UNITS_DECIMAL ? "1e9 bytes" : "2^30 bytes");
    tab_cols(t, "x:h,strategy:t,layout:t,params[U],grads[U],optimizer[U],activations[U],buffers[U],overhead[U],"
             "device_total[U],host_params[U]:h,host_grads[U]:h,host_optimizer[U]:h,host_activations[U]:h,"
             "host_buffers[U]:h,host_total|host RAM[U],fits:t", x->uname);
    const cJSON *list[9];
    const char *names[9];
    int row = compared(x, list, names);
    for (int i = 0; i < row; i++) {
        const cJSON *m = zp_jobj(list[i], "memory_bytes"), *h = zp_jobj(list[i], "host_bytes_per_rank");
        char lay[96];
        label_of(lay, sizeof lay, list[i]);
        char name[CELL];
        cellf(t, i, 0, "%d", i + 1);
        cellf(t, i, 1, "%s", clean_name(name, sizeof name, names[i]));
        cellf(t, i, 2, "%s", lay);
        for (int k = 0; k < ZP_MEM_NCLASS; k++)
            cellf(t, i, 3 + k, "%.4f", zp_jnum(m, zp_mem_class_names[k]) / x->unit);
        cellf(t, i, 9, "%.4f", zp_jnum(m, "total") / x->unit);
        cellf(t, i, 10, "%.4f", zp_jnum(h, "params") / x->unit);
        cellf(t, i, 11, "%.4f", zp_jnum(h, "grads") / x->unit);
        cellf(t, i, 12, "%.4f", zp_jnum(h, "optimizer") / x->unit);
        cellf(t, i, 13, "%.4f", zp_jnum(h, "activations") / x->unit);   /* (absent in runs stored before: 0) */
        cellf(t, i, 14, "%.4f", zp_jnum(h, "buffers") / x->unit);
        cellf(t, i, 15, "%.4f", zp_jnum(h, "total") / x->unit);
        cellf(t, i, 16, "%s", zp_jflag(list[i], "fits") ? "yes" : "no");
    }
    t->nrow = row;
    const cJSON *m = zp_jobj(x->r, "model"), *cu = zp_jobj(x->r, "cluster");
    char model[NAME], gpu[NAME], title[3 * NAME + 200];
    snprintf(title, sizeof title, "Per-GPU memory by strategy: %s (%.4g B parameters) on %.0f x %s\n"
             "solid: device memory of the worst rank; hatched: host RAM per rank (offload)",
             jname(model, sizeof model, m, "name"), zp_jnum(m, "params") / 1e9, zp_jnum(cu, "gpus"),
             jname(gpu, sizeof gpu, cu, "gpu"));
    gp_cmd(c, "set title ", title, " noenhanced\n");
    gpf(c, "set ylabel 'memory per GPU (%s)'\nset xrange [0.4:%d.8]\n", x->uname, row);
    double dmax = col_max(t, 9), hmax = col_max(t, 15);
    mem_yrange(c, x, dmax > hmax ? dmax : hmax);
    gpf(c, "set style fill solid 0.9 border lc rgb '#333333'\nset boxwidth 0.36\nset grid ytics lc rgb '#dddddd'\n");
    gpf(c, "set key outside right top vertical Left reverse\nset bmargin 6\n");
    strategy_tics(c, list, row);
    capacity(c, x);
    /* stacks: draw the tallest cumulative box first, the smaller in front */
    /* host columns 11..15: params, grads, optimizer, activations, buffers */
    static const char *const host_colour[5] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"};
    static const char *const host_title[5] = {"host params", "host grads", "host optimizer", "host activations",
                                              "host buffers"};
    gpf(c, "plot ");
    stack(c, "strategy.dat", "($1-0.19)", 4, ZP_MEM_NCLASS, class_colour, zp_mem_class_names, "", 1);
    stack(c, "strategy.dat", "($1+0.19)", 11, 5, host_colour, host_title, "fs pattern 2", 0);
}

/* 2. Scaling: per-GPU memory against data-parallel GPUs for each ZeRO stage. */
static void chart_scaling(chart *c, const ctx *x)
{
    tab *t = &c->t;
    const cJSON *ch = zp_jobj(x->r, "chosen");
    zp_layout base = {0};
    base.tp = base.pp = base.vp = 1;
    base.micro_batch = cJSON_IsObject(ch) ? (int64_t)zp_jnum(ch, "micro_batch") : 1;
    base.ckpt = cJSON_IsObject(ch) ? (zp_ckpt)zp_name_index(zp_jstr(ch, "ckpt"), zp_ckpt_names) : ZP_CKPT_NONE;
    base.grad_accum = 1;
    base.offload = ZP_OFF_NONE;
    t->file = "scaling";
    snprintf(t->title, sizeof t->title, "per-GPU memory against data-parallel GPUs for each ZeRO stage");
    snprintf(t->note, sizeof t->note,
             "units %s; tp = pp = 1, dp = gpus, micro-batch %lld, recompute %s; states = params + grads + optimizer "
             "(the ZeRO paper's model states), total = every device class", x->uname,
             (long long)base.micro_batch, zp_ckpt_names[base.ckpt]);
    tab_cols(t, "gpus,zero0_states|ZeRO-0 states[U],zero1_states|ZeRO-1 states[U],zero2_states|ZeRO-2 states[U],"
             "zero3_states|ZeRO-3 states[U],zero0_total|ZeRO-0 total[U],zero1_total|ZeRO-1 total[U],"
             "zero2_total|ZeRO-2 total[U],zero3_total|ZeRO-3 total[U]", x->uname);
    int row = 0;
    for (int64_t g = 1; g <= 1024; g *= 2, row++) {
        zp_problem pb = x->pb;
        pb.cluster.gpus = g;
        if (pb.cluster.gpus_per_node > g)
            pb.cluster.gpus_per_node = g;
        cellf(t, row, 0, "%lld", (long long)g);
        for (int z = 0; z < 4; z++) {
            zp_layout l = base;
            l.dp = g;
            l.zero = z;
            zp_mem m;
            zp_mem_worst(&pb.model, &pb.train, &l, &pb.cluster, &pb.conv, &m);
            uint64_t states = m.dev[ZP_MEM_PARAMS] + m.dev[ZP_MEM_GRADS] + m.dev[ZP_MEM_OPTIM];
            cellf(t, row, 1 + z, "%.4f", (double)states / x->unit);
            cellf(t, row, 5 + z, "%.4f", (double)m.dev_total / x->unit);
        }
    }
    t->nrow = row;
    char model[NAME], title[NAME + 200];
    snprintf(title, sizeof title, "Per-GPU memory vs data-parallel GPUs, %s: ZeRO stages 0-3\n"
             "solid: all device memory; dashed: model states only (params + grads + optimizer)",
             jname(model, sizeof model, zp_jobj(x->r, "model"), "name"));
    gp_cmd(c, "set title ", title, " noenhanced\n");
    gpf(c, "set xlabel 'GPUs (data parallel; log scale)'\nset ylabel 'memory per GPU (%s, log scale)'\n", x->uname);
    gpf(c, "set logscale xy 2\nset xrange [1:1024]\nset xtics (1,2,4,8,16,32,64,128,256,512,1024)\n");
    gpf(c, "set format y '%%g'\nset grid xtics ytics lc rgb '#dddddd'\nset key outside right top vertical\n");
    capacity(c, x);
    gpf(c, "plot ");
    for (int z = 0; z < 4; z++)
        gpf(c, "'scaling.dat' using 1:%d with linespoints lw 2 pt 7 lc rgb '%s' title 'ZeRO-%d total', \\\n     "
               "'scaling.dat' using 1:%d with lines lw 2 dt 2 lc rgb '%s' title 'ZeRO-%d states'%s",
            6 + z, zero_colour[z], z, 2 + z, zero_colour[z], z, z < 3 ? ", \\\n     " : "\n");
}

/* 3. Top plans: step time split and memory per GPU. */
static void chart_top(chart *c, const ctx *x, int top_n)
{
    tab *t = &c->t;
    t->file = "top_plans";
    snprintf(t->title, sizeof t->title, "step time split and memory per GPU of the top plans");
    snprintf(t->note, sizeof t->note, "times in seconds per optimizer step; memory in %s (worst rank, device)",
             x->uname);
    tab_cols(t, "rank,layout:t,compute[s],comm_exposed|exposed comm[s],bubble[s],optimizer[s],step[s],params[U]:h,"
             "grads[U]:h,optimizer_mem[U]:h,activations[U]:h,buffers[U]:h,overhead[U]:h,total|memory[U],"
             "host|host RAM[U]", x->uname);
    const cJSON *p;
    int row = 0;
    cJSON_ArrayForEach(p, zp_jobj(x->r, "plans"))
    {
        if (row >= top_n || row >= TAB_ROWS)
            break;
        const cJSON *ts = zp_jobj(p, "time_s"), *m = zp_jobj(p, "memory_bytes");
        char lay[96];
        label_of(lay, sizeof lay, p);
        cellf(t, row, 0, "%d", row + 1);
        cellf(t, row, 1, "%s", lay);
        cellf(t, row, 2, "%.6g", zp_jnum(ts, "compute"));
        cellf(t, row, 3, "%.6g", zp_jnum(ts, "comm_exposed"));
        cellf(t, row, 4, "%.6g", zp_jnum(ts, "bubble"));
        cellf(t, row, 5, "%.6g", zp_jnum(ts, "optimizer"));
        cellf(t, row, 6, "%.6g", zp_jnum(p, "step_time_s"));
        for (int k = 0; k < ZP_MEM_NCLASS; k++)
            cellf(t, row, 7 + k, "%.4f", zp_jnum(m, zp_mem_class_names[k]) / x->unit);
        cellf(t, row, 13, "%.4f", zp_jnum(m, "total") / x->unit);
        cellf(t, row, 14, "%.4f", zp_jnum(zp_jobj(p, "host_bytes_per_rank"), "total") / x->unit);
        row++;
    }
    t->nrow = row;
    if (row == 0) {
        c->omitted = 1;
        snprintf(t->note, sizeof t->note, "no plan fits, so there are no top plans to compare");
        return;
    }
    static const char *const tnames[4] = {"compute", "exposed communication", "pipeline bubble", "optimizer"};
    char model[NAME], gpu[NAME], title[2 * NAME + 100];
    snprintf(title, sizeof title, "Top %d plans of %s on %.0f x %s", row, jname(model, sizeof model, zp_jobj(x->r, "model"), "name"),
             zp_jnum(zp_jobj(x->r, "cluster"), "gpus"), jname(gpu, sizeof gpu, zp_jobj(x->r, "cluster"), "gpu"));
    c->height = 900;
    gp_cmd(c, "set multiplot layout 2,1 title ", title, " noenhanced\n");
    gpf(c, "set style fill solid 0.9 border lc rgb '#333333'\nset boxwidth 0.7\nset grid ytics lc rgb '#dddddd'\n");
    gpf(c, "set xrange [0.3:%d.7]\nset lmargin 12\nset rmargin 26\nset bmargin 5.5\n"
           "set key outside right top vertical Left reverse\n", row);
    /* each plan named by its layout, not its rank */
    gpf(c, "set xtics (");
    const cJSON *q;
    int i = 0;
    cJSON_ArrayForEach(q, zp_jobj(x->r, "plans"))
    {
        if (i >= row)
            break;
        char tic[96], lab[120];
        tic_of(tic, sizeof tic, q);
        snprintf(lab, sizeof lab, "#%d\n%s", i + 1, tic);
        gp_cmd(c, i ? ", " : "", lab, "");
        gpf(c, " %d", ++i);
    }
    gpf(c, ") font ',%d' nomirror noenhanced\n", row > 8 ? 8 : 9);
    /* step times a few per cent apart are invisible from 0: when they
     * differ by less than a fifth, the axis starts near the fastest */
    double smin = 0, smax = 0;
    for (int r = 0; r < row; r++) {
        double v = atof(t->cell[r][6]);
        smin = r == 0 || v < smin ? v : smin;
        smax = v > smax ? v : smax;
    }
    if (smax > 0 && smax - smin < 0.2 * smax) {
        double span = smax - smin > 0 ? smax - smin : 0.01 * smax;
        double y0 = smin - 0.5 * span;
        gpf(c, "set title 'step time (s): the axis starts at %.4g s, not 0'\nset ylabel 'seconds per step (zoomed)'\n"
               "set yrange [%.6g:%.6g]\nplot ", y0, y0, smax + 0.35 * span);
    } else
        gpf(c, "set title 'step time (s)'\nset ylabel 'seconds per step'\nset yrange [0:*]\nplot ");
    stack(c, "top_plans.dat", "1", 3, 4, time_colour, tnames, "", 1);
    gpf(c, "'top_plans.dat' using 1:7:(sprintf('%%.4g', $7)) with labels offset 0,0.7 font ',9' notitle\n");
    gpf(c, "set title 'memory per GPU (%s), the worst rank'\nset ylabel '%s per GPU'\n", x->uname, x->uname);
    mem_yrange(c, x, col_max(t, 13));
    capacity(c, x);
    /* an offloaded plan's host RAM (one rank's), hatched beside its device stack */
    gpf(c, "set boxwidth 0.55\nplot ");
    stack(c, "top_plans.dat", "($1-0.12)", 8, ZP_MEM_NCLASS, class_colour, zp_mem_class_names, "", 1);
    gpf(c, "'top_plans.dat' using ($1+0.3):($15 > 0 ? $15 : 1/0):(0.25) with boxes fs pattern 2 lw 1 lc rgb '#2ca02c' "
           "title 'host RAM (offload)'\n");
    gpf(c, "unset multiplot\n");
}

/* 4. Communication per step by collective and group for the strategies. */
enum { CC_DP_AR, CC_DP_RS, CC_DP_AG, CC_TP, CC_PP, CC_EMB, CC_CP, CC_PCIE, CC_N };
static const char *const cc_names[CC_N] = {"dp all-reduce", "dp reduce-scatter", "dp all-gather",
                                            "tp collectives", "pp send/recv", "embedding all-reduce",
                                            "cp K/V ring", "pcie offload"};
static const char *const cc_colour[CC_N] = {"#1f77b4", "#17becf", "#2ca02c", "#ff7f0e", "#d62728", "#8c564b",
                                            "#e377c2", "#7f7f7f"};

static int cc_of(const zp_coll *cl)
{
    switch (cl->group) {
    case ZP_GRP_DP:
        return cl->kind == ZP_COLL_ALLREDUCE ? CC_DP_AR : cl->kind == ZP_COLL_REDUCE_SCATTER ? CC_DP_RS : CC_DP_AG;
    case ZP_GRP_TP: return CC_TP;
    case ZP_GRP_PP: return CC_PP;
    case ZP_GRP_EMB: return CC_EMB;
    case ZP_GRP_CP: return CC_CP;
    default: return CC_PCIE;
    }
}

/* The links a collective's bytes cross: inside a node (NVLink), across
 * nodes (the network), to and from the host (PCIe). */
enum { LK_NVL, LK_NET, LK_PCIE, LK_N };
static const char *const lk_title[LK_N] = {"inside a node (NVLink)", "across nodes (network)",
                                           "to and from the host (PCIe, offload)"};

static void chart_comm(chart *c, const ctx *x)
{
    tab *t = &c->t;
    t->file = "comm";
    snprintf(t->title, sizeof t->title, "bytes sent per step and rank by link, collective and process group");
    snprintf(t->note, sizeof t->note,
             "units %s per step, bus bytes (array size x nccl-tests bus factor x calls) sent by one rank of the "
             "worst-memory stage; apart: inside a node (NVLink), across nodes (network), host (PCIe); a panel "
             "whose bars span 100x or more has a log scale", x->uname);
    /* columns: 0-2 labels; 3-9 NVLink and 10-16 network by collective
     * (cc_names' first seven), 17 PCIe; 18-20 the links' totals, 21 total;
     * 22-28 by collective over the links (the page's table) */
    tab_cols(t, "x:h,strategy:t,layout:t,nvl_dp_allreduce[U]:h,nvl_dp_reducescatter[U]:h,nvl_dp_allgather[U]:h,"
                "nvl_tp[U]:h,nvl_pp[U]:h,nvl_embedding[U]:h,nvl_cp[U]:h,net_dp_allreduce[U]:h,"
                "net_dp_reducescatter[U]:h,net_dp_allgather[U]:h,net_tp[U]:h,net_pp[U]:h,net_embedding[U]:h,"
                "net_cp[U]:h,pcie_offload[U]:h,nvlink|NVLink[U],network[U],pcie|PCIe[U],total[U],"
                "dp_allreduce|dp all-reduce[U],dp_reducescatter|dp reduce-scatter[U],dp_allgather|dp all-gather[U],"
                "tp[U],pp|pp send/recv[U],embedding|embedding all-reduce[U],cp|cp K/V ring[U]", x->uname);
    const cJSON *list[9];
    const char *names[9];
    int row = compared(x, list, names);
    double lo[LK_N], hi[LK_N];
    for (int k = 0; k < LK_N; k++)
        lo[k] = 0, hi[k] = 0;
    for (int i = 0; i < row; i++) {
        zp_layout l;
        zp_result_layout(list[i], &l);
        zp_problem pb = x->pb;
        zp_comm cm;
        zp_comm_plan(&pb.model, &pb.train, &l, &pb.cluster, &pb.conv, (int64_t)zp_jnum(list[i], "worst_stage"), &cm);
        double v[LK_N][CC_N] = {{0}}, lt[LK_N] = {0}, tot = 0;
        for (int k = 0; k < cm.n; k++) {
            double b = (double)cm.c[k].bus_bytes;
            int lk = cm.c[k].group == ZP_GRP_PCIE ? LK_PCIE : cm.c[k].inter_node ? LK_NET : LK_NVL;
            v[lk][cc_of(&cm.c[k])] += b;
            lt[lk] += b;
            tot += b;
        }
        char lay[96], name[CELL];
        label_of(lay, sizeof lay, list[i]);
        cellf(t, i, 0, "%d", i + 1);
        cellf(t, i, 1, "%s", clean_name(name, sizeof name, names[i]));
        cellf(t, i, 2, "%s", lay);
        for (int k = 0; k < CC_PCIE; k++) {
            cellf(t, i, 3 + k, "%.6g", v[LK_NVL][k] / x->unit);
            cellf(t, i, 10 + k, "%.6g", v[LK_NET][k] / x->unit);
            cellf(t, i, 22 + k, "%.6g", (v[LK_NVL][k] + v[LK_NET][k]) / x->unit);
        }
        cellf(t, i, 17, "%.6g", v[LK_PCIE][CC_PCIE] / x->unit);
        for (int k = 0; k < LK_N; k++) {
            double u = lt[k] / x->unit;
            cellf(t, i, 18 + k, "%.6g", u);
            if (u > 0) {
                if (lo[k] == 0 || u < lo[k])
                    lo[k] = u;
                if (u > hi[k])
                    hi[k] = u;
            }
        }
        cellf(t, i, 21, "%.6g", tot / x->unit);
    }
    t->nrow = row;
    c->height = 1050;
    char model[NAME], gpu[NAME], title[2 * NAME + 100];
    snprintf(title, sizeof title, "Communication per step and GPU by link and collective: %s on %.0f x %s",
             jname(model, sizeof model, zp_jobj(x->r, "model"), "name"), zp_jnum(zp_jobj(x->r, "cluster"), "gpus"),
             jname(gpu, sizeof gpu, zp_jobj(x->r, "cluster"), "gpu"));
    gp_cmd(c, "set multiplot layout 3,1 title ", title, " noenhanced\n");
    gpf(c, "set xrange [0.4:%d.6]\nset style fill solid 0.9 border lc rgb '#333333'\nset boxwidth 0.6\n", row);
    gpf(c, "set grid ytics lc rgb '#dddddd'\nset key outside right top vertical Left reverse\n"
           "set lmargin 12\nset rmargin 30\n");
    for (int k = 0; k < LK_N; k++) {
        if (k < LK_N - 1) {   /* the strategies' names above, their layouts under the last panel */
            gpf(c, "set bmargin 2\nset xtics (");
            for (int i = 0; i < row; i++) {
                gp_cmd(c, i ? ", " : "", t->cell[i][1], "");
                gpf(c, " %d", i + 1);
            }
            gpf(c, ") font ',10' nomirror noenhanced\n");
        } else {
            gpf(c, "set bmargin 5\n");
            strategy_tics(c, list, row);
        }
        int lg = hi[k] > 0 && hi[k] >= 100 * lo[k];
        gpf(c, "set title '%s'\nset ylabel '%s per GPU per step%s'\n", lk_title[k], x->uname, lg ? ", log scale" : "");
        if (hi[k] <= 0) {   /* nothing on this link: an empty panel that says so */
            gpf(c, "unset logscale y\nset yrange [0:1]\nset label 9 'no traffic on this link in any of these plans' "
                   "at graph 0.5, graph 0.5 center\nplot NaN notitle\nunset label 9\n");
            continue;
        }
        if (lg)   /* bars of 21 GiB beside one of 4.8 TiB: a log scale shows both */
            gpf(c, "set logscale y 10\nset format y '%%g'\nset yrange [%.6g:%.6g]\n", lo[k] / 4, hi[k] * 4);
        else
            gpf(c, "unset logscale y\nset format y '%%g'\nset yrange [0:%.6g]\n", hi[k] * 1.2);
        gpf(c, "plot ");
        if (k == LK_PCIE) {
            static const char *const pc[1] = {"#7f7f7f"};
            static const char *const pt[1] = {"pcie offload"};
            stack(c, "comm.dat", "1", 18, 1, pc, pt, "", 1);
        } else
            stack(c, "comm.dat", "1", k == LK_NVL ? 4 : 11, CC_PCIE, cc_colour, cc_names, "", 1);
        /* the link's total above each bar, so that small ones stay readable */
        gpf(c, "'comm.dat' using 1:($%d > 0 ? $%d : 1/0):(sprintf('%%.4g', $%d)) with labels offset 0,0.7 "
               "font ',9' notitle\n", 19 + k, 19 + k, 19 + k);
    }
    gpf(c, "unset multiplot\n");
}

/* 5. Memory per pipeline stage of the chosen plan. */
static void chart_stages(chart *c, const ctx *x)
{
    tab *t = &c->t;
    const cJSON *ch = zp_jobj(x->r, "chosen");
    t->file = "stages";
    snprintf(t->title, sizeof t->title, "memory per pipeline stage of the chosen plan");
    snprintf(t->note, sizeof t->note, "units %s; one rank of each stage: device classes and host RAM", x->uname);
    tab_cols(t, "stage,params[U],grads[U],optimizer[U],activations[U],buffers[U],overhead[U],total[U],host[U]", x->uname);
    if (!cJSON_IsObject(ch)) {
        c->omitted = 1;
        snprintf(t->note, sizeof t->note, "no plan fits, so there is no chosen plan to show per stage");
        return;
    }
    const cJSON *s;
    int row = 0;
    cJSON_ArrayForEach(s, zp_jobj(ch, "stages"))
    {
        if (row >= TAB_ROWS)
            break;
        const cJSON *m = zp_jobj(s, "memory_bytes"), *h = zp_jobj(s, "host_bytes");
        cellf(t, row, 0, "%.0f", zp_jnum(s, "stage"));
        for (int k = 0; k < ZP_MEM_NCLASS; k++)
            cellf(t, row, 1 + k, "%.4f", zp_jnum(m, zp_mem_class_names[k]) / x->unit);
        cellf(t, row, 7, "%.4f", zp_jnum(m, "total") / x->unit);
        cellf(t, row, 8, "%.4f", zp_jnum(h, "total") / x->unit);
        row++;
    }
    t->nrow = row;
    char lay[96], title[300];
    label_of(lay, sizeof lay, ch);
    snprintf(title, sizeof title, "Memory per pipeline stage, chosen plan %s (%d stage%s)\n"
             "the first stage holds the embedding and the most micro-batches in flight, the last the head and logits",
             lay, row, row == 1 ? "" : "s");
    gp_cmd(c, "set title ", title, " noenhanced\n");
    gpf(c, "set xlabel 'pipeline stage'\nset ylabel 'memory per GPU (%s)'\n", x->uname);
    mem_yrange(c, x, col_max(t, 7));
    /* as many slots as stages (one stage: one bar, no empty places) */
    gpf(c, "set xrange [-0.6:%d.6]\nset xtics %s nomirror\n", row - 1, row > 32 ? "4" : "1");
    gpf(c, "set style fill solid 0.9 border lc rgb '#333333'\nset boxwidth %s\nset grid ytics lc rgb '#dddddd'\n",
        row == 1 ? "0.4" : "0.55");
    gpf(c, "set key outside right top vertical\n");
    capacity(c, x);
    gpf(c, "plot ");
    stack(c, "stages.dat", "($1-0.12)", 2, ZP_MEM_NCLASS, class_colour, zp_mem_class_names, "", 1);
    gpf(c, "'stages.dat' using ($1+0.3):($9 > 0 ? $9 : 1/0):(0.25) with boxes fs pattern 2 lw 1 lc rgb '#2ca02c' "
           "title 'host RAM (offload)'\n");
}

/* 6. Predicted vs measured, per execution of this run's plans (zplan
 * exec) that finished: rank 0's device memory per class, the prediction's
 * stack beside the measurement's; on a GPU the overhead class is the
 * runtime's (context, cuBLAS, NCCL, the allocator's rounding) and the
 * measured total the device's used bytes at the peak. */
static void chart_measured(chart *c, const ctx *x)
{
    tab *t = &c->t;
    t->file = "measured";
    snprintf(t->title, sizeof t->title, "predicted vs measured memory per class, per execution");
    snprintf(t->note, sizeof t->note,
             "units MiB (2^20 bytes: executions run scaled models); rank 0's device memory, the classes as they "
             "stood at the moment the planner puts the peak; p_: predicted, m_: measured; overhead: the GPU "
             "runtime's (CUDA context, cuBLAS, NCCL, allocator rounding), none on CPU ranks");
    tab_cols(t, "x:h,execution:t,run_on|run on:t,p_params[MiB],p_grads[MiB],p_optimizer[MiB],p_activations|p_activ[MiB],"
                "p_buffers[MiB],p_overhead[MiB],m_params[MiB],m_grads[MiB],m_optimizer[MiB],m_activations|m_activ[MiB],"
                "m_buffers[MiB],m_overhead[MiB],p_total[MiB],m_total[MiB],error_total|error[%]", x->uname);
    const cJSON *e;
    int row = 0;
    const double MiB = 1048576.0;
    cJSON_ArrayForEach(e, x->execs)
    {
        const cJSON *r0 = cJSON_GetArrayItem(zp_jobj(e, "per_rank"), 0);
        if (row >= TAB_ROWS || strcmp(zp_jstr(e, "status"), "ok") != 0 || !r0)
            continue;
        const cJSON *p = zp_jobj(r0, "predicted_bytes"), *m = zp_jobj(r0, "measured_bytes");
        const cJSON *rt = zp_jobj(r0, "runtime_bytes");
        double pt = 0, mt = 0;
        cellf(t, row, 0, "%d", row + 1);
        cellf(t, row, 1, "exec %.0f (plan %.0f)", zp_jnum(e, "exec_id"), zp_jnum(e, "plan"));
        char gpu[CELL];
        if (rt)
            cellf(t, row, 2, "%.0f rank%s, %s", zp_jnum(e, "ranks"), zp_jnum(e, "ranks") == 1 ? "" : "s",
                  jname(gpu, sizeof gpu, e, "gpu"));
        else
            cellf(t, row, 2, "%.0f CPU rank%s", zp_jnum(e, "ranks"), zp_jnum(e, "ranks") == 1 ? "" : "s");
        for (int k = 0; k < ZP_MEM_OVERHEAD; k++) {
            double a = zp_jnum(p, zp_mem_class_names[k]), b = zp_jnum(m, zp_mem_class_names[k]);
            cellf(t, row, 3 + k, "%.4f", a / MiB);
            cellf(t, row, 9 + k, "%.4f", b / MiB);
            pt += a;
            mt += b;
        }
        double po = 0, mo = 0;
        if (rt) {
            const cJSON *rp = zp_jobj(rt, "predicted"), *rm = zp_jobj(rt, "measured");
            po = zp_jnum(rp, "context") + zp_jnum(rp, "blas") + zp_jnum(rp, "communicator") + zp_jnum(rp, "rounding");
            mo = zp_jnum(rm, "context") + zp_jnum(rm, "blas") + zp_jnum(rm, "communicator") + zp_jnum(rm, "rounding");
        }
        cellf(t, row, 8, "%.4f", po / MiB);
        cellf(t, row, 14, "%.4f", mo / MiB);
        pt += po, mt += mo;
        cellf(t, row, 15, "%.4f", pt / MiB);
        cellf(t, row, 16, "%.4f", mt / MiB);
        cellf(t, row, 17, "%.2f", mt > 0 ? 100.0 * (pt - mt) / mt : 0.0);
        row++;
    }
    t->nrow = row;
    if (row == 0) {
        c->omitted = 1;
        snprintf(t->note, sizeof t->note,
                 "no executions of this run's plans are recorded as finished (zplan exec ID runs a plan and "
                 "records what it measured beside the prediction); the chart is omitted");
        return;
    }
    gpf(c, "set title \"Predicted (left, hatched) vs measured (right) device memory of rank 0, per execution\"\n");
    gpf(c, "set ylabel 'memory per rank (MiB)'\nset xlabel 'execution'\n");
    gpf(c, "set xrange [0.4:%d.6]\nset yrange [0:%.4f]\n", row, col_max(t, 15) > col_max(t, 16) ?
        col_max(t, 15) * 1.15 : col_max(t, 16) * 1.15);
    gpf(c, "set xtics (");
    for (int i = 0; i < row; i++)
        gpf(c, "%s\"%.0f\" %d", i ? ", " : "", atof(t->cell[i][1] + 5), i + 1);
    gpf(c, ") nomirror\nset boxwidth 0.36\nset grid ytics lc rgb '#dddddd'\nset key outside right top vertical\n");
    gpf(c, "set style fill pattern 4 border lc rgb '#333333'\nplot ");
    stack(c, "measured.dat", "($1-0.19)", 4, ZP_MEM_NCLASS, class_colour, zp_mem_class_names, "fs pattern 4", 1);
    static const char *const none[ZP_MEM_NCLASS] = {"", "", "", "", "", ""};
    stack(c, "measured.dat", "($1+0.19)", 10, ZP_MEM_NCLASS, class_colour, none, "fs solid 0.9", 1);
    gpf(c, "'measured.dat' using ($1+0.19):17:(sprintf('%%+.1f%%%%', $18)) with labels offset 0,0.8 font ',9' "
           "notitle\n");
}

/* ------------------------------------------------------------ output */

static int write_gp(const char *dir, const chart *c, zp_fmt fmt)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.gp", dir, c->t.file);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# zplan %s report chart: %s\n# data: %s.dat (columns and units in its header);"
               " regenerate with: gnuplot %s.gp\n", PACKAGE_VERSION, c->t.title, c->t.file, c->t.file);
    int h = c->height > 0 ? c->height : 700;
    /* the whole script once per format (replot would redo only the last
     * panel of a multiplot) */
    for (int pass = 0; pass < 2; pass++) {
        int png = pass == 0;
        if (!(fmt & (png ? ZP_FMT_PNG : ZP_FMT_SVG)))
            continue;
        if (png)
            fprintf(f, "set terminal pngcairo size 1200,%d enhanced font 'DejaVu Sans,11'\nset output '%s.png'\n",
                    h, c->t.file);
        else
            fprintf(f, "reset\nset terminal svg size 1200,%d dynamic enhanced font 'DejaVu Sans,11'\n"
                       "set output '%s.svg'\n", h, c->t.file);
        fputs("set encoding utf8\nset style data boxes\n", f);
        fputs(c->gp, f);
    }
    fputs("unset output\n", f);
    return fclose(f);
}

const char *zp_report_gnuplot(char *buf, size_t n)
{
    const char *env = getenv("ZPLAN_GNUPLOT");
    const char *prog = env && *env ? env : "gnuplot";
    if (strchr(prog, '/')) {
        if (access(prog, X_OK) != 0)
            return NULL;
        snprintf(buf, n, "%s", prog);
        return buf;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        snprintf(buf, n, "%.*s/%s", (int)len, path, prog);
        if (len && access(buf, X_OK) == 0)
            return buf;
        path += len + (path[len] == ':');
    }
    return NULL;
}

/* Set by SIGINT, SIGTERM or SIGHUP while a report is written: the chart
 * being drawn is stopped and the partial directory removed. */
static volatile sig_atomic_t report_stop;   /* the signal that asked to stop, or 0 */
static void on_stop(int sig)
{
    report_stop = sig;
}

/* The longest one chart may take gnuplot (a chart takes well under a second). */
#define GNUPLOT_TIMEOUT_S 120
#define GP_STOPPED (-2)
#define GP_TIMED_OUT (-3)

/* Run gnuplot on one script inside dir; its messages go to errlog.  Its
 * exit status; GP_STOPPED when a signal asked zplan to stop, GP_TIMED_OUT
 * after GNUPLOT_TIMEOUT_S (the process killed either way). */
static int run_gnuplot(const char *gnuplot, const char *dir, const char *script, const char *errlog)
{
    if (report_stop)   /* asked to stop before this chart began */
        return GP_STOPPED;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0);   /* its own group: stopped whole (a wrapper script and its children) */
        int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            close(null);
        }
        if (chdir(dir) != 0)
            _exit(126);
        execl(gnuplot, gnuplot, script, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);   /* as the child does: whichever runs first */
    int status;
    struct timespec t0, now, nap = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int late = now.tv_sec - t0.tv_sec >= GNUPLOT_TIMEOUT_S;
        if (report_stop || late) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return report_stop ? GP_STOPPED : GP_TIMED_OUT;
        }
        nanosleep(&nap, NULL);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The model in one readable line: "gpt2-small: 124.4M parameters (124439808);
 * 12 layers, hidden 768, 12 heads (12 KV), FFN 3072, vocabulary 50257;
 * gelu, layernorm, learned positions; from --model gpt2-small". */
static const char *model_line(char *buf, size_t n, const cJSON *m)
{
    char name[300], cnt[32], mlp[32], norm[32], pos[32], src[300];
    snprintf(buf, n, "%s: %s parameters (%.0f); %.0f layers, hidden %.0f, %.0f heads (%.0f KV), FFN %.0f, "
             "vocabulary %.0f; %s, %s, %s positions, %s; from %s",
             jname(name, sizeof name, m, "name"), zp_fmt_count(cnt, sizeof cnt, zp_jnum(m, "params")), zp_jnum(m, "params"),
             zp_jnum(m, "layers"), zp_jnum(m, "hidden"), zp_jnum(m, "heads"), zp_jnum(m, "kv_heads"), zp_jnum(m, "ffn"),
             zp_jnum(m, "vocab"), jname(mlp, sizeof mlp, m, "mlp"), jname(norm, sizeof norm, m, "norm"),
             jname(pos, sizeof pos, m, "position"), zp_jflag(m, "tied_embeddings") ? "tied head" : "untied head",
             clean_name(src, sizeof src, zp_jstr(m, "source")));
    return buf;
}

static void write_inputs_html(FILE *f, const ctx *x, long long run_id, const char *created, const char *now)
{
    const cJSON *m = zp_jobj(x->r, "model"), *c = zp_jobj(x->r, "cluster"), *t = zp_jobj(x->r, "training");
    fprintf(f, "<table class=\"inputs\">\n");
    fprintf(f, "<tr><th>run</th><td>%lld, planned ", run_id);
    html_escape(f, created);
    fputs(" by zplan ", f);
    html_escape(f, zp_jstr(x->r, "zplan_version"));
    fprintf(f, "; report made %s by zplan %s</td></tr>\n", now, PACKAGE_VERSION);
    char line[1000], gm[32], hm[32];
    fprintf(f, "<tr><th>model</th><td>");
    html_escape(f, model_line(line, sizeof line, m));
    fputs("</td></tr>\n", f);
    fprintf(f, "<tr><th>cluster</th><td>%.0f x ", zp_jnum(c, "gpus"));
    html_escape(f, zp_jstr(c, "gpu"));
    fprintf(f, " (%s each), %.0f per node, %s host RAM per node, network %g GB/s (%g Gb/s) per GPU</td></tr>\n",
            zp_fmt_bytes(gm, sizeof gm, (uint64_t)zp_jnum(c, "gpu_memory_bytes"), x->units), zp_jnum(c, "gpus_per_node"),
            zp_fmt_bytes(hm, sizeof hm, (uint64_t)zp_jnum(c, "host_memory_bytes_per_node"), x->units),
            zp_jnum(c, "inter_node_gbps"), 8 * zp_jnum(c, "inter_node_gbps"));
    int ac = zp_render_autocast(x->r);   /* PyTorch's autocast: fp32 storage */
    fprintf(f, "<tr><th>training</th><td>seq %.0f, global batch %.0f, ", zp_jnum(t, "seq"), zp_jnum(t, "global_batch"));
    html_escape(f, zp_jstr(t, "dtype"));
    fputs(ac ? " autocast: fp32 params, fp32" : " params, ", f);
    if (!ac)
        html_escape(f, zp_jstr(t, "grad_dtype"));
    fputs(" grads, ", f);
    html_escape(f, zp_jstr(t, "optimizer"));
    fprintf(f, ", %s%s</td></tr>\n", zp_jflag(t, "master_weights") && !ac ? "fp32 master weights" : "no master copy",
            zp_jflag(t, "flash_attention") ? ", flash attention" : "");
    fprintf(f, "<tr><th>result</th><td>%.0f candidate layouts (%.0f rejected by rule, %.0f evaluated), %.0f fit%s"
               "</td></tr>\n</table>\n", zp_jnum(x->r, "candidates_evaluated"),
            zp_jnum(x->r, "candidates_rule_rejected"),
            zp_jnum(x->r, "candidates_evaluated") - zp_jnum(x->r, "candidates_rule_rejected"), zp_jnum(x->r, "fitting"),
            act_fit_text(x->r));
}

/* When nothing fits: the closest plan (its layout, why it was rejected,
 * its memory against the GPU's) and what would fit, as the plan command
 * printed them; html selects index.html's markup, else Markdown. */
static void nothing_fits(FILE *f, const ctx *x, int html)
{
    const cJSON *cl = zp_jobj(x->r, "closest"), *sg = zp_jobj(x->r, "suggestions"), *s;
    if (cJSON_IsObject(zp_jobj(x->r, "chosen")))
        return;
    void (*esc)(FILE *, const char *) = html ? html_escape : md_escape;
    fputs(html ? "<section id=\"nothing-fits\">\n<h2>Nothing fits</h2>\n" : "\n## Nothing fits\n\n", f);
    if (cJSON_IsObject(cl)) {
        fputs(html ? "<p>Closest plan: " : "Closest plan: ", f);
        fprintf(f, "dp=%.0f tp=%.0f pp=%.0f", zp_jnum(cl, "dp"), zp_jnum(cl, "tp"), zp_jnum(cl, "pp"));
        if (zp_jnum(cl, "vp") > 1)
            fprintf(f, " vp=%.0f", zp_jnum(cl, "vp"));
        if (zp_jnum(cl, "cp") > 1)
            fprintf(f, " cp=%.0f", zp_jnum(cl, "cp"));
        fprintf(f, " zero=%.0f offload=", zp_jnum(cl, "zero"));
        esc(f, zp_jstr(cl, "offload"));
        fputs(" ckpt=", f);
        esc(f, zp_jstr(cl, "ckpt"));
        fprintf(f, " micro-batch %.0f: ", zp_jnum(cl, "micro_batch"));
        esc(f, zp_jstr(cl, "reject"));
        fprintf(f, "; %.2f %s per GPU of %.2f %s%s\n", zp_jnum(zp_jobj(cl, "memory_bytes"), "total") / x->unit,
                x->uname, zp_jnum(zp_jobj(x->r, "cluster"), "gpu_memory_bytes") / x->unit, x->uname,
                html ? "</p>" : "");
    }
    if (cJSON_GetArraySize(sg) > 0) {
        fputs(html ? "<p>What would fit:</p>\n<ul>\n" : "\nWhat would fit:\n\n", f);
        cJSON_ArrayForEach(s, sg)
        {
            fputs(html ? "<li>" : "- ", f);
            esc(f, cJSON_IsString(s) ? s->valuestring : "");
            fputs(html ? "</li>\n" : "\n", f);
        }
        if (html)
            fputs("</ul>\n", f);
    }
    if (html)
        fputs("</section>\n", f);
}

static zp_status write_index(const char *dir, const ctx *x, chart *charts, int n, long long run_id,
                             const char *created, const char *now, zp_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/index.html", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return zp_err_set(e, ZP_EIO, "%s: %s", path, strerror(errno));
    const char *ext = x->fmt & ZP_FMT_PNG ? "png" : "svg";
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<title>zplan report, run %lld</title>\n<style>\n"
               "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:2em auto;max-width:1260px;color:#222}\n"
               "h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\n"
               "img{max-width:100%%;height:auto;border:1px solid #eee}\n"
               "table{border-collapse:collapse;margin:.8em 0;font-size:.85em}\n"
               "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}\n"
               "td.t,table.inputs td{text-align:left}th{background:#f3f3f3}\n"
               ".wide{overflow-x:auto}\n"
               ".note{color:#555;font-size:.9em}\n</style>\n</head>\n<body>\n", run_id);
    fprintf(f, "<h1>zplan report: run %lld</h1>\n", run_id);
    write_inputs_html(f, x, run_id, created, now);
    nothing_fits(f, x, 1);
    for (int i = 0; i < n; i++) {
        chart *c = &charts[i];
        fprintf(f, "<section id=\"%s\">\n<h2>%d. ", c->t.file, i + 1);
        html_escape(f, c->t.title);
        fprintf(f, "</h2>\n<p class=\"note\">");
        html_escape(f, c->t.note);
        fprintf(f, "</p>\n");
        if (!c->omitted) {
            fprintf(f, "<p><img src=\"%s.%s\" width=\"1200\" height=\"%d\" alt=\"", c->t.file, ext,
                    c->height > 0 ? c->height : 700);
            html_escape(f, c->t.title);
            fprintf(f, "\"></p>\n");
            fputs("<div class=\"wide\">\n", f);
            html_table(f, &c->t);
            fputs("</div>\n", f);
            fprintf(f, "<p class=\"note\">Data: <a href=\"%s.dat\">%s.dat</a>, script: <a href=\"%s.gp\">%s.gp</a>"
                       "</p>\n", c->t.file, c->t.file, c->t.file, c->t.file);
        }
        fprintf(f, "</section>\n");
    }
    fprintf(f, "</body>\n</html>\n");
    if (fclose(f) != 0)
        return zp_err_set(e, ZP_EIO, "%s: %s", path, strerror(errno));
    return ZP_OK;
}

static zp_status write_md(const char *dir, const ctx *x, chart *charts, int n, long long run_id,
                          const char *created, const char *now, zp_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return zp_err_set(e, ZP_EIO, "%s: %s", path, strerror(errno));
    const cJSON *m = zp_jobj(x->r, "model"), *c = zp_jobj(x->r, "cluster"), *t = zp_jobj(x->r, "training");
    const char *ext = x->fmt & ZP_FMT_PNG ? "png" : "svg";
    fprintf(f, "# zplan report: run %lld\n\n", run_id);
    fprintf(f, "- run: %lld, planned ", run_id);
    md_escape(f, created);
    fputs(" by zplan ", f);
    md_escape(f, zp_jstr(x->r, "zplan_version"));
    fprintf(f, "; report made %s by zplan %s\n", now, PACKAGE_VERSION);
    char line[1000], gm[32], hm[32];
    fputs("- model: ", f);
    md_escape(f, model_line(line, sizeof line, m));
    fprintf(f, "\n- cluster: %.0f x ", zp_jnum(c, "gpus"));
    md_escape(f, zp_jstr(c, "gpu"));
    fprintf(f, " (%s each), %.0f per node, %s host RAM per node, network %g GB/s (%g Gb/s) per GPU\n",
            zp_fmt_bytes(gm, sizeof gm, (uint64_t)zp_jnum(c, "gpu_memory_bytes"), x->units), zp_jnum(c, "gpus_per_node"),
            zp_fmt_bytes(hm, sizeof hm, (uint64_t)zp_jnum(c, "host_memory_bytes_per_node"), x->units),
            zp_jnum(c, "inter_node_gbps"), 8 * zp_jnum(c, "inter_node_gbps"));
    int ac = zp_render_autocast(x->r);   /* PyTorch's autocast: fp32 storage */
    fprintf(f, "- training: seq %.0f, global batch %.0f, ", zp_jnum(t, "seq"), zp_jnum(t, "global_batch"));
    md_escape(f, zp_jstr(t, "dtype"));
    fputs(ac ? " autocast: fp32 params, fp32" : " params, ", f);
    if (!ac)
        md_escape(f, zp_jstr(t, "grad_dtype"));
    fputs(" grads, ", f);
    md_escape(f, zp_jstr(t, "optimizer"));
    fputc('\n', f);
    fprintf(f, "- result: %.0f candidate layouts (%.0f rejected by rule, %.0f evaluated), %.0f fit%s\n",
            zp_jnum(x->r, "candidates_evaluated"), zp_jnum(x->r, "candidates_rule_rejected"),
            zp_jnum(x->r, "candidates_evaluated") - zp_jnum(x->r, "candidates_rule_rejected"), zp_jnum(x->r, "fitting"),
            act_fit_text(x->r));
    nothing_fits(f, x, 0);
    for (int i = 0; i < n; i++) {
        fprintf(f, "\n## %d. %s\n\n%s\n\n", i + 1, charts[i].t.title, charts[i].t.note);
        if (!charts[i].omitted) {
            fprintf(f, "![%s](%s.%s)\n\n", charts[i].t.title, charts[i].t.file, ext);
            md_table(f, &charts[i].t);
            fprintf(f, "\nData: `%s.dat`, script: `%s.gp`\n", charts[i].t.file, charts[i].t.file);
        }
    }
    if (fclose(f) != 0)
        return zp_err_set(e, ZP_EIO, "%s: %s", path, strerror(errno));
    return ZP_OK;
}

/* ------------------------------------------------------------ the output directory */

/* A report directory holds only what zplan wrote there: .zplan-report
 * marks it and lists those files after its first line, one name a line.
 * Replacing a report removes the files its marker lists and nothing else,
 * and only once the new report is in place; anything else there (a
 * subdirectory, a file zplan did not write, a link) stops the replacement
 * before anything is written, as does an --out that is a link.  Every
 * check and removal works on the directory opened without following links
 * (openat, unlinkat), so that nothing outside it is ever removed. */

#define MARKER ".zplan-report"
#define MARKER_MAX 65536

/* The charts' file names, for the marker of a zplan that did not list its files. */
static const char *const chart_names[] = {"strategy", "scaling", "top_plans", "comm", "stages", "measured", NULL};

/* Whether the report whose marker reads `list` wrote `name`: one of the
 * names after the marker's first line; a marker with only its first line
 * (written before the list) owns the names zplan wrote then. */
static int owned(const char *list, const char *name)
{
    if (!strcmp(name, MARKER))
        return 1;
    const char *p = strchr(list, '\n');
    if (p && p[1]) {
        size_t len = strlen(name);
        for (p++; *p; p += strcspn(p, "\n"), p += *p == '\n')
            if (strcspn(p, "\n") == len && !memcmp(p, name, len))
                return 1;
        return 0;
    }
    if (!strcmp(name, "index.html") || !strcmp(name, "report.md"))
        return 1;
    const char *dot = strrchr(name, '.');
    if (!dot || (strcmp(dot, ".dat") && strcmp(dot, ".gp") && strcmp(dot, ".png") && strcmp(dot, ".svg")))
        return 0;
    for (int i = 0; chart_names[i]; i++)
        if (strlen(chart_names[i]) == (size_t)(dot - name) && !memcmp(name, chart_names[i], (size_t)(dot - name)))
            return 1;
    return 0;
}

/* The marker of the directory open as dfd, into buf (n bytes); 0 when there
 * is none, or it is not a regular file that a zplan report wrote. */
static int read_marker(int dfd, char *buf, size_t n)
{
    struct stat st;
    size_t k = 0;
    ssize_t r;
    int fd = openat(dfd, MARKER, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        while (k + 1 < n && (r = read(fd, buf + k, n - 1 - k)) > 0)
            k += (size_t)r;
    close(fd);
    buf[k] = '\0';
    return strncmp(buf, "zplan ", 6) == 0;
}

/* Go through the directory open as dfd, shown as `dir` in messages.
 * remove == 0: check that it is empty or holds only files its marker owns
 * (plain files, not links); *n receives the number of entries.  remove == 1:
 * unlink the files the marker owns, the marker last, and leave anything
 * else (*n: the entries left). */
static zp_status report_files(int dfd, const char *dir, int remove, int *n, zp_err *e)
{
    zp_status st = ZP_OK;
    char *list = malloc(MARKER_MAX);
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    *n = 0;
    if (!list || !d) {
        st = zp_err_set(e, list ? ZP_EIO : ZP_ENOMEM, "--out %s: %s", dir, strerror(errno));
        goto out;
    }
    int has = read_marker(dfd, list, MARKER_MAX);
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat s;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        int mine = has && fstatat(dfd, de->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(s.st_mode) &&
                   owned(list, de->d_name);
        if (remove) {
            if (!mine || !strcmp(de->d_name, MARKER) || unlinkat(dfd, de->d_name, 0) != 0)
                ++*n;
            continue;
        }
        ++*n;
        if (!has) {
            st = zp_err_set(e, ZP_EINVAL, "--out %s exists and is not a zplan report (allowed: a new or empty "
                            "directory, or an earlier report)", dir);
            break;
        }
        if (!mine) {
            char shown[80];
            st = zp_err_set(e, ZP_EINVAL, "--out %s holds '%s', which zplan did not write, so it is not replaced "
                            "(allowed: a new or empty directory, or an earlier report holding only its own files)",
                            dir, clean_name(shown, sizeof shown, de->d_name));
            break;
        }
    }
    if (remove && has && *n == 1 && unlinkat(dfd, MARKER, 0) == 0)
        *n = 0;
out:
    if (d)
        closedir(d);
    else if (fd >= 0)
        close(fd);
    free(list);
    return st;
}

typedef struct out_state {
    int exists, empty;   /* dest is a directory; it has no entries */
    dev_t dev;           /* its identity when checked */
    ino_t ino;
} out_state;

/* Whether dest may take the report: absent, an empty directory, or an
 * earlier report holding only its own files; never a link.  ZP_EINVAL (a
 * one-line message) when not. */
static zp_status check_out(const char *dest, out_state *os, zp_err *e)
{
    struct stat st;
    memset(os, 0, sizeof *os);
    if (lstat(dest, &st) != 0) {
        if (errno == ENOENT)
            return ZP_OK;
        return zp_err_set(e, ZP_EINVAL, "--out %s: %s (allowed: a new or empty directory, or an earlier report)", dest,
                          strerror(errno));
    }
    if (S_ISLNK(st.st_mode))
        return zp_err_set(e, ZP_EINVAL, "--out %s is a symbolic link, which zplan does not write through (allowed: a new "
                          "or empty directory, or an earlier report)", dest);
    if (!S_ISDIR(st.st_mode))
        return zp_err_set(e, ZP_EINVAL, "--out %s exists and is not a zplan report (allowed: a new or empty directory, "
                          "or an earlier report)", dest);
    int dfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (dfd < 0)
        return zp_err_set(e, ZP_EINVAL, "--out %s: %s", dest, strerror(errno));
    int n;
    zp_status s = report_files(dfd, dest, 0, &n, e);
    close(dfd);
    os->exists = 1;
    os->empty = n == 0;
    os->dev = st.st_dev;
    os->ino = st.st_ino;
    return s;
}

/* Make the temporary directory beside the destination. */
static zp_status make_tmpdir(const char *dest, char *tmp, size_t n, zp_err *e)
{
    snprintf(tmp, n, "%s.partial-XXXXXX", dest);
    if (!mkdtemp(tmp))
        return zp_err_set(e, ZP_EINVAL, "--out %s: cannot create a directory there: %s", dest, strerror(errno));
    return ZP_OK;
}

/* Remove the temporary directory (made by make_tmpdir) and the files in it. */
static void remove_tmpdir(const char *tmp)
{
    if (!tmp[0])
        return;
    int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    } else if (dfd >= 0) {
        close(dfd);
    }
    rmdir(tmp);
}

/* The marker, written last: the report's identity, then every file the
 * report wrote, one name a line (see owned). */
static zp_status write_marker(const char *dir, const chart *charts, int n, zp_fmt fmt, long long run_id, zp_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" MARKER, dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return zp_err_set(e, ZP_EIO, "%s: %s", path, strerror(errno));
    fprintf(f, "zplan %s report of run %lld\nindex.html\nreport.md\n", PACKAGE_VERSION, run_id);
    for (int i = 0; i < n; i++) {
        if (charts[i].omitted)
            continue;
        const char *c = charts[i].t.file;
        fprintf(f, "%s.dat\n%s.gp\n", c, c);
        if (fmt & ZP_FMT_PNG)
            fprintf(f, "%s.png\n", c);
        if (fmt & ZP_FMT_SVG)
            fprintf(f, "%s.svg\n", c);
    }
    if (fclose(f) != 0)
        return zp_err_set(e, ZP_EIO, "%s: %s", path, strerror(errno));
    return ZP_OK;
}

/* Move a finished report into place: into a new or empty directory by one
 * rename; over an earlier report by setting it aside (rename), moving the
 * new one in, then removing the files the old one's marker lists and its
 * directory.  When the new report cannot be moved in, the old one goes
 * back where it was, as it was.  tmp is emptied ("") once moved. */
static zp_status publish(char *tmp, const char *dest, zp_err *e)
{
    out_state os;
    zp_status st = check_out(dest, &os, e);
    if (st)
        return st;
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0777 & ~mask);
    if (!os.exists || os.empty) {
        if (rename(tmp, dest) != 0)
            return zp_err_set(e, ZP_EIO, "cannot move the report into %s: %s", dest, strerror(errno));
        tmp[0] = '\0';   /* moved: no longer ours to remove */
        return ZP_OK;
    }
    char old[4200];
    struct stat was;
    snprintf(old, sizeof old, "%s.old-XXXXXX", dest);
    if (!mkdtemp(old))
        return zp_err_set(e, ZP_EIO, "cannot set the earlier report in %s aside: %s", dest, strerror(errno));
    if (rename(dest, old) != 0) {
        int err = errno;
        rmdir(old);
        return zp_err_set(e, ZP_EIO, "cannot set the earlier report in %s aside: %s", dest, strerror(err));
    }
    int dfd = open(old, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (dfd < 0 || fstat(dfd, &was) != 0 || was.st_dev != os.dev || was.st_ino != os.ino) {
        /* not the directory checked: it changed meanwhile; put it back */
        if (dfd >= 0)
            close(dfd);
        if (rename(old, dest) != 0)
            return zp_err_set(e, ZP_EIO, "--out %s changed while the report was made; what was there is now in %s",
                              dest, old);
        return zp_err_set(e, ZP_EIO, "--out %s changed while the report was made; nothing was replaced", dest);
    }
    if (rename(tmp, dest) != 0) {
        int err = errno;
        close(dfd);
        if (rename(old, dest) != 0)
            return zp_err_set(e, ZP_EIO, "cannot move the report into %s: %s; the earlier report is in %s", dest,
                              strerror(err), old);
        return zp_err_set(e, ZP_EIO, "cannot move the report into %s: %s; the earlier report is left as it was", dest,
                          strerror(err));
    }
    tmp[0] = '\0';
    int left;
    st = report_files(dfd, old, 1, &left, e);
    close(dfd);
    if (st == ZP_OK && rmdir(old) != 0)
        st = zp_err_set(e, ZP_EIO, "the report is in %s; the earlier one, set aside in %s, now holds what zplan did "
                        "not write, which is kept there: %s", dest, old, strerror(errno));
    return st;
}

zp_status zp_report_write(const cJSON *result, long long run_id, const char *created, const zp_report_opts *o,
                          char *dir, size_t dir_n, zp_err *e)
{
    char gp[4096], tmp[4096], now[32];
    zp_status st = ZP_OK;
    ctx x;
    chart *charts = NULL;
    const int n = 6;
    if (!zp_report_gnuplot(gp, sizeof gp))
        return zp_err_set(e, ZP_EINVAL, "gnuplot is not installed (Debian: apt-get install gnuplot-nox; "
                          "scripts/setup installs it) or $ZPLAN_GNUPLOT does not name a program");
    if (o->out_dir)
        snprintf(dir, dir_n, "%s", o->out_dir);
    else
        snprintf(dir, dir_n, "report-%lld", run_id);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    memset(&x, 0, sizeof x);
    x.r = result;
    x.execs = o->execs;
    x.fmt = o->fmt;
    x.units = strcmp(zp_jstr(zp_jobj(result, "conventions"), "units"), "gb") == 0 ? ZP_UNITS_DECIMAL : ZP_UNITS_BINARY;
    x.unit = x.units == ZP_UNITS_DECIMAL ? 1e9 : 1073741824.0;
    x.uname = x.units == ZP_UNITS_DECIMAL ? "GB" : "GiB";
    zp_result_problem(result, &x.pb);
    if (x.pb.model.layers < 1 || x.pb.cluster.gpus < 1 || x.pb.cluster.gpu.mem_bytes == 0)
        return zp_err_set(e, ZP_EINVAL, "run %lld: the stored result lacks the model or cluster", run_id);
    time_t tnow = time(NULL);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&tnow));
    out_state os;
    if ((st = check_out(dir, &os, e)))   /* refused before any work; publish checks again */
        return st;

    charts = calloc((size_t)n, sizeof *charts);
    if (!charts)
        return zp_err_set(e, ZP_ENOMEM, "out of memory");
    chart_strategy(&charts[0], &x);
    chart_scaling(&charts[1], &x);
    chart_top(&charts[2], &x, o->top_n > 0 ? o->top_n : 10);
    chart_comm(&charts[3], &x);
    chart_stages(&charts[4], &x);
    chart_measured(&charts[5], &x);
    for (int i = 0; i < n; i++)
        if (charts[i].overflow) {
            st = zp_err_set(e, ZP_EIO, "chart %s: its gnuplot script needs more than %zu bytes", charts[i].t.file,
                            sizeof charts[i].gp);
            goto out;
        }

    /* a signal from here on stops the chart being drawn and removes the
     * partial directory; the handlers before are restored at the end */
    struct sigaction old_sig[3];
    report_stop = 0;
    zp_stop_signals_catch(on_stop, old_sig);
    if ((st = make_tmpdir(dir, tmp, sizeof tmp, e)))
        goto restore;
    char errlog[4200];
    snprintf(errlog, sizeof errlog, "%s/.gnuplot-errors", tmp);
    for (int i = 0; i < n && st == ZP_OK; i++) {
        chart *c = &charts[i];
        if (c->omitted)
            continue;
        char script[128];
        snprintf(script, sizeof script, "%s.gp", c->t.file);
        if (write_dat(tmp, &c->t) != 0 || write_gp(tmp, c, o->fmt) != 0) {
            st = zp_err_set(e, ZP_EIO, "%s: cannot write %s: %s", tmp, c->t.file, strerror(errno));
            break;
        }
        int rc = run_gnuplot(gp, tmp, script, errlog);
        if (rc == GP_STOPPED || report_stop)
            st = zp_err_set(e, ZP_EIO, "interrupted: the report was not written");
        else if (rc == GP_TIMED_OUT)
            st = zp_err_set(e, ZP_EIO, "gnuplot (%s) took more than %d s on %s: stopped", gp, GNUPLOT_TIMEOUT_S,
                            script);
        else if (rc != 0) {
            char raw[300] = "", msg[300];
            FILE *f = fopen(errlog, "r");
            if (f) {
                size_t k = fread(raw, 1, sizeof raw - 1, f);
                raw[k] = '\0';
                fclose(f);
            }
            clean_name(msg, sizeof msg, raw);   /* one line, no terminal control characters */
            st = zp_err_set(e, ZP_EIO, "gnuplot (%s) failed on %s with status %d%s%s", gp, script, rc,
                            msg[0] ? ": " : "", msg);
        }
    }
    if (st == ZP_OK && report_stop)
        st = zp_err_set(e, ZP_EIO, "interrupted: the report was not written");
    if (st == ZP_OK) {
        unlink(errlog);
        if (!(st = write_index(tmp, &x, charts, n, run_id, created, now, e)) &&
            !(st = write_md(tmp, &x, charts, n, run_id, created, now, e)) &&
            !(st = write_marker(tmp, charts, n, o->fmt, run_id, e)))
            st = publish(tmp, dir, e);
    }
    if (st != ZP_OK)
        remove_tmpdir(tmp);
restore:
    zp_stop_signals_restore(old_sig);
    /* a signal that came after the last check (the report then finished):
     * delivered now, as it would have been without the handlers */
    if (st == ZP_OK && report_stop)
        raise((int)report_stop);
out:
    free(charts);
    return st;
}
