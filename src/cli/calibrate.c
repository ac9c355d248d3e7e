/* calibrate.c - `zplan calibrate`: measure this machine's ranks as zplan
 * exec runs them (zplan-engine calibrate, and a fixed training step) into
 * a hardware profile stored under a name, usable as --gpu NAME. */
#include "config.h"
#include "cli.h"
#include "jsonget.h"
#include "launch.h"
#include "preset.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* the median of r[0 .. n-1] (n > 0), sorting them */
static double median(double *r, int n)
{
    qsort(r, (size_t)n, sizeof *r, cmp_dbl);
    return n % 2 ? r[n / 2] : 0.5 * (r[n / 2 - 1] + r[n / 2]);
}

/* The calibration step: the engine trains a fixed GPT (2 layers, hidden
 * 384, 6 heads, vocabulary 512, sequence 128, micro-batch 4, data
 * parallel) for 6 steps on the ranks, three times (the medians: a shared
 * machine's timings wander).  From the steady steps (rank 0): the matmul
 * efficiency is the planner's matmul time for it at the sgemm peak over the
 * time the engine spent in sgemm; the rest of forward + backward is the
 * non-matmul kernels, whose rate is the planner's count of their traffic
 * (zp_elementwise_bytes) over that time.  The efficiency is 0 when a run
 * failed; *ew_bps 0 when no time was left over. */
enum { CAL_L = 2, CAL_H = 384, CAL_A = 6, CAL_V = 512, CAL_T = 128, CAL_B = 4 };

static double calibration_step(char **args, int n, const char *eng, double peak, int64_t np, int64_t timeout_s,
                               double *ew_bps, cJSON **measured)
{
    static char kv[8][32];
    snprintf(kv[0], 32, "layers=%d", CAL_L), snprintf(kv[1], 32, "hidden=%d", CAL_H);
    snprintf(kv[2], 32, "heads=%d", CAL_A), snprintf(kv[3], 32, "vocab=%d", CAL_V);
    snprintf(kv[4], 32, "seq=%d", CAL_T), snprintf(kv[5], 32, "micro_batch=%d", CAL_B);
    snprintf(kv[6], 32, "steps=6"), snprintf(kv[7], 32, "zero=0");
    args[n++] = (char *)eng;
    for (int i = 0; i < 8; i++)
        args[n++] = kv[i];
    args[n] = NULL;
    *ew_bps = 0.0;
    enum { RUNS = 3 };
    double ts[RUNS], tgs[RUNS];
    cJSON *o = NULL;
    for (int r = 0; r < RUNS; r++) {
        char *out = NULL;
        int rc = zp_run_capture(args, timeout_s, NULL, &out, NULL);
        cJSON_Delete(o);
        o = out ? cJSON_Parse(out) : NULL;
        free(out);
        ts[r] = zp_jnum(o, "steady_compute_s"), tgs[r] = zp_jnum(zp_jobj(o, "gemm"), "seconds_per_step");
        if (rc != 0 || ts[r] <= 0 || tgs[r] <= 0) {
            cJSON_Delete(o);
            return 0.0;
        }
    }
    qsort(ts, RUNS, sizeof(double), cmp_dbl);
    qsort(tgs, RUNS, sizeof(double), cmp_dbl);
    double t = ts[RUNS / 2], tg = tgs[RUNS / 2];
    zp_model m = {0};
    snprintf(m.name, sizeof m.name, "calibration");
    m.layers = CAL_L, m.hidden = CAL_H, m.heads = m.kv_heads = CAL_A, m.ffn = 4 * CAL_H, m.vocab = CAL_V;
    m.max_pos = CAL_T, m.tied = 1, m.bias = 1, m.mlp = ZP_MLP_GELU, m.norm = ZP_NORM_LAYERNORM;
    m.pos = ZP_POS_LEARNED;
    zp_train tr = {0};
    tr.seq = CAL_T, tr.global_batch = CAL_B * np, tr.dtype = tr.grad_dtype = ZP_DT_FP32, tr.optim = ZP_OPT_ADAM;
    zp_layout l = {0};
    l.dp = np, l.tp = l.pp = l.vp = 1, l.micro_batch = CAL_B, l.grad_accum = 1, l.ckpt = ZP_CKPT_NONE;
    zp_cluster c = {0};
    c.gpu.peak_flops[ZP_DT_FP32] = peak, c.gpu.hbm_gbps = c.gpu.nvlink_gbps = c.gpu.pcie_gbps = 1.0;
    c.gpus = c.gpus_per_node = np, c.gpu.gpus_per_node = np, c.inter_node_gbps = 1.0;
    zp_conv cv;
    zp_conv_defaults(&cv, &c.gpu);
    cv.gemm_eff = 1.0;   /* and no elementwise rate: the matmuls alone */
    zp_comm cm;
    zp_cost cost;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    zp_cost_eval(&m, &tr, &l, &c, &cv, &cm, &cm, &cost);
    double ew = zp_elementwise_bytes(&m, &tr, &l, 1);
    if (t > tg)
        *ew_bps = ew / (t - tg);
    *measured = cJSON_CreateObject();
    cJSON_AddStringToObject(*measured, "model", "layers=2,hidden=384,heads=6,vocab=512,seq=128,micro_batch=4");
    cJSON_AddNumberToObject(*measured, "forward_backward_s", t);
    cJSON_AddNumberToObject(*measured, "gemm_s", tg);
    cJSON_AddNumberToObject(*measured, "compute_s_at_peak", cost.compute_s);
    cJSON_AddNumberToObject(*measured, "elementwise_bytes", ew);
    cJSON_AddNumberToObject(*measured, "engine_gemm_efficiency", zp_jnum(zp_jobj(o, "gemm"), "efficiency"));
    cJSON_AddNumberToObject(*measured, "engine_overhead_fraction", zp_jnum(o, "overhead_fraction"));
    cJSON_Delete(o);
    double eff = cost.compute_s / tg;
    return eff > 1.0 ? 1.0 : eff;
}

