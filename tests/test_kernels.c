/* test_kernels.c - the CPU training kernels (backend/kernels.c).
 *
 * Expected values come from an independent derivation, never from running
 * the kernels:
 *   - forwards against straightforward double-precision references written
 *     here (naive triple loops, the tanh form of GELU, per-row softmax);
 *   - every backward against central finite differences of a scalar loss
 *     L = sum(out * R), R a fixed random tensor, re-evaluated in double with
 *     those references (step 1e-3), compared as max|grad - fd| / max|fd|;
 *   - optimizer steps, cross-entropy of uniform logits and the 16-bit
 *     encodings by hand (the arithmetic is written out below).
 * Shapes are small (B=2, T=5, C=8, NH=2, V=11, F=16), plus one attention of
 * T=300 that spans several of the kernel's row blocks. */
#include "kernels.h"
#include "tap.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { TB = 2, TT = 5, TC = 8, TNH = 2, TV = 11, TF = 16, TN = TB * TT };

#define FD_STEP 1e-3
#define GRAD_TOL 1e-3   /* fp32 kernel vs double finite differences */
#define FWD_TOL 1e-5    /* fp32 kernel vs double reference, max-abs normalised */

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* uniform in [lo, hi), a float so that the float and double copies agree */
static float frand(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(rng_next(s) >> 40) / 16777216.0);
}

static float *fnew(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        abort();
    return p;
}

static double *dnew(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        abort();
    return p;
}

static float *frandn(uint64_t *s, size_t n, float lo, float hi)
{
    float *p = fnew(n);
    for (size_t i = 0; i < n; i++)
        p[i] = frand(s, lo, hi);
    return p;
}

static double *to_double(const float *x, size_t n)
{
    double *p = dnew(n);
    for (size_t i = 0; i < n; i++)
        p[i] = x[i];
    return p;
}

static void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

/* max |got - want| / max |want| */
static double rel_err(const float *got, const double *want, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= e)) /* NaN counts as an error */
            e = d;
        if (fabs(want[i]) > m)
            m = fabs(want[i]);
    }
    return m > 0 ? e / m : e;
}

static void check_close(const char *what, const float *got, const double *want, size_t n, double tol)
{
    double e = rel_err(got, want, n);
    ok(e <= tol, "%s: max|got - want| / max|want| = %.2e (tol %.0e)", what, e, tol);
}

/* got == want elementwise (a written gradient against the zeroed and
 * accumulated one; NaN anywhere fails): bit for bit (bits != 0: a zero's
 * sign too), else in value */
static void check_same(const char *what, const float *got, const float *want, size_t n, int bits)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += bits ? memcmp(&got[i], &want[i], sizeof got[i]) != 0 : !(got[i] == want[i]);
    ok(bad == 0, "%s: written over NaN, %s zeroing and adding (%zu of %zu differ)", what,
       bits ? "bit for bit" : "equal in value to", bad, n);
}

/* got == 2 * once, elementwise, to float rounding */
static void check_doubled(const char *what, const float *got, const float *once, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - 2.0 * (double)once[i]);
        if (!(d <= e))
            e = d;
        if (fabs(2.0 * once[i]) > m)
            m = fabs(2.0 * once[i]);
    }
    ok(m > 0 && e <= 1e-6 * m, "%s: a second call doubles the gradient (err %.1e)", what, m > 0 ? e / m : e);
}

typedef double (*loss_fn)(void *ctx);

/* central differences of f with respect to x[0..n) */
static void fd_grad(double *x, size_t n, loss_fn f, void *ctx, double *g)
{
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + FD_STEP;
        double lp = f(ctx);
        x[i] = x0 - FD_STEP;
        double lm = f(ctx);
        x[i] = x0;
        g[i] = (lp - lm) / (2 * FD_STEP);
    }
}

static double dot_d(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* --------------------------------------------------- double references */

static void ref_layernorm(double *out, const double *inp, const double *w, const double *b, int N, int C)
{
    for (int r = 0; r < N; r++) {
        const double *x = inp + (size_t)r * C;
        double mu = 0, var = 0;
        for (int i = 0; i < C; i++)
            mu += x[i];
        mu /= C;
        for (int i = 0; i < C; i++)
            var += (x[i] - mu) * (x[i] - mu);
        var /= C;
        for (int i = 0; i < C; i++)
            out[(size_t)r * C + i] = (x[i] - mu) / sqrt(var + 1e-5) * w[i] + b[i];
    }
}

/* out[n][o] = sum_i inp[n][i] w[o][i] + bias[o]: the naive triple loop */
static void ref_matmul(double *out, const double *inp, const double *w, const double *bias, int N, int IC, int OC)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int i = 0; i < IC; i++)
                s += inp[(size_t)n * IC + i] * w[(size_t)o * IC + i];
            out[(size_t)n * OC + o] = s;
        }
}

/* causal attention, one query at a time; att may be NULL.  KV key/value
 * heads (KV <= 0: NH), rows of C + 2 KV hs: query head h reads K, V head
 * h / (NH / KV). */
static void ref_attention(double *out, double *att, const double *qkv, int B, int T, int C, int NH, int KV)
{
    if (KV <= 0)
        KV = NH;
    int hs = C / NH, g = NH / KV;
    size_t ld = (size_t)C + 2 * (size_t)KV * hs;
    double sc = 1.0 / sqrt((double)hs), *p = dnew((size_t)T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                size_t ko = (size_t)C + (size_t)(h / g) * hs, vo = ko + (size_t)KV * hs;
                const double *q = qkv + ((size_t)b * T + t) * ld + (size_t)h * hs;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    const double *k = qkv + ((size_t)b * T + j) * ld + ko;
                    p[j] = dot_d(q, k, (size_t)hs) * sc;
                    if (p[j] > mx)
                        mx = p[j];
                }
                for (int j = 0; j <= t; j++)
                    sum += (p[j] = exp(p[j] - mx));
                for (int j = 0; j <= t; j++)
                    p[j] /= sum;
                for (int d = 0; d < hs; d++) {
                    double o = 0;
                    for (int j = 0; j <= t; j++)
                        o += p[j] * qkv[((size_t)b * T + j) * ld + vo + d];
                    out[((size_t)b * T + t) * C + (size_t)h * hs + d] = o;
                }
                if (att)
                    for (int j = 0; j < T; j++)
                        att[(((size_t)b * NH + h) * T + t) * T + j] = j <= t ? p[j] : 0.0;
            }
    free(p);
}

/* RMSNorm: x / sqrt(mean(x^2) + 1e-5) * w, no mean subtracted, no bias;
 * rstd may be NULL */
static void ref_rmsnorm(double *out, double *rstd, const double *inp, const double *w, int N, int C)
{
    for (int r = 0; r < N; r++) {
        const double *x = inp + (size_t)r * C;
        double ms = 0;
        for (int i = 0; i < C; i++)
            ms += x[i] * x[i];
        ms /= C;
        double rs = 1.0 / sqrt(ms + 1e-5);
        for (int i = 0; i < C; i++)
            out[(size_t)r * C + i] = x[i] * rs * w[i];
        if (rstd)
            rstd[r] = rs;
    }
}

/* Rotary positions from the formula, in place: every Q head (the first C
 * values of a row) and every K head (the KV hs after them) of token t has
 * the complex number x[i] + j x[i + hs/2] multiplied by exp(j a),
 * a = t theta^(-2i/hs); V (the last KV hs) untouched. */
static void ref_rope(double *qkv, int B, int T, int C, int NH, int KV, double theta)
{
    if (KV <= 0)
        KV = NH;
    int hs = C / NH, half = hs / 2;
    size_t ld = (size_t)C + 2 * (size_t)KV * hs;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH + KV; h++) {
                size_t off = h < NH ? (size_t)h * hs : (size_t)C + (size_t)(h - NH) * hs;
                double *x = qkv + ((size_t)b * T + t) * ld + off;
                for (int i = 0; i < half; i++) {
                    double a = t * pow(theta, -2.0 * i / hs), re = x[i], im = x[i + half];
                    x[i] = re * cos(a) - im * sin(a);
                    x[i + half] = re * sin(a) + im * cos(a);
                }
            }
}

/* SwiGLU: per row the gate g (first F) and up u (next F); out = g u / (1 + e^-g) */
static void ref_swiglu(double *out, const double *inp, int N, int F)
{
    for (int r = 0; r < N; r++)
        for (int i = 0; i < F; i++) {
            double g = inp[(size_t)r * 2 * F + i], u = inp[(size_t)r * 2 * F + F + i];
            out[(size_t)r * F + i] = g / (1.0 + exp(-g)) * u;
        }
}

/* GPT-2's tanh form, written independently of the kernel's sigmoid form */
static double ref_gelu(double x)
{
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
}

static double ref_crossentropy(const double *logits, const int *tgt, int N, int V)
{
    double loss = 0;
    for (int r = 0; r < N; r++) {
        const double *x = logits + (size_t)r * V;
        double mx = x[0], s = 0;
        for (int j = 1; j < V; j++)
            if (x[j] > mx)
                mx = x[j];
        for (int j = 0; j < V; j++)
            s += exp(x[j] - mx);
        loss += mx + log(s) - x[tgt[r]];
    }
    return loss / N;
}

/* --------------------------------------------------------------- losses */

struct embed_ctx { const int *tok; double *wte, *wpe, *R; };

static double embed_loss(void *vp)
{
    struct embed_ctx *c = vp;
    double L = 0;
    for (int b = 0; b < TB; b++)
        for (int t = 0; t < TT; t++)
            for (int i = 0; i < TC; i++)
                L += (c->wte[(size_t)c->tok[b * TT + t] * TC + i] + c->wpe[(size_t)t * TC + i]) *
                     c->R[((size_t)b * TT + t) * TC + i];
    return L;
}

struct ln_ctx { double *inp, *w, *b, *R, *out; };

static double ln_loss(void *vp)
{
    struct ln_ctx *c = vp;
    ref_layernorm(c->out, c->inp, c->w, c->b, TN, TC);
    return dot_d(c->out, c->R, (size_t)TN * TC);
}

struct mm_ctx { double *inp, *w, *bias, *R, *out; };

static double mm_loss(void *vp)
{
    struct mm_ctx *c = vp;
    ref_matmul(c->out, c->inp, c->w, c->bias, TN, TC, TF);
    return dot_d(c->out, c->R, (size_t)TN * TF);
}

struct att_ctx { double *qkv, *R, *out; int B, T, C, NH, KV; };

static double att_loss(void *vp)
{
    struct att_ctx *c = vp;
    ref_attention(c->out, NULL, c->qkv, c->B, c->T, c->C, c->NH, c->KV);
    return dot_d(c->out, c->R, (size_t)c->B * c->T * c->C);
}

struct rms_ctx { double *inp, *w, *R, *out; int N, C; };

static double rms_loss(void *vp)
{
    struct rms_ctx *c = vp;
    ref_rmsnorm(c->out, NULL, c->inp, c->w, c->N, c->C);
    return dot_d(c->out, c->R, (size_t)c->N * c->C);
}

struct rope_ctx { double *qkv, *R, *tmp; size_t n; int B, T, C, NH, KV; double theta; };

static double rope_loss(void *vp)
{
    struct rope_ctx *c = vp;
    memcpy(c->tmp, c->qkv, c->n * sizeof *c->tmp);
    ref_rope(c->tmp, c->B, c->T, c->C, c->NH, c->KV, c->theta);
    return dot_d(c->tmp, c->R, c->n);
}

struct swiglu_ctx { double *inp, *R, *out; int N, F; };

static double swiglu_loss(void *vp)
{
    struct swiglu_ctx *c = vp;
    ref_swiglu(c->out, c->inp, c->N, c->F);
    return dot_d(c->out, c->R, (size_t)c->N * c->F);
}

struct gelu_ctx { double *x, *R; size_t n; };

static double gelu_loss(void *vp)
{
    struct gelu_ctx *c = vp;
    double L = 0;
    for (size_t i = 0; i < c->n; i++)
        L += ref_gelu(c->x[i]) * c->R[i];
    return L;
}

struct ce_ctx { double *logits; const int *tgt; };

