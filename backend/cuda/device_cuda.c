/* device_cuda.c - the CUDA row of the device table (device.h): cudaMalloc
 * for the device pool, pinned cudaMallocHost for the host pool, cuBLAS for
 * the GEMMs and the kernels of kernels.cu, all queued on one non-blocking
 * stream; CUDA events for the marks.  The CPU row (cpu/device_cpu.c) is its
 * twin: every operation computes what the CPU row computes.
 *
 * Order and waiting.  Device work is queued and not waited for; what returns
 * a value (crossentropy, sumsq, elapsed) waits for it.  Every operation that
 * touches host-pool memory (a copy or a conversion with a host side, zero,
 * the optimizer on the host) leaves no queued work behind that reads or
 * writes host memory: it synchronizes the stream before it returns (host
 * sources may be pageable, a stack array of initial values), and an
 * operation that reads or writes host memory on the CPU synchronizes first.
 *
 * Failures.  Out of memory in mem_alloc returns NULL with d->err (the
 * engine records it as an out-of-memory outcome).  Any other CUDA or cuBLAS
 * failure in an operation that has no way to report it (they return void,
 * or a value the engine trusts) is fatal: d->err and stderr say what failed
 * (the library's own message) and the process aborts, rather than train on
 * after a sticky error with garbage results.
 *
 * GEMMs are fp32 cublasSgemm under CUBLAS_DEFAULT_MATH, which never uses
 * TF32 (only CUBLAS_TF32_TENSOR_OP_MATH or NVIDIA_TF32_OVERRIDE=1 would), so
 * NVIDIA_TF32_OVERRIDE need not be set; under bf16 or fp16 math (d->math,
 * engine key gemm=) the linear layers' are cublasGemmEx on the same fp32
 * tensors with the tensor cores' 16-bit products (compute_of).  A linear
 * layer's product with a bias goes through cuBLASLt in the same compute
 * type with the bias added in its epilogue (lt_bias_gemm; ZPLAN_CUBLASLT=0
 * or a shape it has no algorithm for: the bias kernel, then cuBLAS).  The
 * stored-probabilities attention's products are cublasGemmStridedBatchedEx
 * in compute_of's type in every math (attn_batched.c's sequence). */
#include "attn_batched.h"
#include "device.h"
#include "kernels_cuda.h"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pinned bytes the row keeps for staged conversions between the pools
 * (and for the host-staged group, between operations) */
#define STAGING_BYTES ((size_t)8 << 20)

/* cuBLASLt's workspace (the linear layers' products with their bias in
 * the epilogue), cuBLAS's too, taken at init and counted with cuBLAS (32
 * MiB: what cuBLAS takes for itself on Hopper) */
#define LT_WS_BYTES ((size_t)32 << 20)
/* the shapes whose cuBLASLt plan (descriptors and algorithm) is kept */
enum { LT_PLANS = 64 };

/* One product shape's cuBLASLt plan: D (m x n, ld m) = op(A) op(B) + bias
 * in the math `math`, fp32 matrices, the operands and the bias aligned as
 * `align` says; ok 0: cuBLASLt offered no algorithm (or refused it), the
 * shape goes the cuBLAS way */
typedef struct lt_plan {
    int m, n, k, ta, math, align, ok;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
} lt_plan;

/* cudaMalloc reserves whole 2 MiB pages for a request: the device pool's
 * granule (tests/test_cuda measures it on the GPU). */
#define CUDA_GRANULE ((uint64_t)2 << 20)

typedef struct cu_row {
    cudaStream_t st;
    cublasHandle_t blas;
    cudaEvent_t ev[ZE_NMARK];
    int recorded[ZE_NMARK];
    void *staging;        /* pinned, STAGING_BYTES */
    size_t staging_bytes;
    double *dscalar;      /* device: a loss or sum of squares being summed */
    double *hscalar;      /* pinned: where it is read back */
    double flops;         /* 2 M N K of every sgemm */
    /* the GEMMs' own time: an event pair around each (gev[2 i], gev[2 i +
     * 1], gn pairs recorded of GEV_PAIRS), summed into gemm_s */
    cudaEvent_t *gev;
    int gn;
    double gemm_s;
    /* flash attention's kernels timed the same way, from the same pool
     * (gcls[i] 1: pair i is theirs), and their FLOPs */
    unsigned char *gcls;
    double attn_s, attn_flops;
    size_t smem_optin;    /* shared memory a block may opt into (the tensor-core flash kernels') */
    /* cuBLASLt for the products with a bias (NULL: off, ZPLAN_CUBLASLT=0,
     * or not made): the bias added in the product's epilogue */
    cublasLtHandle_t lt;
    void *lt_ws;
    lt_plan plans[LT_PLANS];
    int nplans;
    long lt_calls;        /* products run through it */
} cu_row;

enum { GEV_PAIRS = 4096 };   /* (a pool that fills waits on the stream: rarely, at this size) */

static cu_row *row(const ze_dev *d)
{
    return (cu_row *)d->impl;
}

cudaStream_t ze_dev_cuda_stream(const struct ze_dev *d)
{
    return row(d)->st;
}

void *ze_dev_cuda_staging(const struct ze_dev *d, size_t *bytes)
{
    if (bytes)
        *bytes = row(d)->staging_bytes;
    return row(d)->staging;
}

/* ------------------------------------------------------------- failures */

static void fail(ze_dev *d, const char *what, const char *msg)
{
    if (!d->err[0])
        snprintf(d->err, sizeof d->err, "%s: %s", what, msg);
    fprintf(stderr, "zplan-engine: CUDA row: %s: %s\n", what, msg);
    fflush(stderr);
    abort();
}

#define CU(d, what, call)                                                                             \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess)                                                                        \
            fail((d), (what), cudaGetErrorString(e_));                                                \
    } while (0)

#define CB(d, what, call)                                                                             \
    do {                                                                                              \
        cublasStatus_t s_ = (call);                                                                   \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                              \
            fail((d), (what), cublasGetStatusString(s_));                                             \
    } while (0)

static void sync_stream(ze_dev *d)
{
    CU(d, "cudaStreamSynchronize", cudaStreamSynchronize(row(d)->st));
}

/* Work on host memory is the CPU row's (cpu/device_cpu.c: the same
 * conversions, optimizer and sum of squares, on the host's RAM), after the
 * stream has finished with it. */
static void host_convert(void *dst, ze_dt ddt, const void *src, ze_dt sdt, size_t n, int acc)
{
    ze_dev_cpu_ops.convert(NULL, dst, ZE_HOST, ddt, src, ZE_HOST, sdt, n, acc);
}

/* ---------------------------------------------------------------- memory */

