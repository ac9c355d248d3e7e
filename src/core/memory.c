/* memory.c - bytes per class for one rank of one pipeline stage (pure).
 *
 * Conventions (README "Conventions"), with Ψ_k the parameters a rank of
 * stage k holds after tensor/pipeline splitting (zp_stage_params), d the
 * data-parallel degree, shard(x) = ceil(x / d):
 *   params      Ψ_k * bytes(dtype); ZeRO-3: shard(Ψ_k); param offload: host
 *   grads       Ψ_k * bytes(grad dtype); ZeRO-2/3: shard(Ψ_k); with optimizer
 *               offload at ZeRO-2/3 the partition lives on the host (fp32);
 *               lp_grads (DeepSpeed's bf16 optimizer: bf16 with fp32 grads,
 *               ZeRO 0-1, no offload): + Ψ_k * 2 for the bf16 gradients
 *               kept beside the fp32 ones
 *   optimizer   Ψ_k * K, K = 4 (fp32 master, when dtype != fp32 and master
 *               weights are on) + 8 (Adam m, v) or 4 (SGD momentum);
 *               ZeRO >= 1: shard(Ψ_k); offload: on the host, plus the fp32
 *               gradient copy the host optimizer reads (4 bytes/param);
 *               the host always keeps a copy of the partition to update
 *               (fp32 master, also with fp32 storage: see mem_stage)
 *   activations Korthikanti et al. per layer x layers in flight, plus the
 *               embedding-dropout mask and an embedding norm's input (first
 *               stage), the final-norm and head inputs (last stage) and, as
 *               the framework holds them (zp_pp_out), each in-flight micro-
 *               batch's output (stages before the last)
 *   buffers     gradient reduce bucket; ZeRO-3 gathered layers; fp32 logits
 *               (last stage); pipeline send/recv; the recompute working set;
 *               the backward workspace; transient full gradients; foreach
 *               Adam's sqrt(v) at the optimizer step
 *   activations and buffers are counted at the moment of the peak, the
 *   loss, the first block's backward or (foreach Adam) the optimizer step
 *   (see mem_stage)
 *   overhead    CUDA context + NCCL communicators + fragmentation
 * With ZeRO paper conventions (fp16 params and grads, Adam with master,
 * overheads, buffers and activations set to zero) params+grads+optimizer are
 * its (2 + 2 + K)Ψ, 2Ψ + 2Ψ + KΨ/N_d, 2Ψ + (2 + K)Ψ/N_d, (2 + 2 + K)Ψ/N_d. */
#include "core.h"

static int64_t shard(int64_t x, int64_t d) { return zp_ceil_div(x, d); }

int64_t zp_stage_layers(int64_t layers, int64_t p, int64_t k)
{
    int64_t base = layers / p, extra = layers % p;
    if (!extra)
        return base;
    /* the remainder, one each: stages 1 .. p-2, then 0, then p-1 */
    int64_t mid = p > 2 ? p - 2 : 0, rank;
    if (k >= 1 && k <= p - 2)
        rank = k - 1;
    else if (k == 0)
        rank = mid;
    else
        rank = mid + 1;
    return base + (rank < extra ? 1 : 0);
}

int64_t zp_stage_params(const zp_model *m, const zp_layout *l, int64_t k)
{
    int64_t t = l->tp, p = l->pp;
    int64_t n = zp_stage_layers(m->layers, p, k) * zp_model_layer_params(m, t);
    if (k == 0)
        n += zp_model_embed_params(m, t);
    if (k == p - 1) {
        n += zp_model_final_norm_params(m);
        if (!m->tied || p > 1)
            n += zp_model_head_params(m, t);
    }
    return n;
}

/* Bytes of one layer's saved activations for one micro-batch.
 * B = activation bytes (2 for fp16/bf16, 4 for fp32), masks 1 byte,
 * r = t with sequence parallelism (else 1) for the tensors that tensor
 * parallelism leaves whole, d the head width (h / a unless head_dim says
 * otherwise), s' = min(s, window) the keys a query attends to.
 * Attention: LN input B sbh/r, QKV input B sbh/r, Q and K B sb d (a+g)/t,
 * V B sb d g/t, projection input B sb a d/t, dropout mask sbh/r; core
 * without flash attention and without selective recompute: softmax output
 * B a s s' b / t, with dropout also its mask a s s' b / t and output
 * B a s s' b / t (a sliding window keeps s' of each row's scores); flash
 * attention keeps the fp32 log-sum-exp per row and head, 4 a s b / t.
 * MLP: LN input B sbh/r, fc1 input B sbh/r, GELU: fc1 output and GELU
 * output 2 B s b f / t, SwiGLU: gate, up and product 3 B s b f / t,
 * dropout mask sbh/r.  With FP8 linear layers (tr->fp8) the inputs they
 * save (the norms' outputs, the projection's input, fc2's input) take 1 byte.
 * A parallel block feeds attention and MLP the same input: with one shared
 * norm (GPT-J, Falcon-7B) the block keeps that input and the norm's output,
 * which both QKV and fc1 read (2 B sbh/r instead of 4); with two norms of
 * it (GPT-NeoX) the input once and the two outputs (3 B sbh/r).  Their two
 * output dropout masks stay.
 * At B = 2, g = a, f = 4h, d = h/a, serial, dropout, no flash, no window:
 * sbh (10 + 24/t) + 5 a s^2 b / t without sp, sbh 34/t + 5 a s^2 b / t with
 * sp.  Full recompute keeps the layer input only: B sbh / r.  Where the
 * products keep their gathered input (tr->sp_gathered, PyTorch DTensor) the
 * QKV and fc1 inputs are B sbh each, whole, under sp too.
 * Q and K head norms (qk_norm, Qwen3) keep their inputs, the Q and K
 * products' outputs, B s b (a + g) d / t, and their fp32 1/rms per head
 * row, 4 s b (a + g) / t (a LayerNorm's mean and rstd: 8), but under full recompute and per-op
 * checkpointing (which rebuilds them from the block's input and the kept q).
 * Context parallelism: s is the rank's s / cp tokens (every term), s' the
 * keys of the whole sequence. */
uint64_t zp_act_layer_bytes(const zp_model *m, const zp_train *tr, const zp_layout *l)
{
    uint64_t B = zp_act_bytes(tr);
    uint64_t t = (uint64_t)l->tp, r = l->sp ? t : 1;
    /* s: this rank's tokens of a sequence (s / cp with context parallelism;
     * a query still sees the span of the whole sequence) */
    uint64_t s = (uint64_t)(tr->seq / zp_cp(l)), b = (uint64_t)l->micro_batch;
    uint64_t span = (uint64_t)zp_model_attn_span(m, tr->seq);
    uint64_t h = (uint64_t)m->hidden, a = (uint64_t)m->heads, g = (uint64_t)m->kv_heads;
    uint64_t f = (uint64_t)zp_ceil_div(m->ffn, l->tp);   /* per tp rank */
    uint64_t sb = s * b, sbh = sb * h, hd = (uint64_t)zp_model_head_dim(m);
    if (l->ckpt == ZP_CKPT_FULL)
        return B * sbh / r;
    if (l->ckpt == ZP_CKPT_OP) {
        /* per-op selective checkpointing (torch.utils.checkpoint's policy
         * functions, torchtitan's "op" mode): the block input, the outputs
         * of every other matmul in forward order and the flash attention's
         * output with its fp32 log-sum-exp are kept; the rest is recomputed
         * from them in backward.  A block with separate Q, K, V products
         * and a gated MLP (the LLaMA family: q, k, v, o, gate, up, down)
         * keeps q, v, gate and down's output (B sbh, before its reduction);
         * a fused QKV and a two-matrix MLP (q k v, o, fc1, fc2) keep QKV and
         * fc1.  Without flash attention its scores are recomputed too. */
        uint64_t keep = B * sbh / r + (tr->flash ? B * sb * hd * a / t + 4 * a * sb / t : 0);
        if (m->mlp == ZP_MLP_SWIGLU)
            keep += B * sb * hd * (a + g) / t + B * sb * f + B * sbh;
        else
            keep += B * sb * hd * (a + 2 * g) / t + B * sb * f;
        return keep;
    }
    /* each term is a whole number of bytes after its division (t divides
     * a and g, hence h when d = h / a); terms are summed by divisor to
     * divide once: whole/r + split/t + per-rank */
    /* a linear layer's input is saved in the FP8 it was computed in (1
     * byte): the norms' outputs, the projection's and fc2's inputs */
    uint64_t L8 = tr->fp8 ? 1 : B;
    /* selective recompute drops what the parts it rebuilds made: the
     * attention core's scores, the MLP's inner tensors, the norms' outputs */
    int mods = zp_rc_modules(tr, l->ckpt == ZP_CKPT_SELECTIVE);
    uint64_t norm_in = m->block == ZP_BLOCK_SERIAL ? 2 : 1, norm_out = m->block == ZP_BLOCK_PARALLEL ? 1 : 2;
    if (mods & ZP_RC_NORM)
        norm_out = 0;
    uint64_t whole = norm_in * B * sbh;   /* the norms' inputs */
    /* their outputs, the QKV and fc1 inputs: each rank's rows under
     * sequence parallelism (gathered again for the weight gradients), or
     * what the all-gather made, whole on every rank, where the products
     * keep it (sp_gathered: DTensor's ColwiseParallel saves its gathered
     * input) */
    uint64_t gathered = norm_out * L8 * sbh, rank_whole = l->sp && tr->sp_gathered ? gathered : 0;
    /* an MLP that selective recompute rebuilds starts from its norm's
     * output, each rank's rows, and gathers it again when rebuilt: only
     * the QKV input stays whole (a parallel block's one input is QKV's) */
    if (rank_whole && (mods & ZP_RC_MLP) && norm_out == 2)
        rank_whole -= L8 * sbh;
    whole += gathered - rank_whole;
    uint64_t split = B * sb * hd * (a + 2 * g) /* Q, K, V */
                     + L8 * sb * hd * a;       /* projection input */
    uint64_t rank = (mods & ZP_RC_MLP) ? 0 : ((m->mlp == ZP_MLP_GELU ? 1 : 2) * B + L8) * sb * f; /* fc1 + GELU out, or gate, up, product */
    if (tr->dropout)
        whole += 2 * sbh;                      /* attention and MLP dropout masks */
    if (m->qk_norm)
        split += (B * hd + (m->norm == ZP_NORM_RMSNORM ? 4 : 8)) * sb * (a + g);   /* the Q and K head norms' inputs and 1/rms
                                                                                    * (LayerNorm's: mean and rstd) */
    if (tr->flash)
        split += 4 * a * sb;                   /* softmax statistics (fp32) */
    else if (!(mods & ZP_RC_CORE_ATTN))
        split += (tr->dropout ? 2 * B + 1 : B) * a * span * sb; /* softmax output (+ mask, dropout output) */
    return whole / r + split / t + rank + rank_whole;
}

