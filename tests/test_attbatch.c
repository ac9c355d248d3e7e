/* test_attbatch.c - the CUDA row's stored-probabilities attention
 * (backend/attn_batched.c: its strided-batched GEMMs and two row kernels)
 * run on the CPU where no GPU is: the same calls, in the same order, go to
 * an emulation of cuBLAS's column-major strided-batched GEMM and of the
 * kernels' documented results, and the outputs are compared with the CPU
 * row's attention (cpu/kernels.c's zk_attention_fwd_m/bwd_m), exact and
 * under bf16 math.
 *
 * The GEMM emulation computes every member of a batch before it stores
 * any (as if they ran at once), and counts what would go wrong on a GPU: a
 * value two members write (a race), a value one call both reads and writes,
 * a leading dimension cuBLAS refuses, a pointer outside the buffers.  Its
 * sums are in double; under bf16 math each operand is rounded to bf16 first
 * (half.h), as the tensor cores' inputs.  Test_cuda checks, on a GPU, that
 * cuBLAS and the kernels do what is emulated here. */
#include "attn_batched.h"
#include "half.h"
#include "kernels.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* one arena for every buffer, so that pointers can be checked and marked */
static float *arena;
static size_t arena_n, arena_used;
static unsigned *wmark, *rmark, epoch;
static int bad_ptr, races, aliased, bad_ld, calls, math16;

static float *take(size_t n)
{
    float *p = arena + arena_used;
    arena_used += n;
    if (arena_used > arena_n)
        abort();
    return p;
}

static size_t at(const float *p)
{
    if (p < arena || p >= arena + arena_used) {
        bad_ptr++;
        return 0;
    }
    return (size_t)(p - arena);
}

static double in16(float x)
{
    return math16 ? (double)ze_bf16_to_f32(ze_f32_to_bf16(x)) : (double)x;
}

/* column-major: C_i = alpha op(A_i) op(B_i) + beta C_i, m x n from depth k */
static void emu_gemm(void *ctx, char ta, char tb, int m, int n, int k, float alpha, const float *A, int lda,
                     long long sA, const float *B, int ldb, long long sB, float beta, float *C, int ldc, long long sC,
                     int batch)
{
    (void)ctx;
    calls++;
    int mm = m > 1 ? m : 1, nn = n > 1 ? n : 1, kk = k > 1 ? k : 1;
    if (lda < (ta == 'N' ? mm : kk) || ldb < (tb == 'N' ? kk : nn) || ldc < mm)
        bad_ld++;
    epoch++;
    size_t tot = (size_t)batch * (size_t)m * (size_t)n, q = 0;
    float *res = malloc(tot * sizeof *res);
    size_t *dst = malloc(tot * sizeof *dst);
    if (!res || !dst)
        abort();
    for (int i = 0; i < batch; i++) {
        const float *Ai = A + i * sA, *Bi = B + i * sB;
        float *Ci = C + i * sC;
        for (int j = 0; j < n; j++)
            for (int r = 0; r < m; r++) {
                double s = 0;
                for (int l = 0; l < k; l++) {
                    const float *a = ta == 'N' ? Ai + r + (size_t)l * lda : Ai + l + (size_t)r * lda;
                    const float *b = tb == 'N' ? Bi + l + (size_t)j * ldb : Bi + j + (size_t)l * ldb;
                    rmark[at(a)] = epoch, rmark[at(b)] = epoch;
                    s += in16(*a) * in16(*b);
                }
                size_t o = at(Ci + r + (size_t)j * ldc);
                res[q] = (float)(alpha * s + (beta != 0.0f ? (double)beta * arena[o] : 0.0));
                dst[q++] = o;
            }
    }
    for (size_t t = 0; t < tot; t++) {
        races += wmark[dst[t]] == epoch;
        aliased += rmark[dst[t]] == epoch;
        wmark[dst[t]] = epoch;
    }
    for (size_t t = 0; t < tot; t++)
        arena[dst[t]] = res[t];
    free(res), free(dst);
}