static void *cu_mem_alloc(ze_dev *d, ze_pool pool, size_t bytes)
{
    void *p = NULL;
    cudaError_t e = pool == ZE_DEVICE ? cudaMalloc(&p, bytes) : cudaMallocHost(&p, bytes);
    if (e == cudaSuccess)
        return p;
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();   /* not sticky: clear it */
        snprintf(d->err, sizeof d->err, "%s of %zu bytes: %s", pool == ZE_DEVICE ? "cudaMalloc" : "cudaMallocHost",
                 bytes, cudaGetErrorString(e));
        return NULL;
    }
    fail(d, pool == ZE_DEVICE ? "cudaMalloc" : "cudaMallocHost", cudaGetErrorString(e));
    return NULL;
}

static void cu_mem_free(ze_dev *d, ze_pool pool, void *p)
{
    if (!p)
        return;
    /* the work queued on the stream may still read it: wait for it (cudaFree
     * does in practice, but does not promise it for a non-blocking stream) */
    sync_stream(d);
    if (pool == ZE_DEVICE)
        CU(d, "cudaFree", cudaFree(p));
    else
        CU(d, "cudaFreeHost", cudaFreeHost(p));
}

static void cu_copy(ze_dev *d, void *dst, ze_pool dp, const void *src, ze_pool sp, size_t bytes)
{
    if (bytes == 0)
        return;
    cu_row *r = row(d);
    if (dp == ZE_HOST && sp == ZE_HOST) {
        sync_stream(d);
        memcpy(dst, src, bytes);
        return;
    }
    /* UVA: the runtime tells the pointers' kinds (pageable host memory too) */
    CU(d, "cudaMemcpyAsync", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, r->st));
    if (dp == ZE_HOST || sp == ZE_HOST)
        sync_stream(d);   /* the host side may be pageable, reused as soon as we return */
}

static void cu_zero(ze_dev *d, void *p, ze_pool pool, size_t bytes)
{
    if (bytes == 0)
        return;
    if (pool == ZE_DEVICE)
        CU(d, "cudaMemsetAsync", cudaMemsetAsync(p, 0, bytes, row(d)->st));
    else {
        sync_stream(d);
        memset(p, 0, bytes);
    }
}

static void cu_convert(ze_dev *d, void *dst, ze_pool dp, ze_dt ddt, const void *src, ze_pool sp, ze_dt sdt,
                       size_t n, int acc)
{
    if (n == 0)
        return;
    cu_row *r = row(d);
    if (dp == ZE_DEVICE && sp == ZE_DEVICE) {
        CU(d, "convert kernel", zc_convert(r->st, dst, (int)ddt, src, (int)sdt, n, acc));
        return;
    }
    if (dp == ZE_HOST && sp == ZE_HOST) {
        sync_stream(d);
        host_convert(dst, ddt, src, sdt, n, acc);
        return;
    }
    if (!acc && sdt == ddt) {
        cu_copy(d, dst, dp, src, sp, n * ze_dt_size(ddt));
        return;
    }
    if (dp == ZE_DEVICE) {
        /* host -> device: each chunk converted (with acc: added to the
         * destination's chunk, read back first) into staging on the host,
         * then copied up; the stream is idle whenever the host writes
         * staging */
        size_t ds = ze_dt_size(ddt), chunk = r->staging_bytes / ds;
        for (size_t i = 0; i < n; i += chunk) {
            size_t k = n - i < chunk ? n - i : chunk;
            if (acc)
                CU(d, "cudaMemcpyAsync", cudaMemcpyAsync(r->staging, ze_at(dst, ddt, i), k * ds,
                                                         cudaMemcpyDeviceToHost, r->st));
            sync_stream(d);
            host_convert(r->staging, ddt, ze_at(src, sdt, i), sdt, k, acc);
            CU(d, "cudaMemcpyAsync", cudaMemcpyAsync(ze_at(dst, ddt, i), r->staging, k * ds,
                                                     cudaMemcpyHostToDevice, r->st));
        }
        sync_stream(d);
    } else {
        /* device -> host: each chunk copied down into staging, then
         * converted (or added) into the destination on the host */
        size_t ss = ze_dt_size(sdt), chunk = r->staging_bytes / ss;
        for (size_t i = 0; i < n; i += chunk) {
            size_t k = n - i < chunk ? n - i : chunk;
            CU(d, "cudaMemcpyAsync", cudaMemcpyAsync(r->staging, ze_at(src, sdt, i), k * ss,
                                                     cudaMemcpyDeviceToHost, r->st));
            sync_stream(d);
            host_convert(ze_at(dst, ddt, i), ddt, r->staging, sdt, k, acc);
        }
    }
}

static void cu_narrow(ze_dev *d, void *buf, ze_dt dt, size_t n)
{
    CU(d, "narrow kernels", zc_narrow(row(d)->st, buf, (int)dt, n));
}

static void cu_widen(ze_dev *d, void *buf, ze_dt dt, size_t n)
{
    CU(d, "widen kernels", zc_widen(row(d)->st, buf, (int)dt, n));
}

/* Initial values where they live: a kernel writes them into device memory,
 * or into the pinned host pool through its mapping (the host waits for it
 * before it reads them). */
static void cu_init(ze_dev *d, void *dst, ze_pool pool, ze_dt dt, const ze_init_desc *desc, size_t first, size_t n)
{
    CU(d, "init kernel", zc_init(row(d)->st, dst, (int)dt, desc, first, n));
    if (pool == ZE_HOST)
        sync_stream(d);
}

/* ------------------------------------------------------- model's kernels */

static void cu_embed_fwd(ze_dev *d, float *out, const int *tok, const float *wte, const float *wpe, int B, int T,
                         int C)
{
    CU(d, "embed_fwd kernel", zc_embed_fwd(row(d)->st, out, tok, wte, wpe, B, T, C));
}

static void cu_embed_bwd(ze_dev *d, float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T, int C)
{
    CU(d, "embed_bwd kernel", zc_embed_bwd(row(d)->st, dwte, dwpe, dout, tok, B, T, C));
}

static void cu_layernorm_fwd(ze_dev *d, float *out, float *mean, float *rstd, const float *inp, const float *w,
                             const float *b, int N, int C)
{
    CU(d, "layernorm_fwd kernel", zc_layernorm_fwd(row(d)->st, out, mean, rstd, inp, w, b, N, C));
}

static void cu_layernorm_bwd(ze_dev *d, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                             const float *w, const float *mean, const float *rstd, int N, int C)
{
    CU(d, "layernorm_bwd kernels", zc_layernorm_bwd(row(d)->st, dinp, dw, db, dout, inp, w, mean, rstd, N, C));
}

