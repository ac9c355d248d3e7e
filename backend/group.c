/* group.c - what every collective group shares: the byte counting, one
 * rank alone, the clock. */
#include "group.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *const ze_coll_names[] = {"all-reduce", "reduce-scatter", "all-gather", "broadcast", "send/recv", NULL};
const char *const ze_dim_names[] = {"tp", "cp", "dp", "pp", NULL};

int ze_layout_of(int rank, int world, int tp, int cp, int dp, int pp, ze_layout *l)
{
    int s[ZE_NDIM] = {tp, cp, dp, pp};
    long long prod = 1;
    for (int d = 0; d < ZE_NDIM; d++) {
        if (s[d] < 1)
            return -1;
        prod *= s[d];
    }
    if (prod != world || rank < 0 || rank >= world)
        return -1;
    for (int d = 0, r = rank; d < ZE_NDIM; d++) {   /* tp fastest */
        l->size[d] = s[d];
        l->coord[d] = r % s[d];
        r /= s[d];
    }
    return 0;
}

int ze_layout_rank(const ze_layout *l, const int *c)
{
    int r = 0;
    for (int d = ZE_NDIM - 1; d >= 0; d--)
        r = r * l->size[d] + c[d];
    return r;
}

int ze_layout_color(const ze_layout *l, ze_dim d)
{
    int c[ZE_NDIM];
    memcpy(c, l->coord, sizeof c);
    c[d] = 0;   /* the group's first rank names it */
    return ze_layout_rank(l, c);
}

double ze_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ze_group_count(ze_group *g, ze_coll k, size_t n, ze_dt dt, double seconds)
{
    /* nccl-tests' bus factors: 2(n-1)/n, (n-1)/n, and 1 for a broadcast
     * and a send (nothing moves in a group of one) */
    double f = g->size > 1 ? (double)(g->size - 1) / (double)g->size : 0.0;
    if (k == ZE_ALLREDUCE)
        f *= 2.0;
    else if (k == ZE_BROADCAST || k == ZE_SENDRECV)
        f = g->size > 1 ? 1.0 : 0.0;
    g->bus_bytes[k] += (uint64_t)((double)n * (double)ze_dt_size(dt) * f + 0.5);
    g->calls[k]++;
    g->comm_s += seconds;
}

static int single_noop(ze_group *g, void *buf, size_t n, ze_dt dt)
{
    (void)g, (void)buf, (void)n, (void)dt;
    return 0;
}

static int single_max(ze_group *g, float *buf, size_t n)
{
    (void)g, (void)buf, (void)n;
    return 0;
}

static int single_sum(ze_group *g, double *v, int n)
{
    (void)g, (void)v, (void)n;
    return 0;
}

static int single_bcast(ze_group *g, void *buf, size_t n, ze_dt dt, int root)
{
    (void)g, (void)buf, (void)n, (void)dt, (void)root;
    return 0;
}

/* a rank alone has no peer: a send or receive is a bug to report */
static int single_send(ze_group *g, const void *buf, size_t n, ze_dt dt, int peer)
{
    (void)buf, (void)n, (void)dt;
    snprintf(g->err, sizeof g->err, "send to rank %d of a one-rank group", peer);
    return ZE_GERR_MPI;
}

static int single_recv(ze_group *g, void *buf, size_t n, ze_dt dt, int peer)
{
    (void)buf, (void)n, (void)dt;
    snprintf(g->err, sizeof g->err, "receive from rank %d of a one-rank group", peer);
    return ZE_GERR_MPI;
}

static int single_sendrecv(ze_group *g, const void *sbuf, size_t sn, int to, void *rbuf, size_t rn, int from,
                           ze_dt dt)
{
    (void)sbuf, (void)sn, (void)rbuf, (void)rn, (void)from, (void)dt;
    snprintf(g->err, sizeof g->err, "send-receive with rank %d of a one-rank group", to);
    return ZE_GERR_MPI;
}

static int single_split(ze_group *g, int color, int key, ze_group *out)
{
    (void)g, (void)color, (void)key;
    ze_group_single(out);
    return 0;
}