/* What one norm of n tokens keeps under PyTorch eager (see below). */
static uint64_t eager_norm_bytes(const zp_model *m, const zp_train *tr, uint64_t n)
{
    uint64_t c, r, nh = n * (uint64_t)m->hidden;
    zp_eager_bytes(tr, &c, &r);
    if (m->norm == ZP_NORM_RMSNORM)
        return (r == 4 ? 8 * nh : (4 + c) * nh) + 4 * n;
    return r * nh + 8 * n;
}

/* Bytes of one layer's forward that PyTorch eager keeps for the backward
 * (autograd's saved tensors) with Hugging Face transformers' modules, one
 * micro-batch, one tp rank.  GELU models are its GPT-2 (a LayerNorm, one
 * fused QKV product, "gelu_new" written out in elementwise ops), SwiGLU
 * models its LLaMA (RMSNorm written out, separate q, k, v, gate and up
 * products, SiLU, rotary positions); serial blocks.  n = s b tokens (s / cp),
 * h whole (no sequence parallelism), a, g, f per tp rank, d the head width,
 * q = n a d, kv = n g d, S = n a s (scores: every key, a sliding window's
 * too, which the mask applies), all in elements; c and r
 * the products' and the residual stream's bytes (zp_eager_bytes).
 *   norm        LayerNorm (native_layer_norm): its input r nh, mean and
 *               rstd 8 n.  RMSNorm (x.to(fp32), x.pow(2).mean, x * rsqrt,
 *               weight * x.to(dtype)): with an fp32 stream its input r nh
 *               and the normalised x 4 nh; a 16-bit model, the fp32 copy
 *               4 nh and the 16-bit normalised c nh; rsqrt 4 n
 *   inputs      of the products that read a norm's output: with autocast
 *               each product casts it to 16 bits itself (the cast cache
 *               keeps only leaf tensors, the weights) and saves its copy,
 *               2 nh each (QKV 1 or q, k, v 3; fc1 1 or gate, up 2); else
 *               the output itself, once, c nh
 *   QKV         GPT-2: the fused output c (q + 2 kv) (its views are what
 *               attention saves).  Q and K head norms (Qwen3's q_norm and
 *               k_norm): each a norm as above on the n a and n g rows of d
 *               values the products made, whose dtype is c, not r (RMSNorm:
 *               (4 + c) (q + kv), 8 (q + kv) in fp32, and 4 n (a + g)).
 *               LLaMA: q and k rotated (q cos +
 *               rotate_half(q) sin saves only cos and sin, and with autocast
 *               the result is fp32, cast again for attention)
 *   attention   SDPA (flash): its q, k, v and output c (2 q + 2 kv) for
 *               LLaMA (GPT-2's q, k, v are the QKV output above: c q more),
 *               the fp32 log-sum-exp 4 n a; the output is the projection's
 *               input.  Eager: the softmax output S (fp32 with autocast:
 *               4; LLaMA's softmax(dtype=fp32) always 4) and its 16-bit
 *               copy the values product reads (2, with autocast and, in
 *               LLaMA, a 16-bit model); LLaMA's product operands q and the
 *               keys, and the values, repeated to a heads (repeat_kv), c q
 *               each; the heads merged (contiguous) c q, the projection's
 *               input
 *   MLP         gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))):
 *               pow saves x (fp32 with autocast: pow runs in fp32, and so
 *               does the rest), tanh its output, the last product both its
 *               factors, fc2 its input: 16 nf with autocast (4 + 4 + 4 +
 *               2 + 2), 5 c nf without.  SwiGLU: gate's output (SiLU's
 *               input), SiLU's output and up's (the product's factors), the
 *               product (down's input): 4 c nf
 *   dropout     (tr->dropout) the masks, 1 byte: eager attention's
 *               probabilities S (SDPA's kernels keep a random seed), and
 *               GPT-2's two residual branches 2 nh (LLaMA has none); where
 *               the values product read the softmax output itself (no
 *               16-bit copy between them: GPT-2 in fp32 or as a bf16 model,
 *               LLaMA in fp32) it now reads the dropout's output, c S more
 * The residual stream after attention is the second norm's input; a
 * layer's output, the next layer's.  Full recompute
 * (torch.utils.checkpoint) keeps the layer input, r nh. */
/* The sizes zp_eager_layer_bytes and eager_attn_bwd share, in elements
 * (n tokens, q, kv, nf, S as there) and in bytes (c, r; the parts of a
 * layer's saved tensors by name). */
typedef struct eager_parts {
    uint64_t b, n, nh, q, kv, nf, S, c, r;
    int ac, llama, copy;   /* autocast; LLaMA's modules; a 16-bit copy between the softmax and the values product */
    uint64_t norm, in_qkv, in_mlp, mlp, drop, qkn;
} eager_parts;

static eager_parts eager_parts_of(const zp_model *m, const zp_train *tr, const zp_layout *l)
{
    eager_parts p;
    uint64_t s = (uint64_t)(tr->seq / zp_cp(l)), h = (uint64_t)m->hidden, d = (uint64_t)zp_model_head_dim(m);
    uint64_t a = (uint64_t)zp_ceil_div(m->heads, l->tp), g = (uint64_t)zp_ceil_div(m->kv_heads, l->tp);
    /* (eager attention scores every key, a sliding window or not: the
     * window is in its mask) */
    uint64_t f = (uint64_t)zp_ceil_div(m->ffn, l->tp), span = (uint64_t)tr->seq;
    p.b = (uint64_t)l->micro_batch, p.n = s * p.b;
    p.nh = p.n * h, p.q = p.n * a * d, p.kv = p.n * g * d, p.nf = p.n * f, p.S = p.n * a * span;
    p.ac = zp_autocast_dtype(tr), p.llama = m->mlp == ZP_MLP_SWIGLU;
    zp_eager_bytes(tr, &p.c, &p.r);
    p.copy = p.llama ? p.c == 2 : p.ac;
    p.norm = eager_norm_bytes(m, tr, p.n);
    p.in_qkv = p.ac ? (p.llama ? 3 : 1) * 2 * p.nh : p.c * p.nh;
    p.in_mlp = p.ac ? (p.llama ? 2 : 1) * 2 * p.nh : p.c * p.nh;
    p.mlp = p.llama ? 4 * p.c * p.nf : (p.ac ? 16 : 5 * p.c) * p.nf;
    /* Q and K head norms (qk_norm): RMSNorm as a block's, on the n (a + g)
     * rows of d values the products made (c bytes, not the stream's r);
     * eager takes them only in Qwen3's RMSNorm blocks (zp_pins_check) */
    p.qkn = m->qk_norm ? (p.c == 4 ? 8 : 4 + p.c) * (p.q + p.kv) + 4 * p.n * (a + g) : 0;
    p.drop = 0;
    if (tr->dropout)
        p.drop = (tr->flash ? 0 : p.S + (p.copy ? 0 : p.c * p.S)) + (p.llama ? 0 : 2 * p.nh);
    return p;
}

uint64_t zp_eager_layer_bytes(const zp_model *m, const zp_train *tr, const zp_layout *l)
{
    eager_parts p = eager_parts_of(m, tr, l);
    uint64_t c = p.c, q = p.q, kv = p.kv, S = p.S;
    if (l->ckpt == ZP_CKPT_FULL)
        return p.r * p.nh;
    uint64_t attn;
    if (tr->flash)
        attn = (p.llama ? c * (2 * q + 2 * kv) : c * (q + 2 * kv) + c * q) + 4 * p.n * (uint64_t)zp_ceil_div(m->heads, l->tp);
    else if (p.llama)
        attn = 2 * c * q + 4 * S + (c == 2 ? 2 * S : 0) + c * q + c * q;
    else
        attn = c * (q + 2 * kv) + (p.ac ? 4 + 2 : c) * S + c * q;
    return 2 * p.norm + p.in_qkv + p.qkn + attn + p.in_mlp + p.mlp + p.drop;
}

/* PyTorch eager attention (no fused kernel): the moment its last block's
 * softmax runs its backward, the first attention backward of the step.
 * By then the loss's tensors, the head's and the block's MLP backward are
 * done, and of the block's saved tensors (zp_eager_layer_bytes, with the
 * same names) these are freed (*freed): its second norm's, the MLP's
 * inputs and inner tensors, the projection's input (the heads merged, c
 * q), the values product's operands, which are the values (GPT-2: its
 * copy of them, c kv, but see below; LLaMA: repeated to a heads, c q) and the
 * probabilities' 16-bit copy where there is one (2 S), and every dropout
 * mask and output of the block (the attention's and the MLP's, and the
 * probabilities' after the softmax).  Live beside what stays
 * (*transient): the gradient the softmax receives and the one it makes,
 * each in its dtype (fp32 with autocast and in LLaMA's softmax(dtype=
 * fp32): 2 x 4 S; else 2 c S), the values' gradient (GPT-2 c kv, LLaMA
 * c q; autograd runs the softmax's node before the values' earlier ones),
 * and the residual stream's gradient, r nh. */
static void eager_attn_bwd(const zp_model *m, const zp_train *tr, const zp_layout *l, uint64_t *freed,
                           uint64_t *transient)
{
    eager_parts p = eager_parts_of(m, tr, l);   /* (no flash attention here) */
    uint64_t c = p.c;
    /* GPT-2's values are a view of its QKV output (b s x 3h) that the
     * product copies to fold the batch and the heads, except at b = 1,
     * where folding them is a view too and the output, which q and k keep,
     * stays */
    uint64_t vals = p.llama ? c * p.q : p.b > 1 ? c * p.kv : 0;
    *freed = p.norm + p.in_mlp + p.mlp + c * p.q + vals + (p.copy ? 2 * p.S : 0) + p.drop;
    uint64_t sm = p.llama || p.ac ? 4 : c;   /* the softmax's dtype */
    /* the steps before the softmax's, each its own moment, the largest
     * taken: the values product's backward, with its operands (the
     * probabilities as it read them, c S bytes, where they are not the
     * softmax's output, and the values), the heads' gradient it was handed
     * (c q) and the probabilities' gradient it makes (c S); with dropout,
     * its mask (S bytes) lives until the dropout's backward, which holds
     * the gradient it receives and the one it makes, in its dtype (LLaMA
     * under autocast drops fp32 probabilities: 4; else c) */
    int td = tr->dropout != 0;
    uint64_t dd = p.llama && p.ac ? 4 : c;
    uint64_t x_sm = 2 * sm * p.S;
    uint64_t x_mm = (td ? p.S : 0) + (td || p.copy ? c * p.S : 0) + c * p.S + vals + c * p.q;
    uint64_t x_dr = td ? p.S + 2 * dd * p.S : 0;
    uint64_t x = x_sm > x_mm ? x_sm : x_mm;
    x = x > x_dr ? x : x_dr;
    *transient = x + (p.llama ? c * p.q : c * p.kv) + p.r * p.nh;
}

