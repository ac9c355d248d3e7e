/* result.c - the planning problem and layouts back from a stored result
 * object (the --json answer), for the commands that work on recorded runs
 * (report, exec). */
#include "result.h"
#include "schema.h"
#include "jsonget.h"

#include <stdio.h>
#include <string.h>

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
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
static const zp_field conv_f[] = {
    {"zero3_buffer", ZP_F_STR, 0, 0, z3_n, NULL, 0, 0},
    {"zero3_regather", ZP_F_STR, 0, 0, z3re_n, NULL, 0, 0},
    {"bucket_elems", ZP_F_INT, 0, P2(40), NULL, NULL, 0, 0},
    {"cuda_context_bytes", ZP_F_INT, 0, P2(53), NULL, NULL, 0, 0},
    {"nccl_comm_bytes", ZP_F_INT, 0, P2(53), NULL, NULL, 0, 0},
    {"cublas_bytes", ZP_F_INT, 0, P2(53), NULL, NULL, 1, 0},
    {"fragmentation", ZP_F_NUM, 0, 1, NULL, NULL, 0, 0},
    {"alloc_granule_bytes", ZP_F_INT, 0, P2(40), NULL, NULL, 1, 0},
    {"gemm_efficiency", ZP_F_NUM, 1e-3, 1, NULL, NULL, 0, 0},
    {"link_efficiency", ZP_F_NUM, 1e-3, 1, NULL, NULL, 0, 0},
    {"overlap_efficiency", ZP_F_NUM, 0, 1, NULL, NULL, 0, 0},
    {"elementwise_gbps", ZP_F_NUM, 0, 1e6, NULL, NULL, 1, 0},
    {"backward_workspace", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0},
    {"units", ZP_F_STR, 0, 0, units_n, NULL, 0, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
#define MEMF(k) {k, ZP_F_NUM, 0, BYTES, NULL, NULL, 0, 0}
#define MEMO(k) {k, ZP_F_NUM, 0, BYTES, NULL, NULL, 1, 0}
static const zp_field mem_f[] = {MEMF("params"), MEMF("grads"), MEMF("optimizer"), MEMF("activations"),
                                 MEMF("buffers"), MEMF("overhead"), MEMF("total"), {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field host_f[] = {MEMO("params"), MEMO("grads"), MEMO("optimizer"), MEMO("buffers"), MEMF("total"),
                                  {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
static const zp_field time_f[] = {
    {"compute", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},      {"comm_exposed", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},
    {"bubble", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},       {"optimizer", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
#define PLAN_FIELDS                                                                                                    \
    {"dp", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0}, {"tp", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0},                        \
    {"pp", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0}, {"vp", ZP_F_INT, 1, P2(20), NULL, NULL, 0, 0},                        \
    {"zero", ZP_F_INT, 0, 3, NULL, NULL, 0, 0}, {"offload", ZP_F_STR, 0, 0, zp_offload_names, NULL, 0, 0},               \
    {"ckpt", ZP_F_STR, 0, 0, zp_ckpt_names, NULL, 0, 0}, {"sp", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0},                      \
    {"micro_batch", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0}, {"grad_accum", ZP_F_INT, 1, P2(24), NULL, NULL, 0, 0},       \
    {"fits", ZP_F_BOOL, 0, 0, NULL, NULL, 0, 0}, {"reject", ZP_F_STR, 0, 0, NULL, NULL, 0, 1},                          \
    {"worst_stage", ZP_F_INT, 0, P2(24), NULL, NULL, 0, 0}, {"memory_bytes", ZP_F_OBJ, 0, 0, NULL, mem_f, 0, 0},         \
    {"peak_phase", ZP_F_STR, 0, 0, zp_phase_names, NULL, 1, 0},                                                         \
    {"host_memory_bytes", ZP_F_NUM, 0, BYTES, NULL, NULL, 0, 0},                                                        \
    {"host_bytes_per_rank", ZP_F_OBJ, 0, 0, NULL, host_f, 0, 0},                                                        \
    {"comm_bytes_per_step", ZP_F_NUM, 0, BYTES, NULL, NULL, 0, 0}, {"time_s", ZP_F_OBJ, 0, 0, NULL, time_f, 0, 0},      \
    {"step_time_s", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0}, {"tokens_per_s", ZP_F_NUM, 0, BIG, NULL, NULL, 0, 0},           \
    {"mfu", ZP_F_NUM, 0, 1e6, NULL, NULL, 0, 0}, {"model_flops_per_step", ZP_F_NUM, 0, 1e40, NULL, NULL, 0, 0}
static const zp_field plan_f[] = {PLAN_FIELDS, {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
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
static const zp_field chosen_f[] = {PLAN_FIELDS, {"stages", ZP_F_ARR, 0, 0, NULL, stage_f, 0, 0},
                                    {"comm", ZP_F_ARR, 0, 0, NULL, coll_f, 0, 0}, {NULL, 0, 0, 0, NULL, NULL, 0, 0}};
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
    {"fitting", ZP_F_NUM, 0, 1e18, NULL, NULL, 0, 0},
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
 * accumulation steps is the global batch (so that no micro-batch is
 * larger than the batch zp_problem_range_check bounds). */
static zp_status plan_fits_cluster(const cJSON *p, const char *path, const zp_problem *pb, const char *what,
                                   zp_err *e)
{
    double dp = zp_jnum(p, "dp"), tp = zp_jnum(p, "tp"), pp = zp_jnum(p, "pp");
    int64_t gpus = pb->cluster.gpus;
    if (dp * tp * pp != (double)gpus)
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: %s has dp x tp x pp = %.0f, not the "
                          "cluster's %lld GPUs (was the database edited?)", what, path, dp * tp * pp, (long long)gpus);
    if (zp_jnum(p, "worst_stage") >= pp)
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: %s.worst_stage is not one of its %.0f "
                          "stages (was the database edited?)", what, path, pp);
    double batch = dp * zp_jnum(p, "micro_batch") * zp_jnum(p, "grad_accum");
    if (batch != (double)pb->train.global_batch)
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: %s has dp x micro_batch x grad_accum = "
                          "%.0f, not the global batch of %lld (was the database edited?)", what, path, batch,
                          (long long)pb->train.global_batch);
    return ZP_OK;
}

zp_status zp_result_check(const cJSON *r, const char *what, zp_err *e)
{
    zp_status st = zp_schema_check(r, result_f, what, e);
    if (st)
        return st;
    zp_problem pb;
    zp_result_problem(r, &pb);
    zp_err me = {0};
    if (zp_model_check(&pb.model, &me) != ZP_OK)
        return zp_err_set(e, ZP_EIO, "%s: the stored document is not valid: model: %s", what, me.msg);
    /* the byte counts that report and exec compute again stay inside 64
     * bits, as the planner made sure on input */
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
static const zp_field rank_f[] = {
    {"rank", ZP_F_INT, 0, P2(24), NULL, NULL, 0, 0},
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
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};
static const zp_field pm_f[] = {{"predicted", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 1},
                                {"measured", ZP_F_NUM, 0, BIG, NULL, NULL, 1, 1},
                                {"by_kind", ZP_F_OBJ, 0, 0, NULL, NULL, 1, 0},
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
    {"zero", ZP_F_INT, 0, 3, NULL, NULL, 1, 0},
    {"offload", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"ckpt", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"micro_batch", ZP_F_INT, 1, P2(24), NULL, NULL, 1, 0},
    {"grad_accum", ZP_F_INT, 1, P2(24), NULL, NULL, 1, 0},
    {"dtype", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"grad_dtype", ZP_F_STR, 0, 0, NULL, NULL, 1, 0},
    {"loss_scale", ZP_F_NUM, 0, 1e40, NULL, NULL, 1, 0},
    {"skipped_steps", ZP_F_INT, 0, 1e9, NULL, NULL, 1, 0},
    {"model", ZP_F_OBJ, 0, 0, NULL, exmodel_f, 1, 0},
    {"losses", ZP_F_ARR, -BIG, BIG, NULL, NULL, 1, 1},
    {"step_time_s", ZP_F_OBJ, 0, 0, NULL, pm_f, 1, 0},
    {"comm_bytes_per_step", ZP_F_OBJ, 0, 0, NULL, pm_f, 1, 0},
    {"per_rank", ZP_F_ARR, 0, 0, NULL, rank_f, 1, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0},
};

zp_status zp_exec_record_check(const cJSON *rec, const char *what, zp_err *e)
{
    return zp_schema_check(rec, exec_f, what, e);
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
    {"skipped_steps", ZP_F_INT, 0, 1e9, NULL, NULL, 1, 0},
    {"loss_scale", ZP_F_NUM, 0, 1e40, NULL, NULL, 1, 0},
    {"phase_time_s", ZP_F_OBJ, 0, 0, NULL, NULL, 1, 0},
    {"bus_bytes_per_step", ZP_F_OBJ, 0, 0, NULL, ebus_f, 1, 0},
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
    pb->train.seq = (int64_t)zp_jnum(t, "seq");
    pb->train.global_batch = (int64_t)zp_jnum(t, "global_batch");
    pb->train.dtype = (zp_dtype)zp_name_index(zp_jstr(t, "dtype"), zp_dtype_names);
    pb->train.grad_dtype = (zp_dtype)zp_name_index(zp_jstr(t, "grad_dtype"), zp_dtype_names);
    pb->train.master = zp_jflag(t, "master_weights");
    pb->train.optim = (zp_optim)zp_name_index(zp_jstr(t, "optimizer"), zp_optim_names);
    pb->train.flash = zp_jflag(t, "flash_attention");
    pb->train.dropout = zp_jflag(t, "dropout");
    zp_gpu *g = &pb->cluster.gpu;
    snprintf(g->name, sizeof g->name, "%s", zp_jstr(c, "gpu"));
    g->mem_bytes = (uint64_t)zp_jnum(c, "gpu_memory_bytes");
    g->peak_flops[pb->train.dtype] = zp_jnum(c, "peak_flops");
    g->nvlink_gbps = zp_jnum(c, "nvlink_gbps");
    g->pcie_gbps = zp_jnum(c, "pcie_gbps");
    g->nic_gbps = zp_jnum(c, "inter_node_gbps");
    g->hbm_gbps = 1000.0;   /* not recorded; only the optimizer time would use it */
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
    pb->conv.alloc_granule_bytes = (uint64_t)zp_jnum(cv, "alloc_granule_bytes");
    pb->conv.gemm_eff = zp_jnum(cv, "gemm_efficiency");
    pb->conv.link_eff = zp_jnum(cv, "link_efficiency");
    pb->conv.overlap_eff = zp_jnum(cv, "overlap_efficiency");
    pb->conv.elementwise_bps = zp_jnum(cv, "elementwise_gbps") * 1e9;   /* absent before: 0 */
    pb->conv.bwd_workspace = zp_jflag(cv, "backward_workspace");
    zp_pins_none(&pb->pins);
}

void zp_result_layout(const cJSON *p, zp_layout *l)
{
    memset(l, 0, sizeof *l);
    l->dp = (int64_t)zp_jnum(p, "dp");
    l->tp = (int64_t)zp_jnum(p, "tp");
    l->pp = (int64_t)zp_jnum(p, "pp");
    l->vp = (int64_t)zp_jnum(p, "vp");
    l->zero = (int)zp_jnum(p, "zero");
    l->offload = (zp_offload)zp_name_index(zp_jstr(p, "offload"), zp_offload_names);
    l->ckpt = (zp_ckpt)zp_name_index(zp_jstr(p, "ckpt"), zp_ckpt_names);
    l->sp = zp_jflag(p, "sp");
    l->micro_batch = (int64_t)zp_jnum(p, "micro_batch");
    l->grad_accum = (int64_t)zp_jnum(p, "grad_accum");
}

