/* config.c - fuzz the Hugging Face config.json reader (zp_model_from_json,
 * src/shell/preset.c; zplan --config FILE).  A config it accepts must be a
 * shape the core takes (zp_model_check), and the plan command on it must
 * answer (exit 0, or 2 when no layout exists) with a result that the
 * validator of stored runs accepts and that show and report can draw. */
#include "fuzz.h"
#include "preset.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4200], *s = fuzz_str(data, size), *json = NULL;
    zp_model m;
    zp_err e = {0};
    if (zp_model_from_json(s, "config.json", &m, &e) != ZP_OK) {
        FUZZ_REQUIRE(e.code == ZP_EINVAL, "refused with status %d: %s", (int)e.code, e.msg);
        free(s);
        return 0;
    }
    zp_err ce = {0};
    FUZZ_REQUIRE(zp_model_check(&m, &ce) == ZP_OK, "accepted a shape the core refuses: %s", ce.msg);
    int64_t n = zp_model_params(&m);
    FUZZ_REQUIRE(n > 0 && (double)n <= 1e15, "accepted a model of %lld parameters", (long long)n);

    /* the plan command on it, as zplan --config FILE */
    fuzz_path(path, sizeof path, "config.json");
    FUZZ_REQUIRE(fuzz_write(path, data, size) == 0, "cannot write %s", path);
    const char *argv[] = {"zplan", "--config", path, "--gpus", "8"};
    int rc = fuzz_plan(5, argv, &json);
    FUZZ_REQUIRE(rc == 0 || rc == 2, "zplan --config exited %d on a config zp_model_from_json accepts", rc);
    if (rc == 0)
        fuzz_answer_ok(json, "the answer for config.json");
    free(json);
    free(s);
    return 0;
}
