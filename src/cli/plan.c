/* cli_plan.c - `zplan [plan]`: read the question, search, record, answer. */
#include "config.h"
#include "cli.h"
#include "preset.h"
#include "render.h"
#include "report.h"
#include "result.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum {
    O_PARAMS = 256, O_MODEL, O_CONFIG, O_GPU, O_GPUMEM, O_GPUTF, O_HBMGBPS, O_NVLGBPS, O_GPUS, O_GPN, O_INTER, O_HOSTMEM, O_SEQ, O_GBATCH, O_MBATCH,
    O_DTYPE, O_GDTYPE, O_MASTER, O_NOMASTER, O_OPTIM, O_DP, O_TP, O_PP, O_VP, O_CP, O_ZERO, O_OFFLOAD, O_CKPT, O_CKPTEVERY, O_CKPTLAYERS, O_RCMETHOD, O_RCNUM, O_RCMODS,
    O_SP, O_NOSP, O_ACTOFF, O_NOACTOFF, O_ACTOFFMODE, O_FP8, O_FP8FMT, O_FLASH, O_NOFLASH, O_DROPOUT, O_NODROPOUT, O_Z3BUF, O_Z3RE, O_BUCKET, O_CUDACTX, O_NCCLMEM, O_BLASWS,
    O_FRAG, O_GEMMEFF, O_GEMMMAX, O_ATTNEFF, O_HBMEFF, O_EGHBMEFF, O_KERNELUS, O_LINKEFF, O_NVLEFF, O_GROUPC, O_OVLEFF, O_DPOVLEFF, O_HOSTADAM, O_TPOVL, O_FRAMEWORK, O_GRADRED, O_OVLGRAD, O_TPGO, O_NOTPGO, O_P2PB, O_NOP2PB, O_P2POVL, O_NOP2POVL, O_PGOVL, O_NOPGOVL, O_ATTNK, O_GCEIL, O_ADAMI, O_GSUM, O_PPOUT, O_SPIN, O_SGRAD, O_LPG, O_NOLPG, O_Z2RS, O_NOZ2RS, O_EAGER, O_NOEAGER, O_CEU, O_NOCEU, O_NOBWDWS, O_UNITS, O_TOP, O_JSON, O_DB, O_NOSTORE, O_HELP, O_FROM, O_REPORT,
    O_NNODES, O_NPROC, O_LPVS
};

/* The plan command's options: parsing, --help, the plan files' keys and
 * the suggestions all come from this table (tests/cli.sh checks that the
 * help, the man page and README list the same options). */
static const zp_opt plan_opts[] = {
    {"params", O_PARAMS, "N", NULL, "parameter count (11e9, 11B, 175b, 7.5e9, 350M): a GPT-3-family\nshape is derived and printed", "Model (exactly one):"},
    {"model", O_MODEL, "NAME", NULL, "a preset (zplan models)", NULL},
    {"config", O_CONFIG, "FILE", NULL, "a Hugging Face config.json, read by its model_type (README: gpt2, llama,\nmistral, qwen2, qwen3, gemma, phi3, granite, falcon, gpt_neox, gptj, phi, opt,\nbloom, ...)", NULL},
    {"gpu", O_GPU, "NAME", "--gpu NAME|FILE.json", "GPU preset (zplan gpus; default a100-80g), or a file in the\npresets' format (data/gpus/*.json): a .json name or a path with /", "Cluster:"},
    {"gpu-mem", O_GPUMEM, "SIZE", NULL, "override the GPU's memory (said in the Cluster line)", NULL},
    {"gpu-tflops", O_GPUTF, "X", NULL, "override its 16-bit dense peak, TFLOP/s", NULL},
    {"hbm-gbps", O_HBMGBPS, "X", NULL, "override its HBM bandwidth, GB/s", NULL},
    {"nvlink-gbps", O_NVLGBPS, "X", NULL, "override its NVLink bandwidth per GPU, GB/s", NULL},
    {"gpus", O_GPUS, "G", NULL, "number of GPUs (default 8)", NULL},
    {"gpus-per-node", O_GPN, "N", NULL, "default: the preset's node size, at most G", NULL},
    {"inter-node-gbps", O_INTER, "X", NULL, "per-GPU network bandwidth: 400Gbps, 50GB/s; a bare number is\nGB/s, at most 100 (default: the preset's)", NULL},
    {"host-mem", O_HOSTMEM, "SIZE", NULL, "host RAM per node, e.g. 2TiB (default: the preset's)", NULL},
    {"seq", O_SEQ, "N", NULL, "sequence length (default 2048, or the model's positions)", "Training:"},
    {"global-batch", O_GBATCH, "N", NULL, "sequences per optimizer step (default: 2^21 tokens, 1024 sequences of\n2048, rounded up to a multiple of G)", NULL},
    {"micro-batch", O_MBATCH, "N", NULL, "pin the micro-batch (otherwise searched)", NULL},
    {"dtype", O_DTYPE, "T", NULL, "bf16 (default; before Ampere fp16, or fp32 where fp16 is slower), fp16 or fp32:\nparameters and activations", NULL},
    {"grad-dtype", O_GDTYPE, "T", NULL, "gradient dtype (default: --dtype; fp32 = Megatron main grads)", NULL},
    {"master-weights", O_MASTER, NULL, "--master-weights, --no-master-weights", "fp32 master copy for 16-bit training (default on)", NULL},
    {"no-master-weights", O_NOMASTER, NULL, "", NULL, NULL},
    {"optimizer", O_OPTIM, "O", NULL, "adam (default; adamw: the same state and pass) or sgd (momentum)", NULL},
    {"fp8", O_FP8, NULL, NULL, "the linear layers in FP8 (Transformer Engine: at the FP8 peak, their\ninputs saved in 1 byte, an FP8 copy of the weights; Hopper and newer)", NULL},
    {"flash-attn", O_FLASH, NULL, "--flash-attn, --no-flash-attn", "flash attention (default on; off before Ampere)", NULL},
    {"no-flash-attn", O_NOFLASH, NULL, "", NULL, NULL},
    {"dropout", O_DROPOUT, NULL, "--dropout, --no-dropout", "store dropout masks (default off; on with\n--eager, as --framework torch sets, where the\n--config's attn_pdrop or attention_dropout\nis above 0)", NULL},
    {"no-dropout", O_NODROPOUT, NULL, "", NULL, NULL},
    {"dp", O_DP, "N", NULL, "data-parallel degree", "Layout (pin any; the rest is searched):"},
    {"tp", O_TP, "N", NULL, "tensor-parallel degree (dividing a node's GPUs, or a multiple of them)", NULL},
    {"pp", O_PP, "N", NULL, "pipeline stages (need not divide the layers)", NULL},
    {"vp", O_VP, "N", NULL, "interleaved virtual stages per pipeline rank (1: none)", NULL},
    {"cp", O_CP, "N", NULL, "context-parallel degree: each sequence split over N ranks, K and V\nin a ring (searched up to 32 from --seq 8192; needs flash attention)", NULL},
    {"zero", O_ZERO, "S", NULL, "ZeRO stage 0..3", NULL},
    {"offload", O_OFFLOAD, "W", NULL, "none, optimizer, optimizer+params", NULL},
    {"ckpt", O_CKPT, "C", NULL, "activation recompute: none, selective, full, or op (per-op, torchtitan's:\nevery other matmul output and the attention kept; only when given)", NULL},
    {"ckpt-layers", O_CKPTLAYERS, "N", NULL, "full recompute of the first N blocks of each stage (chunk) only, the others\nkeep their activations (Megatron's block method; implies --ckpt full)", NULL},
    {"recompute-modules", O_RCMODS, "LIST", NULL, "what selective recompute rebuilds, comma-separated: core_attn (the\nattention core: nothing under flash attention), mlp, layernorm (Megatron's\n--recompute-modules; default core_attn; implies --ckpt selective)", NULL},
    {"ckpt-every", O_CKPTEVERY, "K", NULL, "full recompute of every K-th block of a stage only, the others keep their\nactivations (torchtitan's layer-level AC frequency; implies --ckpt full)", NULL},
    {"sp", O_SP, NULL, "--sp, --no-sp", "sequence parallelism (default: on when tp > 1)", NULL},
    {"no-sp", O_NOSP, NULL, "", NULL, NULL},
    {"act-offload", O_ACTOFF, NULL, "--act-offload, --no-act-offload", "what each block keeps for its backward offloaded to host RAM once made\nand fetched back before its backward (default: tried where a layout\ndoes not fit without it; how: --act-offload-mode)", NULL},
    {"no-act-offload", O_NOACTOFF, NULL, "", NULL, NULL},
    {"framework", O_FRAMEWORK, "F", NULL, "the defaults of torch (DDP), fsdp, megatron or deepspeed (README\n\"Frameworks\"; without it zplan's own): gradient bucket, when gradients are\nreduced, ZeRO-3 buffers, Megatron's fp32 main gradients; the options below\noverride them; the search keeps to the shardings and offloads the\nframework has", "Conventions (README \"Conventions\"):"},
    {"zero3-buffer", O_Z3BUF, "K", NULL, "prefetch (default) or deepspeed (4 x largest layer)", NULL},
    {"zero3-regather", O_Z3RE, "R", NULL, "what ZeRO-3 gathers again for the backward: all (default, the\nZeRO paper's 3 Psi) or blocks (the head's backward follows its forward)", NULL},
    {"bucket-elems", O_BUCKET, "N", NULL, "gradient reduce bucket, elements (default 13107200 = 25 MiB of\n16-bit; 0: per-layer reduction, as FSDP and zplan's engine)", NULL},
    {"no-bwd-workspace", O_NOBWDWS, NULL, NULL, "leave out the backward workspace (one block's activation\ngradients)", NULL},
    {"cuda-ctx", O_CUDACTX, "SIZE", NULL, "CUDA context per process (default: the preset's; 0 for none)", NULL},
    {"nccl-mem", O_NCCLMEM, "SIZE", NULL, "NCCL memory per communicator (default: the preset's; 0 for none)", NULL},
    {"blas-workspace", O_BLASWS, "SIZE", NULL, "PyTorch's cuBLAS workspace, held by its allocator for each of\nthe two threads that run products, counted with --framework or\n--eager (default: 32 MiB on compute capability 9.x, 10.x, 12.x,\nelse 8.125 MiB; none where the GPU's is not given) or as SIZE\ngiven here, whatever the accounting; 0 for none", NULL},
    {"frag", O_FRAG, "F", NULL, "allocator fragmentation, fraction of the tensors (default 0.05; with --eager\nand rebuilt blocks 0.20); sets both", NULL},
    {"gemm-eff", O_GEMMEFF, "F", NULL, "one matmul efficiency for every shape, fraction of dense peak\n(default: by shape, the preset's curve; 0.6 without one)", NULL},
    {"gemm-max-eff", O_GEMMMAX, "F", NULL, "the curve's ceiling (default: the preset's)", NULL},
    {"attn-eff", O_ATTNEFF, "F", NULL, "flash attention's fraction of peak (default: the preset's)", NULL},
    {"hbm-eff", O_HBMEFF, "F", NULL, "non-matmul kernels' fraction of HBM bandwidth (default 0.3)", NULL},
    {"eager-hbm-eff", O_EGHBMEFF, "F", NULL, "PyTorch eager's kernels' fraction of HBM bandwidth (default 0.8)", NULL},
    {"kernel-us", O_KERNELUS, "F", NULL, "fixed time per kernel launched, microseconds (default 4.5)", NULL},
    {"link-eff", O_LINKEFF, "F", NULL, "achieved fraction of link bandwidth (default 0.8; given, NVLink's too\nunless --nvlink-eff)", NULL},
    {"nvlink-eff", O_NVLEFF, "F", NULL, "achieved fraction of NVLink bandwidth by a ring of 8 ranks (default:\nthe preset's nvlink_efficiency where measured, B200 0.68; else --link-eff's)", NULL},
    {"group-eff-c", O_GROUPC, "C", NULL, "an NVLink all-reduce, reduce-scatter or all-gather of n < 8 ranks\nreaches (1 - C/n) / (1 - C/8) of an 8-rank one's rate (default 0.75, from\nXLA's measured H100 and B200 collectives; 0: every group size alike)", NULL},
    {"overlap-eff", O_OVLEFF, "F", NULL, "fraction of overlappable communication that hides (default 0.8)", NULL},
    {"dp-overlap-eff", O_DPOVLEFF, "F", NULL, "the same for the data-parallel group's collectives (gradient\nreductions, ZeRO/FSDP gathers; default: --overlap-eff's, 0.5 with\n--framework fsdp unless --overlap-eff is given)", NULL},
    {"host-adam-rate", O_HOSTADAM, "X", NULL, "the offloaded optimizer's rate on the host, parameters per second per\n"
     "rank (default 1e9, or the profile's as zplan calibrate measured it)", NULL},
    {"grad-reduce", O_GRADRED, "W", NULL, "when data-parallel gradients are reduced: backward (behind it, bucket by\nbucket: the default), after (once it ends) or zero3 (behind it at ZeRO-3 only)", NULL},
    {"tp-grad-overlap", O_TPGO, NULL, "--tp-grad-overlap, --no-tp-grad-overlap", "the column-parallel products' input-gradient all-reduce (reduce-\nscatter with sp) behind their weight gradients (Megatron's asynchronous\nall-reduce; default: off, on with --framework megatron)", NULL},
    {"no-tp-grad-overlap", O_NOTPGO, NULL, "", NULL, NULL},
    {"p2p-blocking", O_P2PB, NULL, "--p2p-blocking, --no-p2p-blocking", "pipelines: each step's sends and receives block, one after another\n(DeepSpeed's pipeline engine: the pacing stage's transfers, 4 a micro-\nbatch in the middle, 2 at the ends, on the critical path; no --vp;\ndefault: off, on with --framework deepspeed)", NULL},
    {"no-p2p-blocking", O_NOP2PB, NULL, "", NULL, NULL},
    {"p2p-overlap", O_P2POVL, NULL, "--p2p-overlap, --no-p2p-overlap", "interleaved pipelines (vp > 1): each chunk's sends and receives behind\nthe other chunks' compute (Megatron-LM's overlap_p2p_comm; default: off,\non with --framework megatron)", NULL},
    {"no-p2p-overlap", O_NOP2POVL, NULL, "", NULL, NULL},
    {"param-gather-overlap", O_PGOVL, NULL, "--param-gather-overlap, --no-param-gather-overlap", "ZeRO 1-2: the updated parameters' all-gather behind the next step's\nfirst forward (Megatron's --overlap-param-gather, NeMo's\noverlap_param_sync; default off)", NULL},
    {"no-param-gather-overlap", O_NOPGOVL, NULL, "", NULL, NULL},
    {"gemm-ceiling", O_GCEIL, "C", NULL, "the matmul ceiling: preset (gemm_max_efficiency; on Hopper the one sustained\nin training, fitted to llm-foundry's runs; the default) or benchmark (a short\nbenchmark's, gemm_max_efficiency_benchmark, where the preset gives one: the\nFP8 ceiling and the fa2 and cudnn attention rates in the same ratio; the\ndefault with --framework megatron)", NULL},
    {"attn-kernel", O_ATTNK, "K", NULL, "the fused attention kernel's rate: preset (the preset's fitted\nattention_efficiency; the default), fa2 (FlashAttention-2, the flash-attn\npackage: attention_efficiency_fa2) or cudnn (cuDNN's, as Transformer\nEngine runs it on Hopper: attention_efficiency_cudnn; the default with\n--framework megatron)", NULL},
    {"grad-sum", O_GSUM, "S", NULL, "PyTorch eager (--eager): how autograd adds the two gradients of a tied head's\nweight (the head's and the embedding lookup's): inplace (into the first, which\nits buffer alone holds: recent PyTorch; the default) or copy (into a third\ntensor: PyTorch 1.13, which holds one more of the table's size at the word\nembedding's backward)", NULL},
    {"adam-impl", O_ADAMI, "I", NULL, "Adam's implementation: fused (one in-place pass: torch's fused=True, apex's,\nDeepSpeed's; the default) or foreach (torch.optim's default: sqrt(v) made\nas a new tensor, 4 bytes a parameter at the step, and about 52 more bytes\na parameter moved; the default with --framework torch)", NULL},
    {"score-grads", O_SGRAD, "G", NULL, "without flash attention, the scores' gradients a block's backward holds:\nall (every head's at once, beyond what its MLP's backward freed: Megatron's,\nDeepSpeed's and PyTorch's batched products; the default) or head (one\nhead's of one sequence at a time: zplan's engine)", NULL},
    {"act-offload-mode", O_ACTOFFMODE, "M", NULL, "how activations are offloaded: async (a copy stream behind each block's\ncompute, two blocks' on the device: Megatron-core's --cpu-offloading; the\ndefault, and with --framework megatron), sync (in the compute stream's\norder: PyTorch's save_on_cpu; with --framework fsdp and torch),\ncheckpoints (sync, only the inputs full recompute keeps: DeepSpeed's\ncpu_checkpointing; with --framework deepspeed) or none", NULL},
    {"pp-outputs", O_PPOUT, "O", NULL, "pipelines: what a stage keeps of each in-flight micro-batch's output until\nits backward: freed (Megatron-LM frees it once sent; the default), kept\n(whole: torch.distributed.pipelining; the default with --framework torch\nand fsdp) or sliced (its 1/tp slice: DeepSpeed's pipeline engine partitions\nit over the tensor-parallel group; the default with --framework deepspeed)", NULL},
    {"sp-inputs", O_SPIN, "S", NULL, "sequence parallelism: what a column-parallel product keeps of its gathered\ninput for its weight gradient: local (each rank's rows, gathered again in\nbackward: Megatron-LM; the default) or gathered (the gathered input, whole:\nPyTorch DTensor's tensor parallelism, torchtitan; the default with\n--framework torch and fsdp)", NULL},
    {"lp-grads", O_LPG, NULL, "--lp-grads, --no-lp-grads", "bf16 with fp32 gradients, ZeRO 0-1, no offload: the bf16 gradients stay\nbeside them and are added in after every micro-batch (DeepSpeed's bf16\noptimizer; default: off, on with --framework deepspeed)", NULL},
    {"no-lp-grads", O_NOLPG, NULL, "", NULL, NULL},
    {"zero2-reshard", O_Z2RS, NULL, "--zero2-reshard, --no-zero2-reshard", "ZeRO-2 as FSDP's SHARD_GRAD_OP: the parameters resharded after each\nbackward, gathered again before every micro-batch's forward (default:\noff, gathered once after the optimizer as DeepSpeed's; on with\n--framework fsdp)", NULL},
    {"no-zero2-reshard", O_NOZ2RS, NULL, "", NULL, NULL},
    {"eager", O_EAGER, NULL, "--eager, --no-eager", "memory as PyTorch eager keeps it with Hugging Face transformers' modules:\nwhat autograd saves op by op, autocast for 16-bit (fp32 weights and\ngradients, 16-bit weight copies), the loss's fp32 log-softmax; at one\nmicro-batch, ZeRO 0 or 1, no gradients before the backward (default:\noff, on with --framework torch)", NULL},
    {"no-eager", O_NOEAGER, NULL, "", NULL, NULL},
    {"ce-unfused", O_CEU, NULL, "--ce-unfused, --no-ce-unfused", "the loss is PyTorch's cross_entropy on fp32 logits, uncompiled: at its\nbackward 12 bytes a logit (the log-softmax, its gradient, the logits'\ngradient; 16 with tp > 1, torch's loss_parallel) instead of 4 (default:\noff, a fused cross-entropy; on with --framework torch)", NULL},
    {"no-ce-unfused", O_NOCEU, NULL, "", NULL, NULL},
    {"tp-overlap", O_TPOVL, NULL, NULL, "a layer's tensor-parallel collectives overlap its matmuls (Megatron's\n--tp-comm-overlap, torchtitan's async TP; with sequence parallelism)", NULL},
    ZP_OPT_UNITS(O_UNITS),
    {"top", O_TOP, "N", NULL, "plans to list, one per distinct result (default 10)", "Output:"},
    {"json", O_JSON, NULL, NULL, "print one JSON object (schema: README \"JSON output\")", NULL},
    {"db", O_DB, "PATH", NULL, "database (default $ZPLAN_DB or ./zplan.db)", NULL},
    {"no-store", O_NOSTORE, NULL, NULL, "do not record the run", NULL},
    {"report", O_REPORT, NULL, NULL, "also draw the run's report (zplan report) into report-RUN_ID/", NULL},
    ZP_OPT_HELP(O_HELP),
    {"from", O_FROM, "FILE.plan", NULL, "read options from a plan file (key = value lines, see plans/);\noptions on the command line override it", "Plan files:"},
    /* the users' words: Megatron-LM's, DeepSpeed's and torchrun's names for
     * the same settings (their values as zplan's; --dtype float16 and
     * --offload cpu as well) */
    {"tensor-model-parallel-size", O_TP, "N", NULL, "= --tp N", "Other names (Megatron-LM, DeepSpeed, torchrun, torch), the same settings:"},
    {"pipeline-model-parallel-size", O_PP, "N", NULL, "= --pp N", NULL},
    {"context-parallel-size", O_CP, "N", NULL, "= --cp N", NULL},
    {"tp-comm-overlap", O_TPOVL, NULL, NULL, "= --tp-overlap", NULL},
    {"overlap-grad-reduce", O_OVLGRAD, NULL, NULL, "= --grad-reduce backward", NULL},
    {"no-async-tensor-model-parallel-allreduce", O_NOTPGO, NULL, NULL, "= --no-tp-grad-overlap", NULL},
    {"overlap-param-gather", O_PGOVL, NULL, NULL, "= --param-gather-overlap", NULL},
    {"no-overlap-p2p-communication", O_NOP2POVL, NULL, NULL, "= --no-p2p-overlap", NULL},
    {"micro-batch-size", O_MBATCH, "N", NULL, "= --micro-batch N", NULL},
    {"global-batch-size", O_GBATCH, "N", NULL, "= --global-batch N", NULL},
    {"seq-length", O_SEQ, "N", NULL, "= --seq N", NULL},
    {"sequence-parallel", O_SP, NULL, NULL, "= --sp", NULL},
    {"recompute-granularity", O_CKPT, "C", "--recompute-granularity full|selective", "= --ckpt", NULL},
    {"recompute-method", O_RCMETHOD, "M", "--recompute-method block|uniform --recompute-num-layers N", "= --ckpt-layers N (block), --ckpt full (uniform, N = 1)", NULL},
    {"recompute-num-layers", O_RCNUM, "N", "", NULL, NULL},
    {"zero-stage", O_ZERO, "S", NULL, "= --zero S", NULL},
    {"nnodes", O_NNODES, "N", "--nnodes N --nproc-per-node M", "= --gpus NxM --gpus-per-node M", NULL},
    {"nproc-per-node", O_NPROC, "M", "", NULL, NULL},
    {"num-layers-per-virtual-pipeline-stage", O_LPVS, "N", NULL, "= --vp layers/(pp x N) (needs --pp)", NULL},
    {"fp8-format", O_FP8FMT, "F", "--fp8-format hybrid|e4m3", "= --fp8", NULL},
    ZP_OPT_END};

