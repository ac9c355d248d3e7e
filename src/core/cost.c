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

#include <math.h>
#include <string.h>

/* Values the non-matmul kernels touch per token, forward, for one layer
 * (*layer) and for the last stage's head (*head): two LayerNorms (each
 * reads and writes h: 4h; 2h when a parallel block shares one), two residual adds
 * (read 2h, write h: 6h), the activation function (read and write f: 2f;
 * SwiGLU's gate, up and product 3f), the softmax over the causal half of
 * each head's row (a s' / 2 values, s' = min(s, window), three passes:
 * 1.5 a s') unless flash attention fuses it, Q's and K's head norms where
 * the model has them (each rank's a/t + g/t heads of d, read and written:
 * 2 (a + g) d / t); the head: the final
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
    double t = (double)l->tp;
    /* The norms and residual adds run on each rank's s/t tokens under
     * sequence parallelism, but are counted here on every token, as
     * without it: the 30 % rate (hbm_eff) was fitted with them so, and at
     * that rate s/t would make sequence parallelism save about three times
     * what Korthikanti et al. measured (Table 4: 0.5 ms of a 22B layer's
     * 7.7 ms forward, 0.1 ms of its backward), moving every run of
     * data/validation that uses it 8-25 % fast.  Refitted with s/t (a grid
     * of the rate 0.3-0.8, a factor 0.82-1 on every preset's matmul
     * ceilings, 1 or 1.15 on the attention rates), the best median over
     * data/validation was 3.9 %, against 3.1 % as it is. */
    double h = (double)m->hidden;
    double f = (double)m->ffn / t, span = (double)zp_model_attn_span(m, tr->seq);
    double sm = tr->flash ? 0.0 : 1.5 * (double)m->heads / t * span;
    /* Q's and K's head norms (qk_norm): each rank's heads, read and written */
    double qkn = m->qk_norm ? 2.0 * (double)(zp_ceil_div(m->heads, l->tp) + zp_ceil_div(m->kv_heads, l->tp)) *
                                  (double)zp_model_head_dim(m)
                            : 0.0;
    *fwd = 2.0 * zp_model_block_norms(m) * h + 6.0 * h + (m->mlp == ZP_MLP_GELU ? 2.0 : 3.0) * f + sm + qkn;

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

/* PyTorch eager runs every elementwise op of a module as its own kernel,
 * which reads its inputs from memory and writes its output there; the
 * traffic of one layer is the sum over the kernels autograd runs.  These
 * are the kernels of Hugging Face transformers' GPT-2 and LLaMA modules (the
 * same ones zp_eager_layer_bytes counts the saved tensors of), forward and
 * backward, per micro-batch and tp rank, in bytes; the products (mm, addmm,
 * bmm, SDPA) are timed as matmuls and left out, and so are views.  n = s b
 * tokens, h, a, g, f, d as there; q = n a d, kv = n g d, S = n a s' (eager
 * attention's scores); c and r the products' and the residual stream's
 * bytes (zp_eager_bytes), p = 4 with autocast (the ops on its fp32 list and
 * what they promote), else c.  A kernel K(read, write):
 * GPT-2, forward
 *   LayerNorm K(r nh, r nh + 8n); autocast casts each product's input,
 *   K(4 nh, 2 nh), and GELU's output for fc2, K(4 nf, 2 nf); eager
 *   attention: q and k^T made contiguous for the batched product K(c q, c
 *   q) K(c kv, c kv), the scale K(c S, c S), the causal mask added (of the
 *   stream's dtype, s s' values: promoted to r) K(c S + r s s', r S),
 *   softmax K(r S, r S), with autocast the copy to 16 bits K(4 S, 2 S), v
 *   made contiguous K(c kv, c kv), the heads merged K(c q, c q) (SDPA reads
 *   the QKV output's views and writes the merged layout itself: none);
 *   residual adds K((c + r) nh, r nh); gelu_new 0.5 x (1 + tanh(k (x +
 *   0.044715 x^3))) in nine kernels (0.5 x; the fp32 copy for pow; pow, two
 *   scalings, the add of x, tanh, 1 +, the product)
 * GPT-2, backward: each op's derivative as autograd computes it (casts
 *   back to each input's dtype, the bias sums, the three gradients of the
 *   QKV split concatenated, LayerNorm's backward K(2 r nh + 8n, r nh), the
 *   residual's gradients added)
 * LLaMA, forward: RMSNorm written out (to fp32, pow, mean, + eps, rsqrt,
 *   the product, back to the stream's dtype, the weight's product); q and k
 *   rotated (x cos + rotate_half(x) sin: neg, cat, two products, an add;
 *   cos and sin of the stream's dtype promote the result to r); eager
 *   attention repeats k and v to a heads (repeat_kv) and, with autocast,
 *   casts q and k to 16 bits, then as GPT-2 with softmax in fp32; SDPA with
 *   autocast casts the rotated q and k; SiLU K(c nf, c nf) and the gate
 *   product K(2c nf, c nf)
 * LLaMA, backward: likewise
 * Other models: the block of their MLP, with their own norm (LayerNorm's
 * kernel or RMSNorm's seven, norm_fwd) and positions (rotary: q and k
 * rotated as LLaMA's; learned: the table's gather).
 * Weights: with autocast every weight is cast to 16 bits once a forward
 * (6 bytes a parameter) and its gradient back to fp32 (6 more): pf, pb.
 * Dropout (GPT-2, tr->dropout): each residual branch's and, with eager
 * attention, the probabilities' native_dropout K(c x, c x + x) and its
 * backward K(c x + x, c x).  Not counted: bias and norm-weight reads (h or
 * f values), the loss's scalars. */
typedef struct {
    double *bytes, *kern;
} ktally;

static void K(ktally t, double rd, double wr)
{
    *t.bytes += rd + wr;
    *t.kern += 1.0;
}

/* RMSNorm as LlamaRMSNorm writes it, on n rows of width h: its input x of
 * x bytes, its output (weight * x normalised, cast back to x's dtype) of o
 * bytes, the dtype the weight's promotes it to (a block's norm: the stream's
 * r both; Q's and K's head norms under autocast: 16-bit input, fp32
 * weights, fp32 output), forward and backward (the gradient g in o bytes) */