/* The hardware profile, in the GPU preset format (data/gpus/), from what
 * `zplan-engine calibrate` measured on np ranks. */
static cJSON *profile_json(const cJSON *m, const char *name, int64_t np, double eff, double ew_bps, cJSON *step)
{
    double peak = zp_jnum(m, "sgemm_peak_flops_per_s"), rates[64];
    int n = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, zp_jobj(m, "sgemm")) if (n < 64) rates[n++] = zp_jnum(x, "flops_per_s");
    qsort(rates, (size_t)n, sizeof(double), cmp_dbl);
    double adam = zp_jnum(m, "adam_params_per_s"), bus = zp_jnum(m, "bus_bytes_per_s");
    double ram = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    char host[256] = "this machine", desc[512], src[512], when[32];
    gethostname(host, sizeof host - 1);
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    snprintf(desc, sizeof desc, "%lld CPU ranks of %s (OpenBLAS, one thread each)", (long long)np, host);
    snprintf(src, sizeof src, "measured by zplan calibrate on %lld ranks, %s: sgemm peak; efficiency = the "
             "planner's matmul time at that peak / the sgemm time of a training step of the engine; elementwise = "
             "the planner's non-matmul traffic / the rest of that step's forward + backward; the AdamW pass "
             "(28 B/param fp32 as memory bandwidth), memcpy between pools, MPI collectives fitted as latency per "
             "ring step + bus bytes / bandwidth", (long long)np, when);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", name);
    cJSON_AddStringToObject(p, "description", desc);
    cJSON_AddNumberToObject(p, "memory_mib", floor(ram / (double)np / 1048576.0));
    cJSON *pk = cJSON_AddObjectToObject(p, "peak_tflops");
    for (int d = 0; d < ZP_DT_N; d++)
        if (d == ZP_DT_FP32)
            cJSON_AddNumberToObject(pk, zp_dtype_names[d], peak / 1e12);
        else
            cJSON_AddNullToObject(pk, zp_dtype_names[d]);
    cJSON_AddNumberToObject(p, "hbm_gbps", adam * 28.0 / 1e9);
    cJSON_AddNumberToObject(p, "nvlink_gbps", bus > 0 ? bus / 1e9 : 1.0);
    cJSON_AddNumberToObject(p, "pcie_gbps", zp_jnum(m, "memcpy_bytes_per_s") / 1e9);
    cJSON_AddNumberToObject(p, "nic_gbps", bus > 0 ? bus / 1e9 : 1.0);
    cJSON_AddNumberToObject(p, "gpus_per_node", (double)np);
    cJSON_AddNumberToObject(p, "host_mem_gib", ram / 1073741824.0);
    cJSON_AddNumberToObject(p, "cuda_context_mib", 0);
    cJSON_AddNumberToObject(p, "nccl_comm_mib", 0);
    /* the matmul efficiency of a real step (calibration_step); the median
     * sgemm rate at the engine's shapes over the peak when that failed */
    double mat = n && peak > 0 ? rates[n / 2] / peak : 1.0;
    cJSON_AddNumberToObject(p, "gemm_efficiency", eff > 0 ? eff : mat);
    cJSON_AddNumberToObject(p, "sgemm_shape_efficiency", mat);
    cJSON_AddNumberToObject(p, "latency_us", zp_jnum(m, "latency_s") * 1e6);
    cJSON_AddNumberToObject(p, "link_efficiency", 1.0);   /* the bandwidths are as achieved */
    cJSON_AddNumberToObject(p, "host_adam_params_per_s", adam);
    if (eff > 0 && ew_bps > 0)   /* the non-matmul kernels, timed apart from the matmuls */
        cJSON_AddNumberToObject(p, "elementwise_gbps", ew_bps / 1e9);
    cJSON_AddStringToObject(p, "source", src);
    cJSON *md = cJSON_Duplicate(m, 1);
    if (step)
        cJSON_AddItemToObject(md, "calibration_step", step);
    cJSON_AddItemToObject(p, "measured", md);
    return p;
}