/* The raw options, as given (NULL: not given). */
typedef struct raw {
    const char *params, *model, *config, *gpu, *gpus, *gpn, *inter, *hostmem, *seq, *gbatch, *mbatch;
    const char *gpumem, *gputf, *hbmgbps, *nvlgbps;
    const char *dtype, *gdtype, *optim, *dp, *tp, *pp, *vp, *cp, *zero, *offload, *ckpt, *ckptevery, *ckptlayers, *rcmethod, *rcnum, *rcmods, *z3buf, *z3re, *bucket;
    const char *cudactx, *ncclmem, *blasws, *frag, *gemmeff, *gemmmax, *attneff, *hbmeff, *eghbmeff, *kernelus, *linkeff, *nvleff, *groupc, *ovleff, *dpovleff, *hostadam, *framework, *gradred, *attnk, *gceil, *adami, *gsum, *ppout, *spin, *sgrad, *units, *top, *db, *nnodes, *nproc, *lpvs;
    int master, sp, flash, dropout, json, nostore, help, report, nobwdws, fp8, tpovl, tpgo, p2pb, p2povl, pgovl, lpg, z2rs, eager, ceu;
    int actoff;              /* --act-offload 1, --no-act-offload 0, neither -1 */
    const char *actoffmode;  /* --act-offload-mode */
} raw;

static const char *const units_names[] = {"gib", "gb", NULL};
static const char *const z3buf_names[] = {"prefetch", "deepspeed", NULL};
static const char *const z3re_names[] = {"blocks", "all", NULL};   /* as result.c writes them */

static zp_status set_opt(void *ctx, int id, const char *v, zp_err *e)
{
    raw *r = ctx;
    switch (id) {
    case O_PARAMS: r->params = v; break;
    case O_MODEL: r->model = v; break;
    case O_CONFIG: r->config = v; break;
    case O_GPU: r->gpu = v; break;
    case O_GPUMEM: r->gpumem = v; break;
    case O_GPUTF: r->gputf = v; break;
    case O_HBMGBPS: r->hbmgbps = v; break;
    case O_NVLGBPS: r->nvlgbps = v; break;
    case O_GPUS: r->gpus = v; break;
    case O_GPN: r->gpn = v; break;
    case O_INTER: r->inter = v; break;
    case O_HOSTMEM: r->hostmem = v; break;
    case O_SEQ: r->seq = v; break;
    case O_GBATCH: r->gbatch = v; break;
    case O_MBATCH: r->mbatch = v; break;
    case O_DTYPE: r->dtype = v; break;
    case O_GDTYPE: r->gdtype = v; break;
    case O_MASTER: r->master = 1; break;
    case O_NOMASTER: r->master = 0; break;
    case O_OPTIM: r->optim = v; break;
    case O_DP: r->dp = v; break;
    case O_TP: r->tp = v; break;
    case O_PP: r->pp = v; break;
    case O_VP: r->vp = v; break;
    case O_CP: r->cp = v; break;
    case O_ZERO: r->zero = v; break;
    case O_OFFLOAD: r->offload = v; break;
    case O_CKPT: r->ckpt = v; break;
    case O_CKPTEVERY: r->ckptevery = v; break;
    case O_CKPTLAYERS: r->ckptlayers = v; break;
    case O_RCMETHOD: r->rcmethod = v; break;
    case O_RCNUM: r->rcnum = v; break;
    case O_RCMODS: r->rcmods = v; break;
    case O_SP: r->sp = 1; break;
    case O_NOSP: r->sp = 0; break;
    case O_ACTOFF: r->actoff = 1; break;
    case O_NOACTOFF: r->actoff = 0; break;
    case O_ACTOFFMODE: r->actoffmode = v; break;
    case O_FP8: r->fp8 = 1; break;
    case O_FP8FMT:
        if (strcmp(v, "hybrid") && strcmp(v, "e4m3"))
            return zp_err_set(e, ZP_EINVAL, "--fp8-format '%s' is not a format (allowed: hybrid, e4m3; both plan as "
                              "--fp8)", v);
        r->fp8 = 1;
        break;
    case O_FLASH: r->flash = 1; break;
    case O_NOFLASH: r->flash = 0; break;
    case O_DROPOUT: r->dropout = 1; break;
    case O_NODROPOUT: r->dropout = 0; break;
    case O_Z3BUF: r->z3buf = v; break;
    case O_Z3RE: r->z3re = v; break;
    case O_BUCKET: r->bucket = v; break;
    case O_CUDACTX: r->cudactx = v; break;
    case O_NCCLMEM: r->ncclmem = v; break;
    case O_BLASWS: r->blasws = v; break;
    case O_FRAG: r->frag = v; break;
    case O_GEMMEFF: r->gemmeff = v; break;
    case O_GEMMMAX: r->gemmmax = v; break;
    case O_ATTNEFF: r->attneff = v; break;
    case O_HBMEFF: r->hbmeff = v; break;
    case O_EGHBMEFF: r->eghbmeff = v; break;
    case O_KERNELUS: r->kernelus = v; break;
    case O_LINKEFF: r->linkeff = v; break;
    case O_GROUPC: r->groupc = v; break;
    case O_NVLEFF: r->nvleff = v; break;
    case O_OVLEFF: r->ovleff = v; break;
    case O_DPOVLEFF: r->dpovleff = v; break;
    case O_HOSTADAM: r->hostadam = v; break;
    case O_NOBWDWS: r->nobwdws = 1; break;
    case O_TPOVL: r->tpovl = 1; break;
    case O_FRAMEWORK: r->framework = v; break;
    case O_GRADRED: r->gradred = v; break;
    case O_OVLGRAD: r->gradred = "backward"; break;
    case O_TPGO: r->tpgo = 1; break;
    case O_NOTPGO: r->tpgo = 0; break;
    case O_P2PB: r->p2pb = 1; break;
    case O_NOP2PB: r->p2pb = 0; break;
    case O_P2POVL: r->p2povl = 1; break;
    case O_NOP2POVL: r->p2povl = 0; break;
    case O_PGOVL: r->pgovl = 1; break;
    case O_NOPGOVL: r->pgovl = 0; break;
    case O_ATTNK: r->attnk = v; break;
    case O_GCEIL: r->gceil = v; break;
    case O_ADAMI: r->adami = v; break;
    case O_GSUM: r->gsum = v; break;
    case O_PPOUT: r->ppout = v; break;
    case O_SPIN: r->spin = v; break;
    case O_SGRAD: r->sgrad = v; break;
    case O_LPG: r->lpg = 1; break;
    case O_NOLPG: r->lpg = 0; break;
    case O_Z2RS: r->z2rs = 1; break;
    case O_NOZ2RS: r->z2rs = 0; break;
    case O_EAGER: r->eager = 1; break;
    case O_NOEAGER: r->eager = 0; break;
    case O_CEU: r->ceu = 1; break;
    case O_NOCEU: r->ceu = 0; break;
    case O_UNITS: r->units = v; break;
    case O_TOP: r->top = v; break;
    case O_JSON: r->json = 1; break;
    case O_DB: return zp_opt_db(v, &r->db, e);
    case O_NOSTORE: r->nostore = 1; break;
    case O_HELP: r->help = 1; break;
    case O_FROM: break;   /* expanded by expand_plan_file */
    case O_REPORT: r->report = 1; break;
    case O_NNODES: r->nnodes = v; break;
    case O_NPROC: r->nproc = v; break;
    case O_LPVS: r->lpvs = v; break;
    default: break;
    }
    return ZP_OK;
}

