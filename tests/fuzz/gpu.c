/* gpu.c - fuzz GPU presets and stored hardware profiles (zp_gpu_from_json,
 * src/shell/preset.c: data/gpus/NAME.json, and the profiles zplan
 * calibrate and zplan exec keep in the database, read back by --gpu NAME
 * and --profile NAME).  An accepted GPU must survive the way profiles are
 * written (zp_gpu_to_json) and read back, and the plan command on it
 * (zplan --params 1e9 --gpu NAME) must answer with a result that the
 * validator of stored runs accepts and that show and report can draw. */
#include "fuzz.h"
#include "preset.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef ZP_SRCDATADIR
#error "build with -DZP_SRCDATADIR='\"SRCDIR/data\"' (scripts/fuzz does)"
#endif

static char preset[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char data[4200], p[4200];
    /* a data directory of its own: the real models, one GPU preset */
    fuzz_path(data, sizeof data, "data");
    snprintf(p, sizeof p, "%s/gpus", data);
    if ((mkdir(data, 0700) && errno != EEXIST) || (mkdir(p, 0700) && errno != EEXIST))
        abort();
    snprintf(p, sizeof p, "%s/models", data);
    if (symlink(ZP_SRCDATADIR "/models", p) != 0 && errno != EEXIST)
        abort();
    setenv("ZPLAN_DATADIR", data, 1);
    snprintf(preset, sizeof preset, "%s/gpus/fuzz.json", data);
    return 0;
}

static int near(double a, double b)
{
    return a == b || fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

/* The same byte count, to the precision a profile is written with (15
 * significant digits): exactly, below 10^15 bytes. */
static int same_bytes(uint64_t a, uint64_t b)
{
    uint64_t d = a > b ? a - b : b - a, m = a > b ? a : b;
    return d <= (uint64_t)((double)m * 1e-15);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size), *json = NULL;
    zp_gpu g, back;
    zp_err e = {0};
    if (zp_gpu_from_json(s, "fuzz.json", &g, &e) != ZP_OK) {
        FUZZ_REQUIRE(e.code == ZP_EINVAL, "refused with status %d: %s", (int)e.code, e.msg);
        free(s);
        return 0;
    }
    /* as a stored profile: written, read back, the same GPU */
    cJSON *pj = zp_gpu_to_json(&g, "fuzz");
    char *pt = pj ? cJSON_PrintUnformatted(pj) : NULL;
    FUZZ_REQUIRE(pt, "zp_gpu_to_json failed");
    e = (zp_err){0};
    FUZZ_REQUIRE(zp_gpu_from_json(pt, "the stored profile", &back, &e) == ZP_OK,
                 "a GPU written as a profile is not read back: %s (%s)", e.msg, pt);
    FUZZ_REQUIRE(same_bytes(back.mem_bytes, g.mem_bytes) && same_bytes(back.host_mem_bytes, g.host_mem_bytes) &&
                     back.gpus_per_node == g.gpus_per_node && same_bytes(back.cuda_ctx_bytes, g.cuda_ctx_bytes) &&
                     same_bytes(back.nccl_comm_bytes, g.nccl_comm_bytes) &&
                     same_bytes(back.cublas_bytes, g.cublas_bytes) &&
                     same_bytes(back.alloc_granule_bytes, g.alloc_granule_bytes) && !strcmp(back.name, g.name),
                 "a GPU read back from its profile differs in its byte counts: %s", pt);
    for (int d = 0; d < ZP_DT_N; d++)
        FUZZ_REQUIRE(near(back.peak_flops[d], g.peak_flops[d]), "peak %s differs after the profile: %s",
                     zp_dtype_names[d], pt);
    FUZZ_REQUIRE(near(back.hbm_gbps, g.hbm_gbps) && near(back.nvlink_gbps, g.nvlink_gbps) &&
                     near(back.pcie_gbps, g.pcie_gbps) && near(back.nic_gbps, g.nic_gbps) &&
                     near(back.gemm_eff, g.gemm_eff) && near(back.alpha_s, g.alpha_s) &&
                     near(back.link_eff, g.link_eff) && near(back.host_adam_params_per_s, g.host_adam_params_per_s) &&
                     near(back.elementwise_bps, g.elementwise_bps) && near(back.compute_cap, g.compute_cap),
                 "a GPU read back from its profile differs in its rates: %s", pt);
    free(pt);
    cJSON_Delete(pj);

    /* the plan command with it, as zplan --params 1e9 --gpu NAME */
    FUZZ_REQUIRE(fuzz_write(preset, data, size) == 0, "cannot write %s", preset);
    const char *argv[] = {"zplan", "--params", "1e9", "--gpu", "fuzz"};
    int rc = fuzz_plan(5, argv, &json);
    FUZZ_REQUIRE(rc == 0 || rc == 2, "zplan --gpu exited %d on a preset zp_gpu_from_json accepts", rc);
    if (rc == 0)
        fuzz_answer_ok(json, "the answer on the fuzzed GPU");
    free(json);
    free(s);
    return 0;
}
