/* gemm.c - the time of one matrix multiply as a function of its shape (pure).
 *
 * A GPU runs C[M x N] = A[M x K] B[K x N] (batch of them) as output tiles of
 * tm x tn, one tile per streaming multiprocessor (SM) at a time, in waves of
 * `sms` tiles.  Three things keep it under the dense peak (README "Cost",
 * "GEMM efficiency by shape"):
 *   - the kernel's own ceiling, eff_max: what a large, well-shaped product
 *     reaches (measured: bf16 8192^3 on the H200 ran at 797 of 989 TFLOP/s,
 *     shared/GPU.md; see data/gpus/ for each preset's value and source);
 *   - wave quantization: T tiles run in ceil(T / sms) waves, so the GPU is
 *     busy T / (sms ceil(T / sms)) of the time.  The library picks its tile
 *     among 256x128, 128x128 and 128x64 (each a smaller fraction of the
 *     large tile's rate: 1, 0.95, 0.85): the best busy x rate is taken;
 *   - the K loop: each tile fills and drains its pipeline once, worth
 *     k_half steps of depth, so a depth K runs at K / (K + k_half).
 * A product that moves more bytes than it computes is bound by memory:
 * its time is at least (M K + K N + M N) x element bytes / HBM bandwidth.
 * Every kernel also costs a fixed launch-and-ramp time, kernel_s, counted
 * by the caller (cost.c), not here. */
#include "core.h"

#include <math.h>

static const struct {
    double tm, tn, rate;
} tiles[] = {{256, 128, 1.0}, {128, 128, 0.95}, {128, 64, 0.85}};

double zp_gemm_shape_eff(const zp_gemm_curve *g, double M, double N, double K, double batch)
{
    double best = 0.0;
    for (unsigned i = 0; i < sizeof tiles / sizeof tiles[0]; i++) {
        /* the longer output side takes the tile's longer side */
        double a = M >= N ? M : N, b = M >= N ? N : M;
        double t = batch * ceil(a / tiles[i].tm) * ceil(b / tiles[i].tn);
        double busy = t / ((double)g->sms * ceil(t / (double)g->sms));
        /* a tile only partly covered by the matrix computes padding */
        double fill = (a / (tiles[i].tm * ceil(a / tiles[i].tm))) * (b / (tiles[i].tn * ceil(b / tiles[i].tn)));
        double r = busy * fill * tiles[i].rate;
        if (r > best)
            best = r;
    }
    return g->eff_max * best * K / (K + g->k_half);
}

double zp_gemm_time(const zp_gemm_curve *g, double peak_flops, double elem_bytes, double M, double N, double K,
                    double batch)
{
    double flops = 2.0 * M * N * K * batch;
    double t = flops / (peak_flops * zp_gemm_shape_eff(g, M, N, K, batch));
    double tm = elem_bytes * batch * (M * K + K * N + M * N) / (g->hbm_gbps * 1e9);
    return t > tm ? t : tm;
}
