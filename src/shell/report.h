/* report.h - `zplan report`: charts (gnuplot), tables, index.html and
 * report.md from a recorded planning run.  Shell code: writes files, runs
 * gnuplot.  The report owns every chart. */
#ifndef ZP_REPORT_H
#define ZP_REPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include "util.h"

typedef enum zp_fmt { ZP_FMT_PNG = 1, ZP_FMT_SVG = 2, ZP_FMT_BOTH = 3 } zp_fmt;

typedef struct zp_report_opts {
    const char *out_dir;   /* NULL: report-<run id> */
    zp_fmt fmt;
    const char *gnuplot;   /* program to run (name looked up in PATH, or a path) */
    int top_n;             /* plans in the top-plans chart */
    const cJSON *execs;    /* the run's execution records (zplan exec), an array; NULL: none */
} zp_report_opts;

/* Write the report of one run (its result JSON as stored) into the output
 * directory: built in a temporary sibling directory and renamed into place
 * only when complete.  `created` is the run's time (UTC).  *dir receives
 * the directory written.  ZP_EINVAL for an unusable output directory or a
 * missing gnuplot (usage), ZP_EIO when gnuplot fails. */
zp_status zp_report_write(const cJSON *result, long long run_id, const char *created, const zp_report_opts *o,
                          char *dir, size_t dir_n, zp_err *e);

/* Locate the gnuplot program: $ZPLAN_GNUPLOT, else "gnuplot" in PATH.
 * Returns NULL when it cannot be found. */
const char *zp_report_gnuplot(char *buf, size_t n);

#endif
