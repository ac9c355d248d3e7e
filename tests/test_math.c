/* test_math.c - the CPU row's GEMM arithmetic (device.h's ze_dev.math):
 * fp32 exact; bf16 and fp16 each operand of a linear layer's product, and
 * of the stored-probabilities and the flash attention's, rounded to 16
 * bits (nearest even), the exact products summed in fp32.
 *
 * The expected values are derived here apart from the row: operands
 * rounded by frexp/rint to 8 (bf16) or 11 (fp16) significant bits, the
 * sums taken in double.  Every input has a full 24-bit mantissa, so a
 * product from unrounded operands is off by about 2^-9 (bf16) of a term:
 * far outside the fp32 summation's 1e-6 that the checks allow. */
#include "alloc.h"
#include "device.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* x to `bits` significant bits, nearest even (rint in the default
 * rounding mode); normal numbers only, as the inputs below are */
static double rnd(double x, int bits)
{
    if (bits == 0 || x == 0.0)
        return x;
    int e;
    double m = frexp(x, &e);   /* x = m 2^e, 0.5 <= |m| < 1 */
    return ldexp(rint(ldexp(m, bits)), e - bits);
}

static uint64_t st = 88172645463325252ull;
static float uni(void)   /* in +-[0.05, 2): full mantissas, normal in fp16 */
{
    st ^= st << 13, st ^= st >> 7, st ^= st << 17;
    double u = (double)(st >> 11) / 9007199254740992.0;
    double v = 0.05 + 1.95 * u;
    return (float)((st & 1) ? v : -v);
}

static float *fill(size_t n)
{
    float *p = malloc(n * sizeof *p);
    if (!p)
        abort();
    for (size_t i = 0; i < n; i++)
        p[i] = uni();
    return p;
}

enum { N = 7, IC = 40, OC = 9 };

/* the worst |got - want| over the scale sum |terms|, and the same against
 * the product of unrounded operands (how far the rounding moved it) */
typedef struct { double err, moved; } cmp;

static void upd(cmp *c, double got, double want, double exact, double scale)
{
    double e = fabs(got - want) / scale, m = fabs(exact - want) / scale;
    c->err = e > c->err ? e : c->err;
    c->moved = m > c->moved ? m : c->moved;
}

/* one math: forward (with a bias), both backward products accumulated
 * onto non-zero gradients, the bias's gradient, and gemm on fp32 inputs */
