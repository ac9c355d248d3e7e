/* calibrate.c - what one CPU rank of this machine does per second, measured
 * with every rank of the job busy at once (as during training): OpenBLAS's
 * sgemm at square sizes and at the engine's own shapes, the AdamW pass,
 * memcpy between pools, and the data-parallel collectives at several sizes
 * (their time fitted as latency per ring step + bus bytes / bandwidth, the
 * planner's model).  Rank 0 prints one JSON object; zplan calibrate turns it
 * into a hardware profile. */
#include "calibrate.h"
#include "kernels.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median over ranks of each rank's median time of reps runs of fn. */
typedef void (*work_fn)(void *ctx);

static double timed(MPI_Comm comm, work_fn fn, void *ctx, int reps)
{
    double t[64], mine;
    if (reps > 64)
        reps = 64;
    fn(ctx);   /* warm up */
    for (int i = 0; i < reps; i++) {
        MPI_Barrier(comm);
        double t0 = MPI_Wtime();
        fn(ctx);
        t[i] = MPI_Wtime() - t0;
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_d);
    mine = t[reps / 2];
    static double all[4096];   /* zplan calibrate --np is at most 4096 */
    int n;
    MPI_Comm_size(comm, &n);
    if (n > 4096)
        n = 4096;
    MPI_Allgather(&mine, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, comm);
    qsort(all, (size_t)n, sizeof(double), cmp_d);
    return all[n / 2];
}

/* Every rank has what it needs (a rank out of memory must not leave the
 * others waiting in a collective). */
static int all_ok(MPI_Comm comm, int ok)
{
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    return all;
}

typedef struct gemm_ctx { int M, N, K; float *a, *b, *c; } gemm_ctx;
static void do_gemm(void *p)
{
    gemm_ctx *g = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->M, g->N, g->K, 1.0f, g->a, g->K, g->b, g->K, 0.0f, g->c,
                g->N);
}

typedef struct adam_ctx { float *p, *g, *m, *v; size_t n; } adam_ctx;
static void do_adam(void *p)
{
    adam_ctx *a = p;
    zk_adamw(a->p, a->g, a->m, a->v, a->n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f, 1);
}

typedef struct copy_ctx { float *dst, *src; size_t n; } copy_ctx;
static void do_copy(void *p)
{
    copy_ctx *c = p;
    memcpy(c->dst, c->src, c->n * sizeof(float));
}

typedef struct coll_ctx { MPI_Comm comm; int kind, size; float *buf; size_t n; } coll_ctx;
static void do_coll(void *p)
{
    coll_ctx *c = p;
    size_t blk = c->n / (size_t)c->size;
    if (c->kind == 0)
        MPI_Allreduce(MPI_IN_PLACE, c->buf, (int)c->n, MPI_FLOAT, MPI_SUM, c->comm);
    else if (c->kind == 1)
        MPI_Reduce_scatter_block(MPI_IN_PLACE, c->buf, (int)blk, MPI_FLOAT, MPI_SUM, c->comm);
    else
        MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, c->buf, (int)blk, MPI_FLOAT, c->comm);
}

static float *fill(size_t n, float v)
{
    float *x = malloc(n * sizeof(float));
    if (x)
        for (size_t i = 0; i < n; i++)
            x[i] = v * (float)((i * 2654435761u) % 1000) / 1000.0f;
    return x;
}

