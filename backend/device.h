/* device.h - the one table of operations the engine runs on.
 *
 * The engine (engine.c) decides what is allocated, gathered, freed,
 * offloaded, recomputed and sent; a device row (a ze_dev_ops table) does it:
 * memory of two pools (device, host), copies between them, conversions
 * between storage types, every kernel of the step, the GEMMs, time.  Two
 * rows: the CPU (cpu/device_cpu.c: host memory, OpenBLAS, the kernels of
 * cpu/kernels.c; "device" and "host" are two accounting pools of the same
 * RAM) and CUDA (cuda/device_cuda.c: cudaMalloc, cudaMallocHost, cuBLAS and
 * the kernels of cuda/kernels.cu).  The engine touches no memory itself: no
 * memcpy/memset/malloc on a tensor, no kernel of its own.
 *
 * Every tensor goes through ze_dev_alloc / ze_dev_free, which account it in
 * the tracking allocator (alloc.h) under its pool and class and then ask
 * the row for the memory; a row's refusal (cudaMalloc out of memory) is an
 * out-of-memory outcome like the cap's.  Token ids (8 bytes a token) are the
 * one untracked allocation (ze_dev_raw).
 *
 * Kernels follow cpu/kernels.h: row-major, weights w[OC][IC], backward
 * functions ACCUMULATE into every gradient they write.  Pointers given to
 * the model's kernels are device-pool memory; the optimizer's kernels (adamw,
 * sgd, sumsq, all_finite, scale) take the pool their arrays live in, since
 * with offload the optimizer runs on the host.  Calls are ordered as issued
 * (one stream); what returns a value (the loss, a sum of squares) waits for
 * the work before it. */
#ifndef ZE_DEVICE_H
#define ZE_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include "alloc.h"
#include "init.h"

/* Storage types of parameters and gradients (and of the collectives that
 * move them). */
typedef enum ze_dt { ZE_F32 = 0, ZE_BF16, ZE_F16 } ze_dt;
extern const char *const ze_dt_names[];   /* fp32 bf16 fp16 */
static inline size_t ze_dt_size(ze_dt d) { return d == ZE_F32 ? 4 : 2; }

/* The FLOPs of a flash attention call's products: T query rows at
 * positions q0 .. q0 + T - 1 (0 for the whole sequence) of B sequences and
 * NH heads of hs = C / NH, each seeing the keys up to its own position:
 * pairs = B NH (T q0 + T (T + 1) / 2), 2 hs FLOPs a pair a product, 2
 * products forward (Q K^T, P V), 5 backward (Q K^T again, dO V^T, P^T dO,
 * dS K, dS^T Q). */
static inline double ze_flash_flops(int B, int T, int q0, int C, int NH, int bwd)
{
    if (B <= 0 || T <= 0 || C <= 0 || NH <= 0)
        return 0.0;
    double pairs = (double)B * NH * ((double)T * q0 + (double)T * (T + 1) / 2.0);
    return (bwd ? 5.0 : 2.0) * 2.0 * (double)(C / NH) * pairs;
}
/* Element i of an array of type dt. */
static inline void *ze_at(const void *base, ze_dt dt, size_t i)
{
    return (char *)(uintptr_t)base + i * ze_dt_size(dt);
}

/* Marks of time (ze_dev_ops.mark): the engine's phase boundaries. */
enum { ZE_MARK_FWD0 = 0, ZE_MARK_FWD1, ZE_MARK_BWD1, ZE_MARK_OPT0, ZE_MARK_OPT1, ZE_NMARK };

typedef struct ze_dev ze_dev;

