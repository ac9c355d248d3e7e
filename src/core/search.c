/* search.c - enumerate layouts, reject the invalid and the infeasible
 * (counting why), rank the rest by step time (pure).
 *
 * Candidates: every factorisation G = dp x tp x pp x cp (tp fills a node
 * first; pp need not divide the layers: stages may differ by a block; cp,
 * context parallelism, a power of 2 up to 32, searched from a sequence of
 * 8192 tokens on (ZP_CP_SEARCH_MIN_SEQ: NeMo's Llama 3 runs there use cp 2,
 * data/validation) and otherwise 1 unless pinned),
 * x ZeRO stage 0..3 x offload (none, optimizer, optimizer+params) x
 * recompute (none, selective, full) x micro-batch (each divisor of
 * global_batch / dp); gradient accumulation M = global_batch / (dp b).
 * x interleaving vp (each divisor of the blocks a stage holds that makes
 * chunks, see stages_ok; 1 at pp = 1).  Activation offload (Calculon's
 * "activations to offload memory"), unpinned: a candidate that exceeds
 * device memory is evaluated again with it, counted apart (act_tried,
 * act_fit); one that fits without it is not, as offload only adds copies.
 * Unpinned: sequence parallelism on when tp > 1 (same traffic,
 * less memory); with flash attention, selective recompute is the same plan
 * as none and is rejected as such.  A pinned dimension holds its value.
 * Ranking: step time, then device memory, then the layout (see better()). */
#include "core.h"

#include <stdio.h>
#include <string.h>

void zp_pins_none(zp_pins *p)
{
    p->dp = p->tp = p->pp = p->vp = p->micro_batch = p->cp = -1;
    p->zero = p->offload = p->ckpt = p->sp = p->act_offload = -1;
}

static zp_reject zp_layout_check_inner(const zp_problem *pb, const zp_layout *l);

/* Whether L layers go on p stages of v chunks each: v = 1, one block a
 * stage at least; interleaved, v chunks on every stage: p dividing L and v
 * the L/p, or uneven stages (zp_stage_layers) of floor(L/p) or one more
 * with v dividing the larger and at most the smaller (Llama 3 405B's 126
 * layers on 16 stages: 7 and 8 blocks, in 2 or 4 chunks). */
static int stages_ok(int64_t L, int64_t p, int64_t v)
{
    int64_t base = L / p;
    if (v <= 1)
        return L >= p;
    return L % p == 0 ? base % v == 0 : (base + 1) % v == 0 && base >= v;
}

int zp_tp_fits_nodes(int64_t tp, int64_t gpn)
{
    return tp >= 1 && gpn >= 1 && (gpn % tp == 0 || tp % gpn == 0);
}

zp_reject zp_layout_check(const zp_problem *pb, const zp_layout *l)
{
    const zp_model *m = &pb->model;
    if (!zp_tp_fits_nodes(l->tp, pb->cluster.gpus_per_node))
        return ZP_REJ_TP_NODE;
    if (m->heads % l->tp || m->kv_heads % l->tp)
        return ZP_REJ_TP_HEADS;
    /* stages may hold unequal numbers of blocks (zp_stage_layers), but at
     * least one each; interleaved chunks must be equal */
    if (!stages_ok(m->layers, l->pp, l->vp))
        return ZP_REJ_PP_LAYERS;
    if (pb->train.global_batch % (l->dp * l->micro_batch))
        return ZP_REJ_DP_BATCH;
    return zp_layout_check_inner(pb, l);
}

/* The checks that depend on more than the factorisation (zp_search makes
 * the tp, pp and dp checks once per factorisation, and micro-batches are
 * divisors of global_batch / dp by construction). */
