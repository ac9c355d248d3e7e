/* render.c - the human-readable answer, printed from the result JSON. */
#include "render.h"
#include "jsonget.h"

#include <math.h>
#include <string.h>

/* A stored string as printed on a terminal: control characters (an escape
 * sequence in a name edited in the database) shown as '?'.  Rotating
 * buffers, so that one printf may take several. */
const char *zp_printable(char *b, size_t n, const char *v)
{
    size_t i = 0;
    for (; v && v[i] && i + 1 < n; i++)
        b[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
    b[i] = '\0';
    return b;
}

/* "st", "nd", "rd" or "th" after n (2nd, 11th, 23rd) */
static const char *ordinal(double n)
{
    long k = (long)n;
    if (k % 100 >= 11 && k % 100 <= 13)
        return "th";
    return k % 10 == 1 ? "st" : k % 10 == 2 ? "nd" : k % 10 == 3 ? "rd" : "th";
}

static const char *S(const cJSON *o, const char *k)
{
    static char buf[16][512];
    static int next;
    return zp_printable(buf[next++ % 16], sizeof buf[0], zp_jstr(o, k));
}

static const char *bytes(char *buf, size_t n, double b, zp_units u)
{
    /* a stored number past what 64 bits hold (a damaged record) prints as
     * the largest, not as whatever the conversion makes of it */
    return zp_fmt_bytes(buf, n, !(b > 0) ? 0 : b >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)b, u);
}

/* predicted a against measured b as a signed percentage of b, "-" when
 * nothing was measured; an error that rounds to zero is "0.0%", not -0.0% */
static const char *pct(char *buf, size_t n, double a, double b)
{
    if (!(b > 0)) {
        snprintf(buf, n, "-");
        return buf;
    }
    double v = 100.0 * (a - b) / b;
    if (fabs(v) < 0.05)
        snprintf(buf, n, "0.0%%");
    else
        snprintf(buf, n, "%+.1f%%", v);
    return buf;
}

static const char *gunit(zp_units u) { return u == ZP_UNITS_DECIMAL ? "GB" : "GiB"; }
static double g(double b, zp_units u) { return b / (u == ZP_UNITS_DECIMAL ? 1e9 : 1073741824.0); }

/* What a plan offloads to the host: its --offload, and "act" with its
 * activations offloaded (absent in runs stored before: not). */
static const char *offload_text(const cJSON *p, char *buf, size_t n)
{
    const char *o = S(p, "offload");
    if (!zp_jflag(p, "act_offload"))
        return o;
    snprintf(buf, n, "%s", !strcmp(o, "none") ? "activations" : !strcmp(o, "optimizer") ? "optimizer+act" : "opt+params+act");
    return buf;
}

static void plan_row(FILE *out, int i, const cJSON *p, zp_units u)
{
    char ot[24];
    char cm[32], st[32];
    const cJSON *m = zp_jobj(p, "memory_bytes");
    double cp = zp_jnum(p, "cp") > 1 ? zp_jnum(p, "cp") : 1;   /* absent before --cp: 1 */
    fprintf(out, "%3d %5.0f %3.0f %3.0f %2.0f %2.0f %4.0f  %-16s %-9s %3.0f %5.0f  %8.2f %9.2f %10s %9s %9.0f %5.1f%%\n", i,
            zp_jnum(p, "dp"), zp_jnum(p, "tp"), zp_jnum(p, "pp"), zp_jnum(p, "vp"), cp, zp_jnum(p, "zero"),
            offload_text(p, ot, sizeof ot), S(p, "ckpt"), zp_jnum(p, "micro_batch"), zp_jnum(p, "grad_accum"), g(zp_jnum(m, "total"), u),
            g(zp_jnum(p, "host_memory_bytes"), u), bytes(cm, sizeof cm, zp_jnum(p, "comm_bytes_per_step"), u),
            zp_fmt_secs(st, sizeof st, zp_jnum(p, "step_time_s")), zp_jnum(p, "tokens_per_s"), 100.0 * zp_jnum(p, "mfu"));
}

static void plan_header(FILE *out, zp_units u)
{
    /* "dev GiB/GPU", "dev GB/GPU" right-aligned over their columns */
    char dev[24], host[24];
    snprintf(dev, sizeof dev, "dev %s/GPU", gunit(u));
    snprintf(host, sizeof host, "host %s/node", gunit(u));
    fprintf(out, "  #    dp  tp  pp vp cp zero  offload          ckpt       mb    ga  %11s %13s "
                 "comm/step      step     tok/s   MFU\n", dev, host);
}

static void memory_table(FILE *out, const cJSON *p, double cap, zp_units u, int chosen)
{
    static const char *const cls[] = {"params", "grads", "optimizer", "activations", "buffers", "overhead"};
    const cJSON *m = zp_jobj(p, "memory_bytes"), *h = zp_jobj(p, "host_bytes_per_rank");
    char a[32], b[32], cp[32];
    fprintf(out, "  %-12s %14s %14s\n", "class", "device", "host");
    for (int i = 0; i < 6; i++) {
        double hv = zp_jnum(h, cls[i]);
        fprintf(out, "  %-12s %14s %14s\n", cls[i], bytes(a, sizeof a, zp_jnum(m, cls[i]), u),
                hv > 0 ? bytes(b, sizeof b, hv, u) : "-");
    }
    fprintf(out, "  %-12s %14s %14s   (device capacity %s, %.0f%% used)\n", "total",
            bytes(a, sizeof a, zp_jnum(m, "total"), u), bytes(b, sizeof b, zp_jnum(h, "total"), u),
            bytes(cp, sizeof cp, cap, u), cap > 0 ? 100.0 * zp_jnum(m, "total") / cap : 0.0);
    /* a plan that fits with under 5 % to spare: the planner's peaks are
     * within 13 % of published ones (README "Validation"), not to the byte */
    double f = cap > 0 ? zp_jnum(m, "total") / cap : 0.0;
    if (chosen && f > 0.95 && f <= 1.0) {
        /* the size a tenth below, in whole GiB (GB), or MiB (MB) under one */
        double gib = u == ZP_UNITS_BINARY ? 1073741824.0 : 1e9, mib = u == ZP_UNITS_BINARY ? 1048576.0 : 1e6;
        int small = 0.9 * cap < gib;
        fprintf(out, "  little headroom: predicted peaks come within 13 %% of measured ones (README \"Validation\"); "
                     "--gpu-mem %.0f%s plans with a tenth kept free\n", floor(0.9 * cap / (small ? mib : gib)),
                small ? (u == ZP_UNITS_BINARY ? "MiB" : "MB") : (u == ZP_UNITS_BINARY ? "GiB" : "GB"));
    }
}