static zp_status parse_args(int argc, char **argv, raw *r, zp_err *e)
{
    int npos;
    memset(r, 0, sizeof *r);
    r->master = r->sp = r->flash = r->dropout = r->tpgo = r->p2pb = r->p2povl = r->pgovl = r->lpg = r->z2rs = r->eager = r->ceu =
        r->actoff = -1;
    return zp_opts_parse("plan", plan_opts, argc, argv, set_opt, r, NULL, 0, &npos, e);
}

/* ------------------------------------------------------------ plan files
 *
 * A plan file (plans/ *.plan) holds the plan command's long options as
 * "key = value" lines: `params = 11e9`, `tp = 8`, `ckpt = full`; switches
 * take yes or no (`sp = no` is --no-sp; `no-bwd-workspace = yes`, the one
 * switch without a positive form, is --no-bwd-workspace); `#` starts a
 * comment.  Its options come first, so the command line overrides them. */

typedef struct argvec {
    char **v;
    int n, cap;
    /* the plan file's options, for errors about their values: the file,
     * and each option's line and value as it came from there (the last
     * one of a name counts, as on the command line) */
    const char *file;
    struct { char opt[64]; char val[128]; int line; } from[96];
    int nfrom;
} argvec;

static zp_status push(argvec *a, const char *s, zp_err *e)
{
    if (a->n + 2 > a->cap) {
        int cap = a->cap ? 2 * a->cap : 32;
        char **nv = realloc(a->v, sizeof *nv * (size_t)cap);
        if (!nv)
            return zp_err_set(e, ZP_ENOMEM, "out of memory");
        a->v = nv;
        a->cap = cap;
    }
    if (!(a->v[a->n] = strdup(s)))
        return zp_err_set(e, ZP_ENOMEM, "out of memory");
    a->v[++a->n] = NULL;
    return ZP_OK;
}

