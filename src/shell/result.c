/* result.c - the documents zplan stores and reads back, each in one place
 * (the contracts): the plan result (its writer zp_result_to_json, its
 * schema and check zp_result_check, its readers zp_result_problem and
 * zp_result_layout), the execution record's schema (zp_exec_record_check)
 * and the engine's output's (zp_engine_output_check).  Every reader of a
 * stored document checks it first, so that a field missing or out of range
 * is one line naming it, never a crash further on. */
#include "config.h"
#include "result.h"
#include "render.h"
#include "schema.h"
#include "jsonget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A recompute module's index in zp_rc_module_names, -1 for a name zplan
 * does not know (zp_name_index reads that as the first). */
static int rc_module(const char *w)
{
    for (int i = 0; zp_rc_module_names[i]; i++)
        if (strcmp(w, zp_rc_module_names[i]) == 0)
            return i;
    return -1;
}

int zp_name_index(const char *s, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return 0;
}

/* The planning problem a result was computed for, for the charts that
 * re-evaluate the model (scaling, communication by strategy). */
/* ------------------------------------------------------------ the schema
 * Every field the readers of a planning result (show, report, exec) use,
 * with the ranges the planner accepts on input (model.c, plan.c), so that
 * a result that passes cannot divide by zero or overflow further on. */
#define P2(n) ((double)((uint64_t)1 << (n)))
#define BYTES 1.8e19   /* below 2^64: a byte count read back into uint64_t */
#define BIG 1e30

static const char *const mlp_n[] = {"gelu", "swiglu", NULL}, *const norm_n[] = {"layernorm", "rmsnorm", NULL},
                         *const pos_n[] = {"learned", "rotary", "alibi", NULL},
                         *const z3_n[] = {"prefetch", "deepspeed", NULL}, *const z3re_n[] = {"blocks", "all", NULL},
                         *const units_n[] = {"gib", "gb", NULL};

