/* kernels.c - the CPU math of one GPT training step (see kernels.h).
 *
 * Matrix multiplies go to OpenBLAS (cblas_sgemm); attention multiplies each
 * (batch, head) slice in place inside qkv through its row stride 3C, and only
 * the causal lower triangle (in row blocks of ZK_ATT_BLOCK) is multiplied.
 *
 * Elementwise loops are written in chunks of ZK_VL floats with a fixed inner
 * trip count: GCC's -O2 cost model vectorises only loops whose trip count it
 * knows and that need no runtime alias check, so each chunk is computed into
 * a local array and then stored.  That also keeps in-place calls (out == a)
 * correct.  exp() is a branch-free polynomial (zk_expf below) so that the
 * softmax, cross-entropy and GELU loops vectorise too. */
#include "kernels.h"
#include "half.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#include <time.h>

zk_gemm_stats zk_gemm_counters;
zk_gemm_log zk_gemm_calls;

/* Every matrix multiply of the step: OpenBLAS's sgemm, timed and counted
 * (2 M N K FLOPs) and logged by shape, so that the engine can report the
 * rate its GEMM phases reach against sgemm alone on the same calls. */
static void zk_sgemm(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                     float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cblas_sgemm(o, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    zk_gemm_counters.seconds += dt;
    zk_gemm_counters.flops += 2.0 * (double)M * (double)N * (double)K;
    zk_gemm_counters.calls++;
    char a = ta == CblasTrans ? 'T' : 'N', b = tb == CblasTrans ? 'T' : 'N';
    zk_gemm_log *g = &zk_gemm_calls;
    int i = 0;
    while (i < g->n && !(g->sig[i].ta == a && g->sig[i].tb == b && g->sig[i].M == M && g->sig[i].N == N &&
                         g->sig[i].K == K && g->sig[i].beta == beta))
        i++;
    if (i == g->n && g->n < ZK_GEMM_SIGS)
        g->sig[g->n++] = (zk_gemm_sig){a, b, M, N, K, beta, 0, 0.0};
    if (i < g->n) {
        g->sig[i].calls++;
        g->sig[i].seconds += dt;
    } else {
        g->other_calls++;
        g->other_seconds += dt;
    }
}

void zk_gemm_log_clear(void)
{
    memset(&zk_gemm_calls, 0, sizeof zk_gemm_calls);
}

#define ZK_VL 16          /* floats per chunk: one 64-byte line */
#define ZK_ATT_BLOCK 128  /* query rows per sgemm in attention */
#define ZK_LN_EPS 1e-5f

/* The elementwise kernels are built for the baseline x86-64 (SSE2, 4 floats
 * a vector) and again for AVX2 and AVX-512 (8 and 16); the loader picks the
 * widest the CPU has (GCC function multiversioning).  The results are the
 * same bit for bit: ISO C mode contracts nothing into FMAs, and every
 * reduction adds in the fixed order of the ZK_VL lanes, not the vector's. */
#if !defined(ZK_HOT) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define ZK_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef ZK_HOT   /* (-DZK_HOT= builds the baseline only) */
#define ZK_HOT
#endif

/* DST[i] = EXPR for i in [0, n), EXPR naming the index I. */
#define ZK_MAP(DST, N, I, ...)                                                    \
    do {                                                                          \
        float *zk_d_ = (DST);                                                     \
        size_t zk_n_ = (N), zk_b_ = 0;                                            \
        for (; zk_b_ + ZK_VL <= zk_n_; zk_b_ += ZK_VL) {                          \
            float zk_t_[ZK_VL];                                                   \
            for (size_t zk_k_ = 0; zk_k_ < ZK_VL; zk_k_++) {                      \
                size_t I = zk_b_ + zk_k_;                                         \
                zk_t_[zk_k_] = (__VA_ARGS__);                                     \
            }                                                                     \
            memcpy(zk_d_ + zk_b_, zk_t_, sizeof zk_t_);                           \
        }                                                                         \
        for (size_t I = zk_b_; I < zk_n_; I++)                                    \
            zk_d_[I] = (__VA_ARGS__);                                             \
    } while (0)

static inline uint32_t zk_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float zk_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* e^x within about 1 ulp (measured against double exp), branch-free so that loops
 * calling it vectorise.  Range reduction x = n ln2 + r (|r| <= ln2/2, ln2
 * split in two so that n ln2 is exact), Cephes' degree-6 polynomial for
 * e^r, times 2^n built in the exponent bits.  x < -87.3 gives 0, x > 88.3
 * gives inf (slightly early: e^88.72 is the float limit), NaN gives NaN.
 * Out-of-range lanes compute garbage that the final masks discard; no ?:
 * on floats, which GCC would turn into branches it then cannot if-convert
 * under -ftrapping-math. */
static inline float zk_expf(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    uint32_t scale = (zk_bits(t) - zk_bits(magic) + 127u) << 23; /* 2^n */
    y *= zk_float(scale);
    uint32_t under = 0u - (uint32_t)(x < -87.3f), over = 0u - (uint32_t)(x > 88.3f);
    return zk_float((zk_bits(y) & ~(under | over)) | (0x7F800000u & over));
}

/* ------------------------------------------------------- row reductions */

static inline float zk_row_max(const float *x, size_t n)
{
    float acc[ZK_VL];
    float m = -INFINITY;
    size_t i = 0;
    for (size_t k = 0; k < ZK_VL; k++)
        acc[k] = -INFINITY;
    for (; i + ZK_VL <= n; i += ZK_VL)
        for (size_t k = 0; k < ZK_VL; k++)
            acc[k] = x[i + k] > acc[k] ? x[i + k] : acc[k];
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    for (size_t k = 0; k < ZK_VL; k++)
        m = acc[k] > m ? acc[k] : m;
    return m;
}

/* x[i] = e^(x[i] - sub) in place; returns the sum of the new values. */
static inline float zk_row_exp_sum(float *restrict x, size_t n, float sub)
{
    float acc[ZK_VL] = {0};
    float s = 0.0f;
    size_t i = 0;
    for (; i + ZK_VL <= n; i += ZK_VL)
        for (size_t k = 0; k < ZK_VL; k++) {
            float e = zk_expf(x[i + k] - sub);
            x[i + k] = e;
            acc[k] += e;
        }
    for (; i < n; i++) {
        x[i] = zk_expf(x[i] - sub);
        s += x[i];
    }
    for (size_t k = 0; k < ZK_VL; k++)
        s += acc[k];
    return s;
}

static inline float zk_row_sum(const float *x, size_t n)
{
    float acc[ZK_VL] = {0};
    float s = 0.0f;
    size_t i = 0;
    for (; i + ZK_VL <= n; i += ZK_VL)
        for (size_t k = 0; k < ZK_VL; k++)
            acc[k] += x[i + k];
    for (; i < n; i++)
        s += x[i];
    for (size_t k = 0; k < ZK_VL; k++)
        s += acc[k];
    return s;
}

static inline float zk_row_dot(const float *a, const float *b, size_t n)
{
    float acc[ZK_VL] = {0};
    float s = 0.0f;
    size_t i = 0;
    for (; i + ZK_VL <= n; i += ZK_VL)
        for (size_t k = 0; k < ZK_VL; k++)
            acc[k] += a[i + k] * b[i + k];
    for (; i < n; i++)
        s += a[i] * b[i];
    for (size_t k = 0; k < ZK_VL; k++)
        s += acc[k];
    return s;
}

/* sum of (x - c)^2 */
static inline float zk_row_sqdev(const float *x, size_t n, float c)
{
    float acc[ZK_VL] = {0};
    float s = 0.0f;
    size_t i = 0;
    for (; i + ZK_VL <= n; i += ZK_VL)
        for (size_t k = 0; k < ZK_VL; k++) {
            float d = x[i + k] - c;
            acc[k] += d * d;
        }
    for (; i < n; i++)
        s += (x[i] - c) * (x[i] - c);
    for (size_t k = 0; k < ZK_VL; k++)
        s += acc[k];
    return s;
}

/* ------------------------------------------------------------ embedding */

ZK_HOT void zk_embed_fwd(float *restrict out, const int *restrict tok, const float *restrict wte,
                  const float *restrict wpe, int B, int T, int C)
{
    size_t c = (size_t)C;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t bt = (size_t)b * (size_t)T + (size_t)t;
            float *o = out + bt * c;
            if (tok[bt] < 0) {   /* another shard's token */
                if (wpe)
                    memcpy(o, wpe + (size_t)t * c, c * sizeof *o);
                else
                    memset(o, 0, c * sizeof *o);
                continue;
            }
            const float *e = wte + (size_t)tok[bt] * c;
            if (wpe) {
                const float *p = wpe + (size_t)t * c;
                ZK_MAP(o, c, i, e[i] + p[i]);
            } else
                memcpy(o, e, c * sizeof *o);
        }
}

