/* engine.c - a GPT-style decoder trained in a data-parallel / ZeRO layout,
 * with tensor (and sequence) parallelism and a pipeline (1F1B, GPipe,
 * interleaved) across ranks.
 *
 * The model: token and position embeddings, L pre-LayerNorm blocks (causal
 * multi-head attention, GELU MLP, residuals), final LayerNorm, output head
 * tied to the token embedding, cross-entropy: GPT-2's.  The LLaMA family's
 * variations, each on its own (ze_cfg): RMSNorm for every norm, a SwiGLU
 * MLP (one matrix makes the gate and the up projection, F wide each, a
 * second takes silu(gate) up back to C), rotary positions on Q and K
 * after the QKV projection (no position table), K and V heads shared by
 * groups of query heads, an output head of its own (in the last unit,
 * after the final norm), no biases; and any MLP width F.  Parameters live
 * in units (the embedding, each block, the final norm and an untied head);
 * ZeRO shards each unit over
 * the data-parallel ranks (padded to a multiple of dp), so that a block is
 * gathered, reduced or updated on its own:
 *   ZeRO-0  full parameters, gradients, optimizer; gradients all-reduced
 *           in buckets after the last micro-batch's backward
 *   ZeRO-1  full parameters and gradients; each unit's gradients
 *           reduce-scattered once per step; optimizer on the shard;
 *           updated parameters all-gathered
 *   ZeRO-2  as 1, but only the gradient shard is kept: each unit's full
 *           gradient is a transient buffer, reduce-scattered per
 *           micro-batch as soon as the unit's backward is done
 *   ZeRO-3  as 2, and only the parameter shard is kept: a unit is gathered
 *           before its forward (the next one prefetched) and again before
 *           its backward, and freed after use
 * Offload (ZeRO >= 1): Adam's moments, the fp32 master copy of the shard
 * and the gradient shard live in the host pool and the optimizer runs
 * there: the reduced gradient shard is copied device-to-host (per
 * micro-batch at ZeRO-2/3, accumulating; once per step at ZeRO-1), the
 * updated shard host-to-device.  With the parameters offloaded too (ZeRO-3)
 * every gather first copies the host's shard to the device; that shard is
 * the master in fp32, and is rounded from the host's fp32 master when the
 * parameters are 16-bit.
 * Storage: parameters and gradients in the plan's types (fp32, bf16,
 * fp16), 16-bit parameters with fp32 master weights; the math in fp32 on
 * working copies (see params_of, grads_of).  fp16 steps are loss-scaled:
 * a step whose gradients overflow is skipped (nothing updated or
 * gathered) and halves the scale (not below 1); scale_window good steps
 * double it.
 * Recompute: none keeps every tensor backward needs; selective keeps all but
 * the attention probabilities (recomputed from Q, K, V); full keeps each
 * block's input and recomputes the block in backward.
 * Attention: by default the softmax probabilities (B NH T T) are stored;
 * with flash=1 (flash-style, device.h's flash_fwd/bwd) only each row's
 * log-sum-exp (B NH T), the backward rebuilding the probabilities tile by
 * tile, so that selective recompute keeps what none keeps.
 * Data: deterministic sequences from a seeded Markov chain over the
 * vocabulary; sequence n is the same on every layout, so every layout sees
 * the same global batch and computes the same losses. */
#include "engine.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void) { return ze_now_s(); }

/* ------------------------------------------------------------ the model */

/* offsets of a block's tensors inside its unit */
enum { B_LN1W, B_LN1B, B_QKVW, B_QKVB, B_QNW, B_KNW, B_PROJW, B_PROJB, B_LN2W, B_LN2B, B_FCW, B_FCB, B_FCPW, B_FCPB,
       B_N };

/* Storage: parameters in the parameter type (pdt), gradients in the
 * gradient type (gdt), both as the device holds them; what the host
 * optimizer reads and writes (master, moments, hgrad, an offloaded gshard)
 * is fp32. */
typedef struct unit {
    size_t n;        /* parameters */
    size_t np;       /* padded to a multiple of dp */
    size_t shard;    /* np / dp */
    void *p;         /* full parameters (ZeRO 0-2), or NULL */
    void *pshard;    /* ZeRO-3: this rank's parameter shard */
    void *g;         /* full gradients (ZeRO 0-1), or NULL */
    void *gshard;    /* ZeRO 2-3: this rank's gradient shard (fp32 on the host with offload) */
    float *gtmp;     /* the unit's gradient while its backward runs (fp32): ZeRO 2-3, and ZeRO 0-1
                      * with 16-bit gradients; at ZeRO 2-3 narrowed in place for the reduce-scatter */
    float *m, *v;    /* optimizer state: shard (ZeRO >= 1) or full */
    float *master;   /* fp32 master of what this rank updates: with 16-bit parameters, and on the
                      * host with optimizer offload */
    float *hgrad;    /* ZeRO-1 with offload: the host's gradient shard */
    size_t nrep;     /* tensor parallelism: the first nrep parameters are the same on every tp rank (norms,
                      * row-parallel biases, position table), the rest this rank's slices */
    size_t nnorm;    /* of which the first nnorm are norms (their gradients summed over tp with sp) */
    size_t nqk;      /* of which the first nqk are the Q and K head norms (qkn: their gradients, from this
                      * rank's heads, summed over tp with or without sp) */
    size_t dup0, dup1;   /* pipeline parallelism: [dup0, dup1) is the tied head's copy on the last stage (its
                          * gradient norm counted on the first stage's embedding) */
    int own;         /* on this rank's stage */
} unit;

typedef struct model {
    const ze_cfg *c;
    ze_dev *d;               /* where the tensors live and the kernels run */
    const ze_dev_ops *op;
    int F, KV, nunits;       /* MLP width, KV heads */
    float theta;             /* the rotary base */
    unit *u;                 /* 0: embedding, 1..L blocks, L+1: final norm (and an untied head) */
    size_t boff[B_N];        /* tensor offsets in a block (this rank's slices) */
    size_t lsz[B_N];         /* and their sizes */
    size_t gboff[B_N];       /* the offsets in the whole block (the generator numbers values by them) */
    size_t wte_off, wpe_off; /* the token and position tables in the embedding unit */
    /* tensor parallelism (Megatron's): this rank's heads, KV heads,
     * attention width (its heads' share of the hidden), MLP width and
     * vocabulary rows; its QKV and first MLP matrix widths (all the whole
     * model's with tp = 1) */
    int tp, tr;
    int sp;                  /* sequence parallelism: the residual stream, the norms and the stage's messages
                              * hold this rank's R = B T / tp token rows */
    int R;                   /* the token rows a rank holds of a micro-batch (B T, or B T / tp with sp) */
    int NHl, KVl, Cl, Fl, Vl;
    size_t Ql, Gl;
    ze_alloc *a;
    ze_group *g;             /* data parallel: ZeRO shards and gradient reductions */
    ze_group *tg;            /* tensor parallel (a group of one without) */
    ze_group *pg;            /* pipeline parallel: the stages of this (tp, dp) place */
    ze_group *eg;            /* the first and last stages (a tied embedding's copies), or a group of one */
    /* context parallelism: the cp ranks of this (tp, dp, pp) place split
     * each sequence into 2 cp chunks of cl tokens, rank cr taking chunks cr
     * and 2 cp - 1 - cr (one from each end, so that every rank's queries
     * see as many keys in all: Megatron's and PyTorch's load balancing),
     * T = 2 cl rows a sequence, the first chunk's then the second's, at
     * positions pos[0] and pos[1] onward; each block's attention gathers the
     * keys and values of every rank around the ring of the cp group (cg)
     * and sends their gradients back around it.  g, the data-parallel
     * group, is then the dp x cp ranks, which share the parameters' shards
     * and whose gradients are summed (Megatron's).  Without: one chunk of
     * T = c->T rows at position 0. */
    ze_group *cg;
    int cp, cr, T, nch, cl, pos[2];
    int pp, pk, first, last; /* stages, this rank's, whether the chunk in hand is the first, the last */
    int l0, nl;              /* the chunk in hand's layers: l0 .. l0 + nl - 1 */
    int v;                   /* model chunks per rank (interleaved pipeline; 1: none): chunk c of rank k is
                              * virtual stage c pp + k, of L / (pp v) layers */
    int holds_first, holds_last;   /* the rank holds the embedding, the head */
    int own_head;            /* the last unit holds an output head (untied, or the tied one's copy with pp) */
    int gpipe;
    int zero, off;
    ze_dt pdt, gdt;
    size_t pes, ges;         /* their sizes */
    uint64_t h2d, d2h;       /* bytes copied host-to-device, device-to-host */
    double scale;            /* loss scale (1 without loss scaling) */
    int good, applied, skipped;   /* steps since the scale last changed, updates applied, skipped */
    int failed;              /* a collective failed: m->err says how */
    char err[256];
} model;

/* The architecture's sizes: KV heads, MLP width, the width of the QKV
 * projection's output (Q, then K and V of KV heads), the first MLP
 * matrix's (2F with the SwiGLU gate), a norm's parameters. */
static int kv_heads(const ze_cfg *c) { return c->KV > 0 ? c->KV : c->NH; }
static size_t ffn(const ze_cfg *c) { return c->F > 0 ? (size_t)c->F : 4 * (size_t)c->C; }
static size_t qkv_width(const ze_cfg *c)
{
    return (size_t)c->C + 2 * (size_t)kv_heads(c) * (size_t)(c->C / c->NH);
}
static size_t fc_width(const ze_cfg *c) { return (c->swiglu ? 2 : 1) * ffn(c); }
static size_t norm_params(const ze_cfg *c) { return (c->rms ? 1 : 2) * (size_t)c->C; }
/* the Q and K head norms' weights (qkn): one head size each, or none */
static size_t qk_norm_params(const ze_cfg *c) { return c->qkn ? 2 * (size_t)(c->C / c->NH) : 0; }

/* A block's tensors in this order; those the architecture lacks (the norms'
 * biases with RMSNorm, every bias without biases, the Q and K head norms
 * without qkn) take no room.  With
 * tensor parallelism (tp > 1) a rank holds its slices: QKV's rows of its
 * heads (its Q rows, then its K, then its V), the output projection's
 * columns of its heads, the first MLP matrix's rows of its F/tp (the
 * gate's, then the up projection's with SwiGLU) and the second's columns;
 * the norms and the row-parallel matrices' biases whole, and these
 * replicated tensors first (the Q and K head norms, whose gradients come
 * from each rank's own heads and are summed over the tp ranks, then the
 * norms LN1 and LN2, whose gradients sequence parallelism sums over the tp
 * ranks, then the projection's and the second MLP matrix's biases), then
 * the slices in the order above. */
static void block_layout(const ze_cfg *c, int tp, size_t *off, size_t *sz, size_t *n)
{
    size_t C = (size_t)c->C, F = ffn(c), Q = qkv_width(c), G = fc_width(c), o = 0, t = (size_t)tp;
    size_t lb = c->rms ? 0 : C, bias = c->nobias ? 0 : 1, qk = qk_norm_params(c) / 2;
    size_t qb = bias || c->qkv_bias;   /* (Qwen2: on the QKV product alone) */
    size_t s[B_N] = {C, lb, Q / t * C, qb * Q / t, qk, qk, C * C / t, bias * C,
                     C, lb, G / t * C, bias * G / t, C * F / t, bias * C};
    static const int canon[B_N] = {B_LN1W, B_LN1B, B_QKVW, B_QKVB, B_QNW, B_KNW, B_PROJW, B_PROJB,
                                   B_LN2W, B_LN2B, B_FCW, B_FCB, B_FCPW, B_FCPB};
    static const int repl[B_N] = {B_QNW, B_KNW, B_LN1W, B_LN1B, B_LN2W, B_LN2B, B_PROJB, B_FCPB,
                                  B_QKVW, B_QKVB, B_PROJW, B_FCW, B_FCB, B_FCPW};
    const int *order = tp > 1 ? repl : canon;
    for (int i = 0; i < B_N; i++) {
        off[order[i]] = o;
        o += s[order[i]];
    }
    if (sz)
        memcpy(sz, s, sizeof s);
    *n = o;
}

static void block_offsets(const ze_cfg *c, size_t *off, size_t *n) { block_layout(c, 1, off, NULL, n); }

/* The embedding unit (token table, then the position table when learned)
 * and the last (final norm, then an untied head). */
static size_t embed_unit(const ze_cfg *c)
{
    return (size_t)c->V * (size_t)c->C + (c->rope ? 0 : (size_t)c->T * (size_t)c->C);
}
static size_t last_unit(const ze_cfg *c)
{
    return norm_params(c) + (c->untied ? (size_t)c->V * (size_t)c->C : 0);
}

uint64_t ze_param_count(const ze_cfg *c)
{
    size_t off[B_N], nb;
    block_offsets(c, off, &nb);
    return (uint64_t)embed_unit(c) + (uint64_t)c->L * nb + (uint64_t)last_unit(c);
}

int ze_cfg_check(const ze_cfg *c, int ranks, char *msg, size_t n)
{
    int tp = c->tp > 1 ? c->tp : 1;
    if (c->L < 1 || c->C < 1 || c->NH < 1 || c->V < 2 || c->T < 2 || c->B < 1 || c->M < 1 || c->steps < 1) {
        snprintf(msg, n, "layers, hidden, heads, vocabulary (>= 2), sequence (>= 2), micro-batch, "
                         "accumulation and steps must be positive");
        return -1;
    }
    if (c->C % c->NH) {
        snprintf(msg, n, "heads %d do not divide hidden %d", c->NH, c->C);
        return -1;
    }
    if (c->KV < 0 || c->NH % kv_heads(c)) {
        snprintf(msg, n, "KV heads %d do not divide the %d query heads", c->KV, c->NH);
        return -1;
    }
    if (c->qkn && (!c->rms || fc_width(c) + ffn(c) < (size_t)c->C)) {
        snprintf(msg, n, "Q and K head norms (qk_norm=1) with %s and an MLP of %zu on a width of %d: they need "
                 "RMSNorm blocks (norm=rmsnorm) and an MLP whose two gradients hold the heads' (ffn >= hidden / 3 "
                 "with SwiGLU, hidden / 2 with GELU)", c->rms ? "RMSNorm" : "LayerNorm", ffn(c), c->C);
        return -1;
    }
    if (c->F < 0 || (c->rope && (c->C / c->NH) % 2) || !(c->rope_theta >= 0.0f)) {
        snprintf(msg, n, "MLP width %d, rotary positions on heads of %d, base %g: the width is >= 1 (0: 4 x hidden), "
                 "rotary heads are even, the base positive (0: 10000)", c->F, c->C / c->NH, (double)c->rope_theta);
        return -1;
    }
    size_t boff[B_N], nb;
    block_offsets(c, boff, &nb);
    if ((uint64_t)(c->V + c->T) * (uint64_t)c->C > (uint64_t)INT_MAX / 2 || (uint64_t)nb > (uint64_t)INT_MAX / 2 ||
        (uint64_t)last_unit(c) > (uint64_t)INT_MAX / 2) {
        snprintf(msg, n, "a parameter unit would exceed the %d elements one MPI call can move", INT_MAX / 2);
        return -1;
    }
    if ((uint64_t)c->B * (uint64_t)c->T * (uint64_t)fc_width(c) > (uint64_t)INT_MAX) {
        snprintf(msg, n, "a micro-batch's MLP activations (micro_batch x seq x width = %llu values) would exceed the "
                 "%d one index reaches", (unsigned long long)c->B * (unsigned long long)c->T *
                 (unsigned long long)fc_width(c), INT_MAX);
        return -1;
    }
    if (c->tp < 0 || ranks < 1 || ranks % tp || c->NH % tp || kv_heads(c) % tp || (int)(ffn(c) % (size_t)tp) ||
        c->V % tp) {
        snprintf(msg, n, "tensor parallelism %d over %d ranks: tp divides the ranks, the heads (%d), the KV heads "
                 "(%d), the MLP width (%zu) and the vocabulary (%d)", c->tp, ranks, c->NH, kv_heads(c), ffn(c), c->V);
        return -1;
    }
    int pp = c->pp > 1 ? c->pp : 1;
    if (c->pp < 0 || ranks % (tp * pp) || c->L < pp) {
        snprintf(msg, n, "pipeline parallelism %d with tp %d over %d ranks and %d layers: tp x pp divides the ranks, "
                 "every stage has a layer", c->pp, tp, ranks, c->L);
        return -1;
    }
    if (c->vp < 0 || (c->vp > 1 && (pp < 2 || c->L % (pp * c->vp) || c->M % pp || c->gpipe))) {
        snprintf(msg, n, "interleaving %d chunks per rank over %d stages: needs pp >= 2, layers (%d) divisible by pp x "
                 "vp, micro-batches (%d) by pp, and the 1F1B schedule (Megatron's rules)", c->vp, pp, c->L, c->M);
        return -1;
    }
    if (pp > 1 && c->zero > 1) {
        snprintf(msg, n, "ZeRO-%d with pipeline parallelism: the engine pipelines ZeRO 0-1 (DeepSpeed's and "
                 "Megatron's distributed optimizer's rule)", c->zero);
        return -1;
    }
    int Tl = c->cp > 1 && c->T % (2 * c->cp) == 0 ? c->T / c->cp : c->T;   /* a rank's part of a sequence */
    if (c->sp < 0 || c->sp > 1 || (c->sp && tp > 1 && (c->B * Tl) % tp)) {
        snprintf(msg, n, "sequence parallelism %d over tp %d: 0 or 1, and the micro-batch's %d token rows split "
                 "evenly", c->sp, tp, c->B * Tl);
        return -1;
    }
    int cp = c->cp > 1 ? c->cp : 1;
    if (c->cp < 0 || ranks % (tp * pp * cp) || (cp > 1 && (c->T % (2 * cp) || !c->flash))) {
        snprintf(msg, n, "context parallelism %d with tp %d and pp %d over %d ranks, sequence %d: tp x cp x pp "
                 "divides the ranks, 2 x cp the sequence (a chunk from each end a rank), and the engine's ring runs "
                 "flash attention (flash=1)", c->cp, tp, pp, ranks, c->T);
        return -1;
    }
    if ((tp > 1 || pp > 1 || cp > 1) && c->dump) {
        snprintf(msg, n, "dump=DIR writes one rank's whole model and sequences: it needs tp = 1, pp = 1 and cp = 1");
        return -1;
    }
    if (c->zero < 0 || c->zero > 3) {
        snprintf(msg, n, "ZeRO stage %d is not 0..3", c->zero);
        return -1;
    }
    if ((int)c->pdt < 0 || (int)c->pdt > ZE_F16 || (int)c->gdt < 0 || (int)c->gdt > ZE_F16) {
        snprintf(msg, n, "storage types %d, %d: each is 0 (fp32), 1 (bf16) or 2 (fp16)", (int)c->pdt, (int)c->gdt);
        return -1;
    }
    if (!(c->loss_scale >= 0.0f) || (c->loss_scale > 0.0f && c->scale_window < 1)) {
        snprintf(msg, n, "loss scale %g with window %d: the scale is 0 (none) or positive, the window >= 1",
                 (double)c->loss_scale, c->scale_window);
        return -1;
    }
    if (c->offload < 0 || c->offload > 2 || (c->offload && c->zero < 1) || (c->offload == 2 && c->zero < 3)) {
        snprintf(msg, n, "offload %d with ZeRO-%d: optimizer offload needs ZeRO >= 1, parameter offload ZeRO-3",
                 c->offload, c->zero);
        return -1;
    }
    if (c->act_offload && (c->pp > 1 || c->vp > 1 || c->ckpt_every > 1)) {
        snprintf(msg, n, "act_offload=1 with pp=%d vp=%d ckpt_every=%d: the engine offloads activations on one stage "
                 "(pp=1), keeping its last two blocks, which under ckpt_every are not the two whole ones the planner "
                 "keeps", c->pp, c->vp, c->ckpt_every);
        return -1;
    }
    return 0;
}

