/* core.h - the pure planner core: model shape, cluster, training recipe,
 * layout, conventions, and the model -> memory -> comm -> cost -> search
 * functions over them.
 *
 * Everything declared here is a pure function of its const inputs: no I/O,
 * no globals, no allocation except where a caller passes storage.  The shell
 * (cli, preset loader, store) fills these structs and prints the results.
 *
 * Symbols used in comments (as in shared/REFERENCE.md): L layers, h hidden,
 * a heads, g KV heads, f FFN width, V vocabulary, s sequence, b micro-batch,
 * t tensor-, p pipeline-, d data-parallel degree, v virtual stages,
 * M micro-batches per step (gradient accumulation).
 */
#ifndef ZP_CORE_H
#define ZP_CORE_H

#include <stdint.h>
#include "util.h"

/* ------------------------------------------------------------------ model */

typedef enum zp_mlp { ZP_MLP_GELU = 0, ZP_MLP_SWIGLU } zp_mlp;
typedef enum zp_norm { ZP_NORM_LAYERNORM = 0, ZP_NORM_RMSNORM } zp_norm;
typedef enum zp_pos { ZP_POS_LEARNED = 0, ZP_POS_ROTARY, ZP_POS_ALIBI } zp_pos;
/* How attention and MLP sit in a block: one after the other, each behind
 * its own norm (GPT-2, LLaMA); side by side on the same input, their outputs
 * summed into the residual, behind one shared norm (GPT-J, Falcon-7B, Phi-2)
 * or behind two norms of that same input (GPT-NeoX, Pythia, Falcon-40B). */
typedef enum zp_block { ZP_BLOCK_SERIAL = 0, ZP_BLOCK_PARALLEL, ZP_BLOCK_PARALLEL_2NORM } zp_block;
extern const char *const zp_block_names[]; /* serial, parallel, parallel-2norm */

/* A decoder-only transformer.  Every field that is zero has the meaning it
 * had before the field existed (head_dim 0: h / a; the bias flags 0: what
 * `bias` says; block 0: serial; window 0: none), so that shapes built
 * field by field and runs stored before stay what they were. */
typedef struct zp_model {
    char name[64];      /* preset or file name, or "derived" */
    int64_t layers;     /* L */
    int64_t hidden;     /* h */
    int64_t heads;      /* a (query heads) */
    int64_t kv_heads;   /* g (= a without grouped-query attention, 1 with multi-query) */
    int64_t head_dim;   /* d: width of one query or KV head; 0: h / a.  Q is a d wide, K and V g d each,
                         * the output projection a d -> h (Gemma: d = 256 with h / a = 192) */
    int64_t ffn;        /* f: MLP inner width */
    int64_t vocab;      /* V */
    int64_t max_pos;    /* positions: rows of a learned table; with rotary/ALiBi the trained context
                         * (no parameters); 0 if unknown */
    int tied;           /* output head shares the word embedding */
    int bias;           /* every linear layer of a block carries a bias (GPT-2) */
    int qkv_bias;       /* Q, K and V carry biases even when `bias` is 0 (Qwen2) */
    int out_bias;       /* the attention output projection carries one even when `bias` is 0 */
    int mlp_bias;       /* the MLP's layers carry biases even when `bias` is 0 (GPT-J) */
    int head_bias;      /* the output head carries a bias, V (GPT-J, Phi-2; untied heads only) */
    int embed_norm;     /* a norm right after the word embedding (BLOOM) */
    zp_mlp mlp;         /* GELU: 2 matrices h x f; SwiGLU: 3 */
    zp_norm norm;       /* LayerNorm: 2h params; RMSNorm: h */
    zp_pos pos;
    zp_block block;     /* serial or parallel attention and MLP */
    int64_t window;     /* sliding-window attention: each query sees at most this many keys (0: all) */
    int qk_norm;        /* a norm (the block's kind) on each head of Q and of K, one weight of d values
                         * shared by the heads, before the rotation (Qwen3's q_norm and k_norm) */
    int gelu_gate;      /* a gated MLP whose gate is GELU (GeGLU: Gemma's gelu_pytorch_tanh, a hidden_act of the
                         * gelu family), not SiLU: the same tensors and counts; the engine's gate is SiLU
                         * (zplan exec refuses) */
    int embed_scale;    /* the embedding's output multiplied by sqrt(h) (Gemma): no parameter, no saved tensor;
                         * the engine has none (zplan exec refuses) */
    int multipliers;    /* Granite's four multipliers (embedding, residual, logits, and the attention's scale in
                         * place of 1/sqrt(d)) make it other than the LLaMA of its shape: products by numbers,
                         * no parameter and no saved tensor, so nothing the planner counts; the engine has
                         * none (zplan exec refuses) */
    int fused_proj;     /* Q, K and V one product, and a gated MLP's gate and up one (Phi-3): the same
                         * weights; PyTorch eager keeps other tensors (--eager refuses it) */
    int dropout;        /* the config drops attention probabilities in training (transformers' attn_pdrop
                         * or attention_dropout above 0): PyTorch eager's default (plan.c) */
} zp_model;

/* d, the width of one attention head (head_dim, or h / a). */
int64_t zp_model_head_dim(const zp_model *m);
/* Keys one query attends to in a sequence of s: s, or the window when
 * smaller (the "s" of the s^2 attention terms and of the score FLOPs). */
int64_t zp_model_attn_span(const zp_model *m, int64_t seq);
/* Parameters of a block's Q and K head norms (qk_norm; 0 without). */
int64_t zp_model_qk_norm_params(const zp_model *m);
/* Norms in one block: 2, or 1 when parallel attention and MLP share one. */
int zp_model_block_norms(const zp_model *m);
/* Matrix weights of one whole block (QKV, output projection, MLP). */
int64_t zp_model_block_matmul_params(const zp_model *m);

/* Parameters of one transformer block held by one of t tensor-parallel
 * ranks (t = 1: the whole block).  Column-parallel weights and biases are
 * split by t; row-parallel biases and norms are replicated (Megatron). */
int64_t zp_model_layer_params(const zp_model *m, int64_t t);
/* Word embedding (vocab-parallel, ceil(V/t) rows) + learned positions +
 * the embedding norm (BLOOM; replicated). */
int64_t zp_model_embed_params(const zp_model *m, int64_t t);
/* Output head rows held by one tp rank: ceil(V/t) * h, and their ceil(V/t)
 * biases when the head has them.  When tied, this is the copy of the
 * embedding that the last pipeline stage keeps (p > 1). */
int64_t zp_model_head_params(const zp_model *m, int64_t t);
/* Final norm (replicated). */
int64_t zp_model_final_norm_params(const zp_model *m);
/* Total parameters (tied head counted once). */
int64_t zp_model_params(const zp_model *m);
/* Parameters in matrix multiplies per token (for FLOPs): all block weights
 * and the head; no norms, biases or embedding lookups. */
int64_t zp_model_matmul_params(const zp_model *m);
/* Validate a shape: all positive, a divides h (unless head_dim is given),
 * g divides a, no bias on a tied head. */
zp_status zp_model_check(const zp_model *m, zp_err *e);
/* Derive a GPT-3-family shape for a parameter target (rule in model.c). */
zp_status zp_model_derive(double params, int64_t positions, zp_model *out, zp_err *e);

/* -------------------------------------------------------------- hardware */