ZK_HOT void zk_embed_bwd(float *restrict dwte, float *restrict dwpe, const float *restrict dout,
                  const int *restrict tok, int B, int T, int C)
{
    size_t c = (size_t)C;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t bt = (size_t)b * (size_t)T + (size_t)t;
            const float *d = dout + bt * c;
            if (tok[bt] >= 0) {
                float *e = dwte + (size_t)tok[bt] * c;
                ZK_MAP(e, c, i, e[i] + d[i]);
            }
            if (dwpe) {
                float *p = dwpe + (size_t)t * c;
                ZK_MAP(p, c, i, p[i] + d[i]);
            }
        }
}

/* ------------------------------------------------------------ layernorm */

ZK_HOT void zk_layernorm_fwd(float *restrict out, float *restrict mean, float *restrict rstd, const float *restrict inp,
                      const float *restrict w, const float *restrict b, int N, int C)
{
    size_t c = (size_t)C;
    for (size_t r = 0; r < (size_t)N; r++) {
        const float *x = inp + r * c;
        float *o = out + r * c;
        float mu = zk_row_sum(x, c) / (float)C;
        float rs = 1.0f / sqrtf(zk_row_sqdev(x, c, mu) / (float)C + ZK_LN_EPS);
        ZK_MAP(o, c, i, (x[i] - mu) * rs * w[i] + b[i]);
        mean[r] = mu;
        rstd[r] = rs;
    }
}

/* With n = (x - mean) rstd and g = dout w:
 * dx = rstd (g - mean(g) - n mean(g n)), dw += dout n, db += dout. */
ZK_HOT void zk_layernorm_bwd(float *restrict dinp, float *restrict dw, float *restrict db, const float *restrict dout,
                      const float *restrict inp, const float *restrict w, const float *restrict mean,
                      const float *restrict rstd, int N, int C)
{
    size_t c = (size_t)C;
    for (size_t r = 0; r < (size_t)N; r++) {
        const float *x = inp + r * c, *d = dout + r * c;
        float *dx = dinp + r * c;
        float mu = mean[r], rs = rstd[r];
        float ag[ZK_VL] = {0}, agn[ZK_VL] = {0};
        float sg = 0.0f, sgn = 0.0f;
        size_t i = 0;
        for (; i + ZK_VL <= c; i += ZK_VL)
            for (size_t k = 0; k < ZK_VL; k++) {
                float g = d[i + k] * w[i + k];
                ag[k] += g;
                agn[k] += g * (x[i + k] - mu);
            }
        for (; i < c; i++) {
            float g = d[i] * w[i];
            sg += g;
            sgn += g * (x[i] - mu);
        }
        for (size_t k = 0; k < ZK_VL; k++) {
            sg += ag[k];
            sgn += agn[k];
        }
        float gmean = sg / (float)C, gnmean = sgn * rs / (float)C;
        /* the outputs are restrict, so plain stores vectorise */
        for (i = 0; i + ZK_VL <= c; i += ZK_VL)
            for (size_t k = 0; k < ZK_VL; k++) {
                float n = (x[i + k] - mu) * rs, g = d[i + k] * w[i + k];
                dx[i + k] += rs * (g - gmean - n * gnmean);
                dw[i + k] += d[i + k] * n;
                db[i + k] += d[i + k];
            }
        for (; i < c; i++) {
            float n = (x[i] - mu) * rs, g = d[i] * w[i];
            dx[i] += rs * (g - gmean - n * gnmean);
            dw[i] += d[i] * n;
            db[i] += d[i];
        }
    }
}

/* -------------------------------------------------------------- RMSNorm */

ZK_HOT void zk_rmsnorm_fwd(float *restrict out, float *restrict rstd, const float *restrict inp,
                           const float *restrict w, int N, int C)
{
    size_t c = (size_t)C;
    for (size_t r = 0; r < (size_t)N; r++) {
        const float *x = inp + r * c;
        float *o = out + r * c;
        float rs = 1.0f / sqrtf(zk_row_dot(x, x, c) / (float)C + ZK_LN_EPS);
        ZK_MAP(o, c, i, x[i] * rs * w[i]);
        rstd[r] = rs;
    }
}

/* With n = x rstd and g = dout w: dx = rstd (g - n mean(g n)), dw += dout n. */
ZK_HOT void zk_rmsnorm_bwd(float *restrict dinp, float *restrict dw, const float *restrict dout,
                           const float *restrict inp, const float *restrict w, const float *restrict rstd, int N, int C)
{
    size_t c = (size_t)C;
    for (size_t r = 0; r < (size_t)N; r++) {
        const float *x = inp + r * c, *d = dout + r * c;
        float *dx = dinp + r * c;
        float rs = rstd[r];
        float agx[ZK_VL] = {0}, sgx = 0.0f;
        size_t i = 0;
        for (; i + ZK_VL <= c; i += ZK_VL)
            for (size_t k = 0; k < ZK_VL; k++)
                agx[k] += d[i + k] * w[i + k] * x[i + k];
        for (; i < c; i++)
            sgx += d[i] * w[i] * x[i];
        for (size_t k = 0; k < ZK_VL; k++)
            sgx += agx[k];
        float gnmean = sgx * rs / (float)C;
        for (i = 0; i < c; i++) {
            float n = x[i] * rs;
            dx[i] += rs * (d[i] * w[i] - n * gnmean);
            dw[i] += d[i] * n;
        }
    }
}