typedef struct calib_opts {
    const char *db, *name, *hostfile, *gpu;
    int64_t np, timeout_s;
    int json, help, cuda, np_set, name_set;
} calib_opts;

enum { C_NP = 1, C_NAME, C_HOSTFILE, C_TIMEOUT, C_BACKEND, C_GPU, C_DB, C_JSON, C_HELP };

static const zp_opt calib_opts_table[] = {
    {"np", C_NP, "N", NULL, "ranks (default 2)", "Options:"},
    {"name", C_NAME, "NAME", NULL, "the profile's name (default local-cpu): 1 to 31 of a-z, 0-9, - _ .;\nnot a preset's, which --gpu finds first", NULL},
    {"hostfile", C_HOSTFILE, "F", NULL, "Open MPI hostfile for several machines", NULL},
    {"timeout", C_TIMEOUT, "S", NULL, "end a hung calibration after S seconds (default 600)", NULL},
    {"backend", C_BACKEND, "B", NULL, "cpu (the default: N CPU ranks) or cuda (one GPU through the engine's\nCUDA row: a GPU profile)", NULL},
    {"gpu", C_GPU, "PRESET", NULL, "with --backend cuda, the preset whose peaks and links the profile keeps\n(default: the one the device's name names)", NULL},
    ZP_OPT_DB(C_DB, NULL),
    {"json", C_JSON, NULL, NULL, "print the profile as JSON", NULL},
    ZP_OPT_HELP(C_HELP),
    ZP_OPT_END};