typedef enum zp_dtype { ZP_DT_FP32 = 0, ZP_DT_FP16, ZP_DT_BF16, ZP_DT_N } zp_dtype;
static inline int zp_dtype_bytes(zp_dtype d) { return d == ZP_DT_FP32 ? 4 : 2; }
extern const char *const zp_dtype_names[]; /* "fp32", "fp16", "bf16", NULL */

typedef struct zp_gpu {
    char name[32];
    char desc[96];
    uint64_t mem_bytes;          /* device memory */
    double peak_flops[ZP_DT_N];  /* dense tensor peak per compute dtype, FLOP/s */
    double hbm_gbps;             /* GB/s (1e9 B/s) */
    double nvlink_gbps;          /* per GPU, one direction, GB/s */
    double pcie_gbps;            /* host link, one direction, GB/s */
    double nic_gbps;             /* inter-node, per GPU, GB/s */
    int64_t gpus_per_node;
    uint64_t host_mem_bytes;     /* per node */
    uint64_t cuda_ctx_bytes;     /* per process */
    uint64_t nccl_comm_bytes;    /* per communicator */
    uint64_t cublas_bytes;       /* per process: the cuBLAS handle and its workspace (0: not counted) */
    uint64_t alloc_granule_bytes; /* the device allocator rounds each tensor up to this (0: a fraction, frag) */
    double compute_cap;          /* CUDA compute capability, 9.0 for Hopper (0: not given) */
    /* measured profiles (zplan calibrate) bring their own; 0: the defaults */
    double gemm_eff;             /* achieved fraction of peak in matmuls */
    double alpha_s;              /* latency per ring step */
    double link_eff;             /* achieved fraction of the link bandwidths given */
    double nvlink_eff;           /* the fraction of nvlink_gbps a ring of 8 ranks reaches, where measured
                                  * (0: link_eff's, or the default's) */
    double host_adam_params_per_s;
    double elementwise_bps;      /* measured rate of the non-matmul kernels' traffic (0: none given) */
    /* the shape curve of the matmul efficiency (gemm.c; 0: none, a constant efficiency) */
    int64_t sms;                 /* streaming multiprocessors */
    double gemm_eff_max;         /* fraction of the dense peak a large, well-shaped product reaches */
    double attn_eff;             /* flash attention's fraction of the peak on the FLOPs it does (0: 0.3) */
    double attn_eff_fa2;         /* the same for FlashAttention-2 (the flash-attn package; 0: attn_eff) */
    double attn_eff_cudnn;       /* the same for cuDNN's fused attention (Transformer Engine's; 0: attn_eff) */
    double attn_eff_engine;      /* the same for zplan's engine's tensor-core flash kernels (zplan calibrate
                                    --backend cuda; 0: not measured), of the 16-bit peak */
    double peak_fp8;             /* dense FP8 tensor peak, FLOP/s (0: no FP8 tensor cores) */
    double gemm_eff_max_fp8;     /* the curve's ceiling for FP8 products (0: 0.88 x the 16-bit one) */
    double gemm_eff_max_bench;   /* a short benchmark's ceiling, where training was fitted below it (0: none):
                                  * what a framework that sustains it reaches (--gemm-ceiling benchmark) */
} zp_gpu;

typedef struct zp_cluster {
    zp_gpu gpu;
    int64_t gpus;                /* G */
    int64_t gpus_per_node;
    double inter_node_gbps;      /* per GPU */
    uint64_t host_mem_bytes;     /* per node */
} zp_cluster;

/* ---------------------------------------------------- training and layout */

typedef enum zp_optim { ZP_OPT_ADAM = 0, ZP_OPT_SGD, ZP_OPT_N } zp_optim;
typedef enum zp_offload { ZP_OFF_NONE = 0, ZP_OFF_OPT, ZP_OFF_OPT_PARAMS, ZP_OFF_N } zp_offload;
/* op: PyTorch's per-op selective checkpointing with torchtitan's policy
 * (every other matmul output and the attention output kept, the rest
 * recomputed; memory.c); searched only when pinned */
typedef enum zp_ckpt { ZP_CKPT_NONE = 0, ZP_CKPT_SELECTIVE, ZP_CKPT_FULL, ZP_CKPT_OP, ZP_CKPT_N } zp_ckpt;
extern const char *const zp_optim_names[];   /* adam, sgd */
extern const char *const zp_offload_names[]; /* none, optimizer, optimizer+params */
extern const char *const zp_ckpt_names[];    /* none, selective, full, op */

typedef struct zp_train {
    int64_t seq;          /* s */
    int64_t global_batch; /* sequences per optimizer step */
    zp_dtype dtype;       /* parameters and activations */
    zp_dtype grad_dtype;  /* gradients as stored (fp32 = Megatron "main grads") */
    int master;           /* fp32 master weights kept by the optimizer */
    zp_optim optim;
    int flash;            /* flash attention: no s^2 activations */
    int dropout;          /* dropout masks stored (Korthikanti et al.) */
    int fp8;              /* the linear layers' products in FP8 (Transformer Engine): at the FP8 peak,
                           * their inputs saved in 1 byte, an FP8 copy of their weights kept through the
                           * step; attention, the head and the norms stay in the dtype (cost.c, memory.c) */
    int64_t ckpt_every;   /* with full recompute, only every k-th block of a stage is rebuilt, the
                           * others keep all their activations (torchtitan's layer-level AC frequency;
                           * 0 or 1: every block); see zp_ckpt_blocks */
    int64_t ckpt_block;   /* with full recompute, only the first N blocks of each stage (chunk) are
                           * rebuilt (Megatron-LM's block method; 0: every block) */
    int rc_modules;       /* selective recompute's parts of a block (ZP_RC_* bits; 0: the attention
                           * core only, Korthikanti's): see zp_rc_modules */
    int sp_gathered;      /* with sequence parallelism, a column-parallel product keeps the input it
                           * gathered, whole, for its weight gradient (PyTorch DTensor's tensor
                           * parallelism, torchtitan: --sp-inputs gathered) instead of each rank's
                           * rows gathered again in backward (Megatron-LM: local); memory.c, comm.c */
    int compute_fp32;     /* the backend computes in fp32 (zplan's CPU engine): activations and
                           * workspaces in fp32, and fp32 working copies of 16-bit parameters and
                           * gradients for the unit being computed (see memory.c) */
    int tensor_math;      /* with compute_fp32, the products nonetheless run at the 16-bit dtype's
                           * rate, its operands rounded to it on the tensor cores (zplan's engine on a
                           * GPU, gemm=bf16): the dtype's peak, fp32 operand bytes (cost.c) */
} zp_train;

/* Blocks of a stage of Ls blocks (v chunks of it with interleaving) that
 * full recompute rebuilds in backward: all of them; with ckpt_every k > 1
 * the k-th, 2k-th, ... of the stage (torchtitan's layer-level activation
 * checkpointing: a block counter per process, every k-th block wrapped),
 * floor(Ls / k); with ckpt_block N the first N of each chunk (Megatron-LM's
 * --recompute-method block --recompute-num-layers N), v min(N, Ls / v).
 * The rest keep their activations as without recompute.  0 for the other
 * modes (selective and op rebuild part of every block). */
static inline int64_t zp_ckpt_blocks(const zp_train *tr, int ckpt_full, int64_t Ls, int64_t v)
{
    if (!ckpt_full)
        return 0;
    if (tr->ckpt_block > 0) {   /* chunks of Ls / v blocks, the first Ls % v of them one more */
        int64_t n = tr->ckpt_block, vv = v > 1 ? v : 1, base = Ls / vv, rem = Ls % vv;
        return rem * (n < base + 1 ? n : base + 1) + (vv - rem) * (n < base ? n : base);
    }
    return tr->ckpt_every > 1 ? Ls / tr->ckpt_every : Ls;
}

