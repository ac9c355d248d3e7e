/* engine_main.c - zplan-engine: one MPI rank of an execution.  Launched by
 * mpirun (zplan exec does that); rank 0 prints one JSON object with the
 * losses, times, bytes sent per collective and every rank's measured
 * memory.
 *
 *   mpirun -np 4 zplan-engine layers=2 hidden=64 heads=4 vocab=128 seq=32 \
 *       micro_batch=2 accum=2 steps=20 zero=2 ckpt=0 [ckpt_every=K|ckpt_layers=N] [offload=0|1|2] [device_cap=BYTES]
 *       [act_offload=0|1]                      (each block's kept tensors to the host pool but the last two's,
 *                                               back for its backward, the block below fetched ahead; pp=1)
 *       [dtype=0|1|2] [grad_dtype=0|1|2]       (fp32, bf16, fp16; gradients default to dtype)
 *       [loss_scale=S scale_window=W]          (dynamic loss scaling from S, doubling after W good steps)
 *       [first_step_delay_ms=N]                (tests: the first step made N ms slower)
 *       [mb_delay_ms=N]                        (tests: each stage's forward of a micro-batch N ms longer, its
 *                                               backward 2N: a pipeline timed as on separate processors)
 *       [progress=1]                           (rank 0 also prints a line per step before the result:
 *                                               {"progress":{"step":S,"steps":N,"loss":X,"time_s":T,"applied":A}})
 *       [sgd=1] [seed=N]                       (SGD with momentum instead of AdamW; the seed of weights and data)
 *       [lr=X]                                 (the peak learning rate; default 1e-2 up to hidden 64, then
 *                                               0.64 / hidden, 5x for SGD)
 *       [weight_decay=X] [clip=X]              (decoupled weight decay, default 0; the gradient norm's bound,
 *                                               default 1, 0 for none)
 *       [dump=DIR]                             (rank 0 writes the initial parameters, the batches and the
 *                                               hyper-parameters into DIR for tests/reference.py: engine.c)
 *       [kv_heads=N] [ffn=N]                   (grouped-query attention; the MLP's width; 0: heads, 4 x hidden)
 *       [norm=layernorm|rmsnorm] [mlp=gelu|swiglu] [pos=learned|rotary] [rope_theta=X]
 *       [tied=0|1] [bias=0|1]                  (the architecture: GPT-2's by default; LLaMA's is
 *                                               norm=rmsnorm mlp=swiglu pos=rotary tied=0 bias=0)
 *       [qk_norm=0|1]                          (Qwen3's RMSNorm on each Q and K head, RMSNorm blocks with an
 *                                               MLP of at least hidden / 3 (SwiGLU) or hidden / 2 (GELU))
 *       [qkv_bias=0|1]                         (with bias=0: a bias on the QKV product alone, Qwen2's)
 *       [tp=N] [sp=0|1] [pp=N]                 (tensor parallelism over N consecutive ranks, Megatron's, with
 *                                               sequence parallelism or not; N pipeline stages; data parallel
 *                                               over the ranks / (tp cp pp); engine.h)
 *       [schedule=1f1b|gpipe] [vp=N]           (GPipe instead of 1F1B; N model chunks per stage, Megatron's
 *                                               interleaved 1F1B)
 *       [cp=N]                                 (context parallelism: each sequence in 2N chunks, one from each end
 *                                               a rank, the keys and values passed around a ring; needs flash=1)
 *       [flash=0|1]                            (flash-style attention: each row's log-sum-exp kept, not the
 *                                               T x T probabilities; engine.c)
 *       [gemm=fp32|bf16|fp16]                  (the products of the linear layers and of the attention, flash
 *                                               attention's at head sizes a multiple of 16 up to 128: exact
 *                                               fp32, or each operand rounded to 16 bits with fp32
 *                                               accumulation: tensor cores)
 *   mpirun -np 2 zplan-engine calibrate      (calibrate.c: the ranks' rates)
 *   mpirun -np 1 zplan-engine calibrate backend=cuda [max_dim=N]   (devcal.c: the GPU's rates)
 *   mpirun -np 8 zplan-engine groups tp=2 cp=1 pp=2   (the layout's process groups, checked)
 */
#include "config.h"
#define ZE_WITH_MPI 1
#include "engine.h"
#include "calibrate.h"
#include "devcal.h"
#include "kernels.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#ifdef ZP_HAVE_CUDA
#include <cuda_runtime_api.h>
#include "cuda/kernels_cuda.h"
#endif

/* OpenBLAS's sgemm alone on the calls of one step of this run: every
 * shape the kernels logged over the steady steps (zk_gemm_calls), its calls
 * per step, on contiguous operands with the same transposes and beta.
 * Returns the seconds of such a step (median of 3 passes after a warm-up)
 * and its FLOPs in *flops; 0 when nothing was logged. */
static double sgemm_replay(int steps_logged, double *flops)
{
    const zk_gemm_log *g = &zk_gemm_calls;
    size_t most = 0;
    *flops = 0.0;
    for (int i = 0; i < g->n; i++) {
        const zk_gemm_sig *q = &g->sig[i];
        size_t a = (size_t)q->M * (size_t)q->K, b = (size_t)q->K * (size_t)q->N, o = (size_t)q->M * (size_t)q->N;
        most = a > most ? a : most, most = b > most ? b : most, most = o > most ? o : most;
    }
    if (!most || steps_logged < 1)
        return 0.0;
    float *A = malloc(most * sizeof(float)), *B = malloc(most * sizeof(float)), *O = calloc(most, sizeof(float));
    if (!A || !B || !O) {
        free(A), free(B), free(O);
        return 0.0;
    }
    for (size_t i = 0; i < most; i++)
        A[i] = (float)(i % 7) * 0.01f, B[i] = (float)(i % 5) * 0.01f;
    double t[3] = {0};
    for (int r = -1; r < 3; r++) {   /* one warm-up */
        double t0 = MPI_Wtime(), fl = 0.0;
        for (int i = 0; i < g->n; i++) {
            const zk_gemm_sig *q = &g->sig[i];
            uint64_t calls = (q->calls + (uint64_t)steps_logged / 2) / (uint64_t)steps_logged;
            for (uint64_t c = 0; c < calls; c++)
                cblas_sgemm(CblasRowMajor, q->ta == 'T' ? CblasTrans : CblasNoTrans,
                            q->tb == 'T' ? CblasTrans : CblasNoTrans, q->M, q->N, q->K, 1.0f, A,
                            q->ta == 'T' ? q->M : q->K, B, q->tb == 'T' ? q->K : q->N, q->beta, O, q->N);
            fl += 2.0 * (double)q->M * (double)q->N * (double)q->K * (double)calls;
        }
        if (r >= 0)
            t[r] = MPI_Wtime() - t0;
        *flops = fl;
    }
    free(A), free(B), free(O);
    double lo = t[0] < t[1] ? t[0] : t[1], hi = t[0] < t[1] ? t[1] : t[0];
    return t[2] < lo ? lo : t[2] > hi ? hi : t[2];   /* the median */
}

/* The engine's time per step in the logged shapes. */
static double logged_gemm_s(int steps_logged)
{
    double s = 0.0;
    for (int i = 0; i < zk_gemm_calls.n; i++)
        s += zk_gemm_calls.sig[i].seconds;
    return steps_logged > 0 ? s / steps_logged : 0.0;
}

