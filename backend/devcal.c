/* devcal.c - what one device row does per second, measured through the
 * row's own table (device.h), so that the same code measures the CPU row
 * and the CUDA row (zplan-engine calibrate backend=cuda|cpu; zplan
 * calibrate --backend cuda turns it into a GPU profile):
 *   - the row's GEMM as the engine's linear layers run it: fp32 tensors
 *     under bf16 math (device.h's ze_dev.math: each operand rounded to
 *     bf16, fp32 sums; the tensor cores), and exact fp32, at square sizes
 *     up to max_dim and
 *     at the shapes of a training step's linear layers (8192 token rows by
 *     GPT-2 XL's and a 1 B LLaMA's widths, where max_dim allows), each the
 *     median of 5 timings of 10 products back to back, after a warm-up;
 *     and the layers' shapes again from bf16 operands (operands "bf16":
 *     what the engine would reach converting its operands first);
 *   - the elementwise rate: the row's acc (y += x) over 2^26 floats (12
 *     bytes a value: y read and written, x read), timed as the GEMMs;
 *   - flash attention under bf16 math (the tensor cores where the head size
 *     allows) at GPT-2 XL's shape (25 heads of 64, 1024 tokens) and a 1 B
 *     LLaMA's (32 heads of 64 over 8 K/V heads, 2048 tokens), 4 sequences
 *     (at max_dim below 4096: 8 heads of 64, 256 tokens, 1 sequence), its
 *     forward and backward each the median of 5 timings of 3 calls, their
 *     products' FLOPs (device.h's ze_flash_flops) over that time;
 *   - the runtime's memory the row measured as it started (ovh: the CUDA
 *     context, cuBLAS), the device's memory and its allocator's granule.
 * Inputs are filled with N(0, 0.02) values (the engine's initialisation:
 * zeros would draw less power and run faster than training's operands).
 * Times are wall-clock seconds around the call with the row synchronised
 * on both sides. */
#include "devcal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { REPS = 5 };

static void fill(ze_dev *d, void *p, ze_dt dt, size_t n, uint32_t unit)
{
    ze_init_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.seed = 1234, desc.unit = unit, desc.nseg = 1, desc.valid = n;
    desc.seg[0].end = n, desc.seg[0].std = 0.02f;
    d->ops->init(d, p, ZE_DEVICE, dt, &desc, 0, n);
}

/* the seconds of one C = A B^T (M x N from depth K) of type dt: the
 * median of REPS timings of INNER products queued back to back (on a GPU
 * one synchronisation per timing, not per product) */
enum { INNER = 10 };
static double gemm_s(ze_dev *d, int M, int N, int K, ze_dt dt, void *A, void *B, float *C)
{
    double t[REPS];
    d->ops->gemm(d, 'N', 'T', M, N, K, A, B, dt, 0.0f, C);   /* warm-up (and the library's heuristics) */
    d->ops->sync(d);
    for (int r = 0; r < REPS; r++) {
        double t0 = now_s();
        for (int i = 0; i < INNER; i++)
            d->ops->gemm(d, 'N', 'T', M, N, K, A, B, dt, 0.0f, C);
        d->ops->sync(d);
        t[r] = (now_s() - t0) / INNER;
    }
    qsort(t, REPS, sizeof *t, cmp_d);
    return t[REPS / 2];
}

/* the median seconds of REPS timings of AINNER calls of flash attention's
 * forward (bwd 0) or backward at (B, T, C, NH, KV) */
enum { AINNER = 3 };
static double flash_s(ze_dev *d, int bwd, int B, int T, int C, int NH, int KV, float *qkv, float *out, float *lse,
                      float *dout, float *dqkv)
{
    double t[REPS];
    for (int r = -1; r < REPS; r++) {   /* (r -1: the warm-up) */
        double t0 = now_s();
        for (int i = 0; i < (r < 0 ? 1 : AINNER); i++) {
            if (bwd)
                d->ops->flash_bwd(d, dqkv, dout, out, lse, qkv, B, T, C, NH, KV);
            else
                d->ops->flash_fwd(d, out, lse, qkv, B, T, C, NH, KV);
        }
        d->ops->sync(d);
        if (r >= 0)
            t[r] = (now_s() - t0) / AINNER;
    }
    qsort(t, REPS, sizeof *t, cmp_d);
    return t[REPS / 2];
}

/* flash attention's rate under bf16 math at a training step's shapes (the
 * header); one object a shape */