/* The parts of a block selective recompute rebuilds (Megatron-LM's
 * --recompute-modules): the attention core (its s x s' scores and softmax;
 * nothing to rebuild under flash attention, which keeps none), the MLP (its
 * products' and activation's outputs, from the MLP's input), and the norms
 * (their outputs, from their inputs). */
enum { ZP_RC_CORE_ATTN = 1, ZP_RC_MLP = 2, ZP_RC_NORM = 4, ZP_RC_ALL = 7 };
extern const char *const zp_rc_module_names[];   /* core_attn mlp layernorm */
static inline int zp_rc_modules(const zp_train *tr, int ckpt_selective)
{
    return ckpt_selective ? (tr->rc_modules ? tr->rc_modules : ZP_RC_CORE_ATTN) : 0;
}

/* Whether the backward of a stage of Ls blocks starts with a rebuilt block
 * (its last block is one; with interleaving, a chunk's last), so that the
 * rebuilt block's working set adds to every block's activations; otherwise
 * the kept blocks above the last rebuilt one have freed at least as much
 * by the time it runs. */
static inline int zp_ckpt_last_rebuilt(const zp_train *tr, int64_t Ls, int64_t v)
{
    if (tr->ckpt_block > 0)
        return tr->ckpt_block >= (v > 1 ? Ls / v : Ls);
    if (tr->ckpt_every <= 1)
        return 1;
    /* with interleaving each chunk's backward starts with its own last
     * block, the (c nl)-th of the stage */
    int64_t vv = v > 1 ? v : 1, nl = Ls / vv;
    for (int64_t c = 1; c <= vv; c++)
        if ((c * nl) % tr->ckpt_every == 0)
            return 1;
    return 0;
}

/* Bytes of a saved activation value: the dtype's, or 4 computing in fp32. */
static inline uint64_t zp_act_bytes(const zp_train *tr)
{
    return tr->compute_fp32 ? 4 : (uint64_t)zp_dtype_bytes(tr->dtype);
}

typedef struct zp_layout {
    int64_t dp, tp, pp, vp;
    /* context parallelism (Megatron CP, ring attention): each of cp ranks
     * holds s / cp tokens of every sequence, K and V passed around a ring
     * per layer; ranks dp x tp x pp x cp; the model states are sharded and
     * reduced over dp x cp (zp_cp: 0 reads as 1) */
    int64_t cp;
    int zero;             /* 0..3 */
    zp_offload offload;
    zp_ckpt ckpt;
    /* activation offload: what each block keeps for its backward (under
     * full recompute, its input) goes to host RAM once made and comes back
     * before the block's backward; the device holds two blocks' (one in use,
     * one in flight) or, copied on the compute stream, one (zp_conv.act_offload) */
    int act_offload;
    int sp;               /* sequence parallelism (needs tp > 1 to matter) */
    int64_t micro_batch;  /* b */
    int64_t grad_accum;   /* M = global_batch / (dp * b) */
} zp_layout;

/* The context-parallel degree (1 when unset) and the ranks that share a
 * model state replica's reduction and ZeRO sharding: dp x cp. */
static inline int64_t zp_cp(const zp_layout *l) { return l->cp > 1 ? l->cp : 1; }
static inline int64_t zp_shard_ranks(const zp_layout *l) { return l->dp * zp_cp(l); }

/* The matmul efficiency as a function of shape (gemm.c, README "Cost"). */
/* the depth at which a tile's pipeline fill and drain halve its rate (every GPU's curve) */
#define ZP_GEMM_K_HALF 64.0

typedef struct zp_gemm_curve {
    double eff_max;   /* fraction of the dense peak a large, well-shaped product reaches */
    int64_t sms;      /* tiles one wave runs */
    double k_half;    /* depth at which a tile's pipeline fill and drain halve its rate */
    double hbm_gbps;  /* a product's bytes move at most this fast (GB/s) */
} zp_gemm_curve;
/* Achieved fraction of the dense peak of `batch` products C[M x N] =
 * A[M x K] B[K x N] (compute bound; see gemm.c). */
double zp_gemm_shape_eff(const zp_gemm_curve *g, double M, double N, double K, double batch);
/* Seconds of those products: compute at that efficiency, or the traffic of
 * A, B and C (elem_bytes each; 0: not memory bound) at hbm_gbps if longer. */
double zp_gemm_time(const zp_gemm_curve *g, double peak_flops, double elem_bytes, double M, double N, double K,
                    double batch);

/* Conventions and overheads.  Every constant a peer disagrees on is here,
 * documented in README "Conventions", never hidden in a formula. */
typedef enum zp_z3buf { ZP_Z3BUF_PREFETCH = 0, ZP_Z3BUF_DEEPSPEED } zp_z3buf;

/* When the data-parallel gradient reductions (all-reduce, reduce-scatter)
 * run: behind the backward, bucket by bucket (PyTorch DDP and FSDP,
 * Megatron's --overlap-grad-reduce), after it (Megatron-LM without
 * --overlap-grad-reduce, DeepSpeed ZeRO-1/2 without overlap_comm), or
 * behind it only at ZeRO-3 (DeepSpeed's overlap_comm default: on for
 * stage 3, off below). */
typedef enum zp_grad_overlap { ZP_GOVL_ALL = 0, ZP_GOVL_NONE, ZP_GOVL_ZERO3, ZP_GOVL_N } zp_grad_overlap;
extern const char *const zp_grad_overlap_names[];   /* backward, after, zero3 */
extern const char *const zp_attn_kernel_names[];    /* preset, fa2, cudnn */
extern const char *const zp_gemm_ceiling_names[];   /* preset, benchmark */
extern const char *const zp_adam_impl_names[];      /* fused, foreach */
extern const char *const zp_grad_sum_names[];       /* inplace, copy */
extern const char *const zp_pp_out_names[];         /* freed, kept, sliced */
extern const char *const zp_sp_in_names[];          /* local, gathered (zp_train.sp_gathered) */
extern const char *const zp_score_grads_names[];    /* all, head */
/* How a framework offloads activations (zp_layout.act_offload): not at
 * all; on a copy stream, each block's behind its compute, two blocks' on
 * the device (one in use, one in flight: Megatron-core's --cpu-offloading
 * with Transformer Engine, and zplan's own convention); or in the compute
 * stream's order, on the critical path, one block's on the device
 * (PyTorch's torch.autograd.graph.save_on_cpu, the only one FSDP and DDP
 * have), and of that kind only the inputs full recompute keeps (DeepSpeed's
 * activation_checkpointing.cpu_checkpointing). */
typedef enum zp_act_off { ZP_AOFF_NONE = 0, ZP_AOFF_ASYNC, ZP_AOFF_SYNC, ZP_AOFF_CKPT_SYNC, ZP_AOFF_N } zp_act_off;
extern const char *const zp_act_off_names[];   /* none, async, sync, checkpoints */
/* What a pipeline stage keeps of each in-flight micro-batch's output
 * until that micro-batch's backward (a stage before the last; interleaved,
 * the last stage's chunks but its final one too): nothing (Megatron-LM
 * frees the data once it is sent, deallocate_pipeline_outputs, which its
 * training sets; zplan's engine sends the tensor itself and frees it), the
 * whole local output (torch.distributed.pipelining holds it in the stage's
 * forward cache for autograd), or its 1/t slice (DeepSpeed's PipelineEngine
 * with tensor parallelism partitions the output over the tensor-parallel
 * group, keeps its own part and frees the rest; at t = 1 the whole). */
