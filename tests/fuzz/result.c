/* result.c - fuzz stored runs: the result_json of a run in the database (a
 * file a team shares, so untrusted), as zplan show, report and exec read
 * it.  zp_result_check (src/shell/result.c) is the gate; what passes it is
 * read as those commands read it: the problem and the layouts
 * (zp_result_problem, zp_result_layout), the text (zp_render_result, both
 * units) and the report's charts, tables and pages (src/shell/report.c,
 * without gnuplot). */
#include "fuzz.h"
#include "render.h"
#include "result.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);   /* the column's text, as SQLite hands it over */
    cJSON *r = cJSON_Parse(s);
    zp_err e = {0};
    free(s);
    if (!r)
        return 0;   /* show, report and exec stop at "not valid JSON" */
    if (zp_result_check(r, "run 1", &e) != ZP_OK) {
        FUZZ_REQUIRE(e.code == ZP_EIO, "refused with status %d: %s", (int)e.code, e.msg);
        cJSON_Delete(r);
        return 0;
    }
    fuzz_read_result(r);
    cJSON_Delete(r);
    return 0;
}
