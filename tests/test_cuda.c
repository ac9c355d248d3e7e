/* test_cuda.c - the CUDA row (backend/cuda) against its twin, the CPU row.
 *
 * Every operation of the table runs on both rows on the same random inputs
 * (fixed seed) and the results are compared:
 *   - the model's kernels, forward and backward (backward with gradients
 *     that start non-zero, since they accumulate), on a few shapes whose
 *     sizes are not multiples of 32, as max|cuda - cpu| / max|cpu| (the
 *     summation orders differ: 1e-5): GPT-2's (embedding with and without
 *     learned positions, LayerNorm, matmul, GELU) and the LLaMA family's
 *     (RMSNorm, rotary positions, SwiGLU), attention (stored probabilities
 *     and flash-style) with one K/V head a query head and grouped (KV < NH,
 *     KV <= 0 meaning NH; the backward's scores' gradients one head at a
 *     time and three); the linear layers under bf16 and fp16 math, and
 *     attention under bf16 (tensor cores), within one 16-bit ulp of an
 *     operand of the CPU row's rounded copies, and rounded (not TF32);
 *   - cross-entropy's mean loss (relative 1e-5) and its gradient;
 *   - AdamW and SGD on device and host arrays with fp32, bf16 and fp16
 *     gradients and a gradient scale, sums of squares (and inf, NaN);
 *   - the 16-bit conversions bit for bit: in-place narrow and widen of
 *     random bit patterns (NaN, inf, subnormals included), and convert
 *     between every pair of pools and types, with and without acc;
 *   - copy and zero between the pools, a refused allocation, the marks.
 * Memory moves between the CPU's buffers and the GPU's through the CUDA
 * row's copy.  Without a GPU the whole test is skipped (1..0 # SKIP).
 * ZP_CUDA_BIG=1 adds an in-place narrow and widen of 2^31 + 5 values (about
 * 8.6 GB of device memory, 13 GB of host memory). */
#include "device.h"
#include "kernels.h"
#include "cuda/kernels_cuda.h"
#include "tap.h"

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-5

static ze_dev cpu, gpu;
static ze_alloc acpu, agpu;
static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

/* uniform in [-1, 1) */
static float frand(void)
{
    return (float)(rnd() >> 40) * (1.0f / 8388608.0f) - 1.0f;
}

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        printf("Bail out! no host memory for %zu bytes\n", bytes);
        exit(1);
    }
    return p;
}

/* n floats uniform in [lo, hi) */
static float *hrand(size_t n, float lo, float hi)
{
    float *p = xmalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * 0.5f * (frand() + 1.0f);
    return p;
}

/* n NaNs: what a written gradient's old values are in the tests (read,
 * they would show) */
static float *hnan(size_t n)
{
    float *p = xmalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

static void *dalloc(size_t bytes)
{
    void *p = ze_dev_alloc(&gpu, ZE_DEVICE, ZE_ACT, bytes, 0);
    if (!p) {
        printf("Bail out! the CUDA row refused %zu device bytes: %s\n", bytes, gpu.err);
        exit(1);
    }
    return p;
}

static void *palloc(size_t bytes)   /* the CUDA row's host pool: pinned */
{
    void *p = ze_dev_alloc(&gpu, ZE_HOST, ZE_BUF, bytes, 0);
    if (!p) {
        printf("Bail out! the CUDA row refused %zu host bytes: %s\n", bytes, gpu.err);
        exit(1);
    }
    return p;
}

static void *up(const void *h, size_t bytes)
{
    void *p = dalloc(bytes);
    gpu.ops->copy(&gpu, p, ZE_DEVICE, h, ZE_HOST, bytes);
    return p;
}

static void down(void *h, const void *dp, size_t bytes)
{
    gpu.ops->copy(&gpu, h, ZE_HOST, dp, ZE_DEVICE, bytes);
}

static void dfree(void *p)
{
    ze_dev_free(&gpu, p);
}

/* max|a - b| / max(max|b|, 1e-6); inf when a value is NaN */
static double maxrel(const float *a, const float *b, size_t n)
{
    double d = 0.0, m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (isnan(e))
            return INFINITY;
        d = e > d ? e : d;
        m = fabs((double)b[i]) > m ? fabs((double)b[i]) : m;
    }
    return d / (m > 1e-6 ? m : 1e-6);
}

/* ||a - b|| / max(||b||, 1e-6) */
static double normrel(const float *a, const float *b, size_t n)
{
    double d = 0.0, m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - (double)b[i];
        d += e * e;
        m += (double)b[i] * (double)b[i];
    }
    d = sqrt(d), m = sqrt(m);
    return isnan(d) ? INFINITY : d / (m > 1e-6 ? m : 1e-6);
}

/* The device array dev (n floats) against the CPU's ref. */
static void check(const char *what, const char *shape, const float *dev, const float *ref, size_t n)
{
    float *h = xmalloc(n * sizeof *h);
    down(h, dev, n * sizeof *h);
    double mr = maxrel(h, ref, n), nr = normrel(h, ref, n);
    ok(mr <= TOL, "%s %s: max-rel %.3g, norm-rel %.3g", what, shape, mr, nr);
    free(h);
}

/* the same within tol: the tensor cores' 16-bit products against the CPU
 * row's rounded copies (the library's conversion need not round to
 * nearest even as the CPU row does: one 16-bit ulp of an operand, 2^-8
 * for bf16 and 2^-11 for fp16, is what the two may differ by) */
static void check_tol(const char *what, const char *shape, const float *dev, const float *ref, size_t n, double tol)
{
    float *h = xmalloc(n * sizeof *h);
    down(h, dev, n * sizeof *h);
    double mr = maxrel(h, ref, n), nr = normrel(h, ref, n);
    ok(mr <= tol, "%s %s: max-rel %.3g (at most %.3g), norm-rel %.3g", what, shape, mr, tol, nr);
    free(h);
}

static size_t bytes_differ(const void *a, const void *b, size_t n, size_t unit)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += memcmp((const char *)a + i * unit, (const char *)b + i * unit, unit) != 0;
    return k;
}

/* Flash attention under 16-bit math on the tensor cores (head sizes a
 * multiple of 16 up to 128): the GPU against the CPU row's rounding twin
 * (zk_flash_*_m: the same operands rounded to the same bits at the same
 * moments) within one 16-bit ulp of a term (a probability whose fp32 value
 * sits at a rounding boundary may round the other way after the GPU's
 * other summation order and exp), lse as fp32; its output farther than
 * that from the exact kernel's (the operands were rounded); the backward
 * from the CPU's out and lse, what it adds onto random gradients against
 * what the CPU adds onto zeros; then a part of the sequence (context
 * parallelism: queries T/4 .. T/2 - 1 against every key, the keys' and
 * values' gradients into kv's layout). */
static void flash_tc_case(const char *ska, const float *qkv, const float *dqkv, const float *go, const float *dgo,
                          int B, int T, int C, int NH, int KV, ze_dt math)
{
    const size_t fs = sizeof(float);
    int kv = KV > 0 ? KV : NH, hs = C / NH;
    size_t ld3 = (size_t)C + 2 * (size_t)kv * hs, n3 = (size_t)B * T * ld3, NC = (size_t)B * T * C;
    size_t nl = (size_t)B * NH * T;
    const char *mn = ze_dt_names[math];
    char what[96];
    float *xo = xmalloc(NC * fs), *xl = xmalloc(nl * fs), *fo = xmalloc(NC * fs), *fl = xmalloc(nl * fs);
    float *h = xmalloc((NC > n3 ? NC : n3) * fs), *g0 = hrand(n3, -1, 1), *fg = calloc(n3, fs);
    float *dfo = dalloc(NC * fs), *dfl = dalloc(nl * fs), *dfg = up(g0, n3 * fs);
    if (!fg)
        abort();
    cpu.ops->flash_fwd(&cpu, xo, xl, qkv, B, T, C, NH, KV);   /* exact */
    cpu.math = gpu.math = math;
    cpu.ops->flash_fwd(&cpu, fo, fl, qkv, B, T, C, NH, KV);
    gpu.ops->flash_fwd(&gpu, dfo, dfl, dqkv, B, T, C, NH, KV);
    snprintf(what, sizeof what, "%s math: flash_fwd out on the tensor cores", mn);
    check_tol(what, ska, dfo, fo, NC, 1.0 / 256);
    snprintf(what, sizeof what, "%s math: flash_fwd lse on the tensor cores", mn);
    check(what, ska, dfl, fl, nl);
    down(h, dfo, NC * fs);
    double ex = normrel(h, xo, NC);
    ok(ex > 1e-4, "%s math: flash_fwd out %s: %.3g from the exact kernel's (its operands rounded)", mn, ska, ex);
    gpu.ops->copy(&gpu, dfo, ZE_DEVICE, fo, ZE_HOST, NC * fs);
    gpu.ops->copy(&gpu, dfl, ZE_DEVICE, fl, ZE_HOST, nl * fs);
    cpu.ops->flash_bwd(&cpu, fg, go, fo, fl, qkv, B, T, C, NH, KV);
    gpu.ops->flash_bwd(&gpu, dfg, dgo, dfo, dfl, dqkv, B, T, C, NH, KV);
    down(h, dfg, n3 * fs);
    for (size_t i = 0; i < n3; i++)
        h[i] -= g0[i];   /* what the GPU added */
    double mr = maxrel(h, fg, n3);
    ok(mr <= 1.0 / 256, "%s math: flash_bwd dqkv on the tensor cores %s: what it adds, max-rel %.3g (at most %.3g), "
       "norm-rel %.3g", mn, ska, mr, 1.0 / 256, normrel(h, fg, n3));
    /* a part of the sequence */
    int q0 = T / 4, Tq = T / 4 > 0 ? T / 4 : 1;
    size_t lk = 2 * (size_t)kv * hs, npq = (size_t)B * Tq * ld3, nkv = (size_t)B * T * lk;
    size_t npo = (size_t)B * Tq * C, npl = (size_t)B * NH * Tq;
    float *pq = xmalloc(npq * fs), *pk = xmalloc(nkv * fs), *pgo = hrand(npo, -1, 1);
    for (int b = 0; b < B; b++) {
        memcpy(pq + (size_t)b * Tq * ld3, qkv + ((size_t)b * T + q0) * ld3, (size_t)Tq * ld3 * fs);
        for (int t = 0; t < T; t++)
            memcpy(pk + ((size_t)b * T + t) * lk, qkv + ((size_t)b * T + t) * ld3 + C, lk * fs);
    }
    float *po = xmalloc(npo * fs), *pl = xmalloc(npl * fs), *pg = calloc(npq, fs), *pdk = calloc(nkv, fs);
    float *dpq = up(pq, npq * fs), *dpk = up(pk, nkv * fs), *dpgo = up(pgo, npo * fs), *dpo = dalloc(npo * fs);
    float *dpl = dalloc(npl * fs), *dpg = up(pg, npq * fs), *dpdk = up(pdk, nkv * fs);
    if (!pg || !pdk)
        abort();
    cpu.ops->flash_fwd_part(&cpu, po, pl, pq, pk, B, Tq, q0, T, C, NH, KV);
    gpu.ops->flash_fwd_part(&gpu, dpo, dpl, dpq, dpk, B, Tq, q0, T, C, NH, KV);
    snprintf(what, sizeof what, "%s math: flash_fwd_part out on the tensor cores", mn);
    check_tol(what, ska, dpo, po, npo, 1.0 / 256);
    snprintf(what, sizeof what, "%s math: flash_fwd_part lse on the tensor cores", mn);
    check(what, ska, dpl, pl, npl);
    gpu.ops->copy(&gpu, dpo, ZE_DEVICE, po, ZE_HOST, npo * fs);
    gpu.ops->copy(&gpu, dpl, ZE_DEVICE, pl, ZE_HOST, npl * fs);
    cpu.ops->flash_bwd_part(&cpu, pg, pdk, pgo, po, pl, pq, pk, B, Tq, q0, T, C, NH, KV);
    gpu.ops->flash_bwd_part(&gpu, dpg, dpdk, dpgo, dpo, dpl, dpq, dpk, B, Tq, q0, T, C, NH, KV);
    snprintf(what, sizeof what, "%s math: flash_bwd_part dqkv (the queries') on the tensor cores", mn);
    check_tol(what, ska, dpg, pg, npq, 1.0 / 256);
    snprintf(what, sizeof what, "%s math: flash_bwd_part dkv on the tensor cores", mn);
    check_tol(what, ska, dpdk, pdk, nkv, 1.0 / 256);
    cpu.math = gpu.math = ZE_F32;
    free(xo), free(xl), free(fo), free(fl), free(h), free(g0), free(fg);
    free(pq), free(pk), free(pgo), free(po), free(pl), free(pg), free(pdk);
    dfree(dfo), dfree(dfl), dfree(dfg), dfree(dpq), dfree(dpk), dfree(dpgo), dfree(dpo), dfree(dpl), dfree(dpg);
    dfree(dpdk);
}

