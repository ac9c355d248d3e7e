/* cost.c - FLOPs, compute time, exposed communication, bubble, step time,
 * throughput and MFU of a plan (pure).
 *
 * FLOPs count matrix multiplies at 2 per multiply-add (README "Cost"):
 *   forward per token  2 x (block matmul weights) per layer + 4 s' a d per
 *                      layer (scores Q K^T and values over the s' = min(s,
 *                      window) keys a query sees, no causal halving; a d = h
 *                      unless head_dim says otherwise) + 2 V h for the head;
 *                      backward twice the forward.
 *   recompute          full: one more forward of the blocks (not the head);
 *                      selective: the attention core again, 4 s' a d per
 *                      layer per token; flash attention recomputes Q K^T in
 *                      its backward, 2 s' a d per layer per token.
 * With 12 h^2 weights per block this is Narayanan et al.'s
 * 72 B s L h^2 (1 + s/(6h) + V/(12 h L)) per step without recompute.
 * Model FLOPs (for MFU) exclude recomputation; MFU divides by the dense peak
 * the linear layers run at (the dtype's, FP8's with --fp8).
 * Time: by shape (a GPU preset's curve), each product of a layer at the
 * efficiency of its M, N, K (gemm.c), the non-matmul kernels' traffic at
 * hbm_eff of the HBM bandwidth and kernel_s per kernel; with a constant
 * efficiency (--gemm-eff, or a profile of zplan calibrate) FLOPs / (peak x
 * efficiency), the non-matmul kernels timed only at a profile's measured
 * rate (zp_elementwise_bytes / elementwise_bps), else folded in. */
#include "core.h"

/* Values the non-matmul kernels touch per token, forward, for one layer
 * (*layer) and for the last stage's head (*head): two LayerNorms (each
 * reads and writes h: 4h; 2h when a parallel block shares one), two residual adds
 * (read 2h, write h: 6h), the activation function (read and write f: 2f;
 * SwiGLU's gate, up and product 3f), the softmax over the causal half of
 * each head's row (a s' / 2 values, s' = min(s, window), three passes:
 * 1.5 a s') unless flash attention fuses it; the head: the final
 * norm (4h) and the cross-entropy (max, exponentials, gradient: 3V).
 * FP8 linear layers add no traffic of their own: Transformer Engine casts
 * their inputs to FP8 inside the norm and the activation kernels that
 * write them (LayerNormLinear, LayerNormMLP), and the MPT FP8 runs of
 * data/validation agree within 6 % without a separate cast.  Backward
 * touches twice the forward; full recompute adds the layer's forward
 * again, selective its softmax. */
static void elementwise_values(const zp_model *m, const zp_train *tr, const zp_layout *l, double *fwd,
                               double *rc, double *head)
{
    double h = (double)m->hidden, t = (double)l->tp;
    double f = (double)m->ffn / t, span = (double)zp_model_attn_span(m, tr->seq);
    double sm = tr->flash ? 0.0 : 1.5 * (double)m->heads / t * span;
    *fwd = 2.0 * zp_model_block_norms(m) * h + 6.0 * h + (m->mlp == ZP_MLP_GELU ? 2.0 : 3.0) * f + sm;

    /* op recomputes every elementwise kernel of the layer, not its (flash)
     * attention's */
    /* selective: the parts it rebuilds (the softmax, the MLP's activation,
     * the norms) */
    int mods = zp_rc_modules(tr, l->ckpt == ZP_CKPT_SELECTIVE);
    double sel = ((mods & ZP_RC_CORE_ATTN) ? sm : 0.0) + ((mods & ZP_RC_MLP) ? (m->mlp == ZP_MLP_GELU ? 2.0 : 3.0) * f : 0.0) +
                 ((mods & ZP_RC_NORM) ? 2.0 * zp_model_block_norms(m) * h : 0.0);
    *rc = l->ckpt == ZP_CKPT_FULL ? *fwd : l->ckpt == ZP_CKPT_SELECTIVE ? sel : l->ckpt == ZP_CKPT_OP ? *fwd - sm : 0.0;
    *head = 4.0 * h + 3.0 * (double)m->vocab / t;
}