int64_t zp_act_inflight(const zp_layout *l, int64_t layers, int64_t k)
{
    int64_t p = l->pp, v = l->vp, M = l->grad_accum;
    if (v <= 1) {
        int64_t mb = p - k < M ? p - k : M;
        return mb * zp_stage_layers(layers, p, k);
    }
    int64_t chunks = 2 * (p - k - 1) + (v - 1) * p + 1;
    if (chunks > M * v)
        chunks = M * v;
    int64_t n = zp_stage_layers(layers, p, k);   /* its chunks of ceil(n / v) blocks (uneven: the larger) */
    return chunks * ((n + v - 1) / v);
}

/* Working set of the recomputation in backward: a whole layer's activations
 * for one micro-batch, with its output in place of its input (full), or the
 * attention core's s s' tensors (selective without flash attention). */
static uint64_t recompute_bytes(const zp_model *m, const zp_train *tr, const zp_layout *l)
{
    if (l->ckpt == ZP_CKPT_FULL) {   /* the layer rebuilt: its tensors but the input (the checkpoint,
                                       * kept), and its output again, the same size */
        zp_layout nl = *l;
        nl.ckpt = ZP_CKPT_NONE;
        return zp_act_layer_bytes(m, tr, &nl);
    }
    if (l->ckpt == ZP_CKPT_OP) {   /* the tensors of the layer op did not keep, rebuilt */
        zp_layout nl = *l;
        nl.ckpt = ZP_CKPT_NONE;
        uint64_t all = zp_act_layer_bytes(m, tr, &nl), kept = zp_act_layer_bytes(m, tr, l);
        return all > kept ? all - kept : 0;
    }
    if (l->ckpt == ZP_CKPT_SELECTIVE) {
        /* one part at a time: the MLP's inner tensors (its backward comes
         * first), then the attention core's scores; the norms' outputs
         * beside them */
        int mods = zp_rc_modules(tr, 1);
        uint64_t B = zp_act_bytes(tr), L8 = tr->fp8 ? 1 : B, sb = (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)l->micro_batch;
        uint64_t core = 0, mlp = 0, norm = 0;
        if ((mods & ZP_RC_CORE_ATTN) && !tr->flash)
            core = (tr->dropout ? 2 * B + 1 : B) * (uint64_t)m->heads * sb * (uint64_t)zp_model_attn_span(m, tr->seq) /
                   (uint64_t)l->tp;
        if (mods & ZP_RC_MLP)
            mlp = ((m->mlp == ZP_MLP_GELU ? 1 : 2) * B + L8) * sb * (uint64_t)zp_ceil_div(m->ffn, l->tp) +
                  /* and the input it gathered again, whole, where the
                   * product keeps it (DTensor) */
                  (l->sp && tr->sp_gathered && m->block != ZP_BLOCK_PARALLEL ? L8 * sb * (uint64_t)m->hidden : 0);
        if (mods & ZP_RC_NORM)
            norm = L8 * sb * (uint64_t)m->hidden / (l->sp ? (uint64_t)l->tp : 1);
        return (core > mlp ? core : mlp) + norm;
    }
    return 0;
}

/* A device allocator that rounds every tensor up to a granule (the CUDA
 * row's per-tensor cudaMalloc: whole 2 MiB pages) wastes, per tensor, the
 * rest of its last granule.  The tensors that stay are one per parameter
 * unit (the embedding on the first stage, each block, the final norm and
 * untied head on the last) and device-resident state class: parameters
 * (the unit, or its ZeRO-3 shard), gradients (ZeRO-2/3: the shard),
 * Adam's two moments or SGD's one and the fp32 master of 16-bit parameters
 * (ZeRO >= 1: the shard), each unit padded to a multiple of dp when
 * sharded; their waste is counted exactly.  The transient tensors (saved
 * activations, two per layer in flight or one with full recompute, and a
 * few buffers) waste half a granule each on average. */
static uint64_t waste(uint64_t bytes, uint64_t g)
{
    return (bytes + g - 1) / g * g - bytes;
}

/* The allocator's rounding of one unit's model states (n parameters): its
 * parameters, gradients and optimizer tensors, and at foreach Adam's step
 * (sqrt_v) one more fp32 tensor of its partition. */
static uint64_t unit_waste(int64_t n, const zp_train *tr, const zp_layout *l, uint64_t g, int sqrt_v)
{
    uint64_t d = (uint64_t)zp_shard_ranks(l), sh = ((uint64_t)n + d - 1) / d, padded = l->zero ? sh * d : (uint64_t)n;
    int off_opt = l->offload != ZP_OFF_NONE, off_par = l->offload == ZP_OFF_OPT_PARAMS;
    uint64_t pb = (uint64_t)zp_dtype_bytes(tr->dtype), gb = (uint64_t)zp_dtype_bytes(tr->grad_dtype), w = 0;
    uint64_t nopt = l->zero >= 1 ? sh : padded;
    if (!off_par)
        w += waste((l->zero == 3 ? sh : padded) * pb, g);
    if (l->zero <= 1)
        w += waste(padded * gb, g);
    else if (!off_opt)
        w += waste(sh * gb, g);
    if (!off_opt)
        w += (uint64_t)((tr->optim == ZP_OPT_ADAM ? 2 : 1) + (tr->master && tr->dtype != ZP_DT_FP32) + !!sqrt_v) *
             waste(nopt * 4, g);
    return w;
}

static void act_resident(const zp_layout *l, const zp_conv *cv, int64_t n_in, int64_t n_rc, int64_t *rc,
                         int64_t *kept);

/* at the peak's moment: at foreach Adam's step (step) no activation is
 * left, and sqrt(v) is rounded like a moment */
static uint64_t rounding(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_conv *cv, int64_t k,
                         int step)
{
    uint64_t g = cv->alloc_granule_bytes;
    if (!g)
        return 0;
    int64_t t = l->tp, layers = zp_stage_layers(m->layers, l->pp, k);
    uint64_t w = (uint64_t)layers * unit_waste(zp_model_layer_params(m, t), tr, l, g, step);
    if (k == 0)
        w += unit_waste(zp_model_embed_params(m, t), tr, l, g, step);
    if (k == l->pp - 1) {
        int64_t last = zp_model_final_norm_params(m) + (!m->tied || l->pp > 1 ? zp_model_head_params(m, t) : 0);
        w += unit_waste(last, tr, l, g, step);
    }
    if (step)
        return w + 4 * (g / 2);
    /* a layer in flight keeps its input and (without full recompute) one
     * tensor of the rest */
    int64_t n_in = zp_act_inflight(l, m->layers, k), rc, kept;
    int64_t n_rc = layers ? n_in * zp_ckpt_blocks(tr, l->ckpt == ZP_CKPT_FULL, layers, l->vp) / layers : 0;
    act_resident(l, cv, n_in, n_rc, &rc, &kept);   /* (offloaded: those on the device) */
    return w + (uint64_t)(rc + 2 * kept + 4) * (g / 2);
}

/* Activation offload: of n_in block-micro-batches in flight, n_rc of them
 * rebuilt (keeping their input) and the rest kept whole, those whose
 * activations are on the device (*rc, *kept); the others' are in host
 * RAM.  On a copy stream (ZP_AOFF_ASYNC) two are on the device, the one in
 * use and the one in flight (sent after its forward, fetched back during
 * the backward of the block after it), the larger kind first; in the
 * compute stream's order one; DeepSpeed's cpu_checkpointing moves the
 * rebuilt blocks' inputs only, one of them back on the device at a time. */
static void act_resident(const zp_layout *l, const zp_conv *cv, int64_t n_in, int64_t n_rc, int64_t *rc,
                         int64_t *kept)
{
    *rc = n_rc;
    *kept = n_in - n_rc;
    if (!l->act_offload || cv->act_offload == ZP_AOFF_NONE || cv->eager)
        return;
    if (cv->act_offload == ZP_AOFF_CKPT_SYNC) {
        *rc = n_rc < 1 ? n_rc : 1;
        return;
    }
    int64_t nbuf = cv->act_offload == ZP_AOFF_ASYNC ? 2 : 1;
    *kept = *kept < nbuf ? *kept : nbuf;
    *rc = n_rc < nbuf - *kept ? n_rc : nbuf - *kept;
}

void zp_act_offload_moves(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_conv *cv,
                          const zp_lcache *lc, int64_t k, int64_t n[2], uint64_t b[2])
{
    n[0] = n[1] = 0;
    b[0] = lc->act_kept;
    b[1] = lc->act_layer;
    int64_t Ls = zp_stage_layers(m->layers, l->pp, k);
    if (!l->act_offload || Ls <= 0 || cv->act_offload == ZP_AOFF_NONE || cv->eager)
        return;
    int64_t n_in = zp_act_inflight(l, m->layers, k), rb = zp_ckpt_blocks(tr, l->ckpt == ZP_CKPT_FULL, Ls, l->vp);
    int64_t n_rc = n_in * rb / Ls, rc, kept;
    act_resident(l, cv, n_in, n_rc, &rc, &kept);
    /* a micro-batch's blocks of each kind, in the share of that kind in
     * flight that memory keeps on the host (rounded up) */
    int64_t kin = n_in - n_rc;
    if (kin > 0)
        n[0] = ((Ls - rb) * (kin - kept) + kin - 1) / kin;
    if (n_rc > 0)
        n[1] = (rb * (n_rc - rc) + n_rc - 1) / n_rc;
}

static int64_t nccl_communicators(const zp_model *m, const zp_layout *l)
{
    /* one communicator per parallel group of size > 1, plus the embedding
     * group that ties the first and last stage */
    return (zp_shard_ranks(l) > 1) + (l->tp > 1) + (l->pp > 1) + (l->pp > 1 && m->tied) + (zp_cp(l) > 1);
}