/* the kernels' results as attn_batched.h states them, in double */
static void emu_softmax(void *ctx, float *att, int T, size_t rows)
{
    (void)ctx;
    for (size_t r = 0; r < rows; r++) {
        float *x = att + r * (size_t)T;
        size_t n = r % (size_t)T + 1;
        double mx = -INFINITY, s = 0;
        for (size_t c = 0; c < n; c++)
            mx = fmax(mx, x[c]);
        for (size_t c = 0; c < n; c++)
            s += exp(x[c] - mx);
        for (size_t c = 0; c < (size_t)T; c++)
            x[c] = c < n ? (float)(exp(x[c] - mx) / s) : 0.0f;
    }
}

static void emu_softmax_bwd(void *ctx, float *ds, const float *p, size_t pstride, int T, int heads, float scale)
{
    (void)ctx;
    size_t tt = (size_t)T;
    for (int j = 0; j < heads; j++)
        for (size_t i = 0; i < tt; i++) {
            const float *pr = p + (size_t)j * pstride + i * tt;
            float *dr = ds + (size_t)j * tt * tt + i * tt;
            double dot = 0;
            for (size_t c = 0; c <= i; c++)
                dot += (double)pr[c] * dr[c];
            for (size_t c = 0; c < tt; c++)
                dr[c] = c <= i ? (float)(scale * (double)pr[c] * (dr[c] - dot)) : 0.0f;
        }
}

static const za_ops emu = {emu_gemm, emu_softmax, emu_softmax_bwd};

static uint64_t st = 0x9E3779B97F4A7C15ull;
static void fill(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        st ^= st << 13, st ^= st >> 7, st ^= st << 17;
        p[i] = (float)((double)(st >> 11) / 4503599627370496.0 - 1.0);   /* [-1, 1) */
    }
}

/* max |a - b| / max |b| (test_cuda's measure) */
static double maxrel(const float *a, const float *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i])), m = fmax(m, fabs((double)b[i]));
    return d / (m > 1e-30 ? m : 1e-30);
}

static double normrel(const float *a, const float *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++)
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), m += (double)b[i] * b[i];
    return sqrt(d / (m > 1e-30 ? m : 1e-30));
}

typedef struct { int B, T, C, NH, KV; double heads_room; } tcase;

