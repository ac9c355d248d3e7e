/* group_mpi.c - the collective group over MPI on host memory (CPU ranks;
 * also what the host-staged group runs on its pinned buffers). */
#define ZE_WITH_MPI 1
#include "group.h"
#include "kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mpi_group {
    MPI_Comm comm;
    int owned;   /* made by split: freed with the group */
} mpi_group;

/* Sums of 16-bit values: each pair added in fp32 and rounded back, as a
 * 16-bit NCCL reduction does. */
static void sum16(void *in, void *inout, int *len, int fp16)
{
    uint16_t *a = in, *b = inout;
    for (int i = 0; i < *len; i++) {
        float x = fp16 ? zk_f16_to_f32(a[i]) : zk_bf16_to_f32(a[i]);
        float y = fp16 ? zk_f16_to_f32(b[i]) : zk_bf16_to_f32(b[i]);
        b[i] = fp16 ? zk_f32_to_f16(x + y) : zk_f32_to_bf16(x + y);
    }
}
static void sum_bf16(void *in, void *inout, int *len, MPI_Datatype *t) { (void)t; sum16(in, inout, len, 0); }
static void sum_f16(void *in, void *inout, int *len, MPI_Datatype *t) { (void)t; sum16(in, inout, len, 1); }
static MPI_Op op16[2] = {MPI_OP_NULL, MPI_OP_NULL};   /* made once per process */

static MPI_Datatype mtype(ze_dt dt) { return dt == ZE_F32 ? MPI_FLOAT : MPI_UINT16_T; }
static MPI_Op msum(ze_dt dt) { return dt == ZE_F32 ? MPI_SUM : op16[dt == ZE_F16]; }

/* An MPI failure into g->err (the communicator returns errors instead of
 * aborting: see ze_group_mpi). */
static int failed(ze_group *g, const char *what, int rc)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, s, &len);
    snprintf(g->err, sizeof g->err, "MPI %s failed: %.*s", what, len, s);
    return ZE_GERR_MPI;
}

static MPI_Comm comm_of(ze_group *g) { return ((mpi_group *)g->impl)->comm; }

static int m_allreduce(ze_group *g, void *buf, size_t n, ze_dt dt)
{
    double t = ze_now_s();
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, mtype(dt), msum(dt), comm_of(g));
    if (rc != MPI_SUCCESS)
        return failed(g, "all-reduce", rc);
    ze_group_count(g, ZE_ALLREDUCE, n, dt, ze_now_s() - t);
    return 0;
}

static int m_allreduce_max(ze_group *g, float *buf, size_t n)
{
    double t = ze_now_s();
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_MAX, comm_of(g));
    if (rc != MPI_SUCCESS)
        return failed(g, "all-reduce (max)", rc);
    ze_group_count(g, ZE_ALLREDUCE, n, ZE_F32, ze_now_s() - t);
    return 0;
}

static int m_reduce_scatter(ze_group *g, void *buf, size_t n, ze_dt dt)
{
    double t = ze_now_s();
    size_t blk = n / (size_t)g->size, es = ze_dt_size(dt);
    int rc = MPI_Reduce_scatter_block(MPI_IN_PLACE, buf, (int)blk, mtype(dt), msum(dt), comm_of(g));
    if (rc != MPI_SUCCESS)
        return failed(g, "reduce-scatter", rc);
    /* in place, MPI leaves the block at the start: move it to its place */
    if (g->rank > 0)
        memmove((char *)buf + (size_t)g->rank * blk * es, buf, blk * es);
    ze_group_count(g, ZE_REDUCE_SCATTER, n, dt, ze_now_s() - t);
    return 0;
}

static int m_allgather(ze_group *g, void *buf, size_t n, ze_dt dt)
{
    double t = ze_now_s();
    size_t blk = n / (size_t)g->size;
    int rc = MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, (int)blk, mtype(dt), comm_of(g));
    if (rc != MPI_SUCCESS)
        return failed(g, "all-gather", rc);
    ze_group_count(g, ZE_ALLGATHER, n, dt, ze_now_s() - t);
    return 0;
}

static int m_sum(ze_group *g, double *v, int n)
{
    /* a few bytes (not counted as traffic), but its time is MPI's: it is
     * where a rank waits for the others */
    double t = ze_now_s();
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, comm_of(g));
    if (rc != MPI_SUCCESS)
        return failed(g, "sum", rc);
    g->comm_s += ze_now_s() - t;
    return 0;
}

static int m_broadcast(ze_group *g, void *buf, size_t n, ze_dt dt, int root)
{
    double t = ze_now_s();
    int rc = MPI_Bcast(buf, (int)n, mtype(dt), root, comm_of(g));
    if (rc != MPI_SUCCESS)
        return failed(g, "broadcast", rc);
    ze_group_count(g, ZE_BROADCAST, n, dt, ze_now_s() - t);
    return 0;
}

