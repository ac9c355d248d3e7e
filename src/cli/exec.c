/* exec.c - `zplan exec`: run a recorded plan for real on MPI ranks
 * (zplan-engine) and record what it measured beside what the planner
 * predicts for the same (scaled) model and layout.
 *
 * The prediction is the planner's, for the engine's conventions: fp32
 * parameters, gradients and activations, no master copy, the plan's
 * attention (flash attention's log-sum-exp, or the probabilities), no dropout, no CUDA
 * context, NCCL or fragmentation overheads (CPU ranks), no separate
 * gradient bucket (the engine reduces in place).  The engine never sees
 * the prediction: it sizes its tensors from the shape and the algorithm.
 *
 * This file: the arguments and what is checked before a launch; exec_plan.c
 * finds the plan (a recorded run's, or a plan file's, planned by running
 * zplan on it), exec_scale.c shrinks the model, exec_run.c launches the
 * ranks and supervises them (signals, the store's row), exec_record.c reads
 * what the engine printed and builds the record. */
#include "config.h"
#define _GNU_SOURCE 1   /* sched_getaffinity */
#include "cli.h"
#include "jsonget.h"
#include "preset.h"
#include "result.h"
#include "store.h"
#include "launch.h"
#include "exec.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The CUDA row's allocator rounding (backend/cuda/device_cuda.c): each
 * tensor's cudaMalloc takes whole 2 MiB pages. */
#define ZP_CUDA_ROW_GRANULE ((uint64_t)2 << 20)

typedef struct exec_opts {
    const char *target, *db, *scale, *hostfile, *profile, *backend;
    int64_t np, steps, timeout_s;
    uint64_t device_mem;
    int json, oversubscribe, help;
} exec_opts;

enum { X_JSON = 1, X_OVERSUB, X_DB, X_SCALE, X_HOSTFILE, X_PROFILE, X_NP, X_STEPS, X_TIMEOUT, X_DEVMEM, X_BACKEND,
       X_HELP };

/* ranks zplan exec starts without --np (a plan for 65,536 GPUs is run at
 * reduced scale, or with --np saying so), and the most --np allows */
#define ZP_EXEC_MAX_RANKS 64
#define ZP_EXEC_MAX_NP 4096

static const zp_opt exec_opts_table[] = {
    {"np", X_NP, "N", NULL, "ranks (default: the plan's dp x tp x pp x cp, at most 64 without --np); it\nmust equal that product",
     "Options:"},
    {"oversubscribe", X_OVERSUB, NULL, NULL, "more ranks than this machine's cores (refused otherwise)", NULL},
    {"steps", X_STEPS, "K", NULL, "training steps (default 10)", NULL},
    {"scale", X_SCALE, "SPEC", NULL, "shrink the model, keeping the layout: key=value,... with layers,\n"
     "hidden, heads, kv_heads, ffn, vocab, seq, micro_batch, accum; or a parameter\n"
     "count (20M: a GPT-2-like shape within 10 %, 64-wide heads, vocabulary 256\n"
     "and sequence at most 256 unless given, e.g. 20M,seq=128; with tp, heads,\n"
     "KV heads, MLP and vocabulary that tp divides); default\n"
     "for models over 1e8 parameters: layers=2,hidden=64,heads=4,vocab=256,\n"
     "seq=64,micro_batch=2,accum=2 (none: the plan's own model, unscaled); a\n"
     "scaled run keeps at most 4 micro-batches per step unless accum= says;\n"
     "dp=, tp=, pp=, cp= shrink the layout's degrees (its ZeRO stage and\n"
     "recompute kept); each key once", NULL},
    {"device-mem", X_DEVMEM, "SIZE", NULL, "cap on the device pool (default: the GPU's memory scaled as the model)", NULL},
    {"hostfile", X_HOSTFILE, "F", NULL, "Open MPI hostfile for several machines", NULL},
    {"timeout", X_TIMEOUT, "S", NULL, "end a hung run after S seconds (default 600)", NULL},
    {"profile", X_PROFILE, "NAME", NULL, "the hardware profile of zplan calibrate for the predicted step time\n"
     "(default local-cpu; without one, no step time is predicted)", NULL},
    {"backend", X_BACKEND, "B", NULL, "cpu (default: MPI ranks on CPUs, OpenBLAS) or cuda (ranks on the\n"
     "visible GPUs: cuBLAS, NCCL; more ranks than GPUs share them, their\n"
     "collectives staged through host memory); on a GPU the runtime's\n"
     "memory (context, cuBLAS, NCCL) is measured and kept as the profile\n"
     "<gpu>-cuda, which the planner takes with --gpu <gpu>-cuda", NULL},
    ZP_OPT_DB(X_DB, NULL),
    {"json", X_JSON, NULL, NULL, "print the execution's record as JSON", NULL},
    ZP_OPT_HELP(X_HELP),
    ZP_OPT_END};

