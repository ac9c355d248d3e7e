/* comm.c - the collectives of one training step for one rank (pure).
 *
 * Conventions (README "Communication"):
 *   - bytes: S, the array size of one call as nccl-tests reports it (the
 *     whole gradient for a reduce-scatter, the whole gathered tensor for an
 *     all-gather); bus bytes S x factor are what each rank sends in a ring
 *     (all-reduce 2(n-1)/n, reduce-scatter and all-gather (n-1)/n, the rest
 *     1); "comm bytes per step" sums bus bytes x count.
 *   - time of one call: alpha x ring steps + S x factor / B, with B the
 *     slowest link the ring crosses (NVLink inside a node, the per-GPU NIC
 *     across nodes, PCIe for offload) x the link efficiency (NVLink's own
 *     where the preset measured it), and an NVLink ring of n < 8 ranks
 *     (all-reduce, reduce-scatter, all-gather) x (1 - c/n) / (1 - c/8)
 *     (zp_conv.group_c: smaller groups reach less of the link than 8 do;
 *     not on parts whose GPUs talk over PCIe); a group across
 *     nodes with r > 1 ranks in each node runs hierarchically (NVLink
 *     inside the node, then rings of S / r across nodes, one per GPU).
 *   - rank order: tp fastest, then cp, dp, pp (Megatron); a group spans
 *     tp, tp*cp, tp*cp*dp and tp*cp*dp*pp consecutive GPUs and crosses
 *     nodes when that span exceeds the GPUs per node; the data-parallel
 *     collectives (gradients, ZeRO) run over the dp x cp ranks that hold
 *     the same parameters.
 *   - per step: gradient sync once (ZeRO-0/1; gradient accumulation defers
 *     it) or per micro-batch (ZeRO-2/3 keep only their partition); ZeRO-1/2
 *     all-gather updated parameters once; ZeRO-3 gathers each layer in
 *     forward and again in backward; tp: 4 all-reduces per layer per
 *     micro-batch (2 forward, 2 backward; 2 for a parallel attention + MLP
 *     block, which reduces their sum once each way), or with sequence parallelism the
 *     same bytes as all-gather + reduce-scatter, plus 2 more per layer when
 *     full recompute repeats the forward (per-op checkpointing: the
 *     all-reduces, or the all-gathers only, again); pp: activations forward and
 *     gradients backward per micro-batch (per chunk when interleaved);
 *     cp: per layer and micro-batch the ring passes each rank's K and V
 *     chunk (2 b (s/cp) g d / t values) cp - 1 times forward, and K, V
 *     and their gradients 2 (cp - 1) times backward (once more forward with
 *     full recompute), point to point, overlapped with the attention of
 *     the chunk in hand (hidden behind forward and backward). */
#include "core.h"

#include <stddef.h>

static double coll_factor(zp_coll_kind k, int64_t n)
{
    switch (k) {
    case ZP_COLL_ALLREDUCE: return n > 1 ? 2.0 * (double)(n - 1) / (double)n : 0.0;
    case ZP_COLL_REDUCE_SCATTER:
    case ZP_COLL_ALLGATHER: return n > 1 ? (double)(n - 1) / (double)n : 0.0;
    default: return 1.0;
    }
}

static int64_t coll_steps(zp_coll_kind k, int64_t n)
{
    switch (k) {
    case ZP_COLL_ALLREDUCE: return 2 * (n - 1);
    case ZP_COLL_REDUCE_SCATTER:
    case ZP_COLL_ALLGATHER: return n - 1;
    default: return 1;
    }
}

double zp_coll_time(zp_coll_kind k, int64_t n, uint64_t bytes, double link_gbps, double alpha_s)
{
    return alpha_s * (double)coll_steps(k, n) + (double)bytes * coll_factor(k, n) / (link_gbps * 1e9);
}