/* What a model has beyond the line's fixed fields, each only when it is
 * there: ", head_dim 256, parallel attention+MLP (one norm), ...". */
static const char *model_extras(char *buf, size_t n, const cJSON *m)
{
    size_t k = 0;
    double hd = zp_jnum(m, "head_dim"), window = zp_jnum(m, "sliding_window");
    const char *block = S(m, "block");
    int all = zp_jflag(m, "bias"), qkv = zp_jflag(m, "qkv_bias"), outb = zp_jflag(m, "out_bias"),
        mlp = zp_jflag(m, "mlp_bias");
    buf[0] = '\0';
#define ADD(...) do { int w_ = snprintf(buf + k, n - k, __VA_ARGS__); if (w_ > 0 && (size_t)w_ < n - k) k += (size_t)w_; } while (0)
    if (hd > 0 && hd * zp_jnum(m, "heads") != zp_jnum(m, "hidden"))
        ADD(", head_dim %.0f", hd);
    if (!strcmp(block, "parallel"))
        ADD(", parallel attention+MLP (one norm)");
    else if (!strcmp(block, "parallel-2norm"))
        ADD(", parallel attention+MLP (two norms)");
    if (!all && (qkv || outb || mlp))
        ADD(", biases on%s%s%s", qkv ? " Q/K/V" : "", outb ? " attention output" : "", mlp ? " MLP" : "");
    if (zp_jflag(m, "head_bias"))
        ADD(", head bias");
    if (zp_jflag(m, "embed_norm"))
        ADD(", embedding norm");
    if (zp_jflag(m, "qk_norm"))
        ADD(", Q/K head norms");
    if (zp_jflag(m, "fused_proj"))
        ADD(", fused QKV and gate-up products");
    if (zp_jflag(m, "multipliers"))
        ADD(", Granite's multipliers");
    if (zp_jflag(m, "gelu_gate"))
        ADD(", GELU gate");
    if (zp_jflag(m, "embed_scale"))
        ADD(", embedding x sqrt(h)");
    if (window > 0)
        ADD(", sliding window %.0f", window);
#undef ADD
    return buf;
}

int zp_render_autocast(const cJSON *result)
{
    /* PyTorch eager's autocast (conventions.eager, a 16-bit dtype with
     * master weights): fp32 parameters and gradients, 16-bit products */
    const cJSON *t = zp_jobj(result, "training"), *cv = zp_jobj(result, "conventions");
    const char *dt = zp_jobj(t, "dtype") ? zp_jstr(t, "dtype") : "fp32";
    return cv && zp_jflag(cv, "eager") && strcmp(dt, "fp32") && zp_jflag(t, "master_weights");
}

