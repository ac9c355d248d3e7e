/* engine.h - the execution engine: a GPT-style decoder (GPT-2's blocks, or
 * the LLaMA family's: RMSNorm, SwiGLU, rotary positions, grouped-query
 * attention, untied head, no biases) trained for real,
 * in a data-parallel / ZeRO layout, above the device table (device.h) and
 * the collective group (group.h).
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
#include "device.h"
#include "group.h"
#include "init.h"

/* The optimizer's constants (engine.c uses these; the dump records them):
 * AdamW's betas and epsilon, SGD's momentum, and the linear warm-up of the
 * learning rate over the first ZE_WARMUP applied steps (step t < ZE_WARMUP
 * uses lr t / ZE_WARMUP). */
#define ZE_ADAM_BETA1 0.9f
#define ZE_ADAM_BETA2 0.95f
#define ZE_ADAM_EPS 1e-8f
#define ZE_SGD_MOMENTUM 0.9f
#define ZE_WARMUP 5

typedef enum ze_ckpt { ZE_CKPT_NONE = 0, ZE_CKPT_SELECTIVE, ZE_CKPT_FULL } ze_ckpt;

typedef struct ze_cfg {
    int L, C, NH, V, T;        /* layers, hidden, heads, vocabulary, sequence */
    /* the architecture (all 0: GPT-2's): KV heads (grouped-query attention;
     * 0: NH), the MLP's inner width (0: 4C), RMSNorm instead of LayerNorm,
     * a SwiGLU MLP (gate and up, F wide each) instead of GELU, rotary
     * positions instead of a learned table, an output head of its own
     * instead of the tied embedding, no biases on the linear layers; the
     * rotary base (0: 10000); qkn: an RMSNorm of the head size on each Q
     * and K head after the QKV product, before the rotation (Qwen3's
     * q_norm and k_norm: one weight of hs for the Q heads, one for the K
     * heads; RMSNorm only); qkv_bias: with nobias, a bias on the QKV
     * product alone (Qwen2's) */
    int KV, F;
    int rms, swiglu, rope, untied, nobias, qkn, qkv_bias;
    float rope_theta;
    int B, M, steps;           /* micro-batch, micro-batches per step, steps */
    /* tensor-parallel degree (0 or 1: none): Megatron's column- and
     * row-parallel blocks, vocabulary-parallel embedding and cross-entropy
     * over tp consecutive ranks (group.h's layout: tp fastest); the rest of
     * the ranks' factor is data (and context) parallel */
    int tp;
    /* sequence parallelism (with tp > 1): the residual stream, the norms
     * and the pipeline's messages on B T / tp token rows per rank, the
     * row-parallel outputs reduce-scattered and the column-parallel inputs
     * all-gathered (Megatron's), the norms' gradients summed over tp */
    int sp;
    /* pipeline-parallel stages (0 or 1: none): the layers split as the
     * planner splits them (the remainder one each to the middle stages,
     * then the first, then the last), the embedding on the first stage, the
     * final norm and the head on the last (a tied head keeps its own copy
     * there, its gradient summed with the embedding's over the two);
     * activations and their gradients sent point to point; ZeRO 0-1.
     * Stages are the slowest coordinate (tp, then cp, dp, pp).
     * gpipe: all forwards then all backwards (GPipe) instead of 1F1B */
    int pp, gpipe;
    /* interleaved pipeline (0 or 1: none): vp model chunks per rank, chunk c
     * of stage k the virtual stage c pp + k of L / (pp vp) layers
     * (Megatron's), run in its interleaved 1F1B order */
    int vp;
    /* context parallelism (0 or 1: none): each sequence cut into 2 cp
     * chunks, a rank of the cp group (group.h's layout: tp, then cp, dp,
     * pp) taking chunk r and chunk 2 cp - 1 - r (causal attention's work
     * balanced, as Megatron and PyTorch balance it), every block's
     * attention taking the keys and values of every rank around the
     * group's ring (its queries reading those up to their own positions) (cp - 1 turns forward,
     * again backward and cp - 1 more for their gradients, point to point);
     * the dp x cp ranks share ZeRO's shards and sum their gradients; needs
     * flash attention */
    int cp;
    /* flash-style attention: per row and head the log-sum-exp of its
     * scores (B NH T floats) kept for the backward instead of the T x T
     * probabilities (B NH T T), which the backward rebuilds tile by tile
     * from Q, K and it; selective recompute then has nothing to rebuild
     * (it keeps what none keeps) */
    int flash;
    /* the products of the linear layers and of the attention, stored-
     * probabilities or flash (device.h's ze_dev.math): ZE_F32 exact;
     * ZE_BF16 / ZE_F16 each operand rounded to 16 bits, the products
     * accumulated in fp32 (tensor cores); activations, weights' working
     * copies and the softmax stay fp32 */
    ze_dt math;
    int zero;                  /* 0..3 */
    int offload;               /* 0 none, 1 optimizer (ZeRO >= 1), 2 optimizer + parameters (ZeRO-3) */
    /* activation offload (one stage, pp 1): what each block keeps for its
     * backward (its input, and unless rebuilt its saved activations) is
     * copied to the host pool once its forward is done, but the last two
     * blocks', and back before its backward, the block below fetched ahead:
     * two blocks' on the device at a time, the planner's --act-offload
     * (--act-offload-mode async) */
    int act_offload;
    ze_ckpt ckpt;
    /* with full recompute, only every k-th block of a stage (its position
     * among the stage's blocks, chunk by chunk, counted from 1) is rebuilt,
     * the others keep their activations as without recompute (torchtitan's
     * layer-level checkpointing frequency); 0 or 1: every block */
    int ckpt_every;
    /* with full recompute, only the first N blocks of each chunk of the
     * stage are rebuilt (Megatron-LM's block method); 0: see ckpt_every */
    int ckpt_layers;
    ze_dt pdt, gdt;            /* parameter and gradient storage; 16-bit parameters keep fp32 master weights */
    float loss_scale;          /* > 0: dynamic loss scaling from this scale (fp16) */
    int scale_window;          /* steps without overflow before the scale doubles */
    int sgd;                   /* 0: AdamW, 1: SGD with momentum */
    float lr, weight_decay, clip;   /* clip: the global gradient norm's bound (<= 0: no clipping) */
    uint32_t seed;
    /* non-NULL (rank 0 only): write what the step trains on into this
     * directory for an independent reference (tests/reference.py), as
     * engine.c's ze_dump says; NULL: nothing written, nothing else changes */
    const char *dump;
    uint64_t device_cap;       /* 0: none */
    double first_step_delay_s; /* tests: the first step made this much slower (0: no delay) */
    /* tests: each stage's forward of a micro-batch made this much longer,
     * its backward twice that (a sleep: with compute this small, stages
     * sharing a few cores still run side by side, so that a pipeline's
     * schedule is timed as on separate processors); 0: none */
    double mb_delay_s;
    /* called on every rank after each step (the loss is the ranks' mean;
     * applied 0 for a step skipped by loss scaling); NULL: none */
    void (*on_step)(void *ctx, int step, int steps, double loss, double step_s, int applied);
    void *on_step_ctx;
} ze_cfg;

