/* kernels.cu - the CUDA kernels of the step (see kernels_cuda.h), fp32.
 *
 * Simple and obviously correct first (speed is a later issue):
 *  - elementwise kernels: grid-stride loops in size_t over at most
 *    MAX_BLOCKS blocks of TPB threads;
 *  - row kernels (LayerNorm, RMSNorm, cross-entropy, attention, rotary
 *    positions): one block per row, a grid-stride loop over rows, block
 *    reductions through warp shuffles;
 *  - column sums (LayerNorm's dw and db, RMSNorm's dw, the bias gradient):
 *    one thread per column over a chunk of rows, one atomicAdd per chunk;
 *  - scatter-adds (embedding backward, flash attention's dK and dV, which
 *    the query heads of a group share): atomicAdd;
 *  - the stored-probabilities attention's products are cuBLAS's
 *    (attn_batched.c's sequence, device_cuda.c's calls), around the row
 *    kernels k_causal_softmax and k_softmax_bwd;
 *  - flash attention under 16-bit math: tiles on the tensor cores (WMMA,
 *    k_flash_tc_*), the one part written for speed so far.
 * Sums are therefore taken in another order than the CPU's (results agree
 * to rounding, not bit for bit), except where no sum is involved: the 16-bit
 * conversions are the CPU's bit manipulations (bit-identical), and the
 * optimizer steps use the _rn intrinsics so that nothing is contracted into
 * an FMA (the CPU, ISO C, contracts nothing), which makes them bit-identical
 * too.  No --use_fast_math: expf, sqrtf and division are the accurate ones. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>
#include <math.h>
#include <stdint.h>

#include "kernels_cuda.h"
#include "half.h"

namespace {

constexpr int TPB = 256;                /* threads of an elementwise block */
constexpr size_t MAX_BLOCKS = 65536;    /* then the threads stride */
constexpr int ROW_TPB = 256;            /* threads of a row block */
constexpr int ATT_TPB = 128;            /* threads of an attention row block (4 warps) */
constexpr size_t MAX_ROW_BLOCKS = 1u << 20;
constexpr int COL_ROWS = 256;           /* rows a column-sum thread adds before its atomicAdd */

#define GSTRIDE(i, n)                                                                                   \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n);                     \
         i += (size_t)gridDim.x * blockDim.x)

unsigned grid_for(size_t n, size_t tpb, size_t cap)
{
    size_t b = (n + tpb - 1) / tpb;
    if (b == 0)
        b = 1;
    return (unsigned)(b < cap ? b : cap);
}

/* ------------------------------------------------ 16-bit storage (as the CPU) */

__device__ __forceinline__ uint16_t f32_to_bf16(float f) { return ze_f32_to_bf16(f); }
__device__ __forceinline__ float bf16_to_f32(uint16_t h) { return ze_bf16_to_f32(h); }
__device__ __forceinline__ uint16_t f32_to_f16(float f) { return ze_f32_to_f16(f); }
__device__ __forceinline__ float f16_to_f32(uint16_t h) { return ze_f16_to_f32(h); }

/* element i of an array of type dt, as fp32 */
__device__ __forceinline__ float ld(const void *p, int dt, size_t i)
{
    if (dt == 0)
        return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    return dt == 1 ? bf16_to_f32(h) : f16_to_f32(h);
}

__device__ __forceinline__ void st(void *p, int dt, size_t i, float f)
{
    if (dt == 0)
        ((float *)p)[i] = f;
    else
        ((uint16_t *)p)[i] = dt == 1 ? f32_to_bf16(f) : f32_to_f16(f);
}

/* ------------------------------------------------------------ reductions */