#define CHECK(x)                                                                                                   \
    do {                                                                                                           \
        if (!(x))                                                                                                  \
            return -1;                                                                                             \
    } while (0)

static float *alloc_f(model *m, ze_class cls, size_t n)
{
    return ze_dev_alloc(m->d, ZE_DEVICE, cls, n * sizeof(float), 1);
}

/* Not zeroed: for outputs the forward (or a scratch user) writes whole. */
static float *alloc_u(model *m, ze_class cls, size_t n)
{
    return ze_dev_alloc(m->d, ZE_DEVICE, cls, n * sizeof(float), 0);
}

static float *alloc_h(model *m, ze_class cls, size_t n)
{
    return ze_dev_alloc(m->d, ZE_HOST, cls, n * sizeof(float), 1);
}

/* n values of `bytes` each, zeroed, in the pool */
static void *alloc_t(model *m, ze_pool pool, ze_class cls, size_t n, size_t bytes)
{
    return ze_dev_alloc(m->d, pool, cls, n * bytes, 1);
}

static void release_t(model *m, void *p)
{
    ze_dev_free(m->d, p);
}

/* A collective's failure stops the step (the record says why): of the dp
 * group, of the tp group. */
static int coll_of(model *m, const ze_group *g, int rc)
{
    if (rc && !m->failed) {
        m->failed = 1;
        snprintf(m->err, sizeof m->err, "%s", g->err);
    }
    return rc;
}
static int coll(model *m, int rc) { return coll_of(m, m->g, rc); }
static int tcoll(model *m, int rc) { return coll_of(m, m->tg, rc); }

/* Tensor parallelism: the sum over the tp ranks of n fp32 values (the
 * row-parallel products, the column-parallel inputs' gradients) */
static int tp_sum(model *m, float *buf, size_t n)
{
    return m->tp > 1 ? tcoll(m, m->tg->allreduce(m->tg, buf, n, ZE_F32)) : 0;
}

/* Sequence parallelism: a micro-batch's B T token rows (of width C) in tp
 * blocks of R rows, rank r holding the r-th.  sp_gather: the whole (full,
 * B T C values) from every rank's block (local), an all-gather. */
static int sp_gather(model *m, float *full, const float *local)
{
    size_t RC = (size_t)m->R * (size_t)m->c->C;
    m->op->copy(m->d, full + (size_t)m->tr * RC, ZE_DEVICE, local, ZE_DEVICE, RC * sizeof(float));
    return tcoll(m, m->tg->allgather(m->tg, full, RC * (size_t)m->tp, ZE_F32));
}

/* sp_scatter: the sum over the tp ranks of full's partial values, this
 * rank's block of it copied into local (when not NULL): a reduce-scatter
 * (the block stays in full at its place too) */
static int sp_scatter(model *m, float *full, float *local)
{
    size_t RC = (size_t)m->R * (size_t)m->c->C;
    if (tcoll(m, m->tg->reduce_scatter(m->tg, full, RC * (size_t)m->tp, ZE_F32)))
        return -1;
    if (local)
        m->op->copy(m->d, local, ZE_DEVICE, full + (size_t)m->tr * RC, ZE_DEVICE, RC * sizeof(float));
    return 0;
}

/* A row-parallel product's partial output (full rows) made whole: summed
 * over the tp ranks in place, or with sp reduce-scattered into out (this
 * rank's rows) */
static int rowpar_done(model *m, float *partial, float *out)
{
    if (m->sp)
        return sp_scatter(m, partial, out);
    return tp_sum(m, partial, (size_t)m->c->B * (size_t)m->T * (size_t)m->c->C);
}

/* ------------------------------------------------------------ storage */
static void *at(const void *base, ze_dt dt, size_t i) { return ze_at(base, dt, i); }

/* Deterministic parameter init (init.h): N(0, 0.02) by a counter-based
 * generator (value i of unit u is the same whatever the layout or device),
 * LayerNorm weights 1, biases 0, the residual projections' std scaled by
 * 1/sqrt(2L) as GPT-2's.  The segments of unit k: */
/* Layers of stage k of p: L / p each, the remainder one each to the
 * middle stages (1 .. p-2), then the first, then the last: the ends carry
 * the embedding and the head (the planner's placement, zp_stage_layers). */
static int stage_layers(int L, int p, int k)
{
    int base = L / p, extra = L % p, order;
    if (!extra)
        return base;
    int mid = p > 2 ? p - 2 : 0;
    if (k >= 1 && k <= p - 2)
        order = k - 1;
    else if (k == 0)
        order = mid;
    else
        order = mid + 1;
    return base + (order < extra);
}

static int stage_first_layer(int L, int p, int k)
{
    int l0 = 0;
    for (int i = 0; i < k; i++)
        l0 += stage_layers(L, p, i);
    return l0;
}

/* the whole unit k's parameters (every tp rank's slices) */
static size_t whole_unit(const model *m, int k)
{
    size_t off[B_N], nb;
    if (k == 0)
        return embed_unit(m->c);
    if (k == m->nunits - 1)
        return last_unit(m->c);
    block_offsets(m->c, off, &nb);
    return nb;
}

static void init_desc(const model *m, int k, ze_init_desc *d)
{
    const ze_cfg *c = m->c;
    size_t whole = whole_unit(m, k);
    memset(d, 0, sizeof *d);
    d->seed = c->seed;
    d->unit = (uint32_t)k;
    d->valid = whole;
    if (k == 0) {   /* the embedding: token then position table, one normal */
        d->nseg = 1;
        d->seg[0] = (ze_init_seg){m->u[k].n, 0.0f, 0.02f};
    } else if (k == m->nunits - 1) {   /* final norm: weight then bias (LayerNorm); an untied head */
        d->nseg = 3;
        d->seg[0] = (ze_init_seg){(uint64_t)c->C, 1.0f, 0.0f};
        d->seg[1] = (ze_init_seg){(uint64_t)norm_params(c), 0.0f, 0.0f};
        d->seg[2] = (ze_init_seg){whole, 0.0f, 0.02f};
    } else {
        float resid = 0.02f / sqrtf(2.0f * (float)c->L);
        d->nseg = B_N;
        for (int t = 0; t < B_N; t++) {
            uint64_t end = t + 1 < B_N ? m->gboff[t + 1] : whole;
            float v = t == B_LN1W || t == B_LN2W || t == B_QNW || t == B_KNW ? 1.0f : 0.0f;
            float sd = t == B_QKVW || t == B_FCW ? 0.02f : t == B_PROJW || t == B_FCPW ? resid : 0.0f;
            d->seg[t] = (ze_init_seg){end, v, sd};
        }
    }
}

/* Tensor parallelism: where this rank's value i of unit k is in the whole
 * unit (block_layout's slices), and in *run how many values from there on
 * are consecutive in both. */
static size_t to_whole(const model *m, int k, size_t i, size_t *run, int *gen)
{
    const ze_cfg *c = m->c;
    *gen = k;
    size_t C = (size_t)c->C, tr = (size_t)m->tr, row, col, end, grow, w;
    if (k == 0) {   /* the position table (whole), then this rank's rows of the token table */
        size_t npe = c->rope ? 0 : (size_t)c->T * C, nte = (size_t)m->Vl * C;
        if (i < npe)
            return *run = npe - i, (size_t)c->V * C + i;
        return *run = npe + nte - i, tr * nte + (i - npe);
    }
    if (k == m->nunits - 1) {   /* the final norm (whole), then this rank's rows of an untied head */
        size_t nf = norm_params(c);
        if (i < nf)
            return *run = nf - i, i;
        *run = m->u[k].n - i;
        if (!c->untied)   /* the tied head's copy (pp): the token table's values, unit 0's */
            return *gen = 0, tr * (size_t)m->Vl * C + (i - nf);
        return nf + tr * (size_t)m->Vl * C + (i - nf);
    }
    int t = 0;
    while (t < B_N && !(i >= m->boff[t] && i < m->boff[t] + m->lsz[t]))
        t++;
    size_t j = i - m->boff[t], g0 = m->gboff[t];
    switch (t) {
    case B_QKVW:
    case B_QKVB: {   /* rows: this rank's Q, K, V heads */
        size_t hs = C / (size_t)c->NH, qn = (size_t)m->Cl, kn = (size_t)m->KVl * hs, kw = (size_t)m->KV * hs;
        w = t == B_QKVW ? C : 1, row = j / w, col = j % w;
        if (row < qn)
            end = qn, grow = tr * qn + row;
        else if (row < qn + kn)
            end = qn + kn, grow = C + tr * kn + (row - qn);
        else
            end = qn + 2 * kn, grow = C + kw + tr * kn + (row - qn - kn);
        return *run = (end - row) * w - col, g0 + grow * w + col;
    }
    case B_FCW:
    case B_FCB: {   /* rows: this rank's F/tp (of the gate, then of the up projection) */
        size_t fl = (size_t)m->Fl, F = (size_t)m->F;
        w = t == B_FCW ? C : 1, row = j / w, col = j % w;
        if (row < fl)
            end = fl, grow = tr * fl + row;
        else
            end = 2 * fl, grow = F + tr * fl + (row - fl);
        return *run = (end - row) * w - col, g0 + grow * w + col;
    }
    case B_PROJW:
    case B_FCPW: {   /* columns: each row's this rank's part */
        size_t in = t == B_PROJW ? C : (size_t)m->F, il = t == B_PROJW ? (size_t)m->Cl : (size_t)m->Fl;
        row = j / il, col = j % il;
        return *run = il - col, g0 + row * in + tr * il + col;
    }
    default:   /* replicated */
        return *run = m->lsz[t] - j, g0 + j;
    }
}

/* dst (dt, in pool) = the initial values of unit k's parameters first ..
 * first+n-1 (0 past the unit's end: the padding), made where dst is; with
 * tensor parallelism this rank's slices of the whole unit's values (dst
 * comes zeroed: the padding is left) */
static void init_range_by(const model *m, const ze_dev_ops *op, ze_dev *dv, int k, void *dst, ze_pool pool, ze_dt dt,
                          size_t first, size_t n)
{
    ze_init_desc d, d0;
    init_desc(m, k, &d);
    if (m->tp == 1 && !(k == m->nunits - 1 && m->own_head && !m->c->untied)) {
        op->init(dv, dst, pool, dt, &d, first, n);
        return;
    }
    init_desc(m, 0, &d0);
    size_t es = ze_dt_size(dt), end = first + n;
    for (size_t i = first; i < end && i < m->u[k].n;) {
        int gen;
        size_t run, g = to_whole(m, k, i, &run, &gen);
        if (run > end - i)
            run = end - i;
        op->init(dv, (char *)dst + (i - first) * es, pool, dt, gen == k ? &d : &d0, g, run);
        i += run;
    }
}

static void init_range(const model *m, int k, void *dst, ze_pool pool, ze_dt dt, size_t first, size_t n)
{
    init_range_by(m, m->op, m->d, k, dst, pool, dt, first, n);
}

/* Chunk c of stage k of p (v chunks a stage): its layers (the count; the
 * first in *l0).  Without interleaving (v = 1) the one chunk is the stage,
 * split as the planner splits layers; with it, the virtual stage c p + k
 * of L / (p v) layers (Megatron's). */
static int chunk_layers(int L, int p, int k, int v, int c, int *l0)
{
    if (v == 1) {
        *l0 = stage_first_layer(L, p, k);
        return stage_layers(L, p, k);
    }
    int n = L / (p * v);
    *l0 = (c * p + k) * n;
    return n;
}

/* The chunk in hand: its layers, whether it is the first virtual stage
 * (the embedding's) or the last (the head's). */
static void set_chunk(model *m, int c)
{
    m->nl = chunk_layers(m->c->L, m->pp, m->pk, m->v, c, &m->l0);
    m->first = m->holds_first && c == 0;
    m->last = m->holds_last && c == m->v - 1;
}

static int owns_layer(const model *m, int l)
{
    for (int c = 0; c < m->v; c++) {
        int l0, n = chunk_layers(m->c->L, m->pp, m->pk, m->v, c, &l0);
        if (l >= l0 && l < l0 + n)
            return 1;
    }
    return 0;
}