static double ce_loss(void *vp)
{
    struct ce_ctx *c = vp;
    return ref_crossentropy(c->logits, c->tgt, TN, TV);
}

/* ---------------------------------------------------------------- tests */

static void test_embedding(uint64_t *s)
{
    int tok[TN] = {3, 0, 10, 3, 7, 1, 3, 10, 5, 0}; /* repeats: rows must add up */
    float *wte = frandn(s, (size_t)TV * TC, -1, 1), *wpe = frandn(s, (size_t)TT * TC, -1, 1);
    float *R = frandn(s, (size_t)TN * TC, -1, 1), *out = fnew((size_t)TN * TC);
    fill_nan(out, (size_t)TN * TC);
    zk_embed_fwd(out, tok, wte, wpe, TB, TT, TC);
    double *want = dnew((size_t)TN * TC);
    for (int b = 0; b < TB; b++)
        for (int t = 0; t < TT; t++)
            for (int i = 0; i < TC; i++)
                want[((size_t)b * TT + t) * TC + i] =
                    (double)wte[(size_t)tok[b * TT + t] * TC + i] + wpe[(size_t)t * TC + i];
    check_close("embed_fwd", out, want, (size_t)TN * TC, FWD_TOL);

    struct embed_ctx c = {tok, to_double(wte, (size_t)TV * TC), to_double(wpe, (size_t)TT * TC),
                          to_double(R, (size_t)TN * TC)};
    double *fte = dnew((size_t)TV * TC), *fpe = dnew((size_t)TT * TC);
    fd_grad(c.wte, (size_t)TV * TC, embed_loss, &c, fte);
    fd_grad(c.wpe, (size_t)TT * TC, embed_loss, &c, fpe);
    float *dwte = fnew((size_t)TV * TC), *dwpe = fnew((size_t)TT * TC);
    zk_embed_bwd(dwte, dwpe, R, tok, TB, TT, TC);
    check_close("embed_bwd dwte vs finite differences", dwte, fte, (size_t)TV * TC, GRAD_TOL);
    check_close("embed_bwd dwpe vs finite differences", dwpe, fpe, (size_t)TT * TC, GRAD_TOL);
    float *once = fnew((size_t)TV * TC);
    memcpy(once, dwte, (size_t)TV * TC * sizeof *once);
    zk_embed_bwd(dwte, dwpe, R, tok, TB, TT, TC);
    check_doubled("embed_bwd dwte", dwte, once, (size_t)TV * TC);
    free(wte); free(wpe); free(R); free(out); free(want); free(c.wte); free(c.wpe); free(c.R);
    free(fte); free(fpe); free(dwte); free(dwpe); free(once);
}

/* wpe NULL: no learned positions.  fwd copies the wte rows; bwd with dwpe
 * NULL adds the dout rows into dwte only. */
static void test_embedding_nopos(uint64_t *s)
{
    int tok[TN] = {4, 4, 9, 0, 10, 2, 4, 9, 1, 6};
    float *wte = frandn(s, (size_t)TV * TC, -1, 1), *R = frandn(s, (size_t)TN * TC, -1, 1);
    float *out = fnew((size_t)TN * TC);
    fill_nan(out, (size_t)TN * TC);
    zk_embed_fwd(out, tok, wte, NULL, TB, TT, TC);
    double *want = dnew((size_t)TN * TC);
    for (int r = 0; r < TN; r++)
        for (int i = 0; i < TC; i++)
            want[(size_t)r * TC + i] = wte[(size_t)tok[r] * TC + i];
    check_close("embed_fwd with wpe NULL: out rows are the wte rows", out, want, (size_t)TN * TC, 0);

    /* dwte[v] = sum of the dout rows whose token is v, added by hand */
    double *wd = dnew((size_t)TV * TC);
    for (int r = 0; r < TN; r++)
        for (int i = 0; i < TC; i++)
            wd[(size_t)tok[r] * TC + i] += R[(size_t)r * TC + i];
    float *dwte = fnew((size_t)TV * TC), *once = fnew((size_t)TV * TC);
    zk_embed_bwd(dwte, NULL, R, tok, TB, TT, TC);
    check_close("embed_bwd with dwpe NULL: dwte = per-token sums of dout", dwte, wd, (size_t)TV * TC, 1e-6);
    memcpy(once, dwte, (size_t)TV * TC * sizeof *once);
    zk_embed_bwd(dwte, NULL, R, tok, TB, TT, TC);
    check_doubled("embed_bwd dwte with dwpe NULL", dwte, once, (size_t)TV * TC);
    free(wte); free(R); free(out); free(want); free(wd); free(dwte); free(once);
}

static void test_layernorm(uint64_t *s)
{
    size_t nc = (size_t)TN * TC;
    float *inp = frandn(s, nc, -2, 3), *w = frandn(s, TC, 0.5f, 1.5f), *b = frandn(s, TC, -0.5f, 0.5f);
    float *R = frandn(s, nc, -1, 1), *out = fnew(nc), *mean = fnew(TN), *rstd = fnew(TN);
    fill_nan(out, nc);
    zk_layernorm_fwd(out, mean, rstd, inp, w, b, TN, TC);
    struct ln_ctx c = {to_double(inp, nc), to_double(w, TC), to_double(b, TC), to_double(R, nc), dnew(nc)};
    ref_layernorm(c.out, c.inp, c.w, c.b, TN, TC);
    check_close("layernorm_fwd out", out, c.out, nc, FWD_TOL);
    double wm[TN], wr[TN];
    for (int r = 0; r < TN; r++) {
        double mu = 0, var = 0;
        for (int i = 0; i < TC; i++)
            mu += c.inp[r * TC + i] / TC;
        for (int i = 0; i < TC; i++)
            var += (c.inp[r * TC + i] - mu) * (c.inp[r * TC + i] - mu) / TC;
        wm[r] = mu;
        wr[r] = 1 / sqrt(var + 1e-5);
    }
    check_close("layernorm_fwd mean", mean, wm, TN, FWD_TOL);
    check_close("layernorm_fwd rstd", rstd, wr, TN, FWD_TOL);

    double *fi = dnew(nc), *fw = dnew(TC), *fb = dnew(TC);
    fd_grad(c.inp, nc, ln_loss, &c, fi);
    fd_grad(c.w, TC, ln_loss, &c, fw);
    fd_grad(c.b, TC, ln_loss, &c, fb);
    float *dinp = fnew(nc), *dw = fnew(TC), *db = fnew(TC);
    zk_layernorm_bwd(dinp, dw, db, R, inp, w, mean, rstd, TN, TC);
    check_close("layernorm_bwd dinp vs finite differences", dinp, fi, nc, GRAD_TOL);
    check_close("layernorm_bwd dw vs finite differences", dw, fw, TC, GRAD_TOL);
    check_close("layernorm_bwd db vs finite differences", db, fb, TC, GRAD_TOL);
    float *o1 = fnew(nc), o2[TC], o3[TC];
    memcpy(o1, dinp, nc * sizeof *o1);
    memcpy(o2, dw, sizeof o2);
    memcpy(o3, db, sizeof o3);
    zk_layernorm_bwd(dinp, dw, db, R, inp, w, mean, rstd, TN, TC);
    check_doubled("layernorm_bwd dinp", dinp, o1, nc);
    check_doubled("layernorm_bwd dw", dw, o2, TC);
    check_doubled("layernorm_bwd db", db, o3, TC);

    /* a longer row (C = 100) exercises the chunked loops and their tails */
    {
        enum { LN = 3, LC = 100 };
        float *x = frandn(s, LN * LC, -1, 4), *lw = frandn(s, LC, 0.5f, 1.5f), *lb = frandn(s, LC, -1, 1);
        float *lo = fnew(LN * LC), lm[LN], lr[LN];
        double *dx = to_double(x, LN * LC), *dw2 = to_double(lw, LC), *db2 = to_double(lb, LC);
        double *want = dnew(LN * LC);
        zk_layernorm_fwd(lo, lm, lr, x, lw, lb, LN, LC);
        ref_layernorm(want, dx, dw2, db2, LN, LC);
        check_close("layernorm_fwd C=100", lo, want, LN * LC, FWD_TOL);
        free(x); free(lw); free(lb); free(lo); free(dx); free(dw2); free(db2); free(want);
    }
    free(inp); free(w); free(b); free(R); free(out); free(mean); free(rstd);
    free(c.inp); free(c.w); free(c.b); free(c.R); free(c.out);
    free(fi); free(fw); free(fb); free(dinp); free(dw); free(db); free(o1);
}

static void rmsnorm_case(uint64_t *s, int N, int C)
{
    size_t nc = (size_t)N * C;
    char nm[96];
#define RMS_NAME(what) (snprintf(nm, sizeof nm, "%s, C=%d", what, C), nm)
    float *inp = frandn(s, nc, -2, 3), *w = frandn(s, (size_t)C, 0.5f, 1.5f), *R = frandn(s, nc, -1, 1);
    float *out = fnew(nc), *rstd = fnew((size_t)N);
    fill_nan(out, nc);
    fill_nan(rstd, (size_t)N);
    zk_rmsnorm_fwd(out, rstd, inp, w, N, C);
    struct rms_ctx c = {to_double(inp, nc), to_double(w, (size_t)C), to_double(R, nc), dnew(nc), N, C};
    double *wr = dnew((size_t)N);
    ref_rmsnorm(c.out, wr, c.inp, c.w, N, C);
    check_close(RMS_NAME("rmsnorm_fwd out vs double reference"), out, c.out, nc, FWD_TOL);
    check_close(RMS_NAME("rmsnorm_fwd rstd vs double reference"), rstd, wr, (size_t)N, FWD_TOL);

    double *fi = dnew(nc), *fw = dnew((size_t)C);
    fd_grad(c.inp, nc, rms_loss, &c, fi);
    fd_grad(c.w, (size_t)C, rms_loss, &c, fw);
    float *dinp = fnew(nc), *dw = fnew((size_t)C);
    zk_rmsnorm_bwd(dinp, dw, R, inp, w, rstd, N, C);
    check_close(RMS_NAME("rmsnorm_bwd dinp vs finite differences"), dinp, fi, nc, GRAD_TOL);
    check_close(RMS_NAME("rmsnorm_bwd dw vs finite differences"), dw, fw, (size_t)C, GRAD_TOL);
    float *o1 = fnew(nc), *o2 = fnew((size_t)C);
    memcpy(o1, dinp, nc * sizeof *o1);
    memcpy(o2, dw, (size_t)C * sizeof *o2);
    zk_rmsnorm_bwd(dinp, dw, R, inp, w, rstd, N, C);
    check_doubled(RMS_NAME("rmsnorm_bwd dinp"), dinp, o1, nc);
    check_doubled(RMS_NAME("rmsnorm_bwd dw"), dw, o2, (size_t)C);
    free(inp); free(w); free(R); free(out); free(rstd); free(c.inp); free(c.w); free(c.R); free(c.out);
    free(wr); free(fi); free(fw); free(dinp); free(dw); free(o1); free(o2);
#undef RMS_NAME
}

/* the small shape, and C = 100 for the kernel's 16-float chunks and tail */
static void test_rmsnorm(uint64_t *s)
{
    rmsnorm_case(s, TN, TC);
    rmsnorm_case(s, 3, 100);
}