void zp_lcache_init(const zp_model *m, const zp_train *tr, const zp_layout *l, zp_lcache *lc)
{
    int64_t t = l->tp, p = l->pp, blocks;
    lc->layer_params = zp_model_layer_params(m, t);
    lc->embed_params = zp_model_embed_params(m, t);
    lc->head_params = zp_model_head_params(m, t);
    blocks = zp_stage_layers(m->layers, p, 0) * lc->layer_params;
    lc->stage_params[0] = blocks + lc->embed_params;
    blocks = zp_stage_layers(m->layers, p, p - 1) * lc->layer_params;
    lc->stage_params[1] = blocks + zp_model_final_norm_params(m) + (!m->tied || p > 1 ? lc->head_params : 0);
    if (p == 1)
        lc->stage_params[0] = lc->stage_params[1] += lc->embed_params;
    lc->vocab_t = zp_ceil_div(m->vocab, t);
    lc->sbh_r = (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)l->micro_batch * (uint64_t)m->hidden /
                (l->sp ? (uint64_t)t : 1);
    lc->act_layer = zp_act_layer_bytes(m, tr, l);
    lc->act_kept = lc->act_layer;
    if (l->ckpt == ZP_CKPT_FULL && (tr->ckpt_every > 1 || tr->ckpt_block > 0)) {
        zp_layout nl = *l;
        nl.ckpt = ZP_CKPT_NONE;
        lc->act_kept = zp_act_layer_bytes(m, tr, &nl);
    }
    lc->recompute = recompute_bytes(m, tr, l);
}

/* The backward workspace: while one block's backward runs, the gradients
 * of its activations for one micro-batch are live: the residual-stream
 * gradient (B sbh/r), one h-wide activation gradient (B sbh), the Q, K, V
 * gradients (B s b d (a + 2g)/t), the MLP inner gradients (2 or 3 x
 * B s b f/t) and, without flash attention and with zplan's engine
 * (zp_score_grads head), the score gradients of one head and sequence
 * (B s s', s' = min(s, window)); the frameworks' are score_grads_extra's. */
static uint64_t bwd_workspace(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_conv *cv,
                              const zp_lcache *lc)
{
    uint64_t B = zp_act_bytes(tr), t = (uint64_t)l->tp;
    uint64_t s = (uint64_t)(tr->seq / zp_cp(l)), b = (uint64_t)l->micro_batch, h = (uint64_t)m->hidden;
    uint64_t hd = (uint64_t)zp_model_head_dim(m), f = (uint64_t)zp_ceil_div(m->ffn, l->tp);
    uint64_t ws = lc->sbh_r + s * b * h + s * b * hd * ((uint64_t)m->heads + 2 * (uint64_t)m->kv_heads) / t +
                  (m->mlp == ZP_MLP_GELU ? 2 : 3) * s * b * f;
    if (!tr->flash && cv->score_grads == ZP_SGRAD_HEAD)
        ws += s * (uint64_t)zp_model_attn_span(m, tr->seq);
    if (l->sp && l->tp > 1)   /* the gathered operand: the output gradient, then a saved input, whole */
        ws += s * b * h;
    return B * ws;
}

/* Without flash attention, in the frameworks (zp_score_grads all): by the
 * time a block's attention core runs its backward, the MLP's backward is
 * over, its inner saved tensors ((1 or 2) B + B) s b f/t and gradients (2 or
 * 3) B s b f/t freed, and the probabilities' gradient of every head of the
 * micro-batch is live, E = b ceil(a/t) s s' values: one such tensor in
 * Megatron's and DeepSpeed's attention (the fused softmax's backward works
 * in place; with dropout the values product's backward frees the dropout's
 * saved output before the dropout's backward makes its own), two under
 * PyTorch eager without dropout (softmax's backward makes a new one beside
 * its input; under autocast in fp32).  That moment raises the block's
 * backward only by what it holds beyond what the MLP's did (the workspace
 * counts the MLP's gradients); at the loss no attention runs. */
static uint64_t score_grads_extra(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_conv *cv)
{
    if (tr->flash || cv->score_grads == ZP_SGRAD_HEAD || !cv->bwd_workspace)
        return 0;
    uint64_t B = zp_act_bytes(tr), sb = (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)l->micro_batch;
    uint64_t f = (uint64_t)zp_ceil_div(m->ffn, l->tp), gelu = m->mlp == ZP_MLP_GELU;
    uint64_t E = sb * (uint64_t)zp_ceil_div(m->heads, l->tp) *   /* (PyTorch eager scores every key) */
                 (uint64_t)(cv->eager ? tr->seq : zp_model_attn_span(m, tr->seq));
    uint64_t score = (cv->eager && !tr->dropout ? 2 : 1) * (cv->eager && zp_autocast_dtype(tr) ? 4 : B) * E;
    uint64_t mlp = ((gelu ? 2 : 3) * B + (gelu ? 1 : 2) * B + B) * sb * f;
    return score > mlp ? score - mlp : 0;
}

/* A moment of a stage's step (mem_stage): its phase, activations, buffers,
 * the weight copies beside the parameters, and the gradients made by then. */
typedef struct stage_moment {
    zp_phase ph;
    uint64_t act, buf, wc, g;
} stage_moment;