/* key=value arguments */
static int arg(int argc, char **argv, const char *key, long long lo, long long hi, long long dflt, long long *out,
               char *msg, size_t mn)
{
    size_t kl = strlen(key);
    *out = dflt;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], key, kl) == 0 && argv[i][kl] == '=') {
            char *end;
            long long v = strtoll(argv[i] + kl + 1, &end, 10);
            if (*end || end == argv[i] + kl + 1 || v < lo || v > hi) {
                snprintf(msg, mn, "%s=%s is not an integer in %lld..%lld", key, argv[i] + kl + 1, lo, hi);
                return -1;
            }
            *out = v;
        }
    }
    return 0;
}

/* key=X: a finite number in [lo, hi] */
static int farg(int argc, char **argv, const char *key, double lo, double hi, double dflt, double *out, char *msg,
                size_t mn)
{
    size_t kl = strlen(key);
    *out = dflt;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], key, kl) == 0 && argv[i][kl] == '=') {
            char *end;
            double v = strtod(argv[i] + kl + 1, &end);
            if (*end || end == argv[i] + kl + 1 || !(v >= lo && v <= hi)) {
                snprintf(msg, mn, "%s=%s is not a number in %g..%g", key, argv[i] + kl + 1, lo, hi);
                return -1;
            }
            *out = v;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ groups
 *
 * zplan-engine groups tp=T cp=C pp=P: the process groups of a (tp, cp, dp,
 * pp) layout over the world's ranks (dp = world / (T C P)), each checked
 * against the layout's coordinates: its size and this rank's place in it,
 * the sum of its members' world ranks (an fp32 all-reduce) against the
 * members found by scanning every world rank's coordinates, a broadcast
 * from its first rank, the byte counts of broadcast and send; and along
 * pp, each stage's world rank sent point to point to the next stage.  Rank
 * 0 prints {"world", "tp", "cp", "dp", "pp", "ranks": [{"rank", "tp", "cp",
 * "dp", "pp"}...], "checks", "failed", "errors": [...]}; exit 0 when none
 * failed, 1 when one did, 2 for a layout that is not one. */
static int groups_check(int argc, char **argv, int rank, int world)
{
    long long T, C, P;
    char msg[256] = "";
    if (arg(argc, argv, "tp", 1, 4096, 1, &T, msg, sizeof msg) || arg(argc, argv, "cp", 1, 4096, 1, &C, msg, sizeof msg) ||
        arg(argc, argv, "pp", 1, 4096, 1, &P, msg, sizeof msg) || world % (int)(T * C * P)) {
        if (rank == 0)
            fprintf(stderr, "zplan-engine: groups: %s\n", msg[0] ? msg : "tp x cp x pp must divide the ranks");
        return 2;
    }
    ze_layout l;
    ze_layout_of(rank, world, (int)T, (int)C, world / (int)(T * C * P), (int)P, &l);
    ze_group w;
    if (ze_group_mpi(&w, MPI_COMM_WORLD))
        return 1;
    int checks = 0, failed = 0;
    char errs[4][400];
#define CHECK_G(cond, ...)                                                                                          \
    do {                                                                                                           \
        checks++;                                                                                                  \
        if (!(cond)) {                                                                                             \
            if (failed < 4)                                                                                        \
                snprintf(errs[failed], sizeof errs[0], __VA_ARGS__);                                               \
            failed++;                                                                                              \
        }                                                                                                          \
    } while (0)
    ze_group g[ZE_NDIM];
    for (int d = 0; d < ZE_NDIM; d++) {
        int rc = w.split(&w, ze_layout_color(&l, d), l.coord[d], &g[d]);
        CHECK_G(rc == 0, "rank %d: split %s: %s", rank, ze_dim_names[d], w.err);
        if (rc) {
            ze_group_single(&g[d]);
            continue;
        }
        CHECK_G(g[d].size == l.size[d] && g[d].rank == l.coord[d], "rank %d: %s group of %d, rank %d (want %d, %d)",
                rank, ze_dim_names[d], g[d].size, g[d].rank, l.size[d], l.coord[d]);
        /* the members: every world rank whose other coordinates are this one's */
        double want = 0.0;
        int first = -1;
        for (int r = 0; r < world; r++) {
            ze_layout o;
            ze_layout_of(r, world, l.size[ZE_TP], l.size[ZE_CP], l.size[ZE_DP], l.size[ZE_PP], &o);
            int same = 1;
            for (int e = 0; e < ZE_NDIM; e++)
                same &= e == d || o.coord[e] == l.coord[e];
            if (same) {
                want += r;
                if (o.coord[d] == 0)
                    first = r;
            }
        }
        float v = (float)rank;
        rc = g[d].allreduce(&g[d], &v, 1, ZE_F32);
        CHECK_G(rc == 0 && (double)v == want, "rank %d: %s all-reduce of world ranks %g, members sum to %g", rank,
                ze_dim_names[d], (double)v, want);
        float b[4] = {(float)rank, (float)rank, (float)rank, (float)rank};
        rc = g[d].broadcast(&g[d], b, 4, ZE_F32, 0);
        uint64_t bb = l.size[d] > 1 ? 16 : 0;   /* S once, nothing in a group of one */
        CHECK_G(rc == 0 && (int)b[0] == first && (int)b[3] == first && g[d].bus_bytes[ZE_BROADCAST] == bb,
                "rank %d: %s broadcast from its first rank: %g (want %d), %llu bytes (want %llu)", rank,
                ze_dim_names[d], (double)b[0], first, (unsigned long long)g[d].bus_bytes[ZE_BROADCAST],
                (unsigned long long)bb);
    }
    /* along the pipeline: each stage's world rank to the next */
    ze_group *pp = &g[ZE_PP];
    float in = -1.0f, out = (float)rank;
    int s = l.coord[ZE_PP], n = l.size[ZE_PP];
    if (s % 2 == 0) {   /* even stages send first, odd ones receive first */
        if (s + 1 < n)
            CHECK_G(pp->send(pp, &out, 1, ZE_F32, s + 1) == 0, "rank %d: send to stage %d: %s", rank, s + 1, pp->err);
        if (s > 0)
            CHECK_G(pp->recv(pp, &in, 1, ZE_F32, s - 1) == 0, "rank %d: receive from stage %d: %s", rank, s - 1, pp->err);
    } else {
        CHECK_G(pp->recv(pp, &in, 1, ZE_F32, s - 1) == 0, "rank %d: receive from stage %d: %s", rank, s - 1, pp->err);
        if (s + 1 < n)
            CHECK_G(pp->send(pp, &out, 1, ZE_F32, s + 1) == 0, "rank %d: send to stage %d: %s", rank, s + 1, pp->err);
    }
    if (s > 0) {
        int c[ZE_NDIM];
        memcpy(c, l.coord, sizeof c);
        c[ZE_PP] = s - 1;
        CHECK_G((int)in == ze_layout_rank(&l, c), "rank %d: stage %d received %g from the stage before (want %d)", rank,
                s, (double)in, ze_layout_rank(&l, c));
    }
    CHECK_G(pp->bus_bytes[ZE_SENDRECV] == (uint64_t)(s + 1 < n ? 4 : 0), "rank %d: %llu bytes sent (want %d)", rank,
            (unsigned long long)pp->bus_bytes[ZE_SENDRECV], s + 1 < n ? 4 : 0);
#undef CHECK_G
    for (int d = 0; d < ZE_NDIM; d++)
        ze_group_fini(&g[d]);
    /* rank 0 reports: every rank's coordinates, the counts, a few errors */
    int mine[6] = {rank, l.coord[ZE_TP], l.coord[ZE_CP], l.coord[ZE_DP], l.coord[ZE_PP], failed};
    int *all = rank == 0 ? malloc(sizeof(int) * 6 * (size_t)world) : NULL;
    int tot[2] = {checks, failed}, sum[2] = {0, 0};
    MPI_Gather(mine, 6, MPI_INT, all, 6, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Reduce(tot, sum, 2, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "world", world);
        for (int d = 0; d < ZE_NDIM; d++)
            cJSON_AddNumberToObject(o, ze_dim_names[d], l.size[d]);
        cJSON *ra = cJSON_AddArrayToObject(o, "ranks");
        for (int r = 0; all && r < world; r++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "rank", all[6 * r]);
            for (int d = 0; d < ZE_NDIM; d++)
                cJSON_AddNumberToObject(x, ze_dim_names[d], all[6 * r + 1 + d]);
            cJSON_AddItemToArray(ra, x);
        }
        cJSON_AddNumberToObject(o, "checks", sum[0]);
        cJSON_AddNumberToObject(o, "failed", sum[1]);
        cJSON *ea = cJSON_AddArrayToObject(o, "errors");
        for (int i = 0; i < failed && i < 4; i++)
            cJSON_AddItemToArray(ea, cJSON_CreateString(errs[i]));
        char *t = cJSON_PrintUnformatted(o);
        if (t)
            puts(t);
        free(t);
        cJSON_Delete(o);
        sum[1] = sum[1] > 0;
    }
    free(all);
    MPI_Bcast(&sum[1], 1, MPI_INT, 0, MPI_COMM_WORLD);
    ze_group_fini(&w);
    return sum[1] ? 1 : 0;
}