/* Sum (add) or maximum of v over the 32 lanes of a warp, in every lane. */
struct op_add {
    template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct op_max {
    template <typename T> __device__ T operator()(T a, T b) const { return b > a ? b : a; }
};

template <typename T, typename Op> __device__ __forceinline__ T warp_reduce(T v, Op op)
{
    for (int o = 16; o > 0; o >>= 1)
        v = op(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
    return v;
}

__device__ __forceinline__ float warp_sum(float v) { return warp_reduce(v, op_add()); }

/* The reduction over the block (blockDim.x a multiple of 32), returned to
 * every thread; sh: 32 values of shared memory; idle lanes count as
 * `none`.  Every thread of the block must call it.  The leading barrier
 * lets a previous call's readers finish before sh is written again. */
template <typename T, typename Op> __device__ T block_reduce(T v, T *sh, Op op, T none)
{
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_reduce(v, op);
    __syncthreads();
    if (lane == 0)
        sh[w] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : none;
    return warp_reduce(v, op);
}

__device__ float block_sum(float v, float *sh) { return block_reduce(v, sh, op_add(), 0.0f); }
__device__ double block_sum_d(double v, double *sh) { return block_reduce(v, sh, op_add(), 0.0); }
__device__ float block_max(float v, float *sh) { return block_reduce(v, sh, op_max(), -INFINITY); }

/* ----------------------------------------------------------- conversions */

__global__ void k_convert(void *dst, int ddt, const void *src, int sdt, size_t n, int acc)
{
    GSTRIDE(i, n) {
        float f = ld(src, sdt, i);
        if (acc)
            f = ld(dst, ddt, i) + f;
        st(dst, ddt, i, f);
    }
}

/* elements [a, b) of an in-place narrow, b <= 2a (or [0, 1)): reads bytes
 * [4a, 4b), writes bytes [2a, 2b), 2b <= 4a */
__global__ void k_narrow(void *buf, int dt, size_t a, size_t b)
{
    for (size_t i = a + (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < b; i += (size_t)gridDim.x * blockDim.x) {
        float f = ((const float *)buf)[i];
        ((uint16_t *)buf)[i] = dt == 1 ? f32_to_bf16(f) : f32_to_f16(f);
    }
}

/* elements [a, b) of an in-place widen: reads bytes [2a, 2b), writes [4a, 4b) */
__global__ void k_widen(void *buf, int dt, size_t a, size_t b)
{
    for (size_t i = a + (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < b; i += (size_t)gridDim.x * blockDim.x) {
        uint16_t h = ((const uint16_t *)buf)[i];
        ((float *)buf)[i] = dt == 1 ? bf16_to_f32(h) : f16_to_f32(h);
    }
}

/* -------------------------------------------------------------- embedding */

__global__ void k_init(void *dst, int dt, ze_init_desc desc, size_t first, size_t n)
{
    GSTRIDE(i, n)
    st(dst, dt, i, ze_init_value(&desc, first + i));
}

__global__ void k_embed_fwd(float *out, const int *tok, const float *wte, const float *wpe, int T, int C, size_t n)
{
    size_t c = (size_t)C;
    GSTRIDE(i, n) {
        size_t bt = i / c, k = i % c, t = bt % (size_t)T;
        float v = tok[bt] >= 0 ? wte[(size_t)tok[bt] * c + k] : 0.0f;   /* negative: another shard's */
        if (wpe) /* NULL: no learned positions */
            v += wpe[t * c + k];
        out[i] = v;
    }
}

__global__ void k_embed_bwd(float *dwte, float *dwpe, const float *dout, const int *tok, int T, int C, size_t n)
{
    size_t c = (size_t)C;
    GSTRIDE(i, n) {
        size_t bt = i / c, k = i % c, t = bt % (size_t)T;
        float g = dout[i];
        if (tok[bt] >= 0)
            atomicAdd(dwte + (size_t)tok[bt] * c + k, g);
        if (dwpe)
            atomicAdd(dwpe + t * c + k, g);
    }
}

/* -------------------------------------------------------------- layernorm */

__global__ void k_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp, const float *w,
                                const float *b, int N, int C)
{
    __shared__ float sh[32];
    size_t c = (size_t)C;
    for (size_t r = blockIdx.x; r < (size_t)N; r += gridDim.x) {
        const float *x = inp + r * c;
        float *o = out + r * c;
        float s = 0.0f;
        for (size_t i = threadIdx.x; i < c; i += blockDim.x)
            s += x[i];
        float mu = block_sum(s, sh) / (float)C;
        float q = 0.0f;
        for (size_t i = threadIdx.x; i < c; i += blockDim.x) {
            float dv = x[i] - mu;
            q += dv * dv;
        }
        float rs = 1.0f / sqrtf(block_sum(q, sh) / (float)C + 1e-5f);
        for (size_t i = threadIdx.x; i < c; i += blockDim.x)
            o[i] = (x[i] - mu) * rs * w[i] + b[i];
        if (threadIdx.x == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
    }
}

/* dx += rstd (g - mean(g) - n mean(g n)), g = dout w, n = (x - mean) rstd */
__global__ void k_layernorm_bwd_dx(float *dinp, const float *dout, const float *inp, const float *w,
                                   const float *mean, const float *rstd, int N, int C)
{
    __shared__ float sh[32];
    size_t c = (size_t)C;
    for (size_t r = blockIdx.x; r < (size_t)N; r += gridDim.x) {
        const float *x = inp + r * c, *d = dout + r * c;
        float *dx = dinp + r * c;
        float mu = mean[r], rs = rstd[r];
        float sg = 0.0f, sgn = 0.0f;
        for (size_t i = threadIdx.x; i < c; i += blockDim.x) {
            float g = d[i] * w[i];
            sg += g;
            sgn += g * (x[i] - mu);
        }
        sg = block_sum(sg, sh);
        sgn = block_sum(sgn, sh);
        float gmean = sg / (float)C, gnmean = sgn * rs / (float)C;
        for (size_t i = threadIdx.x; i < c; i += blockDim.x) {
            float n = (x[i] - mu) * rs, g = d[i] * w[i];
            dx[i] += rs * (g - gmean - n * gnmean);
        }
    }
}

/* dw[k] += sum_r dout[r][k] n[r][k], db[k] += sum_r dout[r][k]: thread k of
 * block (x, y) over rows [y rows_per, (y+1) rows_per) */
__global__ void k_layernorm_bwd_dwdb(float *dw, float *db, const float *dout, const float *inp, const float *mean,
                                     const float *rstd, int N, int C, size_t rows_per)
{
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x, c = (size_t)C;
    if (k >= c)
        return;
    size_t r0 = (size_t)blockIdx.y * rows_per, r1 = r0 + rows_per < (size_t)N ? r0 + rows_per : (size_t)N;
    float sw = 0.0f, sb = 0.0f;
    for (size_t r = r0; r < r1; r++) {
        float d = dout[r * c + k];
        sw += d * ((inp[r * c + k] - mean[r]) * rstd[r]);
        sb += d;
    }
    if (r1 > r0) {
        atomicAdd(dw + k, sw);
        atomicAdd(db + k, sb);
    }
}

/* ---------------------------------------------------------------- RMSNorm */

/* out = x rstd w, rstd = 1 / sqrt(mean(x^2) + eps) */
__global__ void k_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, int N, int C)
{
    __shared__ float sh[32];
    size_t c = (size_t)C;
    for (size_t r = blockIdx.x; r < (size_t)N; r += gridDim.x) {
        const float *x = inp + r * c;
        float *o = out + r * c;
        float q = 0.0f;
        for (size_t i = threadIdx.x; i < c; i += blockDim.x)
            q += x[i] * x[i];
        float rs = 1.0f / sqrtf(block_sum(q, sh) / (float)C + 1e-5f);
        for (size_t i = threadIdx.x; i < c; i += blockDim.x)
            o[i] = x[i] * rs * w[i];
        if (threadIdx.x == 0)
            rstd[r] = rs;
    }
}

/* dx += rstd (g - n mean(g n)), g = dout w, n = x rstd */
__global__ void k_rmsnorm_bwd_dx(float *dinp, const float *dout, const float *inp, const float *w, const float *rstd,
                                 int N, int C)
{
    __shared__ float sh[32];
    size_t c = (size_t)C;
    for (size_t r = blockIdx.x; r < (size_t)N; r += gridDim.x) {
        const float *x = inp + r * c, *d = dout + r * c;
        float *dx = dinp + r * c;
        float rs = rstd[r];
        float sgx = 0.0f;
        for (size_t i = threadIdx.x; i < c; i += blockDim.x)
            sgx += d[i] * w[i] * x[i];
        float gnmean = block_sum(sgx, sh) * rs / (float)C;
        for (size_t i = threadIdx.x; i < c; i += blockDim.x) {
            float n = x[i] * rs;
            dx[i] += rs * (d[i] * w[i] - n * gnmean);
        }
    }
}

/* dw[k] += sum_r dout[r][k] x[r][k] rstd[r]: thread k of block (x, y) over
 * rows [y rows_per, (y+1) rows_per) */
__global__ void k_rmsnorm_bwd_dw(float *dw, const float *dout, const float *inp, const float *rstd, int N, int C,
                                 size_t rows_per)
{
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x, c = (size_t)C;
    if (k >= c)
        return;
    size_t r0 = (size_t)blockIdx.y * rows_per, r1 = r0 + rows_per < (size_t)N ? r0 + rows_per : (size_t)N;
    float sw = 0.0f;
    for (size_t r = r0; r < r1; r++)
        sw += dout[r * c + k] * (inp[r * c + k] * rstd[r]);
    if (r1 > r0)
        atomicAdd(dw + k, sw);
}

/* ------------------------------------------------------------------- bias */

__global__ void k_bias_rows(float *out, const float *bias, int OC, size_t n)
{
    GSTRIDE(i, n) out[i] = bias[i % (size_t)OC];
}

__global__ void k_colsum(float *dbias, const float *dout, int N, int OC, size_t rows_per)
{
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x, c = (size_t)OC;
    if (k >= c)
        return;
    size_t r0 = (size_t)blockIdx.y * rows_per, r1 = r0 + rows_per < (size_t)N ? r0 + rows_per : (size_t)N;
    float s = 0.0f;
    for (size_t r = r0; r < r1; r++)
        s += dout[r * c + k];
    if (r1 > r0)
        atomicAdd(dbias + k, s);
}

/* -------------------------------------------------------------- attention */

/* qkv[B][T][C + 2 KV hs]: per token Q (NH heads), K (KV heads), V (KV
 * heads); query head h reads K and V head h / (NH / KV) (the launchers make
 * KV a divisor of NH). */

/* The block's sum of its warps' partial rows sacc[w hs + d] (w < nw),
 * times mul, into dst[d] for d < hs (added to it with add): the threads
 * take the columns in turn.  The partials must be complete (a barrier
 * before the call). */
__device__ __forceinline__ void sum_partials(float *dst, const float *sacc, int nw, int hs, float mul, int add)
{
    for (int d = threadIdx.x; d < hs; d += blockDim.x) {
        float s = 0.0f;
        for (int w = 0; w < nw; w++)
            s += sacc[w * hs + d];
        dst[d] = add ? dst[d] + s * mul : s * mul;
    }
}

/* The stored-probabilities attention as cuBLAS products (attn_batched.c)
 * around two row kernels, one block per row of a (head, query) pair:
 * k_causal_softmax turns row i of the scaled scores, all T columns written,
 * into its softmax over columns 0..i (zk_attention_fwd's) and zeros after;
 * k_softmax_bwd turns row i of dP into scale P (dP - sum_c<=i P dP), zeros
 * after, from the probabilities of head j at p + j pstride (the batch's
 * heads are every rep-th of the sequence), dP of head j at ds + j T T. */
__global__ void k_causal_softmax(float *att, int T, size_t rows)
{
    __shared__ float red[32];
    size_t tt = (size_t)T;
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        float *x = att + r * tt;
        size_t n = r % tt + 1;
        float mx = -INFINITY;
        for (size_t c = threadIdx.x; c < n; c += blockDim.x)
            mx = x[c] > mx ? x[c] : mx;
        mx = block_max(mx, red);
        float sum = 0.0f;
        for (size_t c = threadIdx.x; c < n; c += blockDim.x) {
            float e = expf(x[c] - mx);
            x[c] = e;
            sum += e;
        }
        float inv = 1.0f / block_sum(sum, red);
        for (size_t c = threadIdx.x; c < tt; c += blockDim.x)
            x[c] = c < n ? __fmul_rn(x[c], inv) : 0.0f;
    }
}

__global__ void k_softmax_bwd(float *ds, const float *p, size_t pstride, int T, size_t rows, float scale)
{
    __shared__ float red[32];
    size_t tt = (size_t)T;
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        size_t j = r / tt, i = r % tt, n = i + 1;
        const float *pr = p + j * pstride + i * tt;
        float *dr = ds + r * tt;
        float dot = 0.0f;
        for (size_t c = threadIdx.x; c < n; c += blockDim.x)
            dot += pr[c] * dr[c];
        dot = block_sum(dot, red);
        for (size_t c = threadIdx.x; c < tt; c += blockDim.x)
            dr[c] = c < n ? __fmul_rn(__fmul_rn(scale, pr[c]), __fsub_rn(dr[c], dot)) : 0.0f;
    }
}

/* ------------------------------------------------- flash-style attention */


/* The same attention without the T x T probabilities in device memory:
 * one block per query row (b, h, t), the keys taken in
 * chunks of FA_KCH whose scores live in shared memory, the output built by
 * the online softmax (the running maximum m and sum l; the partial output
 * rescaled by e^(m_old - m_new) when m grows) and only lse = m + ln l
 * written per row.  The backward rebuilds each probability from Q, K and
 * lse, p = e^(s - lse), with D = dout_t . out_t in place of the stored
 * row.  Shared: q (hs), the warps' partial outputs (nw * hs), the chunk's
 * scores (FA_KCH).
 * A part of the sequence (context parallelism, zk_flash_*_part): the T
 * query rows of qkv (row stride ld3, T a sequence) are positions q0 ..
 * q0 + T - 1, the keys and values those of kv (row stride ldk, Tk rows a
 * sequence, K heads then V heads); the whole sequence: kv = qkv + C, ldk
 * = ld3, q0 = 0, Tk = T. */
constexpr int FA_KCH = 128;

__global__ void k_flash_fwd(float *out, float *lse, const float *qkv, const float *kv, size_t ldk, int q0, int Tk,
                            int B, int T, int C, int NH, int KV, float scale)
{
    extern __shared__ float sm[];
    __shared__ float red[32];
    __shared__ float ssc[FA_KCH];
    const int hs = C / NH, nw = blockDim.x >> 5, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const size_t kvc = (size_t)KV * (size_t)hs, ld3 = (size_t)C + 2 * kvc, tt = (size_t)T, grp = (size_t)(NH / KV);
    float *sq = sm, *sacc = sm + hs;
    const size_t rows = (size_t)B * (size_t)NH * tt;
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const int tq = (int)(r % tt), t = q0 + tq; /* its row, its position */
        const size_t bh = r / tt, h = bh % (size_t)NH, b = bh / (size_t)NH;
        const float *q = qkv + (b * tt + (size_t)tq) * ld3 + h * (size_t)hs;
        const float *kb = kv + b * (size_t)Tk * ldk + (h / grp) * (size_t)hs; /* key j at kb + j*ldk */
        const float *vb = kb + kvc;
        __syncthreads(); /* the previous row's readers of sq, sacc are done */
        for (int i = threadIdx.x; i < hs; i += blockDim.x)
            sq[i] = q[i];
        for (int i = threadIdx.x; i < nw * hs; i += blockDim.x)
            sacc[i] = 0.0f;
        __syncthreads();
        float m = -INFINITY, l = 0.0f; /* the same on every thread */
        for (int j0 = 0; j0 <= t; j0 += FA_KCH) {
            const int n = t + 1 - j0 < FA_KCH ? t + 1 - j0 : FA_KCH;
            for (int j = warp; j < n; j += nw) { /* a warp per key */
                const float *kj = kb + (size_t)(j0 + j) * ldk;
                float s = 0.0f;
                for (int d = lane; d < hs; d += 32)
                    s += sq[d] * kj[d];
                s = warp_sum(s);
                if (lane == 0)
                    ssc[j] = scale * s;
            }
            __syncthreads();
            float cm = -INFINITY;
            for (int j = threadIdx.x; j < n; j += blockDim.x)
                cm = ssc[j] > cm ? ssc[j] : cm;
            cm = block_max(cm, red);
            const float mn = cm > m ? cm : m, a = m == -INFINITY ? 0.0f : expf(m - mn);
            float part = 0.0f;
            for (int j = threadIdx.x; j < n; j += blockDim.x) {
                float e = expf(ssc[j] - mn);
                ssc[j] = e;
                part += e;
            }
            l = l * a + block_sum(part, red); /* (its barriers publish ssc) */
            m = mn;
            /* each warp rescales and extends its own partial output (the
             * lanes touch the same columns in both loops) */
            for (int d = lane; d < hs; d += 32)
                sacc[warp * hs + d] *= a;
            for (int j = warp; j < n; j += nw) {
                const float p = ssc[j];
                const float *vj = vb + (size_t)(j0 + j) * ldk;
                for (int d = lane; d < hs; d += 32)
                    sacc[warp * hs + d] += p * vj[d];
            }
            __syncthreads(); /* ssc is rewritten by the next chunk */
        }
        sum_partials(out + (b * tt + (size_t)tq) * (size_t)C + h * (size_t)hs, sacc, nw, hs, 1.0f / l, 0);
        if (threadIdx.x == 0)
            lse[r] = m + logf(l);
    }
}

