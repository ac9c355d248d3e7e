/* result.c - the planning problem and layouts back from a stored result
 * object (the --json answer), for the commands that work on recorded runs
 * (report, exec). */
#include "result.h"
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