static void one(ze_dev *d, ze_dt math, int bits, const char *name)
{
    const float *inp = fill(N * IC), *w = fill(OC * IC), *bias = fill(OC), *dout = fill(N * OC);
    float *out = fill(N * OC), *dinp = fill(N * IC), *dw = fill(OC * IC), *db = fill(OC), *c = fill(N * OC);
    float *dinp0 = malloc(sizeof(float) * N * IC), *dw0 = malloc(sizeof(float) * OC * IC), *db0 = malloc(4 * OC);
    if (!dinp0 || !dw0 || !db0)
        abort();
    memcpy(dinp0, dinp, sizeof(float) * N * IC), memcpy(dw0, dw, sizeof(float) * OC * IC);
    memcpy(db0, db, sizeof(float) * OC);
    d->math = math;
    d->ops->matmul_fwd(d, out, inp, w, bias, N, IC, OC);
    d->ops->matmul_bwd(d, dinp, dw, db, dout, inp, w, N, IC, OC);
    d->ops->gemm(d, 'N', 'T', N, OC, IC, inp, w, ZE_F32, 0.0f, c);

    cmp f = {0, 0}, g = {0, 0}, x = {0, 0}, wg = {0, 0};
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OC; o++) {
            double s = bias[o], e = bias[o], a = fabs(bias[o]), s0 = 0;
            for (int i = 0; i < IC; i++) {
                double t = rnd(inp[r * IC + i], bits) * rnd(w[o * IC + i], bits);
                s += t, s0 += t, e += (double)inp[r * IC + i] * w[o * IC + i], a += fabs(t);
            }
            upd(&f, out[r * OC + o], s, e, a);
            upd(&g, c[r * OC + o], s0, e - bias[o], a);
        }
    for (int r = 0; r < N; r++)   /* dinp += dout . w */
        for (int i = 0; i < IC; i++) {
            double s = dinp0[r * IC + i], e = s, a = fabs(s);
            for (int o = 0; o < OC; o++) {
                double t = rnd(dout[r * OC + o], bits) * rnd(w[o * IC + i], bits);
                s += t, e += (double)dout[r * OC + o] * w[o * IC + i], a += fabs(t);
            }
            upd(&x, dinp[r * IC + i], s, e, a);
        }
    for (int o = 0; o < OC; o++)   /* dw += dout^T . inp */
        for (int i = 0; i < IC; i++) {
            double s = dw0[o * IC + i], e = s, a = fabs(s);
            for (int r = 0; r < N; r++) {
                double t = rnd(dout[r * OC + o], bits) * rnd(inp[r * IC + i], bits);
                s += t, e += (double)dout[r * OC + o] * inp[r * IC + i], a += fabs(t);
            }
            upd(&wg, dw[o * IC + i], s, e, a);
        }
    /* the bias's gradient: the sum of dout as it is, never rounded */
    double berr = 0, bmoved = 0;
    for (int o = 0; o < OC; o++) {
        double s = db0[o], sr = db0[o], a = fabs(db0[o]);
        for (int r = 0; r < N; r++)
            s += dout[r * OC + o], sr += rnd(dout[r * OC + o], bits), a += fabs(dout[r * OC + o]);
        double e = fabs(db[o] - s) / a, m = fabs(sr - s) / a;
        berr = e > berr ? e : berr, bmoved = m > bmoved ? m : bmoved;
    }
    const char *ops = bits ? "rounded" : "exact";
    ok(f.err <= 1e-6, "%s: matmul_fwd = bias + sum of the %s operands' products (worst %.2g of sum |terms|)", name,
       ops, f.err);
    ok(x.err <= 1e-6, "%s: matmul_bwd dinp += dout . w from %s operands, accumulated (worst %.2g)", name, ops, x.err);
    ok(wg.err <= 1e-6, "%s: matmul_bwd dw += dout^T . inp from %s operands, accumulated (worst %.2g)", name, ops,
       wg.err);
    ok(berr <= 1e-6, "%s: matmul_bwd dbias += the column sums of dout unrounded (worst %.2g)", name, berr);
    ok(g.err <= 1e-6, "%s: gemm on fp32 inputs follows the math (worst %.2g)", name, g.err);
    if (bits) {
        /* the rounding is visible: unrounded operands land far from it */
        ok(f.moved > 1e-4 && x.moved > 1e-4 && wg.moved > 1e-4 && g.moved > 1e-4,
           "%s: the rounding shows: unrounded operands' products differ by %.2g, %.2g, %.2g, %.2g of sum |terms|",
           name, f.moved, x.moved, wg.moved, g.moved);
        ok(bmoved > 1e-5, "%s: summing rounded dout would have moved the bias's gradient by %.2g", name, bmoved);
    }
    free((void *)inp), free((void *)w), free((void *)bias), free((void *)dout);
    free(out), free(dinp), free(dw), free(db), free(c), free(dinp0), free(dw0), free(db0);
}

/* ---- attention under 16-bit math: the double reference, operands
 * rounded to `bits` (0: none).  qkv[B][T][C + 2 KV hs]; fwd gives out and
 * the probabilities; bwd adds to dqkv from the given probabilities att. */
typedef struct { int B, T, C, NH, KV; } ashape;