static void mem_stage(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_conv *cv,
                      int64_t k, const zp_lcache *sh, zp_mem *out)
{
    /* the states as stored (PyTorch eager's autocast: fp32 parameters and
     * gradients, no master; its 16-bit copies are the products' own,
     * counted at the activations' peak below) */
    uint64_t pb, gb, K;
    zp_state_bytes(tr, cv, &pb, &gb, &K);
    uint64_t ab = zp_act_bytes(tr);
    int eg = cv->eager, eac = zp_eager_autocast(tr, cv);
    /* bytes per value of a unit's transient parameters (ZeRO-3 gathered)
     * and gradients: their dtypes, or fp32 where the backend computes in
     * fp32 (it widens what it gathers, and a unit's gradient is built in
     * fp32 before it is reduced or added to the stored one) */
    uint64_t wpb = tr->compute_fp32 ? 4 : pb, wgb = tr->compute_fp32 ? 4 : gb;
    int64_t d = zp_shard_ranks(l), P = zp_lcache_stage_params(m, l, sh, k);
    uint64_t Ps = (uint64_t)shard(P, d), Pf = (uint64_t)P;
    int off_opt = l->offload != ZP_OFF_NONE, off_par = l->offload == ZP_OFF_OPT_PARAMS;
    int last = k == l->pp - 1;
    /* built in locals and stored once: the classes of the device (dv) and
     * of the host (hs) */
    uint64_t dv[ZP_MEM_NCLASS] = {0}, hs[ZP_MEM_NCLASS] = {0};

    /* model states */
    if (off_par)
        hs[ZP_MEM_PARAMS] = Ps * pb;
    else
        dv[ZP_MEM_PARAMS] = (l->zero >= 3 ? Ps : Pf) * pb;
    if (off_opt && l->zero >= 2)
        hs[ZP_MEM_GRADS] = Ps * 4;
    else {
        dv[ZP_MEM_GRADS] = (l->zero >= 2 ? Ps : Pf) * gb;
        /* the bf16 gradients kept beside the fp32 ones (lp_grads) */
        if (zp_lp_grads_apply(tr, l, cv))
            dv[ZP_MEM_GRADS] += Pf * pb;
        if (off_opt)
            hs[ZP_MEM_GRADS] = Ps * 4;
    }
    if (off_opt) {
        /* the host optimizer updates a copy of the partition of its own:
         * the fp32 master (16-bit with master weights, and fp32 storage),
         * else one in the dtype; offloaded parameters that are fp32 or
         * have no master are that copy themselves */
        uint64_t mom = tr->optim == ZP_OPT_ADAM ? 8 : 4;
        int fp32ish = tr->master || tr->dtype == ZP_DT_FP32;
        hs[ZP_MEM_OPTIM] = Ps * (mom + (off_par && (tr->dtype == ZP_DT_FP32 || !tr->master) ? 0 : fp32ish ? 4 : pb));
    } else
        dv[ZP_MEM_OPTIM] = (l->zero >= 1 ? Ps : Pf) * K;

    /* activations and buffers: the device peaks at one of two moments of
     * the step (with foreach Adam also the optimizer step, and with PyTorch
     * eager attention the last block's attention backward, both below),
     * and both classes are reported as they stand at that moment (so that
     * the classes add up to the peak):
     *   loss      (last stage only) the loss and the head's backward: every
     *             layer's saved activations, the final-norm and head inputs,
     *             fp32 logits, the backward workspace, and at ZeRO-3 the
     *             head's gathered parameters (tied, pp = 1: the embedding)
     *             and with per-layer reduction its transient full gradient
     *   backward  the first block's backward: every layer's activations
     *             (the head's inputs freed), the workspace, the recompute
     *             working set, with context parallelism the ring's keys and
     *             values (below), at ZeRO-3 the current and prefetched blocks,
     *             with per-layer reduction the block's full gradient and the
     *             tied embedding's (which the head and the lookup both feed,
     *             kept through the whole backward)
     *   attention (PyTorch eager attention, last stage) the last block's
     *             softmax backward (eager_attn_bwd, below)
     *   embedding (PyTorch eager, a tied head) the word embedding's
     *             backward: every gradient and the table's again (below)
     * Both hold the reduce bucket and the pipeline send/recv buffers.  The
     * forward never exceeds "backward": its working set (a layer being
     * built, the gathered blocks) is a subset of it (PyTorch eager with
     * rebuilt blocks aside: the loss's forward, counted as "loss", below).  Computing in fp32
     * (compute_fp32) adds, below ZeRO-3, the fp32 working copy of 16-bit
     * parameters for the unit in use (the block; the head and final norm
     * at the loss) and, with 16-bit gradients at ZeRO 0-1, the unit's fp32
     * gradient (the embedding's kept through the backward, as above). */
    /* in flight: n layer-micro-batches, of which the rebuilt blocks' share
     * keeps only its input (all with full recompute; with ckpt_every k the
     * stage's floor(Ls / k) of its Ls blocks in every micro-batch) */
    int64_t n_in = zp_act_inflight(l, m->layers, k), Ls = zp_stage_layers(m->layers, l->pp, k);
    int64_t n_rc = Ls ? n_in * zp_ckpt_blocks(tr, l->ckpt == ZP_CKPT_FULL, Ls, l->vp) / Ls : 0;
    uint64_t act = sh->act_layer * (uint64_t)n_rc + sh->act_kept * (uint64_t)(n_in - n_rc);
    /* activation offload: the in-flight blocks' activations are in host
     * RAM but those on the device (act_resident), the host's only
     * activations; the rest below (embedding masks, stage outputs, the
     * working sets) stays */
    if (l->act_offload && !eg) {
        int64_t rc, kp;
        act_resident(l, cv, n_in, n_rc, &rc, &kp);
        uint64_t dev = sh->act_layer * (uint64_t)rc + sh->act_kept * (uint64_t)kp;
        hs[ZP_MEM_ACT] = act - dev;
        act = dev;
    }
    /* PyTorch eager: what autograd keeps (zp_eager_layer_bytes; its
     * selective and per-op policies are counted as zplan's own) */
    /* micro-batches in flight on the model's first chunk (stage 0): p
     * (1F1B); interleaved, 2p (Korthikanti et al.'s s b h p / t counts p);
     * at most M.  Interleaved, stage 0 runs W = 2(p - 1) + (v - 1)p
     * warm-up forwards, p at a time through chunks 0 .. v-1, then forward
     * W + j before backward j; the backwards start with chunk v-1, so the
     * first of chunk 0 is j = (v - 1)p, after forwards 0 .. 2vp - 2: p of
     * chunk 0 in the first vp, p more in the next vp - 1.  A micro-batch
     * leaves stage 0 with chunk 0's backward, its last there, so this
     * counts every micro-batch in flight on stage 0 */
    int64_t mb0 = l->vp > 1 ? 2 * l->pp : l->pp;
    if (mb0 > l->grad_accum)
        mb0 = l->grad_accum;
    int eg_act = eg && (l->ckpt == ZP_CKPT_NONE || l->ckpt == ZP_CKPT_FULL);
    uint64_t eg_whole = 0, eg_first = 0;   /* one block's, kept whole; what the other blocks free */
    uint64_t eg_mask = 0;                  /* eager attention's causal mask, kept by checkpoints */
    int eg_b0_rebuilt = 0, eg_one = 0;     /* eg_one: one micro-batch in flight (even on a stage of one block) */
    if (eg_act) {
        zp_layout nl = *l;
        nl.ckpt = ZP_CKPT_NONE;
        eg_whole = zp_eager_layer_bytes(m, tr, &nl);
        uint64_t per = zp_eager_layer_bytes(m, tr, l);
        act = per * (uint64_t)n_rc + eg_whole * (uint64_t)(n_in - n_rc);
        /* one micro-batch in flight: by the first block's backward the
         * other blocks' backwards have freed theirs, and the first keeps
         * its own (its input if it is rebuilt: full recompute of every
         * block, or of the first N of a stage; every k-th from the k-th
         * leaves it whole) */
        if (n_in == Ls) {
            eg_one = 1;
            eg_b0_rebuilt = l->ckpt == ZP_CKPT_FULL && (tr->ckpt_block > 0 || tr->ckpt_every <= 1);
            eg_first = act - (eg_b0_rebuilt ? per : eg_whole);
        }
        if (k == 0 && m->pos == ZP_POS_ROTARY) {
            /* rotary positions' cos and sin, s x d each (one position row
             * for the whole batch) in the stream's dtype, which every
             * block's q cos and rotate_half(q) sin save, one pair a
             * micro-batch in flight */
            uint64_t ec, er;
            zp_eager_bytes(tr, &ec, &er);
            act += 2 * er * (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)zp_model_head_dim(m) * (uint64_t)mb0;
        }
        /* eager attention's causal mask (b x 1 x s x s, the whole
         * sequence's keys whatever the window, in the stream's dtype:
         * transformers' eager mask), a local of the model's forward freed
         * before the loss's backward, unless rebuilt blocks' checkpoints,
         * which save their tensor arguments, keep it until the last of
         * them is done; one a micro-batch in flight */
        if (!tr->flash && n_rc > 0) {
            uint64_t ec, er, mbs = Ls ? (uint64_t)(n_in / Ls) : 1;
            zp_eager_bytes(tr, &ec, &er);
            eg_mask = er * (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)l->micro_batch * (uint64_t)tr->seq *
                      (mbs ? mbs : 1);
            act += eg_mask;
        }
    }
    if (k == 0 && tr->dropout && !(eg_act && m->mlp == ZP_MLP_SWIGLU))   /* (transformers' LLaMA has none) */
        act += sh->sbh_r * (uint64_t)mb0;            /* embedding dropout masks, 1 byte */
    /* the embedding norm's input (BLOOM's word_embeddings_layernorm, on the
     * all-reduced embedding, whole; with sequence parallelism taken as the
     * rank's 1/t of the sequence, which no framework runs), outside every
     * rebuilt block */
    if (k == 0 && m->embed_norm)
        act += (uint64_t)mb0 * (eg_act ? eager_norm_bytes(m, tr, (uint64_t)(tr->seq / zp_cp(l)) *
                                                                   (uint64_t)l->micro_batch)
                                       : ab * sh->sbh_r);
    /* each in-flight micro-batch's output kept until its backward where the
     * framework holds it for autograd (zp_pp_out): whole (torch's
     * pipelining; in PyTorch eager the residual stream's dtype) or its 1/t
     * slice (DeepSpeed's PipelineEngine partitions it over the tensor-
     * parallel group; with sequence parallelism the output is one already).
     * One a micro-batch in flight before the last stage; interleaved, one a
     * chunk in flight, on the last stage too but for its final chunk's */
    if ((!last || l->vp > 1) && Ls > 0 && cv->pp_out != ZP_PPOUT_FREED) {
        int64_t outs = zp_act_inflight(l, m->layers, k) / (l->vp > 1 ? (Ls + l->vp - 1) / l->vp : Ls) - (last ? 1 : 0);
        uint64_t sbh = (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)l->micro_batch * (uint64_t)m->hidden, er, ec;
        zp_eager_bytes(tr, &ec, &er);
        act += (uint64_t)outs * (cv->pp_out == ZP_PPOUT_SLICED ? ab * (uint64_t)zp_ceil_div((int64_t)sbh, l->tp)
                                                               : (eg ? er : ab) * sh->sbh_r);
    }
    /* the recompute working set.  With ckpt_every k the stage rebuilds its
     * blocks k-1, 2k-1, ..., Rk-1 (from 0); the backward reaches the last
     * of them after the Ls - Rk blocks above it, kept whole, have freed
     * their activations, at least one block's, which is what the rebuilt
     * block needs (recompute_bytes): it raises the peak only when it is the
     * stage's last block (k divides Ls), and the peak is otherwise the
     * backward's start */
    uint64_t both = 0, bwd = eg_act && l->ckpt == ZP_CKPT_FULL ? eg_whole : sh->recompute, loss = 0, ws = 0,
             bucket = 0;
    if (l->ckpt == ZP_CKPT_FULL && !zp_ckpt_last_rebuilt(tr, Ls, l->vp))
        bwd = 0;
    if (eg_one)   /* PyTorch eager's moment is the first block's backward: its rebuild, if it is rebuilt */
        bwd = eg_b0_rebuilt ? eg_whole : 0;
    int rebuilt_last = l->ckpt == ZP_CKPT_FULL && bwd > 0;   /* (the block rebuilt, its output among its tensors) */
    bwd += score_grads_extra(m, tr, l, cv);
    /* context parallelism: a block's attention backward holds the keys and
     * values of the whole sequence, gathered again around the ring, and
     * their gradients, 2 B s' b g d / t each (s' the whole sequence's
     * tokens), as zplan's engine and PyTorch's all-gather context
     * parallelism hold them (Megatron's ring holds two parts of each
     * instead, s' = 2 s / cp: this is the larger).  A block rebuilt has
     * freed its output again by then; its forward held the gathered keys
     * and values with two parts in flight (2 B s' b g d (1 + 2/cp) / t)
     * beside that output: the larger moment where the output is at least
     * (cp - 2) parts (always at cp 2, where the two rings tie) */
    if (zp_cp(l) > 1) {
        uint64_t kv = ab * 2 * (uint64_t)tr->seq * (uint64_t)l->micro_batch * (uint64_t)m->kv_heads *
                      (uint64_t)zp_model_head_dim(m) / (uint64_t)l->tp;
        uint64_t ring_b = 2 * kv, ring_f = kv + 2 * (kv / (uint64_t)zp_cp(l)), xo = ab * sh->sbh_r;
        bwd += !rebuilt_last ? ring_b : ring_b > ring_f + xo ? ring_b - xo : ring_f;
    }
    if (cv->bwd_workspace)
        both += ws = bwd_workspace(m, tr, l, cv, sh);
    if (l->pp > 1 && !cv->p2p_in_place)
        both += 2 * ab * sh->sbh_r;                  /* send and receive buffers */
    /* bucket_elems 0 means reduction per layer (FSDP, zplan's engine): no
     * bucket, each block's gradient is its own message */
    int per_layer = cv->bucket_elems == 0;
    int tied1 = m->tied && l->pp == 1;
    int64_t fn = zp_model_final_norm_params(m);
    int64_t head = tied1 ? sh->embed_params : sh->head_params;   /* the unit that makes the logits */
    int64_t keep_embed = k == 0 && tied1 ? sh->embed_params : 0;
    int64_t blocks = zp_stage_layers(m->layers, l->pp, k);
    /* the gathered blocks and transient full gradients exist at dp = 1 too
     * (ZeRO-3 with parameter offload on one GPU fetches every block) */
    if (l->zero >= 3 && l->pp > 1) {
        /* FSDP with pipelining (torchtitan): the stage is gathered for the
         * first micro-batch and stays whole through the step, its
         * gradients accumulate whole and are reduce-scattered after the
         * last: the stage's parameters and gradients in full, beside the
         * shards */
        both += (uint64_t)P * (wpb + wgb);
    } else if (l->zero >= 3) {
        if (cv->zero3_buffer == ZP_Z3BUF_DEEPSPEED) {
            /* DeepSpeed's estimator: 4 bytes (16-bit parameters and
             * gradients) x its largest layer, the module holding the most
             * parameters of its own (model_to_params: parameters(recurse=
             * False)), as Hugging Face's modules split a model on one tp
             * rank: an MLP matrix (GELU's fc or proj; SwiGLU's gate, up or
             * down, separate modules in transformers: h x f/t and the bias;
             * the attention's are smaller), the word embedding (V/t x h), a
             * learned position table, an untied head */
            int64_t ft = zp_ceil_div(m->ffn, l->tp), h = m->hidden;
            int mb = m->bias || m->mlp_bias;
            int64_t big = h * ft + (mb ? (ft > h ? ft : h) : 0);   /* (a fused QKV, 3 h^2, is smaller: f = 4 h) */
            if (k == 0 && sh->vocab_t * h > big)
                big = sh->vocab_t * h;
            if (k == 0 && m->pos == ZP_POS_LEARNED && m->max_pos * h > big)
                big = m->max_pos * h;
            if (last && !tied1 && sh->head_params > big)
                big = sh->head_params;
            both += (uint64_t)big * 2 * wpb;
        } else {
            bwd += (uint64_t)(blocks > 1 ? 2 : 1) * (uint64_t)sh->layer_params * wpb   /* current + prefetched */
                   + (uint64_t)(sh->layer_params + keep_embed) * wgb;
            loss += (uint64_t)(head + fn) * (wpb + wgb);
        }
    } else {
        if (per_layer && l->zero == 2) {
            bwd += (uint64_t)(sh->layer_params + keep_embed) * wgb;
            loss += (uint64_t)(head + fn) * wgb;
        } else if (d > 1 && !per_layer) {
            int64_t e = cv->bucket_elems < P ? cv->bucket_elems : P;
            /* PyTorch DDP (eager; ZeRO-1 as ZeroRedundancyOptimizer over
             * it): its reducer's buckets hold every gradient, beside the
             * parameters' own .grad (gradient_as_bucket_view off, its
             * default), all along */
            if (eg && l->zero <= 1)
                e = P;
            bucket = (uint64_t)e * gb;               /* gradient reduce bucket */
            both += bucket;
        }
        if (tr->compute_fp32 && pb < 4) {            /* fp32 working copy of the unit's parameters */
            bwd += (uint64_t)sh->layer_params * 4;
            loss += (uint64_t)(head + fn) * 4;
        }
        if (tr->compute_fp32 && gb < 4 && l->zero <= 1) {   /* the unit's fp32 gradient */
            bwd += (uint64_t)(sh->layer_params + keep_embed) * 4;
            loss += (uint64_t)(head + fn) * 4;
        }
    }
    /* FP8 linear layers: an FP8 copy (1 byte) of each block's matmul
     * weights, made once a step and kept through it (Transformer Engine's
     * weight caching over micro-batches); at ZeRO-3 only of the blocks
     * gathered, the current and the next */
    if (tr->fp8) {
        uint64_t lin = (uint64_t)(zp_model_block_matmul_params(m) / l->tp);
        if (l->zero >= 3)
            bwd += (uint64_t)(blocks > 1 ? 2 : 1) * lin;
        else
            dv[ZP_MEM_PARAMS] += (uint64_t)blocks * lin;
    }
    uint64_t t_bwd = act + both + bwd, t_loss = 0, head_act = 2 * ab * sh->sbh_r;   /* final norm input, head input */
    if (last && eg_act) {
        /* PyTorch eager at the loss's backward (log_softmax's): the final
         * norm's saved tensors and the head's input (its 16-bit copy with
         * autocast), and three fp32 s b V tensors: the log-softmax output
         * (saved), the gradient nll_loss hands it and the one it makes for
         * the logits (ce_unfused, transformers' ForCausalLMLoss; a fused or
         * compiled loss: the fp32 logits, 4) (the model's .float() copy is
         * freed with the forward,
         * the 16-bit logits with the output the loop drops); no block
         * gradient is live yet, so no workspace */
        uint64_t sb = (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)l->micro_batch, c, r;
        zp_eager_bytes(tr, &c, &r);
        head_act = eager_norm_bytes(m, tr, sb) + c * sb * (uint64_t)m->hidden;
        loss += (cv->ce_unfused ? 12 : 4) * sb *
                (uint64_t)(l->tp > 1 ? m->vocab : sh->vocab_t);   /* transformers gathers tp's logits */
        t_loss = act + head_act + both - ws + loss;
    } else if (last) {
        /* fp32 logits; PyTorch's uncompiled cross_entropy on them (ce_unfused)
         * holds three such tensors at its backward: the log-softmax output,
         * its gradient, the logits' gradient; with tensor parallelism, four:
         * torch's loss_parallel (DTensor, the logits sharded on the vocab)
         * runs nll_loss's backward and log_softmax's as one function that
         * makes a zeroed gradient, exp of the saved log-softmax and their
         * sum beside it (torch/distributed/tensor/parallel/loss.py,
         * _nll_loss_and_log_softmax_backward) */
        uint64_t ce = cv->ce_unfused ? (l->tp > 1 ? 16 : 12) : 4;
        loss += ce * (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)l->micro_batch * (uint64_t)sh->vocab_t;
        if (l->sp && l->tp > 1 && cv->bwd_workspace)   /* the head's input gathered whole (a working buffer) */
            loss += ab * (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)l->micro_batch * (uint64_t)m->hidden;
        t_loss = act + head_act + both + loss;
    }
    /* PyTorch eager: the 16-bit weight copies autocast made for the
     * products, each saved until its product's backward: every block's and
     * the head's at the loss, the first block's at its backward; and at one
     * micro-batch (no accumulation) the parameters' .grad exist only from
     * the backward on (zero_grad(set_to_none=True); DDP's buckets, in
     * buffers, are apart): none at the loss; by the first block's backward
     * all but its own are there (counted whole; with eager attention,
     * weighed at its softmax's backward below: all but its QKV's, its
     * first norm's and the embedding's), which also covers the
     * optimizer step's moment with fused AdamW (parameters, gradients and
     * optimizer state, nothing else) */
    /* A block rebuilt in backward (torch.utils.checkpoint) saves nothing in
     * its forward, so its copies live only in autocast's cache, which
     * holds every weight's until autocast exits after the loss (the
     * transformers model computes it inside): at the loss's forward every
     * block's copies are there (wc_fwd), at its backward only the kept
     * blocks' and the head's.  With an uncompiled loss (ce_unfused) its
     * forward holds 10 s b V bytes where its backward holds 12: the 16-bit
     * logits, their fp32 copy and the log-softmax output; the larger of
     * the two moments is the loss's */
    uint64_t wc_loss = 0, wc_bwd = 0, wc_fwd = 0, lin = 0, g_loss = dv[ZP_MEM_GRADS], p_all = dv[ZP_MEM_PARAMS],
             g_all = dv[ZP_MEM_GRADS];
    if (eac) {
        lin = (uint64_t)(zp_model_block_matmul_params(m) / l->tp);
        /* (several micro-batches in flight, pipelines: every copy, as one
         * autocast around the step's schedule keeps them all) */
        uint64_t rb = l->ckpt == ZP_CKPT_FULL && eg_one ? (uint64_t)zp_ckpt_blocks(tr, 1, blocks, l->vp) : 0;
        uint64_t hc = last ? (uint64_t)sh->vocab_t * (uint64_t)m->hidden : 0;
        wc_bwd = 2 * lin * (eg_one ? 1 : (uint64_t)blocks);   /* the first block's, or every block's */
        wc_loss = 2 * (((uint64_t)blocks - rb) * lin + hc);
        wc_fwd = 2 * ((uint64_t)blocks * lin + hc);
    }
    int eg_nograd = eg && l->grad_accum == 1 && l->zero <= 1 && !off_opt && !off_par && !zp_lp_grads_apply(tr, l, cv);
    if (eg_nograd)
        g_loss = 0;
    uint64_t tl = t_loss + wc_loss + g_loss, tb = t_bwd - eg_first + wc_bwd + dv[ZP_MEM_GRADS];
    uint64_t lf_less = 0;   /* the loss's forward: so many bytes fewer of the loss's tensors, and wc_fwd */
    if (last && eg_act && wc_fwd > wc_loss && cv->ce_unfused) {
        uint64_t sbv = (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)l->micro_batch *
                       (uint64_t)(l->tp > 1 ? m->vocab : sh->vocab_t);
        if (t_loss - 2 * sbv + wc_fwd > t_loss + wc_loss) {
            lf_less = 2 * sbv;
            tl = t_loss - lf_less + wc_fwd + g_loss;
        }
    }
    /* PyTorch eager attention, one micro-batch in flight, DDP-like states
     * (ZeRO 0-1, nothing offloaded): a block's backward peaks at its
     * softmax's (eager_attn_bwd, as below for the last block); the first
     * block's: its tensors (rebuilt: again) but what its backward has
     * freed, the transients, every gradient but its QKV's, its first
     * norm's and the embedding's (at one micro-batch not made yet; a tied
     * head's part waits in autograd's buffer, the word embedding's size;
     * with accumulation every one, and that part) and its own weight
     * copies but the
     * projection's and MLP's.  A rebuilt block's backward (a reentrant
     * checkpoint, transformers' default) also holds its rebuilt output and
     * the gradient it was handed, r h a token each */
    int eg_x = eg_act && !tr->flash && eg_one && l->zero <= 1 && !off_opt && !off_par;
    uint64_t fr = 0, xt = 0, per = 0, lw = 0, rnh = 0, rout = 0, f_act = 0, f_buf = 0, f_wc = 0, f_g = 0;
    if (eg_x) {
        eager_attn_bwd(m, tr, l, &fr, &xt);
        per = zp_eager_layer_bytes(m, tr, l);
        int64_t t = l->tp, qd = zp_ceil_div(m->heads, t) * zp_model_head_dim(m);
        lw = (uint64_t)(qd * m->hidden + (m->mlp == ZP_MLP_GELU ? 2 : 3) * m->hidden * zp_ceil_div(m->ffn, t));
        uint64_t ec, er;
        zp_eager_bytes(tr, &ec, &er);
        rnh = er * (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)l->micro_batch * (uint64_t)m->hidden;
        rout = rnh;               /* a rebuilt block's output (the gradient handed to it: rnh) */
        if (!cv->bwd_workspace)   /* --no-bwd-workspace: no activation gradient counted */
            xt = rnh = 0;
        /* (a first block kept whole, with ckpt_every: the checkpoints
         * holding the mask are done by then) */
        f_act = act - eg_first - (eg_b0_rebuilt ? per : eg_whole) + eg_whole - fr - (eg_b0_rebuilt ? 0 : eg_mask);
        f_buf = both - ws + xt + (eg_b0_rebuilt ? rout + rnh : 0);
        f_wc = eac ? 2 * (lin - lw) : 0;
        f_g = dv[ZP_MEM_GRADS];
        if (eg_nograd) {
            /* at one micro-batch not made yet: the block's QKV's and first
             * norm's (a norm like the final one), and the embedding's, made
             * last (the position table's, an untied word embedding's) */
            int64_t hd = zp_model_head_dim(m), qkv = zp_ceil_div(m->heads, t) * hd + 2 * zp_ceil_div(m->kv_heads, t) * hd;
            int64_t qkvp = m->hidden * qkv + (m->bias || m->qkv_bias ? qkv : 0) + zp_model_final_norm_params(m) +
                           zp_model_qk_norm_params(m);   /* (Q's and K's head norms: after the attention's too) */
            f_g -= (uint64_t)qkvp * gb;
            if (k == 0)
                f_g -= (uint64_t)(tied1 ? sh->embed_params - sh->vocab_t * m->hidden : sh->embed_params) * gb;
        } else if (k == 0 && tied1)
            f_g += (uint64_t)(sh->vocab_t * m->hidden) * gb;
        tb = f_act + f_buf + f_wc + f_g;
    }
    /* a stage before the last (pipelines, PyTorch eager, one micro-batch):
     * its backward's start, every block's activations and the weight
     * copies kept (wc_loss) and no gradient yet, against its first block's
     * backward above */
    int eg_start = 0;
    if (!last && eg_nograd && eg_one) {
        uint64_t ts = t_bwd - bwd + wc_loss;   /* no rebuild yet, the copies kept */
        if (ts > tb) {
            eg_start = 1;
            tb = ts;
        }
    }
    /* PyTorch eager attention, one micro-batch in flight: the last block's
     * softmax backward (eager_attn_bwd), which outweighs the loss's moment
     * where the scores do the vocabulary (long sequences): that block's
     * tensors (rebuilt, under full recompute) but what its backward has
     * freed, the transients beside them, the gradients made so far (the
     * head's, the final norm's, the block's but its QKV's and first
     * norm's) and every weight copy but those of the head and of the
     * block's projection and MLP (with accumulation: every gradient) */
    uint64_t a_act = 0, a_buf = 0, a_wc = 0, a_g = 0, ta = 0;
    int eg_attn = 0;
    if (last && eg_x) {
        int lr = l->ckpt == ZP_CKPT_FULL && zp_ckpt_last_rebuilt(tr, Ls, l->vp);
        a_act = act - (lr ? per : 0) + (lr ? eg_whole : 0) - fr;
        a_buf = both - ws + xt + (lr ? rout + rnh : 0);
        int64_t t = l->tp, h = m->hidden, q = zp_ceil_div(m->heads, t) * zp_model_head_dim(m);
        int64_t qkv = q + 2 * zp_ceil_div(m->kv_heads, t) * zp_model_head_dim(m);
        int64_t qb = m->bias || m->qkv_bias ? qkv : 0;
        /* the head's gradient (a tied one: the word embedding's part, in
         * autograd's buffer until the embedding's backward adds its own;
         * not the position table's), the final norm's, and the block's
         * but its QKV's, first norm's (a norm like the final one) and Q/K
         * head norms' */
        int64_t hg = tied1 ? sh->vocab_t * h : head;
        a_g = (uint64_t)(hg + fn + (zp_model_layer_params(m, t) - h * qkv - qb - fn - zp_model_qk_norm_params(m))) * gb;
        /* with the gradients there already (accumulation, DDP), every one
         * as at the loss, each new one added in place, but a tied head's,
         * which waits in autograd's buffer for the embedding's */
        if (!eg_nograd)
            a_g = g_loss + (tied1 ? (uint64_t)(sh->vocab_t * h) * gb : 0);
        if (eac)   /* the kept blocks' copies and, rebuilt, the last block's again; not the head's */
            a_wc = wc_loss + (lr ? 2 * lin : 0) - 2 * ((uint64_t)sh->vocab_t * (uint64_t)h + (uint64_t)lw);
        ta = a_act + a_buf + a_wc + a_g;
        eg_attn = ta > tl && ta > tb;
    }
    /* PyTorch eager with a tied head (GPT-2's), one micro-batch in flight,
     * DDP-like states: the backward's last moment, the word embedding's.
     * Every activation and weight copy is gone and every other gradient
     * made; the word embedding's gradient is there twice: the head's part,
     * which waited in autograd's buffer, and the lookup's, which autograd
     * adds to it, in place where the buffer holds the only reference
     * (recent PyTorch: input_buffer.cpp's can_accumulate_inplace) or into a
     * third tensor (--grad-sum copy: PyTorch 1.13, which sums two dense
     * gradients out of place); with accumulation the .grad of the earlier
     * micro-batches besides, to which the sum is then added.  Beside them
     * the lookup output's gradient (r h a token).  It is the peak where the
     * activations are small beside the vocabulary's table: rebuilt blocks,
     * short sequences (GPT-2 125 M, 1 x 1024 tokens, every block rebuilt:
     * 6 of its word embedding's size at the peak of PyTorch 1.13's log,
     * scripts/eager-check.py) */
    uint64_t e_buf = 0, e_g = 0;
    int eg_emb = 0;
    if (k == 0 && tied1 && eg_act && eg_one && l->zero <= 1 && !off_opt && !off_par) {
        uint64_t wte = (uint64_t)sh->vocab_t * (uint64_t)m->hidden * gb, ec, er;
        zp_eager_bytes(tr, &ec, &er);
        e_buf = both - ws + (cv->bwd_workspace ? er * (uint64_t)(tr->seq / zp_cp(l)) * (uint64_t)l->micro_batch *
                                                     (uint64_t)m->hidden
                                               : 0);   /* (--no-bwd-workspace: no activation gradient) */
        e_g = g_all + wte * ((eg_nograd ? 1u : 2u) + (cv->grad_sum_copy ? 1u : 0u));
        uint64_t te = e_buf + e_g;
        eg_emb = te > tb && te > tl && (!eg_attn || te > ta);   /* (tied1: one stage, the last) */
    }
    stage_moment mo;   /* the moment taken */
    if (eg_start)
        mo = (stage_moment){ZP_PHASE_BACKWARD, act, both, wc_loss, 0};
    else if (eg_emb)
        mo = (stage_moment){ZP_PHASE_EMBED, 0, e_buf, 0, e_g};
    else if (eg_attn)
        mo = (stage_moment){ZP_PHASE_ATTN, a_act, a_buf, a_wc, a_g};
    else if (last && tl >= tb)
        mo = (stage_moment){ZP_PHASE_LOSS, act + head_act, eg_act ? both - ws + loss - lf_less : both + loss,
                          lf_less ? wc_fwd : wc_loss, g_loss};
    else if (eg_x)
        mo = (stage_moment){ZP_PHASE_BACKWARD, f_act, f_buf, f_wc, f_g};
    else
        mo = (stage_moment){ZP_PHASE_BACKWARD, act - eg_first, both + bwd, wc_bwd, dv[ZP_MEM_GRADS]};
    out->phase = mo.ph;
    dv[ZP_MEM_ACT] = mo.act;
    dv[ZP_MEM_BUF] = mo.buf;
    dv[ZP_MEM_PARAMS] += mo.wc;
    dv[ZP_MEM_GRADS] = mo.g;
    /* foreach Adam (adam_foreach): at the optimizer step every activation
     * and working buffer is gone, and beside the parameters, all the
     * gradients, the moments and a gradient bucket that lives all along
     * (DDP's) the step makes sqrt(v) for the partition it updates, 4 bytes
     * a parameter: the peak when that outweighs what the backward or the
     * loss held beyond the states */
    if (zp_adam_foreach_apply(tr, l, cv)) {
        uint64_t tmp = (l->zero >= 1 ? Ps : Pf) * 4, now = 0, step = p_all + g_all + dv[ZP_MEM_OPTIM] + bucket + tmp;
        for (int i = 0; i < ZP_MEM_OVERHEAD; i++)
            now += dv[i];
        if (step > now) {
            out->phase = ZP_PHASE_STEP;
            dv[ZP_MEM_PARAMS] = p_all;
            dv[ZP_MEM_GRADS] = g_all;
            dv[ZP_MEM_ACT] = 0;
            dv[ZP_MEM_BUF] = bucket + tmp;
        }
    }

    /* PyTorch (every framework zplan models, and eager): the cuBLAS
     * workspaces its caching allocator holds from the first product on,
     * counted among the tensors (torch's max_memory_allocated has them): one
     * for each thread that runs products, the forward's and autograd's
     * device thread, which runs the backward; every moment has both */
    dv[ZP_MEM_BUF] += 2 * cv->torch_blas_ws_bytes;

    /* overhead.  Fragmentation: what PyTorch's caching allocator reserves
     * beyond the tensors, a fraction of them.  Replayed over three steps of
     * transformers models (scripts/eager-check.py --allocator): 2-9 % with
     * every block's activations kept, and 4-29 % with blocks rebuilt, where
     * the tensors shrink but not the blocks the logits, the gradients and
     * the moments leave cut up between steps (frag_rebuilt, 20 %) */
    double frag = eg_act && l->ckpt == ZP_CKPT_FULL && zp_ckpt_blocks(tr, 1, Ls, l->vp) > 0 ? cv->frag_rebuilt : cv->frag;
    uint64_t rest = dv[0] + dv[1] + dv[2] + dv[3] + dv[4];
    dv[ZP_MEM_OVERHEAD] = cv->cuda_ctx_bytes + cv->cublas_bytes +
                          (uint64_t)nccl_communicators(m, l) * cv->nccl_comm_bytes +
                          (uint64_t)(frag * (double)rest) + rounding(m, tr, l, cv, k, out->phase == ZP_PHASE_STEP);

    out->dev_total = out->host_total = 0;
    for (int i = 0; i < ZP_MEM_NCLASS; i++) {
        out->dev[i] = dv[i];
        out->host[i] = hs[i];
        out->dev_total += dv[i];
        out->host_total += hs[i];
    }
    out->host_max = out->host_total;
}