static zp_status calib_set(void *ctx, int id, const char *v, zp_err *e)
{
    calib_opts *o = ctx;
    switch (id) {
    case C_DB: return zp_opt_db(v, &o->db, e);
    case C_HOSTFILE: o->hostfile = v; break;
    case C_JSON: o->json = 1; break;
    case C_HELP: o->help = 1; break;
    case C_NAME: {
        int good = *v && strlen(v) <= 31;
        for (const char *c = v; *c; c++)
            good &= (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.';
        if (!good)
            return zp_err_set(e, ZP_EINVAL, "--name '%s': allowed are 1 to 31 of a-z, 0-9, '-', '_', '.'", v);
        /* --gpu NAME finds a preset before a profile: one by a preset's
         * name could never be used */
        zp_gpu g;
        zp_err pe = {0};
        if (zp_gpu_preset(v, &g, &pe) == ZP_OK)
            return zp_err_set(e, ZP_EINVAL, "--name '%s' is a GPU preset's (zplan gpus), which --gpu %s would find "
                              "first (allowed: a name no preset has, e.g. local-cpu)", v, v);
        o->name = v;
        o->name_set = 1;
        break;
    }
    case C_GPU: o->gpu = v; break;
    case C_NP: o->np_set = 1; return zp_parse_int("--np", v, 1, 4096, &o->np, e);
    case C_TIMEOUT: return zp_parse_int("--timeout", v, 1, 86400, &o->timeout_s, e);
    case C_BACKEND:
        if (strcmp(v, "cpu") && strcmp(v, "cuda"))
            return zp_err_set(e, ZP_EINVAL, "--backend '%s': allowed cpu, cuda", v);
        o->cuda = !strcmp(v, "cuda");
        break;
    default: break;
    }
    return ZP_OK;
}

/* Close the store after a failed calibration; a database this run
 * created (empty but for zplan's tables) is removed, as if never made. */
static void close_store(zp_store *s, const char *path, int existed)
{
    zp_store_close(s);
    if (existed)
        return;
    char f[4200];
    unlink(path);
    snprintf(f, sizeof f, "%s-wal", path);
    unlink(f);
    snprintf(f, sizeof f, "%s-shm", path);
    unlink(f);
}

/* Keep profile p: checked as the planner reads it (a measurement out of
 * range is a runtime failure, not bad input), stored under name, printed
 * as JSON with json; the store closed, and a database this run created
 * removed on a failure.  0, or zplan's exit status (p then deleted). */
static int keep_profile(zp_cli *cli, zp_store *s, const char *dbp, int existed, const char *name, cJSON *p, int json)
{
    char *txt = p ? cJSON_PrintUnformatted(p) : NULL;
    zp_status st = txt ? ZP_OK : zp_err_set(&cli->err, ZP_ENOMEM, "out of memory");
    zp_gpu check;
    if (txt && zp_gpu_from_json(txt, "the measured profile", &check, &cli->err)) {
        char why[sizeof cli->err.msg];
        snprintf(why, sizeof why, "%s", cli->err.msg);
        st = zp_err_set(&cli->err, ZP_EIO, "the calibration measured nonsense: %s", why);
    }
    if (!st)
        st = zp_store_put_profile(s, name, txt, &cli->err);
    free(txt);
    if (st) {
        close_store(s, dbp, existed);
        cJSON_Delete(p);
        return zp_fail(cli, st);
    }
    zp_store_close(s);
    if (json) {
        char *t = cJSON_Print(p);
        puts(t ? t : "{}");
        free(t);
    }
    return 0;
}

/* --backend cuda: one GPU measured through the engine's CUDA row
 * (zplan-engine calibrate backend=cuda, devcal.c) into a GPU profile: the
 * preset of the device (or --gpu) for its peaks and links, and from the
 * measurement the matmul curve's ceiling, its SMs, the elementwise rate,
 * the engine's flash attention rate (attention_efficiency_engine), the
 * runtime's memory (context, cuBLAS), the device's memory, the
 * allocator's granule and the compute capability.  The ceiling is fitted
 * so that the planner's curve (gemm.c: tiles, waves, the K loop) gives the
 * measured bf16 rates: the median over the measured shapes of at least
 * 2 x 2048^3 FLOPs of measured efficiency / the curve's at a ceiling of 1,
 * kept as the benchmark ceiling (what cuBLAS reached here alone: the
 * engine's own products); the ceiling sustained in training keeps the
 * preset's ratio to its benchmark one. */
static double devcal_fit(const cJSON *m, const zp_gpu *g, zp_dtype dt, cJSON *rows)
{
    zp_gemm_curve c = {1.0, g->sms, ZP_GEMM_K_HALF, g->hbm_gbps};
    double r[64], peak = g->peak_flops[dt];
    int n = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, zp_jobj(m, "gemm"))
    {
        /* (the products from fp32 tensors, as the engine runs them; not
         * devcal's bf16-operand ones beside them) */
        const char *op = zp_jstr(x, "operands");
        if (strcmp(zp_jstr(x, "dtype"), zp_dtype_names[dt]) || (*op && strcmp(op, "fp32")) || n >= 64 || peak <= 0)
            continue;
        double M = zp_jnum(x, "m"), N = zp_jnum(x, "n"), K = zp_jnum(x, "k");
        /* products under 2 x 2048^3 FLOPs are left out: there the launch
         * and the kernel's ramp, which the planner counts apart
         * (kernel_us), weigh on the time */
        if (2.0 * M * N * K < 2.0 * 2048.0 * 2048.0 * 2048.0)
            continue;
        double meas = zp_jnum(x, "flops_per_s") / peak, shape = zp_gemm_shape_eff(&c, M, N, K, 1.0);
        if (meas <= 0 || shape <= 0)
            continue;
        r[n++] = meas / shape;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dtype", zp_dtype_names[dt]);
        cJSON_AddNumberToObject(o, "m", M);
        cJSON_AddNumberToObject(o, "n", N);
        cJSON_AddNumberToObject(o, "k", K);
        cJSON_AddNumberToObject(o, "measured_efficiency", meas);
        cJSON_AddNumberToObject(o, "curve_shape_factor", shape);
        cJSON_AddItemToArray(rows, o);
    }
    if (n == 0)
        return 0.0;
    double e = median(r, n);
    return e > 1.0 ? 1.0 : e;
}

/* devcal's products from bf16 operands against the same shapes' from fp32
 * tensors under bf16 math (operands "fp32", or none said): the median
 * ratio of their rates (0: none) */