static zp_reject zp_layout_check_inner(const zp_problem *pb, const zp_layout *l)
{
    /* ZeRO-2 partitions gradients per micro-batch, against a pipeline's
     * accumulation; ZeRO-3 with pp > 1 is FSDP with pipelining (comm.c),
     * evaluated when --zero 3 is given, without parameter offload */
    int fsdp = !strcmp(pb->conv.framework, "fsdp");
    if (l->pp > 1 && (l->zero == 2 || (l->zero == 3 && ((pb->pins.zero != 3 && !fsdp) || l->offload == ZP_OFF_OPT_PARAMS))))
        return ZP_REJ_ZERO_PP;
    if ((l->offload != ZP_OFF_NONE && l->zero < 1) || (l->offload == ZP_OFF_OPT_PARAMS && l->zero < 3))
        return ZP_REJ_OFFLOAD;
    if (l->vp > 1 && (l->pp < 2 || l->grad_accum % l->pp))
        return ZP_REJ_VP;
    /* flash attention keeps no s^2 tensors, so selective recompute of the
     * attention core alone changes neither memory nor time: one candidate,
     * not two, unless the user asked for it (or for other modules) */
    if (l->ckpt == ZP_CKPT_SELECTIVE && pb->train.flash && pb->pins.ckpt != ZP_CKPT_SELECTIVE &&
        zp_rc_modules(&pb->train, 1) == ZP_RC_CORE_ATTN)
        return ZP_REJ_SELECTIVE_FLASH;
    /* context parallelism splits each sequence into 2 cp chunks (a rank
     * takes one from each end, so that causal work balances) and runs
     * its attention as ring attention over flash kernels */
    if (zp_cp(l) > 1 && (!pb->train.flash || pb->train.seq % (2 * zp_cp(l))))
        return ZP_REJ_CP;
    /* Hugging Face's modules checkpoint whole blocks (gradient
     * checkpointing): PyTorch eager has no selective or per-op policy of
     * Megatron's kind to count */
    if (pb->conv.eager && (l->ckpt == ZP_CKPT_SELECTIVE || l->ckpt == ZP_CKPT_OP))
        return ZP_REJ_EAGER_CKPT;
    if (zp_framework_lacks(pb->conv.framework, l->zero, (int)l->offload, l->pp))
        return ZP_REJ_FRAMEWORK;
    if (l->act_offload && zp_act_offload_lacks(&pb->conv, l->ckpt, l->pp))
        return ZP_REJ_ACT_OFFLOAD;
    return ZP_REJ_NONE;
}

const char *zp_act_offload_lacks(const zp_conv *cv, int ckpt, int64_t pp)
{
    if (cv->eager)
        return "what PyTorch eager keeps (--eager, --framework torch) is not modelled offloaded (allowed: without "
               "--eager)";
    if (cv->act_offload == ZP_AOFF_NONE)
        return "--act-offload-mode none offloads no activations (allowed: async, sync, checkpoints)";
    if (cv->act_offload == ZP_AOFF_CKPT_SYNC && ckpt >= 0 && ckpt != ZP_CKPT_FULL)
        return "DeepSpeed's cpu_checkpointing offloads the inputs of blocks full recompute rebuilds (allowed: "
               "--ckpt full)";
    /* Megatron-core's TransformerConfig refuses cpu_offloading with a
     * pipeline and with any recompute (transformer_config.py) */
    if (!strcmp(cv->framework, "megatron") && cv->act_offload == ZP_AOFF_ASYNC &&
        ((pp > 1) || (ckpt >= 0 && ckpt != ZP_CKPT_NONE)))
        return "Megatron-core's --cpu-offloading runs without pipeline parallelism and without recompute (allowed: "
               "--pp 1 --ckpt none)";
    return NULL;
}