void zp_mem_stage(const zp_model *m, const zp_train *tr, const zp_layout *l,
                  const zp_cluster *c, const zp_conv *cv, int64_t k, zp_mem *out)
{
    zp_lcache sh;
    (void)c;   /* one rank's memory does not depend on the cluster */
    zp_lcache_init(m, tr, l, &sh);
    mem_stage(m, tr, l, cv, k, &sh, out);
}

/* Stages 1 .. p-2 hold the same blocks as stage 0 without its embedding,
 * fewer micro-batches in flight and no larger buffers, so the worst rank is
 * the first or the last stage; with uneven stages the second holds one
 * block more than the first, and is weighed too. */
int64_t zp_mem_worst(const zp_model *m, const zp_train *tr, const zp_layout *l,
                     const zp_cluster *c, const zp_conv *cv, zp_mem *out)
{
    zp_lcache lc;
    zp_lcache_init(m, tr, l, &lc);
    (void)c;
    return zp_mem_worst_c(m, tr, l, cv, &lc, out);
}

int64_t zp_mem_worst_c(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_conv *cv,
                       const zp_lcache *lc, zp_mem *out)
{
    int64_t worst = 0, mid = zp_stage_middle(m->layers, l->pp);
    mem_stage(m, tr, l, cv, 0, lc, out);
    uint64_t hmax = out->host_total;
    if (mid) {   /* uneven stages: a middle one holds a block more than the first */
        zp_mem x;
        mem_stage(m, tr, l, cv, mid, lc, &x);
        hmax = x.host_total > hmax ? x.host_total : hmax;
        if (x.dev_total > out->dev_total) {
            *out = x;
            worst = mid;
        }
    }
    if (l->pp > 1) {
        zp_mem last;
        mem_stage(m, tr, l, cv, l->pp - 1, lc, &last);
        hmax = last.host_total > hmax ? last.host_total : hmax;
        if (last.dev_total > out->dev_total) {
            *out = last;
            worst = l->pp - 1;
        }
    }
    out->host_max = hmax;
    return worst;
}