static int model_init(model *m, const ze_cfg *c, ze_dev *dev, ze_group *g, ze_group *tg, ze_group *pg,
                      ze_group *eg, ze_group *cg)
{
    size_t nb;
    memset(m, 0, sizeof *m);
    m->c = c;
    m->d = dev;
    m->op = dev->ops;
    m->a = dev->a;
    m->g = g;
    m->tg = tg;
    m->tp = tg->size;
    m->tr = tg->rank;
    m->sp = c->sp && m->tp > 1;
    m->cg = cg;
    m->cp = cg->size;
    m->cr = cg->rank;
    m->T = c->T / m->cp;
    m->nch = m->cp > 1 ? 2 : 1;
    m->cl = m->T / m->nch;
    m->pos[0] = m->cr * m->cl;
    m->pos[1] = (2 * m->cp - 1 - m->cr) * m->cl;
    m->R = c->B * m->T / (m->sp ? m->tp : 1);
    m->pg = pg;
    m->eg = eg;
    m->pp = pg->size;
    m->pk = pg->rank;
    m->v = c->vp > 1 && m->pp > 1 ? c->vp : 1;
    m->holds_first = m->pk == 0;
    m->holds_last = m->pk == m->pp - 1;
    set_chunk(m, 0);
    m->own_head = c->untied || m->pp > 1;
    m->gpipe = c->gpipe && m->pp > 1;
    m->zero = c->zero;
    m->off = c->offload;
    m->pdt = c->pdt;
    m->gdt = c->gdt;
    m->pes = ze_dt_size(c->pdt);
    m->ges = ze_dt_size(c->gdt);
    m->scale = c->loss_scale > 0.0f ? (double)c->loss_scale : 1.0;
    m->F = (int)ffn(c);
    m->KV = kv_heads(c);
    m->theta = c->rope_theta > 0.0f ? c->rope_theta : 10000.0f;
    m->nunits = c->L + 2;
    m->NHl = c->NH / m->tp;
    m->KVl = m->KV / m->tp;
    m->Cl = c->C / m->tp;
    m->Fl = m->F / m->tp;
    m->Vl = c->V / m->tp;
    m->Ql = qkv_width(c) / (size_t)m->tp;
    m->Gl = fc_width(c) / (size_t)m->tp;
    block_offsets(c, m->gboff, &nb);
    block_layout(c, m->tp, m->boff, m->lsz, &nb);
    /* the embedding: the token table then the position table; with tp the
     * (replicated) position table first */
    size_t npe = c->rope ? 0 : (size_t)c->T * (size_t)c->C, nte = (size_t)m->Vl * (size_t)c->C;
    m->wte_off = m->tp > 1 ? npe : 0;
    m->wpe_off = m->tp > 1 ? 0 : nte;
    m->u = calloc((size_t)m->nunits, sizeof *m->u);
    CHECK(m->u);
    size_t d = (size_t)g->size, r = (size_t)g->rank;
    int nstate = c->sgd ? 1 : 2;
    for (int k = 0; k < m->nunits; k++) {
        unit *u = &m->u[k];
        u->own = k == 0 ? m->holds_first : k == m->nunits - 1 ? m->holds_last : owns_layer(m, k - 1);
        if (!u->own)
            continue;
        u->n = k == 0 ? npe + nte : k == m->nunits - 1 ? norm_params(c) + (m->own_head ? nte : 0) : nb;
        if (k == m->nunits - 1 && !c->untied && m->own_head)
            u->dup0 = norm_params(c), u->dup1 = u->n;
        if (m->tp > 1) {
            u->nqk = k == 0 || k == m->nunits - 1 ? 0 : qk_norm_params(c);
            u->nnorm = k == 0 ? 0 : k == m->nunits - 1 ? norm_params(c) : u->nqk + 2 * norm_params(c);
            u->nrep = k == 0 ? npe : k == m->nunits - 1 ? norm_params(c) : u->nnorm + m->lsz[B_PROJB] + m->lsz[B_FCPB];
        }
        u->shard = (u->n + d - 1) / d;
        u->np = m->zero == 0 ? u->n : u->shard * d;   /* ZeRO pads each unit to a multiple of dp */
        size_t nopt = m->zero >= 1 ? u->shard : u->np, first = m->zero >= 1 ? r * u->shard : 0;
        if (m->zero <= 2) {
            CHECK(u->p = alloc_t(m, ZE_DEVICE, ZE_PARAMS, u->np, m->pes));
            init_range(m, k, u->p, ZE_DEVICE, m->pdt, 0, u->np);
        } else {
            CHECK(u->pshard = alloc_t(m, m->off == 2 ? ZE_HOST : ZE_DEVICE, ZE_PARAMS, u->shard, m->pes));
            init_range(m, k, u->pshard, m->off == 2 ? ZE_HOST : ZE_DEVICE, m->pdt, first, u->shard);
        }
        if (m->zero <= 1)
            CHECK(u->g = alloc_t(m, ZE_DEVICE, ZE_GRADS, u->np, m->ges));
        if (m->zero <= 1 && m->off)
            CHECK(u->hgrad = alloc_h(m, ZE_GRADS, u->shard));
        if (m->zero >= 2)
            CHECK(u->gshard = m->off ? alloc_h(m, ZE_GRADS, u->shard) : alloc_t(m, ZE_DEVICE, ZE_GRADS, u->shard, m->ges));
        if (m->off) {
            CHECK(u->m = alloc_h(m, ZE_OPTIM, nopt));
            if (nstate == 2)
                CHECK(u->v = alloc_h(m, ZE_OPTIM, nopt));
        } else {
            CHECK(u->m = alloc_f(m, ZE_OPTIM, nopt));
            if (nstate == 2)
                CHECK(u->v = alloc_f(m, ZE_OPTIM, nopt));
        }
        /* the fp32 master of what this rank updates: the host optimizer's
         * own copy (optimizer offload: fp32 parameters offloaded with ZeRO-3
         * are that copy themselves), and 16-bit parameters' master weights */
        if (m->off == 1 || m->pdt != ZE_F32) {
            CHECK(u->master = m->off ? alloc_h(m, ZE_OPTIM, nopt) : alloc_f(m, ZE_OPTIM, nopt));
            init_range(m, k, u->master, m->off ? ZE_HOST : ZE_DEVICE, ZE_F32, first, nopt);
        }
    }
    return 0;
}

static void model_free(model *m)
{
    if (!m->u)
        return;
    for (int k = 0; k < m->nunits; k++) {
        unit *u = &m->u[k];
        release_t(m, u->p);
        release_t(m, u->pshard);
        release_t(m, u->g);
        release_t(m, u->gshard);
        release_t(m, u->gtmp);
        release_t(m, u->m);
        release_t(m, u->v);
        release_t(m, u->master);
        release_t(m, u->hgrad);
    }
    free(m->u);
    m->u = NULL;
}

/* Unit k's full parameters in fp32 for the math: the resident ones (fp32,
 * ZeRO 0-2), or a transient buffer (*gathered) holding the fp32 working
 * copy of 16-bit parameters, or at ZeRO-3 the unit gathered (in the
 * parameter type, into the buffer's first half) and widened in place. */
static float *params_of(model *m, int k, float **gathered)
{
    unit *u = &m->u[k];
    if (m->zero <= 2 && m->pdt == ZE_F32)
        return u->p;
    if (*gathered)
        return *gathered;
    float *buf = alloc_u(m, ZE_BUF, u->np);
    if (!buf)
        return NULL;
    if (m->zero <= 2)
        m->op->convert(m->d, buf, ZE_DEVICE, ZE_F32, u->p, ZE_DEVICE, m->pdt, u->np, 0);
    else {
        m->op->copy(m->d, at(buf, m->pdt, (size_t)m->g->rank * u->shard), ZE_DEVICE, u->pshard,
                    m->off == 2 ? ZE_HOST : ZE_DEVICE, u->shard * m->pes);
        if (m->off == 2)   /* the shard came from the host pool */
            m->h2d += u->shard * m->pes;
        if (coll(m, m->g->allgather(m->g, buf, u->np, m->pdt))) {
            release_t(m, buf);
            return NULL;
        }
        m->op->widen(m->d, buf, m->pdt, u->np);
    }
    *gathered = buf;
    return buf;
}

static void release(model *m, float **gathered)
{
    if (*gathered) {
        release_t(m, *gathered);
        *gathered = NULL;
    }
}

/* Where unit k's gradients accumulate (fp32) during a backward: the
 * resident fp32 gradients (ZeRO 0-1), or the unit's transient. */
static float *grads_of(model *m, int k)
{
    unit *u = &m->u[k];
    if (m->zero <= 1 && m->gdt == ZE_F32)
        return u->g;
    if (!u->gtmp)
        u->gtmp = alloc_f(m, ZE_BUF, u->np);
    return u->gtmp;
}

/* How many of unit u's first values have their gradients summed over the
 * tp ranks: the norms with sequence parallelism, else the Q and K head
 * norms (none without tensor parallelism) */
static size_t tp_summed(const model *m, const unit *u)
{
    return m->tp <= 1 ? 0 : m->sp ? u->nnorm : u->nqk;
}

/* Unit k's backward is done.  ZeRO 0-1 (16-bit gradients): add the
 * micro-batch's gradient into the stored ones.  ZeRO 2-3: reduce-scatter
 * the full gradient (in the gradient type: narrowed in place) and add this
 * rank's block into the shard.  Free the transient. */
static int grads_done(model *m, int k)
{
    unit *u = &m->u[k];
    int rc = 0;
    if (!u->gtmp)
        return 0;
    if (m->zero <= 1)
        m->op->convert(m->d, u->g, ZE_DEVICE, m->gdt, u->gtmp, ZE_DEVICE, ZE_F32, u->n, 1);
    else {
        m->op->narrow(m->d, u->gtmp, m->gdt, u->np);
        /* sequence parallelism: the norms' gradients came from this rank's
         * rows, summed over the tp ranks (per micro-batch: the shards keep
         * no whole unit to sum later); the Q and K head norms' from its
         * heads, with or without */
        size_t nsum = tp_summed(m, u);
        if (nsum && (rc = tcoll(m, m->tg->allreduce(m->tg, u->gtmp, nsum, m->gdt)))) {
            release_t(m, u->gtmp);
            u->gtmp = NULL;
            return rc;
        }
        if (!(rc = coll(m, m->g->reduce_scatter(m->g, u->gtmp, u->np, m->gdt)))) {
            const void *blk = at(u->gtmp, m->gdt, (size_t)m->g->rank * u->shard);
            if (m->off) {   /* accumulated into the host's fp32 shard */
                m->op->convert(m->d, u->gshard, ZE_HOST, ZE_F32, blk, ZE_DEVICE, m->gdt, u->shard, 1);
                m->d2h += u->shard * m->ges;
            } else
                m->op->convert(m->d, u->gshard, ZE_DEVICE, m->gdt, blk, ZE_DEVICE, m->gdt, u->shard, 1);
        }
    }
    release_t(m, u->gtmp);
    u->gtmp = NULL;
    return rc;
}

/* ------------------------------------------------------------ activations */

/* What one block keeps from forward to backward for one micro-batch. */
typedef struct lact {
    float *x;            /* block input (LN1 input) */
    float *ln1, *mean1, *rstd1, *qkv, *att, *atty, *xmid, *ln2, *mean2, *rstd2, *fc, *gelu;
    float *qn, *kn, *rq, *rk;   /* qkn: the Q and K heads before their norms, and the norms' rstd */
    float *mem;          /* the allocation holding the fields after x */
    /* activation offload: x and mem (of mem_n floats, laid out with or
     * without the attention's) in the host pool while hx is set */
    float *hx, *hmem;
    size_t mem_n;
    int with_att;
} lact;

/* (mean and rstd: N each, the mean unused by RMSNorm; qkv: Q, K, V, with
 * rotary positions Q and K rotated; fc: the first MLP matrix's output, the
 * gate and up with SwiGLU; gelu: the activation, F wide; with the Q and K
 * head norms (qkn) qn and kn the Q and K heads as the QKV product made
 * them (N NHl hs and N KVl hs), rq and rk their norms' rstd (one a head and
 * token); with tensor parallelism qkv, att, atty, fc, gelu and the head
 * norms' are this rank's heads' and columns', the rest whole) */
static size_t att_floats(const model *m)
{
    /* flash attention: the rows' log-sum-exp, not their probabilities */
    return (size_t)m->c->B * (size_t)m->NHl * (size_t)m->T * (m->c->flash ? 1 : (size_t)m->T);
}

/* the Q and K head norms' saved inputs and rstd (none without qkn) */
static size_t qkn_floats(const model *m)
{
    size_t N = (size_t)m->c->B * (size_t)m->T, hs = (size_t)(m->Cl / m->NHl), heads = (size_t)(m->NHl + m->KVl);
    return m->c->qkn ? N * heads * (hs + 1) : 0;
}

static size_t lact_floats(const model *m, int with_att)
{
    const ze_cfg *c = m->c;
    size_t N = (size_t)c->B * (size_t)m->T, R = (size_t)m->R, C = (size_t)c->C;
    return R * C /* ln1 */ + 2 * R + N * m->Ql + (with_att ? att_floats(m) : 0) + N * (size_t)m->Cl /* atty */ +
           R * C /* xmid */ + R * C /* ln2 */ + 2 * R + N * m->Gl + N * (size_t)m->Fl + qkn_floats(m);
}

/* (with sequence parallelism the norms' inputs and outputs, ln1, xmid,
 * ln2 and their statistics, are this rank's R rows, as the block's input
 * x is: the column-parallel products gather their inputs, in forward and
 * again in backward, as Megatron keeps them) */
static void lact_layout(model *m, lact *la, float *p, int with_att);

static int lact_alloc(model *m, lact *la, ze_class cls, int with_att)
{
    float *p = la->mem = alloc_u(m, cls, lact_floats(m, with_att));
    CHECK(p);
    la->mem_n = lact_floats(m, with_att);
    la->with_att = with_att;
    lact_layout(m, la, p, with_att);
    return 0;
}

/* The fields of a block's saved activations in the allocation at p. */
static void lact_layout(model *m, lact *la, float *p, int with_att)
{
    const ze_cfg *c = m->c;
    size_t N = (size_t)c->B * (size_t)m->T, R = (size_t)m->R, C = (size_t)c->C;
    la->ln1 = p, p += R * C;
    la->mean1 = p, p += R;
    la->rstd1 = p, p += R;
    la->qkv = p, p += N * m->Ql;
    if (with_att)
        la->att = p, p += att_floats(m);
    else
        la->att = NULL;
    la->atty = p, p += N * (size_t)m->Cl;
    la->xmid = p, p += R * C;
    la->ln2 = p, p += R * C;
    la->mean2 = p, p += R;
    la->rstd2 = p, p += R;
    la->fc = p, p += N * m->Gl;
    la->gelu = p, p += N * (size_t)m->Fl;
    la->qn = la->kn = la->rq = la->rk = NULL;
    if (c->qkn) {
        size_t hs = (size_t)(m->Cl / m->NHl);
        la->qn = p, p += N * (size_t)m->NHl * hs;
        la->kn = p, p += N * (size_t)m->KVl * hs;
        la->rq = p, p += N * (size_t)m->NHl;
        la->rk = p;
    }
}

/* Activation offload: a block's kept tensors (its input x, and its saved
 * activations unless the block is rebuilt) to the host pool, freed on the
 * device (act_out), and back (act_in, a no-op for a block on the device).
 * The bytes are counted as copies between the pools (d2h, h2d). */
static int act_out(model *m, lact *la)
{
    const ze_dev_ops *op = m->op;
    size_t nx = (size_t)m->R * (size_t)m->c->C;
    if (!la->x || la->hx)
        return 0;
    /* (not zeroed: the copy writes it whole) */
    CHECK(la->hx = ze_dev_alloc(m->d, ZE_HOST, ZE_ACT, nx * sizeof(float), 0));
    op->copy(m->d, la->hx, ZE_HOST, la->x, ZE_DEVICE, nx * sizeof(float));
    m->d2h += nx * sizeof(float);
    release_t(m, la->x);
    la->x = NULL;
    if (la->mem) {
        CHECK(la->hmem = ze_dev_alloc(m->d, ZE_HOST, ZE_ACT, la->mem_n * sizeof(float), 0));
        op->copy(m->d, la->hmem, ZE_HOST, la->mem, ZE_DEVICE, la->mem_n * sizeof(float));
        m->d2h += la->mem_n * sizeof(float);
        release_t(m, la->mem);
        la->mem = NULL;
        /* the fields pointed into it: none until act_in lays them out again */
        la->ln1 = la->mean1 = la->rstd1 = la->qkv = la->att = la->atty = la->xmid = NULL;
        la->ln2 = la->mean2 = la->rstd2 = la->fc = la->gelu = la->qn = la->kn = la->rq = la->rk = NULL;
    }
    return 0;
}

static int act_in(model *m, lact *la)
{
    const ze_dev_ops *op = m->op;
    size_t nx = (size_t)m->R * (size_t)m->c->C;
    if (la->hx) {
        CHECK(la->x = alloc_u(m, ZE_ACT, nx));
        op->copy(m->d, la->x, ZE_DEVICE, la->hx, ZE_HOST, nx * sizeof(float));
        m->h2d += nx * sizeof(float);
        release_t(m, la->hx);
        la->hx = NULL;
    }
    if (la->hmem) {
        CHECK(la->mem = alloc_u(m, ZE_ACT, la->mem_n));
        op->copy(m->d, la->mem, ZE_DEVICE, la->hmem, ZE_HOST, la->mem_n * sizeof(float));
        m->h2d += la->mem_n * sizeof(float);
        lact_layout(m, la, la->mem, la->with_att);
        release_t(m, la->hmem);
        la->hmem = NULL;
    }
    return 0;
}

/* A bias of the block, or NULL without biases. */
static const float *bias_of(const model *m, const float *w, int t)
{
    return m->lsz[t] ? w + m->boff[t] : NULL;
}

static float *dbias_of(const model *m, float *dw, int t)
{
    return m->lsz[t] ? dw + m->boff[t] : NULL;
}

/* A row-parallel product's bias in forward: added by tp rank 0 alone,
 * before the sum over the ranks (its gradient, the output gradient's
 * column sums, is the same on every rank) */
static const float *rowpar_bias(const model *m, const float *w, int t)
{
    return m->tr == 0 ? bias_of(m, w, t) : NULL;
}

/* The norm (LayerNorm or RMSNorm) forward, its weight at w[wt] (the bias
 * after it for LayerNorm), and its backward accumulating into dinp. */
static void norm_fwd(model *m, float *out, float *mean, float *rstd, const float *inp, const float *w, int N)
{
    if (m->c->rms)
        m->op->rmsnorm_fwd(m->d, out, rstd, inp, w, N, m->c->C);
    else
        m->op->layernorm_fwd(m->d, out, mean, rstd, inp, w, w + m->c->C, N, m->c->C);
}