typedef struct ze_dev_ops {
    const char *name;   /* "cpu", "cuda" */

    /* ---- memory (no accounting here: ze_dev_alloc does it) */
    /* bytes of the pool, uninitialised; NULL when the pool has no room */
    void *(*mem_alloc)(ze_dev *d, ze_pool pool, size_t bytes);
    void (*mem_free)(ze_dev *d, ze_pool pool, void *p);
    /* bytes from src (pool sp) to dst (pool dp); they do not overlap */
    void (*copy)(ze_dev *d, void *dst, ze_pool dp, const void *src, ze_pool sp, size_t bytes);
    void (*zero)(ze_dev *d, void *p, ze_pool pool, size_t bytes);
    /* n values: dst (type ddt, pool dp) = src (type sdt, pool sp), rounded
     * to nearest even when narrowing; acc != 0: dst += src, the sum taken in
     * fp32 and rounded into ddt.  src may be any host memory when sp is
     * ZE_HOST (a stack array of initial values).  dst and src do not
     * overlap. */
    void (*convert)(ze_dev *d, void *dst, ze_pool dp, ze_dt ddt, const void *src, ze_pool sp, ze_dt sdt, size_t n,
                    int acc);
    /* In place, on the device: buf holds n floats, rewritten as n values of
     * dt from its start (narrow); buf holds n values of dt from its start and
     * room for n floats, widened (widen). */
    void (*narrow)(ze_dev *d, void *buf, ze_dt dt, size_t n);
    void (*widen)(ze_dev *d, void *buf, ze_dt dt, size_t n);
    /* dst (type dt, pool) = the initial values first .. first+n-1 of the
     * unit that desc describes (init.h) */
    void (*init)(ze_dev *d, void *dst, ze_pool pool, ze_dt dt, const ze_init_desc *desc, size_t first, size_t n);

    /* ---- the model's kernels (cpu/kernels.h says what each computes) */
    void (*embed_fwd)(ze_dev *d, float *out, const int *tok, const float *wte, const float *wpe, int B, int T, int C);
    void (*embed_bwd)(ze_dev *d, float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T, int C);
    void (*layernorm_fwd)(ze_dev *d, float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, int N, int C);
    void (*layernorm_bwd)(ze_dev *d, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, const float *mean, const float *rstd, int N, int C);
    void (*matmul_fwd)(ze_dev *d, float *out, const float *inp, const float *w, const float *bias, int N, int IC,
                       int OC);
    void (*matmul_bwd)(ze_dev *d, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                       const float *w, int N, int IC, int OC);
    /* The GEMM, row-major as cblas: C[M][N] = op(A) op(B) + beta C, A and B
     * of type dt (fp32: no TF32 unless the math says; bf16, fp16: 16-bit
     * inputs), accumulated and stored in fp32; ta, tb 'N' or 'T'.  fp32
     * inputs follow d->math as matmul's do. */
    void (*gemm)(ze_dev *d, char ta, char tb, int M, int N, int K, const void *A, const void *B, ze_dt dt,
                 float beta, float *C);
    /* KV: the K and V heads (grouped-query attention; NH: one per head) */
    void (*attention_fwd)(ze_dev *d, float *out, float *att, const float *qkv, int B, int T, int C, int NH, int KV);
    /* scratch: scratch_n floats, at least T*T (a row may use it or not;
     * the CUDA row takes as many heads' T*T at once as fit) */
    void (*attention_bwd)(ze_dev *d, float *dqkv, float *scratch, size_t scratch_n, const float *dout,
                          const float *att, const float *qkv, int B, int T, int C, int NH, int KV);
    /* the same attention flash-style (flash=1): lse[B][NH][T] the
     * log-sum-exp of each row's scaled scores in place of the T x T
     * probabilities; bwd reads out (the forward's output) and lse, and
     * holds no T x T matrix, here or anywhere */
    void (*flash_fwd)(ze_dev *d, float *out, float *lse, const float *qkv, int B, int T, int C, int NH, int KV);
    void (*flash_bwd)(ze_dev *d, float *dqkv, const float *dout, const float *out, const float *lse,
                      const float *qkv, int B, int T, int C, int NH, int KV);
    /* flash attention of a part of the sequence (context parallelism;
     * cpu/kernels.h's zk_flash_fwd_part): qkv's T rows are positions q0
     * .. q0 + T - 1, the keys and values of positions 0 .. Tk - 1 in
     * kv[B][Tk][2 KV hs]; bwd adds the queries' gradients to dqkv's Q
     * columns and the keys' and values' to dkv.  NULL in a row without
     * them (the engine refuses cp > 1 there) */
    void (*flash_fwd_part)(ze_dev *d, float *out, float *lse, const float *qkv, const float *kv, int B, int T, int q0,
                           int Tk, int C, int NH, int KV);
    void (*flash_bwd_part)(ze_dev *d, float *dqkv, float *dkv, const float *dout, const float *out, const float *lse,
                           const float *qkv, const float *kv, int B, int T, int q0, int Tk, int C, int NH, int KV);
    void (*gelu_fwd)(ze_dev *d, float *out, const float *inp, size_t n);
    void (*gelu_bwd)(ze_dev *d, float *dinp, const float *inp, const float *dout, size_t n);
    /* matmul_bwd, gelu_bwd and swiglu_bwd with the input gradient dinp
     * WRITTEN, not added to: its old values are never read (the engine's
     * block gradients, made fresh for one product: no zeroing pass before
     * it, no read of the zeros in it); dw and dbias still accumulate.
     * What they write is what zeroing dinp and the accumulating op would
     * leave (the kernels to the bit; a product with beta 0 in value: a
     * zero's sign may differ). */
    void (*matmul_bwd_set)(ze_dev *d, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                           const float *w, int N, int IC, int OC);
    void (*gelu_bwd_set)(ze_dev *d, float *dinp, const float *inp, const float *dout, size_t n);
    /* the LLaMA family's: RMSNorm, rotary positions on Q and K (in place),
     * the SwiGLU gate */
    void (*rmsnorm_fwd)(ze_dev *d, float *out, float *rstd, const float *inp, const float *w, int N, int C);
    void (*rmsnorm_bwd)(ze_dev *d, float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                        const float *rstd, int N, int C);
    /* t0: the position of qkv's first row in its sequence (0 but for a
     * part of it, context parallelism) */
    void (*rope_fwd)(ze_dev *d, float *qkv, int B, int T, int C, int NH, int KV, float theta, int t0);
    void (*rope_bwd)(ze_dev *d, float *dqkv, int B, int T, int C, int NH, int KV, float theta, int t0);
    void (*swiglu_fwd)(ze_dev *d, float *out, const float *inp, int N, int F);
    void (*swiglu_bwd)(ze_dev *d, float *dinp, const float *inp, const float *dout, int N, int F);
    void (*swiglu_bwd_set)(ze_dev *d, float *dinp, const float *inp, const float *dout, int N, int F);
    /* y += x */
    void (*acc)(ze_dev *d, float *y, const float *x, size_t n);
    /* rows of n floats on the device, the i-th at y + i ly and x + i lx:
     * copy_rows y = x, acc_rows y += x (a column block of a wider tensor:
     * context parallelism's keys and values out of and back into qkv) */
    void (*copy_rows)(ze_dev *d, float *y, size_t ly, const float *x, size_t lx, size_t rows, size_t n);
    void (*acc_rows)(ze_dev *d, float *y, size_t ly, const float *x, size_t lx, size_t rows, size_t n);
    /* the mean loss; logits become d(loss)/d(logits) * dscale */
    double (*crossentropy)(ze_dev *d, float *logits, const int *targets, int N, int V, float dscale);
    /* the same over a vocabulary shard, in the three steps of
     * zk_xent_max, zk_xent_sums, zk_xent_grad (mx, se, tl: N each, on
     * the device); NULL in a row without them (no tensor parallelism) */
    void (*xent_max)(ze_dev *d, const float *logits, int N, int V, float *mx);
    void (*xent_sums)(ze_dev *d, float *logits, const int *targets, int N, int V, const float *mx, float *se,
                      float *tl);
    void (*xent_grad)(ze_dev *d, float *logits, const int *targets, int N, int V, const float *se, float dscale);

    /* ---- the optimizer's kernels, on arrays of `pool`; g of type gdt is
     * multiplied by gscale (unscaling and clipping) as it is read */
    void (*adamw)(ze_dev *d, ze_pool pool, float *p, const void *g, ze_dt gdt, float gscale, float *m, float *v,
                  size_t n, float lr, float beta1, float beta2, float eps, float weight_decay, int t);
    void (*sgd)(ze_dev *d, ze_pool pool, float *p, const void *g, ze_dt gdt, float gscale, float *mom, size_t n,
                float lr, float momentum, float weight_decay);
    /* sum of squares of n values of type dt, in double (inf/NaN propagate) */
    double (*sumsq)(ze_dev *d, ze_pool pool, const void *x, ze_dt dt, size_t n);

    /* ---- time and order */
    void (*sync)(ze_dev *d);
    /* note the point the device's work has reached, as mark `slot` */
    void (*mark)(ze_dev *d, int slot);
    /* seconds between two marks (waits for the later one) */
    double (*elapsed)(ze_dev *d, int from, int to);
    /* matrix multiplies since the start: seconds (0 where not timed; the
     * CPU row's wall clock around each sgemm, the CUDA row's events around
     * each cuBLAS call, waited for here), FLOPs */
    void (*gemm_stats)(ze_dev *d, double *seconds, double *flops);
    /* flash attention since the start (flash_* and their parts): seconds
     * (the CPU row's wall clock around each call, the CUDA row's events
     * around each kernel, waited for here) and the FLOPs of its products
     * over the causal pairs it computes (ze_flash_flops) */
    void (*attn_stats)(ze_dev *d, double *seconds, double *flops);
    /* forget the GEMM shapes logged so far (the CPU row replays the steady
     * steps' shapes through sgemm alone); NULL: no log */
    void (*gemm_log_clear)(ze_dev *d);

    void (*fini)(ze_dev *d);
} ze_dev_ops;