static double operand_ratio(const cJSON *m)
{
    double r[64];
    int n = 0;
    const cJSON *x, *y;
    cJSON_ArrayForEach(x, zp_jobj(m, "gemm"))
    {
        if (strcmp(zp_jstr(x, "operands"), "bf16") || n >= 64)
            continue;
        cJSON_ArrayForEach(y, zp_jobj(m, "gemm"))
        if (strcmp(zp_jstr(y, "operands"), "bf16") && !strcmp(zp_jstr(y, "dtype"), "bf16") &&
            zp_jnum(y, "m") == zp_jnum(x, "m") && zp_jnum(y, "n") == zp_jnum(x, "n") &&
            zp_jnum(y, "k") == zp_jnum(x, "k") && zp_jnum(y, "flops_per_s") > 0) {
            r[n++] = zp_jnum(x, "flops_per_s") / zp_jnum(y, "flops_per_s");
            break;
        }
    }
    if (n == 0)
        return 0.0;
    return median(r, n);
}

static int calibrate_cuda(zp_cli *cli, const calib_opts *co)
{
    zp_status st;
    if (co->np_set && co->np != 1)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "--np %lld with --backend cuda: it measures one GPU "
                                       "(allowed: --np 1, or none)", (long long)co->np));
    if (co->hostfile)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "--hostfile with --backend cuda: it measures one GPU "
                                       "of this machine"));
    zp_gpu base;
    if (co->gpu && (st = zp_gpu_preset(co->gpu, &base, &cli->err)))
        return zp_fail(cli, st);
    char engbuf[4096];
    const char *eng = zp_engine_path(engbuf, sizeof engbuf), *lname;
    char *args[24];
    int n;
    if ((st = zp_launcher(args, &n, "1", NULL, eng, &lname, &cli->err)))
        return zp_fail(cli, st);
    zp_store *s;
    const char *dbp = zp_db_path(co->db);
    int existed = access(dbp, F_OK) == 0;
    if ((st = zp_store_open(dbp, &s, &cli->err)))
        return zp_fail(cli, st);
    args[n++] = (char *)eng, args[n++] = "calibrate", args[n++] = "backend=cuda", args[n] = NULL;
    fprintf(stderr, "%s: calibrating GPU 0 (cuBLAS GEMMs under bf16 math and in fp32, the elementwise rate, flash "
            "attention, the runtime's memory)...\n", cli->prog);
    char *out = NULL;
    int rc = zp_run_capture(args, co->timeout_s, NULL, &out, NULL);
    /* the engine's JSON is its last line (a launcher may print before it) */
    const char *last = out ? out : "";
    for (const char *q = last; out && *q; q++)
        if (*q == '\n' && q[1] && q[1] != '\n')
            last = q + 1;
    cJSON *m = cJSON_Parse(last);
    free(out);
    if (rc != 0 || !m || strcmp(zp_jstr(m, "status"), "ok") != 0) {
        char why[300];
        snprintf(why, sizeof why, "%s", m && *zp_jstr(m, "error") ? zp_jstr(m, "error") : "no result");
        cJSON_Delete(m);
        close_store(s, dbp, existed);
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "the GPU calibration failed (%s exit %d): %s", lname, rc,
                                       rc == 124 ? "timed out (--timeout)" : why));
    }
    const char *dev = zp_jstr(m, "device");
    if (!co->gpu && !zp_gpu_preset_for_device(dev, &base)) {
        cJSON_Delete(m);
        close_store(s, dbp, existed);
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "the GPU '%s' is no preset's (zplan gpus): give the "
                                       "preset whose peaks it has with --gpu PRESET", dev));
    }
    zp_gpu pg = base;
    char name[32];
    if (co->name_set)
        snprintf(name, sizeof name, "%s", co->name);
    else {   /* the preset's name, lower case, and -cal: h200-cal */
        size_t k = 0;
        for (const char *c = base.name; *c && k < sizeof name - 5; c++, k++)
            name[k] = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a')
                      : ((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '_') ? *c
                                                                                                       : '-';
        snprintf(name + k, sizeof name - k, "-cal");
    }
    snprintf(pg.name, sizeof pg.name, "%s", name);
    snprintf(pg.desc, sizeof pg.desc, "%.60s, rates measured by zplan calibrate", *dev ? dev : base.name);
    if (zp_jnum(m, "sms") > 0)
        pg.sms = (int64_t)zp_jnum(m, "sms");
    if (zp_jnum(m, "compute_capability") > 0)
        pg.compute_cap = zp_jnum(m, "compute_capability");
    cJSON *rows = cJSON_CreateArray();
    /* the planner has one ceiling for 16-bit products (bf16's); fp32's,
     * what the engine's fp32 compute reaches, is fitted and kept beside it */
    double emax = pg.sms > 0 ? devcal_fit(m, &pg, ZP_DT_BF16, rows) : 0.0;
    double emax32 = pg.sms > 0 ? devcal_fit(m, &pg, ZP_DT_FP32, rows) : 0.0;
    if (emax <= 0) {
        cJSON_Delete(rows);
        cJSON_Delete(m);
        close_store(s, dbp, existed);
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "the GPU calibration measured no bf16 GEMM of 2 x 2048^3 "
                                       "FLOPs or more%s: no curve to fit", pg.sms > 0 ? "" : " (nor the GPU's SMs)"));
    }
    /* what cuBLAS reached here alone is a short benchmark's ceiling; the
     * one sustained in training keeps the preset's ratio to it (Hopper's
     * 0.72 to 0.84: llm-foundry's runs against MAMF), the same where the
     * preset has one ceiling only */
    pg.gemm_eff_max_bench = emax;
    pg.gemm_eff_max = base.gemm_eff_max > 0 && base.gemm_eff_max_bench > 0
                          ? emax * base.gemm_eff_max / base.gemm_eff_max_bench
                          : emax;
    double ew = zp_jnum(zp_jobj(m, "elementwise"), "bytes_per_s");
    if (ew > 0)
        pg.elementwise_bps = ew;
    /* flash attention's rate under bf16 math (the engine's tensor-core
     * kernels), the median over the shapes measured, a fraction of the
     * bf16 peak on the FLOPs its products do: the profile's
     * attention_efficiency_engine, the rate zplan exec --profile plans
     * the engine's flash attention with (attention_efficiency stays the
     * preset's, fitted to the frameworks' kernels, for other plans) */
    double ar[8];
    int na = 0;
    const cJSON *ax;
    cJSON_ArrayForEach(ax, zp_jobj(m, "attention"))
    if (na < 8 && zp_jnum(ax, "flops_per_s") > 0 && !strcmp(zp_jstr(ax, "dtype"), "bf16"))
        ar[na++] = zp_jnum(ax, "flops_per_s");
    if (na > 0 && pg.peak_flops[ZP_DT_BF16] > 0)
        pg.attn_eff_engine = median(ar, na) / pg.peak_flops[ZP_DT_BF16];
    const cJSON *rt = zp_jobj(m, "runtime_bytes");
    if (zp_jnum(rt, "context") > 0)
        pg.cuda_ctx_bytes = (uint64_t)zp_jnum(rt, "context");
    if (zp_jnum(rt, "blas") > 0)
        pg.cublas_bytes = (uint64_t)zp_jnum(rt, "blas");
    if (zp_jnum(m, "device_memory_bytes") > 0)
        pg.mem_bytes = (uint64_t)zp_jnum(m, "device_memory_bytes");
    if (zp_jnum(m, "granule_bytes") > 0)
        pg.alloc_granule_bytes = (uint64_t)zp_jnum(m, "granule_bytes");
    char src[512], when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    snprintf(src, sizeof src, "measured by zplan calibrate --backend cuda, %s, through the engine's CUDA row: the matmul "
             "curve's ceiling fitted to cuBLAS's rates on fp32 tensors under bf16 math, as the engine's gemm=bf16 (the median of measured / the curve's shape factor), the "
             "elementwise rate of y += x, flash attention's under bf16 math (attention_efficiency_engine), the context and cuBLAS bytes by cudaMemGetInfo; peaks and links from the "
             "preset %s", when, base.name);
    cJSON *p = zp_gpu_to_json(&pg, src);
    if (p) {
        cJSON *md = cJSON_Duplicate(m, 1);
        cJSON_AddItemToObject(md, "gemm_fit", rows);
        cJSON_AddNumberToObject(md, "gemm_fit_fp32_ceiling", emax32);
        rows = NULL;
        cJSON_AddItemToObject(p, "measured", md);
    }
    cJSON_Delete(rows);
    cJSON_Delete(m);
    int krc = keep_profile(cli, s, dbp, existed, name, p, co->json);
    if (krc)
        return krc;
    if (!co->json) {
        char b1[32], b2[32];
        printf("Profile '%s' (%s), stored in %s:\n", name, pg.desc, dbp);
        printf("  bf16 matmuls       the curve's ceiling %.1f%% of the %.1f TFLOP/s peak alone (the preset's "
               "benchmark: %.1f%%), %.1f%% sustained in training (the preset's: %.1f%%)\n",
               100 * pg.gemm_eff_max_bench, pg.peak_flops[ZP_DT_BF16] / 1e12, 100 * base.gemm_eff_max_bench,
               100 * pg.gemm_eff_max, 100 * base.gemm_eff_max);
        const cJSON *x;
        cJSON_ArrayForEach(x, zp_jobj(zp_jobj(p, "measured"), "gemm_fit"))
        printf("    %-4s %5.0f x %5.0f x %5.0f   measured %5.1f%%, the fitted curve %5.1f%%\n", zp_jstr(x, "dtype"),
               zp_jnum(x, "m"), zp_jnum(x, "n"), zp_jnum(x, "k"), 100 * zp_jnum(x, "measured_efficiency"),
               100 * (strcmp(zp_jstr(x, "dtype"), "bf16") ? emax32 : pg.gemm_eff_max_bench) *
                   zp_jnum(x, "curve_shape_factor"));
        printf("  fp32 matmuls       the curve's ceiling %.1f%% of the %.1f TFLOP/s fp32 peak (kept in measured)\n",
               100 * emax32, pg.peak_flops[ZP_DT_FP32] / 1e12);
        double opr = operand_ratio(zp_jobj(p, "measured"));
        if (opr > 0)
            printf("  bf16 operands      %.2f x the rate from fp32 tensors under bf16 math (the median over the "
                   "layers' shapes: what converting the engine's operands first would give)\n", opr);
        if (pg.elementwise_bps > 0)
            printf("  elementwise        %.0f GB/s (y += x)\n", pg.elementwise_bps / 1e9);
        if (na > 0)
            printf("  flash attention    %.1f%% of the bf16 peak on its products' FLOPs (bf16 math, the median of %d "
                   "shapes; the engine's: attention_efficiency_engine)\n", 100 * pg.attn_eff_engine, na);
        printf("  runtime memory     context %s, cuBLAS %s\n",
               zp_fmt_bytes(b1, sizeof b1, pg.cuda_ctx_bytes, ZP_UNITS_BINARY),
               zp_fmt_bytes(b2, sizeof b2, pg.cublas_bytes, ZP_UNITS_BINARY));
        printf("Plan with it: zplan --gpu %s ... (--gemm-ceiling benchmark: the engine's products, as measured); "
               "zplan exec --backend cuda --profile %s.\n", name, name);
    }
    cJSON_Delete(p);
    return 0;
}