/* Whether stage a's ranks and stage b's (stage size S ranks, consecutive,
 * gpn a node) sit in different nodes for some rank of the stage: rank r of
 * a sends to r + (b - a) S.  The node pattern repeats every gpn ranks, so
 * min(S, gpn) of them decide. */
static int stages_cross(int64_t a, int64_t b, int64_t S, int64_t gpn)
{
    int64_t delta = (b - a) * S, d = delta < 0 ? -delta : delta;
    if (gpn <= 0 || d >= gpn)
        return d > 0;
    for (int64_t j = 0; j < S && j < gpn; j++) {
        int64_t r = a * S + j;
        if (r / gpn != (r + delta) / gpn)
            return 1;
    }
    return 0;
}

int64_t zp_stage_middle_pick(const zp_model *m, const zp_layout *l, const zp_cluster *c)
{
    int64_t p = l->pp, S = l->tp * zp_shard_ranks(l), best = 1, most = -1;
    if (p <= 2)
        return 0;
    int64_t top = 0;
    for (int64_t k = 1; k <= p - 2; k++)
        if (zp_stage_layers(m->layers, p, k) > top)
            top = zp_stage_layers(m->layers, p, k);
    /* the crossing pattern repeats every gpn ranks: a few node spans of
     * stages decide (at most p - 2 of them) */
    for (int64_t k = 1; k <= p - 2; k++) {
        if (zp_stage_layers(m->layers, p, k) < top)
            continue;
        int64_t n = stages_cross(k, k + 1, S, c->gpus_per_node) + stages_cross(k, k - 1, S, c->gpus_per_node);
        if (n > most)
            most = n, best = k;
        if (n == 2)
            break;
    }
    return best;
}

double zp_group_eff(const zp_conv *cv, int64_t n)
{
    /* (1 - c / n) relative to the 8-GPU node's ring, at which the link
     * efficiency was set and the published runs were fitted */
    return n > 1 && n < 8 ? (1.0 - cv->group_c / (double)n) / (1.0 - cv->group_c / 8.0) : 1.0;
}

/* The link a group's ring crosses: the inverse of its bandwidth (s/B,
 * after efficiency) and its per-step latency, worked out once per plan. */
typedef struct link {
    int inter_node;
    double inv_bps, alpha;
} link;

typedef struct ctx {
    zp_comm *out;
    link net, nvl, pcie;
    const zp_conv *cv;   /* zp_group_eff: NVLink rings of n ranks at (1 - group_c / n) of the link's rate */
    int nvlink;          /* the GPUs of a node talk over NVLink (faster than their PCIe); else the
                          * "NVLink" bandwidth is PCIe's and the group term, measured on NVLink, stays out */
    int64_t gpn;
    double rs_factor[ZP_GRP_N];   /* (n-1)/n of each group's size n */
} ctx;

