/* fuzz.h - what the libFuzzer harnesses (tests/fuzz/NAME.c, built and run
 * by scripts/fuzz) share: the input as a string, a private working directory,
 * /dev/null as a FILE, and the checks that make a wrong answer a crash.
 *
 * A harness feeds its input to one reader of untrusted text (a parameter
 * count, a config.json, a plan file, a GPU preset, a stored run, what the
 * engine printed) and then, where the reader accepts it, to everything that
 * reads the result in the real program.  Besides the sanitizers' reports,
 * FUZZ_REQUIRE turns a broken promise into a crash: a value outside the
 * range the reader says it returns, an answer of the planner that its own
 * validator refuses. */
#ifndef ZP_FUZZ_H
#define ZP_FUZZ_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Stop with a report (the sanitizer's report stream, then abort): libFuzzer
 * keeps the input as a crash.  FUZZ_REQUIRE(cond, fmt, ...). */
void fuzz_fail(const char *file, int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
#define FUZZ_REQUIRE(cond, ...)                                                                                       \
    do {                                                                                                             \
        if (!(cond))                                                                                                 \
            fuzz_fail(__FILE__, __LINE__, __VA_ARGS__);                                                              \
    } while (0)

/* The input as a NUL-terminated malloc'd copy (an input with a NUL byte is
 * read up to it, as a C string would be); free it. */
char *fuzz_str(const uint8_t *data, size_t size);

/* The harness's private directory ($TMPDIR/zplan-fuzz.XXXXXX, made on the
 * first call), and a path in it.  (A relative path in a fuzzed input is the
 * current directory's: scripts/fuzz runs each harness in its own.) */
const char *fuzz_dir(void);
const char *fuzz_path(char *buf, size_t n, const char *name);

/* Write size bytes to path (in fuzz_dir()); 0 on success. */
int fuzz_write(const char *path, const void *data, size_t size);

/* /dev/null, opened once. */
FILE *fuzz_null(void);

/* A path that a fuzzed option may name without touching anything but
 * ordinary files: not under /dev, /proc or /sys (opening a device can
 * block or do something), given anywhere in the input.  0: skip the input. */
int fuzz_path_safe(const char *text, size_t n);

/* ---- planrun.c: the plan command, in process */

/* Run `zplan ARGS... --no-store --json` (zp_cmd_plan, the real command)
 * with stdout captured; *json (malloc'd, NULL when nothing was printed) is
 * the answer.  Returns the exit status. */
int fuzz_plan(int argc, const char *const *argv, char **json);

/* What every answer of the planner must pass: it parses, the validator of
 * stored runs (zp_result_check) accepts it, and it renders (show) and
 * draws (report's tables and scripts) without a report from the
 * sanitizers.  Fails the run (fuzz_fail) otherwise. */
void fuzz_answer_ok(const char *json, const char *what);

/* What show, report and exec read of a result zp_result_check accepted:
 * its problem and layouts, its text in both units, the report's files. */
void fuzz_read_result(const cJSON *result);

/* ---- report.c's chart building, without gnuplot (reportrun.c) */

/* Build every chart of `zplan report` for a checked result (and execs, an
 * array of checked execution records, or NULL), and write their .dat and
 * .gp files, index.html, report.md and the marker into dir, as
 * zp_report_write does before it runs gnuplot. */
void fuzz_report(const cJSON *result, const cJSON *execs, const char *dir);

#endif
