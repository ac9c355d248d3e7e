/* device_cpu.c - the CPU row of the device table: host memory (the device
 * and host pools are two accounting pools of the same RAM), OpenBLAS and
 * the kernels of kernels.c, wall-clock marks.
 *
 * Conversions between storage types go in chunks through local arrays, so
 * that a buffer may be rewritten in place from one type to the other
 * (narrow, widen) and a 16-bit gradient read by the optimizer without a
 * full fp32 copy. */
#include "device.h"
#include "kernels.h"

#include <cblas.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CH = 1024 };

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *c_mem_alloc(ze_dev *d, ze_pool pool, size_t bytes)
{
    (void)d, (void)pool;
    void *p = NULL;
    return posix_memalign(&p, 64, bytes) == 0 ? p : NULL;
}

static void c_mem_free(ze_dev *d, ze_pool pool, void *p)
{
    (void)d, (void)pool;
    free(p);
}

static void c_copy(ze_dev *d, void *dst, ze_pool dp, const void *src, ze_pool sp, size_t bytes)
{
    (void)d, (void)dp, (void)sp;
    memcpy(dst, src, bytes);
}

static void c_zero(ze_dev *d, void *p, ze_pool pool, size_t bytes)
{
    (void)d, (void)pool;
    memset(p, 0, bytes);
}