static void att_ref_fwd(const ashape *a, const float *qkv, double *out, double *att, int bits)
{
    int hs = a->C / a->NH, ld = a->C + 2 * a->KV * hs, grp = a->NH / a->KV, T = a->T;
    double scale = (float)(1.0f / sqrtf((float)hs));   /* the float the kernels scale by */
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < a->NH; h++) {
            const float *row0 = qkv + (size_t)b * T * ld, *q = row0 + h * hs;
            const float *k = row0 + a->C + (h / grp) * hs, *v = k + a->KV * hs;
            double *p = att + ((size_t)b * a->NH + h) * T * T;
            for (int i = 0; i < T; i++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    double x = 0;
                    for (int e = 0; e < hs; e++)
                        x += rnd(q[(size_t)i * ld + e], bits) * rnd(k[(size_t)j * ld + e], bits);
                    p[i * T + j] = j <= i ? scale * x : 0;
                    if (j <= i)
                        mx = fmax(mx, scale * x);
                }
                for (int j = 0; j <= i; j++)
                    sum += (p[i * T + j] = exp(p[i * T + j] - mx));
                for (int j = 0; j <= i; j++)
                    p[i * T + j] /= sum;
                for (int e = 0; e < hs; e++) {
                    double o = 0;
                    for (int j = 0; j <= i; j++)
                        o += rnd((float)p[i * T + j], bits) * rnd(v[(size_t)j * ld + e], bits);
                    out[((size_t)b * T + i) * a->C + h * hs + e] = o;
                }
            }
        }
}

static void att_ref_bwd(const ashape *a, const float *qkv, const float *att, const float *dout, double *dqkv,
                        int bits)
{
    int hs = a->C / a->NH, ld = a->C + 2 * a->KV * hs, grp = a->NH / a->KV, T = a->T;
    double scale = (float)(1.0f / sqrtf((float)hs));
    double *ds = calloc((size_t)T * T, sizeof *ds);
    if (!ds)
        abort();
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < a->NH; h++) {
            size_t r0 = (size_t)b * T * ld, qo = r0 + h * hs, ko = r0 + a->C + (h / grp) * hs, vo = ko + a->KV * hs;
            const float *p = att + ((size_t)b * a->NH + h) * T * T, *dO = dout + (size_t)b * T * a->C + h * hs;
            for (int i = 0; i < T; i++) {
                double D = 0;
                for (int j = 0; j <= i; j++) {
                    double x = 0;
                    for (int e = 0; e < hs; e++)
                        x += rnd(dO[(size_t)i * a->C + e], bits) * rnd(qkv[vo + (size_t)j * ld + e], bits);
                    ds[i * T + j] = x;
                    D += p[i * T + j] * x;
                }
                for (int j = 0; j <= i; j++)
                    ds[i * T + j] = rnd((float)(scale * p[i * T + j] * (ds[i * T + j] - D)), bits);
            }
            for (int i = 0; i < T; i++)
                for (int j = 0; j <= i; j++)
                    for (int e = 0; e < hs; e++) {
                        dqkv[qo + (size_t)i * ld + e] += ds[i * T + j] * rnd(qkv[ko + (size_t)j * ld + e], bits);
                        dqkv[ko + (size_t)j * ld + e] += ds[i * T + j] * rnd(qkv[qo + (size_t)i * ld + e], bits);
                        dqkv[vo + (size_t)j * ld + e] +=
                            rnd(p[i * T + j], bits) * rnd(dO[(size_t)i * a->C + e], bits);
                    }
        }
    free(ds);
}

/* ||got - want|| / ||want|| */
static double normrel(const float *got, const double *want, size_t n)
{
    double d = 0, w = 0;
    for (size_t i = 0; i < n; i++)
        d += (got[i] - want[i]) * (got[i] - want[i]), w += want[i] * want[i];
    return sqrt(d / w);
}