/* ------------------------------------------------------------ the model */

typedef struct shape {
    int B, T, C, NH, V;
} shape;

static void test_model(const shape *s)
{
    int B = s->B, T = s->T, C = s->C, NH = s->NH, V = s->V, N = B * T, F = 4 * C;
    size_t NC = (size_t)N * (size_t)C, NF = (size_t)N * (size_t)F, fs = sizeof(float);
    char sh[96];
    snprintf(sh, sizeof sh, "B=%d T=%d C=%d NH=%d V=%d", B, T, C, NH, V);

    int *tok = xmalloc((size_t)N * sizeof *tok), *tgt = xmalloc((size_t)N * sizeof *tgt);
    for (int i = 0; i < N; i++) {
        tok[i] = (int)(rnd() % (uint64_t)V);
        tgt[i] = (int)(rnd() % (uint64_t)V);
    }
    int *dtok = up(tok, (size_t)N * sizeof *tok), *dtgt = up(tgt, (size_t)N * sizeof *tgt);

    /* embedding */
    {
        float *wte = hrand((size_t)V * C, -1, 1), *wpe = hrand((size_t)T * C, -1, 1), *out = hrand(NC, -1, 1);
        float *dwte = up(wte, (size_t)V * C * fs), *dwpe = up(wpe, (size_t)T * C * fs), *dout = up(out, NC * fs);
        cpu.ops->embed_fwd(&cpu, out, tok, wte, wpe, B, T, C);
        gpu.ops->embed_fwd(&gpu, dout, dtok, dwte, dwpe, B, T, C);
        check("embed_fwd out", sh, dout, out, NC);
        float *g = hrand(NC, -1, 1), *dg = up(g, NC * fs);
        cpu.ops->embed_bwd(&cpu, wte, wpe, g, tok, B, T, C);   /* wte, wpe: gradients that start non-zero */
        gpu.ops->embed_bwd(&gpu, dwte, dwpe, dg, dtok, B, T, C);
        check("embed_bwd dwte", sh, dwte, wte, (size_t)V * C);
        check("embed_bwd dwpe", sh, dwpe, wpe, (size_t)T * C);
        /* no learned positions: wpe NULL, dwpe NULL */
        cpu.ops->embed_fwd(&cpu, out, tok, wte, NULL, B, T, C);
        gpu.ops->embed_fwd(&gpu, dout, dtok, dwte, NULL, B, T, C);
        check("embed_fwd out (wpe NULL)", sh, dout, out, NC);
        cpu.ops->embed_bwd(&cpu, wte, NULL, g, tok, B, T, C);
        gpu.ops->embed_bwd(&gpu, dwte, NULL, dg, dtok, B, T, C);
        check("embed_bwd dwte (dwpe NULL)", sh, dwte, wte, (size_t)V * C);
        free(wte), free(wpe), free(out), free(g);
        dfree(dwte), dfree(dwpe), dfree(dout), dfree(dg);
    }

    /* LayerNorm */
    {
        float *inp = hrand(NC, -2, 3), *w = hrand((size_t)C, 0.5f, 1.5f), *b = hrand((size_t)C, -0.5f, 0.5f);
        float *out = hrand(NC, -1, 1), *mean = hrand((size_t)N, -1, 1), *rstd = hrand((size_t)N, -1, 1);
        float *dinp = up(inp, NC * fs), *dw = up(w, (size_t)C * fs), *db = up(b, (size_t)C * fs);
        float *dout = up(out, NC * fs), *dmean = up(mean, (size_t)N * fs), *drstd = up(rstd, (size_t)N * fs);
        cpu.ops->layernorm_fwd(&cpu, out, mean, rstd, inp, w, b, N, C);
        gpu.ops->layernorm_fwd(&gpu, dout, dmean, drstd, dinp, dw, db, N, C);
        check("layernorm_fwd out", sh, dout, out, NC);
        check("layernorm_fwd mean", sh, dmean, mean, (size_t)N);
        check("layernorm_fwd rstd", sh, drstd, rstd, (size_t)N);
        /* backward from the CPU's saved mean and rstd */
        float *gi = hrand(NC, -1, 1), *gw = hrand((size_t)C, -1, 1), *gb = hrand((size_t)C, -1, 1);
        float *go = hrand(NC, -1, 1);
        float *dgi = up(gi, NC * fs), *dgw = up(gw, (size_t)C * fs), *dgb = up(gb, (size_t)C * fs);
        float *dgo = up(go, NC * fs);
        gpu.ops->copy(&gpu, dmean, ZE_DEVICE, mean, ZE_HOST, (size_t)N * fs);
        gpu.ops->copy(&gpu, drstd, ZE_DEVICE, rstd, ZE_HOST, (size_t)N * fs);
        cpu.ops->layernorm_bwd(&cpu, gi, gw, gb, go, inp, w, mean, rstd, N, C);
        gpu.ops->layernorm_bwd(&gpu, dgi, dgw, dgb, dgo, dinp, dw, dmean, drstd, N, C);
        check("layernorm_bwd dinp", sh, dgi, gi, NC);
        check("layernorm_bwd dw", sh, dgw, gw, (size_t)C);
        check("layernorm_bwd db", sh, dgb, gb, (size_t)C);
        free(inp), free(w), free(b), free(out), free(mean), free(rstd), free(gi), free(gw), free(gb), free(go);
        dfree(dinp), dfree(dw), dfree(db), dfree(dout), dfree(dmean), dfree(drstd);
        dfree(dgi), dfree(dgw), dfree(dgb), dfree(dgo);
    }

    /* RMSNorm */
    {
        float *inp = hrand(NC, -2, 3), *w = hrand((size_t)C, 0.5f, 1.5f);
        float *out = hrand(NC, -1, 1), *rstd = hrand((size_t)N, -1, 1);
        float *dinp = up(inp, NC * fs), *dw = up(w, (size_t)C * fs);
        float *dout = up(out, NC * fs), *drstd = up(rstd, (size_t)N * fs);
        cpu.ops->rmsnorm_fwd(&cpu, out, rstd, inp, w, N, C);
        gpu.ops->rmsnorm_fwd(&gpu, dout, drstd, dinp, dw, N, C);
        check("rmsnorm_fwd out", sh, dout, out, NC);
        check("rmsnorm_fwd rstd", sh, drstd, rstd, (size_t)N);
        /* backward from the CPU's saved rstd */
        float *gi = hrand(NC, -1, 1), *gw = hrand((size_t)C, -1, 1), *go = hrand(NC, -1, 1);
        float *dgi = up(gi, NC * fs), *dgw = up(gw, (size_t)C * fs), *dgo = up(go, NC * fs);
        gpu.ops->copy(&gpu, drstd, ZE_DEVICE, rstd, ZE_HOST, (size_t)N * fs);
        cpu.ops->rmsnorm_bwd(&cpu, gi, gw, go, inp, w, rstd, N, C);
        gpu.ops->rmsnorm_bwd(&gpu, dgi, dgw, dgo, dinp, dw, drstd, N, C);
        check("rmsnorm_bwd dinp", sh, dgi, gi, NC);
        check("rmsnorm_bwd dw", sh, dgw, gw, (size_t)C);
        free(inp), free(w), free(out), free(rstd), free(gi), free(gw), free(go);
        dfree(dinp), dfree(dw), dfree(dout), dfree(drstd), dfree(dgi), dfree(dgw), dfree(dgo);
    }

    /* matmul: (IC, OC) = (C, 3C) with bias and dinp, dbias; (F, C) without */
    for (int k = 0; k < 2; k++) {
        int IC = k == 0 ? C : F, OC = k == 0 ? 3 * C : C;
        size_t ni = (size_t)N * IC, no = (size_t)N * OC, nw = (size_t)OC * IC;
        char what[64];
        float *inp = hrand(ni, -1, 1), *w = hrand(nw, -1, 1), *bias = k == 0 ? hrand((size_t)OC, -1, 1) : NULL;
        float *out = hrand(no, -1, 1);
        float *dinp = up(inp, ni * fs), *dw = up(w, nw * fs), *dbias = bias ? up(bias, (size_t)OC * fs) : NULL;
        float *dout = up(out, no * fs);
        cpu.ops->matmul_fwd(&cpu, out, inp, w, bias, N, IC, OC);
        gpu.ops->matmul_fwd(&gpu, dout, dinp, dw, dbias, N, IC, OC);
        snprintf(what, sizeof what, "matmul_fwd out (IC=%d OC=%d%s)", IC, OC, bias ? " bias" : "");
        check(what, sh, dout, out, no);
        float *gi = hrand(ni, -1, 1), *gw = hrand(nw, -1, 1), *gb = hrand((size_t)OC, -1, 1), *go = hrand(no, -1, 1);
        float *dgi = up(gi, ni * fs), *dgw = up(gw, nw * fs), *dgb = up(gb, (size_t)OC * fs), *dgo = up(go, no * fs);
        cpu.ops->matmul_bwd(&cpu, k == 0 ? gi : NULL, gw, k == 0 ? gb : NULL, go, inp, w, N, IC, OC);
        gpu.ops->matmul_bwd(&gpu, k == 0 ? dgi : NULL, dgw, k == 0 ? dgb : NULL, dgo, dinp, dw, N, IC, OC);
        snprintf(what, sizeof what, "matmul_bwd dinp (IC=%d OC=%d%s)", IC, OC, k == 0 ? "" : ", NULL: untouched");
        check(what, sh, dgi, gi, ni);
        snprintf(what, sizeof what, "matmul_bwd dw (IC=%d OC=%d)", IC, OC);
        check(what, sh, dgw, gw, nw);
        snprintf(what, sizeof what, "matmul_bwd dbias (IC=%d OC=%d%s)", IC, OC, k == 0 ? "" : ", NULL: untouched");
        check(what, sh, dgb, gb, (size_t)OC);
        {   /* written (matmul_bwd_set): dinp over NaN on both rows, dw and
             * dbias added to what the accumulating call left */
            float *si = hnan(ni), *dsi = up(si, ni * fs);
            cpu.ops->matmul_bwd_set(&cpu, si, gw, k == 0 ? gb : NULL, go, inp, w, N, IC, OC);
            gpu.ops->matmul_bwd_set(&gpu, dsi, dgw, k == 0 ? dgb : NULL, dgo, dinp, dw, N, IC, OC);
            snprintf(what, sizeof what, "matmul_bwd_set dinp (IC=%d OC=%d, written over NaN)", IC, OC);
            check(what, sh, dsi, si, ni);
            snprintf(what, sizeof what, "matmul_bwd_set dw (IC=%d OC=%d, added to)", IC, OC);
            check(what, sh, dgw, gw, nw);
            snprintf(what, sizeof what, "matmul_bwd_set dbias (IC=%d OC=%d%s)", IC, OC, k == 0 ? ", added to" : ", NULL");
            check(what, sh, dgb, gb, (size_t)OC);
            free(si), dfree(dsi);
        }
        free(inp), free(w), free(bias), free(out), free(gi), free(gw), free(gb), free(go);
        dfree(dinp), dfree(dw), dfree(dbias), dfree(dout), dfree(dgi), dfree(dgw), dfree(dgb), dfree(dgo);
    }

    /* the GEMMs so far were timed apart (an event pair around each): some
     * time, less than the wall clock since the row started */
    {
        double gs = 0.0, gf = 0.0;
        gpu.ops->gemm_stats(&gpu, &gs, &gf);
        ok(gs > 0.0 && gs < 600.0 && gf > 0.0, "the CUDA row times its GEMMs: %.3g s for %.3g FLOPs so far (%s)", gs,
           gf, sh);
    }

    /* the linear layers' products under bf16 and fp16 math (ze_dev.math:
     * cuBLAS's FAST_16BF / FAST_16F compute types on the fp32 tensors)
     * against the CPU row's operands rounded to nearest even */
    for (int mt = 0; mt < 2; mt++) {
        ze_dt math = mt == 0 ? ZE_BF16 : ZE_F16;
        double tol = mt == 0 ? 1.0 / 256 : 1.0 / 2048;
        int IC = C, OC = 3 * C;
        size_t ni = (size_t)N * IC, no = (size_t)N * OC, nw = (size_t)OC * IC;
        char what[80];
        float *inp = hrand(ni, -1, 1), *w = hrand(nw, -1, 1), *bias = hrand((size_t)OC, -1, 1);
        float *out = hrand(no, -1, 1), *gi = hrand(ni, -1, 1), *gw = hrand(nw, -1, 1), *gb = hrand((size_t)OC, -1, 1);
        float *go = hrand(no, -1, 1);
        float *dinp = up(inp, ni * fs), *dw = up(w, nw * fs), *dbias = up(bias, (size_t)OC * fs);
        float *dout = up(out, no * fs), *dgi = up(gi, ni * fs), *dgw = up(gw, nw * fs);
        float *dgb = up(gb, (size_t)OC * fs), *dgo = up(go, no * fs);
        cpu.math = gpu.math = math;
        cpu.ops->matmul_fwd(&cpu, out, inp, w, bias, N, IC, OC);
        gpu.ops->matmul_fwd(&gpu, dout, dinp, dw, dbias, N, IC, OC);
        cpu.ops->matmul_bwd(&cpu, gi, gw, gb, go, inp, w, N, IC, OC);
        gpu.ops->matmul_bwd(&gpu, dgi, dgw, dgb, dgo, dinp, dw, N, IC, OC);
        cpu.math = gpu.math = ZE_F32;
        snprintf(what, sizeof what, "%s math: matmul_fwd out", ze_dt_names[math]);
        check_tol(what, sh, dout, out, no, tol);
        snprintf(what, sizeof what, "%s math: matmul_bwd dinp", ze_dt_names[math]);
        check_tol(what, sh, dgi, gi, ni, tol);
        snprintf(what, sizeof what, "%s math: matmul_bwd dw", ze_dt_names[math]);
        check_tol(what, sh, dgw, gw, nw, tol);
        snprintf(what, sizeof what, "%s math: matmul_bwd dbias (a sum: exact)", ze_dt_names[math]);
        check(what, sh, dgb, gb, (size_t)OC);
        free(inp), free(w), free(bias), free(out), free(gi), free(gw), free(gb), free(go);
        dfree(dinp), dfree(dw), dfree(dbias), dfree(dout), dfree(dgi), dfree(dgw), dfree(dgb), dfree(dgo);
    }

    /* that the tensor cores' products are the 16-bit operands' (cuBLAS may
     * convert FAST_16BF/16F operands to TF32 instead): 1 + 2^-9 is a
     * quarter of bf16's ulp at 1 (TF32 and fp32 hold it exactly), 1 +
     * 2^-12 a quarter of fp16's (fp32 holds it), so every rounding to
     * 16 bits, nearest or toward zero, makes it 1: out = sum of IC ones,
     * not IC (1 + e); dw = sum of N ones; dinp = sum of OC ones */
    for (int mt = 0; mt < 2 && s->C == 64; mt++) {
        ze_dt math = mt == 0 ? ZE_BF16 : ZE_F16;
        enum { RN = 5, RI = 256, RO = 3 };
        float e = mt == 0 ? 1.0f / 512 : 1.0f / 4096, one = 1.0f, x = 1.0f + e;
        float hin[RN * RI], hw[RO * RI], ho[RN * RO];
        for (int i = 0; i < RN * RI; i++)
            hin[i] = x;
        for (int i = 0; i < RO * RI; i++)
            hw[i] = one;
        for (int i = 0; i < RN * RO; i++)
            ho[i] = x;
        float *din = up(hin, sizeof hin), *dw = up(hw, sizeof hw), *dout = up(ho, sizeof ho);
        float *dgi = up(hin, sizeof hin), *dgw = up(hw, sizeof hw), *dgo = up(ho, sizeof ho);
        gpu.ops->zero(&gpu, dgi, ZE_DEVICE, sizeof hin);
        gpu.ops->zero(&gpu, dgw, ZE_DEVICE, sizeof hw);
        gpu.math = math;
        gpu.ops->matmul_fwd(&gpu, dout, din, dw, NULL, RN, RI, RO);
        gpu.ops->matmul_bwd(&gpu, dgi, dgw, NULL, dgo, din, dw, RN, RI, RO);
        /* the same product with a (zero) bias: cuBLASLt's, the bias in its
         * epilogue, in the same compute type, which may not go to TF32
         * either */
        float hz[RO] = {0}, lo[RN * RO];
        float *dz = up(hz, sizeof hz), *dlo = up(ho, sizeof ho);
        int lon = 0, lsh = 0, lfu = 0;
        long lc0 = 0, lc1 = 0;
        ze_dev_cuda_lt(&gpu, &lon, &lc0, &lsh, &lfu);
        gpu.ops->matmul_fwd(&gpu, dlo, din, dw, dz, RN, RI, RO);
        ze_dev_cuda_lt(&gpu, &lon, &lc1, &lsh, &lfu);
        gpu.math = ZE_F32;
        float ro[RN * RO], rgi[RN * RI], rgw[RO * RI];
        down(ro, dout, sizeof ro), down(rgi, dgi, sizeof rgi), down(rgw, dgw, sizeof rgw);
        down(lo, dlo, sizeof lo);
        {
            double wl = 0;
            for (int i = 0; i < RN * RO; i++)
                wl = fmax(wl, fabs(lo[i] - RI));
            if (lc1 > lc0)
                ok(wl <= 1e-3, "%s math, a product with a bias through cuBLASLt: the operands rounded too (out = %d, "
                   "worst off by %.3g; unrounded: %.4g)", ze_dt_names[math], RI, wl, RI * (double)e);
            else
                ok(wl <= 1e-3, "%s math, a product with a bias (cuBLASLt %s, the cuBLAS way): out = %d, worst off by "
                   "%.3g", ze_dt_names[math], lon ? "had no algorithm for it" : "off", RI, wl);
        }
        dfree(dz), dfree(dlo);
        double wo = 0, wi = 0, ww = 0;
        for (int i = 0; i < RN * RO; i++)
            wo = fmax(wo, fabs(ro[i] - RI));
        for (int i = 0; i < RN * RI; i++)
            wi = fmax(wi, fabs(rgi[i] - RO));
        for (int i = 0; i < RO * RI; i++)
            ww = fmax(ww, fabs(rgw[i] - RN));
        ok(wo <= 1e-3 && wi <= 1e-3 && ww <= 1e-3,
           "%s math: the operands are rounded to %s (1 + 2^-%d becomes 1): out = %d, dinp = %d, dw = %d, worst off "
           "by %.3g, %.3g, %.3g (unrounded: %.4g, %.4g, %.4g)", ze_dt_names[math], ze_dt_names[math], mt == 0 ? 9 : 12,
           RI, RO, RN, wo, wi, ww, RI * (double)e, RO * (double)e, RN * (double)e);
        dfree(din), dfree(dw), dfree(dout), dfree(dgi), dfree(dgw), dfree(dgo);
    }

    /* attention and rotary positions: one K/V head a query head (KV = NH);
     * then grouped (KV = NH/2) where NH is even, else KV = 0 (meaning NH) */
    for (int k = 0; k < 2; k++) {
        int KV = k == 0 ? NH : NH % 2 == 0 ? NH / 2 : 0, kv = KV > 0 ? KV : NH, hs = C / NH;
        size_t n3 = (size_t)N * ((size_t)C + 2 * (size_t)kv * (size_t)hs), na = (size_t)B * NH * T * T;
        char ska[128];
        snprintf(ska, sizeof ska, "%s KV=%d", sh, KV);
        float *qkv = hrand(n3, -1, 1), *out = hrand(NC, -1, 1), *att = hrand(na, -1, 1);
        float *dqkv = up(qkv, n3 * fs), *dout = up(out, NC * fs), *datt = up(att, na * fs);   /* garbage att */
        cpu.ops->attention_fwd(&cpu, out, att, qkv, B, T, C, NH, KV);
        gpu.ops->attention_fwd(&gpu, dout, datt, dqkv, B, T, C, NH, KV);
        check("attention_fwd out", ska, dout, out, NC);
        check("attention_fwd att", ska, datt, att, na);
        /* backward from the CPU's probabilities; the GPU's scores'
         * gradients one head at a time (k = 0), then three heads' room */
        size_t sn = (size_t)(k == 0 ? 1 : 3) * T * T;
        float *g = hrand(n3, -1, 1), *go = hrand(NC, -1, 1), *scratch = xmalloc((size_t)T * T * fs);
        float *dg = up(g, n3 * fs), *dgo = up(go, NC * fs), *dscratch = dalloc(sn * fs);
        gpu.ops->copy(&gpu, datt, ZE_DEVICE, att, ZE_HOST, na * fs);
        cpu.ops->attention_bwd(&cpu, g, scratch, (size_t)T * T, go, att, qkv, B, T, C, NH, KV);
        gpu.ops->attention_bwd(&gpu, dg, dscratch, sn, dgo, datt, dqkv, B, T, C, NH, KV);
        check(k == 0 ? "attention_bwd dqkv (scratch of 1 head)" : "attention_bwd dqkv (scratch of 3 heads)", ska, dg,
              g, n3);
        /* the same under bf16 math (the tensor cores): the GPU's within a
         * bf16 ulp of the CPU's rounded operands, forward and backward */
        {
            float *mo = hrand(NC, -1, 1), *ma = hrand(na, -1, 1), *mg = hrand(n3, -1, 1);
            float *dmo = up(mo, NC * fs), *dma = up(ma, na * fs), *dmg = up(mg, n3 * fs);
            cpu.math = gpu.math = ZE_BF16;
            cpu.ops->attention_fwd(&cpu, mo, ma, qkv, B, T, C, NH, KV);
            gpu.ops->attention_fwd(&gpu, dmo, dma, dqkv, B, T, C, NH, KV);
            check_tol("bf16 math: attention_fwd out", ska, dmo, mo, NC, 1.0 / 256);
            check("bf16 math: attention_fwd att (fp32 softmax of the rounded scores)", ska, dma, ma, na);
            gpu.ops->copy(&gpu, dma, ZE_DEVICE, ma, ZE_HOST, na * fs);
            cpu.ops->attention_bwd(&cpu, mg, scratch, (size_t)T * T, go, ma, qkv, B, T, C, NH, KV);
            gpu.ops->attention_bwd(&gpu, dmg, dscratch, sn, dgo, dma, dqkv, B, T, C, NH, KV);
            cpu.math = gpu.math = ZE_F32;
            check_tol("bf16 math: attention_bwd dqkv", ska, dmg, mg, n3, 1.0 / 256);
            free(mo), free(ma), free(mg), dfree(dmo), dfree(dma), dfree(dmg);
        }
        /* flash-style: out and the rows' log-sum-exp against the CPU's,
         * then the backward from the CPU's out and lse */
        {
            size_t nl = (size_t)B * NH * T;
            float *fo = hrand(NC, -1, 1), *lse = hrand(nl, -1, 1), *fg = hrand(n3, -1, 1);
            float *dfo = up(fo, NC * fs), *dlse = up(lse, nl * fs), *dfg = up(fg, n3 * fs);
            cpu.ops->flash_fwd(&cpu, fo, lse, qkv, B, T, C, NH, KV);
            gpu.ops->flash_fwd(&gpu, dfo, dlse, dqkv, B, T, C, NH, KV);
            check("flash_fwd out", ska, dfo, fo, NC);
            check("flash_fwd lse", ska, dlse, lse, nl);
            gpu.ops->copy(&gpu, dfo, ZE_DEVICE, fo, ZE_HOST, NC * fs);
            gpu.ops->copy(&gpu, dlse, ZE_DEVICE, lse, ZE_HOST, nl * fs);
            cpu.ops->flash_bwd(&cpu, fg, go, fo, lse, qkv, B, T, C, NH, KV);
            gpu.ops->flash_bwd(&gpu, dfg, dgo, dfo, dlse, dqkv, B, T, C, NH, KV);
            check("flash_bwd dqkv", ska, dfg, fg, n3);
            free(fo), free(lse), free(fg);
            dfree(dfo), dfree(dlse), dfree(dfg);
        }
        /* flash over a part of the sequence (context parallelism): the
         * queries of positions T/4 .. T/2 - 1 (one at least) against the
         * keys and values of the whole sequence (kv[B][T][2 kv hs], copied
         * out of qkv: keys past the last query there, as the engine hands
         * them), out, lse and the gradients (the queries', and the keys' and
         * values' into kv's layout, added to random values: the rows past
         * the last query kept) against the CPU's twin */
        {
            int q0 = T / 4, Tq = T / 4 > 0 ? T / 4 : 1;
            size_t ld3 = (size_t)C + 2 * (size_t)kv * (size_t)hs, lk = 2 * (size_t)kv * (size_t)hs;
            size_t npq = (size_t)B * Tq * ld3, nkv = (size_t)B * T * lk, npo = (size_t)B * Tq * C, npl = (size_t)B * NH * Tq;
            float *pq = xmalloc(npq * fs), *pk = xmalloc(nkv * fs), *pgo = hrand(npo, -1, 1);
            for (int b = 0; b < B; b++) {
                memcpy(pq + (size_t)b * Tq * ld3, qkv + ((size_t)b * T + q0) * ld3, (size_t)Tq * ld3 * fs);
                for (int t = 0; t < T; t++)
                    memcpy(pk + ((size_t)b * T + t) * lk, qkv + ((size_t)b * T + t) * ld3 + C, lk * fs);
            }
            float *po = hrand(npo, -1, 1), *pl = hrand(npl, -1, 1), *pg = hrand(npq, -1, 1), *pdk = hrand(nkv, -1, 1);
            float *dpq = up(pq, npq * fs), *dpk = up(pk, nkv * fs), *dpgo = up(pgo, npo * fs), *dpo = up(po, npo * fs);
            float *dpl = up(pl, npl * fs), *dpg = up(pg, npq * fs), *dpdk = up(pdk, nkv * fs);
            cpu.ops->flash_fwd_part(&cpu, po, pl, pq, pk, B, Tq, q0, T, C, NH, KV);
            gpu.ops->flash_fwd_part(&gpu, dpo, dpl, dpq, dpk, B, Tq, q0, T, C, NH, KV);
            check("flash_fwd_part out (queries T/2..)", ska, dpo, po, npo);
            check("flash_fwd_part lse", ska, dpl, pl, npl);
            gpu.ops->copy(&gpu, dpo, ZE_DEVICE, po, ZE_HOST, npo * fs);
            gpu.ops->copy(&gpu, dpl, ZE_DEVICE, pl, ZE_HOST, npl * fs);
            cpu.ops->flash_bwd_part(&cpu, pg, pdk, pgo, po, pl, pq, pk, B, Tq, q0, T, C, NH, KV);
            gpu.ops->flash_bwd_part(&gpu, dpg, dpdk, dpgo, dpo, dpl, dpq, dpk, B, Tq, q0, T, C, NH, KV);
            check("flash_bwd_part dqkv (the queries')", ska, dpg, pg, npq);
            check("flash_bwd_part dkv", ska, dpdk, pdk, nkv);
            free(pq), free(pk), free(pgo), free(po), free(pl), free(pg), free(pdk);
            dfree(dpq), dfree(dpk), dfree(dpgo), dfree(dpo), dfree(dpl), dfree(dpg), dfree(dpdk);
        }
        /* (the tensor-core kernels where the head size and this GPU's
         * shared memory allow them, as the CUDA row decides) */
        int optin = 0;
        if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0) != cudaSuccess)
            optin = 0;
        if (hs % 16 == 0 && hs <= 128 && !zc_flash_tc_fits(C, NH, (size_t)optin))
            diag("head size %d: this GPU's blocks have %d bytes of shared memory, too few for the tensor-core "
                 "flash kernels (the exact ones run, unrounded: the twins' comparison skipped)", hs, optin);
        else if (hs % 16 == 0 && hs <= 128)
            for (int mt = 0; mt < 2; mt++)
                flash_tc_case(ska, qkv, dqkv, go, dgo, B, T, C, NH, KV, mt ? ZE_F16 : ZE_BF16);
        else { /* another head size: exact under bf16 math on both rows */
            size_t nl = (size_t)B * NH * T;
            float *fo = xmalloc(NC * fs), *fl = xmalloc(nl * fs), *dfo = dalloc(NC * fs), *dfl = dalloc(nl * fs);
            cpu.math = gpu.math = ZE_BF16;
            cpu.ops->flash_fwd(&cpu, fo, fl, qkv, B, T, C, NH, KV);
            gpu.ops->flash_fwd(&gpu, dfo, dfl, dqkv, B, T, C, NH, KV);
            cpu.math = gpu.math = ZE_F32;
            check("bf16 math, a head size no tensor-core kernel takes: flash_fwd out (exact on both rows)", ska, dfo,
                  fo, NC);
            free(fo), free(fl), dfree(dfo), dfree(dfl);
        }
        /* rotary positions, in place on qkv (V untouched), then backward on
         * the gradient; positions up to T - 1 with theta 10000 */
        cpu.ops->rope_fwd(&cpu, qkv, B, T, C, NH, KV, 10000.0f, 3);
        gpu.ops->rope_fwd(&gpu, dqkv, B, T, C, NH, KV, 10000.0f, 3);
        check("rope_fwd qkv", ska, dqkv, qkv, n3);
        cpu.ops->rope_bwd(&cpu, g, B, T, C, NH, KV, 10000.0f, 3);
        gpu.ops->rope_bwd(&gpu, dg, B, T, C, NH, KV, 10000.0f, 3);
        check("rope_bwd dqkv", ska, dg, g, n3);
        free(qkv), free(out), free(att), free(g), free(go), free(scratch);
        dfree(dqkv), dfree(dout), dfree(datt), dfree(dg), dfree(dgo), dfree(dscratch);
    }

    /* GELU, acc */
    {
        float *inp = hrand(NF, -5, 5), *out = hrand(NF, -1, 1);
        float *dinp = up(inp, NF * fs), *dout = up(out, NF * fs);
        cpu.ops->gelu_fwd(&cpu, out, inp, NF);
        gpu.ops->gelu_fwd(&gpu, dout, dinp, NF);
        check("gelu_fwd out", sh, dout, out, NF);
        float *gi = hrand(NF, -1, 1), *go = hrand(NF, -1, 1);
        float *dgi = up(gi, NF * fs), *dgo = up(go, NF * fs);
        cpu.ops->gelu_bwd(&cpu, gi, inp, go, NF);
        gpu.ops->gelu_bwd(&gpu, dgi, dinp, dgo, NF);
        check("gelu_bwd dinp", sh, dgi, gi, NF);
        {   /* written (gelu_bwd_set): over NaN on both rows */
            float *si = hnan(NF), *dsi = up(si, NF * fs);
            cpu.ops->gelu_bwd_set(&cpu, si, inp, go, NF);
            gpu.ops->gelu_bwd_set(&gpu, dsi, dinp, dgo, NF);
            check("gelu_bwd_set dinp (written over NaN)", sh, dsi, si, NF);
            free(si), dfree(dsi);
        }
        cpu.ops->acc(&cpu, gi, go, NF);
        gpu.ops->acc(&gpu, dgi, dgo, NF);
        check("acc y", sh, dgi, gi, NF);
        free(inp), free(out), free(gi), free(go);
        dfree(dinp), dfree(dout), dfree(dgi), dfree(dgo);
    }

    /* rows of a column block (context parallelism's keys and values): N
     * rows of 3 floats from columns 2..4 of rows of 7 into rows of 3, and
     * added back into columns 1..3 of rows of 5 */
    {
        size_t nx = (size_t)N * 7, ny = (size_t)N * 3, nz = (size_t)N * 5;
        float *x = hrand(nx, -1, 1), *y = hrand(ny, -1, 1), *z = hrand(nz, -1, 1);
        float *dx = up(x, nx * fs), *dy = up(y, ny * fs), *dz = up(z, nz * fs);
        cpu.ops->copy_rows(&cpu, y, 3, x + 2, 7, (size_t)N, 3);
        gpu.ops->copy_rows(&gpu, dy, 3, dx + 2, 7, (size_t)N, 3);
        check("copy_rows (a column block)", sh, dy, y, ny);
        cpu.ops->acc_rows(&cpu, z + 1, 5, y, 3, (size_t)N, 3);
        gpu.ops->acc_rows(&gpu, dz + 1, 5, dy, 3, (size_t)N, 3);
        check("acc_rows (into a column block; the other columns kept)", sh, dz, z, nz);
        free(x), free(y), free(z);
        dfree(dx), dfree(dy), dfree(dz);
    }

    /* SwiGLU: inp[N][2F] (gate, up), out[N][F] */
    {
        float *inp = hrand(2 * NF, -5, 5), *out = hrand(NF, -1, 1);
        float *dinp = up(inp, 2 * NF * fs), *dout = up(out, NF * fs);
        cpu.ops->swiglu_fwd(&cpu, out, inp, N, F);
        gpu.ops->swiglu_fwd(&gpu, dout, dinp, N, F);
        check("swiglu_fwd out", sh, dout, out, NF);
        float *gi = hrand(2 * NF, -1, 1), *go = hrand(NF, -1, 1);
        float *dgi = up(gi, 2 * NF * fs), *dgo = up(go, NF * fs);
        cpu.ops->swiglu_bwd(&cpu, gi, inp, go, N, F);
        gpu.ops->swiglu_bwd(&gpu, dgi, dinp, dgo, N, F);
        check("swiglu_bwd dinp", sh, dgi, gi, 2 * NF);
        {   /* written (swiglu_bwd_set): over NaN on both rows */
            float *si = hnan(2 * NF), *dsi = up(si, 2 * NF * fs);
            cpu.ops->swiglu_bwd_set(&cpu, si, inp, go, N, F);
            gpu.ops->swiglu_bwd_set(&gpu, dsi, dinp, dgo, N, F);
            check("swiglu_bwd_set dinp (written over NaN)", sh, dsi, si, 2 * NF);
            free(si), dfree(dsi);
        }
        free(inp), free(out), free(gi), free(go);
        dfree(dinp), dfree(dout), dfree(dgi), dfree(dgo);
    }

    /* cross-entropy */
    {
        size_t nl = (size_t)N * V;
        float *logits = hrand(nl, -4, 4), *dl = up(logits, nl * fs);
        double lc = cpu.ops->crossentropy(&cpu, logits, tgt, N, V, 0.5f);
        double lg = gpu.ops->crossentropy(&gpu, dl, dtgt, N, V, 0.5f);
        is_dbl(lg, lc, TOL, "crossentropy loss %s: %.9g vs the CPU's %.9g", sh, lg, lc);
        check("crossentropy dlogits", sh, dl, logits, nl);
        free(logits);
        dfree(dl);
    }

    /* the vocabulary-parallel cross-entropy's three steps on a shard of
     * V / 2 columns (the targets outside it -1), and the embedding lookup
     * with ids outside its shard (-1) */
    {
        int Vh = V / 2, *lt = xmalloc((size_t)N * sizeof *lt), *ltk = xmalloc((size_t)N * sizeof *ltk);
        for (int r = 0; r < N; r++) {
            lt[r] = tgt[r] < Vh ? tgt[r] : -1;
            ltk[r] = tok[r] < Vh ? tok[r] : -1;
        }
        int *dlt = up(lt, (size_t)N * sizeof *lt), *dltk = up(ltk, (size_t)N * sizeof *ltk);
        size_t nl = (size_t)N * (size_t)Vh;
        float *logits = hrand(nl, -4, 4), *dl = up(logits, nl * fs);
        float *st = hrand(3 * (size_t)N, 0, 1), *dst = up(st, 3 * (size_t)N * fs);
        cpu.ops->xent_max(&cpu, logits, N, Vh, st);
        gpu.ops->xent_max(&gpu, dl, N, Vh, dst);
        check("xent_max row maxima", sh, dst, st, (size_t)N);
        cpu.ops->xent_sums(&cpu, logits, lt, N, Vh, st, st + N, st + 2 * N);
        gpu.ops->xent_sums(&gpu, dl, dlt, N, Vh, dst, dst + N, dst + 2 * N);
        check("xent_sums exponentials", sh, dl, logits, nl);
        check("xent_sums sums and target logits", sh, dst + N, st + N, 2 * (size_t)N);
        cpu.ops->xent_grad(&cpu, logits, lt, N, Vh, st + N, 0.5f);
        gpu.ops->xent_grad(&gpu, dl, dlt, N, Vh, dst + N, 0.5f);
        check("xent_grad dlogits", sh, dl, logits, nl);
        size_t ne = (size_t)Vh * (size_t)C, no = (size_t)N * (size_t)C;
        float *wte = hrand(ne, -1, 1), *out = hrand(no, -1, 1), *dwte = up(wte, ne * fs), *dout = up(out, no * fs);
        cpu.ops->embed_fwd(&cpu, out, ltk, wte, NULL, B, T, C);
        gpu.ops->embed_fwd(&gpu, dout, dltk, dwte, NULL, B, T, C);
        check("embed_fwd with ids outside the shard (0 rows)", sh, dout, out, no);
        cpu.ops->embed_bwd(&cpu, wte, NULL, out, ltk, B, T, C);
        gpu.ops->embed_bwd(&gpu, dwte, NULL, dout, dltk, B, T, C);
        check("embed_bwd with ids outside the shard (skipped)", sh, dwte, wte, ne);
        free(lt), free(ltk), free(logits), free(st), free(wte), free(out);
        dfree(dlt), dfree(dltk), dfree(dl), dfree(dst), dfree(dwte), dfree(dout);
    }

    free(tok), free(tgt);
    dfree(dtok), dfree(dtgt);
}