/* key=NAME: which of the n names (default dflt) */
static int sarg(int argc, char **argv, const char *key, const char *const *names, int n, int dflt, int *out,
                char *msg, size_t mn)
{
    size_t kl = strlen(key);
    *out = dflt;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], key, kl) == 0 && argv[i][kl] == '=') {
            int k = 0;
            while (k < n && strcmp(argv[i] + kl + 1, names[k]))
                k++;
            if (k == n) {   /* "is not a, b or c" */
                int w = snprintf(msg, mn, "%s=%s is not ", key, argv[i] + kl + 1);
                for (k = 0; k < n && w >= 0 && (size_t)w < mn; k++)
                    w += snprintf(msg + w, mn - (size_t)w, "%s%s", names[k],
                                  k + 2 < n ? ", " : k + 1 < n ? " or " : "");
                return -1;
            }
            *out = k;
        }
    }
    return 0;
}

static cJSON *classes(const uint64_t *v)
{
    cJSON *o = cJSON_CreateObject();
    uint64_t t = 0;
    for (int k = 0; k < ZE_NCLASS; k++) {
        cJSON_AddNumberToObject(o, ze_class_names[k], (double)v[k]);
        t += v[k];
    }
    cJSON_AddNumberToObject(o, "total", (double)t);
    return o;
}

/* progress=1: rank 0 prints each step as a JSON line on stdout, flushed,
 * so that the launcher can show it and keep what was measured when the
 * run is interrupted (zplan exec). */
static void print_step(void *ctx, int step, int steps, double loss, double step_s, int applied)
{
    if (*(const int *)ctx != 0)
        return;
    char l[32] = "null";   /* JSON has no NaN or infinity */
    if (isfinite(loss))
        snprintf(l, sizeof l, "%.9g", loss);
    printf("{\"progress\":{\"step\":%d,\"steps\":%d,\"loss\":%s,\"time_s\":%.9g,\"applied\":%d}}\n", step,
           steps, l, step_s, applied);
    fflush(stdout);
}

/* zplan-engine calibrate backend=cuda|cpu [max_dim=N]: one rank measures its
 * device row (devcal.c) and prints one JSON object: status, the row, the
 * device's name, its SMs and compute capability (CUDA), and what devcal
 * measured; 0, 1 when the row failed (the JSON says why), 2 for bad
 * arguments. */
static int devcal_main(int argc, char **argv, int rank, int size)
{
    const char *backend = NULL;
    long long max_dim = 12288;   /* every shape devcal.c has (the widest: 11264) */
    for (int i = 2; i < argc; i++) {
        char *end;
        if (strncmp(argv[i], "backend=", 8) == 0)
            backend = argv[i] + 8;
        else if (strncmp(argv[i], "max_dim=", 8) == 0 && (max_dim = strtoll(argv[i] + 8, &end, 10), 1) && !*end &&
                 end != argv[i] + 8 && max_dim >= 1 && max_dim <= 65536)
            ;
        else {
            if (rank == 0)
                fprintf(stderr, "zplan-engine: calibrate: '%s' is not backend=cuda|cpu or max_dim=N (1..65536)\n",
                        argv[i]);
            return 2;
        }
    }
    if (!backend || (strcmp(backend, "cuda") != 0 && strcmp(backend, "cpu") != 0)) {
        if (rank == 0)
            fprintf(stderr, "zplan-engine: calibrate backend=%s: allowed cuda, cpu\n", backend ? backend : "(none)");
        return 2;
    }
    if (size != 1) {
        if (rank == 0)
            fprintf(stderr, "zplan-engine: calibrate backend=%s measures one device: run it on one rank\n", backend);
        return 2;
    }
    ze_alloc a;
    ze_alloc_init(&a, 0, 0);
    ze_dev d;
    memset(&d, 0, sizeof d);
    cJSON *o = cJSON_CreateObject();
    char msg[512] = "";
    int rc = 0, sms = 0;
    double cc = 0.0;
    if (strcmp(backend, "cuda") == 0) {
#ifdef ZP_HAVE_CUDA
        struct cudaDeviceProp p;
        if (ze_dev_cuda_init(&d, &a, 0, 0) != 0) {
            snprintf(msg, sizeof msg, "%s", d.err[0] ? d.err : "no CUDA device visible");
            rc = 1;
        } else if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) {
            sms = p.multiProcessorCount;
            cc = p.major + p.minor / 10.0;
        }
#else
        snprintf(msg, sizeof msg, "this zplan-engine was built without CUDA (configure found no nvcc, cuBLAS or NCCL)");
        rc = 1;
#endif
    } else
        ze_dev_cpu_init(&d, &a);
    if (rc == 0 && ze_devcal(&d, (int)max_dim, o, msg, sizeof msg) != 0)
        rc = 1;
    cJSON_AddStringToObject(o, "status", rc ? "failed" : "ok");
    if (rc)
        cJSON_AddStringToObject(o, "error", msg);
    cJSON_AddStringToObject(o, "backend", backend);
    if (d.ops)
        cJSON_AddStringToObject(o, "device", d.desc);
    if (sms > 0) {
        cJSON_AddNumberToObject(o, "sms", sms);
        cJSON_AddNumberToObject(o, "compute_capability", cc);
    }
    char *t = cJSON_PrintUnformatted(o);
    if (t)
        puts(t);
    free(t);
    cJSON_Delete(o);
    if (d.ops)
        ze_dev_fini(&d);
    if (rc)
        fprintf(stderr, "zplan-engine: calibrate backend=%s: %s\n", backend, msg);
    return rc;
}

/* zplan-engine devices: what backends this build has and the GPUs this
 * process sees, as one JSON line (no MPI: zplan exec asks before it
 * launches anything). */
