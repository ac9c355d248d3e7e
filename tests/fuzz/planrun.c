/* planrun.c - the plan command in process, for the harnesses (fuzz.h):
 * src/cli/plan.c itself, so that its static readers (plan files, options,
 * the problem) are the ones fuzzed, and the checks every answer of it must
 * pass. */
#include "../../src/cli/plan.c"

#include "fuzz.h"
#include "result.h"

#include <fcntl.h>
#include <unistd.h>

/* plan --report draws through the report command: not linked here (the
 * harnesses run with --no-store, which --report refuses) */
int zp_report_run(zp_cli *cli, const char *dbpath, long long id, const char *out, int fmt, int top_n, FILE *to)
{
    (void)cli, (void)dbpath, (void)id, (void)out, (void)fmt, (void)top_n, (void)to;
    fuzz_fail(__FILE__, __LINE__, "zp_report_run called under --no-store");
}

int fuzz_plan(int argc, const char *const *argv, char **json)
{
    char path[4200], *args[80];
    int n = 0;
    *json = NULL;
    if (argc < 1 || argc > 70)
        return 2;
    for (int i = 0; i < argc; i++)
        args[n++] = (char *)argv[i];
    args[n++] = "--no-store";
    args[n++] = "--json";
    args[n] = NULL;

    fuzz_path(path, sizeof path, "answer.json");
    fflush(stdout);
    int saved = dup(1), fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0 || dup2(fd, 1) < 0)
        fuzz_fail(__FILE__, __LINE__, "cannot capture stdout in %s", path);
    close(fd);
    zp_cli cli = {"zplan", "zplan (fuzz)", {0, ""}};
    int rc = zp_cmd_plan(&cli, n, args);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);

    char *text = NULL;
    zp_err e = {0};
    if (zp_read_file(path, &text, &e) == ZP_OK && text[0])
        *json = text;
    else
        free(text);
    return rc;
}

void fuzz_read_result(const cJSON *r)
{
    char dir[4200];
    zp_problem pb;
    zp_result_problem(r, &pb);
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "plans"))
    {
        zp_layout l;
        zp_result_layout(p, &l);
    }
    zp_render_result(fuzz_null(), r, ZP_UNITS_BINARY);
    zp_render_result(fuzz_null(), r, ZP_UNITS_DECIMAL);
    fuzz_report(r, NULL, fuzz_path(dir, sizeof dir, "report"));
}

void fuzz_answer_ok(const char *json, const char *what)
{
    cJSON *r = cJSON_Parse(json);
    FUZZ_REQUIRE(r, "%s: the plan command printed something that is not JSON", what);
    zp_err e = {0};
    zp_status st = zp_result_check(r, what, &e);
    FUZZ_REQUIRE(st == ZP_OK, "the validator of stored runs refuses the planner's own answer: %s", e.msg);
    fuzz_read_result(r);
    cJSON_Delete(r);
}
