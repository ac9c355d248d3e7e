/* test_math.c - the CPU row's GEMM arithmetic (device.h's ze_dev.math):
 * fp32 exact; bf16 and fp16 each operand of a linear layer's product
 * rounded to 16 bits (nearest even), the exact products summed in fp32.
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
    ze_dev_fini(&d);
    tap_plan(0);
    return tap_exit();
}
