/* model.c - parameter counts of a decoder shape, and the rule that derives a
 * shape from a bare parameter count (pure). */
#include "core.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int64_t norm_params(const zp_model *m)
{
    /* LayerNorm: scale and shift (2h); RMSNorm: scale only (h). */
    return m->norm == ZP_NORM_LAYERNORM ? 2 * m->hidden : m->hidden;
}

int64_t zp_model_head_dim(const zp_model *m)
{
    return m->head_dim > 0 ? m->head_dim : m->hidden / m->heads;
}

int64_t zp_model_attn_span(const zp_model *m, int64_t seq)
{
    return m->window > 0 && m->window < seq ? m->window : seq;
}

/* The Q and K head norms of a block (qk_norm): two norms of d values, every
 * tp rank's heads sharing them (replicated across tp), LayerNorm's scale and
 * shift or RMSNorm's scale. */
int64_t zp_model_qk_norm_params(const zp_model *m)
{
    if (!m->qk_norm)
        return 0;
    return 2 * (m->norm == ZP_NORM_LAYERNORM ? 2 : 1) * zp_model_head_dim(m);
}

int zp_model_block_norms(const zp_model *m)
{
    return m->block == ZP_BLOCK_PARALLEL ? 1 : 2;
}

int64_t zp_model_block_matmul_params(const zp_model *m)
{
    int64_t h = m->hidden, d = zp_model_head_dim(m);
    int64_t q = m->heads * d, qkv = q + 2 * m->kv_heads * d;   /* Q, K, V output widths */
    return h * qkv + q * h + (m->mlp == ZP_MLP_GELU ? 2 : 3) * h * m->ffn;
}

int64_t zp_model_layer_params(const zp_model *m, int64_t t)
{
    int64_t h = m->hidden, d = zp_model_head_dim(m);
    int64_t q = m->heads * d, qkv = q + 2 * m->kv_heads * d;   /* Q, K, V output widths */
    int64_t f = t == 1 ? m->ffn : zp_ceil_div(m->ffn, t);
    int gelu = m->mlp == ZP_MLP_GELU;
    int qkv_b = m->bias || m->qkv_bias, out_b = m->bias || m->out_bias, mlp_b = m->bias || m->mlp_bias;
    /* attention: QKV column-parallel (weights and bias split by t), output
     * projection a d -> h row-parallel (weight split, bias replicated); MLP:
     * GELU fc1 (column) + fc2 (row), SwiGLU gate + up (column) + down (row),
     * whose column-parallel widths are f = ceil(ffn / t) per rank; t divides
     * a and g, so the attention part splits exactly */
    int64_t split = h * qkv + q * h + (qkv_b ? qkv : 0);
    int64_t per_rank = (gelu ? 2 : 3) * h * f + (mlp_b ? (gelu ? 1 : 2) * f : 0);
    int64_t whole = (out_b ? h : 0) + (mlp_b ? h : 0)          /* row-parallel biases */
                    + zp_model_block_norms(m) * norm_params(m)  /* two norms, or one shared */
                    + zp_model_qk_norm_params(m);               /* Q's and K's head norms */
    return (t == 1 ? split : split / t) + per_rank + whole;
}

int64_t zp_model_embed_params(const zp_model *m, int64_t t)
{
    int64_t n = zp_ceil_div(m->vocab, t) * m->hidden;
    if (m->pos == ZP_POS_LEARNED)
        n += m->max_pos * m->hidden;            /* replicated across tp */
    if (m->embed_norm)
        n += norm_params(m);                    /* replicated across tp */
    return n;
}

int64_t zp_model_head_params(const zp_model *m, int64_t t)
{
    int64_t rows = zp_ceil_div(m->vocab, t);
    return rows * m->hidden + (m->head_bias ? rows : 0);
}

int64_t zp_model_final_norm_params(const zp_model *m)
{
    return norm_params(m);
}

int64_t zp_model_params(const zp_model *m)
{
    return m->layers * zp_model_layer_params(m, 1) + zp_model_embed_params(m, 1) +
           zp_model_final_norm_params(m) + (m->tied ? 0 : zp_model_head_params(m, 1));
}

int64_t zp_model_matmul_params(const zp_model *m)
{
    return m->layers * zp_model_block_matmul_params(m) + m->vocab * m->hidden;
}