static zp_status exec_set(void *ctx, int id, const char *v, zp_err *e)
{
    exec_opts *o = ctx;
    switch (id) {
    case X_JSON: o->json = 1; break;
    case X_OVERSUB: o->oversubscribe = 1; break;
    case X_HELP: o->help = 1; break;
    case X_DB: return zp_opt_db(v, &o->db, e);
    case X_SCALE: o->scale = v; break;
    case X_HOSTFILE: o->hostfile = v; break;
    case X_PROFILE: o->profile = v; break;
    case X_NP: return zp_parse_int("--np", v, 1, ZP_EXEC_MAX_NP, &o->np, e);
    case X_STEPS: return zp_parse_int("--steps", v, 1, 1000000, &o->steps, e);
    case X_TIMEOUT: return zp_parse_int("--timeout", v, 1, 86400, &o->timeout_s, e);
    case X_DEVMEM: {   /* a bare number under a MiB meant GiB (--device-mem 8 was 8 bytes); with a unit,
                        * a small cap is a scaled model's (100KiB) */
        zp_status st = zp_parse_bytes("--device-mem", v, &o->device_mem, e);
        if (st == ZP_OK && o->device_mem < ((uint64_t)1 << 20) && zp_size_unitless(v))
            return zp_err_set(e, ZP_EINVAL, "--device-mem '%s' is %llu bytes: give the unit (e.g. %sGiB, or %sKiB "
                              "for a scaled model's cap)", v, (unsigned long long)o->device_mem, v, v);
        return st;
    }
    case X_BACKEND:
        if (strcmp(v, "cpu") && strcmp(v, "cuda"))
            return zp_err_set(e, ZP_EINVAL, "--backend '%s' is not a backend (allowed: cpu, cuda)", v);
        o->backend = v;
        break;
    default: break;
    }
    return ZP_OK;
}

/* Pipeline stages exec predicts one by one */
#define ZP_EXEC_MAX_STAGES 256

/* --backend cuda: ask the engine (zplan-engine devices, no MPI) whether it
 * was built with CUDA and which GPUs it sees, before anything is launched
 * or recorded.  The first GPU's name in gpu, its compute capability in *cc
 * (0 when the engine does not say). */
static zp_status cuda_probe(const char *eng, char *gpu, size_t gn, int *ngpus, double *cc, zp_err *e)
{
    char *args[] = {(char *)eng, "devices", NULL}, *out = NULL;
    int rc = zp_run_capture(args, 60, NULL, &out, &zp_exec_interrupted);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    free(out);
    zp_status st = ZP_OK;
    if (!j)
        st = zp_err_set(e, rc == 127 ? ZP_EINVAL : ZP_EIO, "--backend cuda: %s %s", eng,
                        rc == 127 ? "was not found (zplan exec needs the engine: configure with MPI and OpenBLAS)"
                                  : "did not say which devices it has");
    else if (zp_jnum(j, "cuda_built") != 1)
        st = zp_err_set(e, ZP_EINVAL, "--backend cuda: this zplan was built without the CUDA backend (configure "
                        "found no nvcc, cuBLAS or NCCL): install the CUDA toolkit and NCCL, then ./configure "
                        "--with-cuda=DIR && make");
    else if (zp_jnum(j, "gpus") < 1)
        st = zp_err_set(e, ZP_EINVAL, "--backend cuda: no GPU is visible (%s)",
                        *zp_jstr(j, "why") ? zp_jstr(j, "why") : "the CUDA runtime reports none");
    else {
        const cJSON *nm = cJSON_GetArrayItem(zp_jobj(j, "names"), 0);
        snprintf(gpu, gn, "%s", cJSON_IsString(nm) ? nm->valuestring : "GPU 0");
        *ngpus = (int)zp_jnum(j, "gpus");
        const cJSON *c0 = cJSON_GetArrayItem(zp_jobj(j, "compute_capabilities"), 0);
        *cc = cJSON_IsNumber(c0) && c0->valuedouble > 0 && c0->valuedouble <= 20 ? c0->valuedouble : 0.0;
    }
    cJSON_Delete(j);
    return st;
}

