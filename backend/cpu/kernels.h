/* kernels.h - the math of one GPT training step on the CPU, fp32, with
 * OpenBLAS for the matrix multiplies.
 *
 * Row-major tensors.  Shapes: B micro-batch, T sequence, C hidden, NH heads
 * (C % NH == 0), F FFN width, V vocabulary, N = B*T tokens.  Weights are
 * stored as in PyTorch's nn.Linear: w[OC][IC] (out = inp . w^T + bias).
 * Backward functions ACCUMULATE (+=) into every gradient they write (dinp,
 * dw, dbias), so gradient accumulation and residual branches just add up;
 * callers zero what must start at zero.  No allocation inside: scratch
 * buffers are passed in.  Functions of their arguments (no I/O); the one
 * global is zk_gemm_counters, which the matrix multiplies add their time
 * and FLOPs to (a measurement, never read by the math).  Outputs and gradients must not overlap the inputs they are
 * computed from, except where an elementwise function says "in place"
 * (zk_add, zk_acc, zk_scale, zk_gelu_*, zk_round_* may write over their
 * input). */
#ifndef ZP_KERNELS_H
#define ZP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Time and FLOPs (2 M N K) of every sgemm since the process started. */
typedef struct zk_gemm_stats {
    double seconds, flops;
    uint64_t calls;
} zk_gemm_stats;
extern zk_gemm_stats zk_gemm_counters;

/* Every distinct sgemm call (transposes, M, N, K, beta) since the log was
 * last cleared, with its calls and time: what sgemm alone is replayed on to
 * rate the engine's GEMM phases.  Calls beyond ZK_GEMM_SIGS distinct
 * shapes are only counted (other_*). */
typedef struct zk_gemm_sig {
    char ta, tb;   /* 'N' or 'T' */
    int M, N, K;
    float beta;
    uint64_t calls;
    double seconds;
} zk_gemm_sig;
enum { ZK_GEMM_SIGS = 256 };
typedef struct zk_gemm_log {
    int n;
    zk_gemm_sig sig[ZK_GEMM_SIGS];
    uint64_t other_calls;
    double other_seconds;
} zk_gemm_log;
extern zk_gemm_log zk_gemm_calls;
void zk_gemm_log_clear(void);

/* out[b,t,:] = wte[tok[b,t],:] + wpe[t,:] (wpe NULL: no learned positions,
 * and dwpe NULL in backward); a negative token has no row here (a
 * vocabulary shard: another rank's), its wte term is 0 */
void zk_embed_fwd(float *out, const int *tok, const float *wte, const float *wpe, int B, int T, int C);
/* dwte[tok] += dout (not for a negative token), dwpe[t] += dout */
void zk_embed_bwd(float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T, int C);

/* LayerNorm over the last dim (eps 1e-5); saves mean and 1/std per row. */
void zk_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                      int N, int C);
void zk_layernorm_bwd(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                      const float *mean, const float *rstd, int N, int C);

/* RMSNorm over the last dim (eps 1e-5, no mean subtracted, no bias):
 * out = inp rstd w, rstd = 1 / sqrt(mean(inp^2) + eps), saved per row. */
void zk_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, int N, int C);
void zk_rmsnorm_bwd(float *dinp, float *dw, const float *dout, const float *inp, const float *w, const float *rstd,
                    int N, int C);

/* out[N][OC] = inp[N][IC] . w[OC][IC]^T + bias[OC] (bias may be NULL) */
void zk_matmul_fwd(float *out, const float *inp, const float *w, const float *bias, int N, int IC, int OC);
/* dinp += dout . w ; dw += dout^T . inp ; dbias += sum over rows of dout
 * (dinp, dbias may be NULL) */
void zk_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                   int N, int IC, int OC);
/* the same with dinp = dout . w where set != 0 (its old values unread) */
void zk_matmul_bwd_x(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w, int N,
                     int IC, int OC, int set);

/* Causal multi-head self-attention with KV heads shared by groups of
 * queries (grouped-query attention; KV = NH is multi-head, KV <= 0 means
 * NH).  qkv[B][T][C + 2 KV hs] holds, per token, Q (NH heads of hs = C/NH),
 * K (KV heads) then V (KV heads); query head h reads K and V head
 * h / (NH/KV).  out[B][T][C]; att[B][NH][T][T] receives the softmax
 * probabilities (scale 1/sqrt(hs), zero above the diagonal), saved for
 * backward. */