static void one(const tcase *t, int math)
{
    int B = t->B, T = t->T, C = t->C, NH = t->NH, kv = t->KV > 0 ? t->KV : NH, hs = C / NH;
    size_t ld = (size_t)C + 2 * (size_t)kv * hs, n3 = (size_t)B * T * ld, no = (size_t)B * T * C;
    size_t na = (size_t)B * NH * T * T, tt = (size_t)T * T, sn = (size_t)(t->heads_room * (double)tt);
    arena_used = 0;
    float *qkv = take(n3), *out = take(no), *att = take(na), *dout = take(no), *dq = take(n3), *scr = take(sn);
    fill(qkv, n3), fill(out, no), fill(att, na), fill(dout, no), fill(dq, n3);
    for (size_t i = 0; i < sn; i++)
        scr[i] = NAN;   /* nothing may read the scratch before it writes it */
    /* the CPU row's, off the arena */
    float *cout = malloc(no * 4), *catt = malloc(na * 4), *cdq = malloc(n3 * 4), *cscr = malloc(tt * 4);
    float *rs = math ? malloc(zk_attention_round_floats(T, C, NH) * 4) : NULL;
    if (!cout || !catt || !cdq || !cscr || (math && !rs))
        abort();
    memcpy(cdq, dq, n3 * 4);
    zk_attention_fwd_m(cout, catt, qkv, B, T, C, NH, t->KV, math, rs);
    math16 = math;
    bad_ptr = races = aliased = bad_ld = calls = 0;
    int rf = za_attention_fwd(&emu, NULL, out, att, qkv, B, T, C, NH, t->KV);
    double ea = maxrel(att, catt, na);
    /* the backward from the CPU's probabilities on both sides */
    memcpy(att, catt, na * 4);
    zk_attention_bwd_m(cdq, cscr, dout, catt, qkv, B, T, C, NH, t->KV, math, rs);
    int rb = za_attention_bwd(&emu, NULL, dq, scr, sn, dout, att, qkv, B, T, C, NH, t->KV);
    char sh[96];
    snprintf(sh, sizeof sh, "%s B=%d T=%d C=%d NH=%d KV=%d, scratch of %.3g heads", math ? "bf16" : "fp32", B, T, C,
             NH, t->KV, t->heads_room);
    ok(rf == 0 && rb == 0 && !bad_ptr && !races && !aliased && !bad_ld,
       "%s: %d batched GEMMs, none out of the buffers (%d), racing (%d), reading what it writes (%d), with a "
       "leading dimension cuBLAS refuses (%d)", sh, calls, bad_ptr, races, aliased, bad_ld);
    /* fp32: summation order apart, the CPU's; bf16: P and dS rounded
     * from values that differ in their last bits may round apart, one
     * 16-bit step of one term (a bf16 ulp bounds it; the norm stays
     * tight) */
    double tol = math ? 1.0 / 256 : 2e-5;
    double eo = maxrel(out, cout, no), eg = maxrel(dq, cdq, n3);
    ok(eo <= tol && (!math || normrel(out, cout, no) <= 1e-5),
       "%s: out as the CPU row's (max-rel %.2g, norm-rel %.2g)", sh, eo, normrel(out, cout, no));
    ok(ea <= 2e-5, "%s: the probabilities as the CPU row's (max-rel %.2g)", sh, ea);
    ok(eg <= tol && (!math || normrel(dq, cdq, n3) <= 1e-5),
       "%s: dqkv, accumulated, as the CPU row's (max-rel %.2g, norm-rel %.2g)", sh, eg, normrel(dq, cdq, n3));
    free(cout), free(catt), free(cdq), free(cscr), free(rs);
}

int main(void)
{
    static const tcase cases[] = {
        {2, 5, 8, 4, 2, 1},     /* grouped, one head at a time */
        {2, 5, 8, 4, 4, 3},     /* one K/V head a query head, 3 at a time */
        {2, 5, 8, 4, 0, 2.5},   /* KV 0 meaning NH; a scratch of 2 heads and a half */
        {1, 7, 12, 6, 1, 64},   /* one K/V head for all (multi-query) */
        {3, 6, 12, 6, 3, 2},    /* three groups, batches of 2 then 1 */
        {1, 130, 16, 4, 2, 3},  /* more rows than the CPU's 128-row block */
    };
    size_t need = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tcase *t = &cases[i];
        size_t kv = (size_t)(t->KV > 0 ? t->KV : t->NH), ld = (size_t)t->C + 2 * kv * (size_t)(t->C / t->NH);
        size_t n = 2 * (size_t)t->B * t->T * ld + 2 * (size_t)t->B * t->T * t->C + (size_t)t->B * t->NH * t->T * t->T +
                   (size_t)(t->heads_room * (double)t->T * t->T);
        need = n > need ? n : need;
    }
    arena_n = need;
    arena = calloc(arena_n, sizeof *arena);
    wmark = calloc(arena_n, sizeof *wmark), rmark = calloc(arena_n, sizeof *rmark);
    if (!arena || !wmark || !rmark)
        abort();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int math = 0; math < 2; math++)
            one(&cases[i], math);
    /* what the row refuses: no room for one head's scores; KV not
     * dividing the heads */
    arena_used = 0;
    float *x = take(64);
    ok(za_attention_bwd(&emu, NULL, x, x, 15, x, x, x, 1, 4, 8, 2, 2) == -2,
       "a scratch under one head's T x T (15 floats for T = 4) is refused (-2)");
    ok(za_attention_fwd(&emu, NULL, x, x, x, 1, 4, 12, 6, 4) == -1, "4 KV heads for 6 query heads are refused (-1)");
    free(arena), free(wmark), free(rmark);
    tap_plan(0);
    return tap_exit();
}