static int zp_cmd_calibrate(zp_cli *cli, int argc, char **argv)
{
    const char *db = NULL, *name = "local-cpu", *hostfile = NULL;
    int64_t np = 2, timeout_s = 600;
    int json = 0;
    zp_status st;
    calib_opts co = {NULL, "local-cpu", NULL, NULL, 2, 600, 0, 0, 0, 0, 0};
    int npos;
    if ((st = zp_opts_parse("calibrate", calib_opts_table, argc, argv, calib_set, &co, NULL, 0, &npos, &cli->err)))
        return zp_fail(cli, st);
    if (co.help)
        return zp_usage(&zp_calibrate_cmd);
    if (co.cuda)
        return calibrate_cuda(cli, &co);
    if (co.gpu)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EINVAL, "--gpu %s: only with --backend cuda (the CPU ranks' "
                                       "profile has no preset)", co.gpu));
    db = co.db, name = co.name, hostfile = co.hostfile, np = co.np, timeout_s = co.timeout_s, json = co.json;
    char engbuf[4096], npbuf[32];
    const char *eng = zp_engine_path(engbuf, sizeof engbuf), *lname;
    snprintf(npbuf, sizeof npbuf, "%lld", (long long)np);
    char *args[24];
    int n, nl;
    if ((st = zp_launcher(args, &n, npbuf, hostfile, eng, &lname, &cli->err)))
        return zp_fail(cli, st);
    /* the database that keeps the profile, opened for writing before the
     * measurement (one it cannot write is refused before the minutes it takes) */
    zp_store *s;
    const char *dbp = zp_db_path(db);
    int existed = access(dbp, F_OK) == 0;
    if ((st = zp_store_open(dbp, &s, &cli->err)))
        return zp_fail(cli, st);
    nl = n;
    args[n++] = (char *)eng, args[n++] = "calibrate", args[n] = NULL;
    fprintf(stderr, "%s: calibrating %lld CPU rank%s (sgemm, AdamW, memcpy%s)...\n", cli->prog, (long long)np,
            np == 1 ? "" : "s", np == 1 ? "" : ", collectives");
    if (np == 1)   /* no collective to time: the profile's links are a placeholder */
        fprintf(stderr, "%s: note: one rank times no collective, so the profile's links are set to 1 GB/s; plans "
                "across ranks need --np 2 or more\n", cli->prog);
    char *out = NULL;
    int rc = zp_run_capture(args, timeout_s, NULL, &out, NULL);
    cJSON *m = out ? cJSON_Parse(out) : NULL;
    free(out);
    if (rc != 0 || !m || zp_jnum(m, "sgemm_peak_flops_per_s") <= 0) {
        cJSON_Delete(m);
        close_store(s, dbp, existed);
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "the calibration run failed (%s exit %d)%s", lname, rc,
                                       rc == 124 ? ": timed out (--timeout)" : ""));
    }
    cJSON *step = NULL;
    fprintf(stderr, "%s: a training step of the engine for the compute rates...\n", cli->prog);
    double ew_bps;
    double eff = calibration_step(args, nl, eng, zp_jnum(m, "sgemm_peak_flops_per_s"), np, timeout_s, &ew_bps,
                                  &step);
    cJSON *p = profile_json(m, name, np, eff, ew_bps, step);
    cJSON_Delete(m);
    int krc = keep_profile(cli, s, dbp, existed, name, p, json);
    if (krc)
        return krc;
    if (!json) {
        const cJSON *pk = zp_jobj(p, "peak_tflops");
        printf("Profile '%s' (%s), stored in %s:\n", name, zp_jstr(p, "description"), zp_db_path(db));
        printf("  sgemm per rank     %.1f GFLOP/s peak, %.0f%% of it at the engine's shapes (median)\n",
               zp_jnum(pk, "fp32") * 1e3, 100 * zp_jnum(p, "sgemm_shape_efficiency"));
        printf("  a training step    %.0f%% of the peak in its matmuls (the profile's efficiency)",
               100 * zp_jnum(p, "gemm_efficiency"));
        if (zp_jnum(p, "elementwise_gbps") > 0)
            printf("; the other kernels %.1f GB/s of traffic", zp_jnum(p, "elementwise_gbps"));
        printf("\n");
        printf("  AdamW per rank     %.3g parameters/s (%.1f GB/s at 28 B/param)\n",
               zp_jnum(p, "host_adam_params_per_s"), zp_jnum(p, "hbm_gbps"));
        printf("  memcpy             %.1f GB/s\n", zp_jnum(p, "pcie_gbps"));
        if (np > 1)
            printf("  collectives        %.2f us per ring step + bus bytes at %.2f GB/s\n", zp_jnum(p, "latency_us"),
                   zp_jnum(p, "nvlink_gbps"));
        printf("  memory per rank    %s\n", zp_fmt_bytes(npbuf, sizeof npbuf,
                                                        (uint64_t)(zp_jnum(p, "memory_mib") * 1048576.0), ZP_UNITS_BINARY));
        printf("Plan with it: zplan --gpu %s --gpus %lld --dtype fp32 ...; zplan exec predicts step times with it.\n",
               name, (long long)np);
    }
    cJSON_Delete(p);
    return 0;
}