static void attention_case(ze_dev *d, const ashape *a, ze_dt math, int bits)
{
    int hs = a->C / a->NH, ld = a->C + 2 * a->KV * hs;
    size_t n3 = (size_t)a->B * a->T * ld, no = (size_t)a->B * a->T * a->C, na = (size_t)a->B * a->NH * a->T * a->T;
    float *qkv = fill(n3), *out = fill(no), *att = fill(na), *dout = fill(no), *dq = fill(n3);
    double *ro = malloc(no * sizeof *ro), *ra = malloc(na * sizeof *ra), *uo = malloc(no * sizeof *uo);
    double *ua = malloc(na * sizeof *ua), *rg = calloc(n3, sizeof *rg), *ug = calloc(n3, sizeof *ug);
    float *scratch = malloc((size_t)a->T * a->T * sizeof *scratch), *dq0 = malloc(n3 * sizeof *dq0), *inc = dq0;
    if (!ro || !ra || !uo || !ua || !rg || !ug || !scratch || !dq0)
        abort();
    memcpy(dq0, dq, n3 * sizeof *dq);
    d->math = math;
    d->ops->attention_fwd(d, out, att, qkv, a->B, a->T, a->C, a->NH, a->KV);
    d->ops->attention_bwd(d, dq, scratch, (size_t)a->T * a->T, dout, att, qkv, a->B, a->T, a->C, a->NH, a->KV);
    d->math = ZE_F32;
    for (size_t i = 0; i < n3; i++)
        inc[i] = dq[i] - dq0[i];   /* what the backward added */
    att_ref_fwd(a, qkv, ro, ra, bits);
    att_ref_fwd(a, qkv, uo, ua, 0);
    att_ref_bwd(a, qkv, att, dout, rg, bits);
    att_ref_bwd(a, qkv, att, dout, ug, 0);
    char sh[64];
    snprintf(sh, sizeof sh, "B=%d T=%d C=%d NH=%d KV=%d", a->B, a->T, a->C, a->NH, a->KV);
    double eo = normrel(out, ro, no), ea = normrel(att, ra, na), eg = normrel(inc, rg, n3);
    double mo = normrel(out, uo, no), mg = normrel(inc, ug, n3);
    ok(ea <= 1e-6, "%s attention %s: the probabilities are the fp32 softmax of the rounded operands' scores (%.2g)",
       ze_dt_names[math], sh, ea);
    ok(eo <= 1e-5 && mo > 10 * eo, "%s attention %s: out from rounded P and V, %.2g of the reference (unrounded %.2g)",
       ze_dt_names[math], sh, eo, mo);
    ok(eg <= 1e-5 && mg > 10 * eg,
       "%s attention %s: dQ, dK, dV from rounded dO, V, P, dS, K, Q, %.2g of the reference (unrounded %.2g)",
       ze_dt_names[math], sh, eg, mg);
    free(qkv), free(out), free(att), free(dout), free(dq), free(ro), free(ra), free(uo), free(ua), free(rg), free(ug);
    free(scratch), free(dq0);
}

/* ---- flash attention under 16-bit math: the double reference of its
 * tiles (keys in tiles of FA_TILE from 0, the CPU row's and the CUDA
 * row's): per query row a running maximum m and sum l, each tile's
 * unnormalised probabilities e^(S - m) rounded before the product with V;
 * the backward from the given out and lse: P = e^(S - lse), D = dO . out
 * (unrounded), dS rounded after scaling, P rounded for dV. */
enum { FA_TILE = 64 };

static void fa_ref_fwd(const ashape *a, const float *qkv, double *out, double *lse, int bits)
{
    int hs = a->C / a->NH, ld = a->C + 2 * a->KV * hs, grp = a->NH / a->KV, T = a->T;
    double scale = (float)(1.0f / sqrtf((float)hs));
    double *s = malloc((size_t)T * sizeof *s), *o = malloc((size_t)hs * sizeof *o);
    if (!s || !o)
        abort();
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < a->NH; h++) {
            const float *row0 = qkv + (size_t)b * T * ld, *q = row0 + h * hs;
            const float *k = row0 + a->C + (h / grp) * hs, *v = k + a->KV * hs;
            for (int i = 0; i < T; i++) {
                double m = -INFINITY, l = 0;
                for (int e = 0; e < hs; e++)
                    o[e] = 0;
                for (int c0 = 0; c0 <= i; c0 += FA_TILE) {
                    int c1 = c0 + FA_TILE < i + 1 ? c0 + FA_TILE : i + 1;
                    double tm = -INFINITY;
                    for (int j = c0; j < c1; j++) {
                        double x = 0;
                        for (int e = 0; e < hs; e++)
                            x += rnd(q[(size_t)i * ld + e], bits) * rnd(k[(size_t)j * ld + e], bits);
                        s[j] = scale * x;
                        tm = fmax(tm, s[j]);
                    }
                    double mn = fmax(m, tm), al = m == -INFINITY ? 0 : exp(m - mn);
                    l *= al;
                    for (int e = 0; e < hs; e++)
                        o[e] *= al;
                    for (int j = c0; j < c1; j++) {
                        double p = exp(s[j] - mn);
                        l += p;
                        for (int e = 0; e < hs; e++)
                            o[e] += rnd((float)p, bits) * rnd(v[(size_t)j * ld + e], bits);
                    }
                    m = mn;
                }
                for (int e = 0; e < hs; e++)
                    out[((size_t)b * T + i) * a->C + h * hs + e] = o[e] / l;
                lse[((size_t)b * a->NH + h) * T + i] = m + log(l);
            }
        }
    free(s), free(o);
}

