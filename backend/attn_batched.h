/* attn_batched.h - the stored-probabilities attention (cpu/kernels.h's
 * zk_attention_fwd/bwd, and their 16-bit math twins) as strided-batched
 * GEMMs around two row kernels: the CUDA row's (cuda/device_cuda.c runs it
 * with cublasGemmStridedBatchedEx and kernels.cu's k_causal_softmax and
 * k_softmax_bwd).  Plain C with no CUDA in it, so that tests/test_attbatch
 * runs the same sequence of calls on the CPU against emulated GEMMs and
 * kernels where no GPU is (the index math, the batches' strides and that no
 * two members of a batch write one value).
 *
 * Layout as cpu/kernels.h: qkv[B][T][C + 2 KV hs] (Q of NH heads, K and V
 * of KV heads, hs = C / NH), query head h reading K/V head h / (NH / KV);
 * out[B][T][C]; att[B][NH][T][T] the probabilities, zero above the
 * diagonal; the backward adds into dqkv.  A batch is, for one sequence b and
 * one offset r < NH / KV, the query heads g NH/KV + r (g < KV): each reads
 * its own K/V head, so no two write the same dK or dV.  The scores are
 * multiplied over all T x T (the softmax zeroes what the causal mask
 * hides). */
#ifndef ZE_ATTN_BATCHED_H
#define ZE_ATTN_BATCHED_H

#include <stddef.h>

typedef struct za_ops {
    /* column-major, as cuBLAS's strided-batched GEMM: for i < batch,
     * C_i = alpha op(A_i) op(B_i) + beta C_i, C_i m x n from depth k,
     * X_i = X + i sX; ta, tb 'N' or 'T' */
    void (*gemm)(void *ctx, char ta, char tb, int m, int n, int k, float alpha, const float *A, int lda,
                 long long sA, const float *B, int ldb, long long sB, float beta, float *C, int ldc, long long sC,
                 int batch);
    /* rows x T scaled scores: row r's softmax over columns 0 .. r % T in
     * place, zeros after */
    void (*softmax)(void *ctx, float *att, int T, size_t rows);
    /* for `heads` heads, head j's T x T dP at ds + j T T becomes scale P
     * (dP - rowsum(P dP)), zeros above the diagonal; P of head j at
     * p + j pstride */
    void (*softmax_bwd)(void *ctx, float *ds, const float *p, size_t pstride, int T, int heads, float scale);
} za_ops;

/* 0 done (or nothing to do); -1 the heads do not divide the width or the
 * KV heads the heads; -2 (bwd) scratch_n floats hold no head's T x T */
int za_attention_fwd(const za_ops *o, void *ctx, float *out, float *att, const float *qkv, int B, int T, int C,
                     int NH, int KV);
/* the scores' gradients of as many heads at once as scratch_n floats hold */
int za_attention_bwd(const za_ops *o, void *ctx, float *dqkv, float *scratch, size_t scratch_n, const float *dout,
                     const float *att, const float *qkv, int B, int T, int C, int NH, int KV);

#endif
