/* reportrun.c - the charts and tables of `zplan report` without gnuplot,
 * for the harnesses (fuzz.h): src/shell/report.c itself, its static chart
 * builders and writers called as zp_report_write calls them. */
#include "../../src/shell/report.c"

#include "fuzz.h"

void fuzz_report(const cJSON *result, const cJSON *execs, const char *dir)
{
    zp_err e = {0};
    ctx x;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        fuzz_fail(__FILE__, __LINE__, "mkdir %s: %s", dir, strerror(errno));
    /* as zp_report_write */
    memset(&x, 0, sizeof x);
    x.r = result;
    x.execs = execs;
    x.fmt = ZP_FMT_BOTH;
    x.units = strcmp(zp_jstr(zp_jobj(result, "conventions"), "units"), "gb") == 0 ? ZP_UNITS_DECIMAL : ZP_UNITS_BINARY;
    x.unit = x.units == ZP_UNITS_DECIMAL ? 1e9 : 1073741824.0;
    x.uname = x.units == ZP_UNITS_DECIMAL ? "GB" : "GiB";
    zp_result_problem(result, &x.pb);
    if (x.pb.model.layers < 1 || x.pb.cluster.gpus < 1 || x.pb.cluster.gpu.mem_bytes == 0)
        return;
    const int n = 6;
    chart *charts = calloc((size_t)n, sizeof *charts);
    if (!charts)
        abort();
    chart_strategy(&charts[0], &x);
    chart_scaling(&charts[1], &x);
    chart_top(&charts[2], &x, 10);
    chart_comm(&charts[3], &x);
    chart_stages(&charts[4], &x);
    chart_measured(&charts[5], &x);
    for (int i = 0; i < n; i++) {
        chart *c = &charts[i];
        if (c->overflow || c->omitted)
            continue;
        FUZZ_REQUIRE(write_dat(dir, &c->t) == 0 && write_gp(dir, c, x.fmt) == 0, "cannot write %s in %s",
                     c->t.file, dir);
    }
    FUZZ_REQUIRE(write_index(dir, &x, charts, n, 1, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", &e) == ZP_OK &&
                     write_md(dir, &x, charts, n, 1, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", &e) == ZP_OK &&
                     write_marker(dir, charts, n, x.fmt, 1, &e) == ZP_OK,
                 "cannot write the report's pages: %s", e.msg);
    free(charts);
}