static void fa_ref_bwd(const ashape *a, const float *qkv, const float *out, const float *lse, const float *dout,
                       double *dqkv, int bits)
{
    int hs = a->C / a->NH, ld = a->C + 2 * a->KV * hs, grp = a->NH / a->KV, T = a->T;
    double scale = (float)(1.0f / sqrtf((float)hs));
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < a->NH; h++) {
            size_t r0 = (size_t)b * T * ld, qo = r0 + h * hs, ko = r0 + a->C + (h / grp) * hs, vo = ko + a->KV * hs;
            size_t oo = (size_t)b * T * a->C + h * hs;
            for (int i = 0; i < T; i++) {
                double D = 0, ls = lse[((size_t)b * a->NH + h) * T + i];
                for (int e = 0; e < hs; e++)
                    D += (double)dout[oo + (size_t)i * a->C + e] * out[oo + (size_t)i * a->C + e];
                for (int j = 0; j <= i; j++) {
                    double x = 0, dp = 0;
                    for (int e = 0; e < hs; e++) {
                        x += rnd(qkv[qo + (size_t)i * ld + e], bits) * rnd(qkv[ko + (size_t)j * ld + e], bits);
                        dp += rnd(dout[oo + (size_t)i * a->C + e], bits) * rnd(qkv[vo + (size_t)j * ld + e], bits);
                    }
                    double p = exp(scale * x - ls), ds = rnd((float)(scale * p * (dp - D)), bits);
                    for (int e = 0; e < hs; e++) {
                        dqkv[qo + (size_t)i * ld + e] += ds * rnd(qkv[ko + (size_t)j * ld + e], bits);
                        dqkv[ko + (size_t)j * ld + e] += ds * rnd(qkv[qo + (size_t)i * ld + e], bits);
                        dqkv[vo + (size_t)j * ld + e] += rnd((float)p, bits) * rnd(dout[oo + (size_t)i * a->C + e], bits);
                    }
                }
            }
        }
}