/* The GEMMs' own time: the events recorded so far waited for and their
 * pairs' intervals summed (when the pool is full, and when gemm_stats
 * asks: the engine does at its first step's start and end and at the
 * run's end, so that a step waits on nothing it would not) */
static void gt_flush(ze_dev *d)
{
    cu_row *r = row(d);
    if (!r->gn)
        return;
    CU(d, "cudaEventSynchronize", cudaEventSynchronize(r->gev[2 * r->gn - 1]));
    for (int i = 0; i < r->gn; i++) {
        float ms = 0.0f;
        CU(d, "cudaEventElapsedTime", cudaEventElapsedTime(&ms, r->gev[2 * i], r->gev[2 * i + 1]));
        *(r->gcls[i] ? &r->attn_s : &r->gemm_s) += 1e-3 * (double)ms;
    }
    r->gn = 0;
}

/* (cls 0: a GEMM; 1: a flash attention kernel) */
static void gt_begin_c(ze_dev *d, int cls)
{
    cu_row *r = row(d);
    if (r->gn == GEV_PAIRS)
        gt_flush(d);
    r->gcls[r->gn] = (unsigned char)cls;
    CU(d, "cudaEventRecord", cudaEventRecord(r->gev[2 * r->gn], r->st));
}

static void gt_begin(ze_dev *d)
{
    gt_begin_c(d, 0);
}

static void gt_end(ze_dev *d)
{
    cu_row *r = row(d);
    CU(d, "cudaEventRecord", cudaEventRecord(r->gev[2 * r->gn + 1], r->st));
    r->gn++;
}

/* The compute type of fp32 operands under the row's math (device.h):
 * exact fp32 (CUBLAS_COMPUTE_32F under the default math mode: no TF32), or
 * the tensor cores' bf16 / fp16 products with fp32 accumulation, the
 * operands converted inside cuBLAS (the CPU row rounds copies to nearest
 * even: its twin).  cuBLAS's header lets FAST_16BF/16F convert to TF32
 * instead; tests/test_cuda checks on the GPU that a product comes out as
 * the 16-bit operands' (256 x (1 + 2^-9) is 256 in bf16, 256.5 in TF32). */
static cublasComputeType_t compute_of(const ze_dev *d)
{
    return d->math == ZE_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF
           : d->math == ZE_F16 ? CUBLAS_COMPUTE_32F_FAST_16F
                               : CUBLAS_COMPUTE_32F;
}

/* Row-major X[r][c] is column-major X^T; cuBLAS is column-major.  fp32
 * operands and result; the products as the row's math says. */
static void sgemm(ze_dev *d, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    const float one = 1.0f;
    gt_begin(d);
    if (d->math == ZE_F32)
        CB(d, "cublasSgemm", cublasSgemm(row(d)->blas, ta, tb, m, n, k, &one, A, lda, B, ldb, &beta, C, ldc));
    else
        CB(d, "cublasGemmEx", cublasGemmEx(row(d)->blas, ta, tb, m, n, k, &one, A, CUDA_R_32F, lda, B, CUDA_R_32F,
                                           ldb, &beta, C, CUDA_R_32F, ldc, compute_of(d), CUBLAS_GEMM_DEFAULT));
    gt_end(d);
    row(d)->flops += 2.0 * (double)m * (double)n * (double)k;
}

/* The largest power of two up to 256 that divides p's address (cuBLASLt
 * picks its algorithm for the operands' alignment), and its log2. */
static int align_of(const void *p)
{
    uintptr_t u = (uintptr_t)p;
    int a = 256;
    while (a > 4 && u % (uintptr_t)a)
        a >>= 1;
    return a;
}

static unsigned align_lg(const void *p)
{
    unsigned lg = 0;
    for (int a = align_of(p); a > 1; a >>= 1)
        lg++;
    return lg;   /* 2 .. 8 */
}

/* cuBLASLt's plan for D (m x n, ld m) = op(A) B + bias, A stored k x m (ta)
 * or m x k, B k x n, every matrix fp32 and packed, the products in the
 * row's math; made once a shape, math and alignment.  NULL: the plans are
 * full (the cuBLAS way).  Its ok says whether cuBLASLt had an algorithm. */
static lt_plan *lt_plan_of(ze_dev *d, int ta, int m, int n, int k, const float *A, const float *B, const float *bias,
                           const float *C)
{
    cu_row *r = row(d);
    int math = (int)d->math;
    /* the operands' and the bias's alignments, 4 to 256 bytes each */
    int al = (int)(align_lg(A) | align_lg(B) << 4 | align_lg(C) << 8 | align_lg(bias) << 12);
    for (int i = 0; i < r->nplans; i++) {
        lt_plan *p = &r->plans[i];
        if (p->m == m && p->n == n && p->k == k && p->ta == ta && p->math == math && p->align == al)
            return p;
    }
    if (r->nplans == LT_PLANS)
        return NULL;
    lt_plan *p = &r->plans[r->nplans++];
    memset(p, 0, sizeof *p);
    p->m = m, p->n = n, p->k = k, p->ta = ta, p->math = math, p->align = al;
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = CUBLAS_OP_N;
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    cudaDataType_t bt = CUDA_R_32F;
    uint64_t ws = LT_WS_BYTES;
    uint32_t aa = (uint32_t)align_of(A), ba = (uint32_t)align_of(B), ca = (uint32_t)align_of(C);
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    memset(&res, 0, sizeof res);
#define LTOK(call) ((call) == CUBLAS_STATUS_SUCCESS)
    int good = LTOK(cublasLtMatmulDescCreate(&p->desc, compute_of(d), CUDA_R_32F)) &&
               LTOK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa)) &&
               LTOK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb)) &&
               LTOK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi)) &&
               LTOK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt)) &&
               LTOK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias)) &&
               LTOK(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_32F, ta ? k : m, ta ? m : k, ta ? k : m)) &&
               LTOK(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_32F, k, n, k)) &&
               LTOK(cublasLtMatrixLayoutCreate(&p->c, CUDA_R_32F, m, n, m)) &&
               LTOK(cublasLtMatmulPreferenceCreate(&pref)) &&
               LTOK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                         sizeof ws)) &&
               LTOK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aa,
                                                         sizeof aa)) &&
               LTOK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ba,
                                                         sizeof ba)) &&
               LTOK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ca,
                                                         sizeof ca)) &&
               LTOK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ca,
                                                         sizeof ca)) &&
               LTOK(cublasLtMatmulAlgoGetHeuristic(r->lt, p->desc, p->a, p->b, p->c, p->c, pref, 1, &res, &found)) &&
               found > 0 && res.state == CUBLAS_STATUS_SUCCESS;