zp_status zp_model_check(const zp_model *m, zp_err *e)
{
    const char *n = m->name[0] ? m->name : "model";
    if (m->layers < 1 || m->hidden < 1 || m->heads < 1 || m->kv_heads < 1 || m->ffn < 1 || m->vocab < 1)
        return zp_err_set(e, ZP_EINVAL, "%s: layers, hidden, heads, KV heads, FFN width and vocabulary must all be positive "
                          "(got L=%lld h=%lld a=%lld g=%lld f=%lld V=%lld)", n, (long long)m->layers,
                          (long long)m->hidden, (long long)m->heads, (long long)m->kv_heads,
                          (long long)m->ffn, (long long)m->vocab);
    if (m->max_pos < 0)
        return zp_err_set(e, ZP_EINVAL, "%s: max positions %lld must not be negative", n, (long long)m->max_pos);
    if (m->head_dim < 0 || m->head_dim > 1 << 16)
        return zp_err_set(e, ZP_EINVAL, "%s: head_dim %lld is out of range (allowed: 1 to 65536, or 0 for hidden / heads)",
                          n, (long long)m->head_dim);
    if (m->head_dim == 0 && m->hidden % m->heads)
        return zp_err_set(e, ZP_EINVAL, "%s: heads %lld do not divide hidden %lld (allowed: a divisor of hidden, "
                          "or a head_dim given)", n, (long long)m->heads, (long long)m->hidden);
    if (m->heads % m->kv_heads)
        return zp_err_set(e, ZP_EINVAL, "%s: KV heads %lld do not divide heads %lld (allowed: a divisor of heads)",
                          n, (long long)m->kv_heads, (long long)m->heads);
    if (m->window < 0)
        return zp_err_set(e, ZP_EINVAL, "%s: sliding window %lld must not be negative (0: none)", n,
                          (long long)m->window);
    if (m->tied && m->head_bias)
        return zp_err_set(e, ZP_EINVAL, "%s: a tied output head with a bias of its own is not modelled "
                          "(allowed: a head bias on an untied head)", n);
    if ((int)m->block < ZP_BLOCK_SERIAL || (int)m->block > ZP_BLOCK_PARALLEL_2NORM)
        return zp_err_set(e, ZP_EINVAL, "%s: unknown block arrangement %d", n, (int)m->block);
    /* keep every byte count well inside 64 bits: the shape within these
     * limits (the attention width a d too), and at most 1e15 parameters
     * (as --params) */
    int in_range = m->layers <= 100000 && m->hidden <= 1 << 20 && m->ffn <= 1 << 23 && m->vocab <= 1 << 24 &&
                   m->max_pos <= 1 << 24 && m->heads <= 1 << 20 && m->heads * zp_model_head_dim(m) <= 1 << 22;
    if (in_range && (double)zp_model_params(m) > 1e15)
        return zp_err_set(e, ZP_EINVAL, "%s: %.3g parameters (allowed: at most 1e15)", n, (double)zp_model_params(m));
    if (!in_range)
        return zp_err_set(e, ZP_EINVAL, "%s: shape out of range (allowed: L <= 100000, h <= 1048576, f <= 8388608, "
                          "V and positions <= 16777216, heads x head_dim <= 4194304)", n);
    return ZP_OK;
}

/* The derivation rule (README "Derived shapes"), after the GPT-3 family
 * (Brown et al. 2020, Table 2.1), whose large members and LLaMA keep the
 * aspect ratio h/L near 128:
 *   - GPT-3 architecture: LayerNorm, GELU MLP f = 4h, biases, tied
 *     embeddings, learned positions (`positions` rows: the sequence,
 *     2048 by default), vocabulary 50304 (the GPT-2
 *     BPE's 50257 padded to a multiple of 128);
 *   - head size 128 when h >= 2048 (h a multiple of 1024, so heads are a
 *     multiple of 8 and tp = 1..8 divides them), else 64 (h a multiple of
 *     256, down to 128);
 *   - for each such h, L = round((P - embeddings) / block); keep the shapes
 *     whose count is within 5 % of P, and pick the one whose h/L is closest
 *     to 128 on a log scale (ties: the smaller h); if none is within 5 %,
 *     the closest count. */