typedef enum zp_pp_out { ZP_PPOUT_FREED = 0, ZP_PPOUT_KEPT, ZP_PPOUT_SLICED } zp_pp_out;
/* Without flash attention, the attention scores' gradients live at a
 * block's backward: every head's of the micro-batch at once (the batched
 * products of Megatron's, DeepSpeed's and PyTorch's attention) or one
 * head's of one sequence at a time (zplan's engine). */
typedef enum zp_score_grads { ZP_SGRAD_ALL = 0, ZP_SGRAD_HEAD } zp_score_grads;

typedef struct zp_conv {
    zp_z3buf zero3_buffer;      /* ZeRO-3 transient accounting */
    int zero3_regather_all;     /* ZeRO-3 backward gathers every unit again (ZeRO paper), or the blocks only */
    int64_t bucket_elems;       /* gradient reduce bucket (elements) */
    uint64_t cuda_ctx_bytes;    /* per process */
    uint64_t nccl_comm_bytes;   /* per communicator */
    uint64_t cublas_bytes;      /* per process: cuBLAS handle and workspace */
    uint64_t torch_blas_ws_bytes; /* PyTorch (a framework, or eager): the cuBLAS workspace its caching allocator
                                   * holds for each thread that runs products, two in a step (zp_torch_blas_ws;
                                   * 0: zplan's own accounting, the engine) */
    double frag;                /* allocator fragmentation, fraction of the rest */
    double frag_rebuilt;        /* the same under PyTorch eager (eager) with rebuilt blocks, where the caching
                                 * allocator reserved 4-29 % over the tensors' peak in replayed steps (0.20, the
                                 * median of the first six shapes; memory.c, README "PyTorch eager") */
    uint64_t alloc_granule_bytes; /* > 0: tensors rounded up to this instead of frag (half a granule each) */
    double gemm_eff;            /* achieved fraction of dense peak in matmuls; 0: by shape, from `gemm` */
    zp_gemm_curve gemm;         /* the shape curve (used when gemm_eff is 0) */
    double kernel_s;            /* by shape: fixed launch-and-ramp time of every kernel */
    double hbm_eff;             /* by shape: the non-matmul kernels' fraction of HBM bandwidth */
    double attn_eff;            /* by shape: flash attention's fraction of the peak on the FLOPs it does */
    int attn_kernel;            /* whose fused attention that rate is (zp_attn_kernel_names): 0 the preset's fitted
                                 * attention_efficiency, 1 FlashAttention-2's (attention_efficiency_fa2), 2 cuDNN's
                                 * (attention_efficiency_cudnn) */
    double gemm_eff_max_fp8;    /* by shape: the ceiling of FP8 products */
    int gemm_bench;             /* the ceilings are a short benchmark's (zp_gpu.gemm_eff_max_bench; the FP8 one and
                                 * the derived attention kernels' rates in the same ratio) rather than the
                                 * preset's gemm_max_efficiency, on Hopper the sustained one fitted to training
                                 * runs (zp_gemm_ceiling_names) */
    double link_eff;            /* achieved fraction of link bandwidth */
    double nvlink_eff;          /* NVLink's alone, a ring of 8 ranks (the preset's nvlink_efficiency; 0: link_eff) */
    double group_c;             /* a ring collective (all-reduce, reduce-scatter, all-gather) of n < 8 ranks
                                 * over NVLink reaches (1 - group_c / n) / (1 - group_c / 8) of an 8-rank
                                 * ring's rate (link_eff): smaller groups less of the link (XLA's measured
                                 * H100 and B200 collectives; 0: every size alike) */
    double overlap_eff;         /* fraction of overlappable communication that hides */
    int dp_overlap_set;         /* dp_overlap_eff holds (else the data-parallel group's follows overlap_eff) */
    double dp_overlap_eff;      /* the same for the data-parallel group's collectives (gradient reductions,
                                 * ZeRO/FSDP gathers and reduce-scatters): FSDP's run with NCCL's default
                                 * channels beside the compute (zp_conv_dp_overlap) */
    zp_grad_overlap grad_overlap; /* whether the data-parallel gradient reductions overlap the backward */
    char framework[16];         /* the framework whose defaults these are (--framework; "" none): a name kept
                                 * with the run, the values above are what counts */
    int tp_overlap;             /* a layer's tensor-parallel all-gathers and reduce-scatters overlap the GEMMs
                                 * they feed and follow (Megatron's --tp-comm-overlap, torchtitan's async TP;
                                 * needs sequence parallelism) */
    int tp_grad_overlap;        /* the column-parallel products' input-gradient all-reduce (reduce-scatter
                                 * with sequence parallelism) runs behind their weight-gradient products
                                 * (Megatron-LM's asynchronous tensor-parallel all-reduce, on by default) */
    int zero2_reshard;          /* ZeRO-2 as FSDP's SHARD_GRAD_OP: the parameters resharded after every backward
                                 * that reduces its gradients (FSDP1 and FSDP2 both), so gathered again in each
                                 * micro-batch's forward, M all-gathers a step behind the step's compute as
                                 * ZeRO-3's; 0: kept whole, gathered once after the optimizer (DeepSpeed's) */
    int lp_grads;               /* DeepSpeed's bf16 optimizer (bf16 with fp32 gradients, ZeRO 0-1, no offload:
                                 * zp_lp_grads_apply): each parameter's bf16 gradient stays allocated beside the
                                 * fp32 one, + Ψ_k x 2 in grads, and is added into it and zeroed after every
                                 * micro-batch, ZP_LP_GRADS_ADD_BYTES a parameter at the non-matmul rate;
                                 * 0: the 16-bit gradient is freed once added (Megatron's main_grad hooks) */
    int p2p_blocking;           /* pipelines: every schedule step starts with the stage's paired, blocking
                                 * sends and receives, one after another (DeepSpeed's PipelineEngine and its
                                 * TrainSchedule), so the stage that paces the pipeline pays its transfers on
                                 * the critical path, four a micro-batch in the middle, two at the ends
                                 * (zp_p2p_blocking_transfers), instead of the stage's sends; no interleaving
                                 * (DeepSpeed has none); 0: Megatron's batched send-and-receive, counted as
                                 * the stage's sends */
    int eager;                  /* PyTorch eager with Hugging Face transformers' modules (--framework torch):
                                 * activations as autograd saves them op by op (zp_eager_layer_bytes), 16-bit
                                 * dtypes with master weights by autocast (fp32 parameters and gradients, a
                                 * 16-bit copy of each matmul weight saved for its backward, no separate
                                 * master), the loss's fp32 logits, log-softmax and their gradients at its
                                 * backward, and with one micro-batch at ZeRO 0 or 1 no gradients before the
                                 * backward (set_to_none) (memory.c) */
    int ce_unfused;             /* the loss is PyTorch's cross_entropy on fp32 logits, uncompiled: at its backward
                                 * the log-softmax output (saved), the gradient nll_loss hands it and the logits'
                                 * gradient, 12 bytes a logit, instead of the fp32 logits of a fused cross-entropy
                                 * (Megatron's vocab-parallel one, a compiled loss), 4 */
    int bwd_workspace;          /* count one block's activation gradients in backward (and with sequence
                                 * parallelism the operand gathered whole: in backward, and the head's input) */
    int p2p_overlap;            /* pipelines with interleaving (vp > 1): each chunk's sends and receives run
                                 * behind the compute of other chunks (Megatron-LM's interleaved schedule with
                                 * overlap_p2p_comm, on unless --no-overlap-p2p-communication; it is forced
                                 * off without interleaving) instead of on the critical path */
    int param_gather_overlap;   /* ZeRO 1-2 (the distributed optimizer): the updated-parameter all-gather runs
                                 * behind the next step's first forward, bucket by bucket (Megatron's
                                 * --overlap-param-gather, NeMo's overlap_param_sync) instead of after the
                                 * optimizer step */
    int p2p_in_place;           /* pipelines: the stages' sends and receives use the tensors themselves (the
                                 * received input is the first block's saved input, the output is sent and
                                 * freed before the backward, the received gradient is the backward's own
                                 * buffer: zplan's engine) instead of separate send and receive buffers
                                 * (2 x s b h beside the workspace, the default) */
    int grad_sum_copy;          /* PyTorch eager: autograd sums two gradients of one tensor (a tied head's
                                 * and the word embedding's lookup) into a third tensor (1: PyTorch 1.13,
                                 * measured here) or into the first in place when its buffer holds the only
                                 * reference (0, zp_grad_sum_names: recent PyTorch, input_buffer.cpp's
                                 * can_accumulate_inplace); memory.c's "embedding" moment */
    int adam_foreach;           /* Adam as torch.optim runs it by default (foreach; zp_adam_impl_names): its step
                                 * makes the update's denominator sqrt(v) as a new tensor beside every moment
                                 * it reads (torch/optim/adam.py, _multi_tensor_adam: exp_avg_sq_sqrt), 4 bytes
                                 * a parameter of the partition it updates, live with parameters, gradients
                                 * and moments at the step (memory.c's "step" moment), and moves
                                 * ZP_ADAM_FOREACH_EXTRA_BYTES(gb) more a parameter than one fused pass;
                                 * 0: fused, in place (torch's fused=True, apex's and DeepSpeed's
                                 * multi-tensor Adam, zplan's engine) */
    int pp_out;                 /* pipelines: what a stage before the last keeps of each in-flight micro-batch's
                                 * output until its backward (zp_pp_out, zp_pp_out_names) */
    int act_offload;            /* how activations go to the host where a layout offloads them (zp_act_off,
                                 * zp_act_off_names) */
    int score_grads;            /* without flash attention, whose score gradients a block's backward holds
                                 * (zp_score_grads, zp_score_grads_names) */
    double alpha_intra_s;       /* per ring step latency, inside a node */
    double alpha_inter_s;       /* per ring step latency, across nodes */
    double cpu_adam_params_per_s; /* host optimizer throughput per rank */
    double elementwise_bps;     /* non-matmul kernels' traffic rate; 0: folded into gemm_eff (GPU presets) */
    double eager_hbm_eff;       /* PyTorch eager's kernels (zp_eager_traffic_eval): their fraction of the HBM
                                 * bandwidth */
} zp_conv;