/* --------------------------------------------------------------- matmul */

void zk_matmul_fwd(float *out, const float *inp, const float *w, const float *bias, int N, int IC, int OC)
{
    if (N <= 0 || OC <= 0)
        return;
    size_t oc = (size_t)OC;
    float beta = 0.0f;
    if (bias) {
        for (size_t r = 0; r < (size_t)N; r++)
            memcpy(out + r * oc, bias, oc * sizeof *out);
        beta = 1.0f;
    } else if (IC <= 0) {
        memset(out, 0, (size_t)N * oc * sizeof *out);
    }
    if (IC > 0)
        zk_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, w, IC, beta, out, OC);
}

ZK_HOT void zk_matmul_bwd_x(float *restrict dinp, float *restrict dw, float *restrict dbias,
                             const float *restrict dout, const float *restrict inp, const float *restrict w, int N,
                             int IC, int OC, int set)
{
    if (set && dinp && N > 0 && IC > 0 && OC <= 0)   /* (no product: what zeroing leaves) */
        memset(dinp, 0, (size_t)N * (size_t)IC * sizeof(float));
    if (N <= 0 || OC <= 0)
        return;
    if (IC > 0) {
        if (dinp)
            zk_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, set ? 0.0f : 1.0f,
                     dinp, IC);
        zk_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    }
    if (dbias) {
        size_t oc = (size_t)OC;
        for (size_t r = 0; r < (size_t)N; r++) {
            const float *d = dout + r * oc;
            ZK_MAP(dbias, oc, o, dbias[o] + d[o]);
        }
    }
}

void zk_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w, int N,
                   int IC, int OC)
{
    zk_matmul_bwd_x(dinp, dw, dbias, dout, inp, w, N, IC, OC, 0);
}

/* ------------------------------------------------------------ attention */

/* The shape of grouped-query attention over rows of qkv (kernels.h): the
 * head size, the K (or V) heads' width, the row stride, query heads per
 * K/V head and the scores' scale; 0 when there is nothing to compute. */
typedef struct zk_att { int hs, kvc, ld, grp; float scale; } zk_att;

static inline int zk_att_shape(zk_att *g, int B, int T, int C, int NH, int KV)
{
    if (B <= 0 || T <= 0 || C <= 0 || NH <= 0)
        return 0;
    if (KV <= 0)
        KV = NH;
    g->hs = C / NH, g->kvc = KV * g->hs, g->ld = C + 2 * g->kvc, g->grp = NH / KV;
    g->scale = 1.0f / sqrtf((float)g->hs);
    return 1;
}

/* Row block [r0, r1) of the causal triangle: its rows see columns [0, r1). */
static inline int zk_blk_end(int r0, int T)
{
    return r0 + ZK_ATT_BLOCK < T ? r0 + ZK_ATT_BLOCK : T;
}

/* Rows [0, rows) x columns [0, cols) of src (row stride lds) into dst
 * (row stride cols), each value rounded to 16-bit math (1 bf16, 2 fp16). */
static void zk_copy_round(float *dst, const float *src, int rows, int cols, size_t lds, int math)
{
    for (int r = 0; r < rows; r++) {
        float *d = dst + (size_t)r * (size_t)cols;
        memcpy(d, src + (size_t)r * lds, (size_t)cols * sizeof *d);
        if (math == 1)
            zk_round_bf16(d, (size_t)cols);
        else
            zk_round_f16(d, (size_t)cols);
    }
}

size_t zk_attention_round_floats(int T, int C, int NH)
{
    if (T <= 0 || C <= 0 || NH <= 0)
        return 0;
    return 4 * (size_t)T * (size_t)(C / NH) + (size_t)ZK_ATT_BLOCK * (size_t)T;
}

void zk_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int NH, int KV)
{
    zk_attention_fwd_m(out, att, qkv, B, T, C, NH, KV, 0, NULL);
}

void zk_attention_bwd(float *dqkv, float *scratch, const float *dout, const float *att, const float *qkv, int B,
                      int T, int C, int NH, int KV)
{
    zk_attention_bwd_m(dqkv, scratch, dout, att, qkv, B, T, C, NH, KV, 0, NULL);
}

/* Under 16-bit math the head's Q, K and V are rounded into rs (row stride
 * hs) before its products, and each row block's probabilities into a tile
 * after rs's three heads before the output's product. */
ZK_HOT void zk_attention_fwd_m(float *out, float *att, const float *qkv, int B, int T, int C, int NH, int KV,
                               int math, float *rs)
{
    zk_att g;
    if (!zk_att_shape(&g, B, T, C, NH, KV))
        return;
    int hs = g.hs, kvc = g.kvc, ld = g.ld, grp = g.grp;
    float scale = g.scale;
    size_t tt = (size_t)T * (size_t)T, th = (size_t)T * (size_t)hs;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *row0 = qkv + (size_t)b * (size_t)T * (size_t)ld;
            const float *q = row0 + (size_t)h * (size_t)hs;
            const float *k = row0 + C + (size_t)(h / grp) * (size_t)hs, *v = k + kvc;
            int lq = ld;   /* Q's, K's and V's row stride */
            float *a = att + ((size_t)b * (size_t)NH + (size_t)h) * tt;
            float *o = out + (size_t)b * (size_t)T * (size_t)C + (size_t)h * (size_t)hs;
            if (math) {
                zk_copy_round(rs, q, T, hs, (size_t)ld, math);
                zk_copy_round(rs + th, k, T, hs, (size_t)ld, math);
                zk_copy_round(rs + 2 * th, v, T, hs, (size_t)ld, math);
                q = rs, k = rs + th, v = rs + 2 * th, lq = hs;
            }
            for (int r0 = 0; r0 < T; r0 += ZK_ATT_BLOCK) {
                int r1 = zk_blk_end(r0, T);
                /* scores of rows [r0, r1) against keys [0, r1) */
                zk_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, scale, q + (size_t)r0 * lq,
                            lq, k, lq, 0.0f, a + (size_t)r0 * T, T);
                for (int t = r0; t < r1; t++) {
                    float *row = a + (size_t)t * T;
                    size_t n = (size_t)t + 1;
                    float s = zk_row_exp_sum(row, n, zk_row_max(row, n));
                    float inv = 1.0f / s;
                    ZK_MAP(row, n, j, row[j] * inv);
                    memset(row + n, 0, ((size_t)T - n) * sizeof *row);
                }
                /* out rows [r0, r1) = att[r0:r1, 0:r1] . V[0:r1] */
                const float *pa = a + (size_t)r0 * T;
                int lp = T;
                if (math) {
                    zk_copy_round(rs + 3 * th, pa, r1 - r0, r1, (size_t)T, math);
                    pa = rs + 3 * th, lp = r1;
                }
                zk_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f, pa, lp, v, lq, 0.0f,
                            o + (size_t)r0 * C, C);
            }
        }
}

