/* group_nccl.c - the collective group over NCCL: one rank per GPU, the
 * communicator bootstrapped over MPI (rank 0 makes the unique id and
 * broadcasts it).  Collectives run in place on device memory on the
 * group's own stream, after the device's work so far (ops->sync), and
 * return when their result is in place; while waiting, NCCL's asynchronous
 * errors are polled (ncclCommGetAsyncError), so that a failure on the
 * network or a peer reaches the caller as a code and a message instead of a
 * hang.  The communicator's device memory is measured (cudaMemGetInfo
 * before it is made and after a first collective, since NCCL allocates
 * some buffers lazily) into d->ovh.comm. */
#define ZE_WITH_MPI 1
#include "group.h"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct nccl_group {
    ncclComm_t comm;
    cudaStream_t stream;
    MPI_Comm mpi;
    int own_mpi;        /* a sub-group's split communicator, freed with it */
    ze_dev *d;
    double timeout_s;   /* a collective waiting longer has a peer gone or hung */
} nccl_group;

static nccl_group *impl(ze_group *g) { return g->impl; }

static int nccl_failed(ze_group *g, const char *what, ncclResult_t r)
{
    const char *last = impl(g) && impl(g)->comm ? ncclGetLastError(impl(g)->comm) : NULL;
    snprintf(g->err, sizeof g->err, "NCCL %s failed: %s%s%s", what, ncclGetErrorString(r),
             last && *last ? ": " : "", last ? last : "");
    return ZE_GERR_NCCL;
}

static int cuda_failed(ze_group *g, const char *what, cudaError_t e)
{
    snprintf(g->err, sizeof g->err, "CUDA %s failed: %s", what, cudaGetErrorString(e));
    return ZE_GERR_CUDA;
}

/* The communicator is unusable after an error: abort it (its kernels
 * end), so that nothing waits on it any more. */
static int give_up(ze_group *g, int rc)
{
    nccl_group *n = impl(g);
    if (n->comm)
        ncclCommAbort(n->comm);
    n->comm = NULL;
    return rc;
}

/* Wait for the work just called to be done, until the timeout.  The
 * communicator is non-blocking: a call that returned ncclInProgress may
 * not be on the stream yet (NCCL's group launch goes on in a thread of its
 * own), so the stream is looked at only once the communicator's state has
 * left ncclInProgress (NCCL: poll ncclCommGetAsyncError before anything
 * else); an asynchronous error ends the wait at any time. */
static int wait_done(ze_group *g, const char *what)
{
    nccl_group *n = impl(g);
    double t0 = ze_now_s();
    int queued = 0;
    for (;;) {
        ncclResult_t ae = ncclSuccess;
        ncclResult_t r = ncclCommGetAsyncError(n->comm, &ae);
        if (r != ncclSuccess)
            return give_up(g, nccl_failed(g, what, r));
        if (ae != ncclSuccess && ae != ncclInProgress)
            return give_up(g, nccl_failed(g, what, ae));
        if (ae == ncclSuccess)
            queued = 1;
        if (queued) {
            cudaError_t e = cudaStreamQuery(n->stream);
            if (e == cudaSuccess)
                return 0;
            if (e != cudaErrorNotReady)
                return give_up(g, cuda_failed(g, what, e));
        }
        if (ze_now_s() - t0 > n->timeout_s) {
            snprintf(g->err, sizeof g->err, "NCCL %s: no progress in %.0f s (a peer is gone or hung)", what,
                     n->timeout_s);
            return give_up(g, ZE_GERR_NCCL);
        }
        sched_yield();
    }
}

static ncclDataType_t ntype(ze_dt dt)
{
    return dt == ZE_F32 ? ncclFloat32 : dt == ZE_BF16 ? ncclBfloat16 : ncclFloat16;
}

/* Start after the device's queued work; NULL communicator: an earlier
 * asynchronous error ended it. */
static int begin(ze_group *g, const char *what)
{
    nccl_group *n = impl(g);
    if (!n->comm) {
        snprintf(g->err, sizeof g->err, "NCCL %s: the communicator was aborted after an earlier error", what);
        return ZE_GERR_NCCL;
    }
    n->d->ops->sync(n->d);
    return 0;
}

/* After a call queued on the group's stream (r: its result): wait for it
 * and count k of cnt values of dt from t (a receive alone, a send/receive
 * of 0 values: its time only, as the other rows), or give the
 * communicator up. */