/* PyTorch eager (cv->eager) trains a 16-bit dtype with master weights the
 * way PyTorch users do, by autocast: fp32 parameters, gradients and
 * optimizer, the products in 16 bits on copies autocast makes (memory.c);
 * without master weights it is a model kept in 16 bits, no autocast. */
static inline int zp_autocast_dtype(const zp_train *tr) { return tr->dtype != ZP_DT_FP32 && tr->master; }
static inline int zp_eager_autocast(const zp_train *tr, const zp_conv *cv)
{
    return cv->eager && zp_autocast_dtype(tr);
}
/* PyTorch eager's dtypes (zp_autocast_dtype): *c the products' bytes (2
 * with autocast or a 16-bit model, 4 in fp32), *r the residual stream's (4
 * with autocast: the embeddings are fp32, and a 16-bit product added to it
 * stays fp32; else c). */
static inline void zp_eager_bytes(const zp_train *tr, uint64_t *c, uint64_t *r)
{
    int ac = zp_autocast_dtype(tr);
    *c = ac ? 2 : (uint64_t)zp_dtype_bytes(tr->dtype);
    *r = ac ? 4 : *c;
}
/* Bytes a parameter of the model states as stored: its value (*pb), its
 * gradient (*gb) and the optimizer's (*K: Adam's two moments or SGD's one,
 * and the fp32 master of a 16-bit dtype); under PyTorch's autocast fp32
 * values and gradients, which need no master. */
static inline void zp_state_bytes(const zp_train *tr, const zp_conv *cv, uint64_t *pb, uint64_t *gb, uint64_t *K)
{
    int ac = zp_eager_autocast(tr, cv);
    *pb = ac ? 4 : (uint64_t)zp_dtype_bytes(tr->dtype);
    *gb = ac ? 4 : (uint64_t)zp_dtype_bytes(tr->grad_dtype);
    *K = (tr->optim == ZP_OPT_ADAM ? 8 : 4) + (tr->master && tr->dtype != ZP_DT_FP32 && !ac ? 4 : 0);
}

/* Whether lp_grads applies: DeepSpeed's bf16 optimizer, which DeepSpeed
 * takes for bf16 parameters with fp32 gradient accumulation at ZeRO 0-1
 * without offload (its engine's optimizer choice); fp16 with fp32 gradients
 * goes to its ZeRO optimizer instead. */
static inline int zp_lp_grads_apply(const zp_train *tr, const zp_layout *l, const zp_conv *cv)
{
    return cv->lp_grads && tr->dtype == ZP_DT_BF16 && tr->grad_dtype == ZP_DT_FP32 && l->zero < 2 &&
           l->offload == ZP_OFF_NONE;
}
/* Bytes a parameter its bf16 optimizer moves after every micro-batch to add
 * the bf16 gradient into the fp32 one and zero it: read 2, read and write 4
 * each, write 2 (runtime/bf16_optimizer.py, update_hp_grads). */
#define ZP_LP_GRADS_ADD_BYTES 12
/* Whether foreach Adam's temporaries and traffic apply: Adam, stepped on
 * the device (an offloaded optimizer steps on the host). */
static inline int zp_adam_foreach_apply(const zp_train *tr, const zp_layout *l, const zp_conv *cv)
{
    return cv->adam_foreach && tr->optim == ZP_OPT_ADAM && l->offload == ZP_OFF_NONE;
}
/* Bytes a parameter foreach Adam (adam_foreach) moves beyond one fused
 * pass, the parameters and moments fp32 (the optimizer's dtype) and the
 * gradient gb bytes: AdamW's weight decay as its own pass over the
 * parameters, read and write 8; the first moment's lerp and the second's
 * scaling and addcmul as separate kernels, the gradient read again gb and
 * v read and written again 8; sqrt(v) made, 4 + 4 (v read), divided and
 * shifted by eps in place, 8 + 8, and read by the final addcdiv with m
 * again, 4 + 4: 48 + gb (52 with fp32 gradients). */
#define ZP_ADAM_FOREACH_EXTRA_BYTES(gb) (48 + (gb))

