/* group_staged.c - the collective group for ranks that share a GPU (NCCL
 * refuses two ranks of one communicator on the same GPU): each collective
 * copies what it needs from the device into a pinned host buffer, runs the
 * MPI collective there (group_mpi.c, 16-bit sums in fp32 rounded back) and
 * copies the result back.  Bytes are counted as any group counts them (the
 * planner's bus bytes); the time includes the copies, and is the time of
 * ranks sharing one GPU, not of separate GPUs.  The pinned buffer grows to
 * the largest collective and is reported in d->ovh.staging.  Sub-groups
 * (tensor and pipeline parallelism) split the MPI communicator and stage
 * the same way; point to point goes through the pinned buffer, a send not
 * waited for (the interleaved pipeline) through a host copy of its own. */
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

static int s_allreduce_max(ze_group *g, float *buf, size_t n)
{
    staged_group *s = impl(g);
    size_t bytes = n * sizeof(float);
    int rc = stage(g, bytes);
    double t = ze_now_s();
    if (rc || (rc = copy(g, s->buf, buf, bytes, cudaMemcpyDeviceToHost)) ||
        (rc = inner(g, s->host.allreduce_max(&s->host, s->buf, n))) ||
        (rc = copy(g, buf, s->buf, bytes, cudaMemcpyHostToDevice)))
        return rc;
    ze_group_count(g, ZE_ALLREDUCE, n, ZE_F32, ze_now_s() - t);
    return 0;
}

static int s_broadcast(ze_group *g, void *buf, size_t n, ze_dt dt, int root)
{
    staged_group *s = impl(g);
    size_t bytes = n * ze_dt_size(dt);
    int rc = stage(g, bytes);
    double t = ze_now_s();
    if (rc || (g->rank == root && (rc = copy(g, s->buf, buf, bytes, cudaMemcpyDeviceToHost))) ||
        (rc = inner(g, s->host.broadcast(&s->host, s->buf, n, dt, root))) ||
        (g->rank != root && (rc = copy(g, buf, s->buf, bytes, cudaMemcpyHostToDevice))))
        return rc;
    ze_group_count(g, ZE_BROADCAST, n, dt, ze_now_s() - t);
    return 0;
}

static int s_send(ze_group *g, const void *buf, size_t n, ze_dt dt, int peer)
{
    staged_group *s = impl(g);
    size_t bytes = n * ze_dt_size(dt);
    int rc = stage(g, bytes);
    double t = ze_now_s();
    if (rc || (rc = copy(g, s->buf, buf, bytes, cudaMemcpyDeviceToHost)) ||
        (rc = inner(g, s->host.send(&s->host, s->buf, n, dt, peer))))
        return rc;
    ze_group_count(g, ZE_SENDRECV, n, dt, ze_now_s() - t);
    return 0;
}

/* a receive into the pinned buffer, then up (tag < 0: the untagged one) */
static int s_recv_tag(ze_group *g, void *buf, size_t n, ze_dt dt, int peer, int tag)
{
    staged_group *s = impl(g);
    ze_group *h = &s->host;
    size_t bytes = n * ze_dt_size(dt);
    int rc = stage(g, bytes);
    double t = ze_now_s();
    if (rc || (rc = inner(g, tag < 0 ? h->recv(h, s->buf, n, dt, peer) : h->recv_tag(h, s->buf, n, dt, peer, tag))) ||
        (rc = copy(g, buf, s->buf, bytes, cudaMemcpyHostToDevice)))
        return rc;
    g->comm_s += ze_now_s() - t;
    return 0;
}

static int s_recv(ze_group *g, void *buf, size_t n, ze_dt dt, int peer) { return s_recv_tag(g, buf, n, dt, peer, -1); }

/* both at once: the send's half and the receive's half of the pinned
 * buffer */