void zp_render_result(FILE *out, const cJSON *r, zp_units u)
{
    const cJSON *m = zp_jobj(r, "model"), *c = zp_jobj(r, "cluster"), *t = zp_jobj(r, "training");
    char a[48], b[48], d[48], e1[48], e2[48], extras[256];
    double cap = zp_jnum(c, "gpu_memory_bytes");
    double params = zp_jnum(m, "params");

    fprintf(out, "Model    %s: %s\n", S(m, "name"), S(m, "source"));
    fprintf(out, "         L=%.0f h=%.0f heads=%.0f kv_heads=%.0f ffn=%.0f vocab=%.0f, %s, %s, %s positions, %s%s "
                 "-> %s parameters (%.0f)\n", zp_jnum(m, "layers"), zp_jnum(m, "hidden"), zp_jnum(m, "heads"),
            zp_jnum(m, "kv_heads"), zp_jnum(m, "ffn"), zp_jnum(m, "vocab"), S(m, "mlp"), S(m, "norm"), S(m, "position"),
            zp_jflag(m, "tied_embeddings") ? "tied embeddings" : "untied head", model_extras(extras, sizeof extras, m),
            zp_fmt_count(a, sizeof a, params), params);
    /* the network per GPU in both the units it is sold in (bits) and the
     * planner's (bytes): 400 Gb/s read as 400 GB/s changed the plan */
    /* a part of one node: "1 node (8 of its 16 GPUs)" */
    char nodes[96];
    if (zp_jnum(c, "gpus") < zp_jnum(c, "gpus_per_node"))
        snprintf(nodes, sizeof nodes, "1 node (%.0f of its %.0f GPUs)", zp_jnum(c, "gpus"), zp_jnum(c, "gpus_per_node"));
    else
        snprintf(nodes, sizeof nodes, "%.0f node%s of %.0f", zp_jnum(c, "nodes"), zp_jnum(c, "nodes") == 1 ? "" : "s",
                 zp_jnum(c, "gpus_per_node"));
    fprintf(out, "Cluster  %.0f x %s (%s%s%s), %s, %s each; host RAM %s per node; network %g GB/s "
                 "(%g Gb/s) per GPU\n", zp_jnum(c, "gpus"),
            S(c, "gpu"), S(c, "gpu_description"), zp_jobj(c, "gpu_overrides") ? "; overridden: " : "",
            zp_jobj(c, "gpu_overrides") ? S(c, "gpu_overrides") : "", nodes, bytes(a, sizeof a, cap, u),
            bytes(b, sizeof b, zp_jnum(c, "host_memory_bytes_per_node"), u), zp_jnum(c, "inter_node_gbps"),
            8 * zp_jnum(c, "inter_node_gbps"));
    char every[64] = "", fw[128] = "";
    const cJSON *cvj = zp_jobj(r, "conventions");
    if (cvj && zp_jobj(cvj, "framework"))
        snprintf(fw, sizeof fw, "; %s's defaults", S(cvj, "framework"));
    if (cvj && zp_jobj(cvj, "grad_reduce") && strcmp(S(cvj, "grad_reduce"), "backward")) {
        size_t n = strlen(fw);
        snprintf(fw + n, sizeof fw - n, "%sgradients reduced after the backward%s", n ? ", " : "; ",
                 strcmp(S(cvj, "grad_reduce"), "zero3") ? "" : " below ZeRO-3");
    }
    if (zp_jnum(t, "ckpt_layers") > 0)
        snprintf(every, sizeof every, ", full recompute of the first %.0f block%s of each stage", zp_jnum(t, "ckpt_layers"),
                 zp_jnum(t, "ckpt_layers") == 1 ? "" : "s");
    else if (zp_jobj(t, "recompute_modules"))
        snprintf(every, sizeof every, ", selective recompute of %s", S(t, "recompute_modules"));
    else if (zp_jnum(t, "ckpt_every") > 1)
        snprintf(every, sizeof every, ", full recompute of every %.0f%s block", zp_jnum(t, "ckpt_every"),
                 ordinal(zp_jnum(t, "ckpt_every")));
    int autocast = zp_render_autocast(r);
    char ac[48] = "", fa[96] = "";
    /* the fused attention kernel's rate, which long sequences hang on */
    const cJSON *gs = cvj ? zp_jobj(cvj, "gemm_by_shape") : NULL;
    if (zp_jflag(t, "flash_attention")) {
        const char *k = cvj && zp_jobj(cvj, "attention_kernel") ? S(cvj, "attention_kernel") : "preset";
        if (gs && zp_jnum(gs, "attention_efficiency") > 0)
            snprintf(fa, sizeof fa, ", flash attention at %.0f %% of peak%s", 100 * zp_jnum(gs, "attention_efficiency"),
                     !strcmp(k, "fa2") ? " (FlashAttention-2)" : !strcmp(k, "cudnn") ? " (cuDNN)" : "");
        else if (cvj && zp_jnum(cvj, "gemm_efficiency") > 0)   /* a constant efficiency: the products' */
            snprintf(fa, sizeof fa, ", flash attention at %.0f %% of peak", 100 * zp_jnum(cvj, "gemm_efficiency"));
        else
            snprintf(fa, sizeof fa, ", flash attention");
    }
    if (autocast)
        snprintf(ac, sizeof ac, "%s autocast: fp32", S(t, "dtype"));
    fprintf(out, "Training seq %.0f, global batch %.0f sequences (%s tokens/step), %s params, %s grads, %s, %s%s%s%s%s\n",
            zp_jnum(t, "seq"), zp_jnum(t, "global_batch"), zp_fmt_count(d, sizeof d, zp_jnum(t, "tokens_per_step")),
            autocast ? ac : S(t, "dtype"), autocast ? "fp32" : S(t, "grad_dtype"),
            autocast ? "no master copy" : zp_jflag(t, "master_weights") ? "fp32 master weights" : "no master copy",
            S(t, "optimizer"), fa,
            zp_jflag(t, "dropout") ? ", dropout masks" : "", every, fw);
    double nc = zp_jnum(r, "candidates_evaluated");
    if (zp_jobj(r, "candidates_rule_rejected"))   /* absent in runs stored before */
        fprintf(out, "Searched %.0f candidate layout%s: %.0f rejected by rule, %.0f evaluated, %.0f fit.\n", nc,
                nc == 1 ? "" : "s", zp_jnum(r, "candidates_rule_rejected"),
                nc - zp_jnum(r, "candidates_rule_rejected"), zp_jnum(r, "fitting"));
    else
        fprintf(out, "Searched %.0f candidate layout%s: %.0f fit.\n", nc, nc == 1 ? "" : "s", zp_jnum(r, "fitting"));
    if (zp_jnum(r, "act_offload_tried") > 0)   /* (absent in runs stored before: none) */
        fprintf(out, "  + %.0f over device memory tried again with their activations offloaded to the host: "
                     "%.0f fit.\n", zp_jnum(r, "act_offload_tried"), zp_jnum(r, "act_offload_fit"));

    const cJSON *plans = zp_jobj(r, "plans"), *p;
    if (cJSON_GetArraySize(plans) > 0) {
        fprintf(out, "\nPlans, fastest first (memory: the worst rank):\n");
        plan_header(out, u);
        int i = 1;
        cJSON_ArrayForEach(p, plans)
        {
            plan_row(out, i++, p, u);
            if (*S(p, "same_result_with"))   /* the same memory, traffic and time in other settings */
                fprintf(out, "        the same result with %s\n", S(p, "same_result_with"));
        }
    }

    const cJSON *ch = zp_jobj(r, "chosen");
    if (cJSON_IsObject(ch)) {
        char cps[24] = "", vps[24] = "", part[64] = "", ot[24];
        if (zp_jnum(ch, "cp") > 1)
            snprintf(cps, sizeof cps, " cp=%.0f", zp_jnum(ch, "cp"));
        if (zp_jnum(ch, "vp") > 1)
            snprintf(vps, sizeof vps, " vp=%.0f", zp_jnum(ch, "vp"));
        /* full recompute of some blocks only (--ckpt-every, --ckpt-layers) */
        const cJSON *tr = zp_jobj(r, "training");
        if (!strcmp(S(ch, "ckpt"), "full") && zp_jnum(tr, "ckpt_every") > 1)
            snprintf(part, sizeof part, " (one block in %.0f)", zp_jnum(tr, "ckpt_every"));
        else if (!strcmp(S(ch, "ckpt"), "full") && zp_jnum(tr, "ckpt_layers") > 0)
            snprintf(part, sizeof part, " (the first %.0f blocks of a stage)", zp_jnum(tr, "ckpt_layers"));
        fprintf(out, "\nChosen plan: dp=%.0f tp=%.0f pp=%.0f%s%s zero=%.0f offload=%s ckpt=%s%s%s, micro-batch %.0f x %.0f "
                     "accumulation steps%s\n", zp_jnum(ch, "dp"), zp_jnum(ch, "tp"), zp_jnum(ch, "pp"),
                vps, cps, zp_jnum(ch, "zero"), offload_text(ch, ot, sizeof ot), S(ch, "ckpt"), part,
                zp_jflag(ch, "sp") && zp_jnum(ch, "tp") > 1 ? " +sequence parallel" : "", zp_jnum(ch, "micro_batch"),
                zp_jnum(ch, "grad_accum"), zp_jflag(ch, "fits") ? "" : "  -- DOES NOT FIT");
        if (!zp_jflag(ch, "fits"))
            fprintf(out, "  rejected: %s\n", S(ch, "reject"));
        const cJSON *ts = zp_jobj(ch, "time_s");
        /* a pipeline's bubble; one stage has none to name */
        char bubble[64] = "";
        if (zp_jnum(ch, "pp") > 1)
            snprintf(bubble, sizeof bubble, " + pipeline bubble %s", zp_fmt_secs(e1, sizeof e1, zp_jnum(ts, "bubble")));
        fprintf(out, "  step %s = compute %s + exposed communication %s%s + optimizer %s;"
                     " %.0f tokens/s, MFU %.1f%%\n", zp_fmt_secs(a, sizeof a, zp_jnum(ch, "step_time_s")),
                zp_fmt_secs(b, sizeof b, zp_jnum(ts, "compute")), zp_fmt_secs(d, sizeof d, zp_jnum(ts, "comm_exposed")),
                bubble, zp_fmt_secs(e2, sizeof e2, zp_jnum(ts, "optimizer")),
                zp_jnum(ch, "tokens_per_s"), 100 * zp_jnum(ch, "mfu"));
        const cJSON *pr = zp_jobj(ch, "partial_recompute");
        if (cJSON_IsObject(pr) && zp_jnum(pr, "ckpt_layers") == 0)
            fprintf(out, "  without recompute it also fits (--ckpt none): %s per GPU, step %s\n",
                    bytes(a, sizeof a, zp_jnum(pr, "memory_bytes"), u), zp_fmt_secs(b, sizeof b, zp_jnum(pr, "step_time_s")));
        else if (cJSON_IsObject(pr))
            fprintf(out, "  rebuilding only the first %.0f of each stage's %.0f blocks also fits (--ckpt-layers %.0f): "
                         "%s per GPU, step %s\n", zp_jnum(pr, "ckpt_layers"), zp_jnum(pr, "blocks"),
                    zp_jnum(pr, "ckpt_layers"), bytes(a, sizeof a, zp_jnum(pr, "memory_bytes"), u),
                    zp_fmt_secs(b, sizeof b, zp_jnum(pr, "step_time_s")));
        fprintf(out, "\nMemory per GPU (worst rank: pipeline stage %.0f, at its peak: %s):\n",
                zp_jnum(ch, "worst_stage"),
                strcmp(S(ch, "peak_phase"), "loss") == 0   ? "the loss (its backward, or its forward)"
                : strcmp(S(ch, "peak_phase"), "step") == 0      ? "the optimizer step"
                : strcmp(S(ch, "peak_phase"), "attention") == 0 ? "the last block's attention backward"
                : strcmp(S(ch, "peak_phase"), "embedding") == 0 ? "the word embedding's backward, its tied gradient summed"
                                                                  : "the first block's backward");
        memory_table(out, ch, cap, u, 1);
        fprintf(out, "  host RAM per node: %s of %s\n", bytes(a, sizeof a, zp_jnum(ch, "host_memory_bytes"), u),
                bytes(b, sizeof b, zp_jnum(c, "host_memory_bytes_per_node"), u));
        const cJSON *stages = zp_jobj(ch, "stages"), *s;
        if (cJSON_GetArraySize(stages) > 1) {
            fprintf(out, "\nMemory per pipeline stage (%s):\n  stage %9s %9s %9s %9s %9s %9s %9s\n", gunit(u),
                    "params", "grads", "optim", "activ", "buffers", "overhead", "total");
            int shown = 0, n = cJSON_GetArraySize(stages);
            cJSON_ArrayForEach(s, stages)
            {
                int k = (int)zp_jnum(s, "stage");
                if (n > 8 && k > 2 && k < n - 2) {
                    if (!shown++)
                        fprintf(out, "  ...   (stages 3..%d omitted; each holds fewer micro-batches in flight)\n", n - 3);
                    continue;
                }
                const cJSON *sm = zp_jobj(s, "memory_bytes");
                fprintf(out, "  %5d %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", k, g(zp_jnum(sm, "params"), u),
                        g(zp_jnum(sm, "grads"), u), g(zp_jnum(sm, "optimizer"), u), g(zp_jnum(sm, "activations"), u),
                        g(zp_jnum(sm, "buffers"), u), g(zp_jnum(sm, "overhead"), u), g(zp_jnum(sm, "total"), u));
            }
        }
        const cJSON *cm = zp_jobj(ch, "comm"), *x;
        fprintf(out, "\nCommunication per step (a rank of stage %.0f): %s sent\n", zp_jnum(ch, "worst_stage"),
                bytes(a, sizeof a, zp_jnum(ch, "comm_bytes_per_step"), u));
        /* the "what" column as wide as its longest name (40 at least) */
        int ww = 40;
        cJSON_ArrayForEach(x, cm)
        {
            int l = (int)strlen(S(x, "what"));
            if (l > ww)
                ww = l < 90 ? l : 90;
        }
        if (cJSON_GetArraySize(cm) == 0)
            fprintf(out, "  none (one GPU, no offload)\n");
        else
            fprintf(out, "  %-*s %-14s %-9s %5s %-4s %11s %8s %12s %10s %7s %7s  %s\n", ww, "what", "collective",
                    "group", "ranks", "link", "bytes/call", "calls", "sent/step", "time", "algbw", "busbw",
                    "overlaps with");
        cJSON_ArrayForEach(x, cm)
        {
            /* nccl-tests' two rates, GB/s: algbw = bytes of a call / its
             * time, busbw = algbw x the collective's bus factor */
            double tsec = zp_jnum(x, "time_s"), calls = zp_jnum(x, "count");
            double alg = tsec > 0 ? zp_jnum(x, "bytes") * calls / tsec / 1e9 : 0.0;
            /* the data-parallel collectives run over the dp x cp ranks that
             * hold the same parameters: said so where cp > 1 */
            int dpcp = !strcmp(S(x, "group"), "dp") && zp_jnum(ch, "cp") > 1;
            fprintf(out, "  %-*s %-14s %-9s %5.0f %-4s %11s %8.0f %12s %10s %7.1f %7.1f  %s\n", ww, S(x, "what"),
                    S(x, "collective"), dpcp ? "dp x cp" : S(x, "group"), zp_jnum(x, "group_size"),
                    strcmp(S(x, "group"), "pcie") == 0 ? "pcie" : zp_jflag(x, "inter_node") ? "net" : "nvl",
                    bytes(a, sizeof a, zp_jnum(x, "bytes"), u), calls,
                    bytes(b, sizeof b, zp_jnum(x, "bus_bytes_per_step"), u), zp_fmt_secs(d, sizeof d, tsec), alg,
                    alg * zp_jnum(x, "bus_factor"), S(x, "overlap"));
        }
        /* DeepSpeed's blocking pipeline transfers: the step counts them per
         * transfer on the pacing stage's critical path, not per send (cost.c) */
        if (zp_jnum(ch, "pp") > 1 && zp_jflag(zp_jobj(r, "conventions"), "p2p_blocking"))
            fprintf(out, "  pipeline transfers block (--p2p-blocking): those of the stage that paces the pipeline, "
                         "each as long as one send above, are on the critical path (README \"Conventions\")\n");
    } else {
        fprintf(out, "\nNothing fits.\n");
        const cJSON *cl = zp_jobj(r, "closest");
        if (cJSON_IsObject(cl)) {
            fprintf(out, "Closest plan (nearest to fitting, device or host):\n");
            plan_header(out, u);
            plan_row(out, 1, cl, u);
            memory_table(out, cl, cap, u, 0);
        }
    }

    const cJSON *sg = zp_jobj(r, "suggestions"), *x;
    if (cJSON_GetArraySize(sg) > 0) {
        fprintf(out, "\nWhat would fit:\n");
        char sb[1024];
        cJSON_ArrayForEach(x, sg) fprintf(out, "  - %s\n", zp_printable(sb, sizeof sb, cJSON_IsString(x) ? x->valuestring : ""));
    }

    const cJSON *cls = zp_jobj(r, "classic");
    fprintf(out, "\nClassic strategies on the same %.0f GPU%s (best micro-batch and recompute for each):\n",
            zp_jnum(c, "gpus"), zp_jnum(c, "gpus") == 1 ? "" : "s");
    fprintf(out, "  %-15s %-30s %9s %9s %9s %9s %9s %10s %10s  %s\n", "strategy", "layout", "params", "grads", "optim",
            "activ", "other", "total", "step", "fits");
    cJSON_ArrayForEach(x, cls)
    {
        if (zp_jobj(x, "invalid")) {
            fprintf(out, "  %-15s %s\n", S(x, "strategy"), S(x, "invalid"));
            continue;
        }
        const cJSON *xm = zp_jobj(x, "memory_bytes");
        char lay[64];
        snprintf(lay, sizeof lay, "%.0fx%.0fx%.0f z%.0f%s %s", zp_jnum(x, "dp"), zp_jnum(x, "tp"), zp_jnum(x, "pp"),
                 zp_jnum(x, "zero"), strcmp(S(x, "offload"), "none") == 0 ? "" :
                 strcmp(S(x, "offload"), "optimizer") == 0 ? " +off(opt)" : " +off(opt+par)", S(x, "ckpt"));
        fprintf(out, "  %-15s %-30s %9.2f %9.2f %9.2f %9.2f %9.2f %10.2f %10s  %s\n", S(x, "strategy"), lay,
                g(zp_jnum(xm, "params"), u), g(zp_jnum(xm, "grads"), u), g(zp_jnum(xm, "optimizer"), u),
                g(zp_jnum(xm, "activations"), u), g(zp_jnum(xm, "buffers") + zp_jnum(xm, "overhead"), u), g(zp_jnum(xm, "total"), u),
                zp_fmt_secs(a, sizeof a, zp_jnum(x, "step_time_s")), zp_jflag(x, "fits") ? "yes" : "no");
    }
    fprintf(out, "  (%s per GPU; layout: dp x tp x pp, ZeRO stage, offload, recompute)\n", gunit(u));

    const cJSON *rj = zp_jobj(r, "rejected");
    int any = 0;
    cJSON_ArrayForEach(x, rj) any += x->valuedouble > 0;
    if (any) {
        fprintf(out, "\nRejected candidates:\n");
        char rb[256];
        cJSON_ArrayForEach(x, rj) if (x->valuedouble > 0)
            fprintf(out, "  %10.0f  %s\n", x->valuedouble, zp_printable(rb, sizeof rb, x->string));
    }
}