static int devices(void)
{
#ifdef ZP_HAVE_CUDA
    char why[256] = "";
    int n = ze_cuda_devices(why, sizeof why);
    printf("{\"cuda_built\":1,\"gpus\":%d,\"names\":[", n);
    for (int i = 0; i < n; i++) {
        struct cudaDeviceProp p;
        cJSON *w = cJSON_CreateString(cudaGetDeviceProperties(&p, i) == cudaSuccess ? p.name : "unknown");
        char *t = cJSON_PrintUnformatted(w);
        printf("%s%s", i ? "," : "", t ? t : "\"\"");
        free(t);
        cJSON_Delete(w);
    }
    printf("]");
    /* each GPU's compute capability, major.minor (9.0 for Hopper): what the
     * planner's PyTorch conventions key on */
    printf(",\"compute_capabilities\":[");
    for (int i = 0; i < n; i++) {
        struct cudaDeviceProp p;
        int ok = cudaGetDeviceProperties(&p, i) == cudaSuccess;
        printf("%s%.1f", i ? "," : "", ok ? p.major + p.minor / 10.0 : 0.0);
    }
    printf("]");
    if (n == 0) {
        cJSON *w = cJSON_CreateString(why);
        char *t = cJSON_PrintUnformatted(w);
        printf(",\"why\":%s", t ? t : "\"\"");
        free(t);
        cJSON_Delete(w);
    }
    printf("}\n");
#else
    printf("{\"cuda_built\":0,\"gpus\":0}\n");
#endif
    return fflush(stdout) == 0 ? 0 : 1;
}

/* The CUDA row and its group: ranks placed on the visible GPUs in the order
 * of their node-local rank (local rank mod GPUs); NCCL when every rank has
 * a GPU of its own, else MPI staged through pinned host memory.  The
 * runtime's device memory is measured one rank at a time per node (each
 * reads cudaMemGetInfo after the ranks before it on its GPU): the context
 * and cuBLAS as each rank starts, then the communicator.  Returns 0, or -1
 * with msg (every rank returns the same). */