static void test_matmul(uint64_t *s)
{
    size_t ni = (size_t)TN * TC, nw = (size_t)TF * TC, no = (size_t)TN * TF;
    float *inp = frandn(s, ni, -1, 1), *w = frandn(s, nw, -1, 1), *bias = frandn(s, TF, -1, 1);
    float *R = frandn(s, no, -1, 1), *out = fnew(no);
    struct mm_ctx c = {to_double(inp, ni), to_double(w, nw), to_double(bias, TF), to_double(R, no), dnew(no)};

    fill_nan(out, no);
    zk_matmul_fwd(out, inp, w, bias, TN, TC, TF);
    ref_matmul(c.out, c.inp, c.w, c.bias, TN, TC, TF);
    check_close("matmul_fwd vs naive triple loop", out, c.out, no, FWD_TOL);
    fill_nan(out, no);
    zk_matmul_fwd(out, inp, w, NULL, TN, TC, TF);
    double *nb = dnew(no);
    ref_matmul(nb, c.inp, c.w, NULL, TN, TC, TF);
    check_close("matmul_fwd without bias", out, nb, no, FWD_TOL);

    double *fi = dnew(ni), *fw = dnew(nw), *fb = dnew(TF);
    fd_grad(c.inp, ni, mm_loss, &c, fi);
    fd_grad(c.w, nw, mm_loss, &c, fw);
    fd_grad(c.bias, TF, mm_loss, &c, fb);
    float *dinp = fnew(ni), *dw = fnew(nw), *db = fnew(TF);
    zk_matmul_bwd(dinp, dw, db, R, inp, w, TN, TC, TF);
    check_close("matmul_bwd dinp vs finite differences", dinp, fi, ni, GRAD_TOL);
    check_close("matmul_bwd dw vs finite differences", dw, fw, nw, GRAD_TOL);
    check_close("matmul_bwd dbias vs finite differences", db, fb, TF, GRAD_TOL);
    float *o1 = fnew(ni), *o2 = fnew(nw), o3[TF];
    memcpy(o1, dinp, ni * sizeof *o1);
    memcpy(o2, dw, nw * sizeof *o2);
    memcpy(o3, db, sizeof o3);
    zk_matmul_bwd(dinp, dw, db, R, inp, w, TN, TC, TF);
    check_doubled("matmul_bwd dinp", dinp, o1, ni);
    check_doubled("matmul_bwd dw", dw, o2, nw);
    check_doubled("matmul_bwd dbias", db, o3, TF);
    /* set: dinp written over what it held (NaN), dw and dbias still added to */
    fill_nan(dinp, ni);
    memcpy(dw, o2, nw * sizeof *dw);
    memcpy(db, o3, sizeof o3);
    zk_matmul_bwd_x(dinp, dw, db, R, inp, w, TN, TC, TF, 1);
    check_same("matmul_bwd_x set: dinp", dinp, o1, ni, 0);
    check_doubled("matmul_bwd_x set: dw", dw, o2, nw);
    check_doubled("matmul_bwd_x set: dbias", db, o3, TF);
    /* no product (OC 0): a written dinp is zeros, as a zeroed one stays */
    fill_nan(dinp, ni);
    zk_matmul_bwd_x(dinp, dw, NULL, R, inp, w, TN, TC, 0, 1);
    {
        size_t nz = 0;
        for (size_t i = 0; i < ni; i++)
            nz += dinp[i] != 0.0f;
        ok(nz == 0, "matmul_bwd_x set with no output columns: dinp zeros (%zu not)", nz);
    }
    /* dinp and dbias may be NULL */
    memset(dw, 0, nw * sizeof *dw);
    zk_matmul_bwd(NULL, dw, NULL, R, inp, w, TN, TC, TF);
    check_close("matmul_bwd dw with dinp, dbias NULL", dw, fw, nw, GRAD_TOL);

    /* a shape with no multiple-of-16 dimension: 37 x 23 -> 19 */
    {
        enum { MN = 37, MI = 23, MO = 19 };
        float *x = frandn(s, MN * MI, -1, 1), *mw = frandn(s, MO * MI, -1, 1), *mb = frandn(s, MO, -1, 1);
        float *mo = fnew(MN * MO), *mdb = fnew(MO);
        double *dx = to_double(x, MN * MI), *dmw = to_double(mw, MO * MI), *dmb = to_double(mb, MO);
        double *want = dnew(MN * MO), wdb[MO];
        zk_matmul_fwd(mo, x, mw, mb, MN, MI, MO);
        ref_matmul(want, dx, dmw, dmb, MN, MI, MO);
        check_close("matmul_fwd 37x23 -> 19", mo, want, MN * MO, FWD_TOL);
        for (int o = 0; o < MO; o++) {
            wdb[o] = 0;
            for (int n = 0; n < MN; n++)
                wdb[o] += (double)x[n * MI + o % MI]; /* use x as dout: column sums */
        }
        float *dout = fnew(MN * MO), *mdw = fnew(MO * MI);
        for (int n = 0; n < MN; n++)
            for (int o = 0; o < MO; o++)
                dout[n * MO + o] = x[n * MI + o % MI];
        zk_matmul_bwd(NULL, mdw, mdb, dout, x, mw, MN, MI, MO);
        check_close("matmul_bwd dbias 37 rows x 19", mdb, wdb, MO, FWD_TOL);
        free(x); free(mw); free(mb); free(mo); free(mdb); free(dx); free(dmw); free(dmb); free(want);
        free(dout); free(mdw);
    }
    free(inp); free(w); free(bias); free(R); free(out); free(c.inp); free(c.w); free(c.bias); free(c.R);
    free(c.out); free(nb); free(fi); free(fw); free(fb); free(dinp); free(dw); free(db); free(o1); free(o2);
}

/* out rows at positions <= t (every batch, head) must not move when the
 * inputs at positions > t change. */
static void check_causal(uint64_t *s, int B, int T, int C, int NH, int KV, int t)
{
    size_t ld = (size_t)C + 2 * (size_t)KV * (C / NH);
    size_t nq = (size_t)B * T * ld, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    float *qkv = frandn(s, nq, -2, 2), *out1 = fnew(no), *out2 = fnew(no), *att = fnew(na);
    zk_attention_fwd(out1, att, qkv, B, T, C, NH, KV);
    for (int b = 0; b < B; b++)
        for (int p = t + 1; p < T; p++)
            for (size_t i = 0; i < ld; i++)
                qkv[((size_t)b * T + p) * ld + i] += frand(s, 5, 50);
    zk_attention_fwd(out2, att, qkv, B, T, C, NH, KV);
    int same = 1, moved = 0;
    for (int b = 0; b < B; b++)
        for (int p = 0; p < T; p++)
            for (int i = 0; i < C; i++) {
                size_t k = ((size_t)b * T + p) * C + i;
                if (p <= t && memcmp(&out1[k], &out2[k], sizeof(float)) != 0)
                    same = 0;
                if (p > t && out1[k] != out2[k])
                    moved = 1;
            }
    ok(same && (t == T - 1 || moved),
       "attention T=%d NH=%d KV=%d is causal: out[<=%d] unchanged when inputs at positions > %d change", T, NH,
       KV, t, t);
    free(qkv); free(out1); free(out2); free(att);
}

/* upper triangle exactly 0, rows of the lower triangle sum to 1 */
static void check_att_shape(const float *att, int B, int NH, int T)
{
    int zeros = 1;
    double worst = 0;
    for (size_t bh = 0; bh < (size_t)B * NH; bh++)
        for (int t = 0; t < T; t++) {
            const float *row = att + (bh * T + t) * T;
            double sum = 0;
            for (int j = 0; j < T; j++) {
                if (j > t && row[j] != 0.0f)
                    zeros = 0;
                if (j <= t)
                    sum += row[j];
            }
            if (!(fabs(sum - 1) <= worst))
                worst = fabs(sum - 1);
        }
    ok(zeros, "attention T=%d: att is 0 above the diagonal", T);
    ok(worst < 1e-5, "attention T=%d: att rows sum to 1 (worst %.1e)", T, worst);
}

static void test_attention(uint64_t *s)
{
    size_t nq = (size_t)TB * TT * 3 * TC, no = (size_t)TN * TC, na = (size_t)TB * TNH * TT * TT;
    float *qkv = frandn(s, nq, -1.5f, 1.5f), *R = frandn(s, no, -1, 1);
    float *out = fnew(no), *att = fnew(na), *scratch = fnew(na);
    fill_nan(out, no);
    fill_nan(att, na);
    zk_attention_fwd(out, att, qkv, TB, TT, TC, TNH, TNH);
    struct att_ctx c = {to_double(qkv, nq), to_double(R, no), dnew(no), TB, TT, TC, TNH, TNH};
    double *watt = dnew(na);
    ref_attention(c.out, watt, c.qkv, TB, TT, TC, TNH, TNH);
    check_close("attention_fwd out vs double reference", out, c.out, no, FWD_TOL);
    check_close("attention_fwd att vs double reference", att, watt, na, FWD_TOL);
    check_att_shape(att, TB, TNH, TT);

    double *fq = dnew(nq);
    fd_grad(c.qkv, nq, att_loss, &c, fq);
    float *dqkv = fnew(nq), *once = fnew(nq);
    fill_nan(scratch, na); /* scratch is output-only */
    zk_attention_bwd(dqkv, scratch, R, att, qkv, TB, TT, TC, TNH, TNH);
    check_close("attention_bwd dqkv vs finite differences", dqkv, fq, nq, GRAD_TOL);
    memcpy(once, dqkv, nq * sizeof *once);
    fill_nan(scratch, na);
    zk_attention_bwd(dqkv, scratch, R, att, qkv, TB, TT, TC, TNH, TNH);
    check_doubled("attention_bwd dqkv", dqkv, once, nq);

    for (int t = 0; t < TT; t++)
        check_causal(s, TB, TT, TC, TNH, TNH, t);
    free(qkv); free(R); free(out); free(att); free(scratch); free(c.qkv); free(c.R); free(c.out); free(watt);
    free(fq); free(dqkv); free(once);
}

/* T = 300 spans three of the kernel's 128-row blocks, the last one partial;
 * finite differences at sampled entries of Q, K and V. */
static void test_attention_long(uint64_t *s)
{
    enum { LB = 1, LT = 300, LC = 8, LNH = 2, NS = 60 };
    size_t nq = (size_t)LB * LT * 3 * LC, no = (size_t)LB * LT * LC, na = (size_t)LB * LNH * LT * LT;
    float *qkv = frandn(s, nq, -1.5f, 1.5f), *R = frandn(s, no, -1, 1);
    float *out = fnew(no), *att = fnew(na), *scratch = fnew(na), *dqkv = fnew(nq);
    fill_nan(out, no);
    fill_nan(att, na);
    zk_attention_fwd(out, att, qkv, LB, LT, LC, LNH, LNH);
    struct att_ctx c = {to_double(qkv, nq), to_double(R, no), dnew(no), LB, LT, LC, LNH, LNH};
    double *watt = dnew(na);
    ref_attention(c.out, watt, c.qkv, LB, LT, LC, LNH, LNH);
    check_close("attention_fwd T=300 out vs double reference", out, c.out, no, FWD_TOL);
    check_close("attention_fwd T=300 att vs double reference", att, watt, na, FWD_TOL);
    check_att_shape(att, LB, LNH, LT);

    fill_nan(scratch, na);
    zk_attention_bwd(dqkv, scratch, R, att, qkv, LB, LT, LC, LNH, LNH);
    float got[NS];
    double fd[NS];
    for (int k = 0; k < NS; k++) {
        /* spread over positions (every block) and over the Q, K, V thirds */
        size_t pos = (size_t)(rng_next(s) % LT), col = (size_t)(k % 3) * LC + (size_t)(rng_next(s) % LC);
        if (k < 6)
            pos = (size_t)(k < 3 ? 0 : LT - 1); /* the first and last rows */
        size_t i = pos * 3 * LC + col;
        fd_grad(c.qkv + i, 1, att_loss, &c, &fd[k]);
        got[k] = dqkv[i];
    }
    check_close("attention_bwd T=300 dqkv vs finite differences (60 samples)", got, fd, NS, GRAD_TOL);
    check_causal(s, LB, LT, LC, LNH, LNH, 150);
    check_causal(s, LB, LT, LC, LNH, LNH, 127);
    check_causal(s, LB, LT, LC, LNH, LNH, 128);
    free(qkv); free(R); free(out); free(att); free(scratch); free(dqkv); free(c.qkv); free(c.R); free(c.out);
    free(watt);
}

/* Grouped-query attention: NH = 4 query heads of hs = 4 over KV key/value
 * heads (rows of C + 2 KV hs).  Besides the reference and finite
 * differences, the output must equal plain multi-head attention (the
 * reference with KV = NH) on rows where every query head gets its own copy
 * of its group's K and V. */