typedef struct ze_result {
    int status;                /* 0 ok, 1 out of memory, 2 another failure */
    int steps_done;
    double *losses;            /* steps_done values (caller frees) */
    double step_s, fwd_s, bwd_s, opt_s;   /* step: the median from the 2nd step; the rest: means per step */
    double comm_s;
    ze_alloc mem;              /* the rank's allocator at the end */
    uint64_t bus_bytes_per_step[ZE_NCOLL];   /* per applied step from the second on (engine.c): the dp group's */
    uint64_t tp_bus_bytes_per_step[ZE_NCOLL];   /* likewise, the tp group's */
    uint64_t pp_bus_bytes_per_step[ZE_NCOLL];   /* the pp group's (send/receive between stages) */
    uint64_t emb_bus_bytes_per_step[ZE_NCOLL];  /* the first and last stages' (a tied embedding's gradient) */
    uint64_t cp_bus_bytes_per_step[ZE_NCOLL];   /* the cp group's (the keys' and values' ring) */
    int tp, dp, pp, cp, tp_rank, dp_rank, pp_rank, cp_rank;  /* the layout and this rank's coordinates */
    int layer0, layers;                         /* this rank's stage: its first layer and how many */
    double pp_wait_s;          /* per step from step 2 on: time inside the pipeline's sends and receives and the
                                * tied embedding's reduction (waiting for the other stages, and the transfers) */
    double pp_idle_median;     /* the median over the steps from step 2 on of each step's share of that time
                                * (the first step's alone when it is all): a step that a busy machine held up
                                * moves it no more than the others do */
    uint64_t h2d_per_step, d2h_per_step;   /* bytes copied between the pools (offload), likewise */
    double gemm_s, gemm_flops;             /* per step: time and FLOPs in matrix multiplies */
    double attn_s, attn_flops;             /* per step: time and FLOPs in flash attention (0 without) */
    double steady_step_s, steady_comm_s;   /* per step, means from step 2 on */
    double steady_compute_s;               /* forward + backward per step, mean from step 2 on */
    uint64_t params;           /* parameters of the model */
    int skipped;               /* steps skipped for overflowing gradients (loss scaling) */
    double loss_scale;         /* the scale at the end */
    char err[256];             /* why it failed (status != 0) */
} ze_result;

/* Check the configuration (bad shapes, layouts) for `ranks` ranks: 0 or -1
 * with msg. */
int ze_cfg_check(const ze_cfg *c, int ranks, char *msg, size_t n);
/* Train on device d (its tensors counted in res->mem: d->a is pointed
 * there); every rank of the group calls it (the world: with tensor
 * parallelism ze_train splits it into the tp and dp groups).  Returns 0, or 1 on a refused
 * allocation (out of memory: res->status = 1, what was measured kept) or a
 * failed collective (res->status = 2, res->err says which). */
int ze_train(const ze_cfg *c, ze_dev *d, ze_group *g, ze_result *res);
/* Parameters of the model the engine builds (its own count). */
uint64_t ze_param_count(const ze_cfg *c);

#endif