static void norm_bwd(model *m, float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                     const float *mean, const float *rstd, int N)
{
    if (m->c->rms)
        m->op->rmsnorm_bwd(m->d, dinp, dw, dout, inp, w, rstd, N, m->c->C);
    else
        m->op->layernorm_bwd(m->d, dinp, dw, dw + m->c->C, dout, inp, w, mean, rstd, N, m->c->C);
}

/* The Q and K head norms (qkn, Qwen3's q_norm and k_norm): an RMSNorm of
 * the head size on each of this rank's Q heads (weight qw) and K heads
 * (kw), between the QKV product and the rotation.  The heads as the
 * product made them are kept (la->qn, la->kn: contiguous rows of hs, one a
 * head and token) with each row's rstd; the normalised rows are made in
 * la->atty, which the attention writes only later (N Cl floats: room for
 * either), and copied back into qkv's Q and K columns.  No memory beyond
 * the kept tensors. */
static void qk_norm_fwd(model *m, const float *qw, const float *kw, lact *la)
{
    size_t N = (size_t)m->c->B * (size_t)m->T, hs = (size_t)(m->Cl / m->NHl);
    const ze_dev_ops *op = m->op;
    for (int i = 0; i < 2; i++) {   /* the Q heads (their columns first in qkv), then the K heads */
        size_t heads = (size_t)(i ? m->KVl : m->NHl), w = heads * hs, col = i ? (size_t)m->NHl * hs : 0;
        float *in = i ? la->kn : la->qn;
        op->copy_rows(m->d, in, w, la->qkv + col, m->Ql, N, w);
        op->rmsnorm_fwd(m->d, la->atty, i ? la->rk : la->rq, in, i ? kw : qw, (int)(N * heads), (int)hs);
        op->copy_rows(m->d, la->qkv + col, m->Ql, la->atty, w, N, w);
    }
}

/* Their backward on dqkv's Q and K columns (the gradients of the normalised
 * heads on entry, of the product's on return), the weights' gradients
 * added into dqw and dkw: the output gradient's rows copied out into dout
 * and the input gradient's made in dinp (N Cl floats each, spent scratch
 * of the block's backward), then copied back. */
static void qk_norm_bwd(model *m, float *dqkv, float *dqw, float *dkw, const float *qw, const float *kw,
                        const lact *la, float *dout, float *dinp)
{
    size_t N = (size_t)m->c->B * (size_t)m->T, hs = (size_t)(m->Cl / m->NHl);
    const ze_dev_ops *op = m->op;
    for (int i = 0; i < 2; i++) {   /* the Q heads, then the K heads, as forward */
        size_t heads = (size_t)(i ? m->KVl : m->NHl), w = heads * hs, col = i ? (size_t)m->NHl * hs : 0;
        op->copy_rows(m->d, dout, w, dqkv + col, m->Ql, N, w);
        op->zero(m->d, dinp, ZE_DEVICE, N * w * sizeof(float));   /* (rmsnorm_bwd adds into it) */
        op->rmsnorm_bwd(m->d, dinp, i ? dkw : dqw, dout, i ? la->kn : la->qn, i ? kw : qw, i ? la->rk : la->rq,
                        (int)(N * heads), (int)hs);
        op->copy_rows(m->d, dqkv + col, m->Ql, dinp, w, N, w);
    }
}

/* ---------------------------------------------------- context parallel */

/* The keys and values of a rank's part: per token the K heads then the V
 * heads (2 kvc floats, kvc = KVl hs), B T rows (each sequence's two
 * chunks), contiguous. */
static size_t cp_kvc(const model *m) { return (size_t)m->KVl * (size_t)(m->Cl / m->NHl); }
static size_t cp_part_floats(const model *m) { return (size_t)m->c->B * (size_t)m->T * 2 * cp_kvc(m); }

/* dst (a part) = the K and V columns of qkv's B T rows */
static void cp_pack(model *m, float *dst, const float *qkv)
{
    size_t w = 2 * cp_kvc(m), rows = (size_t)m->c->B * (size_t)m->T;
    m->op->copy_rows(m->d, dst, w, qkv + (size_t)m->Cl, m->Ql, rows, w);
}

/* The first row of chunk h (0, 1) of cp rank j in its sequence. */
static size_t cp_chunk_pos(const model *m, int j, int h)
{
    return (size_t)(h ? 2 * m->cp - 1 - j : j) * (size_t)m->cl;
}

/* cp rank j's part (its two chunks of each sequence) of kv[B][Tk][2 kvc]
 * from or into a part buffer: put copies it in, take copies it out (or
 * adds it to the buffer, add) */
static void cp_put(model *m, float *kv, int Tk, const float *part, int j)
{
    size_t w = 2 * cp_kvc(m), n = (size_t)m->cl * w;
    for (int b = 0; b < m->c->B; b++)
        for (int h = 0; h < 2; h++)
            m->op->copy(m->d, kv + ((size_t)b * (size_t)Tk + cp_chunk_pos(m, j, h)) * w, ZE_DEVICE,
                        part + (size_t)(2 * b + h) * n, ZE_DEVICE, n * sizeof(float));
}
static void cp_take(model *m, float *part, const float *kv, int Tk, int j, int add)
{
    size_t w = 2 * cp_kvc(m), n = (size_t)m->cl * w;
    for (int b = 0; b < m->c->B; b++)
        for (int h = 0; h < 2; h++) {
            const float *src = kv + ((size_t)b * (size_t)Tk + cp_chunk_pos(m, j, h)) * w;
            float *dst = part + (size_t)(2 * b + h) * n;
            if (add)
                m->op->acc(m->d, dst, src, n);
            else
                m->op->copy(m->d, dst, ZE_DEVICE, src, ZE_DEVICE, n * sizeof(float));
        }
}

/* Rotary positions on a micro-batch's qkv (or their gradients, bwd) from
 * each chunk's own first position. */
static void rope_chunks(model *m, float *qkv, int bwd)
{
    const ze_cfg *c = m->c;
    for (int b = 0; b < (m->nch > 1 ? c->B : 1); b++)
        for (int h = 0; h < m->nch; h++) {
            float *x = qkv + ((size_t)b * (size_t)m->T + (size_t)h * (size_t)m->cl) * m->Ql;
            int nb = m->nch > 1 ? 1 : c->B;
            if (bwd)
                m->op->rope_bwd(m->d, x, nb, m->cl, m->Cl, m->NHl, m->KVl, m->theta, m->pos[h]);
            else
                m->op->rope_fwd(m->d, x, nb, m->cl, m->Cl, m->NHl, m->KVl, m->theta, m->pos[h]);
        }
}

/* One turn of the ring: *out to the next cp rank, *in from the one before,
 * then swapped (*out holds what came in).  0, or -1. */
static int cp_turn(model *m, float **out, float **in)
{
    int to = (m->cr + 1) % m->cp, from = (m->cr + m->cp - 1) % m->cp;
    size_t n = cp_part_floats(m);
    if (coll_of(m, m->cg, m->cg->sendrecv(m->cg, *out, n, to, *in, n, from, ZE_F32)))
        return -1;
    float *t = *out;
    *out = *in, *in = t;
    return 0;
}

/* The keys and values of the whole sequence (kv[B][c->T][2 kvc], a
 * buffer the caller frees): this part's from qkv, the others' passed
 * around the ring, cp - 1 turns, each rank handing on the part it last
 * received.  Every rank holds them all, as PyTorch's all-gather context
 * parallelism does (its queries read those up to their own positions):
 * the same memory on every rank.  NULL when an allocation or a transfer
 * failed. */
static float *cp_gather(model *m, const float *qkv)
{
    int Tk = m->c->T;
    size_t n = cp_part_floats(m);
    float *kv = alloc_u(m, ZE_BUF, (size_t)m->cp * n), *cur = alloc_u(m, ZE_BUF, n);
    float *nxt = alloc_u(m, ZE_BUF, n);
    if (!kv || !cur || !nxt) {
        release_t(m, kv), release_t(m, cur), release_t(m, nxt);
        return NULL;
    }
    cp_pack(m, cur, qkv);
    cp_put(m, kv, Tk, cur, m->cr);
    for (int i = 1; i < m->cp; i++) {
        if (cp_turn(m, &cur, &nxt)) {
            release_t(m, kv), release_t(m, cur), release_t(m, nxt);
            return NULL;
        }
        cp_put(m, kv, Tk, cur, (m->cr - i + m->cp) % m->cp);   /* the part that came in */
    }
    release_t(m, cur);
    release_t(m, nxt);
    return kv;
}

/* Attention forward of this rank's queries against the sequence's keys
 * up to them (flash-style: lse the rows' log-sum-exp), a chunk of a
 * sequence at a time (lse[B][2][NHl][cl]: each chunk's rows apart).
 * 0, or -1. */
static int cp_attn_fwd(model *m, lact *la, float *lse)
{
    float *kv = cp_gather(m, la->qkv);
    CHECK(kv);
    size_t w = 2 * cp_kvc(m);
    for (int b = 0; b < m->c->B; b++)
        for (int h = 0; h < 2; h++) {
            size_t r = (size_t)b * (size_t)m->T + (size_t)h * (size_t)m->cl;
            m->op->flash_fwd_part(m->d, la->atty + r * (size_t)m->Cl, lse + r * (size_t)m->NHl, la->qkv + r * m->Ql,
                                  kv + (size_t)b * (size_t)m->c->T * w, 1, m->cl, m->pos[h], m->c->T, m->Cl, m->NHl,
                                  m->KVl);
        }
    release_t(m, kv);
    return 0;
}

/* Its backward: the keys and values gathered again (cp - 1 turns), this
 * rank's queries' gradients into dqkv's Q columns, the gradients of every
 * rank's keys and values summed over the ranks by a ring reduce-scatter
 * (cp - 1 turns: each rank adds its share of the part that came in and
 * hands it on; after the last turn the part in hand is its own, whole)
 * and added to dqkv's K and V columns.  0, or -1. */
static int cp_attn_bwd(model *m, float *dqkv, const float *dout, const lact *la, const float *lse)
{
    int Tk = m->c->T, cp = m->cp, cr = m->cr;
    size_t n = cp_part_floats(m), w = 2 * cp_kvc(m), rows = (size_t)m->c->B * (size_t)m->T;
    float *kv = cp_gather(m, la->qkv), *dkv = NULL, *snd = NULL, *rcv = NULL;
    CHECK(kv);
    dkv = alloc_f(m, ZE_BUF, (size_t)cp * n);   /* (the keys past this rank's queries get nothing: 0) */
    if (!dkv) {
        release_t(m, kv);
        return -1;
    }
    for (int b = 0; b < m->c->B; b++)
        for (int h = 0; h < 2; h++) {
            size_t r = (size_t)b * (size_t)m->T + (size_t)h * (size_t)m->cl, kb = (size_t)b * (size_t)Tk * w;
            m->op->flash_bwd_part(m->d, dqkv + r * m->Ql, dkv + kb, dout + r * (size_t)m->Cl,
                                  la->atty + r * (size_t)m->Cl, lse + r * (size_t)m->NHl, la->qkv + r * m->Ql, kv + kb,
                                  1, m->cl, m->pos[h], Tk, m->Cl, m->NHl, m->KVl);
        }
    release_t(m, kv);
    int rc = -1;
    snd = alloc_u(m, ZE_BUF, n), rcv = alloc_u(m, ZE_BUF, n);
    if (!snd || !rcv)
        goto done;
    cp_take(m, snd, dkv, Tk, (cr + cp - 1) % cp, 0);   /* the part handed on first */
    for (int i = 0; i < cp - 1; i++) {
        if (cp_turn(m, &snd, &rcv))
            goto done;
        cp_take(m, snd, dkv, Tk, (cr + 2 * cp - 2 - i) % cp, 1);   /* the part that came in */
    }
    m->op->acc_rows(m->d, dqkv + (size_t)m->Cl, m->Ql, snd, w, rows, w);   /* this part's, whole: K and V columns */
    rc = 0;
done:
    release_t(m, dkv);
    release_t(m, snd);
    release_t(m, rcv);
    return rc;
}

/* One block forward from la->x into xout (the next block's input).  With
 * tensor parallelism QKV and the first MLP matrix are column-parallel (this
 * rank's heads, its F/tp), the output projection and the second MLP matrix
 * row-parallel, their partial products summed over the tp ranks (Megatron's
 * two forward all-reduces).  0, or -1 when a collective failed. */
static int block_fwd(model *m, const float *w, lact *la, float *att, float *xout, float *gbuf)
{
    const ze_cfg *c = m->c;
    int N = c->B * m->T, C = c->C, F = m->Fl, Q = (int)m->Ql, G = (int)m->Gl, Cl = m->Cl, R = m->R;
    size_t NC = (size_t)N * (size_t)C, RC = (size_t)R * (size_t)C;
    const size_t *o = m->boff;
    const ze_dev_ops *op = m->op;
    ze_dev *d = m->d;
    /* sequence parallelism: the gathered input of a column-parallel
     * product, then the partial output of a row-parallel one (whole rows):
     * gbuf, the backward's own gather buffer when the block is recomputed
     * there, else a buffer of its own */
    float *whole = gbuf;
    if (m->sp && !whole)
        CHECK(whole = alloc_u(m, ZE_BUF, NC));
    norm_fwd(m, la->ln1, la->mean1, la->rstd1, la->x, w + o[B_LN1W], R);
    if (m->sp && sp_gather(m, whole, la->ln1))
        return -1;
    op->matmul_fwd(d, la->qkv, m->sp ? whole : la->ln1, w + o[B_QKVW], bias_of(m, w, B_QKVB), N, C, Q);
    if (c->qkn)
        qk_norm_fwd(m, w + o[B_QNW], w + o[B_KNW], la);
    if (c->rope)
        rope_chunks(m, la->qkv, 0);
    if (m->cp > 1) {   /* every part's keys and values gathered around the ring */
        if (cp_attn_fwd(m, la, att)) {
            if (whole != gbuf)
                release_t(m, whole);
            return -1;
        }
    } else if (c->flash)   /* att: the rows' log-sum-exp */
        op->flash_fwd(d, la->atty, att, la->qkv, c->B, m->T, Cl, m->NHl, m->KVl);
    else
        op->attention_fwd(d, la->atty, att, la->qkv, c->B, m->T, Cl, m->NHl, m->KVl);
    float *proj = m->sp ? whole : la->xmid;
    op->matmul_fwd(d, proj, la->atty, w + o[B_PROJW], rowpar_bias(m, w, B_PROJB), N, Cl, C);
    if (rowpar_done(m, proj, la->xmid))
        return -1;
    op->acc(d, la->xmid, la->x, RC);
    norm_fwd(m, la->ln2, la->mean2, la->rstd2, la->xmid, w + o[B_LN2W], R);
    if (m->sp && sp_gather(m, whole, la->ln2))
        return -1;
    op->matmul_fwd(d, la->fc, m->sp ? whole : la->ln2, w + o[B_FCW], bias_of(m, w, B_FCB), N, C, G);
    if (c->swiglu)
        op->swiglu_fwd(d, la->gelu, la->fc, N, F);
    else
        op->gelu_fwd(d, la->gelu, la->fc, (size_t)N * (size_t)F);
    float *out = m->sp ? whole : xout;
    op->matmul_fwd(d, out, la->gelu, w + o[B_FCPW], rowpar_bias(m, w, B_FCPB), N, F, C);
    if (rowpar_done(m, out, xout))
        return -1;
    op->acc(d, xout, la->xmid, RC);
    if (whole != gbuf)
        release_t(m, whole);
    return 0;
}

/* Backward scratch: one block's activation gradients. */
typedef struct bscratch {
    float *d1, *d3, *datt, *dF1, *dF2;   /* N*C, N*Q (QKV), T*T (none with flash), N*F, N*G (first MLP matrix) */
    float *g;                            /* sequence parallelism: N*C, a gathered operand */
} bscratch;

/* The head norms' input gradient in backward (qkn): the scores' and the
 * MLP's gradients, spent by then and contiguous, at least N Cl floats
 * (ze_cfg_check) */
static float *qkn_scratch(const bscratch *s)
{
    return s->datt ? s->datt : s->dF1;
}

/* One block backward: dres holds dL/dxout on entry and dL/dx on return.
 * With tensor parallelism the column-parallel products' input gradients
 * are partial sums, summed over the tp ranks before their norm's backward
 * (Megatron's two backward all-reduces).  With sequence parallelism dres
 * is this rank's rows: gathered whole for each row-parallel product's
 * backward, and the column-parallel inputs' partial gradients reduce-
 * scattered back to rows; the saved norm outputs (rows) are gathered again
 * for the weights' gradients.  0, or -1 when a collective failed. */