zp_status zp_model_derive(double params, int64_t positions, zp_model *out, zp_err *e)
{
    zp_model best = {0}, m = {0};
    double best_score = INFINITY;
    int have = 0;
    if (!(params >= 1.0) || !isfinite(params))
        return zp_err_set(e, ZP_EINVAL, "--params must be positive");
    snprintf(m.name, sizeof m.name, "derived");
    m.vocab = 50304;
    m.max_pos = positions > 0 ? positions : 2048;
    m.tied = 1;
    m.bias = 1;
    m.mlp = ZP_MLP_GELU;
    m.norm = ZP_NORM_LAYERNORM;
    m.pos = ZP_POS_LEARNED;
    for (int64_t h = 128; h <= 262144; h += h < 2048 ? 128 : 1024) {
        if (h < 2048 && h % 256 && h != 128)
            continue;
        m.hidden = h;
        m.heads = h >= 2048 ? h / 128 : h / 64;
        m.kv_heads = m.heads;
        m.ffn = 4 * h;
        m.layers = 1;
        double block = (double)zp_model_layer_params(&m, 1);
        double rest = (double)zp_model_params(&m) - block;
        double l = floor((params - rest) / block + 0.5);
        if (l < 1 || l > 100000)
            continue;
        m.layers = (int64_t)l;
        double err = fabs((double)zp_model_params(&m) - params) / params;
        double score = err <= 0.05 ? fabs(log((double)h / l / 128.0)) : 1e6 + err;
        if (score < best_score) {
            best_score = score;
            best = m;
            have = 1;
        }
    }
    if (!have) {
        /* the least count that rounds to one block of the narrowest shape:
         * the rest and half a block (the layer count rounds to nearest) */
        m.hidden = 128; m.heads = 2; m.kv_heads = 2; m.ffn = 512; m.layers = 1;
        double block = (double)zp_model_layer_params(&m, 1), rest = (double)zp_model_params(&m) - block;
        return zp_err_set(e, ZP_EINVAL, "--params %.0f is too small for a derived GPT shape (allowed: at least %.0f "
                          "with the 50304-token vocabulary; use --model or --config for smaller models)",
                          params, rest + ceil(block / 2));
    }
    *out = best;
    return ZP_OK;
}

const char *const zp_block_names[] = {"serial", "parallel", "parallel-2norm", NULL};
const char *const zp_dtype_names[] = {"fp32", "fp16", "bf16", NULL};
const char *const zp_optim_names[] = {"adam", "sgd", NULL};
const char *const zp_offload_names[] = {"none", "optimizer", "optimizer+params", NULL};
const char *const zp_ckpt_names[] = {"none", "selective", "full", "op", NULL};
const char *const zp_grad_overlap_names[] = {"backward", "after", "zero3", NULL};
const char *const zp_attn_kernel_names[] = {"preset", "fa2", "cudnn", NULL};
const char *const zp_gemm_ceiling_names[] = {"preset", "benchmark", NULL};
const char *const zp_adam_impl_names[] = {"fused", "foreach", NULL};
const char *const zp_grad_sum_names[] = {"inplace", "copy", NULL};
const char *const zp_pp_out_names[] = {"freed", "kept", "sliced", NULL};
const char *const zp_sp_in_names[] = {"local", "gathered", NULL};
const char *const zp_score_grads_names[] = {"all", "head", NULL};
const char *const zp_rc_module_names[] = {"core_attn", "mlp", "layernorm", NULL};
const char *const zp_phase_names[] = {"backward", "loss", "step", "attention", "embedding", NULL};
const char *const zp_mem_class_names[] = {"params", "grads", "optimizer", "activations", "buffers", "overhead", NULL};
const char *const zp_coll_kind_names[] = {"all-reduce", "reduce-scatter", "all-gather", "broadcast", "reduce",
                                          "send/recv", "host-to-device", "device-to-host", NULL};
const char *const zp_group_names[] = {"dp", "tp", "pp", "embedding", "pcie", "cp", NULL};
const char *const zp_act_off_names[] = {"none", "async", "sync", "checkpoints", NULL};
const char *const zp_overlap_names[] = {"none", "backward", "forward+backward", "attention", "matmuls",
                                        "weight gradients", "forward", "other chunks", "input gradients", "its block",
                                        "none (compute stream)", NULL};
_Static_assert(sizeof zp_overlap_names / sizeof zp_overlap_names[0] == ZP_OVL_N + 1, "a name for every overlap");
const char *const zp_reject_names[] = {
    "fits",
    "tp neither divides the GPUs per node nor spans whole nodes",
    "tp does not divide the attention (or KV) heads",
    "pp x vp does not divide the layers",
    "dp x micro-batch does not divide the global batch",
    "ZeRO-2 cannot be combined with pipeline parallelism (ZeRO-3: only when given or with --framework fsdp, as FSDP with pipelining)",
    "offload needs ZeRO >= 1 (parameter offload: ZeRO-3)",
    "interleaving needs pp > 1 and micro-batches divisible by pp",
    "selective recompute saves nothing under flash attention (same plan as none)",
    "context parallelism needs flash attention and 2 cp chunks of the sequence",
    "PyTorch eager (--eager) rebuilds whole blocks only (torch.utils.checkpoint): --ckpt none or full",
    "not a layout the framework runs (fsdp: ZeRO 0, 2, 3, offload of parameters and optimizer together; "
    "deepspeed: ZeRO 0-1 with pipelines; torch (DDP): ZeRO 0-1, no offload)",
    "activation offload not modelled there (PyTorch eager's accounting; deepspeed: its checkpoints, under full "
    "recompute only)",
    "exceeds device memory",
    "offload exceeds host memory",
    NULL};