/* Transfers on the critical path of one step of DeepSpeed's 1F1B
 * TrainSchedule (2 (M + p - 1) lock-stepped steps, each beginning with
 * the stage's blocking, paired receive and send, p2p_blocking) with p
 * stages and M micro-batches, transfers short beside a micro-batch's
 * compute, when the stage that paces the pipeline is of the kind given: a
 * middle stage receives the activation and sends the gradient before each
 * forward and sends the activation and receives the gradient before each
 * backward, 4 M + 2 (p - 4) in all (and at least 2 (p - 1)): this is also
 * the count when every stage computes alike; the first stage (heaviest)
 * talks only to its successor, 2 M + 4 (p - 2) (from M = p on; the
 * middle's count before); the last, 2 M + 2 (p - 2); with two stages 2 M.  tests/test_cost.c checks each against an event
 * simulation of the schedule. */
typedef enum zp_stage_kind { ZP_STAGE_FIRST = 0, ZP_STAGE_MIDDLE, ZP_STAGE_LAST } zp_stage_kind;
int64_t zp_p2p_blocking_transfers(int64_t p, int64_t M, zp_stage_kind pacing);

/* Defaults: see README "Conventions"; overheads taken from the GPU preset. */
void zp_conv_defaults(zp_conv *c, const zp_gpu *gpu);
/* PyTorch's cuBLAS workspace for one (handle, stream), which its caching
 * allocator holds, by the GPU's compute capability (0: not given) */
uint64_t zp_torch_blas_ws(double compute_cap);
/* The overlap efficiency of the data-parallel group's collectives:
 * dp_overlap_eff where set, otherwise overlap_eff. */
static inline double zp_conv_dp_overlap(const zp_conv *c)
{
    return c->dp_overlap_set ? c->dp_overlap_eff : c->overlap_eff;
}
/* The rates a measured profile (zplan calibrate) brings: efficiency,
 * latency, link efficiency, host optimizer throughput; the rest kept. */
void zp_conv_apply_gpu(zp_conv *c, const zp_gpu *gpu);

/* ---------------------------------------------------------------- memory */

typedef enum zp_mem_class {
    ZP_MEM_PARAMS = 0, ZP_MEM_GRADS, ZP_MEM_OPTIM, ZP_MEM_ACT, ZP_MEM_BUF,
    ZP_MEM_OVERHEAD, ZP_MEM_NCLASS
} zp_mem_class;
extern const char *const zp_mem_class_names[]; /* params grads optimizer activations buffers overhead */

/* The moment of the step at which a stage's device memory peaks
 * (memory.c): the first block's backward (or, on a pipeline stage, its
 * backward's start), the loss's (its backward, or under PyTorch eager with
 * rebuilt blocks its forward), the optimizer step, the last block's
 * attention backward (PyTorch eager attention), the word embedding's
 * backward (PyTorch eager, a tied head) */
typedef enum zp_phase { ZP_PHASE_BACKWARD = 0, ZP_PHASE_LOSS, ZP_PHASE_STEP, ZP_PHASE_ATTN, ZP_PHASE_EMBED } zp_phase;
extern const char *const zp_phase_names[];   /* backward loss step attention embedding */

/* One rank's memory, bytes per class, on the device and in host RAM.  The
 * device classes are those live at the peak (phase), so that they add up to
 * it: the transient classes (activations, buffers) as they stand then. */
typedef struct zp_mem {
    uint64_t dev[ZP_MEM_NCLASS];
    uint64_t host[ZP_MEM_NCLASS];
    uint64_t dev_total;
    uint64_t host_total;
    /* zp_mem_worst: the most host bytes of a rank of any stage it looked
     * at (stage 0 holds the most micro-batches' offloaded activations,
     * where the last may be the device's worst); else host_total */
    uint64_t host_max;
    zp_phase phase;
} zp_mem;

/* Activation bytes saved for backward by one transformer layer for one
 * micro-batch on one tp rank (Korthikanti et al. 2022, generalised: GQA,
 * SwiGLU, FFN width, dtype, flash attention, dropout switch). */
uint64_t zp_act_layer_bytes(const zp_model *m, const zp_train *tr, const zp_layout *l);
uint64_t zp_eager_layer_bytes(const zp_model *m, const zp_train *tr, const zp_layout *l);
/* Layer-activations in flight on pipeline stage k, in units of one layer's
 * activations for one micro-batch: 1F1B keeps min(M, p - k) micro-batches of
 * L/p layers; the interleaved schedule (vp > 1) keeps
 * min(M*v, 2(p-k-1) + (v-1)p + 1) chunks of L/(p v) layers, which is
 * L (1 + (p-1)/(p v)) on the first stage (Korthikanti et al.). */
int64_t zp_act_inflight(const zp_layout *l, int64_t layers, int64_t stage);
/* Blocks on pipeline stage k of p for L layers: L / p when p divides L;
 * else floor(L / p) each and the remainder one more each on the middle
 * stages from the second on, then on the first, then on the last (the
 * first and last hold the embedding and the head: Llama 3 405B's 126
 * layers on 16 stages are 7, 8 x 14, 7).  Interleaving (vp > 1) needs
 * pp x vp to divide L. */
int64_t zp_stage_layers(int64_t layers, int64_t p, int64_t k);
/* The middle stage with the most blocks when they are uneven (1), or 0. */
static inline int64_t zp_stage_middle(int64_t layers, int64_t p)
{
    return p > 2 && layers % p ? 1 : 0;
}
/* A middle stage whose time to evaluate, or 0 without one (p <= 2): it
 * sends activations and gradients both; of the middle stages holding the
 * most blocks (with uneven stages the first ones), the first whose sends
 * cross the most node boundaries (comm.c), so that the stage pacing the
 * pipeline is the one timed; else stage 1. */
int64_t zp_stage_middle_pick(const zp_model *m, const zp_layout *l, const zp_cluster *c);
/* Parameters held by one rank of stage k before ZeRO sharding: its
 * zp_stage_layers blocks, the embedding on the first stage, final norm and head (untied,
 * or the tied copy when p > 1) on the last. */
int64_t zp_stage_params(const zp_model *m, const zp_layout *l, int64_t stage);
/* What the stage functions of one layout share, worked out once: a plan's
 * memory, communication and cost all start from these (zp_plan_eval builds
 * it once; the functions without _c build their own). */
typedef struct zp_lcache {
    int64_t layer_params;    /* one block on one tp rank */
    int64_t embed_params;    /* embedding on one tp rank (first stage) */
    int64_t head_params;     /* head rows on one tp rank (last stage) */
    int64_t stage_params[2]; /* zp_stage_params of the first and last stage */
    int64_t vocab_t;         /* ceil(V / t) */
    uint64_t sbh_r;          /* s b h / r, r = t with sequence parallelism, else 1 */
    uint64_t act_layer;      /* zp_act_layer_bytes */
    uint64_t act_kept;       /* a block full recompute leaves alone (ckpt_every > 1): zp_act_layer_bytes
                              * without recompute */
    uint64_t recompute;      /* the recompute working set */
} zp_lcache;
void zp_lcache_init(const zp_model *m, const zp_train *tr, const zp_layout *l, zp_lcache *lc);
/* zp_stage_params from the cache (any stage). */
static inline int64_t zp_lcache_stage_params(const zp_model *m, const zp_layout *l, const zp_lcache *lc,
                                             int64_t stage)
{
    if (stage == l->pp - 1)
        return lc->stage_params[1];
    if (stage == 0)
        return lc->stage_params[0];
    return zp_stage_layers(m->layers, l->pp, stage) * lc->layer_params;
}