static void rms_fwd_io(ktally t, double n, double h, double x, double o)
{
    double nh = n * h;
    if (x != 4.0)
        K(t, x * nh, 4.0 * nh);                  /* x.to(fp32) */
    K(t, 4.0 * nh, 4.0 * nh);                    /* pow(2) */
    K(t, 4.0 * nh, 4.0 * n);                     /* mean */
    K(t, 4.0 * n, 4.0 * n);                      /* + eps */
    K(t, 4.0 * n, 4.0 * n);                      /* rsqrt */
    K(t, 4.0 * nh + 4.0 * n, 4.0 * nh);          /* x * rsqrt */
    if (x != 4.0)
        K(t, 4.0 * nh, x * nh);                  /* .to(dtype) */
    K(t, x * nh, o * nh);                        /* weight * x */
}

static void rms_bwd_io(ktally t, double n, double h, double x, double o)
{
    double nh = n * h;
    K(t, o * nh, o * nh);                        /* d x_norm = g weight, */
    if (o != x)
        K(t, o * nh, x * nh);                    /* in x_norm's dtype */
    K(t, (o + x) * nh, o * nh);                  /* g x_norm, */
    K(t, o * nh, 0.0);                           /* summed to the weight's */
    if (x != 4.0)
        K(t, x * nh, 4.0 * nh);                  /* .to's backward */
    K(t, 4.0 * nh + 4.0 * n, 4.0 * nh);          /* g rsqrt */
    K(t, 8.0 * nh, 4.0 * nh);                    /* g x, */
    K(t, 4.0 * nh, 4.0 * n);                     /* summed per token */
    K(t, 4.0 * n, 4.0 * n);                      /* rsqrt's derivative: */
    K(t, 4.0 * n, 4.0 * n);
    K(t, 8.0 * n, 4.0 * n);
    K(t, 4.0 * n, 4.0 * nh);                     /* mean's: expanded / h */
    K(t, 4.0 * nh, 4.0 * nh);                    /* pow's: x^1, */
    K(t, 4.0 * nh, 4.0 * nh);                    /* x 2, */
    K(t, 8.0 * nh, 4.0 * nh);                    /* x g */
    K(t, 8.0 * nh, 4.0 * nh);                    /* the two paths added */
    if (x != 4.0)
        K(t, 4.0 * nh, x * nh);                  /* x.to(fp32)'s backward */
}

static void rms_fwd(ktally t, double n, double h, double r)
{
    rms_fwd_io(t, n, h, r, r);
}

static void rms_bwd(ktally t, double n, double h, double r)
{
    rms_bwd_io(t, n, h, r, r);
}

/* a block's norm: LayerNorm's one kernel (it reads x and writes y, mean and
 * rstd; its backward reads the gradient, x, mean and rstd), or RMSNorm
 * written out */
static void norm_fwd(ktally t, const zp_model *m, double n, double h, double r)
{
    if (m->norm == ZP_NORM_RMSNORM)
        rms_fwd(t, n, h, r);
    else
        K(t, r * n * h, r * n * h + 8.0 * n);
}

static void norm_bwd(ktally t, const zp_model *m, double n, double h, double r)
{
    if (m->norm == ZP_NORM_RMSNORM)
        rms_bwd(t, n, h, r);
    else
        K(t, 2.0 * r * n * h + 8.0 * n, r * n * h);
}

/* rotary positions on x (e elements of c bytes, cos and sin of sd values
 * and r bytes): forward and backward */
static void rope_fwd(ktally t, double e, double sd, double c, double r)
{
    K(t, c * e + r * sd, r * e);                 /* x cos */
    K(t, c * e / 2.0, c * e / 2.0);              /* -x2 */
    K(t, c * e, c * e);                          /* cat(-x2, x1) */
    K(t, c * e + r * sd, r * e);                 /* rotate_half(x) sin */
    K(t, 2.0 * r * e, r * e);                    /* the sum */
}

static void rope_bwd(ktally t, double e, double sd, double c, double r)
{
    K(t, r * e + r * sd, r * e);                 /* g sin */
    if (r != c)
        K(t, r * e, c * e);                      /* to cat's dtype */
    K(t, c * e / 2.0, c * e);                    /* slice_backward (x1's), */
    K(t, c * e / 2.0, c * e / 2.0);              /* neg */
    K(t, c * e / 2.0, c * e);                    /* slice_backward (x2's) */
    K(t, 2.0 * c * e, c * e);                    /* added */
    K(t, r * e + r * sd, r * e);                 /* g cos */
    if (r != c)
        K(t, r * e, c * e);                      /* to x's dtype */
    K(t, 2.0 * c * e, c * e);                    /* the two paths added */
}

