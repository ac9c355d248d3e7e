/* group_staged.c - the collective group for ranks that share a GPU (NCCL
 * refuses two ranks of one communicator on the same GPU): each collective
 * copies what it needs from the device into a pinned host buffer, runs the
 * MPI collective there (group_mpi.c, 16-bit sums in fp32 rounded back) and
 * copies the result back.  Bytes are counted as any group counts them (the
 * planner's bus bytes); the time includes the copies, and is the time of
 * ranks sharing one GPU, not of separate GPUs.  The pinned buffer grows to
 * the largest collective and is reported in d->ovh.staging. */
#define ZE_WITH_MPI 1
#include "group.h"

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct staged_group {
    ze_group host;     /* MPI on host memory */
    void *buf;         /* pinned */
    size_t cap;
    ze_dev *d;
} staged_group;

static staged_group *impl(ze_group *g) { return g->impl; }

static int cuda_failed(ze_group *g, const char *what, cudaError_t e)
{
    snprintf(g->err, sizeof g->err, "CUDA %s (host-staged collective) failed: %s", what, cudaGetErrorString(e));
    return ZE_GERR_CUDA;
}

/* A pinned buffer of at least `bytes`, after the device's queued work. */
static int stage(ze_group *g, size_t bytes)
{
    staged_group *s = impl(g);
    s->d->ops->sync(s->d);
    if (bytes <= s->cap)
        return 0;
    if (s->buf)
        cudaFreeHost(s->buf);
    s->d->ovh.staging -= s->cap;
    s->buf = NULL;
    s->cap = 0;
    cudaError_t e = cudaMallocHost(&s->buf, bytes);
    if (e != cudaSuccess)
        return cuda_failed(g, "pinned buffer", e);
    s->d->ovh.staging += bytes;
    s->cap = bytes;
    return 0;
}

static int copy(ze_group *g, void *dst, const void *src, size_t bytes, enum cudaMemcpyKind k)
{
    cudaError_t e = cudaMemcpy(dst, src, bytes, k);
    return e == cudaSuccess ? 0 : cuda_failed(g, k == cudaMemcpyDeviceToHost ? "device-to-host copy"
                                                                            : "host-to-device copy", e);
}

static int inner(ze_group *g, int rc)
{
    if (rc)
        snprintf(g->err, sizeof g->err, "%s", impl(g)->host.err);
    return rc;
}

/* One collective: down what it needs (all-gather: this rank's block;
 * the others: everything), MPI on the pinned copy, up what it changed
 * (reduce-scatter: this rank's block; the others: everything). */
static int s_coll(ze_group *g, ze_coll k, void *buf, size_t n, ze_dt dt)
{
    size_t es = ze_dt_size(dt), bytes = n * es, blk = n / (size_t)g->size, off = (size_t)g->rank * blk;
    staged_group *s = impl(g);
    int rc = stage(g, bytes);   /* after the device's queued work */
    double t = ze_now_s();
    int part_down = k == ZE_ALLGATHER, part_up = k == ZE_REDUCE_SCATTER;
    ze_group *h = &s->host;
    if (rc || (rc = copy(g, ze_at(s->buf, dt, part_down ? off : 0), ze_at(buf, dt, part_down ? off : 0),
                         part_down ? blk * es : bytes, cudaMemcpyDeviceToHost)) ||
        (rc = inner(g, k == ZE_ALLREDUCE ? h->allreduce(h, s->buf, n, dt)
                       : k == ZE_REDUCE_SCATTER ? h->reduce_scatter(h, s->buf, n, dt)
                                                : h->allgather(h, s->buf, n, dt))) ||
        (rc = copy(g, ze_at(buf, dt, part_up ? off : 0), ze_at(s->buf, dt, part_up ? off : 0),
                   part_up ? blk * es : bytes, cudaMemcpyHostToDevice)))
        return rc;
    ze_group_count(g, k, n, dt, ze_now_s() - t);
    return 0;
}

static int s_allreduce(ze_group *g, void *buf, size_t n, ze_dt dt) { return s_coll(g, ZE_ALLREDUCE, buf, n, dt); }

static int s_reduce_scatter(ze_group *g, void *buf, size_t n, ze_dt dt)
{
    return s_coll(g, ZE_REDUCE_SCATTER, buf, n, dt);
}

static int s_allgather(ze_group *g, void *buf, size_t n, ze_dt dt) { return s_coll(g, ZE_ALLGATHER, buf, n, dt); }

static int s_sum(ze_group *g, double *v, int n)
{
    staged_group *s = impl(g);
    double t = ze_now_s();
    int rc = inner(g, s->host.sum_doubles(&s->host, v, n));
    g->comm_s += ze_now_s() - t;
    return rc;
}

static void s_fini(ze_group *g)
{
    staged_group *s = impl(g);
    if (!s)
        return;
    if (s->buf)
        cudaFreeHost(s->buf);
    ze_group_fini(&s->host);
    free(s);
    g->impl = NULL;
}

int ze_group_staged(ze_group *g, MPI_Comm comm, ze_dev *d)
{
    memset(g, 0, sizeof *g);
    staged_group *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(g->err, sizeof g->err, "no memory for the host-staged group");
        return ZE_GERR_NOMEM;
    }
    int rc = ze_group_mpi(&s->host, comm);
    if (rc) {
        snprintf(g->err, sizeof g->err, "%s", s->host.err);
        free(s);
        return rc;
    }
    s->d = d;
    g->impl = s;
    g->kind = "staged";
    g->rank = s->host.rank;
    g->size = s->host.size;
    g->allreduce = s_allreduce;
    g->reduce_scatter = s_reduce_scatter;
    g->allgather = s_allgather;
    g->sum_doubles = s_sum;
    ze_group_no_p2p(g);   /* tensor and pipeline groups: the TP/PP issue */
    g->fini = s_fini;
    return 0;
}