static void test_attention_gqa(uint64_t *s, int KV)
{
    enum { GB = 2, GT = 6, GC = 16, GNH = 4, GHS = GC / GNH };
    size_t ld = (size_t)GC + 2 * (size_t)KV * GHS;
    size_t nq = (size_t)GB * GT * ld, no = (size_t)GB * GT * GC, na = (size_t)GB * GNH * GT * GT;
    char nm[128];
#define GQA_NAME(what) (snprintf(nm, sizeof nm, "%s, NH=%d KV=%d", what, GNH, KV), nm)
    float *qkv = frandn(s, nq, -1.5f, 1.5f), *R = frandn(s, no, -1, 1);
    float *out = fnew(no), *att = fnew(na), *scratch = fnew((size_t)GT * GT);
    fill_nan(out, no);
    fill_nan(att, na);
    zk_attention_fwd(out, att, qkv, GB, GT, GC, GNH, KV);
    struct att_ctx c = {to_double(qkv, nq), to_double(R, no), dnew(no), GB, GT, GC, GNH, KV};
    double *watt = dnew(na);
    ref_attention(c.out, watt, c.qkv, GB, GT, GC, GNH, KV);
    check_close(GQA_NAME("attention_fwd GQA out vs double reference"), out, c.out, no, FWD_TOL);
    check_close(GQA_NAME("attention_fwd GQA att vs double reference"), att, watt, na, FWD_TOL);
    check_att_shape(att, GB, GNH, GT);

    /* K, V of head h / (NH/KV) copied into head h of a multi-head row */
    {
        size_t ld3 = 3 * (size_t)GC;
        double *mha = dnew((size_t)GB * GT * ld3), *mout = dnew(no);
        for (size_t r = 0; r < (size_t)GB * GT; r++) {
            const double *src = c.qkv + r * ld;
            double *dst = mha + r * ld3;
            for (int i = 0; i < GC; i++)
                dst[i] = src[i];
            for (int h = 0; h < GNH; h++)
                for (int d = 0; d < GHS; d++) {
                    int kvh = h / (GNH / KV);
                    dst[GC + h * GHS + d] = src[GC + kvh * GHS + d];
                    dst[2 * GC + h * GHS + d] = src[GC + KV * GHS + kvh * GHS + d];
                }
        }
        ref_attention(mout, NULL, mha, GB, GT, GC, GNH, GNH);
        check_close(GQA_NAME("attention_fwd GQA equals MHA with K, V repeated per group"), out, mout, no, FWD_TOL);
        free(mha); free(mout);
    }

    double *fq = dnew(nq);
    fd_grad(c.qkv, nq, att_loss, &c, fq);
    float *dqkv = fnew(nq), *once = fnew(nq);
    fill_nan(scratch, (size_t)GT * GT);
    zk_attention_bwd(dqkv, scratch, R, att, qkv, GB, GT, GC, GNH, KV);
    check_close(GQA_NAME("attention_bwd GQA dqkv vs finite differences"), dqkv, fq, nq, GRAD_TOL);
    memcpy(once, dqkv, nq * sizeof *once);
    fill_nan(scratch, (size_t)GT * GT);
    zk_attention_bwd(dqkv, scratch, R, att, qkv, GB, GT, GC, GNH, KV);
    check_doubled(GQA_NAME("attention_bwd GQA dqkv"), dqkv, once, nq);

    check_causal(s, GB, GT, GC, GNH, KV, 2);
    free(qkv); free(R); free(out); free(att); free(scratch); free(c.qkv); free(c.R); free(c.out); free(watt);
    free(fq); free(dqkv); free(once);
#undef GQA_NAME
}

/* KV <= 0 means KV = NH (multi-head) */
static void test_attention_kv0(uint64_t *s)
{
    size_t nq = (size_t)TB * TT * 3 * TC, no = (size_t)TN * TC, na = (size_t)TB * TNH * TT * TT;
    float *qkv = frandn(s, nq, -1.5f, 1.5f), *R = frandn(s, no, -1, 1);
    float *out = fnew(no), *att = fnew(na), *scratch = fnew(na), *dqkv = fnew(nq);
    struct att_ctx c = {to_double(qkv, nq), to_double(R, no), dnew(no), TB, TT, TC, TNH, TNH};
    double *fq = dnew(nq);
    ref_attention(c.out, NULL, c.qkv, TB, TT, TC, TNH, TNH);
    fill_nan(out, no);
    zk_attention_fwd(out, att, qkv, TB, TT, TC, TNH, 0);
    check_close("attention_fwd KV=0 is multi-head (reference with KV=NH)", out, c.out, no, FWD_TOL);
    fd_grad(c.qkv, nq, att_loss, &c, fq);
    zk_attention_bwd(dqkv, scratch, R, att, qkv, TB, TT, TC, TNH, 0);
    check_close("attention_bwd KV=0 dqkv vs finite differences of multi-head", dqkv, fq, nq, GRAD_TOL);
    free(qkv); free(R); free(out); free(att); free(scratch); free(dqkv); free(c.qkv); free(c.R); free(c.out);
    free(fq);
}

static void test_gelu(uint64_t *s)
{
    size_t n = (size_t)TN * TF;
    float *x = frandn(s, n, -4, 4), *R = frandn(s, n, -1, 1), *out = fnew(n);
    fill_nan(out, n);
    zk_gelu_fwd(out, x, n);
    struct gelu_ctx c = {to_double(x, n), to_double(R, n), n};
    double *want = dnew(n), *fd = dnew(n);
    for (size_t i = 0; i < n; i++)
        want[i] = ref_gelu(c.x[i]);
    check_close("gelu_fwd vs tanh form in double", out, want, n, FWD_TOL);
    fd_grad(c.x, n, gelu_loss, &c, fd);
    float *dinp = fnew(n), *once = fnew(n);
    zk_gelu_bwd(dinp, x, R, n);
    check_close("gelu_bwd vs finite differences", dinp, fd, n, GRAD_TOL);
    memcpy(once, dinp, n * sizeof *once);
    zk_gelu_bwd(dinp, x, R, n);
    check_doubled("gelu_bwd", dinp, once, n);
    fill_nan(dinp, n);
    zk_gelu_bwd_set(dinp, x, R, n);
    check_same("gelu_bwd_set", dinp, once, n, 1);

    /* pointwise relative accuracy, including tails and large |x| */
    float xs[] = {0.0f, -0.0f, 1e-6f, -1e-6f, 0.5f, -0.5f, 3.0f, -3.0f, 8.0f, -8.0f, 10.0f, -10.0f,
                  20.0f, 100.0f, -100.0f, 1e4f, -1e4f, 1e30f, -1e30f};
    int nx = (int)(sizeof xs / sizeof xs[0]), good = 1;
    float ys[sizeof xs / sizeof xs[0]];
    zk_gelu_fwd(ys, xs, (size_t)nx);
    for (int i = 0; i < nx; i++) {
        double w = ref_gelu(xs[i]);
        /* absolute floor: for x <= -8 the double tanh form itself rounds 1 + tanh to 0 */
        if (!(fabs(ys[i] - w) <= 1e-6 * fabs(w) + 1e-18)) {
            good = 0;
            diag("gelu(%g) = %.9g, want %.9g", (double)xs[i], (double)ys[i], w);
        }
    }
    ok(good, "gelu_fwd pointwise to 1e-6 relative, |x| from 0 to 1e30");
    free(x); free(R); free(out); free(c.x); free(c.R); free(want); free(fd); free(dinp); free(once);
}

/* Rotary positions on qkv rows of C + 2 KV hs: forward vs the formula in
 * double, V untouched, t = 0 the identity, each pair's norm kept; rope_bwd
 * is the adjoint (<rope_fwd(x), y> = <x, rope_bwd(y)>), undoes rope_fwd,
 * and is the gradient of <R, rope(x)> by finite differences. */
static void rope_case(uint64_t *s, int B, int T, int C, int NH, int KV, float theta)
{
    int kv = KV > 0 ? KV : NH, hs = C / NH, half = hs / 2;
    size_t ld = (size_t)C + 2 * (size_t)kv * hs, n = (size_t)B * T * ld;
    char nm[160];
#define ROPE_NAME(what) \
    (snprintf(nm, sizeof nm, "%s, B=%d T=%d C=%d NH=%d KV=%d theta=%g", what, B, T, C, NH, KV, (double)theta), nm)
    float *x = frandn(s, n, -2, 2), *y = fnew(n);
    memcpy(y, x, n * sizeof *y);
    zk_rope_fwd(y, B, T, C, NH, KV, theta, 0);
    double *want = to_double(x, n);
    ref_rope(want, B, T, C, NH, kv, theta);
    check_close(ROPE_NAME("rope_fwd vs the formula in double"), y, want, n, FWD_TOL);

    int vsame = 1, t0 = 1;
    double worst = 0;
    for (size_t r = 0; r < (size_t)B * T; r++) {
        const float *a = x + r * ld, *b = y + r * ld;
        if (memcmp(a + C + (size_t)kv * hs, b + C + (size_t)kv * hs, (size_t)kv * hs * sizeof *a) != 0)
            vsame = 0;
        if (r % (size_t)T == 0 && memcmp(a, b, ld * sizeof *a) != 0)
            t0 = 0;
        for (size_t h = 0; h < (size_t)(NH + kv); h++)
            for (int i = 0; i < half; i++) {
                size_t k = h * hs + i; /* Q then K heads: the first (NH + KV) hs values */
                double n0 = (double)a[k] * a[k] + (double)a[k + half] * a[k + half];
                double n1 = (double)b[k] * b[k] + (double)b[k + half] * b[k + half];
                double e = fabs(n1 - n0) / n0;
                if (!(e <= worst))
                    worst = e;
            }
    }
    ok(vsame, "%s", ROPE_NAME("rope_fwd leaves V bit-identical"));
    ok(t0, "%s", ROPE_NAME("rope_fwd at t=0 is the identity (bit-identical rows)"));
    ok(worst <= 1e-5, "%s (worst %.1e)", ROPE_NAME("rope_fwd keeps every pair's norm"), worst);

    /* adjoint: <rope_fwd(x), z> = <x, rope_bwd(z)> */
    float *z = frandn(s, n, -2, 2), *bz = fnew(n);
    memcpy(bz, z, n * sizeof *bz);
    zk_rope_bwd(bz, B, T, C, NH, KV, theta, 0);
    double lhs = 0, rhs = 0, mag = 0;
    for (size_t i = 0; i < n; i++) {
        lhs += (double)y[i] * z[i];
        rhs += (double)x[i] * bz[i];
        mag += fabs((double)x[i] * z[i]);
    }
    ok(fabs(lhs - rhs) <= 1e-6 * mag, "%s (|diff| %.1e, scale %.1e)",
       ROPE_NAME("rope_bwd is the adjoint: <rope_fwd(x), z> = <x, rope_bwd(z)>"), fabs(lhs - rhs), mag);

    /* inverse: rope_bwd(rope_fwd(x)) = x */
    double *xd = to_double(x, n);
    zk_rope_bwd(y, B, T, C, NH, KV, theta, 0);
    check_close(ROPE_NAME("rope_bwd(rope_fwd(x)) = x"), y, xd, n, FWD_TOL);

    /* gradient of L = <R, rope(x)> (V passes R through unchanged); sampled
     * entries when the shape is large */
    if (n <= 2000) {
        struct rope_ctx c = {xd, to_double(z, n), dnew(n), n, B, T, C, NH, kv, theta};
        double *fd = dnew(n);
        fd_grad(c.qkv, n, rope_loss, &c, fd);
        check_close(ROPE_NAME("rope_bwd vs finite differences of <R, rope(x)>"), bz, fd, n, GRAD_TOL);
        free(c.R); free(c.tmp); free(fd);
    }
    /* a part of the sequence: rows p0 .. T - 1 rotated from position p0
     * are the whole sequence's same rows, bit for bit (context
     * parallelism hands each rank its part) */
    {
        int p0 = T / 2;
        size_t n0 = (size_t)p0 * ld, np = (size_t)(T - p0) * ld;
        float *w = fnew(n), *part = fnew(np);
        int same = 1;
        memcpy(w, x, n * sizeof *w);
        zk_rope_fwd(w, B, T, C, NH, KV, theta, 0);
        for (int b = 0; b < B; b++) {
            memcpy(part, x + (size_t)b * T * ld + n0, np * sizeof *part);
            zk_rope_fwd(part, 1, T - p0, C, NH, KV, theta, p0);
            same &= memcmp(part, w + (size_t)b * T * ld + n0, np * sizeof *part) == 0;
            memcpy(part, z + (size_t)b * T * ld + n0, np * sizeof *part);
            zk_rope_bwd(part, 1, T - p0, C, NH, KV, theta, p0);
            same &= memcmp(part, bz + (size_t)b * T * ld + n0, np * sizeof *part) == 0;
        }
        ok(same, "%s", ROPE_NAME("rope_fwd/bwd from position T/2 on the rows T/2.. = the whole sequence's rows"));
        free(w); free(part);
    }
    free(x); free(y); free(want); free(z); free(bz); free(xd);
#undef ROPE_NAME
}

