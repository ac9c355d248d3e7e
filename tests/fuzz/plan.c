/* plan.c - fuzz plan files and the plan command's options (src/cli/plan.c:
 * plan_file_args, parse_args, build_problem, then the search and the
 * answer), through the real command: zplan --from FILE --no-store --json.
 *
 * The input is a plan file ("key = value" lines).  One whose first line is
 * "#argv" is instead the command line, a word a line after it (a plan file
 * would read that line as a comment).  Exit 0 or 2 only (no runtime
 * failure without a database), and every answer passes the validator of
 * stored runs and renders (fuzz_answer_ok). */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4200], *s, *json = NULL;
    const char *argv[64];
    int argc = 0;
    if (!fuzz_path_safe((const char *)data, size))
        return 0;   /* --config /dev/..., db = /proc/...: not ordinary files */
    s = fuzz_str(data, size);
    argv[argc++] = "zplan";
    if (strncmp(s, "#argv\n", 6) == 0) {
        for (char *w = s + 6, *next; w && *w && argc < 60; w = next) {
            next = strchr(w, '\n');
            if (next)
                *next++ = '\0';
            /* what would leave the harness: another file's options, help text, a report */
            if (!strncmp(w, "--from", 6) || !strncmp(w, "--help", 6) || !strcmp(w, "-h") || !strncmp(w, "--report", 8))
                continue;
            argv[argc++] = w;
        }
    } else {
        fuzz_path(path, sizeof path, "fuzz.plan");
        FUZZ_REQUIRE(fuzz_write(path, data, size) == 0, "cannot write %s", path);
        argv[argc++] = "--from";
        argv[argc++] = path;
    }
    int rc = fuzz_plan(argc, argv, &json);
    FUZZ_REQUIRE(rc == 0 || rc == 2, "the plan command exited %d (a runtime failure, without a database)", rc);
    if (rc == 0)
        fuzz_answer_ok(json, "the answer for the plan file");
    free(json);
    free(s);
    return 0;
}