/* Activation offload (l->act_offload) on stage k: the blocks whose kept
 * activations cross PCIe each way a micro-batch, of each kind, and the
 * bytes of each: kept whole (n[0], b[0]) and rebuilt by full recompute,
 * their input (n[1], b[1]); of each kind the share of the stage's blocks
 * that memory moves to the host (the rest stay on the device: memory.c). */
void zp_act_offload_moves(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_conv *cv,
                          const zp_lcache *lc, int64_t k, int64_t n[2], uint64_t b[2]);
/* Memory of one rank of pipeline stage `stage` (0 .. pp-1). */
void zp_mem_stage(const zp_model *m, const zp_train *tr, const zp_layout *l,
                  const zp_cluster *c, const zp_conv *cv, int64_t stage, zp_mem *out);
/* The rank with the most device memory: stage 0 or pp-1 (see memory.c). */
int64_t zp_mem_worst(const zp_model *m, const zp_train *tr, const zp_layout *l,
                     const zp_cluster *c, const zp_conv *cv, zp_mem *out);
int64_t zp_mem_worst_c(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_conv *cv,
                       const zp_lcache *lc, zp_mem *out);
/* Host RAM needed per node: ranks per node x the most host bytes of a rank
 * (worst->host_max: a node's ranks are of one stage where dp x tp x cp
 * fills it, and that may be any). */
uint64_t zp_mem_host_per_node(const zp_cluster *c, const zp_mem *worst);
/* The same where a node holds ranks of several stages (dp x tp x cp below
 * the GPUs of a node, pp > 1): the first or the last node, each of its
 * stages' ranks at that stage's host bytes, whichever needs more. */
uint64_t zp_mem_host_node(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_cluster *c,
                          const zp_conv *cv, const zp_lcache *lc, const zp_mem *worst);

/* ------------------------------------------------------------------ comm */

typedef enum zp_coll_kind {
    ZP_COLL_ALLREDUCE = 0, ZP_COLL_REDUCE_SCATTER, ZP_COLL_ALLGATHER,
    ZP_COLL_BROADCAST, ZP_COLL_REDUCE, ZP_COLL_SENDRECV, ZP_COLL_H2D,
    ZP_COLL_D2H, ZP_COLL_NKIND
} zp_coll_kind;
extern const char *const zp_coll_kind_names[];

typedef enum zp_group { ZP_GRP_DP = 0, ZP_GRP_TP, ZP_GRP_PP, ZP_GRP_EMB, ZP_GRP_PCIE, ZP_GRP_CP, ZP_GRP_N } zp_group;
extern const char *const zp_group_names[];

typedef enum zp_overlap {
    ZP_OVL_NONE = 0,  /* on the critical path */
    ZP_OVL_BWD,       /* hidden behind backward compute (gradient reduction) */
    ZP_OVL_FWD_BWD,   /* hidden behind forward+backward (ZeRO-3 prefetch) */
    ZP_OVL_ATTN,      /* hidden behind the attention it feeds (context-parallel ring), every micro-batch */
    ZP_OVL_GEMM,      /* hidden behind the layer's linear products (tensor parallelism overlapped), every micro-batch */
    ZP_OVL_WGRAD,     /* hidden behind the layer's weight-gradient products (an input gradient's reduction,
                       * Megatron's asynchronous all-reduce), every micro-batch */
    ZP_OVL_FWD,       /* hidden behind one micro-batch's forward (the distributed optimizer's updated-parameter
                       * all-gather, Megatron's --overlap-param-gather: each bucket waited for as the next
                       * step's first forward reaches it) */
    ZP_OVL_P2P,       /* hidden behind the stage's compute of other chunks (pipeline sends and receives in
                       * Megatron's interleaved schedule, overlap_p2p_comm) */
    ZP_OVL_DGRAD,     /* hidden behind the layer's input-gradient products (sequence parallelism's re-gather of
                       * a product's input for its weight gradient), every micro-batch */
    ZP_OVL_BLOCK,     /* hidden behind its block's compute (activation offload on a copy stream: a block's
                       * activations to the host behind its forward, back behind the backward of the block
                       * after it), every micro-batch */
    ZP_OVL_STREAM,    /* on the compute stream, every micro-batch: on the critical path (activation offload
                       * copied in stream order: PyTorch's save_on_cpu, DeepSpeed's cpu_checkpointing) */
    ZP_OVL_N
} zp_overlap;
extern const char *const zp_overlap_names[];   /* none, backward, ..., forward, other chunks */

/* One collective of one training step, as seen by one rank. */
typedef struct zp_coll {
    zp_coll_kind kind;
    zp_group group;
    const char *what;      /* static text: "gradient all-reduce" */
    int64_t group_size;
    int inter_node;        /* ring crosses nodes (slowest link: NIC) */
    uint64_t bytes;        /* S: the array size of one call (nccl-tests "size") */
    int64_t count;         /* calls per step */
    double bus_factor;     /* nccl-tests busbw factor */
    uint64_t bus_bytes;    /* bytes this rank sends per step: round(S * factor) * count */
    double time_s;         /* all calls of the step: count * (alpha*steps + S*factor/B) */
    zp_overlap overlap;
} zp_coll;

#define ZP_COMM_MAX 32
typedef struct zp_comm {
    int n;
    zp_coll c[ZP_COMM_MAX];
    uint64_t bytes_per_step;   /* sum of bytes * count */
    double time_s;             /* sum of time_s */
} zp_comm;

/* Collectives of one step for a rank of pipeline stage `stage`. */
void zp_comm_plan(const zp_model *m, const zp_train *tr, const zp_layout *l,
                  const zp_cluster *c, const zp_conv *cv, int64_t stage, zp_comm *out);
void zp_comm_plan_c(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_cluster *c,
                    const zp_conv *cv, int64_t stage, const zp_lcache *lc, zp_comm *out);
/* Time of one call by the alpha-beta model (exposed for tests). */
double zp_coll_time(zp_coll_kind k, int64_t n, uint64_t bytes, double link_gbps, double alpha_s);
/* The share of an 8-rank ring's NVLink rate (the link efficiency's) that
 * a ring collective of n ranks inside a node reaches: (1 - group_c / n) /
 * (1 - group_c / 8) below 8 ranks, 1 from 8. */
double zp_group_eff(const zp_conv *cv, int64_t n);
/* The fraction of NVLink's bandwidth a ring of 8 ranks reaches: the
 * preset's measured nvlink_efficiency (or --nvlink-eff), else link_eff. */
static inline double zp_nvlink_eff(const zp_conv *cv) { return cv->nvlink_eff > 0 ? cv->nvlink_eff : cv->link_eff; }

/* ------------------------------------------------------------------ cost */

typedef struct zp_cost {
    double model_flops;    /* per step, whole job, without recompute (for MFU) */
    double hw_flops;       /* per step per rank of the slowest stage, with recompute */
    double compute_s;      /* slowest stage, all micro-batches */
    double comm_exposed_s; /* after overlap */
    double bubble_s;       /* pipeline fill and drain */
    double optimizer_s;    /* optimizer step (device or host) and offload traffic */
    double step_s;
    double tokens_per_s;
    double mfu;            /* model FLOPs / (step time * G * dense peak) */
    double ew_bytes;       /* the non-matmul kernels' traffic of a micro-batch on the slowest stage (forward,
                            * backward, recompute) */
    double gemm_s;         /* the first stage's products (the matmuls and the stored-probabilities
                            * attention's; a fused flash kernel is no GEMM), all micro-batches: what an
                            * engine's rank 0 times around its GEMMs */
} zp_cost;