/* P = softmax(S), S = scale Q K^T, O = P V:
 * dP = dO V^T; dV += P^T dO; dS = P * (dP - rowsum(P * dP));
 * dQ += scale dS K; dK += scale dS^T Q.
 * Products involving P or dS skip the zero upper triangle block-wise.
 * Only the first T*T floats of scratch are used (dS of one head at a time).
 * Under 16-bit math Q, K, V and dO are rounded into rs, each row of scale
 * dS in place once it is made (from P and dP as they are), and P's column
 * blocks into a tile after them for dV. */
ZK_HOT void zk_attention_bwd_m(float *dqkv, float *scratch, const float *dout, const float *att, const float *qkv,
                               int B, int T, int C, int NH, int KV, int math, float *rs)
{
    zk_att g;
    if (!zk_att_shape(&g, B, T, C, NH, KV))
        return;
    int hs = g.hs, kvc = g.kvc, ld = g.ld, grp = g.grp;
    float scale = g.scale;
    size_t tt = (size_t)T * (size_t)T, th = (size_t)T * (size_t)hs;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t row0 = (size_t)b * (size_t)T * (size_t)ld, qo = row0 + (size_t)h * (size_t)hs;
            size_t ko = row0 + (size_t)C + (size_t)(h / grp) * (size_t)hs;
            const float *q = qkv + qo, *k = qkv + ko, *v = k + kvc;
            float *dq = dqkv + qo, *dk = dqkv + ko, *dv = dk + kvc;
            const float *p = att + ((size_t)b * (size_t)NH + (size_t)h) * tt;
            float *ds = scratch; /* T*T floats, reused by every (b, h) */
            const float *dO = dout + (size_t)b * (size_t)T * (size_t)C + (size_t)h * (size_t)hs;
            int lq = ld, lo = C;   /* Q's, K's and V's row stride; dO's */
            if (math) {
                zk_copy_round(rs, q, T, hs, (size_t)ld, math);
                zk_copy_round(rs + th, k, T, hs, (size_t)ld, math);
                zk_copy_round(rs + 2 * th, v, T, hs, (size_t)ld, math);
                zk_copy_round(rs + 3 * th, dO, T, hs, (size_t)C, math);
                q = rs, k = rs + th, v = rs + 2 * th, dO = rs + 3 * th, lq = lo = hs;
            }
            for (int r0 = 0; r0 < T; r0 += ZK_ATT_BLOCK) {
                int r1 = zk_blk_end(r0, T);
                /* dP rows [r0, r1), columns [0, r1) */
                zk_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, 1.0f, dO + (size_t)r0 * lo, lo,
                            v, lq, 0.0f, ds + (size_t)r0 * T, T);
                for (int t = r0; t < r1; t++) {
                    const float *pr = p + (size_t)t * T;
                    float *dr = ds + (size_t)t * T;
                    size_t n = (size_t)t + 1;
                    float dot = zk_row_dot(pr, dr, n);
                    ZK_MAP(dr, n, j, scale * pr[j] * (dr[j] - dot));
                    /* the products below read this row up to column r1 */
                    memset(dr + n, 0, ((size_t)r1 - n) * sizeof *dr);
                    if (math == 1)
                        zk_round_bf16(dr, n);
                    else if (math)
                        zk_round_f16(dr, n);
                }
                /* dQ rows [r0, r1) += scale dS[r0:r1, 0:r1] K[0:r1] */
                zk_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f, ds + (size_t)r0 * T, T,
                            k, lq, 1.0f, dq + (size_t)r0 * ld, ld);
            }
            for (int c0 = 0; c0 < T; c0 += ZK_ATT_BLOCK) {
                int c1 = zk_blk_end(c0, T);
                /* key rows [c0, c1) are seen by query rows [c0, T) */
                const float *pc = p + (size_t)c0 * T + c0;
                int lp = T;
                if (math) {
                    zk_copy_round(rs + 4 * th, pc, T - c0, c1 - c0, (size_t)T, math);
                    pc = rs + 4 * th, lp = c1 - c0;
                }
                zk_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c1 - c0, hs, T - c0, 1.0f, pc, lp,
                            dO + (size_t)c0 * lo, lo, 1.0f, dv + (size_t)c0 * ld, ld);
                zk_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c1 - c0, hs, T - c0, 1.0f,
                            ds + (size_t)c0 * T + c0, T, q + (size_t)c0 * lq, lq, 1.0f, dk + (size_t)c0 * ld, ld);
            }
        }
}

/* ------------------------------------------------- flash-style attention */

/* The same attention, never holding a T x T matrix: tiles of ZK_FA_TILE
 * query rows against ZK_FA_TILE keys, their scores and probabilities in two
 * arrays on the stack (the CPU's analogue of a GPU kernel's shared memory:
 * nothing the allocator sees), the output built by the online softmax
 * (a running row maximum m and sum l, earlier tiles' share rescaled by
 * e^(m_old - m_new) when the maximum grows), and per row and head only the
 * log-sum-exp lse = m + ln l kept for the backward.  The backward builds
 * each tile's probabilities again from Q, K and lse, P = e^(S - lse), with
 * D = rowsum(dO * O) (equal to rowsum(P * dP)) in place of the stored
 * matrix.  Tiles are aligned, so only a diagonal tile is partly masked and
 * every one of its rows sees at least its own key. */
#define ZK_FA_TILE 64
/* (its tile products are OpenBLAS's sgemm called directly, not zk_sgemm:
 * flash attention is timed as a whole, the device row's attn_stats, as
 * the CUDA row's kernels are, and stays out of the GEMMs' time, FLOPs and
 * logged shapes) */

static inline int zk_fa_end(int x0, int T)
{
    return x0 + ZK_FA_TILE < T ? x0 + ZK_FA_TILE : T;
}

/* The attention of T query rows at positions q0 .. q0 + T - 1 against
 * keys and values at positions 0 .. Tk - 1 (q0 + T <= Tk; a query sees the
 * keys up to its own position): Q from qkv (row stride ld, T rows a
 * sequence), K and V from kb and vb (row stride ldk, Tk rows a sequence).
 * With q0 = 0 and Tk = T the tiles are those of the whole triangle above;
 * with q0 > 0 a key tile may start past some of a query tile's rows, which
 * then see none of it (their first tile, at key 0, they always see). */
typedef struct zk_fa {
    int B, T, q0, Tk, C, NH, KV;
    const float *q, *k, *v;   /* the first sequence's Q, K and V of head 0 */
    size_t ld, ldk;           /* row strides of Q, of K and V */
    int math;                 /* 16-bit math (1 bf16, 2 fp16): zk_fa_round */
    float *rs;                /* its scratch: zk_flash_round_floats(hs) floats */
} zk_fa;

