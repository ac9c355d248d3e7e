/* kernels_cuda.h - the CUDA kernels of the step (kernels.cu), launched on a
 * stream by the CUDA row (device_cuda.c).
 *
 * Each launcher computes what the CPU kernel of the same name computes
 * (cpu/kernels.h: row-major, weights w[OC][IC], backward functions ACCUMULATE
 * into every gradient they write) on device memory, queues it on `s` and
 * returns cudaGetLastError() (cudaSuccess, or why the launch failed).
 * Nothing waits: a result is in place once the stream has reached it.
 * Sizes are size_t where an array may hold 2^31 or more values; every kernel
 * indexes in size_t with grid-stride loops.
 *
 * Storage types are ze_dt's codes (device.h): 0 fp32, 1 bf16, 2 fp16.  The
 * 16-bit conversions are the bit manipulations of cpu/kernels.c (round to
 * nearest even, NaN kept NaN with the quiet bit set, overflow to inf), so a
 * value rounds to the same bits on either row; a NaN that arithmetic makes
 * (inf - inf in an accumulating convert) does not: the GPU writes its one
 * canonical NaN, x86 its own default. */
#ifndef ZE_KERNELS_CUDA_H
#define ZE_KERNELS_CUDA_H

#include <stddef.h>
#include <stdint.h>
#include <cuda_runtime_api.h>
#include "init.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- storage types */
/* dst (type ddt) = src (type sdt), n values, or dst += src (acc != 0: the
 * sum in fp32, rounded into ddt); dst and src do not overlap */
cudaError_t zc_convert(cudaStream_t s, void *dst, int ddt, const void *src, int sdt, size_t n, int acc);
/* In place: buf holds n floats, rewritten as n values of dt (1, 2) from its
 * start (narrow); or holds n values of dt and room for n floats (widen).
 * A sequence of launches over index ranges [0,1) [1,2) [2,4) ... (widen:
 * the reverse order), so that no launch reads what it or another thread
 * still running writes. */
cudaError_t zc_narrow(cudaStream_t s, void *buf, int dt, size_t n);
cudaError_t zc_widen(cudaStream_t s, void *buf, int dt, size_t n);

/* dst (type dt) = the initial values first .. first+n-1 of the unit desc
 * describes (init.h: the same function as the CPU's); dst may be device
 * memory or pinned host memory (mapped: written over the bus) */
cudaError_t zc_init(cudaStream_t s, void *dst, int dt, const ze_init_desc *desc, size_t first, size_t n);

/* ---- the model's kernels */
/* wpe NULL: no learned positions (out = wte[tok]); dwpe NULL: skipped */
cudaError_t zc_embed_fwd(cudaStream_t s, float *out, const int *tok, const float *wte, const float *wpe, int B,
                         int T, int C);
cudaError_t zc_embed_bwd(cudaStream_t s, float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T,
                         int C);
cudaError_t zc_layernorm_fwd(cudaStream_t s, float *out, float *mean, float *rstd, const float *inp,
                             const float *w, const float *b, int N, int C);
cudaError_t zc_layernorm_bwd(cudaStream_t s, float *dinp, float *dw, float *db, const float *dout,
                             const float *inp, const float *w, const float *mean, const float *rstd, int N, int C);
/* RMSNorm (eps 1e-5): out = inp rstd w, rstd saved per row; bwd: dinp +=,
 * dw += (a column sum, as LayerNorm's dw) */
cudaError_t zc_rmsnorm_fwd(cudaStream_t s, float *out, float *rstd, const float *inp, const float *w, int N, int C);
cudaError_t zc_rmsnorm_bwd(cudaStream_t s, float *dinp, float *dw, const float *dout, const float *inp,
                           const float *w, const float *rstd, int N, int C);
/* out[r][o] = bias[o] for every row r < N (before a GEMM with beta 1) */
cudaError_t zc_bias_rows(cudaStream_t s, float *out, const float *bias, int N, int OC);
/* dbias[o] += sum over rows r < N of dout[r][o] */
cudaError_t zc_bias_grad(cudaStream_t s, float *dbias, const float *dout, int N, int OC);
/* The stored-probabilities attention's row kernels around cuBLAS's
 * products (device_cuda.c): rows = heads x T rows of T scaled scores, row
 * r's softmax over columns 0 .. r % T in place, zeros after; and for
 * `heads` heads, dS = scale P (dP - rowsum(P dP)) in place of dP (head j's
 * T x T at ds + j T T, its probabilities at p + j pstride), zeros above
 * the diagonal */
cudaError_t zc_causal_softmax(cudaStream_t s, float *att, int T, size_t rows);
cudaError_t zc_softmax_bwd(cudaStream_t s, float *ds, const float *p, size_t pstride, int T, int heads, float scale);
/* Grouped-query attention flash-style: qkv[B][T][C + 2 KV hs], hs =
 * C/NH; KV <= 0 means NH; KV must divide NH (cudaErrorInvalidValue
 * otherwise); without the T x T probabilities: lse[B][NH][T]
 * the log-sum-exp of each row's scaled scores, all the backward needs
 * besides qkv and out; bwd: dqkv += ... */
cudaError_t zc_flash_fwd(cudaStream_t s, float *out, float *lse, const float *qkv, int B, int T, int C, int NH,
                         int KV);
cudaError_t zc_flash_bwd(cudaStream_t s, float *dqkv, const float *dout, const float *out, const float *lse,
                         const float *qkv, int B, int T, int C, int NH, int KV);
/* The same for a part of the sequence (context parallelism), as
 * zk_flash_fwd_part / zk_flash_bwd_part (cpu/kernels.h): T query rows at
 * positions q0 .. q0 + T - 1, the keys and values of positions 0 .. Tk - 1
 * in kv[B][Tk][2 KV hs]; cudaErrorInvalidValue unless 0 <= q0 and q0 + T
 * <= Tk. */