static void add(ctx *x, zp_coll_kind kind, zp_group g, const char *what, int64_t n, int64_t span,
                uint64_t bytes, int64_t count, zp_overlap ov)
{
    if (count <= 0 || bytes == 0 || (n < 2 && kind != ZP_COLL_H2D && kind != ZP_COLL_D2H))
        return;
    zp_comm *o = x->out;
    if (o->n >= ZP_COMM_MAX)
        return;
    zp_coll *cl = &o->c[o->n++];
    const link *lk = g == ZP_GRP_PCIE ? &x->pcie : span > x->gpn ? &x->net : &x->nvl;
    double f;
    int64_t steps;
    switch (kind) {
    case ZP_COLL_ALLREDUCE: f = 2.0 * x->rs_factor[g]; steps = 2 * (n - 1); break;
    case ZP_COLL_REDUCE_SCATTER:
    case ZP_COLL_ALLGATHER: f = x->rs_factor[g]; steps = n - 1; break;
    default: f = 1.0; steps = 1; break;
    }
    double bus = (double)bytes * f;
    /* a ring of n ranks over NVLink reaches (1 - c / n) of the link's
     * rate (zp_conv.group_c): the seconds per byte over that */
    int ring = kind == ZP_COLL_ALLREDUCE || kind == ZP_COLL_REDUCE_SCATTER || kind == ZP_COLL_ALLGATHER;
    double ginv = ring && lk == &x->nvl && x->nvlink ? 1.0 / zp_group_eff(x->cv, n) : 1.0;
    cl->kind = kind;
    cl->group = g;
    cl->what = what;
    cl->group_size = n;
    cl->inter_node = lk->inter_node;
    cl->bytes = bytes;
    cl->count = count;
    cl->bus_factor = f;
    cl->bus_bytes = (uint64_t)(int64_t)(bus + 0.5) * (uint64_t)count;
    /* a group across nodes with r > 1 of its ranks in each node runs
     * hierarchically, as NCCL does on nodes with a NIC per GPU: the part
     * inside the node over NVLink, then N = n / r rings across nodes, one
     * per GPU of the node, each on its own NIC with 1/r of the array */
    int64_t stride = span >= n ? span / n : 1, per = stride < x->gpn ? x->gpn / stride : 1;
    if (per > n)
        per = n;
    if (lk == &x->net && per > 1 &&
        (kind == ZP_COLL_ALLREDUCE || kind == ZP_COLL_REDUCE_SCATTER || kind == ZP_COLL_ALLGATHER)) {
        double k2 = kind == ZP_COLL_ALLREDUCE ? 2.0 : 1.0, r = (double)per, N = (double)n / r;
        double intra = k2 * (r - 1.0) / r * (double)bytes * x->nvl.inv_bps / (x->nvlink ? zp_group_eff(x->cv, per) : 1.0) +
                       x->nvl.alpha * k2 * (r - 1.0);
        double inter = k2 * (N - 1.0) / N * (double)bytes / r * lk->inv_bps + lk->alpha * k2 * (N - 1.0);
        cl->time_s = (double)count * (intra + inter);
    } else
        cl->time_s = (double)count * (lk->alpha * (double)steps + bus * lk->inv_bps * ginv);
    cl->overlap = ov;
    o->bytes_per_step += cl->bus_bytes;
    o->time_s += cl->time_s;
}

void zp_comm_plan(const zp_model *m, const zp_train *tr, const zp_layout *l,
                  const zp_cluster *c, const zp_conv *cv, int64_t k, zp_comm *out)
{
    zp_lcache lc;
    zp_lcache_init(m, tr, l, &lc);
    zp_comm_plan_c(m, tr, l, c, cv, k, &lc, out);
}