/* ------------------------------------------------------------ optimizer */

/* g as stored in type dt (n values) */
static void *grad_of(const float *g, ze_dt dt, size_t n)
{
    void *p = xmalloc(n * ze_dt_size(dt));
    cpu.ops->convert(&cpu, p, ZE_HOST, dt, g, ZE_HOST, ZE_F32, n, 0);
    return p;
}

static void test_optimizer(void)
{
    const size_t n = 300007;
    const size_t fs = sizeof(float);
    for (int opt = 0; opt < 2; opt++)
        for (int dt = 0; dt < 3; dt++)
            for (int sc = 0; sc < 2; sc++)
                for (int pool = 0; pool < 2; pool++) {
                    float gscale = sc ? 0.5f : 1.0f;
                    float *p = hrand(n, -1, 1), *m = hrand(n, -0.1f, 0.1f), *v = hrand(n, 0, 0.01f);
                    float *gf = hrand(n, -2, 2);
                    void *g = grad_of(gf, (ze_dt)dt, n);
                    size_t gb = n * ze_dt_size((ze_dt)dt);
                    float *xp, *xm, *xv;
                    void *xg;
                    if (pool == ZE_DEVICE) {
                        xp = up(p, n * fs), xm = up(m, n * fs), xv = up(v, n * fs), xg = up(g, gb);
                    } else {
                        xp = palloc(n * fs), xm = palloc(n * fs), xv = palloc(n * fs), xg = palloc(gb);
                        memcpy(xp, p, n * fs), memcpy(xm, m, n * fs), memcpy(xv, v, n * fs), memcpy(xg, g, gb);
                    }
                    if (opt == 0) {
                        cpu.ops->adamw(&cpu, ZE_HOST, p, g, (ze_dt)dt, gscale, m, v, n, 1e-3f, 0.9f, 0.999f, 1e-8f,
                                       0.1f, 3);
                        gpu.ops->adamw(&gpu, (ze_pool)pool, xp, xg, (ze_dt)dt, gscale, xm, xv, n, 1e-3f, 0.9f,
                                       0.999f, 1e-8f, 0.1f, 3);
                    } else {
                        cpu.ops->sgd(&cpu, ZE_HOST, p, g, (ze_dt)dt, gscale, m, n, 0.1f, 0.9f, 0.01f);
                        gpu.ops->sgd(&gpu, (ze_pool)pool, xp, xg, (ze_dt)dt, gscale, xm, n, 0.1f, 0.9f, 0.01f);
                    }
                    float *hp = xmalloc(n * fs), *hm = xmalloc(n * fs), *hv = xmalloc(n * fs);
                    gpu.ops->copy(&gpu, hp, ZE_HOST, xp, (ze_pool)pool, n * fs);
                    gpu.ops->copy(&gpu, hm, ZE_HOST, xm, (ze_pool)pool, n * fs);
                    gpu.ops->copy(&gpu, hv, ZE_HOST, xv, (ze_pool)pool, n * fs);
                    double e = maxrel(hp, p, n), em = maxrel(hm, m, n), ev = opt == 0 ? maxrel(hv, v, n) : 0.0;
                    size_t nd = bytes_differ(hp, p, n, fs) + bytes_differ(hm, m, n, fs) +
                                (opt == 0 ? bytes_differ(hv, v, n, fs) : 0);
                    char vpart[32] = "";
                    if (opt == 0)
                        snprintf(vpart, sizeof vpart, ", v %.3g", ev);
                    ok(e <= TOL && em <= TOL && ev <= TOL,
                       "%s %s pool, %s gradient, gscale %g, n=%zu: max-rel p %.3g, %s %.3g%s; "
                       "%zu values not bit-identical",
                       opt == 0 ? "adamw" : "sgd", pool == ZE_DEVICE ? "device" : "host", ze_dt_names[dt],
                       (double)gscale, n, e, opt == 0 ? "m" : "mom", em, vpart, nd);
                    if (pool == ZE_HOST)   /* the host pool runs the CPU's code */
                        is_u64(nd, 0, "  ... host pool bit-identical to the CPU row");
                    free(p), free(m), free(v), free(gf), free(g), free(hp), free(hm), free(hv);
                    dfree(xp), dfree(xm), dfree(xv), dfree(xg);
                }
}