#undef LTOK
    if (pref)
        (void)cublasLtMatmulPreferenceDestroy(pref);
    p->ok = good;
    if (good)
        p->algo = res.algo;
    return p;
}

/* out[N][OC] = inp . w^T + bias through cuBLASLt, the bias added in the
 * product's epilogue (no bias pass, no read of out); 0 where cuBLASLt is
 * off or has no algorithm for the shape (the caller goes the cuBLAS way) */
static int lt_bias_gemm(ze_dev *d, float *out, const float *inp, const float *w, const float *bias, int N, int IC,
                        int OC)
{
    cu_row *r = row(d);
    /* (a bias under 16 bytes' alignment goes the cuBLAS way: cuBLASLt's
     * bias epilogue has no alignment preference to refuse it by, and a
     * misaligned read there would fault, sticky, rather than refuse) */
    if (!r->lt || IC <= 0 || align_of(bias) < 16)
        return 0;
    lt_plan *p = lt_plan_of(d, 1, OC, N, IC, w, inp, bias, out);
    if (!p || !p->ok)
        return 0;
    const float one = 1.0f, zero = 0.0f;
    if (cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias) !=
        CUBLAS_STATUS_SUCCESS)
        return 0;
    gt_begin(d);
    cublasStatus_t s = cublasLtMatmul(r->lt, p->desc, &one, w, p->a, inp, p->b, &zero, out, p->c, out, p->c, &p->algo,
                                      r->lt_ws, LT_WS_BYTES, r->st);
    gt_end(d);
    if (s != CUBLAS_STATUS_SUCCESS) {   /* refused before it ran: this shape goes the cuBLAS way from now on */
        p->ok = 0;
        return 0;
    }
    r->lt_calls++;
    r->flops += 2.0 * (double)OC * (double)N * (double)IC;
    return 1;
}

void ze_dev_cuda_lt(const struct ze_dev *d, int *on, long *calls, int *shapes, int *fused)
{
    const cu_row *r = row(d);
    *on = r->lt != NULL;
    *calls = r->lt_calls;
    *shapes = r->nplans;
    *fused = 0;
    for (int i = 0; i < r->nplans; i++)
        *fused += r->plans[i].ok;
}

static void cu_matmul_fwd(ze_dev *d, float *out, const float *inp, const float *w, const float *bias, int N, int IC,
                          int OC)
{
    if (N <= 0 || OC <= 0)
        return;
    if (bias && lt_bias_gemm(d, out, inp, w, bias, N, IC, OC))
        return;
    float beta = 0.0f;
    if (bias) {
        CU(d, "bias kernel", zc_bias_rows(row(d)->st, out, bias, N, OC));
        beta = 1.0f;
    } else if (IC <= 0) {
        CU(d, "cudaMemsetAsync", cudaMemsetAsync(out, 0, (size_t)N * (size_t)OC * sizeof(float), row(d)->st));
    }
    /* out^T (OC x N, ld OC) = w^T-as-stored^T (w is IC x OC, ld IC: op T) . inp^T (IC x N, ld IC) */
    if (IC > 0)
        sgemm(d, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, IC, w, IC, inp, IC, beta, out, OC);
}

/* The row-major product as cuBLAS sees it: C^T (N x M) = op(B)^T op(A)^T;
 * 16-bit inputs through cublasGemmEx with fp32 accumulation and output. */