static const zp_field model_f[] = {
    {"name", ZP_F_STR, 0, 0, NULL, NULL, 0, 0},
    {"source", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"params", ZP_F_NUM, 0, 1e16, NULL, NULL, 0, 0},
    {"layers", ZP_F_INT, 1, 100000, NULL, NULL, 0, 0},
    {"hidden", ZP_F_INT, 1, P2(20), NULL, NULL, 0, 0},
    {"heads", ZP_F_INT, 1, P2(20), NULL, NULL, 0, 0},
    {"kv_heads", ZP_F_INT, 1, P2(20), NULL, NULL, 0, 0},
    {"ffn", ZP_F_INT, 1, P2(23), NULL, NULL, 0, 0},
    {"vocab", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0},
    {"seq", ZP_F_INT, 1, P2(20), NULL, NULL, 1, 0},
    {"max_positions", ZP_F_INT, 0, P2(24), NULL, NULL, 0, 0},
    {"tied_embeddings", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0},
    {"bias", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0},
    {"mlp", ZP_F_STR, 0, 0, mlp_n, NULL, 0, 0},
    {"norm", ZP_F_STR, 0, 0, norm_n, NULL, 0, 0},
    {"position", ZP_F_STR, 0, 0, pos_n, NULL, 0, 0},
    /* added with head_dim, partial biases, parallel blocks, sliding windows
     * (absent in older runs: the older meaning) */
    {"head_dim", ZP_F_INT, 1, P2(16), NULL, NULL, 1, 0},
    {"qkv_bias", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},
    {"out_bias", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},
    {"mlp_bias", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},
    {"head_bias", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},
    {"embed_norm", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},
    {"block", ZP_F_STR, 0, 0, zp_block_names, NULL, 1, 0},
    {"sliding_window", ZP_F_INT, 0, P2(24), NULL, NULL, 1, 0},
    {"qk_norm", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},   /* added with Qwen3 (absent: none) */
    {"fused_proj", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},   /* added with Phi-3 (absent: separate products) */
    {"multipliers", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},   /* added with Granite's (absent: none) */
    {"gelu_gate", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},     /* added with Gemma's GeGLU (absent: SiLU) */
    {"embed_scale", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},   /* added with Gemma's sqrt(h) (absent: none) */
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
static const zp_field cluster_f[] = {
    {"gpu", ZP_F_STR, 0, 0, NULL, NULL, 0, 0},
    {"gpu_description", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"gpus", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0},
    {"gpus_per_node", ZP_F_INT, 1, 1024, NULL, NULL, 0, 0},
    {"nodes", ZP_F_INT, 1, P2(24), NULL, NULL, 1, 0},
    {"gpu_memory_bytes", ZP_F_INT, 1, P2(53), NULL, NULL, 0, 0},
    {"host_memory_bytes_per_node", ZP_F_INT, 0, P2(60), NULL, NULL, 0, 0},
    {"peak_flops", ZP_F_NUM, 1, 1e21, NULL, NULL, 0, 0},
    {"nvlink_gbps", ZP_F_NUM, 1e-3, 1e6, NULL, NULL, 0, 0},
    {"inter_node_gbps", ZP_F_NUM, 1e-3, 1e6, NULL, NULL, 0, 0},
    {"pcie_gbps", ZP_F_NUM, 1e-3, 1e6, NULL, NULL, 0, 0},
    {"hbm_gbps", ZP_F_NUM, 1e-3, 1e6, NULL, NULL, 1, 0},
    {"peak_fp8_flops", ZP_F_NUM, 1, 1e21, NULL, NULL, 1, 0},
    {"gpu_overrides", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
static const zp_field train_f[] = {
    {"seq", ZP_F_INT, 1, P2(20), NULL, NULL, 0, 0},
    {"global_batch", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0},
    {"tokens_per_step", ZP_F_NUM, 0, P2(44), NULL, NULL, 1, 0},
    {"dtype", ZP_F_STR, 0, 0, zp_dtype_names, NULL, 0, 0},
    {"grad_dtype", ZP_F_STR, 0, 0, zp_dtype_names, NULL, 0, 0},
    {"master_weights", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0},
    {"optimizer", ZP_F_STR, 0, 0, zp_optim_names, NULL, 0, 0},
    {"flash_attention", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0},
    {"dropout", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0},
    {"fp8", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},
    {"ckpt_every", ZP_F_INT, 2, P2(20), NULL, NULL, 1, 0},
    {"ckpt_layers", ZP_F_INT, 1, P2(20), NULL, NULL, 1, 0},
    {"recompute_modules", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
/* the matmul efficiency by shape (absent: the constant gemm_efficiency) */
static const zp_field shape_f[] = {
    {"sms", ZP_F_INT, 1, 1e5, NULL, NULL, 0, 0},
    {"k_half", ZP_F_NUM, 0, 1e9, NULL, NULL, 0, 0},
    {"hbm_gbps", ZP_F_NUM, 1e-3, 1e6, NULL, NULL, 0, 0},
    {"kernel_us", ZP_F_NUM, 0, 1e6, NULL, NULL, 0, 0},
    {"hbm_efficiency", ZP_F_NUM, 1e-3, 1, NULL, NULL, 0, 0},
    {"attention_efficiency", ZP_F_NUM, 1e-3, 1, NULL, NULL, 0, 0},
    {"fp8_max_efficiency", ZP_F_NUM, 1e-3, 1, NULL, NULL, 1, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
static const zp_field conv_f[] = {
    {"zero3_buffer", ZP_F_STR, 0, 0, z3_n, NULL, 0, 0},
    {"zero3_regather", ZP_F_STR, 0, 0, z3re_n, NULL, 0, 0},
    {"bucket_elems", ZP_F_INT, 0, P2(40), NULL, NULL, 0, 0},
    {"cuda_context_bytes", ZP_F_INT, 0, P2(53), NULL, NULL, 0, 0},
    {"nccl_comm_bytes", ZP_F_INT, 0, P2(53), NULL, NULL, 0, 0},
    {"cublas_bytes", ZP_F_INT, 0, P2(53), NULL, NULL, 1, 0},
    {"torch_blas_workspace_bytes", ZP_F_INT, 0, P2(53), NULL, NULL, 1, 0},   /* absent before: not counted */
    {"fragmentation", ZP_F_NUM, 0, 1, NULL, NULL, 0, 0},
    {"fragmentation_rebuilt", ZP_F_NUM, 0, 1, NULL, NULL, 1, 0},   /* absent before: fragmentation's */
    {"alloc_granule_bytes", ZP_F_INT, 0, P2(40), NULL, NULL, 1, 0},
    {"gemm_efficiency", ZP_F_NUM, 1e-3, 1, NULL, NULL, 0, 0},
    {"gemm_by_shape", ZP_F_OBJ, 0, 0, NULL, shape_f, 1, 0},
    {"link_efficiency", ZP_F_NUM, 1e-3, 1, NULL, NULL, 0, 0},
    {"group_efficiency_c", ZP_F_NUM, 0, 1.9, NULL, NULL, 1, 0},   /* absent before: 0, every group size alike */
    {"nvlink_efficiency", ZP_F_NUM, 1e-3, 1, NULL, NULL, 1, 0},   /* absent before: link_efficiency's */
    {"overlap_efficiency", ZP_F_NUM, 0, 1, NULL, NULL, 0, 0},
    {"dp_overlap_efficiency", ZP_F_NUM, 0, 1, NULL, NULL, 1, 0},   /* absent before: overlap_efficiency */
    {"host_adam_params_per_s", ZP_F_NUM, 1e3, 1e15, NULL, NULL, 1, 0},   /* absent before: the default */
    {"elementwise_gbps", ZP_F_NUM, 0, 1e6, NULL, NULL, 1, 0},
    {"eager_hbm_efficiency", ZP_F_NUM, 1e-3, 1, NULL, NULL, 1, 0},
    {"backward_workspace", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0},
    {"tp_overlap", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},   /* absent before --tp-overlap: off */
    {"grad_reduce", ZP_F_STR, 0, 0, zp_grad_overlap_names, NULL, 1, 0},   /* absent before: backward */
    {"tp_grad_overlap", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},   /* absent before: off */
    {"p2p_blocking", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},      /* absent before: off */
    {"p2p_overlap", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},       /* absent before: off */
    {"param_gather_overlap", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},   /* absent before: off */
    {"attention_kernel", ZP_F_STR, 0, 0, zp_attn_kernel_names, NULL, 1, 0},   /* absent before: preset */
    {"gemm_ceiling", ZP_F_STR, 0, 0, zp_gemm_ceiling_names, NULL, 1, 0},      /* absent before: preset */
    {"adam_impl", ZP_F_STR, 0, 0, zp_adam_impl_names, NULL, 1, 0},            /* absent before: fused */
    {"grad_sum", ZP_F_STR, 0, 0, zp_grad_sum_names, NULL, 1, 0},   /* absent before: inplace (its moment new then) */
    {"pp_outputs", ZP_F_STR, 0, 0, zp_pp_out_names, NULL, 1, 0},              /* absent before: freed */
    {"act_offload_mode", ZP_F_STR, 0, 0, zp_act_off_names, NULL, 1, 0},       /* absent before: async */
    {"sp_inputs", ZP_F_STR, 0, 0, zp_sp_in_names, NULL, 1, 0},                /* absent before: local */
    {"score_grads", ZP_F_STR, 0, 0, zp_score_grads_names, NULL, 1, 0},        /* absent before: head */
    {"lp_grads", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},          /* absent before: off */
    {"zero2_reshard", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},     /* absent before: off */
    {"eager", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},             /* absent before: off */
    {"ce_unfused", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},        /* absent before: off */
    {"framework", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},   /* the --framework its defaults came from */
    {"units", ZP_F_STR, 0, 0, units_n, NULL, 0, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
#define MEMF(k) {k, ZP_F_NUM, 0, BYTES, NULL, NULL, 0, 0}
#define MEMO(k) {k, ZP_F_NUM, 0, BYTES, NULL, NULL, 1, 0}
static const zp_field mem_f[] = {MEMF("params"), MEMF("grads"), MEMF("optimizer"), MEMF("activations"),
                                 MEMF("buffers"), MEMF("overhead"), MEMF("total"), {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field host_f[] = {MEMO("params"), MEMO("grads"), MEMO("optimizer"),
                                  MEMO("activations"),   /* absent before --act-offload: 0 */
                                  MEMO("buffers"), MEMF("total"),
                                  {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field time_f[] = {
    {"compute", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},      {"comm_exposed", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},
    {"bubble", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},       {"optimizer", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
#define PLAN_FIELDS                                                                                                    \
    {"dp", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0}, {"tp", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0},                        \
    {"pp", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0}, {"vp", ZP_F_INT, 1, P2(20), NULL, NULL, 0, 0},                        \
    {"cp", ZP_F_INT, 1, P2(20), NULL, NULL, 1, 0},                                                                     \
    {"zero", ZP_F_INT, 0, 3, NULL, NULL, 0, 0}, {"offload", ZP_F_STR, 0, 0, zp_offload_names, NULL, 0, 0},               \
    {"ckpt", ZP_F_STR, 0, 0, zp_ckpt_names, NULL, 0, 0}, {"sp", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0},                      \
    {"act_offload", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},   /* absent before --act-offload: off */                         \
    {"micro_batch", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0}, {"grad_accum", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0},       \
    {"fits", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0}, {"reject", ZP_F_STR, 0, 0, NULL, NULL, 0, 1},                          \
    {"worst_stage", ZP_F_INT, 0, P2(24), NULL, NULL, 0, 0}, {"memory_bytes", ZP_F_OBJ, 0, 0, NULL, mem_f, 0, 0},         \
    {"peak_phase", ZP_F_STR, 0, 0, zp_phase_names, NULL, 1, 0},                                                         \
    {"host_memory_bytes", ZP_F_NUM, 0, BYTES, NULL, NULL, 0, 0},                                                        \
    {"host_bytes_per_rank", ZP_F_OBJ, 0, 0, NULL, host_f, 0, 0},                                                        \
    {"comm_bytes_per_step", ZP_F_NUM, 0, BYTES, NULL, NULL, 0, 0}, {"time_s", ZP_F_OBJ, 0, 0, NULL, time_f, 0, 0},      \
    {"step_time_s", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0}, {"tokens_per_s", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},           \
    {"mfu", ZP_F_NUM, 0, 1e6, NULL, NULL, 0, 0}, {"model_flops_per_step", ZP_F_NUM, 0, 1e40, NULL, NULL, 0, 0},      \
    {"elementwise_bytes_per_micro_batch", ZP_F_NUM, 0, 1e40, NULL, NULL, 1, 0}   /* absent before: 0 */
/* a listed plan may name the other settings that give the same result */
static const zp_field plan_f[] = {PLAN_FIELDS, {"same_result_with", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
                                  {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field stage_f[] = {
    {"stage", ZP_F_INT, 0, P2(24), NULL, NULL, 0, 0},
    {"memory_bytes", ZP_F_OBJ, 0, 0, NULL, mem_f, 0, 0},
    {"host_bytes", ZP_F_OBJ, 0, 0, NULL, host_f, 0, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
static const zp_field coll_f[] = {
    {"collective", ZP_F_STR, 0, 0, zp_coll_kind_names, NULL, 0, 0},
    {"group", ZP_F_STR, 0, 0, zp_group_names, NULL, 0, 0},
    {"what", ZP_F_STR, 0, 0, NULL, NULL, 0, 0},
    {"group_size", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0},
    {"inter_node", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0},
    {"bytes", ZP_F_NUM, 0, BYTES, NULL, NULL, 0, 0},
    {"count", ZP_F_NUM, 0, 1e15, NULL, NULL, 0, 0},
    {"bus_factor", ZP_F_NUM, 0, 2, NULL, NULL, 0, 0},
    {"bus_bytes_per_step", ZP_F_NUM, 0, BYTES, NULL, NULL, 0, 0},
    {"time_s", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},
    {"overlap", ZP_F_STR, 0, 0, NULL, NULL, 0, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
/* the fewest blocks full recompute could rebuild and still fit (optional) */
static const zp_field partial_f[] = {{"ckpt_layers", ZP_F_INT, 0, P2(20), NULL, NULL, 0, 0},   /* 0: none */
                                     {"blocks", ZP_F_INT, 1, P2(20), NULL, NULL, 0, 0},
                                     {"memory_bytes", ZP_F_NUM, 0, BYTES, NULL, NULL, 0, 0},
                                     {"step_time_s", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},
                                     {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field chosen_f[] = {PLAN_FIELDS, {"stages", ZP_F_ARR, 0, 0, NULL, stage_f, 0, 0},
                                    {"comm", ZP_F_ARR, 0, 0, NULL, coll_f, 0, 0},
                                    {"partial_recompute", ZP_F_OBJ, 0, 0, NULL, partial_f, 1, 0},
                                    {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field classic_f[] = {{"strategy", ZP_F_STR, 0, 0, NULL, NULL, 0, 0},
                                     {"invalid", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
                                     {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field result_f[] = {
    {"zplan_version", ZP_F_STR, 0, 0, NULL, NULL, 0, 0},
    {"run_id", ZP_F_INT, 1, 1e15, NULL, NULL, 0, 1},
    {"model", ZP_F_OBJ, 0, 0, NULL, model_f, 0, 0},
    {"cluster", ZP_F_OBJ, 0, 0, NULL, cluster_f, 0, 0},
    {"training", ZP_F_OBJ, 0, 0, NULL, train_f, 0, 0},
    {"conventions", ZP_F_OBJ, 0, 0, NULL, conv_f, 0, 0},
    {"candidates_evaluated", ZP_F_NUM, 0, 1e18, NULL, NULL, 0, 0},
    {"candidates_rule_rejected", ZP_F_NUM, 0, 1e18, NULL, NULL, 1, 0},
    {"fitting", ZP_F_NUM, 0, 1e18, NULL, NULL, 0, 0},
    {"act_offload_tried", ZP_F_NUM, 0, 1e18, NULL, NULL, 1, 0},   /* absent before --act-offload: 0 */
    {"act_offload_fit", ZP_F_NUM, 0, 1e18, NULL, NULL, 1, 0},
    {"rejected", ZP_F_OBJ, 0, 0, NULL, NULL, 0, 0},
    {"plans", ZP_F_ARR, 0, 0, NULL, plan_f, 0, 0},
    {"chosen", ZP_F_OBJ, 0, 0, NULL, chosen_f, 0, 1},
    {"closest", ZP_F_OBJ, 0, 0, NULL, plan_f, 1, 0},
    {"classic", ZP_F_ARR, 0, 0, NULL, classic_f, 0, 0},
    {"suggestions", ZP_F_STRARR, 0, 0, NULL, NULL, 0, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};

/* A plan's layout against the problem: its degrees use the cluster's GPUs,
 * its worst stage is one of its stages, and dp x micro-batch x
 * accumulation steps is the global batch, and its micro-batch keeps the
 * byte counts below 2^62 (zp_micro_batch_in_range). */
static zp_status plan_fits_cluster(const cJSON *p, const char *path, const zp_problem *pb, const char *what,
                                   zp_err *e)
{
    double dp = zp_jnum(p, "dp"), tp = zp_jnum(p, "tp"), pp = zp_jnum(p, "pp");
    int64_t gpus = pb->cluster.gpus;
    double cpd = zp_jobj(p, "cp") ? zp_jnum(p, "cp") : 1;
    if (dp * tp * pp * cpd != (double)gpus)
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: %s has dp x tp x pp x cp = %.0f, not the "
                          "cluster's %lld GPUs (was the database edited?)", what, path, dp * tp * pp * cpd,
                          (long long)gpus);
    if (zp_jnum(p, "worst_stage") >= pp)
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: %s.worst_stage is not one of its %.0f "
                          "stages (was the database edited?)", what, path, pp);
    double batch = dp * zp_jnum(p, "micro_batch") * zp_jnum(p, "grad_accum");
    if (batch != (double)pb->train.global_batch)
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: %s has dp x micro_batch x grad_accum = "
                          "%.0f, not the global batch of %lld (was the database edited?)", what, path, batch,
                          (long long)pb->train.global_batch);
    if (!zp_micro_batch_in_range(pb, (int64_t)zp_jnum(p, "micro_batch")))
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: %s.micro_batch %.0f would take a rank "
                          "beyond the 2^62 bytes zplan counts exactly (was the database edited?)", what, path,
                          zp_jnum(p, "micro_batch"));
    return ZP_OK;
}

zp_status zp_result_check(const cJSON *r, const char *what, zp_err *e)
{
    zp_status st = zp_schema_check(r, result_f, what, e);
    if (st)
        return st;
    /* each recomputed module one zplan names */
    const cJSON *rm = zp_jobj(zp_jobj(r, "training"), "recompute_modules");
    if (cJSON_IsString(rm)) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", rm->valuestring);
        for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
            if (rc_module(w) < 0) {
                char pw[64];
                return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: training.recompute_modules names "
                                  "'%s' (allowed: core_attn, mlp, layernorm, comma-separated)", what,
                                  zp_printable(pw, sizeof pw, w));
            }
        }
    }
    zp_problem pb;
    zp_result_problem(r, &pb);
    zp_err me = {0};
    if (zp_model_check(&pb.model, &me) != ZP_OK)
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: model: %s", what, me.msg);
    /* the byte counts its readers recompute stay inside 64 bits, with the
     * largest micro-batch any of its plans holds */
    int64_t mb = 0;
    const cJSON *pl;
    cJSON_ArrayForEach(pl, zp_jobj(r, "plans")) if (zp_jnum(pl, "micro_batch") > mb) mb = (int64_t)zp_jnum(pl, "micro_batch");
    const cJSON *lists[] = {zp_jobj(r, "chosen"), zp_jobj(r, "closest")};
    for (int k = 0; k < 2; k++)
        if (cJSON_IsObject(lists[k]) && zp_jnum(lists[k], "micro_batch") > mb)
            mb = (int64_t)zp_jnum(lists[k], "micro_batch");
    cJSON_ArrayForEach(pl, zp_jobj(r, "classic")) if (zp_jnum(pl, "micro_batch") > mb) mb = (int64_t)zp_jnum(pl, "micro_batch");
    pb.pins.micro_batch = mb > 0 ? mb : -1;
    if (zp_problem_range_check(&pb, &me) != ZP_OK)
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: training: %s", what, me.msg);
    const cJSON *x;
    int i = 0;
    char path[64];
    cJSON_ArrayForEach(x, zp_jobj(r, "plans"))
    {
        snprintf(path, sizeof path, "plans[%d]", i++);
        if ((st = plan_fits_cluster(x, path, &pb, what, e)))
            return st;
    }
    const cJSON *ch = zp_jobj(r, "chosen");
    if (cJSON_IsObject(ch)) {
        if ((st = plan_fits_cluster(ch, "chosen", &pb, what, e)))
            return st;
        if (cJSON_GetArraySize(zp_jobj(ch, "stages")) != (int)zp_jnum(ch, "pp"))
            return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: chosen.stages does not hold its %.0f "
                              "stages (was the database edited?)", what, zp_jnum(ch, "pp"));
    }
    if (cJSON_IsObject(zp_jobj(r, "closest")) && (st = plan_fits_cluster(zp_jobj(r, "closest"), "closest", &pb, what, e)))
        return st;
    i = 0;
    cJSON_ArrayForEach(x, zp_jobj(r, "classic"))
    {
        snprintf(path, sizeof path, "classic[%d]", i++);
        if (zp_jobj(x, "invalid"))
            continue;
        if ((st = zp_schema_check(x, plan_f, what, e)) || (st = plan_fits_cluster(x, path, &pb, what, e)))
            return st;
    }
    return ZP_OK;
}

/* ------------------------------------------------------------ the writer
 * The plan result (zplan --json, the runs table's result_json): written
 * here, read back by zp_result_problem and zp_result_layout below, and
 * checked by result_f above, one place for its keys. */
static cJSON *mem_json(const uint64_t *cls, uint64_t total, int host)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < ZP_MEM_NCLASS; i++)
        if (!host || i <= ZP_MEM_ACT || i == ZP_MEM_BUF)   /* (host: no overhead) */
            cJSON_AddNumberToObject(o, zp_mem_class_names[i], (double)cls[i]);
    cJSON_AddNumberToObject(o, "total", (double)total);
    return o;
}

static cJSON *plan_json(const zp_plan *p)
{
    const zp_layout *l = &p->lay;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "dp", (double)l->dp);
    cJSON_AddNumberToObject(o, "tp", (double)l->tp);
    cJSON_AddNumberToObject(o, "pp", (double)l->pp);
    cJSON_AddNumberToObject(o, "vp", (double)l->vp);
    cJSON_AddNumberToObject(o, "cp", (double)zp_cp(l));
    cJSON_AddNumberToObject(o, "zero", l->zero);
    cJSON_AddStringToObject(o, "offload", zp_offload_names[l->offload]);
    cJSON_AddStringToObject(o, "ckpt", zp_ckpt_names[l->ckpt]);
    cJSON_AddBoolToObject(o, "sp", l->sp);
    cJSON_AddBoolToObject(o, "act_offload", l->act_offload);
    cJSON_AddNumberToObject(o, "micro_batch", (double)l->micro_batch);
    cJSON_AddNumberToObject(o, "grad_accum", (double)l->grad_accum);
    cJSON_AddBoolToObject(o, "fits", p->reject == ZP_REJ_NONE);
    if (p->reject == ZP_REJ_NONE)
        cJSON_AddNullToObject(o, "reject");
    else
        cJSON_AddStringToObject(o, "reject", zp_reject_names[p->reject]);
    cJSON_AddNumberToObject(o, "worst_stage", (double)p->worst_stage);
    cJSON_AddItemToObject(o, "memory_bytes", mem_json(p->mem.dev, p->mem.dev_total, 0));
    cJSON_AddStringToObject(o, "peak_phase", zp_phase_names[p->mem.phase]);
    cJSON_AddNumberToObject(o, "host_memory_bytes", (double)p->host_per_node);
    cJSON_AddItemToObject(o, "host_bytes_per_rank", mem_json(p->mem.host, p->mem.host_total, 1));
    cJSON_AddNumberToObject(o, "comm_bytes_per_step", (double)p->comm_bytes);
    cJSON *t = cJSON_AddObjectToObject(o, "time_s");
    cJSON_AddNumberToObject(t, "compute", p->cost.compute_s);
    cJSON_AddNumberToObject(t, "comm_exposed", p->cost.comm_exposed_s);
    cJSON_AddNumberToObject(t, "bubble", p->cost.bubble_s);
    cJSON_AddNumberToObject(t, "optimizer", p->cost.optimizer_s);
    cJSON_AddNumberToObject(o, "step_time_s", p->cost.step_s);
    cJSON_AddNumberToObject(o, "tokens_per_s", p->cost.tokens_per_s);
    cJSON_AddNumberToObject(o, "mfu", p->cost.mfu);
    cJSON_AddNumberToObject(o, "model_flops_per_step", p->cost.model_flops);
    cJSON_AddNumberToObject(o, "elementwise_bytes_per_micro_batch", p->cost.ew_bytes);
    return o;
}

static cJSON *comm_json(const zp_comm *cm)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < cm->n; i++) {
        const zp_coll *c = &cm->c[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "collective", zp_coll_kind_names[c->kind]);
        cJSON_AddStringToObject(o, "group", zp_group_names[c->group]);
        cJSON_AddStringToObject(o, "what", c->what);
        cJSON_AddNumberToObject(o, "group_size", (double)c->group_size);
        cJSON_AddBoolToObject(o, "inter_node", c->inter_node);
        cJSON_AddNumberToObject(o, "bytes", (double)c->bytes);
        cJSON_AddNumberToObject(o, "count", (double)c->count);
        cJSON_AddNumberToObject(o, "bus_factor", c->bus_factor);
        cJSON_AddNumberToObject(o, "bus_bytes_per_step", (double)c->bus_bytes);
        cJSON_AddNumberToObject(o, "time_s", c->time_s);
        cJSON_AddStringToObject(o, "overlap", zp_overlap_names[c->overlap]);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

cJSON *zp_result_to_json(const zp_answer *a, int64_t run_id, const zp_mem *stages, const zp_comm *comm)
{
    const zp_problem *pb = &a->pb;
    const zp_model *m = &pb->model;
    static const char *const mlp[] = {"gelu", "swiglu"}, *const norm[] = {"layernorm", "rmsnorm"},
                             *const pos[] = {"learned", "rotary", "alibi"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "zplan_version", PACKAGE_VERSION);
    if (run_id > 0)
        cJSON_AddNumberToObject(o, "run_id", (double)run_id);
    else
        cJSON_AddNullToObject(o, "run_id");
    cJSON *mo = cJSON_AddObjectToObject(o, "model");
    cJSON_AddStringToObject(mo, "name", m->name);
    cJSON_AddStringToObject(mo, "source", a->source);
    cJSON_AddNumberToObject(mo, "params", (double)zp_model_params(m));
    cJSON_AddNumberToObject(mo, "layers", (double)m->layers);
    cJSON_AddNumberToObject(mo, "hidden", (double)m->hidden);
    cJSON_AddNumberToObject(mo, "heads", (double)m->heads);
    cJSON_AddNumberToObject(mo, "kv_heads", (double)m->kv_heads);
    cJSON_AddNumberToObject(mo, "ffn", (double)m->ffn);
    cJSON_AddNumberToObject(mo, "vocab", (double)m->vocab);
    cJSON_AddNumberToObject(mo, "seq", (double)pb->train.seq);
    cJSON_AddNumberToObject(mo, "max_positions", (double)m->max_pos);
    cJSON_AddBoolToObject(mo, "tied_embeddings", m->tied);
    cJSON_AddBoolToObject(mo, "bias", m->bias);
    cJSON_AddStringToObject(mo, "mlp", mlp[m->mlp]);
    cJSON_AddStringToObject(mo, "norm", norm[m->norm]);
    cJSON_AddStringToObject(mo, "position", pos[m->pos]);
    /* added with head_dim, parallel blocks, partial biases and sliding
     * windows; a stored run without them reads back as before (result.c) */
    cJSON_AddNumberToObject(mo, "head_dim", (double)zp_model_head_dim(m));
    cJSON_AddBoolToObject(mo, "qkv_bias", m->bias || m->qkv_bias);
    cJSON_AddBoolToObject(mo, "out_bias", m->bias || m->out_bias);
    cJSON_AddBoolToObject(mo, "mlp_bias", m->bias || m->mlp_bias);
    cJSON_AddBoolToObject(mo, "head_bias", m->head_bias);
    cJSON_AddBoolToObject(mo, "embed_norm", m->embed_norm);
    cJSON_AddStringToObject(mo, "block", zp_block_names[m->block]);
    cJSON_AddNumberToObject(mo, "sliding_window", (double)m->window);
    cJSON_AddBoolToObject(mo, "qk_norm", m->qk_norm);   /* (Qwen3's Q and K head norms) */
    cJSON_AddBoolToObject(mo, "fused_proj", m->fused_proj);   /* (Phi-3's one QKV and one gate-up product) */
    cJSON_AddBoolToObject(mo, "multipliers", m->multipliers);   /* (Granite's embedding, residual, attention, logits) */
    cJSON_AddBoolToObject(mo, "gelu_gate", m->gelu_gate);       /* (a gated MLP's GELU gate: GeGLU) */
    cJSON_AddBoolToObject(mo, "embed_scale", m->embed_scale);   /* (Gemma's embedding times sqrt(h)) */

    const zp_cluster *c = &pb->cluster;
    cJSON *co = cJSON_AddObjectToObject(o, "cluster");
    cJSON_AddStringToObject(co, "gpu", c->gpu.name);
    cJSON_AddStringToObject(co, "gpu_description", c->gpu.desc);
    cJSON_AddNumberToObject(co, "gpus", (double)c->gpus);
    cJSON_AddNumberToObject(co, "gpus_per_node", (double)c->gpus_per_node);
    cJSON_AddNumberToObject(co, "nodes", (double)zp_ceil_div(c->gpus, c->gpus_per_node));
    cJSON_AddNumberToObject(co, "gpu_memory_bytes", (double)c->gpu.mem_bytes);
    cJSON_AddNumberToObject(co, "host_memory_bytes_per_node", (double)c->host_mem_bytes);
    cJSON_AddNumberToObject(co, "peak_flops", c->gpu.peak_flops[pb->train.dtype]);
    cJSON_AddNumberToObject(co, "nvlink_gbps", c->gpu.nvlink_gbps);
    cJSON_AddNumberToObject(co, "inter_node_gbps", c->inter_node_gbps);
    cJSON_AddNumberToObject(co, "pcie_gbps", c->gpu.pcie_gbps);
    cJSON_AddNumberToObject(co, "hbm_gbps", c->gpu.hbm_gbps);
    if (pb->train.fp8)
        cJSON_AddNumberToObject(co, "peak_fp8_flops", c->gpu.peak_fp8);
    if (a->gpu_over[0])
        cJSON_AddStringToObject(co, "gpu_overrides", a->gpu_over);

    const zp_train *t = &pb->train;
    cJSON *to = cJSON_AddObjectToObject(o, "training");
    cJSON_AddNumberToObject(to, "seq", (double)t->seq);
    cJSON_AddNumberToObject(to, "global_batch", (double)t->global_batch);
    cJSON_AddNumberToObject(to, "tokens_per_step", (double)t->global_batch * (double)t->seq);
    cJSON_AddStringToObject(to, "dtype", zp_dtype_names[t->dtype]);
    cJSON_AddStringToObject(to, "grad_dtype", zp_dtype_names[t->grad_dtype]);
    cJSON_AddBoolToObject(to, "master_weights", t->master && t->dtype != ZP_DT_FP32);
    cJSON_AddStringToObject(to, "optimizer", zp_optim_names[t->optim]);
    cJSON_AddBoolToObject(to, "flash_attention", t->flash);
    cJSON_AddBoolToObject(to, "dropout", t->dropout);
    if (t->fp8)
        cJSON_AddBoolToObject(to, "fp8", 1);
    if (t->ckpt_every > 1)   /* full recompute of every k-th block of a stage */
        cJSON_AddNumberToObject(to, "ckpt_every", (double)t->ckpt_every);
    if (t->ckpt_block > 0)   /* full recompute of the first N blocks of each stage */
        cJSON_AddNumberToObject(to, "ckpt_layers", (double)t->ckpt_block);
    if (t->rc_modules) {   /* what selective recompute rebuilds: "mlp,layernorm" */
        char mods[64] = "";
        for (int i = 0; zp_rc_module_names[i]; i++)
            if (t->rc_modules & (1 << i))
                snprintf(mods + strlen(mods), sizeof mods - strlen(mods), "%s%s", mods[0] ? "," : "",
                         zp_rc_module_names[i]);
        cJSON_AddStringToObject(to, "recompute_modules", mods);
    }

    const zp_conv *cv = &pb->conv;
    cJSON *cvo = cJSON_AddObjectToObject(o, "conventions");
    cJSON_AddStringToObject(cvo, "zero3_buffer", z3_n[cv->zero3_buffer]);
    cJSON_AddStringToObject(cvo, "zero3_regather", z3re_n[cv->zero3_regather_all != 0]);
    cJSON_AddNumberToObject(cvo, "bucket_elems", (double)cv->bucket_elems);
    cJSON_AddNumberToObject(cvo, "cuda_context_bytes", (double)cv->cuda_ctx_bytes);
    cJSON_AddNumberToObject(cvo, "nccl_comm_bytes", (double)cv->nccl_comm_bytes);
    cJSON_AddNumberToObject(cvo, "cublas_bytes", (double)cv->cublas_bytes);
    cJSON_AddNumberToObject(cvo, "torch_blas_workspace_bytes", (double)cv->torch_blas_ws_bytes);
    cJSON_AddNumberToObject(cvo, "fragmentation", cv->frag);
    cJSON_AddNumberToObject(cvo, "fragmentation_rebuilt", cv->frag_rebuilt);
    cJSON_AddNumberToObject(cvo, "alloc_granule_bytes", (double)cv->alloc_granule_bytes);
    /* by shape: the curve's ceiling, and the curve */
    cJSON_AddNumberToObject(cvo, "gemm_efficiency", cv->gemm_eff > 0 ? cv->gemm_eff : cv->gemm.eff_max);
    if (cv->gemm_eff <= 0) {
        cJSON *gs = cJSON_AddObjectToObject(cvo, "gemm_by_shape");
        cJSON_AddNumberToObject(gs, "sms", (double)cv->gemm.sms);
        cJSON_AddNumberToObject(gs, "k_half", cv->gemm.k_half);
        cJSON_AddNumberToObject(gs, "hbm_gbps", cv->gemm.hbm_gbps);
        cJSON_AddNumberToObject(gs, "kernel_us", cv->kernel_s * 1e6);
        cJSON_AddNumberToObject(gs, "hbm_efficiency", cv->hbm_eff);
        cJSON_AddNumberToObject(gs, "attention_efficiency", cv->attn_eff);
        if (pb->train.fp8)
            cJSON_AddNumberToObject(gs, "fp8_max_efficiency", cv->gemm_eff_max_fp8);
    }
    cJSON_AddNumberToObject(cvo, "link_efficiency", cv->link_eff);
    cJSON_AddNumberToObject(cvo, "group_efficiency_c", cv->group_c);
    cJSON_AddNumberToObject(cvo, "nvlink_efficiency", zp_nvlink_eff(cv));
    cJSON_AddNumberToObject(cvo, "overlap_efficiency", cv->overlap_eff);
    cJSON_AddNumberToObject(cvo, "dp_overlap_efficiency", zp_conv_dp_overlap(cv));
    cJSON_AddNumberToObject(cvo, "host_adam_params_per_s", cv->cpu_adam_params_per_s);
    cJSON_AddNumberToObject(cvo, "elementwise_gbps", cv->elementwise_bps / 1e9);
    cJSON_AddNumberToObject(cvo, "eager_hbm_efficiency", cv->eager_hbm_eff);
    cJSON_AddBoolToObject(cvo, "backward_workspace", cv->bwd_workspace);
    cJSON_AddBoolToObject(cvo, "tp_overlap", cv->tp_overlap);
    cJSON_AddStringToObject(cvo, "grad_reduce", zp_grad_overlap_names[cv->grad_overlap]);
    cJSON_AddBoolToObject(cvo, "tp_grad_overlap", cv->tp_grad_overlap);
    cJSON_AddBoolToObject(cvo, "p2p_blocking", cv->p2p_blocking);
    cJSON_AddBoolToObject(cvo, "p2p_overlap", cv->p2p_overlap);
    cJSON_AddBoolToObject(cvo, "param_gather_overlap", cv->param_gather_overlap);
    cJSON_AddStringToObject(cvo, "attention_kernel", zp_attn_kernel_names[cv->attn_kernel]);
    cJSON_AddStringToObject(cvo, "gemm_ceiling", zp_gemm_ceiling_names[cv->gemm_bench]);
    cJSON_AddStringToObject(cvo, "adam_impl", zp_adam_impl_names[cv->adam_foreach]);
    cJSON_AddStringToObject(cvo, "grad_sum", zp_grad_sum_names[cv->grad_sum_copy]);
    cJSON_AddStringToObject(cvo, "pp_outputs", zp_pp_out_names[cv->pp_out]);
    cJSON_AddStringToObject(cvo, "act_offload_mode", zp_act_off_names[cv->act_offload]);
    cJSON_AddStringToObject(cvo, "sp_inputs", zp_sp_in_names[pb->train.sp_gathered ? 1 : 0]);
    cJSON_AddStringToObject(cvo, "score_grads", zp_score_grads_names[cv->score_grads]);
    cJSON_AddBoolToObject(cvo, "lp_grads", cv->lp_grads);
    cJSON_AddBoolToObject(cvo, "zero2_reshard", cv->zero2_reshard);
    cJSON_AddBoolToObject(cvo, "eager", cv->eager);
    cJSON_AddBoolToObject(cvo, "ce_unfused", cv->ce_unfused);
    if (cv->framework[0])
        cJSON_AddStringToObject(cvo, "framework", cv->framework);
    cJSON_AddStringToObject(cvo, "units", units_n[a->units]);

    cJSON_AddNumberToObject(o, "candidates_evaluated", (double)a->sr.evaluated);
    /* of those, rejected by a rule before their memory was worked out */
    double rule = 0;
    for (int i = 1; i < ZP_REJ_N; i++)
        if (i != ZP_REJ_DEVICE_MEM && i != ZP_REJ_HOST_MEM)
            rule += (double)a->sr.rejected[i];
    cJSON_AddNumberToObject(o, "candidates_rule_rejected", rule);
    cJSON_AddNumberToObject(o, "fitting", (double)a->sr.rejected[ZP_REJ_NONE]);
    cJSON_AddNumberToObject(o, "act_offload_tried", (double)a->sr.act_tried);
    cJSON_AddNumberToObject(o, "act_offload_fit", (double)a->sr.act_fit);
    cJSON *rj = cJSON_AddObjectToObject(o, "rejected");
    for (int i = 1; i < ZP_REJ_N; i++)
        cJSON_AddNumberToObject(rj, zp_reject_names[i], (double)a->sr.rejected[i]);

    cJSON *plans = cJSON_AddArrayToObject(o, "plans");
    if (a->pinned_all) {
        if (a->have_chosen)
            cJSON_AddItemToArray(plans, plan_json(&a->chosen));
    } else
        for (int i = 0; i < a->sr.ntop; i++) {
            cJSON *pj = plan_json(&a->top[i]);
            if (a->same && a->same[i][0])   /* the other settings of the same result */
                cJSON_AddStringToObject(pj, "same_result_with", a->same[i]);
            cJSON_AddItemToArray(plans, pj);
        }

    if (a->have_chosen) {
        cJSON *ch = plan_json(&a->chosen);
        cJSON *st = cJSON_AddArrayToObject(ch, "stages");
        for (int64_t k = 0; k < a->chosen.lay.pp; k++) {
            cJSON *so = cJSON_CreateObject();
            cJSON_AddNumberToObject(so, "stage", (double)k);
            cJSON_AddItemToObject(so, "memory_bytes", mem_json(stages[k].dev, stages[k].dev_total, 0));
            cJSON_AddItemToObject(so, "host_bytes", mem_json(stages[k].host, stages[k].host_total, 1));
            cJSON_AddItemToArray(st, so);
        }
        cJSON_AddItemToObject(ch, "comm", comm_json(comm));
        if (a->have_partial) {
            cJSON *pr = cJSON_AddObjectToObject(ch, "partial_recompute");
            cJSON_AddNumberToObject(pr, "ckpt_layers", (double)a->partial_n);
            cJSON_AddNumberToObject(pr, "blocks", (double)a->partial_of);
            cJSON_AddNumberToObject(pr, "memory_bytes", (double)a->partial.mem.dev_total);
            cJSON_AddNumberToObject(pr, "step_time_s", a->partial.cost.step_s);
        }
        cJSON_AddItemToObject(o, "chosen", ch);
    } else
        cJSON_AddNullToObject(o, "chosen");
    if (a->sr.have_closest && !a->have_chosen)
        cJSON_AddItemToObject(o, "closest", plan_json(&a->sr.closest));

    cJSON *cl = cJSON_AddArrayToObject(o, "classic");
    for (int i = 0; i < 7; i++) {
        cJSON *x = a->classic[i].have ? plan_json(&a->classic[i].plan) : cJSON_CreateObject();
        cJSON_AddStringToObject(x, "strategy", a->classic[i].name);
        if (!a->classic[i].have)
            cJSON_AddStringToObject(x, "invalid", a->classic[i].why[0] ? a->classic[i].why
                                                                      : "no valid layout for this strategy on this cluster");
        cJSON_AddItemToArray(cl, x);
    }
    cJSON *sg = cJSON_AddArrayToObject(o, "suggestions");
    for (int i = 0; i < a->nsugg; i++)
        cJSON_AddItemToArray(sg, cJSON_CreateString(a->sugg[i]));
    return o;
}

/* ------------------------------------------------------------ executions
 * An execution record (zplan exec's --json, the executions table): what
 * show and report read of it.  A row still running, or lost, has only its
 * id and status. */
static const char *const status_n[] = {"running", "ok", "oom", "failed", "interrupted", "lost", NULL};
static const zp_field cls_f[] = {MEMO("params"), MEMO("grads"), MEMO("optimizer"), MEMO("activations"),
                                 MEMO("buffers"), MEMO("peak"), {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field rt_f[] = {MEMO("context"), MEMO("blas"), MEMO("communicator"), MEMO("rounding"),
                                MEMO("device_total"), MEMO("gpu_total"), MEMO("gpu_used_at_peak"),
                                {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field rts_f[] = {{"predicted", ZP_F_OBJ, 0, 0, NULL, rt_f, 1, 0},
                                 {"measured", ZP_F_OBJ, 0, 0, NULL, rt_f, 1, 0},
                                 {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
/* bytes per step of a rank's groups (tensor, pipeline and context layouts) */
static const zp_field rbus_f[] = {MEMO("all-reduce"), MEMO("reduce-scatter"), MEMO("all-gather"), MEMO("broadcast"),
                                  MEMO("send/recv"), {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field rgroups_f[] = {{"dp", ZP_F_OBJ, 0, 0, NULL, rbus_f, 1, 0},
                                     {"tp", ZP_F_OBJ, 0, 0, NULL, rbus_f, 1, 0},
                                     {"pp", ZP_F_OBJ, 0, 0, NULL, rbus_f, 1, 0},
                                     {"embedding", ZP_F_OBJ, 0, 0, NULL, rbus_f, 1, 0},
                                     {"cp", ZP_F_OBJ, 0, 0, NULL, rbus_f, 1, 0},
                                     {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field rank_f[] = {
    {"rank", ZP_F_INT, 0, P2(24), NULL, NULL, 0, 0},
    /* its coordinates and stage (absent before tensor and pipeline layouts
     * ran: all 0) */
    {"tp_rank", ZP_F_INT, 0, P2(24), NULL, NULL, 1, 0},
    {"cp_rank", ZP_F_INT, 0, P2(24), NULL, NULL, 1, 0},
    {"dp_rank", ZP_F_INT, 0, P2(24), NULL, NULL, 1, 0},
    {"pp_rank", ZP_F_INT, 0, P2(24), NULL, NULL, 1, 0},
    {"bus_bytes_per_group", ZP_F_OBJ, 0, 0, NULL, rgroups_f, 1, 0},
    {"pipeline_wait_s", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 0},
    {"predicted_bytes", ZP_F_OBJ, 0, 0, NULL, cls_f, 1, 0},
    {"measured_bytes", ZP_F_OBJ, 0, 0, NULL, cls_f, 1, 0},
    {"predicted_phase", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"host_predicted_bytes", ZP_F_NUM, 0, BYTES, NULL, NULL, 1, 0},
    {"host_measured_bytes", ZP_F_NUM, 0, BYTES, NULL, NULL, 1, 0},
    {"runtime_bytes", ZP_F_OBJ, 0, 0, NULL, rts_f, 1, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
static const zp_field exmodel_f[] = {
    {"params", ZP_F_NUM, 0, 1e16, NULL, NULL, 1, 0},   {"layers", ZP_F_INT, 1, 100000, NULL, NULL, 1, 0},
    {"hidden", ZP_F_INT, 1, P2(20), NULL, NULL, 1, 0}, {"heads", ZP_F_INT, 1, P2(20), NULL, NULL, 1, 0},
    {"vocab", ZP_F_INT, 1, P2(24), NULL, NULL, 1, 0},  {"seq", ZP_F_INT, 1, P2(20), NULL, NULL, 1, 0},
    /* the architecture (absent before the engine built the LLaMA family's
     * blocks: GPT-2's) */
    {"kv_heads", ZP_F_INT, 1, P2(20), NULL, NULL, 1, 0}, {"ffn", ZP_F_INT, 1, P2(23), NULL, NULL, 1, 0},
    {"mlp", ZP_F_STR, 0, 0, mlp_n, NULL, 1, 0},          {"norm", ZP_F_STR, 0, 0, norm_n, NULL, 1, 0},
    {"position", ZP_F_STR, 0, 0, pos_n, NULL, 1, 0},     {"tied_embeddings", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},
    {"bias", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
static const zp_field pm_f[] = {{"predicted", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 1},
                                {"measured", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 1},
                                {"by_kind", ZP_F_OBJ, 0, 0, NULL, NULL, 1, 0},
                                {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field gemm_time_f[] = {{"predicted", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 1},
                                       {"preset_curve", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 0},
                                       {"preset", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
                                       {"measured", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 1},
                                       {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field exec_f[] = {
    {"exec_id", ZP_F_INT, 1, 1e15, NULL, NULL, 0, 0},
    {"status", ZP_F_STR, 0, 0, status_n, NULL, 0, 0},
    {"run_id", ZP_F_INT, 1, 1e15, NULL, NULL, 1, 0},
    {"plan", ZP_F_INT, 1, 1000, NULL, NULL, 1, 0},
    {"ranks", ZP_F_INT, 1, P2(24), NULL, NULL, 1, 0},
    {"steps", ZP_F_INT, 1, 1e9, NULL, NULL, 1, 0},
    {"steps_done", ZP_F_INT, 0, 1e9, NULL, NULL, 1, 0},
    {"reason", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"error", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"backend", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"gpu", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"dp", ZP_F_INT, 1, P2(24), NULL, NULL, 1, 0},
    {"tp", ZP_F_INT, 1, P2(24), NULL, NULL, 1, 0},
    {"pp", ZP_F_INT, 1, P2(24), NULL, NULL, 1, 0},
    {"vp", ZP_F_INT, 1, P2(20), NULL, NULL, 1, 0},
    {"cp", ZP_F_INT, 1, P2(24), NULL, NULL, 1, 0},
    {"zero", ZP_F_INT, 0, 3, NULL, NULL, 1, 0},
    {"offload", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"ckpt", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"flash_attention", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},   /* absent before the engine had it: off */
    {"gemm_math", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},          /* absent before the engine had it: fp32 */
    {"micro_batch", ZP_F_INT, 1, P2(24), NULL, NULL, 1, 0},
    {"grad_accum", ZP_F_INT, 1, P2(24), NULL, NULL, 1, 0},
    {"dtype", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"grad_dtype", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"loss_scale", ZP_F_NUM, 0, 1e40, NULL, NULL, 1, 0},
    {"skipped_steps", ZP_F_INT, 0, 1e9, NULL, NULL, 1, 0},
    {"model", ZP_F_OBJ, 0, 0, NULL, exmodel_f, 1, 0},
    {"losses", ZP_F_ARR, -BIG, BIG, NULL, NULL, 1, 1},
    {"step_time_s", ZP_F_OBJ, 0, 0, NULL, pm_f, 1, 0},
    {"gemm_time_s", ZP_F_OBJ, 0, 0, NULL, gemm_time_f, 1, 0},   /* absent before it was recorded */
    {"comm_bytes_per_step", ZP_F_OBJ, 0, 0, NULL, pm_f, 1, 0},
    {"per_rank", ZP_F_ARR, 0, 0, NULL, rank_f, 1, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};

zp_status zp_exec_record_check(const cJSON *rec, const char *what, zp_err *e)
{
    /* a stored record that did not parse as an object (show.c keeps its text) */
    if (cJSON_GetObjectItemCaseSensitive(rec, "stored_record"))
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: not a JSON object (truncated or edited?)",
                          what);
    zp_status st = zp_schema_check(rec, exec_f, what, e);
    if (st)
        return st;
    /* the layout covers the ranks launched (exec: ranks = dp tp pp cp) */
    const cJSON *rk = cJSON_GetObjectItemCaseSensitive(rec, "ranks");
    static const char *const dims[] = {"dp", "tp", "pp", "cp"};
    double prod = 1.0;
    int any = 0;
    for (int i = 0; i < 4; i++)
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(rec, dims[i]))) {
            prod *= zp_jnum(rec, dims[i]);   /* an absent one: 1 */
            any = 1;
        }
    if (cJSON_IsNumber(rk) && any) {
        if (prod != rk->valuedouble)
            return zp_err_set(e, ZP_EINVAL, "%s: dp x tp x pp x cp = %.0f, but ranks is %.0f (allowed: a layout of "
                              "the ranks launched)", what, prod, rk->valuedouble);
    }
    return ZP_OK;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The measured step time of progress lines alone (a run ended early), as
 * the engine reports a finished run's: the steps' times sorted, the one at
 * n / 2; 0 when there are none. */
static double progress_step_s(const cJSON *progress)
{
    int all = cJSON_GetArraySize(progress), from = all > 1, n = all - from;
    if (all < 1)
        return 0.0;
    double *t = malloc((size_t)n * sizeof *t);
    if (!t)
        return 0.0;
    for (int i = 0; i < n; i++)   /* from the second step (the first warms up) */
        t[i] = zp_jnum(cJSON_GetArrayItem(progress, from + i), "time_s");
    qsort(t, (size_t)n, sizeof *t, cmp_dbl);
    double m = t[n / 2];
    free(t);
    return m;
}

static cJSON *classes_json(const uint64_t *dev, uint64_t peak)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < ZP_MEM_OVERHEAD; k++)
        cJSON_AddNumberToObject(o, zp_mem_class_names[k], (double)dev[k]);
    cJSON_AddNumberToObject(o, "peak", (double)peak);
    return o;
}

cJSON *zp_exec_record_json(const zp_exec_view *v)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddNumberToObject(rec, "exec_id", (double)v->exec_id);
    cJSON_AddNumberToObject(rec, "run_id", (double)v->run_id);
    cJSON_AddNumberToObject(rec, "plan", (double)v->plan);
    cJSON_AddStringToObject(rec, "status", v->status);
    cJSON_AddNumberToObject(rec, "launcher_exit", v->launcher_exit);
    if (strcmp(v->status, "ok") != 0)
        cJSON_AddStringToObject(rec, "reason", v->launcher_exit == 124 ? "timed out (--timeout)" : v->launcher_exit == 130 ? "interrupted"
                                : strcmp(v->status, "oom") == 0 ? "the device pool cap (--device-mem) was exceeded"
                                : v->engine ? "a rank failed" : v->malformed[0] ? v->malformed
                                : "no result from the ranks (see the launcher's messages)");
    cJSON_AddStringToObject(rec, "backend", v->backend);
    if (v->cuda) {
        cJSON_AddStringToObject(rec, "gpu", *zp_jstr(v->engine, "device") ? zp_jstr(v->engine, "device") : v->gpu);
        if (*zp_jstr(v->engine, "group"))
            cJSON_AddStringToObject(rec, "group", zp_jstr(v->engine, "group"));
        /* ranks sharing a GPU: memory per rank is real, time is not that of
         * separate GPUs */
        cJSON_AddBoolToObject(rec, "shared_gpu", v->shared_gpu);
        cJSON_AddNumberToObject(rec, "ranks_per_gpu", (double)v->ranks_per_gpu);
        cJSON_AddStringToObject(rec, "overhead_source", v->overhead_source);
    }
    if (*zp_jstr(v->engine, "error"))
        cJSON_AddStringToObject(rec, "error", zp_jstr(v->engine, "error"));
    cJSON_AddNumberToObject(rec, "ranks", (double)v->ranks);
    cJSON_AddNumberToObject(rec, "steps", (double)v->steps);
    cJSON_AddStringToObject(rec, "scale", v->scale ? v->scale : "none");
    cJSON_AddNumberToObject(rec, "dp", (double)v->lay->dp);
    cJSON_AddNumberToObject(rec, "tp", (double)v->lay->tp);
    cJSON_AddNumberToObject(rec, "pp", (double)v->lay->pp);
    cJSON_AddNumberToObject(rec, "vp", (double)(v->lay->vp > 1 ? v->lay->vp : 1));
    cJSON_AddNumberToObject(rec, "cp", (double)zp_cp(v->lay));
    cJSON_AddBoolToObject(rec, "sp", v->lay->sp && v->lay->tp > 1);
    cJSON_AddNumberToObject(rec, "zero", v->lay->zero);
    cJSON_AddStringToObject(rec, "offload", zp_offload_names[v->lay->offload]);
    cJSON_AddStringToObject(rec, "ckpt", zp_ckpt_names[v->lay->ckpt]);
    /* the attention the engine ran (the plan's, when it did not say):
     * flash-style keeps each row's log-sum-exp, else the probabilities */
    cJSON_AddBoolToObject(rec, "flash_attention", v->engine && zp_jobj(v->engine, "flash_attention")
                                                      ? zp_jflag(v->engine, "flash_attention")
                                                      : v->train->flash);
    /* the linear layers' products as the engine ran them (as exec asked,
     * when it did not say: exec_run.c): "fp32" exact, "bf16"/"fp16"
     * 16-bit operands summed in fp32 (tensor cores) */
    const char *asked = v->train->tensor_math && v->train->dtype != ZP_DT_FP32 ? zp_dtype_names[v->train->dtype]
                                                                                : "fp32";
    cJSON_AddStringToObject(rec, "gemm_math", v->engine && *zp_jstr(v->engine, "gemm_math")
                                                  ? zp_jstr(v->engine, "gemm_math") : asked);
    cJSON_AddNumberToObject(rec, "micro_batch", (double)v->lay->micro_batch);
    cJSON_AddNumberToObject(rec, "grad_accum", (double)v->lay->grad_accum);
    cJSON_AddNumberToObject(rec, "device_cap_bytes", (double)v->device_cap);
    /* the storage types as the engine reports running them (the plan's,
     * when it did not report) */
    cJSON_AddStringToObject(rec, "dtype", v->engine && *zp_jstr(v->engine, "dtype") ? zp_jstr(v->engine, "dtype")
                                          : zp_dtype_names[v->train->dtype]);
    cJSON_AddStringToObject(rec, "grad_dtype", v->engine && *zp_jstr(v->engine, "grad_dtype") ? zp_jstr(v->engine, "grad_dtype")
                                               : zp_dtype_names[v->train->grad_dtype]);
    if (v->engine && zp_jobj(v->engine, "skipped_steps")) {
        cJSON_AddNumberToObject(rec, "skipped_steps", zp_jnum(v->engine, "skipped_steps"));
        cJSON_AddNumberToObject(rec, "loss_scale", zp_jnum(v->engine, "loss_scale"));
    }
    cJSON *mo = cJSON_AddObjectToObject(rec, "model");
    cJSON_AddNumberToObject(mo, "params", (double)zp_model_params(v->model));
    cJSON_AddNumberToObject(mo, "layers", (double)v->model->layers);
    cJSON_AddNumberToObject(mo, "hidden", (double)v->model->hidden);
    cJSON_AddNumberToObject(mo, "heads", (double)v->model->heads);
    cJSON_AddNumberToObject(mo, "vocab", (double)v->model->vocab);
    cJSON_AddNumberToObject(mo, "seq", (double)v->train->seq);
    cJSON_AddNumberToObject(mo, "kv_heads", (double)v->model->kv_heads);
    cJSON_AddNumberToObject(mo, "ffn", (double)v->model->ffn);
    cJSON_AddStringToObject(mo, "mlp", mlp_n[v->model->mlp]);
    cJSON_AddStringToObject(mo, "norm", norm_n[v->model->norm]);
    cJSON_AddStringToObject(mo, "position", pos_n[v->model->pos]);
    cJSON_AddBoolToObject(mo, "tied_embeddings", v->model->tied);
    cJSON_AddBoolToObject(mo, "bias", v->model->bias);
    /* the losses the engine reported; of a run ended early, those of the
     * steps it finished (its progress lines) */
    cJSON *ls = cJSON_AddArrayToObject(rec, "losses");
    const cJSON *x;
    if (zp_jobj(v->engine, "losses")) {
        cJSON_ArrayForEach(x, zp_jobj(v->engine, "losses"))   /* null: not finite (a diverged step) */
            cJSON_AddItemToArray(ls, cJSON_IsNumber(x) ? cJSON_CreateNumber(x->valuedouble) : cJSON_CreateNull());
    } else
        cJSON_ArrayForEach(x, v->progress) cJSON_AddItemToArray(ls, cJSON_IsNumber(zp_jobj(x, "loss"))
                                                                 ? cJSON_CreateNumber(zp_jnum(x, "loss"))
                                                                 : cJSON_CreateNull());   /* not finite */
    cJSON_AddNumberToObject(rec, "steps_done", cJSON_GetArraySize(ls));
    cJSON *sm = cJSON_AddObjectToObject(rec, "step_time_s");
    if (v->profile) {
        cJSON_AddNumberToObject(sm, "predicted", v->cost->step_s);
        cJSON_AddStringToObject(rec, "profile", v->profile);
        cJSON *pp = cJSON_AddObjectToObject(rec, "predicted_time_s");
        cJSON_AddNumberToObject(pp, "compute", v->cost->compute_s);
        cJSON_AddNumberToObject(pp, "comm_exposed", v->cost->comm_exposed_s);
        cJSON_AddNumberToObject(pp, "optimizer", v->cost->optimizer_s);
    } else
        cJSON_AddNullToObject(sm, "predicted");
    if (zp_jobj(v->engine, "phase_time_s"))
        cJSON_AddItemToObject(rec, "measured_time_s", cJSON_Duplicate(zp_jobj(v->engine, "phase_time_s"), 1));
    {   /* null when no step finished (nothing was measured, not 0 s) */
        double ms = zp_jobj(v->engine, "step_time_s") ? zp_jnum(v->engine, "step_time_s") : progress_step_s(v->progress);
        if (ms > 0)
            cJSON_AddNumberToObject(sm, "measured", ms);
        else
            cJSON_AddNullToObject(sm, "measured");
    }
    {   /* the products' time a step (the matmuls and the attention's
         * products or fused kernel): the planner's with the profile, by the
         * device preset's default curve (on a GPU), the engine's as timed
         * around its GEMMs (0 where a row does not time them: null) */
        cJSON *gt = cJSON_AddObjectToObject(rec, "gemm_time_s");
        if (v->profile)
            cJSON_AddNumberToObject(gt, "predicted", v->cost->gemm_s);
        else
            cJSON_AddNullToObject(gt, "predicted");
        if (v->gemm_preset_gpu && v->gemm_preset_s >= 0) {
            cJSON_AddNumberToObject(gt, "preset_curve", v->gemm_preset_s);
            cJSON_AddStringToObject(gt, "preset", v->gemm_preset_gpu);
        }
        double gs = zp_jnum(zp_jobj(v->engine, "gemm"), "seconds_per_step");
        if (gs > 0)
            cJSON_AddNumberToObject(gt, "measured", gs);
        else
            cJSON_AddNullToObject(gt, "measured");
    }
    cJSON *cb = cJSON_AddObjectToObject(rec, "comm_bytes_per_step");
    cJSON_AddNumberToObject(cb, "predicted", (double)v->comm->bytes_per_step);
    cJSON_AddNumberToObject(cb, "measured", zp_jnum(zp_jobj(v->engine, "bus_bytes_per_step"), "total"));
    {   /* per kind of collective (and pool-to-pool copy), each as the total */
        uint64_t pk[ZP_COLL_NKIND] = {0};
        for (int i = 0; i < v->comm->n; i++)
            pk[v->comm->c[i].kind] += v->comm->c[i].bus_bytes;
        cJSON *bk = cJSON_AddObjectToObject(cb, "by_kind");
        for (int kk = 0; kk < ZP_COLL_NKIND; kk++) {
            double mk = zp_jnum(zp_jobj(v->engine, "bus_bytes_per_step"), zp_coll_kind_names[kk]);
            if (!pk[kk] && mk == 0.0)
                continue;
            cJSON *o1 = cJSON_AddObjectToObject(bk, zp_coll_kind_names[kk]);
            cJSON_AddNumberToObject(o1, "predicted", (double)pk[kk]);
            cJSON_AddNumberToObject(o1, "measured", mk);
        }
    }
    {   /* per group of ranks (rank 0's: the first stage's), where the
         * engine reports them: the data- (dp x cp), tensor-, pipeline- and
         * context-parallel groups and the tied embedding's */
        static const struct { zp_group g; const char *name; } gn[] = {
            {ZP_GRP_DP, "dp"}, {ZP_GRP_TP, "tp"}, {ZP_GRP_PP, "pp"}, {ZP_GRP_EMB, "embedding"}, {ZP_GRP_CP, "cp"}};
        const cJSON *eg = zp_jobj(v->engine, "bus_bytes_per_group");
        if (eg) {
            cJSON *bg = cJSON_AddObjectToObject(cb, "by_group");
            for (size_t gi = 0; gi < sizeof gn / sizeof gn[0]; gi++) {
                uint64_t pg = 0;
                double mg = 0.0;
                for (int i = 0; i < v->comm->n; i++)
                    pg += v->comm->c[i].group == gn[gi].g ? v->comm->c[i].bus_bytes : 0;
                const cJSON *e1 = zp_jobj(eg, gn[gi].name), *it;
                cJSON_ArrayForEach(it, e1)
                    mg += cJSON_IsNumber(it) ? it->valuedouble : 0.0;
                cJSON *o1 = cJSON_AddObjectToObject(bg, gn[gi].name);
                cJSON_AddNumberToObject(o1, "predicted", (double)pg);
                cJSON_AddNumberToObject(o1, "measured", mg);
            }
        }
    }
    cJSON *pr = cJSON_AddArrayToObject(rec, "per_rank");
    cJSON_ArrayForEach(x, zp_jobj(v->engine, "per_rank"))
    {
        cJSON *r = cJSON_CreateObject();
        const cJSON *cp = zp_jobj(x, "device_class_peaks"), *hp = zp_jobj(x, "host_class_peaks");
        /* the rank's stage's prediction (pipelines: each stage its own) */
        int64_t stage = (int64_t)zp_jnum(x, "pp_rank");
        const zp_mem *mem = v->stage_mem && stage >= 0 && stage < v->nstages ? &v->stage_mem[stage] : v->mem;
        cJSON_AddNumberToObject(r, "rank", zp_jnum(x, "rank"));
        cJSON_AddNumberToObject(r, "stage", (double)stage);
        cJSON_AddNumberToObject(r, "tp_rank", zp_jnum(x, "tp_rank"));
        cJSON_AddNumberToObject(r, "cp_rank", zp_jnum(x, "cp_rank"));
        cJSON_AddNumberToObject(r, "dp_rank", zp_jnum(x, "dp_rank"));
        cJSON_AddNumberToObject(r, "pp_rank", (double)stage);
        if (zp_jobj(x, "bus_bytes_per_group"))
            cJSON_AddItemToObject(r, "bus_bytes_per_group", cJSON_Duplicate(zp_jobj(x, "bus_bytes_per_group"), 1));
        cJSON_AddNumberToObject(r, "pipeline_wait_s", zp_jnum(x, "pipeline_wait_s"));
        cJSON_AddItemToObject(r, "predicted_bytes", classes_json(mem->dev, mem->dev_total - mem->dev[ZP_MEM_OVERHEAD]));
        /* the classes as they stood at the measured peak of the phase the
         * planner puts the peak in (like for like), and the overall peak;
         * the engine measures "backward" and "loss": its AdamW is fused
         * (exec.c sets adam_foreach 0), so the planner's peak for it is
         * never the foreach step, nor eager attention's moment (exec.c sets
         * eager 0) */
        const cJSON *at = zp_jobj(zp_jobj(x, "device_phases"), zp_phase_names[mem->phase]);
        cJSON *mb = cJSON_CreateObject(), *mc = cJSON_CreateObject();
        for (int c = 0; c < ZP_MEM_OVERHEAD; c++) {
            cJSON_AddNumberToObject(mb, zp_mem_class_names[c], zp_jnum(at, zp_mem_class_names[c]));
            cJSON_AddNumberToObject(mc, zp_mem_class_names[c], zp_jnum(cp, zp_mem_class_names[c]));
        }
        cJSON_AddNumberToObject(mb, "peak", zp_jnum(x, "device_peak"));
        cJSON_AddItemToObject(r, "measured_bytes", mb);
        cJSON_AddItemToObject(r, "measured_class_peaks", mc);
        cJSON_AddStringToObject(r, "predicted_phase", zp_phase_names[mem->phase]);
        cJSON_AddStringToObject(r, "peak_phase", zp_jstr(x, "peak_phase"));
        cJSON_AddNumberToObject(r, "host_predicted_bytes", (double)mem->host_total);
        cJSON_AddNumberToObject(r, "host_measured_bytes", zp_jnum(hp, "total"));
        cJSON_AddNumberToObject(r, "rss_bytes", zp_jnum(x, "rss_bytes"));
        if (v->cuda) {   /* the runtime's device memory: predicted beside measured */
            const cJSON *rb = zp_jobj(x, "runtime_bytes");
            uint64_t tensors = mem->dev_total - mem->dev[ZP_MEM_OVERHEAD];
            cJSON *rt = cJSON_AddObjectToObject(r, "runtime_bytes"), *rp = cJSON_AddObjectToObject(rt, "predicted"),
                  *rm = cJSON_AddObjectToObject(rt, "measured");
            cJSON_AddNumberToObject(rp, "context", (double)v->pr_ctx);
            cJSON_AddNumberToObject(rp, "blas", (double)v->pr_blas);
            cJSON_AddNumberToObject(rp, "communicator", (double)v->pr_comm);
            cJSON_AddNumberToObject(rp, "rounding", (double)v->pr_round);
            cJSON_AddNumberToObject(rp, "device_total", (double)(tensors + v->pr_ctx + v->pr_blas + v->pr_comm + v->pr_round));
            cJSON_AddNumberToObject(rp, "gpu_total", (double)(tensors + v->pr_ctx + v->pr_blas + v->pr_comm + v->pr_round) *
                                                         (double)v->ranks_per_gpu);
            double rounded = zp_jnum(rb, "tensors_rounded_at_peak"), peak = zp_jnum(x, "device_peak");
            cJSON_AddNumberToObject(rm, "context", zp_jnum(rb, "context"));
            cJSON_AddNumberToObject(rm, "blas", zp_jnum(rb, "blas"));
            cJSON_AddNumberToObject(rm, "communicator", zp_jnum(rb, "communicator"));
            cJSON_AddNumberToObject(rm, "rounding", rounded > peak ? rounded - peak : 0.0);
            /* the device's used bytes (cudaMemGetInfo) when this rank's
             * tensors peaked, less what the GPU used before its context:
             * with ranks sharing the GPU, theirs too */
            double used = zp_jnum(rb, "device_used_at_peak");
            cJSON_AddNumberToObject(rm, "gpu_used_at_peak", used);
        }
        cJSON_AddItemToArray(pr, r);
    }
    return rec;
}

/* ------------------------------------------------------------ the engine
 * What zplan-engine prints (backend/engine_main.c writes it; it is a
 * separate program that never sees src/): the one object exec reads. */
static const zp_field eclass_f[] = {MEMO("params"), MEMO("grads"), MEMO("optimizer"), MEMO("activations"),
                                    MEMO("buffers"), MEMO("total"), MEMO("peak"), {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
/* the phases exec compares with the planner's peak (zp_phase_names) */
static const zp_field ephase_f[] = {{"backward", ZP_F_OBJ, 0, 0, NULL, eclass_f, 1, 0},
                                    {"loss", ZP_F_OBJ, 0, 0, NULL, eclass_f, 1, 0},
                                    {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
/* a GPU's own memory (backend/cuda/device_cuda.c) */
static const zp_field eruntime_f[] = {MEMO("context"), MEMO("blas"), MEMO("communicator"),
                                      MEMO("tensors_rounded_at_peak"), MEMO("device_used_at_peak"),
                                      {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
/* bus bytes per step by kind (zp_coll_kind_names) and in all */
static const zp_field ebus_f[] = {MEMO("all-reduce"), MEMO("reduce-scatter"), MEMO("all-gather"), MEMO("broadcast"),
                                  MEMO("reduce"), MEMO("send/recv"), MEMO("host-to-device"), MEMO("device-to-host"),
                                  MEMO("total"), {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field erank_f[] = {
    {"rank", ZP_F_INT, 0, P2(24), NULL, NULL, 0, 0},
    {"tp_rank", ZP_F_INT, 0, P2(24), NULL, NULL, 1, 0},
    {"cp_rank", ZP_F_INT, 0, P2(24), NULL, NULL, 1, 0},
    {"dp_rank", ZP_F_INT, 0, P2(24), NULL, NULL, 1, 0},
    {"pp_rank", ZP_F_INT, 0, P2(24), NULL, NULL, 1, 0},
    {"bus_bytes_per_group", ZP_F_OBJ, 0, 0, NULL, rgroups_f, 1, 0},
    {"pipeline_wait_s", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 0},
    {"device_class_peaks", ZP_F_OBJ, 0, 0, NULL, eclass_f, 0, 0},
    {"device_at_peak", ZP_F_OBJ, 0, 0, NULL, eclass_f, 1, 0},
    {"device_peak", ZP_F_NUM, 0, BYTES, NULL, NULL, 0, 0},
    {"peak_phase", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"host_class_peaks", ZP_F_OBJ, 0, 0, NULL, eclass_f, 0, 0},
    {"device_phases", ZP_F_OBJ, 0, 0, NULL, ephase_f, 0, 0},
    {"rss_bytes", ZP_F_NUM, 0, BYTES, NULL, NULL, 1, 0},
    {"runtime_bytes", ZP_F_OBJ, 0, 0, NULL, eruntime_f, 1, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
/* Every field exec copies into the record, in the record's ranges (exec_f),
 * so that what exec writes, show and report accept. */
static const zp_field egemm_f[] = {{"seconds_per_step", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 0},
                                   {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field engine_f[] = {
    {"status", ZP_F_STR, 0, 0, NULL, NULL, 0, 0},
    {"ranks", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0},
    {"error", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"device", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"group", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"losses", ZP_F_ARR, -BIG, BIG, NULL, NULL, 1, 1},
    {"step_time_s", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 0},
    {"dtype", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"grad_dtype", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"flash_attention", ZP_F_BOOL, 0, 0, NULL, NULL, 1, 0},
    {"gemm_math", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"skipped_steps", ZP_F_INT, 0, 1e9, NULL, NULL, 1, 0},
    {"loss_scale", ZP_F_NUM, 0, 1e40, NULL, NULL, 1, 0},
    {"gemm", ZP_F_OBJ, 0, 0, NULL, egemm_f, 1, 0},
    {"phase_time_s", ZP_F_OBJ, 0, 0, NULL, NULL, 1, 0},
    {"bus_bytes_per_step", ZP_F_OBJ, 0, 0, NULL, ebus_f, 1, 0},
    {"bus_bytes_per_group", ZP_F_OBJ, 0, 0, NULL, rgroups_f, 1, 0},
    {"granule_bytes", ZP_F_NUM, 0, BYTES, NULL, NULL, 1, 0},
    {"device_memory_bytes", ZP_F_NUM, 0, BYTES, NULL, NULL, 1, 0},
    {"per_rank", ZP_F_ARR, 0, 0, NULL, erank_f, 1, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
/* A progress line's "progress" (a step finished: what a run ended early
 * leaves in the record) */
static const zp_field progress_f[] = {
    {"step", ZP_F_INT, 0, 1e9, NULL, NULL, 1, 0},
    {"loss", ZP_F_NUM, -BIG, BIG, NULL, NULL, 1, 1},
    {"time_s", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};

zp_status zp_engine_output_check(const cJSON *out, zp_err *e)
{
    return zp_schema_check(out, engine_f, "the engine's output", e);
}

zp_status zp_engine_progress_check(const cJSON *progress, zp_err *e)
{
    return zp_schema_check(progress, progress_f, "the engine's progress line", e);
}

void zp_result_problem(const cJSON *r, zp_problem *pb)
{
    static const char *const mlp[] = {"gelu", "swiglu", NULL}, *const norm[] = {"layernorm", "rmsnorm", NULL},
                             *const pos[] = {"learned", "rotary", "alibi", NULL},
                             *const z3[] = {"prefetch", "deepspeed", NULL};
    const cJSON *m = zp_jobj(r, "model"), *c = zp_jobj(r, "cluster"), *t = zp_jobj(r, "training"), *cv = zp_jobj(r, "conventions");
    memset(pb, 0, sizeof *pb);
    snprintf(pb->model.name, sizeof pb->model.name, "%s", zp_jstr(m, "name"));
    pb->model.layers = (int64_t)zp_jnum(m, "layers");
    pb->model.hidden = (int64_t)zp_jnum(m, "hidden");
    pb->model.heads = (int64_t)zp_jnum(m, "heads");
    pb->model.kv_heads = (int64_t)zp_jnum(m, "kv_heads");
    pb->model.ffn = (int64_t)zp_jnum(m, "ffn");
    pb->model.vocab = (int64_t)zp_jnum(m, "vocab");
    pb->model.max_pos = (int64_t)zp_jnum(m, "max_positions");
    pb->model.tied = zp_jflag(m, "tied_embeddings");
    pb->model.bias = zp_jflag(m, "bias");
    pb->model.mlp = (zp_mlp)zp_name_index(zp_jstr(m, "mlp"), mlp);
    pb->model.norm = (zp_norm)zp_name_index(zp_jstr(m, "norm"), norm);
    pb->model.pos = (zp_pos)zp_name_index(zp_jstr(m, "position"), pos);
    /* absent in runs stored before they existed: 0, which means what those
     * runs meant (head width h / a, biases as "bias" says, serial blocks,
     * no embedding norm, no window) */
    pb->model.head_dim = (int64_t)zp_jnum(m, "head_dim");
    pb->model.qkv_bias = zp_jflag(m, "qkv_bias");
    pb->model.out_bias = zp_jflag(m, "out_bias");
    pb->model.mlp_bias = zp_jflag(m, "mlp_bias");
    pb->model.head_bias = zp_jflag(m, "head_bias");
    pb->model.embed_norm = zp_jflag(m, "embed_norm");
    pb->model.block = (zp_block)zp_name_index(zp_jstr(m, "block"), zp_block_names);
    pb->model.window = (int64_t)zp_jnum(m, "sliding_window");
    pb->model.qk_norm = zp_jflag(m, "qk_norm");   /* absent before Qwen3: none */
    pb->model.fused_proj = zp_jflag(m, "fused_proj");   /* absent before Phi-3: separate products */
    pb->model.multipliers = zp_jflag(m, "multipliers");   /* absent before Granite's: none */
    pb->model.gelu_gate = zp_jflag(m, "gelu_gate");       /* absent before GeGLU: SiLU */
    pb->model.embed_scale = zp_jflag(m, "embed_scale");   /* absent before Gemma's: none */
    pb->train.seq = (int64_t)zp_jnum(t, "seq");
    pb->train.global_batch = (int64_t)zp_jnum(t, "global_batch");
    pb->train.dtype = (zp_dtype)zp_name_index(zp_jstr(t, "dtype"), zp_dtype_names);
    pb->train.grad_dtype = (zp_dtype)zp_name_index(zp_jstr(t, "grad_dtype"), zp_dtype_names);
    pb->train.master = zp_jflag(t, "master_weights");
    pb->train.optim = (zp_optim)zp_name_index(zp_jstr(t, "optimizer"), zp_optim_names);
    pb->train.flash = zp_jflag(t, "flash_attention");
    pb->train.dropout = zp_jflag(t, "dropout");
    pb->train.fp8 = zp_jflag(t, "fp8");   /* absent before, and without FP8 */
    pb->train.ckpt_every = (int64_t)zp_jnum(t, "ckpt_every");   /* absent: every block */
    pb->train.ckpt_block = (int64_t)zp_jnum(t, "ckpt_layers");   /* absent: every block */
    pb->train.rc_modules = 0;   /* absent: the attention core */
    if (zp_jobj(t, "recompute_modules")) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", zp_jstr(t, "recompute_modules"));
        for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
            int i = rc_module(w);   /* an unknown name: zp_result_check refuses it */
            if (i >= 0)
                pb->train.rc_modules |= 1 << i;
        }
    }
    zp_gpu *g = &pb->cluster.gpu;
    snprintf(g->name, sizeof g->name, "%s", zp_jstr(c, "gpu"));
    g->mem_bytes = (uint64_t)zp_jnum(c, "gpu_memory_bytes");
    g->peak_flops[pb->train.dtype] = zp_jnum(c, "peak_flops");
    g->peak_fp8 = zp_jnum(c, "peak_fp8_flops");   /* 0 when absent */
    g->nvlink_gbps = zp_jnum(c, "nvlink_gbps");
    g->pcie_gbps = zp_jnum(c, "pcie_gbps");
    g->nic_gbps = zp_jnum(c, "inter_node_gbps");
    g->hbm_gbps = zp_jnum(c, "hbm_gbps") > 0 ? zp_jnum(c, "hbm_gbps") : 1000.0;   /* not recorded before */
    g->gpus_per_node = (int64_t)zp_jnum(c, "gpus_per_node");
    pb->cluster.gpus = (int64_t)zp_jnum(c, "gpus");
    pb->cluster.gpus_per_node = (int64_t)zp_jnum(c, "gpus_per_node");
    pb->cluster.inter_node_gbps = zp_jnum(c, "inter_node_gbps");
    pb->cluster.host_mem_bytes = (uint64_t)zp_jnum(c, "host_memory_bytes_per_node");
    g->cuda_ctx_bytes = (uint64_t)zp_jnum(cv, "cuda_context_bytes");
    g->nccl_comm_bytes = (uint64_t)zp_jnum(cv, "nccl_comm_bytes");
    g->cublas_bytes = (uint64_t)zp_jnum(cv, "cublas_bytes");   /* absent before: 0 */
    zp_conv_defaults(&pb->conv, g);
    pb->conv.zero3_buffer = (zp_z3buf)zp_name_index(zp_jstr(cv, "zero3_buffer"), z3);
    pb->conv.zero3_regather_all = strcmp(zp_jstr(cv, "zero3_regather"), "blocks") != 0;
    pb->conv.bucket_elems = (int64_t)zp_jnum(cv, "bucket_elems");
    pb->conv.frag = zp_jnum(cv, "fragmentation");
    pb->conv.frag_rebuilt = zp_jobj(cv, "fragmentation_rebuilt") ? zp_jnum(cv, "fragmentation_rebuilt") : pb->conv.frag;
    pb->conv.torch_blas_ws_bytes = (uint64_t)zp_jnum(cv, "torch_blas_workspace_bytes");   /* absent before: 0 */
    pb->conv.alloc_granule_bytes = (uint64_t)zp_jnum(cv, "alloc_granule_bytes");
    pb->conv.gemm_eff = zp_jnum(cv, "gemm_efficiency");
    const cJSON *gs = zp_jobj(cv, "gemm_by_shape");   /* absent before, and with a constant */
    if (gs) {
        pb->conv.gemm.eff_max = pb->conv.gemm_eff;
        pb->conv.gemm_eff = 0;
        pb->conv.gemm.sms = (int64_t)zp_jnum(gs, "sms");
        pb->conv.gemm.k_half = zp_jnum(gs, "k_half");
        pb->conv.gemm.hbm_gbps = g->hbm_gbps = zp_jnum(gs, "hbm_gbps");
        pb->conv.kernel_s = zp_jnum(gs, "kernel_us") * 1e-6;
        pb->conv.hbm_eff = zp_jnum(gs, "hbm_efficiency");
        pb->conv.attn_eff = zp_jnum(gs, "attention_efficiency");
        if (zp_jnum(gs, "fp8_max_efficiency") > 0)
            pb->conv.gemm_eff_max_fp8 = zp_jnum(gs, "fp8_max_efficiency");
    }
    pb->conv.link_eff = zp_jnum(cv, "link_efficiency");
    pb->conv.group_c = zp_jnum(cv, "group_efficiency_c");   /* absent (before it): 0 */
    pb->conv.nvlink_eff = zp_jnum(cv, "nvlink_efficiency");   /* absent (before it): 0, link_efficiency's */
    pb->conv.overlap_eff = zp_jnum(cv, "overlap_efficiency");
    if (cJSON_GetObjectItemCaseSensitive(cv, "dp_overlap_efficiency")) {   /* absent before: overlap_efficiency's */
        pb->conv.dp_overlap_set = 1;
        pb->conv.dp_overlap_eff = zp_jnum(cv, "dp_overlap_efficiency");
    }
    if (zp_jnum(cv, "host_adam_params_per_s") > 0)   /* absent before: the default */
        pb->conv.cpu_adam_params_per_s = zp_jnum(cv, "host_adam_params_per_s");
    pb->conv.elementwise_bps = zp_jnum(cv, "elementwise_gbps") * 1e9;   /* absent before: 0 */
    if (zp_jnum(cv, "eager_hbm_efficiency") > 0)   /* absent before: the default */
        pb->conv.eager_hbm_eff = zp_jnum(cv, "eager_hbm_efficiency");
    pb->conv.bwd_workspace = zp_jflag(cv, "backward_workspace");
    pb->conv.tp_overlap = zp_jflag(cv, "tp_overlap");
    pb->conv.tp_grad_overlap = zp_jflag(cv, "tp_grad_overlap");
    pb->conv.p2p_blocking = zp_jflag(cv, "p2p_blocking");
    pb->conv.p2p_overlap = zp_jflag(cv, "p2p_overlap");
    pb->conv.param_gather_overlap = zp_jflag(cv, "param_gather_overlap");
    if (zp_jobj(cv, "attention_kernel"))   /* the rate itself is gemm_by_shape's attention_efficiency */
        pb->conv.attn_kernel = zp_name_index(zp_jstr(cv, "attention_kernel"), zp_attn_kernel_names);
    if (zp_jobj(cv, "gemm_ceiling"))   /* the ceilings themselves: gemm_efficiency, fp8_max_efficiency */
        pb->conv.gemm_bench = zp_name_index(zp_jstr(cv, "gemm_ceiling"), zp_gemm_ceiling_names);
    if (zp_jobj(cv, "adam_impl"))
        pb->conv.adam_foreach = zp_name_index(zp_jstr(cv, "adam_impl"), zp_adam_impl_names);
    if (zp_jobj(cv, "grad_sum"))
        pb->conv.grad_sum_copy = zp_name_index(zp_jstr(cv, "grad_sum"), zp_grad_sum_names);
    if (zp_jobj(cv, "pp_outputs"))
        pb->conv.pp_out = zp_name_index(zp_jstr(cv, "pp_outputs"), zp_pp_out_names);
    if (zp_jobj(cv, "act_offload_mode"))
        pb->conv.act_offload = zp_name_index(zp_jstr(cv, "act_offload_mode"), zp_act_off_names);
    pb->train.sp_gathered = zp_jobj(cv, "sp_inputs") && zp_name_index(zp_jstr(cv, "sp_inputs"), zp_sp_in_names) == 1;
    /* runs stored before score_grads counted one head's */
    pb->conv.score_grads = zp_jobj(cv, "score_grads") ?
                           zp_name_index(zp_jstr(cv, "score_grads"), zp_score_grads_names) : ZP_SGRAD_HEAD;
    pb->conv.lp_grads = zp_jflag(cv, "lp_grads");
    pb->conv.zero2_reshard = zp_jflag(cv, "zero2_reshard");   /* absent before: off */
    pb->conv.eager = zp_jflag(cv, "eager");
    pb->conv.ce_unfused = zp_jflag(cv, "ce_unfused");
    if (zp_jobj(cv, "grad_reduce"))
        pb->conv.grad_overlap = (zp_grad_overlap)zp_name_index(zp_jstr(cv, "grad_reduce"), zp_grad_overlap_names);
    snprintf(pb->conv.framework, sizeof pb->conv.framework, "%s", zp_jobj(cv, "framework") ? zp_jstr(cv, "framework") : "");
    zp_pins_none(&pb->pins);
}

void zp_result_layout(const cJSON *p, zp_layout *l)
{
    memset(l, 0, sizeof *l);
    l->dp = (int64_t)zp_jnum(p, "dp");
    l->tp = (int64_t)zp_jnum(p, "tp");
    l->pp = (int64_t)zp_jnum(p, "pp");
    l->vp = (int64_t)zp_jnum(p, "vp");
    l->cp = zp_jobj(p, "cp") ? (int64_t)zp_jnum(p, "cp") : 1;   /* absent in runs before --cp */
    l->zero = (int)zp_jnum(p, "zero");
    l->offload = (zp_offload)zp_name_index(zp_jstr(p, "offload"), zp_offload_names);
    l->ckpt = (zp_ckpt)zp_name_index(zp_jstr(p, "ckpt"), zp_ckpt_names);
    l->sp = zp_jflag(p, "sp");
    l->act_offload = zp_jobj(p, "act_offload") ? zp_jflag(p, "act_offload") : 0;
    l->micro_batch = (int64_t)zp_jnum(p, "micro_batch");
    l->grad_accum = (int64_t)zp_jnum(p, "grad_accum");
}