static int m_send(ze_group *g, const void *buf, size_t n, ze_dt dt, int peer)
{
    double t = ze_now_s();
    int rc = MPI_Send(buf, (int)n, mtype(dt), peer, 0, comm_of(g));
    if (rc != MPI_SUCCESS)
        return failed(g, "send", rc);
    ze_group_count(g, ZE_SENDRECV, n, dt, ze_now_s() - t);
    return 0;
}

static int m_recv(ze_group *g, void *buf, size_t n, ze_dt dt, int peer)
{
    double t = ze_now_s();
    int rc = MPI_Recv(buf, (int)n, mtype(dt), peer, 0, comm_of(g), MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
        return failed(g, "receive", rc);
    g->comm_s += ze_now_s() - t;   /* the sender counts the bytes */
    return 0;
}

static int m_sendrecv(ze_group *g, const void *sbuf, size_t sn, int to, void *rbuf, size_t rn, int from, ze_dt dt)
{
    double t = ze_now_s();
    int rc = MPI_Sendrecv(sbuf, (int)sn, mtype(dt), to, 0, rbuf, (int)rn, mtype(dt), from, 0, comm_of(g),
                          MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
        return failed(g, "send-receive", rc);
    ze_group_count(g, ZE_SENDRECV, sn, dt, ze_now_s() - t);
    return 0;
}

static int m_isend(ze_group *g, const void *buf, size_t n, ze_dt dt, int peer, int tag, void **req)
{
    double t = ze_now_s();
    MPI_Request *r = malloc(sizeof *r);
    if (!r) {
        snprintf(g->err, sizeof g->err, "no memory for a send request");
        return ZE_GERR_NOMEM;
    }
    int rc = MPI_Isend(buf, (int)n, mtype(dt), peer, tag, comm_of(g), r);
    if (rc != MPI_SUCCESS) {
        free(r);
        return failed(g, "send (non-blocking)", rc);
    }
    *req = r;
    ze_group_count(g, ZE_SENDRECV, n, dt, ze_now_s() - t);
    return 0;
}

static int m_done(ze_group *g, void *req, int block, int *finished)
{
    double t = ze_now_s();
    MPI_Request *r = req;
    int flag = 1, rc = block ? MPI_Wait(r, MPI_STATUS_IGNORE) : MPI_Test(r, &flag, MPI_STATUS_IGNORE);
    g->comm_s += ze_now_s() - t;
    if (rc != MPI_SUCCESS)
        return failed(g, "send completion", rc);
    if (finished)
        *finished = flag;
    if (flag)
        free(r);
    return 0;
}

static int m_recv_tag(ze_group *g, void *buf, size_t n, ze_dt dt, int peer, int tag)
{
    double t = ze_now_s();
    int rc = MPI_Recv(buf, (int)n, mtype(dt), peer, tag, comm_of(g), MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
        return failed(g, "receive", rc);
    g->comm_s += ze_now_s() - t;
    return 0;
}

static void m_fini(ze_group *g)
{
    mpi_group *mg = g->impl;
    if (mg && mg->owned)
        MPI_Comm_free(&mg->comm);
    free(g->impl);
    g->impl = NULL;
}

static int m_split(ze_group *g, int color, int key, ze_group *out)
{
    MPI_Comm c;
    int rc = MPI_Comm_split(comm_of(g), color, key, &c);
    if (rc != MPI_SUCCESS)
        return failed(g, "communicator split", rc);
    if ((rc = ze_group_mpi(out, c))) {
        MPI_Comm_free(&c);
        return rc;
    }
    ((mpi_group *)out->impl)->owned = 1;
    return 0;
}

int ze_group_mpi(ze_group *g, MPI_Comm comm)
{
    memset(g, 0, sizeof *g);
    mpi_group *mg = malloc(sizeof *mg);
    if (!mg) {
        snprintf(g->err, sizeof g->err, "no memory for the MPI group");
        return ZE_GERR_NOMEM;
    }
    mg->comm = comm;
    mg->owned = 0;
    if (op16[0] == MPI_OP_NULL) {
        MPI_Op_create(sum_bf16, 1, &op16[0]);
        MPI_Op_create(sum_f16, 1, &op16[1]);
    }
    /* failures come back as codes (to the record), not as an abort */
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm, &g->rank);
    MPI_Comm_size(comm, &g->size);
    g->kind = "mpi";
    g->impl = mg;
    g->allreduce = m_allreduce;
    g->allreduce_max = m_allreduce_max;
    g->reduce_scatter = m_reduce_scatter;
    g->allgather = m_allgather;
    g->sum_doubles = m_sum;
    g->broadcast = m_broadcast;
    g->send = m_send;
    g->recv = m_recv;
    g->sendrecv = m_sendrecv;
    g->isend = m_isend;
    g->done = m_done;
    g->recv_tag = m_recv_tag;
    g->split = m_split;
    g->fini = m_fini;
    return 0;
}