static int block_bwd(model *m, const float *w, float *dw, const lact *la, const float *att, float *dres,
                     bscratch *s)
{
    const ze_cfg *c = m->c;
    int N = c->B * m->T, C = c->C, F = m->Fl, Q = (int)m->Ql, G = (int)m->Gl, Cl = m->Cl, R = m->R;
    size_t NC = (size_t)N * (size_t)C, NF = (size_t)N * (size_t)F, RC = (size_t)R * (size_t)C;
    const size_t *o = m->boff;
    const ze_dev_ops *op = m->op;
    ze_dev *d = m->d;
    const float *blk = m->sp ? s->d1 + (size_t)m->tr * RC : s->d1;   /* this rank's rows of d1 */
    if (m->sp && sp_gather(m, s->g, dres))
        return -1;
    /* each input gradient below is made fresh for its product: written
     * (the rows' _set ops), not zeroed and added to */
    op->matmul_bwd_set(d, s->dF1, dw + o[B_FCPW], dbias_of(m, dw, B_FCPB), m->sp ? s->g : dres, la->gelu,
                       w + o[B_FCPW], N, F, C);
    if (c->swiglu)
        op->swiglu_bwd_set(d, s->dF2, la->fc, s->dF1, N, F);
    else
        op->gelu_bwd_set(d, s->dF2, la->fc, s->dF1, NF);
    if (m->sp && sp_gather(m, s->g, la->ln2))
        return -1;
    op->matmul_bwd_set(d, s->d1, dw + o[B_FCW], dbias_of(m, dw, B_FCB), s->dF2, m->sp ? s->g : la->ln2,
                       w + o[B_FCW], N, C, G);
    if (m->sp ? sp_scatter(m, s->d1, NULL) : tp_sum(m, s->d1, NC))
        return -1;
    norm_bwd(m, dres, dw + o[B_LN2W], blk, la->xmid, w + o[B_LN2W], la->mean2, la->rstd2, R);
    if (m->sp && sp_gather(m, s->g, dres))
        return -1;
    op->matmul_bwd_set(d, s->d1, dw + o[B_PROJW], dbias_of(m, dw, B_PROJB), m->sp ? s->g : dres, la->atty,
                       w + o[B_PROJW], N, Cl, C);
    op->zero(d, s->d3, ZE_DEVICE, (size_t)N * (size_t)Q * sizeof(float));
    if (m->cp > 1) {
        if (cp_attn_bwd(m, s->d3, s->d1, la, att))
            return -1;
    } else if (c->flash)
        op->flash_bwd(d, s->d3, s->d1, la->atty, att, la->qkv, c->B, m->T, Cl, m->NHl, m->KVl);
    else
        /* the scores' gradients may spread over the MLP's gradients
         * after them (dF1, dF2: spent by now), not over sp's g */
        op->attention_bwd(d, s->d3, s->datt, (size_t)(s->dF2 - s->datt) + (size_t)c->B * (size_t)m->T * m->Gl,
                          s->d1, att, la->qkv, c->B, m->T, Cl, m->NHl, m->KVl);
    if (c->rope)   /* the gradient of the unrotated Q and K */
        rope_chunks(m, s->d3, 1);
    if (c->qkn)   /* and of the heads before their norms (d1 spent, the MLP's gradients too) */
        qk_norm_bwd(m, s->d3, dw + o[B_QNW], dw + o[B_KNW], w + o[B_QNW], w + o[B_KNW], la, s->d1,
                    qkn_scratch(s));
    if (m->sp && sp_gather(m, s->g, la->ln1))
        return -1;
    op->matmul_bwd_set(d, s->d1, dw + o[B_QKVW], dbias_of(m, dw, B_QKVB), s->d3, m->sp ? s->g : la->ln1,
                       w + o[B_QKVW], N, C, Q);
    if (m->sp ? sp_scatter(m, s->d1, NULL) : tp_sum(m, s->d1, NC))
        return -1;
    norm_bwd(m, dres, dw + o[B_LN1W], blk, la->x, w + o[B_LN1W], la->mean1, la->rstd1, R);
    return 0;
}

/* ------------------------------------------------------------ data */

/* Sequence n (T + 1 tokens): a first-order Markov chain whose transition
 * from token a prefers a few successors, so that there is something to
 * learn; the same on every rank and layout. */
static void sequence(const ze_cfg *c, uint64_t n, int *out)
{
    uint64_t st = ze_mix(((uint64_t)c->seed << 32) ^ (n * 2654435761ULL + 1));
    int tok = (int)(st % (uint64_t)c->V);
    for (int t = 0; t <= c->T; t++) {
        out[t] = tok;
        st = ze_mix(st + 0x9e3779b97f4a7c15ULL);
        int k = (int)(st % 4);   /* one of 4 likely successors, or any token 1/8 of the time */
        if ((st >> 8) % 8 == 0)
            tok = (int)((st >> 16) % (uint64_t)c->V);
        else
            tok = (int)((uint64_t)(tok * 7 + 3 + k * 13) % (uint64_t)c->V);
    }
}

/* ------------------------------------------------------------ one step */

typedef struct step_ctx {
    model *m;
    /* micro-batches in flight (1 without a pipeline; 1F1B: up to p - k on
     * stage k; GPipe: M), each in a slot: its stage's blocks' saved
     * activations (acts[slot * nl + i]), its tokens (tok + slot * B*T ...),
     * the gradient of the stage's output (dres) and the backward's scratch
     * (sbuf) */
    int slots;
    int v, chunk;      /* interleaved: the rank's chunks and the one in hand (a unit's slot: slot v + chunk) */
    lact *acts;
    float **dres, **sbuf;
    float *xfin;       /* final-norm input (block L's output) */
    float *lnf, *meanf, *rstdf;
    int *tok, *tgt;    /* slots x B*T on the device (untracked) */
    int *tok_h, *tgt_h, *seq_h;   /* made on the host: B*T, B*T, T+1 */
    /* tensor parallelism: the ids in this rank's vocabulary rows (-1: another
     * rank's), on the device and the host; the cross-entropy's row
     * statistics on the host (3 B*T) */
    int *tokl, *tgtl, *tokl_h, *tgtl_h;
    float *xent_h;
    FILE *dump;        /* cfg->dump on rank 0: DIR/batches.i32, else NULL */
    double fwd_s, bwd_s;
} step_ctx;

/* ------------------------------------------------------------ dump
 *
 * cfg->dump = DIR: rank 0 writes what the run trains on, for a reference
 * written apart from the engine (tests/reference.py) to train the same
 * model on.  Nothing else changes: no tracked allocation, no collective,
 * nothing the step computes (without dump=DIR the losses are the same bit
 * for bit: tests/reference.sh).  Three files, raw values in the host's byte order
 * (config.json's "byte_order"; little-endian on the machines zplan runs on):
 *
 *   DIR/config.json  one JSON object: the shape (layers hidden heads vocab
 *                    seq micro_batch accum steps ranks seed), the
 *                    architecture (kv_heads ffn, norm "layernorm" or
 *                    "rmsnorm", mlp "gelu" or "swiglu", pos "learned" or
 *                    "rotary", rope_theta, tied, bias, qkv_bias where bias is
 *                    off and the QKV product has one, qk_norm), the linear
 *                    layers' and the attention's products (gemm_math
 *                    "fp32", "bf16", "fp16": operands rounded to it, fp32
 *                    sums; flash_attention's too, tile by tile), the layout
 *                    (zero offload ckpt dtype grad_dtype), and every
 *                    hyper-parameter the step uses: optimizer ("adamw" or
 *                    "sgd"), lr (the peak, as a float), beta1 beta2 eps
 *                    (AdamW), momentum (SGD), weight_decay, clip (<= 0:
 *                    none), warmup_steps, loss_scale (0: none) and
 *                    scale_window, params_from ("device" or "init", below)
 *   DIR/params.f32   the initial parameters, float32, unit after unit
 *                    (ze_param_count values in all): the embedding (wte
 *                    V*C, then wpe T*C when positions are learned); each
 *                    block in the order of the B_* offsets (ln1 w C, ln1
 *                    b C, qkv w Q*C, qkv b Q, the Q and K head norms' w
 *                    C/NH each (qk_norm), proj w C*C, proj b C, ln2 w
 *                    C, ln2 b C, fc w G*C, fc b G, fc proj w C*F, fc proj
 *                    b C; a weight is [out][in], row-major; Q = C + 2 KV
 *                    C/NH: Q, K, V; G = F, or 2F with SwiGLU: the gate's
 *                    rows then the up projection's; the norms' biases
 *                    only with LayerNorm, the linear biases only with
 *                    biases, the QKV one alone with qkv_bias); the final norm (w C, b C with LayerNorm),
 *                    then an untied head (V*C)
 *   DIR/batches.i32  int32: for each step, each of this rank's accum
 *                    micro-batches, its token ids (B*T, [b][t]) then its
 *                    targets (B*T); at more than one rank, rank 0's share
 *                    of the global batch only
 *
 * The parameters are read through the device table before the first
 * step: the resident fp32 parameters, or the fp32 master weights of 16-bit
 * ones ("params_from": "device"); where rank 0 does not hold a unit whole
 * in fp32 (ZeRO-3, 16-bit parameters at ZeRO 1-2), the generator's values
 * that every shard was made from (init.h; "init"). */

static int dump_fail(model *m, const char *what)
{
    if (!m->failed) {
        m->failed = 1;
        snprintf(m->err, sizeof m->err, "dump: %.180s: %s", what, strerror(errno));
    }
    return -1;
}

/* DIR/name into buf */
static const char *dump_path(const ze_cfg *c, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", c->dump, name);
    return buf;
}

/* Where the initial parameters come from (see above). */
static int dump_from_device(const model *m)
{
    return m->pdt == ZE_F32 ? m->zero <= 2 : m->zero == 0;
}

static int dump_config(model *m)
{
    const ze_cfg *c = m->c;
    char path[4096];
    FILE *f = fopen(dump_path(c, "config.json", path, sizeof path), "w");
    if (!f)
        return dump_fail(m, path);
    const uint16_t one = 1;
    unsigned char lo;
    memcpy(&lo, &one, 1);
    fprintf(f, "{\"format\":1,\"byte_order\":\"%s\",\"files\":{\"params\":\"params.f32\",\"batches\":\"batches.i32\"},\n",
            lo ? "little" : "big");
    fprintf(f, " \"layers\":%d,\"hidden\":%d,\"heads\":%d,\"vocab\":%d,\"seq\":%d,\"micro_batch\":%d,\"accum\":%d,"
               "\"steps\":%d,\"ranks\":%d,\"seed\":%lu,\n",
            c->L, c->C, c->NH, c->V, c->T, c->B, c->M, c->steps, m->g->size, (unsigned long)c->seed);
    fprintf(f, " \"kv_heads\":%d,\"ffn\":%d,\"norm\":\"%s\",\"mlp\":\"%s\",\"pos\":\"%s\",\"rope_theta\":%.9g,"
               "\"tied\":%s,\"bias\":%s%s,\"qk_norm\":%s,\"gemm_math\":\"%s\",\"flash_attention\":%s,\n",
            m->KV, m->F, c->rms ? "rmsnorm" : "layernorm", c->swiglu ? "swiglu" : "gelu", c->rope ? "rotary" : "learned",
            (double)m->theta, c->untied ? "false" : "true", c->nobias ? "false" : "true",
            c->nobias && c->qkv_bias ? ",\"qkv_bias\":true" : "", c->qkn ? "true" : "false",
            ze_dt_names[c->math], c->flash ? "true" : "false");
    fprintf(f, " \"zero\":%d,\"offload\":%d,\"ckpt\":%d,\"dtype\":\"%s\",\"grad_dtype\":\"%s\",\"params_from\":\"%s\",\n",
            c->zero, c->offload, (int)c->ckpt, ze_dt_names[c->pdt], ze_dt_names[c->gdt],
            dump_from_device(m) ? "device" : "init");
    fprintf(f, " \"optimizer\":\"%s\",\"lr\":%.9g,\"beta1\":%.9g,\"beta2\":%.9g,\"eps\":%.9g,\"momentum\":%.9g,"
               "\"weight_decay\":%.9g,\"clip\":%.9g,\"warmup_steps\":%d,\"loss_scale\":%.9g,\"scale_window\":%d}\n",
            c->sgd ? "sgd" : "adamw", (double)c->lr, (double)ZE_ADAM_BETA1, (double)ZE_ADAM_BETA2,
            (double)ZE_ADAM_EPS, (double)ZE_SGD_MOMENTUM, (double)c->weight_decay, (double)c->clip, ZE_WARMUP,
            (double)c->loss_scale, c->scale_window);
    if (fclose(f))
        return dump_fail(m, path);
    return 0;
}

/* config.json and params.f32, before the first step; opens batches.i32
 * into *batches. */
static int dump_start(model *m, FILE **batches)
{
    const ze_cfg *c = m->c;
    char path[4096];
    if (mkdir(c->dump, 0777) != 0 && errno != EEXIST)
        return dump_fail(m, c->dump);
    if (dump_config(m))
        return -1;
    FILE *f = fopen(dump_path(c, "params.f32", path, sizeof path), "wb");
    if (!f)
        return dump_fail(m, path);
    size_t most = 0;
    for (int k = 0; k < m->nunits; k++)
        most = m->u[k].n > most ? m->u[k].n : most;
    float *buf = malloc(most * sizeof(float));   /* a host buffer of the dump, not a tensor */
    if (!buf) {
        fclose(f);
        return dump_fail(m, "a host buffer for the parameters");
    }
    for (int k = 0; k < m->nunits; k++) {
        unit *u = &m->u[k];
        if (dump_from_device(m))   /* fp32 parameters, or the master weights (whole at ZeRO-0) */
            m->op->copy(m->d, buf, ZE_HOST, m->pdt == ZE_F32 ? u->p : (void *)u->master, ZE_DEVICE,
                        u->n * sizeof(float));
        else   /* computed here: buf is ordinary memory, which a GPU kernel cannot write */
            init_range_by(m, &ze_dev_cpu_ops, NULL, k, buf, ZE_HOST, ZE_F32, 0, u->n);
        if (fwrite(buf, sizeof(float), u->n, f) != u->n) {
            free(buf);
            fclose(f);
            return dump_fail(m, path);
        }
    }
    free(buf);
    if (fclose(f))
        return dump_fail(m, path);
    if (!(*batches = fopen(dump_path(c, "batches.i32", path, sizeof path), "wb")))
        return dump_fail(m, path);
    return 0;
}

/* One micro-batch's token ids and targets, as made on the host. */
static int dump_batch(step_ctx *x, size_t N)
{
    if (fwrite(x->tok_h, sizeof(int), N, x->dump) != N || fwrite(x->tgt_h, sizeof(int), N, x->dump) != N)
        return dump_fail(x->m, "batches.i32");
    return 0;
}

static int dump_end(model *m, FILE **batches)
{
    int rc = 0;
    if (*batches && fclose(*batches) && !m->failed)
        rc = dump_fail(m, "batches.i32");
    *batches = NULL;
    return rc;
}

/* The cross-entropy over vocabulary shards (tensor parallelism): each
 * rank's row maxima, then the maximum over the ranks; the sums of
 * exponentials and the target's logit (on the rank holding it, 0 on the
 * others), each summed over the ranks: three all-reduces of a value per
 * token, Megatron's.  The loss (*loss, the same on every rank) is the
 * mean of log se + max - target logit; the logits become their gradient.
 * 0, or -1 when an allocation or a collective failed. */
static int xent_vp(step_ctx *x, int slot, float *logits, float dscale, double *loss)
{
    model *m = x->m;
    const ze_dev_ops *op = m->op;
    int N = m->c->B * m->T;
    size_t n = (size_t)N;
    const int *tgtl = x->tgtl + (size_t)slot * n;
    float *st = alloc_u(m, ZE_BUF, 3 * n);
    if (!st)
        return -1;
    float *mx = st, *se = st + n, *tl = st + 2 * n;
    op->xent_max(m->d, logits, N, m->Vl, mx);
    if (tcoll(m, m->tg->allreduce_max(m->tg, mx, n)))
        return -1;
    op->xent_sums(m->d, logits, tgtl, N, m->Vl, mx, se, tl);
    if (tp_sum(m, se, n) || tp_sum(m, tl, n))
        return -1;
    op->copy(m->d, x->xent_h, ZE_HOST, st, ZE_DEVICE, 3 * n * sizeof(float));
    double l = 0.0;
    for (size_t r = 0; r < n; r++)
        l += log((double)x->xent_h[n + r]) + (double)x->xent_h[r] - (double)x->xent_h[2 * n + r];
    *loss = l / (double)N;
    op->xent_grad(m->d, logits, tgtl, N, m->Vl, se, dscale);
    release_t(m, st);
    return 0;
}

/* Micro-batch tokens and targets (the B sequences from first_seq) into
 * slot s: made on the host, copied to the device (with tp also the ids in
 * this rank's vocabulary rows).  0, or -1 when the dump failed. */