uint64_t zp_mem_host_node(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_cluster *c,
                          const zp_conv *cv, const zp_lcache *lc, const zp_mem *worst)
{
    int64_t gpn = c->gpus < c->gpus_per_node ? c->gpus : c->gpus_per_node;
    int64_t rps = l->dp * l->tp * zp_cp(l);   /* a stage's ranks, consecutive: pp is outermost */
    if (l->pp <= 1 || rps >= gpn || (worst->host_max == 0 && worst->host_total == 0))
        return zp_mem_host_per_node(c, worst);
    /* a node holds several stages, whole or in part: the first node's
     * (stage 0 keeps the most micro-batches in flight) or the last's (the
     * head's states), each stage its ranks in it times its own host bytes */
    uint64_t best = 0;
    for (int end = 0; end < 2; end++) {
        uint64_t sum = 0;
        int64_t left = gpn;
        for (int64_t i = 0; i < l->pp && left > 0; i++, left -= rps) {
            zp_mem x;
            mem_stage(m, tr, l, cv, end ? l->pp - 1 - i : i, lc, &x);
            sum += x.host_total * (uint64_t)(left < rps ? left : rps);
        }
        best = sum > best ? sum : best;
    }
    return best;
}

uint64_t zp_mem_host_per_node(const zp_cluster *c, const zp_mem *worst)
{
    int64_t ranks = c->gpus < c->gpus_per_node ? c->gpus : c->gpus_per_node;
    return (worst->host_max > worst->host_total ? worst->host_max : worst->host_total) * (uint64_t)ranks;
}