static int finish(ze_group *g, const char *what, ncclResult_t r, ze_coll k, size_t cnt, ze_dt dt, double t)
{
    int rc;
    if (r != ncclSuccess && r != ncclInProgress)   /* non-blocking: queued, or going */
        return give_up(g, nccl_failed(g, what, r));
    if ((rc = wait_done(g, what)))
        return rc;
    if (k == ZE_SENDRECV && !cnt)
        g->comm_s += ze_now_s() - t;
    else
        ze_group_count(g, k, cnt, dt, ze_now_s() - t);
    return 0;
}

/* One collective in place, as the engine's convention and NCCL's agree:
 * rank r's block of reduce-scatter is received at r * cnt/size, and
 * all-gather sends from there. */
static int n_coll(ze_group *g, ze_coll k, void *buf, size_t cnt, ze_dt dt)
{
    int rc = begin(g, ze_coll_names[k]);
    if (rc)
        return rc;
    double t = ze_now_s();   /* after the device's queued work: the collective's own time */
    nccl_group *n = impl(g);
    size_t blk = cnt / (size_t)g->size;
    void *mine = ze_at(buf, dt, (size_t)g->rank * blk);
    ncclResult_t r = k == ZE_ALLREDUCE ? ncclAllReduce(buf, buf, cnt, ntype(dt), ncclSum, n->comm, n->stream)
                     : k == ZE_REDUCE_SCATTER
                         ? ncclReduceScatter(buf, mine, blk, ntype(dt), ncclSum, n->comm, n->stream)
                         : ncclAllGather(mine, buf, blk, ntype(dt), n->comm, n->stream);
    return finish(g, ze_coll_names[k], r, k, cnt, dt, t);
}

static int n_allreduce(ze_group *g, void *buf, size_t cnt, ze_dt dt) { return n_coll(g, ZE_ALLREDUCE, buf, cnt, dt); }

static int n_reduce_scatter(ze_group *g, void *buf, size_t cnt, ze_dt dt)
{
    return n_coll(g, ZE_REDUCE_SCATTER, buf, cnt, dt);
}

static int n_allgather(ze_group *g, void *buf, size_t cnt, ze_dt dt) { return n_coll(g, ZE_ALLGATHER, buf, cnt, dt); }

/* The element-wise maximum of fp32 values (the vocabulary-parallel
 * cross-entropy's row maxima), counted as an all-reduce. */
static int n_allreduce_max(ze_group *g, float *buf, size_t cnt)
{
    int rc = begin(g, "maximum all-reduce");
    if (rc)
        return rc;
    double t = ze_now_s();
    ncclResult_t r = ncclAllReduce(buf, buf, cnt, ncclFloat32, ncclMax, impl(g)->comm, impl(g)->stream);
    return finish(g, "maximum all-reduce", r, ZE_ALLREDUCE, cnt, ZE_F32, t);
}

static int n_broadcast(ze_group *g, void *buf, size_t cnt, ze_dt dt, int root)
{
    int rc = begin(g, "broadcast");
    if (rc)
        return rc;
    double t = ze_now_s();
    ncclResult_t r = ncclBroadcast(buf, buf, cnt, ntype(dt), root, impl(g)->comm, impl(g)->stream);
    return finish(g, "broadcast", r, ZE_BROADCAST, cnt, dt, t);
}

/* Point to point: a send of sn values to `to` and a receive of rn from
 * `from` (either count 0: none) fused in one NCCL group, so that neither
 * side waits for the other to post first; the sender counts its S. */
static int n_p2p(ze_group *g, const void *sbuf, size_t sn, int to, void *rbuf, size_t rn, int from, ze_dt dt)
{
    int rc = begin(g, "send/receive");
    if (rc)
        return rc;
    nccl_group *n = impl(g);
    double t = ze_now_s();
    ncclResult_t r = ncclGroupStart();
    if (r == ncclSuccess && sn)
        r = ncclSend(sbuf, sn, ntype(dt), to, n->comm, n->stream);
    if ((r == ncclSuccess || r == ncclInProgress) && rn)
        r = ncclRecv(rbuf, rn, ntype(dt), from, n->comm, n->stream);
    ncclResult_t e = ncclGroupEnd();
    if (r == ncclSuccess || r == ncclInProgress)
        r = e;
    return finish(g, "send/receive", r, ZE_SENDRECV, sn, dt, t);
}