static void argvec_free(argvec *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static zp_status plan_file_args(const char *path, int model_given, argvec *out, zp_err *e)
{
    char *text;
    zp_status st = zp_read_file(path, &text, e);
    if (st != ZP_OK) {
        e->code = ZP_EINVAL;
        return ZP_EINVAL;
    }
    int line = 0;
    for (char *ln = text, *next; ln; ln = next) {
        next = strchr(ln, '\n');
        if (next)
            *next++ = '\0';
        line++;
        char *hash = strchr(ln, '#');
        if (hash)
            *hash = '\0';
        char *l = trim(ln);
        if (!*l)
            continue;
        char *eq = strchr(l, '=');
        if (!eq) {
            st = zp_err_set(e, ZP_EINVAL, "%s:%d: expected 'key = value', got '%s'", path, line, l);
            break;
        }
        *eq = '\0';
        char *key = trim(l), *val = trim(eq + 1);
        char word[80];
        const char *inl;
        snprintf(word, sizeof word, "--%s", key);
        const zp_opt *o = strchr(key, '=') ? NULL : zp_opts_find(plan_opts, word, &inl);
        /* a switch goes by its positive name (sp = no); a "no-" option that
         * has none (no-bwd-workspace) by its own */
        const zp_opt *pos = NULL;
        if (strncmp(key, "no-", 3) == 0) {
            snprintf(word, sizeof word, "--%s", key + 3);
            pos = zp_opts_find(plan_opts, word, &inl);
        }
        if (pos && !(!o || o->id == O_FROM || o->id == O_HELP || o->id == O_JSON || o->id == O_NOSTORE ||
                     o->id == O_REPORT)) {
            /* the negative of a switch: said by its positive name */
            st = zp_err_set(e, ZP_EINVAL, "%s:%d: '%s' (allowed: a switch by its own name: %s = no)", path, line, key,
                            key + 3);
            break;
        }
        if (!o || o->id == O_FROM || o->id == O_HELP || o->id == O_JSON || o->id == O_NOSTORE ||
            o->id == O_REPORT || pos) {
            st = zp_err_set(e, ZP_EINVAL, "%s:%d: unknown key '%s' (allowed: the long options of zplan help plan, "
                            "without --)", path, line, key);
            break;
        }
        if (!*val) {
            st = zp_err_set(e, ZP_EINVAL, "%s:%d: '%s' needs a value", path, line, key);
            break;
        }
        /* the command line's model (--params, --model or --config, one of
         * three alternatives) replaces the file's, whichever it names */
        if (model_given && (o->id == O_PARAMS || o->id == O_MODEL || o->id == O_CONFIG))
            continue;
        char opt[80];
        if (!o->meta) {
            int yes = !strcmp(val, "yes") || !strcmp(val, "true") || !strcmp(val, "on");
            int no = !strcmp(val, "no") || !strcmp(val, "false") || !strcmp(val, "off");
            if (!yes && !no) {
                st = zp_err_set(e, ZP_EINVAL, "%s:%d: '%s = %s' (allowed: yes, true or on; no, false or off)", path,
                                line, key, val);
                break;
            }
            if (strncmp(key, "no-", 3) == 0) {   /* no-bwd-workspace = yes: the option; = no: nothing */
                snprintf(opt, sizeof opt, "--%s", key);
                if (yes && (st = push(out, opt, e)))
                    break;
                continue;
            }
            snprintf(opt, sizeof opt, "--%s%s", no ? "no-" : "", key);
            if ((st = push(out, opt, e)))
                break;
        } else {
            snprintf(opt, sizeof opt, "--%s", key);
            if ((st = push(out, opt, e)) || (st = push(out, val, e)))
                break;
            if (out->nfrom < (int)(sizeof out->from / sizeof out->from[0])) {
                snprintf(out->from[out->nfrom].opt, sizeof out->from[0].opt, "%s", o->name);
                snprintf(out->from[out->nfrom].val, sizeof out->from[0].val, "%s", val);
                out->from[out->nfrom++].line = line;
            }
        }
    }
    out->file = path;
    free(text);
    return st;
}

int zp_plan_file_gives(const char *path, const char *name)
{
    argvec a = {0};
    zp_err e = {0};
    char pos[80], neg[80];
    const char *inl;
    int found = 0;
    snprintf(pos, sizeof pos, "--%s", name);
    snprintf(neg, sizeof neg, "--no-%s", name);
    const zp_opt *op = zp_opts_find(plan_opts, pos, &inl), *on = zp_opts_find(plan_opts, neg, &inl);
    if (plan_file_args(path, 0, &a, &e) == ZP_OK)
        for (int i = 0; i < a.n && !found; i++) {
            const zp_opt *o = strncmp(a.v[i], "--", 2) ? NULL : zp_opts_find(plan_opts, a.v[i], &inl);
            found = o && (o == op || o == on);
        }
    argvec_free(&a);
    return found;
}

/* An error about an option's value that came from the plan file (its
 * message names "--NAME 'VALUE'" or "--NAME VALUE"), and not replaced on the
 * command line: said with the file and line, as the file's other errors
 * are. */
static void plan_file_where(const argvec *a, int argc, char **argv, zp_err *e)
{
    if (!a->file || !a->nfrom)
        return;
    for (int i = a->nfrom - 1; i >= 0; i--) {
        char q[256], b[256];
        snprintf(q, sizeof q, "--%s '%s'", a->from[i].opt, a->from[i].val);
        snprintf(b, sizeof b, "--%s %s", a->from[i].opt, a->from[i].val);
        if (strncmp(e->msg, q, strlen(q)) && strncmp(e->msg, b, strlen(b)))
            continue;
        /* the command line gives the option too: the value is its own */
        size_t n = strlen(a->from[i].opt);
        for (int k = 1; k < argc; k++)
            if (!strncmp(argv[k], "--", 2) && !strncmp(argv[k] + 2, a->from[i].opt, n) &&
                (argv[k][2 + n] == '\0' || argv[k][2 + n] == '='))
                return;
        char msg[sizeof e->msg + 1024];
        snprintf(msg, sizeof msg, "%.900s:%d: %s", a->file, a->from[i].line, e->msg);
        snprintf(e->msg, sizeof e->msg, "%.*s", (int)(sizeof e->msg - 1), msg);
        return;
    }
}

/* argv with any --from FILE replaced by the file's options, placed first. */
static zp_status expand_plan_file(int argc, char **argv, argvec *out, zp_err *e)
{
    const char *from = NULL;
    int model_given = 0;
    zp_status st = push(out, argv[0], e);
    for (int i = 1; i < argc && st == ZP_OK; i++) {
        static const char *const src[] = {"--params", "--model", "--config"};
        for (int k = 0; k < 3; k++) {
            size_t n = strlen(src[k]);
            if (!strncmp(argv[i], src[k], n) && (argv[i][n] == '\0' || argv[i][n] == '='))
                model_given = 1;
        }
        if (strcmp(argv[i], "--from") == 0 || strncmp(argv[i], "--from=", 7) == 0) {
            if (from)
                return zp_err_set(e, ZP_EINVAL, "--from may be given once");
            from = argv[i][6] == '=' ? argv[i] + 7 : (i + 1 < argc ? argv[++i] : NULL);
            if (!from || !*from)
                return zp_err_set(e, ZP_EINVAL, "--from needs a plan file (see plans/)");
        }
    }
    if (st == ZP_OK && from)
        st = plan_file_args(from, model_given, out, e);
    for (int i = 1; i < argc && st == ZP_OK; i++) {
        if (strcmp(argv[i], "--from") == 0) {
            i++;
            continue;
        }
        if (strncmp(argv[i], "--from=", 7) == 0)
            continue;
        st = push(out, argv[i], e);
    }
    return st;
}


/* torch's names of the storage types (--dtype bfloat16) as zplan's */
static const char *torch_dtype(const char *v)
{
    return !strcmp(v, "bfloat16") ? "bf16" : !strcmp(v, "float16") ? "fp16" : !strcmp(v, "float32") ? "fp32" : v;
}

/* A memory size: below a MiB it is a bare number meant in GiB or GB
 * (--gpu-mem 80 was read as 80 bytes, and nothing fit) */
static zp_status mem_size(const char *what, const char *s, uint64_t *out, zp_err *e)
{
    zp_status st = zp_parse_bytes(what, s, out, e);
    if (st == ZP_OK && *out < ((uint64_t)1 << 20)) {
        if (zp_size_unitless(s))
            return zp_err_set(e, ZP_EINVAL, "%s '%s' is %llu bytes, less than a MiB: give the unit (e.g. %sGiB or "
                              "%sGB)", what, s, (unsigned long long)*out, s, s);
        return zp_err_set(e, ZP_EINVAL, "%s '%s' is less than a MiB (allowed: at least 1MiB)", what, s);
    }
    return st;
}

/* One more note for stderr (what zplan changed, converted or found to
 * choose nothing), after those already said, "; " between them. */
static void note_add(zp_answer *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_add(zp_answer *a, const char *fmt, ...)
{
    size_t used = strlen(a->note);
    if (used && used + 2 < sizeof a->note)
        used += (size_t)snprintf(a->note + used, sizeof a->note - used, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->note + used, sizeof a->note - used, fmt, ap);
    va_end(ap);
}

static int opt_int(const char *what, const char *s, int64_t lo, int64_t hi, int64_t *out, zp_err *e)
{
    return s ? zp_parse_int(what, s, lo, hi, out, e) : ZP_OK;
}

/* A framework's defaults where they differ from zplan's (PyTorch DDP's),
 * each from the framework's own documentation or code (README
 * "Frameworks"):
 *   torch     DistributedDataParallel: 25 MiB buckets (bucket_cap_mb), each
 *             all-reduced as the backward fills it; torch.optim.AdamW as it
 *             runs unless fused=True is asked for, foreach (--adam-impl);
 *             pipelines as torch.distributed.pipelining runs them, each
 *             in-flight micro-batch's stage output kept for its backward
 *             in the stage's forward cache (--pp-outputs kept); tensor
 *             parallelism as DTensor runs it (ColwiseParallel's matmul
 *             saves the input the sequence-parallel all-gather made:
 *             --sp-inputs gathered).
 *   fsdp      FullyShardedDataParallel (1 and 2; torchtitan, llm-foundry):
 *             each unit's gradients reduce-scattered as its backward ends
 *             (no bucket), the next unit's gather prefetched; Adam fused
 *             (torchtitan's default since 6e49885, 2025-02; before it,
 *             foreach: --adam-impl foreach; llm-foundry's DecoupledAdamW
 *             loops over the parameters, one parameter's temporaries);
 *             torchtitan pipelines with torch.distributed.pipelining
 *             (--pp-outputs kept) and runs tensor parallelism with DTensor
 *             (--sp-inputs gathered, above); ZeRO-2 is SHARD_GRAD_OP,
 *             resharded after each backward that reduce-scatters
 *             (--zero2-reshard); activations offloaded, where asked,
 *             by PyTorch's torch.autograd.graph.save_on_cpu, whose copies
 *             run in the compute stream's order (--act-offload-mode sync;
 *             DDP's too).
 *   megatron  Megatron-LM: the gradients live in one contiguous buffer whose
 *             buckets are views of it (no memory of their own), reduced
 *             after the backward unless --overlap-grad-reduce (off by
 *             default), and with bf16 accumulated and reduced in fp32
 *             (main grads: accumulate_allreduce_grads_in_fp32 set for bf16);
 *             the column-parallel products' input-gradient all-reduce (or
 *             reduce-scatter) launched asynchronously behind their
 *             weight-gradient products (async_tensor_model_parallel_allreduce,
 *             on unless --no-async-tensor-model-parallel-allreduce); the
 *             interleaved schedule's transfers behind the other chunks
 *             (overlap_p2p_comm, on unless --no-overlap-p2p-communication);
 *             attention through Transformer Engine, which takes cuDNN's
 *             fused kernel on Hopper (--attn-kernel cudnn); a stage's
 *             output freed once sent (deallocate_pipeline_outputs, set by
 *             its training: --pp-outputs freed); activations offloaded,
 *             where asked, by Megatron-core's --cpu-offloading (Transformer
 *             Engine's CPU offload: each layer's on a copy stream, double
 *             buffered: --act-offload-mode async).
 *   deepspeed ZeRO: 5e8-element reduce buckets (reduce_bucket_size),
 *             overlap_comm off below stage 3 and on at stage 3 (its default),
 *             stage 3's buffers as its prefetch and live-parameter limits
 *             (--zero3-buffer deepspeed); its PipelineEngine's blocking,
 *             paired sends and receives at the start of every step of its
 *             TrainSchedule (deepspeed/runtime/pipe/schedule.py; --p2p-blocking);
 *             with bf16 and fp32 gradient accumulation its bf16 optimizer
 *             (runtime/bf16_optimizer.py), whose 16-bit gradients stay
 *             allocated beside the fp32 ones (--lp-grads); with tensor
 *             parallelism the engine partitions each stage output over the
 *             tensor-parallel group and keeps its slice until the backward
 *             (runtime/pipe/engine.py, _exec_forward_pass; --pp-outputs
 *             sliced); activation offload is its activation checkpointing's
 *             cpu_checkpointing: the checkpointed blocks' inputs copied to
 *             the host and back in stream order (--act-offload-mode
 *             checkpoints).
 *   torch     (the eager side of it) PyTorch eager with Hugging Face
 *             transformers' modules: memory as autograd saves it op by op,
 *             autocast for 16-bit dtypes, the loss's fp32 log-softmax
 *             (--eager; memory.c, zp_eager_layer_bytes). */
typedef struct framework {
    const char *name;
    int64_t bucket_elems;
    zp_grad_overlap grad;
    zp_z3buf z3buf;
    int fp32_grads_bf16;
    int tp_grad_overlap;
    int p2p_blocking;
    int lp_grads;
    int eager;
    int ce_unfused;
    int p2p_overlap;
    int attn_cudnn;
    int gemm_bench;
    int adam_foreach;
    zp_pp_out pp_out;
    int sp_gathered;     /* DTensor's tensor parallelism keeps the gathered inputs (--sp-inputs) */
    double dp_overlap;   /* the data-parallel group's overlap efficiency (0: --overlap-eff's) */
    int zero2_reshard;   /* ZeRO-2 is SHARD_GRAD_OP, resharded after each backward (--zero2-reshard) */
    zp_act_off act_off;  /* how it offloads activations (--act-offload-mode) */
} framework;
static const framework frameworks[] = {
    {"torch", 25 * 1024 * 1024 / 2, ZP_GOVL_ALL, ZP_Z3BUF_PREFETCH, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, ZP_PPOUT_KEPT, 1, 0, 0, ZP_AOFF_SYNC},
    {"fsdp", 0, ZP_GOVL_ALL, ZP_Z3BUF_PREFETCH, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ZP_PPOUT_KEPT, 1, 0.5, 1, ZP_AOFF_SYNC},
    {"megatron", 0, ZP_GOVL_NONE, ZP_Z3BUF_PREFETCH, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, ZP_PPOUT_FREED, 0, 0, 0, ZP_AOFF_ASYNC},
    {"deepspeed", 500000000, ZP_GOVL_ZERO3, ZP_Z3BUF_DEEPSPEED, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, ZP_PPOUT_SLICED, 0, 0, 0,
     ZP_AOFF_CKPT_SYNC},
};
static const char *const framework_names[] = {"torch", "fsdp", "megatron", "deepspeed", NULL};

static zp_status build_problem(const raw *r, zp_answer *a, zp_err *e)
{
    zp_problem *pb = &a->pb;
    zp_status st;
    int n_src = !!r->params + !!r->model + !!r->config;
    memset(a, 0, sizeof *a);
    if (n_src == 0)
        return zp_err_set(e, ZP_EINVAL, "say which model: --params N (e.g. 11e9), --model NAME (see zplan models) "
                          "or --config config.json");
    if (n_src > 1)
        return zp_err_set(e, ZP_EINVAL, "--params, --model and --config are alternatives: give exactly one");
    if (r->config && !*r->config)
        return zp_err_set(e, ZP_EINVAL, "--config needs a file (allowed: the path of a Hugging Face config.json)");
    double nparams = 0;
    if (r->params) {
        if ((st = zp_parse_count("--params", r->params, &nparams, e)) ||
            (st = zp_model_derive(nparams, 0, &pb->model, e)))
            return st;
        snprintf(a->source, sizeof a->source, "--params %s (derived GPT-3-family shape)", r->params);
    } else if (r->model) {
        if ((st = zp_model_preset(r->model, &pb->model, e)))
            return st;
        snprintf(a->source, sizeof a->source, "--model %s", pb->model.name);
    } else {
        if ((st = zp_model_from_file(r->config, &pb->model, e)))
            return st;
        snprintf(a->source, sizeof a->source, "--config %s", r->config);
    }

    /* cluster */
    zp_cluster *c = &pb->cluster;
    int64_t v;
    size_t gl = r->gpu ? strlen(r->gpu) : 0;
    if ((gl > 5 && strcmp(r->gpu + gl - 5, ".json") == 0) || (r->gpu && strchr(r->gpu, '/'))) {
        /* a GPU described in a file of the preset format (data/gpus/ NAME.json), named
         * by its .json ending or by a path with a directory in it */
        char *text = NULL;
        if ((st = zp_read_file(r->gpu, &text, e)))
            return zp_err_set(e, ZP_EINVAL, "--gpu %s: %s", r->gpu, e->msg);
        st = zp_gpu_from_json(text, r->gpu, &c->gpu, e);
        free(text);
        if (st)
            return ZP_EINVAL;
    } else if ((st = zp_gpu_preset(r->gpu ? r->gpu : "a100-80g", &c->gpu, e))) {
        /* not a preset: a profile measured by zplan calibrate, if the
         * database has one by that name */
        zp_err e2 = {0};
        zp_store *s;
        char *json = NULL;
        if (st != ZP_ENOTFOUND || !r->gpu)
            return st;
        size_t used = strlen(e->msg);
        snprintf(e->msg + used, sizeof e->msg - used, "; nor a profile of zplan calibrate in %s", zp_db_path(r->db));
        if (zp_store_open_existing(zp_db_path(r->db), &s, &e2))
            return st;
        zp_status ps = zp_store_profile(s, r->gpu, &json, &e2);
        zp_store_close(s);
        if (ps)
            return st;
        ps = zp_gpu_from_json(json, "the stored profile", &c->gpu, e);
        free(json);
        if (ps)
            return ps;
    }
    /* the GPU's own values overridden one by one, said in the Cluster line */
    a->gpu_over[0] = '\0';
    {
        double tf = 0, hb = 0, nv = 0;
        uint64_t mem = 0;
        if ((r->gpumem && (st = mem_size("--gpu-mem", r->gpumem, &mem, e))) ||
            (r->gputf && (st = zp_parse_double("--gpu-tflops", r->gputf, 1e-3, 1e6, &tf, e))) ||
            (r->hbmgbps && (st = zp_parse_double("--hbm-gbps", r->hbmgbps, 1e-3, 1e6, &hb, e))) ||
            (r->nvlgbps && (st = zp_parse_double("--nvlink-gbps", r->nvlgbps, 1e-3, 1e6, &nv, e))))
            return st;
        size_t u = 0;
#define OVER(...) u += (size_t)snprintf(a->gpu_over + u, u < sizeof a->gpu_over ? sizeof a->gpu_over - u : 0, __VA_ARGS__)
        if (r->gpumem) {
            c->gpu.mem_bytes = mem;
            char mb[32];
            OVER("%smemory %s", u ? ", " : "", zp_fmt_bytes(mb, sizeof mb, mem, ZP_UNITS_BINARY));
        }
        if (r->gputf) {
            /* the 16-bit peak of the dtypes the card has: no bf16 (and so
             * no FlashAttention below) on a card without it, none on one
             * with neither (a CPU profile) */
            if (c->gpu.peak_flops[ZP_DT_FP16] <= 0 && c->gpu.peak_flops[ZP_DT_BF16] <= 0)
                return zp_err_set(e, ZP_EINVAL, "--gpu-tflops %s: the %s has no 16-bit type whose peak it would set "
                                  "(allowed: a GPU with fp16 or bf16; its fp32 peak is its profile's or file's)",
                                  r->gputf, c->gpu.name);
            c->gpu.peak_flops[ZP_DT_FP16] = tf * 1e12;
            if (c->gpu.peak_flops[ZP_DT_BF16] > 0)
                c->gpu.peak_flops[ZP_DT_BF16] = tf * 1e12;
            OVER("%s16-bit dense peak %g TFLOP/s", u ? ", " : "", tf);
        }
        if (r->hbmgbps) {
            c->gpu.hbm_gbps = hb;
            OVER("%sHBM %g GB/s", u ? ", " : "", hb);
        }
        if (r->nvlgbps) {
            c->gpu.nvlink_gbps = nv;
            OVER("%sNVLink %g GB/s", u ? ", " : "", nv);
        }
#undef OVER
    }
    c->gpus = 8;
    if ((st = opt_int("--gpus", r->gpus, 1, 1 << 24, &c->gpus, e)))
        return st;
    c->gpus_per_node = c->gpu.gpus_per_node < c->gpus ? c->gpu.gpus_per_node : c->gpus;
    if ((st = opt_int("--gpus-per-node", r->gpn, 1, 1024, &c->gpus_per_node, e)))
        return st;
    /* torchrun's shape of the cluster: --nnodes N --nproc-per-node M is
     * --gpus N x M --gpus-per-node M */
    if (r->nnodes || r->nproc) {
        int64_t nn = 1, np = c->gpu.gpus_per_node;
        if (r->gpus || r->gpn)
            return zp_err_set(e, ZP_EINVAL, "--nnodes/--nproc-per-node and --gpus/--gpus-per-node say the same "
                              "thing: give one pair");
        if ((st = opt_int("--nnodes", r->nnodes, 1, 1 << 20, &nn, e)) ||
            (st = opt_int("--nproc-per-node", r->nproc, 1, 1024, &np, e)))
            return st;
        c->gpus = nn * np;
        c->gpus_per_node = np;
    }
    if (c->gpus > c->gpus_per_node && c->gpus % c->gpus_per_node)
        return zp_err_set(e, ZP_EINVAL, "--gpus %lld is not a whole number of nodes of %lld GPUs "
                          "(allowed: a multiple of --gpus-per-node)", (long long)c->gpus,
                          (long long)c->gpus_per_node);
    c->inter_node_gbps = c->gpu.nic_gbps;
    if (r->inter && (st = zp_parse_bandwidth("--inter-node-gbps", r->inter, &c->inter_node_gbps, e)))
        return st;
    c->host_mem_bytes = c->gpu.host_mem_bytes;
    if (r->hostmem && (st = mem_size("--host-mem", r->hostmem, &c->host_mem_bytes, e)))
        return st;

    /* training */
    zp_train *t = &pb->train;
    int dt = ZP_DT_BF16, gdt, opt = ZP_OPT_ADAM;
    t->seq = pb->model.pos == ZP_POS_LEARNED && pb->model.max_pos > 0 && pb->model.max_pos < 2048
                 ? pb->model.max_pos : 2048;
    if ((st = opt_int("--seq", r->seq, 1, 1 << 20, &t->seq, e)))
        return st;
    /* a derived shape's position table fits the sequence, and counts in N */
    if (r->params && t->seq != pb->model.max_pos && (st = zp_model_derive(nparams, t->seq, &pb->model, e)))
        return st;
    else if (pb->model.pos == ZP_POS_LEARNED && pb->model.max_pos > 0 && t->seq > pb->model.max_pos)
        return zp_err_set(e, ZP_EINVAL, "--seq %lld exceeds %s's %lld learned positions (allowed: up to %lld)",
                          (long long)t->seq, pb->model.name, (long long)pb->model.max_pos,
                          (long long)pb->model.max_pos);
    /* by default 2^21 tokens a step (1024 sequences of 2048, GPT-3's
     * batch at its smaller sizes), whatever the sequence: 1024 sequences
     * of 131072 tokens were 134M tokens a step */
    int64_t seqs = ((int64_t)1 << 21) / t->seq;
    t->global_batch = zp_ceil_div(seqs > 1 ? seqs : 1, c->gpus) * c->gpus;
    if ((st = opt_int("--global-batch", r->gbatch, 1, (int64_t)1 << 24, &t->global_batch, e)))
        return st;
    if (r->dtype && (st = zp_parse_enum("--dtype", torch_dtype(r->dtype), zp_dtype_names, &dt, e)))
        return st;
    gdt = dt;
    if (r->gdtype && (st = zp_parse_enum("--grad-dtype", torch_dtype(r->gdtype), zp_dtype_names, &gdt, e)))
        return st;
    /* AdamW keeps Adam's state and does its pass: the same plan */
    if (r->optim && (st = zp_parse_enum("--optimizer", !strcmp(r->optim, "adamw") ? "adam" : r->optim, zp_optim_names,
                                        &opt, e)))
        return st;
    /* a GPU older than Ampere (V100, Turing, Pascal: no bf16) has no
     * FlashAttention either (it needs sm_80): the defaults become fp16 and
     * attention that stores its scores, and the user is told */
    int pre_ampere = c->gpu.peak_flops[ZP_DT_BF16] <= 0;
    /* fp16 where its tensor cores are (V100, Turing); not on a card whose
     * fp16 runs slower than fp32 (Pascal's GP10x: 1/64 rate) */
    if (!r->dtype && pre_ampere)   /* (a measured CPU profile has neither 16-bit type: fp32) */
        dt = c->gpu.peak_flops[ZP_DT_FP16] > 0 && c->gpu.peak_flops[ZP_DT_FP16] >= c->gpu.peak_flops[ZP_DT_FP32]
                 ? ZP_DT_FP16 : ZP_DT_FP32;
    int fw = -1;
    if (r->framework && (st = zp_parse_enum("--framework", r->framework, framework_names, &fw, e)))
        return st;
    if (!r->gdtype)   /* Megatron's fp32 main gradients with bf16 */
        gdt = fw >= 0 && frameworks[fw].fp32_grads_bf16 && dt == ZP_DT_BF16 ? ZP_DT_FP32 : dt;
    t->dtype = (zp_dtype)dt;
    t->grad_dtype = (zp_dtype)gdt;
    t->optim = (zp_optim)opt;
    t->master = r->master >= 0 ? r->master : 1;
    t->flash = r->flash >= 0 ? r->flash : !pre_ampere;
    /* say only what was chosen for the user: the dtype, FlashAttention, or both */
    if (pre_ampere && (!r->dtype || r->flash < 0)) {
        const char *lacks = c->gpu.peak_flops[ZP_DT_FP16] <= 0 ? "neither bf16 nor fp16"   /* a CPU profile */
                            : r->flash < 0 ? "no bf16 and no FlashAttention (both need Ampere or newer)"
                                           : "no bf16 (bf16 needs Ampere or newer)";
        snprintf(a->note, sizeof a->note, "the %s has %s: planning with %s%s (%s to choose)", c->gpu.name, lacks,
                 !r->dtype ? zp_dtype_names[dt] : zp_dtype_names[t->dtype],
                 r->flash < 0 ? " and attention that stores its scores" : "",
                 !r->dtype && r->flash < 0 ? "--dtype, --flash-attn" : !r->dtype ? "--dtype" : "--flash-attn");
    }
    t->dropout = r->dropout >= 0 ? r->dropout : 0;
    if (c->gpu.peak_flops[t->dtype] <= 0)
        return zp_err_set(e, ZP_EINVAL, "--dtype %s: the %s has no %s support (see zplan gpus)",
                          zp_dtype_names[t->dtype], c->gpu.name, zp_dtype_names[t->dtype]);
    t->fp8 = r->fp8;
    if (t->fp8 && c->gpu.peak_fp8 <= 0)
        return zp_err_set(e, ZP_EINVAL, "--fp8: the %s has no FP8 tensor cores (Hopper, Ada and newer have: "
                          "h100-sxm, h200, b200, l40s, rtx4090)", c->gpu.name);

    /* conventions */
    zp_conv *cv = &pb->conv;
    int z3 = 0, un = 0;
    zp_conv_defaults(cv, &c->gpu);
    if (fw >= 0) {
        snprintf(cv->framework, sizeof cv->framework, "%s", frameworks[fw].name);
        cv->bucket_elems = frameworks[fw].bucket_elems;
        cv->grad_overlap = frameworks[fw].grad;
        cv->tp_grad_overlap = frameworks[fw].tp_grad_overlap;
        cv->p2p_blocking = frameworks[fw].p2p_blocking;
        cv->lp_grads = frameworks[fw].lp_grads;
        cv->zero2_reshard = frameworks[fw].zero2_reshard;
        cv->eager = frameworks[fw].eager;
        cv->ce_unfused = frameworks[fw].ce_unfused;
        cv->p2p_overlap = frameworks[fw].p2p_overlap;
        cv->adam_foreach = frameworks[fw].adam_foreach;
        cv->pp_out = frameworks[fw].pp_out;
        cv->act_offload = frameworks[fw].act_off;
        t->sp_gathered = frameworks[fw].sp_gathered;
        z3 = (int)frameworks[fw].z3buf;
    }
    /* every framework zplan models runs on PyTorch, as --eager does: its
     * allocator holds cuBLAS workspaces by the GPU's compute capability
     * (--blas-workspace overrides) */
    if (fw >= 0 || r->eager == 1)
        cv->torch_blas_ws_bytes = zp_torch_blas_ws(c->gpu.compute_cap);
    if (r->gsum && (st = zp_parse_enum("--grad-sum", r->gsum, zp_grad_sum_names, &cv->grad_sum_copy, e)))
        return st;
    if (r->adami && (st = zp_parse_enum("--adam-impl", r->adami, zp_adam_impl_names, &cv->adam_foreach, e)))
        return st;
    if (r->ppout && (st = zp_parse_enum("--pp-outputs", r->ppout, zp_pp_out_names, &cv->pp_out, e)))
        return st;
    if (r->actoffmode &&
        (st = zp_parse_enum("--act-offload-mode", r->actoffmode, zp_act_off_names, &cv->act_offload, e)))
        return st;
    if (r->spin && (st = zp_parse_enum("--sp-inputs", r->spin, zp_sp_in_names, &t->sp_gathered, e)))
        return st;
    if (r->sgrad && (st = zp_parse_enum("--score-grads", r->sgrad, zp_score_grads_names, &cv->score_grads, e)))
        return st;
    /* the attention kernel's rate: the preset's fitted one
     * (attention_efficiency), FlashAttention-2's or cuDNN's (where the
     * preset gives them), before --attn-eff */
    int ak = fw >= 0 && frameworks[fw].attn_cudnn ? 2 : 0;
    if (r->attnk && (st = zp_parse_enum("--attn-kernel", r->attnk, zp_attn_kernel_names, &ak, e)))
        return st;
    /* recorded as the kernel whose rate applies: a preset without the
     * kernel's own keeps its fitted rate, and says so ("preset") */
    double krate = ak == 1 ? c->gpu.attn_eff_fa2 : ak == 2 ? c->gpu.attn_eff_cudnn : 0.0;
    cv->attn_kernel = krate > 0 ? ak : 0;
    if (krate > 0)
        cv->attn_eff = krate;
    /* the matmul ceiling: the preset's (on Hopper the one sustained in
     * training, fitted to published runs) or a short benchmark's; the FP8 ceiling and the derived
     * kernels' attention rates (each a benchmark's times the sustained
     * share) move in the same ratio; the fitted attention rate does not */
    int gc = fw >= 0 ? frameworks[fw].gemm_bench : 0;
    if (r->gceil && (st = zp_parse_enum("--gemm-ceiling", r->gceil, zp_gemm_ceiling_names, &gc, e)))
        return st;
    if (r->gceil && (r->gemmmax || r->gemmeff))
        return zp_err_set(e, ZP_EINVAL, "--gemm-ceiling with %s: both set the matmul ceiling (allowed: one of them)",
                          r->gemmmax ? "--gemm-max-eff" : "--gemm-eff");
    /* a ceiling or a constant efficiency given is the user's, unscaled;
     * so is a profile's constant */
    cv->gemm_bench = gc && !r->gemmmax && !r->gemmeff && cv->gemm_eff <= 0 && c->gpu.gemm_eff_max_bench > 0 &&
                     c->gpu.gemm_eff_max > 0;
    if (cv->gemm_bench) {
        double k = c->gpu.gemm_eff_max_bench / c->gpu.gemm_eff_max;
        cv->gemm.eff_max = c->gpu.gemm_eff_max_bench;
        cv->gemm_eff_max_fp8 = fmin(1.0, cv->gemm_eff_max_fp8 * k);
        if (cv->attn_kernel)
            cv->attn_eff = fmin(1.0, cv->attn_eff * k);
    }
    if (r->z3buf && (st = zp_parse_enum("--zero3-buffer", r->z3buf, z3buf_names, &z3, e)))
        return st;
    cv->zero3_buffer = (zp_z3buf)z3;
    int go = (int)cv->grad_overlap;
    if (r->gradred && (st = zp_parse_enum("--grad-reduce", r->gradred, zp_grad_overlap_names, &go, e)))
        return st;
    cv->grad_overlap = (zp_grad_overlap)go;
    if (r->z3re && (st = zp_parse_enum("--zero3-regather", r->z3re, z3re_names, &cv->zero3_regather_all, e)))
        return st;
    if ((st = opt_int("--bucket-elems", r->bucket, 0, (int64_t)1 << 40, &cv->bucket_elems, e)))
        return st;
    if ((r->cudactx && (st = zp_parse_bytes0("--cuda-ctx", r->cudactx, &cv->cuda_ctx_bytes, e))) ||
        (r->ncclmem && (st = zp_parse_bytes0("--nccl-mem", r->ncclmem, &cv->nccl_comm_bytes, e))) ||
        (r->blasws && (st = zp_parse_bytes0("--blas-workspace", r->blasws, &cv->torch_blas_ws_bytes, e))))
        return st;
    if ((r->frag && (st = zp_parse_double("--frag", r->frag, 0, 1, &cv->frag, e))) ||
        (r->gemmeff && (st = zp_parse_double("--gemm-eff", r->gemmeff, 1e-3, 1, &cv->gemm_eff, e))) ||
        (r->gemmmax && (st = zp_parse_double("--gemm-max-eff", r->gemmmax, 1e-3, 1, &cv->gemm.eff_max, e))) ||
        (r->attneff && (st = zp_parse_double("--attn-eff", r->attneff, 1e-3, 1, &cv->attn_eff, e))) ||
        (r->hbmeff && (st = zp_parse_double("--hbm-eff", r->hbmeff, 1e-3, 1, &cv->hbm_eff, e))) ||
        (r->eghbmeff && (st = zp_parse_double("--eager-hbm-eff", r->eghbmeff, 1e-3, 1, &cv->eager_hbm_eff, e))) ||
        (r->kernelus && (st = zp_parse_double("--kernel-us", r->kernelus, 0, 1e6, &cv->kernel_s, e))) ||
        (r->linkeff && (st = zp_parse_double("--link-eff", r->linkeff, 1e-3, 1, &cv->link_eff, e))) ||
        (r->groupc && (st = zp_parse_double("--group-eff-c", r->groupc, 0, 1.9, &cv->group_c, e))) ||
        (r->nvleff && (st = zp_parse_double("--nvlink-eff", r->nvleff, 1e-3, 1, &cv->nvlink_eff, e))) ||
        (r->ovleff && (st = zp_parse_double("--overlap-eff", r->ovleff, 0, 1, &cv->overlap_eff, e))) ||
        (r->dpovleff && (st = zp_parse_double("--dp-overlap-eff", r->dpovleff, 0, 1, &cv->dp_overlap_eff, e))) ||
        (r->hostadam && (st = zp_parse_double("--host-adam-rate", r->hostadam, 1e3, 1e15, &cv->cpu_adam_params_per_s, e))))
        return st;
    if (r->frag)   /* one fraction, with rebuilt blocks too */
        cv->frag_rebuilt = cv->frag;
    if (r->linkeff && !r->nvleff)   /* the user's link efficiency is NVLink's too, over the preset's */
        cv->nvlink_eff = 0.0;
    if (r->kernelus)
        cv->kernel_s *= 1e-6;
    /* the data-parallel group's overlap: given, or the framework's unless
     * --overlap-eff was given (then it applies to every collective) */
    if (r->dpovleff)
        cv->dp_overlap_set = 1;
    else if (!r->ovleff && fw >= 0 && frameworks[fw].dp_overlap > 0) {
        cv->dp_overlap_set = 1;
        cv->dp_overlap_eff = frameworks[fw].dp_overlap;
    }
    if (r->tpovl)
        cv->tp_overlap = 1;
    if (r->tpgo >= 0)
        cv->tp_grad_overlap = r->tpgo;
    if (r->p2pb >= 0)
        cv->p2p_blocking = r->p2pb;
    if (r->p2povl >= 0)
        cv->p2p_overlap = r->p2povl;
    if (r->pgovl >= 0)
        cv->param_gather_overlap = r->pgovl;
    /* Megatron refuses --overlap-param-gather unless its gradients are
     * reduced behind the backward (--overlap-grad-reduce) */
    if (cv->param_gather_overlap && cv->grad_overlap != ZP_GOVL_ALL)
        return zp_err_set(e, ZP_EINVAL, "--param-gather-overlap with the gradients reduced after the backward "
                          "(--grad-reduce %s%s%s): the all-gather's overlap needs them reduced behind it, as Megatron "
                          "requires (allowed: add --grad-reduce backward, Megatron's --overlap-grad-reduce)",
                          zp_grad_overlap_names[cv->grad_overlap], r->gradred ? "" : " by --framework ",
                          r->gradred ? "" : cv->framework);
    if (r->lpg >= 0)
        cv->lp_grads = r->lpg;
    if (r->z2rs >= 0)
        cv->zero2_reshard = r->z2rs;
    if (r->eager >= 0)
        cv->eager = r->eager;
    /* PyTorch eager trains a transformers model with the dropout its
     * config sets (model.train()): on where the --config drops attention
     * probabilities, unless --dropout / --no-dropout says */
    if (r->dropout < 0 && cv->eager && pb->model.dropout) {
        t->dropout = 1;
        note_add(a, "the model's config drops attention probabilities in training (attn_pdrop or "
                 "attention_dropout above 0), as a transformers model in train() does: planned with dropout masks (--no-dropout "
                 "to plan without)");
    }
    /* PyTorch's SDPA in fp32 with grouped KV heads: the flash and cuDNN
     * kernels take 16-bit inputs only and the memory-efficient one no
     * grouped heads (sdp_utils' dense check), so SDPA runs its math path,
     * which saves the probabilities as eager attention does */
    if (cv->eager && t->flash && t->dtype == ZP_DT_FP32 && pb->model.kv_heads < pb->model.heads) {
        t->flash = 0;
        note_add(a, "PyTorch's SDPA in fp32 with %lld KV heads for %lld query "
                 "heads runs its math attention (its fused kernels take 16-bit inputs or no grouped heads): planned "
                 "as attention that stores its scores", (long long)pb->model.kv_heads,
                 (long long)pb->model.heads);
    }
    /* async TP hides the sequence-parallel gathers and reduce-scatters;
     * without sequence parallelism there are none to hide */
    if (cv->tp_overlap && r->sp == 0)
        note_add(a, "--tp-overlap hides the tensor-parallel all-gathers and reduce-scatters of sequence parallelism, "
                 "which --no-sp leaves out: it changes nothing here (the all-reduces stay exposed)");
    /* a GPU file without the efficiency curve: one constant for every
     * product, which a preset's curve (fitted or measured) would not give */
    if (!r->gemmeff && cv->gemm_eff > 0 && c->gpu.gemm_eff <= 0 && (c->gpu.sms <= 0 || c->gpu.gemm_eff_max <= 0)) {
        note_add(a, "the %s gives no efficiency curve (sms and "
                 "gemm_max_efficiency, as the presets have): every product at a flat %.2g of its peak, which "
                 "overrates the fast GPUs (--gemm-eff to choose, or the curve's fields from a preset)",
                 c->gpu.name, cv->gemm_eff);
    }
    /* a network faster per GPU than any network card is most likely a
     * node's (a DGX H100's 3.2 Tb/s is 8 x 400 Gb/s): said, not refused */
    if (r->inter && c->inter_node_gbps > ZP_NIC_MAX_GBPS) {
        note_add(a, "--inter-node-gbps %s is %.4g GB/s a GPU, more than a "
                 "network card moves (800 Gb/s, %g GB/s): it is per GPU (a node's network divided by its %lld GPUs)",
                 r->inter, c->inter_node_gbps, (double)ZP_NIC_MAX_GBPS, (long long)c->gpus_per_node);
    }
    if (r->ceu >= 0)
        cv->ce_unfused = r->ceu;
    if (r->nobwdws)
        cv->bwd_workspace = 0;
    if (r->units && (st = zp_parse_enum("--units", r->units, units_names, &un, e)))
        return st;
    a->units = (zp_units)un;

    /* pins */
    zp_pins *p = &pb->pins;
    zp_pins_none(p);
    int64_t z = -1;
    if ((st = opt_int("--dp", r->dp, 1, c->gpus, &p->dp, e)) || (st = opt_int("--tp", r->tp, 1, c->gpus, &p->tp, e)) ||
        (st = opt_int("--pp", r->pp, 1, c->gpus, &p->pp, e)) || (st = opt_int("--vp", r->vp, 1, 1024, &p->vp, e)) ||
        (st = opt_int("--cp", r->cp, 1, c->gpus, &p->cp, e)) ||
        (st = opt_int("--micro-batch", r->mbatch, 1, t->global_batch, &p->micro_batch, e)) ||
        (st = opt_int("--zero", r->zero, 0, 3, &z, e)))
        return st;
    p->zero = (int)z;
    /* async TP and Transformer Engine's userbuffers run inside a node
     * only (comm.c) */
    if (cv->tp_overlap && p->tp > c->gpus_per_node)
        note_add(a, "--tp-overlap runs inside a node (async TP's symmetric memory, Transformer Engine's "
                 "userbuffers, mapped over its NVLink); --tp %lld spans nodes, so its collectives stay exposed",
                 (long long)p->tp);
    /* Megatron's layers per virtual stage as zplan's virtual stages per
     * pipeline rank: L / (pp x N), which needs the pipeline's size */
    if (r->lpvs) {
        int64_t per = 0, L = pb->model.layers;
        if (r->vp)
            return zp_err_set(e, ZP_EINVAL, "--num-layers-per-virtual-pipeline-stage and --vp say the same thing "
                              "two ways: give one");
        if ((st = opt_int("--num-layers-per-virtual-pipeline-stage", r->lpvs, 1, 1 << 20, &per, e)))
            return st;
        if (p->pp < 1)
            return zp_err_set(e, ZP_EINVAL, "--num-layers-per-virtual-pipeline-stage %lld needs --pp (zplan's --vp "
                              "counts virtual stages per pipeline rank: layers / (pp x layers per virtual stage))",
                              (long long)per);
        if (L % (p->pp * per))
            return zp_err_set(e, ZP_EINVAL, "--num-layers-per-virtual-pipeline-stage %lld: %lld layers on %lld "
                              "pipeline stages do not split into virtual stages of %lld layers", (long long)per,
                              (long long)L, (long long)p->pp, (long long)per);
        p->vp = L / (p->pp * per);
        note_add(a, "--num-layers-per-virtual-pipeline-stage %lld with %lld "
                 "layers on %lld stages is --vp %lld (zplan counts virtual stages per pipeline rank)", (long long)per,
                 (long long)L, (long long)p->pp, (long long)p->vp);
    }
    if (cv->p2p_blocking && p->vp > 1)
        return zp_err_set(e, ZP_EINVAL, "--vp %lld with blocking pipeline transfers (--p2p-blocking, %s): DeepSpeed's "
                          "pipeline engine has no interleaved schedule (allowed: --vp 1, or --no-p2p-blocking)",
                          (long long)p->vp, cv->framework[0] ? "on with --framework deepspeed" : "given");
    /* DeepSpeed's offload_optimizer device "cpu": the optimizer states */
    if (r->offload && (st = zp_parse_enum("--offload", strcmp(r->offload, "cpu") == 0 ? "optimizer" : r->offload,
                                          zp_offload_names, &p->offload, e)))
        return st;
    if (r->ckpt && (st = zp_parse_enum("--ckpt", r->ckpt, zp_ckpt_names, &p->ckpt, e)))
        return st;
    if (r->rcmods && (r->ckptevery || r->ckptlayers || r->rcmethod))
        return zp_err_set(e, ZP_EINVAL, "--recompute-modules with %s: the modules are selective recompute's, the "
                          "blocks full recompute's (allowed: one of them)",
                          r->ckptevery ? "--ckpt-every" : r->ckptlayers ? "--ckpt-layers" : "--recompute-method");
    if (r->rcmods) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", r->rcmods);
        int mods = 0;
        for (char *save = NULL, *w = strtok_r(buf, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
            int i = 0;
            if ((st = zp_parse_enum("--recompute-modules", w, zp_rc_module_names, &i, e)))
                return st;
            mods |= 1 << i;
        }
        if (!mods)
            return zp_err_set(e, ZP_EINVAL, "--recompute-modules '%s' names no module (allowed: core_attn, mlp, "
                              "layernorm, comma-separated)", r->rcmods);
        if (p->ckpt >= 0 && p->ckpt != ZP_CKPT_SELECTIVE)
            return zp_err_set(e, ZP_EINVAL, "--recompute-modules %s with --ckpt %s: the modules are what selective "
                              "recompute rebuilds (allowed: --ckpt selective, or no --ckpt)", r->rcmods,
                              zp_ckpt_names[p->ckpt]);
        t->rc_modules = mods;
        p->ckpt = ZP_CKPT_SELECTIVE;
    }
    /* Megatron's recompute method: block N is --ckpt-layers N; uniform
     * checkpoints groups of N blocks, of which zplan models N = 1 (full) */
    const char *ckptlayers = r->ckptlayers;
    if (r->rcmethod || r->rcnum) {
        int64_t n = 1;
        if (!r->rcmethod)
            return zp_err_set(e, ZP_EINVAL, "--recompute-num-layers %s needs --recompute-method block|uniform (as "
                              "Megatron-LM)", r->rcnum);
        if (strcmp(r->rcmethod, "block") && strcmp(r->rcmethod, "uniform"))
            return zp_err_set(e, ZP_EINVAL, "--recompute-method '%s' is not a method (allowed: block, uniform)",
                              r->rcmethod);
        if (r->rcnum && (st = opt_int("--recompute-num-layers", r->rcnum, 1, 100000, &n, e)))
            return st;
        if (!strcmp(r->rcmethod, "uniform") && n > 1)
            return zp_err_set(e, ZP_EINVAL, "--recompute-method uniform --recompute-num-layers %lld: groups of %lld "
                              "blocks under one checkpoint are not modelled (allowed: uniform with 1, which is "
                              "--ckpt full, or block N, the first N blocks of each stage)", (long long)n, (long long)n);
        if (ckptlayers || r->ckptevery)
            return zp_err_set(e, ZP_EINVAL, "--recompute-method with %s: one way to choose the rebuilt blocks "
                              "(allowed: either)", ckptlayers ? "--ckpt-layers" : "--ckpt-every");
        if (p->ckpt >= 0 && p->ckpt != ZP_CKPT_FULL)
            return zp_err_set(e, ZP_EINVAL, "--recompute-method with --ckpt %s: the methods choose the blocks full "
                              "recompute rebuilds (allowed: --ckpt full, or no --ckpt)", zp_ckpt_names[p->ckpt]);
        p->ckpt = ZP_CKPT_FULL;
        if (!strcmp(r->rcmethod, "block"))
            ckptlayers = r->rcnum ? r->rcnum : "1";
    }
    if (ckptlayers) {
        if ((st = opt_int("--ckpt-layers", ckptlayers, 1, 100000, &t->ckpt_block, e)))
            return st;
        if (r->ckptevery)
            return zp_err_set(e, ZP_EINVAL, "--ckpt-layers %s with --ckpt-every %s: one way to choose the rebuilt "
                              "blocks (allowed: either)", ckptlayers, r->ckptevery);
        if (p->ckpt >= 0 && p->ckpt != ZP_CKPT_FULL)
            return zp_err_set(e, ZP_EINVAL, "--ckpt-layers %s with --ckpt %s: the first N blocks are rebuilt by full "
                              "recompute (allowed: --ckpt full, or no --ckpt)", ckptlayers, zp_ckpt_names[p->ckpt]);
        p->ckpt = ZP_CKPT_FULL;
    }
    if (r->ckptevery) {
        if ((st = opt_int("--ckpt-every", r->ckptevery, 1, 100000, &t->ckpt_every, e)))
            return st;
        if (p->ckpt >= 0 && p->ckpt != ZP_CKPT_FULL)
            return zp_err_set(e, ZP_EINVAL, "--ckpt-every %s with --ckpt %s: every k-th block is rebuilt by full "
                              "recompute (allowed: --ckpt full, or no --ckpt)", r->ckptevery, zp_ckpt_names[p->ckpt]);
        p->ckpt = ZP_CKPT_FULL;
    }
    /* choices that choose nothing on this model: said, as Megatron would
     * just run them */
    if (t->ckpt_block >= pb->model.layers || t->ckpt_every > pb->model.layers) {
        note_add(a, "%s %lld with %lld blocks: %s",
                 t->ckpt_block ? "--ckpt-layers" : "--ckpt-every",
                 (long long)(t->ckpt_block ? t->ckpt_block : t->ckpt_every), (long long)pb->model.layers,
                 t->ckpt_block ? "every block of a stage is rebuilt, as --ckpt full" :
                                 "no stage has a k-th block, so none is rebuilt, as --ckpt none");
    }
    if (r->sp == 1 && p->tp == 1) {
        note_add(a, "--sp with --tp 1: sequence parallelism splits what tensor "
                 "parallelism leaves whole, and one rank splits nothing");
    }
    p->sp = r->sp;
    p->act_offload = r->actoff;
    a->act_offload_asked = r->actoff;
    /* every searched dimension pinned or left a single choice: vp is 1
     * without a pipeline, cp 1 when dp x tp x pp already uses every GPU
     * (or, dp following from the others, below the ZP_CP_SEARCH_MIN_SEQ
     * tokens the search starts cp at) */
    int vp_one = p->vp > 0 || p->pp == 1;
    a->pinned_all = p->dp > 0 && p->tp > 0 && p->pp > 0 && vp_one && p->micro_batch > 0 && p->zero >= 0 &&
                    p->offload >= 0 && p->ckpt >= 0 && (p->cp > 0 || p->dp * p->tp * p->pp == c->gpus);
    if (p->dp < 0 && p->tp > 0 && p->pp > 0 && vp_one && p->micro_batch > 0 && p->zero >= 0 && p->offload >= 0 &&
        p->ckpt >= 0 && (p->cp > 0 || t->seq < ZP_CP_SEARCH_MIN_SEQ) && c->gpus % (p->tp * p->pp * (p->cp > 0 ? p->cp : 1)) == 0)
        a->pinned_all = 1;   /* dp follows from the others */
    /* a layout pinned whole is the one asked about: its activations stay
     * on the device unless --act-offload says otherwise (what offloading
     * them would do is said beside it, plan.c's hints) */
    if (a->pinned_all && p->act_offload < 0)
        p->act_offload = 0;

    a->top_n = 10;
    if ((st = opt_int("--top", r->top, 1, 1000, &v, e)) != ZP_OK)
        return st;
    if (r->top)
        a->top_n = (int)v;
    if ((st = zp_problem_range_check(pb, e)))
        return st;
    /* a pinned sharding or offload the framework does not have: refused
     * before the search, with what it lacks (the search's rule) */
    const char *lacks = zp_framework_lacks(cv->framework, p->zero, p->offload, p->pp);
    if (lacks) {
        char pinned[80];
        snprintf(pinned, sizeof pinned, "--zero %d%s%s", p->zero, p->offload >= 0 ? " --offload " : "",
                 p->offload >= 0 ? zp_offload_names[p->offload] : "");
        if (p->zero < 0)   /* the offload alone */
            snprintf(pinned, sizeof pinned, "--offload %s", zp_offload_names[p->offload]);
        if (p->pp > 1)
            snprintf(pinned + strlen(pinned), sizeof pinned - strlen(pinned), " --pp %lld", (long long)p->pp);
        return zp_err_set(e, ZP_EINVAL, "%s with --framework %s: %s", pinned, cv->framework, lacks);
    }
    return zp_pins_check(pb, e);
}

/* Best fitting plan for a problem with extra pins (the classic
 * strategies, the suggestions): the fastest that fits, else the closest. */
static int best_with(const zp_problem *base, const zp_pins *pins, int64_t gpus, zp_plan *out, int *fits)
{
    zp_problem pb = *base;
    zp_plan top[1];
    zp_search_result sr;
    zp_err e;
    pb.pins = *pins;
    if (gpus > 0) {
        pb.cluster.gpus = gpus;
        if (pb.cluster.gpus_per_node > gpus)
            pb.cluster.gpus_per_node = gpus;
    }
    if (zp_search(&pb, top, 1, &sr, &e) != ZP_OK)
        return 0;
    if (sr.ntop > 0) {
        *out = top[0];
        *fits = 1;
        return 1;
    }
    if (sr.have_closest) {
        *out = sr.closest;
        *fits = 0;
        return 1;
    }
    return 0;
}

/* Why a classic strategy has no valid layout: the first rule its one
 * factorisation breaks, with what would lift it (the nearest global
 * batches that its dp divides). */
static void classic_why(const zp_problem *pb, const zp_pins *p, char *why, size_t n)
{
    int64_t G = pb->cluster.gpus, GB = pb->train.global_batch, dp = G / (p->tp * p->pp);
    if (GB % dp) {
        int64_t lo = GB / dp * dp, hi = lo + dp;
        if (lo > 0)
            snprintf(why, n, "dp %lld does not divide the global batch %lld (nearest that it divides: %lld, %lld)",
                     (long long)dp, (long long)GB, (long long)lo, (long long)hi);
        else
            snprintf(why, n, "dp %lld does not divide the global batch %lld (nearest that it divides: %lld)",
                     (long long)dp, (long long)GB, (long long)hi);
    } else if (!zp_tp_fits_nodes(p->tp, pb->cluster.gpus_per_node))
        snprintf(why, n, "tp %lld neither divides the %lld GPUs of a node nor spans whole nodes", (long long)p->tp,
                 (long long)pb->cluster.gpus_per_node);
    else if (pb->model.layers % p->pp)
        snprintf(why, n, "pp %lld does not divide the %lld layers", (long long)p->pp, (long long)pb->model.layers);
    else if (zp_framework_lacks(pb->conv.framework, p->zero, p->offload, p->pp))
        snprintf(why, n, "not a layout %s runs (--framework %s)", pb->conv.framework, pb->conv.framework);
    else
        snprintf(why, n, "no valid layout for this strategy on this cluster");
}

static void classic(zp_answer *a)
{
    const zp_problem *pb = &a->pb;
    int64_t G = pb->cluster.gpus, gpn = pb->cluster.gpus_per_node;
    zp_pins base;
    zp_pins_none(&base);
    base.sp = pb->pins.sp;
    base.vp = 1;
    base.cp = 1;   /* the classic strategies split no sequence */
    /* the largest tp inside a node that divides the heads; the largest pp
     * that divides both the GPUs and the layers */
    int64_t tp = 1, pp = 1;
    for (int64_t x = 1; x <= gpn && x <= G; x++)
        if (gpn % x == 0 && G % x == 0 && pb->model.heads % x == 0 && pb->model.kv_heads % x == 0)
            tp = x;
    for (int64_t x = 1; x <= G; x++)
        if (G % x == 0 && pb->model.layers % x == 0)
            pp = x;
    static const char *const names[7] = {"DP", "TP", "PP", "ZeRO-1", "ZeRO-2", "ZeRO-3", "ZeRO-3+offload"};
    for (int i = 0; i < 7; i++) {
        zp_pins p = base;
        p.offload = ZP_OFF_NONE;
        p.act_offload = 0;   /* the strategies as their papers run them: activations on the device */
        p.zero = 0;
        p.tp = 1;
        p.pp = 1;
        switch (i) {
        case 1: p.tp = tp; break;
        case 2: p.pp = pp; break;
        case 3: case 4: case 5: p.zero = i - 2; break;
        case 6: p.zero = 3; p.offload = ZP_OFF_OPT_PARAMS; break;
        default: break;
        }
        int fits = 0;
        a->classic[i].name = names[i];
        a->classic[i].why[0] = '\0';
        /* tensor or pipeline parallelism of degree 1 is the DP row again */
        if ((i == 1 && tp == 1) || (i == 2 && pp == 1)) {
            a->classic[i].have = 0;
            snprintf(a->classic[i].why, sizeof a->classic[i].why, i == 1
                     ? "no tp above 1 divides the GPUs of a node and the heads: the DP row"
                     : "no pp above 1 divides the GPUs and the layers: the DP row");
            continue;
        }
        a->classic[i].have = best_with(pb, &p, 0, &a->classic[i].plan, &fits);
        if (!a->classic[i].have)
            classic_why(pb, &p, a->classic[i].why, sizeof a->classic[i].why);
    }
}

static void layout_text(char *buf, size_t n, const zp_layout *l)
{
    char cp[24] = "", vp[24] = "";
    if (zp_cp(l) > 1)
        snprintf(cp, sizeof cp, " cp=%lld", (long long)zp_cp(l));
    if (l->vp > 1)
        snprintf(vp, sizeof vp, " vp=%lld", (long long)l->vp);
    snprintf(buf, n, "dp=%lld tp=%lld pp=%lld%s%s zero=%d offload=%s%s ckpt=%s micro-batch=%lld", (long long)l->dp,
             (long long)l->tp, (long long)l->pp, vp, cp, l->zero, zp_offload_names[l->offload],
             l->act_offload ? " act-offload" : "", zp_ckpt_names[l->ckpt], (long long)l->micro_batch);
}

/* When the chosen plan recomputes every block (full recompute, neither
 * --ckpt-every nor --ckpt-layers), the fewest blocks of each stage (chunk
 * with interleaving) that Megatron's block method could rebuild instead and
 * still fit: none at all (the layout without recompute), or, as fewer
 * rebuilt blocks need more memory (each kept block holds all its
 * activations), the smallest fitting N by bisection over 1 .. n - 1 (n the
 * largest chunk's blocks; N = n is full recompute). */
static void partial_recompute(zp_answer *a)
{
    a->have_partial = 0;
    if (!a->have_chosen || a->chosen.reject != ZP_REJ_NONE || a->chosen.lay.ckpt != ZP_CKPT_FULL ||
        a->pb.train.ckpt_every > 1 || a->pb.train.ckpt_block > 0)
        return;
    const zp_layout *l = &a->chosen.lay;
    int64_t v = l->vp > 1 ? l->vp : 1, most = 0;
    for (int64_t k = 0; k < l->pp; k++) {
        int64_t n = zp_stage_layers(a->pb.model.layers, l->pp, k);
        n = (n + v - 1) / v;
        most = n > most ? n : most;
    }
    zp_problem q = a->pb;
    zp_plan p, best;
    zp_layout none = *l;   /* N = 0: no recompute at all (a layout: not DeepSpeed's offloaded checkpoints) */
    none.ckpt = ZP_CKPT_NONE;
    zp_plan_eval(&q, &none, &p);
    if (p.reject == ZP_REJ_NONE && zp_layout_check(&q, &none) == ZP_REJ_NONE) {
        a->have_partial = 1;
        a->partial_n = 0;
        a->partial_of = most;
        a->partial = p;
        return;
    }
    int64_t lo = 1, hi = most - 1, found = 0;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        q.train.ckpt_block = mid;
        zp_plan_eval(&q, l, &p);
        if (p.reject == ZP_REJ_NONE) {
            found = mid, best = p;
            hi = mid - 1;
        } else
            lo = mid + 1;
    }
    if (found) {
        a->have_partial = 1;
        a->partial_n = found;
        a->partial_of = most;
        a->partial = best;
    }
}

static void suggest(zp_answer *a)
{
    const zp_problem *pb = &a->pb;
    const zp_pins *pin = &pb->pins;
    zp_plan p;
    int fits;
    char lay[200], mem[32], tm[32];
    if (a->sr.ntop > 0 && !a->pinned_all)
        return;
    if (a->have_chosen && a->chosen.reject == ZP_REJ_NONE)
        return;
    /* a layout pinned whole (or with --no-act-offload) that exceeds the
     * device: what offloading its activations would do (the search tries
     * that itself otherwise) */
    const zp_plan *cl0 = a->have_chosen ? &a->chosen : (a->sr.have_closest ? &a->sr.closest : NULL);
    if (cl0 && !cl0->lay.act_offload && cl0->reject == ZP_REJ_DEVICE_MEM) {
        zp_layout l = cl0->lay;
        zp_plan q;
        char h3[32], tm2[32];
        l.act_offload = 1;
        if (zp_layout_check(pb, &l) == ZP_REJ_NONE) {
            zp_plan_eval(pb, &l, &q);
            snprintf(a->sugg[a->nsugg++], sizeof a->sugg[0],
                     "with its activations offloaded to the host (--act-offload) the %s plan needs %s per GPU "
                     "and %s per node, step %s (%s%s)", a->have_chosen ? "pinned" : "closest",
                     zp_fmt_bytes(lay, sizeof lay, q.mem.dev_total, a->units),
                     zp_fmt_bytes(h3, sizeof h3, q.host_per_node, a->units), zp_fmt_secs(tm2, sizeof tm2, q.cost.step_s),
                     q.reject == ZP_REJ_NONE ? "that fits" : "still does not fit: ",
                     q.reject == ZP_REJ_NONE ? "" : zp_reject_names[q.reject]);
        }
    }
    zp_pins none;
    zp_pins_none(&none);
    none.sp = pin->sp;
    none.act_offload = a->act_offload_asked;   /* (searched, unless asked for or against) */
    int pinned = pin->dp > 0 || pin->tp > 0 || pin->pp > 0 || pin->vp > 0 || pin->cp > 0 || pin->micro_batch > 0 ||
                 pin->zero >= 0 || pin->offload >= 0 || pin->ckpt >= 0;
    if (pinned && best_with(pb, &none, 0, &p, &fits) && fits) {
        layout_text(lay, sizeof lay, &p.lay);
        snprintf(a->sugg[a->nsugg++], sizeof a->sugg[0],
                 "without the pinned layout options, %lld GPU%s fit%s it: %s (%s per GPU, %s a step)",
                 (long long)pb->cluster.gpus, pb->cluster.gpus == 1 ? "" : "s", pb->cluster.gpus == 1 ? "s" : "", lay,
                 zp_fmt_bytes(mem, sizeof mem, p.mem.dev_total, a->units), zp_fmt_secs(tm, sizeof tm, p.cost.step_s));
        return;
    }
    /* no layout uses more GPUs than dp <= global batch, tp <= the KV
     * heads (a tp group may span whole nodes), pp <= layers and the
     * searched cp (up to 32 from ZP_CP_SEARCH_MIN_SEQ tokens) allow; the
     * product saturates at the 2^22 GPUs the doublings stop at anyway */
    int64_t kvh = pb->model.kv_heads > 0 ? pb->model.kv_heads : pb->model.heads;
    int64_t fac[4] = {pb->train.global_batch, kvh > pb->cluster.gpu.gpus_per_node ? kvh : pb->cluster.gpu.gpus_per_node,
                      pb->model.layers, pb->train.seq >= ZP_CP_SEARCH_MIN_SEQ ? 32 : 1};
    int64_t gmax = 1;
    for (int i = 0; i < 4; i++)
        gmax = fac[i] > 0 && gmax <= ((int64_t)1 << 22) / fac[i] ? gmax * fac[i] : ((int64_t)1 << 22);
    zp_pins qg = none;
    qg.zero = pin->zero;
    qg.offload = pin->offload;
    qg.ckpt = pin->ckpt;
    int64_t g, glim = gmax < ((int64_t)1 << 22) ? gmax : ((int64_t)1 << 22);
    for (g = pb->cluster.gpus * 2; g <= glim; g *= 2) {
        if (!best_with(pb, &qg, g, &p, &fits) || !fits)
            continue;
        /* the fewest between the last count that did not fit and g: GPUs
         * one at a time up to a node, whole nodes beyond (a search takes
         * milliseconds; at most 256 of them, coarser steps past that) */
        int64_t lo = g / 2, gpn = pb->cluster.gpus_per_node, step = lo < gpn ? 1 : gpn;
        while ((g - lo) / step > 256)
            step *= 2;
        zp_plan pn;
        for (int64_t n = lo + step; n < g; n += step)
            if (best_with(pb, &qg, n, &pn, &fits) && fits) {
                g = n, p = pn;
                break;
            }
        layout_text(lay, sizeof lay, &p.lay);
        /* at this problem's global batch, which a run on g GPUs would
         * otherwise round to a multiple of g: said, so that it reproduces */
        snprintf(a->sugg[a->nsugg++], sizeof a->sugg[0],
                 "%lld GPUs would fit it at this global batch (--gpus %lld --global-batch %lld): %s (%s per GPU, "
                 "%s a step)", (long long)g, (long long)g, (long long)pb->train.global_batch, lay,
                 zp_fmt_bytes(mem, sizeof mem, p.mem.dev_total, a->units), zp_fmt_secs(tm, sizeof tm, p.cost.step_s));
        break;
    }
    if (g > glim && pb->cluster.gpus * 2 <= glim)
        snprintf(a->sugg[a->nsugg++], sizeof a->sugg[0],
                 "no GPU count from %lld to %lld in doublings fits it at this global batch (%lld sequences, which "
                 "the data-parallel degree must divide)", (long long)pb->cluster.gpus * 2,
                 (long long)(g / 2), (long long)pb->train.global_batch);
    /* what recompute and offload would save, on the closest plan */
    const zp_plan *cl = a->have_chosen ? &a->chosen : (a->sr.have_closest ? &a->sr.closest : NULL);
    if (cl) {
        zp_layout l = cl->lay;
        zp_plan q;
        l.ckpt = ZP_CKPT_FULL;
        if (l.zero >= 1 && l.offload == ZP_OFF_NONE)
            l.offload = ZP_OFF_OPT;
        if (l.zero == 3)
            l.offload = ZP_OFF_OPT_PARAMS;
        /* an offload the framework does not have: full recompute alone */
        if (zp_framework_lacks(pb->conv.framework, l.zero, (int)l.offload, l.pp))
            l.offload = cl->lay.offload;
        if ((l.ckpt != cl->lay.ckpt || l.offload != cl->lay.offload) && zp_layout_check(pb, &l) == ZP_REJ_NONE) {
            zp_plan_eval(pb, &l, &q);
            char m2[32], h1[32], h2[32], h3[32];
            snprintf(a->sugg[a->nsugg++], sizeof a->sugg[0],
                     "the closest plan (%s) needs %s per GPU of %s and %s host RAM per node of %s; with full "
                     "recompute%s: %s per GPU and %s per node (%s%s)",
                     zp_reject_names[cl->reject], zp_fmt_bytes(mem, sizeof mem, cl->mem.dev_total, a->units),
                     zp_fmt_bytes(m2, sizeof m2, pb->cluster.gpu.mem_bytes, a->units),
                     zp_fmt_bytes(h1, sizeof h1, cl->host_per_node, a->units),
                     zp_fmt_bytes(h2, sizeof h2, pb->cluster.host_mem_bytes, a->units),
                     l.offload != cl->lay.offload ? " and offload" : "",
                     zp_fmt_bytes(lay, sizeof lay, q.mem.dev_total, a->units),
                     zp_fmt_bytes(h3, sizeof h3, q.host_per_node, a->units),
                     q.reject == ZP_REJ_NONE ? "that fits" : "still does not fit: ",
                     q.reject == ZP_REJ_NONE ? "" : zp_reject_names[q.reject]);
        }
    }
}

/* ------------------------------------------------------------ JSON */

/* ------------------------------------------------------------ store */

/* The run and its plans, in one transaction, committed before the answer
 * is printed (the write lock is not held while a reader drains the output,
 * and the run id printed is the committed one); the caller deletes the run
 * again when the answer cannot be delivered. */
static zp_status record(const zp_answer *a, const char *dbpath, const char *cmdline, const zp_mem *stages,
                        const zp_comm *comm, int64_t *run_id, char **json, zp_err *e)
{
    zp_store *s;
    zp_status st = zp_store_open(dbpath, &s, e);
    if (st)
        return st;
    zp_run_info ri = {cmdline, PACKAGE_VERSION, a->source, &a->pb, zp_model_params(&a->pb.model),
                      a->sr.evaluated, a->sr.rejected[ZP_REJ_NONE]};
    int64_t id = 0;
    if ((st = zp_store_begin(s, e)))
        goto out;
    if ((st = zp_store_add_run(s, &ri, &id, e)))
        goto fail;
    if (a->pinned_all) {
        if (a->have_chosen && (st = zp_store_add_plan(s, id, "top", 1, NULL, &a->chosen, e)))
            goto fail;
    } else
        for (int i = 0; i < a->sr.ntop; i++)
            if ((st = zp_store_add_plan(s, id, "top", i + 1, NULL, &a->top[i], e)))
                goto fail;
    for (int i = 0; i < 7; i++)
        if (a->classic[i].have &&
            (st = zp_store_add_plan(s, id, "classic", i + 1, a->classic[i].name, &a->classic[i].plan, e)))
            goto fail;
    if (a->have_chosen) {
        for (int64_t k = 0; k < a->chosen.lay.pp; k++)
            if ((st = zp_store_add_stage(s, id, k, &stages[k], e)))
                goto fail;
        for (int i = 0; i < comm->n; i++)
            if ((st = zp_store_add_comm(s, id, a->chosen.worst_stage, &comm->c[i], e)))
                goto fail;
    }
    for (int i = 1; i < ZP_REJ_N; i++)
        if (a->sr.rejected[i] && (st = zp_store_add_reject(s, id, zp_reject_names[i], a->sr.rejected[i], e)))
            goto fail;
    cJSON *j = zp_result_to_json(a, id, stages, comm);
    *json = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!*json) {
        st = zp_err_set(e, ZP_ENOMEM, "out of memory");
        goto fail;
    }
    if ((st = zp_store_set_result(s, id, *json, e)) || (st = zp_store_commit(s, e)))
        goto fail;
    *run_id = id;
    goto out;
fail:
    zp_store_rollback(s);
    free(*json);
    *json = NULL;
out:
    zp_store_close(s);
    return st;
}