/* What a row has not (yet): broadcast, point to point, sub-groups, the
 * maximum all-reduce, tagged messages (NCCL has none of the last): each
 * says so instead of running. */
static int none_bcast(ze_group *g, void *buf, size_t n, ze_dt dt, int root)
{
    (void)buf, (void)n, (void)dt, (void)root;
    snprintf(g->err, sizeof g->err, "the %s group has no broadcast yet", g->kind);
    return ZE_GERR_MPI;
}

static int none_send(ze_group *g, const void *buf, size_t n, ze_dt dt, int peer)
{
    (void)buf, (void)n, (void)dt, (void)peer;
    snprintf(g->err, sizeof g->err, "the %s group has no point-to-point send yet", g->kind);
    return ZE_GERR_MPI;
}

static int none_recv(ze_group *g, void *buf, size_t n, ze_dt dt, int peer)
{
    (void)buf, (void)n, (void)dt, (void)peer;
    snprintf(g->err, sizeof g->err, "the %s group has no point-to-point receive yet", g->kind);
    return ZE_GERR_MPI;
}

static int none_sendrecv(ze_group *g, const void *sbuf, size_t sn, int to, void *rbuf, size_t rn, int from,
                         ze_dt dt)
{
    (void)sbuf, (void)sn, (void)to, (void)rbuf, (void)rn, (void)from, (void)dt;
    snprintf(g->err, sizeof g->err, "the %s group has no send-receive yet", g->kind);
    return ZE_GERR_MPI;
}

static int none_isend(ze_group *g, const void *buf, size_t n, ze_dt dt, int peer, int tag, void **req)
{
    (void)buf, (void)n, (void)dt, (void)peer, (void)tag, (void)req;
    snprintf(g->err, sizeof g->err, "the %s group has no tagged point to point yet", g->kind);
    return ZE_GERR_MPI;
}

static int none_done(ze_group *g, void *req, int block, int *finished)
{
    (void)req, (void)block, (void)finished;
    snprintf(g->err, sizeof g->err, "the %s group has no tagged point to point yet", g->kind);
    return ZE_GERR_MPI;
}

static int none_recv_tag(ze_group *g, void *buf, size_t n, ze_dt dt, int peer, int tag)
{
    (void)buf, (void)n, (void)dt, (void)peer, (void)tag;
    snprintf(g->err, sizeof g->err, "the %s group has no tagged point to point yet", g->kind);
    return ZE_GERR_MPI;
}

static int none_max(ze_group *g, float *buf, size_t n)
{
    (void)buf, (void)n;
    snprintf(g->err, sizeof g->err, "the %s group has no maximum all-reduce yet", g->kind);
    return ZE_GERR_MPI;
}

static int none_split(ze_group *g, int color, int key, ze_group *out)
{
    (void)color, (void)key, (void)out;
    snprintf(g->err, sizeof g->err, "the %s group has no sub-groups yet", g->kind);
    return ZE_GERR_MPI;
}

void ze_group_no_p2p(ze_group *g)
{
    g->broadcast = none_bcast;
    g->send = none_send;
    g->recv = none_recv;
    g->split = none_split;
    g->sendrecv = none_sendrecv;
    g->isend = none_isend;
    g->done = none_done;
    g->recv_tag = none_recv_tag;
    g->allreduce_max = none_max;
}

void ze_group_single(ze_group *g)
{
    memset(g, 0, sizeof *g);
    g->rank = 0;
    g->size = 1;
    g->kind = "single";
    g->broadcast = single_bcast;
    g->send = single_send;
    g->recv = single_recv;
    g->sendrecv = single_sendrecv;
    g->isend = none_isend;
    g->done = none_done;
    g->recv_tag = none_recv_tag;
    g->split = single_split;
    g->allreduce = single_noop;
    g->reduce_scatter = single_noop;
    g->allgather = single_noop;
    g->allreduce_max = single_max;
    g->sum_doubles = single_sum;
}

void ze_group_fini(ze_group *g)
{
    if (g->fini)
        g->fini(g);
    g->fini = NULL;
}