const char *zp_framework_lacks(const char *framework, int zero, int offload, int64_t pp)
{
    if (!strcmp(framework, "fsdp") && zero == 1)
        return "FSDP shards nothing (NO_SHARD), gradients and optimizer (SHARD_GRAD_OP) or everything (FULL_SHARD) "
               "(allowed: ZeRO 0, 2 or 3)";
    if (!strcmp(framework, "fsdp") && offload == ZP_OFF_OPT)
        return "FSDP's CPU offload moves the parameters with the optimizer step (allowed: offload none, or "
               "optimizer+params at ZeRO-3)";
    if (!strcmp(framework, "deepspeed") && zero >= 2 && pp > 1)
        return "DeepSpeed's pipeline engine runs ZeRO 0-1 only (allowed: ZeRO 0 or 1, or pp 1)";
    if (!strcmp(framework, "torch") && (zero >= 2 || offload > ZP_OFF_NONE))
        return "DistributedDataParallel replicates, with ZeroRedundancyOptimizer for ZeRO-1, and offloads nothing "
               "(allowed: ZeRO 0 or 1, no offload; --framework fsdp for ZeRO-2/3 and offload)";
    return NULL;
}

/* Memory and fit only: what decides whether a candidate is kept.  A plan
 * fits when its worst rank needs at most the device memory and its node at
 * most the host RAM: a total equal to the capacity fits. */
static void plan_memory(const zp_problem *pb, const zp_layout *l, const zp_lcache *lc, zp_plan *o)
{
    o->lay = *l;
    o->worst_stage = zp_mem_worst_c(&pb->model, &pb->train, l, &pb->conv, lc, &o->mem);
    o->host_per_node = zp_mem_host_node(&pb->model, &pb->train, l, &pb->cluster, &pb->conv, lc, &o->mem);
    if (o->mem.dev_total > pb->cluster.gpu.mem_bytes)
        o->reject = ZP_REJ_DEVICE_MEM;
    else if (o->host_per_node > pb->cluster.host_mem_bytes)
        o->reject = ZP_REJ_HOST_MEM;
    else
        o->reject = ZP_REJ_NONE;
}

/* Communication and cost of a plan whose memory is known. */
static void plan_cost(const zp_problem *pb, const zp_lcache *lc, zp_plan *o)
{
    zp_comm first, last, mid;
    const zp_layout *l = &o->lay;
    zp_comm_plan_c(&pb->model, &pb->train, l, &pb->cluster, &pb->conv, 0, lc, &first);
    if (l->pp > 1)
        zp_comm_plan_c(&pb->model, &pb->train, l, &pb->cluster, &pb->conv, l->pp - 1, lc, &last);
    const zp_comm *lp = l->pp > 1 ? &last : &first, *mp = NULL;
    /* a middle stage has its own: it sends activations and gradients both,
     * holds no embedding or head, and with uneven stages a block more (more
     * tensor-parallel collectives) */
    int64_t ms = zp_stage_middle_pick(&pb->model, l, &pb->cluster);
    if (ms) {
        zp_comm_plan_c(&pb->model, &pb->train, l, &pb->cluster, &pb->conv, ms, lc, &mid);
        mp = &mid;
    }
    /* the bytes of the rank whose memory is reported (the worst) */
    o->comm_bytes = o->worst_stage == 0             ? first.bytes_per_step
                    : o->worst_stage == l->pp - 1   ? lp->bytes_per_step
                    : mp && o->worst_stage == ms    ? mid.bytes_per_step
                                                    : lp->bytes_per_step;
    zp_cost_eval_c(&pb->model, &pb->train, l, &pb->cluster, &pb->conv, lc, &first, lp, mp, &o->cost);
}

void zp_plan_eval(const zp_problem *pb, const zp_layout *l, zp_plan *o)
{
    zp_lcache lc;
    zp_lcache_init(&pb->model, &pb->train, l, &lc);
    plan_memory(pb, l, &lc, o);
    plan_cost(pb, &lc, o);
}

/* The ranking, a strict total order on the candidates of one search:
 * shorter step time first; at equal step time less device memory (the
 * worst rank's); at equal memory too, the layout in enumeration order:
 * smaller tp, then pp, ZeRO stage, offload, activation offload, recompute, micro-batch (dp
 * follows from tp and pp; vp and sp are fixed within a search, compared
 * last for completeness).  At dp = 1, for instance, ZeRO-0, -1 and -2
 * differ in nothing, and rank in that order, ZeRO-3 after them (its
 * gathered-block buffers exist at dp = 1 too).  The order does not depend
 * on k or on the order the loops visit the candidates. */