static int load_batch(step_ctx *x, int s, uint64_t first_seq)
{
    model *m = x->m;
    const ze_cfg *c = m->c;
    const ze_dev_ops *op = m->op;
    ze_dev *d = m->d;
    int N = c->B * m->T;
    size_t off = (size_t)s * (size_t)N;
    for (int b = 0; b < c->B; b++) {
        int *seq = x->seq_h;
        sequence(c, first_seq + (uint64_t)b, seq);
        for (int t = 0; t < m->T; t++) {   /* this rank's chunks of it (context parallelism) */
            int p = m->pos[t / m->cl] + t % m->cl;
            x->tok_h[(size_t)b * (size_t)m->T + (size_t)t] = seq[p];
            x->tgt_h[(size_t)b * (size_t)m->T + (size_t)t] = seq[p + 1];
        }
    }
    if (x->dump && dump_batch(x, (size_t)N))
        return -1;
    op->copy(d, x->tok + off, ZE_DEVICE, x->tok_h, ZE_HOST, sizeof(int) * (size_t)N);
    op->copy(d, x->tgt + off, ZE_DEVICE, x->tgt_h, ZE_HOST, sizeof(int) * (size_t)N);
    if (m->tp > 1) {   /* the ids in this rank's vocabulary rows */
        int v0 = m->tr * m->Vl;
        for (int i = 0; i < N; i++) {
            x->tokl_h[i] = x->tok_h[i] >= v0 && x->tok_h[i] < v0 + m->Vl ? x->tok_h[i] - v0 : -1;
            x->tgtl_h[i] = x->tgt_h[i] >= v0 && x->tgt_h[i] < v0 + m->Vl ? x->tgt_h[i] - v0 : -1;
        }
        op->copy(d, x->tokl + off, ZE_DEVICE, x->tokl_h, ZE_HOST, sizeof(int) * (size_t)N);
        op->copy(d, x->tgtl + off, ZE_DEVICE, x->tgtl_h, ZE_HOST, sizeof(int) * (size_t)N);
    }
    return 0;
}

/* floats of the backward scratch (bscratch) */
static size_t scratch_floats(const model *m)
{
    const ze_cfg *c = m->c;
    size_t N = (size_t)c->B * (size_t)m->T, TT = c->flash ? 0 : (size_t)m->T * (size_t)m->T;
    return N * (size_t)c->C * (m->sp ? 2 : 1) + N * m->Ql + TT + N * (size_t)m->Fl + N * m->Gl;
}

static void scratch_of(const model *m, float *sbuf, bscratch *s)
{
    const ze_cfg *c = m->c;
    size_t N = (size_t)c->B * (size_t)m->T;
    s->d1 = sbuf;
    s->d3 = s->d1 + N * (size_t)c->C;
    s->datt = s->d3 + N * m->Ql;
    s->dF1 = s->datt + (c->flash ? 0 : (size_t)m->T * (size_t)m->T);
    if (c->flash)
        s->datt = NULL;
    s->dF2 = s->dF1 + N * (size_t)m->Fl;
    s->g = m->sp ? s->dF2 + N * m->Gl : NULL;
}

/* Whether block i of the chunk in hand is rebuilt in backward: every block
 * with full recompute, with ckpt_layers N the chunk's first N, or with
 * ckpt_every k the k-th, 2k-th, ... of the stage (chunks in order, each of
 * nl blocks). */
static int rebuilt(const model *m, int chunk, int i)
{
    const ze_cfg *c = m->c;
    if (c->ckpt != ZE_CKPT_FULL)
        return 0;
    if (c->ckpt_layers > 0)   /* the first N of the chunk */
        return i < c->ckpt_layers;
    return c->ckpt_every <= 1 || (chunk * m->nl + i + 1) % c->ckpt_every == 0;
}

/* The forward of this rank's stage for the micro-batch in slot s (its
 * tokens loaded): the embedding on the first stage (the others find their
 * input, received from the stage before, in the slot's first block's x),
 * the stage's blocks keeping what backward needs, and then either the
 * output to send on (*y, an activation the caller frees once sent) or, on
 * the last stage, the head: final norm, output projection, cross-entropy
 * (*loss) and their backward straight away, into the slot's dres, the
 * gradient of the stage's output (its scratch kept for the stage's
 * backward when keep_scratch).  0, or -1 when an allocation or a
 * collective failed. */
static int stage_fwd(step_ctx *x, int s, float dscale, int keep_scratch, double *loss, float **y)
{
    model *m = x->m;
    const ze_cfg *c = m->c;
    ze_alloc *a = m->a;
    const ze_dev_ops *op = m->op;
    ze_dev *d = m->d;
    int N = c->B * m->T, C = c->C, L = c->L, V = c->V, nl = m->nl, R = m->R;
    size_t NC = (size_t)N * (size_t)C, RC = (size_t)R * (size_t)C;
    /* a block kept whole (no recompute, or one full recompute skips) keeps its attention probabilities;
     * with flash attention every block kept keeps its log-sum-exp */
    int with_att = c->flash || c->ckpt == ZE_CKPT_NONE || c->ckpt == ZE_CKPT_FULL;
    const int *tok = (m->tp > 1 ? x->tokl : x->tok) + (size_t)s * (size_t)N;
    int u = s * x->v + x->chunk;   /* the unit's slot */
    lact *acts = x->acts + (size_t)u * (size_t)nl;
    *y = NULL;
    *loss = 0.0;
    op->mark(d, ZE_MARK_FWD0);
    a->phase = ZE_FWD;

    /* forward: activations for backward, per block */
    float *gath = NULL, *gnext = NULL;
    if (m->first) {
        const float *emb = params_of(m, 0, &gath);
        if (!emb)
            return -1;
        CHECK(acts[0].x = alloc_u(m, ZE_ACT, RC));
        /* vocabulary-parallel: each rank looks up its rows (tp rank 0
         * adds the positions), the sum over the ranks is the embedding
         * (with sp reduce-scattered: this rank's token rows) */
        float *e = acts[0].x;
        if (m->sp)
            CHECK(e = alloc_u(m, ZE_BUF, NC));
        for (int b = 0; b < (m->nch > 1 ? c->B : 1); b++)   /* each chunk from its own position */
            for (int h = 0; h < m->nch; h++) {
                size_t r = (size_t)b * (size_t)m->T + (size_t)h * (size_t)m->cl;
                op->embed_fwd(d, e + r * (size_t)C, tok + r, emb + m->wte_off,
                              c->rope || m->tr ? NULL : emb + m->wpe_off + (size_t)m->pos[h] * (size_t)C,
                              m->nch > 1 ? 1 : c->B, m->cl, C);
            }
        release(m, &gath);
        if (rowpar_done(m, e, acts[0].x))
            return -1;
        if (m->sp)
            release_t(m, e);
    }
    float *att_tmp = NULL;
    size_t att_n = att_floats(m);
    if (c->ckpt == ZE_CKPT_SELECTIVE && !c->flash)
        CHECK(att_tmp = alloc_u(m, ZE_BUF, att_n));
    for (int i = 0; i < nl; i++) {
        int l = m->l0 + i;
        lact *la = &acts[i];
        const float *w = params_of(m, 1 + l, &gath);
        if (!w)
            return -1;
        if (i + 1 < nl && m->zero == 3 && !params_of(m, 2 + l, &gnext))   /* prefetch the next block */
            return -1;
        /* the next block's input (saved for its backward); the stage's
         * output: the final norm's input on the last stage, else a send
         * buffer, freed once sent */
        float *xout = i + 1 < nl ? (acts[i + 1].x = alloc_u(m, ZE_ACT, RC))
                                 : (*y = alloc_u(m, m->last ? ZE_ACT : ZE_BUF, RC));
        CHECK(xout);
        if (rebuilt(m, x->chunk, i)) {
            lact tmp = *la;
            CHECK(lact_alloc(m, &tmp, ZE_BUF, 1) == 0);
            CHECK(block_fwd(m, w, &tmp, tmp.att, xout, NULL) == 0);
            release_t(m, tmp.mem);
        } else {
            CHECK(lact_alloc(m, la, ZE_ACT, with_att) == 0);
            CHECK(block_fwd(m, w, la, with_att ? la->att : att_tmp, xout, NULL) == 0);
        }
        /* activation offload: the block's kept tensors to the host, but
         * the last two blocks', whose backward comes first */
        if (c->act_offload && i < nl - 2)
            CHECK(act_out(m, la) == 0);
        release(m, &gath);
        gath = gnext;
        gnext = NULL;
    }
    release_t(m, att_tmp);
    if (!m->last) {
        op->mark(d, ZE_MARK_FWD1);
        x->fwd_s += op->elapsed(d, ZE_MARK_FWD0, ZE_MARK_FWD1);
        return 0;
    }
    x->xfin = *y;   /* the last stage: the final norm's input */
    *y = NULL;

    /* head: final norm, output projection (the tied embedding, or the
     * last unit's own head after the norm: untied, or the tied one's copy
     * on the last stage of a pipeline), cross-entropy, and its backward
     * straight away */
    float *gf = NULL, *ge = NULL;
    size_t nf = norm_params(c);
    const float *wf = params_of(m, L + 1, &gf);
    const float *we = !wf ? NULL : m->own_head ? wf + nf : params_of(m, 0, &ge);
    if (!wf || !we)
        return -1;
    if (!m->own_head)
        we += m->wte_off;
    CHECK(x->lnf = alloc_u(m, ZE_ACT, RC + 2 * (size_t)R));
    x->meanf = x->lnf + RC;
    x->rstdf = x->meanf + R;
    norm_fwd(m, x->lnf, x->meanf, x->rstdf, x->xfin, wf, R);
    /* the head's input: with sp gathered whole (kept for the head's
     * backward, right below) */
    float *hin = x->lnf;
    if (m->sp) {
        CHECK(hin = alloc_u(m, ZE_BUF, NC));
        if (sp_gather(m, hin, x->lnf))
            return -1;
    }
    a->phase = ZE_LOSS;   /* until the logits are freed */
    /* vocabulary-parallel with tp: this rank's V/tp logits */
    int Vl = m->Vl;
    float *logits = alloc_u(m, ZE_BUF, (size_t)N * (size_t)Vl);
    CHECK(logits);
    op->matmul_fwd(d, logits, hin, we, NULL, N, C, Vl);
    if (m->tp == 1)
        *loss = op->crossentropy(d, logits, x->tgt + (size_t)s * (size_t)N, N, V, dscale);
    else if (xent_vp(x, s, logits, dscale, loss))
        return -1;
    op->mark(d, ZE_MARK_FWD1);

    bscratch sc;
    float *sbuf = alloc_u(m, ZE_BUF, scratch_floats(m));   /* each part zeroed where it must be */
    float *dres = alloc_f(m, ZE_BUF, RC);
    CHECK(sbuf && dres);
    x->sbuf[u] = sbuf;
    x->dres[u] = dres;
    scratch_of(m, sbuf, &sc);
    /* the tied embedding's gradient is made here and kept through the
     * backward (the lookup adds to it at the end); a head's own is the
     * last unit's */
    float *dwf = grads_of(m, L + 1), *dwe = m->own_head ? NULL : grads_of(m, 0);
    CHECK(dwf && (m->own_head || dwe));
    op->matmul_bwd_set(d, sc.d1, m->own_head ? dwf + nf : dwe + m->wte_off, NULL, logits, hin, we, N, C, Vl);
    release_t(m, logits);
    if (m->sp)
        release_t(m, hin);
    /* each rank's vocabulary rows' share, summed (with sp: to its rows) */
    if (m->sp ? sp_scatter(m, sc.d1, NULL) : tp_sum(m, sc.d1, NC))
        return -1;
    a->phase = ZE_BWD;
    norm_bwd(m, dres, dwf, m->sp ? sc.d1 + (size_t)m->tr * RC : sc.d1, x->xfin, wf, x->meanf, x->rstdf, R);
    release(m, &gf);
    release(m, &ge);
    if (grads_done(m, L + 1))
        return -1;
    release_t(m, x->lnf);
    release_t(m, x->xfin);
    x->lnf = x->xfin = NULL;
    if (!keep_scratch) {   /* another micro-batch's forward comes first (GPipe) */
        release_t(m, sbuf);
        x->sbuf[u] = NULL;
    }
    x->fwd_s += op->elapsed(d, ZE_MARK_FWD0, ZE_MARK_FWD1);
    return 0;
}

/* The backward of this rank's stage for slot s: the slot's dres holds the
 * gradient of the stage's output (made by the head on the last stage,
 * received on the others) and leaves with the gradient of its input; on
 * the first stage the embedding's gradient is made from it.  The caller
 * frees the slot's dres and scratch.  0, or -1. */
static int stage_bwd(step_ctx *x, int s)
{
    model *m = x->m;
    const ze_cfg *c = m->c;
    const ze_dev_ops *op = m->op;
    ze_dev *d = m->d;
    int N = c->B * m->T, C = c->C, nl = m->nl;
    const int *tok = (m->tp > 1 ? x->tokl : x->tok) + (size_t)s * (size_t)N;
    s = s * x->v + x->chunk;   /* the unit's slot */
    lact *acts = x->acts + (size_t)s * (size_t)nl;
    float *dres = x->dres[s];
    if (!m->last || !x->sbuf[s])   /* the backward starts here (the last stage's began with the loss) */
        op->mark(d, ZE_MARK_FWD1);
    m->a->phase = ZE_BWD;
    if (!x->sbuf[s])
        CHECK(x->sbuf[s] = alloc_u(m, ZE_BUF, scratch_floats(m)));
    bscratch sc;
    scratch_of(m, x->sbuf[s], &sc);
    size_t att_n = att_floats(m);
    float *gath = NULL, *gnext = NULL;
    for (int i = nl - 1; i >= 0; i--) {
        int l = m->l0 + i;
        lact *la = &acts[i];
        /* activation offload: the block's tensors back (fetched ahead
         * already, but for the first), and the block below's ahead */
        if (c->act_offload && (act_in(m, la) || (i > 0 && act_in(m, &acts[i - 1]))))
            return -1;
        const float *w = params_of(m, 1 + l, &gath);
        if (!w)
            return -1;
        if (i > 0 && m->zero == 3 && !params_of(m, l, &gnext))   /* prefetch the block below */
            return -1;
        float *dw = grads_of(m, 1 + l);
        CHECK(dw);
        if (rebuilt(m, x->chunk, i)) {
            /* recompute the block from its input (the checkpoint): the whole
             * forward again, as activation checkpointing reruns it */
            lact tmp = *la;
            float *xout = alloc_u(m, ZE_BUF, (size_t)m->R * (size_t)C);
            CHECK(xout && lact_alloc(m, &tmp, ZE_BUF, 1) == 0);
            CHECK(block_fwd(m, w, &tmp, tmp.att, xout, sc.g) == 0);
            release_t(m, xout);
            CHECK(block_bwd(m, w, dw, &tmp, tmp.att, dres, &sc) == 0);
            release_t(m, tmp.mem);
        } else if (c->ckpt == ZE_CKPT_SELECTIVE && !c->flash) {
            /* recompute the attention probabilities from Q, K, V */
            float *att = alloc_u(m, ZE_BUF, att_n);
            CHECK(att);
            /* the output rewritten with the values it already holds */
            op->attention_fwd(d, la->atty, att, la->qkv, c->B, m->T, m->Cl, m->NHl, m->KVl);
            CHECK(block_bwd(m, w, dw, la, att, dres, &sc) == 0);
            release_t(m, att);
            release_t(m, la->mem);
        } else {
            CHECK(block_bwd(m, w, dw, la, la->att, dres, &sc) == 0);
            release_t(m, la->mem);
        }
        release_t(m, la->x);
        la->x = NULL;
        la->mem = NULL;
        release(m, &gath);
        gath = gnext;
        gnext = NULL;
        if (grads_done(m, 1 + l))
            return -1;
    }
    if (m->first) {
        float *dwe = grads_of(m, 0);   /* with a tied head, the one the head began */
        CHECK(dwe);
        if (m->sp && sp_gather(m, sc.g, dres))   /* the lookup's gradient: every token row */
            return -1;
        for (int b = 0; b < (m->nch > 1 ? c->B : 1); b++)
            for (int h = 0; h < m->nch; h++) {
                size_t r = (size_t)b * (size_t)m->T + (size_t)h * (size_t)m->cl;
                op->embed_bwd(d, dwe + m->wte_off, c->rope ? NULL : dwe + m->wpe_off + (size_t)m->pos[h] * (size_t)C,
                              (m->sp ? sc.g : dres) + r * (size_t)C, tok + r, m->nch > 1 ? 1 : c->B, m->cl, C);
            }
        if (grads_done(m, 0))
            return -1;
    }
    op->mark(d, ZE_MARK_BWD1);
    x->bwd_s += op->elapsed(d, ZE_MARK_FWD1, ZE_MARK_BWD1);
    return 0;
}