static void test_rope(uint64_t *s)
{
    rope_case(s, 2, 7, 32, 4, 2, 10000.0f);   /* hs = 8, GQA */
    rope_case(s, 2, 5, 16, 4, 1, 10000.0f);   /* hs = 4, one K head */
    rope_case(s, 2, 5, 8, 2, 2, 100.0f);      /* multi-head */
    rope_case(s, 1, 4, 8, 2, 0, 10000.0f);    /* KV = 0 means NH */
    rope_case(s, 1, 300, 16, 2, 1, 500000.0f); /* angles up to 299 rad */
}

static void swiglu_case(uint64_t *s, int N, int F)
{
    size_t ni = (size_t)N * 2 * F, no = (size_t)N * F;
    char nm[96];
#define SWIGLU_NAME(what) (snprintf(nm, sizeof nm, "%s, N=%d F=%d", what, N, F), nm)
    float *inp = frandn(s, ni, -5, 5), *R = frandn(s, no, -1, 1), *out = fnew(no);
    fill_nan(out, no);
    zk_swiglu_fwd(out, inp, N, F);
    struct swiglu_ctx c = {to_double(inp, ni), to_double(R, no), dnew(no), N, F};
    ref_swiglu(c.out, c.inp, N, F);
    check_close(SWIGLU_NAME("swiglu_fwd vs double reference"), out, c.out, no, FWD_TOL);
    double *fd = dnew(ni);
    fd_grad(c.inp, ni, swiglu_loss, &c, fd);
    float *dinp = fnew(ni), *once = fnew(ni);
    zk_swiglu_bwd(dinp, inp, R, N, F);
    check_close(SWIGLU_NAME("swiglu_bwd vs finite differences"), dinp, fd, ni, GRAD_TOL);
    memcpy(once, dinp, ni * sizeof *once);
    zk_swiglu_bwd(dinp, inp, R, N, F);
    check_doubled(SWIGLU_NAME("swiglu_bwd"), dinp, once, ni);
    fill_nan(dinp, ni);
    zk_swiglu_bwd_x(dinp, inp, R, N, F, 1);
    check_same(SWIGLU_NAME("swiglu_bwd_x set"), dinp, once, ni, 1);
    free(inp); free(R); free(out); free(c.inp); free(c.R); free(c.out); free(fd); free(dinp); free(once);
#undef SWIGLU_NAME
}

static void test_swiglu(uint64_t *s)
{
    swiglu_case(s, TN, TF);
    swiglu_case(s, 3, 37); /* chunks of 16 and a tail */

    /* pointwise, gate over a wide range (u = 1.5) */
    float gs[] = {0.0f, -0.0f, 1e-6f, -1e-6f, 0.5f, -0.5f, 3.0f, -3.0f, 10.0f, -10.0f, 20.0f, -20.0f, 50.0f, -50.0f};
    enum { NG = sizeof gs / sizeof gs[0] };
    float in[2 * NG], o[NG];
    for (int i = 0; i < NG; i++) {
        in[i] = gs[i];
        in[NG + i] = 1.5f;
    }
    zk_swiglu_fwd(o, in, 1, NG);
    int good = 1;
    for (int i = 0; i < NG; i++) {
        double w = (double)gs[i] / (1.0 + exp(-(double)gs[i])) * 1.5;
        /* absolute floor: silu(-50) = -1e-20 */
        if (!(fabs(o[i] - w) <= 1e-6 * fabs(w) + 1e-18)) {
            good = 0;
            diag("swiglu(g=%g, u=1.5) = %.9g, want %.9g", (double)gs[i], (double)o[i], w);
        }
    }
    ok(good, "swiglu_fwd pointwise to 1e-6 relative, gate from -50 to 50");
}

static void test_crossentropy(uint64_t *s)
{
    size_t n = (size_t)TN * TV;
    int tgt[TN] = {0, 10, 3, 3, 7, 1, 9, 2, 5, 10};
    float *lg = frandn(s, n, -3, 3), *g = fnew(n);
    struct ce_ctx c = {to_double(lg, n), tgt};
    double want = ref_crossentropy(c.logits, tgt, TN, TV);
    double *fd = dnew(n);
    fd_grad(c.logits, n, ce_loss, &c, fd);
    memcpy(g, lg, n * sizeof *g);
    double loss = zk_crossentropy(g, tgt, TN, TV, 1.0f);
    is_dbl(loss, want, 1e-6, "crossentropy mean loss vs double reference");
    check_close("crossentropy dlogits vs finite differences of the mean loss", g, fd, n, GRAD_TOL);
    memcpy(g, lg, n * sizeof *g);
    zk_crossentropy(g, tgt, TN, TV, 0.25f);
    for (size_t i = 0; i < n; i++)
        fd[i] *= 0.25;
    check_close("crossentropy dscale = 1/4 scales dlogits", g, fd, n, 1e-5);

    /* uniform logits: p = 1/V, loss log V, dlogits (1/V - onehot)/N */
    for (size_t i = 0; i < n; i++)
        g[i] = 3.7f;
    loss = zk_crossentropy(g, tgt, TN, TV, 1.0f);
    is_dbl(loss, log((double)TV), 1e-6, "crossentropy of uniform logits = log V");
    double *wg = dnew(n);
    for (int r = 0; r < TN; r++)
        for (int j = 0; j < TV; j++)
            wg[r * TV + j] = (1.0 / TV - (j == tgt[r])) / TN;
    check_close("crossentropy of uniform logits: dlogits = (1/V - onehot)/N", g, wg, n, 1e-5);

    /* stability: logits 1000 apart do not overflow */
    {
        float big[2 * TV];
        int t2[2] = {0, 1};
        for (int j = 0; j < 2 * TV; j++)
            big[j] = j % TV == 0 ? 1000.0f : 0.0f;
        loss = zk_crossentropy(big, t2, 2, TV, 1.0f);
        /* row 0: target has the 1000, loss ~ 0; row 1: loss ~ 1000; mean 500 */
        is_dbl(loss, 500.0, 1e-6, "crossentropy with logits 1000 apart: finite, mean 500");
        ok(zk_all_finite(big, 2 * TV) && fabs(big[0]) < 1e-30 && fabs(big[TV + 1] + 0.5) < 1e-6,
           "crossentropy with logits 1000 apart: finite gradients");
    }
    free(lg); free(g); free(c.logits); free(fd); free(wg);
}

static void test_optimizers(void)
{
    /* AdamW, lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
     * t = 1: m = 0.1 g, v = 0.001 g^2, mhat = m / 0.1 = g,
     * vhat = v / 0.001 = g^2, so the step is lr g / (|g| + eps).
     * The hyperparameters reach the kernel as floats: 0.999f is
     * 0.99900001287..., so 1 - beta2 differs from 0.001 by 1.3e-5 relative;
     * the arithmetic below uses the float values (B1, B2, LR, EPS, WD). */
    const double B1 = (double)0.9f, B2 = (double)0.999f, LR = (double)1e-3f, EPS = (double)1e-8f,
                 WD = (double)0.01f;
    float p[2] = {1.0f, -0.5f}, g[2] = {0.1f, -0.2f}, m[2] = {0, 0}, v[2] = {0, 0};
    zk_adamw(p, g, m, v, 2, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1);
    double g0 = (double)0.1f, g1 = (double)-0.2f;
    double want0 = 1.0 * (1 - LR * WD) - LR * g0 / (fabs(g0) + EPS);
    double want1 = -0.5 * (1 - LR * WD) - LR * g1 / (fabs(g1) + EPS);
    is_dbl(p[0], want0, 1e-6, "adamw t=1: p = 1 (1 - 1e-5) - 1e-3 * 0.1 / (0.1 + 1e-8) = 0.9989900001");
    is_dbl(p[1], want1, 1e-6, "adamw t=1: p = -0.5 (1 - 1e-5) + 1e-3 * 0.2 / (0.2 + 1e-8)");
    is_dbl(m[0], (1 - B1) * g0, 1e-6, "adamw t=1: m = (1 - 0.9) g");
    is_dbl(v[1], (1 - B2) * g1 * g1, 1e-6, "adamw t=1: v = (1 - 0.999) g^2");
    /* t = 2 with g = 0.3 for the first scalar:
     * m = 0.9 * 0.01 + 0.1 * 0.3 = 0.039, mhat = 0.039 / (1 - 0.81) = 0.039 / 0.19
     * v = 0.999 * 1e-5 + 0.001 * 0.09 = 0.00009999, vhat = v / (1 - 0.998001) = v / 0.001999 */
    float g2[2] = {0.3f, 0.0f};
    zk_adamw(p, g2, m, v, 2, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 2);
    double m2 = B1 * ((1 - B1) * g0) + (1 - B1) * (double)0.3f;
    double v2 = B2 * ((1 - B2) * g0 * g0) + (1 - B2) * (double)0.3f * (double)0.3f;
    double mhat = m2 / (1 - B1 * B1), vhat = v2 / (1 - B2 * B2);
    double want2 = (double)(float)want0 * (1 - LR * WD) - LR * mhat / (sqrt(vhat) + EPS);
    is_dbl(m[0], m2, 1e-6, "adamw t=2: m = 0.9 * 0.01 + 0.1 * 0.3 = 0.039");
    is_dbl(v[0], v2, 1e-6, "adamw t=2: v = 0.999e-5 + 0.09e-3 = 0.00009999");
    is_dbl(p[0], want2, 1e-6, "adamw t=2: bias-corrected step (mhat 0.039/0.19, vhat v/0.001999)");
    /* g = 0 at t = 2 for the second scalar: m, v decay, decay still applies */
    double m2b = B1 * ((1 - B1) * g1), v2b = B2 * ((1 - B2) * g1 * g1);
    double want3 = (double)(float)want1 * (1 - LR * WD) -
                   LR * (m2b / (1 - B1 * B1)) / (sqrt(v2b / (1 - B2 * B2)) + EPS);
    is_dbl(p[1], want3, 1e-6, "adamw t=2, g = 0: moments still move p");

    /* SGD, lr 0.1, momentum 0.9, weight decay 0.1:
     * step 1: u = 0.5 + 0.1 * 1 = 0.6, p = 1 - 0.06 = 0.94
     *         u = -1 + 0.1 * -2 = -1.2, p = -2 + 0.12 = -1.88
     * step 2 (g 0.2, 0.3): u = 0.9 * 0.6 + 0.2 + 0.094 = 0.834, p = 0.94 - 0.0834 = 0.8566
     *                      u = -1.08 + 0.3 - 0.188 = -0.968, p = -1.88 + 0.0968 = -1.7832 */
    float sp[2] = {1.0f, -2.0f}, sg[2] = {0.5f, -1.0f}, mom[2] = {0, 0};
    zk_sgd(sp, sg, mom, 2, 0.1f, 0.9f, 0.1f);
    is_dbl(sp[0], 0.94, 1e-6, "sgd step 1: p = 0.94");
    is_dbl(sp[1], -1.88, 1e-6, "sgd step 1: p = -1.88");
    is_dbl(mom[0], 0.6, 1e-6, "sgd step 1: momentum buffer = 0.6");
    float sg2[2] = {0.2f, 0.3f};
    zk_sgd(sp, sg2, mom, 2, 0.1f, 0.9f, 0.1f);
    is_dbl(mom[0], 0.834, 1e-6, "sgd step 2: momentum buffer = 0.834");
    is_dbl(sp[0], 0.8566, 1e-6, "sgd step 2: p = 0.8566");
    is_dbl(sp[1], -1.7832, 1e-6, "sgd step 2: p = -1.7832");

    /* a longer vector: every element follows the same scalar rule */
    {
        enum { NL = 37 };
        float lp[NL], lg[NL], lm[NL], lv[NL];
        for (int i = 0; i < NL; i++) {
            lp[i] = 1.0f;
            lg[i] = 0.1f;
            lm[i] = lv[i] = 0.0f;
        }
        zk_adamw(lp, lg, lm, lv, NL, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1);
        int same = 1;
        for (int i = 0; i < NL; i++)
            same &= fabs(lp[i] - want0) <= 1e-6;
        ok(same, "adamw over 37 elements: each as the scalar");
        for (int i = 0; i < NL; i++) {
            lp[i] = 1.0f;
            lg[i] = 0.5f;
            lm[i] = 0.0f;
        }
        zk_sgd(lp, lg, lm, NL, 0.1f, 0.9f, 0.1f);
        same = 1;
        for (int i = 0; i < NL; i++)
            same &= fabs(lp[i] - 0.94) <= 1e-6;
        ok(same, "sgd over 37 elements: each as the scalar");
    }
}