static int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }

static int better(const zp_plan *a, const zp_plan *b)
{
    if (a->cost.step_s != b->cost.step_s)
        return a->cost.step_s < b->cost.step_s;
    if (a->mem.dev_total != b->mem.dev_total)
        return a->mem.dev_total < b->mem.dev_total;
    const zp_layout *x = &a->lay, *y = &b->lay;
    const int64_t key[][2] = {
        {x->tp, y->tp}, {x->pp, y->pp}, {zp_cp(x), zp_cp(y)}, {x->zero, y->zero}, {x->offload, y->offload},
        {x->act_offload, y->act_offload}, {x->ckpt, y->ckpt}, {x->micro_batch, y->micro_batch}, {x->dp, y->dp}, {x->vp, y->vp}, {x->sp, y->sp},
    };
    for (size_t i = 0; i < sizeof key / sizeof key[0]; i++) {
        int c = cmp_i64(key[i][0], key[i][1]);
        if (c)
            return c < 0;
    }
    return 0;
}

static void keep_top(zp_plan *top, int k, int *n, const zp_plan *p);
static double misfit(const zp_problem *pb, const zp_plan *p);

/* A candidate whose memory is known: costed and kept among the top k
 * when it fits, else remembered when it is the closest misfit yet (an
 * activation-offload twin that does not fit either is not: the layout
 * itself stands for both). */
static void consider(const zp_problem *pb, const zp_lcache *lc, zp_plan *p, zp_plan *top, int k,
                     zp_search_result *res)
{
    if (p->reject != ZP_REJ_NONE && p->lay.act_offload && pb->pins.act_offload < 0)
        return;
    if (p->reject == ZP_REJ_NONE) {
        plan_cost(pb, lc, p);
        keep_top(top, k, &res->ntop, p);
    } else if (!res->have_closest || misfit(pb, p) < misfit(pb, &res->closest)) {
        res->closest = *p;
        res->have_closest = 1;
    }
}

static void keep_top(zp_plan *top, int k, int *n, const zp_plan *p)
{
    int i = *n < k ? (*n)++ : k;
    if (i == k) {
        if (k == 0 || !better(p, &top[k - 1]))
            return;
        i = k - 1;
    }
    while (i > 0 && better(p, &top[i - 1])) {
        top[i] = top[i - 1];
        i--;
    }
    top[i] = *p;
}