/* One block per query row t of (b, h), each probability rebuilt: p_j = e^(scale q_t . k_j - lse_t), D = dout_t .
 * out_t, dq_t += scale sum_j p_j (dout_t . v_j - D) k_j, dk_j and dv_j by
 * atomicAdd (into dkv, kv's layout).  Shared: q, dout (hs each), the warps'
 * partial dq (nw * hs). */
__global__ void k_flash_bwd(float *dqkv, float *dkv, const float *dout, const float *out, const float *lse,
                            const float *qkv, const float *kv, size_t ldk, int q0, int Tk, int B, int T, int C, int NH,
                            int KV, float scale)
{
    extern __shared__ float sm[];
    __shared__ float red[32];
    const int hs = C / NH, nw = blockDim.x >> 5, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const size_t kvc = (size_t)KV * (size_t)hs, ld3 = (size_t)C + 2 * kvc, tt = (size_t)T, grp = (size_t)(NH / KV);
    float *sq = sm, *sdo = sm + hs, *sacc = sm + 2 * hs;
    const size_t rows = (size_t)B * (size_t)NH * tt;
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const int tq = (int)(r % tt), t = q0 + tq; /* its row, its position */
        const size_t bh = r / tt, h = bh % (size_t)NH, b = bh / (size_t)NH;
        const size_t qoff = (b * tt + (size_t)tq) * ld3 + h * (size_t)hs;
        const size_t kboff = b * (size_t)Tk * ldk + (h / grp) * (size_t)hs; /* key j at kboff + j*ldk */
        const float *kb = kv + kboff, *vb = kb + kvc;
        float *dkb = dkv + kboff, *dvb = dkb + kvc;
        const size_t ooff = (b * tt + (size_t)tq) * (size_t)C + h * (size_t)hs;
        const float *dO = dout + ooff, *O = out + ooff;
        __syncthreads();
        float part = 0.0f;
        for (int i = threadIdx.x; i < hs; i += blockDim.x) {
            sq[i] = qkv[qoff + i];
            sdo[i] = dO[i];
            part += dO[i] * O[i];
        }
        for (int i = threadIdx.x; i < nw * hs; i += blockDim.x)
            sacc[i] = 0.0f;
        const float D = block_sum(part, red), ls = lse[r]; /* (its barriers publish sq, sdo) */
        for (int j = warp; j <= t; j += nw) {
            const float *vj = vb + (size_t)j * ldk, *kj = kb + (size_t)j * ldk;
            float s = 0.0f, dp = 0.0f;
            for (int d = lane; d < hs; d += 32) {
                s += sq[d] * kj[d];
                dp += sdo[d] * vj[d];
            }
            s = warp_sum(s);
            dp = warp_sum(dp);
            const float p = expf(scale * s - ls);
            const float ds = scale * p * (dp - D);
            float *dkj = dkb + (size_t)j * ldk, *dvj = dvb + (size_t)j * ldk;
            for (int d = lane; d < hs; d += 32) {
                sacc[warp * hs + d] += ds * kj[d];
                atomicAdd(dkj + d, ds * sq[d]);
                atomicAdd(dvj + d, p * sdo[d]);
            }
        }
        __syncthreads();
        sum_partials(dqkv + qoff, sacc, nw, hs, 1.0f, 1); /* only this block writes row t's dq of head h */
    }
}

/* ------------------------------------ flash-style attention on tensor cores */

/* The same attention under 16-bit math (the row's math bf16 or fp16, a
 * head size a multiple of 16 up to 128), FlashAttention-2's tiling on the
 * tensor cores (WMMA 16 x 16 x 16, 16-bit operands, fp32 accumulators),
 * the CPU row's zk_flash_*_m twin rounding the same operands at the same
 * moments: Q, K, V rounded as the tiles are loaded (the CPU's bits:
 * half.h), S = Q K^T, each key tile's unnormalised probabilities e^(S - m)
 * at the running maximum m rounded before P V; the running maximum and
 * sum, lse and the output's rescaling fp32.  Key tiles are TC_BC = 64
 * keys from key 0, the CPU's ZK_FA_TILE, so the running maxima are the
 * CPU's and so is every rounded P.
 * Forward: a block (4 warps) per (b, h, tile of TC_BR = 64 queries), a
 * warp its 16 query rows; the key tiles up to the tile's last position.
 * Shared: Q, K, V tiles (16-bit, rows padded by 8), the warps' scores
 * (fp32) and probabilities (16-bit), the output accumulated in shared
 * memory (fp32: rescaled row by row, then loaded as the accumulator of
 * P V), each row's m and l.
 * Backward: a block per (b, h, tile of 64 keys), over the query tiles
 * that see any of its keys: P = e^(S - lse), dP = dO V^T (rounded dO),
 * dS = scale P (dP - D) with D = dO . out from the unrounded values;
 * dV += P^T dO and dK += dS^T Q (P, dS rounded) in each warp's fragments
 * for its 16 keys, dQ += dS K by atomicAdd into dqkv (other key tiles add
 * to the same rows); at the end the tile's dK, dV by atomicAdd into dkv
 * (the query heads of a group share a K/V head).  The sums are the tensor
 * cores' (fp32, another order than OpenBLAS's). */
constexpr int TC_BR = 64, TC_BC = 64, TC_TPB = 128, TC_MAXD = 8;

template <typename T16> __device__ __forceinline__ T16 tc_cvt(float x);
template <> __device__ __forceinline__ __nv_bfloat16 tc_cvt<__nv_bfloat16>(float x)
{
    return __ushort_as_bfloat16(ze_f32_to_bf16(x));
}
template <> __device__ __forceinline__ __half tc_cvt<__half>(float x) { return __ushort_as_half(ze_f32_to_f16(x)); }

/* the shared-memory layout of both kernels: byte offsets from the start
 * (each a multiple of 128 bytes, WMMA's pointers wanting 32), row strides
 * in elements (multiples of 8 for 16-bit, 4 for fp32, as WMMA's ldm) */
struct tc_smem {
    int ldh, lds, ldp, ldo;
    size_t q, k, v, s, s2, p, p2, o, m, l, total;
};

__host__ __device__ inline size_t tc_up(size_t x) { return (x + 127) / 128 * 128; }

/* bwd 0: the forward's (s2, p2 unused); 1: the backward's (s: P, s2: dP,
 * their room reused by dQ; p, p2: the rounded P and dS; q: Q, o: dO;
 * m, l: lse and D) */
__host__ __device__ inline tc_smem tc_layout(int hs, int bwd)
{
    tc_smem L;
    L.ldh = hs + 8, L.lds = TC_BC + 4, L.ldp = TC_BC + 8, L.ldo = hs + 4;
    size_t h16 = 2, at = 0;
    L.q = at, at = tc_up(at + (size_t)TC_BR * L.ldh * h16);
    L.k = at, at = tc_up(at + (size_t)TC_BC * L.ldh * h16);
    L.v = at, at = tc_up(at + (size_t)TC_BC * L.ldh * h16);
    if (bwd) { /* o: dO (16-bit); s, s2 then dQ (fp32, ldo) over both */
        L.o = at, at = tc_up(at + (size_t)TC_BR * L.ldh * h16);
        L.s = at;
        size_t ss = tc_up((size_t)TC_BR * L.lds * 4);
        L.s2 = at + ss;
        size_t need = 2 * ss > (size_t)TC_BR * L.ldo * 4 ? 2 * ss : tc_up((size_t)TC_BR * L.ldo * 4);
        at = tc_up(at + need);
    } else {
        L.s = at, at = tc_up(at + (size_t)TC_BR * L.lds * 4);
        L.s2 = 0;
    }
    L.p = at, at = tc_up(at + (size_t)TC_BR * L.ldp * h16);
    if (bwd)
        L.p2 = at, at = tc_up(at + (size_t)TC_BR * L.ldp * h16);
    else {
        L.p2 = 0;
        L.o = at, at = tc_up(at + (size_t)TC_BR * L.ldo * 4);
    }
    L.m = at, at = tc_up(at + TC_BR * 4);
    L.l = at, at = tc_up(at + TC_BR * 4);
    L.total = at;
    return L;
}

/* a warp's 16 x 64 product tile: out (fp32, ldo) = A (16 x n16*16 rows of
 * a, row-major, lda) times B^T where B is 64 x n16*16 row-major (ldb):
 * scores S = Q K^T and dP = dO V^T */