void zk_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int NH, int KV);
/* dqkv += ...; scratch is T*T floats (reused for every batch and head). */
void zk_attention_bwd(float *dqkv, float *scratch, const float *dout, const float *att, const float *qkv, int B,
                      int T, int C, int NH, int KV);
/* The same under 16-bit math (device.h's ze_dev.math; math 0 exact, 1
 * bf16, 2 fp16): every operand of every product rounded to nearest even
 * (Q and K for the scores, P and V for the output; dO and V for dP, P and
 * dO for dV, scale dS and K for dQ, scale dS and Q for dK), the sums in
 * fp32, the softmax, its backward's row sums and dS made from fp32 values;
 * rs holds zk_attention_round_floats(T, C, NH) floats (NULL with math 0).
 * att keeps the fp32 probabilities. */
size_t zk_attention_round_floats(int T, int C, int NH);
void zk_attention_fwd_m(float *out, float *att, const float *qkv, int B, int T, int C, int NH, int KV, int math,
                        float *rs);
void zk_attention_bwd_m(float *dqkv, float *scratch, const float *dout, const float *att, const float *qkv, int B,
                        int T, int C, int NH, int KV, int math, float *rs);

/* The same attention computed flash-style, in tiles, without the T x T
 * probabilities: out as above, lse[B][NH][T] the log-sum-exp of each
 * row's scaled scores (fp32), all the backward needs besides Q, K, V and
 * out.  flash_bwd: dqkv += ..., from dout, out and lse; no scratch (its
 * tiles are on the stack). */
void zk_flash_fwd(float *out, float *lse, const float *qkv, int B, int T, int C, int NH, int KV);
void zk_flash_bwd(float *dqkv, const float *dout, const float *out, const float *lse, const float *qkv, int B,
                  int T, int C, int NH, int KV);
/* The same for a part of the sequence (context parallelism): the T query
 * rows of qkv (laid out as above) are the tokens at positions q0 .. q0 + T
 * - 1 of a sequence whose keys and values up to position Tk - 1 (q0 + T
 * <= Tk) are in kv[B][Tk][2 KV hs] (per row the K heads, then the V
 * heads); a query sees the keys up to its own position.  out and lse as
 * above, T rows a sequence.  bwd: the queries' gradients += into dqkv's Q
 * columns (its K and V columns untouched), the keys' and values' += into
 * dkv (kv's layout).  Nothing is done unless 0 <= q0 and q0 + T <= Tk. */
void zk_flash_fwd_part(float *out, float *lse, const float *qkv, const float *kv, int B, int T, int q0, int Tk,
                       int C, int NH, int KV);
void zk_flash_bwd_part(float *dqkv, float *dkv, const float *dout, const float *out, const float *lse,
                       const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C, int NH, int KV);

/* The four under 16-bit math (math 1 bf16, 2 fp16; 0: exact, the
 * functions above): every operand of every tile product rounded to
 * nearest even as the tensor cores take them (Q and K for the scores, the
 * tile's unnormalised probabilities e^(S - m) at the running maximum m and
 * V for the output; dO and V for dP, P and dO for dV, scale dS and K for
 * dQ, scale dS and Q for dK), the sums, the running maximum and sum, lse,
 * D and dS fp32 (the CUDA row's tensor-core kernels' twin), for the head
 * sizes those take (zk_flash_round_heads: a multiple of 16 up to 128);
 * another head size is computed exactly under every math, as the CUDA
 * row's fp32 kernels do.  rs holds zk_flash_round_floats(C, NH) floats, a
 * few tiles' rounded copies (NULL with math 0; with math 1 or 2, a head
 * size that rounds and no rs, nothing is done). */
int zk_flash_round_heads(int C, int NH);
size_t zk_flash_round_floats(int C, int NH);
void zk_flash_fwd_m(float *out, float *lse, const float *qkv, int B, int T, int C, int NH, int KV, int math,
                    float *rs);
void zk_flash_bwd_m(float *dqkv, const float *dout, const float *out, const float *lse, const float *qkv, int B,
                    int T, int C, int NH, int KV, int math, float *rs);
void zk_flash_fwd_part_m(float *out, float *lse, const float *qkv, const float *kv, int B, int T, int q0, int Tk,
                         int C, int NH, int KV, int math, float *rs);
void zk_flash_bwd_part_m(float *dqkv, float *dkv, const float *dout, const float *out, const float *lse,
                         const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C, int NH, int KV,
                         int math, float *rs);