static void test_sumsq(void)
{
    const size_t n = 1000003;
    float *x = hrand(n, -3, 3);
    for (int dt = 0; dt < 3; dt++) {
        void *h = grad_of(x, (ze_dt)dt, n);
        size_t bytes = n * ze_dt_size((ze_dt)dt);
        void *dx = up(h, bytes), *px = palloc(bytes);
        memcpy(px, h, bytes);
        double c = cpu.ops->sumsq(&cpu, ZE_HOST, h, (ze_dt)dt, n);
        double g = gpu.ops->sumsq(&gpu, ZE_DEVICE, dx, (ze_dt)dt, n);
        double gh = gpu.ops->sumsq(&gpu, ZE_HOST, px, (ze_dt)dt, n);
        is_dbl(g, c, 1e-10, "sumsq device %s n=%zu: %.15g vs the CPU's %.15g", ze_dt_names[dt], n, g, c);
        is_dbl(gh, c, 0.0, "sumsq host %s n=%zu: %.15g vs the CPU's %.15g", ze_dt_names[dt], n, gh, c);
        free(h);
        dfree(dx), dfree(px);
    }
    /* inf and NaN propagate */
    float spec[5] = {1.0f, 2.0f, INFINITY, 3.0f, 4.0f};
    float *ds = up(spec, sizeof spec);
    double si = gpu.ops->sumsq(&gpu, ZE_DEVICE, ds, ZE_F32, 5);
    ok(isinf(si) && si > 0, "sumsq device with an inf: %g", si);
    spec[2] = NAN;
    gpu.ops->copy(&gpu, ds, ZE_DEVICE, spec, ZE_HOST, sizeof spec);
    double sn = gpu.ops->sumsq(&gpu, ZE_DEVICE, ds, ZE_F32, 5);
    ok(isnan(sn), "sumsq device with a NaN: %g", sn);
    double s0 = gpu.ops->sumsq(&gpu, ZE_DEVICE, ds, ZE_F32, 0);
    ok(s0 == 0.0, "sumsq device of 0 values: %g", s0);
    dfree(ds);
    free(x);
}