double zp_elementwise_bytes(const zp_model *m, const zp_train *tr, const zp_layout *l, int last_stage)
{
    double fwd, rc, head;
    elementwise_values(m, tr, l, &fwd, &rc, &head);
    double tokens = (double)(tr->seq / zp_cp(l)) * (double)l->micro_batch;
    int64_t nLs = zp_stage_layers(m->layers, l->pp, last_stage ? l->pp - 1 : 0);
    double Ls = (double)nLs;
    /* with ckpt_every, only the rebuilt blocks add their forward again */
    double R = l->ckpt == ZP_CKPT_FULL ? (double)zp_ckpt_blocks(tr, 1, nLs, l->vp) : Ls;
    return (double)zp_act_bytes(tr) * tokens * (Ls * 3.0 * fwd + R * rc + (last_stage ? 3.0 * head : 0.0));
}

/* The matmul weights per layer whose products per-op selective
 * checkpointing recomputes (the even ones in forward order, memory.c): k,
 * o and up of a gated block (h g d + a d h + h f), else o and fc2
 * (a d h + f h). */
static double op_recompute_weights(const zp_model *m)
{
    double h = (double)m->hidden, d = (double)zp_model_head_dim(m), f = (double)m->ffn;
    double o = (double)m->heads * d * h;
    return m->mlp == ZP_MLP_SWIGLU ? h * (double)m->kv_heads * d + o + h * f : o + f * h;
}

double zp_flops_fwd_per_token(const zp_model *m, int64_t seq)
{
    return 2.0 * (double)zp_model_matmul_params(m) +
           4.0 * (double)m->layers * (double)zp_model_attn_span(m, seq) * (double)(m->heads * zp_model_head_dim(m));
}

int64_t zp_p2p_blocking_transfers(int64_t p, int64_t M, zp_stage_kind pacing)
{
    if (p < 2 || M < 1)
        return 0;
    if (p == 2)
        return 2 * M;
    if (pacing == ZP_STAGE_LAST)
        return 2 * M + 2 * (p - 2);
    int64_t n = 4 * M + 2 * (p - 4), least = 2 * (p - 1);
    if (n < least)
        n = least;
    /* a heavier first stage: its own two a micro-batch once M >= p, fewer micro-batches keep the middle's */
    if (pacing == ZP_STAGE_FIRST && 2 * M + 4 * (p - 2) < n)
        n = 2 * M + 4 * (p - 2);
    return n;
}

/* Exposed time of a stage's communication after the overlap its strategy
 * allows: collectives marked BWD hide behind the backward passes they run
 * during (the last micro-batch for a once-per-step reduction, every
 * micro-batch for ZeRO-2/3), ZeRO-3's gathers behind forward and backward;
 * the rest is on the critical path.  Of what fits in the window only the
 * overlap efficiency hides; the remainder shows. */
/* The time of one pipeline transfer of a stage's communication (its
 * sends are all of one size): what DeepSpeed's blocking transfers count
 * per transfer (zp_p2p_blocking_transfers); 0 without any. */
static double p2p_msg_time(const zp_comm *cm)
{
    double msg = 0.0;
    for (int i = 0; i < cm->n; i++)
        if (cm->c[i].group == ZP_GRP_PP && cm->c[i].kind == ZP_COLL_SENDRECV && cm->c[i].count > 0 &&
            cm->c[i].time_s / (double)cm->c[i].count > msg)
            msg = cm->c[i].time_s / (double)cm->c[i].count;
    return msg;
}