/* Under 16-bit math every operand of every tile product is rounded to
 * nearest even, as the tensor cores take them (the CUDA row's
 * k_flash_tc_*): Q and K for the scores, the tile's unnormalised
 * probabilities e^(S - m) (m the running maximum) and V for the output;
 * dO and V for dP, P and dO for dV, scale dS and K for dQ, scale dS and
 * Q for dK.  The sums stay fp32, and so do the softmax's running maximum
 * and sum, lse, D = rowsum(dO * O) (from the unrounded dO) and dS (from
 * the unrounded P).  A tile's rounded copies (ZK_FA_TILE rows of hs
 * each of Q, dO, K and V) live in the caller's scratch. */
int zk_flash_round_heads(int C, int NH)
{
    return C > 0 && NH > 0 && C % NH == 0 && (C / NH) % 16 == 0 && C / NH <= 128;
}

size_t zk_flash_round_floats(int C, int NH)
{
    return C > 0 && NH > 0 ? 4 * (size_t)ZK_FA_TILE * (size_t)(C / NH) : 0;
}

/* rows x hs of src (row stride ld) rounded into dst (row stride hs), which
 * the caller then reads with that stride; with math 0 nothing is copied */
static const float *zk_fa_round(float *dst, const float *src, int rows, int hs, size_t ld, int math, size_t *ldo)
{
    if (!math) {
        *ldo = ld;
        return src;
    }
    zk_copy_round(dst, src, rows, hs, ld, math);
    *ldo = (size_t)hs;
    return dst;
}

static void zk_fa_round_rows(float *x, int rows, size_t ld, size_t n, int math)
{
    for (int i = 0; math && i < rows; i++) {
        if (math == 1)
            zk_round_bf16(x + (size_t)i * ld, n);
        else
            zk_round_f16(x + (size_t)i * ld, n);
    }
}

static inline int zk_fa_rows(int q, int c0, int c1)
{
    int n = q - c0 + 1;
    return n < 0 ? 0 : n < c1 - c0 ? n : c1 - c0;
}

static void zk_fa_fwd(const zk_fa *f, float *out, float *lse)
{
    zk_att g;
    if (!zk_att_shape(&g, f->B, f->T, f->C, f->NH, f->KV))
        return;
    int hs = g.hs, grp = g.grp, T = f->T, C = f->C, q0 = f->q0, Tk = f->Tk;
    size_t ld = f->ld, ldk = f->ldk;
    float scale = g.scale;
    float s[ZK_FA_TILE * ZK_FA_TILE], mx[ZK_FA_TILE], sum[ZK_FA_TILE];
    float *rb = f->math ? f->rs : NULL;
    if (f->math && !rb)
        return;
    float *qr = rb, *kr = rb ? rb + (size_t)ZK_FA_TILE * hs : NULL, *vr = rb ? kr + (size_t)ZK_FA_TILE * hs : NULL;
    for (int b = 0; b < f->B; b++)
        for (int h = 0; h < f->NH; h++) {
            const float *q = f->q + (size_t)b * (size_t)T * ld + (size_t)h * (size_t)hs;
            size_t kof = (size_t)b * (size_t)Tk * ldk + (size_t)(h / grp) * (size_t)hs;
            const float *k = f->k + kof, *v = f->v + kof;
            float *o = out + (size_t)b * (size_t)T * (size_t)C + (size_t)h * (size_t)hs;
            float *ls = lse + ((size_t)b * (size_t)f->NH + (size_t)h) * (size_t)T;
            for (int r0 = 0; r0 < T; r0 += ZK_FA_TILE) {
                int r1 = zk_fa_end(r0, T), nr = r1 - r0;
                for (int i = 0; i < nr; i++) {
                    mx[i] = -INFINITY, sum[i] = 0.0f;
                    memset(o + (size_t)(r0 + i) * C, 0, (size_t)hs * sizeof *o);
                }
                size_t lq, lk, lv;
                const float *qt = zk_fa_round(qr, q + (size_t)r0 * ld, nr, hs, ld, f->math, &lq);
                for (int c0 = 0; c0 < q0 + r1; c0 += ZK_FA_TILE) {
                    int c1 = zk_fa_end(c0, Tk), nc = c1 - c0;
                    const float *kt = zk_fa_round(kr, k + (size_t)c0 * ldk, nc, hs, ldk, f->math, &lk);
                    const float *vt = zk_fa_round(vr, v + (size_t)c0 * ldk, nc, hs, ldk, f->math, &lv);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nc, hs, scale, qt, (int)lq, kt, (int)lk,
                                0.0f, s, ZK_FA_TILE);
                    for (int i = 0; i < nr; i++) {
                        float *sr = s + (size_t)i * ZK_FA_TILE, *orow = o + (size_t)(r0 + i) * C;
                        size_t n = (size_t)zk_fa_rows(q0 + r0 + i, c0, c1);
                        if (n) {
                            float m = zk_row_max(sr, n);
                            if (m > mx[i]) {   /* earlier tiles' share shrinks by e^(old - new) */
                                float a = mx[i] == -INFINITY ? 0.0f : zk_expf(mx[i] - m);
                                sum[i] *= a;
                                ZK_MAP(orow, (size_t)hs, j, orow[j] * a);
                                mx[i] = m;
                            }
                            sum[i] += zk_row_exp_sum(sr, n, mx[i]);
                        }
                        memset(sr + n, 0, ((size_t)nc - n) * sizeof *sr);
                    }
                    zk_fa_round_rows(s, nr, ZK_FA_TILE, (size_t)nc, f->math); /* (after the sums) */
                    /* O[r0:r1] += P . V[c0:c1] */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hs, nc, 1.0f, s, ZK_FA_TILE, vt, (int)lv,
                                1.0f, o + (size_t)r0 * C, C);
                }
                for (int i = 0; i < nr; i++) {
                    float *orow = o + (size_t)(r0 + i) * C, inv = 1.0f / sum[i];
                    ZK_MAP(orow, (size_t)hs, j, orow[j] * inv);
                    ls[r0 + i] = mx[i] + logf(sum[i]);
                }
            }
        }
}

/* dq += into Q's columns of rows with stride ld, dk and dv += into rows of
 * stride ldk (the layouts of zk_fa's q, k, v) */