/* ------------------------------------------------------- 16-bit storage */

/* random bits: every kind of float (NaN, inf, subnormals) */
static void fill_bits(void *p, size_t bytes)
{
    unsigned char *c = p;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t r = rnd();
        memcpy(c + i, &r, 8);
    }
    for (; i < bytes; i++)
        c[i] = (unsigned char)rnd();
}

/* mostly ordinary values, some at the edges of the 16-bit ranges */
static float nice_value(void)
{
    switch (rnd() % 8) {
    case 0:
        return frand() * 1e-6f;    /* fp16 subnormals */
    case 1:
        return frand() * 70000.0f;   /* around fp16's largest */
    case 2:
        return frand() * 1e-40f;   /* fp32 subnormals */
    default:
        return frand() * 4.0f;
    }
}

static void test_inplace(void)
{
    static const size_t sizes[] = {1, 2, 3, 5, 31, 1000, 4097, (1u << 20) + 5, (3u << 20) + 1};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (int dt = 1; dt <= 2; dt++) {
            size_t n = sizes[si], bytes = n * sizeof(float);
            /* narrow: n random floats become n 16-bit values */
            unsigned char *ref = xmalloc(bytes), *got = xmalloc(bytes);
            fill_bits(ref, bytes);
            if (n > 8)
                for (size_t i = 0; i < n; i += 3) {
                    float f = nice_value();
                    memcpy(ref + i * 4, &f, 4);
                }
            void *d = up(ref, bytes);
            cpu.ops->narrow(&cpu, ref, (ze_dt)dt, n);
            gpu.ops->narrow(&gpu, d, (ze_dt)dt, n);
            down(got, d, 2 * n);
            size_t k = bytes_differ(got, ref, n, 2);
            ok(k == 0, "narrow in place to %s, n=%zu: %zu values differ from the CPU's", ze_dt_names[dt], n, k);
            /* widen: n random 16-bit values (the rest of the buffer garbage) */
            fill_bits(ref, bytes);
            gpu.ops->copy(&gpu, d, ZE_DEVICE, ref, ZE_HOST, bytes);
            cpu.ops->widen(&cpu, ref, (ze_dt)dt, n);
            gpu.ops->widen(&gpu, d, (ze_dt)dt, n);
            down(got, d, bytes);
            k = bytes_differ(got, ref, n, 4);
            ok(k == 0, "widen in place from %s, n=%zu: %zu values differ from the CPU's", ze_dt_names[dt], n, k);
            dfree(d);
            free(ref), free(got);
        }
}