static int s_sendrecv(ze_group *g, const void *sbuf, size_t sn, int to, void *rbuf, size_t rn, int from, ze_dt dt)
{
    staged_group *s = impl(g);
    size_t es = ze_dt_size(dt), sb = sn * es, rb = rn * es;
    int rc = stage(g, sb + rb);
    double t = ze_now_s();
    char *hs = s->buf, *hr = hs + sb;
    if (rc || (rc = copy(g, hs, sbuf, sb, cudaMemcpyDeviceToHost)) ||
        (rc = inner(g, s->host.sendrecv(&s->host, hs, sn, to, hr, rn, from, dt))) ||
        (rc = copy(g, rbuf, hr, rb, cudaMemcpyHostToDevice)))
        return rc;
    ze_group_count(g, ZE_SENDRECV, sn, dt, ze_now_s() - t);
    return 0;
}

/* a send not waited for: the message copied into host memory of its own
 * (freed when done) */
typedef struct staged_req {
    void *inner;
    void *host;
} staged_req;

static int s_isend(ze_group *g, const void *buf, size_t n, ze_dt dt, int peer, int tag, void **req)
{
    staged_group *s = impl(g);
    size_t bytes = n * ze_dt_size(dt);
    staged_req *r = calloc(1, sizeof *r);
    if (!r || !(r->host = malloc(bytes ? bytes : 1))) {
        free(r);
        snprintf(g->err, sizeof g->err, "no host memory for a staged send");
        return ZE_GERR_NOMEM;
    }
    s->d->ops->sync(s->d);
    double t = ze_now_s();
    int rc = copy(g, r->host, buf, bytes, cudaMemcpyDeviceToHost);
    if (!rc)
        rc = inner(g, s->host.isend(&s->host, r->host, n, dt, peer, tag, &r->inner));
    if (rc) {
        free(r->host);
        free(r);
        return rc;
    }
    *req = r;
    ze_group_count(g, ZE_SENDRECV, n, dt, ze_now_s() - t);
    return 0;
}

static int s_done(ze_group *g, void *req, int block, int *finished)
{
    staged_group *s = impl(g);
    staged_req *r = req;
    int fin = 0;
    double t = ze_now_s();
    int rc = inner(g, s->host.done(&s->host, r->inner, block, &fin));
    g->comm_s += ze_now_s() - t;
    if (rc)
        return rc;
    if (finished)
        *finished = fin;
    if (fin) {
        free(r->host);
        free(r);
    }
    return 0;
}

static int staged_wrap(ze_group *g, ze_group *host, ze_dev *d);

/* a sub-group: the MPI communicator split, staged through a pinned buffer
 * of its own */
static int s_split(ze_group *g, int color, int key, ze_group *out)
{
    staged_group *s = impl(g);
    ze_group sub;
    int rc = inner(g, s->host.split(&s->host, color, key, &sub));
    if (rc)
        return rc;
    if ((rc = staged_wrap(out, &sub, s->d))) {
        snprintf(g->err, sizeof g->err, "%s", out->err);
        ze_group_fini(&sub);
    }
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

/* g staged over host (an MPI group, taken over: finished with g) */
static int staged_wrap(ze_group *g, ze_group *host, ze_dev *d)
{
    memset(g, 0, sizeof *g);
    staged_group *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(g->err, sizeof g->err, "no memory for the host-staged group");
        return ZE_GERR_NOMEM;
    }
    s->host = *host;
    s->d = d;
    g->impl = s;
    g->kind = "staged";
    g->rank = s->host.rank;
    g->size = s->host.size;
    g->allreduce = s_allreduce;
    g->reduce_scatter = s_reduce_scatter;
    g->allgather = s_allgather;
    g->sum_doubles = s_sum;
    g->allreduce_max = s_allreduce_max;
    g->broadcast = s_broadcast;
    g->send = s_send;
    g->recv = s_recv;
    g->sendrecv = s_sendrecv;
    g->isend = s_isend;
    g->done = s_done;
    g->recv_tag = s_recv_tag;
    g->split = s_split;
    g->fini = s_fini;
    return 0;
}

int ze_group_staged(ze_group *g, MPI_Comm comm, ze_dev *d)
{
    ze_group host;
    int rc = ze_group_mpi(&host, comm);
    if (rc) {
        memset(g, 0, sizeof *g);
        snprintf(g->err, sizeof g->err, "%s", host.err);
        return rc;
    }
    if ((rc = staged_wrap(g, &host, d)))
        ze_group_fini(&host);
    return rc;
}