static void zk_fa_bwd(const zk_fa *f, float *dq0, float *dk0, float *dv0, const float *dout, const float *out,
                      const float *lse)
{
    zk_att g;
    if (!zk_att_shape(&g, f->B, f->T, f->C, f->NH, f->KV))
        return;
    int hs = g.hs, grp = g.grp, T = f->T, C = f->C, q0 = f->q0, Tk = f->Tk;
    size_t ld = f->ld, ldk = f->ldk;
    float scale = g.scale;
    float p[ZK_FA_TILE * ZK_FA_TILE], ds[ZK_FA_TILE * ZK_FA_TILE], dd[ZK_FA_TILE];
    float *rb = f->math ? f->rs : NULL;
    if (f->math && !rb)
        return;
    float *qr = rb, *dor = rb ? rb + (size_t)ZK_FA_TILE * hs : NULL;
    float *kr = rb ? dor + (size_t)ZK_FA_TILE * hs : NULL, *vr = rb ? kr + (size_t)ZK_FA_TILE * hs : NULL;
    for (int b = 0; b < f->B; b++)
        for (int h = 0; h < f->NH; h++) {
            size_t qo = (size_t)b * (size_t)T * ld + (size_t)h * (size_t)hs;
            size_t ko = (size_t)b * (size_t)Tk * ldk + (size_t)(h / grp) * (size_t)hs;
            const float *q = f->q + qo, *k = f->k + ko, *v = f->v + ko;
            float *dq = dq0 + qo, *dk = dk0 + ko, *dv = dv0 + ko;
            size_t oo = (size_t)b * (size_t)T * (size_t)C + (size_t)h * (size_t)hs;
            const float *o = out + oo, *dO = dout + oo;
            const float *ls = lse + ((size_t)b * (size_t)f->NH + (size_t)h) * (size_t)T;
            for (int r0 = 0; r0 < T; r0 += ZK_FA_TILE) {
                int r1 = zk_fa_end(r0, T), nr = r1 - r0;
                for (int i = 0; i < nr; i++)
                    dd[i] = zk_row_dot(dO + (size_t)(r0 + i) * C, o + (size_t)(r0 + i) * C, (size_t)hs);
                size_t lq, lo, lk, lv;
                const float *qt = zk_fa_round(qr, q + (size_t)r0 * ld, nr, hs, ld, f->math, &lq);
                const float *ot = zk_fa_round(dor, dO + (size_t)r0 * C, nr, hs, (size_t)C, f->math, &lo);
                for (int c0 = 0; c0 < q0 + r1; c0 += ZK_FA_TILE) {
                    int c1 = zk_fa_end(c0, Tk), nc = c1 - c0;
                    const float *kt = zk_fa_round(kr, k + (size_t)c0 * ldk, nc, hs, ldk, f->math, &lk);
                    const float *vt = zk_fa_round(vr, v + (size_t)c0 * ldk, nc, hs, ldk, f->math, &lv);
                    /* P = e^(scale Q K^T - lse), 0 past each row's own position */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nc, hs, scale, qt, (int)lq, kt, (int)lk,
                                0.0f, p, ZK_FA_TILE);
                    /* dP = dO V^T */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nc, hs, 1.0f, ot, (int)lo, vt, (int)lv,
                                0.0f, ds, ZK_FA_TILE);
                    for (int i = 0; i < nr; i++) {
                        float *pr = p + (size_t)i * ZK_FA_TILE, *dr = ds + (size_t)i * ZK_FA_TILE;
                        size_t n = (size_t)zk_fa_rows(q0 + r0 + i, c0, c1);
                        float l = ls[r0 + i], di = dd[i];
                        ZK_MAP(pr, n, j, zk_expf(pr[j] - l));
                        ZK_MAP(dr, n, j, scale * pr[j] * (dr[j] - di));
                        memset(pr + n, 0, ((size_t)nc - n) * sizeof *pr);
                        memset(dr + n, 0, ((size_t)nc - n) * sizeof *dr);
                    }
                    zk_fa_round_rows(p, nr, ZK_FA_TILE, (size_t)nc, f->math); /* (after dS) */
                    zk_fa_round_rows(ds, nr, ZK_FA_TILE, (size_t)nc, f->math);
                    /* dV[c0:c1] += P^T dO; dQ[r0:r1] += dS K; dK[c0:c1] += dS^T Q */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nc, hs, nr, 1.0f, p, ZK_FA_TILE, ot, (int)lo,
                                1.0f, dv + (size_t)c0 * ldk, (int)ldk);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hs, nc, 1.0f, ds, ZK_FA_TILE, kt, (int)lk,
                                1.0f, dq + (size_t)r0 * ld, (int)ld);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nc, hs, nr, 1.0f, ds, ZK_FA_TILE, qt, (int)lq,
                                1.0f, dk + (size_t)c0 * ldk, (int)ldk);
                }
            }
        }
}

static zk_fa zk_fa_whole(const float *qkv, int B, int T, int C, int NH, int KV)
{
    zk_att g;
    zk_fa f = {B, T, 0, T, C, NH, KV, qkv, NULL, NULL, 0, 0, 0, NULL};
    if (zk_att_shape(&g, B, T, C, NH, KV))
        f.k = qkv + C, f.v = qkv + C + g.kvc, f.ld = f.ldk = (size_t)g.ld;
    return f;
}

static zk_fa zk_fa_part(const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C, int NH, int KV)
{
    zk_att g;
    zk_fa f = {B, T, q0, Tk, C, NH, KV, qkv, NULL, NULL, 0, 0, 0, NULL};
    if (zk_att_shape(&g, B, T, C, NH, KV))
        f.k = kv, f.v = kv + g.kvc, f.ld = (size_t)g.ld, f.ldk = 2 * (size_t)g.kvc;
    return f;
}

ZK_HOT void zk_flash_fwd_m(float *out, float *lse, const float *qkv, int B, int T, int C, int NH, int KV, int math,
                           float *rs)
{
    zk_fa f = zk_fa_whole(qkv, B, T, C, NH, KV);
    f.math = zk_flash_round_heads(C, NH) ? math : 0, f.rs = rs;
    zk_fa_fwd(&f, out, lse);
}

ZK_HOT void zk_flash_bwd_m(float *dqkv, const float *dout, const float *out, const float *lse, const float *qkv,
                           int B, int T, int C, int NH, int KV, int math, float *rs)
{
    zk_fa f = zk_fa_whole(qkv, B, T, C, NH, KV);
    f.math = zk_flash_round_heads(C, NH) ? math : 0, f.rs = rs;
    if (f.k)
        zk_fa_bwd(&f, dqkv, dqkv + (f.k - qkv), dqkv + (f.v - qkv), dout, out, lse);
}

ZK_HOT void zk_flash_fwd_part_m(float *out, float *lse, const float *qkv, const float *kv, int B, int T, int q0,
                                int Tk, int C, int NH, int KV, int math, float *rs)
{
    zk_fa f = zk_fa_part(qkv, kv, B, T, q0, Tk, C, NH, KV);
    f.math = zk_flash_round_heads(C, NH) ? math : 0, f.rs = rs;
    if (q0 >= 0 && q0 + T <= Tk)
        zk_fa_fwd(&f, out, lse);
}

ZK_HOT void zk_flash_bwd_part_m(float *dqkv, float *dkv, const float *dout, const float *out, const float *lse,
                                const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C, int NH, int KV,
                                int math, float *rs)
{
    zk_fa f = zk_fa_part(qkv, kv, B, T, q0, Tk, C, NH, KV);
    f.math = zk_flash_round_heads(C, NH) ? math : 0, f.rs = rs;
    if (f.k && q0 >= 0 && q0 + T <= Tk)
        zk_fa_bwd(&f, dqkv, dkv, dkv + (f.v - kv), dout, out, lse);
}

void zk_flash_fwd(float *out, float *lse, const float *qkv, int B, int T, int C, int NH, int KV)
{
    zk_flash_fwd_m(out, lse, qkv, B, T, C, NH, KV, 0, NULL);
}

