/* bench_search.c - how fast the planner core evaluates candidate plans.
 *
 * Prints, for a few problems, the rate of
 *   eval:   zp_plan_eval (memory of the worst rank, communication of the
 *           first and last stage, cost) over the valid layouts, and
 *   search: zp_search end to end (enumeration, checks, evaluation, top-k):
 *           all candidates per second, and the valid ones (every check
 *           passed: memory worked out, communication and cost when it fits),
 * as the median of several timed rounds on one core.  Usage:
 *   bench_search [SECONDS_PER_ROUND]   (default 0.3) */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void problem(zp_problem *pb, double params, int64_t gpus)
{
    zp_err e;
    zp_model_derive(params, 2048, &pb->model, &e);
    zp_gpu *g = &pb->cluster.gpu;
    /* an A100-80G-like device; the numbers only steer which plans fit */
    *g = (zp_gpu){.name = "bench", .mem_bytes = 80ull << 30, .hbm_gbps = 2039, .nvlink_gbps = 300,
                  .pcie_gbps = 32, .nic_gbps = 25, .gpus_per_node = 8, .host_mem_bytes = 2048ull << 30,
                  .cuda_ctx_bytes = 500ull << 20, .nccl_comm_bytes = 512ull << 20};
    g->peak_flops[ZP_DT_FP32] = 19.5e12;
    g->peak_flops[ZP_DT_FP16] = g->peak_flops[ZP_DT_BF16] = 312e12;
    pb->cluster.gpus = gpus;
    pb->cluster.gpus_per_node = gpus < 8 ? gpus : 8;
    pb->cluster.inter_node_gbps = 25;
    pb->cluster.host_mem_bytes = g->host_mem_bytes;
    pb->train = (zp_train){.seq = 2048, .global_batch = zp_ceil_div(1024, gpus) * gpus, .dtype = ZP_DT_BF16,
                           .grad_dtype = ZP_DT_BF16, .master = 1, .optim = ZP_OPT_ADAM, .flash = 1};
    zp_conv_defaults(&pb->conv, g);
    zp_pins_none(&pb->pins);
}

int main(int argc, char **argv)
{
    double round_s = 0.3;
    if (argc > 2 || (argc == 2 && (sscanf(argv[1], "%lf", &round_s) != 1 || !(round_s > 0.0 && round_s <= 60.0)))) {
        fprintf(stderr, "usage: %s [ROUND_SECONDS] (one round's length, above 0 and at most 60; default 0.3)\n",
                argv[0]);
        return 2;
    }
    struct { double params; int64_t gpus; } cases[] = {{11e9, 8}, {175e9, 1024}, {1e12, 16384}};
    printf("# zplan planner core benchmark: one core, median of 7 rounds of %.2f s\n", round_s);
    printf("# %-8s %7s %11s %16s %16s %16s %10s\n", "params", "gpus", "candidates", "eval plans/s", "search cand/s",
           "search valid/s", "search ms");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        zp_problem pb;
        problem(&pb, cases[c].params, cases[c].gpus);
        /* collect the valid layouts once */
        static zp_plan top[10];
        zp_search_result sr;
        zp_err e;
        zp_search(&pb, top, 10, &sr, &e);
        int64_t nvalid = 0;
        for (int r = ZP_REJ_NONE; r < ZP_REJ_N; r++)
            if (r == ZP_REJ_NONE || r == ZP_REJ_DEVICE_MEM || r == ZP_REJ_HOST_MEM)
                nvalid += sr.rejected[r];
        zp_layout *lays = malloc(sizeof *lays * (size_t)(nvalid + 1));
        int64_t n = 0;
        /* re-enumerate with every dimension searched by pinning nothing and
         * keeping the valid ones: walk the same space as zp_search */
        for (int64_t tp = 1; tp <= 8; tp *= 2)
            for (int64_t pp = 1; pp <= pb.cluster.gpus / tp; pp++) {
                if ((pb.cluster.gpus / tp) % pp)
                    continue;
                for (int z = 0; z < 4; z++)
                    for (int o = 0; o < ZP_OFF_N; o++)
                        for (int k = 0; k < ZP_CKPT_N; k++)
                            for (int64_t b = 1; b <= 64; b *= 2) {
                                zp_layout l = {.dp = pb.cluster.gpus / tp / pp, .tp = tp, .pp = pp, .vp = 1,
                                               .zero = z, .offload = (zp_offload)o, .ckpt = (zp_ckpt)k,
                                               .sp = tp > 1, .micro_batch = b};
                                if (pb.train.global_batch % (l.dp * b))
                                    continue;
                                l.grad_accum = pb.train.global_batch / (l.dp * b);
                                if (zp_layout_check(&pb, &l) == ZP_REJ_NONE && n < nvalid)
                                    lays[n++] = l;
                            }
            }
        double eval_rate[7], search_rate[7], valid_rate[7], search_ms[7];
        volatile double sink = 0;
        for (int r = 0; r < 7; r++) {
            int64_t done = 0;
            double t0 = now(), t;
            do {
                for (int64_t i = 0; i < n; i++) {
                    zp_plan p;
                    zp_plan_eval(&pb, &lays[i], &p);
                    sink += p.cost.step_s;
                }
                done += n;
            } while ((t = now() - t0) < round_s);
            eval_rate[r] = (double)done / t;
            int64_t cands = 0, runs = 0;
            t0 = now();
            do {
                zp_search(&pb, top, 10, &sr, &e);
                cands += sr.evaluated;
                runs++;
            } while ((t = now() - t0) < round_s);
            search_rate[r] = (double)cands / t;
            valid_rate[r] = search_rate[r] * (double)nvalid / (double)sr.evaluated;
            search_ms[r] = 1e3 * t / (double)runs;
        }
        qsort(eval_rate, 7, sizeof(double), cmp);
        qsort(search_rate, 7, sizeof(double), cmp);
        qsort(search_ms, 7, sizeof(double), cmp);
        qsort(valid_rate, 7, sizeof(double), cmp);
        printf("  %-8.3g %7lld %11lld %16.3e %16.3e %16.3e %10.3f\n", cases[c].params, (long long)cases[c].gpus,
               (long long)sr.evaluated, eval_rate[3], search_rate[3], valid_rate[3], search_ms[3]);
        free(lays);
        (void)sink;
    }
    return 0;
}