template <typename T16>
__device__ __forceinline__ void tc_abt(float *out, int ldo, const T16 *a, int lda, const T16 *b, int ldb, int n16)
{
    using namespace nvcuda;
#pragma unroll
    for (int nb = 0; nb < TC_BC / 16; nb++) {
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        wmma::fill_fragment(acc, 0.0f);
#pragma unroll
        for (int kb = 0; kb < TC_MAXD; kb++)
            if (kb < n16) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T16, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T16, wmma::col_major> fb;
                wmma::load_matrix_sync(fa, a + kb * 16, lda);
                wmma::load_matrix_sync(fb, b + (size_t)nb * 16 * ldb + kb * 16, ldb);
                wmma::mma_sync(acc, fa, fb, acc);
            }
        wmma::store_matrix_sync(out + nb * 16, acc, ldo, wmma::mem_row_major);
    }
}

/* the tile's rows [0, rows) x hs of src (row stride lds, fp32) rounded into
 * dst (16-bit, row stride ldh), zeros for the rows past n; all threads */
template <typename T16>
__device__ __forceinline__ void tc_load(T16 *dst, int ldh, const float *src, size_t lds, int n, int rows, int hs)
{
    for (int idx = threadIdx.x; idx < rows * hs; idx += blockDim.x) {
        int i = idx / hs, d = idx - i * hs;
        dst[i * ldh + d] = tc_cvt<T16>(i < n ? src[(size_t)i * lds + d] : 0.0f);
    }
}

template <typename T16>
__global__ void __launch_bounds__(TC_TPB) k_flash_tc_fwd(float *out, float *lse, const float *qkv, const float *kv,
                                                         size_t ldk, int q0, int Tk, int B, int T, int C, int NH,
                                                         int KV, float scale)
{
    using namespace nvcuda;
    extern __shared__ __align__(128) unsigned char tsm[];
    const int hs = C / NH, nd = hs / 16, warp = threadIdx.x >> 5, lane = threadIdx.x & 31, w0 = warp * 16;
    const tc_smem L = tc_layout(hs, 0);
    T16 *sQ = (T16 *)(tsm + L.q), *sK = (T16 *)(tsm + L.k), *sV = (T16 *)(tsm + L.v), *sP = (T16 *)(tsm + L.p);
    float *sS = (float *)(tsm + L.s), *sO = (float *)(tsm + L.o), *sM = (float *)(tsm + L.m),
          *sL = (float *)(tsm + L.l);
    const size_t kvc = (size_t)KV * (size_t)hs, ld3 = (size_t)C + 2 * kvc, grp = (size_t)(NH / KV);
    const int nqt = (T + TC_BR - 1) / TC_BR;
    const size_t tiles = (size_t)B * (size_t)NH * (size_t)nqt;
    for (size_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int qt = nqt - 1 - (int)(tile % (size_t)nqt); /* the longest rows first */
        const size_t bh = tile / (size_t)nqt, h = bh % (size_t)NH, b = bh / (size_t)NH;
        const int r0 = qt * TC_BR, nr = T - r0 < TC_BR ? T - r0 : TC_BR;
        const float *kb = kv + b * (size_t)Tk * ldk + (h / grp) * (size_t)hs, *vb = kb + kvc;
        __syncthreads(); /* the previous tile's readers are done */
        tc_load(sQ, L.ldh, qkv + (b * (size_t)T + (size_t)r0) * ld3 + h * (size_t)hs, ld3, nr, TC_BR, hs);
        for (int idx = threadIdx.x; idx < TC_BR * hs; idx += blockDim.x)
            sO[(idx / hs) * L.ldo + idx % hs] = 0.0f;
        for (int i = threadIdx.x; i < TC_BR; i += blockDim.x)
            sM[i] = -INFINITY, sL[i] = 0.0f;
        const int kend = q0 + r0 + nr < Tk ? q0 + r0 + nr : Tk; /* keys 0 .. kend - 1 */
        for (int c0 = 0; c0 < kend; c0 += TC_BC) {
            const int nc = kend - c0 < TC_BC ? kend - c0 : TC_BC;
            __syncthreads(); /* the last key tile's readers are done; Q, O, m, l published */
            tc_load(sK, L.ldh, kb + (size_t)c0 * ldk, ldk, nc, TC_BC, hs);
            tc_load(sV, L.ldh, vb + (size_t)c0 * ldk, ldk, nc, TC_BC, hs);
            __syncthreads();
            if (w0 >= nr || q0 + r0 + w0 + 15 < c0)
                continue; /* no row of this warp, or none that sees a key of the tile */
            tc_abt(sS + w0 * L.lds, L.lds, sQ + w0 * L.ldh, L.ldh, sK, L.ldh, nd);
            __syncwarp();
            { /* the online softmax: two lanes a row, 32 columns each */
                const int i = w0 + (lane >> 1), c1 = (lane & 1) * 32, pos = q0 + r0 + i;
                float *sr = sS + i * L.lds;
                T16 *pr = sP + i * L.ldp;
                float tm = -INFINITY;
                for (int c = c1; c < c1 + 32; c++) {
                    float x = i < nr && c < nc && c0 + c <= pos ? sr[c] * scale : -INFINITY;
                    sr[c] = x;
                    tm = fmaxf(tm, x);
                }
                tm = fmaxf(tm, __shfl_xor_sync(0xffffffffu, tm, 1));
                const float mo = sM[i], mn = fmaxf(mo, tm), al = mo == -INFINITY ? 0.0f : expf(mo - mn);
                float ps = 0.0f;
                for (int c = c1; c < c1 + 32; c++) {
                    float p = sr[c] == -INFINITY ? 0.0f : expf(sr[c] - mn);
                    ps += p;
                    pr[c] = tc_cvt<T16>(p);
                }
                ps += __shfl_xor_sync(0xffffffffu, ps, 1); /* (both lanes have read sM[i]) */
                /* a shuffle orders the lanes in practice but not for
                 * compute-sanitizer's racecheck (tests/gpu.sh), which
                 * counts only a barrier between the odd lane's read of
                 * sM[i] and the even lane's write */
                __syncwarp();
                if (!(lane & 1))
                    sL[i] = sL[i] * al + ps, sM[i] = mn;
                for (int d = lane & 1; d < hs; d += 2)
                    sO[i * L.ldo + d] *= al;
            }
            __syncwarp();
#pragma unroll
            for (int db = 0; db < TC_MAXD; db++)
                if (db < nd) { /* O += P V */
                    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
                    float *o = sO + w0 * L.ldo + db * 16;
                    wmma::load_matrix_sync(acc, o, L.ldo, wmma::mem_row_major);
#pragma unroll
                    for (int kb2 = 0; kb2 < TC_BC / 16; kb2++) {
                        wmma::fragment<wmma::matrix_a, 16, 16, 16, T16, wmma::row_major> fa;
                        wmma::fragment<wmma::matrix_b, 16, 16, 16, T16, wmma::row_major> fb;
                        wmma::load_matrix_sync(fa, sP + w0 * L.ldp + kb2 * 16, L.ldp);
                        wmma::load_matrix_sync(fb, sV + kb2 * 16 * L.ldh + db * 16, L.ldh);
                        wmma::mma_sync(acc, fa, fb, acc);
                    }
                    wmma::store_matrix_sync(o, acc, L.ldo, wmma::mem_row_major);
                }
            __syncwarp();
        }
        __syncthreads(); /* every warp's O, m, l */
        for (int idx = threadIdx.x; idx < nr * hs; idx += blockDim.x) {
            int i = idx / hs, d = idx - i * hs;
            out[(b * (size_t)T + (size_t)(r0 + i)) * (size_t)C + h * (size_t)hs + d] = sO[i * L.ldo + d] / sL[i];
        }
        for (int i = threadIdx.x; i < nr; i += blockDim.x)
            lse[bh * (size_t)T + (size_t)(r0 + i)] = sM[i] + logf(sL[i]);
    }
}

/* a warp's 16 rows of fragments acc (16 x nd*16) added by atomicAdd into
 * dst (row stride ldd) through st (its 16 rows of shared memory, stride
 * lds); rows n and past skipped */
__device__ __forceinline__ void tc_put(nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> (&acc)[TC_MAXD],
                                       float *st, int lds, int nd, float *dst, size_t ldd, int n, int hs)
{
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int db = 0; db < TC_MAXD; db++)
        if (db < nd)
            nvcuda::wmma::store_matrix_sync(st + db * 16, acc[db], lds, nvcuda::wmma::mem_row_major);
    __syncwarp();
    for (int idx = lane; idx < 16 * hs; idx += 32) {
        int j = idx / hs, d = idx - j * hs;
        if (j < n)
            atomicAdd(dst + (size_t)j * ldd + d, st[j * lds + d]);
    }
    __syncwarp();
}