/* The layout settings in which b differs from a ("zero=2", "zero=3 ckpt=full"). */
static void differs(char *out, size_t n, const zp_layout *a, const zp_layout *b)
{
    size_t u = 0;
    out[0] = '\0';
#define DIFF(cond, ...)                                                                \
    do {                                                                               \
        if ((cond) && u < n) {                                                         \
            int w = snprintf(out + u, n - u, u ? " " : "");                          \
            u += w > 0 ? (size_t)w : 0;                                                \
            w = u < n ? snprintf(out + u, n - u, __VA_ARGS__) : 0;                     \
            u += w > 0 ? (size_t)w : 0;                                                \
        }                                                                              \
    } while (0)
    DIFF(a->dp != b->dp, "dp=%lld", (long long)b->dp);
    DIFF(a->tp != b->tp, "tp=%lld", (long long)b->tp);
    DIFF(a->pp != b->pp, "pp=%lld", (long long)b->pp);
    DIFF(a->vp != b->vp, "vp=%lld", (long long)b->vp);
    DIFF(zp_cp(a) != zp_cp(b), "cp=%lld", (long long)zp_cp(b));
    DIFF(a->zero != b->zero, "zero=%d", b->zero);
    DIFF(a->offload != b->offload, "offload=%s", zp_offload_names[b->offload]);
    DIFF(a->act_offload != b->act_offload, "act-offload=%s", b->act_offload ? "on" : "off");
    DIFF(a->ckpt != b->ckpt, "ckpt=%s", zp_ckpt_names[b->ckpt]);
    DIFF(a->sp != b->sp, "sp=%s", b->sp ? "on" : "off");
    DIFF(a->micro_batch != b->micro_batch, "micro-batch=%lld", (long long)b->micro_batch);
#undef DIFF
}