void zk_flash_bwd(float *dqkv, const float *dout, const float *out, const float *lse, const float *qkv, int B, int T,
                  int C, int NH, int KV)
{
    zk_flash_bwd_m(dqkv, dout, out, lse, qkv, B, T, C, NH, KV, 0, NULL);
}

void zk_flash_fwd_part(float *out, float *lse, const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C,
                       int NH, int KV)
{
    zk_flash_fwd_part_m(out, lse, qkv, kv, B, T, q0, Tk, C, NH, KV, 0, NULL);
}

void zk_flash_bwd_part(float *dqkv, float *dkv, const float *dout, const float *out, const float *lse,
                       const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C, int NH, int KV)
{
    zk_flash_bwd_part_m(dqkv, dkv, dout, out, lse, qkv, kv, B, T, q0, Tk, C, NH, KV, 0, NULL);
}

/* ----------------------------------------------------------------- GELU */

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3);
 * the sigmoid form has no cancellation near u = 0 and needs one exp. */
#define ZK_GELU_K 0.7978845608028654f
#define ZK_GELU_A 0.044715f

ZK_HOT void zk_gelu_fwd(float *out, const float *inp, size_t n)
{
    ZK_MAP(out, n, i, inp[i] / (1.0f + zk_expf(-2.0f * ZK_GELU_K * (inp[i] + ZK_GELU_A * inp[i] * inp[i] * inp[i]))));
}

/* d/dx x s(2u) = s + 2 x s (1 - s) u',  u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2) */
static inline float zk_gelu_grad(float x)
{
    float x2 = x * x;
    float s = 1.0f / (1.0f + zk_expf(-2.0f * ZK_GELU_K * x * (1.0f + ZK_GELU_A * x2)));
    return s + 2.0f * x * s * (1.0f - s) * ZK_GELU_K * (1.0f + 3.0f * ZK_GELU_A * x2);
}

ZK_HOT void zk_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n)
{
    ZK_MAP(dinp, n, i, dinp[i] + zk_gelu_grad(inp[i]) * dout[i]);
}

/* (0 + the term: what zeroing and adding leave, a negative zero's sign
 * too) */
ZK_HOT void zk_gelu_bwd_set(float *dinp, const float *inp, const float *dout, size_t n)
{
    ZK_MAP(dinp, n, i, 0.0f + zk_gelu_grad(inp[i]) * dout[i]);
}

/* -------------------------------------------------------- rotary, SwiGLU */

/* Rotate each (i, i + hs/2) pair of every Q and K head of token t by angle
 * sgn t theta^(-2i/hs) (the "rotate half" pairing of GPT-NeoX and Hugging
 * Face's LLaMA); V untouched.  cos and sin in double, once per (t, i). */
static void zk_rope(float *qkv, int B, int T, int C, int NH, int KV, float theta, int t0, double sgn)
{
    if (B <= 0 || T <= 0 || C <= 0 || NH <= 0)
        return;
    if (KV <= 0)
        KV = NH;
    int hs = C / NH, half = hs / 2, heads = NH + KV;
    size_t ld = (size_t)C + 2 * (size_t)KV * (size_t)hs;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            double a = sgn * (double)(t0 + t) * pow((double)theta, -2.0 * (double)i / (double)hs);
            float cs = (float)cos(a), sn = (float)sin(a);
            for (int b = 0; b < B; b++) {
                float *row = qkv + ((size_t)b * (size_t)T + (size_t)t) * ld;
                for (int h = 0; h < heads; h++) {   /* Q heads, then K heads: contiguous */
                    float *x = row + (size_t)h * (size_t)hs;
                    float x1 = x[i], x2 = x[i + half];
                    x[i] = x1 * cs - x2 * sn;
                    x[i + half] = x2 * cs + x1 * sn;
                }
            }
        }
}

void zk_rope_fwd(float *qkv, int B, int T, int C, int NH, int KV, float theta, int t0)
{
    zk_rope(qkv, B, T, C, NH, KV, theta, t0, 1.0);
}

void zk_rope_bwd(float *dqkv, int B, int T, int C, int NH, int KV, float theta, int t0)
{
    zk_rope(dqkv, B, T, C, NH, KV, theta, t0, -1.0);   /* the transpose of a rotation: the opposite angle */
}

/* silu(g) = g sigmoid(g) */
ZK_HOT void zk_swiglu_fwd(float *restrict out, const float *restrict inp, int N, int F)
{
    size_t f = (size_t)F;
    for (size_t r = 0; r < (size_t)N; r++) {
        const float *g = inp + 2 * r * f, *u = g + f;
        float *o = out + r * f;
        ZK_MAP(o, f, i, g[i] / (1.0f + zk_expf(-g[i])) * u[i]);
    }
}

/* d/dg silu(g) = s (1 + g (1 - s)), s = sigmoid(g) */
ZK_HOT void zk_swiglu_bwd_x(float *restrict dinp, const float *restrict inp, const float *restrict dout, int N,
                             int F, int set)
{
    size_t f = (size_t)F;
    for (size_t r = 0; r < (size_t)N; r++) {
        const float *g = inp + 2 * r * f, *u = g + f, *d = dout + r * f;
        float *dg = dinp + 2 * r * f, *du = dg + f;
        for (size_t i = 0; i < f; i++) {
            float s = 1.0f / (1.0f + zk_expf(-g[i]));
            dg[i] = (set ? 0.0f : dg[i]) + d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
            du[i] = (set ? 0.0f : du[i]) + d[i] * g[i] * s;
        }
    }
}

void zk_swiglu_bwd(float *dinp, const float *inp, const float *dout, int N, int F)
{
    zk_swiglu_bwd_x(dinp, inp, dout, N, F, 0);
}

/* ----------------------------------------------------------- arithmetic */

ZK_HOT void zk_add(float *out, const float *a, const float *b, size_t n)
{
    ZK_MAP(out, n, i, a[i] + b[i]);
}

ZK_HOT void zk_acc(float *y, const float *x, size_t n)
{
    ZK_MAP(y, n, i, y[i] + x[i]);
}

ZK_HOT double zk_sumsq(const float *x, size_t n)
{
    double acc[ZK_VL] = {0};
    double s = 0.0;
    size_t i = 0;
    for (; i + ZK_VL <= n; i += ZK_VL)
        for (size_t k = 0; k < ZK_VL; k++)
            acc[k] += (double)x[i + k] * (double)x[i + k];
    for (; i < n; i++)
        s += (double)x[i] * (double)x[i];
    for (size_t k = 0; k < ZK_VL; k++)
        s += acc[k];
    return s;
}

ZK_HOT void zk_scale(float *x, size_t n, float s)
{
    ZK_MAP(x, n, i, x[i] * s);
}