template <typename T16>
__global__ void __launch_bounds__(TC_TPB) k_flash_tc_bwd(float *dqkv, float *dkv, const float *dout, const float *out,
                                                         const float *lse, const float *qkv, const float *kv,
                                                         size_t ldk, int q0, int Tk, int B, int T, int C, int NH,
                                                         int KV, float scale)
{
    using namespace nvcuda;
    extern __shared__ __align__(128) unsigned char tsm[];
    const int hs = C / NH, nd = hs / 16, warp = threadIdx.x >> 5, lane = threadIdx.x & 31, w0 = warp * 16;
    const tc_smem L = tc_layout(hs, 1);
    T16 *sQ = (T16 *)(tsm + L.q), *sK = (T16 *)(tsm + L.k), *sV = (T16 *)(tsm + L.v), *sdO = (T16 *)(tsm + L.o);
    T16 *sP = (T16 *)(tsm + L.p), *sdS = (T16 *)(tsm + L.p2);
    float *sS = (float *)(tsm + L.s), *sdP = (float *)(tsm + L.s2), *sdQ = (float *)(tsm + L.s);
    float *sLse = (float *)(tsm + L.m), *sD = (float *)(tsm + L.l);
    const size_t kvc = (size_t)KV * (size_t)hs, ld3 = (size_t)C + 2 * kvc, grp = (size_t)(NH / KV);
    const int nkt = (Tk + TC_BC - 1) / TC_BC;
    const size_t tiles = (size_t)B * (size_t)NH * (size_t)nkt;
    for (size_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int kt = (int)(tile % (size_t)nkt), c0 = kt * TC_BC, nc = Tk - c0 < TC_BC ? Tk - c0 : TC_BC;
        const size_t bh = tile / (size_t)nkt, h = bh % (size_t)NH, b = bh / (size_t)NH;
        const int first = c0 - q0 > 0 ? c0 - q0 : 0; /* the first query row that sees key c0 */
        if (first >= T)
            continue; /* (the same for every thread) */
        const size_t kof = b * (size_t)Tk * ldk + (h / grp) * (size_t)hs;
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> adk[TC_MAXD], adv[TC_MAXD];
#pragma unroll
        for (int db = 0; db < TC_MAXD; db++)
            wmma::fill_fragment(adk[db], 0.0f), wmma::fill_fragment(adv[db], 0.0f);
        __syncthreads(); /* the previous tile's readers are done */
        tc_load(sK, L.ldh, kv + kof + (size_t)c0 * ldk, ldk, nc, TC_BC, hs);
        tc_load(sV, L.ldh, kv + kof + kvc + (size_t)c0 * ldk, ldk, nc, TC_BC, hs);
        for (int r0 = first / TC_BR * TC_BR; r0 < T; r0 += TC_BR) {
            const int nr = T - r0 < TC_BR ? T - r0 : TC_BR;
            const size_t qrow = b * (size_t)T + (size_t)r0;
            __syncthreads(); /* the last query tile's readers are done */
            tc_load(sQ, L.ldh, qkv + qrow * ld3 + h * (size_t)hs, ld3, nr, TC_BR, hs);
            tc_load(sdO, L.ldh, dout + qrow * (size_t)C + h * (size_t)hs, (size_t)C, nr, TC_BR, hs);
            for (int i = warp; i < TC_BR; i += TC_TPB / 32) { /* D = dO . out, a warp a row */
                float part = 0.0f;
                const size_t o = (qrow + (size_t)i) * (size_t)C + h * (size_t)hs;
                for (int d = lane; i < nr && d < hs; d += 32)
                    part += dout[o + d] * out[o + d];
                part = warp_sum(part);
                if (lane == 0)
                    sD[i] = part, sLse[i] = i < nr ? lse[bh * (size_t)T + (size_t)(r0 + i)] : 0.0f;
            }
            __syncthreads();
            const bool live = w0 < nr && q0 + r0 + w0 + 15 >= c0; /* a row of the warp sees a key of the tile */
            if (live) {
                tc_abt(sS + w0 * L.lds, L.lds, sQ + w0 * L.ldh, L.ldh, sK, L.ldh, nd);
                tc_abt(sdP + w0 * L.lds, L.lds, sdO + w0 * L.ldh, L.ldh, sV, L.ldh, nd);
                __syncwarp();
            }
            { /* P and dS, rounded: two lanes a row, 32 columns each (zeros for a dead strip) */
                const int i = w0 + (lane >> 1), c1 = (lane & 1) * 32, pos = q0 + r0 + i;
                for (int c = c1; c < c1 + 32; c++) {
                    float p = 0.0f, ds = 0.0f;
                    if (live && i < nr && c < nc && c0 + c <= pos) {
                        p = expf(sS[i * L.lds + c] * scale - sLse[i]);
                        ds = scale * p * (sdP[i * L.lds + c] - sD[i]);
                    }
                    sP[i * L.ldp + c] = tc_cvt<T16>(p);
                    sdS[i * L.ldp + c] = tc_cvt<T16>(ds);
                }
            }
            __syncthreads(); /* every strip's P and dS */
            /* dV += P^T dO, dK += dS^T Q for the warp's 16 keys */
#pragma unroll
            for (int db = 0; db < TC_MAXD; db++)
                if (db < nd) {
#pragma unroll
                    for (int qb = 0; qb < TC_BR / 16; qb++) {
                        wmma::fragment<wmma::matrix_a, 16, 16, 16, T16, wmma::col_major> fa;
                        wmma::fragment<wmma::matrix_b, 16, 16, 16, T16, wmma::row_major> fb;
                        wmma::load_matrix_sync(fa, sP + qb * 16 * L.ldp + w0, L.ldp);
                        wmma::load_matrix_sync(fb, sdO + qb * 16 * L.ldh + db * 16, L.ldh);
                        wmma::mma_sync(adv[db], fa, fb, adv[db]);
                        wmma::load_matrix_sync(fa, sdS + qb * 16 * L.ldp + w0, L.ldp);
                        wmma::load_matrix_sync(fb, sQ + qb * 16 * L.ldh + db * 16, L.ldh);
                        wmma::mma_sync(adk[db], fa, fb, adk[db]);
                    }
                }
            if (live) { /* dQ += dS K for the warp's 16 query rows (sdQ over the spent S, dP) */
#pragma unroll
                for (int db = 0; db < TC_MAXD; db++)
                    if (db < nd) {
                        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
                        wmma::fill_fragment(acc, 0.0f);
#pragma unroll
                        for (int kb2 = 0; kb2 < TC_BC / 16; kb2++) {
                            wmma::fragment<wmma::matrix_a, 16, 16, 16, T16, wmma::row_major> fa;
                            wmma::fragment<wmma::matrix_b, 16, 16, 16, T16, wmma::row_major> fb;
                            wmma::load_matrix_sync(fa, sdS + w0 * L.ldp + kb2 * 16, L.ldp);
                            wmma::load_matrix_sync(fb, sK + kb2 * 16 * L.ldh + db * 16, L.ldh);
                            wmma::mma_sync(acc, fa, fb, acc);
                        }
                        wmma::store_matrix_sync(sdQ + w0 * L.ldo + db * 16, acc, L.ldo, wmma::mem_row_major);
                    }
                __syncwarp();
                for (int idx = lane; idx < 16 * hs; idx += 32) {
                    int i = w0 + idx / hs, d = idx % hs;
                    if (i < nr)
                        atomicAdd(dqkv + (qrow + (size_t)i) * ld3 + h * (size_t)hs + d, sdQ[i * L.ldo + d]);
                }
            }
        }
        __syncthreads(); /* every warp's dQ rows are out of sdQ */
        /* the tile's dK, then dV: the warp's 16 keys through its rows of sdQ */
        float *st = sdQ + w0 * L.ldo;
        tc_put(adk, st, L.ldo, nd, dkv + kof + (size_t)(c0 + w0) * ldk, ldk, nc - w0, hs);
        tc_put(adv, st, L.ldo, nd, dkv + kof + kvc + (size_t)(c0 + w0) * ldk, ldk, nc - w0, hs);
    }
}

/* ---------------------------------------------------------------- rotary */

/* One block per token row (b, t) of qkv (ld floats a row): the pairs
 * (i, i + half) of its heads heads (NH Q heads then KV K heads, contiguous
 * from the row's start) rotated by sgn (t0 + t) theta^(-2i/hs), as zk_rope: the
 * angle, cos and sin in double (once per i, into shared memory: 2 half
 * floats), the rotation in fp32 without FMA contraction.  V untouched. */
__global__ void k_rope(float *qkv, int T, int t0, int hs, int heads, size_t ld, size_t rows, float theta, double sgn)
{
    extern __shared__ float sm[];
    const int half = hs / 2;
    float *scs = sm, *ssn = sm + half;
    const size_t pairs = (size_t)heads * (size_t)half;
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const int t = t0 + (int)(r % (size_t)T);
        __syncthreads(); /* the previous row's readers of scs, ssn are done */
        for (int i = threadIdx.x; i < half; i += blockDim.x) {
            double a = sgn * (double)t * pow((double)theta, -2.0 * (double)i / (double)hs);
            scs[i] = (float)cos(a);
            ssn[i] = (float)sin(a);
        }
        __syncthreads();
        float *row = qkv + r * ld;
        for (size_t p = threadIdx.x; p < pairs; p += blockDim.x) {
            const int i = (int)(p % (size_t)half);
            float *x = row + (p / (size_t)half) * (size_t)hs;
            const float x1 = x[i], x2 = x[i + half], cs = scs[i], sn = ssn[i];
            x[i] = __fsub_rn(__fmul_rn(x1, cs), __fmul_rn(x2, sn));
            x[i + half] = __fadd_rn(__fmul_rn(x2, cs), __fmul_rn(x1, sn));
        }
    }
}

/* ------------------------------------------------------------------- GELU */

#define GELU_K 0.7978845608028654f
#define GELU_A 0.044715f

__global__ void k_gelu_fwd(float *out, const float *inp, size_t n)
{
    GSTRIDE(i, n) {
        float x = inp[i];
        out[i] = x / (1.0f + expf(-2.0f * GELU_K * (x + GELU_A * x * x * x)));
    }
}

/* set: dinp = 0 + the term, its old values unread (as zeroing and adding) */
__global__ void k_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n, int set)
{
    GSTRIDE(i, n) {
        float x = inp[i], x2 = x * x;
        float s = 1.0f / (1.0f + expf(-2.0f * GELU_K * x * (1.0f + GELU_A * x2)));
        float g = s + 2.0f * x * s * (1.0f - s) * GELU_K * (1.0f + 3.0f * GELU_A * x2);
        dinp[i] = (set ? 0.0f : dinp[i]) + g * dout[i];
    }
}

/* ----------------------------------------------------------------- SwiGLU */

/* inp[N][2F]: per row the gate g then the up projection u; out[N][F] =
 * silu(g) u, silu(g) = g sigmoid(g) */
__global__ void k_swiglu_fwd(float *out, const float *inp, int F, size_t n)
{
    size_t f = (size_t)F;
    GSTRIDE(i, n) {
        size_t r = i / f, k = i % f;
        float g = inp[2 * r * f + k], u = inp[2 * r * f + f + k];
        out[i] = g / (1.0f + expf(-g)) * u;
    }
}