/* What a row measured of the runtime's own device memory (the planner's
 * "overhead" class), bytes; 0 where there is none (the CPU). */
typedef struct ze_dev_overhead {
    uint64_t context;          /* the CUDA context of this process */
    uint64_t blas;             /* the cuBLAS handle and its workspace */
    uint64_t comm;             /* the communicators (NCCL), after they were made */
    uint64_t used_at_peak;     /* the device's used bytes when the tracked total peaked */
    uint64_t used_base;        /* the device's used bytes before this process made its context */
    uint64_t total;            /* the device's memory */
    uint64_t staging;          /* pinned host bytes the row keeps for copies and staged collectives */
} ze_dev_overhead;

/* A live tensor: where it is and what it counts as. */
typedef struct ze_block {
    void *p;
    uint64_t bytes;
    uint32_t pool, cls;
} ze_block;

struct ze_dev {
    const ze_dev_ops *ops;
    ze_alloc *a;          /* the tracking allocator (the engine's) */
    void *impl;           /* the row's own state */
    char desc[96];        /* what runs: "CPU (OpenBLAS)", "NVIDIA H200" */
    int ordinal;          /* the GPU's number, -1 on the CPU */
    int shared;           /* other ranks share this GPU */
    /* The arithmetic of the products (matmul_fwd/bwd, attention_fwd/bwd,
     * and gemm on fp32 inputs): ZE_F32, exact fp32 products (no TF32); ZE_BF16
     * or ZE_F16, each operand rounded to that type (nearest even) and the
     * products accumulated in fp32: the tensor cores' bf16/fp16 math on
     * fp32 tensors (engine key gemm=).  The CPU row rounds so; the CUDA
     * row asks cuBLAS for it (FAST_16BF/16F compute types, which its
     * header allows to convert to TF32 instead: tests/test_cuda holds it
     * to the 16-bit result).  The attention's products follow it too
     * (attention_fwd/bwd; flash_* tile by tile, the CPU row's
     * zk_flash_*_m, the CUDA row's tensor-core kernels where the head size
     * is a multiple of 16 up to 128, its exact fp32 ones otherwise).  Set
     * by the engine (ze_train); ZE_F32 after init. */
    ze_dt math;
    ze_dev_overhead ovh;
    uint64_t granule[ZE_NPOOL];   /* what the memory's allocator rounds a request up to (0: nothing) */
    /* where the tracked total peaked, the row may read the device (CUDA:
     * cudaMemGetInfo into ovh.used_at_peak); NULL: nothing to read */
    void (*on_peak)(ze_dev *d);
    /* live tensors by address (open addressing) */
    ze_block *blocks;
    size_t nblocks, cap_blocks;
    double wall[ZE_NMARK];   /* marks as wall-clock seconds (the CPU row) */
    char err[256];        /* the row's last failure, for the record */
};