static void flash_case(ze_dev *d, const ashape *a, ze_dt math, int bits)
{
    int hs = a->C / a->NH, ld = a->C + 2 * a->KV * hs;
    size_t n3 = (size_t)a->B * a->T * ld, no = (size_t)a->B * a->T * a->C, nl = (size_t)a->B * a->NH * a->T;
    float *qkv = fill(n3), *out = fill(no), *lse = fill(nl), *dout = fill(no), *dq = fill(n3);
    float *dq0 = malloc(n3 * sizeof *dq0);
    double *ro = malloc(no * sizeof *ro), *rl = malloc(nl * sizeof *rl), *uo = malloc(no * sizeof *uo);
    double *ul = malloc(nl * sizeof *ul), *rg = calloc(n3, sizeof *rg), *ug = calloc(n3, sizeof *ug);
    if (!dq0 || !ro || !rl || !uo || !ul || !rg || !ug)
        abort();
    memcpy(dq0, dq, n3 * sizeof *dq);
    d->math = math;
    d->ops->flash_fwd(d, out, lse, qkv, a->B, a->T, a->C, a->NH, a->KV);
    d->ops->flash_bwd(d, dq, dout, out, lse, qkv, a->B, a->T, a->C, a->NH, a->KV);
    d->math = ZE_F32;
    for (size_t i = 0; i < n3; i++)
        dq0[i] = dq[i] - dq0[i];   /* what the backward added */
    fa_ref_fwd(a, qkv, ro, rl, bits);
    fa_ref_fwd(a, qkv, uo, ul, 0);
    fa_ref_bwd(a, qkv, out, lse, dout, rg, bits);
    fa_ref_bwd(a, qkv, out, lse, dout, ug, 0);
    char sh[64];
    snprintf(sh, sizeof sh, "B=%d T=%d C=%d NH=%d KV=%d", a->B, a->T, a->C, a->NH, a->KV);
    double eo = normrel(out, ro, no), el = normrel(lse, rl, nl), eg = normrel(dq0, rg, n3);
    double mo = normrel(out, uo, no), mg = normrel(dq0, ug, n3);
    ok(el <= 1e-6, "%s flash %s: lse is the fp32 log-sum-exp of the rounded operands' scores (%.2g)",
       ze_dt_names[math], sh, el);
    ok(eo <= 1e-5 && mo > 10 * eo,
       "%s flash %s: out from each tile's rounded e^(S - m) and V, %.2g of the reference (unrounded %.2g)",
       ze_dt_names[math], sh, eo, mo);
    ok(eg <= 1e-5 && mg > 10 * eg,
       "%s flash %s: dQ, dK, dV from rounded dO, V, P, dS, K, Q, %.2g of the reference (unrounded %.2g)",
       ze_dt_names[math], sh, eg, mg);
    free(qkv), free(out), free(lse), free(dout), free(dq), free(dq0);
    free(ro), free(rl), free(uo), free(ul), free(rg), free(ug);
}

/* The part kernels (context parallelism) under 16-bit math: rows q0 ..
 * q0 + Tq - 1 of a sequence against all its keys are the whole sequence's
 * rows (out, lse), and their backward is the whole sequence's with dO zero
 * outside the part (dQ of the part's rows, dK and dV): the rounding follows
 * the keys' tiles from key 0 in both, not the part's rows */