/* dg += dout u s (1 + g (1 - s)), du += dout g s, s = sigmoid(g) */
__global__ void k_swiglu_bwd(float *dinp, const float *inp, const float *dout, int F, size_t n, int set)
{
    size_t f = (size_t)F;
    GSTRIDE(i, n) {
        size_t r = i / f, k = i % f, gi = 2 * r * f + k, ui = gi + f;
        float g = inp[gi], u = inp[ui], d = dout[i];
        float s = 1.0f / (1.0f + expf(-g));
        dinp[gi] = (set ? 0.0f : dinp[gi]) + d * u * s * (1.0f + g * (1.0f - s));
        dinp[ui] = (set ? 0.0f : dinp[ui]) + d * g * s;
    }
}

__global__ void k_acc(float *y, const float *x, size_t n)
{
    GSTRIDE(i, n) y[i] += x[i];
}

/* rows of n: y[r ly + j] += x[r lx + j] */
__global__ void k_acc_rows(float *y, size_t ly, const float *x, size_t lx, size_t n, size_t total)
{
    GSTRIDE(i, total) y[(i / n) * ly + i % n] += x[(i / n) * lx + i % n];
}

/* ---------------------------------------------------------- cross-entropy */

__global__ void k_crossentropy(float *logits, const int *targets, int N, int V, float dn, double *loss)
{
    __shared__ float red[32];
    size_t vv = (size_t)V;
    for (size_t r = blockIdx.x; r < (size_t)N; r += gridDim.x) {
        float *x = logits + r * vv;
        size_t tg = (size_t)targets[r];
        float xt = x[tg]; /* read before the writes below (block_sum's barriers lie between) */
        float mx = -INFINITY;
        for (size_t i = threadIdx.x; i < vv; i += blockDim.x)
            mx = x[i] > mx ? x[i] : mx;
        mx = block_max(mx, red);
        float s = 0.0f;
        for (size_t i = threadIdx.x; i < vv; i += blockDim.x)
            s += expf(x[i] - mx);
        s = block_sum(s, red);
        if (threadIdx.x == 0)
            atomicAdd(loss, log((double)s) + (double)mx - (double)xt);
        float f = dn / s;
        for (size_t i = threadIdx.x; i < vv; i += blockDim.x) {
            float g = __fmul_rn(expf(x[i] - mx), f);
            x[i] = i == tg ? __fsub_rn(g, dn) : g;
        }
    }
}

/* the same over a vocabulary shard (zk_xent_max, zk_xent_sums,
 * zk_xent_grad): a block per row */
__global__ void k_xent_max(const float *logits, int N, int V, float *mx)
{
    __shared__ float red[32];
    size_t vv = (size_t)V;
    for (size_t r = blockIdx.x; r < (size_t)N; r += gridDim.x) {
        const float *x = logits + r * vv;
        float m = -INFINITY;
        for (size_t i = threadIdx.x; i < vv; i += blockDim.x)
            m = x[i] > m ? x[i] : m;
        m = block_max(m, red);
        if (threadIdx.x == 0)
            mx[r] = m;
    }
}

__global__ void k_xent_sums(float *logits, const int *targets, int N, int V, const float *mx, float *se, float *tl)
{
    __shared__ float red[32];
    size_t vv = (size_t)V;
    for (size_t r = blockIdx.x; r < (size_t)N; r += gridDim.x) {
        float *x = logits + r * vv;
        int tg = targets[r];
        float xt = tg >= 0 ? x[tg] : 0.0f;
        /* every thread has read the target's logit before any writes its
         * exponential over it (the thread owning tg may be in another warp) */
        __syncthreads();
        float s = 0.0f;
        for (size_t i = threadIdx.x; i < vv; i += blockDim.x) {
            float e = expf(x[i] - mx[r]);
            x[i] = e;
            s += e;
        }
        s = block_sum(s, red);
        if (threadIdx.x == 0) {
            se[r] = s;
            tl[r] = xt;
        }
    }
}

__global__ void k_xent_grad(float *logits, const int *targets, int N, int V, const float *se, float dn)
{
    size_t vv = (size_t)V;
    for (size_t r = blockIdx.x; r < (size_t)N; r += gridDim.x) {
        float *x = logits + r * vv;
        float f = dn / se[r];
        int tg = targets[r];
        for (size_t i = threadIdx.x; i < vv; i += blockDim.x) {
            float g = __fmul_rn(x[i], f);
            x[i] = (int)i == tg ? __fsub_rn(g, dn) : g;
        }
    }
}

/* -------------------------------------------------------------- optimizer */

/* as zk_adamw, operation for operation (no FMA contraction) */
__global__ void k_adamw(float *p, const void *g, int gdt, float gscale, float *m, float *v, size_t n, float beta1,
                        float beta2, float a1, float a2, float eps, float step, float inv_sqrt_bc2, float decay)
{
    GSTRIDE(i, n) {
        float gi = ld(g, gdt, i);
        if (gscale != 1.0f)
            gi = __fmul_rn(gi, gscale);
        float mi = __fadd_rn(__fmul_rn(beta1, m[i]), __fmul_rn(a1, gi));
        float vi = __fadd_rn(__fmul_rn(beta2, v[i]), __fmul_rn(__fmul_rn(a2, gi), gi));
        m[i] = mi;
        v[i] = vi;
        float den = __fadd_rn(__fmul_rn(__fsqrt_rn(vi), inv_sqrt_bc2), eps);
        p[i] = __fsub_rn(__fmul_rn(p[i], decay), __fdiv_rn(__fmul_rn(step, mi), den));
    }
}

/* as zk_sgd: mom = momentum mom + g + wd p; p -= lr mom */
__global__ void k_sgd(float *p, const void *g, int gdt, float gscale, float *mom, size_t n, float lr, float momentum,
                      float wd)
{
    GSTRIDE(i, n) {
        float gi = ld(g, gdt, i);
        if (gscale != 1.0f)
            gi = __fmul_rn(gi, gscale);
        float u = __fadd_rn(__fadd_rn(__fmul_rn(momentum, mom[i]), gi), __fmul_rn(wd, p[i]));
        mom[i] = u;
        p[i] = __fsub_rn(p[i], __fmul_rn(lr, u));
    }
}

__global__ void k_sumsq(const void *x, int dt, size_t n, double *out)
{
    __shared__ double red[32];
    double s = 0.0;
    GSTRIDE(i, n) {
        double f = (double)ld(x, dt, i);
        s += f * f;
    }
    s = block_sum_d(s, red);
    if (threadIdx.x == 0)
        atomicAdd(out, s);
}

} /* namespace */

/* ============================================================ launchers */