static int n_send(ze_group *g, const void *buf, size_t cnt, ze_dt dt, int peer)
{
    return n_p2p(g, buf, cnt, peer, NULL, 0, -1, dt);
}

static int n_recv(ze_group *g, void *buf, size_t cnt, ze_dt dt, int peer)
{
    return n_p2p(g, NULL, 0, -1, buf, cnt, peer, dt);
}

static int n_sendrecv(ze_group *g, const void *sbuf, size_t sn, int to, void *rbuf, size_t rn, int from, ze_dt dt)
{
    return n_p2p(g, sbuf, sn, to, rbuf, rn, from, dt);
}

/* A sub-group: the MPI communicator split by color and key, and a NCCL
 * communicator of its own bootstrapped over it (its device memory counted
 * as the first's); a group of one rank is the identity.  Every rank of g
 * calls it.  Written and compiled; not yet run on GPUs of their own. */
static int n_split(ze_group *g, int color, int key, ze_group *out)
{
    nccl_group *n = impl(g);
    MPI_Comm sub = MPI_COMM_NULL;
    int rc = MPI_Comm_split(n->mpi, color, key, &sub);
    if (rc != MPI_SUCCESS) {
        snprintf(g->err, sizeof g->err, "MPI split for a NCCL sub-group failed");
        return ZE_GERR_MPI;
    }
    int size = 0;
    MPI_Comm_size(sub, &size);
    if (size == 1) {   /* a group of one: the identity, no communicator (and no memory) for it */
        MPI_Comm_free(&sub);
        ze_group_single(out);
        return 0;
    }
    if ((rc = ze_group_nccl(out, sub, n->d))) {
        snprintf(g->err, sizeof g->err, "%s", out->err);
        MPI_Comm_free(&sub);
        return rc;
    }
    impl(out)->own_mpi = 1;
    return 0;
}

/* A few host doubles: over MPI, as on the CPU ranks. */
static int n_sum(ze_group *g, double *v, int cnt)
{
    double t = ze_now_s();
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, cnt, MPI_DOUBLE, MPI_SUM, impl(g)->mpi);
    if (rc != MPI_SUCCESS) {
        char s[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, s, &len);
        snprintf(g->err, sizeof g->err, "MPI sum failed: %.*s", len, s);
        return ZE_GERR_MPI;
    }
    g->comm_s += ze_now_s() - t;
    return 0;
}

static void n_fini(ze_group *g)
{
    nccl_group *n = impl(g);
    if (!n)
        return;
    if (n->comm) {   /* non-blocking: finalize, wait for it (with the timeout), then free */
        ncclResult_t st = ncclCommFinalize(n->comm);
        for (double t0 = ze_now_s(); st == ncclInProgress && ze_now_s() - t0 < n->timeout_s;) {
            if (ncclCommGetAsyncError(n->comm, &st) != ncclSuccess)
                break;
            sched_yield();
        }
        if (st == ncclSuccess)
            ncclCommDestroy(n->comm);
        else
            ncclCommAbort(n->comm);
    }
    if (n->stream)
        cudaStreamDestroy(n->stream);
    if (n->own_mpi)
        MPI_Comm_free(&n->mpi);
    free(n);
    g->impl = NULL;
}

static uint64_t used_bytes(void)
{
    size_t fr = 0, tot = 0;
    return cudaMemGetInfo(&fr, &tot) == cudaSuccess ? (uint64_t)(tot - fr) : 0;
}

/* Every rank's verdict on a step of the set-up: 0 when all succeeded (so
 * that no rank goes on into a collective call the others never make). */
static int all_ok(MPI_Comm comm, int mine)
{
    int all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, comm);
    return all ? 0 : -1;
}