static void test_arith(uint64_t *s)
{
    enum { NA = 1001 };
    float *a = frandn(s, NA, -3, 3), *b = frandn(s, NA, -3, 3), *o = fnew(NA);
    double *w = dnew(NA);
    zk_add(o, a, b, NA);
    for (int i = 0; i < NA; i++)
        w[i] = (double)a[i] + b[i];
    check_close("add", o, w, NA, 1e-7);
    zk_add(a, a, b, NA); /* in place */
    check_close("add in place (out == a)", a, w, NA, 1e-7);
    memcpy(o, a, NA * sizeof *o);
    zk_acc(o, b, NA);
    for (int i = 0; i < NA; i++)
        w[i] += b[i];
    check_close("acc", o, w, NA, 1e-6);
    double ss = 0;
    for (int i = 0; i < NA; i++)
        ss += (double)b[i] * b[i];
    is_dbl(zk_sumsq(b, NA), ss, 1e-12, "sumsq over 1001 values in double");
    float v3[3] = {1.0f, -2.0f, 3.0f};
    is_dbl(zk_sumsq(v3, 3), 14.0, 0, "sumsq(1, -2, 3) = 14");
    zk_scale(v3, 3, -0.5f);
    ok(v3[0] == -0.5f && v3[1] == 1.0f && v3[2] == -1.5f, "scale by -1/2");
    memcpy(o, b, NA * sizeof *o);
    zk_scale(o, NA, 0.25f);
    for (int i = 0; i < NA; i++)
        w[i] = (double)b[i] * 0.25;
    check_close("scale over 1001 values", o, w, NA, 0);

    ok(zk_all_finite(b, NA), "all_finite: random values");
    float f[40];
    for (int i = 0; i < 40; i++)
        f[i] = i == 7 ? FLT_MAX : (i == 8 ? -FLT_MAX : (i == 9 ? FLT_MIN / 4 : 1.0f));
    ok(zk_all_finite(f, 40), "all_finite: +-FLT_MAX and subnormals are finite");
    f[39] = INFINITY;
    ok(!zk_all_finite(f, 40), "all_finite: inf in the tail");
    f[39] = 1.0f;
    f[3] = NAN;
    ok(!zk_all_finite(f, 40), "all_finite: NaN in a chunk");
    f[3] = -INFINITY;
    ok(!zk_all_finite(f, 40), "all_finite: -inf in a chunk");
    ok(zk_all_finite(f, 0), "all_finite: empty");
    free(a); free(b); free(o); free(w);
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static int bf16_is_nan(uint16_t h) { return (h & 0x7F80) == 0x7F80 && (h & 0x7F) != 0; }
static int f16_is_nan(uint16_t h) { return (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0; }

static void test_bf16(uint64_t *s)
{
    /* bf16 keeps the top 16 bits: 1 sign, 8 exponent, 7 mantissa; ulp(1) = 2^-7 */
    is_u64(zk_f32_to_bf16(1.0f), 0x3F80, "bf16(1.0) = 0x3F80");
    is_u64(zk_f32_to_bf16(-2.0f), 0xC000, "bf16(-2.0) = 0xC000");
    /* 1 + 2^-8: exactly half an ulp above 1, tie -> even mantissa 0 */
    is_u64(zk_f32_to_bf16(1.0f + 0x1p-8f), 0x3F80, "bf16(1 + 2^-8) ties to even: 0x3F80");
    /* 1 + 3 * 2^-8 = 1 + 2^-7 + 2^-8: halfway between mantissa 1 (odd) and 2 -> 2 */
    is_u64(zk_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82, "bf16(1 + 3 * 2^-8) ties to even: 0x3F82");
    is_u64(zk_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81, "bf16(1 + 2^-8 + 2^-20) rounds up: 0x3F81");
    is_u64(zk_f32_to_bf16(1.0f + 0x1p-8f - 0x1p-20f), 0x3F80, "bf16(1 + 2^-8 - 2^-20) rounds down");
    is_u64(zk_f32_to_bf16(-0.0f), 0x8000, "bf16(-0) = 0x8000");
    is_u64(zk_f32_to_bf16(INFINITY), 0x7F80, "bf16(inf) = 0x7F80");
    is_u64(zk_f32_to_bf16(-INFINITY), 0xFF80, "bf16(-inf) = 0xFF80");
    /* FLT_MAX = 0x7F7FFFFF: the dropped half is above the tie -> carries into inf */
    is_u64(zk_f32_to_bf16(FLT_MAX), 0x7F80, "bf16(FLT_MAX) overflows to inf");
    ok(bf16_is_nan(zk_f32_to_bf16(NAN)), "bf16(NaN) is NaN");
    ok(bf16_is_nan(zk_f32_to_bf16(bitsf(0x7F800001u))), "bf16(NaN with only a low payload bit) is NaN, not inf");
    ok(bf16_is_nan(zk_f32_to_bf16(bitsf(0xFFFFFFFFu))), "bf16(NaN 0xFFFFFFFF) is NaN, not a carry");
    is_u64(fbits(zk_bf16_to_f32(0x3F80)), fbits(1.0f), "bf16 0x3F80 -> 1.0");
    is_u64(fbits(zk_bf16_to_f32(0x0001)), 0x00010000u, "bf16 0x0001 -> the subnormal 2^-133");
    ok(isnan(zk_bf16_to_f32(0x7FC0)), "bf16 0x7FC0 -> NaN");

    /* every bf16 pattern survives the round trip (NaN stays NaN) */
    int rt = 1;
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t back = zk_f32_to_bf16(zk_bf16_to_f32((uint16_t)h));
        if (bf16_is_nan((uint16_t)h) ? !bf16_is_nan(back) : back != h)
            rt = 0;
    }
    ok(rt, "bf16: all 65536 patterns round-trip");

    /* round_bf16 == to_f32(to_bf16(x)) on specials and random bit patterns */
    enum { NR = 200000 };
    float *x = fnew(NR), *y = fnew(NR);
    float sp[] = {0.0f, -0.0f, 1.0f, 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, FLT_MAX, -FLT_MAX, INFINITY, -INFINITY,
                  NAN, bitsf(0x7F800001u), bitsf(0xFFFFFFFFu), FLT_MIN, bitsf(1u), bitsf(0x807FFFFFu)};
    int nsp = (int)(sizeof sp / sizeof sp[0]);
    for (int i = 0; i < NR; i++)
        x[i] = i < nsp ? sp[i] : bitsf((uint32_t)(rng_next(s) >> 32));
    memcpy(y, x, NR * sizeof *y);
    zk_round_bf16(y, NR);
    int same = 1;
    for (int i = 0; i < NR; i++) {
        float w = zk_bf16_to_f32(zk_f32_to_bf16(x[i]));
        if (isnan(w) ? !isnan(y[i]) : fbits(w) != fbits(y[i]))
            same = 0;
    }
    ok(same, "round_bf16 agrees with the conversions on 200000 values (random bit patterns)");
    free(x); free(y);
}

static void test_f16(uint64_t *s)
{
    /* fp16: 1 sign, 5 exponent (bias 15), 10 mantissa; largest 65504 = 0x7BFF,
     * smallest normal 2^-14 = 0x0400, smallest subnormal 2^-24 = 0x0001 */
    is_u64(zk_f32_to_f16(1.0f), 0x3C00, "f16(1.0) = 0x3C00");
    is_u64(zk_f32_to_f16(-2.0f), 0xC000, "f16(-2.0) = 0xC000");
    is_u64(zk_f32_to_f16(65504.0f), 0x7BFF, "f16(65504) = 0x7BFF");
    /* 65520 is halfway between 65504 (odd mantissa 0x3FF) and 2^16 -> up, inf */
    is_u64(zk_f32_to_f16(65520.0f), 0x7C00, "f16(65520) overflows to inf 0x7C00");
    is_u64(zk_f32_to_f16(nextafterf(65520.0f, 0.0f)), 0x7BFF, "f16(65520 - ulp) = 65504");
    is_u64(zk_f32_to_f16(-1e6f), 0xFC00, "f16(-1e6) = -inf");
    is_u64(zk_f32_to_f16(0x1p-14f), 0x0400, "f16(2^-14) = 0x0400, smallest normal");
    is_u64(zk_f32_to_f16(0x1p-24f), 0x0001, "f16(2^-24) = 0x0001, smallest subnormal");
    is_u64(zk_f32_to_f16(0x1p-25f), 0x0000, "f16(2^-25) ties to even: 0");
    is_u64(zk_f32_to_f16(-0x1p-25f), 0x8000, "f16(-2^-25) ties to even: -0");
    is_u64(zk_f32_to_f16(0x1p-25f * 1.0000001f), 0x0001, "f16(just above 2^-25) = 0x0001");
    is_u64(zk_f32_to_f16(3 * 0x1p-25f), 0x0002, "f16(1.5 * 2^-24) ties to even: 0x0002");
    is_u64(zk_f32_to_f16(5 * 0x1p-25f), 0x0002, "f16(2.5 * 2^-24) ties to even: 0x0002");
    /* 1023.5 * 2^-24: halfway between the largest subnormal 0x03FF and 2^-14 -> 0x0400 */
    is_u64(zk_f32_to_f16(1023.5f * 0x1p-24f), 0x0400, "f16(1023.5 * 2^-24) rounds up into the normals");
    is_u64(zk_f32_to_f16(1.0f + 0x1p-11f), 0x3C00, "f16(1 + 2^-11) ties to even: 0x3C00");
    is_u64(zk_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3C02, "f16(1 + 3 * 2^-11) ties to even: 0x3C02");
    is_u64(zk_f32_to_f16(1e-10f), 0x0000, "f16(1e-10) underflows to 0");
    is_u64(zk_f32_to_f16(-0.0f), 0x8000, "f16(-0) = 0x8000");
    is_u64(zk_f32_to_f16(INFINITY), 0x7C00, "f16(inf) = 0x7C00");
    ok(f16_is_nan(zk_f32_to_f16(NAN)), "f16(NaN) is NaN");
    ok(f16_is_nan(zk_f32_to_f16(bitsf(0x7F800001u))), "f16(NaN with only a low payload bit) is NaN, not inf");
    is_u64(fbits(zk_f16_to_f32(0x0001)), fbits(0x1p-24f), "f16 0x0001 -> 2^-24");
    is_u64(fbits(zk_f16_to_f32(0x83FF)), fbits(-1023 * 0x1p-24f), "f16 0x83FF -> -1023 * 2^-24");
    is_u64(fbits(zk_f16_to_f32(0x7BFF)), fbits(65504.0f), "f16 0x7BFF -> 65504");
    is_u64(fbits(zk_f16_to_f32(0xFC00)), fbits(-INFINITY), "f16 0xFC00 -> -inf");
    is_u64(fbits(zk_f16_to_f32(0x8000)), fbits(-0.0f), "f16 0x8000 -> -0");
    ok(isnan(zk_f16_to_f32(0x7C01)), "f16 0x7C01 -> NaN");

    int rt = 1, bad = -1;
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t back = zk_f32_to_f16(zk_f16_to_f32((uint16_t)h));
        if (f16_is_nan((uint16_t)h) ? !f16_is_nan(back) : back != h) {
            rt = 0;
            if (bad < 0)
                bad = (int)h;
        }
    }
    ok(rt, "f16: all 65536 patterns round-trip exactly (NaN stays NaN)");
    if (!rt)
        diag("first failure at 0x%04X", (unsigned)bad);

    /* f16 -> f32 is monotone over the positive patterns (an independent check of the decoding) */
    int mono = 1;
    for (uint32_t h = 1; h < 0x7C01; h++)
        if (!(zk_f16_to_f32((uint16_t)h) > zk_f16_to_f32((uint16_t)(h - 1))))
            mono = 0;
    ok(mono, "f16 -> f32 strictly increasing from 0x0000 to inf");

    enum { NR = 200000 };
    float *x = fnew(NR), *y = fnew(NR);
    float sp[] = {0.0f, -0.0f, 1.0f, 65504.0f, 65520.0f, nextafterf(65520.0f, 0.0f), 0x1p-24f, 0x1p-25f,
                  3 * 0x1p-25f, 1023.5f * 0x1p-24f, 0x1p-14f, nextafterf(0x1p-14f, 0.0f), INFINITY, -INFINITY, NAN,
                  bitsf(0x7F800001u), bitsf(0xFFFFFFFFu), FLT_MAX, FLT_MIN, bitsf(1u)};
    int nsp = (int)(sizeof sp / sizeof sp[0]);
    for (int i = 0; i < NR; i++) {
        if (i < nsp)
            x[i] = sp[i];
        else if (i % 2) /* magnitudes around the fp16 range: exponents 2^-30 .. 2^17 */
            x[i] = ldexpf(frand(s, 1, 2), (int)(rng_next(s) % 48) - 30) * (i % 4 == 1 ? 1.0f : -1.0f);
        else
            x[i] = bitsf((uint32_t)(rng_next(s) >> 32));
    }
    memcpy(y, x, NR * sizeof *y);
    zk_round_f16(y, NR);
    int same = 1;
    for (int i = 0; i < NR; i++) {
        float w = zk_f16_to_f32(zk_f32_to_f16(x[i]));
        if (isnan(w) ? !isnan(y[i]) : fbits(w) != fbits(y[i])) {
            if (same)
                diag("round_f16(%a) = %a, conversions give %a", (double)x[i], (double)y[i], (double)w);
            same = 0;
        }
    }
    ok(same, "round_f16 agrees with the conversions on 200000 values");
    free(x); free(y);
}