void zp_eager_traffic_eval(const zp_model *m, const zp_train *tr, const zp_layout *l, zp_eager_traffic *o)
{
    memset(o, 0, sizeof *o);
    double s = (double)(tr->seq / zp_cp(l)), n = s * (double)l->micro_batch, h = (double)m->hidden;
    /* (eager attention scores every key, a sliding window's too: the
     * window is in its mask) */
    double d = (double)zp_model_head_dim(m), span = (double)tr->seq;
    double a = (double)zp_ceil_div(m->heads, l->tp), g = (double)zp_ceil_div(m->kv_heads, l->tp);
    double f = (double)zp_ceil_div(m->ffn, l->tp);
    double nh = n * h, nf = n * f, q = n * a * d, kv = n * g * d, S = n * a * span, ss = s * span, sd = s * d;
    int ac = zp_autocast_dtype(tr), llama = m->mlp == ZP_MLP_SWIGLU, eager_attn = !tr->flash;
    int rot = m->pos == ZP_POS_ROTARY;
    uint64_t cu, ru;
    zp_eager_bytes(tr, &cu, &ru);
    /* qr: q's and k's bytes after the rotation (cos and sin of the stream's
     * dtype promote them to r), c without one */
    double c = (double)cu, r = (double)ru, p = ac ? 4.0 : c, qr = rot ? r : c;
    /* Q's and K's head norms (qk_norm): their output's bytes qo (the
     * weight's dtype promotes it: fp32 under autocast), which the rotation
     * then reads (xq; the products' c without the norms) */
    double qo = ac ? 4.0 : c, xq = m->qk_norm ? qo : c;
    ktally F = {&o->f, &o->kf}, B = {&o->b, &o->kb}, HF = {&o->hf, &o->khf}, HB = {&o->hb, &o->khb};
    ktally EF = {&o->ef, &o->kef}, EB = {&o->eb, &o->keb};
    int drop = tr->dropout && !llama;
    if (!llama) {
        double qkv = q + 2.0 * kv;
        /* forward */
        norm_fwd(F, m, n, h, r);                                /* ln_1 */
        if (ac)
            K(F, 4.0 * nh, 2.0 * nh);                           /* c_attn's input cast */
        if (rot) {   /* GELU models with rotary positions: q and k rotated, back to 16 bits */
            rope_fwd(F, q, sd, c, r);
            rope_fwd(F, kv, sd, c, r);
            if (r != c) {
                K(F, r * q, c * q);
                K(F, r * kv, c * kv);
            }
        }
        if (eager_attn) {
            K(F, c * q, c * q);
            K(F, c * kv, c * kv);
            K(F, c * S, c * S);                                 /* scale */
            K(F, c * S + r * ss, r * S);                        /* + mask */
            K(F, r * S, r * S);                                 /* softmax */
            if (r != c)
                K(F, r * S, c * S);
            if (drop)
                K(F, c * S, c * S + S);
            K(F, c * kv, c * kv);
            K(F, c * q, c * q);                                 /* heads merged */
        }
        if (drop)
            K(F, c * nh, c * nh + nh);
        K(F, (c + r) * nh, r * nh);                             /* residual */
        norm_fwd(F, m, n, h, r);                                /* ln_2 */
        if (ac)
            K(F, 4.0 * nh, 2.0 * nh);
        K(F, c * nf, c * nf);                                   /* 0.5 x */
        if (ac)
            K(F, 2.0 * nf, 4.0 * nf);                           /* fp32 copy for pow */
        K(F, p * nf, p * nf);                                   /* pow */
        K(F, p * nf, p * nf);                                   /* 0.044715 x^3 */
        K(F, (c + p) * nf, p * nf);                             /* x + */
        K(F, p * nf, p * nf);                                   /* sqrt(2/pi) */
        K(F, p * nf, p * nf);                                   /* tanh */
        K(F, p * nf, p * nf);                                   /* 1 + */
        K(F, (c + p) * nf, p * nf);                             /* 0.5 x (...) */
        if (ac)
            K(F, 4.0 * nf, 2.0 * nf);                           /* fc2's input cast */
        if (drop)
            K(F, c * nh, c * nh + nh);
        K(F, (c + r) * nh, r * nh);                             /* residual */
        /* backward */
        if (r != c)
            K(B, r * nh, c * nh);                               /* to fc2's output dtype */
        if (drop)
            K(B, c * nh + nh, c * nh);
        K(B, c * nh, 0.0);                                      /* fc2's bias */
        if (ac)
            K(B, 2.0 * nf, 4.0 * nf);                           /* the input cast's */
        K(B, (p + c) * nf, p * nf);                             /* d tanh-part = g 0.5x */
        K(B, 2.0 * p * nf, p * nf);                             /* d 0.5x = g (...) */
        if (c != p)
            K(B, p * nf, c * nf);
        K(B, 2.0 * p * nf, p * nf);                             /* tanh_backward */
        K(B, p * nf, p * nf);                                   /* sqrt(2/pi) */
        if (c != p)
            K(B, p * nf, c * nf);                               /* the add's, to x */
        K(B, p * nf, p * nf);                                   /* 0.044715 */
        K(B, p * nf, p * nf);                                   /* pow's: x^2, */
        K(B, p * nf, p * nf);                                   /* x 3, */
        K(B, 2.0 * p * nf, p * nf);                             /* x g */
        if (ac)
            K(B, p * nf, c * nf);                               /* the fp32 copy's */
        K(B, 2.0 * c * nf, c * nf);                             /* x's gradients added */
        K(B, c * nf, c * nf);                                   /* 0.5 */
        K(B, 2.0 * c * nf, c * nf);
        K(B, c * nf, 0.0);                                      /* c_fc's bias */
        if (ac)
            K(B, 2.0 * nh, 4.0 * nh);
        norm_bwd(B, m, n, h, r);                                /* ln_2 */
        K(B, 2.0 * r * nh, r * nh);                             /* residual's added */
        if (r != c)
            K(B, r * nh, c * nh);
        if (drop)
            K(B, c * nh + nh, c * nh);
        K(B, c * nh, 0.0);                                      /* c_proj's bias */
        if (eager_attn) {
            K(B, c * q, c * q);                                 /* d out made contiguous */
            if (r != c)
                K(B, c * S, r * S);
            if (drop)
                K(B, c * S + S, c * S);
            K(B, 2.0 * r * S, r * S);                           /* softmax */
            if (r != c)
                K(B, r * S, c * S);                             /* the mask add's, to the scores */
            K(B, c * S, c * S);                                 /* scale */
            K(B, c * q, c * q);
            K(B, c * kv, c * kv);
        }
        if (rot) {
            if (r != c) {
                K(B, c * q, r * q);
                K(B, c * kv, r * kv);
            }
            rope_bwd(B, q, sd, c, r);
            rope_bwd(B, kv, sd, c, r);
        }
        K(B, c * qkv, c * qkv);                                 /* d q, k, v concatenated */
        K(B, c * qkv, 0.0);                                     /* c_attn's bias */
        if (ac)
            K(B, 2.0 * nh, 4.0 * nh);
        norm_bwd(B, m, n, h, r);                                /* ln_1 */
        K(B, 2.0 * r * nh, r * nh);
    } else {
        /* forward */
        norm_fwd(F, m, n, h, r);
        if (ac)
            for (int i = 0; i < 3; i++)
                K(F, 4.0 * nh, 2.0 * nh);                       /* q, k, v's input casts */
        if (m->qk_norm) {   /* Q's and K's head norms on the products' outputs (c bytes, into qo);
                             * RMSNorm only: eager takes them in Qwen3's blocks alone (zp_pins_check) */
            rms_fwd_io(F, n * a, d, c, qo);
            rms_fwd_io(F, n * g, d, c, qo);
        }
        if (rot) {
            rope_fwd(F, q, sd, xq, r);
            rope_fwd(F, kv, sd, xq, r);
        }
        if (eager_attn) {
            if (a != g) {   /* repeat_kv */
                K(F, qr * kv, qr * q);
                K(F, c * kv, c * q);
            }
            if (qr != c) {   /* autocast: q and k to 16 bits */
                K(F, qr * q, c * q);
                K(F, qr * q, c * q);
            }
            K(F, c * q, c * q);                                 /* q contiguous for the batched product */
            if (a == g) {                                       /* and, not repeated, k^T and v */
                K(F, c * kv, c * kv);
                K(F, c * kv, c * kv);
            }
            K(F, c * S, c * S);                                 /* scale */
            K(F, c * S + r * ss, r * S);                        /* + mask */
            if (r != 4.0)
                K(F, r * S, 4.0 * S);                           /* softmax's dtype=fp32: a copy, */
            K(F, 4.0 * S, 4.0 * S);                             /* then softmax */
            if (c != 4.0)
                K(F, 4.0 * S, c * S);
            K(F, c * q, c * q);                                 /* heads merged */
        } else if (qr != c) {
            K(F, qr * q, c * q);                                /* SDPA's casts */
            K(F, qr * kv, c * kv);
        }
        K(F, (c + r) * nh, r * nh);                             /* residual */
        norm_fwd(F, m, n, h, r);
        if (ac)
            for (int i = 0; i < 2; i++)
                K(F, 4.0 * nh, 2.0 * nh);                       /* gate, up's input casts */
        K(F, c * nf, c * nf);                                   /* SiLU */
        K(F, 2.0 * c * nf, c * nf);                             /* x up */
        K(F, (c + r) * nh, r * nh);                             /* residual */
        /* backward */
        if (r != c)
            K(B, r * nh, c * nh);                               /* to down's output dtype */
        K(B, 2.0 * c * nf, c * nf);                             /* the gate product's two */
        K(B, 2.0 * c * nf, c * nf);
        K(B, 2.0 * c * nf, c * nf);                             /* silu_backward */
        if (ac)
            for (int i = 0; i < 2; i++)
                K(B, 2.0 * nh, 4.0 * nh);
        K(B, 2.0 * r * nh, r * nh);                             /* gate's and up's d x added */
        norm_bwd(B, m, n, h, r);
        K(B, 2.0 * r * nh, r * nh);                             /* the residual's */
        if (r != c)
            K(B, r * nh, c * nh);
        if (eager_attn) {
            K(B, c * q, c * q);                                 /* d out contiguous */
            if (c != 4.0)
                K(B, c * S, 4.0 * S);
            K(B, 8.0 * S, 4.0 * S);                             /* softmax */
            if (r != 4.0 || c != 4.0)
                K(B, 4.0 * S, r == 4.0 ? c * S : r * S);       /* the mask add's, to the scores */
            K(B, c * S, c * S);                                 /* scale */
            if (qr != c) {
                K(B, c * q, qr * q);                            /* the casts of q and k */
                K(B, c * q, qr * q);
            }
            if (a != g) {   /* repeat_kv's: summed over the copies */
                K(B, qr * q, qr * kv);
                K(B, c * q, c * kv);
            }
        } else if (qr != c) {
            K(B, c * q, qr * q);
            K(B, c * kv, qr * kv);
        }
        /* the heads' gradients copied back to the (b, s, heads, d) layout
         * of the products' outputs: eager attention's v (from its batched
         * product), and q and k after the rotation, whose slices' backward
         * writes the heads' order */
        if (eager_attn)
            K(B, c * kv, c * kv);
        if (rot) {
            rope_bwd(B, q, sd, xq, r);
            rope_bwd(B, kv, sd, xq, r);
            K(B, xq * q, xq * q);
            K(B, xq * kv, xq * kv);
        }
        if (m->qk_norm) {
            rms_bwd_io(B, n * a, d, c, qo);
            rms_bwd_io(B, n * g, d, c, qo);
        }
        if (ac)
            for (int i = 0; i < 3; i++)
                K(B, 2.0 * nh, 4.0 * nh);
        for (int i = 0; i < 2; i++)
            K(B, 2.0 * r * nh, r * nh);                         /* q's, k's and v's d x added */
        norm_bwd(B, m, n, h, r);
        K(B, 2.0 * r * nh, r * nh);
    }
    if (ac) {   /* the weights' 16-bit copies, and their gradients back to fp32 */
        double w = (double)zp_model_layer_params(m, l->tp) -
                   (double)zp_model_block_norms(m) * h * (m->norm == ZP_NORM_RMSNORM ? 1.0 : 2.0) -
                   (double)zp_model_qk_norm_params(m);   /* (norm weights are not cast) */
        o->pf = 6.0 * w, o->pb = 6.0 * w;
        o->f += o->pf, o->b += o->pb;
    }
    /* the head (the last stage): the final norm, the logits (to fp32
     * unless they are: with tp gathered whole, as transformers does), the
     * loss (log_softmax and the gathered nll; its backward writes the
     * gradient, then log_softmax's); the embedding (the first stage): its
     * gather, a learned position table's, the causal mask of eager
     * attention, and backward the table zeroed and the rows added (a tied
     * table's two gradients added where one stage holds both) */
    double Vf = (double)m->vocab, nV = n * Vf, wb = (double)zp_dtype_bytes(ac ? ZP_DT_FP32 : tr->dtype);
    norm_fwd(HF, m, n, h, r);
    if (ac)
        K(HF, 4.0 * nh, 2.0 * nh);
    if (c != 4.0)
        K(HF, c * nV, 4.0 * nV);                                /* .float() */
    K(HF, 4.0 * nV, 4.0 * nV);                                  /* log_softmax */
    K(HF, 4.0 * n + 8.0 * n, 0.0);                              /* nll */
    K(HB, 0.0, 4.0 * nV);                                       /* nll's */
    K(HB, 8.0 * nV, 4.0 * nV);                                  /* log_softmax's */
    if (c != 4.0)
        K(HB, 4.0 * nV, c * nV);
    if (ac)
        K(HB, 2.0 * nh, 4.0 * nh);
    norm_bwd(HB, m, n, h, r);
    if (ac) {   /* the head's weight (tied: the embedding's) cast and its gradient */
        o->hf += 6.0 * Vf * h / (double)l->tp;
        o->hb += 6.0 * Vf * h / (double)l->tp;
    }
    K(EF, wb * nh + 8.0 * n, r * nh);                           /* token embedding */
    int learned = m->pos == ZP_POS_LEARNED;
    if (learned) {
        K(EF, wb * s * h + 8.0 * s, wb * s * h);                /* positions */
        K(EF, wb * s * h + r * nh, r * nh);                     /* added */
    }
    if (eager_attn) {   /* the causal mask, of the stream's dtype */
        K(EF, 0.0, r * ss);
        K(EF, r * ss, r * ss);
    }
    if (drop) {
        K(EF, r * nh, r * nh + nh);
        K(EB, r * nh + nh, r * nh);
    }
    double Vt = Vf / (double)l->tp;   /* the table's rows on a tp rank (vocabulary-parallel) */
    K(EB, 0.0, wb * Vt * h);                                    /* the whole table, zeroed */
    K(EB, r * nh + 8.0 * n + wb * nh, wb * nh);
    if (m->tied && l->pp == 1)
        K(EB, 2.0 * wb * Vt * h, wb * Vt * h);
    if (learned) {
        K(EB, r * nh, wb * s * h);                              /* positions: summed over the batch */
        K(EB, 0.0, wb * (double)m->max_pos * h);
        K(EB, wb * s * h + 8.0 * s + wb * s * h, wb * s * h);
    }
}