ZK_HOT int zk_all_finite(const float *x, size_t n)
{
    uint32_t acc[ZK_VL] = {0};
    uint32_t bad = 0;
    size_t i = 0;
    /* exponent bits all ones: inf or NaN */
    for (; i + ZK_VL <= n; i += ZK_VL)
        for (size_t k = 0; k < ZK_VL; k++)
            acc[k] |= (zk_bits(x[i + k]) & 0x7F800000u) == 0x7F800000u;
    for (; i < n; i++)
        bad |= (zk_bits(x[i]) & 0x7F800000u) == 0x7F800000u;
    for (size_t k = 0; k < ZK_VL; k++)
        bad |= acc[k];
    return !bad;
}

/* ------------------------------------------------------------ optimizer */

ZK_HOT void zk_adamw(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, size_t n, float lr,
              float beta1, float beta2, float eps, float weight_decay, int t)
{
    /* as torch.optim.AdamW: p *= 1 - lr wd; p -= lr/bc1 m / (sqrt(v)/sqrt(bc2) + eps) */
    float bc1 = (float)(1.0 - pow((double)beta1, (double)t));
    float bc2 = (float)(1.0 - pow((double)beta2, (double)t));
    float step = lr / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2), decay = 1.0f - lr * weight_decay;
    float a1 = 1.0f - beta1, a2 = 1.0f - beta2;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = beta1 * m[i] + a1 * gi;
        float vi = beta2 * v[i] + a2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

ZK_HOT void zk_sgd(float *restrict p, const float *restrict g, float *restrict mom, size_t n, float lr, float momentum,
            float weight_decay)
{
    size_t i = 0;
    for (; i + ZK_VL <= n; i += ZK_VL)
        for (size_t k = 0; k < ZK_VL; k++) {
            float u = momentum * mom[i + k] + g[i + k] + weight_decay * p[i + k];
            mom[i + k] = u;
            p[i + k] -= lr * u;
        }
    for (; i < n; i++) {
        float u = momentum * mom[i] + g[i] + weight_decay * p[i];
        mom[i] = u;
        p[i] -= lr * u;
    }
}

/* -------------------------------------------------------- cross-entropy */

ZK_HOT double zk_crossentropy(float *logits, const int *targets, int N, int V, float dscale)
{
    if (N <= 0 || V <= 0)
        return 0.0;
    size_t vv = (size_t)V;
    double loss = 0.0;
    float dn = dscale / (float)N;
    for (size_t r = 0; r < (size_t)N; r++) {
        float *x = logits + r * vv;
        size_t tgt = (size_t)targets[r];
        float xt = x[tgt];
        float mx = zk_row_max(x, vv);
        float s = zk_row_exp_sum(x, vv, mx);
        /* -log softmax[tgt] = log sum e^(x - max) + max - x[tgt] */
        loss += log((double)s) + (double)mx - (double)xt;
        zk_scale(x, vv, dn / s);
        x[tgt] -= dn;
    }
    return loss / (double)N;
}

ZK_HOT void zk_xent_max(const float *restrict logits, int N, int V, float *restrict mx)
{
    for (size_t r = 0; r < (size_t)N; r++)
        mx[r] = V > 0 ? zk_row_max(logits + r * (size_t)V, (size_t)V) : -INFINITY;
}

ZK_HOT void zk_xent_sums(float *restrict logits, const int *restrict targets, int N, int V, const float *restrict mx,
                         float *restrict se, float *restrict tl)
{
    size_t vv = (size_t)V;
    for (size_t r = 0; r < (size_t)N; r++) {
        float *x = logits + r * vv;
        tl[r] = targets[r] >= 0 ? x[targets[r]] : 0.0f;
        se[r] = zk_row_exp_sum(x, vv, mx[r]);
    }
}

ZK_HOT void zk_xent_grad(float *restrict logits, const int *restrict targets, int N, int V, const float *restrict se,
                         float dscale)
{
    size_t vv = (size_t)V;
    float dn = dscale / (float)N;
    for (size_t r = 0; r < (size_t)N; r++) {
        float *x = logits + r * vv;
        zk_scale(x, vv, dn / se[r]);
        if (targets[r] >= 0)
            x[targets[r]] -= dn;
    }
}

/* ---------------------------------------------------------- 16-bit floats */

uint16_t zk_f32_to_bf16(float f) { return ze_f32_to_bf16(f); }
float zk_bf16_to_f32(uint16_t h) { return ze_bf16_to_f32(h); }
uint16_t zk_f32_to_f16(float f) { return ze_f32_to_f16(f); }
float zk_f16_to_f32(uint16_t h) { return ze_f16_to_f32(h); }

static inline float zk_round_bf16_1(float f)
{
    uint32_t u = zk_bits(f);
    uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
    uint32_t qnan = (u | 0x00400000u) & 0xFFFF0000u;
    return zk_float((u & 0x7FFFFFFFu) > 0x7F800000u ? qnan : r);
}

ZK_HOT void zk_round_bf16(float *x, size_t n)
{
    ZK_MAP(x, n, i, zk_round_bf16_1(x[i]));
}

/* Branch-free equivalent of zk_f16_to_f32(zk_f32_to_f16(f)). */
static inline float zk_round_f16_1(float f)
{
    uint32_t u = zk_bits(f);
    uint32_t sign = u & 0x80000000u, a = u & 0x7FFFFFFFu;
    /* normal range: round the mantissa to 10 bits */
    uint32_t norm = (a + 0xFFFu + ((a >> 13) & 1u)) & 0xFFFFE000u;
    /* subnormal range: adding 0.5 (ulp 2^-24) rounds to a multiple of 2^-24 */
    float fa = zk_float(a);
    uint32_t sub = zk_bits((fa + 0.5f) - 0.5f);
    /* select with masks so that GCC cannot sink the float add into a branch */
    uint32_t is_sub = 0u - (uint32_t)(a < 0x38800000u);
    uint32_t is_inf = 0u - (uint32_t)(a >= 0x477FF000u);
    uint32_t is_nan = 0u - (uint32_t)(a > 0x7F800000u);
    uint32_t r = (sub & is_sub) | (norm & ~is_sub);
    r = (0x7F800000u & is_inf) | (r & ~is_inf);
    r = (((a | 0x00400000u) & 0xFFFFE000u) & is_nan) | (r & ~is_nan);
    return zk_float(sign | r);
}

ZK_HOT void zk_round_f16(float *x, size_t n)
{
    ZK_MAP(x, n, i, zk_round_f16_1(x[i]));
}

ZK_HOT void zk_pack16(uint16_t *dst, const float *src, size_t n, int fp16)
{
    if (fp16)
        for (size_t i = 0; i < n; i++)
            dst[i] = zk_f32_to_f16(src[i]);
    else
        for (size_t i = 0; i < n; i++)
            dst[i] = zk_f32_to_bf16(src[i]);
}

ZK_HOT void zk_unpack16(float *dst, const uint16_t *src, size_t n, int fp16)
{
    if (fp16)
        for (size_t i = 0; i < n; i++)
            dst[i] = zk_f16_to_f32(src[i]);
    else
        for (size_t i = 0; i < n; i++)
            dst[i] = zk_bf16_to_f32(src[i]);
}