/* tests: a micro-batch's emulated compute (cfg mb_delay_s) */
static void mb_delay(const ze_cfg *c, double times)
{
    double t = c->mb_delay_s * times;
    if (t > 0) {
        struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* A slot's backward buffers, once its gradient is sent on. */
static void slot_done(step_ctx *x, int s)
{
    release_t(x->m, x->sbuf[s]);
    release_t(x->m, x->dres[s]);
    x->sbuf[s] = x->dres[s] = NULL;
}

/* The pipeline's point to point: its failure stops the step. */
static int pcoll(model *m, int rc) { return coll_of(m, m->pg, rc); }

/* Micro-batch j's input, from the stage before, into its slot. */
static int recv_input(step_ctx *x, int j)
{
    model *m = x->m;
    size_t NC = (size_t)m->R * (size_t)m->c->C;   /* a message: the token rows a rank holds */
    lact *la = &x->acts[(size_t)(j % x->slots) * (size_t)m->nl];
    CHECK(la->x = alloc_u(m, ZE_ACT, NC));
    return pcoll(m, m->pg->recv(m->pg, la->x, NC, ZE_F32, m->pk - 1));
}

/* Micro-batch j of step `step` through this stage's forward: its tokens
 * (sequence (step, dp rank, j)), the forward, and the loss added. */
static int forward_mb(step_ctx *x, int step, int j, float dscale, int keep_scratch, double *loss, float **y)
{
    model *m = x->m;
    const ze_cfg *c = m->c;
    /* the sequences of this rank's data-parallel place (g's ranks are its
     * dp x cp: the cp ranks of a place train on parts of the same ones) */
    uint64_t per_step = (uint64_t)(m->g->size / m->cp) * (uint64_t)c->B * (uint64_t)c->M;
    uint64_t first = (uint64_t)step * per_step +
                     ((uint64_t)(m->g->rank / m->cp) * (uint64_t)c->M + (uint64_t)j) * (uint64_t)c->B;
    double l = 0.0;
    if (load_batch(x, j % x->slots, first) || stage_fwd(x, j % x->slots, dscale, keep_scratch, &l, y))
        return -1;
    mb_delay(c, 1.0 / x->v);
    *loss += l;
    return 0;
}

/* One step's M micro-batches through this rank's stage.  1F1B
 * (PipeDream-flush, Megatron's default): stage k of p runs
 * w = min(p - k - 1, M) forwards (warm-up), then M - w times a forward and
 * a backward, then the w backwards left (cool-down), so that it holds at
 * most w + 1 micro-batches' activations; the steady state's sends and
 * receives paired (send-receive) so that neighbours never wait on each
 * other's send.  GPipe: every forward, then every backward (M in
 * flight).  With one stage: each micro-batch's forward and backward in
 * turn, nothing sent.  *loss: the sum of the micro-batches' losses on the
 * last stage, 0 on the others.  0, or -1 with the failure recorded. */
static int run_stage(step_ctx *x, int step, float dscale, double *loss)
{
    model *m = x->m;
    ze_group *pg = m->pg;
    int M = m->c->M, p = m->pp, k = m->pk;
    int w = m->gpipe ? M : (p - k - 1 < M ? p - k - 1 : M), rem = M - w, S = x->slots;
    size_t NC = (size_t)m->R * (size_t)m->c->C;   /* a message: the token rows a rank holds */
    float *y = NULL;
    *loss = 0.0;
    for (int j = 0; j < w; j++) {   /* warm-up: forwards */
        if ((!m->first && recv_input(x, j)) || forward_mb(x, step, j, dscale, 0, loss, &y))
            return -1;
        if (y) {
            if (pcoll(m, pg->send(pg, y, NC, ZE_F32, k + 1)))
                return -1;
            release_t(m, y);
        }
    }
    if (rem > 0 && !m->first && recv_input(x, w))
        return -1;
    for (int i = 0; i < rem; i++) {   /* steady: a forward, a backward */
        int j = i + w, s = i % S;
        if (forward_mb(x, step, j, dscale, 1, loss, &y))
            return -1;
        if (!m->last) {   /* the output on, micro-batch i's gradient back */
            CHECK(x->dres[s] = alloc_f(m, ZE_BUF, NC));
            if (pcoll(m, pg->sendrecv(pg, y, NC, k + 1, x->dres[s], NC, k + 1, ZE_F32)))
                return -1;
            release_t(m, y);
        }
        if (stage_bwd(x, s) || (mb_delay(m->c, 2.0), 0))
            return -1;
        if (!m->first) {   /* the input's gradient back, the next input in */
            if (i + 1 < rem) {
                lact *la = &x->acts[(size_t)((j + 1) % S) * (size_t)m->nl];
                CHECK(la->x = alloc_u(m, ZE_ACT, NC));
                if (pcoll(m, pg->sendrecv(pg, x->dres[s], NC, k - 1, la->x, NC, k - 1, ZE_F32)))
                    return -1;
            } else if (pcoll(m, pg->send(pg, x->dres[s], NC, ZE_F32, k - 1)))
                return -1;
        }
        slot_done(x, s);
    }
    for (int i = rem; i < M; i++) {   /* cool-down: backwards */
        int s = i % S;
        if (!m->last) {
            CHECK(x->dres[s] = alloc_f(m, ZE_BUF, NC));
            if (pcoll(m, pg->recv(pg, x->dres[s], NC, ZE_F32, k + 1)))
                return -1;
        }
        if (stage_bwd(x, s) || (mb_delay(m->c, 2.0), 0))
            return -1;
        if (!m->first && pcoll(m, pg->send(pg, x->dres[s], NC, ZE_F32, k - 1)))
            return -1;
        slot_done(x, s);
    }
    return 0;
}

/* tags of the interleaved schedule's messages: micro-batch mb's input of
 * virtual stage j (forward) and the gradient of its output (backward) */
static int tag_of(const model *m, int mb, int j, int bwd) { return (mb * m->pp * m->v + j) * 2 + bwd; }

/* Sends in flight (the interleaved schedule does not wait for its
 * receiver): each one's request and the buffer to free once it is done. */
typedef struct pend {
    void *req;
    float *buf;
} pend;

/* Finish what has finished (all of them when block). */
static int pend_reap(model *m, pend *p, int *n, int block)
{
    int k = 0;
    for (int i = 0; i < *n; i++) {
        int fin = 0;
        if (pcoll(m, m->pg->done(m->pg, p[i].req, block, &fin)))
            return -1;
        if (fin)
            release_t(m, p[i].buf);
        else
            p[k++] = p[i];
    }
    *n = k;
    return 0;
}

/* One step's micro-batches through this rank's v chunks, Megatron's
 * interleaved 1F1B: the rank runs its M v chunk-units in the order
 * forward unit u = chunk (u / pp) mod v of micro-batch (u / (pp v)) pp +
 * u mod pp (backward: chunk v - 1 - that), first w = min(2 (pp - k - 1) +
 * (v - 1) pp, M v) forwards, then a forward and a backward at a time, then
 * the backwards left: at most w + 1 units in flight, and a bubble v times
 * smaller than 1F1B's.  A unit's input comes from the virtual stage before
 * (rank k - 1, or the last rank's previous chunk), its output goes to the
 * one after, by tag, the sends not waited for (so that ranks never wait on
 * each other's sends).  *loss: the last virtual stage's sum, 0 elsewhere. */
static int run_interleaved(step_ctx *x, int step, float dscale, double *loss)
{
    model *m = x->m;
    ze_group *pg = m->pg;
    int p = m->pp, k = m->pk, v = m->v, M = m->c->M, T = M * v, S = p * v;
    int w = 2 * (p - k - 1) + (v - 1) * p;
    if (w > T)
        w = T;
    size_t NC = (size_t)m->R * (size_t)m->c->C;   /* a message: the token rows a rank holds */
    pend *pd = calloc((size_t)(2 * T), sizeof *pd);
    int npd = 0, rc = -1;
    if (!pd) {
        m->failed = 1;
        snprintf(m->err, sizeof m->err, "no memory for the pipeline's send list");
        return -1;
    }
    *loss = 0.0;
    for (int n = 0; n < 2 * T; n++) {
        /* the n-th unit: w forwards, T - w (forward, backward) pairs, w backwards */
        int fwd, u;
        if (n < w)
            fwd = 1, u = n;
        else if (n < w + 2 * (T - w))
            fwd = (n - w) % 2 == 0, u = fwd ? w + (n - w) / 2 : (n - w) / 2;
        else
            fwd = 0, u = n - w - (T - w);
        int c = (u / p) % v, mb = (u / S) * p + u % p;
        if (!fwd)
            c = v - 1 - c;
        int j = c * p + k, slot = mb * v + c;
        set_chunk(m, c);
        x->chunk = c;
        if (fwd) {
            float *y = NULL;
            if (j > 0) {   /* its input, from the virtual stage before */
                lact *la = &x->acts[(size_t)slot * (size_t)m->nl];
                if (!(la->x = alloc_u(m, ZE_ACT, NC)) ||
                    pcoll(m, pg->recv_tag(pg, la->x, NC, ZE_F32, (k + p - 1) % p, tag_of(m, mb, j, 0))))
                    goto out;
            }
            if (forward_mb(x, step, mb, dscale, 0, loss, &y))
                goto out;
            if (y) {   /* on to the next virtual stage */
                if (pcoll(m, pg->isend(pg, y, NC, ZE_F32, (k + 1) % p, tag_of(m, mb, j + 1, 0), &pd[npd].req)))
                    goto out;
                pd[npd++].buf = y;
            }
        } else {
            if (j < S - 1) {   /* the gradient of its output, from the virtual stage after */
                if (!(x->dres[slot] = alloc_f(m, ZE_BUF, NC)) ||
                    pcoll(m, pg->recv_tag(pg, x->dres[slot], NC, ZE_F32, (k + 1) % p, tag_of(m, mb, j, 1))))
                    goto out;
            }
            if (stage_bwd(x, mb))
                goto out;
            mb_delay(m->c, 2.0 / v);
            release_t(m, x->sbuf[slot]);
            x->sbuf[slot] = NULL;
            if (j > 0) {   /* its input's gradient, back */
                if (pcoll(m, pg->isend(pg, x->dres[slot], NC, ZE_F32, (k + p - 1) % p, tag_of(m, mb, j - 1, 1),
                                       &pd[npd].req)))
                    goto out;
                pd[npd++].buf = x->dres[slot];
            } else
                release_t(m, x->dres[slot]);
            x->dres[slot] = NULL;
        }
        if (pend_reap(m, pd, &npd, 0))
            goto out;
    }
    rc = pend_reap(m, pd, &npd, 1);
out:
    free(pd);
    set_chunk(m, 0);
    x->chunk = 0;
    return rc;
}

/* After the last micro-batch: reduce what is still local (ZeRO-0: all-reduce
 * in buckets of units; ZeRO-1: reduce-scatter each unit), in the gradient
 * type. */
static int reduce_grads(model *m)
{
    /* a tied embedding across the pipeline: the lookup's gradient on the
     * first stage and the head copy's on the last, summed over the two
     * (Megatron's embedding group) before the data-parallel reduction */
    if (m->pp > 1 && !m->c->untied && (m->holds_first || m->holds_last)) {
        size_t nte = (size_t)m->Vl * (size_t)m->c->C;
        void *gr = m->holds_first ? at(m->u[0].g, m->gdt, m->wte_off) : at(m->u[m->nunits - 1].g, m->gdt, m->u[m->nunits - 1].dup0);
        if (coll_of(m, m->eg, m->eg->allreduce(m->eg, gr, nte, m->gdt)))
            return -1;
    }
    /* sequence parallelism: the norms' gradients came from each rank's
     * rows, summed over the tp ranks once a step (Megatron's); the Q and K
     * head norms' from its heads, with or without */
    if (m->zero <= 1)
        for (int k = m->nunits - 1; k >= 0; k--)
            if (m->u[k].own && tp_summed(m, &m->u[k]) &&
                tcoll(m, m->tg->allreduce(m->tg, m->u[k].g, tp_summed(m, &m->u[k]), m->gdt)))
                return -1;
    if (m->zero == 1) {
        for (int k = m->nunits - 1; k >= 0; k--) {
            unit *u = &m->u[k];
            if (!u->own)
                continue;
            if (coll(m, m->g->reduce_scatter(m->g, u->g, u->np, m->gdt)))
                return -1;
            if (m->off) {   /* the reduced shard to the host optimizer (fp32 there) */
                m->op->convert(m->d, u->hgrad, ZE_HOST, ZE_F32, at(u->g, m->gdt, (size_t)m->g->rank * u->shard),
                               ZE_DEVICE, m->gdt, u->shard, 0);
                m->d2h += u->shard * m->ges;
            }
        }
        return 0;
    }
    if (m->zero != 0 || m->g->size == 1)
        return 0;
    /* per unit, last first, in place (no copy into a separate bucket) */
    for (int k = m->nunits - 1; k >= 0; k--)
        if (m->u[k].own && coll(m, m->g->allreduce(m->g, m->u[k].g, m->u[k].n, m->gdt)))
            return -1;
    return 0;
}

/* The gradient the optimizer reads for unit u (its type in *dt) and how
 * many values: the full gradient (ZeRO-0), or this rank's shard. */
static void *opt_grad(model *m, unit *u, ze_dt *dt, size_t *n)
{
    size_t r = (size_t)m->g->rank;
    *n = m->zero == 0 ? u->n : u->shard;
    *dt = m->off ? ZE_F32 : m->gdt;
    if (m->zero == 0)
        return u->g;
    if (m->zero == 1)
        return m->off ? (void *)u->hgrad : at(u->g, m->gdt, r * u->shard);
    return u->gshard;
}

/* The optimizer on what this rank owns: the gradient norm (of the unscaled
 * gradients) for clipping; with loss scaling a step whose gradients
 * overflowed is skipped (the gradients dropped, nothing updated or
 * gathered) and the scale halved, and after scale_window good steps it
 * doubles.  Parameters with a master copy are the master rounded to their
 * type after the update.  Runs where the optimizer's arrays are: the
 * host pool with offload.  Returns 1 when the step was applied, 0 when it
 * was skipped, -1 when a collective failed. */
static int optimize(model *m)
{
    const ze_cfg *c = m->c;
    const ze_dev_ops *op = m->op;
    ze_pool opool = m->off ? ZE_HOST : ZE_DEVICE;
    size_t r = (size_t)m->g->rank;
    double ss = 0.0;
    for (int k = 0; k < m->nunits; k++) {
        unit *u = &m->u[k];
        ze_dt dt;
        size_t n;
        if (!u->own)
            continue;
        const void *g = opt_grad(m, u, &dt, &n);
        ss += op->sumsq(m->d, opool, g, dt, n);
        /* tensor parallelism: the replicated tensors (the unit's first
         * nrep values, the same on every tp rank) count once in the sum
         * over the tp ranks */
        size_t s0 = m->zero == 0 ? 0 : r * u->shard;
        if (m->tp > 1 && s0 < u->nrep) {
            size_t nr = u->nrep - s0 < n ? u->nrep - s0 : n;
            ss -= (1.0 - 1.0 / (double)m->tp) * op->sumsq(m->d, opool, g, dt, nr);
        }
        /* the tied head's copy on the last stage: counted on the first */
        size_t lo = u->dup0 > s0 ? u->dup0 : s0, hi = u->dup1 < s0 + n ? u->dup1 : s0 + n;
        if (lo < hi)
            ss -= op->sumsq(m->d, opool, at(g, dt, lo - s0), dt, hi - lo);
    }
    double sum[1] = {ss};
    if (m->zero >= 1 && coll(m, m->g->sum_doubles(m->g, sum, 1)))
        return -1;
    if (m->tp > 1 && tcoll(m, m->tg->sum_doubles(m->tg, sum, 1)))
        return -1;
    if (m->pp > 1 && coll_of(m, m->pg, m->pg->sum_doubles(m->pg, sum, 1)))
        return -1;
    int scaling = c->loss_scale > 0.0f, skip = scaling && !isfinite(sum[0]);
    double norm = sqrt(sum[0]) / m->scale;
    float scale = c->clip > 0 && norm > c->clip ? (float)(c->clip / norm) : 1.0f;
    if (m->scale != 1.0)   /* unscale with the clipping */
        scale = (float)((double)scale / m->scale);
    /* linear warm-up over the first ZE_WARMUP updates */
    int step = m->applied + 1;
    float lr = c->lr * (step < ZE_WARMUP ? (float)step / (float)ZE_WARMUP : 1.0f);
    for (int k = 0; k < m->nunits; k++) {
        unit *u = &m->u[k];
        ze_dt dt;
        size_t n;
        if (!u->own)
            continue;
        void *g = opt_grad(m, u, &dt, &n);
        void *dev = m->zero == 0 ? u->p : m->zero <= 2 ? at(u->p, m->pdt, r * u->shard) : u->pshard;
        ze_pool dpool = m->zero == 3 && m->off == 2 ? ZE_HOST : ZE_DEVICE;
        float *p = u->master ? u->master : dev;   /* fp32 here, in the optimizer's pool */
        if (!skip) {
            if (c->sgd)
                op->sgd(m->d, opool, p, g, dt, scale, u->m, n, lr, ZE_SGD_MOMENTUM, c->weight_decay);
            else
                op->adamw(m->d, opool, p, g, dt, scale, u->m, u->v, n, lr, ZE_ADAM_BETA1, ZE_ADAM_BETA2, ZE_ADAM_EPS,
                          c->weight_decay, step);
        }
        if (u->master && !skip) {   /* the updated master, in the parameter type, to where the parameters are */
            op->convert(m->d, dev, dpool, m->pdt, u->master, opool, ZE_F32, n, 0);
            if (m->off == 1)
                m->h2d += n * m->pes;
        }
        if (m->zero <= 1)
            op->zero(m->d, u->g, ZE_DEVICE, u->np * m->ges);
        else
            op->zero(m->d, u->gshard, m->off ? ZE_HOST : ZE_DEVICE, u->shard * (m->off ? sizeof(float) : m->ges));
        if (u->hgrad)
            op->zero(m->d, u->hgrad, ZE_HOST, u->shard * sizeof(float));
        if (!skip && (m->zero == 1 || m->zero == 2) && coll(m, m->g->allgather(m->g, u->p, u->np, m->pdt)))
            return -1;
    }
    if (skip) {
        m->scale = m->scale > 2.0 ? m->scale / 2.0 : 1.0;   /* DeepSpeed's floor: 1 */
        m->good = 0;
        m->skipped++;
        return 0;
    }
    m->applied++;
    if (scaling && ++m->good >= c->scale_window) {
        m->scale *= 2.0;
        m->good = 0;
    }
    return 1;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The world's groups (group.h's layout: tp fastest, then cp, dp, pp):
 * the data-parallel group (the dp x cp ranks of a (tp, pp) place, keyed
 * cp fastest: they share the parameters' shards and sum their gradients),
 * tp, pp, the embedding group (the first and last stages of a pipeline
 * with a tied embedding; a group of one elsewhere) and cp.  With tp = pp =
 * cp = 1 the world is the data-parallel group (no split: a row without
 * sub-groups runs) and the others are groups of one.  0, or -1 with
 * res->err. */
enum { GR_DP, GR_TP, GR_PP, GR_EMB, GR_CP, GR_N };
static const char *const gr_names[GR_N] = {"data-parallel", "tensor-parallel", "pipeline", "embedding",
                                           "context-parallel"};
static int make_groups(const ze_cfg *c, ze_group *world, ze_group *gr, int *split, ze_result *res)
{
    int t = c->tp > 1 ? c->tp : 1, p = c->pp > 1 ? c->pp : 1, q = c->cp > 1 ? c->cp : 1;
    *split = 0;
    if (t == 1 && p == 1 && q == 1) {
        gr[GR_DP] = *world;
        for (int i = GR_TP; i < GR_N; i++)
            ze_group_single(&gr[i]);
        return 0;
    }
    ze_layout l;
    int d = world->size / (t * p * q);
    if (ze_layout_of(world->rank, world->size, t, q, d, p, &l)) {
        snprintf(res->err, sizeof res->err, "tp %d x cp %d x pp %d does not divide the %d ranks", t, q, p,
                 world->size);
        return -1;
    }
    int tied_ends = p > 1 && !c->untied && (l.coord[ZE_PP] == 0 || l.coord[ZE_PP] == p - 1);
    int color[GR_N] = {l.coord[ZE_TP] + t * l.coord[ZE_PP], ze_layout_color(&l, ZE_TP), ze_layout_color(&l, ZE_PP),
                       tied_ends ? l.coord[ZE_TP] + t * (l.coord[ZE_CP] + q * l.coord[ZE_DP]) : t * q * d + world->rank,
                       ze_layout_color(&l, ZE_CP)};
    int key[GR_N] = {l.coord[ZE_CP] + q * l.coord[ZE_DP], l.coord[ZE_TP], l.coord[ZE_PP], l.coord[ZE_PP],
                     l.coord[ZE_CP]};
    for (int i = 0; i < GR_N; i++)
        if (world->split(world, color[i], key[i], &gr[i])) {
            snprintf(res->err, sizeof res->err, "the %s group: %.200s", gr_names[i], world->err);
            while (i-- > 0)
                ze_group_fini(&gr[i]);
            return -1;
        }
    *split = 1;
    return 0;
}

int ze_train(const ze_cfg *c, ze_dev *d, ze_group *world, ze_result *res)
{
    model m;
    step_ctx x;
    int rc = 0, split = 0;
    /* g: the data-parallel group (the world without tp and pp: dp x cp),
     * tg: the tensor-parallel group, pg: the pipeline's, eg: the embedding
     * group, cg: the context-parallel group */
    ze_group gr[GR_N], *g = &gr[GR_DP], *tg = &gr[GR_TP], *pg = &gr[GR_PP], *eg = &gr[GR_EMB], *cg = &gr[GR_CP];
    double opt_total = 0.0, steady_t0 = 0.0, comm0 = 0.0, compute0 = 0.0;
    /* bytes moved per step, summed over the steady steps (from the second
     * on) that were applied, and over all steady steps */
    uint64_t gbus_ok[GR_N][ZE_NCOLL] = {{0}}, gbus_all[GR_N][ZE_NCOLL] = {{0}};
    double pp0 = 0.0;
    uint64_t h2d_ok = 0, d2h_ok = 0, h2d_all = 0, d2h_all = 0;
    int n_ok = 0, n_all = 0;
    const ze_dev_ops *op = d->ops;
    d->math = c->math;   /* the products' arithmetic, for every GEMM from here */
    double gemm0_s, gemm0_f, attn0_s = 0.0, attn0_f = 0.0;
    op->gemm_stats(d, &gemm0_s, &gemm0_f);
    if (op->attn_stats)
        op->attn_stats(d, &attn0_s, &attn0_f);
    if (op->gemm_log_clear)
        op->gemm_log_clear(d);
    memset(&m, 0, sizeof m);
    memset(res, 0, sizeof *res);
    memset(&x, 0, sizeof x);
    if (make_groups(c, world, gr, &split, res)) {
        res->status = 2;
        return -1;
    }
    res->tp = tg->size, res->dp = g->size / cg->size, res->pp = pg->size, res->cp = cg->size;
    res->tp_rank = tg->rank, res->dp_rank = g->rank / cg->size, res->pp_rank = pg->rank, res->cp_rank = cg->rank;
    /* micro-batches in flight on this stage (run_stage); its layers (the
     * first chunk's first, all its chunks') */
    int np = pg->size, stage = pg->rank;
    x.v = c->vp > 1 && np > 1 ? c->vp : 1;
    x.slots = np == 1 ? 1 : c->gpipe || x.v > 1 ? c->M : np - stage < c->M ? np - stage : c->M;
    int per_chunk = chunk_layers(c->L, np, stage, x.v, 0, &res->layer0);
    res->layers = per_chunk * x.v;
    ze_alloc_init(&res->mem, c->device_cap, 0);
    for (int p = 0; p < ZE_NPOOL; p++)
        res->mem.granule[p] = d->granule[p];
    d->a = &res->mem;
    res->params = ze_param_count(c);
    res->losses = calloc((size_t)c->steps, sizeof(double));
    double *step_times = calloc((size_t)c->steps, sizeof(double));
    double *pp_frac = calloc((size_t)c->steps, sizeof(double));   /* each step's pipeline wait over its time */
    size_t ntok = (size_t)c->B * (size_t)(c->T / cg->size);   /* this rank's part of each sequence */
    size_t sl = (size_t)x.slots;
    x.acts = calloc(sl * (size_t)x.v * (size_t)per_chunk, sizeof(lact));
    x.dres = calloc(sl * (size_t)x.v, sizeof(float *));
    x.sbuf = calloc(sl * (size_t)x.v, sizeof(float *));
    x.tok_h = malloc(sizeof(int) * ntok);
    x.tgt_h = malloc(sizeof(int) * ntok);
    x.seq_h = malloc(sizeof(int) * ((size_t)c->T + 1));
    x.tok = ze_dev_raw(d, sizeof(int) * ntok * sl);
    x.tgt = ze_dev_raw(d, sizeof(int) * ntok * sl);
    int tpn = tg->size > 1;
    if (tpn) {
        x.tokl_h = malloc(sizeof(int) * ntok);
        x.tgtl_h = malloc(sizeof(int) * ntok);
        x.xent_h = malloc(sizeof(float) * 3 * ntok);
        x.tokl = ze_dev_raw(d, sizeof(int) * ntok * sl);
        x.tgtl = ze_dev_raw(d, sizeof(int) * ntok * sl);
    }
    if (!res->losses || !step_times || !pp_frac || !x.acts || !x.dres || !x.sbuf || !x.tok_h || !x.tgt_h || !x.seq_h || !x.tok || !x.tgt ||
        (tpn && (!x.tokl_h || !x.tgtl_h || !x.xent_h || !x.tokl || !x.tgtl))) {
        snprintf(res->err, sizeof res->err, "no memory for the step's bookkeeping");
        rc = -1;
        goto bookkeeping;
    }
    if (cg->size > 1 && (!d->ops->flash_fwd_part || !d->ops->flash_bwd_part || !d->ops->copy_rows ||
                         !d->ops->acc_rows)) {
        snprintf(res->err, sizeof res->err, "the %s row has no flash attention over a part of the sequence (cp > 1)",
                 d->ops->name);
        rc = -1;
        goto bookkeeping;
    }
    if (tpn && (!d->ops->xent_max || !d->ops->xent_sums || !d->ops->xent_grad)) {
        snprintf(res->err, sizeof res->err, "the %s row has no vocabulary-parallel cross-entropy yet (tp > 1)",
                 d->ops->name);
        rc = -1;
        goto bookkeeping;
    }
    res->mem.phase = ZE_SETUP;
    if (model_init(&m, c, d, g, tg, pg, eg, cg) != 0) {
        rc = 1;
        goto out;
    }
    x.m = &m;
    if (c->dump && g->rank == 0 && dump_start(&m, &x.dump)) {
        rc = 1;
        goto out;
    }
    for (int s = 0; s < c->steps; s++) {
        double t0 = now_s(), loss = 0.0, w0 = pg->comm_s + eg->comm_s;
        if (s == 0 && c->first_step_delay_s > 0) {   /* fault injection for tests: a slow first step */
            struct timespec ts = {(time_t)c->first_step_delay_s,
                                  (long)((c->first_step_delay_s - (double)(time_t)c->first_step_delay_s) * 1e9)};
            nanosleep(&ts, NULL);
        }
        uint64_t b0[GR_N][ZE_NCOLL], h0 = m.h2d, d0 = m.d2h;
        for (int i = 0; i < GR_N; i++)
            memcpy(b0[i], gr[i].bus_bytes, sizeof b0[i]);
        if (s == 1) {
            op->gemm_stats(d, &gemm0_s, &gemm0_f);
            if (op->attn_stats)
                op->attn_stats(d, &attn0_s, &attn0_f);
            if (op->gemm_log_clear)
                op->gemm_log_clear(d);   /* the shapes of the steady steps */
            steady_t0 = t0;
            comm0 = g->comm_s + tg->comm_s + pg->comm_s + eg->comm_s + cg->comm_s;
            pp0 = pg->comm_s + eg->comm_s;
            compute0 = x.fwd_s + x.bwd_s;
        }
        if ((x.v > 1 ? run_interleaved : run_stage)(&x, s, (float)m.scale / (float)(c->M * g->size), &loss)) {
            rc = 1;
            goto out;
        }
        res->mem.phase = ZE_BWD;
        if (reduce_grads(&m)) {
            rc = 1;
            goto out;
        }
        op->sync(d);
        double t1 = now_s();
        res->mem.phase = ZE_OPT;
        int applied = optimize(&m);
        if (applied < 0) {
            rc = 1;
            goto out;
        }
        op->sync(d);
        opt_total += now_s() - t1;
        if (s >= 1 || c->steps == 1) {
            for (int i = 0; i < GR_N; i++)
                for (int k = 0; k < ZE_NCOLL; k++) {
                    gbus_all[i][k] += gr[i].bus_bytes[k] - b0[i][k];
                    gbus_ok[i][k] += applied ? gr[i].bus_bytes[k] - b0[i][k] : 0;
                }
            h2d_all += m.h2d - h0, d2h_all += m.d2h - d0, n_all++;
            if (applied)
                h2d_ok += m.h2d - h0, d2h_ok += m.d2h - d0, n_ok++;
        }
        /* the last stage's loss (0 on the others), summed over the stages
         * and the data-parallel ranks */
        double sum[1] = {loss / (double)c->M};
        if (coll(&m, g->sum_doubles(g, sum, 1)) || (np > 1 && coll_of(&m, pg, pg->sum_doubles(pg, sum, 1)))) {
            rc = 1;
            goto out;
        }
        res->losses[s] = sum[0] / (double)g->size;
        res->steps_done = s + 1;
        step_times[s] = now_s() - t0;
        pp_frac[s] = step_times[s] > 0 ? (pg->comm_s + eg->comm_s - w0) / step_times[s] : 0.0;
        if (c->on_step)
            c->on_step(c->on_step_ctx, s + 1, c->steps, res->losses[s], step_times[s], applied);
    }
    /* bytes per step from step 2 on (step 1 may differ in nothing, but keep
     * the measurement on steady state), over the applied steps: a skipped
     * step (loss scaling) gathers no updated parameters; over all steady
     * steps when every one was skipped */
    int counted = c->steps > 1 ? c->steps - 1 : 1;
    uint64_t nb = (uint64_t)(n_ok ? n_ok : n_all);
    uint64_t *per[GR_N] = {res->bus_bytes_per_step, res->tp_bus_bytes_per_step, res->pp_bus_bytes_per_step,
                           res->emb_bus_bytes_per_step, res->cp_bus_bytes_per_step};
    for (int i = 0; i < GR_N; i++)
        for (int k = 0; k < ZE_NCOLL; k++)
            per[i][k] = (n_ok ? gbus_ok[i][k] : gbus_all[i][k]) / nb;
    res->pp_wait_s = (pg->comm_s + eg->comm_s - (c->steps > 1 ? pp0 : 0.0)) / counted;
    res->h2d_per_step = (n_ok ? h2d_ok : h2d_all) / nb;
    res->d2h_per_step = (n_ok ? d2h_ok : d2h_all) / nb;
    double gemm1_s, gemm1_f, attn1_s = 0.0, attn1_f = 0.0;
    op->gemm_stats(d, &gemm1_s, &gemm1_f);
    if (op->attn_stats)
        op->attn_stats(d, &attn1_s, &attn1_f);
    res->attn_s = (attn1_s - attn0_s) / counted;
    res->attn_flops = (attn1_f - attn0_f) / counted;
    res->gemm_s = (gemm1_s - gemm0_s) / counted;
    res->steady_step_s = c->steps > 1 ? (now_s() - steady_t0) / counted : step_times[0];
    res->steady_comm_s =
        (g->comm_s + tg->comm_s + pg->comm_s + eg->comm_s + cg->comm_s - (c->steps > 1 ? comm0 : 0.0)) / counted;
    res->steady_compute_s = (x.fwd_s + x.bwd_s - (c->steps > 1 ? compute0 : 0.0)) / counted;
    res->gemm_flops = (gemm1_f - gemm0_f) / counted;
    if (dump_end(&m, &x.dump))
        rc = 1;
out:
    if (x.dump)
        dump_end(&m, &x.dump);
    res->skipped = m.skipped;
    res->loss_scale = m.scale;
    if (rc == 1) {
        res->status = res->mem.oom ? 1 : 2;
        if (m.failed)
            snprintf(res->err, sizeof res->err, "%s", m.err);
        else if (res->mem.oom)
            snprintf(res->err, sizeof res->err, "out of memory: %llu more bytes of the %s pool refused",
                     (unsigned long long)res->mem.oom_request, res->mem.oom_pool == ZE_HOST ? "host" : "device");
        else if (!res->err[0])
            snprintf(res->err, sizeof res->err, "%s", d->err[0] ? d->err : "the host had no memory");
    }
    if (res->steps_done > 0) {
        /* the median of the steps from the second (the first warms up):
         * the n/2-th of them sorted; the first alone when it is all */
        int from = res->steps_done > 1, n = res->steps_done - from;
        qsort(step_times + from, (size_t)n, sizeof(double), cmp_d);
        res->step_s = step_times[from + n / 2];
        qsort(pp_frac + from, (size_t)n, sizeof(double), cmp_d);
        res->pp_idle_median = pp_frac[from + n / 2];
        res->fwd_s = x.fwd_s / res->steps_done;
        res->bwd_s = x.bwd_s / res->steps_done;
        res->opt_s = opt_total / res->steps_done;
        res->comm_s = (g->comm_s + tg->comm_s + pg->comm_s + eg->comm_s + cg->comm_s) / res->steps_done;
    }
    model_free(&m);
bookkeeping:
    free(step_times);
    free(pp_frac);
    free(x.acts);
    free(x.tok_h);
    free(x.tgt_h);
    free(x.seq_h);
    free(x.tokl_h);
    free(x.tgtl_h);
    free(x.xent_h);
    ze_dev_raw_free(d, x.tok);
    ze_dev_raw_free(d, x.tgt);
    ze_dev_raw_free(d, x.tokl);
    ze_dev_raw_free(d, x.tgtl);
    free(x.dres);
    free(x.sbuf);
    if (split)
        for (int i = 0; i < GR_N; i++)
            ze_group_fini(&gr[i]);
    return rc;
}