/* the array forms: pack gives the scalar conversion element by element, and
 * pack then unpack gives what round_bf16 / round_f16 give (an independent
 * implementation, branch-free) */
static void test_pack16(uint64_t *s)
{
    enum { NP = 5000 };
    float *x = fnew(NP), *y = fnew(NP), *r = fnew(NP);
    uint16_t *h = calloc(NP, sizeof *h);
    for (int fp16 = 0; fp16 <= 1; fp16++) {
        for (int i = 0; i < NP; i++)
            x[i] = ldexpf(frand(s, -2, 2), (int)(rng_next(s) % 40) - 24);
        zk_pack16(h, x, NP, fp16);
        int same = 1;
        for (int i = 0; i < NP; i++)
            same &= h[i] == (fp16 ? zk_f32_to_f16(x[i]) : zk_f32_to_bf16(x[i]));
        ok(same, "pack16 (%s) is the scalar conversion of every element", fp16 ? "fp16" : "bf16");
        zk_unpack16(y, h, NP, fp16);
        memcpy(r, x, NP * sizeof *r);
        if (fp16)
            zk_round_f16(r, NP);
        else
            zk_round_bf16(r, NP);
        same = 1;
        for (int i = 0; i < NP; i++)
            same &= fbits(y[i]) == fbits(r[i]);
        ok(same, "unpack16(pack16(x)) (%s) equals the in-place rounding", fp16 ? "fp16" : "bf16");
    }
    free(x); free(y); free(r); free(h);
}

/* A vocabulary in two shards (rows [0, 5) and [5, 11): tensor
 * parallelism), the ids outside a shard -1: each shard's lookup (the
 * first adds the positions) sums to wte[tok] + wpe[t], written out by
 * hand; in backward each shard's rows get the per-token sums of dout of
 * its own tokens, and dwpe the column sums of dout (once per shard that
 * passes it). */
static void test_embedding_shards(uint64_t *s)
{
    int tok[TN] = {3, 0, 10, 3, 7, 1, 5, 10, 4, 6};
    const int V0 = 5, sv[2] = {0, V0}, sn[2] = {V0, TV - V0};
    float *wte = frandn(s, (size_t)TV * TC, -1, 1), *wpe = frandn(s, (size_t)TT * TC, -1, 1);
    float *R = frandn(s, (size_t)TN * TC, -1, 1), *out = fnew((size_t)TN * TC), *part = fnew((size_t)TN * TC);
    double *want = dnew((size_t)TN * TC), *wd = dnew((size_t)TV * TC), *wp = dnew((size_t)TT * TC);
    float *dwte = fnew((size_t)TV * TC), *dwpe = fnew((size_t)TT * TC);
    for (int r = 0; r < TN; r++)
        for (int i = 0; i < TC; i++) {
            want[(size_t)r * TC + i] = (double)wte[(size_t)tok[r] * TC + i] + wpe[(size_t)(r % TT) * TC + i];
            wd[(size_t)tok[r] * TC + i] += R[(size_t)r * TC + i];
            wp[(size_t)(r % TT) * TC + i] += R[(size_t)r * TC + i];
        }
    for (int k = 0; k < 2; k++) {
        int lt[TN];
        for (int r = 0; r < TN; r++)
            lt[r] = tok[r] >= sv[k] && tok[r] < sv[k] + sn[k] ? tok[r] - sv[k] : -1;
        fill_nan(part, (size_t)TN * TC);
        zk_embed_fwd(part, lt, wte + (size_t)sv[k] * TC, k == 0 ? wpe : NULL, TB, TT, TC);
        for (size_t i = 0; i < (size_t)TN * TC; i++)
            out[i] = k == 0 ? part[i] : out[i] + part[i];
        zk_embed_bwd(dwte + (size_t)sv[k] * TC, dwpe, R, lt, TB, TT, TC);
    }
    check_close("embed_fwd over two vocabulary shards (ids outside -1): their sum is wte[tok] + wpe", out, want,
                (size_t)TN * TC, FWD_TOL);
    check_close("embed_bwd over two vocabulary shards: each row the per-token sum of dout", dwte, wd,
                (size_t)TV * TC, 1e-6);
    for (size_t i = 0; i < (size_t)TT * TC; i++)
        wp[i] *= 2.0;
    check_close("embed_bwd over two shards: dwpe the column sums of dout, once per shard", dwpe, wp,
                (size_t)TT * TC, 1e-6);
    free(wte); free(wpe); free(R); free(out); free(part); free(want); free(wd); free(wp); free(dwte); free(dwpe);
}

/* The cross-entropy over two vocabulary shards of 4 and 7 columns, the
 * reductions between the steps done here by hand (the maximum, the sums):
 * the loss of the double reference, dlogits of its finite differences,
 * dscale scaling them; and logits 1000 apart across the shards stay
 * finite. */
static void test_xent_shards(uint64_t *s)
{
    const int V0 = 4, sv[2] = {0, V0}, sn[2] = {V0, TV - V0};
    int tgt[TN] = {0, 10, 3, 4, 7, 1, 9, 2, 5, 10};
    size_t n = (size_t)TN * TV;
    float *lg = frandn(s, n, -3, 3), *g = fnew(n);
    struct ce_ctx c = {to_double(lg, n), tgt};
    double want = ref_crossentropy(c.logits, tgt, TN, TV), *fd = dnew(n);
    fd_grad(c.logits, n, ce_loss, &c, fd);
    for (int pass = 0; pass < 3; pass++) {
        float dscale = pass == 1 ? 0.25f : 1.0f;
        float *sh[2], mx[2][TN], se[2][TN], tl[2][TN], M[TN], S[TN];
        int lt[2][TN];
        if (pass == 2)   /* logits 1000 apart, the largest in the second shard */
            for (size_t i = 0; i < n; i++)
                lg[i] = i % TV == 6 ? 1000.0f : 0.0f;
        for (int k = 0; k < 2; k++) {
            sh[k] = fnew((size_t)TN * (size_t)sn[k]);
            for (int r = 0; r < TN; r++) {
                memcpy(sh[k] + (size_t)r * sn[k], lg + (size_t)r * TV + sv[k], (size_t)sn[k] * sizeof(float));
                lt[k][r] = tgt[r] >= sv[k] && tgt[r] < sv[k] + sn[k] ? tgt[r] - sv[k] : -1;
            }
            zk_xent_max(sh[k], TN, sn[k], mx[k]);
        }
        for (int r = 0; r < TN; r++)
            M[r] = mx[0][r] > mx[1][r] ? mx[0][r] : mx[1][r];
        for (int k = 0; k < 2; k++)
            zk_xent_sums(sh[k], lt[k], TN, sn[k], M, se[k], tl[k]);
        double loss = 0.0;
        for (int r = 0; r < TN; r++) {
            S[r] = se[0][r] + se[1][r];
            loss += log((double)S[r]) + M[r] - (double)(tl[0][r] + tl[1][r]);
        }
        loss /= TN;
        for (int k = 0; k < 2; k++) {
            zk_xent_grad(sh[k], lt[k], TN, sn[k], S, dscale);
            for (int r = 0; r < TN; r++)
                memcpy(g + (size_t)r * TV + sv[k], sh[k] + (size_t)r * sn[k], (size_t)sn[k] * sizeof(float));
            free(sh[k]);
        }
        if (pass == 0) {
            is_dbl(loss, want, 1e-6, "crossentropy over two vocabulary shards: the double reference's mean loss");
            check_close("crossentropy over two shards: dlogits vs finite differences", g, fd, n, GRAD_TOL);
        } else if (pass == 1) {
            for (size_t i = 0; i < n; i++)
                fd[i] *= 0.25;
            check_close("crossentropy over two shards: dscale = 1/4 scales dlogits", g, fd, n, 1e-5);
        } else {
            /* a target on the 1000 (column 6) loses ~0, the rest ~1000 */
            double w = 0.0;
            for (int r = 0; r < TN; r++)
                w += tgt[r] == 6 ? 0.0 : 1000.0;
            is_dbl(loss, w / TN, 1e-6, "crossentropy over two shards, logits 1000 apart: finite, the mean by hand");
            ok(zk_all_finite(g, n), "crossentropy over two shards, logits 1000 apart: finite gradients");
        }
    }
    free(lg); free(g); free(c.logits); free(fd);
}

/* Flash-style attention (zk_flash_fwd/bwd): the output against the double
 * reference, the log-sum-exp against ln sum_j e^(scale q.k_j) by hand, the
 * gradient against finite differences (all entries at small T, sampled
 * where T spans several 64-row tiles) and against the materialising
 * kernel's (a different algorithm: stored probabilities), accumulation and
 * causality; T = 64 fills one tile, 150 ends on a partial one. */