/* ZP_CUDA_BIG=1: n = 2^31 + 5, values made from their index (checked as
 * they come back, in chunks) */
static float big_value(size_t i)
{
    uint32_t u = (uint32_t)(i * 2654435761u) ^ (uint32_t)(i >> 7);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_inplace_big(void)
{
    const char *e = getenv("ZP_CUDA_BIG");
    if (!e || strcmp(e, "1") != 0) {
        skip(2, "narrow/widen of 2^31 + 5 values: set ZP_CUDA_BIG=1");
        return;
    }
    const size_t n = ((size_t)1 << 31) + 5, CHK = (size_t)1 << 24;
    float *buf = xmalloc(CHK * sizeof(float));
    uint16_t *h = xmalloc(CHK * 2);
    float *d = dalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i += CHK) {
        size_t k = n - i < CHK ? n - i : CHK;
        for (size_t j = 0; j < k; j++)
            buf[j] = big_value(i + j);
        gpu.ops->copy(&gpu, d + i, ZE_DEVICE, buf, ZE_HOST, k * sizeof(float));
    }
    gpu.ops->narrow(&gpu, d, ZE_BF16, n);
    size_t bad = 0;
    for (size_t i = 0; i < n; i += CHK) {
        size_t k = n - i < CHK ? n - i : CHK;
        down(h, (uint16_t *)(void *)d + i, k * 2);
        for (size_t j = 0; j < k; j++)
            bad += h[j] != zk_f32_to_bf16(big_value(i + j));
    }
    ok(bad == 0, "narrow in place to bf16, n=%zu: %zu values differ from the CPU's", n, bad);
    gpu.ops->widen(&gpu, d, ZE_BF16, n);
    bad = 0;
    for (size_t i = 0; i < n; i += CHK) {
        size_t k = n - i < CHK ? n - i : CHK;
        down(buf, d + i, k * sizeof(float));
        for (size_t j = 0; j < k; j++) {
            float w = zk_bf16_to_f32(zk_f32_to_bf16(big_value(i + j)));
            bad += memcmp(&buf[j], &w, 4) != 0;
        }
    }
    ok(bad == 0, "widen in place from bf16, n=%zu: %zu values differ from the CPU's", n, bad);
    dfree(d);
    free(buf), free(h);
}