static int attention(ze_dev *d, int max_dim, cJSON *arr, char *msg, size_t mn)
{
    static const int big[][5] = {{4, 1024, 1600, 25, 25}, {4, 2048, 2048, 32, 8}}, small[][5] = {{1, 256, 512, 8, 8}};
    const int(*sh)[5] = max_dim >= 4096 ? big : small;
    int n = max_dim >= 4096 ? 2 : 1;
    ze_dt math0 = d->math;
    for (int i = 0; i < n; i++) {
        int B = sh[i][0], T = sh[i][1], C = sh[i][2], NH = sh[i][3], KV = sh[i][4], hs = C / NH;
        size_t rows = (size_t)B * (size_t)T, n3 = rows * (size_t)(C + 2 * KV * hs), no = rows * (size_t)C;
        size_t nl = (size_t)B * (size_t)NH * (size_t)T;
        float *qkv = ze_dev_alloc(d, ZE_DEVICE, ZE_BUF, n3 * 4, 0), *dqkv = ze_dev_alloc(d, ZE_DEVICE, ZE_BUF, n3 * 4, 0);
        float *out = ze_dev_alloc(d, ZE_DEVICE, ZE_BUF, no * 4, 0), *dout = ze_dev_alloc(d, ZE_DEVICE, ZE_BUF, no * 4, 0);
        float *lse = ze_dev_alloc(d, ZE_DEVICE, ZE_BUF, nl * 4, 0);
        if (!qkv || !dqkv || !out || !dout || !lse) {
            snprintf(msg, mn, "no device memory for flash attention at %d x %d tokens of %d", B, T, C);
            ze_dev_free(d, qkv), ze_dev_free(d, dqkv), ze_dev_free(d, out), ze_dev_free(d, dout), ze_dev_free(d, lse);
            return -1;
        }
        fill(d, qkv, ZE_F32, n3, 5), fill(d, dout, ZE_F32, no, 6), fill(d, dqkv, ZE_F32, n3, 7);
        d->math = ZE_BF16;
        double tf = flash_s(d, 0, B, T, C, NH, KV, qkv, out, lse, dout, dqkv);
        double tb = flash_s(d, 1, B, T, C, NH, KV, qkv, out, lse, dout, dqkv);
        d->math = math0;
        double ff = ze_flash_flops(B, T, 0, C, NH, 0), fb = ze_flash_flops(B, T, 0, C, NH, 1);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "dtype", "bf16");   /* the math */
        cJSON_AddNumberToObject(x, "b", B);
        cJSON_AddNumberToObject(x, "t", T);
        cJSON_AddNumberToObject(x, "c", C);
        cJSON_AddNumberToObject(x, "heads", NH);
        cJSON_AddNumberToObject(x, "kv_heads", KV);
        cJSON_AddNumberToObject(x, "forward_seconds", tf);
        cJSON_AddNumberToObject(x, "backward_seconds", tb);
        cJSON_AddNumberToObject(x, "flops", ff + fb);
        cJSON_AddNumberToObject(x, "flops_per_s", tf + tb > 0 ? (ff + fb) / (tf + tb) : 0.0);
        cJSON_AddItemToArray(arr, x);
        ze_dev_free(d, qkv), ze_dev_free(d, dqkv), ze_dev_free(d, out), ze_dev_free(d, dout), ze_dev_free(d, lse);
    }
    return 0;
}