void zp_comm_plan_c(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_cluster *c,
                    const zp_conv *cv, int64_t k, const zp_lcache *lc, zp_comm *out)
{
    int64_t t = l->tp, cp = zp_cp(l), d = zp_shard_ranks(l), p = l->pp, v = l->vp < 1 ? 1 : l->vp, M = l->grad_accum;
    ctx x = {out,
             {1, 1.0 / (c->inter_node_gbps * 1e9 * cv->link_eff), cv->alpha_inter_s},
             {0, 1.0 / (c->gpu.nvlink_gbps * 1e9 * zp_nvlink_eff(cv)), cv->alpha_intra_s},
             {0, 1.0 / (c->gpu.pcie_gbps * 1e9 * cv->link_eff), cv->alpha_intra_s},
             cv,
             c->gpu.nvlink_gbps > c->gpu.pcie_gbps,
             c->gpus_per_node,
             {(double)(d - 1) / (double)d, (double)(t - 1) / (double)t, 0.5, 0.5, 0.0, 1.0}};
    int64_t P = zp_lcache_stage_params(m, l, lc, k), Ps = zp_ceil_div(P, d);
    int64_t P2 = cv->zero3_regather_all ? P   /* ZeRO-3 backward gathers */
                 : zp_stage_layers(m->layers, p, k) * lc->layer_params + (m->tied && p == 1 ? lc->embed_params : 0);
    uint64_t pb, gb, kopt;   /* as stored, and so reduced and gathered */
    zp_state_bytes(tr, cv, &pb, &gb, &kopt);
    uint64_t sl = (uint64_t)(tr->seq / cp);   /* this rank's tokens of a sequence */
    uint64_t sbh = sl * (uint64_t)l->micro_batch * (uint64_t)m->hidden;
    uint64_t act = zp_act_bytes(tr) * sbh;            /* one layer's output */
    uint64_t act8 = sbh;                              /* the same in FP8 */
    int64_t Ls = zp_stage_layers(m->layers, p, k);
    int64_t span_tp = t, span_cp = t * cp, span_dp = t * d, span_pp = t * d * p;
    int off_opt = l->offload != ZP_OFF_NONE, off_par = l->offload == ZP_OFF_OPT_PARAMS;

    out->n = 0;
    out->bytes_per_step = 0;
    out->time_s = 0.0;

    /* data parallel: gradients and (ZeRO) parameters */
    switch (l->zero) {
    case 0:
        add(&x, ZP_COLL_ALLREDUCE, ZP_GRP_DP, "gradient all-reduce", d, span_dp, (uint64_t)P * gb, 1, ZP_OVL_BWD);
        break;
    case 1:
    case 2:
        if (l->zero == 1 && cv->eager) {
            /* PyTorch: ZeroRedundancyOptimizer over DDP, which all-reduces
             * every gradient; each rank then broadcasts its updated shard
             * (the same bytes as an all-gather) */
            add(&x, ZP_COLL_ALLREDUCE, ZP_GRP_DP, "gradient all-reduce", d, span_dp, (uint64_t)P * gb, 1, ZP_OVL_BWD);
            add(&x, ZP_COLL_ALLGATHER, ZP_GRP_DP, "updated-parameter all-gather (shard broadcasts)", d, span_dp,
                (uint64_t)P * pb, 1, ZP_OVL_NONE);
            break;
        }
        add(&x, ZP_COLL_REDUCE_SCATTER, ZP_GRP_DP, "gradient reduce-scatter", d, span_dp, (uint64_t)P * gb,
            l->zero == 1 ? 1 : M, ZP_OVL_BWD);
        if (l->zero == 2 && cv->zero2_reshard) {
            /* FSDP's SHARD_GRAD_OP: every backward that reduce-scatters
             * (each micro-batch's here) reshards the parameters, so each
             * micro-batch's forward gathers them again, unit by unit as
             * ZeRO-3's forward does, behind the step's compute as ZeRO-3's
             * gathers are (the window: every micro-batch's forward and
             * backward, cost.c) */
            add(&x, ZP_COLL_ALLGATHER, ZP_GRP_DP, "parameter all-gather (each micro-batch, FSDP SHARD_GRAD_OP)", d,
                span_dp, (uint64_t)P * pb, M, ZP_OVL_FWD_BWD);
            break;
        }
        add(&x, ZP_COLL_ALLGATHER, ZP_GRP_DP, "updated-parameter all-gather", d, span_dp, (uint64_t)P * pb, 1,
            cv->param_gather_overlap ? ZP_OVL_FWD : ZP_OVL_NONE);
        break;
    default:
        if (p > 1) {
            /* FSDP with pipelining (torchtitan): the stage gathered once a
             * step (its layers prefetched behind the first micro-batch's
             * forward), kept whole
             * through the micro-batches, its gradients reduce-scattered
             * once after the last */
            add(&x, ZP_COLL_ALLGATHER, ZP_GRP_DP, "stage parameter all-gather (FSDP + PP)", d, span_dp,
                (uint64_t)P * pb, 1, ZP_OVL_FWD);
            add(&x, ZP_COLL_REDUCE_SCATTER, ZP_GRP_DP, "gradient reduce-scatter", d, span_dp, (uint64_t)P * gb, 1,
                ZP_OVL_BWD);
            break;
        }
        /* every unit gathered for its forward, and for its backward again
         * (the ZeRO paper's 3 Psi with the reduce-scatter); or, with
         * --zero3-regather blocks, again only the blocks: the head (final
         * norm and output layer) runs its forward and backward back to back
         * on one gather and the embedding lookup's backward needs no
         * parameters; a tied embedding is gathered a second time, as the
         * head */
        add(&x, ZP_COLL_ALLGATHER, ZP_GRP_DP, "ZeRO-3 forward parameter all-gather", d, span_dp,
            (uint64_t)P * pb, M, ZP_OVL_FWD_BWD);
        add(&x, ZP_COLL_ALLGATHER, ZP_GRP_DP, "ZeRO-3 backward parameter all-gather", d, span_dp,
            (uint64_t)P2 * pb, M, ZP_OVL_FWD_BWD);
        add(&x, ZP_COLL_REDUCE_SCATTER, ZP_GRP_DP, "gradient reduce-scatter", d, span_dp, (uint64_t)P * gb, M,
            ZP_OVL_BWD);
        break;
    }

    /* offload: the gradient partition goes to the host optimizer, updated
     * parameters come back (or, offloaded, are fetched at every gather) */
    if (off_opt) {
        add(&x, ZP_COLL_D2H, ZP_GRP_PCIE, "gradient partition to host", 1, 1, (uint64_t)Ps * gb,
            l->zero >= 2 ? M : 1, ZP_OVL_BWD);
        if (off_par) {   /* at every gather */
            add(&x, ZP_COLL_H2D, ZP_GRP_PCIE, "parameter partition from host (forward)", 1, 1, (uint64_t)Ps * pb,
                M, ZP_OVL_FWD_BWD);
            add(&x, ZP_COLL_H2D, ZP_GRP_PCIE, "parameter partition from host (backward)", 1, 1,
                (uint64_t)zp_ceil_div(P2, d) * pb, M, ZP_OVL_FWD_BWD);
        } else
            add(&x, ZP_COLL_H2D, ZP_GRP_PCIE, "updated parameters from host", 1, 1, (uint64_t)Ps * pb, 1,
                ZP_OVL_NONE);
    }

    /* activation offload: each block's kept activations to the host once
     * made and back before its backward, every micro-batch (memory.c's
     * zp_act_offload_moves: those it moves), on a copy stream behind the blocks' compute
     * or in the compute stream's order (cv->act_offload) */
    if (l->act_offload) {
        int64_t nb[2];
        uint64_t per[2];
        zp_act_offload_moves(m, tr, l, cv, lc, k, nb, per);
        zp_overlap ov = cv->act_offload == ZP_AOFF_ASYNC ? ZP_OVL_BLOCK : ZP_OVL_STREAM;
        add(&x, ZP_COLL_D2H, ZP_GRP_PCIE, "activations to host (forward)", 1, 1, per[0], nb[0] * M, ov);
        add(&x, ZP_COLL_H2D, ZP_GRP_PCIE, "activations from host (backward)", 1, 1, per[0], nb[0] * M, ov);
        add(&x, ZP_COLL_D2H, ZP_GRP_PCIE, "block inputs to host (forward, rebuilt blocks)", 1, 1, per[1],
            nb[1] * M, ov);
        add(&x, ZP_COLL_H2D, ZP_GRP_PCIE, "block inputs from host (backward, rebuilt blocks)", 1, 1, per[1],
            nb[1] * M, ov);
    }

    /* tensor parallel */
    if (t > 1) {
        /* a serial block reduces the attention's and the MLP's row-parallel
         * outputs apart, forward and backward: 4; a parallel block (GPT-J,
         * NeoX) sums them first and reduces once each way: 2 (its input
         * gradients too: the norms' backward is linear, so the two partial
         * sums add before one reduction); full recompute repeats the
         * forward's */
        int64_t fwd = m->block == ZP_BLOCK_SERIAL ? 2 : 1;
        /* the blocks whose forward runs again: all with per-op recompute,
         * the rebuilt ones with full (every block, or every k-th) */
        int64_t again = l->ckpt == ZP_CKPT_OP ? Ls : zp_ckpt_blocks(tr, l->ckpt == ZP_CKPT_FULL, Ls, l->vp);
        /* selective recompute of the MLP runs its forward collective again
         * (the all-reduce after fc2; with sp the gather before fc1 and the
         * reduce-scatter after fc2); fc1 still keeps its input as the
         * rank's rows and gathers it again for its weight gradient */
        int64_t mlp_again = (zp_rc_modules(tr, l->ckpt == ZP_CKPT_SELECTIVE) & ZP_RC_MLP) ? Ls : 0;
        int64_t n_fwd = 2 * fwd * Ls + fwd * again + mlp_again;   /* a micro-batch's, the stage's layers */
        if (l->sp) {
            /* per-op checkpointing keeps the reduce-scatters' outputs (the
             * row-parallel products') but gathers the column-parallel
             * inputs again; overlapped (--tp-overlap), each hides behind
             * the product it feeds or follows */
            /* (inside a node only: async TP's symmetric memory and
             * Transformer Engine's userbuffers map the group's buffers
             * between the node's GPUs, over NVLink; a group over whole
             * nodes runs plain collectives) */
            zp_overlap ov = cv->tp_overlap && span_tp <= x.gpn ? ZP_OVL_GEMM : ZP_OVL_NONE;
            /* with FP8 linear layers the column-parallel inputs are cast
             * before they are gathered, so the gathers that feed a product
             * (forward, recompute, and the weight gradients' re-gather
             * below) move 1 byte a value (Transformer Engine's FP8
             * all-gather of the norm's output; torchao's float8 tensor
             * parallelism and torchtitan's PrepareFloat8ModuleInput); the
             * backward's gradient gathers and every reduce-scatter stay in
             * the dtype */
            if (tr->fp8) {
                add(&x, ZP_COLL_ALLGATHER, ZP_GRP_TP, "sequence-parallel all-gather (FP8 inputs)", t, span_tp, act8,
                    (n_fwd - fwd * Ls) * M, ov);
                add(&x, ZP_COLL_ALLGATHER, ZP_GRP_TP, "sequence-parallel all-gather (gradients)", t, span_tp, act,
                    fwd * Ls * M, ov);
            } else
                add(&x, ZP_COLL_ALLGATHER, ZP_GRP_TP, "sequence-parallel all-gather", t, span_tp, act, n_fwd * M, ov);
            /* the backward's reduce-scatters of the column-parallel
             * products' input gradients (fwd a layer), behind their
             * weight-gradient products where the framework runs them
             * asynchronously (tp_grad_overlap) */
            int64_t n_rs = n_fwd - (l->ckpt == ZP_CKPT_OP ? fwd * Ls : 0);
            if (cv->tp_grad_overlap) {
                add(&x, ZP_COLL_REDUCE_SCATTER, ZP_GRP_TP, "sequence-parallel reduce-scatter", t, span_tp, act,
                    (n_rs - fwd * Ls) * M, ov);
                add(&x, ZP_COLL_REDUCE_SCATTER, ZP_GRP_TP,
                    "sequence-parallel reduce-scatter of input gradients (behind the weight gradients)", t, span_tp,
                    act, fwd * Ls * M, ZP_OVL_WGRAD);
            } else
                add(&x, ZP_COLL_REDUCE_SCATTER, ZP_GRP_TP, "sequence-parallel reduce-scatter", t, span_tp, act,
                    n_rs * M, ov);
            /* the column-parallel products' inputs are kept as each rank's
             * rows (the activation memory's whole / t) and gathered again
             * in backward for their weights' gradients, behind the input
             * gradients' products (Megatron's asynchronous all-gather;
             * per-op checkpointing's gathers above are these); not where
             * the products keep the gathered input (sp_gathered: DTensor),
             * which full recompute's forward gathers again before the
             * backward, unless selective recompute rebuilds the norms
             * whose outputs those are (then kept by neither, gathered
             * again as Megatron's) */
            if (l->ckpt != ZP_CKPT_OP &&
                !(tr->sp_gathered && !(zp_rc_modules(tr, l->ckpt == ZP_CKPT_SELECTIVE) & ZP_RC_NORM)))
                add(&x, ZP_COLL_ALLGATHER, ZP_GRP_TP, "input re-gather for weight gradients (sequence parallel)", t,
                    span_tp, tr->fp8 ? act8 : act, fwd * Ls * M, ZP_OVL_DGRAD);
            /* the norms' gradients come from each rank's rows: summed over
             * tp once a step (per micro-batch where ZeRO-2/3 keep no whole
             * gradient).  The row-parallel products' biases are not summed:
             * their gradients are taken from the output gradient gathered
             * for the product's backward, whole on every rank (zplan's
             * engine; Megatron adds them to each rank's rows and all-reduces
             * their 2h values a layer with the norms', a few kB) */
            int64_t norms = zp_model_block_norms(m) * Ls + (k == p - 1 ? 1 : 0);
            add(&x, ZP_COLL_ALLREDUCE, ZP_GRP_TP, "norm gradient all-reduce (sequence parallel)", t, span_tp,
                (uint64_t)(norms * zp_model_final_norm_params(m)) * gb, l->zero >= 2 ? M : 1, ZP_OVL_NONE);
            /* the lookup's gradient needs every token row, the head's
             * input too */
            if (k == 0)
                add(&x, ZP_COLL_ALLGATHER, ZP_GRP_TP, "embedding gradient all-gather (sequence parallel)", t, span_tp,
                    act, M, ZP_OVL_NONE);
            if (k == p - 1)
                add(&x, ZP_COLL_ALLGATHER, ZP_GRP_TP, "head input all-gather (sequence parallel)", t, span_tp, act, M,
                    ZP_OVL_NONE);
        } else {
            if (cv->tp_grad_overlap) {   /* the input gradients' all-reduces behind the weight gradients */
                add(&x, ZP_COLL_ALLREDUCE, ZP_GRP_TP, "tensor-parallel all-reduce", t, span_tp, act,
                    (n_fwd - fwd * Ls) * M, ZP_OVL_NONE);
                add(&x, ZP_COLL_ALLREDUCE, ZP_GRP_TP,
                    "tensor-parallel all-reduce of input gradients (behind the weight gradients)", t, span_tp, act,
                    fwd * Ls * M, ZP_OVL_WGRAD);
            } else
                add(&x, ZP_COLL_ALLREDUCE, ZP_GRP_TP, "tensor-parallel all-reduce", t, span_tp, act, n_fwd * M,
                    ZP_OVL_NONE);
        }
        /* Q's and K's head norms (qk_norm): every rank holds the whole
         * weights and computes their gradients from its own heads, summed
         * over tp once a step (per micro-batch where ZeRO-2/3 keep no whole
         * gradient), with or without sp (transformers' Qwen3 tp plan:
         * replicated_with_grad_allreduce) */
        if (m->qk_norm)
            add(&x, ZP_COLL_ALLREDUCE, ZP_GRP_TP, "Q/K head norm gradient all-reduce", t, span_tp,
                (uint64_t)(Ls * zp_model_qk_norm_params(m)) * gb, l->zero >= 2 ? M : 1, ZP_OVL_NONE);
        if (k == 0)
            add(&x, l->sp ? ZP_COLL_REDUCE_SCATTER : ZP_COLL_ALLREDUCE, ZP_GRP_TP,
                "vocab-parallel embedding output", t, span_tp, act, M, ZP_OVL_NONE);
        if (k == p - 1) {
            add(&x, l->sp ? ZP_COLL_REDUCE_SCATTER : ZP_COLL_ALLREDUCE, ZP_GRP_TP,
                "vocab-parallel head input gradient", t, span_tp, act, M, ZP_OVL_NONE);
            /* cross-entropy over vocab shards: max, sum of exponentials and
             * the target logit, one fp32 value per token each */
            add(&x, ZP_COLL_ALLREDUCE, ZP_GRP_TP, "vocab-parallel cross-entropy", t, span_tp,
                4 * sl * (uint64_t)l->micro_batch, 3 * M, ZP_OVL_NONE);
        }
    }

    /* context parallel: the K and V chunks around the ring */
    if (cp > 1) {
        uint64_t kv = zp_act_bytes(tr) * 2 * sl * (uint64_t)l->micro_batch * (uint64_t)m->kv_heads *
                      (uint64_t)zp_model_head_dim(m) / (uint64_t)t;
        int64_t rounds = (cp - 1) * Ls * M;
        add(&x, ZP_COLL_SENDRECV, ZP_GRP_CP, "context-parallel K/V ring, forward", cp, span_cp, kv,
            (cp - 1) * M * (Ls + zp_ckpt_blocks(tr, l->ckpt == ZP_CKPT_FULL, Ls, l->vp)), ZP_OVL_ATTN);
        add(&x, ZP_COLL_SENDRECV, ZP_GRP_CP, "context-parallel K/V+grad ring, backward", cp, span_cp, kv,
            2 * rounds, ZP_OVL_ATTN);
    }

    /* pipeline parallel: point-to-point per micro-batch and chunk */
    if (p > 1) {
        uint64_t msg = act / (l->sp ? (uint64_t)t : 1);
        int64_t fwd = k < p - 1 ? v * M : (v - 1) * M;
        int64_t bwd = k > 0 ? v * M : (v - 1) * M;
        /* interleaved with overlap_p2p_comm: behind other chunks' compute */
        zp_overlap ov = cv->p2p_overlap && v > 1 ? ZP_OVL_P2P : ZP_OVL_NONE;
        /* each send over NVLink or the network as its neighbour stage sits:
         * forward to k + 1 (the last stage's, interleaved, to stage 0),
         * backward to k - 1 (stage 0's to the last); a span of 2 (the pair)
         * stays in the node */
        int64_t S = t * d;
        int64_t span_f = stages_cross(k, k < p - 1 ? k + 1 : 0, S, c->gpus_per_node) ? span_pp : 2;
        int64_t span_b = stages_cross(k, k > 0 ? k - 1 : p - 1, S, c->gpus_per_node) ? span_pp : 2;
        add(&x, ZP_COLL_SENDRECV, ZP_GRP_PP, "pipeline activation send", 2, span_f, msg, fwd, ov);
        add(&x, ZP_COLL_SENDRECV, ZP_GRP_PP, "pipeline gradient send", 2, span_b, msg, bwd, ov);
        if (m->tied && (k == 0 || k == p - 1))
            add(&x, ZP_COLL_ALLREDUCE, ZP_GRP_EMB, "tied-embedding gradient all-reduce", 2, span_pp,
                (uint64_t)lc->head_params * gb, 1, ZP_OVL_NONE);
    }

    /* gradients reduced after the backward (zp_grad_overlap: Megatron's
     * default, DeepSpeed below ZeRO-3): their reductions, and the copies to
     * an offloaded optimizer that follow them, overlap nothing, as the step
     * time counts them (cost.c, exposed) */
    if (cv->grad_overlap == ZP_GOVL_NONE || (cv->grad_overlap == ZP_GOVL_ZERO3 && l->zero < 3))
        for (int i = 0; i < out->n; i++)
            if (out->c[i].overlap == ZP_OVL_BWD && (out->c[i].group == ZP_GRP_DP || out->c[i].group == ZP_GRP_PCIE))
                out->c[i].overlap = ZP_OVL_NONE;
}