/* convert between every pair of pools and types, with and without acc; n
 * spans several chunks of the row's 8 MiB staging */
static void test_convert(void)
{
    const size_t n = 4500001;
    static const char *const pn[] = {"device", "host"};
    for (int sp = 0; sp < 2; sp++)
        for (int dp = 0; dp < 2; dp++)
            for (int sdt = 0; sdt < 3; sdt++)
                for (int ddt = 0; ddt < 3; ddt++)
                    for (int acc = 0; acc < 2; acc++) {
                        size_t sb = n * ze_dt_size((ze_dt)sdt), db = n * ze_dt_size((ze_dt)ddt);
                        void *src = xmalloc(sb), *ref = xmalloc(db), *got = xmalloc(db);
                        if (!acc) {
                            fill_bits(src, sb);   /* any bits: NaNs keep their payloads as the CPU's do */
                            fill_bits(ref, db);
                        } else {
                            /* finite sums: nice_value() reaches fp16's
                             * infinity (65520 and up), and +inf + -inf is a
                             * NaN whose bits the CPU (x86's 0xFFC00000, fp16
                             * 0xFE00) and the GPU (0x7FFFFFFF, fp16 0x7FFF)
                             * write differently; so |value| < 65504 here */
                            float *f = xmalloc(n * sizeof *f);
                            for (size_t i = 0; i < n; i++)
                                f[i] = fminf(fmaxf(nice_value(), -65504.0f), 65504.0f);
                            cpu.ops->convert(&cpu, src, ZE_HOST, (ze_dt)sdt, f, ZE_HOST, ZE_F32, n, 0);
                            for (size_t i = 0; i < n; i++)
                                f[i] = fminf(fmaxf(nice_value(), -65504.0f), 65504.0f);
                            cpu.ops->convert(&cpu, ref, ZE_HOST, (ze_dt)ddt, f, ZE_HOST, ZE_F32, n, 0);
                            free(f);
                        }
                        /* src: device memory, or pageable host memory; dst: device or the pinned host pool */
                        void *xs = sp == ZE_DEVICE ? up(src, sb) : src;
                        void *xd = dp == ZE_DEVICE ? up(ref, db) : palloc(db);
                        if (dp == ZE_HOST)
                            memcpy(xd, ref, db);
                        cpu.ops->convert(&cpu, ref, ZE_HOST, (ze_dt)ddt, src, ZE_HOST, (ze_dt)sdt, n, acc);
                        gpu.ops->convert(&gpu, xd, (ze_pool)dp, (ze_dt)ddt, xs, (ze_pool)sp, (ze_dt)sdt, n, acc);
                        gpu.ops->copy(&gpu, got, ZE_HOST, xd, (ze_pool)dp, db);
                        size_t k = bytes_differ(got, ref, n, ze_dt_size((ze_dt)ddt));
                        ok(k == 0, "convert %s %s -> %s %s%s, n=%zu: %zu values differ from the CPU's", pn[sp],
                           ze_dt_names[sdt], pn[dp], ze_dt_names[ddt], acc ? " (acc)" : "", n, k);
                        if (sp == ZE_DEVICE)
                            dfree(xs);
                        dfree(xd);
                        free(src), free(ref), free(got);
                    }
}

/* --------------------------------------------------- memory, time, misc */

static void test_memory(void)
{
    const size_t bytes = (size_t)5 << 20 | 12345;
    unsigned char *a = xmalloc(bytes), *b = xmalloc(bytes);
    fill_bits(a, bytes);
    void *d1 = dalloc(bytes), *d2 = dalloc(bytes), *h = palloc(bytes);
    gpu.ops->copy(&gpu, d1, ZE_DEVICE, a, ZE_HOST, bytes);   /* pageable -> device */
    gpu.ops->copy(&gpu, h, ZE_HOST, d1, ZE_DEVICE, bytes);   /* device -> pinned */
    gpu.ops->copy(&gpu, d2, ZE_DEVICE, h, ZE_HOST, bytes);   /* pinned -> device */
    gpu.ops->copy(&gpu, b, ZE_HOST, d2, ZE_DEVICE, bytes);   /* device -> pageable */
    ok(memcmp(a, b, bytes) == 0 && memcmp(a, h, bytes) == 0,
       "copy pageable -> device -> pinned -> device -> pageable, %zu bytes", bytes);
    gpu.ops->zero(&gpu, d1, ZE_DEVICE, bytes - 7);
    gpu.ops->zero(&gpu, h, ZE_HOST, bytes - 7);
    memset(a, 0, bytes - 7);
    gpu.ops->copy(&gpu, b, ZE_HOST, d1, ZE_DEVICE, bytes);
    ok(memcmp(a, b, bytes) == 0, "zero device pool: the first %zu bytes only", bytes - 7);
    ok(memcmp(a, h, bytes) == 0, "zero host pool: the first %zu bytes only", bytes - 7);
    dfree(d1), dfree(d2), dfree(h);
    free(a), free(b);

    /* a refusal is an out-of-memory outcome, and the row goes on */
    void *big = ze_dev_alloc(&gpu, ZE_DEVICE, ZE_ACT, (size_t)1 << 50, 0);
    ok(big == NULL && agpu.oom, "a device allocation of 2^50 bytes is refused (%s)", gpu.err);
    float one = 3.0f, back = 0.0f;
    float *d = up(&one, sizeof one);
    down(&back, d, sizeof back);
    ok(back == 3.0f, "the row works after the refusal");
    dfree(d);
    ok(gpu.ovh.used_at_peak > 0, "used bytes at the device peak: %llu", (unsigned long long)gpu.ovh.used_at_peak);
}