/* Forward FLOPs per token of the whole model (matmuls + attention scores). */
double zp_flops_fwd_per_token(const zp_model *m, int64_t seq);
/* Bytes the non-matmul kernels (norms, residual adds, activation function,
 * softmax, cross-entropy) read and write for one micro-batch on one rank
 * of stage k, forward + backward + recompute (cost.c); timed only when
 * the conventions give their rate (elementwise_bps, from zplan calibrate). */
double zp_elementwise_bytes(const zp_model *m, const zp_train *tr, const zp_layout *l, int last_stage);
/* PyTorch eager's non-matmul traffic, kernel by kernel (cost.c), per
 * micro-batch and tp rank, bytes: a layer's forward (f) and backward (b),
 * of which the autocast weight casts (pf, pb); the head and loss on the
 * last stage (hf, hb); the embedding on the first (ef, eb); and the
 * kernels of each (k*). */
typedef struct {
    double f, b, kf, kb, pf, pb, hf, hb, khf, khb, ef, eb, kef, keb;
} zp_eager_traffic;
void zp_eager_traffic_eval(const zp_model *m, const zp_train *tr, const zp_layout *l, zp_eager_traffic *o);
/* Cost of a plan from its first- and last-stage communication (and, with
 * uneven stages, that of the middle stage with a block more: zp_cost_eval_c's
 * midc; NULL takes the first stage's). */
void zp_cost_eval(const zp_model *m, const zp_train *tr, const zp_layout *l,
                  const zp_cluster *c, const zp_conv *cv, const zp_comm *first,
                  const zp_comm *last, zp_cost *out);
void zp_cost_eval_c(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_cluster *c,
                    const zp_conv *cv, const zp_lcache *lc, const zp_comm *first, const zp_comm *last,
                    const zp_comm *midc, zp_cost *out);

/* ---------------------------------------------------------------- search */

typedef enum zp_reject {
    ZP_REJ_NONE = 0,
    ZP_REJ_TP_NODE,      /* tp neither dividing a node nor a multiple of it */
    ZP_REJ_TP_HEADS,     /* tp does not divide heads / KV heads */
    ZP_REJ_PP_LAYERS,    /* pp (x vp) does not divide layers */
    ZP_REJ_DP_BATCH,     /* dp x micro-batch does not divide the global batch */
    ZP_REJ_ZERO_PP,      /* ZeRO-2/3 with pipeline parallelism */
    ZP_REJ_OFFLOAD,      /* offload needs ZeRO >= 1 (params: ZeRO-3) */
    ZP_REJ_VP,           /* interleaving needs pp > 1 and M divisible by pp */
    ZP_REJ_SELECTIVE_FLASH, /* unpinned selective recompute under flash attention: same as none */
    ZP_REJ_CP,           /* cp > 1 without flash attention, or not splitting the sequence in 2 cp chunks */
    ZP_REJ_EAGER_CKPT,   /* PyTorch eager (cv.eager) with selective or per-op recompute: its modules rebuild whole blocks */
    ZP_REJ_FRAMEWORK,    /* a sharding or offload the framework (cv.framework) does not have */
    ZP_REJ_ACT_OFFLOAD,  /* activation offload the framework lacks (cv.act_offload), under PyTorch eager's
                          * accounting, or (DeepSpeed's) without full recompute */
    ZP_REJ_DEVICE_MEM,   /* does not fit in device memory */
    ZP_REJ_HOST_MEM,     /* offload does not fit in host RAM */
    ZP_REJ_N
} zp_reject;
extern const char *const zp_reject_names[];

/* A pinned dimension holds its value; -1 means "search it". */
typedef struct zp_pins {
    int64_t dp, tp, pp, vp, micro_batch, cp;
    int zero, offload, ckpt, sp;
    int act_offload;   /* -1: tried where a layout does not fit without it (zp_search) */
} zp_pins;
void zp_pins_none(zp_pins *p);

typedef struct zp_plan {
    zp_layout lay;
    zp_mem mem;            /* worst rank */
    int64_t worst_stage;
    uint64_t host_per_node;
    uint64_t comm_bytes;   /* per step, worst-memory rank */
    zp_cost cost;
    zp_reject reject;      /* ZP_REJ_NONE when it fits */
} zp_plan;

typedef struct zp_problem {
    zp_model model;
    zp_train train;
    zp_cluster cluster;
    zp_conv conv;
    zp_pins pins;
} zp_problem;

typedef struct zp_search_result {
    int64_t evaluated;            /* candidates enumerated */
    int64_t rejected[ZP_REJ_N];   /* by reason; [ZP_REJ_NONE] counts fits */
    /* activation offload unpinned: the candidates that exceeded device
     * memory and were evaluated again with their activations offloaded
     * (beside evaluated), and of those the ones that then fit (beside
     * rejected[ZP_REJ_NONE]) */
    int64_t act_tried, act_fit;
    int ntop;                     /* plans written to top[] (fitting, best first) */
    int have_closest;
    zp_plan closest;              /* valid but too big: closest to fitting (device or host) */
} zp_search_result;

/* Whether a tensor-parallel group of tp ranks lies on nodes of gpn GPUs:
 * inside one (tp divides gpn) or over whole nodes (gpn divides tp: its
 * collectives cross them, hierarchically, comm.c).  Megatron and Calculon
 * allow both; a group straddling part of a node is not a layout. */
int zp_tp_fits_nodes(int64_t tp, int64_t gpn);
/* Check a layout is valid for the problem; ZP_REJ_NONE if so. */
zp_reject zp_layout_check(const zp_problem *pb, const zp_layout *l);
/* What a framework (zp_conv.framework) lacks of a ZeRO stage, an offload
 * (zp_offload) and a pipeline degree, each -1 where not known: why it does
 * not run them (README "Frameworks"), or NULL when it does. */
const char *zp_framework_lacks(const char *framework, int zero, int offload, int64_t pp);
/* Why activation offload is not a layout here (cv.act_offload none,
 * PyTorch eager's accounting, DeepSpeed's without full recompute,
 * Megatron-core's with a pipeline or recompute; ckpt a zp_ckpt and pp the
 * stages, each -1 where not known), or NULL. */
const char *zp_act_offload_lacks(const zp_conv *cv, int ckpt, int64_t pp);
/* The search tries context parallelism (cp > 1) from this sequence length
 * on; NeMo's Llama 3 runs at 8192 tokens use cp 2 (data/validation). */
#define ZP_CP_SEARCH_MIN_SEQ 8192
/* Evaluate one valid layout: memory, comm, cost, fit. */
void zp_plan_eval(const zp_problem *pb, const zp_layout *l, zp_plan *out);
/* Enumerate, evaluate and rank; the k fastest fitting plans go to top[]. */
zp_status zp_search(const zp_problem *pb, zp_plan *top, int k, zp_search_result *res, zp_err *e);
/* Validate pins against the problem before searching (bad input: EINVAL). */
zp_status zp_pins_check(const zp_problem *pb, zp_err *e);
/* The problem's largest byte counts stay inside 64 bits (memory.c): ZP_EINVAL
 * naming --seq and the micro-batch otherwise. */
zp_status zp_problem_range_check(const zp_problem *pb, zp_err *e);
/* Whether micro-batches of b sequences keep a rank's byte counts below 2^62
 * (the search counts those beyond as not fitting the device). */
int zp_micro_batch_in_range(const zp_problem *pb, int64_t b);

#endif