extern "C" {

cudaError_t zc_convert(cudaStream_t s, void *dst, int ddt, const void *src, int sdt, size_t n, int acc)
{
    if (n == 0)
        return cudaSuccess;
    if (!acc && sdt == ddt)
        return cudaMemcpyAsync(dst, src, n * (sdt == 0 ? 4 : 2), cudaMemcpyDeviceToDevice, s);
    k_convert<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(dst, ddt, src, sdt, n, acc);
    return cudaGetLastError();
}

cudaError_t zc_init(cudaStream_t s, void *dst, int dt, const ze_init_desc *desc, size_t first, size_t n)
{
    if (n == 0)
        return cudaSuccess;
    k_init<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(dst, dt, *desc, first, n);
    return cudaGetLastError();
}

cudaError_t zc_narrow(cudaStream_t s, void *buf, int dt, size_t n)
{
    if (dt == 0 || n == 0)
        return cudaSuccess;
    /* [0,1), then [a, min(2a, n)) for a = 1, 2, 4, ... in increasing order */
    k_narrow<<<1, 32, 0, s>>>(buf, dt, 0, 1);
    for (size_t a = 1; a < n; a *= 2) {
        size_t b = 2 * a < n ? 2 * a : n;
        k_narrow<<<grid_for(b - a, TPB, MAX_BLOCKS), TPB, 0, s>>>(buf, dt, a, b);
    }
    return cudaGetLastError();
}

cudaError_t zc_widen(cudaStream_t s, void *buf, int dt, size_t n)
{
    if (dt == 0 || n == 0)
        return cudaSuccess;
    /* the same ranges as zc_narrow, highest first, [0,1) last */
    size_t top = 1;
    while (top * 2 < n)
        top *= 2; /* the last range begins at top (n > 1) */
    for (size_t a = top; n > 1 && a >= 1; a /= 2) {
        size_t b = 2 * a < n ? 2 * a : n;
        k_widen<<<grid_for(b - a, TPB, MAX_BLOCKS), TPB, 0, s>>>(buf, dt, a, b);
    }
    k_widen<<<1, 32, 0, s>>>(buf, dt, 0, 1);
    return cudaGetLastError();
}

cudaError_t zc_embed_fwd(cudaStream_t s, float *out, const int *tok, const float *wte, const float *wpe, int B,
                         int T, int C)
{
    if (B <= 0 || T <= 0 || C <= 0)
        return cudaSuccess;
    size_t n = (size_t)B * (size_t)T * (size_t)C;
    k_embed_fwd<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(out, tok, wte, wpe, T, C, n);
    return cudaGetLastError();
}

cudaError_t zc_embed_bwd(cudaStream_t s, float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T,
                         int C)
{
    if (B <= 0 || T <= 0 || C <= 0)
        return cudaSuccess;
    size_t n = (size_t)B * (size_t)T * (size_t)C;
    k_embed_bwd<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(dwte, dwpe, dout, tok, T, C, n);
    return cudaGetLastError();
}

cudaError_t zc_layernorm_fwd(cudaStream_t s, float *out, float *mean, float *rstd, const float *inp,
                             const float *w, const float *b, int N, int C)
{
    if (N <= 0 || C <= 0)
        return cudaSuccess;
    k_layernorm_fwd<<<grid_for((size_t)N, 1, MAX_ROW_BLOCKS), ROW_TPB, 0, s>>>(out, mean, rstd, inp, w, b, N, C);
    return cudaGetLastError();
}

/* row chunks of a column sum: at least COL_ROWS rows, at most 65535 chunks
 * (gridDim.y) */
static size_t col_rows(int N)
{
    size_t per = COL_ROWS, n = (size_t)N;
    if ((n + per - 1) / per > 65535)
        per = (n + 65534) / 65535;
    return per;
}

cudaError_t zc_layernorm_bwd(cudaStream_t s, float *dinp, float *dw, float *db, const float *dout,
                             const float *inp, const float *w, const float *mean, const float *rstd, int N, int C)
{
    if (N <= 0 || C <= 0)
        return cudaSuccess;
    k_layernorm_bwd_dx<<<grid_for((size_t)N, 1, MAX_ROW_BLOCKS), ROW_TPB, 0, s>>>(dinp, dout, inp, w, mean, rstd,
                                                                                   N, C);
    size_t per = col_rows(N);
    dim3 grid((unsigned)(((size_t)C + TPB - 1) / TPB), (unsigned)(((size_t)N + per - 1) / per));
    k_layernorm_bwd_dwdb<<<grid, TPB, 0, s>>>(dw, db, dout, inp, mean, rstd, N, C, per);
    return cudaGetLastError();
}

cudaError_t zc_rmsnorm_fwd(cudaStream_t s, float *out, float *rstd, const float *inp, const float *w, int N, int C)
{
    if (N <= 0 || C <= 0)
        return cudaSuccess;
    k_rmsnorm_fwd<<<grid_for((size_t)N, 1, MAX_ROW_BLOCKS), ROW_TPB, 0, s>>>(out, rstd, inp, w, N, C);
    return cudaGetLastError();
}

cudaError_t zc_rmsnorm_bwd(cudaStream_t s, float *dinp, float *dw, const float *dout, const float *inp,
                           const float *w, const float *rstd, int N, int C)
{
    if (N <= 0 || C <= 0)
        return cudaSuccess;
    k_rmsnorm_bwd_dx<<<grid_for((size_t)N, 1, MAX_ROW_BLOCKS), ROW_TPB, 0, s>>>(dinp, dout, inp, w, rstd, N, C);
    size_t per = col_rows(N);
    dim3 grid((unsigned)(((size_t)C + TPB - 1) / TPB), (unsigned)(((size_t)N + per - 1) / per));
    k_rmsnorm_bwd_dw<<<grid, TPB, 0, s>>>(dw, dout, inp, rstd, N, C, per);
    return cudaGetLastError();
}

cudaError_t zc_bias_rows(cudaStream_t s, float *out, const float *bias, int N, int OC)
{
    if (N <= 0 || OC <= 0)
        return cudaSuccess;
    size_t n = (size_t)N * (size_t)OC;
    k_bias_rows<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(out, bias, OC, n);
    return cudaGetLastError();
}

cudaError_t zc_bias_grad(cudaStream_t s, float *dbias, const float *dout, int N, int OC)
{
    if (N <= 0 || OC <= 0)
        return cudaSuccess;
    size_t per = col_rows(N);
    dim3 grid((unsigned)(((size_t)OC + TPB - 1) / TPB), (unsigned)(((size_t)N + per - 1) / per));
    k_colsum<<<grid, TPB, 0, s>>>(dbias, dout, N, OC, per);
    return cudaGetLastError();
}

/* KV <= 0: NH; KV must divide NH (else no head of the group would map to a
 * K/V head inside the row: refused) */
static cudaError_t kv_heads(int NH, int *KV)
{
    if (*KV <= 0)
        *KV = NH;
    return *KV > NH || NH % *KV != 0 ? cudaErrorInvalidValue : cudaSuccess;
}

/* What the attention launchers share: nothing to launch for an empty
 * shape (*rows 0); KV checked (kv_heads); the kernel's dynamic shared
 * memory, vecs rows of hs floats, opted into where it and the kernel's
 * static `fixed` bytes pass the default 48 KiB (up to 227 KiB on Hopper;
 * a head wider than that fails here); the scores' scale; the rows (b, h, t). */
static cudaError_t att_launch(const void *kern, int B, int T, int C, int NH, int *KV, int vecs, size_t fixed,
                              size_t *shm, float *scale, size_t *rows)
{
    *rows = 0;
    if (B <= 0 || T <= 0 || C <= 0 || NH <= 0)
        return cudaSuccess;
    cudaError_t e = kv_heads(NH, KV);
    if (e != cudaSuccess)
        return e;
    int hs = C / NH;
    *shm = (size_t)vecs * (size_t)hs * sizeof(float);
    if (*shm + fixed > 48 * 1024 &&
        (e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)*shm)) != cudaSuccess)
        return e;
    *scale = 1.0f / sqrtf((float)hs);
    *rows = (size_t)B * (size_t)NH * (size_t)T;
    return cudaSuccess;
}

/* (static shared memory: red[32], and flash's forward its chunk's scores) */
#define ATT_RED_BYTES (32 * sizeof(float))

cudaError_t zc_causal_softmax(cudaStream_t s, float *att, int T, size_t rows)
{
    if (T <= 0 || rows == 0)
        return cudaSuccess;
    k_causal_softmax<<<grid_for(rows, 1, MAX_ROW_BLOCKS), ROW_TPB, 0, s>>>(att, T, rows);
    return cudaGetLastError();
}

cudaError_t zc_softmax_bwd(cudaStream_t s, float *ds, const float *p, size_t pstride, int T, int heads, float scale)
{
    size_t rows = (size_t)(heads > 0 ? heads : 0) * (size_t)(T > 0 ? T : 0);
    if (rows == 0)
        return cudaSuccess;
    k_softmax_bwd<<<grid_for(rows, 1, MAX_ROW_BLOCKS), ROW_TPB, 0, s>>>(ds, p, pstride, T, rows, scale);
    return cudaGetLastError();
}

cudaError_t zc_flash_fwd(cudaStream_t s, float *out, float *lse, const float *qkv, int B, int T, int C, int NH,
                         int KV)
{
    size_t shm = 0, rows;
    float scale = 0.0f;
    cudaError_t e = att_launch((const void *)k_flash_fwd, B, T, C, NH, &KV, 1 + ATT_TPB / 32,
                               ATT_RED_BYTES + FA_KCH * sizeof(float), &shm, &scale, &rows);
    if (e != cudaSuccess || rows == 0)
        return e;
    size_t ld3 = (size_t)C + 2 * (size_t)KV * (size_t)(C / NH);
    k_flash_fwd<<<grid_for(rows, 1, MAX_ROW_BLOCKS), ATT_TPB, shm, s>>>(out, lse, qkv, qkv + C, ld3, 0, T, B, T, C, NH,
                                                                       KV, scale);
    return cudaGetLastError();
}

cudaError_t zc_flash_fwd_part(cudaStream_t s, float *out, float *lse, const float *qkv, const float *kv, int B, int T,
                              int q0, int Tk, int C, int NH, int KV)
{
    size_t shm = 0, rows;
    float scale = 0.0f;
    if (q0 < 0 || q0 + T > Tk)
        return cudaErrorInvalidValue;
    cudaError_t e = att_launch((const void *)k_flash_fwd, B, T, C, NH, &KV, 1 + ATT_TPB / 32,
                               ATT_RED_BYTES + FA_KCH * sizeof(float), &shm, &scale, &rows);
    if (e != cudaSuccess || rows == 0)
        return e;
    size_t ldk = 2 * (size_t)KV * (size_t)(C / NH);
    k_flash_fwd<<<grid_for(rows, 1, MAX_ROW_BLOCKS), ATT_TPB, shm, s>>>(out, lse, qkv, kv, ldk, q0, Tk, B, T, C, NH, KV,
                                                                       scale);
    return cudaGetLastError();
}

cudaError_t zc_flash_bwd(cudaStream_t s, float *dqkv, const float *dout, const float *out, const float *lse,
                         const float *qkv, int B, int T, int C, int NH, int KV)
{
    size_t shm = 0, rows;
    float scale = 0.0f;
    cudaError_t e = att_launch((const void *)k_flash_bwd, B, T, C, NH, &KV, 2 + ATT_TPB / 32, ATT_RED_BYTES, &shm,
                               &scale, &rows);
    if (e != cudaSuccess || rows == 0)
        return e;
    size_t ld3 = (size_t)C + 2 * (size_t)KV * (size_t)(C / NH);
    k_flash_bwd<<<grid_for(rows, 1, MAX_ROW_BLOCKS), ATT_TPB, shm, s>>>(dqkv, dqkv + C, dout, out, lse, qkv, qkv + C, ld3,
                                                                       0, T, B, T, C, NH, KV, scale);
    return cudaGetLastError();
}

cudaError_t zc_flash_bwd_part(cudaStream_t s, float *dqkv, float *dkv, const float *dout, const float *out,
                              const float *lse, const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C,
                              int NH, int KV)
{
    size_t shm = 0, rows;
    float scale = 0.0f;
    if (q0 < 0 || q0 + T > Tk)
        return cudaErrorInvalidValue;
    cudaError_t e = att_launch((const void *)k_flash_bwd, B, T, C, NH, &KV, 2 + ATT_TPB / 32, ATT_RED_BYTES, &shm,
                               &scale, &rows);
    if (e != cudaSuccess || rows == 0)
        return e;
    size_t ldk = 2 * (size_t)KV * (size_t)(C / NH);
    k_flash_bwd<<<grid_for(rows, 1, MAX_ROW_BLOCKS), ATT_TPB, shm, s>>>(dqkv, dkv, dout, out, lse, qkv, kv, ldk, q0, Tk,
                                                                       B, T, C, NH, KV, scale);
    return cudaGetLastError();
}

int zc_flash_tc_fits(int C, int NH, size_t smem)
{
    if (C <= 0 || NH <= 0 || C % NH)
        return 0;
    int hs = C / NH;
    return hs % 16 == 0 && hs <= 16 * TC_MAXD && tc_layout(hs, 1).total <= smem && tc_layout(hs, 0).total <= smem;
}

/* what both tensor-core launchers share: the shape checked (KV, the head
 * size, the part's positions), the keys' layout (kv NULL: the whole
 * sequence's, in qkv), the kernel's shared memory opted into */