/* The fused kernels' traffic of a micro-batch on a stage of nLs blocks
 * (the head on the last): forward, backward and recompute.  With
 * ckpt_every only the rebuilt blocks add their forward again; a block
 * kept whole adds what it recomputes without it (flash attention's). */
static double stage_ew_bytes(const zp_model *m, const zp_train *tr, const zp_layout *l, int64_t nLs, int last_stage)
{
    double fwd, rc, head;
    elementwise_values(m, tr, l, &fwd, &rc, &head);
    double tokens = (double)(tr->seq / zp_cp(l)) * (double)l->micro_batch;
    double Ls = (double)nLs;
    double R = l->ckpt == ZP_CKPT_FULL ? (double)zp_ckpt_blocks(tr, 1, nLs, l->vp) : Ls, kept = 0.0;
    if (R < Ls) {
        zp_layout nl = *l;
        double kf, krc, kh;
        nl.ckpt = ZP_CKPT_NONE;
        elementwise_values(m, tr, &nl, &kf, &krc, &kh);
        kept = (Ls - R) * krc;
    }
    return (double)zp_act_bytes(tr) * tokens * (Ls * 3.0 * fwd + R * rc + kept + (last_stage ? 3.0 * head : 0.0));
}

double zp_elementwise_bytes(const zp_model *m, const zp_train *tr, const zp_layout *l, int last_stage)
{
    return stage_ew_bytes(m, tr, l, zp_stage_layers(m->layers, l->pp, last_stage ? l->pp - 1 : 0), last_stage);
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

/* The time of one pipeline transfer of a stage's communication (its
 * sends are all of one size; the slower of its two directions where one
 * crosses nodes and the other stays in the node, so every blocking
 * transfer is charged at it, an overestimate for such stages): what
 * DeepSpeed's blocking transfers count per transfer
 * (zp_p2p_blocking_transfers); 0 without any. */
static double p2p_msg_time(const zp_comm *cm)
{
    double msg = 0.0;
    for (int i = 0; i < cm->n; i++)
        if (cm->c[i].group == ZP_GRP_PP && cm->c[i].kind == ZP_COLL_SENDRECV && cm->c[i].count > 0 &&
            cm->c[i].time_s / (double)cm->c[i].count > msg)
            msg = cm->c[i].time_s / (double)cm->c[i].count;
    return msg;
}

/* What shows of `busy` seconds of communication overlapped with a window
 * of `win` seconds of compute: what does not fit, and of what fits the
 * part imperfect overlap (shared SMs and memory bandwidth) leaves exposed,
 * 1 - eff. */
static double shows(double busy, double win, double eff)
{
    double hid = busy < win ? busy : win;
    return (busy - hid) + (1.0 - eff) * hid;
}

/* Exposed time of a stage's communication after the overlap its strategy
 * allows: collectives marked BWD hide behind the backward passes they run
 * during (the last micro-batch for a once-per-step reduction, every
 * micro-batch for ZeRO-2/3), ZeRO-3's gathers behind forward and backward;
 * the distributed optimizer's overlapped all-gather behind one forward,
 * interleaved pipeline transfers behind the stage's other chunks (each
 * behind one chunk's forward at most), offloaded activations behind
 * their blocks' compute (on a copy stream; in the compute stream's order
 * on the critical path, every micro-batch); the
 * rest is on the critical path.  Of what fits in the window only the
 * overlap efficiency hides (eff; eff_dp for the data-parallel group's
 * collectives); the remainder shows. */
static double exposed(const zp_comm *cm, const zp_layout *l, double fwd_s, double bwd_s, double attn_s, double lin_s,
                      double wg_s, double dg_s, double eff, double eff_dp, int p2p_blocking,
                      int per_mb, double blocks)
{
    double crit = 0.0, ovl = 0.0, ovl_dp = 0.0, ring = 0.0, tp = 0.0, wgc = 0.0, dgc = 0.0, pg = 0.0, p2p = 0.0,
           once_b = 0.0, blkx = 0.0;
    double M = (double)l->grad_accum;
    /* FSDP with a pipeline reduces the stage's gradients once a step,
     * behind the last micro-batch's backward alone (its once-a-step gather
     * is ZP_OVL_FWD: behind the first one's forward) */
    int once = l->zero >= 3 && l->pp > 1;
    /* parameters gathered during the forward (ZeRO-3; FSDP's ZeRO-2, which
     * gathers them again each micro-batch): the data-parallel window spans
     * forward and backward */
    int fwd_gathers = l->zero >= 3;
    for (int i = 0; i < cm->n; i++) {
        if (cm->c[i].group == ZP_GRP_DP && cm->c[i].overlap == ZP_OVL_FWD_BWD)
            fwd_gathers = 1;
        /* blocking pipeline transfers: left to the caller, per transfer on
         * the pacing stage's critical path rather than per send */
        if (p2p_blocking && cm->c[i].group == ZP_GRP_PP && cm->c[i].kind == ZP_COLL_SENDRECV)
            continue;
        /* per_mb: only what every micro-batch runs (tensor and context
         * parallelism, pipeline transfers), not the step's once-a-step or
         * data-parallel collectives */
        int blk = cm->c[i].overlap == ZP_OVL_BLOCK || cm->c[i].overlap == ZP_OVL_STREAM;   /* activation offload */
        if (per_mb && cm->c[i].group != ZP_GRP_TP && cm->c[i].group != ZP_GRP_CP && cm->c[i].group != ZP_GRP_PP &&
            !blk)
            continue;
        /* on the critical path: among them the gradients' reductions where
         * the framework runs them after the backward, and the copies to an
         * offloaded optimizer that follow them (comm.c labels both so) */
        if (cm->c[i].overlap == ZP_OVL_NONE || cm->c[i].overlap == ZP_OVL_STREAM)
            crit += cm->c[i].time_s;
        else if (cm->c[i].overlap == ZP_OVL_BLOCK) {
            /* activation offload on a copy stream: each block's copy to
             * the host behind that block's forward, each copy back behind
             * the backward of the block after it: a block's share of one
             * micro-batch's pass (of the stage's blocks) */
            double n = cm->c[i].count > 0 ? (double)cm->c[i].count : 1.0, per = cm->c[i].time_s / n;
            double pass = cm->c[i].kind == ZP_COLL_D2H ? fwd_s : bwd_s;
            blkx += n * shows(per, pass / (blocks > 0 ? blocks : 1.0), eff);
        }
        else if (once && cm->c[i].group == ZP_GRP_DP && cm->c[i].overlap == ZP_OVL_BWD)
            once_b += cm->c[i].time_s;
        else if (cm->c[i].overlap == ZP_OVL_ATTN)
            ring += cm->c[i].time_s;
        else if (cm->c[i].overlap == ZP_OVL_GEMM)
            tp += cm->c[i].time_s;
        else if (cm->c[i].overlap == ZP_OVL_WGRAD)
            wgc += cm->c[i].time_s;
        else if (cm->c[i].overlap == ZP_OVL_DGRAD)
            dgc += cm->c[i].time_s;
        else if (cm->c[i].overlap == ZP_OVL_FWD)
            pg += cm->c[i].time_s;
        else if (cm->c[i].overlap == ZP_OVL_P2P) {
            /* each transfer hides behind one chunk's forward at most (the
             * shorter pass: fwd_s / vp); what a transfer takes beyond it shows */
            double n = cm->c[i].count > 0 ? (double)cm->c[i].count : 1.0, per = cm->c[i].time_s / n;
            double cap = fwd_s / (double)(l->vp > 1 ? l->vp : 1);
            p2p += n * (per < cap ? per : cap);
            crit += n * (per > cap ? per - cap : 0.0);
        }
        else if (cm->c[i].group == ZP_GRP_DP)
            ovl_dp += cm->c[i].time_s;
        else
            ovl += cm->c[i].time_s;
    }
    double window = fwd_gathers ? M * (fwd_s + bwd_s) : (l->zero >= 2 ? M : 1.0) * bwd_s;
    /* the data-parallel group's collectives hide at their own efficiency
     * (eff_dp); sharing a window with others, each kind hides in
     * proportion to its time */
    double busy = ovl + ovl_dp, hid = busy < window ? busy : window;
    double ovl_shows = eff_dp == eff || ovl_dp == 0.0   /* one efficiency: as before, to the bit */
                           ? shows(busy, window, eff)
                           : (busy - hid) + hid * ((1.0 - eff) * ovl + (1.0 - eff_dp) * ovl_dp) / busy;
    return crit + blkx + ovl_shows + shows(once_b, bwd_s, eff_dp) +
           /* the context-parallel ring behind the attention of the chunk in
            * hand, every micro-batch (attn_s: one micro-batch's, the stage's
            * layers) */
           shows(ring, M * attn_s, eff) +
           /* input gradients' reductions behind the weight-gradient products
            * (wg_s: one micro-batch's, the stage's layers), the re-gathered
            * inputs behind the input-gradient products (dg_s), and the
            * overlapped tensor parallelism behind the linear products those
            * two leave free (lin_s: all of them, one micro-batch's): no
            * product hides two collectives */
           shows(wgc, M * wg_s, eff) + shows(dgc, M * dg_s, eff) +
           shows(tp, fmax(0.0, M * lin_s - fmin(wgc, M * wg_s) - fmin(dgc, M * dg_s)), eff) +
           /* the updated parameters' all-gather behind the next step's first
            * forward (fwd_s: one micro-batch's, the stage's layers) */
           shows(pg, fwd_s, eff_dp) +
           /* interleaved pipeline transfers behind the other chunks' compute:
            * the stage's whole step */
           shows(p2p, M * (fwd_s + bwd_s), eff);
}

void zp_cost_eval(const zp_model *m, const zp_train *tr, const zp_layout *l,
                  const zp_cluster *c, const zp_conv *cv, const zp_comm *first,
                  const zp_comm *last, zp_cost *out)
{
    zp_lcache lc;
    zp_lcache_init(m, tr, l, &lc);
    zp_cost_eval_c(m, tr, l, c, cv, &lc, first, last, NULL, out);
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
                         double pk8, double pka, double mm[5], double k[4], double *attn, double *lin, double *wg,
                         double *dg)
{
    /* s: this rank's tokens of a sequence (s / cp); span: the keys of the
     * whole sequence a query sees */
    double s = (double)(tr->seq / zp_cp(l)), b = (double)l->micro_batch, t = (double)l->tp, h = (double)m->hidden;
    double T = s * b, d = (double)zp_model_head_dim(m), span = (double)zp_model_attn_span(m, tr->seq);
    double core = span * (double)(m->heads * zp_model_head_dim(m));   /* s' a d per token */
    if (cv->gemm_eff > 0) {
        /* FP8: the linear layers' FLOPs at the FP8 peak, the attention
         * core's at its own (pka: the dtype's, or fp32's for the engine's
         * exact flash kernels beside tensor-core products) */
        double tok = T / t, inv = 1.0 / (pk * cv->gemm_eff), lw = 2.0 * (double)zp_model_block_matmul_params(m);
        double ar = pk / pka, ac = 4.0 * core * ar;   /* the core's FLOPs at the dtype's rate */
        double blk = (tr->fp8 ? lw * pk / pk8 : lw) + ac;   /* FLOPs at the dtype's rate */
        double r = l->ckpt == ZP_CKPT_FULL        ? blk
                   /* an FP8 MLP's products at the FP8 peak */
                   : l->ckpt == ZP_CKPT_SELECTIVE
                       ? sel_flops(m, tr, l, core, tr->fp8 ? pk / pk8 : 1.0)
                   : l->ckpt == ZP_CKPT_OP ? 2.0 * op_recompute_weights(m) * (tr->fp8 ? pk / pk8 : 1.0) +
                                                (tr->flash ? 0.0 : 4.0 * core)
                                           : 0.0;
        mm[0] = tok * blk * inv;
        mm[1] = 2.0 * mm[0];
        mm[2] = tok * (r + (tr->flash ? 2.0 * core * ar : 0.0)) * inv;
        mm[3] = tok * 2.0 * (double)m->vocab * h * inv;
        mm[4] = 2.0 * mm[3];
        k[0] = k[1] = k[2] = k[3] = 0.0;
        /* forward, backward, flash's rebuilt scores, full recompute's forward again */
        *attn = tok * ac * (3.0 + (tr->flash ? 0.5 : 0.0) + (l->ckpt == ZP_CKPT_FULL ? 1.0 : 0.0)) * inv;
        *lin = mm[0] + mm[1] + mm[2] - *attn;
        *wg = tok * (tr->fp8 ? lw * pk / pk8 : lw) * inv;   /* dW: the forward's FLOPs */
        *dg = *wg;                                          /* dX: the same */
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
    /* the input gradients alone (dx = dy W^T), the rest of the backward's */
    *dg = lin_b - *wg;
    /* the attention core: b a / t products of each kind */
    double nb = b * (double)m->heads / t, sc, att_f, att_b;
    if (tr->flash) {
        /* one fused kernel at attn_eff of the peak on the work it does: a
         * causal mask skips the upper half of the scores (s' = s); with a
         * window w < s, query i sees min(i + 1, w) keys, sum w s - w^2/2:
         * 1 - w / 2s of s w (continuous with the half at w = s) */
        double sq = (double)tr->seq;
        double work = (span < sq ? 1.0 - span / (2.0 * sq) : 0.5) * 2.0 * s * span * d * nb;   /* one product's FLOPs */
        sc = work / (pka * cv->attn_eff);
        att_f = 2.0 * sc, att_b = 4.0 * sc;
    } else {
        sc = zp_gemm_time(&cv->gemm, pk, eb, s, span, d, nb);                 /* Q K^T; dP = dO V^T */
        double va = zp_gemm_time(&cv->gemm, pk, eb, s, d, span, nb);          /* P V; dQ = dS K */
        double tv = zp_gemm_time(&cv->gemm, pk, eb, span, d, s, nb);          /* dV = P^T dO; dK = dS^T Q */
        att_f = sc + va, att_b = sc + va + 2.0 * tv;
    }
    mm[0] = lin_f + att_f;
    mm[1] = lin_b + att_b;
    /* forward, backward, flash's rebuilt scores, and full recompute's forward again */
    *attn = att_f + att_b + (tr->flash ? sc : 0.0) + (l->ckpt == ZP_CKPT_FULL ? att_f : 0.0);
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
                (m->pos == ZP_POS_ROTARY ? 1.0 : 0.0) + (m->qk_norm ? 2.0 : 0.0);
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
                    const zp_conv *cv, const zp_lcache *lc, const zp_comm *first, const zp_comm *last,
                    const zp_comm *midc, zp_cost *out)
{
    out->ew_bytes = out->gemm_s = 0.0;
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

    /* the matmuls run in the dtype, or in fp32 on a backend computing in
     * fp32 unless its products are the dtype's on the tensor cores */
    zp_dtype cdt = tr->compute_fp32 && !tr->tensor_math ? ZP_DT_FP32 : tr->dtype;
    double mm[5], kn[4], attn, lin, wg, dg;
    double pk8 = tr->fp8 && c->gpu.peak_fp8 > 0 ? c->gpu.peak_fp8 : c->gpu.peak_flops[cdt];
    /* the attention core's peak: the dtype's; for zplan's engine's flash
     * kernels beside tensor-core products (tensor_math) the dtype's too
     * where they run on the tensor cores (a head size a multiple of 16 up
     * to 128), else fp32's (its exact kernels) */
    int hd = zp_model_head_dim(m), tc_flash = hd % 16 == 0 && hd <= 128;
    double pka = tr->tensor_math && tr->flash && !tc_flash ? c->gpu.peak_flops[ZP_DT_FP32] : c->gpu.peak_flops[cdt];
    matmul_times(m, tr, l, cv, c->gpu.peak_flops[cdt], pk8, pka, mm, kn, &attn, &lin, &wg, &dg);
    /* the same for a block kept whole (ckpt_every > 1): its recompute
     * terms (mm[2], kn[2], and in lin and attn) as without recompute */
    zp_layout nl = *l;
    nl.ckpt = ZP_CKPT_NONE;
    double mmk[5], knk[4], attnk, link, wgk, dgk;
    int partial = l->ckpt == ZP_CKPT_FULL && (tr->ckpt_every > 1 || tr->ckpt_block > 0);
    if (partial)
        matmul_times(m, tr, &nl, cv, c->gpu.peak_flops[cdt], pk8, pka, mmk, knk, &attnk, &link, &wgk, &dgk);
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
    double ew_b = 2.0 * ew_f, ew_head_b = 2.0 * ew_head, kn_head_b = 2.0 * kn[3];
    double ew_emb_f = 0.0, ew_emb_b = 0.0;   /* the embedding's, with its kernels (eager: counted apart) */
    /* PyTorch eager: its kernels one by one (zp_eager_traffic_eval), their
     * whole traffic at eager_hbm_eff of the HBM bandwidth (a streaming
     * kernel's rate: what they move is counted, not a minimum), plus
     * kernel_s each; full recompute (torch.utils.checkpoint) runs a block's
     * forward again; never faster than the fused kernels' time above (in
     * fp32 eager's traffic is little more than theirs at 30 %).  A constant
     * efficiency (--gemm-eff) already holds the non-matmul kernels, as it
     * does without --eager. */
    int eg = cv->eager && cv->gemm_eff <= 0;
    zp_eager_traffic et;
    memset(&et, 0, sizeof et);
    if (eg) {
        zp_eager_traffic_eval(m, tr, l, &et);
        double bps = cv->eager_hbm_eff * c->gpu.hbm_gbps * 1e9;
        ew_f = fmax(et.f / bps, ew_f), ew_b = fmax(et.b / bps, ew_b);
        ew_head = fmax(et.hf / bps, ew_head), ew_head_b = fmax(et.hb / bps, ew_head_b);
        ew_emb_f = et.ef / bps + et.kef * cv->kernel_s, ew_emb_b = et.eb / bps + et.keb * cv->kernel_s;
        ew_rc = l->ckpt == ZP_CKPT_FULL ? ew_f : 0.0, ew_rck = 0.0;
        /* and the products' own launches, which zp_eager_traffic_eval
         * leaves out: a layer's linear layers (GPT-2's fused QKV, c_proj,
         * c_fc, c_proj: 4; LLaMA's q, k, v, o, gate, up, down: 7), each
         * once forward and twice backward (dx, dW), the attention's
         * products (SDPA one kernel forward, two backward; eager two
         * batched products forward, four backward), the head's product */
        double npr = m->mlp == ZP_MLP_SWIGLU ? 7.0 : 4.0, af = tr->flash ? 1.0 : 2.0, ab = tr->flash ? 2.0 : 4.0;
        kn[0] = (et.kf + npr + af) * cv->kernel_s, kn[1] = (et.kb + 2.0 * npr + ab) * cv->kernel_s;
        kn[3] = (et.khf + 1.0) * cv->kernel_s;
        kn[2] = l->ckpt == ZP_CKPT_FULL ? kn[0] : 0.0, knk[2] = 0.0, kn_head_b = (et.khb + 2.0) * cv->kernel_s;
    }
    double M = (double)l->grad_accum;
    double best_compute = 0.0, worst_exposed = 0.0, hw = 0.0, mb_s = 0.0;
    double comp_kind[3] = {0.0, 0.0, 0.0};   /* compute by stage kind, for blocking transfers */
    /* DeepSpeed's bf16 optimizer's per-micro-batch gradient add (lp_grads) runs at the non-matmul rate */
    double lp_bps = ew_bps > 0 ? ew_bps : cv->hbm_eff * c->gpu.hbm_gbps * 1e9;
    /* the first stage, a middle one (with uneven stages the one with a
     * block more; either way the one that sends both ways; its
     * communication taken as the first's without midc), and the last */
    int64_t stages[3] = {0, zp_stage_middle_pick(m, l, c), l->pp - 1};
    for (int which = 0; which < 3; which++) {
        if ((which == 1 && !stages[1]) || (which == 2 && l->pp == 1))
            continue;
        int last_stage = which == 2 || l->pp == 1, first_stage = which == 0;
        int64_t nLs = zp_stage_layers(m->layers, l->pp, stages[which]);
        double Ls = (double)nLs;
        /* R blocks rebuilt, Ls - R kept whole (R = Ls but with ckpt_every) */
        double R = (double)zp_ckpt_blocks(tr, l->ckpt == ZP_CKPT_FULL, nLs, l->vp), K = Ls - R;
        if (l->ckpt != ZP_CKPT_FULL)
            R = Ls, K = 0.0;   /* selective and op: every block alike */
        double rc = R * rc1 + K * rc1_kept, f = Ls * block1 + (last_stage ? head : 0.0), b = 2.0 * f;
        double ef = Ls * ew_f + (last_stage ? ew_head : 0.0) + (first_stage ? ew_emb_f : 0.0);
        double eb = Ls * ew_b + (last_stage ? ew_head_b : 0.0) + (first_stage ? ew_emb_b : 0.0);
        double fwd_s = Ls * (mm[0] + kn[0]) + (last_stage ? mm[3] + kn[3] : 0.0) + ef;
        double bwd_s = Ls * (mm[1] + kn[1]) + R * (mm[2] + kn[2]) + K * (mmk[2] + knk[2]) +
                       (last_stage ? mm[4] + kn_head_b : 0.0) + eb + R * ew_rc + K * ew_rck;
        /* DeepSpeed's bf16 optimizer adds each bf16 gradient into its fp32
         * one after every micro-batch (lp_grads): the stage's parameters at
         * the non-matmul rate */
        if (zp_lp_grads_apply(tr, l, cv) && lp_bps > 0)
            bwd_s += (double)zp_lcache_stage_params(m, l, lc, stages[which]) * ZP_LP_GRADS_ADD_BYTES / lp_bps;
        double comp = M * (fwd_s + bwd_s);
        /* the products of the first stage (rank 0's, which an engine
         * reports), the fused flash kernel left out */
        if (first_stage)
            out->gemm_s = M * (Ls * (mm[0] + mm[1]) + R * mm[2] + K * mmk[2] + (last_stage ? mm[3] + mm[4] : 0.0) -
                               (tr->flash ? R * attn + K * attnk : 0.0));
        const zp_comm *cm = which == 2 ? last : which == 1 && midc ? midc : first;
        double ex = exposed(cm, l, fwd_s, bwd_s, R * attn + K * attnk, R * lin + K * link,
                            Ls * wg, Ls * dg, cv->overlap_eff, zp_conv_dp_overlap(cv),
                            cv->p2p_blocking, 0, Ls);
        comp_kind[which] = comp;
        if (comp > best_compute) {
            best_compute = comp;
            hw = M * (f + b + rc);
            /* a micro-batch's time on the stage that paces the pipeline:
             * its compute and the communication every micro-batch exposes
             * there (the fill and drain of the pipeline take p - 1 of them,
             * communication included: 1F1B's (M + p - 1) x (t_f + t_b)) */
            mb_s = fwd_s + bwd_s +
                   (l->pp > 1 ? exposed(cm, l, fwd_s, bwd_s, R * attn + K * attnk, R * lin + K * link, Ls * wg,
                                        Ls * dg, cv->overlap_eff, zp_conv_dp_overlap(cv),
                                        cv->p2p_blocking, 1, Ls) / M
                              : 0.0);
            out->ew_bytes = eg ? Ls * (et.f + et.b) + (l->ckpt == ZP_CKPT_FULL ? R * et.f : 0.0) +
                                     (last_stage ? et.hf + et.hb : 0.0) + (first_stage ? et.ef + et.eb : 0.0)
                               : stage_ew_bytes(m, tr, l, nLs, last_stage);
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
     * (params, grads, master and moments read and written; foreach Adam's
     * separate kernels move ZP_ADAM_FOREACH_EXTRA_BYTES(gb) a parameter more),
     * or the host optimizer at its throughput when offloaded */
    /* the largest stage: the first, the last, or with uneven stages the
     * middle one with a block more */
    int64_t P = lc->stage_params[0] > lc->stage_params[1] ? lc->stage_params[0] : lc->stage_params[1];
    if (stages[1] && zp_lcache_stage_params(m, l, lc, stages[1]) > P)
        P = zp_lcache_stage_params(m, l, lc, stages[1]);
    double Ps = l->zero >= 1 ? (double)zp_ceil_div(P, zp_shard_ranks(l)) : (double)P;
    if (l->offload != ZP_OFF_NONE)
        out->optimizer_s = Ps / cv->cpu_adam_params_per_s;
    else {
        uint64_t pb, gb, K;
        zp_state_bytes(tr, cv, &pb, &gb, &K);
        double extra = zp_adam_foreach_apply(tr, l, cv) ? (double)ZP_ADAM_FOREACH_EXTRA_BYTES(gb) : 0.0;
        double bytes = Ps * (2.0 * (double)pb + (double)gb + 2.0 * (double)K + extra);
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