void zp_render_exec(FILE *out, const cJSON *rec)
{
    const cJSON *sm = zp_jobj(rec, "step_time_s"), *cb = zp_jobj(rec, "comm_bytes_per_step");
    const cJSON *mo = zp_jobj(rec, "model");
    int gpu = strcmp(S(rec, "backend"), "cuda") == 0;
    if (!zp_jobj(rec, "ranks")) {   /* a row with nothing recorded yet (running, or lost before schema 4) */
        fprintf(out, "Execution %.0f: %s%s%s\n", zp_jnum(rec, "exec_id"), S(rec, "status"),
                *S(rec, "reason") ? ": " : " (nothing recorded yet)", S(rec, "reason"));
        return;
    }
    if (gpu)
        fprintf(out, "Execution %.0f of run %.0f plan %.0f: %s on %.0f rank%s on %s (CUDA%s), %.0f step%s\n",
                zp_jnum(rec, "exec_id"), zp_jnum(rec, "run_id"), zp_jnum(rec, "plan"), S(rec, "status"),
                zp_jnum(rec, "ranks"), zp_jnum(rec, "ranks") == 1 ? "" : "s", S(rec, "gpu"),
                zp_jflag(rec, "shared_gpu") ? ", ranks sharing the GPU: time not that of separate GPUs" : "",
                zp_jnum(rec, "steps"), zp_jnum(rec, "steps") == 1 ? "" : "s");
    else
        fprintf(out, "Execution %.0f of run %.0f plan %.0f: %s on %.0f CPU rank%s, %.0f step%s\n",
                zp_jnum(rec, "exec_id"), zp_jnum(rec, "run_id"), zp_jnum(rec, "plan"), S(rec, "status"),
                zp_jnum(rec, "ranks"), zp_jnum(rec, "ranks") == 1 ? "" : "s", zp_jnum(rec, "steps"),
                zp_jnum(rec, "steps") == 1 ? "" : "s");
    if (!strcmp(S(rec, "status"), "running") || !strcmp(S(rec, "status"), "lost")) {
        /* nothing measured is recorded: the state, and why */
        fprintf(out, "  %s%s%s\n", S(rec, "status"), *S(rec, "reason") ? ": " : "",
                S(rec, "reason"));
        return;
    }
    /* the architecture, when recorded and not GPT-2's */
    char arch[160] = "";
    if (zp_jobj(mo, "mlp") && (strcmp(S(mo, "mlp"), "gelu") || strcmp(S(mo, "norm"), "layernorm") ||
                               strcmp(S(mo, "position"), "learned") || !zp_jflag(mo, "tied_embeddings") ||
                               !zp_jflag(mo, "bias") || zp_jnum(mo, "kv_heads") != zp_jnum(mo, "heads") ||
                               zp_jnum(mo, "ffn") != 4 * zp_jnum(mo, "hidden")))
        snprintf(arch, sizeof arch, " kv_heads=%.0f ffn=%.0f, %s, %s, %s positions, %s%s", zp_jnum(mo, "kv_heads"),
                 zp_jnum(mo, "ffn"), S(mo, "mlp"), S(mo, "norm"), S(mo, "position"),
                 zp_jflag(mo, "tied_embeddings") ? "tied" : "untied head", zp_jflag(mo, "bias") ? "" : ", no biases");
    /* tensor, pipeline and context degrees (absent in records before them: 1) */
    char tpp[128] = "", vps[24] = "", cps[24] = "";
    if (zp_jnum(rec, "vp") > 1)
        snprintf(vps, sizeof vps, " vp=%.0f", zp_jnum(rec, "vp"));
    if (zp_jnum(rec, "cp") > 1)
        snprintf(cps, sizeof cps, " cp=%.0f", zp_jnum(rec, "cp"));
    if (zp_jnum(rec, "tp") > 1 || zp_jnum(rec, "pp") > 1)
        snprintf(tpp, sizeof tpp, " tp=%.0f%s pp=%.0f%s%s", zp_jnum(rec, "tp"), zp_jflag(rec, "sp") ? " (sp)" : "",
                 zp_jnum(rec, "pp"), vps, cps);
    else
        snprintf(tpp, sizeof tpp, "%s", cps);
    /* the model the ranks ran (exec --scale shrinks it; unscaled, the plan's) */
    char math[48] = "";   /* the products' math, where not exact fp32 */
    if (*S(rec, "gemm_math") && strcmp(S(rec, "gemm_math"), "fp32"))
        snprintf(math, sizeof math, "; %s products (tensor cores)", S(rec, "gemm_math"));
    fprintf(out, "  model run: L=%.0f h=%.0f heads=%.0f vocab=%.0f seq=%.0f%s; %.0f parameters; layout dp=%.0f%s "
           "zero=%.0f offload=%s ckpt=%s micro-batch %.0f x %.0f%s%s\n", zp_jnum(mo, "layers"), zp_jnum(mo, "hidden"),
           zp_jnum(mo, "heads"), zp_jnum(mo, "vocab"), zp_jnum(mo, "seq"), arch, zp_jnum(mo, "params"),
           zp_jnum(rec, "dp"), tpp, zp_jnum(rec, "zero"), S(rec, "offload"), S(rec, "ckpt"),
           zp_jnum(rec, "micro_batch"), zp_jnum(rec, "grad_accum"),
           zp_jflag(rec, "flash_attention") ? "; flash attention" : "", math);
    if (*S(rec, "reason")) {
        if (strcmp(S(rec, "reason"), S(rec, "status")))   /* not "interrupted: interrupted" */
            fprintf(out, "  %s: %s", S(rec, "status"), S(rec, "reason"));
        else
            fprintf(out, "  %s", S(rec, "status"));
        if (zp_jobj(rec, "steps_done"))
            fprintf(out, "; %.0f of %.0f steps done", zp_jnum(rec, "steps_done"), zp_jnum(rec, "steps"));
        fputc('\n', out);
    }
    if (*S(rec, "dtype")) {   /* records from before 16-bit storage have no types */
        fprintf(out, "  storage: %s parameters, %s gradients", S(rec, "dtype"), S(rec, "grad_dtype"));
        if (strcmp(S(rec, "dtype"), "fp32") != 0)
            fprintf(out, ", fp32 master weights");
        if (zp_jobj(rec, "skipped_steps") && zp_jnum(rec, "loss_scale") > 1.0)
            fprintf(out, "; loss scale %.0f at the end, %.0f steps skipped", zp_jnum(rec, "loss_scale"),
                    zp_jnum(rec, "skipped_steps"));
        fprintf(out, "; computed in fp32\n");
    }
    if (*S(rec, "error"))
        fprintf(out, "  error: %s\n", S(rec, "error"));
    const cJSON *ls = zp_jobj(rec, "losses");
    int n = cJSON_GetArraySize(ls);
    if (n > 0)
        fprintf(out, "  loss %.4f -> %.4f over %d steps\n", cJSON_GetArrayItem(ls, 0)->valuedouble,
               cJSON_GetArrayItem(ls, n - 1)->valuedouble, n);
    const cJSON *pr = zp_jobj(rec, "per_rank"), *r0 = cJSON_GetArrayItem(pr, 0);
    char pa[32], pb[32], err[32];
    if (r0) {
        const cJSON *p = zp_jobj(r0, "predicted_bytes"), *m = zp_jobj(r0, "measured_bytes");
        fprintf(out, "  rank 0, device memory   %14s %14s %8s   (classes at the %s peak; peak: the highest)\n",
                "predicted", "measured", "error", S(r0, "predicted_phase"));
        static const char *const rows[] = {"params", "grads", "optimizer", "activations", "buffers", "peak", NULL};
        for (int i = 0; rows[i]; i++) {
            double a = zp_jnum(p, rows[i]), b = zp_jnum(m, rows[i]);
            fprintf(out, "  %-22s %14s %14s %8s\n", rows[i], bytes(pa, sizeof pa, a, ZP_UNITS_BINARY),
                    bytes(pb, sizeof pb, b, ZP_UNITS_BINARY), pct(err, sizeof err, a, b));
        }
        double ha = zp_jnum(r0, "host_predicted_bytes"), hb = zp_jnum(r0, "host_measured_bytes");
        fprintf(out, "  %-22s %14s %14s %8s\n", "host", bytes(pa, sizeof pa, ha, ZP_UNITS_BINARY),
                bytes(pb, sizeof pb, hb, ZP_UNITS_BINARY), pct(err, sizeof err, ha, hb));
        const cJSON *rt = zp_jobj(r0, "runtime_bytes");
        if (rt) {   /* a GPU's own memory: the overhead class */
            const cJSON *rp = zp_jobj(rt, "predicted"), *rm = zp_jobj(rt, "measured");
            static const char *const ov[] = {"context", "blas", "communicator", "rounding", NULL};
            static const char *const ovn[] = {"overhead: CUDA context", "overhead: cuBLAS", "overhead: NCCL",
                                              "overhead: rounding"};
            for (int i = 0; ov[i]; i++) {
                double a = zp_jnum(rp, ov[i]), b = zp_jnum(rm, ov[i]);
                fprintf(out, "  %-22s %14s %14s %8s\n", ovn[i], bytes(pa, sizeof pa, a, ZP_UNITS_BINARY),
                        bytes(pb, sizeof pb, b, ZP_UNITS_BINARY), pct(err, sizeof err, a, b));
            }
            double a = zp_jnum(rp, "gpu_total"), b = zp_jnum(rm, "gpu_used_at_peak");
            fprintf(out, "  %-22s %14s %14s %8s   (cudaMemGetInfo at the peak; overheads from %s)\n", "GPU used",
                    bytes(pa, sizeof pa, a, ZP_UNITS_BINARY), bytes(pb, sizeof pb, b, ZP_UNITS_BINARY),
                    pct(err, sizeof err, a, b), S(rec, "overhead_source"));
        }
    }
    /* a pipeline: each stage's peak (its worst rank against its own
     * prediction), when the ranks' measurements were recorded (not for a
     * run ended early) */
    if (zp_jnum(rec, "pp") > 1 && r0) {
        /* the stages the recorded ranks are in (an imported record's pp is
         * checked against its ranks, not against per_rank; a failed run may
         * list some stages only) */
        double top = -1.0;
        const cJSON *y;
        cJSON_ArrayForEach(y, pr) if (zp_jnum(y, "stage") > top) top = zp_jnum(y, "stage");
        int npp = (int)fmin(zp_jnum(rec, "pp"), top + 1.0);
        for (int k = 0; k < npp; k++) {
            double a = 0.0, b = 0.0, pw = 0.0;
            int seen = 0;
            const cJSON *x;
            cJSON_ArrayForEach(x, pr)
                if ((int)zp_jnum(x, "stage") == k && zp_jnum(zp_jobj(x, "measured_bytes"), "peak") >= b) {
                    a = zp_jnum(zp_jobj(x, "predicted_bytes"), "peak");
                    b = zp_jnum(zp_jobj(x, "measured_bytes"), "peak");
                    pw = zp_jnum(x, "pipeline_wait_s");
                    seen = 1;
                }
            if (!seen)
                continue;
            char what[48];
            snprintf(what, sizeof what, "stage %d peak", k);
            fprintf(out, "  %-22s %14s %14s %8s   (pipeline wait %.3g s a step)\n", what,
                    bytes(pa, sizeof pa, a, ZP_UNITS_BINARY), bytes(pb, sizeof pb, b, ZP_UNITS_BINARY),
                    pct(err, sizeof err, a, b), pw);
        }
    }
    double ca = zp_jnum(cb, "predicted"), cm = zp_jnum(cb, "measured");
    fprintf(out, "  %-22s %14s %14s %8s\n", "comm bytes per step", bytes(pa, sizeof pa, ca, ZP_UNITS_BINARY),
            bytes(pb, sizeof pb, cm, ZP_UNITS_BINARY), pct(err, sizeof err, ca, cm));
    const cJSON *kind;
    char kb[64];
    cJSON_ArrayForEach(kind, zp_jobj(cb, "by_kind"))
        fprintf(out, "    %-20s %14s %14s %8s\n", zp_printable(kb, sizeof kb, kind->string),
                bytes(pa, sizeof pa, zp_jnum(kind, "predicted"), ZP_UNITS_BINARY),
                bytes(pb, sizeof pb, zp_jnum(kind, "measured"), ZP_UNITS_BINARY),
                pct(err, sizeof err, zp_jnum(kind, "predicted"), zp_jnum(kind, "measured")));
    if (zp_jnum(rec, "tp") > 1 || zp_jnum(rec, "pp") > 1 || zp_jnum(rec, "cp") > 1)   /* rank 0's groups */
        cJSON_ArrayForEach(kind, zp_jobj(cb, "by_group"))
            if (zp_jnum(kind, "predicted") > 0 || zp_jnum(kind, "measured") > 0) {
                char gw[80];
                snprintf(gw, sizeof gw, "%s group", zp_printable(kb, sizeof kb, kind->string));
                fprintf(out, "    %-20s %14s %14s %8s\n", gw,
                        bytes(pa, sizeof pa, zp_jnum(kind, "predicted"), ZP_UNITS_BINARY),
                        bytes(pb, sizeof pb, zp_jnum(kind, "measured"), ZP_UNITS_BINARY),
                        pct(err, sizeof err, zp_jnum(kind, "predicted"), zp_jnum(kind, "measured")));
            }
    if (cJSON_IsNumber(zp_jobj(sm, "predicted")) && zp_jnum(sm, "measured") > 0)
        fprintf(out, "  %-22s %14.4g %14.4g %8s   (profile %s)\n", "step time (s)", zp_jnum(sm, "predicted"),
                zp_jnum(sm, "measured"), pct(err, sizeof err, zp_jnum(sm, "predicted"), zp_jnum(sm, "measured")),
                S(rec, "profile"));
    else if (cJSON_IsNumber(zp_jobj(sm, "predicted")))   /* stored before null said so: 0 */
        fprintf(out, "  %-22s %14.4g %14s   (%s; profile %s)\n", "step time (s)", zp_jnum(sm, "predicted"), "-",
                zp_jnum(rec, "steps_done") > 0 ? "no step time recorded" : "no step finished", S(rec, "profile"));
    else if (zp_jnum(sm, "measured") > 0)
        fprintf(out, "  %-22s %14s %14.4g   (no hardware profile: run zplan calibrate)\n", "step time (s)", "-",
                zp_jnum(sm, "measured"));
    else
        fprintf(out, "  %-22s %14s %14s   (no step finished, and no hardware profile: run zplan calibrate)\n",
                "step time (s)", "-", "-");
    /* the products' share of a step, where the engine timed its GEMMs */
    const cJSON *gt = zp_jobj(rec, "gemm_time_s");
    if (zp_jnum(gt, "measured") > 0) {
        if (cJSON_IsNumber(zp_jobj(gt, "predicted")))
            fprintf(out, "  %-22s %14.4g %14.4g %8s   (the products')\n", "GEMM time (s)", zp_jnum(gt, "predicted"),
                    zp_jnum(gt, "measured"), pct(err, sizeof err, zp_jnum(gt, "predicted"), zp_jnum(gt, "measured")));
        else
            fprintf(out, "  %-22s %14s %14.4g   (the products')\n", "GEMM time (s)", "-", zp_jnum(gt, "measured"));
        if (zp_jnum(gt, "preset_curve") > 0)
            fprintf(out, "  %-22s %14.4g %14.4g %8s   (%s's default curve, no profile)\n", "GEMM time, preset (s)",
                    zp_jnum(gt, "preset_curve"), zp_jnum(gt, "measured"),
                    pct(err, sizeof err, zp_jnum(gt, "preset_curve"), zp_jnum(gt, "measured")), S(gt, "preset"));
    }
}