static double exposed(const zp_comm *cm, const zp_layout *l, double fwd_s, double bwd_s, double attn_s, double lin_s,
                      double wg_s, double eff, zp_grad_overlap go, int p2p_blocking)
{
    double crit = 0.0, ovl = 0.0, ring = 0.0, tp = 0.0, wgc = 0.0;
    double M = (double)l->grad_accum;
    /* gradient reductions run after the backward where the framework
     * does not overlap them (zp_grad_overlap) */
    int after = go == ZP_GOVL_NONE || (go == ZP_GOVL_ZERO3 && l->zero < 3);
    for (int i = 0; i < cm->n; i++) {
        /* blocking pipeline transfers: left to the caller, per transfer on
         * the pacing stage's critical path rather than per send */
        if (p2p_blocking && cm->c[i].group == ZP_GRP_PP && cm->c[i].kind == ZP_COLL_SENDRECV)
            continue;
        if (cm->c[i].overlap == ZP_OVL_NONE ||
            (after && cm->c[i].overlap == ZP_OVL_BWD && cm->c[i].group == ZP_GRP_DP))
            crit += cm->c[i].time_s;
        else if (cm->c[i].overlap == ZP_OVL_ATTN)
            ring += cm->c[i].time_s;
        else if (cm->c[i].overlap == ZP_OVL_GEMM)
            tp += cm->c[i].time_s;
        else if (cm->c[i].overlap == ZP_OVL_WGRAD)
            wgc += cm->c[i].time_s;
        else
            ovl += cm->c[i].time_s;
    }
    double window = l->zero >= 3 ? M * (fwd_s + bwd_s) : (l->zero >= 2 ? M : 1.0) * bwd_s;
    double hidden = ovl < window ? ovl : window;
    /* the context-parallel ring hides behind the attention of the chunk in
     * hand, every micro-batch (attn_s: one micro-batch's, the stage's layers) */
    double rwin = M * attn_s, rhid = ring < rwin ? ring : rwin;
    /* overlapped tensor parallelism behind the layers' linear products
     * (lin_s: one micro-batch's, the stage's layers) */
    double twin = M * lin_s, thid = tp < twin ? tp : twin;
    /* input gradients' reductions behind the weight-gradient products
     * (wg_s: one micro-batch's, the stage's layers) */
    double wwin = M * wg_s, whid = wgc < wwin ? wgc : wwin;
    /* overlap is imperfect (shared SMs and memory bandwidth): only
     * overlap_eff of what fits in the window hides */
    return crit + (ovl - hidden) + (1.0 - eff) * hidden + (ring - rhid) + (1.0 - eff) * rhid + (tp - thid) +
           (1.0 - eff) * thid + (wgc - whid) + (1.0 - eff) * whid;
}

void zp_cost_eval(const zp_model *m, const zp_train *tr, const zp_layout *l,
                  const zp_cluster *c, const zp_conv *cv, const zp_comm *first,
                  const zp_comm *last, zp_cost *out)
{
    zp_lcache lc;
    zp_lcache_init(m, tr, l, &lc);
    zp_cost_eval_c(m, tr, l, c, cv, &lc, first, last, out);
}

/* The MLP's matmul weights per layer: h f (fc1, or SwiGLU's gate and up
 * twice that) + f h (fc2). */
static double mlp_weights(const zp_model *m)
{
    double h = (double)m->hidden, f = (double)m->ffn;
    return (m->mlp == ZP_MLP_GELU ? 1.0 : 2.0) * h * f + f * h;
}

/* FLOPs per token and layer that selective recompute adds: the attention
 * core's 4 s' a d without flash attention, the MLP's products 2 x its
 * weights (the norms: no matmul), these weighted by mlp_w (an FP8 MLP's
 * FLOPs at the dtype's rate: peak / FP8 peak; 1 to count them). */
static double sel_flops(const zp_model *m, const zp_train *tr, const zp_layout *l, double core, double mlp_w)
{
    int mods = zp_rc_modules(tr, l->ckpt == ZP_CKPT_SELECTIVE);
    return ((mods & ZP_RC_CORE_ATTN) && !tr->flash ? 4.0 * core : 0.0) +
           ((mods & ZP_RC_MLP) ? 2.0 * mlp_weights(m) * mlp_w : 0.0);
}

/* Seconds of the products y = x W of one linear layer (x: T rows of K, W:
 * K x N) forward, and backward (dx = dy W^T, T x K from depth N; dW =
 * x^T dy, K x N from depth T). */