/* PyTorch 2.11 (aten/src/ATen/cuda/CublasHandlePool.cpp,
 * parseChosenWorkspaceSize, CUBLAS_WORKSPACE_CONFIG unset): ":4096:8", 32 MiB,
 * on compute capability 9.x, 10.x and 12.x (Hopper, Blackwell), else
 * ":4096:2:16:8", 4096 KiB twice and 16 KiB eight times, 8.125 MiB.
 * cuBLASLt shares it (its unified workspace, on by default since early
 * 2026).  No capability given (a CPU profile, a GPU file without it): 0,
 * nothing counted. */
uint64_t zp_torch_blas_ws(double compute_cap)
{
    int major = (int)compute_cap;
    if (major < 1)
        return 0;
    if (major == 9 || major == 10 || major == 12)
        return (uint64_t)4096 * 8 * 1024;
    return (uint64_t)(4096 * 2 + 16 * 8) * 1024;
}

void zp_conv_defaults(zp_conv *c, const zp_gpu *gpu)
{
    c->zero3_buffer = ZP_Z3BUF_PREFETCH;
    c->zero3_regather_all = 1;
    c->bucket_elems = 25 * 1024 * 1024 / 2;  /* 25 MiB of 16-bit gradients (PyTorch DDP) */
    c->cuda_ctx_bytes = gpu->cuda_ctx_bytes;
    c->nccl_comm_bytes = gpu->nccl_comm_bytes;
    c->cublas_bytes = gpu->cublas_bytes;
    c->torch_blas_ws_bytes = 0;   /* zplan's own accounting; PyTorch's frameworks and --eager: plan.c */
    c->frag = 0.05;
    c->frag_rebuilt = 0.20;
    c->alloc_granule_bytes = 0;
    /* matmul efficiency: by shape where the preset gives the curve (its SM
     * count and ceiling; README "GEMM efficiency by shape"), else a constant */
    c->gemm_eff = gpu->sms > 0 && gpu->gemm_eff_max > 0 ? 0.0 : 0.6;
    c->gemm.eff_max = gpu->gemm_eff_max;
    c->gemm.sms = gpu->sms;
    c->gemm.k_half = ZP_GEMM_K_HALF;
    c->gemm.hbm_gbps = gpu->hbm_gbps;
    c->kernel_s = 4.5e-6;
    c->hbm_eff = 0.3;
    c->eager_hbm_eff = 0.8;
    c->attn_eff = gpu->attn_eff > 0 ? gpu->attn_eff : 0.3;
    c->attn_kernel = 0;
    c->gemm_bench = 0;
    /* FP8 products reach less of their peak than 16-bit ones: 1402.6 of
     * 1979 TFLOP/s against 794.5 of 989 on the H100 SXM (ml-engineering's
     * MAMF tables), 0.88 of the 16-bit fraction */
    c->gemm_eff_max_fp8 = gpu->gemm_eff_max_fp8 > 0 ? gpu->gemm_eff_max_fp8 : 0.88 * gpu->gemm_eff_max;
    c->link_eff = 0.8;
    c->nvlink_eff = 0.0;   /* link_eff's */
    /* NVLink ring collectives of n < 8 ranks: (1 - 0.75 / n) / (1 - 0.75 /
     * 8) of an 8-rank ring's rate, 0.69 of it for 2 ranks, 0.90 for 4; XLA's
     * measured tables (data/validation/xla-collectives.csv, 64 MiB to 2 GiB,
     * bus bandwidth net of 5 us a ring step, medians against 8 ranks): H100
     * 0.66 and 0.84, B200 0.68 and 0.87 (README "Communication") */
    c->group_c = 0.75;
    c->overlap_eff = 0.8;
    c->dp_overlap_set = 0;   /* the data-parallel group's follows overlap_eff */
    c->dp_overlap_eff = 0.0;
    c->tp_overlap = 0;
    c->p2p_in_place = 0;
    c->grad_overlap = ZP_GOVL_ALL;
    c->tp_grad_overlap = 0;
    c->p2p_blocking = 0;
    c->p2p_overlap = 0;
    c->param_gather_overlap = 0;
    c->eager = 0;
    c->ce_unfused = 0;
    c->adam_foreach = 0;
    c->grad_sum_copy = 0;
    c->pp_out = ZP_PPOUT_FREED;
    c->act_offload = ZP_AOFF_ASYNC;
    c->score_grads = ZP_SGRAD_ALL;
    c->lp_grads = 0;
    c->framework[0] = 0;
    c->bwd_workspace = 1;
    c->alpha_intra_s = 5e-6;
    c->alpha_inter_s = 20e-6;
    c->cpu_adam_params_per_s = 1e9;
    c->elementwise_bps = 0;
    zp_conv_apply_gpu(c, gpu);
}

void zp_conv_apply_gpu(zp_conv *c, const zp_gpu *gpu)
{
    if (gpu->gemm_eff > 0)   /* a measured profile's own */
        c->gemm_eff = gpu->gemm_eff;
    if (gpu->link_eff > 0) {   /* a measured profile's: as achieved, NVLink too, at every group size */
        c->link_eff = gpu->link_eff;
        c->nvlink_eff = 0.0;   /* over a stored plan's (zplan exec applies the profile after it) */
        c->group_c = 0.0;
    }
    if (gpu->nvlink_eff > 0)   /* NVLink's own, measured for the part */
        c->nvlink_eff = gpu->nvlink_eff;
    if (gpu->alpha_s > 0)
        c->alpha_intra_s = c->alpha_inter_s = gpu->alpha_s;
    if (gpu->elementwise_bps > 0)
        c->elementwise_bps = gpu->elementwise_bps;
    if (gpu->host_adam_params_per_s > 0)
        c->cpu_adam_params_per_s = gpu->host_adam_params_per_s;
    if (gpu->alloc_granule_bytes > 0) {   /* a measured allocator: rounding per tensor, not a fraction */
        c->alloc_granule_bytes = gpu->alloc_granule_bytes;
        c->frag = c->frag_rebuilt = 0;
    }
}

/* Byte counts are exact 64-bit integers: the largest terms of a rank
 * with micro-batches of b sequences, bounded in double: every layer's
 * activations without flash attention (4-byte values) and the fp32 logits
 * (4 s b V).  Every saved tensor of a layer, generously: 16 of width h, 4
 * of the FFN width, 4 of the heads' width (Q, K, V, output), 5 of a s. */
static void range_terms(const zp_problem *pb, double b, double *act, double *logits)
{
    const zp_model *m = &pb->model;
    double s = (double)pb->train.seq, h = (double)m->hidden, a = (double)m->heads, L = (double)m->layers;
    double f = (double)m->ffn, ad = a * (double)zp_model_head_dim(m);
    *act = 4.0 * L * b * s * (16.0 * h + 4.0 * f + 4.0 * ad + 5.0 * a * s);
    *logits = 4.0 * s * b * (double)m->vocab;
}

#define ZP_RANGE_LIMIT 4611686018427387904.0   /* 2^62 */

int zp_micro_batch_in_range(const zp_problem *pb, int64_t b)
{
    double act, logits;
    range_terms(pb, (double)b, &act, &logits);
    return act <= ZP_RANGE_LIMIT && logits <= ZP_RANGE_LIMIT;
}

/* Refuse a problem whose smallest layout already exceeds 2^62 bytes on one
 * rank, naming what makes it so: with the pinned micro-batch, else with
 * one sequence (the search leaves out, as not fitting, the micro-batches
 * beyond it: zp_micro_batch_in_range).  A stored run is held to it too
 * (zp_result_check), and each of its plans' micro-batches. */
zp_status zp_problem_range_check(const zp_problem *pb, zp_err *e)
{
    double b = (double)(pb->pins.micro_batch > 0 ? pb->pins.micro_batch : 1), act, logits;
    range_terms(pb, b, &act, &logits);
    const double limit = ZP_RANGE_LIMIT;
    if (act > limit || logits > limit)
        return zp_err_set(e, ZP_EINVAL, "--seq %lld with micro-batches of %.0f sequence%s: %s would need "
                          "%.3g bytes, beyond the 2^62 zplan counts exactly (allowed: a smaller %s)",
                          (long long)pb->train.seq, b, b == 1 ? "" : "s", act > limit ? "the activations" : "the logits",
                          act > limit ? act : logits, pb->pins.micro_batch > 0 ? "--micro-batch or --seq" : "--seq");
    return ZP_OK;
}