cudaError_t zc_flash_fwd_part(cudaStream_t s, float *out, float *lse, const float *qkv, const float *kv, int B, int T,
                              int q0, int Tk, int C, int NH, int KV);
cudaError_t zc_flash_bwd_part(cudaStream_t s, float *dqkv, float *dkv, const float *dout, const float *out,
                              const float *lse, const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C,
                              int NH, int KV);
/* The same on the tensor cores under 16-bit math (f16 0: bf16, 1: fp16):
 * Q, K, V, each key tile's unnormalised probabilities, dO, P and dS
 * rounded to 16 bits as the CPU row's zk_flash_*_m round them, the sums
 * fp32; kv NULL: the whole sequence (q0, Tk ignored; dkv ignored, the K
 * and V gradients into dqkv), else a part as above.  Only for head sizes
 * a multiple of 16 up to 128 (cudaErrorInvalidValue otherwise);
 * zc_flash_tc_fits says whether the head size is one and both kernels'
 * shared memory fits in smem bytes (the device's opt-in maximum a block:
 * up to 123,392 bytes at a head size of 128). */
int zc_flash_tc_fits(int C, int NH, size_t smem);
cudaError_t zc_flash_tc_fwd(cudaStream_t s, float *out, float *lse, const float *qkv, const float *kv, int B, int T,
                            int q0, int Tk, int C, int NH, int KV, int f16);
cudaError_t zc_flash_tc_bwd(cudaStream_t s, float *dqkv, float *dkv, const float *dout, const float *out,
                            const float *lse, const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C,
                            int NH, int KV, int f16);
/* Rotary positions in place on the NH Q and KV K heads of qkv (layout as
 * attention's): pairs (i, i + hs/2) rotated by t theta^(-2i/hs), the angle,
 * cos and sin in double; bwd: the opposite angle, on the gradient */
cudaError_t zc_rope_fwd(cudaStream_t s, float *qkv, int B, int T, int C, int NH, int KV, float theta, int t0);
cudaError_t zc_rope_bwd(cudaStream_t s, float *dqkv, int B, int T, int C, int NH, int KV, float theta, int t0);
/* SwiGLU: inp[N][2F] (gate, then up), out[N][F] = silu(gate) up; bwd:
 * dinp += (set: dinp = 0 + , its old values unread; gelu_bwd too) */
cudaError_t zc_swiglu_fwd(cudaStream_t s, float *out, const float *inp, int N, int F);
cudaError_t zc_swiglu_bwd(cudaStream_t s, float *dinp, const float *inp, const float *dout, int N, int F, int set);
cudaError_t zc_gelu_fwd(cudaStream_t s, float *out, const float *inp, size_t n);
cudaError_t zc_gelu_bwd(cudaStream_t s, float *dinp, const float *inp, const float *dout, size_t n, int set);
/* y += x */
cudaError_t zc_acc(cudaStream_t s, float *y, const float *x, size_t n);
/* rows of n floats, y[r ly + j] += x[r lx + j] */
cudaError_t zc_acc_rows(cudaStream_t s, float *y, size_t ly, const float *x, size_t lx, size_t rows, size_t n);
/* *loss (device double) += the sum over rows of -log softmax[target];
 * logits become (softmax - onehot) * dn (dn = dscale / N, as the CPU) */
cudaError_t zc_crossentropy(cudaStream_t s, float *logits, const int *targets, int N, int V, float dn,
                            double *loss);
/* zk_xent_max, zk_xent_sums, zk_xent_grad (dn: dscale / N) */
cudaError_t zc_xent_max(cudaStream_t s, const float *logits, int N, int V, float *mx);
cudaError_t zc_xent_sums(cudaStream_t s, float *logits, const int *targets, int N, int V, const float *mx, float *se,
                         float *tl);
cudaError_t zc_xent_grad(cudaStream_t s, float *logits, const int *targets, int N, int V, const float *se, float dn);

/* ---- the optimizer's kernels; g (type gdt) is multiplied by gscale as it
 * is read (unless gscale is 1).  adamw's step constants are computed by the
 * caller exactly as zk_adamw does: step = lr / bc1, inv_sqrt_bc2 =
 * 1 / sqrtf(bc2), decay = 1 - lr wd, a1 = 1 - beta1, a2 = 1 - beta2. */
cudaError_t zc_adamw(cudaStream_t s, float *p, const void *g, int gdt, float gscale, float *m, float *v, size_t n,
                     float beta1, float beta2, float a1, float a2, float eps, float step, float inv_sqrt_bc2,
                     float decay);
cudaError_t zc_sgd(cudaStream_t s, float *p, const void *g, int gdt, float gscale, float *mom, size_t n, float lr,
                   float momentum, float weight_decay);
/* *out (device double) += the sum of squares of n values of type dt */
cudaError_t zc_sumsq(cudaStream_t s, const void *x, int dt, size_t n, double *out);

/* ---- the CUDA row's own state, for the group rows (cuda/group_*.c):
 * the one stream every operation of the row is queued on, and its pinned
 * staging buffer (idle between the row's operations: each leaves it so). */
struct ze_dev;
cudaStream_t ze_dev_cuda_stream(const struct ze_dev *d);
void *ze_dev_cuda_staging(const struct ze_dev *d, size_t *bytes);
/* The row's cuBLASLt (device_cuda.c): on (not ZPLAN_CUBLASLT=0), the
 * products it ran with their bias in the epilogue, the product shapes it
 * planned and those it had an algorithm for. */
void ze_dev_cuda_lt(const struct ze_dev *d, int *on, long *calls, int *shapes, int *fused);

#ifdef __cplusplus
}
#endif

#endif