zp_status zp_pins_check(const zp_problem *pb, zp_err *e)
{
    const zp_pins *p = &pb->pins;
    int64_t G = pb->cluster.gpus;
    int64_t prod = (p->dp > 0 ? p->dp : 1) * (p->tp > 0 ? p->tp : 1) * (p->pp > 0 ? p->pp : 1) *
                   (p->cp > 0 ? p->cp : 1);
    if (p->dp > 0 && p->tp > 0 && p->pp > 0 && prod != G)
        return zp_err_set(e, ZP_EINVAL, "--dp %lld x --tp %lld x --pp %lld%s = %lld does not equal --gpus %lld",
                          (long long)p->dp, (long long)p->tp, (long long)p->pp, p->cp > 1 ? " x --cp" : "",
                          (long long)prod, (long long)G);
    if (p->cp > 1 && (!pb->train.flash || pb->train.seq % (2 * p->cp)))
        return zp_err_set(e, ZP_EINVAL, "--cp %lld with %s and --seq %lld: context parallelism needs flash attention "
                          "and a sequence of 2 x cp equal chunks", (long long)p->cp,
                          pb->train.flash ? "flash attention" : "--no-flash-attn", (long long)pb->train.seq);
    if (G % prod) {
        /* name the pinned flags: "--tp 3", "--dp 2 x --pp 3" */
        const struct { const char *flag; int64_t v; } dims[] = {
            {"--dp", p->dp}, {"--tp", p->tp}, {"--pp", p->pp}, {"--cp", p->cp}};
        char pinned[128] = "";
        size_t used = 0;
        for (int i = 0; i < 4; i++) {
            if (dims[i].v <= 0)
                continue;
            int w = snprintf(pinned + used, sizeof pinned - used, "%s%s %lld", used ? " x " : "", dims[i].flag,
                             (long long)dims[i].v);
            if (w > 0 && (size_t)w < sizeof pinned - used)
                used += (size_t)w;
        }
        return zp_err_set(e, ZP_EINVAL, "%s (product %lld) does not divide --gpus %lld "
                          "(allowed: dp x tp x pp x cp = gpus)", pinned, (long long)prod, (long long)G);
    }
    if (p->tp > 0 && !zp_tp_fits_nodes(p->tp, pb->cluster.gpus_per_node))
        return zp_err_set(e, ZP_EINVAL, "--tp %lld must divide the GPUs per node (%lld) or be a multiple of them: a "
                          "tensor-parallel group lies inside a node or over whole nodes", (long long)p->tp,
                          (long long)pb->cluster.gpus_per_node);
    if (p->tp > 0 && (pb->model.heads % p->tp || pb->model.kv_heads % p->tp))
        return zp_err_set(e, ZP_EINVAL, "--tp %lld does not divide the model's %lld heads (%lld KV heads)",
                          (long long)p->tp, (long long)pb->model.heads, (long long)pb->model.kv_heads);
    if (p->pp > 0 && p->vp > 1 && p->pp <= pb->model.layers && !stages_ok(pb->model.layers, p->pp, p->vp)) {
        int64_t base = pb->model.layers / p->pp;
        if (pb->model.layers % p->pp == 0)
            return zp_err_set(e, ZP_EINVAL, "--pp %lld x --vp %lld does not fit the model's %lld layers (allowed: "
                              "--vp dividing each stage's %lld blocks)", (long long)p->pp, (long long)p->vp,
                              (long long)pb->model.layers, (long long)base);
        return zp_err_set(e, ZP_EINVAL, "--pp %lld x --vp %lld does not fit the model's %lld layers: its stages hold "
                          "%lld and %lld blocks (allowed: --vp dividing %lld and at most %lld)", (long long)p->pp,
                          (long long)p->vp, (long long)pb->model.layers, (long long)base, (long long)(base + 1),
                          (long long)(base + 1), (long long)base);
    }
    if (p->pp > pb->model.layers)
        return zp_err_set(e, ZP_EINVAL, "--pp %lld exceeds the model's %lld layers (allowed: at most one stage a "
                          "layer)", (long long)p->pp, (long long)pb->model.layers);
    if (p->vp > 1 && p->pp == 1)
        return zp_err_set(e, ZP_EINVAL, "--vp %lld needs --pp > 1 (interleaving splits pipeline stages)",
                          (long long)p->vp);
    if (p->dp > 0 && pb->train.global_batch % p->dp)
        return zp_err_set(e, ZP_EINVAL, "--dp %lld does not divide --global-batch %lld (allowed: a --dp dividing "
                          "it, or a --global-batch that is a multiple of %lld)", (long long)p->dp,
                          (long long)pb->train.global_batch, (long long)p->dp);
    if (p->micro_batch > 0 && pb->train.global_batch % p->micro_batch)
        return zp_err_set(e, ZP_EINVAL, "--micro-batch %lld does not divide --global-batch %lld (allowed: a "
                          "--micro-batch dividing it, or a --global-batch that is a multiple of %lld)",
                          (long long)p->micro_batch, (long long)pb->train.global_batch, (long long)p->micro_batch);
    if (p->dp > 0 && p->micro_batch > 0 && pb->train.global_batch % (p->dp * p->micro_batch))
        return zp_err_set(e, ZP_EINVAL, "--dp %lld x --micro-batch %lld does not divide --global-batch %lld "
                          "(allowed: a --global-batch that is a multiple of %lld)", (long long)p->dp,
                          (long long)p->micro_batch, (long long)pb->train.global_batch,
                          (long long)(p->dp * p->micro_batch));
    if (p->zero == 2 && p->pp > 1)
        return zp_err_set(e, ZP_EINVAL, "--zero %d cannot be combined with --pp %lld (ZeRO-2 partitions gradients "
                          "per micro-batch; allowed with pp > 1: --zero 0, 1, or 3 as FSDP with pipelining)", p->zero,
                          (long long)p->pp);
    if (p->zero == 3 && p->pp > 1 && p->offload == ZP_OFF_OPT_PARAMS)
        return zp_err_set(e, ZP_EINVAL, "--zero 3 --pp %lld --offload optimizer+params: FSDP with pipelining keeps "
                          "each stage whole through the step, so its parameters are not offloaded (allowed: "
                          "--offload none or optimizer)", (long long)p->pp);
    /* PyTorch eager's saved tensors and kernels are those of transformers'
     * GPT-2 and LLaMA modules (memory.c): a gated MLP's separate q, k, v,
     * gate and up products, and Q/K head norms only in Qwen3's form */
    if (pb->conv.eager && pb->model.fused_proj && pb->model.mlp == ZP_MLP_SWIGLU)
        return zp_err_set(e, ZP_EINVAL, "--eager with fused Q/K/V and gate-up products (Phi-3's qkv_proj and "
                          "gate_up_proj): what PyTorch eager keeps of them is not modelled (allowed: without --eager "
                          "and --framework torch)");
    if (pb->conv.eager && pb->model.qk_norm &&
        (pb->model.norm != ZP_NORM_RMSNORM || pb->model.mlp != ZP_MLP_SWIGLU || pb->model.pos != ZP_POS_ROTARY))
        return zp_err_set(e, ZP_EINVAL, "--eager with Q/K head norms in blocks other than Qwen3's (RMSNorm, SwiGLU, "
                          "rotary positions): what PyTorch eager keeps of them is not modelled (allowed: without "
                          "--eager and --framework torch, or Qwen3's blocks)");
    if (pb->conv.eager && (p->ckpt == ZP_CKPT_SELECTIVE || p->ckpt == ZP_CKPT_OP))
        return zp_err_set(e, ZP_EINVAL, "--ckpt %s with --eager: Hugging Face's modules checkpoint whole blocks "
                          "(allowed with --eager: --ckpt none or full)", zp_ckpt_names[p->ckpt]);
    if (p->offload > 0 && p->zero == 0)
        return zp_err_set(e, ZP_EINVAL, "--offload %s needs --zero 1, 2 or 3", zp_offload_names[p->offload]);
    const char *aol;
    if (p->act_offload == 1 && (aol = zp_act_offload_lacks(&pb->conv, p->ckpt, p->pp)))
        return zp_err_set(e, ZP_EINVAL, "--act-offload%s%s: %s", p->ckpt >= 0 ? " with --ckpt " : "",
                          p->ckpt >= 0 ? zp_ckpt_names[p->ckpt] : "", aol);
    if (p->offload == ZP_OFF_OPT_PARAMS && p->zero >= 0 && p->zero < 3)
        return zp_err_set(e, ZP_EINVAL, "--offload optimizer+params needs --zero 3 (got --zero %d)", p->zero);
    return ZP_OK;
}