static cudaError_t tc_args(const void *kern, int bwd, int B, int T, int C, int NH, int *KV, const float *qkv,
                           const float **kv, size_t *ldk, int *q0, int *Tk, size_t *shm, float *scale, int *none)
{
    *none = B <= 0 || T <= 0 || C <= 0 || NH <= 0;
    if (*none)
        return cudaSuccess;
    cudaError_t e = kv_heads(NH, KV);
    if (e != cudaSuccess)
        return e;
    if (!zc_flash_tc_fits(C, NH, (size_t)-1))
        return cudaErrorInvalidValue;
    int hs = C / NH;
    size_t kvc = (size_t)*KV * (size_t)hs;
    if (!*kv) {
        *kv = qkv + C, *ldk = (size_t)C + 2 * kvc, *q0 = 0, *Tk = T;
    } else {
        if (*q0 < 0 || *q0 + T > *Tk)
            return cudaErrorInvalidValue;
        *ldk = 2 * kvc;
    }
    *shm = tc_layout(hs, bwd).total;
    if (*shm > 48 * 1024 &&
        (e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)*shm)) != cudaSuccess)
        return e;
    *scale = 1.0f / sqrtf((float)hs);
    return cudaSuccess;
}

cudaError_t zc_flash_tc_fwd(cudaStream_t s, float *out, float *lse, const float *qkv, const float *kv, int B, int T,
                            int q0, int Tk, int C, int NH, int KV, int f16)
{
    size_t ldk = 0, shm = 0;
    float scale = 0.0f;
    int none = 0;
    const void *kern = f16 ? (const void *)k_flash_tc_fwd<__half> : (const void *)k_flash_tc_fwd<__nv_bfloat16>;
    cudaError_t e = tc_args(kern, 0, B, T, C, NH, &KV, qkv, &kv, &ldk, &q0, &Tk, &shm, &scale, &none);
    if (e != cudaSuccess || none)
        return e;
    size_t tiles = (size_t)B * (size_t)NH * (size_t)((T + TC_BR - 1) / TC_BR);
    unsigned g = grid_for(tiles, 1, MAX_ROW_BLOCKS);
    if (f16)
        k_flash_tc_fwd<__half><<<g, TC_TPB, shm, s>>>(out, lse, qkv, kv, ldk, q0, Tk, B, T, C, NH, KV, scale);
    else
        k_flash_tc_fwd<__nv_bfloat16><<<g, TC_TPB, shm, s>>>(out, lse, qkv, kv, ldk, q0, Tk, B, T, C, NH, KV, scale);
    return cudaGetLastError();
}

cudaError_t zc_flash_tc_bwd(cudaStream_t s, float *dqkv, float *dkv, const float *dout, const float *out,
                            const float *lse, const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C,
                            int NH, int KV, int f16)
{
    size_t ldk = 0, shm = 0;
    float scale = 0.0f;
    int none = 0;
    const void *kern = f16 ? (const void *)k_flash_tc_bwd<__half> : (const void *)k_flash_tc_bwd<__nv_bfloat16>;
    const float *kv0 = kv;
    cudaError_t e = tc_args(kern, 1, B, T, C, NH, &KV, qkv, &kv, &ldk, &q0, &Tk, &shm, &scale, &none);
    if (e != cudaSuccess || none)
        return e;
    if (!kv0)
        dkv = dqkv + C; /* the whole sequence's K and V gradients: dqkv's columns */
    size_t tiles = (size_t)B * (size_t)NH * (size_t)((Tk + TC_BC - 1) / TC_BC);
    unsigned g = grid_for(tiles, 1, MAX_ROW_BLOCKS);
    if (f16)
        k_flash_tc_bwd<__half><<<g, TC_TPB, shm, s>>>(dqkv, dkv, dout, out, lse, qkv, kv, ldk, q0, Tk, B, T, C, NH,
                                                        KV, scale);
    else
        k_flash_tc_bwd<__nv_bfloat16><<<g, TC_TPB, shm, s>>>(dqkv, dkv, dout, out, lse, qkv, kv, ldk, q0, Tk, B, T, C,
                                                               NH, KV, scale);
    return cudaGetLastError();
}

static cudaError_t rope(cudaStream_t s, float *qkv, int B, int T, int C, int NH, int KV, float theta, int t0,
                        double sgn)
{
    if (B <= 0 || T <= 0 || C <= 0 || NH <= 0)
        return cudaSuccess;
    if (KV <= 0)
        KV = NH;
    int hs = C / NH;
    if (hs < 2)
        return cudaSuccess; /* no pair to rotate */
    size_t shm = 2 * (size_t)(hs / 2) * sizeof(float);
    if (shm > 47 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(k_rope, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shm);
        if (e != cudaSuccess)
            return e;
    }
    size_t ld = (size_t)C + 2 * (size_t)KV * (size_t)hs, rows = (size_t)B * (size_t)T;
    k_rope<<<grid_for(rows, 1, MAX_ROW_BLOCKS), ROW_TPB, shm, s>>>(qkv, T, t0, hs, NH + KV, ld, rows, theta, sgn);
    return cudaGetLastError();
}

cudaError_t zc_rope_fwd(cudaStream_t s, float *qkv, int B, int T, int C, int NH, int KV, float theta, int t0)
{
    return rope(s, qkv, B, T, C, NH, KV, theta, t0, 1.0);
}

cudaError_t zc_rope_bwd(cudaStream_t s, float *dqkv, int B, int T, int C, int NH, int KV, float theta, int t0)
{
    return rope(s, dqkv, B, T, C, NH, KV, theta, t0, -1.0); /* the transpose of a rotation: the opposite angle */
}

cudaError_t zc_gelu_fwd(cudaStream_t s, float *out, const float *inp, size_t n)
{
    if (n == 0)
        return cudaSuccess;
    k_gelu_fwd<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(out, inp, n);
    return cudaGetLastError();
}

cudaError_t zc_gelu_bwd(cudaStream_t s, float *dinp, const float *inp, const float *dout, size_t n, int set)
{
    if (n == 0)
        return cudaSuccess;
    k_gelu_bwd<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(dinp, inp, dout, n, set);
    return cudaGetLastError();
}

cudaError_t zc_swiglu_fwd(cudaStream_t s, float *out, const float *inp, int N, int F)
{
    if (N <= 0 || F <= 0)
        return cudaSuccess;
    size_t n = (size_t)N * (size_t)F;
    k_swiglu_fwd<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(out, inp, F, n);
    return cudaGetLastError();
}

cudaError_t zc_swiglu_bwd(cudaStream_t s, float *dinp, const float *inp, const float *dout, int N, int F, int set)
{
    if (N <= 0 || F <= 0)
        return cudaSuccess;
    size_t n = (size_t)N * (size_t)F;
    k_swiglu_bwd<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(dinp, inp, dout, F, n, set);
    return cudaGetLastError();
}

cudaError_t zc_acc(cudaStream_t s, float *y, const float *x, size_t n)
{
    if (n == 0)
        return cudaSuccess;
    k_acc<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(y, x, n);
    return cudaGetLastError();
}

cudaError_t zc_acc_rows(cudaStream_t s, float *y, size_t ly, const float *x, size_t lx, size_t rows, size_t n)
{
    size_t total = rows * n;
    if (total == 0)
        return cudaSuccess;
    k_acc_rows<<<grid_for(total, TPB, MAX_BLOCKS), TPB, 0, s>>>(y, ly, x, lx, n, total);
    return cudaGetLastError();
}

cudaError_t zc_crossentropy(cudaStream_t s, float *logits, const int *targets, int N, int V, float dn,
                            double *loss)
{
    if (N <= 0 || V <= 0)
        return cudaSuccess;
    k_crossentropy<<<grid_for((size_t)N, 1, MAX_ROW_BLOCKS), ROW_TPB, 0, s>>>(logits, targets, N, V, dn, loss);
    return cudaGetLastError();
}

cudaError_t zc_xent_max(cudaStream_t s, const float *logits, int N, int V, float *mx)
{
    if (N <= 0)
        return cudaSuccess;
    k_xent_max<<<grid_for((size_t)N, 1, MAX_ROW_BLOCKS), ROW_TPB, 0, s>>>(logits, N, V, mx);
    return cudaGetLastError();
}

cudaError_t zc_xent_sums(cudaStream_t s, float *logits, const int *targets, int N, int V, const float *mx, float *se,
                         float *tl)
{
    if (N <= 0)
        return cudaSuccess;
    k_xent_sums<<<grid_for((size_t)N, 1, MAX_ROW_BLOCKS), ROW_TPB, 0, s>>>(logits, targets, N, V, mx, se, tl);
    return cudaGetLastError();
}

cudaError_t zc_xent_grad(cudaStream_t s, float *logits, const int *targets, int N, int V, const float *se, float dn)
{
    if (N <= 0)
        return cudaSuccess;
    k_xent_grad<<<grid_for((size_t)N, 1, MAX_ROW_BLOCKS), ROW_TPB, 0, s>>>(logits, targets, N, V, se, dn);
    return cudaGetLastError();
}

cudaError_t zc_adamw(cudaStream_t s, float *p, const void *g, int gdt, float gscale, float *m, float *v, size_t n,
                     float beta1, float beta2, float a1, float a2, float eps, float step, float inv_sqrt_bc2,
                     float decay)
{
    if (n == 0)
        return cudaSuccess;
    k_adamw<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(p, g, gdt, gscale, m, v, n, beta1, beta2, a1, a2, eps, step,
                                                         inv_sqrt_bc2, decay);
    return cudaGetLastError();
}

cudaError_t zc_sgd(cudaStream_t s, float *p, const void *g, int gdt, float gscale, float *mom, size_t n, float lr,
                   float momentum, float weight_decay)
{
    if (n == 0)
        return cudaSuccess;
    k_sgd<<<grid_for(n, TPB, MAX_BLOCKS), TPB, 0, s>>>(p, g, gdt, gscale, mom, n, lr, momentum, weight_decay);
    return cudaGetLastError();
}

cudaError_t zc_sumsq(cudaStream_t s, const void *x, int dt, size_t n, double *out)
{
    if (n == 0)
        return cudaSuccess;
    k_sumsq<<<grid_for(n, TPB, 1024), TPB, 0, s>>>(x, dt, n, out);
    return cudaGetLastError();
}

} /* extern "C" */