static int cuda_setup(ze_dev *d, ze_alloc *a, ze_group *g, int force_nccl, char *msg, size_t mn)
{
#ifdef ZP_HAVE_CUDA
    MPI_Comm node;
    int rank, size, lr, ls;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &lr);
    MPI_Comm_size(node, &ls);
    char why[256] = "";
    int ndev = ze_cuda_devices(why, sizeof why);
    int ordinal = ndev > 0 ? lr % ndev : 0, bad = ndev == 0;
    /* which physical GPU: its UUID (a launcher may give each rank its own
     * CUDA_VISIBLE_DEVICES, so that every rank sees "GPU 0") */
    unsigned char uuid[16] = {0}, *uuids = calloc((size_t)ls, 16);
    struct cudaDeviceProp prop;
    if (ndev > 0 && cudaGetDeviceProperties(&prop, ordinal) == cudaSuccess)
        memcpy(uuid, prop.uuid.bytes, 16);
    if (!uuids) {
        snprintf(msg, mn, "no host memory");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Allgather(uuid, 16, MPI_BYTE, uuids, 16, MPI_BYTE, node);
    int key = lr, mates = 0;   /* the GPU's key: the first local rank on it */
    for (int i = ls - 1; i >= 0; i--)
        if (memcmp(uuids + 16 * i, uuid, 16) == 0)
            key = i, mates++;
    free(uuids);
    int shared = mates > 1, anyshared;
    MPI_Allreduce(&shared, &anyshared, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    /* one rank at a time on this node, each after the ones before it on
     * its GPU: used[key] carries what that GPU uses so far */
    uint64_t *used = calloc((size_t)ls, sizeof *used);
    if (!used) {
        snprintf(msg, mn, "no host memory");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int t = 0; t < ls; t++) {
        if (t == lr && !bad && ze_dev_cuda_init(d, a, ordinal, used[key]) != 0)
            bad = 1, snprintf(why, sizeof why, "%s", d->err);
        unsigned long long after[2] = {(unsigned long long)key,
                                       (unsigned long long)(d->ops ? d->ovh.used_base + d->ovh.context + d->ovh.blas
                                                                   : 0)};
        MPI_Bcast(after, 2, MPI_UNSIGNED_LONG_LONG, t, node);
        if (after[0] < (unsigned long long)ls && after[1])
            used[after[0]] = after[1];
    }
    free(used);
    MPI_Comm_free(&node);
    /* a failure: every rank says the first failed rank's reason */
    int first = bad ? rank : size, who;
    MPI_Allreduce(&first, &who, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (who < size) {
        MPI_Bcast(why, (int)sizeof why, MPI_CHAR, who, MPI_COMM_WORLD);
        snprintf(msg, mn, "no GPU for rank %d: %s", who, why[0] ? why : "no CUDA device visible");
        return -1;
    }
    d->shared = anyshared;
    if (force_nccl && anyshared) {   /* NCCL refuses two ranks of one communicator on a GPU */
        snprintf(msg, mn, "group=nccl: ranks share a GPU here, and NCCL refuses two ranks of one communicator on "
                          "the same GPU (allowed: one rank a GPU, or group=auto)");
        return -1;
    }
    int grc = 0;
    if (size == 1 && !force_nccl)   /* group=nccl: one rank's NCCL communicator, so a lone GPU runs NCCL's calls */
        ze_group_single(g);
    else if (anyshared)
        grc = ze_group_staged(g, MPI_COMM_WORLD, d);
    else
        grc = ze_group_nccl(g, MPI_COMM_WORLD, d);   /* every rank returns the same verdict */
    first = grc ? rank : size;
    MPI_Allreduce(&first, &who, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (who < size) {
        char gerr[256];
        snprintf(gerr, sizeof gerr, "%s", g->err);
        MPI_Bcast(gerr, (int)sizeof gerr, MPI_CHAR, who, MPI_COMM_WORLD);
        snprintf(msg, mn, "the %s group (rank %d): %.200s", anyshared ? "host-staged" : "NCCL", who, gerr);
        return -1;
    }
    return 0;
#else
    (void)d, (void)a, (void)g, (void)force_nccl;
    snprintf(msg, mn, "this zplan-engine was built without CUDA (configure found no nvcc, cuBLAS or NCCL; "
                      "install the CUDA toolkit with NCCL and configure --with-cuda=DIR)");
    return -1;
#endif
}

int main(int argc, char **argv)
{
    /* GNU-style --help and --version, before MPI starts (zplan exec is
     * what launches the engine; it is not run by hand) */
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: mpirun -np N zplan-engine key=value ...\n"
               "       zplan-engine devices | groups key=value ... | calibrate\n\n"
               "zplan's execution engine: one MPI rank a process, training the model the keys\n"
               "describe and printing what it measured as JSON.  zplan exec launches it with a\n"
               "plan's keys (backend/README.md lists them); run zplan exec rather than this.\n");
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("zplan-engine %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "devices") == 0)
        return devices();
    /* the step frees and allocates the same large tensors every
     * micro-batch: keep them in the heap (no mmap/munmap, no page faults on
     * every reuse) */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    MPI_Init(&argc, &argv);
    int wrank, wsize;
    MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
    MPI_Comm_size(MPI_COMM_WORLD, &wsize);

    /* zplan-engine groups: the process groups of a layout, checked */
    if (argc > 1 && strcmp(argv[1], "groups") == 0) {
        int grc = groups_check(argc, argv, wrank, wsize);
        MPI_Finalize();
        return grc;
    }
    /* zplan-engine calibrate: measure the ranks instead of training */
    if (argc > 1 && strcmp(argv[1], "calibrate") == 0) {
        if (argc > 2) {   /* backend=...: one device row, measured through its table */
            int drc = devcal_main(argc, argv, wrank, wsize);
            MPI_Finalize();
            return drc;
        }
        int crc = ze_calibrate(MPI_COMM_WORLD, wrank, wsize);
        if (crc && wrank == 0)
            fprintf(stderr, "zplan-engine: calibration ran out of memory\n");
        MPI_Finalize();
        return crc ? 1 : 0;
    }
    ze_group g;
    memset(&g, 0, sizeof g);
    g.rank = wrank, g.size = wsize;

    ze_cfg c;
    memset(&c, 0, sizeof c);
    long long L, C, NH, V, T, B, M, S, Z, K, O, FA, seed, cap, OFF, PDT, GDT, LS, SW, PR, DLY, KVH, FF, TIED, BIAS, QKN, QKVB, TP, PP, SPP, MBD, VP, CKE, CKL, CP, AOFF;
    double WD, CLIP, THETA, LR;
    int NORM, MLP, POS, SCHED, GEMM;
    static const char *const norms[] = {"layernorm", "rmsnorm"}, *const mlps[] = {"gelu", "swiglu"},
                             *const poss[] = {"learned", "rotary"}, *const scheds[] = {"1f1b", "gpipe"};
    /* (in ze_dt's order) */
    static const char *const maths[] = {"fp32", "bf16", "fp16"};
    char msg[256] = "";
    if (arg(argc, argv, "layers", 1, 1000, 2, &L, msg, sizeof msg) ||
        arg(argc, argv, "hidden", 1, 1 << 16, 64, &C, msg, sizeof msg) ||
        arg(argc, argv, "heads", 1, 1 << 12, 4, &NH, msg, sizeof msg) ||
        arg(argc, argv, "vocab", 2, 1 << 20, 128, &V, msg, sizeof msg) ||
        arg(argc, argv, "seq", 2, 1 << 14, 32, &T, msg, sizeof msg) ||
        arg(argc, argv, "micro_batch", 1, 1 << 12, 2, &B, msg, sizeof msg) ||
        arg(argc, argv, "accum", 1, 1 << 12, 1, &M, msg, sizeof msg) ||
        arg(argc, argv, "steps", 1, 1 << 20, 10, &S, msg, sizeof msg) ||
        arg(argc, argv, "zero", 0, 3, 0, &Z, msg, sizeof msg) ||
        arg(argc, argv, "ckpt", 0, 2, 0, &K, msg, sizeof msg) ||
        arg(argc, argv, "ckpt_every", 0, 100000, 0, &CKE, msg, sizeof msg) ||
        arg(argc, argv, "flash", 0, 1, 0, &FA, msg, sizeof msg) ||
        arg(argc, argv, "ckpt_layers", 0, 100000, 0, &CKL, msg, sizeof msg) ||
        arg(argc, argv, "offload", 0, 2, 0, &OFF, msg, sizeof msg) ||
        arg(argc, argv, "act_offload", 0, 1, 0, &AOFF, msg, sizeof msg) ||
        arg(argc, argv, "sgd", 0, 1, 0, &O, msg, sizeof msg) ||
        arg(argc, argv, "seed", 0, UINT_MAX, 1234, &seed, msg, sizeof msg) ||
        arg(argc, argv, "device_cap", 0, LLONG_MAX, 0, &cap, msg, sizeof msg) ||
        arg(argc, argv, "dtype", 0, 2, 0, &PDT, msg, sizeof msg) ||
        arg(argc, argv, "grad_dtype", 0, 2, PDT, &GDT, msg, sizeof msg) ||
        arg(argc, argv, "loss_scale", 0, 1LL << 40, 0, &LS, msg, sizeof msg) ||
        arg(argc, argv, "scale_window", 1, 1 << 30, 1000, &SW, msg, sizeof msg) ||
        arg(argc, argv, "progress", 0, 1, 0, &PR, msg, sizeof msg) ||
        arg(argc, argv, "first_step_delay_ms", 0, 600000, 0, &DLY, msg, sizeof msg) ||
        arg(argc, argv, "mb_delay_ms", 0, 600000, 0, &MBD, msg, sizeof msg) ||
        farg(argc, argv, "weight_decay", 0.0, 1e3, 0.0, &WD, msg, sizeof msg) ||
        farg(argc, argv, "clip", 0.0, 1e30, 1.0, &CLIP, msg, sizeof msg) ||
        arg(argc, argv, "kv_heads", 0, 1 << 12, 0, &KVH, msg, sizeof msg) ||
        arg(argc, argv, "ffn", 0, 1 << 20, 0, &FF, msg, sizeof msg) ||
        arg(argc, argv, "tied", 0, 1, 1, &TIED, msg, sizeof msg) ||
        arg(argc, argv, "bias", 0, 1, 1, &BIAS, msg, sizeof msg) ||
        arg(argc, argv, "qk_norm", 0, 1, 0, &QKN, msg, sizeof msg) ||
        arg(argc, argv, "qkv_bias", 0, 1, 0, &QKVB, msg, sizeof msg) ||
        arg(argc, argv, "tp", 1, 4096, 1, &TP, msg, sizeof msg) ||
        arg(argc, argv, "pp", 1, 4096, 1, &PP, msg, sizeof msg) ||
        arg(argc, argv, "vp", 1, 4096, 1, &VP, msg, sizeof msg) ||
        arg(argc, argv, "cp", 1, 4096, 1, &CP, msg, sizeof msg) ||
        arg(argc, argv, "sp", 0, 1, 0, &SPP, msg, sizeof msg) ||
        sarg(argc, argv, "schedule", scheds, 2, 0, &SCHED, msg, sizeof msg) ||
        sarg(argc, argv, "gemm", maths, 3, 0, &GEMM, msg, sizeof msg) ||
        farg(argc, argv, "rope_theta", 0.0, 1e12, 0.0, &THETA, msg, sizeof msg) ||
        farg(argc, argv, "lr", 0.0, 10.0, 0.0, &LR, msg, sizeof msg) ||
        sarg(argc, argv, "norm", norms, 2, 0, &NORM, msg, sizeof msg) ||
        sarg(argc, argv, "mlp", mlps, 2, 0, &MLP, msg, sizeof msg) ||
        sarg(argc, argv, "pos", poss, 2, 0, &POS, msg, sizeof msg)) {
        if (g.rank == 0)
            fprintf(stderr, "zplan-engine: %s\n", msg);
        MPI_Finalize();
        return 2;
    }
    /* every argument is one of the keys above (or backend=, dump=): a
     * misspelt key would otherwise leave its default in place unsaid */
    static const char *const keys[] = {
        "layers", "hidden", "heads", "vocab", "seq", "micro_batch", "accum", "steps", "zero", "ckpt", "ckpt_every",
        "ckpt_layers", "offload", "act_offload", "sgd", "seed", "device_cap", "dtype", "grad_dtype", "loss_scale", "scale_window",
        "progress", "first_step_delay_ms", "mb_delay_ms", "weight_decay", "clip", "kv_heads", "ffn", "tied", "bias", "qk_norm", "qkv_bias",
        "tp", "pp", "vp", "cp", "sp", "schedule", "rope_theta", "lr", "norm", "mlp", "pos", "backend", "group", "dump",
        "flash", "gemm"};
    for (int i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        size_t k = 0, nk = sizeof keys / sizeof keys[0];
        while (eq && k < nk && (strlen(keys[k]) != (size_t)(eq - argv[i]) || strncmp(argv[i], keys[k], strlen(keys[k]))))
            k++;
        if (!eq || k == nk) {
            if (g.rank == 0)
                fprintf(stderr, "zplan-engine: '%s' is not a key=value argument it knows (allowed: the keys backend/README.md "
                                "lists, as key=value; devices, groups and calibrate as the first word)\n",
                        argv[i]);
            MPI_Finalize();
            return 2;
        }
    }
    c.L = (int)L, c.C = (int)C, c.NH = (int)NH, c.V = (int)V, c.T = (int)T;
    c.KV = (int)KVH, c.F = (int)FF, c.rms = NORM, c.swiglu = MLP, c.rope = POS, c.untied = !TIED, c.nobias = !BIAS;
    c.qkn = (int)QKN;
    c.qkv_bias = (int)QKVB;
    c.rope_theta = (float)THETA;
    c.B = (int)B, c.M = (int)M, c.steps = (int)S, c.zero = (int)Z, c.ckpt = (ze_ckpt)K, c.sgd = (int)O;
    c.ckpt_every = (int)CKE;
    c.flash = (int)FA;
    c.math = (ze_dt)GEMM;
    c.ckpt_layers = (int)CKL;
    c.tp = (int)TP;
    c.pp = (int)PP;
    c.vp = (int)VP;
    c.cp = (int)CP;
    c.sp = (int)SPP;
    c.gpipe = SCHED;
    c.offload = (int)OFF;
    c.act_offload = (int)AOFF;
    c.pdt = (ze_dt)PDT, c.gdt = (ze_dt)GDT;   /* 0 fp32, 1 bf16, 2 fp16 */
    c.loss_scale = (float)LS;
    c.scale_window = (int)SW;
    /* the learning rate shrinks with the width, as GPT-2's 6e-4 at 768:
     * 0.64 / hidden for Adam (1e-2 at most), 5x that for SGD */
    c.lr = (float)(c.C <= 64 ? 1e-2 : 0.64 / (double)c.C) * (c.sgd ? 5.0f : 1.0f);
    if (LR > 0.0)   /* lr=X: the peak learning rate itself */
        c.lr = (float)LR;
    c.weight_decay = (float)WD;   /* decoupled (AdamW), or added to the gradient (SGD) */
    c.clip = (float)CLIP;         /* 0: no clipping */
    for (int i = 1; i < argc; i++)   /* dump=DIR: rank 0 only */
        if (strncmp(argv[i], "dump=", 5) == 0 && argv[i][5]) {
            if (TP > 1 || PP > 1 || CP > 1) {   /* refused on every rank, not on rank 0 alone */
                if (g.rank == 0)
                    fprintf(stderr, "zplan-engine: dump=DIR writes one rank's whole model and sequences: it needs "
                                    "tp = 1, pp = 1 and cp = 1\n");
                MPI_Finalize();
                return 2;
            }
            if (g.rank == 0)
                c.dump = argv[i] + 5;
        }
    c.seed = (uint32_t)seed;
    c.device_cap = (uint64_t)cap;
    c.first_step_delay_s = (double)DLY / 1000.0;   /* tests: a slow first step */
    c.mb_delay_s = (double)MBD / 1000.0;            /* tests: emulated compute per micro-batch */
    if (PR) {
        c.on_step = print_step;
        c.on_step_ctx = &g.rank;
    }
    if (ze_cfg_check(&c, g.size, msg, sizeof msg)) {
        if (g.rank == 0)
            fprintf(stderr, "zplan-engine: %s\n", msg);
        MPI_Finalize();
        return 2;
    }

    /* the device row and its group */
    const char *backend = "cpu";
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "backend=", 8) == 0)
            backend = argv[i] + 8;
    if (strcmp(backend, "cpu") != 0 && strcmp(backend, "cuda") != 0) {
        if (g.rank == 0)
            fprintf(stderr, "zplan-engine: backend=%s is not cpu or cuda\n", backend);
        MPI_Finalize();
        return 2;
    }
    /* group=auto (the default): the CUDA row's group as cuda_setup
     * chooses it; group=nccl: NCCL even for one rank (tests/gpu.sh, on a
     * machine with one GPU) */
    const char *group = "auto";
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "group=", 6) == 0)
            group = argv[i] + 6;
    if ((strcmp(group, "auto") != 0 && strcmp(group, "nccl") != 0) ||
        (strcmp(group, "nccl") == 0 && strcmp(backend, "cuda") != 0)) {
        if (g.rank == 0)
            fprintf(stderr, "zplan-engine: group=%s: allowed: auto, or nccl with backend=cuda\n", group);
        MPI_Finalize();
        return 2;
    }
    ze_dev d;
    ze_alloc setup_alloc;   /* until ze_train points the row at the result's */
    ze_alloc_init(&setup_alloc, 0, 0);
    memset(&d, 0, sizeof d);
    if (strcmp(backend, "cuda") == 0) {
        if (cuda_setup(&d, &setup_alloc, &g, strcmp(group, "nccl") == 0, msg, sizeof msg) != 0) {
            if (g.rank == 0) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "status", "failed");
                cJSON_AddStringToObject(o, "backend", backend);
                cJSON_AddNumberToObject(o, "ranks", g.size);
                cJSON_AddStringToObject(o, "error", msg);
                char *t = cJSON_PrintUnformatted(o);
                if (t)
                    puts(t);
                fflush(stdout);
                free(t);
                cJSON_Delete(o);
                fprintf(stderr, "zplan-engine: %s\n", msg);
            }
            ze_group_fini(&g);
            ze_dev_fini(&d);
            MPI_Finalize();
            return 1;
        }
    } else {
        ze_dev_cpu_init(&d, &setup_alloc);
        if (ze_group_mpi(&g, MPI_COMM_WORLD) != 0) {
            fprintf(stderr, "zplan-engine: %s\n", g.err);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }

    ze_result r;
    int rc = ze_train(&c, &d, &g, &r);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    /* A rank that failed alone leaves the others waiting in a collective:
     * give every rank a few seconds to arrive; if they do not, this rank
     * reports alone and ends the job. */
    if (rc != 0) {
        MPI_Request req;
        int arrived = 0;
        MPI_Ibarrier(MPI_COMM_WORLD, &req);
        for (double t0 = MPI_Wtime(); !arrived && MPI_Wtime() - t0 < 5.0;)
            MPI_Test(&req, &arrived, MPI_STATUS_IGNORE);
        if (!arrived) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "status", r.status == 1 ? "oom" : "failed");
            cJSON_AddNumberToObject(o, "ranks", g.size);
            cJSON_AddNumberToObject(o, "failed_rank", g.rank);
            cJSON_AddNumberToObject(o, "device_peak", (double)r.mem.peak_total[ZE_DEVICE]);
            if (r.err[0])
                cJSON_AddStringToObject(o, "error", r.err);
            char *t = cJSON_PrintUnformatted(o);
            if (t)
                puts(t);
            free(t);
            cJSON_Delete(o);
            fflush(stdout);
            fprintf(stderr, "zplan-engine: rank %d failed alone (%s); ending the job\n", g.rank,
                    r.err[0] ? r.err : r.status == 1 ? "out of memory" : "error");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    /* here every rank succeeded, or every rank failed: the reference sgemm
     * rate, all ranks at once as in the run */
    double ref_s = 0.0, ref_flops = 0.0, mine_s = 0.0;
    int logged = c.steps > 1 ? c.steps - 1 : 1;   /* the log covers the steps from the second on */
    if (rc == 0 && strcmp(d.ops->name, "cpu") == 0) {
        MPI_Barrier(MPI_COMM_WORLD);
        mine_s = logged_gemm_s(logged);
        ref_s = sgemm_replay(logged, &ref_flops);
    }

    /* gather every rank's measurements on rank 0 */
    enum { NG = 5 };   /* groups: dp (dp x cp), tp, pp, embedding, cp */
    enum { NV = 3 * ZE_NCLASS + 4 + ZE_NPHASE * (ZE_NCLASS + 1) + 5 + 7 + NG * ZE_NCOLL + 6 };
    const int PH = 3 * ZE_NCLASS + 4;   /* per phase: its peak, then its breakdown */
    double mine[NV], *all = NULL;
    for (int k = 0; k < ZE_NCLASS; k++) {
        mine[k] = (double)r.mem.peak[ZE_DEVICE][k];
        mine[ZE_NCLASS + k] = (double)r.mem.at_peak[ZE_DEVICE][k];
        mine[2 * ZE_NCLASS + k] = (double)r.mem.peak[ZE_HOST][k];
    }
    mine[3 * ZE_NCLASS] = (double)r.mem.peak_total[ZE_DEVICE];
    mine[3 * ZE_NCLASS + 1] = (double)r.mem.peak_phase[ZE_DEVICE];
    mine[3 * ZE_NCLASS + 2] = (double)ru.ru_maxrss * 1024.0;
    mine[3 * ZE_NCLASS + 3] = (double)r.status;
    const int TM = PH + ZE_NPHASE * (ZE_NCLASS + 1);   /* the rank's times */
    mine[TM] = r.step_s, mine[TM + 1] = r.fwd_s, mine[TM + 2] = r.bwd_s, mine[TM + 3] = r.opt_s;
    mine[TM + 4] = r.comm_s;
    const int OV = TM + 5;   /* the runtime's device memory, as the row measured it */
    mine[OV] = (double)d.ovh.context, mine[OV + 1] = (double)d.ovh.blas, mine[OV + 2] = (double)d.ovh.comm;
    mine[OV + 3] = (double)d.ovh.used_at_peak, mine[OV + 4] = (double)d.ovh.staging;
    mine[OV + 5] = (double)r.mem.rounded_at_peak[ZE_DEVICE], mine[OV + 6] = (double)d.ovh.used_base;
    const int GB = OV + 7;   /* the rank's bytes per group and kind, its stage, its pipeline wait */
    const uint64_t *per[NG] = {r.bus_bytes_per_step, r.tp_bus_bytes_per_step, r.pp_bus_bytes_per_step,
                               r.emb_bus_bytes_per_step, r.cp_bus_bytes_per_step};
    for (int i = 0; i < NG; i++)
        for (int k = 0; k < ZE_NCOLL; k++)
            mine[GB + i * ZE_NCOLL + k] = (double)per[i][k];
    const int ST = GB + NG * ZE_NCOLL;
    mine[ST] = r.pp_rank, mine[ST + 1] = r.layer0, mine[ST + 2] = r.layers, mine[ST + 3] = r.pp_wait_s;
    mine[ST + 4] = r.steady_step_s, mine[ST + 5] = r.pp_idle_median;
    for (int p = 0; p < ZE_NPHASE; p++) {
        mine[PH + p * (ZE_NCLASS + 1)] = (double)r.mem.phase_peak[ZE_DEVICE][p];
        for (int k = 0; k < ZE_NCLASS; k++)
            mine[PH + p * (ZE_NCLASS + 1) + 1 + k] = (double)r.mem.phase_at_peak[ZE_DEVICE][p][k];
    }
    if (g.rank == 0)
        all = malloc(sizeof(double) * NV * (size_t)g.size);
    MPI_Gather(mine, NV, MPI_DOUBLE, all, NV, MPI_DOUBLE, 0, MPI_COMM_WORLD);

    if (g.rank == 0) {
        cJSON *o = cJSON_CreateObject();
        int oom = 0;
        for (int i = 0; i < g.size; i++)
            oom |= all[i * NV + 3 * ZE_NCLASS + 3] == 1.0;
        cJSON_AddStringToObject(o, "status", rc == 0 ? "ok" : oom ? "oom" : "failed");
        if (rc != 0 && r.err[0])
            cJSON_AddStringToObject(o, "error", r.err);
        cJSON_AddNumberToObject(o, "ranks", g.size);
        cJSON_AddNumberToObject(o, "tp", r.tp);
        cJSON_AddNumberToObject(o, "dp", r.dp);
        cJSON_AddNumberToObject(o, "pp", r.pp);
        cJSON_AddNumberToObject(o, "cp", r.cp);
        cJSON_AddBoolToObject(o, "sp", c.sp && r.tp > 1);
        cJSON_AddStringToObject(o, "schedule", r.pp > 1 ? c.vp > 1 ? "interleaved" : scheds[SCHED] : "none");
        cJSON_AddNumberToObject(o, "vp", r.pp > 1 && c.vp > 1 ? c.vp : 1);
        cJSON_AddBoolToObject(o, "flash_attention", c.flash);
        cJSON_AddStringToObject(o, "gemm_math", maths[GEMM]);
        cJSON_AddStringToObject(o, "backend", d.ops->name);
        cJSON_AddStringToObject(o, "device", d.desc);
        cJSON_AddStringToObject(o, "group", g.kind);
        cJSON_AddBoolToObject(o, "shared", d.shared);
        cJSON_AddNumberToObject(o, "granule_bytes", (double)d.granule[ZE_DEVICE]);
        if (d.ovh.total)
            cJSON_AddNumberToObject(o, "device_memory_bytes", (double)d.ovh.total);
        cJSON_AddNumberToObject(o, "params", (double)r.params);
        cJSON_AddStringToObject(o, "dtype", ze_dt_names[c.pdt]);
        cJSON_AddStringToObject(o, "grad_dtype", ze_dt_names[c.gdt]);
        cJSON_AddNumberToObject(o, "skipped_steps", r.skipped);
        cJSON_AddNumberToObject(o, "loss_scale", r.loss_scale);
        cJSON *ls = cJSON_AddArrayToObject(o, "losses");
        for (int s = 0; s < r.steps_done; s++)
            cJSON_AddItemToArray(ls, cJSON_CreateNumber(r.losses[s]));
        cJSON_AddNumberToObject(o, "step_time_s", r.step_s);
        cJSON *ph = cJSON_AddObjectToObject(o, "phase_time_s");
        cJSON_AddNumberToObject(ph, "forward", r.fwd_s);
        cJSON_AddNumberToObject(ph, "backward", r.bwd_s);
        cJSON_AddNumberToObject(ph, "optimizer", r.opt_s);
        cJSON_AddNumberToObject(ph, "communication", r.comm_s);
        /* the engine's efficiency (rank 0): its GEMM phases against sgemm
         * alone on the same calls in this run (sgemm_replay), and the share
         * of the step that is neither GEMM nor MPI (from step 2 on) */
        cJSON *ge = cJSON_AddObjectToObject(o, "gemm");
        cJSON_AddNumberToObject(ge, "seconds_per_step", r.gemm_s);
        cJSON_AddNumberToObject(ge, "flops_per_step", r.gemm_flops);
        cJSON_AddNumberToObject(ge, "flops_per_s", r.gemm_s > 0 ? r.gemm_flops / r.gemm_s : 0.0);
        cJSON_AddNumberToObject(ge, "shapes", zk_gemm_calls.n);
        cJSON_AddNumberToObject(ge, "sgemm_seconds_per_step", ref_s);
        cJSON_AddNumberToObject(ge, "sgemm_flops_per_s", ref_s > 0 ? ref_flops / ref_s : 0.0);
        cJSON_AddNumberToObject(ge, "efficiency", mine_s > 0 && ref_s > 0 ? ref_s / mine_s : 0.0);
#ifdef ZP_HAVE_CUDA
        /* the CUDA row's products with a bias: through cuBLASLt, the bias in
         * the epilogue, or the bias kernel before cuBLAS's product
         * (ZPLAN_CUBLASLT=0, or a shape cuBLASLt had no algorithm for):
         * its products over the whole run, and its plans (a shape, math
         * and alignment each) and those with an algorithm */
        if (!strcmp(d.ops->name, "cuda")) {
            int on = 0, shapes = 0, fused = 0;
            long calls = 0;
            ze_dev_cuda_lt(&d, &on, &calls, &shapes, &fused);
            cJSON *lt = cJSON_AddObjectToObject(ge, "bias_epilogue");
            cJSON_AddBoolToObject(lt, "on", on);
            cJSON_AddNumberToObject(lt, "calls", (double)calls);
            cJSON_AddNumberToObject(lt, "plans", shapes);
            cJSON_AddNumberToObject(lt, "plans_fused", fused);
        }
#endif
        /* flash attention's kernels (each call timed as the GEMMs are; FLOPs
         * of its products over the causal pairs: device.h's ze_flash_flops) */
        if (c.flash) {
            cJSON *fa = cJSON_AddObjectToObject(o, "flash");
            cJSON_AddNumberToObject(fa, "seconds_per_step", r.attn_s);
            cJSON_AddNumberToObject(fa, "flops_per_step", r.attn_flops);
            cJSON_AddNumberToObject(fa, "flops_per_s", r.attn_s > 0 ? r.attn_flops / r.attn_s : 0.0);
        }
        cJSON_AddNumberToObject(o, "steady_step_s", r.steady_step_s);
        cJSON_AddNumberToObject(o, "steady_comm_s", r.steady_comm_s);
        cJSON_AddNumberToObject(o, "steady_compute_s", r.steady_compute_s);   /* forward + backward */
        cJSON_AddNumberToObject(o, "overhead_fraction", r.steady_step_s > 0 ?
                                (r.steady_step_s - r.gemm_s - r.steady_comm_s) / r.steady_step_s : 0.0);
        /* rank 0's bytes per collective kind, over its groups, and per
         * group (with tp = 1 the dp group is the world) */
        cJSON *cb = cJSON_AddObjectToObject(o, "bus_bytes_per_step");
        uint64_t tot = 0;
        for (int k = 0; k < ZE_NCOLL; k++) {
            uint64_t b = r.bus_bytes_per_step[k] + r.tp_bus_bytes_per_step[k] + r.pp_bus_bytes_per_step[k] +
                         r.emb_bus_bytes_per_step[k] + r.cp_bus_bytes_per_step[k];
            cJSON_AddNumberToObject(cb, ze_coll_names[k], (double)b);
            tot += b;
        }
        cJSON *pg = cJSON_AddObjectToObject(o, "bus_bytes_per_group");
        static const char *const gname[NG] = {"dp", "tp", "pp", "embedding", "cp"};
        for (int i = 0; i < NG; i++) {
            cJSON *gi = cJSON_AddObjectToObject(pg, gname[i]);
            for (int k = 0; k < ZE_NCOLL; k++)
                cJSON_AddNumberToObject(gi, ze_coll_names[k], (double)per[i][k]);
        }
        /* offload: copies between the pools, as the planner's PCIe transfers */
        cJSON_AddNumberToObject(cb, "host-to-device", (double)r.h2d_per_step);
        cJSON_AddNumberToObject(cb, "device-to-host", (double)r.d2h_per_step);
        tot += r.h2d_per_step + r.d2h_per_step;
        cJSON_AddNumberToObject(cb, "total", (double)tot);
        cJSON *pr = cJSON_AddArrayToObject(o, "per_rank");
        for (int i = 0; i < g.size; i++) {
            double *v = all + (size_t)i * NV;
            uint64_t a[ZE_NCLASS], b[ZE_NCLASS], h[ZE_NCLASS];
            for (int k = 0; k < ZE_NCLASS; k++) {
                a[k] = (uint64_t)v[k];
                b[k] = (uint64_t)v[ZE_NCLASS + k];
                h[k] = (uint64_t)v[2 * ZE_NCLASS + k];
            }
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "rank", i);
            ze_layout lay;   /* its coordinates (group.h's order: tp fastest, then cp, dp, pp) */
            if (ze_layout_of(i, g.size, r.tp, r.cp, r.dp, r.pp, &lay) == 0) {
                cJSON_AddNumberToObject(x, "tp_rank", lay.coord[ZE_TP]);
                cJSON_AddNumberToObject(x, "cp_rank", lay.coord[ZE_CP]);
                cJSON_AddNumberToObject(x, "dp_rank", lay.coord[ZE_DP]);
                cJSON_AddNumberToObject(x, "pp_rank", lay.coord[ZE_PP]);
            }
            /* its stage's layers, its bytes per group, and the time it
             * spent in the pipeline's sends and receives per step (waiting
             * for its neighbours: the schedule's idle time, and the
             * transfers) against its step */
            cJSON_AddNumberToObject(x, "first_layer", v[ST + 1]);
            cJSON_AddNumberToObject(x, "layers", v[ST + 2]);
            cJSON *rg = cJSON_AddObjectToObject(x, "bus_bytes_per_group");
            for (int q = 0; q < NG; q++) {
                cJSON *gi = cJSON_AddObjectToObject(rg, gname[q]);
                for (int k = 0; k < ZE_NCOLL; k++)
                    cJSON_AddNumberToObject(gi, ze_coll_names[k], v[GB + q * ZE_NCOLL + k]);
            }
            cJSON_AddNumberToObject(x, "pipeline_wait_s", v[ST + 3]);
            cJSON_AddNumberToObject(x, "steady_step_s", v[ST + 4]);
            cJSON_AddNumberToObject(x, "pipeline_idle_median", v[ST + 5]);
            cJSON_AddItemToObject(x, "device_class_peaks", classes(a));
            cJSON_AddItemToObject(x, "device_at_peak", classes(b));
            cJSON_AddNumberToObject(x, "device_peak", v[3 * ZE_NCLASS]);
            cJSON_AddStringToObject(x, "peak_phase", ze_phase_names[(int)v[3 * ZE_NCLASS + 1]]);
            cJSON_AddItemToObject(x, "host_class_peaks", classes(h));
            cJSON *tm = cJSON_AddObjectToObject(x, "time_s");
            static const char *const tn[] = {"step", "forward", "backward", "optimizer", "communication"};
            for (int q = 0; q < 5; q++)
                cJSON_AddNumberToObject(tm, tn[q], v[TM + q]);
            cJSON *phs = cJSON_AddObjectToObject(x, "device_phases");   /* each phase's own peak */
            for (int p = 0; p < ZE_NPHASE; p++) {
                const double *pv = v + PH + p * (ZE_NCLASS + 1);
                uint64_t pc[ZE_NCLASS];
                for (int k = 0; k < ZE_NCLASS; k++)
                    pc[k] = (uint64_t)pv[1 + k];
                cJSON *po = classes(pc);
                cJSON_AddNumberToObject(po, "peak", pv[0]);
                cJSON_AddItemToObject(phs, ze_phase_names[p], po);
            }
            cJSON_AddNumberToObject(x, "rss_bytes", v[3 * ZE_NCLASS + 2]);
            if (strcmp(d.ops->name, "cpu") != 0) {
                cJSON *ov = cJSON_AddObjectToObject(x, "runtime_bytes");
                cJSON_AddNumberToObject(ov, "context", v[OV]);
                cJSON_AddNumberToObject(ov, "blas", v[OV + 1]);
                cJSON_AddNumberToObject(ov, "communicator", v[OV + 2]);
                cJSON_AddNumberToObject(ov, "device_used_at_peak", v[OV + 3]);
                cJSON_AddNumberToObject(ov, "pinned_staging", v[OV + 4]);
                cJSON_AddNumberToObject(ov, "tensors_rounded_at_peak", v[OV + 5]);
                cJSON_AddNumberToObject(ov, "device_used_before", v[OV + 6]);
            }
            cJSON_AddItemToArray(pr, x);
        }
        char *t = cJSON_PrintUnformatted(o);
        if (t)
            puts(t);
        fflush(stdout);   /* out now: stdout may be a pipe, and the process may end abnormally after this */
        free(t);
        cJSON_Delete(o);
        free(all);
    }
    free(r.losses);
    ze_group_fini(&g);
    ze_dev_fini(&d);
    MPI_Finalize();
    return rc == 0 ? 0 : 1;
}