static double linear_fwd(const zp_gemm_curve *g, double pk, double eb, double T, double N, double K)
{
    return zp_gemm_time(g, pk, eb, T, N, K, 1.0);
}
static double linear_bwd(const zp_gemm_curve *g, double pk, double eb, double T, double N, double K)
{
    return zp_gemm_time(g, pk, eb, T, K, N, 1.0) + zp_gemm_time(g, pk, eb, K, N, T, 1.0);
}

/* Matmul seconds of one micro-batch on one tp rank: one layer's forward
 * (mm[0]), backward (mm[1]) and recompute (mm[2]); the head's forward
 * (mm[3]) and backward (mm[4]); and the fixed kernel times of one layer's
 * forward, backward and recompute, and of the head's forward (k[0..3]).
 * With a constant efficiency: FLOPs / (peak x efficiency), no kernel
 * times.  By shape, each product at its own efficiency (gemm.c):
 *   linear layers per tp rank, T = s b rows: QKV (N = (a + 2g) d / t,
 *   K = h), output projection (N = h, K = a d / t), the MLP's input
 *   (N = f / t; SwiGLU's gate and up as one product of 2 f / t), and its
 *   output (N = h, K = f / t); the head (N = V / t, K = h);
 *   the attention core, b a / t products per micro-batch: scores
 *   (s x s' from depth d) and values (s x d from depth s'); backward, four
 *   of the same sizes, the scores written to and read from memory (s s'
 *   values each); with flash attention one fused kernel instead, at
 *   attn_eff of the peak on the FLOPs it does (causal: half the scores),
 *   whose backward computes the scores again.
 * Kernels of a layer's forward: the four linear products, the attention
 * (one fused kernel, or scores + softmax + values), the norms, two
 * residual adds, the activation function, and rotary positions when the
 * model has them; backward twice as many; selective recompute three, full
 * the forward's; the head: final norm, product, cross-entropy (backward
 * twice). */