int ze_group_nccl(ze_group *g, MPI_Comm comm, ze_dev *d)
{
    memset(g, 0, sizeof *g);
    nccl_group *n = calloc(1, sizeof *n);
    int rc = 0;
    if (!n)
        snprintf(g->err, sizeof g->err, "no memory for the NCCL group");
    if (all_ok(comm, n != NULL)) {
        free(n);
        if (!g->err[0])
            snprintf(g->err, sizeof g->err, "NCCL: another rank could not start its group");
        return ZE_GERR_NOMEM;
    }
    g->impl = n;
    g->kind = "nccl";
    g->fini = n_fini;
    g->allreduce = n_allreduce;
    g->reduce_scatter = n_reduce_scatter;
    g->allgather = n_allgather;
    g->sum_doubles = n_sum;
    /* tensor and pipeline groups: sub-groups, broadcast, the maximum
     * all-reduce and point to point; the interleaved schedule's tagged
     * messages (isend, done, recv_tag) NCCL has no tags for: refused with
     * the reason (ze_group_no_p2p's) */
    ze_group_no_p2p(g);
    g->allreduce_max = n_allreduce_max;
    g->broadcast = n_broadcast;
    g->send = n_send;
    g->recv = n_recv;
    g->sendrecv = n_sendrecv;
    g->split = n_split;
    n->mpi = comm;
    n->d = d;
    const char *to = getenv("ZPLAN_COLL_TIMEOUT");
    n->timeout_s = to && atof(to) > 0 ? atof(to) : 600.0;
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm, &g->rank);
    MPI_Comm_size(comm, &g->size);
    /* every connection made at init (NCCL makes them at first use since
     * 2.22), so that the communicator's memory is there to be measured;
     * a value the user set is kept */
    setenv("NCCL_RUNTIME_CONNECT", "0", 0);
    /* what each rank needs before the communicator, agreed on by all */
    float *one = NULL;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    cudaError_t e = cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&one, sizeof(float));
    if (e == cudaSuccess)
        e = cudaMemsetAsync(one, 0, sizeof(float), n->stream);
    if (e != cudaSuccess)
        rc = cuda_failed(g, "set-up", e);
    ncclResult_t r = ncclSuccess;
    if (!rc && g->rank == 0 && (r = ncclGetUniqueId(&id)) != ncclSuccess)
        rc = nccl_failed(g, "unique id", r);
    if (all_ok(comm, rc == 0)) {
        if (!rc)
            snprintf(g->err, sizeof g->err, "NCCL set-up: another rank failed (its message is on its stderr)");
        cudaFree(one);
        n_fini(g);   /* the stream and the group's memory; no communicator is left */
        g->fini = NULL;
        return rc ? rc : ZE_GERR_NCCL;
    }
    MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, comm);
    uint64_t before = used_bytes();
    /* non-blocking init, polled with the timeout: a rank that never joins
     * does not hang the others */
    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0;
    r = ncclCommInitRankConfig(&n->comm, g->size, id, g->rank, &cfg);
    ncclResult_t st = r;
    for (double t0 = ze_now_s(); (r == ncclSuccess || r == ncclInProgress) && n->comm;) {
        if (ncclCommGetAsyncError(n->comm, &st) != ncclSuccess || st != ncclInProgress)
            break;
        if (ze_now_s() - t0 > n->timeout_s) {
            st = ncclInternalError;
            break;
        }
        sched_yield();
    }
    if ((r != ncclSuccess && r != ncclInProgress) || st != ncclSuccess)
        rc = give_up(g, nccl_failed(g, "communicator init", r != ncclSuccess && r != ncclInProgress ? r : st));
    if (all_ok(comm, rc == 0)) {
        if (!rc) {
            give_up(g, 0);
            snprintf(g->err, sizeof g->err, "NCCL communicator init: another rank failed");
        }
        cudaFree(one);
        n_fini(g);   /* the stream and the group's memory; no communicator is left */
        g->fini = NULL;
        return rc ? rc : ZE_GERR_NCCL;
    }
    /* a first collective on a few bytes (with blocking = 0 a call may
     * return ncclInProgress before its work is on the stream: wait_done
     * waits for both, so `one` is freed after the collective used it) */
    r = ncclAllReduce(one, one, 1, ncclFloat32, ncclSum, n->comm, n->stream);
    rc = r != ncclSuccess && r != ncclInProgress ? give_up(g, nccl_failed(g, "warm-up", r)) : wait_done(g, "warm-up");
    cudaFree(one);
    if (all_ok(comm, rc == 0)) {
        if (!rc) {
            give_up(g, 0);
            snprintf(g->err, sizeof g->err, "NCCL warm-up: another rank failed");
        }
        n_fini(g);
        g->fini = NULL;
        return rc ? rc : ZE_GERR_NCCL;
    }
    uint64_t after = used_bytes();
    d->ovh.comm += after > before ? after - before : 0;
    return 0;
}