static void flash_part_case(ze_dev *d, const ashape *a, int q0, int Tq, ze_dt math)
{
    int hs = a->C / a->NH, kvc = a->KV * hs, ld = a->C + 2 * kvc, B = a->B, T = a->T, C = a->C;
    size_t n3 = (size_t)B * T * ld, no = (size_t)B * T * C, nl = (size_t)B * a->NH * T;
    size_t pn3 = (size_t)B * Tq * ld, pno = (size_t)B * Tq * C, pnl = (size_t)B * a->NH * Tq, nkv = (size_t)B * T * 2 * kvc;
    float *qkv = fill(n3), *out = fill(no), *lse = fill(nl), *dout = fill(no), *dq = calloc(n3, sizeof *dq);
    float *pq = malloc(pn3 * sizeof *pq), *kv = malloc(nkv * sizeof *kv), *po = fill(pno), *pl = fill(pnl);
    float *pdo = malloc(pno * sizeof *pdo), *pdq = calloc(pn3, sizeof *pdq), *pdkv = calloc(nkv, sizeof *pdkv);
    if (!dq || !pq || !kv || !pdo || !pdq || !pdkv)
        abort();
    for (int b = 0; b < B; b++) {
        memcpy(pq + (size_t)b * Tq * ld, qkv + ((size_t)b * T + q0) * ld, (size_t)Tq * ld * sizeof *pq);
        memcpy(pdo + (size_t)b * Tq * C, dout + ((size_t)b * T + q0) * C, (size_t)Tq * C * sizeof *pdo);
        for (int t = 0; t < T; t++) {
            memcpy(kv + ((size_t)b * T + t) * 2 * kvc, qkv + ((size_t)b * T + t) * ld + C, 2 * (size_t)kvc * sizeof *kv);
            if (t < q0 || t >= q0 + Tq)
                memset(dout + ((size_t)b * T + t) * C, 0, (size_t)C * sizeof *dout);
        }
    }
    d->math = math;
    d->ops->flash_fwd(d, out, lse, qkv, B, T, C, a->NH, a->KV);
    d->ops->flash_bwd(d, dq, dout, out, lse, qkv, B, T, C, a->NH, a->KV);
    d->ops->flash_fwd_part(d, po, pl, pq, kv, B, Tq, q0, T, C, a->NH, a->KV);
    d->ops->flash_bwd_part(d, pdq, pdkv, pdo, po, pl, pq, kv, B, Tq, q0, T, C, a->NH, a->KV);
    d->math = ZE_F32;
    double eo = 0, el = 0, eq = 0, ek = 0, mo = 0, mq = 0, mk = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < Tq; t++) {
            for (int c = 0; c < C; c++) {
                double w = out[((size_t)b * T + q0 + t) * C + c];
                eo = fmax(eo, fabs(po[((size_t)b * Tq + t) * C + c] - w)), mo = fmax(mo, fabs(w));
            }
            for (int h = 0; h < a->NH; h++)
                el = fmax(el, fabs(pl[((size_t)b * a->NH + h) * Tq + t] - lse[((size_t)b * a->NH + h) * T + q0 + t]));
            for (int c = 0; c < C; c++) {
                double w = dq[((size_t)b * T + q0 + t) * ld + c];
                eq = fmax(eq, fabs(pdq[((size_t)b * Tq + t) * ld + c] - w)), mq = fmax(mq, fabs(w));
            }
        }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < 2 * kvc; c++) {
                double w = dq[((size_t)b * T + t) * ld + C + c];
                ek = fmax(ek, fabs(pdkv[((size_t)b * T + t) * 2 * kvc + c] - w)), mk = fmax(mk, fabs(w));
            }
    ok(eo <= 1e-6 * mo && el <= 1e-6 && eq <= 1e-6 * mq && ek <= 1e-6 * mk && mq > 0 && mk > 0,
       "%s flash part (cp) B=%d T=%d C=%d NH=%d KV=%d, rows %d..%d: the whole sequence's rounded out, lse, dQ, dK, dV "
       "(worst %.2g, %.2g, %.2g, %.2g relative)", ze_dt_names[math], B, T, C, a->NH, a->KV, q0, q0 + Tq - 1,
       eo / mo, el, eq / mq, ek / mk);
    free(qkv), free(out), free(lse), free(dout), free(dq), free(pq), free(kv), free(po), free(pl), free(pdo);
    free(pdq), free(pdkv);
}