static void matmul_times(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_conv *cv, double pk,
                         double pk8, double mm[5], double k[4], double *attn, double *lin, double *wg)
{
    /* s: this rank's tokens of a sequence (s / cp); span: the keys of the
     * whole sequence a query sees */
    double s = (double)(tr->seq / zp_cp(l)), b = (double)l->micro_batch, t = (double)l->tp, h = (double)m->hidden;
    double T = s * b, d = (double)zp_model_head_dim(m), span = (double)zp_model_attn_span(m, tr->seq);
    double core = span * (double)(m->heads * zp_model_head_dim(m));   /* s' a d per token */
    double block = 2.0 * (double)zp_model_block_matmul_params(m) + 4.0 * core;
    if (cv->gemm_eff > 0) {
        /* FP8: the linear layers' FLOPs at the FP8 peak, the attention core's at the dtype's */
        double tok = T / t, inv = 1.0 / (pk * cv->gemm_eff), lw = 2.0 * (double)zp_model_block_matmul_params(m);
        double blk = tr->fp8 ? lw * pk / pk8 + 4.0 * core : block;   /* FLOPs at the dtype's rate */
        double r = l->ckpt == ZP_CKPT_FULL        ? blk
                   /* an FP8 MLP's products at the FP8 peak */
                   : l->ckpt == ZP_CKPT_SELECTIVE
                       ? sel_flops(m, tr, l, core, tr->fp8 ? pk / pk8 : 1.0)
                   : l->ckpt == ZP_CKPT_OP ? 2.0 * op_recompute_weights(m) * (tr->fp8 ? pk / pk8 : 1.0) +
                                                (tr->flash ? 0.0 : 4.0 * core)
                                           : 0.0;
        mm[0] = tok * blk * inv;
        mm[1] = 2.0 * mm[0];
        mm[2] = tok * (r + (tr->flash ? 2.0 * core : 0.0)) * inv;
        mm[3] = tok * 2.0 * (double)m->vocab * h * inv;
        mm[4] = 2.0 * mm[3];
        k[0] = k[1] = k[2] = k[3] = 0.0;
        *attn = tok * 4.0 * core * (3.0 + (tr->flash ? 0.5 : 0.0)) * inv;
        *lin = mm[0] + mm[1] + mm[2] - *attn;
        *wg = tok * (tr->fp8 ? lw * pk / pk8 : lw) * inv;   /* dW: the forward's FLOPs */
        return;
    }
    double eb = (double)zp_dtype_bytes(tr->compute_fp32 ? ZP_DT_FP32 : tr->dtype);
    double q = (double)(m->heads * zp_model_head_dim(m)), kv = (double)(m->kv_heads * zp_model_head_dim(m));
    double f = (double)m->ffn / t, fin = m->mlp == ZP_MLP_GELU ? f : 2.0 * f, qkv = (q + 2.0 * kv) / t;
    /* the linear layers: in FP8 at its peak and ceiling, 1-byte operands */
    zp_gemm_curve g8 = cv->gemm;
    const zp_gemm_curve *gl = &cv->gemm;
    double lpk = pk, leb = eb;
    if (tr->fp8) {
        g8.eff_max = cv->gemm_eff_max_fp8;
        gl = &g8, lpk = pk8, leb = 1.0;
    }
    double lin_f = linear_fwd(gl, lpk, leb, T, qkv, h) + linear_fwd(gl, lpk, leb, T, h, q / t) +
                   linear_fwd(gl, lpk, leb, T, fin, h) + linear_fwd(gl, lpk, leb, T, h, f);
    double lin_b = linear_bwd(gl, lpk, leb, T, qkv, h) + linear_bwd(gl, lpk, leb, T, h, q / t) +
                   linear_bwd(gl, lpk, leb, T, fin, h) + linear_bwd(gl, lpk, leb, T, h, f);
    /* the weight gradients alone (dW = x^T dy: K x N from depth T) */
    *wg = zp_gemm_time(gl, lpk, leb, h, qkv, T, 1.0) + zp_gemm_time(gl, lpk, leb, q / t, h, T, 1.0) +
          zp_gemm_time(gl, lpk, leb, h, fin, T, 1.0) + zp_gemm_time(gl, lpk, leb, f, h, T, 1.0);
    /* the attention core: b a / t products of each kind */
    double nb = b * (double)m->heads / t, sc, att_f, att_b;
    if (tr->flash) {
        /* one fused kernel at attn_eff of the peak on the work it does: a
         * causal mask skips the upper half of the scores (s' = s; a window
         * already counts only the keys seen) */
        double work = (span < (double)tr->seq ? 1.0 : 0.5) * 2.0 * s * span * d * nb;   /* one product's FLOPs */
        sc = work / (pk * cv->attn_eff);
        att_f = 2.0 * sc, att_b = 4.0 * sc;
    } else {
        sc = zp_gemm_time(&cv->gemm, pk, eb, s, span, d, nb);                 /* Q K^T; dP = dO V^T */
        double va = zp_gemm_time(&cv->gemm, pk, eb, s, d, span, nb);          /* P V; dQ = dS K */
        double tv = zp_gemm_time(&cv->gemm, pk, eb, span, d, s, nb);          /* dV = P^T dO; dK = dS^T Q */
        att_f = sc + va, att_b = sc + va + 2.0 * tv;
    }
    mm[0] = lin_f + att_f;
    mm[1] = lin_b + att_b;
    *attn = att_f + att_b + (tr->flash ? sc : 0.0);
    /* op: k, o and up (gated) or o and fc2 again, and without flash the attention */
    double op_f = m->mlp == ZP_MLP_SWIGLU
                      ? linear_fwd(gl, lpk, leb, T, kv / t, h) + linear_fwd(gl, lpk, leb, T, h, q / t) +
                            linear_fwd(gl, lpk, leb, T, f, h)
                      : linear_fwd(gl, lpk, leb, T, h, q / t) + linear_fwd(gl, lpk, leb, T, h, f);
    /* selective: the attention core without flash, the MLP's products */
    int mods = zp_rc_modules(tr, l->ckpt == ZP_CKPT_SELECTIVE);
    double mlp_f = (mods & ZP_RC_MLP) ? linear_fwd(gl, lpk, leb, T, fin, h) + linear_fwd(gl, lpk, leb, T, h, f) : 0.0;
    double sel_f = ((mods & ZP_RC_CORE_ATTN) && !tr->flash ? att_f : 0.0) + mlp_f;
    *lin = lin_f + lin_b + (l->ckpt == ZP_CKPT_FULL ? lin_f : l->ckpt == ZP_CKPT_OP ? op_f : mlp_f);
    mm[2] = (l->ckpt == ZP_CKPT_FULL        ? mm[0]
             : l->ckpt == ZP_CKPT_SELECTIVE ? sel_f
             : l->ckpt == ZP_CKPT_OP        ? op_f + (tr->flash ? 0.0 : att_f)
                                            : 0.0) +
            (tr->flash ? sc : 0.0);
    double V = (double)m->vocab / t;
    mm[3] = linear_fwd(&cv->gemm, pk, eb, T, V, h);   /* the head stays in the dtype */
    mm[4] = linear_bwd(&cv->gemm, pk, eb, T, V, h);
    double kf = 4.0 + (tr->flash ? 1.0 : 3.0) + zp_model_block_norms(m) + 2.0 + 1.0 +
                (m->pos == ZP_POS_ROTARY ? 1.0 : 0.0);
    k[0] = kf * cv->kernel_s;
    k[1] = 2.0 * k[0];
    /* selective: scores, softmax, values without flash; the MLP's two
     * products and activation; each norm */
    double sel_k = ((mods & ZP_RC_CORE_ATTN) && !tr->flash ? 3.0 : 0.0) + ((mods & ZP_RC_MLP) ? 3.0 : 0.0) +
                   ((mods & ZP_RC_NORM) ? (double)zp_model_block_norms(m) : 0.0);
    k[2] = (l->ckpt == ZP_CKPT_FULL        ? kf
            : l->ckpt == ZP_CKPT_SELECTIVE ? sel_k
            : l->ckpt == ZP_CKPT_OP        ? kf - 2.0 - (tr->flash ? 1.0 : 0.0)
                                           : 0.0) *
           cv->kernel_s;
    k[3] = 3.0 * cv->kernel_s;
}