/* "NVIDIA H200" -> "nvidia-h200" */
static void slug(char *out, size_t n, const char *name)
{
    size_t k = 0;
    int dash = 0;
    for (const char *p = name; *p && k + 1 < n; p++) {
        int c = (unsigned char)*p;
        if (isalnum(c)) {
            if (dash && k > 0 && k + 2 < n)
                out[k++] = '-';
            out[k++] = (char)tolower(c);
            dash = 0;
        } else
            dash = 1;
    }
    out[k] = '\0';
}


static int zp_cmd_exec(zp_cli *cli, int argc, char **argv)
{
    exec_opts o = {NULL, NULL, NULL, NULL, NULL, "cpu", 0, 10, 600, 0, 0, 0, 0};
    zp_status st;
    const char *pos[1];
    int npos;
    if ((st = zp_opts_parse("exec", exec_opts_table, argc, argv, exec_set, &o, pos, 1, &npos, &cli->err)))
        return zp_fail(cli, st);
    if (o.help)
        return zp_usage(&zp_exec_cmd);
    o.target = npos ? pos[0] : NULL;
    if (!o.target)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "say which plan: zplan exec ID (a planning run's best "
                                       "plan) or ID/N (its N-th)"));
    /* the GPUs, asked before anything is planned, launched or recorded */
    int cuda = strcmp(o.backend, "cuda") == 0, ngpus = 0;
    double gpu_cc = 0.0;
    char gpu_name[128] = "", gpu_slug[160] = "", probe_buf[4096];
    if (cuda) {
        if ((st = cuda_probe(zp_engine_path(probe_buf, sizeof probe_buf), gpu_name, sizeof gpu_name, &ngpus,
                             &gpu_cc, &cli->err)))
            return zp_fail(cli, st);
        slug(gpu_slug, sizeof gpu_slug - 8, gpu_name[0] ? gpu_name : "gpu");
        strcat(gpu_slug, "-cuda");
    }
    if (!o.profile && !cuda)
        o.profile = "local-cpu";

    /* the plan: a recorded run's, or a plan file's best, planned first
     * without recording (recorded only once everything below is checked) */
    const char *dbpath = zp_db_path(o.db);
    zp_exec_target tg;
    int prc;
    if ((st = zp_exec_load(o.target, dbpath, o.timeout_s, &tg, &prc, &cli->err)))
        return prc ? prc : zp_fail(cli, st);
    const char *which = tg.which;
    zp_problem full = tg.full;
    zp_layout l = tg.l;
    uint64_t full_total = tg.full_total;

    /* refuse before any launch what the engine does not run */
    if (l.ckpt == ZP_CKPT_OP)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "%s recomputes per op (--ckpt op): the engine's "
                                       "recompute is none, selective or full", which));
    if (l.ckpt == ZP_CKPT_SELECTIVE && full.train.rc_modules && full.train.rc_modules != ZP_RC_CORE_ATTN)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "%s recomputes the MLP or the norms (--recompute-modules): "
                                       "the engine's selective recompute is the attention core's", which));
    if (full.train.dtype != ZP_DT_FP32 && !full.train.master)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "%s stores %s parameters without fp32 master "
                                       "weights: the engine trains 16-bit parameters with master weights (plan with "
                                       "--master-weights, the default, or --dtype fp32)", which,
                                       zp_dtype_names[full.train.dtype]));
    if (full.train.fp8)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "%s computes its linear layers in FP8 (--fp8): the "
                                       "engine has no FP8 (plan without --fp8 to run the layout)", which));
    /* the scaled model and layout (--scale may shrink the layout's
     * degrees too: dp=, tp=, pp=, cp=) */
    if ((st = zp_exec_engine_arch(&full.model, which, &cli->err)))
        return zp_fail(cli, st);
    zp_problem pb = full;
    zp_model *m = &pb.model;
    const char *scale = o.scale;
    int unscaled = scale && !strcmp(scale, "none");   /* --scale none: the plan's own model */
    if (unscaled)
        scale = NULL;
    else if (!scale && zp_model_params(m) > 100000000)
        scale = "layers=2,hidden=64,heads=4,vocab=256,seq=64,micro_batch=2,accum=2";
    if (scale && (st = zp_exec_apply_scale(scale, m, &pb.train, &l, &cli->err)))
        return zp_fail(cli, st);
    /* a sliding window masks keys only on a longer sequence; the engine
     * attends to every earlier key, which is the window's attention where
     * the (scaled) sequence is no longer than the window */
    if (m->window > 0 && m->window < pb.train.seq)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "%s: sliding-window attention of %lld keys on a sequence "
                                       "of %lld: the engine attends to every earlier key, so it runs the window's "
                                       "model only on sequences of at most %lld tokens (--scale seq=%lld)", which,
                                       (long long)m->window, (long long)pb.train.seq, (long long)m->window,
                                       (long long)m->window));
    /* activation offload: the engine's is the planner's async mode (two
     * blocks' on the device), on one stage (after --scale, which may set pp) */
    if (l.act_offload && (l.pp > 1 || full.conv.act_offload != ZP_AOFF_ASYNC ||
                          (l.ckpt == ZP_CKPT_FULL && pb.train.ckpt_every > 1)))
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "%s offloads its activations to the host "
                                       "(--act-offload) %s: the engine offloads them on one stage, its last two "
                                       "blocks' on the device (--act-offload-mode async, pp=1, no --ckpt-every; plan "
                                       "with --no-act-offload to run the layout)", which,
                                       l.pp > 1 ? "on a pipeline"
                                       : full.conv.act_offload != ZP_AOFF_ASYNC ? "not on a copy stream"
                                                                                 : "with --ckpt-every"));
    /* (after --scale, which may set cp) */
    if (zp_cp(&l) > 1 && !full.train.flash)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "%s has cp=%lld without flash attention: the engine's "
                                       "context-parallel ring runs flash-style attention (plan with --flash-attn)",
                                       which, (long long)zp_cp(&l)));
    /* how many ranks: dp x tp x pp x cp, at most ZP_EXEC_MAX_RANKS unless
     * --np says so; more than this machine's cores only with
     * --oversubscribe (one machine: no hostfile, no Slurm) */
    int64_t ranks = l.dp * l.tp * l.pp * zp_cp(&l);
    if (!o.np && ranks > ZP_EXEC_MAX_RANKS)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "%s has dp=%lld tp=%lld pp=%lld cp=%lld: that is %lld "
                                       "ranks, more than the %d zplan exec starts without --np; run it at reduced "
                                       "scale (--scale with dp=, tp=, pp=, cp= shrinks the layout, e.g. --scale "
                                       "20M,dp=2,tp=2,pp=2,cp=1)%s%lld%s", which, (long long)l.dp, (long long)l.tp,
                                       (long long)l.pp, (long long)zp_cp(&l), (long long)ranks, ZP_EXEC_MAX_RANKS,
                                       ranks <= ZP_EXEC_MAX_NP ? ", or say --np " : " (--np allows at most ",
                                       ranks <= ZP_EXEC_MAX_NP ? (long long)ranks : (long long)ZP_EXEC_MAX_NP,
                                       ranks <= ZP_EXEC_MAX_NP ? "" : " ranks)"));
    if (!o.np)
        o.np = ranks;
    if (o.np != ranks)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "--np %lld does not match %s's dp x tp x pp x cp = "
                                       "%lld x %lld x %lld x %lld = %lld ranks", (long long)o.np, which,
                                       (long long)l.dp, (long long)l.tp, (long long)l.pp, (long long)zp_cp(&l),
                                       (long long)ranks));
    /* the processors this process may run on (taskset, cpusets), else the
     * machine's */
    cpu_set_t cpus;
    long cores = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? (long)CPU_COUNT(&cpus) : sysconf(_SC_NPROCESSORS_ONLN);
    if (!o.hostfile && !o.oversubscribe && !getenv("SLURM_JOB_ID") && cores > 0 && o.np > cores)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "%lld ranks on this machine's %ld cores: add "
                                       "--oversubscribe to run them anyway (times are then not those of separate "
                                       "processors), give --hostfile for more machines, or run it at reduced scale "
                                       "(plan for %ld GPUs, --gpus %ld --dp %ld)", (long long)o.np, cores, cores,
                                       cores, cores));
    if (o.hostfile && (st = zp_hostfile_check(o.hostfile, &cli->err)))
        return zp_fail(cli, st);

    /* the scaled model: an architecture the engine builds (GPT-2's or the
     * LLaMA family's blocks), which the plan's model must have: scaling
     * changes its sizes, not its kind (checked above) */
    m->head_dim = 0;
    if (m->pos == ZP_POS_LEARNED)   /* the engine's table: one row per position of the sequence */
        m->max_pos = pb.train.seq;
    if (m->bias)   /* a biased model's every linear layer of a block has one */
        m->qkv_bias = m->out_bias = m->mlp_bias = 0;
    if ((st = zp_model_check(m, &cli->err))) {
        char why[sizeof cli->err.msg];
        snprintf(why, sizeof why, "%s", cli->err.msg);
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "%s: the engine's model %s: %s", which,
                                       scale ? "scaled by --scale" : "(unscaled)", why));
    }
    pb.train.global_batch = l.dp * l.micro_batch * l.grad_accum;
    /* the plan's storage types and master weights; the engine computes in
     * fp32 (activations, working copies) */
    pb.train.compute_fp32 = 1;
    /* on a GPU a 16-bit plan's products run on the tensor cores (the
     * engine's gemm=bf16|fp16, exec_run.c): the dtype's rate */
    pb.train.tensor_math = cuda && pb.train.dtype != ZP_DT_FP32;
    /* the scaled shape and micro-batch keep the prediction's byte counts
     * inside 64 bits, as the planner's input must */
    pb.pins.micro_batch = l.micro_batch;
    if ((st = zp_problem_range_check(&pb, &cli->err)))
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "--scale: %s", cli->err.msg));
    pb.pins.micro_batch = -1;
    if ((st = zp_exec_engine_limits(m, &pb.train, &l, o.steps, which, &cli->err)))
        return zp_fail(cli, st);
    /* pb.train.flash: the plan's, which the engine runs (flash=1) */
    pb.train.dropout = 0;
    pb.train.sp_gathered = 0;   /* its sequence parallelism keeps each rank's rows and gathers them again */
    pb.cluster.gpus = o.np;
    pb.cluster.gpus_per_node = o.np;
    /* this machine's ranks as zplan calibrate measured them, for the step
     * time; without a profile there is no predicted step time */
    int have_profile = 0;
    /* on a GPU, the runtime's own memory (context, cuBLAS, NCCL, the
     * allocator's rounding) as measured on this GPU before (the stored
     * profile <gpu>-cuda that a CUDA execution keeps), else the GPU preset
     * of this GPU's name, else the plan's GPU */
    zp_gpu ovh_gpu = full.cluster.gpu;
    char ovh_source[256];
    snprintf(ovh_source, sizeof ovh_source, "the plan's GPU preset %s", full.cluster.gpu.name);
    {
        zp_store *ps;
        zp_err pe = {0};
        char *pj = NULL;
        if (zp_store_open_existing(zp_db_path(o.db), &ps, &pe) == ZP_OK) {
            if (o.profile && zp_store_profile(ps, o.profile, &pj, &pe) == ZP_OK &&
                zp_gpu_from_json(pj, "the stored profile", &pb.cluster.gpu, &pe) == ZP_OK)
                have_profile = 1;
            free(pj);
            pj = NULL;
            if (cuda && zp_store_profile(ps, gpu_slug, &pj, &pe) == ZP_OK &&
                zp_gpu_from_json(pj, "the stored profile", &ovh_gpu, &pe) == ZP_OK)
                snprintf(ovh_source, sizeof ovh_source, "the stored profile %s (measured on this GPU)", gpu_slug);
            else if (cuda && zp_gpu_preset_for_device(gpu_name, &ovh_gpu))
                snprintf(ovh_source, sizeof ovh_source, "the GPU preset %s", ovh_gpu.name);
            free(pj);
            zp_store_close(ps);
        } else if (cuda && zp_gpu_preset_for_device(gpu_name, &ovh_gpu))
            snprintf(ovh_source, sizeof ovh_source, "the GPU preset %s", ovh_gpu.name);
        /* the profile this execution keeps has this GPU's own capability,
         * whichever preset or earlier profile its rates came from */
        if (gpu_cc > 0)
            ovh_gpu.compute_cap = gpu_cc;
        if (!have_profile && o.profile && strcmp(o.profile, "local-cpu") != 0)
            return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "--profile '%s' is not in %s (zplan calibrate "
                                           "--name %s makes it)", o.profile, zp_db_path(o.db), o.profile));
        if (have_profile) {   /* the profile's own rates, the plan's other conventions kept */
            zp_conv_apply_gpu(&pb.conv, &pb.cluster.gpu);
            pb.cluster.host_mem_bytes = pb.cluster.gpu.host_mem_bytes;
            /* the engine's flash kernels at the rate calibrate measured them,
             * where they run on the tensor cores (a 16-bit plan on a GPU) */
            if (pb.train.tensor_math && pb.cluster.gpu.attn_eff_engine > 0)
                pb.conv.attn_eff = pb.cluster.gpu.attn_eff_engine;
        }
    }
    pb.conv.zero3_buffer = ZP_Z3BUF_PREFETCH;   /* the engine gathers the current and the next block */
    pb.conv.overlap_eff = 0;   /* the engine's collectives block: nothing hides */
    pb.conv.dp_overlap_set = 0;   /* the data-parallel group's neither */
    pb.conv.cuda_ctx_bytes = pb.conv.nccl_comm_bytes = pb.conv.cublas_bytes = 0;
    pb.conv.frag = 0;
    pb.conv.alloc_granule_bytes = 0;
    pb.conv.bucket_elems = 0;   /* the engine reduces per layer, in place */
    pb.conv.bwd_workspace = 1;
    pb.conv.p2p_in_place = 1;   /* its pipeline sends and receives the tensors themselves */
    pb.conv.p2p_blocking = 0;   /* paired send-receives, not DeepSpeed's engine */
    pb.conv.p2p_overlap = 0;    /* which block: nothing behind them */
    pb.conv.param_gather_overlap = 0;
    pb.conv.lp_grads = 0;       /* nor its bf16 optimizer's gradient copies */
    pb.conv.zero2_reshard = 0;  /* its ZeRO-2 keeps the parameters whole, gathered after the optimizer */
    pb.conv.eager = 0;          /* nor PyTorch eager's saved tensors: the engine's own */
    pb.conv.torch_blas_ws_bytes = 0;   /* nor PyTorch's cuBLAS workspaces (its cuBLAS memory: the overhead) */
    pb.conv.ce_unfused = 0;     /* and its own loss */
    pb.conv.adam_foreach = 0;   /* its AdamW updates in place, one pass */
    pb.conv.pp_out = ZP_PPOUT_FREED;   /* it sends a stage's output and frees it */
    /* its attention's backward holds one head's T x T scores' gradients
     * (the CUDA row batches more heads in the MLP's spent gradients,
     * which it borrows: no byte more) */
    pb.conv.score_grads = ZP_SGRAD_HEAD;
    pb.conv.zero3_regather_all = 0;   /* the engine gathers the blocks again, not the head */
    /* the engine interleaves a pipeline as Megatron does: L / (pp vp)
     * layers a chunk, micro-batches a multiple of pp; a scaled plan that
     * breaks those runs (and is predicted) with vp = 1, and says so */
    if (l.vp > 1 && (l.pp < 2 || m->layers % (l.pp * l.vp) || l.grad_accum % l.pp)) {
        fprintf(stderr, "zplan: note: %s interleaves its pipeline (vp = %lld), which the engine runs when the layers "
                "(%lld) divide by pp x vp and the micro-batches (%lld) by pp; it runs 1F1B (vp = 1) instead, and the "
                "prediction beside it is for that layout\n", which, (long long)l.vp, (long long)m->layers,
                (long long)l.grad_accum);
        l.vp = 1;
    }
    l.sp = l.sp && l.tp > 1;
    zp_mem pm, pms[ZP_EXEC_MAX_STAGES];
    zp_comm pc;
    if (l.pp > ZP_EXEC_MAX_STAGES)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "%s has pp=%lld: zplan exec runs at most %d stages "
                                       "(shrink the layout: --scale pp=N)", which, (long long)l.pp,
                                       ZP_EXEC_MAX_STAGES));
    for (int64_t k = 0; k < l.pp; k++)   /* each stage's, for its ranks */
        zp_mem_stage(m, &pb.train, &l, &pb.cluster, &pb.conv, k, &pms[k]);
    pm = pms[0];
    zp_comm_plan(m, &pb.train, &l, &pb.cluster, &pb.conv, 0, &pc);
    zp_cost pcost;
    zp_cost_eval(m, &pb.train, &l, &pb.cluster, &pb.conv, &pc, &pc, &pcost);
    /* on a GPU, the products' time by the default matmul curve of the
     * device's preset, no profile (its SMs, ceiling - the benchmark one
     * where the plan asked for it - and attention rate), beside the
     * engine's measured GEMM time in the record */
    double gemm_preset[1] = {-1.0};
    zp_gpu pre;
    memset(&pre, 0, sizeof pre);
    if (cuda && zp_gpu_preset_for_device(gpu_name, &pre) && pre.sms > 0 && pre.gemm_eff_max > 0) {
        zp_problem pd = pb;
        zp_cost dc;
        pd.cluster.gpu = pre;
        pd.conv.gemm_eff = 0.0;
        pd.conv.gemm.eff_max = pb.conv.gemm_bench && pre.gemm_eff_max_bench > 0 ? pre.gemm_eff_max_bench
                                                                                 : pre.gemm_eff_max;
        pd.conv.gemm.sms = pre.sms;
        pd.conv.gemm.hbm_gbps = pre.hbm_gbps;
        pd.conv.attn_eff = pre.attn_eff > 0 ? pre.attn_eff : 0.3;
        zp_cost_eval(m, &pd.train, &l, &pd.cluster, &pd.conv, &pc, &pc, &dc);
        gemm_preset[0] = dc.gemm_s;
    }
    /* On a GPU, the runtime's memory as the planner counts it (its overhead
     * class) with this GPU's conventions: the context and cuBLAS per
     * process, an NCCL communicator for dp > 1 when each rank has a GPU of
     * its own (ranks sharing a GPU stage their collectives through the
     * host), and the allocator's rounding per tensor (the CUDA row's
     * per-tensor cudaMalloc takes whole 2 MiB pages, unless the stored
     * profile measured otherwise). */
    int shared = cuda && o.np > ngpus;
    int64_t ranks_per_gpu = cuda ? (o.np + ngpus - 1) / ngpus : 1;
    uint64_t pr_ctx = 0, pr_blas = 0, pr_comm = 0, pr_round = 0;
    if (cuda) {
        zp_conv oc = pb.conv;
        zp_mem om;
        oc.cuda_ctx_bytes = ovh_gpu.cuda_ctx_bytes;
        oc.cublas_bytes = ovh_gpu.cublas_bytes;
        oc.nccl_comm_bytes = shared ? 0 : ovh_gpu.nccl_comm_bytes;
        oc.alloc_granule_bytes = ovh_gpu.alloc_granule_bytes ? ovh_gpu.alloc_granule_bytes : ZP_CUDA_ROW_GRANULE;
        zp_mem_stage(m, &pb.train, &l, &pb.cluster, &oc, 0, &om);
        pr_ctx = oc.cuda_ctx_bytes;
        pr_blas = oc.cublas_bytes;
        /* the planner's communicators (one per group of more than one
         * rank: the data-parallel group is dp x cp) and the engine's: with
         * tp, pp or cp the world's too, which the groups are split from */
        int tied_pp = l.pp > 1 && m->tied;
        uint64_t n_plan = (uint64_t)((zp_shard_ranks(&l) > 1) + (l.tp > 1) + (l.pp > 1) + tied_pp + (zp_cp(&l) > 1));
        uint64_t n_eng = l.tp > 1 || l.pp > 1 || zp_cp(&l) > 1 ? n_plan + 1 : (uint64_t)(l.dp > 1);
        pr_comm = n_eng * oc.nccl_comm_bytes;
        pr_round = om.dev[ZP_MEM_OVERHEAD] - pr_ctx - pr_blas - n_plan * oc.nccl_comm_bytes;
    }
    /* the device cap: the plan's GPU memory scaled as the model is (on a
     * GPU: the GPU's own memory, unless --device-mem says) */
    uint64_t cap = o.device_mem, most = 0;
    for (int64_t k = 0; k < l.pp; k++)   /* the stage that needs most */
        most = pms[k].dev_total > most ? pms[k].dev_total : most;
    if (!cap && full_total > 0 && !cuda)
        cap = (uint64_t)((double)full.cluster.gpu.mem_bytes * (double)most / (double)full_total);

    /* launch */
    char engbuf[4096], npbuf[32];
    const char *eng = zp_engine_path(engbuf, sizeof engbuf), *lname;
    char a[48][64], *args[64];
    snprintf(npbuf, sizeof npbuf, "%lld", (long long)o.np);
    int n;
    if ((st = zp_launcher(args, &n, npbuf, o.hostfile, eng, &lname, &cli->err)))
        return zp_fail(cli, st);
    args[n++] = (char *)eng;
    zp_exec_engine_args(a, args, n, m, &pb.train, &l, o.steps, cap, cuda);

    /* a plan file's planning run: recorded now that all is checked */
    if (tg.plan_file && (st = zp_exec_record_planning(&tg, dbpath, o.timeout_s, &prc, &cli->err)))
        return prc ? prc : zp_fail(cli, st);
    zp_exec_launch x = {args, lname, eng, dbpath, o.timeout_s, o.json, o.hostfile != NULL, cores,
                        pb.cluster.gpu.gpus_per_node, &ovh_gpu, gpu_slug,
                        {0, tg.run_id, (int)tg.rank, NULL, 0, NULL, o.backend, o.np, o.steps, scale, &l, cap, m,
                         &pb.train, NULL, NULL, have_profile ? o.profile : NULL, &pcost, &pc, &pm, pms, l.pp, cuda, gpu_name,
                         shared, ranks_per_gpu, ovh_source, pr_ctx, pr_blas, pr_comm, pr_round, gemm_preset[0],
                         gemm_preset[0] >= 0 ? pre.name : NULL}};
    return zp_exec_run(cli, &x);
}