static void cu_gemm(ze_dev *d, char ta, char tb, int M, int N, int K, const void *A, const void *B, ze_dt dt,
                    float beta, float *C)
{
    const float one = 1.0f;
    cudaDataType_t t = dt == ZE_F32 ? CUDA_R_32F : dt == ZE_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    gt_begin(d);
    CB(d, "cublasGemmEx", cublasGemmEx(row(d)->blas, tb == 'T' ? CUBLAS_OP_T : CUBLAS_OP_N,
                                       ta == 'T' ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &one, B, t, tb == 'T' ? K : N,
                                       A, t, ta == 'T' ? M : K, &beta, C, CUDA_R_32F, N,
                                       dt == ZE_F32 ? compute_of(d) : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    gt_end(d);
    row(d)->flops += 2.0 * (double)M * (double)N * (double)K;
}

/* set: dinp = dout . w (beta 0: neither zeroed before nor read) */
static void cu_matmul_bwd_x(ze_dev *d, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                            const float *w, int N, int IC, int OC, int set)
{
    if (set && dinp && N > 0 && IC > 0 && OC <= 0)   /* (no product: what zeroing leaves) */
        CU(d, "cudaMemsetAsync", cudaMemsetAsync(dinp, 0, (size_t)N * (size_t)IC * sizeof(float), row(d)->st));
    if (N <= 0 || OC <= 0)
        return;
    if (IC > 0) {
        /* dinp[N][IC] (+)= dout[N][OC] . w[OC][IC]:
         * dinp^T (IC x N, ld IC) (+)= w^T (IC x OC, ld IC) . dout^T (OC x N, ld OC) */
        if (dinp)
            sgemm(d, CUBLAS_OP_N, CUBLAS_OP_N, IC, N, OC, w, IC, dout, OC, set ? 0.0f : 1.0f, dinp, IC);
        /* dw[OC][IC] += dout^T . inp:
         * dw^T (IC x OC, ld IC) += inp^T (IC x N, ld IC) . (dout^T (OC x N, ld OC))^T */
        sgemm(d, CUBLAS_OP_N, CUBLAS_OP_T, IC, OC, N, inp, IC, dout, OC, 1.0f, dw, IC);
    }
    if (dbias)
        CU(d, "bias_grad kernel", zc_bias_grad(row(d)->st, dbias, dout, N, OC));
}

static void cu_matmul_bwd(ze_dev *d, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                          const float *w, int N, int IC, int OC)
{
    cu_matmul_bwd_x(d, dinp, dw, dbias, dout, inp, w, N, IC, OC, 0);
}

static void cu_matmul_bwd_set(ze_dev *d, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                              const float *w, int N, int IC, int OC)
{
    cu_matmul_bwd_x(d, dinp, dw, dbias, dout, inp, w, N, IC, OC, 1);
}

/* The stored-probabilities attention (attn_batched.c): its column-major
 * strided-batched GEMMs are cuBLAS's in the row's math (compute_of), their
 * FLOPs counted as run (the full T x T squares: the CPU row multiplies the
 * causal blocks only, about half), its row kernels kernels.cu's. */
static void za_gemm(void *ctx, char ta, char tb, int m, int n, int k, float alpha, const float *A, int lda,
                    long long sA, const float *B, int ldb, long long sB, float beta, float *C, int ldc, long long sC,
                    int batch)
{
    ze_dev *d = ctx;
    gt_begin(d);
    CB(d, "cublasGemmStridedBatchedEx",
       cublasGemmStridedBatchedEx(row(d)->blas, ta == 'T' ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  tb == 'T' ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, A, CUDA_R_32F, lda, sA, B,
                                  CUDA_R_32F, ldb, sB, &beta, C, CUDA_R_32F, ldc, sC, batch, compute_of(d),
                                  CUBLAS_GEMM_DEFAULT));
    gt_end(d);
    row(d)->flops += 2.0 * (double)m * (double)n * (double)k * (double)batch;
}

static void za_softmax(void *ctx, float *att, int T, size_t rows)
{
    ze_dev *d = ctx;
    CU(d, "causal softmax kernel", zc_causal_softmax(row(d)->st, att, T, rows));
}

static void za_softmax_bwd(void *ctx, float *ds, const float *p, size_t pstride, int T, int heads, float scale)
{
    ze_dev *d = ctx;
    CU(d, "softmax_bwd kernel", zc_softmax_bwd(row(d)->st, ds, p, pstride, T, heads, scale));
}

static const za_ops cu_za = {za_gemm, za_softmax, za_softmax_bwd};

static void cu_attention_fwd(ze_dev *d, float *out, float *att, const float *qkv, int B, int T, int C, int NH,
                             int KV)
{
    if (za_attention_fwd(&cu_za, d, out, att, qkv, B, T, C, NH, KV))   /* (the engine checked the heads) */
        fail(d, "attention_fwd", "the heads do not divide the width, or the KV heads the heads");
}

/* as many heads' scores' gradients at once as the scratch holds (the
 * engine lends the MLP's spent gradients beside its T x T) */
static void cu_attention_bwd(ze_dev *d, float *dqkv, float *scratch, size_t scratch_n, const float *dout,
                             const float *att, const float *qkv, int B, int T, int C, int NH, int KV)
{
    int rc = za_attention_bwd(&cu_za, d, dqkv, scratch, scratch_n, dout, att, qkv, B, T, C, NH, KV);
    if (rc)
        fail(d, "attention_bwd", rc == -2 ? "a scratch smaller than one head's T x T scores"
                                          : "the heads do not divide the width, or the KV heads the heads");
}

/* Flash attention: on the tensor cores under 16-bit math where the head
 * size allows (zc_flash_tc_fits: a multiple of 16 up to 128, as the CPU
 * row's zk_flash_round_heads says, and their shared memory fits this
 * GPU), else the exact fp32 kernels: under every math for another head
 * size, as on the CPU row; under 16-bit math on a GPU whose blocks have
 * too little shared memory (99 KiB on consumer Ampere and Ada: head sizes
 * 96 and 128), a difference from the CPU row of the rounding (and from
 * the planner, which assumes the data-centre parts' room). */
static int tc_flash(ze_dev *d, int C, int NH)
{
    return d->math != ZE_F32 && zc_flash_tc_fits(C, NH, row(d)->smem_optin);
}

/* a flash attention call's events (gt_end after it) and FLOPs */
static void at_begin(ze_dev *d, int B, int T, int q0, int C, int NH, int bwd)
{
    gt_begin_c(d, 1);
    row(d)->attn_flops += ze_flash_flops(B, T, q0, C, NH, bwd);
}

static void cu_flash_fwd(ze_dev *d, float *out, float *lse, const float *qkv, int B, int T, int C, int NH, int KV)
{
    at_begin(d, B, T, 0, C, NH, 0);
    if (tc_flash(d, C, NH))
        CU(d, "flash_fwd tensor-core kernel",
           zc_flash_tc_fwd(row(d)->st, out, lse, qkv, NULL, B, T, 0, T, C, NH, KV, d->math == ZE_F16));
    else
        CU(d, "flash_fwd kernel", zc_flash_fwd(row(d)->st, out, lse, qkv, B, T, C, NH, KV));
    gt_end(d);
}

static void cu_flash_bwd(ze_dev *d, float *dqkv, const float *dout, const float *out, const float *lse,
                         const float *qkv, int B, int T, int C, int NH, int KV)
{
    at_begin(d, B, T, 0, C, NH, 1);
    if (tc_flash(d, C, NH))
        CU(d, "flash_bwd tensor-core kernel",
           zc_flash_tc_bwd(row(d)->st, dqkv, NULL, dout, out, lse, qkv, NULL, B, T, 0, T, C, NH, KV,
                           d->math == ZE_F16));
    else
        CU(d, "flash_bwd kernel", zc_flash_bwd(row(d)->st, dqkv, dout, out, lse, qkv, B, T, C, NH, KV));
    gt_end(d);
}

static void cu_flash_fwd_part(ze_dev *d, float *out, float *lse, const float *qkv, const float *kv, int B, int T,
                              int q0, int Tk, int C, int NH, int KV)
{
    at_begin(d, B, T, q0, C, NH, 0);
    if (tc_flash(d, C, NH))
        CU(d, "flash_fwd_part tensor-core kernel",
           zc_flash_tc_fwd(row(d)->st, out, lse, qkv, kv, B, T, q0, Tk, C, NH, KV, d->math == ZE_F16));
    else
        CU(d, "flash_fwd_part kernel", zc_flash_fwd_part(row(d)->st, out, lse, qkv, kv, B, T, q0, Tk, C, NH, KV));
    gt_end(d);
}

static void cu_flash_bwd_part(ze_dev *d, float *dqkv, float *dkv, const float *dout, const float *out,
                              const float *lse, const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C,
                              int NH, int KV)
{
    at_begin(d, B, T, q0, C, NH, 1);
    if (tc_flash(d, C, NH))
        CU(d, "flash_bwd_part tensor-core kernel",
           zc_flash_tc_bwd(row(d)->st, dqkv, dkv, dout, out, lse, qkv, kv, B, T, q0, Tk, C, NH, KV,
                           d->math == ZE_F16));
    else
        CU(d, "flash_bwd_part kernel",
           zc_flash_bwd_part(row(d)->st, dqkv, dkv, dout, out, lse, qkv, kv, B, T, q0, Tk, C, NH, KV));
    gt_end(d);
}

static void cu_rmsnorm_fwd(ze_dev *d, float *out, float *rstd, const float *inp, const float *w, int N, int C)
{
    CU(d, "rmsnorm_fwd kernel", zc_rmsnorm_fwd(row(d)->st, out, rstd, inp, w, N, C));
}

static void cu_rmsnorm_bwd(ze_dev *d, float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                           const float *rstd, int N, int C)
{
    CU(d, "rmsnorm_bwd kernels", zc_rmsnorm_bwd(row(d)->st, dinp, dw, dout, inp, w, rstd, N, C));
}

static void cu_rope_fwd(ze_dev *d, float *qkv, int B, int T, int C, int NH, int KV, float theta, int t0)
{
    CU(d, "rope_fwd kernel", zc_rope_fwd(row(d)->st, qkv, B, T, C, NH, KV, theta, t0));
}

static void cu_rope_bwd(ze_dev *d, float *dqkv, int B, int T, int C, int NH, int KV, float theta, int t0)
{
    CU(d, "rope_bwd kernel", zc_rope_bwd(row(d)->st, dqkv, B, T, C, NH, KV, theta, t0));
}

static void cu_swiglu_fwd(ze_dev *d, float *out, const float *inp, int N, int F)
{
    CU(d, "swiglu_fwd kernel", zc_swiglu_fwd(row(d)->st, out, inp, N, F));
}

static void cu_swiglu_bwd(ze_dev *d, float *dinp, const float *inp, const float *dout, int N, int F)
{
    CU(d, "swiglu_bwd kernel", zc_swiglu_bwd(row(d)->st, dinp, inp, dout, N, F, 0));
}

static void cu_swiglu_bwd_set(ze_dev *d, float *dinp, const float *inp, const float *dout, int N, int F)
{
    CU(d, "swiglu_bwd kernel", zc_swiglu_bwd(row(d)->st, dinp, inp, dout, N, F, 1));
}

static void cu_gelu_fwd(ze_dev *d, float *out, const float *inp, size_t n)
{
    CU(d, "gelu_fwd kernel", zc_gelu_fwd(row(d)->st, out, inp, n));
}

static void cu_gelu_bwd(ze_dev *d, float *dinp, const float *inp, const float *dout, size_t n)
{
    CU(d, "gelu_bwd kernel", zc_gelu_bwd(row(d)->st, dinp, inp, dout, n, 0));
}

static void cu_gelu_bwd_set(ze_dev *d, float *dinp, const float *inp, const float *dout, size_t n)
{
    CU(d, "gelu_bwd kernel", zc_gelu_bwd(row(d)->st, dinp, inp, dout, n, 1));
}

static void cu_acc(ze_dev *d, float *y, const float *x, size_t n)
{
    CU(d, "acc kernel", zc_acc(row(d)->st, y, x, n));
}

/* one strided copy on the stream (device to device) */
static void cu_copy_rows(ze_dev *d, float *y, size_t ly, const float *x, size_t lx, size_t rows, size_t n)
{
    if (rows == 0 || n == 0)
        return;
    CU(d, "cudaMemcpy2DAsync", cudaMemcpy2DAsync(y, ly * sizeof *y, x, lx * sizeof *x, n * sizeof *x, rows,
                                                 cudaMemcpyDeviceToDevice, row(d)->st));
}

static void cu_acc_rows(ze_dev *d, float *y, size_t ly, const float *x, size_t lx, size_t rows, size_t n)
{
    CU(d, "acc_rows kernel", zc_acc_rows(row(d)->st, y, ly, x, lx, rows, n));
}

/* The device scalar summed by kernel `what` (launched by the caller after
 * the zeroing here), read back. */
static void scalar_zero(ze_dev *d)
{
    CU(d, "cudaMemsetAsync", cudaMemsetAsync(row(d)->dscalar, 0, sizeof(double), row(d)->st));
}

static double scalar_read(ze_dev *d)
{
    cu_row *r = row(d);
    CU(d, "cudaMemcpyAsync", cudaMemcpyAsync(r->hscalar, r->dscalar, sizeof(double), cudaMemcpyDeviceToHost, r->st));
    sync_stream(d);
    return *r->hscalar;
}

static double cu_crossentropy(ze_dev *d, float *logits, const int *targets, int N, int V, float dscale)
{
    if (N <= 0 || V <= 0)
        return 0.0;
    float dn = dscale / (float)N;
    scalar_zero(d);
    CU(d, "crossentropy kernel", zc_crossentropy(row(d)->st, logits, targets, N, V, dn, row(d)->dscalar));
    return scalar_read(d) / (double)N;
}

static void cu_xent_max(ze_dev *d, const float *logits, int N, int V, float *mx)
{
    CU(d, "xent_max kernel", zc_xent_max(row(d)->st, logits, N, V, mx));
}

static void cu_xent_sums(ze_dev *d, float *logits, const int *targets, int N, int V, const float *mx, float *se,
                         float *tl)
{
    CU(d, "xent_sums kernel", zc_xent_sums(row(d)->st, logits, targets, N, V, mx, se, tl));
}

static void cu_xent_grad(ze_dev *d, float *logits, const int *targets, int N, int V, const float *se, float dscale)
{
    CU(d, "xent_grad kernel", zc_xent_grad(row(d)->st, logits, targets, N, V, se, N > 0 ? dscale / (float)N : 0.0f));
}

/* ------------------------------------------------------------ optimizer */

static void cu_adamw(ze_dev *d, ze_pool pool, float *p, const void *g, ze_dt gdt, float gscale, float *m, float *v,
                     size_t n, float lr, float beta1, float beta2, float eps, float weight_decay, int t)
{
    if (pool == ZE_HOST) {
        sync_stream(d);
        ze_dev_cpu_ops.adamw(d, pool, p, g, gdt, gscale, m, v, n, lr, beta1, beta2, eps, weight_decay, t);
        return;
    }
    /* zk_adamw's constants, computed as it does */
    float bc1 = (float)(1.0 - pow((double)beta1, (double)t));
    float bc2 = (float)(1.0 - pow((double)beta2, (double)t));
    float step = lr / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2), decay = 1.0f - lr * weight_decay;
    float a1 = 1.0f - beta1, a2 = 1.0f - beta2;
    CU(d, "adamw kernel", zc_adamw(row(d)->st, p, g, (int)gdt, gscale, m, v, n, beta1, beta2, a1, a2, eps, step,
                                   inv_sqrt_bc2, decay));
}

static void cu_sgd(ze_dev *d, ze_pool pool, float *p, const void *g, ze_dt gdt, float gscale, float *mom, size_t n,
                   float lr, float momentum, float weight_decay)
{
    if (pool == ZE_HOST) {
        sync_stream(d);
        ze_dev_cpu_ops.sgd(d, pool, p, g, gdt, gscale, mom, n, lr, momentum, weight_decay);
        return;
    }
    CU(d, "sgd kernel", zc_sgd(row(d)->st, p, g, (int)gdt, gscale, mom, n, lr, momentum, weight_decay));
}

static double cu_sumsq(ze_dev *d, ze_pool pool, const void *x, ze_dt dt, size_t n)
{
    if (pool == ZE_HOST) {
        sync_stream(d);
        return ze_dev_cpu_ops.sumsq(d, pool, x, dt, n);
    }
    if (n == 0)
        return 0.0;
    scalar_zero(d);
    CU(d, "sumsq kernel", zc_sumsq(row(d)->st, x, (int)dt, n, row(d)->dscalar));
    return scalar_read(d);
}

/* ------------------------------------------------------------------ time */

static void cu_sync(ze_dev *d)
{
    sync_stream(d);
}

static void cu_mark(ze_dev *d, int slot)
{
    CU(d, "cudaEventRecord", cudaEventRecord(row(d)->ev[slot], row(d)->st));
    row(d)->recorded[slot] = 1;
}

static double cu_elapsed(ze_dev *d, int from, int to)
{
    cu_row *r = row(d);
    if (!r->recorded[from] || !r->recorded[to])
        return 0.0;
    CU(d, "cudaEventSynchronize", cudaEventSynchronize(r->ev[to]));
    CU(d, "cudaEventSynchronize", cudaEventSynchronize(r->ev[from]));
    float ms = 0.0f;
    CU(d, "cudaEventElapsedTime", cudaEventElapsedTime(&ms, r->ev[from], r->ev[to]));
    return (double)ms / 1000.0;
}

static void cu_gemm_stats(ze_dev *d, double *seconds, double *flops)
{
    gt_flush(d);
    *seconds = row(d)->gemm_s;   /* between an event before and after each */
    *flops = row(d)->flops;
}

static void cu_attn_stats(ze_dev *d, double *seconds, double *flops)
{
    gt_flush(d);
    *seconds = row(d)->attn_s;
    *flops = row(d)->attn_flops;
}

/* ------------------------------------------------------------------ life */

static void release(cu_row *r)
{
    for (int i = 0; i < ZE_NMARK; i++)
        if (r->ev[i])
            (void)cudaEventDestroy(r->ev[i]);
    for (int i = 0; r->gev && i < 2 * GEV_PAIRS; i++)
        if (r->gev[i])
            (void)cudaEventDestroy(r->gev[i]);
    free(r->gev);
    free(r->gcls);
    for (int i = 0; i < r->nplans; i++) {
        lt_plan *p = &r->plans[i];
        if (p->desc)
            (void)cublasLtMatmulDescDestroy(p->desc);
        if (p->a)
            (void)cublasLtMatrixLayoutDestroy(p->a);
        if (p->b)
            (void)cublasLtMatrixLayoutDestroy(p->b);
        if (p->c)
            (void)cublasLtMatrixLayoutDestroy(p->c);
    }
    if (r->lt)
        (void)cublasLtDestroy(r->lt);
    if (r->blas)
        (void)cublasDestroy(r->blas);
    if (r->lt_ws)   /* (after the handles that use it) */
        (void)cudaFree(r->lt_ws);
    if (r->dscalar)
        (void)cudaFree(r->dscalar);
    if (r->hscalar)
        (void)cudaFreeHost(r->hscalar);
    if (r->staging)
        (void)cudaFreeHost(r->staging);
    if (r->st)
        (void)cudaStreamDestroy(r->st);
    free(r);
}

static void cu_fini(ze_dev *d)
{
    cu_row *r = row(d);
    if (!r)
        return;
    (void)cudaStreamSynchronize(r->st);
    release(r);
    d->impl = NULL;
}

static void cu_on_peak(ze_dev *d)
{
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) == cudaSuccess)
        d->ovh.used_at_peak = (uint64_t)(tot - fr);
    else
        (void)cudaGetLastError();
}

