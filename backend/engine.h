/* engine.h - the execution engine: a GPT-style decoder trained for real,
 * in a data-parallel / ZeRO layout, above a small collective interface.
 *
 * The engine sizes every tensor from the model shape and the algorithm,
 * never from the planner's predictions; every tensor of the model and the
 * step goes through the tracking allocator (alloc.h) under its class (token
 * ids and bookkeeping arrays, a few bytes, do not).  Parameters and
 * gradients are stored in fp32, bf16 or fp16 (16-bit parameters with fp32
 * master weights, fp16 with dynamic loss scaling); the math is fp32, on
 * fp32 working copies of the unit being computed.  Offload puts the
 * optimizer (and at ZeRO-3 the parameter shards) in the host pool, and
 * counts the bytes copied between pools. */
#ifndef ZE_ENGINE_H
#define ZE_ENGINE_H

#include <stdint.h>
#include "alloc.h"

/* Storage types of parameters and gradients (and of the collectives that
 * move them). */
typedef enum ze_dt { ZE_F32 = 0, ZE_BF16, ZE_F16 } ze_dt;
extern const char *const ze_dt_names[];   /* fp32 bf16 fp16 */
static inline size_t ze_dt_size(ze_dt d) { return d == ZE_F32 ? 4 : 2; }

typedef enum ze_coll { ZE_ALLREDUCE = 0, ZE_REDUCE_SCATTER, ZE_ALLGATHER, ZE_NCOLL } ze_coll;
extern const char *const ze_coll_names[];

/* The data-parallel group's collectives (sums of fp32, bf16 or fp16 values,
 * 16-bit sums computed in fp32 and rounded), in place.  The implementation
 * (MPI, or one rank alone) counts bytes as the planner does: S = the whole
 * array in bytes, bus bytes S (n-1)/n for reduce-scatter and all-gather,
 * 2 S (n-1)/n for all-reduce. */
typedef struct ze_group {
    int rank, size;
    void *impl;   /* MPI_Comm * for the MPI group; NULL alone */
    /* buf holds n values of type dt; reduce-scatter leaves rank r's block
     * of n/size at element r*n/size (n divisible by size); all-gather fills
     * buf from each rank's block at the same place */
    void (*allreduce)(struct ze_group *g, void *buf, size_t n, ze_dt dt);
    void (*reduce_scatter)(struct ze_group *g, void *buf, size_t n, ze_dt dt);
    void (*allgather)(struct ze_group *g, void *buf, size_t n, ze_dt dt);
    /* sum of a few doubles over the group (losses, norms: not counted) */
    void (*sum_doubles)(struct ze_group *g, double *v, int n);
    uint64_t bus_bytes[ZE_NCOLL];
    uint64_t calls[ZE_NCOLL];
    double comm_s;   /* wall time inside collectives */
} ze_group;

/* One rank alone (dp = 1): every collective is the identity. */
void ze_group_single(ze_group *g);

typedef enum ze_ckpt { ZE_CKPT_NONE = 0, ZE_CKPT_SELECTIVE, ZE_CKPT_FULL } ze_ckpt;

typedef struct ze_cfg {
    int L, C, NH, V, T;        /* layers, hidden, heads, vocabulary, sequence */
    int B, M, steps;           /* micro-batch, micro-batches per step, steps */
    int zero;                  /* 0..3 */
    int offload;               /* 0 none, 1 optimizer (ZeRO >= 1), 2 optimizer + parameters (ZeRO-3) */
    ze_ckpt ckpt;
    ze_dt pdt, gdt;            /* parameter and gradient storage; 16-bit parameters keep fp32 master weights */
    float loss_scale;          /* > 0: dynamic loss scaling from this scale (fp16) */
    int scale_window;          /* steps without overflow before the scale doubles */
    int sgd;                   /* 0: AdamW, 1: SGD with momentum */
    float lr, weight_decay, clip;
    uint32_t seed;
    uint64_t device_cap;       /* 0: none */
    /* called on every rank after each step (the loss is the ranks' mean;
     * applied 0 for a step skipped by loss scaling); NULL: none */
    void (*on_step)(void *ctx, int step, int steps, double loss, double step_s, int applied);
    void *on_step_ctx;
} ze_cfg;

typedef struct ze_result {
    int status;                /* 0 ok, 1 out of memory, 2 another failure */
    int steps_done;
    double *losses;            /* steps_done values (caller frees) */
    double step_s, fwd_s, bwd_s, opt_s;   /* medians / sums per step (see engine.c) */
    double comm_s;
    ze_alloc mem;              /* the rank's allocator at the end */
    uint64_t bus_bytes_per_step[ZE_NCOLL];   /* per applied step from the second on (engine.c) */
    uint64_t h2d_per_step, d2h_per_step;   /* bytes copied between the pools (offload), likewise */
    double gemm_s, gemm_flops;             /* per step: time and FLOPs in matrix multiplies */
    double steady_step_s, steady_comm_s;   /* per step, means from step 2 on */
    double steady_compute_s;               /* forward + backward per step, mean from step 2 on */
    uint64_t params;           /* parameters of the model */
    int skipped;               /* steps skipped for overflowing gradients (loss scaling) */
    double loss_scale;         /* the scale at the end */
} ze_result;

/* Check the configuration (bad shapes, layouts): 0 or -1 with msg. */
int ze_cfg_check(const ze_cfg *c, int dp, char *msg, size_t n);
/* Train; every rank of the group calls it.  Returns 0, or 1 on a refused
 * allocation (out of memory: res->status = 1, what was measured kept). */
int ze_train(const ze_cfg *c, ze_group *g, ze_result *res);
/* Parameters of the model the engine builds (its own count). */
uint64_t ze_param_count(const ze_cfg *c);

#endif