/* Pinned value or the full range [lo, hi]. */
static void range_of(int pin, int lo, int hi, int *a, int *b)
{
    *a = pin >= 0 ? pin : lo;
    *b = pin >= 0 ? pin : hi;
}

/* How far a plan is from fitting: the larger of its device and host use
 * relative to the capacities (> 1 for a plan that does not fit). */
static double misfit(const zp_problem *pb, const zp_plan *p)
{
    double d = (double)p->mem.dev_total / (double)pb->cluster.gpu.mem_bytes;
    double h = (double)p->host_per_node / (double)pb->cluster.host_mem_bytes;
    return d > h ? d : h;
}

#define ZP_MAXDIV 2048

/* Divisors of n in increasing order into out[] (at most max); returns the
 * count.  Trial division up to sqrt(n). */
static int divisors(int64_t n, int64_t *out, int max)
{
    int lo = 0, hi = 0;
    int64_t big[ZP_MAXDIV];
    for (int64_t i = 1; i * i <= n; i++) {
        if (n % i)
            continue;
        if (lo < max)
            out[lo++] = i;
        if (i != n / i && hi < ZP_MAXDIV)
            big[hi++] = n / i;
    }
    while (hi > 0 && lo < max)
        out[lo++] = big[--hi];
    return lo;
}