static const ze_dev_ops cuda_ops = {
    .name = "cuda",
    .mem_alloc = cu_mem_alloc,
    .mem_free = cu_mem_free,
    .copy = cu_copy,
    .zero = cu_zero,
    .convert = cu_convert,
    .narrow = cu_narrow,
    .widen = cu_widen,
    .init = cu_init,
    .embed_fwd = cu_embed_fwd,
    .embed_bwd = cu_embed_bwd,
    .layernorm_fwd = cu_layernorm_fwd,
    .layernorm_bwd = cu_layernorm_bwd,
    .matmul_fwd = cu_matmul_fwd,
    .matmul_bwd = cu_matmul_bwd,
    .matmul_bwd_set = cu_matmul_bwd_set,
    .gemm = cu_gemm,
    .attention_fwd = cu_attention_fwd,
    .attention_bwd = cu_attention_bwd,
    .flash_fwd = cu_flash_fwd,
    .flash_bwd = cu_flash_bwd,
    .copy_rows = cu_copy_rows,
    .acc_rows = cu_acc_rows,
    .flash_fwd_part = cu_flash_fwd_part,
    .flash_bwd_part = cu_flash_bwd_part,
    .gelu_fwd = cu_gelu_fwd,
    .gelu_bwd = cu_gelu_bwd,
    .gelu_bwd_set = cu_gelu_bwd_set,
    .rmsnorm_fwd = cu_rmsnorm_fwd,
    .rmsnorm_bwd = cu_rmsnorm_bwd,
    .rope_fwd = cu_rope_fwd,
    .rope_bwd = cu_rope_bwd,
    .swiglu_fwd = cu_swiglu_fwd,
    .swiglu_bwd = cu_swiglu_bwd,
    .swiglu_bwd_set = cu_swiglu_bwd_set,
    .acc = cu_acc,
    .crossentropy = cu_crossentropy,
    .xent_max = cu_xent_max,
    .xent_sums = cu_xent_sums,
    .xent_grad = cu_xent_grad,
    .adamw = cu_adamw,
    .sgd = cu_sgd,
    .sumsq = cu_sumsq,
    .sync = cu_sync,
    .mark = cu_mark,
    .elapsed = cu_elapsed,
    .gemm_stats = cu_gemm_stats,
    .attn_stats = cu_attn_stats,
    .gemm_log_clear = NULL,
    .fini = cu_fini,
};