int main(void)
{
    ze_alloc a;
    ze_dev d;
    ze_alloc_init(&a, 0, 0);
    ze_dev_cpu_init(&d, &a);
    ok(d.math == ZE_F32, "a new CPU row computes in exact fp32");
    one(&d, ZE_F32, 0, "fp32");
    one(&d, ZE_BF16, 8, "bf16");
    one(&d, ZE_F16, 11, "fp16");
    /* a bigger product after smaller ones: the row's scratch grows */
    {
        enum { BN = 64, BI = 300, BO = 200 };
        float *in = fill(BN * BI), *w = fill(BO * BI), *out = fill(BN * BO);
        d.math = ZE_BF16;
        d.ops->matmul_fwd(&d, out, in, w, NULL, BN, BI, BO);
        double worst = 0;
        for (int r = 0; r < BN; r += 7)
            for (int o = 0; o < BO; o += 11) {
                double s = 0, sa = 0;
                for (int i = 0; i < BI; i++) {
                    double t = rnd(in[r * BI + i], 8) * rnd(w[o * BI + i], 8);
                    s += t, sa += fabs(t);
                }
                double e = fabs(out[r * BO + o] - s) / sa;
                worst = e > worst ? e : worst;
            }
        ok(worst <= 1e-6, "bf16: a 64 x 300 x 200 product after the small ones (the scratch grown): worst %.2g", worst);
        free(in), free(w), free(out);
    }
    /* without dinp (the first layer's input needs no gradient): w is not
     * read, dw is still the rounded operands' */
    {
        float *in = fill(N * IC), *w = fill(OC * IC), *go = fill(N * OC), *dw = calloc(OC * IC, sizeof *dw);
        if (!dw)
            abort();
        d.math = ZE_BF16;
        d.ops->matmul_bwd(&d, NULL, dw, NULL, go, in, w, N, IC, OC);
        double worst = 0;
        for (int o = 0; o < OC; o++)
            for (int i = 0; i < IC; i++) {
                double s = 0, sa = 0;
                for (int r = 0; r < N; r++) {
                    double t = rnd(go[r * OC + o], 8) * rnd(in[r * IC + i], 8);
                    s += t, sa += fabs(t);
                }
                worst = fmax(worst, fabs(dw[o * IC + i] - s) / sa);
            }
        ok(worst <= 1e-6, "bf16: matmul_bwd without dinp: dw from the rounded operands (worst %.2g)", worst);
        free(in), free(w), free(go), free(dw);
    }
    /* attention: grouped heads over a short sequence, and 150 tokens
     * (two of the CPU's 128-row blocks, the second partial) */
    static const ashape as[] = {{2, 7, 8, 2, 1}, {1, 150, 16, 2, 2}};
    for (int i = 0; i < 2; i++) {
        attention_case(&d, &as[i], ZE_BF16, 8);
        if (i == 0)
            attention_case(&d, &as[i], ZE_F16, 11);
    }
    /* flash attention, heads of 16 (its products round at head sizes that
     * are a multiple of 16): a short sequence with grouped K/V heads, and
     * 150 tokens (key tiles of 64: two whole, the third partial, the
     * running maximum moved); fp16 on the short one only, as above: over
     * 150 keys small P and dS fall below fp16's normal range, where rnd's
     * significant bits are not fp16's fixed 2^-24 steps */
    static const ashape fs[] = {{2, 7, 32, 2, 1}, {1, 150, 32, 2, 2}};
    for (int i = 0; i < 2; i++) {
        flash_case(&d, &fs[i], ZE_BF16, 8);
        if (i == 0)
            flash_case(&d, &fs[i], ZE_F16, 11);
    }
    /* the part kernels: 150 tokens, rows 40 .. 109 (key tiles past the
     * part's first rows, a query tile across a key tile's boundary) */
    flash_part_case(&d, &fs[1], 40, 70, ZE_BF16);
    flash_part_case(&d, &fs[0], 3, 4, ZE_F16);
    /* a head size of 8 (no tensor-core kernel takes it): exact under bf16
     * math, the fp32 kernel's bits */
    {
        const ashape *sa = &as[1];
        int hs = sa->C / sa->NH;
        size_t n3 = (size_t)sa->B * sa->T * (sa->C + 2 * sa->KV * hs), no = (size_t)sa->B * sa->T * sa->C;
        size_t nl = (size_t)sa->B * sa->NH * sa->T;
        float *qkv = fill(n3), *o1 = fill(no), *o2 = fill(no), *l1 = fill(nl), *l2 = fill(nl);
        d.ops->flash_fwd(&d, o1, l1, qkv, sa->B, sa->T, sa->C, sa->NH, sa->KV);
        d.math = ZE_BF16;
        d.ops->flash_fwd(&d, o2, l2, qkv, sa->B, sa->T, sa->C, sa->NH, sa->KV);
        d.math = ZE_F32;
        ok(!memcmp(o1, o2, no * sizeof *o1) && !memcmp(l1, l2, nl * sizeof *l1),
           "bf16 flash with heads of 8: the exact kernel's out and lse, bit for bit (no tensor-core kernel takes it)");
        free(qkv), free(o1), free(o2), free(l1), free(l2);
    }
    ze_dev_fini(&d);
    tap_plan(0);
    return tap_exit();
}