zp_status zp_search(const zp_problem *pb, zp_plan *top, int k, zp_search_result *res, zp_err *e)
{
    const zp_pins *pin = &pb->pins;
    int64_t G = pb->cluster.gpus, GB = pb->train.global_batch;
    int64_t gdiv[ZP_MAXDIV], bdiv[ZP_MAXDIV];
    zp_status st = zp_pins_check(pb, e);
    if (st != ZP_OK)
        return st;
    memset(res, 0, sizeof *res);
    int z0, z1, o0, o1, c0, c1;
    range_of(pin->zero, 0, 3, &z0, &z1);
    range_of(pin->offload, 0, ZP_OFF_N - 1, &o0, &o1);
    /* per-op checkpointing (a framework's policy) only when pinned */
    range_of(pin->ckpt, 0, ZP_CKPT_FULL, &c0, &c1);
    int64_t per_fact = (int64_t)(z1 - z0 + 1) * (o1 - o0 + 1) * (c1 - c0 + 1);
    int ng = divisors(G, gdiv, ZP_MAXDIV);
    /* the context-parallel degrees: the pinned one, or 1 and (from a
     * sequence of ZP_CP_SEARCH_MIN_SEQ on) the powers of 2 up to 32 */
    int64_t cps[6] = {1};
    int ncp = 1;
    if (pin->cp > 0)
        cps[0] = pin->cp;
    else if (pb->train.seq >= ZP_CP_SEARCH_MIN_SEQ)
        for (int64_t c = 2; c <= 32; c *= 2)
            cps[ncp++] = c;

    for (int it = 0; it < ng; it++) {
        int64_t tp = gdiv[it];
        if (pin->tp > 0 && tp != pin->tp)
            continue;
        for (int ip = 0; ip < ng; ip++) {
            int64_t pp = gdiv[ip];
            if ((G / tp) % pp || (pin->pp > 0 && pp != pin->pp))
                continue;
            for (int ic = 0; ic < ncp; ic++) {
            int64_t cp = cps[ic];
            if ((G / tp / pp) % cp)
                continue;
            int64_t dp = G / tp / pp / cp;
            if (pin->dp > 0 && dp != pin->dp)
                continue;
            /* interleaving: each vp whose chunks divide the stage's layers
             * (1 at pp = 1, or when the layers do not split into pp) */
            int64_t vdiv[ZP_MAXDIV];
            int nv = 1;
            vdiv[0] = pin->vp > 0 ? pin->vp : 1;
            /* not with DeepSpeed's blocking pipeline, which has no interleaving */
            if (pin->vp <= 0 && pp > 1 && pb->model.layers >= pp && !pb->conv.p2p_blocking) {
                /* the divisors of a stage's (larger) block count that make stages */
                int64_t all[ZP_MAXDIV], most = pb->model.layers / pp + (pb->model.layers % pp != 0);
                int na = divisors(most, all, ZP_MAXDIV);
                nv = 0;
                for (int i = 0; i < na; i++)
                    if (stages_ok(pb->model.layers, pp, all[i]))
                        vdiv[nv++] = all[i];
            }
            for (int iv = 0; iv < nv; iv++) {
            zp_layout l = {0};
            l.dp = dp;
            l.tp = tp;
            l.pp = pp;
            l.vp = vdiv[iv];
            l.cp = cp;
            l.sp = pin->sp >= 0 ? pin->sp : tp > 1;
            l.act_offload = pin->act_offload > 0;
            l.micro_batch = 1;
            l.grad_accum = GB / dp > 0 ? GB / dp : 1;
            /* structural checks that do not depend on the inner loops */
            zp_reject r = ZP_REJ_NONE;
            if (!zp_tp_fits_nodes(tp, pb->cluster.gpus_per_node))
                r = ZP_REJ_TP_NODE;
            else if (pb->model.heads % tp || pb->model.kv_heads % tp)
                r = ZP_REJ_TP_HEADS;
            else if (!stages_ok(pb->model.layers, pp, l.vp))
                r = ZP_REJ_PP_LAYERS;
            else if (GB % dp)
                r = ZP_REJ_DP_BATCH;
            if (r != ZP_REJ_NONE) {
                /* as many candidates as the inner loops would have tried:
                 * each ZeRO stage, offload and recompute with each
                 * micro-batch (one where the batch does not split over dp,
                 * or the micro-batch is pinned) */
                int64_t nmb = GB % dp || pin->micro_batch > 0 ? 1 : divisors(GB / dp, bdiv, ZP_MAXDIV);
                res->evaluated += per_fact * nmb;
                res->rejected[r] += per_fact * nmb;
                continue;
            }
            int nb = divisors(GB / dp, bdiv, ZP_MAXDIV);
            for (int z = z0; z <= z1; z++)
                for (int o = o0; o <= o1; o++)
                    for (int c = c0; c <= c1; c++) {
                        l.zero = z;
                        l.offload = (zp_offload)o;
                        l.ckpt = (zp_ckpt)c;
                        for (int ib = 0; ib < nb; ib++) {
                            int64_t b = bdiv[ib];
                            if (pin->micro_batch > 0 && b != pin->micro_batch)
                                continue;
                            l.micro_batch = b;
                            l.grad_accum = GB / (dp * b);
                            res->evaluated++;
                            if (!zp_micro_batch_in_range(pb, b)) {   /* beyond 2^62 bytes: no device holds it */
                                res->rejected[ZP_REJ_DEVICE_MEM]++;
                                continue;
                            }
                            r = zp_layout_check_inner(pb, &l);
                            if (r != ZP_REJ_NONE) {
                                res->rejected[r]++;
                                continue;
                            }
                            /* memory decides the fit; only a plan that
                             * fits needs its communication and cost, except
                             * the closest misfit, costed at the end */
                            zp_plan p;
                            zp_lcache lc;
                            zp_lcache_init(&pb->model, &pb->train, &l, &lc);
                            plan_memory(pb, &l, &lc, &p);
                            res->rejected[p.reject]++;
                            consider(pb, &lc, &p, top, k, res);
                            /* activation offload unpinned: a layout too
                             * big for the device is tried again with its
                             * activations offloaded.  Offload adds copies
                             * and never time saved (memory.c, cost.c), so
                             * where a layout fits without it, its offloaded
                             * twin ranks after it: not tried */
                            if (pin->act_offload < 0 && p.reject == ZP_REJ_DEVICE_MEM &&
                                !zp_act_offload_lacks(&pb->conv, l.ckpt, l.pp)) {
                                l.act_offload = 1;
                                res->act_tried++;
                                plan_memory(pb, &l, &lc, &p);
                                res->act_fit += p.reject == ZP_REJ_NONE;
                                consider(pb, &lc, &p, top, k, res);
                                l.act_offload = 0;
                            }
                        }
                    }
            }
            }
        }
    }
    if (res->have_closest) {
        zp_lcache lc;
        zp_lcache_init(&pb->model, &pb->train, &res->closest.lay, &lc);
        plan_cost(pb, &lc, &res->closest);
    }
    return ZP_OK;
}