static const char calibrate_usage[] =
    "Usage: zplan calibrate [--np N] [--name NAME] [--hostfile F] [--timeout S] [--backend cpu]\n"
    "                       [--db PATH] [--json]\n"
    "       zplan calibrate --backend cuda [--gpu PRESET] [--name NAME] [--timeout S] [--db PATH] [--json]\n\n"
    "Measure this machine's CPU ranks as zplan exec runs them (N ranks of zplan-engine\n"
    "at once, OpenBLAS with one thread each): sgemm FLOP/s at square sizes and at the\n"
    "engine's shapes, the AdamW pass, memcpy between pools, and the MPI all-reduce,\n"
    "reduce-scatter and all-gather at several sizes, fitted as latency per ring step +\n"
    "bus bytes / bandwidth.  The result is stored in the database as a hardware profile\n"
    "in the GPU preset format: plan with --gpu NAME, and zplan exec predicts step times\n"
    "with it.\n"
    "With --backend cuda it measures GPU 0 through the engine's CUDA row instead: cuBLAS's\n"
    "GEMMs as the engine runs them (fp32 tensors under bf16 math, its gemm=bf16, and exact\n"
    "fp32) at square sizes and at training layers' shapes (the planner's matmul curve's\n"
    "ceiling fitted to the bf16 ones), the elementwise rate, flash attention's rate under\n"
    "bf16 math (attention_efficiency_engine), the CUDA context's and cuBLAS's memory; the profile (default name: the preset's, with -cal) keeps the\n"
    "preset's peaks and links.\n";

const zp_cmd zp_calibrate_cmd = {"calibrate", zp_cmd_calibrate, "measure this machine's CPU ranks as a hardware profile",
                                 calibrate_usage, calib_opts_table, NULL};