static void test_misc(void)
{
    ok(strcmp(gpu.ops->name, "cuda") == 0 && gpu.desc[0], "the row: %s on %s (GPU %d)", gpu.ops->name, gpu.desc,
       gpu.ordinal);
    ok(gpu.ovh.total > 0 && gpu.ovh.context > 0,
       "overhead: context %llu, cuBLAS %llu, staging %llu bytes of %llu", (unsigned long long)gpu.ovh.context,
       (unsigned long long)gpu.ovh.blas, (unsigned long long)gpu.ovh.staging, (unsigned long long)gpu.ovh.total);
    is_u64(gpu.granule[ZE_DEVICE], 2u << 20, "device pool granule 2 MiB");
    /* the granule against the device: what cudaMemGetInfo says 64 requests
     * of 4 KiB and 8 of 2 MiB + 4 KiB take (a granule each, and two); a
     * driver that packs small requests into shared pages would show here
     * before the memory check's device totals (tests/gpu.sh) miss by it */
    {
        static const size_t req[2] = {4096, ((size_t)2 << 20) + 4096};
        static const int cnt[2] = {64, 8};
        for (int k = 0; k < 2; k++) {
            void *p[64] = {0};
            size_t fa = 0, fb = 0, tot = 0;
            cudaDeviceSynchronize();
            cudaMemGetInfo(&fa, &tot);
            int got = 0;
            for (int i = 0; i < cnt[k]; i++)
                got += cudaMalloc(&p[i], req[k]) == cudaSuccess;
            cudaDeviceSynchronize();
            cudaMemGetInfo(&fb, &tot);
            for (int i = 0; i < cnt[k]; i++)
                if (p[i])
                    cudaFree(p[i]);
            uint64_t g = gpu.granule[ZE_DEVICE], want = (uint64_t)cnt[k] * ((req[k] + g - 1) / g * g);
            uint64_t used = fa > fb ? (uint64_t)(fa - fb) : 0;
            ok(got == cnt[k] && used >= want - want / 20 && used <= want + want / 20,
               "%d cudaMalloc of %zu bytes take %llu bytes of the device, %llu as the granule rounds them (5 %%)",
               cnt[k], req[k], (unsigned long long)used, (unsigned long long)want);
        }
    }
    double s0, f0, s1, f1;
    gpu.ops->gemm_stats(&gpu, &s0, &f0);
    const int n = 256;
    float *x = hrand((size_t)n * n, -1, 1);
    float *dx = up(x, (size_t)n * n * sizeof *x), *dy = dalloc((size_t)n * n * sizeof *x);
    gpu.ops->mark(&gpu, ZE_MARK_FWD0);
    for (int i = 0; i < 10; i++)
        gpu.ops->matmul_fwd(&gpu, dy, dx, dx, NULL, n, n, n);
    gpu.ops->mark(&gpu, ZE_MARK_FWD1);
    double el = gpu.ops->elapsed(&gpu, ZE_MARK_FWD0, ZE_MARK_FWD1);
    gpu.ops->gemm_stats(&gpu, &s1, &f1);
    ok(el > 0 && el < 10, "elapsed between marks: %.6f s", el);
    is_dbl(f1 - f0, 10 * 2.0 * n * n * n, 1e-12, "GEMM FLOPs counted: %.0f", f1 - f0);
    gpu.ops->sync(&gpu);
    free(x);
    dfree(dx), dfree(dy);
}

/* The GEMM op with fp32, bf16 and fp16 inputs, every transpose, against the
 * CPU row's (16-bit inputs widened exactly, sgemm): fp32 accumulation on both,
 * so only the order of the sums differs. */
static void test_gemm(void)
{
    const int M = 37, N = 50, K = 72;
    for (int dt = 0; dt <= 2; dt++)
        for (int t = 0; t < 4; t++) {
            char ta = t & 1 ? 'T' : 'N', tb = t & 2 ? 'T' : 'N';
            size_t es = dt == 0 ? 4 : 2, na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
            float *fa = hrand(na, -1.0f, 1.0f), *fb = hrand(nb, -1.0f, 1.0f), *c0 = hrand(nc, -1.0f, 1.0f);
            void *ha = xmalloc(na * es), *hb = xmalloc(nb * es);
            cpu.ops->convert(&cpu, ha, ZE_HOST, (ze_dt)dt, fa, ZE_HOST, ZE_F32, na, 0);
            cpu.ops->convert(&cpu, hb, ZE_HOST, (ze_dt)dt, fb, ZE_HOST, ZE_F32, nb, 0);
            float *ref = xmalloc(nc * sizeof(float));
            memcpy(ref, c0, nc * sizeof(float));
            cpu.ops->gemm(&cpu, ta, tb, M, N, K, ha, hb, (ze_dt)dt, 0.5f, ref);
            void *da = up(ha, na * es), *db = up(hb, nb * es);
            float *dc = up(c0, nc * sizeof(float));
            gpu.ops->gemm(&gpu, ta, tb, M, N, K, da, db, (ze_dt)dt, 0.5f, dc);
            float *got = xmalloc(nc * sizeof(float));
            down(got, dc, nc * sizeof(float));
            double e = normrel(got, ref, nc);
            /* 16-bit inputs exactly as the CPU's, products and sums in
             * fp32 on both: only the order of the sums differs (about 1e-6
             * at these K); 1e-4 allows for the tensor cores' order and
             * still fails a 16-bit accumulation (about 2^-11 sqrt(K), 4e-3
             * at K = 72) */
            ok(e <= (dt == 0 ? TOL : 1e-4), "gemm %s %c%c %dx%dx%d, beta 0.5: norm-rel %.3g (bound %g)", ze_dt_names[dt],
               ta, tb, M, N, K, e, dt == 0 ? TOL : 1e-4);
            dfree(da), dfree(db), dfree(dc);
            free(fa), free(fb), free(c0), free(ha), free(hb), free(ref), free(got);
        }
}

/* Initial values (init.h) on the device and through the pinned host pool,
 * against the CPU row's: fp32 within 1 ulp (double log/cos on the GPU may
 * round its last bit otherwise), and each 16-bit type. */
static void test_init(void)
{
    ze_init_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.seed = 1234;
    desc.unit = 3;
    desc.valid = 70000;   /* then padding: zeros */
    desc.nseg = 4;
    desc.seg[0] = (ze_init_seg){64, 1.0f, 0.0f};
    desc.seg[1] = (ze_init_seg){128, 0.0f, 0.0f};
    desc.seg[2] = (ze_init_seg){50000, 0.0f, 0.02f};
    desc.seg[3] = (ze_init_seg){70000, 0.0f, 0.005f};
    const size_t first = 17, n = 70100 - 17;
    for (int dt = 0; dt <= 2; dt++) {
        size_t es = dt == 0 ? 4 : 2;
        void *ref = xmalloc(n * es), *got = xmalloc(n * es);
        cpu.ops->init(&cpu, ref, ZE_HOST, (ze_dt)dt, &desc, first, n);
        for (int pool = 0; pool < 2; pool++) {
            void *p = pool == 0 ? dalloc(n * es) : palloc(n * es);
            gpu.ops->init(&gpu, p, (ze_pool)pool, (ze_dt)dt, &desc, first, n);
            if (pool == 0)
                down(got, p, n * es);
            else
                memcpy(got, p, n * es);
            size_t far = 0, diff = bytes_differ(got, ref, n, es);
            for (size_t i = 0; dt == 0 && i < n; i++) {
                uint32_t x, y;
                memcpy(&x, (char *)got + 4 * i, 4);
                memcpy(&y, (char *)ref + 4 * i, 4);
                far += (x > y ? x - y : y - x) > 1;
            }
            ok(dt == 0 ? far == 0 : diff <= n / 10000, "init %s into the %s pool: %zu of %zu values differ from "
               "the CPU's (%zu by more than 1 ulp)", ze_dt_names[dt], pool ? "host" : "device", diff, n, far);
            dfree(p);
        }
        free(ref);
        free(got);
    }
}

int main(void)
{
    char why[256] = "";
    unsetenv("ZPLAN_CUBLASLT");   /* (the first row's cuBLASLt on, whatever the caller's environment) */
    int ndev = ze_cuda_devices(why, sizeof why);
    if (ndev <= 0) {
        printf("1..0 # SKIP %s\n", why[0] ? why : "no CUDA device visible");
        return 0;
    }
    tap_plan(0);
    ze_alloc_init(&acpu, 0, 0);
    ze_alloc_init(&agpu, 0, 0);
    ze_dev_cpu_init(&cpu, &acpu);
    if (ze_dev_cuda_init(&gpu, &agpu, 0, 0) != 0) {
        ok(0, "the CUDA row on GPU 0: %s", gpu.err);
        return tap_exit();
    }
    diag("%d GPU(s); GPU 0: %s", ndev, gpu.desc);
    static const shape shapes[] = {
        {2, 37, 48, 3, 101},
        {1, 64, 64, 2, 256},
        {3, 130, 96, 4, 515},
        /* head size 64 and C over a row kernel's 256 threads: the
         * attention's and the norms' strided loops run more than once */
        {1, 40, 384, 6, 300},
        {1, 17, 256, 2, 64},   /* head size 128, the LLaMA family's */
        /* 300 tokens: flash attention's chunks of 128 keys, two whole and
         * one partial, a row's maximum moving to a later chunk (the
         * online softmax's rescaling) */
        {1, 300, 64, 4, 97},
    };
    test_misc();
    test_init();
    test_gemm();
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        test_model(&shapes[i]);
    {   /* the products with a bias went through cuBLASLt, the bias in the
         * epilogue (at least the exact fp32 ones: a shape cuBLASLt has no
         * algorithm for goes the cuBLAS way, checked the same above) */
        int on = 0, planned = 0, fused = 0;
        long calls = 0;
        ze_dev_cuda_lt(&gpu, &on, &calls, &planned, &fused);
        ok(on && calls > 0 && fused > 0,
           "the products with a bias ran with it in cuBLASLt's epilogue: %ld products, %d of %d shapes", calls, fused,
           planned);
    }
    test_optimizer();
    test_sumsq();
    test_inplace();
    test_inplace_big();
    test_convert();
    test_memory();
    is_u64(agpu.live_total[ZE_DEVICE] + agpu.live_total[ZE_HOST], 0, "every tensor of the test freed");
    /* the same kernels with cuBLASLt off (ZPLAN_CUBLASLT=0: the bias
     * kernel, then cuBLAS's product onto it) on a row of its own */
    ze_dev_fini(&gpu);
    setenv("ZPLAN_CUBLASLT", "0", 1);
    if (ze_dev_cuda_init(&gpu, &agpu, 0, 0) != 0) {
        ok(0, "the CUDA row with ZPLAN_CUBLASLT=0: %s", gpu.err);
    } else {
        int on = 1, planned = 0, fused = 0;
        long calls = 0;
        test_model(&shapes[1]);   /* (C 64: the 16-bit rounding probes run too) */
        ze_dev_cuda_lt(&gpu, &on, &calls, &planned, &fused);
        ok(!on && calls == 0, "with ZPLAN_CUBLASLT=0 no product ran through cuBLASLt (%ld)", calls);
        is_u64(agpu.live_total[ZE_DEVICE] + agpu.live_total[ZE_HOST], 0, "every tensor of the second row freed");
    }
    unsetenv("ZPLAN_CUBLASLT");
    ze_dev_fini(&gpu);
    ze_dev_fini(&cpu);
    return tap_exit();
}