/* Rotary positions, in place on qkv laid out as above: every Q and K head
 * of token t (at position t0 + t of its sequence: t0 > 0 for a part of
 * it, context parallelism) has its pairs (i, i + hs/2) rotated by
 * (t0 + t) theta^(-2i/hs)
 * ("rotate half", GPT-NeoX and Hugging Face LLaMA; hs even).  rope_bwd
 * turns the gradient of the rotated Q, K into that of the unrotated ones
 * (the opposite rotation), in place. */
void zk_rope_fwd(float *qkv, int B, int T, int C, int NH, int KV, float theta, int t0);
void zk_rope_bwd(float *dqkv, int B, int T, int C, int NH, int KV, float theta, int t0);

/* SwiGLU: inp[N][2F] holds, per row, the gate g then the up projection u;
 * out[N][F] = silu(g) u, silu(g) = g sigmoid(g).  bwd: dinp += ... */
void zk_swiglu_fwd(float *out, const float *inp, int N, int F);
void zk_swiglu_bwd(float *dinp, const float *inp, const float *dout, int N, int F);
/* set != 0: dinp = ... (its old values unread; 0 + the term, as zeroing
 * and adding) */
void zk_swiglu_bwd_x(float *dinp, const float *inp, const float *dout, int N, int F, int set);

/* GELU, tanh approximation (as GPT-2). */
void zk_gelu_fwd(float *out, const float *inp, size_t n);
void zk_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n);
/* dinp = 0 + gelu'(inp) dout (its old values unread) */
void zk_gelu_bwd_set(float *dinp, const float *inp, const float *dout, size_t n);

/* out = a + b */
void zk_add(float *out, const float *a, const float *b, size_t n);
/* y += x */
void zk_acc(float *y, const float *x, size_t n);

/* Cross-entropy of logits[N][V] against targets (each in [0, V)); returns
 * the mean loss over the N rows and overwrites logits with d(mean loss) /
 * d(logits) = (softmax - onehot) / N, scaled by `dscale` (loss scaling,
 * gradient accumulation: pass 1/M to average over M micro-batches). */
double zk_crossentropy(float *logits, const int *targets, int N, int V, float dscale);
/* The same over a vocabulary shard (tensor parallelism): logits[N][V] are
 * this rank's V columns, a target outside them is negative.  In three
 * steps around the group's reductions: max: mx[r] = the row's maximum
 * (then the maximum over the shards); sums: logits become exp(x - mx[r]),
 * se[r] their sum (then summed), tl[r] the target's logit or 0 (then
 * summed); the loss is the mean of log se + mx - tl; grad: logits become
 * (softmax - onehot) * dscale / N as zk_crossentropy leaves them. */
void zk_xent_max(const float *logits, int N, int V, float *mx);
void zk_xent_sums(float *logits, const int *targets, int N, int V, const float *mx, float *se, float *tl);
void zk_xent_grad(float *logits, const int *targets, int N, int V, const float *se, float dscale);

/* AdamW step t (1-based) with bias correction; decoupled weight decay. */
void zk_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2, float eps,
              float weight_decay, int t);
/* SGD with momentum: mom = momentum*mom + g (+ wd*p); p -= lr*mom. */
void zk_sgd(float *p, const float *g, float *mom, size_t n, float lr, float momentum, float weight_decay);

/* sum of squares (in double), for gradient clipping */
double zk_sumsq(const float *x, size_t n);
void zk_scale(float *x, size_t n, float s);
/* 1 when every value is finite (fp16 overflow check) */
int zk_all_finite(const float *x, size_t n);

/* 16-bit storage: round to nearest even, NaN kept NaN, overflow to inf. */
uint16_t zk_f32_to_bf16(float f);
float zk_bf16_to_f32(uint16_t h);
uint16_t zk_f32_to_f16(float f);
float zk_f16_to_f32(uint16_t h);
/* Round values in place to what bf16 / fp16 storage would hold. */
void zk_round_bf16(float *x, size_t n);
void zk_round_f16(float *x, size_t n);
/* Arrays: dst[i] = the 16-bit value of src[i] (fp16 != 0: IEEE half, else
 * bfloat16), rounded as above; and back to float (exact). */
void zk_pack16(uint16_t *dst, const float *src, size_t n, int fp16);
void zk_unpack16(float *dst, const uint16_t *src, size_t n, int fp16);

#endif