/* dst (fp32) = src (dt) */
static void load(float *dst, const void *src, ze_dt dt, size_t n)
{
    if (dt == ZE_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    uint16_t h[CH];
    for (size_t i = 0; i < n; i += CH) {
        size_t k = n - i < CH ? n - i : CH;
        memcpy(h, ze_at(src, dt, i), k * 2);
        zk_unpack16(dst + i, h, k, dt == ZE_F16);
    }
}

/* dst (dt) = src (fp32), rounded to nearest even */
static void store(void *dst, const float *src, ze_dt dt, size_t n)
{
    if (dt == ZE_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    uint16_t h[CH];
    for (size_t i = 0; i < n; i += CH) {
        size_t k = n - i < CH ? n - i : CH;
        zk_pack16(h, src + i, k, dt == ZE_F16);
        memcpy(ze_at(dst, dt, i), h, k * 2);
    }
}

static void c_convert(ze_dev *d, void *dst, ze_pool dp, ze_dt ddt, const void *src, ze_pool sp, ze_dt sdt,
                      size_t n, int acc)
{
    (void)d, (void)dp, (void)sp;
    if (!acc) {
        if (ddt == ZE_F32)
            load(dst, src, sdt, n);
        else if (sdt == ZE_F32)
            store(dst, src, ddt, n);
        else if (sdt == ddt)
            memcpy(dst, src, n * ze_dt_size(ddt));
        else {
            float f[CH];
            for (size_t i = 0; i < n; i += CH) {
                size_t k = n - i < CH ? n - i : CH;
                load(f, ze_at(src, sdt, i), sdt, k);
                store(ze_at(dst, ddt, i), f, ddt, k);
            }
        }
        return;
    }
    if (ddt == ZE_F32 && sdt == ZE_F32) {
        zk_acc(dst, src, n);
        return;
    }
    float a[CH], b[CH];
    for (size_t i = 0; i < n; i += CH) {
        size_t k = n - i < CH ? n - i : CH;
        load(a, ze_at(dst, ddt, i), ddt, k);
        load(b, ze_at(src, sdt, i), sdt, k);
        zk_acc(a, b, k);
        store(ze_at(dst, ddt, i), a, ddt, k);
    }
}

static void c_narrow(ze_dev *d, void *buf, ze_dt dt, size_t n)
{
    (void)d;
    float f[CH];
    for (size_t i = 0; dt != ZE_F32 && i < n; i += CH) {   /* writes stay below what is still to read */
        size_t k = n - i < CH ? n - i : CH;
        memcpy(f, (float *)buf + i, k * sizeof(float));
        store(ze_at(buf, dt, i), f, dt, k);
    }
}

static void c_widen(ze_dev *d, void *buf, ze_dt dt, size_t n)
{
    (void)d;
    uint16_t h[CH];
    for (size_t e = n; dt != ZE_F32 && e > 0;) {   /* from the end: writes stay above what is still to read */
        size_t k = e < CH ? e : CH, i = e - k;
        memcpy(h, ze_at(buf, dt, i), k * 2);
        zk_unpack16((float *)buf + i, h, k, dt == ZE_F16);
        e = i;
    }
}

static void c_init(ze_dev *d, void *dst, ze_pool pool, ze_dt dt, const ze_init_desc *desc, size_t first, size_t n)
{
    (void)d, (void)pool;
    float f[CH];
    for (size_t i = 0; i < n; i += CH) {
        size_t len = n - i < CH ? n - i : CH;
        for (size_t j = 0; j < len; j++)
            f[j] = ze_init_value(desc, first + i + j);
        store(ze_at(dst, dt, i), f, dt, len);
    }
}

static void c_embed_fwd(ze_dev *d, float *out, const int *tok, const float *wte, const float *wpe, int B, int T,
                        int C)
{
    (void)d;
    zk_embed_fwd(out, tok, wte, wpe, B, T, C);
}

static void c_embed_bwd(ze_dev *d, float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T, int C)
{
    (void)d;
    zk_embed_bwd(dwte, dwpe, dout, tok, B, T, C);
}

static void c_layernorm_fwd(ze_dev *d, float *out, float *mean, float *rstd, const float *inp, const float *w,
                            const float *b, int N, int C)
{
    (void)d;
    zk_layernorm_fwd(out, mean, rstd, inp, w, b, N, C);
}

static void c_layernorm_bwd(ze_dev *d, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                            const float *w, const float *mean, const float *rstd, int N, int C)
{
    (void)d;
    zk_layernorm_bwd(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
}

/* The GEMMs' arithmetic (d->math, device.h): with bf16 or fp16 math every
 * operand of the linear layers' products is rounded to that type (nearest
 * even, half.h's bits) before an exact sgemm, which accumulates the exact
 * products in fp32: what a tensor core computes from fp32 operands
 * (cuBLAS's CUBLAS_COMPUTE_32F_FAST_16BF / _16F on the CUDA row).  The
 * rounded copies are the row's own scratch (d->impl), kept between calls
 * and not tracked: the CUDA row's conversion happens inside cuBLAS. */
typedef struct c_row {
    float *buf;
    size_t cap;   /* floats */
} c_row;

/* n floats of the row's scratch (its start); the process ends when the
 * host has no memory for it, as a failed kernel would: a void operation
 * has no way to report it.  The scratch grows to the largest product's
 * operands (the head's backward: about the logits again) and is neither
 * tracked nor capped: 16-bit math on the CPU is the GPU's twin for tests,
 * which zplan exec never asks of the CPU.  Only the CPU row's own devices
 * have it (the CUDA row lends its d to the CPU's optimizer kernels, whose
 * impl is the CUDA row's). */
static float *scratch(ze_dev *d, size_t n)
{
    if (d->ops != &ze_dev_cpu_ops) {
        fprintf(stderr, "zplan-engine: the CPU row's GEMM scratch asked of the %s row\n", d->ops->name);
        abort();
    }
    c_row *r = d->impl;
    if (!r)
        r = d->impl = calloc(1, sizeof *r);
    if (!r || n > r->cap) {
        float *b = r ? realloc(r->buf, n * sizeof(float)) : NULL;
        if (!b) {
            fprintf(stderr, "zplan-engine: no host memory for the CPU row's rounded GEMM operands (%zu floats)\n", n);
            abort();
        }
        r->buf = b, r->cap = n;
    }
    return r->buf;
}

/* y = x (n floats) rounded to the row's math */
static const float *rounded(ze_dev *d, float *y, const float *x, size_t n)
{
    memcpy(y, x, n * sizeof *y);
    if (d->math == ZE_BF16)
        zk_round_bf16(y, n);
    else
        zk_round_f16(y, n);
    return y;
}

static void c_matmul_fwd(ze_dev *d, float *out, const float *inp, const float *w, const float *bias, int N, int IC,
                         int OC)
{
    if (d->math != ZE_F32 && N > 0 && IC > 0 && OC > 0) {
        size_t ni = (size_t)N * (size_t)IC, nw = (size_t)OC * (size_t)IC;
        float *b = scratch(d, ni + nw);
        zk_matmul_fwd(out, rounded(d, b, inp, ni), rounded(d, b + ni, w, nw), bias, N, IC, OC);
        return;
    }
    zk_matmul_fwd(out, inp, w, bias, N, IC, OC);
}

/* set: dinp written, not added to (matmul_bwd_set) */
static void c_matmul_bwd_x(ze_dev *d, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                           const float *w, int N, int IC, int OC, int set)
{
    if (d->math != ZE_F32 && N > 0 && IC > 0 && OC > 0) {
        size_t no = (size_t)N * (size_t)OC, ni = (size_t)N * (size_t)IC;
        size_t nw = dinp ? (size_t)OC * (size_t)IC : 0;   /* w is read for dinp only */
        float *b = scratch(d, no + ni + nw);
        zk_matmul_bwd_x(dinp, dw, NULL, rounded(d, b, dout, no), rounded(d, b + no, inp, ni),
                        dinp ? rounded(d, b + no + ni, w, nw) : w, N, IC, OC, set);
        /* the bias's gradient is a sum, not a product: from dout as it is */
        if (dbias)
            zk_matmul_bwd(NULL, NULL, dbias, dout, NULL, NULL, N, 0, OC);
        return;
    }
    zk_matmul_bwd_x(dinp, dw, dbias, dout, inp, w, N, IC, OC, set);
}

static void c_matmul_bwd(ze_dev *d, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                         const float *w, int N, int IC, int OC)
{
    c_matmul_bwd_x(d, dinp, dw, dbias, dout, inp, w, N, IC, OC, 0);
}

static void c_matmul_bwd_set(ze_dev *d, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                             const float *w, int N, int IC, int OC)
{
    c_matmul_bwd_x(d, dinp, dw, dbias, dout, inp, w, N, IC, OC, 1);
}

/* 16-bit inputs widened to fp32 (exact), then sgemm: fp32 accumulation;
 * fp32 inputs under bf16 or fp16 math rounded first, as matmul's. */
static void c_gemm(ze_dev *d, char ta, char tb, int M, int N, int K, const void *A, const void *B, ze_dt dt,
                   float beta, float *C)
{
    size_t na = (size_t)M * (size_t)K, nb = (size_t)K * (size_t)N;
    float *a = (float *)(uintptr_t)A, *b = (float *)(uintptr_t)B;
    if (dt != ZE_F32) {
        a = malloc(na * sizeof(float));
        b = malloc(nb * sizeof(float));
        if (!a || !b) {
            free(a), free(b);
            abort();   /* a test utility's few bytes: no memory is a bug to see */
        }
        load(a, A, dt, na);
        load(b, B, dt, nb);
    } else if (d->math != ZE_F32 && na > 0 && nb > 0) {
        float *t = scratch(d, na + nb);
        a = (float *)(uintptr_t)rounded(d, t, A, na);
        b = (float *)(uintptr_t)rounded(d, t + na, B, nb);
    }
    cblas_sgemm(CblasRowMajor, ta == 'T' ? CblasTrans : CblasNoTrans, tb == 'T' ? CblasTrans : CblasNoTrans, M, N,
                K, 1.0f, a, ta == 'T' ? M : K, b, tb == 'T' ? K : N, beta, C, N);
    if (dt != ZE_F32)
        free(a), free(b);
}

/* (under 16-bit math the kernels round their operands into the row's
 * scratch) */
static float *att_scratch(ze_dev *d, int T, int C, int NH)
{
    return d->math == ZE_F32 ? NULL : scratch(d, zk_attention_round_floats(T, C, NH));
}

static void c_attention_fwd(ze_dev *d, float *out, float *att, const float *qkv, int B, int T, int C, int NH,
                            int KV)
{
    zk_attention_fwd_m(out, att, qkv, B, T, C, NH, KV, (int)d->math, att_scratch(d, T, C, NH));
}

/* one head's dS at a time: the first T*T floats of scratch */
static void c_attention_bwd(ze_dev *d, float *dqkv, float *scratch_, size_t scratch_n, const float *dout,
                            const float *att, const float *qkv, int B, int T, int C, int NH, int KV)
{
    if (T > 0 && scratch_n < (size_t)T * (size_t)T) {   /* as the CUDA row: a void operation cannot report it */
        fprintf(stderr, "zplan-engine: attention_bwd: a scratch of %zu floats, under one head's T x T\n", scratch_n);
        abort();
    }
    zk_attention_bwd_m(dqkv, scratch_, dout, att, qkv, B, T, C, NH, KV, (int)d->math, att_scratch(d, T, C, NH));
}

/* (the same for flash attention's tiles) */
static float *fa_scratch(ze_dev *d, int C, int NH)
{
    return d->math == ZE_F32 || !zk_flash_round_heads(C, NH) ? NULL : scratch(d, zk_flash_round_floats(C, NH));
}

/* flash attention's time and FLOPs in this process (attn_stats) */
static double c_attn_s, c_attn_flops;

static void c_attn_add(double t0, int B, int T, int q0, int C, int NH, int bwd)
{
    c_attn_s += wall_s() - t0;
    c_attn_flops += ze_flash_flops(B, T, q0, C, NH, bwd);
}

static void c_flash_fwd(ze_dev *d, float *out, float *lse, const float *qkv, int B, int T, int C, int NH, int KV)
{
    double t0 = wall_s();
    zk_flash_fwd_m(out, lse, qkv, B, T, C, NH, KV, (int)d->math, fa_scratch(d, C, NH));
    c_attn_add(t0, B, T, 0, C, NH, 0);
}

static void c_flash_bwd(ze_dev *d, float *dqkv, const float *dout, const float *out, const float *lse,
                        const float *qkv, int B, int T, int C, int NH, int KV)
{
    double t0 = wall_s();
    zk_flash_bwd_m(dqkv, dout, out, lse, qkv, B, T, C, NH, KV, (int)d->math, fa_scratch(d, C, NH));
    c_attn_add(t0, B, T, 0, C, NH, 1);
}

static void c_flash_fwd_part(ze_dev *d, float *out, float *lse, const float *qkv, const float *kv, int B, int T,
                             int q0, int Tk, int C, int NH, int KV)
{
    double t0 = wall_s();
    zk_flash_fwd_part_m(out, lse, qkv, kv, B, T, q0, Tk, C, NH, KV, (int)d->math, fa_scratch(d, C, NH));
    c_attn_add(t0, B, T, q0, C, NH, 0);
}

static void c_flash_bwd_part(ze_dev *d, float *dqkv, float *dkv, const float *dout, const float *out,
                             const float *lse, const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C,
                             int NH, int KV)
{
    double t0 = wall_s();
    zk_flash_bwd_part_m(dqkv, dkv, dout, out, lse, qkv, kv, B, T, q0, Tk, C, NH, KV, (int)d->math,
                        fa_scratch(d, C, NH));
    c_attn_add(t0, B, T, q0, C, NH, 1);
}

static void c_rmsnorm_fwd(ze_dev *d, float *out, float *rstd, const float *inp, const float *w, int N, int C)
{
    (void)d;
    zk_rmsnorm_fwd(out, rstd, inp, w, N, C);
}

static void c_rmsnorm_bwd(ze_dev *d, float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                          const float *rstd, int N, int C)
{
    (void)d;
    zk_rmsnorm_bwd(dinp, dw, dout, inp, w, rstd, N, C);
}

static void c_rope_fwd(ze_dev *d, float *qkv, int B, int T, int C, int NH, int KV, float theta, int t0)
{
    (void)d;
    zk_rope_fwd(qkv, B, T, C, NH, KV, theta, t0);
}

static void c_rope_bwd(ze_dev *d, float *dqkv, int B, int T, int C, int NH, int KV, float theta, int t0)
{
    (void)d;
    zk_rope_bwd(dqkv, B, T, C, NH, KV, theta, t0);
}

static void c_swiglu_fwd(ze_dev *d, float *out, const float *inp, int N, int F)
{
    (void)d;
    zk_swiglu_fwd(out, inp, N, F);
}

static void c_swiglu_bwd(ze_dev *d, float *dinp, const float *inp, const float *dout, int N, int F)
{
    (void)d;
    zk_swiglu_bwd(dinp, inp, dout, N, F);
}

static void c_swiglu_bwd_set(ze_dev *d, float *dinp, const float *inp, const float *dout, int N, int F)
{
    (void)d;
    zk_swiglu_bwd_x(dinp, inp, dout, N, F, 1);
}

static void c_gelu_fwd(ze_dev *d, float *out, const float *inp, size_t n)
{
    (void)d;
    zk_gelu_fwd(out, inp, n);
}

static void c_gelu_bwd(ze_dev *d, float *dinp, const float *inp, const float *dout, size_t n)
{
    (void)d;
    zk_gelu_bwd(dinp, inp, dout, n);
}

static void c_gelu_bwd_set(ze_dev *d, float *dinp, const float *inp, const float *dout, size_t n)
{
    (void)d;
    zk_gelu_bwd_set(dinp, inp, dout, n);
}

static void c_acc(ze_dev *d, float *y, const float *x, size_t n)
{
    (void)d;
    zk_acc(y, x, n);
}

static void c_copy_rows(ze_dev *d, float *y, size_t ly, const float *x, size_t lx, size_t rows, size_t n)
{
    (void)d;
    for (size_t r = 0; r < rows; r++)
        memcpy(y + r * ly, x + r * lx, n * sizeof *y);
}

static void c_acc_rows(ze_dev *d, float *y, size_t ly, const float *x, size_t lx, size_t rows, size_t n)
{
    (void)d;
    for (size_t r = 0; r < rows; r++)
        zk_acc(y + r * ly, x + r * lx, n);
}

static double c_crossentropy(ze_dev *d, float *logits, const int *targets, int N, int V, float dscale)
{
    (void)d;
    return zk_crossentropy(logits, targets, N, V, dscale);
}

static void c_xent_max(ze_dev *d, const float *logits, int N, int V, float *mx)
{
    (void)d;
    zk_xent_max(logits, N, V, mx);
}

static void c_xent_sums(ze_dev *d, float *logits, const int *targets, int N, int V, const float *mx, float *se,
                        float *tl)
{
    (void)d;
    zk_xent_sums(logits, targets, N, V, mx, se, tl);
}

static void c_xent_grad(ze_dev *d, float *logits, const int *targets, int N, int V, const float *se, float dscale)
{
    (void)d;
    zk_xent_grad(logits, targets, N, V, se, dscale);
}

/* The gradient chunk i .. i+len as fp32, scaled: in buf (a copy: the
 * stored gradient is left as it is). */
static const float *grad_chunk(float *buf, const void *g, ze_dt gdt, float gscale, size_t i, size_t len)
{
    if (gdt == ZE_F32 && gscale == 1.0f)
        return (const float *)g + i;
    load(buf, ze_at(g, gdt, i), gdt, len);
    if (gscale != 1.0f)
        zk_scale(buf, len, gscale);
    return buf;
}

static void c_adamw(ze_dev *d, ze_pool pool, float *p, const void *g, ze_dt gdt, float gscale, float *m, float *v,
                    size_t n, float lr, float beta1, float beta2, float eps, float weight_decay, int t)
{
    (void)d, (void)pool;
    float buf[CH];
    for (size_t i = 0; i < n; i += CH) {
        size_t len = n - i < CH ? n - i : CH;
        zk_adamw(p + i, grad_chunk(buf, g, gdt, gscale, i, len), m + i, v + i, len, lr, beta1, beta2, eps,
                 weight_decay, t);
    }
}

static void c_sgd(ze_dev *d, ze_pool pool, float *p, const void *g, ze_dt gdt, float gscale, float *mom, size_t n,
                  float lr, float momentum, float weight_decay)
{
    (void)d, (void)pool;
    float buf[CH];
    for (size_t i = 0; i < n; i += CH) {
        size_t len = n - i < CH ? n - i : CH;
        zk_sgd(p + i, grad_chunk(buf, g, gdt, gscale, i, len), mom + i, len, lr, momentum, weight_decay);
    }
}

static double c_sumsq(ze_dev *d, ze_pool pool, const void *x, ze_dt dt, size_t n)
{
    (void)d, (void)pool;
    if (dt == ZE_F32)
        return zk_sumsq(x, n);
    float buf[CH];
    double s = 0.0;
    for (size_t i = 0; i < n; i += CH) {
        size_t len = n - i < CH ? n - i : CH;
        load(buf, ze_at(x, dt, i), dt, len);
        s += zk_sumsq(buf, len);
    }
    return s;
}

static void c_sync(ze_dev *d) { (void)d; }

static void c_mark(ze_dev *d, int slot)
{
    d->wall[slot] = wall_s();
}

static double c_elapsed(ze_dev *d, int from, int to)
{
    return d->wall[to] - d->wall[from];
}

static void c_gemm_stats(ze_dev *d, double *seconds, double *flops)
{
    (void)d;
    *seconds = zk_gemm_counters.seconds;
    *flops = zk_gemm_counters.flops;
}

static void c_attn_stats(ze_dev *d, double *seconds, double *flops)
{
    (void)d;
    *seconds = c_attn_s;
    *flops = c_attn_flops;
}

static void c_gemm_log_clear(ze_dev *d)
{
    (void)d;
    zk_gemm_log_clear();
}

static void c_fini(ze_dev *d)
{
    c_row *r = d->impl;
    if (r)
        free(r->buf);
    free(r);
    d->impl = NULL;
}

const ze_dev_ops ze_dev_cpu_ops = {
    .name = "cpu",
    .mem_alloc = c_mem_alloc,
    .mem_free = c_mem_free,
    .copy = c_copy,
    .zero = c_zero,
    .convert = c_convert,
    .narrow = c_narrow,
    .widen = c_widen,
    .init = c_init,
    .embed_fwd = c_embed_fwd,
    .embed_bwd = c_embed_bwd,
    .layernorm_fwd = c_layernorm_fwd,
    .layernorm_bwd = c_layernorm_bwd,
    .matmul_fwd = c_matmul_fwd,
    .matmul_bwd = c_matmul_bwd,
    .matmul_bwd_set = c_matmul_bwd_set,
    .gemm = c_gemm,
    .attention_fwd = c_attention_fwd,
    .attention_bwd = c_attention_bwd,
    .flash_fwd = c_flash_fwd,
    .flash_bwd = c_flash_bwd,
    .copy_rows = c_copy_rows,
    .acc_rows = c_acc_rows,
    .flash_fwd_part = c_flash_fwd_part,
    .flash_bwd_part = c_flash_bwd_part,
    .gelu_fwd = c_gelu_fwd,
    .gelu_bwd = c_gelu_bwd,
    .gelu_bwd_set = c_gelu_bwd_set,
    .rmsnorm_fwd = c_rmsnorm_fwd,
    .rmsnorm_bwd = c_rmsnorm_bwd,
    .rope_fwd = c_rope_fwd,
    .rope_bwd = c_rope_bwd,
    .swiglu_fwd = c_swiglu_fwd,
    .swiglu_bwd = c_swiglu_bwd,
    .swiglu_bwd_set = c_swiglu_bwd_set,
    .acc = c_acc,
    .crossentropy = c_crossentropy,
    .xent_max = c_xent_max,
    .xent_sums = c_xent_sums,
    .xent_grad = c_xent_grad,
    .adamw = c_adamw,
    .sgd = c_sgd,
    .sumsq = c_sumsq,
    .sync = c_sync,
    .mark = c_mark,
    .elapsed = c_elapsed,
    .gemm_stats = c_gemm_stats,
    .attn_stats = c_attn_stats,
    .gemm_log_clear = c_gemm_log_clear,
    .fini = c_fini,
};

/* The CPU row, over the host's RAM; the static table above is the same for
 * every rank. */
void ze_dev_cpu_init(ze_dev *d, ze_alloc *a)
{
    memset(d, 0, sizeof *d);
    d->ops = &ze_dev_cpu_ops;
    d->a = a;
    d->ordinal = -1;
    snprintf(d->desc, sizeof d->desc, "CPU (OpenBLAS)");
}