/* The ranked plans down to top_n distinct results: a plan whose memory
 * (device and host), traffic and step time equal an earlier one's to the
 * byte and second is the same answer in other words (ZeRO 0-3 at dp = 1),
 * named beside that one (same[]) instead of taking a row. */
static void distinct(zp_answer *a)
{
    int kept = 0;
    for (int i = 0; i < a->sr.ntop; i++) {
        const zp_plan *p = &a->top[i];
        int j = 0;
        for (; j < kept; j++) {
            const zp_plan *q = &a->top[j];
            if (q->mem.dev_total == p->mem.dev_total && q->host_per_node == p->host_per_node &&
                q->comm_bytes == p->comm_bytes && q->cost.step_s == p->cost.step_s)
                break;
        }
        if (j < kept) {
            char d[120];
            size_t u = strlen(a->same[j]);
            differs(d, sizeof d, &a->top[j].lay, &p->lay);
            if (u + strlen(d) + 3 < sizeof a->same[j])
                snprintf(a->same[j] + u, sizeof a->same[j] - u, "%s%s", u ? ", " : "", d);
        } else if (kept < a->top_n) {
            a->top[kept] = *p;
            a->same[kept][0] = '\0';
            kept++;
        }
    }
    a->sr.ntop = kept;
}

static int zp_cmd_plan(zp_cli *cli, int argc, char **argv)
{
    raw r;
    argvec args = {0};
    zp_answer *a = calloc(1, sizeof *a);
    zp_mem *stages = NULL;
    zp_comm comm = {0};
    char *json = NULL;
    int rc = 1;
    zp_status st;
    if (!a)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_ENOMEM, "out of memory"));
    if ((st = expand_plan_file(argc, argv, &args, &cli->err)) != ZP_OK) {
        rc = zp_fail(cli, st);
        goto out;
    }
    if ((st = parse_args(args.n, args.v, &r, &cli->err)) != ZP_OK) {
        plan_file_where(&args, argc, argv, &cli->err);
        rc = zp_fail(cli, st);
        goto out;
    }
    if (r.help) {
        zp_usage(&zp_plan_cmd);
        rc = 0;
        goto out;
    }
    if (r.report && r.nostore) {
        rc = zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "--report draws the recorded run: drop --no-store"));
        goto out;
    }
    char gpbuf[4096];
    if (r.report && !zp_report_gnuplot(gpbuf, sizeof gpbuf)) {   /* before anything is recorded */
        rc = zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "--report needs gnuplot, which is not installed (Debian: "
                                     "apt-get install gnuplot-nox) or $ZPLAN_GNUPLOT does not name a program"));
        goto out;
    }
    if ((st = build_problem(&r, a, &cli->err)) != ZP_OK) {
        plan_file_where(&args, argc, argv, &cli->err);
        rc = zp_fail(cli, st);
        goto out;
    }
    if (a->note[0])
        fprintf(stderr, "%s: note: %s\n", cli->prog, a->note);
    /* four times the plans asked for, so that the list can show top_n
     * distinct results (ZeRO 0-3 at dp = 1 are one result) */
    int want = a->top_n * 4;
    a->top = calloc((size_t)want, sizeof *a->top);
    a->same = calloc((size_t)want, sizeof *a->same);
    if (!a->top || !a->same) {
        rc = zp_fail(cli, zp_err_set(&cli->err, ZP_ENOMEM, "out of memory"));
        goto out;
    }
    if ((st = zp_search(&a->pb, a->top, want, &a->sr, &cli->err)) != ZP_OK) {
        rc = zp_fail(cli, st);
        goto out;
    }
    distinct(a);
    int64_t valid = a->sr.rejected[ZP_REJ_NONE] + a->sr.rejected[ZP_REJ_DEVICE_MEM] + a->sr.rejected[ZP_REJ_HOST_MEM];
    if (valid == 0) {
        /* the pins (or batch) leave no layout at all: a usage error, with
         * the rules that rejected the most candidates, most first (up to 3) */
        int order[ZP_REJ_N], no = 0;
        for (int i = 1; i < ZP_REJ_DEVICE_MEM; i++)
            if (a->sr.rejected[i] > 0)
                order[no++] = i;
        for (int i = 1; i < no; i++)
            for (int j = i; j > 0 && a->sr.rejected[order[j]] > a->sr.rejected[order[j - 1]]; j--) {
                int t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        char rules[1024] = "";
        size_t ru = 0;
        for (int i = 0; i < no && i < 3; i++) {
            int w = snprintf(rules + ru, sizeof rules - ru, "%s%lld: %s", i ? "; " : "",
                             (long long)a->sr.rejected[order[i]], zp_reject_names[order[i]]);
            if (w > 0 && (size_t)w < sizeof rules - ru)
                ru += (size_t)w;
        }
        if (!no)
            snprintf(rules, sizeof rules, "no candidate");
        const zp_pins *p = &a->pb.pins;
        char pinned[160] = "";
        size_t used = 0;
        const struct { const char *flag; int64_t v; } dims[] = {
            {"--dp", p->dp}, {"--tp", p->tp}, {"--pp", p->pp}, {"--vp", p->vp}, {"--cp", p->cp},
            {"--micro-batch", p->micro_batch},
            {"--zero", p->zero}};
        for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
            if (dims[i].v >= 0) {
                int w = snprintf(pinned + used, sizeof pinned - used, " %s %lld", dims[i].flag, (long long)dims[i].v);
                if (w > 0 && (size_t)w < sizeof pinned - used)
                    used += (size_t)w;
            }
        if (p->offload >= 0 || p->ckpt >= 0) {   /* the kinds pinned too */
            int w = snprintf(pinned + used, sizeof pinned - used, "%s%s%s%s", p->offload >= 0 ? " --offload " : "",
                             p->offload >= 0 ? zp_offload_names[p->offload] : "", p->ckpt >= 0 ? " --ckpt " : "",
                             p->ckpt >= 0 ? zp_ckpt_names[p->ckpt] : "");
            if (w > 0 && (size_t)w < sizeof pinned - used)
                used += (size_t)w;
        }
        rc = zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "no valid layout for --gpus %lld%s%s: of %lld "
                                     "candidates, %s (see zplan help plan)", (long long)a->pb.cluster.gpus,
                                     used ? " with" : "", pinned, (long long)a->sr.evaluated, rules));
        goto out;
    }
    if (a->pinned_all) {
        /* every dimension pinned: that one plan, fitting or not */
        if (a->sr.ntop > 0) {
            a->chosen = a->top[0];
            a->have_chosen = 1;
        } else if (a->sr.have_closest) {
            a->chosen = a->sr.closest;
            a->have_chosen = 1;
        } else {
            int why = 1;
            while (why < ZP_REJ_N && !a->sr.rejected[why])
                why++;
            rc = zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "the pinned layout is not valid: %s",
                                         why < ZP_REJ_N ? zp_reject_names[why] : "no candidate"));
            goto out;
        }
    } else if (a->sr.ntop > 0) {
        a->chosen = a->top[0];
        a->have_chosen = 1;
    }
    classic(a);
    suggest(a);
    partial_recompute(a);
    if (a->have_chosen) {
        stages = calloc((size_t)a->chosen.lay.pp, sizeof *stages);
        if (!stages) {
            rc = zp_fail(cli, zp_err_set(&cli->err, ZP_ENOMEM, "out of memory"));
            goto out;
        }
        for (int64_t k = 0; k < a->chosen.lay.pp; k++)
            zp_mem_stage(&a->pb.model, &a->pb.train, &a->chosen.lay, &a->pb.cluster, &a->pb.conv, k, &stages[k]);
        zp_comm_plan(&a->pb.model, &a->pb.train, &a->chosen.lay, &a->pb.cluster, &a->pb.conv,
                     a->chosen.worst_stage, &comm);
    }
    int64_t run_id = 0;
    if (!r.nostore) {
        if ((st = record(a, zp_db_path(r.db), cli->cmdline, stages, &comm, &run_id, &json, &cli->err)) != ZP_OK) {
            rc = zp_fail(cli, st);
            goto out;
        }
    } else {
        cJSON *j = zp_result_to_json(a, 0, stages, &comm);
        json = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    }
    cJSON *res = json ? cJSON_Parse(json) : NULL;
    if (!res) {
        rc = zp_fail(cli, zp_err_set(&cli->err, ZP_ENOMEM, "out of memory"));
        goto out;
    }
    if (r.json) {
        char *pretty = cJSON_Print(res);
        if (pretty)
            puts(pretty);
        free(pretty);
    } else {
        zp_render_result(stdout, res, a->units);
        if (run_id > 0)
            printf("\nRecorded as run %lld in %s (zplan show %lld).\n", (long long)run_id, zp_db_path(r.db),
                   (long long)run_id);
    }
    cJSON_Delete(res);
    /* delivered, or the run is taken back out: an answer nobody received
     * is not recorded */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int err = errno;
        zp_err de = {0};
        int taken = run_id > 0 && zp_store_delete_run(zp_db_path(r.db), run_id, &de) == ZP_OK;
        rc = zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "cannot write the output: %s%s", strerror(err),
                                     run_id <= 0 ? "" : taken ? " (the run is not recorded)"
                                                              : " (run recorded; it could not be taken back)"));
        goto out;
    }
    rc = 0;
    if (r.report) {
        /* the report's path goes to stderr when stdout carries JSON */
        rc = zp_report_run(cli, zp_db_path(r.db), (long long)run_id, NULL, ZP_FMT_PNG, a->top_n,
                           r.json ? stderr : stdout);
    }
out:
    argvec_free(&args);
    free(json);
    free(stages);
    if (a) {
        free(a->top);
        free(a->same);
    }
    free(a);
    return rc;
}

static const char plan_usage[] =
    "Usage: zplan [plan] (--params N | --model NAME | --config FILE) [OPTIONS]\n"
    "\n"
    "Search the parallel layouts of a training job, rank those that fit by step time,\n"
    "print the best, its memory per class and its communication, compare the classic\n"
    "strategies, explain what was rejected, and record the run in the database.\n"
    "\n";
static const char plan_tail[] =
    "  (Megatron's --num-layers-per-virtual-pipeline-stage counts layers per chunk, zplan's --vp\n"
    "  chunks per stage; --offload cpu = --offload optimizer; --dtype bfloat16|float16|float32\n"
    "  = bf16|fp16|fp32)\n";

const zp_cmd zp_plan_cmd = {"plan", zp_cmd_plan, "plan layouts for a model on a cluster (the default command)", plan_usage,
                            plan_opts, plan_tail};
