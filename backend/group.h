/* group.h - the data-parallel group's collectives, beside the device.
 *
 * Sums of fp32, bf16 or fp16 values (16-bit sums computed in fp32 and
 * rounded), in place, on the memory the engine's tensors live in.  Three
 * rows and one rank alone:
 *   mpi     (cpu/group_mpi.c)      MPI on host memory: CPU ranks
 *   nccl    (cuda/group_nccl.c)    NCCL on device memory, one rank per GPU,
 *                                  the communicator bootstrapped over MPI
 *                                  (a sub-group's over the split MPI
 *                                  communicator; no tagged messages)
 *   staged  (cuda/group_staged.c)  MPI through pinned host memory, for ranks
 *                                  sharing a GPU (NCCL refuses two ranks of
 *                                  a communicator on one GPU)
 *   single  (group.c)              dp = 1: every collective is the identity
 * Each counts bytes as the planner does: S = the whole array in bytes, bus
 * bytes S (n-1)/n for reduce-scatter and all-gather, 2 S (n-1)/n for
 * all-reduce; and the wall time spent inside (a collective returns when its
 * result is in place: the engine's collectives block).
 *
 * A collective returns 0, or a ZE_GERR_* code with g->err saying what failed
 * (the library's own message: MPI_Error_string, ncclGetErrorString, and
 * ncclCommGetAsyncError's asynchronous errors, polled while waiting). */
#ifndef ZE_GROUP_H
#define ZE_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include "device.h"

typedef enum ze_coll { ZE_ALLREDUCE = 0, ZE_REDUCE_SCATTER, ZE_ALLGATHER, ZE_BROADCAST, ZE_SENDRECV, ZE_NCOLL } ze_coll;
extern const char *const ze_coll_names[];   /* all-reduce reduce-scatter all-gather broadcast send/recv */

enum { ZE_GOK = 0, ZE_GERR_MPI = 1, ZE_GERR_NCCL = 2, ZE_GERR_CUDA = 3, ZE_GERR_NOMEM = 4 };

typedef struct ze_group ze_group;
struct ze_group {
    int rank, size;
    const char *kind;   /* "mpi", "nccl", "staged", "single" */
    void *impl;
    /* buf holds n values of type dt; reduce-scatter leaves rank r's block
     * of n/size at element r*n/size (n divisible by size); all-gather fills
     * buf from each rank's block at the same place */
    int (*allreduce)(ze_group *g, void *buf, size_t n, ze_dt dt);
    int (*reduce_scatter)(ze_group *g, void *buf, size_t n, ze_dt dt);
    int (*allgather)(ze_group *g, void *buf, size_t n, ze_dt dt);
    /* sum of a few doubles in host memory over the group (losses, norms:
     * not counted as traffic, timed as communication) */
    int (*sum_doubles)(ze_group *g, double *v, int n);
    /* the element-wise maximum of n fp32 values over the group, in place
     * (the vocabulary-parallel cross-entropy's row maxima); counted as an
     * all-reduce of n fp32 values */
    int (*allreduce_max)(ze_group *g, float *buf, size_t n);
    /* buf (n values of dt) from the group's rank root to every rank;
     * counted as S on every rank, nccl-tests' bus bytes of a broadcast */
    int (*broadcast)(ze_group *g, void *buf, size_t n, ze_dt dt, int root);
    /* point to point, blocking: n values of dt to / from the group's rank
     * peer; the sender counts S */
    int (*send)(ze_group *g, const void *buf, size_t n, ze_dt dt, int peer);
    int (*recv)(ze_group *g, void *buf, size_t n, ze_dt dt, int peer);
    /* both at once (MPI_Sendrecv: neither side waits for the other to
     * post first, as a pipeline's steady state needs): sn values to rank
     * to, rn values from rank from; the sender counts its S */
    int (*sendrecv)(ze_group *g, const void *sbuf, size_t sn, int to, void *rbuf, size_t rn, int from, ze_dt dt);
    /* point to point by tag, for schedules whose messages may arrive in
     * another order than they are taken (the interleaved pipeline): isend
     * starts sending and returns at once (*req: to finish with done, buf
     * left alone until then; the sender counts S); done finishes it
     * (block: wait; else *finished says whether it has, and the request
     * is freed when it has); recv_tag waits for the message of that tag */
    int (*isend)(ze_group *g, const void *buf, size_t n, ze_dt dt, int peer, int tag, void **req);
    int (*done)(ze_group *g, void *req, int block, int *finished);
    int (*recv_tag)(ze_group *g, void *buf, size_t n, ze_dt dt, int peer, int tag);
    /* a sub-group of the ranks calling it with the same color, ranked by
     * key; every rank of g calls it (a row without sub-groups yet returns
     * an error code with g->err) */
    int (*split)(ze_group *g, int color, int key, ze_group *out);
    void (*fini)(ze_group *g);
    uint64_t bus_bytes[ZE_NCOLL];
    uint64_t calls[ZE_NCOLL];
    double comm_s;   /* wall time inside collectives */
    char err[256];
};

/* One rank alone (dp = 1). */
void ze_group_single(ze_group *g);
/* For a row without broadcast, point to point, the maximum all-reduce and
 * sub-groups yet: each returns an error code saying so. */
void ze_group_no_p2p(ze_group *g);

/* The layout of world ranks over the parallel dimensions, Megatron's order:
 * tp fastest, then cp, dp, pp (so a tp group fills a node first).  A rank's coordinates,
 * and for each dimension the color of its group (the ranks that differ
 * only in that coordinate) and its key (its place in the group). */
typedef enum ze_dim { ZE_TP = 0, ZE_CP, ZE_DP, ZE_PP, ZE_NDIM } ze_dim;
extern const char *const ze_dim_names[];   /* tp cp dp pp */
typedef struct ze_layout {
    int size[ZE_NDIM];    /* tp, cp, dp, pp degrees: their product is the world */
    int coord[ZE_NDIM];   /* this rank's */
} ze_layout;
/* 0, or -1 when the degrees do not multiply to world or rank is outside. */
int ze_layout_of(int rank, int world, int tp, int cp, int dp, int pp, ze_layout *l);
/* The world rank at coordinates c (ZE_NDIM of them). */
int ze_layout_rank(const ze_layout *l, const int *c);
/* The group of dimension d through this rank: its color, and the rank's
 * key in it (its coordinate along d). */
int ze_layout_color(const ze_layout *l, ze_dim d);
/* Count one collective of n values of dt that took `seconds`. */
void ze_group_count(ze_group *g, ze_coll k, size_t n, ze_dt dt, double seconds);
void ze_group_fini(ze_group *g);
double ze_now_s(void);

#ifdef ZE_WITH_MPI
#include <mpi.h>
/* MPI on host memory over comm (not freed by fini). */
int ze_group_mpi(ze_group *g, MPI_Comm comm);
#ifdef ZP_HAVE_CUDA
/* NCCL over the ranks of comm, each on its own GPU (the current device);
 * 0, or an error code with g->err.  The communicator's device bytes are
 * measured by the caller (cudaMemGetInfo before and after). */
int ze_group_nccl(ze_group *g, MPI_Comm comm, ze_dev *d);
/* MPI through pinned host buffers of d (ranks sharing a GPU). */
int ze_group_staged(ze_group *g, MPI_Comm comm, ze_dev *d);
#endif
#endif

#endif