int ze_devcal(ze_dev *d, int max_dim, cJSON *out, char *msg, size_t mn)
{
    static const int squares[] = {512, 1024, 2048, 4096, 8192};
    /* a training step's linear layers at 8192 token rows: GPT-2 XL's
     * (h 1600: QKV 4800, the projection, fc 6400 and back) and a 1 B
     * LLaMA's (h 2048, 32 heads over 8 KV heads: QKV 3072; SwiGLU's gate
     * and up 2 x 5632, down from 5632) */
    static const int shapes[][3] = {{8192, 4800, 1600}, {8192, 1600, 1600}, {8192, 6400, 1600},
                                    {8192, 1600, 6400}, {8192, 3072, 2048}, {8192, 2048, 2048},
                                    {8192, 11264, 2048}, {8192, 2048, 5632}};
    int ns = (int)(sizeof squares / sizeof squares[0]), nm = (int)(sizeof shapes / sizeof shapes[0]);
    int big = 0;   /* the largest M, N, K measured: every buffer is big x big */
    for (int i = 0; i < ns; i++)
        if (squares[i] <= max_dim && squares[i] > big)
            big = squares[i];
    for (int i = 0; i < nm; i++)
        if (shapes[i][0] <= max_dim && shapes[i][1] <= max_dim && shapes[i][2] <= max_dim)
            for (int k = 0; k < 3; k++)
                big = shapes[i][k] > big ? shapes[i][k] : big;
    if (big == 0) {
        snprintf(msg, mn, "max_dim=%d leaves no GEMM to measure (the smallest is 512)", max_dim);
        return -1;
    }
    size_t nn = (size_t)big * (size_t)big;
    void *A = ze_dev_alloc(d, ZE_DEVICE, ZE_BUF, nn * 4, 0), *B = ze_dev_alloc(d, ZE_DEVICE, ZE_BUF, nn * 4, 0);
    float *C = ze_dev_alloc(d, ZE_DEVICE, ZE_BUF, nn * 4, 0);
    if (!A || !B || !C) {
        snprintf(msg, mn, "no device memory for three %d x %d fp32 matrices%s%s", big, big, d->err[0] ? ": " : "",
                 d->err);
        ze_dev_free(d, A), ze_dev_free(d, B), ze_dev_free(d, C);
        return -1;
    }
    cJSON *ga = cJSON_AddArrayToObject(out, "gemm");
    /* the math of each pass; the operands fp32 in the first two, as the
     * engine's; the third the same products from bf16 operands at the
     * layers' shapes (what autocast hands cuBLAS), beside them: what
     * converting the operands first would give the engine */
    static const ze_dt maths[] = {ZE_BF16, ZE_F32, ZE_BF16}, opnd[] = {ZE_F32, ZE_F32, ZE_BF16};
    ze_dt math0 = d->math;
    for (int di = 0; di < 3; di++) {
        ze_dt dt = opnd[di];
        d->math = maths[di];
        if (di == 0 || dt != opnd[di - 1])
            fill(d, A, dt, nn, 1), fill(d, B, dt, nn, 2);
        for (int i = di == 2 ? ns : 0; i < ns + nm; i++) {
            int M = i < ns ? squares[i] : shapes[i - ns][0], N = i < ns ? squares[i] : shapes[i - ns][1];
            int K = i < ns ? squares[i] : shapes[i - ns][2];
            if (M > max_dim || N > max_dim || K > max_dim)
                continue;
            /* (a failing cuBLAS call ends the CUDA row's process: no result) */
            double t = gemm_s(d, M, N, K, dt, A, B, C);
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "dtype", maths[di] == ZE_BF16 ? "bf16" : "fp32");   /* the math */
            cJSON_AddStringToObject(x, "operands", dt == ZE_BF16 ? "bf16" : "fp32");
            cJSON_AddStringToObject(x, "kind", i < ns ? "square" : "layer");
            cJSON_AddNumberToObject(x, "m", M);
            cJSON_AddNumberToObject(x, "n", N);
            cJSON_AddNumberToObject(x, "k", K);
            cJSON_AddNumberToObject(x, "seconds", t);
            cJSON_AddNumberToObject(x, "flops_per_s", t > 0 ? 2.0 * M * (double)N * K / t : 0.0);
            cJSON_AddItemToArray(ga, x);
        }
    }
    d->math = math0;
    ze_dev_free(d, A), ze_dev_free(d, B), ze_dev_free(d, C);

    /* the elementwise rate: y += x over 2^26 floats (2^24 at max_dim below 4096) */
    size_t n = max_dim >= 4096 ? (size_t)1 << 26 : (size_t)1 << 24;
    float *x = ze_dev_alloc(d, ZE_DEVICE, ZE_BUF, n * 4, 0), *y = ze_dev_alloc(d, ZE_DEVICE, ZE_BUF, n * 4, 0);
    if (!x || !y) {
        snprintf(msg, mn, "no device memory for two vectors of %zu floats", n);
        ze_dev_free(d, x), ze_dev_free(d, y);
        return -1;
    }
    fill(d, x, ZE_F32, n, 3), fill(d, y, ZE_F32, n, 4);
    double t[REPS];
    d->ops->acc(d, y, x, n);
    d->ops->sync(d);
    for (int r = 0; r < REPS; r++) {   /* INNER passes queued, as the GEMMs */
        double t0 = now_s();
        for (int i = 0; i < INNER; i++)
            d->ops->acc(d, y, x, n);
        d->ops->sync(d);
        t[r] = (now_s() - t0) / INNER;
    }
    qsort(t, REPS, sizeof *t, cmp_d);
    ze_dev_free(d, x), ze_dev_free(d, y);
    cJSON *ew = cJSON_AddObjectToObject(out, "elementwise");
    cJSON_AddNumberToObject(ew, "values", (double)n);
    cJSON_AddNumberToObject(ew, "bytes", 12.0 * (double)n);
    cJSON_AddNumberToObject(ew, "seconds", t[REPS / 2]);
    cJSON_AddNumberToObject(ew, "bytes_per_s", t[REPS / 2] > 0 ? 12.0 * (double)n / t[REPS / 2] : 0.0);

    if (attention(d, max_dim, cJSON_AddArrayToObject(out, "attention"), msg, mn))
        return -1;

    cJSON *rt = cJSON_AddObjectToObject(out, "runtime_bytes");
    cJSON_AddNumberToObject(rt, "context", (double)d->ovh.context);
    cJSON_AddNumberToObject(rt, "blas", (double)d->ovh.blas);
    cJSON_AddNumberToObject(out, "device_memory_bytes", (double)d->ovh.total);
    cJSON_AddNumberToObject(out, "granule_bytes", (double)d->granule[ZE_DEVICE]);
    return 0;
}