/* A tensor of `bytes` in pool/class, zeroed when zero != 0; NULL when the
 * cap or the row refused it (d->a->oom set) or the host has no memory. */
void *ze_dev_alloc(ze_dev *d, ze_pool pool, ze_class cls, size_t bytes, int zero);
void ze_dev_free(ze_dev *d, void *p);
/* Untracked device memory for token ids (freed with ze_dev_raw_free). */
void *ze_dev_raw(ze_dev *d, size_t bytes);
void ze_dev_raw_free(ze_dev *d, void *p);
/* Release what is still live and the row (idempotent). */
void ze_dev_fini(ze_dev *d);

/* The rows.  ze_dev_cpu_init never fails; ze_dev_cuda_init returns 0, or -1
 * with d->err saying why (no GPU, the ordinal out of range, a CUDA or
 * cuBLAS failure).  a: the tracking allocator the tensors count in. */
void ze_dev_cpu_init(ze_dev *d, ze_alloc *a);
/* The CPU row's table: its conversions and optimizer kernels work on any
 * host memory, and the CUDA row runs its host-pool work through them. */
extern const ze_dev_ops ze_dev_cpu_ops;
#ifdef ZP_HAVE_CUDA
/* The GPUs this process sees (0 when none), and why none in msg. */
int ze_cuda_devices(char *msg, size_t n);
int ze_dev_cuda_init(ze_dev *d, ze_alloc *a, int ordinal, uint64_t used_before);
#endif

#endif