static const char exec_usage[] =
    "Usage: zplan exec ID[/N]|FILE.plan [--np N] [--oversubscribe] [--steps K] [--scale SPEC]\n"
    "                  [--device-mem SIZE]"
    " [--hostfile F] [--timeout S] [--profile NAME] [--backend cpu|cuda]\n"
    "                  [--db PATH] [--json]\n\n"
    "Run plan N (default 1, the best) of planning run ID, or the best plan of a plan file\n"
    "(planned and recorded first, as zplan --from FILE), for real: MPI ranks (mpirun) of\n"
    "zplan-engine train a GPT-style decoder in the plan's layout (data, tensor, pipeline and\n"
    "context parallel, ZeRO, offload, recompute), and the measured memory per class, bytes per\n"
    "collective, losses and step time are recorded beside the planner's prediction for the\n"
    "same scaled model.\n\n";
static const char exec_tail[] =
    "Progress (step, loss, time) goes to stderr.  A run ended early - Ctrl-C, a rank that\n"
    "died, a hung one after --timeout - is recorded (interrupted / failed) with the losses\n"
    "and step time of the steps it finished.\n"
    "The engine builds GPT-2's blocks and the LLaMA family's (RMSNorm, SwiGLU, rotary\n"
    "positions, grouped-query attention, untied head, no biases); a plan of another\n"
    "architecture is refused.  Its attention is the plan's: flash-style (each row's\n"
    "log-sum-exp kept) with --flash-attn, the probabilities stored without.  An\n"
    "interleaved plan whose scaled layers do not divide by pp x vp (or micro-batches\n"
    "by pp) is run and predicted with vp = 1.  Context parallelism (cp > 1) runs with\n"
    "flash attention.\n";

const zp_cmd zp_exec_cmd = {"exec", zp_cmd_exec, "run a recorded plan on MPI ranks and measure it", exec_usage,
                            exec_opts_table, exec_tail};