static void flash_case(uint64_t *s, int B, int T, int C, int NH, int KV)
{
    int hs = C / NH;
    size_t ld = (size_t)C + 2 * (size_t)KV * hs;
    size_t nq = (size_t)B * T * ld, no = (size_t)B * T * C, nl = (size_t)B * NH * T, na = (size_t)B * NH * T * T;
    char nm[160];
#define FA_NAME(what) (snprintf(nm, sizeof nm, "flash %s, B=%d T=%d C=%d NH=%d KV=%d", what, B, T, C, NH, KV), nm)
    float *qkv = frandn(s, nq, -2.0f, 2.0f), *R = frandn(s, no, -1, 1);
    float *out = fnew(no), *lse = fnew(nl);
    fill_nan(out, no);
    fill_nan(lse, nl);
    zk_flash_fwd(out, lse, qkv, B, T, C, NH, KV);
    struct att_ctx c = {to_double(qkv, nq), to_double(R, no), dnew(no), B, T, C, NH, KV};
    ref_attention(c.out, NULL, c.qkv, B, T, C, NH, KV);
    check_close(FA_NAME("fwd out vs double reference"), out, c.out, no, FWD_TOL);
    /* lse by hand: ln of the sum over seen keys of e^(q.k / sqrt(hs)) */
    double *wl = dnew(nl), sc = 1.0 / sqrt((double)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *q = c.qkv + ((size_t)b * T + t) * ld + (size_t)h * hs;
                double sum = 0;
                for (int j = 0; j <= t; j++)
                    sum += exp(sc * dot_d(q, c.qkv + ((size_t)b * T + j) * ld + C + (size_t)(h / (NH / KV)) * hs,
                                          (size_t)hs));
                wl[((size_t)b * NH + h) * T + t] = log(sum);
            }
    check_close(FA_NAME("fwd lse vs ln sum e^(scale q.k) by hand"), lse, wl, nl, FWD_TOL);

    float *dqkv = fnew(nq), *once = fnew(nq), *naive = fnew(nq), *att = fnew(na), *scr = fnew((size_t)T * T);
    zk_flash_bwd(dqkv, R, out, lse, qkv, B, T, C, NH, KV);
    zk_attention_fwd(out, att, qkv, B, T, C, NH, KV);   /* out again, from the other kernel */
    zk_attention_bwd(naive, scr, R, att, qkv, B, T, C, NH, KV);
    double *wn = to_double(naive, nq);
    check_close(FA_NAME("bwd dqkv vs the materialising kernel's"), dqkv, wn, nq, 1e-5);
    free(wn);
    if (T <= 8) {
        double *fq = dnew(nq);
        fd_grad(c.qkv, nq, att_loss, &c, fq);
        check_close(FA_NAME("bwd dqkv vs finite differences"), dqkv, fq, nq, GRAD_TOL);
        free(fq);
    } else {
        enum { NS = 30 };
        float got[NS];
        double fd[NS];
        for (int k = 0; k < NS; k++) {
            size_t pos = k < 2 ? (size_t)(k ? T - 1 : 0) : (size_t)(rng_next(s) % (uint64_t)T);
            size_t b = (size_t)k % (size_t)B;   /* every sequence of the batch */
            size_t col = (size_t)(rng_next(s) % ld), i = (b * (size_t)T + pos) * ld + col;
            fd_grad(c.qkv + i, 1, att_loss, &c, &fd[k]);
            got[k] = dqkv[i];
        }
        check_close(FA_NAME("bwd dqkv vs finite differences (30 samples)"), got, fd, NS, GRAD_TOL);
    }
    memcpy(once, dqkv, nq * sizeof *once);
    zk_flash_fwd(out, lse, qkv, B, T, C, NH, KV);
    zk_flash_bwd(dqkv, R, out, lse, qkv, B, T, C, NH, KV);
    check_doubled(FA_NAME("bwd dqkv"), dqkv, once, nq);
    /* causal: rows <= t unchanged when later positions change */
    {
        int t = T / 2;
        float *o2 = fnew(no), *q2 = fnew(nq);
        memcpy(q2, qkv, nq * sizeof *q2);
        for (int b = 0; b < B; b++)
            for (int p = t + 1; p < T; p++)
                for (size_t i = 0; i < ld; i++)
                    q2[((size_t)b * T + p) * ld + i] += frand(s, 5, 50);
        zk_flash_fwd(out, lse, qkv, B, T, C, NH, KV);
        zk_flash_fwd(o2, lse, q2, B, T, C, NH, KV);
        int same = 1, moved = 0;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < T; p++)
                for (int i = 0; i < C; i++) {
                    size_t k = ((size_t)b * T + p) * C + i;
                    if (p <= t && memcmp(&out[k], &o2[k], sizeof(float)) != 0)
                        same = 0;
                    if (p > t && out[k] != o2[k])
                        moved = 1;
                }
        ok(same && moved, "%s", FA_NAME("fwd is causal: rows <= T/2 unchanged when later positions change"));
        free(o2); free(q2);
    }
#undef FA_NAME
    free(qkv); free(R); free(out); free(lse); free(c.qkv); free(c.R); free(c.out); free(wl); free(dqkv); free(once);
    free(naive); free(att); free(scr);
}

/* Flash attention of a part of the sequence (zk_flash_fwd_part/bwd_part,
 * context parallelism), against the whole sequence's kernel (zk_flash_fwd/
 * bwd, itself held above to the double reference): the T tokens cut into
 * P parts at positions q0 = p T / P, each part's queries against the keys
 * and values of the whole sequence (Tk = T, copied out of qkv into kv's
 * layout, as the engine hands them: keys past the part's last query
 * there) give the whole output's and log-sum-exp's rows of the part; the
 * parts' query gradients are the whole gradient's Q columns, and the sum
 * over the parts of what each adds to the keys' and values' gradients
 * (dkv starting from random values: accumulated) their K and V columns,
 * the rows past a part's last query left bit for bit as they were.  Parts
 * that start inside a 64-row tile (T/P not a multiple of 64) take the key
 * tiles that start past some of their rows.  NaN anywhere fails. */
static void flash_part_case(uint64_t *s, int B, int T, int P, int C, int NH, int KV)
{
    int hs = C / NH, Tl = T / P;
    size_t kvc = (size_t)KV * hs, ld = (size_t)C + 2 * kvc, lk = 2 * kvc, nk = (size_t)B * T * lk;
    size_t nq = (size_t)B * T * ld, no = (size_t)B * T * C, nl = (size_t)B * NH * T;
    char nm[160];
#define FP_NAME(what) (snprintf(nm, sizeof nm, "flash part %s, B=%d T=%d parts=%d C=%d NH=%d KV=%d", what, B, T, P, \
                                C, NH, KV), nm)
#define WORST(w, g, x) ((w) = !((g) == (g)) ? INFINITY : fmax((w), fabs((g) - (x))))
    float *qkv = frandn(s, nq, -2.0f, 2.0f), *R = frandn(s, no, -1, 1);
    float *out = fnew(no), *lse = fnew(nl), *dqkv = fnew(nq);
    zk_flash_fwd(out, lse, qkv, B, T, C, NH, KV);
    zk_flash_bwd(dqkv, R, out, lse, qkv, B, T, C, NH, KV);
    float *kv = fnew(nk), *dkv = fnew(nk), *dk0 = frandn(s, nk, -1, 1);
    double *dsum = dnew(nk);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            memcpy(kv + ((size_t)b * T + t) * lk, qkv + ((size_t)b * T + t) * ld + C, lk * sizeof *kv);
    float *pq = fnew((size_t)B * Tl * ld), *po = fnew((size_t)B * Tl * C), *pl = fnew((size_t)B * NH * Tl);
    float *pr = fnew((size_t)B * Tl * C), *pd = fnew((size_t)B * Tl * ld);
    double wo = 0, wl = 0, wq = 0, wk = 0, mo = 0, mq = 0, mk = 0;
    int kept = 1;
    for (int p = 0; p < P; p++) {
        int q0 = p * Tl;
        for (int b = 0; b < B; b++) {
            memcpy(pq + (size_t)b * Tl * ld, qkv + ((size_t)b * T + q0) * ld, (size_t)Tl * ld * sizeof *pq);
            memcpy(pr + (size_t)b * Tl * C, R + ((size_t)b * T + q0) * C, (size_t)Tl * C * sizeof *pr);
        }
        fill_nan(po, (size_t)B * Tl * C);
        fill_nan(pl, (size_t)B * NH * Tl);
        zk_flash_fwd_part(po, pl, pq, kv, B, Tl, q0, T, C, NH, KV);
        memset(pd, 0, (size_t)B * Tl * ld * sizeof *pd);
        memcpy(dkv, dk0, nk * sizeof *dkv);
        zk_flash_bwd_part(pd, dkv, pr, po, pl, pq, kv, B, Tl, q0, T, C, NH, KV);
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < Tl; t++) {
                for (int i = 0; i < C; i++) {
                    double w = out[((size_t)b * T + q0 + t) * C + i], g = po[((size_t)b * Tl + t) * C + i];
                    WORST(wo, g, w), mo = fmax(mo, fabs(w));
                }
                for (size_t i = 0; i < ld; i++) {
                    double w = i < (size_t)C ? dqkv[((size_t)b * T + q0 + t) * ld + i] : 0.0;
                    double g = pd[((size_t)b * Tl + t) * ld + i];
                    WORST(wq, g, w), mq = fmax(mq, fabs(w));
                }
                for (int h = 0; h < NH; h++) {
                    double g = pl[((size_t)b * NH + h) * Tl + t];
                    WORST(wl, g, lse[((size_t)b * NH + h) * T + q0 + t]);
                }
            }
            for (int t = 0; t < T; t++) {
                size_t r0 = ((size_t)b * T + t) * lk;
                if (t >= q0 + Tl)   /* no query of the part sees these keys */
                    kept &= memcmp(dkv + r0, dk0 + r0, lk * sizeof *dkv) == 0;
                for (size_t i = 0; i < lk; i++)
                    dsum[r0 + i] += (double)dkv[r0 + i] - (double)dk0[r0 + i];
            }
        }
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (size_t i = 0; i < lk; i++) {
                double w = dqkv[((size_t)b * T + t) * ld + C + i], g = dsum[((size_t)b * T + t) * lk + i];
                WORST(wk, g, w), mk = fmax(mk, fabs(w));
            }
    ok(wo <= 1e-5 * fmax(mo, 1), "%s (worst %.1e)", FP_NAME("fwd out = the whole sequence's rows"), wo);
    ok(wl <= 1e-5, "%s (worst %.1e)", FP_NAME("fwd lse = the whole sequence's rows"), wl);
    ok(wq <= 1e-5 * fmax(mq, 1), "%s (worst %.1e)", FP_NAME("bwd: the queries' gradients = the whole's, K/V columns "
                                                          "untouched"), wq);
    ok(wk <= 1e-5 * fmax(mk, 1), "%s (worst %.1e)", FP_NAME("bwd: what the parts add to the K/V gradients sums to the "
                                                          "whole's"), wk);
    ok(kept, "%s", FP_NAME("bwd: the keys and values past a part's last query are left as they were"));
#undef WORST
#undef FP_NAME
    free(qkv); free(R); free(out); free(lse); free(dqkv); free(kv); free(dkv); free(dk0); free(dsum);
    free(pq); free(po); free(pl); free(pr); free(pd);
}

static void test_flash(uint64_t *s)
{
    flash_part_case(s, 2, 8, 2, 16, 4, 2);
    flash_part_case(s, 2, 96, 2, 8, 2, 1);     /* parts of 48 rows: key tiles past a part's first rows */
    flash_part_case(s, 2, 256, 4, 16, 4, 4);   /* parts of 64: whole tiles */
    flash_part_case(s, 3, 150, 3, 8, 2, 2);    /* parts of 50 */
    flash_case(s, TB, TT, TC, TNH, TNH);
    flash_case(s, 2, 6, 16, 4, 1);
    flash_case(s, 1, 64, 8, 2, 2);
    flash_case(s, 1, 150, 16, 4, 2);
    flash_case(s, 2, 130, 8, 2, 1);
}

int main(void)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    tap_plan(0);
    test_embedding(&seed);
    test_embedding_nopos(&seed);
    test_embedding_shards(&seed);
    test_layernorm(&seed);
    test_rmsnorm(&seed);
    test_matmul(&seed);
    test_attention(&seed);
    test_attention_long(&seed);
    test_attention_kv0(&seed);
    test_attention_gqa(&seed, 2);
    test_attention_gqa(&seed, 1);
    test_flash(&seed);
    test_gelu(&seed);
    test_swiglu(&seed);
    test_rope(&seed);
    test_crossentropy(&seed);
    test_xent_shards(&seed);
    test_optimizers();
    test_arith(&seed);
    test_bf16(&seed);
    test_f16(&seed);
    test_pack16(&seed);
    return tap_exit();
}