int ze_cuda_devices(char *msg, size_t n)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (msg && n)
            snprintf(msg, n, "no CUDA device visible: %s", cudaGetErrorString(e));
        return 0;
    }
    if (count <= 0) {
        if (msg && n)
            snprintf(msg, n, "no CUDA device visible");
        return 0;
    }
    return count;
}

#define INIT_CU(what, call)                                                                           \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess) {                                                                      \
            snprintf(d->err, sizeof d->err, "%s: %s", (what), cudaGetErrorString(e_));                \
            goto fail;                                                                                \
        }                                                                                             \
    } while (0)

#define INIT_CB(what, call)                                                                           \
    do {                                                                                              \
        cublasStatus_t s_ = (call);                                                                   \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                            \
            snprintf(d->err, sizeof d->err, "%s: %s", (what), cublasGetStatusString(s_));             \
            goto fail;                                                                                \
        }                                                                                             \
    } while (0)

/* The CUDA row on GPU `ordinal`.  used_before: the device's used bytes
 * before this process made its context (what the ranks before it on this
 * GPU use).  Measures the context (after cudaFree(0)) and the stream with
 * cuBLAS and its workspace (after a warm-up sgemm) with cudaMemGetInfo,
 * then takes its own pinned staging and small scalars. */
int ze_dev_cuda_init(ze_dev *d, ze_alloc *a, int ordinal, uint64_t used_before)
{
    memset(d, 0, sizeof *d);
    d->a = a;
    d->ordinal = ordinal;
    char why[200];
    int count = ze_cuda_devices(why, sizeof why);
    if (count == 0) {
        snprintf(d->err, sizeof d->err, "%s", why);
        return -1;
    }
    if (ordinal < 0 || ordinal >= count) {
        snprintf(d->err, sizeof d->err, "GPU %d out of range: %d visible", ordinal, count);
        return -1;
    }
    cu_row *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(d->err, sizeof d->err, "no host memory for the CUDA row");
        return -1;
    }
    float *warm = NULL;
    size_t fr = 0, tot = 0;
    INIT_CU("cudaSetDevice", cudaSetDevice(ordinal));
    INIT_CU("cudaFree(0) (creating the context)", cudaFree(0));
    INIT_CU("cudaMemGetInfo", cudaMemGetInfo(&fr, &tot));
    uint64_t used = (uint64_t)(tot - fr);
    d->ovh.total = (uint64_t)tot;
    d->ovh.used_base = used_before;
    d->ovh.context = used > used_before ? used - used_before : 0;

    INIT_CU("cudaStreamCreateWithFlags", cudaStreamCreateWithFlags(&r->st, cudaStreamNonBlocking));
    INIT_CB("cublasCreate", cublasCreate(&r->blas));
    INIT_CB("cublasSetStream", cublasSetStream(r->blas, r->st));
    INIT_CB("cublasSetMathMode", cublasSetMathMode(r->blas, CUBLAS_DEFAULT_MATH));   /* no TF32 */
    /* cuBLASLt for the products with a bias, unless ZPLAN_CUBLASLT=0 (the
     * bias added by a kernel before the product, as without it:
     * scripts/bench-gpu.sh times both).  Its workspace is cuBLAS's too
     * (cublasSetWorkspace: one stream, so they never use it at once), of
     * the size cuBLAS takes for itself on Hopper, so that there the
     * runtime's memory stays about what it was (elsewhere cuBLAS's own is
     * smaller; either way it is measured, with cuBLAS's, below) */
    {
        const char *lt = getenv("ZPLAN_CUBLASLT");
        if (!lt || strcmp(lt, "0") != 0) {   /* (where any of it fails, the row runs without it) */
            if (cublasLtCreate(&r->lt) != CUBLAS_STATUS_SUCCESS)
                r->lt = NULL;
            else if (cudaMalloc(&r->lt_ws, LT_WS_BYTES) != cudaSuccess ||
                     cublasSetWorkspace(r->blas, r->lt_ws, LT_WS_BYTES) != CUBLAS_STATUS_SUCCESS) {
                (void)cudaGetLastError();
                (void)cublasLtDestroy(r->lt);
                r->lt = NULL;
                if (r->lt_ws && cublasSetWorkspace(r->blas, NULL, 0) == CUBLAS_STATUS_SUCCESS) {
                    (void)cudaFree(r->lt_ws);
                    r->lt_ws = NULL;
                }
            }
        }
    }
    /* a tiny sgemm so that cuBLAS takes its workspace now, counted with it */
    INIT_CU("cudaMalloc", cudaMalloc((void **)&warm, 3 * 64 * sizeof(float)));
    INIT_CU("cudaMemsetAsync", cudaMemsetAsync(warm, 0, 3 * 64 * sizeof(float), r->st));
    {
        const float one = 1.0f, zero = 0.0f;
        INIT_CB("cublasSgemm", cublasSgemm(r->blas, CUBLAS_OP_T, CUBLAS_OP_N, 8, 8, 8, &one, warm, 8, warm + 64, 8,
                                           &zero, warm + 128, 8));
    }
    INIT_CU("cudaStreamSynchronize", cudaStreamSynchronize(r->st));
    INIT_CU("cudaFree", cudaFree(warm));
    warm = NULL;
    INIT_CU("cudaMemGetInfo", cudaMemGetInfo(&fr, &tot));
    uint64_t used2 = (uint64_t)(tot - fr);
    d->ovh.blas = used2 > used ? used2 - used : 0;

    for (int i = 0; i < ZE_NMARK; i++)
        INIT_CU("cudaEventCreate", cudaEventCreate(&r->ev[i]));
    r->gev = calloc(2 * GEV_PAIRS, sizeof *r->gev);
    r->gcls = calloc(GEV_PAIRS, 1);
    if (!r->gev || !r->gcls)
        INIT_CU("calloc (GEMM events)", cudaErrorMemoryAllocation);
    for (int i = 0; i < 2 * GEV_PAIRS; i++)
        INIT_CU("cudaEventCreate (GEMM timing)", cudaEventCreate(&r->gev[i]));
    INIT_CU("cudaMallocHost (staging)", cudaMallocHost(&r->staging, STAGING_BYTES));
    r->staging_bytes = STAGING_BYTES;
    INIT_CU("cudaMalloc (scalars)", cudaMalloc((void **)&r->dscalar, 2 * sizeof(double)));
    INIT_CU("cudaMallocHost (scalars)", cudaMallocHost((void **)&r->hscalar, 2 * sizeof(double)));
    d->ovh.staging = STAGING_BYTES;

    struct cudaDeviceProp prop;
    INIT_CU("cudaGetDeviceProperties", cudaGetDeviceProperties(&prop, ordinal));
    snprintf(d->desc, sizeof d->desc, "%.95s", prop.name);
    r->smem_optin = prop.sharedMemPerBlockOptin;

    /* what the row's own small allocations took counts with its context,
     * so that the next rank on this GPU starts from here */
    INIT_CU("cudaMemGetInfo", cudaMemGetInfo(&fr, &tot));
    uint64_t used3 = (uint64_t)(tot - fr);
    d->ovh.context += used3 > used2 ? used3 - used2 : 0;

    d->granule[ZE_DEVICE] = CUDA_GRANULE;
    d->granule[ZE_HOST] = 0;
    d->on_peak = cu_on_peak;
    d->impl = r;
    d->ops = &cuda_ops;
    return 0;

fail:
    (void)cudaGetLastError();
    if (warm)
        (void)cudaFree(warm);
    release(r);
    d->impl = NULL;
    d->ops = NULL;
    return -1;
}
