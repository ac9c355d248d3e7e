/* attn_batched.c - the stored-probabilities attention as strided-batched
 * GEMMs (attn_batched.h). */
#include "attn_batched.h"

#include <math.h>

/* Row-major: for i < n, C_i[M][N] = alpha op(A_i) op(B_i) + beta C_i, a row
 * stride each; as column-major that is C_i^T = op(B_i)^T op(A_i)^T (N x M
 * from depth K), B first, each operand's transpose flag its own. */
static void rgemm(const za_ops *o, void *ctx, char ta, char tb, int M, int N, int K, float alpha, const float *A,
                  int lda, long long sA, const float *B, int ldb, long long sB, float beta, float *C, int ldc,
                  long long sC, int n)
{
    if (n > 0)
        o->gemm(ctx, tb, ta, N, M, K, alpha, B, ldb, sB, A, lda, sA, beta, C, ldc, sC, n);
}

typedef struct za_shape {
    int hs, kv, rep, ld;
    long long tt;
    float scale;
} za_shape;

/* 1: a shape to compute; 0: nothing to do; -1: refused */
static int shape(za_shape *g, int B, int T, int C, int NH, int KV)
{
    if (B <= 0 || T <= 0 || C <= 0 || NH <= 0)
        return 0;
    g->kv = KV > 0 ? KV : NH;
    if (NH % g->kv || C % NH)
        return -1;
    g->hs = C / NH, g->rep = NH / g->kv, g->ld = C + 2 * g->kv * g->hs;
    g->tt = (long long)T * (long long)T;
    g->scale = 1.0f / sqrtf((float)g->hs);
    return 1;
}

int za_attention_fwd(const za_ops *o, void *ctx, float *out, float *att, const float *qkv, int B, int T, int C,
                     int NH, int KV)
{
    za_shape g;
    int k = shape(&g, B, T, C, NH, KV);
    if (k <= 0)
        return k;
    int hs = g.hs, rep = g.rep, ld = g.ld;
    long long sq = (long long)rep * hs, sp = rep * g.tt;
    for (int b = 0; b < B; b++) {
        const float *q0 = qkv + (size_t)b * (size_t)T * (size_t)ld, *k0 = q0 + C;
        for (int r = 0; r < rep; r++)   /* S = scale Q K^T */
            rgemm(o, ctx, 'N', 'T', T, T, hs, g.scale, q0 + (size_t)r * hs, ld, sq, k0, ld, hs, 0.0f,
                  att + ((size_t)b * NH + r) * (size_t)g.tt, T, sp, g.kv);
    }
    o->softmax(ctx, att, T, (size_t)B * (size_t)NH * (size_t)T);
    for (int b = 0; b < B; b++) {
        const float *v0 = qkv + (size_t)b * (size_t)T * (size_t)ld + C + (size_t)g.kv * hs;
        for (int r = 0; r < rep; r++)   /* O = P V */
            rgemm(o, ctx, 'N', 'N', T, hs, T, 1.0f, att + ((size_t)b * NH + r) * (size_t)g.tt, T, sp, v0, ld, hs,
                  0.0f, out + (size_t)b * (size_t)T * (size_t)C + (size_t)r * hs, C, sq, g.kv);
    }
    return 0;
}

/* dV += P^T dO; dP = dO V^T; dS = scale P (dP - rowsum(P dP)); dQ += dS K;
 * dK += dS^T Q */
int za_attention_bwd(const za_ops *o, void *ctx, float *dqkv, float *scratch, size_t scratch_n, const float *dout,
                     const float *att, const float *qkv, int B, int T, int C, int NH, int KV)
{
    za_shape g;
    int k = shape(&g, B, T, C, NH, KV);
    if (k <= 0)
        return k;
    int hs = g.hs, rep = g.rep, ld = g.ld;
    size_t room = scratch_n / (size_t)g.tt;
    if (room == 0)
        return -2;
    int hb = room < (size_t)g.kv ? (int)room : g.kv;   /* heads a batch */
    long long sq = (long long)rep * hs, sp = rep * g.tt;
    for (int b = 0; b < B; b++) {
        size_t row0 = (size_t)b * (size_t)T * (size_t)ld;
        for (int r = 0; r < rep; r++)
            for (int g0 = 0; g0 < g.kv; g0 += hb) {
                int nb = g.kv - g0 < hb ? g.kv - g0 : hb, h0 = g0 * rep + r;
                size_t qo = row0 + (size_t)h0 * hs, ko = row0 + C + (size_t)g0 * hs, vo = ko + (size_t)g.kv * hs;
                const float *p = att + ((size_t)b * NH + h0) * (size_t)g.tt;
                const float *dO = dout + (size_t)b * (size_t)T * (size_t)C + (size_t)h0 * hs;
                rgemm(o, ctx, 'T', 'N', T, hs, T, 1.0f, p, T, sp, dO, C, sq, 1.0f, dqkv + vo, ld, hs, nb);
                rgemm(o, ctx, 'N', 'T', T, T, hs, 1.0f, dO, C, sq, qkv + vo, ld, hs, 0.0f, scratch, T, g.tt, nb);
                o->softmax_bwd(ctx, scratch, p, (size_t)sp, T, nb, g.scale);
                rgemm(o, ctx, 'N', 'N', T, hs, T, 1.0f, scratch, T, g.tt, qkv + ko, ld, hs, 1.0f, dqkv + qo, ld, sq,
                      nb);
                rgemm(o, ctx, 'T', 'N', T, hs, T, 1.0f, scratch, T, g.tt, qkv + qo, ld, sq, 1.0f, dqkv + ko, ld, hs,
                      nb);
            }
    }
    return 0;
}