void zp_cost_eval_c(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_cluster *c,
                    const zp_conv *cv, const zp_lcache *lc, const zp_comm *first, const zp_comm *last, zp_cost *out)
{
    /* FLOPs of one micro-batch on one tp rank: the blocks of a stage, the
     * head on the last, backward twice forward, and the recomputation */
    double s = (double)tr->seq, h = (double)m->hidden, sl = (double)(tr->seq / zp_cp(l));
    double per_rank = sl * (double)l->micro_batch / (double)l->tp;   /* tokens / (cp t) */
    /* the attention core's s' a d per token: keys seen x attention width */
    double core = (double)zp_model_attn_span(m, tr->seq) * (double)(m->heads * zp_model_head_dim(m));
    double block = 2.0 * (double)zp_model_block_matmul_params(m) + 4.0 * core;
    /* per layer of a stage: the recomputation's FLOPs */
    double r = 0.0;
    if (l->ckpt == ZP_CKPT_FULL)
        r = block;
    else if (l->ckpt == ZP_CKPT_SELECTIVE)
        r = sel_flops(m, tr, l, core, 1.0);
    else if (l->ckpt == ZP_CKPT_OP)
        r = 2.0 * op_recompute_weights(m) + (tr->flash ? 0.0 : 4.0 * core);
    if (tr->flash)
        r += 2.0 * core;
    double rc1 = per_rank * r, block1 = per_rank * block, head = per_rank * 2.0 * (double)m->vocab * h;
    /* a block full recompute leaves alone (ckpt_every > 1) costs as without
     * recompute: flash attention's own score recompute only */
    double rc1_kept = per_rank * (tr->flash ? 2.0 * core : 0.0);

    /* the matmuls run in the dtype, or in fp32 on a backend computing in fp32 */
    zp_dtype cdt = tr->compute_fp32 ? ZP_DT_FP32 : tr->dtype;
    double mm[5], kn[4], attn, lin, wg;
    double pk8 = tr->fp8 && c->gpu.peak_fp8 > 0 ? c->gpu.peak_fp8 : c->gpu.peak_flops[cdt];
    matmul_times(m, tr, l, cv, c->gpu.peak_flops[cdt], pk8, mm, kn, &attn, &lin, &wg);
    /* the same for a block kept whole (ckpt_every > 1): its recompute
     * terms (mm[2], kn[2], and in lin and attn) as without recompute */
    zp_layout nl = *l;
    nl.ckpt = ZP_CKPT_NONE;
    double mmk[5], knk[4], attnk, link, wgk;
    int partial = l->ckpt == ZP_CKPT_FULL && (tr->ckpt_every > 1 || tr->ckpt_block > 0);
    if (partial)
        matmul_times(m, tr, &nl, cv, c->gpu.peak_flops[cdt], pk8, mmk, knk, &attnk, &link, &wgk);
    else {
        for (int i = 0; i < 5; i++)
            mmk[i] = mm[i];
        for (int i = 0; i < 4; i++)
            knk[i] = kn[i];
        attnk = attn, link = lin;
    }
    /* the non-matmul kernels, when their rate is given (a measured
     * profile), or by shape at hbm_eff of the HBM bandwidth: forward,
     * backward (twice the forward) and recompute traffic, per micro-batch */
    double ew_f = 0.0, ew_rc = 0.0, ew_head = 0.0, ew_rck = 0.0;
    double ew_bps = cv->elementwise_bps > 0 ? cv->elementwise_bps
                    : cv->gemm_eff > 0      ? 0.0
                                            : cv->hbm_eff * c->gpu.hbm_gbps * 1e9;
    if (ew_bps > 0) {
        double ef, er, eh, k = (double)zp_act_bytes(tr) * sl * (double)l->micro_batch / ew_bps;
        elementwise_values(m, tr, l, &ef, &er, &eh);
        ew_f = k * ef, ew_rc = k * er, ew_head = k * eh;   /* per layer, and the head */
        elementwise_values(m, tr, partial ? &nl : l, &ef, &er, &eh);
        ew_rck = k * er;                                   /* a block kept whole */
    }
    double M = (double)l->grad_accum;
    double best_compute = 0.0, worst_exposed = 0.0, hw = 0.0, mb_s = 0.0;
    double comp_kind[3] = {0.0, 0.0, 0.0};   /* compute by stage kind, for blocking transfers */
    /* DeepSpeed's bf16 optimizer's per-micro-batch gradient add (lp_grads) runs at the non-matmul rate */
    double lp_bps = ew_bps > 0 ? ew_bps : cv->hbm_eff * c->gpu.hbm_gbps * 1e9;
    /* the first stage, with uneven stages the middle one with a block more
     * (its communication taken as the first's), and the last */
    int64_t stages[3] = {0, zp_stage_middle(m->layers, l->pp), l->pp - 1};
    for (int which = 0; which < 3; which++) {
        if ((which == 1 && !stages[1]) || (which == 2 && l->pp == 1))
            continue;
        int last_stage = which == 2 || l->pp == 1;
        int64_t nLs = zp_stage_layers(m->layers, l->pp, stages[which]);
        double Ls = (double)nLs;
        /* R blocks rebuilt, Ls - R kept whole (R = Ls but with ckpt_every) */
        double R = (double)zp_ckpt_blocks(tr, l->ckpt == ZP_CKPT_FULL, nLs, l->vp), K = Ls - R;
        if (l->ckpt != ZP_CKPT_FULL)
            R = Ls, K = 0.0;   /* selective and op: every block alike */
        double rc = R * rc1 + K * rc1_kept, f = Ls * block1 + (last_stage ? head : 0.0), b = 2.0 * f;
        double ef = Ls * ew_f + (last_stage ? ew_head : 0.0);
        double fwd_s = Ls * (mm[0] + kn[0]) + (last_stage ? mm[3] + kn[3] : 0.0) + ef;
        double bwd_s = Ls * (mm[1] + kn[1]) + R * (mm[2] + kn[2]) + K * (mmk[2] + knk[2]) +
                       (last_stage ? mm[4] + 2.0 * kn[3] : 0.0) + 2.0 * ef + R * ew_rc + K * ew_rck;
        /* DeepSpeed's bf16 optimizer adds each bf16 gradient into its fp32
         * one after every micro-batch (lp_grads): the stage's parameters at
         * the non-matmul rate */
        if (zp_lp_grads_apply(tr, l, cv) && lp_bps > 0)
            bwd_s += (double)zp_lcache_stage_params(m, l, lc, stages[which]) * ZP_LP_GRADS_ADD_BYTES / lp_bps;
        double comp = M * (fwd_s + bwd_s);
        double ex = exposed(which == 2 ? last : first, l, fwd_s, bwd_s, R * attn + K * attnk, R * lin + K * link,
                            Ls * wg, cv->overlap_eff, cv->grad_overlap, cv->p2p_blocking);
        comp_kind[which] = comp;
        if (comp > best_compute) {
            best_compute = comp;
            hw = M * (f + b + rc);
            mb_s = fwd_s + bwd_s;
        }
        if (ex > worst_exposed)
            worst_exposed = ex;
    }
    /* DeepSpeed's blocking pipeline transfers: the stage that paces the
     * pipeline, its compute and its own transfers (zp_p2p_blocking_transfers
     * by kind), less the compute already counted; the middle stages compute
     * as the first when the layers split evenly, and the first or the last
     * paces only when it computes more than they do */
    double msg = 0.0;
    if (cv->p2p_blocking && l->pp > 1) {
        double mf = p2p_msg_time(first), ml = p2p_msg_time(last);
        msg = mf > ml ? mf : ml;
    }
    if (msg > 0.0) {
        int64_t p = l->pp, Mi = l->grad_accum;
        double mid = stages[1] ? comp_kind[1] : comp_kind[0], pace;
        if (p == 2)
            pace = best_compute + (double)zp_p2p_blocking_transfers(p, Mi, ZP_STAGE_LAST) * msg;
        else {
            pace = mid + (double)zp_p2p_blocking_transfers(p, Mi, ZP_STAGE_MIDDLE) * msg;
            double f = comp_kind[0] + (double)zp_p2p_blocking_transfers(p, Mi, ZP_STAGE_FIRST) * msg;
            double la = comp_kind[2] + (double)zp_p2p_blocking_transfers(p, Mi, ZP_STAGE_LAST) * msg;
            if (comp_kind[0] > mid && f > pace)
                pace = f;
            if (comp_kind[2] > mid && la > pace)
                pace = la;
        }
        worst_exposed += pace - best_compute;
    }
    out->compute_s = best_compute;
    out->hw_flops = hw;
    out->comm_exposed_s = worst_exposed;
    out->bubble_s = (double)(l->pp - 1) * mb_s / (double)(l->vp < 1 ? 1 : l->vp);

    /* optimizer: a memory-bound pass over the partition on the device
     * (params, grads, master and moments read and written), or the host
     * optimizer at its throughput when offloaded */
    int64_t P = lc->stage_params[0] > lc->stage_params[1] ? lc->stage_params[0] : lc->stage_params[1];
    /* the larger of the first and last stage */
    double Ps = l->zero >= 1 ? (double)zp_ceil_div(P, zp_shard_ranks(l)) : (double)P;
    if (l->offload != ZP_OFF_NONE)
        out->optimizer_s = Ps / cv->cpu_adam_params_per_s;
    else {
        uint64_t pb, gb, K;
        zp_state_bytes(tr, cv, &pb, &gb, &K);
        double bytes = Ps * (2.0 * (double)pb + (double)gb + 2.0 * (double)K);
        out->optimizer_s = bytes / (c->gpu.hbm_gbps * 1e9);
    }
    out->step_s = out->compute_s + out->bubble_s + out->comm_exposed_s + out->optimizer_s;
    double tokens = (double)tr->global_batch * s;
    out->model_flops = 3.0 * tokens * zp_flops_fwd_per_token(m, tr->seq);
    double inv_step = 1.0 / out->step_s;
    out->tokens_per_s = tokens * inv_step;
    /* against the peak the linear layers run at: FP8's with FP8 (as Transformer Engine's and MPT's tables) */
    out->mfu = out->model_flops * inv_step / ((double)c->gpus * pk8);
}