int ze_calibrate(MPI_Comm comm, int rank, int size)
{
    cJSON *o = rank == 0 ? cJSON_CreateObject() : NULL;
    int reps = 9;

    /* sgemm: square sizes, and the shapes of a block's forward at
     * hidden 128, 256 and 512 over 512 tokens (qkv, fc1, fc2) */
    static const int shapes[][3] = {{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024},
                                    {512, 384, 128}, {512, 512, 128}, {512, 128, 512},
                                    {512, 768, 256}, {512, 1024, 256}, {512, 256, 1024},
                                    {512, 1536, 512}, {512, 2048, 512}, {512, 512, 2048}};
    int ns = (int)(sizeof shapes / sizeof shapes[0]);
    double best = 0.0;
    cJSON *ga = o ? cJSON_AddArrayToObject(o, "sgemm") : NULL;
    for (int i = 0; i < ns; i++) {
        gemm_ctx g = {shapes[i][0], shapes[i][1], shapes[i][2], NULL, NULL, NULL};
        g.a = fill((size_t)g.M * (size_t)g.K, 1.0f);
        g.b = fill((size_t)g.N * (size_t)g.K, 0.5f);
        g.c = fill((size_t)g.M * (size_t)g.N, 0.0f);
        if (!all_ok(comm, g.a && g.b && g.c)) {
            free(g.a), free(g.b), free(g.c);
            cJSON_Delete(o);
            return -1;
        }
        double t = timed(comm, do_gemm, &g, reps);
        double rate = 2.0 * g.M * g.N * g.K / t;
        if (rate > best)
            best = rate;
        if (ga) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "m", g.M);
            cJSON_AddNumberToObject(x, "n", g.N);
            cJSON_AddNumberToObject(x, "k", g.K);
            cJSON_AddNumberToObject(x, "flops_per_s", rate);
            cJSON_AddItemToArray(ga, x);
        }
        free(g.a), free(g.b), free(g.c);
    }
    if (o)
        cJSON_AddNumberToObject(o, "sgemm_peak_flops_per_s", best);

    /* the AdamW pass over 4M parameters, and memcpy of 64 MiB */
    {
        size_t n = (size_t)1 << 22;
        adam_ctx a = {fill(n, 1.0f), fill(n, 0.01f), fill(n, 0.0f), fill(n, 0.0f), n};
        if (!all_ok(comm, a.p && a.g && a.m && a.v)) {
            free(a.p), free(a.g), free(a.m), free(a.v);
            cJSON_Delete(o);
            return -1;
        }
        double t = timed(comm, do_adam, &a, 5);
        if (o)
            cJSON_AddNumberToObject(o, "adam_params_per_s", (double)n / t);
        free(a.p), free(a.g), free(a.m), free(a.v);
        copy_ctx c = {fill(n * 4, 0.0f), fill(n * 4, 1.0f), n * 4};
        if (!all_ok(comm, c.dst && c.src)) {
            free(c.dst), free(c.src);
            cJSON_Delete(o);
            return -1;
        }
        t = timed(comm, do_copy, &c, 5);
        if (o)
            cJSON_AddNumberToObject(o, "memcpy_bytes_per_s", (double)(n * 4 * sizeof(float)) / t);
        free(c.dst), free(c.src);
    }

    /* collectives: t = steps x alpha + bus bytes / bw, fitted by least
     * squares over kinds and sizes (steps 2(n-1) for all-reduce, n-1 else;
     * bus bytes S (n-1)/n, twice for all-reduce) */
    if (size > 1) {
        static const char *const kinds[] = {"all-reduce", "reduce-scatter", "all-gather"};
        size_t sizes[] = {(size_t)1 << 10, (size_t)1 << 14, (size_t)1 << 18, (size_t)1 << 21};
        int nz = 4;
        /* regress t on (steps, bus): normal equations for two unknowns */
        double Ass = 0, Asb = 0, Abb = 0, Ats = 0, Atb = 0;
        cJSON *ca = o ? cJSON_AddArrayToObject(o, "collectives") : NULL;
        float *buf = fill(sizes[nz - 1], 1.0f);
        if (!all_ok(comm, buf != NULL)) {
            free(buf);
            cJSON_Delete(o);
            return -1;
        }
        for (int k = 0; k < 3; k++)
            for (int z = 0; z < nz; z++) {
                size_t n = sizes[z] / (size_t)size * (size_t)size;
                coll_ctx c = {comm, k, size, buf, n};
                double t = timed(comm, do_coll, &c, 15);
                double f = (double)(size - 1) / size, steps = (k == 0 ? 2.0 : 1.0) * (size - 1);
                double bus = (double)n * 4.0 * f * (k == 0 ? 2.0 : 1.0);
                /* weight by 1/t so small and large sizes both count */
                double w = 1.0 / (t * t);
                Ass += w * steps * steps, Asb += w * steps * bus, Abb += w * bus * bus;
                Ats += w * t * steps, Atb += w * t * bus;
                if (ca) {
                    cJSON *x = cJSON_CreateObject();
                    cJSON_AddStringToObject(x, "kind", kinds[k]);
                    cJSON_AddNumberToObject(x, "bytes", (double)n * 4.0);
                    cJSON_AddNumberToObject(x, "bus_bytes", bus);
                    cJSON_AddNumberToObject(x, "seconds", t);
                    cJSON_AddItemToArray(ca, x);
                }
            }
        free(buf);
        double det = Ass * Abb - Asb * Asb;
        double alpha = det != 0 ? (Ats * Abb - Atb * Asb) / det : 0.0;
        double inv_bw = det != 0 ? (Ass * Atb - Asb * Ats) / det : 0.0;
        if (alpha < 0)   /* latency below resolution: fit bandwidth alone */
            alpha = 0.0, inv_bw = Atb / Abb;
        if (o) {
            cJSON_AddNumberToObject(o, "latency_s", alpha);
            cJSON_AddNumberToObject(o, "bus_bytes_per_s", inv_bw > 0 ? 1.0 / inv_bw : 0.0);
        }
    }
    if (o) {
        cJSON_AddNumberToObject(o, "ranks", size);
        char *t = cJSON_PrintUnformatted(o);
        if (t)
            puts(t);
        free(t);
        cJSON_Delete(o);
    }
    return 0;
}
