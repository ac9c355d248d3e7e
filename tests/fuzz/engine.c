/* engine.c - fuzz what zplan exec reads of zplan-engine's stdout (a
 * separate program, so untrusted): a JSON value a line, progress lines and
 * the result (src/cli/exec_record.c: zp_exec_engine_output), the result checked by
 * zp_engine_output_check before it is read.  From it exec builds the
 * execution's record (zp_exec_record), which zplan show and report read back
 * through zp_exec_record_check: every record exec writes must pass that
 * check and render, on CPU ranks and on GPUs; and the profile a GPU run
 * keeps (zp_exec_measured_profile) must be one the planner reads back. */
#include "../../src/cli/exec_record.c"
#include "render.h"

#include "fuzz.h"

/* One execution of a small GPT on two data-parallel ranks, ZeRO-1, as exec
 * predicts it before the launch. */
static zp_model fm;
static zp_train ft;
static zp_layout fl;
static zp_mem fpm;
static zp_comm fpc;
static zp_cost fcost;
static zp_gpu fgpu;
static zp_exec_view cpu_run, gpu_run;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    zp_err e = {0};
    zp_cluster c = {0};
    zp_conv cv;
    if (zp_gpu_preset("h200", &fgpu, &e) != ZP_OK)
        fuzz_fail(__FILE__, __LINE__, "no GPU preset: %s", e.msg);
    fm = (zp_model){.layers = 2, .hidden = 64, .heads = 4, .kv_heads = 4, .ffn = 256, .vocab = 128, .max_pos = 32,
                    .tied = 1, .bias = 1, .mlp = ZP_MLP_GELU, .norm = ZP_NORM_LAYERNORM, .pos = ZP_POS_LEARNED};
    ft = (zp_train){.seq = 32, .global_batch = 8, .dtype = ZP_DT_BF16, .grad_dtype = ZP_DT_BF16, .master = 1,
                    .optim = ZP_OPT_ADAM, .compute_fp32 = 1};
    fl = (zp_layout){.dp = 2, .tp = 1, .pp = 1, .vp = 1, .zero = 1, .micro_batch = 2, .grad_accum = 2};
    c.gpu = fgpu;
    c.gpus = c.gpus_per_node = 2;
    c.inter_node_gbps = fgpu.nic_gbps;
    c.host_mem_bytes = fgpu.host_mem_bytes;
    zp_conv_defaults(&cv, &fgpu);
    zp_mem_stage(&fm, &ft, &fl, &c, &cv, 0, &fpm);
    zp_comm_plan(&fm, &ft, &fl, &c, &cv, 0, &fpc);
    zp_cost_eval(&fm, &ft, &fl, &c, &cv, &fpc, &fpc, &fcost);
    cpu_run = (zp_exec_view){.exec_id = 1, .run_id = 1, .plan = 1, .backend = "cpu", .ranks = 2, .steps = 3,
                             .scale = "layers=2,hidden=64", .lay = &fl, .device_cap = 1 << 30, .model = &fm,
                             .train = &ft, .profile = "local-cpu", .cost = &fcost, .comm = &fpc, .mem = &fpm,
                             .ranks_per_gpu = 1, .gpu = "", .overhead_source = ""};
    gpu_run = (zp_exec_view){.exec_id = 2, .run_id = 1, .plan = 1, .backend = "cuda", .ranks = 2, .steps = 3,
                             .lay = &fl, .model = &fm, .train = &ft, .cost = &fcost, .comm = &fpc, .mem = &fpm,
                             .cuda = 1, .gpu = "NVIDIA H200", .shared_gpu = 1, .ranks_per_gpu = 2,
                             .overhead_source = "the GPU preset h200", .pr_ctx = 500u << 20, .pr_blas = 64u << 20,
                             .pr_comm = 300u << 20, .pr_round = 2u << 20};
    return 0;
}

/* What show does with a record: the check, then the text. */
static void record_ok(const cJSON *rec, const char *backend)
{
    zp_err e = {0};
    FUZZ_REQUIRE(rec, "no record");
    FUZZ_REQUIRE(zp_exec_record_check(rec, "execution 1 of run 1", &e) == ZP_OK,
                 "zplan show would refuse the record zplan exec writes (%s): %s", backend, e.msg);
    zp_render_exec(fuzz_null(), rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);   /* zp_run_capture's buffer, NUL-terminated */
    cJSON *prog = NULL, *eo = zp_exec_engine_output(s, &prog);
    FUZZ_REQUIRE(cJSON_IsArray(prog), "engine_output gave no progress array");
    if (eo) {
        zp_err e = {0};
        FUZZ_REQUIRE(cJSON_IsObject(eo), "engine_output took a result that is not an object");
        if (zp_engine_output_check(eo, &e) != ZP_OK)
            FUZZ_REQUIRE(e.code == ZP_EIO && e.msg[0], "refused with status %d: %s", (int)e.code, e.msg);
    }
    cJSON_Delete(eo);
    cJSON_Delete(prog);

    /* the records exec writes of it: CPU ranks that finished, ended early
     * (SIGINT) or failed; GPUs, and the profile kept of them */
    static const int rcs[] = {0, 130, 1};
    for (size_t i = 0; i < sizeof rcs / sizeof rcs[0]; i++) {
        double granule, gpu_mem;
        cJSON *rec = zp_exec_record(cpu_run, rcs[i], s, &granule, &gpu_mem);
        record_ok(rec, "cpu");
        cJSON_Delete(rec);
    }
    double granule, gpu_mem;
    cJSON *rec = zp_exec_record(gpu_run, 0, s, &granule, &gpu_mem);
    record_ok(rec, "cuda");
    zp_err e = {0};
    char *pt = zp_exec_measured_profile(rec, &fgpu, "nvidia-h200-cuda", "NVIDIA H200", granule, gpu_mem,
                                "the GPU preset h200", &e);
    if (pt) {
        zp_gpu back;
        zp_err be = {0};
        FUZZ_REQUIRE(zp_gpu_from_json(pt, "the stored profile", &back, &be) == ZP_OK,
                     "the profile a CUDA execution keeps is refused by the planner: %s", be.msg);
        free(pt);
    }
    cJSON_Delete(rec);
    free(s);
    return 0;
}
