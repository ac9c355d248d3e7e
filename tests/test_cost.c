/* test_cost.c - FLOPs, compute time, bubble, exposed communication, step
 * time, throughput and MFU (cost.c).
 *
 * FLOPs are checked against Narayanan et al. 2021 (Megatron-LM at scale,
 * eq. 3): per iteration of B sequences, a model with 12 h^2 matmul weights
 * per layer costs 72 B s L h^2 (1 + s/(6h) + V/(12 h L)) without recompute
 * and 96 B s L h^2 (1 + s/(6h) + V/(16 h L)) with full recompute; MFU is
 * model FLOPs over the dense peak (Chowdhery et al. 2022).  Times are the
 * hand evaluation of the documented rules with gemm_eff and link speeds set
 * here. */
#include "core.h"
#include "tap.h"

#include <math.h>
#include <string.h>

#define N_(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const double PEAK = 989e12, EFF = 0.5, HBM = 3350;

/* 12 h^2 per layer: GELU, f = 4h, g = a (biases do not enter matmul FLOPs) */
static zp_model gpt(int64_t L, int64_t h, int64_t a, int64_t V)
{
    zp_model m = {0};
    strcpy(m.name, "gpt");
    m.layers = L; m.hidden = h; m.heads = a; m.kv_heads = a; m.ffn = 4 * h;
    m.vocab = V; m.max_pos = 2048; m.tied = 1; m.bias = 1;
    m.mlp = ZP_MLP_GELU; m.norm = ZP_NORM_LAYERNORM; m.pos = ZP_POS_LEARNED;
    return m;
}

static zp_train train(int64_t seq, int64_t gb)
{
    zp_train t = {0};
    t.seq = seq; t.global_batch = gb; t.dtype = ZP_DT_BF16; t.grad_dtype = ZP_DT_FP32; t.master = 1;
    t.optim = ZP_OPT_ADAM; t.flash = 0; t.dropout = 1;
    return t;
}

static zp_layout lay(int64_t dp, int64_t tp, int64_t pp, int64_t vp, int zero, zp_ckpt ck, int64_t b, int64_t M)
{
    zp_layout l = {0};
    l.dp = dp; l.tp = tp; l.pp = pp; l.vp = vp; l.zero = zero; l.offload = ZP_OFF_NONE; l.ckpt = ck;
    l.sp = tp > 1; l.micro_batch = b; l.grad_accum = M;
    return l;
}

static zp_cluster cluster(int64_t G)
{
    zp_cluster c = {0};
    strcpy(c.gpu.name, "test");
    c.gpu.mem_bytes = (uint64_t)80 << 30;
    c.gpu.peak_flops[ZP_DT_BF16] = PEAK;
    c.gpu.peak_flops[ZP_DT_FP16] = PEAK;
    c.gpu.peak_flops[ZP_DT_FP32] = PEAK / 2;
    c.gpu.hbm_gbps = HBM;
    c.gpu.nvlink_gbps = 450;
    c.gpu.pcie_gbps = 64;
    c.gpu.gpus_per_node = 8;
    c.gpus = G;
    c.gpus_per_node = 8;
    c.inter_node_gbps = 50;
    c.host_mem_bytes = (uint64_t)2048 << 30;
    return c;
}

static zp_conv conv(void)
{
    zp_conv c = {0};
    c.gemm_eff = EFF;
    c.link_eff = 0.8;
    c.overlap_eff = 1.0;   /* perfect overlap; the imperfect case is set per test */
    c.alpha_intra_s = 5e-6;
    c.alpha_inter_s = 2e-5;
    c.cpu_adam_params_per_s = 1e9;
    return c;
}

static const zp_comm empty_comm = {0};

/* Narayanan et al. eq. 3 */
static double narayanan(double B, double s, double L, double h, double V, int recompute)
{
    return recompute ? 96 * B * s * L * h * h * (1 + s / (6 * h) + V / (16 * h * L))
                     : 72 * B * s * L * h * h * (1 + s / (6 * h) + V / (12 * h * L));
}

static void test_flops_per_token(void)
{
    struct { const char *name; int64_t L, h, a, V, s; } cases[] = {
        {"GPT-3 175B (V 51200, s 2048)", 96, 12288, 96, 51200, 2048},
        {"GPT-2 small (s 1024)", 12, 768, 12, 50257, 1024},
        {"Megatron 1T (Narayanan Table 1)", 128, 25600, 160, 51200, 2048},
        {"long sequence 32k", 32, 4096, 32, 50304, 32768},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_model m = gpt(cases[i].L, cases[i].h, cases[i].a, cases[i].V);
        double L = (double)cases[i].L, h = (double)cases[i].h, V = (double)cases[i].V, s = (double)cases[i].s;
        /* one forward per token = eq. 3 / (3 B s) */
        double want = 24 * L * h * h * (1 + s / (6 * h) + V / (12 * h * L));
        is_dbl(zp_flops_fwd_per_token(&m, cases[i].s), want, 1e-12, "forward FLOPs/token %s = 24Lh^2(...) = %.6g",
               cases[i].name, want);
    }
    /* beyond 12 h^2: LLaMA-2 70B (GQA, SwiGLU) counts its own matmuls:
     * 2 x [L (2h^2 + 2 h g hd + 3 h f) + V h] + 4 L s h */
    {
        zp_model m = gpt(80, 8192, 64, 32000);
        m.kv_heads = 8; m.ffn = 28672; m.mlp = ZP_MLP_SWIGLU; m.norm = ZP_NORM_RMSNORM; m.bias = 0; m.tied = 0;
        double L = 80, h = 8192, g = 8, hd = 128, f = 28672, V = 32000, s = 4096;
        double want = 2 * (L * (2 * h * h + 2 * h * g * hd + 3 * h * f) + V * h) + 4 * L * s * h;
        is_dbl(zp_flops_fwd_per_token(&m, 4096), want, 1e-12, "forward FLOPs/token LLaMA-2 70B s=4096");
        /* about 2 x parameters + attention (the 6 Psi rule for fwd + bwd) */
        double psi = 68976648192.0;
        is_dbl(zp_flops_fwd_per_token(&m, 4096), 2 * psi + 4 * L * s * h, 0.01,
               "LLaMA-2 70B: forward ~ 2 Psi + 4 L s h within 1%%");
    }
    /* head_dim: Gemma 7B's 16 heads of 256 make the attention 4096 wide on
     * h = 3072: 2 x [L (3 h q + q h + 3 h f) + V h] + 4 L s q, q = a d */
    {
        zp_model m = gpt(28, 3072, 16, 256000);
        m.head_dim = 256; m.ffn = 24576; m.mlp = ZP_MLP_SWIGLU; m.norm = ZP_NORM_RMSNORM; m.bias = 0;
        double L = 28, h = 3072, q = 4096, f = 24576, V = 256000, s = 8192;
        double want = 2 * (L * (3 * h * q + q * h + 3 * h * f) + V * h) + 4 * L * s * q;
        is_dbl(zp_flops_fwd_per_token(&m, 8192), want, 1e-12, "forward FLOPs/token Gemma 7B (head_dim 256) s=8192");
    }
    /* a sliding window of w keys: the scores and values of 4 L w h instead
     * of 4 L s h (Mistral 7B, w = 4096, at s = 16384 and at s = 2048 < w) */
    {
        zp_model m = gpt(32, 4096, 32, 32000);
        m.kv_heads = 8; m.ffn = 14336; m.mlp = ZP_MLP_SWIGLU; m.norm = ZP_NORM_RMSNORM; m.bias = 0; m.tied = 0;
        m.window = 4096;
        double L = 32, h = 4096, g = 8, hd = 128, f = 14336, V = 32000;
        double mm = 2 * (L * (2 * h * h + 2 * h * g * hd + 3 * h * f) + V * h);
        is_dbl(zp_flops_fwd_per_token(&m, 16384), mm + 4 * L * 4096 * h, 1e-12,
               "forward FLOPs/token Mistral 7B s=16384: the window's 4 L w h");
        is_dbl(zp_flops_fwd_per_token(&m, 2048), mm + 4 * L * 2048 * h, 1e-12,
               "forward FLOPs/token Mistral 7B s=2048 < w: 4 L s h");
        /* selective recompute repeats the capped core: B s L 4 w h */
        zp_train tr = train(16384, 8);
        zp_cluster c = cluster(1);
        zp_conv cv = conv();
        zp_layout l = lay(1, 1, 1, 1, 0, ZP_CKPT_NONE, 1, 8);
        zp_cost none, sel;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &none);
        l.ckpt = ZP_CKPT_SELECTIVE;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &sel);
        is_dbl(sel.hw_flops - none.hw_flops, 8.0 * 16384 * L * 4 * 4096 * h, 1e-9,
               "Mistral 7B s=16384: selective recompute adds B s L 4 w h");
    }
}

/* MFU, tokens/s and step time against values derived here from the shape,
 * never from the output's own fields (a check that rebuilt MFU from
 * o.model_flops and o.step_s let a wrong step time or a wrong model-FLOPs
 * count through).  Model FLOPs per step, as cost.c documents: 3 x
 * (forward per token) x tokens = 6 N tokens + 12 L s h tokens, with
 * N = 12 L h^2 + V h the matmul weights (blocks and head, biases and norms
 * excluded) and 12 L s h the attention scores and values (4 L s h forward,
 * x 3).  Step time: the cases are built so that every component is known:
 * no collectives given (nothing exposed), so step = compute + bubble +
 * optimizer, each worked out below from the documented rules. */
static void test_model_flops_mfu(void)
{
    /* One GPU, pp = 1: no bubble, no communication.  L = 4, h = 256, a = 4,
     * V = 1024, positions 2048 (gpt()), s = 128, global batch 8 in M = 4
     * micro-batches of b = 2; bf16, fp32 grads, Adam with master. */
    {
        const double L = 4, h = 256, V = 1024, Pos = 2048, s = 128, B = 8, b = 2, M = 4;
        zp_model m = gpt(4, 256, 4, 1024);
        zp_train tr = train(128, 8);
        zp_cluster c = cluster(1);
        zp_conv cv = conv();
        zp_layout l = lay(1, 1, 1, 1, 0, ZP_CKPT_NONE, 2, 4);
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
        /* N = 12 x 4 x 256^2 + 1024 x 256 = 3145728 + 262144 = 3407872 */
        double N = 12 * L * h * h + V * h, tokens = B * s;
        hand_check(N == 3407872.0, "1 GPU: hand N = 12 L h^2 + V h = 3,407,872");
        double model = 6 * N * tokens + 12 * L * s * h * tokens;   /* 2.0938e10 + 1.6106e9 */
        is_dbl(o.model_flops, model, 1e-12, "1 GPU: model FLOPs = 6 N tokens + 12 L s h tokens = %.6g", model);
        /* one GPU runs every FLOP: M micro-batches of 3 b s (L (24 h^2 + 4 s h)
         * + 2 V h), at peak x gemm efficiency (M b = B: the model FLOPs) */
        double compute = M * 3 * b * s * (L * (24 * h * h + 4 * s * h) + 2 * V * h) / (PEAK * EFF);
        hand_check(fabs(compute - model / (PEAK * EFF)) <= 1e-12 * compute, "1 GPU: M micro-batches of work = the model FLOPs");
        /* optimizer: one pass over P = L (12 h^2 + 13 h) + (V + Pos) h + 2 h
         * parameters, 32 bytes each (bf16 params read and written 2 x 2,
         * fp32 grads read 4, master + m + v read and written 2 x 12) */
        double P = L * (12 * h * h + 13 * h) + (V + Pos) * h + 2 * h;
        hand_check(P == 3945984.0, "1 GPU: hand P = 4 x 789760 + 3072 x 256 + 512 = 3,945,984");
        double opt = P * 32 / (HBM * 1e9);
        double step = compute + opt;
        is_dbl(o.compute_s, compute, 1e-12, "1 GPU: compute = M x 3 b s (L (24h^2 + 4sh) + 2Vh) / (peak x %.1f) = %.6g s", EFF, compute);
        is_dbl(o.optimizer_s, opt, 1e-12, "1 GPU: optimizer = P x 32 B / HBM = %.6g s", opt);
        is_dbl(o.step_s, step, 1e-12, "1 GPU: step = compute + optimizer = %.6g s", step);
        is_dbl(o.mfu, model / (step * 1 * PEAK), 1e-12,
               "1 GPU: MFU = model FLOPs / (hand step x 1 x peak) = %.6f "
               "(mutation: MFU over the achieved peak x gemm efficiency is caught)", model / (step * PEAK));
        is_dbl(o.tokens_per_s, tokens / step, 1e-12, "1 GPU: tokens/s = B s / hand step");
        /* foreach Adam: its eight kernels (decay, lerp, scale, addcmul,
         * sqrt, div, add, addcdiv) move, all fp32, 8 + 12 + 8 + 12 + 8 + 8 +
         * 8 + 16 = 80 bytes a parameter where the fused pass moves 28 of
         * them: 52 more than the 32 above */
        cv.adam_foreach = 1;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
        is_dbl(o.optimizer_s, P * (32 + 80 - 28) / (HBM * 1e9), 1e-12,
               "1 GPU, foreach Adam: optimizer = P x (32 + 52) B / HBM");
        cv.adam_foreach = 0;
    }
    /* GPT-3 175B on 1024 GPUs: t = 8, p = 8, d = 16, B = 1536, b = 1,
     * M = 96, ZeRO-1.  The last stage is the slowest (it also runs the
     * head); one micro-batch on one of its tp ranks costs
     *   F = 3 b s [L/p (24 h^2 + 4 s h) + 2 V h] / t   (forward + backward)
     * plus the recomputation: selective b s L/p 4 s h / t, full
     * b s L/p (24 h^2 + 4 s h) / t.  compute = M F / (peak eff), bubble =
     * (p - 1) F / (peak eff).  Optimizer: the larger stage partition; the
     * first stage (its (V/t + Pos) h embedding rows beat the last stage's
     * V/t h + 2 h) with ceil(P_0 / d) parameters at 32 bytes. */
    {
        const double L = 96, h = 12288, V = 51200, Pos = 2048, s = 2048, B = 1536, b = 1, t = 8, p = 8, d = 16;
        const double M = B / (d * b), G = 1024;
        zp_model m = gpt(96, 12288, 96, 51200);
        zp_train tr = train(2048, 1536);
        zp_cluster c = cluster(1024);
        zp_conv cv = conv();
        /* N = 12 L h^2 + V h */
        double N = 12 * L * h * h + V * h, tokens = B * s;
        double model = 6 * N * tokens + 12 * L * s * h * tokens;
        hand_check(fabs(model - narayanan(B, s, L, h, V, 0)) <= 1e-12 * model, "175B: 6 N tokens + 12 L s h tokens = Narayanan eq. 3");
        /* one tp rank's block: (3h^2+3h)/t + h^2/t + h + (4h^2+4h)/t + 4h^2/t + h + 4h */
        double layer = (3 * h * h + 3 * h) / t + h * h / t + h + (4 * h * h + 4 * h) / t + 4 * h * h / t + h + 4 * h;
        double P0 = L / p * layer + (V / t + Pos) * h, Plast = L / p * layer + V / t * h + 2 * h;
        hand_check(P0 > Plast, "175B: the first stage holds more parameters (%.0f > %.0f)", P0, Plast);
        double opt = ceil(P0 / d) * 32 / (HBM * 1e9);
        double fwd_bwd = 3 * b * s * (L / p * (24 * h * h + 4 * s * h) + 2 * V * h) / t;
        static const zp_ckpt cks[] = {ZP_CKPT_NONE, ZP_CKPT_SELECTIVE, ZP_CKPT_FULL};
        const double rc[] = {0, b * s * L / p * 4 * s * h / t, b * s * L / p * (24 * h * h + 4 * s * h) / t};
        for (int i = 0; i < N_(cks); i++) {
            zp_layout l = lay(16, 8, 8, 1, 1, cks[i], 1, 96);
            zp_cost o;
            zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
            double F = fwd_bwd + rc[i];
            double compute = M * F / (PEAK * EFF), bubble = (p - 1) * F / (PEAK * EFF);
            double step = compute + bubble + opt, mfu = model / (step * G * PEAK);
            is_dbl(o.model_flops, model, 1e-12, "175B %s: model FLOPs = 6 N tokens + 12 L s h tokens = %.6g "
                   "(recompute excluded)", zp_ckpt_names[cks[i]], model);
            is_dbl(o.compute_s, compute, 1e-12, "175B %s: compute = M x %.6g FLOPs / (peak eff) = %.6g s",
                   zp_ckpt_names[cks[i]], F, compute);
            is_dbl(o.bubble_s, bubble, 1e-12, "175B %s: bubble = (p-1) x one micro-batch = %.6g s",
                   zp_ckpt_names[cks[i]], bubble);
            is_dbl(o.optimizer_s, opt, 1e-12, "175B %s: optimizer = ceil(P_0/d) x 32 B / HBM = %.6g s",
                   zp_ckpt_names[cks[i]], opt);
            ok(o.comm_exposed_s == 0, "175B %s: no collectives, nothing exposed", zp_ckpt_names[cks[i]]);
            is_dbl(o.step_s, step, 1e-12, "175B %s: step = compute + bubble + optimizer = %.6g s",
                   zp_ckpt_names[cks[i]], step);
            is_dbl(o.mfu, mfu, 1e-12, "175B %s: MFU = model FLOPs / (hand step x 1024 x dense peak) = %.6f "
                   "(mutation: MFU from hardware FLOPs, recompute counted, is caught)", zp_ckpt_names[cks[i]], mfu);
            is_dbl(o.tokens_per_s, tokens / step, 1e-12, "175B %s: tokens/s = B s / hand step = %.6g",
                   zp_ckpt_names[cks[i]], tokens / step);
            ok(o.mfu > 0 && o.mfu <= EFF + 1e-12, "175B %s: 0 < MFU %.3f <= gemm efficiency %.2f",
               zp_ckpt_names[cks[i]], o.mfu, EFF);
        }
    }
}

static void test_compute_bubble(void)
{
    /* slowest stage of a pipeline is the last (it also runs the head);
     * one micro-batch on one of its tp ranks: 3 x b s [L/p (24 h^2 + 4 s h) + 2 V h] / t */
    const int64_t L = 48, h = 4096, V = 50304, s = 2048, b = 2;
    zp_model m = gpt(L, h, 32, V);
    zp_conv cv = conv();
    struct { int64_t p, v, t, M; } cases[] = {
        {4, 1, 2, 8}, {4, 2, 2, 8}, {8, 3, 1, 16}, {2, 1, 8, 4}, {1, 1, 8, 4},
    };
    for (int i = 0; i < N_(cases); i++) {
        int64_t p = cases[i].p, v = cases[i].v, t = cases[i].t, M = cases[i].M;
        zp_train tr = train(s, M * b);
        zp_layout l = lay(1, t, p, v, 0, ZP_CKPT_NONE, b, M);
        zp_cluster c = cluster(p * t);
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
        double H = (double)h, S = (double)s;
        double mb_flops = 3.0 * (double)b * S * ((double)(L / p) * (24 * H * H + 4 * S * H) + 2 * (double)V * H) /
                          (double)t;
        double mb_s = mb_flops / (PEAK * EFF);
        is_dbl(o.hw_flops, (double)M * mb_flops, 1e-12, "p=%lld v=%lld t=%lld M=%lld: hw FLOPs of the last stage",
               (long long)p, (long long)v, (long long)t, (long long)M);
        is_dbl(o.compute_s, (double)M * mb_s, 1e-12, "p=%lld v=%lld t=%lld M=%lld: compute = M x one micro-batch",
               (long long)p, (long long)v, (long long)t, (long long)M);
        is_dbl(o.bubble_s, (double)(p - 1) / (double)v * mb_s, 1e-12,
               "p=%lld v=%lld: bubble = (p-1)/v x one micro-batch (%.4g s)", (long long)p, (long long)v,
               (double)(p - 1) / (double)v * mb_s);
        /* no communication given: nothing exposed */
        ok(o.comm_exposed_s == 0, "p=%lld: no collectives, no exposed time", (long long)p);
        /* bubble fraction (p-1)/(v M) of the compute */
        is_dbl(o.bubble_s / o.compute_s, (double)(p - 1) / (double)(v * M), 1e-12,
               "p=%lld v=%lld M=%lld: bubble / compute = (p-1)/(v M)", (long long)p, (long long)v, (long long)M);
    }
}

static void test_recompute(void)
{
    /* one GPU, so hw FLOPs are the whole step's: compare with eq. 3 */
    struct { const char *name; int64_t L, h, a, V, s, GB; } cases[] = {
        {"GPT-3 175B", 96, 12288, 96, 51200, 2048, 8},
        {"1.3B", 24, 2048, 16, 50304, 2048, 16},
        {"GPT-2 small", 12, 768, 12, 50257, 1024, 8},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_model m = gpt(cases[i].L, cases[i].h, cases[i].a, cases[i].V);
        zp_train tr = train(cases[i].s, cases[i].GB);
        zp_cluster c = cluster(1);
        zp_conv cv = conv();
        double B = (double)cases[i].GB, s = (double)cases[i].s, L = (double)cases[i].L, h = (double)cases[i].h,
               V = (double)cases[i].V;
        zp_layout l = lay(1, 1, 1, 1, 0, ZP_CKPT_NONE, 1, cases[i].GB);
        zp_cost none, sel, full;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &none);
        l.ckpt = ZP_CKPT_SELECTIVE;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &sel);
        l.ckpt = ZP_CKPT_FULL;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &full);
        is_dbl(none.hw_flops, narayanan(B, s, L, h, V, 0), 1e-12, "%s: hw FLOPs without recompute = 72 rule",
               cases[i].name);
        is_dbl(full.hw_flops, narayanan(B, s, L, h, V, 1), 1e-12,
               "%s: hw FLOPs with full recompute = 96 rule (head not recomputed)", cases[i].name);
        is_dbl(full.hw_flops / none.hw_flops, narayanan(B, s, L, h, V, 1) / narayanan(B, s, L, h, V, 0), 1e-12,
               "%s: full/none ratio = the 96/72 rule's", cases[i].name);
        /* ~4/3 when the (not recomputed) head is small: V/(12 h L) < 0.1 */
        if (V / (12 * h * L) < 0.1)
            is_dbl(full.hw_flops / none.hw_flops, 96.0 / 72.0, 0.03, "%s: full recompute costs ~4/3 (within 3%%)",
                   cases[i].name);
        else
            ok(full.hw_flops / none.hw_flops < 96.0 / 72.0, "%s: large head, full recompute costs less than 4/3",
               cases[i].name);
        /* selective: the attention core again, Q K^T and scores x V, 4 s h per layer per token */
        is_dbl(sel.hw_flops - none.hw_flops, B * s * L * 4 * s * h, 1e-9, "%s: selective adds B s L 4sh",
               cases[i].name);
        /* the MLP too (--recompute-modules core_attn,mlp): its products
         * again, 2 (h 4h + 4h h) = 16 h^2 per layer per token */
        tr.rc_modules = ZP_RC_CORE_ATTN | ZP_RC_MLP;
        l.ckpt = ZP_CKPT_SELECTIVE;
        zp_cost selm;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &selm);
        is_dbl(selm.hw_flops - none.hw_flops, B * s * L * (4 * s * h + 16 * h * h), 1e-9,
               "%s: selective core_attn,mlp adds B s L (4sh + 16h^2)", cases[i].name);
        tr.rc_modules = 0;
        ok(full.model_flops == none.model_flops && sel.model_flops == none.model_flops,
           "%s: model FLOPs ignore recompute", cases[i].name);
        ok(full.mfu < none.mfu, "%s: recompute lowers MFU (%.3f < %.3f)", cases[i].name, full.mfu, none.mfu);
        /* flash attention recomputes Q K^T in its backward: 2 s h per layer per token */
        tr.flash = 1;
        l.ckpt = ZP_CKPT_NONE;
        zp_cost fl;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &fl);
        is_dbl(fl.hw_flops - none.hw_flops, B * s * L * 2 * s * h, 1e-9, "%s: flash adds B s L 2sh", cases[i].name);
    }
}

static void test_optimizer_and_overlap(void)
{
    const int64_t L = 24, h = 2048, V = 50304, s = 2048, d = 8, M = 4;
    zp_model m = gpt(L, h, 16, V);
    zp_train tr = train(s, d * M);
    zp_cluster c = cluster(d);
    zp_conv cv = conv();
    int64_t P = zp_stage_params(&m, &(zp_layout){.dp = d, .tp = 1, .pp = 1, .vp = 1}, 0);
    /* device optimizer: one pass over the partition reading and writing params
     * (2 x 2), reading fp32 grads (4), reading and writing master + m + v (2 x 12) */
    for (int z = 0; z <= 3; z++) {
        zp_layout l = lay(d, 1, 1, 1, z, ZP_CKPT_NONE, 1, M);
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
        double Ps = z >= 1 ? (double)((P + d - 1) / d) : (double)P;
        is_dbl(o.optimizer_s, Ps * (2 * 2 + 4 + 2 * 12) / (HBM * 1e9), 1e-12,
               "ZeRO-%d: optimizer = %.0f params x 32 B / HBM", z, Ps);
    }
    {
        zp_layout l = lay(d, 1, 1, 1, 2, ZP_CKPT_NONE, 1, M);
        l.offload = ZP_OFF_OPT;
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
        is_dbl(o.optimizer_s, (double)((P + d - 1) / d) / 1e9, 1e-12, "offloaded optimizer: Psi/d at 1e9 params/s");
    }
    /* overlap: a gradient reduction hides behind one backward (ZeRO-0/1),
     * every micro-batch's backward (ZeRO-2), or forward + backward (ZeRO-3);
     * critical-path collectives are fully exposed */
    double tok = (double)s, H = (double)h;
    double fwd_s = tok * ((double)L * (24 * H * H + 4 * (double)s * H) + 2 * (double)V * H) / (PEAK * EFF);
    double bwd_s = 2 * fwd_s;
    struct { int zero; double ovl, crit, want; } cases[] = {
        {0, 0.5 * bwd_s, 0.01, 0.01},                    /* hidden */
        {0, 3.0 * bwd_s, 0.01, 0.01 + 2.0 * bwd_s},      /* sticks out by 2 backward passes */
        {1, 1.5 * bwd_s, 0.0, 0.5 * bwd_s},
        {2, 3.0 * bwd_s, 0.0, 0.0},                      /* M = 4 backward passes hide it */
        {2, 5.0 * bwd_s, 0.0, 1.0 * bwd_s},
        {3, 11.0 * bwd_s, 0.0, 11.0 * bwd_s - M * (fwd_s + bwd_s)},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_layout l = lay(d, 1, 1, 1, cases[i].zero, ZP_CKPT_NONE, 1, M);
        zp_comm cm = {0};
        cm.n = 2;
        cm.c[0].overlap = cases[i].zero >= 3 ? ZP_OVL_FWD_BWD : ZP_OVL_BWD;
        cm.c[0].time_s = cases[i].ovl;
        cm.c[1].overlap = ZP_OVL_NONE;
        cm.c[1].time_s = cases[i].crit;
        cm.time_s = cases[i].ovl + cases[i].crit;
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &cm, &cm, &o);
        is_dbl(o.comm_exposed_s, cases[i].want, 1e-9, "ZeRO-%d overlap %.3g s + critical %.3g s: exposed %.4g s",
               cases[i].zero, cases[i].ovl, cases[i].crit, cases[i].want);
    }
    {   /* FSDP's ZeRO-2 gathers the parameters again in every micro-batch's
         * forward (comm.c labels them FWD_BWD, as ZeRO-3's): its window, as
         * ZeRO-3's, is M (fwd + bwd) = 4 x 1.5 bwd = 6 bwd, so 7 bwd of
         * reduce-scatters and gathers leave 1 bwd; the reduce-scatters alone
         * (BWD) have ZeRO-2's M bwd = 4 bwd, so 7 bwd of them leave 3 */
        zp_layout l = lay(d, 1, 1, 1, 2, ZP_CKPT_NONE, 1, M);
        zp_comm cm = {0};
        cm.n = 2;
        cm.c[0].group = cm.c[1].group = ZP_GRP_DP;
        cm.c[0].overlap = ZP_OVL_BWD;
        cm.c[0].time_s = 3.5 * bwd_s;
        cm.c[1].overlap = ZP_OVL_FWD_BWD;
        cm.c[1].time_s = 3.5 * bwd_s;
        cm.time_s = 7.0 * bwd_s;
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &cm, &cm, &o);
        is_dbl(o.comm_exposed_s, 1.0 * bwd_s, 1e-9, "FSDP ZeRO-2, 7 bwd of reduce-scatters and per-micro-batch "
               "gathers: the window M (fwd + bwd), 1 bwd exposed");
        cm.c[1].overlap = ZP_OVL_BWD;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &cm, &cm, &o);
        is_dbl(o.comm_exposed_s, 3.0 * bwd_s, 1e-9, "ZeRO-2, 7 bwd all behind the backward: M bwd hides, 3 bwd exposed");
    }
    /* gradient reductions after the backward (Megatron-LM without
     * --overlap-grad-reduce, DeepSpeed without overlap_comm below ZeRO-3):
     * the communication plan labels the dp reduction and the copy of the
     * reduced gradients to an offloaded optimizer (which cannot start
     * before it) as overlapping nothing, so at ZeRO-1 with the optimizer
     * offloaded every collective is on the critical path and the exposed
     * time is their whole sum; behind the backward, less */
    for (int w = 0; w < 3; w++) {
        const zp_grad_overlap gos[3] = {ZP_GOVL_ALL, ZP_GOVL_NONE, ZP_GOVL_ZERO3};
        zp_layout l = lay(d, 1, 1, 1, 1, ZP_CKPT_NONE, 1, M);
        l.offload = ZP_OFF_OPT;
        zp_conv cg = cv;
        cg.grad_overlap = gos[w];
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cg, 0, &cm);
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cg, &cm, &cm, &o);
        int shows = gos[w] != ZP_GOVL_ALL;
        ok(cm.n >= 3 && (shows ? fabs(o.comm_exposed_s - cm.time_s) <= 1e-12 * cm.time_s : o.comm_exposed_s < cm.time_s),
           "ZeRO-1, optimizer offloaded, gradients reduced %s: exposed %.4g s %s all %d collectives' %.4g s",
           zp_grad_overlap_names[gos[w]], o.comm_exposed_s, shows ? "=" : "<", cm.n, cm.time_s);
    }
    /* one collective behind one window, by hand: an input gradient's
     * reduction behind the weight-gradient products (ZP_OVL_WGRAD), M
     * micro-batches of the L layers' dW products, the forward's linear
     * FLOPs, 24 h^2 a token; the distributed optimizer's all-gather behind
     * the next step's first forward (ZP_OVL_FWD), one micro-batch's forward
     * of the L layers and the head, fwd_s above.  Half the window hides;
     * 0.01 s more than it shows */
    {
        const struct { zp_overlap ov; zp_group g; int zero; double win; const char *what; } wc[] = {
            {ZP_OVL_WGRAD, ZP_GRP_TP, 0, (double)M * (double)L * tok * 24 * H * H / (PEAK * EFF),
             "an input-gradient reduction behind the weight gradients"},
            {ZP_OVL_FWD, ZP_GRP_DP, 1, fwd_s, "the updated parameters' all-gather behind a forward"},
        };
        for (int k = 0; k < N_(wc); k++)
            for (int i = 0; i < 2; i++) {
                zp_layout l = lay(d, 1, 1, 1, wc[k].zero, ZP_CKPT_NONE, 1, M);
                zp_comm cm = {0};
                cm.n = 1;
                cm.c[0].overlap = wc[k].ov;
                cm.c[0].group = wc[k].g;
                cm.c[0].count = 1;
                cm.c[0].time_s = i ? wc[k].win + 0.01 : 0.5 * wc[k].win;
                zp_cost o;
                zp_cost_eval(&m, &tr, &l, &c, &cv, &cm, &cm, &o);
                is_dbl(o.comm_exposed_s, i ? 0.01 : 0.0, 1e-9, "%s: %.4g s in a window of %.4g s, %s", wc[k].what,
                       cm.c[0].time_s, wc[k].win, i ? "0.01 s shows" : "hidden");
            }
    }
    /* interleaved pipeline transfers behind the stage's other chunks
     * (ZP_OVL_P2P): each behind one chunk's forward at most (fwd_s / vp,
     * vp 2 here), all of them behind the step's compute, M (fwd_s +
     * bwd_s) = 12 fwd_s at M = 4: 8 transfers of a quarter chunk hide; of
     * 8 of 1.5 chunks, 0.5 chunk each shows (4 chunks = 2 fwd_s), the 8
     * chunks' worth that fit hide; 16 of a whole chunk (8 fwd_s) hide, 32
     * (16 fwd_s) overflow the step by 4 fwd_s */
    {
        const struct { int64_t n; double per, shows; } pc[] = {{8, 0.25, 0.0}, {8, 1.5, 2.0}, {16, 1.0, 0.0}, {32, 1.0, 4.0}};
        for (int i = 0; i < N_(pc); i++) {
            zp_layout l = lay(d, 1, 1, 2, 1, ZP_CKPT_NONE, 1, M);
            zp_comm cm = {0};
            cm.n = 1;
            cm.c[0].overlap = ZP_OVL_P2P;
            cm.c[0].group = ZP_GRP_PP;
            cm.c[0].count = pc[i].n;
            cm.c[0].time_s = (double)pc[i].n * pc[i].per * fwd_s / 2;
            zp_cost o;
            zp_cost_eval(&m, &tr, &l, &c, &cv, &cm, &cm, &o);
            is_dbl(o.comm_exposed_s, pc[i].shows * fwd_s, 1e-9, "vp 2, %lld pipeline transfers of %.2g of a chunk's "
                   "forward: %.2g forward passes show", (long long)pc[i].n, pc[i].per, pc[i].shows);
        }
    }
    /* imperfect overlap, efficiency 0.8: of what fits in the window 20 %
     * still shows; what does not fit shows whole */
    struct { int zero; double ovl, want; } imp[] = {
        {0, 0.5 * bwd_s, 0.2 * 0.5 * bwd_s},
        {0, 3.0 * bwd_s, 2.0 * bwd_s + 0.2 * bwd_s},
        {3, 2.0 * bwd_s, 0.2 * 2.0 * bwd_s},
    };
    zp_conv cv8 = cv;
    cv8.overlap_eff = 0.8;
    for (int i = 0; i < N_(imp); i++) {
        zp_layout l = lay(d, 1, 1, 1, imp[i].zero, ZP_CKPT_NONE, 1, M);
        zp_comm cm = {0};
        cm.n = 1;
        cm.c[0].overlap = imp[i].zero >= 3 ? ZP_OVL_FWD_BWD : ZP_OVL_BWD;
        cm.c[0].time_s = imp[i].ovl;
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv8, &cm, &cm, &o);
        is_dbl(o.comm_exposed_s, imp[i].want, 1e-9, "ZeRO-%d overlap %.3g s at efficiency 0.8: exposed %.4g s",
               imp[i].zero, imp[i].ovl, imp[i].want);
    }
    /* the data-parallel group at its own efficiency (0.5, FSDP's) beside
     * a host copy at 0.8, both behind one backward (ZeRO-1): inside the
     * window 0.5 of the reduction and 0.2 of the copy show; past it, the
     * excess shows whole and the window's share of each (in proportion to
     * its time) at its own rate: 1.5 + 0.5 busy, window 1: 1 + (0.5 x 1.5
     * + 0.2 x 0.5) / 2.  Unset, the reduction follows --overlap-eff.  The
     * updated parameters' gather behind one forward (ZP_OVL_FWD) and, with
     * FSDP and a pipeline, the reduction behind the last backward alone are
     * the group's too. */
    struct { double dp, host, eff_dp; int set; double want; } two[] = {
        {0.3 * bwd_s, 0.2 * bwd_s, 0.5, 1, 0.5 * 0.3 * bwd_s + 0.2 * 0.2 * bwd_s},
        {1.5 * bwd_s, 0.5 * bwd_s, 0.5, 1, 1.0 * bwd_s + 1.0 * bwd_s * (0.5 * 1.5 + 0.2 * 0.5) / 2.0},
        {0.3 * bwd_s, 0.2 * bwd_s, 0.5, 0, 0.2 * 0.5 * bwd_s},
        {0.3 * bwd_s, 0.0, 0.0, 1, 0.3 * bwd_s},
    };
    for (int i = 0; i < N_(two); i++) {
        zp_layout l = lay(d, 1, 1, 1, 1, ZP_CKPT_NONE, 1, M);
        zp_comm cm = {0};
        cm.n = 2;
        cm.c[0].group = ZP_GRP_DP, cm.c[0].overlap = ZP_OVL_BWD, cm.c[0].time_s = two[i].dp;
        cm.c[1].group = ZP_GRP_PCIE, cm.c[1].overlap = ZP_OVL_BWD, cm.c[1].time_s = two[i].host;
        zp_conv cd = cv8;
        cd.dp_overlap_set = two[i].set, cd.dp_overlap_eff = two[i].eff_dp;
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cd, &cm, &cm, &o);
        is_dbl(o.comm_exposed_s, two[i].want, 1e-9,
               "reduction %.3g s (dp efficiency %.1f%s) + host copy %.3g s (0.8) behind one backward: exposed %.4g s",
               two[i].dp, two[i].eff_dp, two[i].set ? "" : ", unset: 0.8", two[i].host, two[i].want);
    }
    {
        zp_layout l = lay(d, 1, 1, 1, 1, ZP_CKPT_NONE, 1, M);
        zp_comm cm = {0};
        cm.n = 1;
        cm.c[0].group = ZP_GRP_DP, cm.c[0].overlap = ZP_OVL_FWD, cm.c[0].time_s = 0.5 * fwd_s;
        zp_conv cd = cv8;
        cd.dp_overlap_set = 1, cd.dp_overlap_eff = 0.5;
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cd, &cm, &cm, &o);
        is_dbl(o.comm_exposed_s, 0.5 * 0.5 * fwd_s, 1e-9,
               "updated-parameter gather of half a forward at dp efficiency 0.5: a quarter of a forward shows");
    }
    {
        /* FSDP with a pipeline (ZeRO-3, pp 2): the once-a-step reduction
         * behind the last micro-batch's backward, 10 us (well inside it):
         * half shows at dp efficiency 0.5, whatever --overlap-eff (1 here) */
        zp_layout l = lay(d / 2, 1, 2, 1, 3, ZP_CKPT_NONE, 1, M);
        zp_comm cm = {0};
        cm.n = 1;
        cm.c[0].group = ZP_GRP_DP, cm.c[0].overlap = ZP_OVL_BWD, cm.c[0].time_s = 1e-5;
        zp_conv cd = cv;
        cd.overlap_eff = 1.0, cd.dp_overlap_set = 1, cd.dp_overlap_eff = 0.5;
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cd, &cm, &cm, &o);
        is_dbl(o.comm_exposed_s, 0.5e-5, 1e-9,
               "FSDP + pp 2: the once-a-step reduction (10 us) at dp efficiency 0.5: 5 us shows");
    }
}

/* The last pipeline stage's exposed communication.  zp_cost_eval takes
 * the first stage's collectives and the last's and keeps the larger
 * exposed time: built here so that the last stage's alone is the maximum
 * and changes the step time.  pp = 2, t = d = 1, M = 4, b = 1: GPT L = 8,
 * h = 512, a = 8, V = 4096, s = 256.  Both stages run L/p = 4 blocks; the
 * last also runs the head, so one of its micro-batches costs
 *   F = 3 b s (L/p (24 h^2 + 4 s h) + 2 V h) (forward + backward),
 * its backward alone 2 F / 3; compute = M F / (peak eff), bubble = F / (peak eff).
 * Optimizer: the first stage's (V + Pos) h embedding rows (Pos = 2048)
 * outweigh the last's V h tied copy + 2 h: P_0 = L/p (12 h^2 + 13 h) +
 * (V + Pos) h at 32 bytes. */
static void test_last_stage_exposed(void)
{
    const double L = 8, h = 512, V = 4096, Pos = 2048, s = 256, b = 1, p = 2, M = 4;
    zp_model m = gpt(8, 512, 8, 4096);
    zp_train tr = train(256, 4);
    zp_cluster c = cluster(2);
    zp_conv cv = conv();
    zp_layout l = lay(1, 1, 2, 1, 0, ZP_CKPT_NONE, 1, 4);
    double F = 3 * b * s * (L / p * (24 * h * h + 4 * s * h) + 2 * V * h);
    double compute = M * F / (PEAK * EFF), bubble = (p - 1) * F / (PEAK * EFF);
    double opt = (L / p * (12 * h * h + 13 * h) + (V + Pos) * h) * 32 / (HBM * 1e9);
    double bwd_last = 2 * F / 3 / (PEAK * EFF);
    /* two collectives on the critical path: 10 ms on the first stage, 50 ms
     * on the last */
    zp_comm first = {0}, last = {0};
    first.n = 1;
    first.c[0].overlap = ZP_OVL_NONE;
    first.c[0].time_s = first.time_s = 0.010;
    last.n = 1;
    last.c[0].overlap = ZP_OVL_NONE;
    last.c[0].time_s = last.time_s = 0.050;
    zp_cost o;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &last, &o);
    is_dbl(o.comm_exposed_s, 0.050, 1e-12,
           "pp=2, only the last stage communicates (50 ms critical): exposed 50 ms "
           "(mutation: first stage's exposed comm used for the last is caught)");
    is_dbl(o.step_s, compute + bubble + 0.050 + opt, 1e-12,
           "pp=2: step = compute + bubble + the last stage's 50 ms + optimizer = %.6g s", compute + bubble + 0.050 + opt);
    zp_cost_eval(&m, &tr, &l, &c, &cv, &first, &last, &o);
    is_dbl(o.comm_exposed_s, 0.050, 1e-12, "pp=2, first 10 ms, last 50 ms: the larger, the last's 50 ms");
    zp_cost_eval(&m, &tr, &l, &c, &cv, &last, &first, &o);
    is_dbl(o.comm_exposed_s, 0.050, 1e-12, "pp=2, first 50 ms, last 10 ms: the larger, the first's 50 ms "
           "(mutation: the last stage's exposed comm always used is caught)");
    /* an overlapped gradient reduction on the last stage hides behind the
     * last stage's own backward (ZeRO-0: one backward pass, with the
     * head): 5 ms more than that window shows, at overlap efficiency 1 */
    last.c[0].overlap = ZP_OVL_BWD;
    last.c[0].time_s = last.time_s = bwd_last + 0.005;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &last, &o);
    is_dbl(o.comm_exposed_s, 0.005, 1e-9, "pp=2, last stage reduction = its backward (%.4g s) + 5 ms: 5 ms exposed",
           bwd_last);
    is_dbl(o.step_s, compute + bubble + 0.005 + opt, 1e-12, "pp=2: step = compute + bubble + 5 ms + optimizer");
}

/* The optimizer step runs on every stage at once; the step waits for the
 * largest partition (cost.c: the larger of the first and last stage).
 * pp = 2, GPT L = 8, h = 512, a = 8 (12 h^2 + 13 h per block), s = 256:
 *   learned positions (Pos = 2048), tied: P_0 = 4 blocks + (V + Pos) h is
 *     larger than P_1 = 4 blocks + 2 h + V h (the tied copy);
 *   rotary, untied, head bias: P_0 = 4 blocks + V h is smaller than
 *     P_1 = 4 blocks + 2 h + V h + V.
 * The device pass moves 32 bytes a parameter (bf16 params 2 x 2, fp32
 * grads 4, master + m + v 2 x 12); ZeRO-1 at d = 2 a ceil(P/2) shard;
 * offloaded, the host optimizer's 1e9 parameters/s. */
static void test_optimizer_max_stage(void)
{
    const int64_t L = 8, h = 512, V = 4096, Pos = 2048;
    const int64_t blocks = L / 2 * (12 * h * h + 13 * h);
    zp_train tr = train(256, 8);
    zp_cluster c = cluster(4);
    zp_conv cv = conv();
    struct { const char *name; int rotary_untied; int64_t P0, P1; } cases[] = {
        {"tied, learned positions: the first stage is larger", 0, blocks + (V + Pos) * h, blocks + 2 * h + V * h},
        {"untied with a head bias, rotary: the last stage is larger", 1, blocks + V * h, blocks + 2 * h + V * h + V},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_model m = gpt(L, h, 8, V);
        if (cases[i].rotary_untied) {
            m.pos = ZP_POS_ROTARY;
            m.max_pos = 0;
            m.tied = 0;
            m.head_bias = 1;
        }
        int64_t P = cases[i].P0 > cases[i].P1 ? cases[i].P0 : cases[i].P1;
        ok(cases[i].rotary_untied ? cases[i].P1 > cases[i].P0 : cases[i].P0 > cases[i].P1,
           "%s: hand P_0 = %lld, P_1 = %lld", cases[i].name, (long long)cases[i].P0, (long long)cases[i].P1);
        zp_layout l = lay(1, 1, 2, 1, 0, ZP_CKPT_NONE, 1, 8);
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
        is_dbl(o.optimizer_s, (double)P * 32 / (HBM * 1e9), 1e-12,
               "%s, ZeRO-0: optimizer = max(P_0, P_1) = %lld x 32 B / HBM (mutation: optimizer time of stage 0 "
               "instead of the max is caught; of the last stage instead of the max is caught)",
               cases[i].name, (long long)P);
        l = lay(2, 1, 2, 1, 1, ZP_CKPT_NONE, 1, 4);
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
        is_dbl(o.optimizer_s, (double)((P + 1) / 2) * 32 / (HBM * 1e9), 1e-12,
               "%s, ZeRO-1 d=2: optimizer = ceil(max / 2) = %lld x 32 B / HBM", cases[i].name, (long long)((P + 1) / 2));
        /* foreach Adam on the same shard, bf16 gradients: the fused pass
         * moves 2 x 2 + 2 + 2 x 12 = 30 bytes a parameter, the foreach
         * kernels 48 more in fp32 and the gradient read again, 2 */
        cv.adam_foreach = 1;
        tr.grad_dtype = ZP_DT_BF16;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
        is_dbl(o.optimizer_s, (double)((P + 1) / 2) * (30 + 48 + 2) / (HBM * 1e9), 1e-12,
               "%s, ZeRO-1 d=2, bf16 gradients, foreach Adam: ceil(max / 2) x (30 + 50) B / HBM", cases[i].name);
        tr.grad_dtype = ZP_DT_FP32;
        l.offload = ZP_OFF_OPT;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
        is_dbl(o.optimizer_s, (double)((P + 1) / 2) / 1e9, 1e-12,
               "%s, ZeRO-1 d=2 offloaded, foreach Adam: the host's, ceil(max / 2) at 1e9 params/s", cases[i].name);
        cv.adam_foreach = 0;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
        is_dbl(o.optimizer_s, (double)((P + 1) / 2) / 1e9, 1e-12,
               "%s, ZeRO-1 d=2 offloaded: ceil(max / 2) at 1e9 params/s", cases[i].name);
    }
}

/* A measured profile times the non-matmul kernels as traffic at its rate:
 * per token and layer, forward, norms 4h + residual adds 6h + GELU 2f +
 * softmax 1.5 a s values (no flash attention); the head 4h + 3V; backward
 * twice the forward; full recompute one more forward of the layers,
 * selective the softmax; bytes of the activation dtype each (4 computing
 * in fp32). */
static void test_elementwise(void)
{
    const int64_t L = 4, h = 256, a = 4, V = 512, s = 128, b = 4, M = 2;
    zp_model m = gpt(L, h, a, V);
    zp_conv cv = conv();
    zp_cluster c = cluster(2);
    zp_train tr = train(s, 2 * M * b);
    tr.dtype = tr.grad_dtype = ZP_DT_FP32;
    zp_layout l = lay(2, 1, 1, 1, 0, ZP_CKPT_NONE, b, M);
    double fwd = 10.0 * h + 2.0 * 4 * h + 1.5 * a * s, head = 4.0 * h + 3.0 * V, tok = (double)(s * b);
    is_dbl(zp_elementwise_bytes(&m, &tr, &l, 1), 4 * tok * (3 * L * fwd + 3 * head), 1e-12,
           "elementwise bytes: 4 s b (3 L (10h + 2f + 1.5 a s) + 3 (4h + 3V))");
    is_dbl(zp_elementwise_bytes(&m, &tr, &l, 0), 4 * tok * 3 * L * fwd, 1e-12, "not the last stage: no head");
    zp_cost plain, timed;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &plain);
    cv.elementwise_bps = 5e9;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &timed);
    is_dbl(timed.compute_s - plain.compute_s, M * 4 * tok * (3 * L * fwd + 3 * head) / 5e9, 1e-9,
           "with a rate of 5 GB/s: compute + M x bytes / rate");
    is_dbl(timed.hw_flops, plain.hw_flops, 1e-15, "the FLOPs do not change");
    l.ckpt = ZP_CKPT_FULL;
    is_dbl(zp_elementwise_bytes(&m, &tr, &l, 1), 4 * tok * (4 * L * fwd + 3 * head), 1e-12,
           "full recompute: one more forward of the layers");
    l.ckpt = ZP_CKPT_SELECTIVE;
    is_dbl(zp_elementwise_bytes(&m, &tr, &l, 1), 4 * tok * (L * (3 * fwd + 1.5 * a * s) + 3 * head), 1e-12,
           "selective recompute: the softmax again");
    tr.dtype = ZP_DT_BF16;
    l.ckpt = ZP_CKPT_NONE;
    is_dbl(zp_elementwise_bytes(&m, &tr, &l, 1), 2 * tok * (3 * L * fwd + 3 * head), 1e-12, "bf16: 2 bytes a value");
    tr.compute_fp32 = 1;
    is_dbl(zp_elementwise_bytes(&m, &tr, &l, 1), 4 * tok * (3 * L * fwd + 3 * head), 1e-12,
           "bf16 computed in fp32: 4 bytes a value");
    tr.flash = 1;
    is_dbl(zp_elementwise_bytes(&m, &tr, &l, 1), 4 * tok * (3 * L * (10.0 * h + 8.0 * h) + 3 * head), 1e-12,
           "flash attention fuses the softmax away");
    /* a parallel block with one shared LayerNorm reads and writes h once less */
    m.block = ZP_BLOCK_PARALLEL;
    is_dbl(zp_elementwise_bytes(&m, &tr, &l, 1), 4 * tok * (3 * L * (8.0 * h + 8.0 * h) + 3 * head), 1e-12,
           "parallel block, one norm: 8h + 2f a token and layer");
    /* a window caps the softmax rows at w values: 1.5 a w */
    m.block = ZP_BLOCK_SERIAL;
    m.window = 32;
    tr.flash = 0;
    is_dbl(zp_elementwise_bytes(&m, &tr, &l, 1), 4 * tok * (3 * L * (10.0 * h + 8.0 * h + 1.5 * a * 32) + 3 * head),
           1e-12, "window 32 < s = 128: softmax 1.5 a w");
    /* Q's and K's head norms (Qwen3) read and write each rank's heads: 2 (a
     * + g) d / t a token and layer (a = g = 4 heads of d = 64; t = 2: 512
     * values), with flash attention */
    m.window = 0;
    m.qk_norm = 1;
    tr.flash = 1;
    l = lay(1, 2, 1, 1, 0, ZP_CKPT_NONE, b, M);
    double fw2 = 10.0 * h + 2.0 * 4 * h / 2;
    is_dbl(zp_elementwise_bytes(&m, &tr, &l, 0), 4 * tok * 3 * L * (fw2 + 2.0 * (4 + 4) * 64 / 2), 1e-12,
           "Q/K head norms, t=2: 2 (a + g) d / t more a token and layer");
    l.ckpt = ZP_CKPT_FULL;
    is_dbl(zp_elementwise_bytes(&m, &tr, &l, 0), 4 * tok * 4 * L * (fw2 + 2.0 * (4 + 4) * 64 / 2), 1e-12,
           "and rebuilt with the block under full recompute");
    m.qk_norm = 0;
}


/* PyTorch eager's kernels (zp_eager_traffic_eval), by hand for GPT-2 in
 * fp32 with SDPA and no dropout (every tensor 4 bytes; n tokens, q = kv =
 * n h): each kernel reads its inputs and writes its output.
 *   forward: LayerNorm reads x and writes y, mean, rstd: 8 nh + 8 n, twice;
 *   each residual add reads two and writes one, 12 nh, twice; gelu_new's
 *   eight kernels: 0.5 x (8 nf), pow, x 0.044715 (8 each), x + (12), x
 *   sqrt(2/pi), tanh, 1 + (8 each), the product (12): 72 nf
 *   backward: the biases' sums read their gradients (fc2 and c_proj nh,
 *   c_fc nf, c_attn 3 nh); gelu_new's eleven: the last product's two (12,
 *   12), tanh's (12), the scalings by sqrt(2/pi), 0.044715 and 0.5 (8
 *   each), pow's x^2 and x 3 (8 each), x g (12), x's three gradients
 *   added (12, 12): 112 nf; each
 *   LayerNorm's reads the gradient, x, mean and rstd and writes dx: 12 nh +
 *   8 n; the residual's added, 12 nh, twice; the QKV gradients
 *   concatenated, read 3 nh and written 3 nh: 24 nh
 * so a layer moves 40 nh + 72 nf + 16 n forward and 92 nh + 116 nf + 16 n
 * backward, in 12 and 20 (4 + 11 + 2 + 2 + 1) kernels. */
static void test_eager_traffic(void)
{
    const int64_t L = 2, h = 64, a = 4, V = 500, s = 128, b = 2;
    zp_model m = gpt(L, h, a, V);
    zp_train tr = train(s, b);
    tr.dtype = tr.grad_dtype = ZP_DT_FP32, tr.flash = 1, tr.dropout = 0;
    zp_layout l = lay(1, 1, 1, 1, 0, ZP_CKPT_NONE, b, 1);
    double n = (double)(s * b), nh = n * h, nf = 4.0 * nh;
    zp_eager_traffic t;
    zp_eager_traffic_eval(&m, &tr, &l, &t);
    is_dbl(t.f, 40 * nh + 72 * nf + 16 * n, 1e-12, "eager GPT-2, fp32, SDPA: a layer's forward 40 nh + 72 nf + 16 n");
    is_dbl(t.b, 92 * nh + 116 * nf + 16 * n, 1e-12, "its backward 92 nh + 116 nf + 16 n");
    is_dbl(t.kf, 12, 0, "12 kernels forward");
    is_dbl(t.kb, 20, 0, "20 backward");
    is_dbl(t.pf + t.pb, 0, 0, "fp32: no weight casts");
    /* autocast: every weight cast to 16 bits a forward and its gradient back, 6 bytes a parameter each way */
    tr.dtype = ZP_DT_BF16, tr.master = 1;
    zp_eager_traffic_eval(&m, &tr, &l, &t);
    double w = (double)zp_model_layer_params(&m, 1) - 4.0 * h;   /* the two LayerNorms are not cast */
    is_dbl(t.pf, 6 * w, 1e-12, "autocast: the layer's weights and biases cast, 6 bytes a parameter");
    is_dbl(t.pb, 6 * w, 1e-12, "and their gradients cast back");
    /* the time: that traffic at eager_hbm_eff of the HBM bandwidth, kernel_s a kernel */
    zp_cluster c = cluster(1);
    zp_conv cv = conv();
    cv.gemm_eff = 0.0, cv.gemm.eff_max = 0.5, cv.gemm.sms = 132, cv.gemm.hbm_gbps = HBM;
    cv.hbm_eff = 0.3, cv.kernel_s = 4.5e-6, cv.attn_eff = 0.3, cv.eager_hbm_eff = 0.8;
    zp_cost plain, eager;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &plain);
    cv.eager = 1;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &eager);
    zp_eager_traffic_eval(&m, &tr, &l, &t);
    is_dbl(eager.ew_bytes, L * (t.f + t.b) + t.hf + t.hb + t.ef + t.eb, 1e-12,
           "ew_bytes: the layers', the head's and the embedding's traffic");
    /* with a constant efficiency the non-matmul kernels are folded in, eager or not */
    cv.gemm_eff = 0.5;
    zp_cost flat, flat_eager;
    cv.eager = 0;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &flat);
    cv.eager = 1;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &flat_eager);
    is_dbl(flat_eager.compute_s, flat.compute_s, 1e-15, "--gemm-eff: eager adds no kernels of its own");
    cv.gemm_eff = 0.0;
    is_dbl(eager.hw_flops, plain.hw_flops, 1e-15, "the FLOPs do not change");
    /* without launch times the two differ by exactly the traffic's times:
     * each part (a layer's forward and backward, the head's forward and
     * backward) eager's at 80 % of the bandwidth, or the fused kernels' at
     * 30 % where that is longer (the fused head's forward here: its 3V a
     * token at 30 % outlasts the loss's kernels at 80 %), and the embedding's,
     * in place of the fused kernels' (a layer's forward a third of its
     * traffic, the backward twice the forward; the head likewise) */
    zp_cost plain0, eager0;
    cv.kernel_s = 0.0, cv.eager = 0;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &plain0);
    cv.eager = 1;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &eager0);
    double e8 = 0.8 * HBM * 1e9, f3 = 0.3 * HBM * 1e9;
    double Fl = zp_elementwise_bytes(&m, &tr, &l, 0) / (3.0 * L), Fh = (zp_elementwise_bytes(&m, &tr, &l, 1) - 3.0 * L * Fl) / 3.0;
    double want = L * (fmax(t.f / e8, Fl / f3) + fmax(t.b / e8, 2 * Fl / f3)) + fmax(t.hf / e8, Fh / f3) +
                  fmax(t.hb / e8, 2 * Fh / f3) + (t.ef + t.eb) / e8 - (3.0 * L * Fl + 3.0 * Fh) / f3;
    ok(t.hf / e8 < Fh / f3 && t.f / e8 > Fl / f3, "the fused head's forward is the longer, a layer's is eager's");
    is_dbl(eager0.compute_s - plain0.compute_s, want, 1e-9,
           "eager: its traffic at 80 %% of the bandwidth in place of the fused kernels' at 30 %%, never less");
    cv.kernel_s = 4.5e-6;
    /* kernel launches: the traffic's kernels and the products' own, which
     * the traffic leaves out: GPT-2's 4 linear layers once forward and
     * twice backward, SDPA one kernel forward and two backward, the head's
     * product once and twice; the difference between 4.5 us a kernel and
     * none is those counts' 4.5 us */
    zp_cost k0;
    cv.kernel_s = 0.0;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &k0);
    cv.kernel_s = 4.5e-6;
    double kernels = L * (t.kf + 4 + 1) + L * (t.kb + 2 * 4 + 2) + (t.khf + 1) + (t.khb + 2) + t.kef + t.keb;
    is_dbl(eager.compute_s - k0.compute_s, 4.5e-6 * kernels, 1e-9,
           "eager: %.0f kernels a micro-batch at 4.5 us, the products' launches among them", kernels);
    zp_cost rc;
    l.ckpt = ZP_CKPT_FULL;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &rc);
    is_dbl(rc.ew_bytes - eager.ew_bytes, L * t.f, 1e-12, "full recompute: every layer's forward kernels again");
}

/* The matmul efficiency by shape (gemm.c), evaluated by hand: ceiling x
 * the busy fraction of the waves with the best of the three tiles x the
 * covered part of the tiles x K / (K + 64).  A100: 108 SMs, ceiling 0.89. */
static void test_gemm_curve(void)
{
    zp_gemm_curve g = {0.89, 108, 64, 2039};
    /* 8192^3: 256x128 tiles, 32 x 64 = 2048 in 19 waves of 108 */
    is_dbl(zp_gemm_shape_eff(&g, 8192, 8192, 8192, 1), 0.89 * 2048.0 / 2052.0 * 8192.0 / 8256.0, 1e-12,
           "8192^3: 0.89 x 2048/2052 x 8192/8256");
    /* 4096^3: 512 large tiles in 5 waves (540 slots) */
    is_dbl(zp_gemm_shape_eff(&g, 4096, 4096, 4096, 1), 0.89 * 512.0 / 540.0 * 4096.0 / 4160.0, 1e-12,
           "4096^3: 0.89 x 512/540 x 4096/4160");
    /* 2048^3: the 128x64 tile wins, 512 tiles in 5 waves, at 0.85 */
    is_dbl(zp_gemm_shape_eff(&g, 2048, 2048, 2048, 1), 0.89 * 512.0 / 540.0 * 0.85 * 2048.0 / 2112.0, 1e-12,
           "2048^3: the 128x64 tile, 0.89 x 512/540 x 0.85 x 2048/2112");
    /* 1024^3: 128x128, 64 tiles in one wave of 108, at 0.95 */
    is_dbl(zp_gemm_shape_eff(&g, 1024, 1024, 1024, 1), 0.89 * 64.0 / 108.0 * 0.95 * 1024.0 / 1088.0, 1e-12,
           "1024^3: one wave of 64 tiles, 0.89 x 64/108 x 0.95 x 1024/1088");
    /* NVIDIA's cuBLAS sweep on A100 (blog "CUDA 11 Features Revealed",
     * Fig. 6, read off the plot): about 0.63, 0.83 and 0.87-0.93 of the
     * peak at 2048, 4096, 8192 */
    ok(fabs(zp_gemm_shape_eff(&g, 2048, 2048, 2048, 1) - 0.63) < 0.1 &&
           fabs(zp_gemm_shape_eff(&g, 4096, 4096, 4096, 1) - 0.83) < 0.05 &&
           fabs(zp_gemm_shape_eff(&g, 8192, 8192, 8192, 1) - 0.90) < 0.05,
       "the curve follows NVIDIA's published A100 sweep at 2048, 4096, 8192");
    /* a partly covered tile: 1000 x 128, 16 tiles of 128x64 covering
     * 1000/1024 of their rows */
    is_dbl(zp_gemm_shape_eff(&g, 1000, 128, 4096, 1), 0.89 * 16.0 / 108.0 * 0.85 * (1000.0 / 1024.0) * 4096.0 / 4160.0,
           1e-12, "1000 x 128 from 4096: 16 tiles of 128x64, 1000/1024 covered");
    /* a batch fills the waves: 108 products of 128^3, one 128x128 tile each */
    is_dbl(zp_gemm_shape_eff(&g, 128, 128, 128, 108), 0.89 * 0.95 * 128.0 / 192.0, 1e-12,
           "108 products of 128^3: one full wave of 128x128 tiles");
    /* depth 8: memory bound, A, B and C at the HBM bandwidth */
    is_dbl(zp_gemm_time(&g, 312e12, 2, 8192, 8192, 8, 1), 2.0 * (8192.0 * 8 * 2 + 8192.0 * 8192) / 2039e9, 1e-12,
           "8192 x 8192 from depth 8: bound by its bytes over HBM");
    /* a large product: compute bound */
    double t = zp_gemm_time(&g, 312e12, 2, 8192, 8192, 8192, 1);
    is_dbl(t, 2.0 * 8192.0 * 8192.0 * 8192.0 / (312e12 * zp_gemm_shape_eff(&g, 8192, 8192, 8192, 1)), 1e-12,
           "8192^3: FLOPs over the peak at its efficiency");
}

/* Conventions by shape: a curve of 132 SMs and ceiling 0.8, the
 * non-matmul kernels at half the HBM bandwidth, flash attention at 0.4 of
 * the peak, kernel_s per kernel. */
static zp_conv shape_conv(double kernel_s)
{
    zp_conv cv = conv();
    cv.gemm_eff = 0;
    cv.gemm = (zp_gemm_curve){0.8, 132, 64, HBM};
    cv.kernel_s = kernel_s;
    cv.hbm_eff = 0.5;
    cv.attn_eff = 0.4;
    return cv;
}

/* Step time by shape, the products listed by hand for a 2-layer GPT
 * (h 1024, 8 heads of 128, f 4h, V 4096, s 512, micro-batch 2, M 3, flash
 * attention, bf16): per layer QKV (T x 3h from h), projection (T x h from
 * h), fc1 (T x 4h from h), fc2 (T x h from 4h); backward dX (T x K from N)
 * and dW (K x N from T) of each; the head T x V from h; the fused attention
 * half of 2 s^2 d per product (causal), b a products, at 0.4 of the peak,
 * forward twice, backward four times and the scores once more; 10 kernels
 * per layer forward (4 products, attention, 2 norms, 2 adds, GELU), 20
 * backward, 3 + 6 for the head; the non-matmul traffic 18h a token and
 * layer forward, 4h + 3V for the head, twice backward, at 0.5 x HBM. */
static void test_shape_step(void)
{
    zp_model m = gpt(2, 1024, 8, 4096);
    zp_train tr = train(512, 6);
    tr.flash = 1;
    zp_layout l = lay(1, 1, 1, 1, 0, ZP_CKPT_NONE, 2, 3);
    zp_cluster c = cluster(1);
    zp_conv cv = shape_conv(5e-6);
    zp_cost out;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &out);

    const zp_gemm_curve *g = &cv.gemm;
    double T = 1024, h = 1024, V = 4096, s = 512, d = 128, k = 5e-6, L = 2;
    double NK[4][2] = {{3 * h, h}, {h, h}, {4 * h, h}, {h, 4 * h}};
    double lf = 0, lb = 0;
    for (int i = 0; i < 4; i++) {
        lf += zp_gemm_time(g, PEAK, 2, T, NK[i][0], NK[i][1], 1);
        lb += zp_gemm_time(g, PEAK, 2, T, NK[i][1], NK[i][0], 1) + zp_gemm_time(g, PEAK, 2, NK[i][1], NK[i][0], T, 1);
    }
    double sc = 0.5 * 2 * s * s * d * (2 * 8) / (PEAK * 0.4);
    double hf = zp_gemm_time(g, PEAK, 2, T, V, h, 1);
    double hb = zp_gemm_time(g, PEAK, 2, T, h, V, 1) + zp_gemm_time(g, PEAK, 2, h, V, T, 1);
    double ew = 2.0 * T * (L * 18 * h + 4 * h + 3 * V) / (0.5 * HBM * 1e9);
    double fwd = L * (lf + 2 * sc + 10 * k) + hf + 3 * k + ew;
    double bwd = L * (lb + 5 * sc + 20 * k) + hb + 6 * k + 2 * ew;
    is_dbl(out.compute_s, 3 * (fwd + bwd), 1e-12, "by shape: compute = M x (products + attention + kernels + traffic), "
           "listed by hand");
    is_dbl(out.gemm_s, 3 * (L * (lf + lb) + hf + hb), 1e-12,
           "by shape: of it the products' (not the fused flash kernel's, the kernels' fixed time or the traffic)");
    /* a sliding window of w = 128 keys < s: query i sees min(i + 1, w) of
     * them, w s - w^2 / 2 in all, so each product does (1 - w / 2s) of
     * 2 s w d; the rest of the step as without it */
    {
        zp_model mw = m;
        mw.window = 128;
        zp_cost ow;
        zp_cost_eval(&mw, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &ow);
        double w = 128, scw = (1 - w / (2 * s)) * 2 * s * w * d * (2 * 8) / (PEAK * 0.4);
        is_dbl(ow.compute_s - out.compute_s, 3 * L * 7 * (scw - sc), 1e-9,
               "by shape, a window of 128 keys of 512: each attention product (7 a layer) at (1 - w/2s) 2 s w d");
        /* continuous where the window meets the sequence: w = s is the causal half */
        mw.window = 512;
        zp_cost_eval(&mw, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &ow);
        is_dbl(ow.compute_s, out.compute_s, 1e-12, "a window as long as the sequence: the causal half, as without one");
        mw.window = 511;
        zp_cost_eval(&mw, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &ow);
        ok(fabs(ow.compute_s / out.compute_s - 1) < 0.005,
           "a window one key short of the sequence: within 0.5 %% of the causal half (%.6g s vs %.6g s)", ow.compute_s,
           out.compute_s);
        /* context parallel 2: a rank holds s/2 of the rows; the window and
         * the causal mask are over the whole sequence, so each product
         * does (1 - w/2s) of (s/2) w, half the cp 1 kernel's */
        zp_layout l2 = l;
        l2.cp = 2;
        mw.window = 128;
        zp_cost o1, o2;
        zp_model m0 = m;
        zp_cost_eval(&mw, &tr, &l2, &c, &cv, &empty_comm, &empty_comm, &o1);
        zp_cost_eval(&m0, &tr, &l2, &c, &cv, &empty_comm, &empty_comm, &o2);
        double scw2 = (1 - w / (2 * s)) * 2 * (s / 2) * w * d * (2 * 8) / (PEAK * 0.4);
        double sc2 = 0.5 * 2 * (s / 2) * s * d * (2 * 8) / (PEAK * 0.4);
        is_dbl(o1.compute_s - o2.compute_s, 3 * L * 7 * (scw2 - sc2), 1e-9,
               "cp 2, a window of 128 of 512: each product (1 - w/2s) of (s/2) w against the causal (s/2) s / 2");
    }
    /* the same plan at a micro-batch of 1, twice the accumulation: slower
     * (smaller products, the kernels' fixed time twice as often) */
    zp_layout l1 = lay(1, 1, 1, 1, 0, ZP_CKPT_NONE, 1, 6);
    zp_cost o1;
    zp_cost_eval(&m, &tr, &l1, &c, &cv, &empty_comm, &empty_comm, &o1);
    ok(o1.compute_s > out.compute_s * 1.01, "by shape: micro-batch 1 x 6 is slower than 2 x 3 (%.4g s vs %.4g s)",
       o1.compute_s, out.compute_s);
    /* a constant efficiency ignores the micro-batch, as before */
    cv.gemm_eff = 0.5;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &out);
    zp_cost_eval(&m, &tr, &l1, &c, &cv, &empty_comm, &empty_comm, &o1);
    is_dbl(o1.compute_s, out.compute_s, 1e-12, "a constant --gemm-eff: the same compute at micro-batch 1 and 2");
}

/* Uneven stages: 10 layers on pp 4 are 2, 3, 3, 2 blocks; the step's
 * compute is M x the slowest stage's micro-batch, the second (3 blocks, no
 * head): with a head of a tiny vocabulary that is 3/2 of the first stage,
 * and the bubble (p - 1) of its micro-batches.  By hand at a constant
 * efficiency: a block's forward 2 x 12 h^2 + 4 s h FLOPs a token, backward
 * twice. */
static void test_uneven_stages(void)
{
    zp_model m = gpt(10, 1024, 8, 64);
    zp_train tr = train(512, 16);
    zp_layout l = lay(1, 1, 4, 1, 0, ZP_CKPT_NONE, 1, 16);
    zp_cluster c = cluster(4);
    zp_conv cv = conv();
    zp_cost out;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &out);
    double h = 1024, s = 512, blk = 3.0 * s * (24 * h * h + 4 * s * h);   /* one block, forward + backward */
    double mb = 3 * blk / (PEAK * EFF);                                   /* the second stage's micro-batch */
    is_dbl(out.compute_s, 16 * mb, 1e-12, "10 layers on 4 stages (2 3 3 2): compute = M x 3 blocks");
    is_dbl(out.bubble_s, 3 * mb, 1e-12, "10 layers on 4 stages: bubble = (p - 1) x the slowest micro-batch");
}

/* A backend computing in fp32 (compute_fp32: zplan's engine) runs its
 * products at the fp32 peak, unless they are the dtype's on the tensor
 * cores (tensor_math: the engine's gemm=bf16 on a GPU), at the bf16 peak.
 * At a constant efficiency, per token: 2 layers x 3 (forward, backward
 * twice) x (24 h^2 + 4 s h) + 3 x 2 V h FLOPs, over the peak x eff;
 * compute = 2 micro-batches x 1024 tokens x that. */
static void test_tensor_math(void)
{
    zp_model m = gpt(2, 1024, 8, 64);
    zp_train tr = train(512, 4);
    tr.compute_fp32 = 1;
    zp_layout l = lay(1, 1, 1, 1, 0, ZP_CKPT_NONE, 2, 2);
    zp_cluster c = cluster(1);
    zp_conv cv = conv();
    zp_cost f32, tc;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &f32);
    tr.tensor_math = 1;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &tc);
    double h = 1024, s = 512, V = 64, T = 1024, flops = 2 * 3 * (24 * h * h + 4 * s * h) + 3 * 2 * V * h;
    is_dbl(f32.compute_s, 2 * T * flops / (PEAK / 2 * EFF), 1e-12, "compute_fp32: the products at the fp32 peak");
    is_dbl(tc.compute_s, 2 * T * flops / (PEAK * EFF), 1e-12,
           "compute_fp32 with tensor_math: the products at the bf16 peak (the engine's gemm=bf16 on a GPU)");
    /* at a constant efficiency every second of compute is a product's */
    is_dbl(tc.gemm_s, tc.compute_s, 1e-12, "a constant efficiency: the products' time is the compute");
    /* the engine's flash kernels: on the tensor cores at a head size that
     * is a multiple of 16 up to 128 (8 heads of 128: the core (3 x 4 s h,
     * and 2 s h for the scores rebuilt in backward) at the bf16 peak, as
     * the products), its exact fp32 kernels at another (4 heads of 256:
     * the core at the fp32 peak, the linear layers and the head at the
     * bf16 one) */
    tr.flash = 1;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &tc);
    double lin = 2 * 3 * 24 * h * h + 3 * 2 * V * h, core = 2 * (3 * 4 * s * h + 2 * s * h);
    is_dbl(tc.compute_s, 2 * T * (lin + core) / (PEAK * EFF), 1e-12,
           "tensor_math with flash attention, heads of 128: its core at the bf16 peak (the tensor-core kernels)");
    zp_model m256 = gpt(2, 1024, 4, 64);
    zp_cost_eval(&m256, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &tc);
    is_dbl(tc.compute_s, 2 * T * (lin / (PEAK * EFF) + core / (PEAK / 2 * EFF)), 1e-12,
           "tensor_math with flash attention, heads of 256: its core at the fp32 peak (the exact kernels)");
    /* and by shape: the exact kernels at attn_eff of the fp32 peak */
    zp_conv sc = shape_conv(0);
    sc.attn_eff = 0.25;
    zp_cost a, b;
    zp_cost_eval(&m256, &tr, &l, &c, &sc, &empty_comm, &empty_comm, &a);
    c.gpu.peak_flops[ZP_DT_FP32] = PEAK / 4;
    zp_cost_eval(&m256, &tr, &l, &c, &sc, &empty_comm, &empty_comm, &b);
    /* halving the fp32 peak doubles the kernel's time: 2 layers x 2
     * micro-batches x (forward 2 + backward 4 + rebuilt 1) products of
     * half the s x s x d scores for 4 heads of 256 of a micro-batch of 2 */
    double work = 0.5 * 2.0 * s * s * (h / 4) * 2 * 4, k1 = work / (PEAK / 2 * 0.25);
    is_dbl(b.compute_s - a.compute_s, 2 * 2 * 7 * k1, 1e-9,
           "tensor_math with flash by shape, heads of 256: the kernel's time follows the fp32 peak, the products' do not");
    /* at heads of 128 the tensor-core kernels' time does not move with the fp32 peak */
    c.gpu.peak_flops[ZP_DT_FP32] = PEAK / 2;
    zp_cost_eval(&m, &tr, &l, &c, &sc, &empty_comm, &empty_comm, &a);
    c.gpu.peak_flops[ZP_DT_FP32] = PEAK / 4;
    zp_cost_eval(&m, &tr, &l, &c, &sc, &empty_comm, &empty_comm, &b);
    is_dbl(b.compute_s, a.compute_s, 1e-12, "tensor_math with flash by shape, heads of 128: the fp32 peak moves nothing");
    c.gpu.peak_flops[ZP_DT_FP32] = PEAK / 2;
    /* gemm_s is the first stage's (rank 0's, which the engine reports):
     * 4 layers on 2 stages, the first with 2 layers and no head */
    zp_model m4 = gpt(4, 1024, 8, 64);
    zp_train t4 = train(512, 4);
    zp_layout l2 = lay(1, 1, 2, 1, 0, ZP_CKPT_NONE, 2, 2);
    zp_cluster c2 = cluster(2);
    zp_cost p2;
    zp_cost_eval(&m4, &t4, &l2, &c2, &cv, &empty_comm, &empty_comm, &p2);
    is_dbl(p2.gemm_s, 2 * T * 2 * 3 * (24 * h * h + 4 * s * h) / (PEAK * EFF), 1e-12,
           "pp 2: the products' time is the first stage's (2 layers, no head), not the last's");
}

/* FP8 linear layers: their products at the FP8 peak (here twice the
 * 16-bit one), the attention core and the head at the dtype's; by hand at
 * a constant efficiency E: per token and layer forward 24 h^2 / (2 P E) +
 * 4 s h / (P E), the head 2 V h / (P E), backward twice; MFU against the
 * FP8 peak. */
static void test_fp8(void)
{
    zp_model m = gpt(2, 1024, 8, 64);
    zp_train tr = train(512, 4);
    tr.fp8 = 1;
    zp_layout l = lay(1, 1, 1, 1, 0, ZP_CKPT_NONE, 2, 2);
    zp_cluster c = cluster(1);
    c.gpu.peak_fp8 = 2 * PEAK;
    zp_conv cv = conv();
    zp_cost out;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &out);
    double h = 1024, s = 512, V = 64, T = 1024, E = EFF;
    double per_tok = 2 * 3 * (24 * h * h / (2 * PEAK * E) + 4 * s * h / (PEAK * E)) + 3 * 2 * V * h / (PEAK * E);
    is_dbl(out.compute_s, 2 * T * per_tok, 1e-12, "FP8 at a constant efficiency: the linear layers at twice the peak");
    is_dbl(out.mfu, out.model_flops / out.step_s / (2 * PEAK), 1e-12, "FP8: MFU against the FP8 peak");
    /* by shape: the linear products on the FP8 curve (its own ceiling),
     * 1-byte operands; the attention and the head as before */
    cv = shape_conv(0);
    cv.gemm_eff_max_fp8 = 0.7;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &out);
    zp_gemm_curve g8 = cv.gemm;
    g8.eff_max = 0.7;
    double NK[4][2] = {{3 * h, h}, {h, h}, {4 * h, h}, {h, 4 * h}}, lf = 0, lb = 0;
    for (int i = 0; i < 4; i++) {
        lf += zp_gemm_time(&g8, 2 * PEAK, 1, T, NK[i][0], NK[i][1], 1);
        lb += zp_gemm_time(&g8, 2 * PEAK, 1, T, NK[i][1], NK[i][0], 1) +
              zp_gemm_time(&g8, 2 * PEAK, 1, NK[i][1], NK[i][0], T, 1);
    }
    /* no flash: scores and values as 16-bit products with their s s' traffic */
    const zp_gemm_curve *g = &cv.gemm;
    double d = 128, nb = 2 * 8;
    double sc = zp_gemm_time(g, PEAK, 2, s, s, d, nb), va = zp_gemm_time(g, PEAK, 2, s, d, s, nb),
           tv = zp_gemm_time(g, PEAK, 2, s, d, s, nb);
    double hf = zp_gemm_time(g, PEAK, 2, T, V, h, 1), hb = zp_gemm_time(g, PEAK, 2, T, h, V, 1) +
                                                         zp_gemm_time(g, PEAK, 2, h, V, T, 1);
    /* traffic: norms 4h + adds 6h + GELU 2f + softmax 1.5 a s a token and layer, the head 4h + 3V; x3 */
    double ew = 3 * 2.0 * T * (2 * (4 * h + 6 * h + 8 * h + 1.5 * 8 * s) + 4 * h + 3 * V) / (0.5 * HBM * 1e9);
    double want = 2 * (2 * (lf + sc + va) + 2 * (lb + sc + va + 2 * tv) + hf + hb + ew);
    is_dbl(out.compute_s, want, 1e-12, "FP8 by shape: the linear products on the FP8 curve, listed by hand");
}

/* Context parallelism at a constant efficiency: a rank computes its s / cp
 * tokens of each sequence, and its queries still see the keys of the whole
 * sequence, so per token the FLOPs stay: L (3 (24 h^2 + 4 s h) + 2 s h)
 * (forward, backward twice, flash attention's recomputed Q K^T) + 6 V h
 * (the head); compute = (GB / dp) (s / cp) x that / (peak x eff).  The
 * model FLOPs (for MFU) count the global tokens, the same at every cp. */
static void test_cp(void)
{
    const int64_t L = 8, h = 2048, a = 16, V = 32000, s = 16384, GB = 16;
    zp_model m = gpt(L, h, a, V);
    zp_train tr = train(s, GB);
    tr.flash = 1;
    tr.dropout = 0;
    zp_conv cv = conv();
    double mflops = 0;
    for (int64_t cp = 1; cp <= 4; cp *= 2) {
        int64_t dp = 2;
        zp_layout l = lay(dp, 1, 1, 1, 1, ZP_CKPT_NONE, 1, GB / dp);
        l.cp = cp;
        zp_cluster c = cluster(dp * cp);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        zp_cost out;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &cm, &cm, &out);
        double H = (double)h, S = (double)s;
        double per_tok = (double)L * (3.0 * (24.0 * H * H + 4.0 * S * H) + 2.0 * S * H) + 6.0 * (double)V * H;
        double want = (double)(GB / dp) * S / (double)cp * per_tok / (PEAK * EFF);
        is_dbl(out.compute_s, want, 1e-12, "cp %lld: compute = (GB/dp) (s/cp) x FLOPs per token / (peak eff) = %.4g s",
               (long long)cp, want);
        if (cp == 1)
            mflops = out.model_flops;
        else
            is_dbl(out.model_flops, mflops, 1e-15, "cp %lld: model FLOPs count the global tokens (as at cp 1)",
                   (long long)cp);
    }
}

/* Per-op checkpointing at a constant efficiency: the backward recomputes
 * k, o and up of a gated block (2 (h g d + a d h + h f) FLOPs per token
 * per layer) or o and fc2 of a GPT block (2 (h^2 + 4 h^2)), besides flash
 * attention's Q K^T; hardware FLOPs per step grow by exactly that over
 * none, model FLOPs not at all. */
static void test_ckpt_op(void)
{
    const int64_t L = 4, h = 1024, a = 16, g = 4, f = 3584, V = 32000, s = 4096, GB = 8;
    zp_model m = gpt(L, h, a, V);
    m.kv_heads = g;
    m.ffn = f;
    m.mlp = ZP_MLP_SWIGLU;
    zp_train tr = train(s, GB);
    tr.flash = 1;
    tr.dropout = 0;
    zp_conv cv = conv();
    zp_cluster c = cluster(2);
    zp_cost none, op;
    zp_layout ln = lay(2, 1, 1, 1, 1, ZP_CKPT_NONE, 1, GB / 2), lo = ln;
    lo.ckpt = ZP_CKPT_OP;
    zp_cost_eval(&m, &tr, &ln, &c, &cv, &empty_comm, &empty_comm, &none);
    zp_cost_eval(&m, &tr, &lo, &c, &cv, &empty_comm, &empty_comm, &op);
    double d = (double)(h / a), tokens = (double)(GB / 2) * (double)s;
    double extra = tokens * (double)L * 2.0 * ((double)h * (double)g * d + (double)a * d * (double)h + (double)h * (double)f);
    is_dbl(op.hw_flops - none.hw_flops, extra, 1e-12, "gated block: op adds 2 (h g d + a d h + h f) per token and layer");
    is_dbl(op.model_flops, none.model_flops, 1e-15, "op: model FLOPs unchanged");
    is_dbl(op.compute_s - none.compute_s, extra / (PEAK * EFF), 1e-9, "op: the extra FLOPs at peak x eff");
    zp_model gm = gpt(L, h, a, V);
    zp_cost_eval(&gm, &tr, &ln, &c, &cv, &empty_comm, &empty_comm, &none);
    zp_cost_eval(&gm, &tr, &lo, &c, &cv, &empty_comm, &empty_comm, &op);
    extra = tokens * (double)L * 2.0 * (double)(h * h + 4 * h * h);
    is_dbl(op.hw_flops - none.hw_flops, extra, 1e-12, "GPT block: op adds 2 (h^2 + 4 h^2) per token and layer");
}

/* --tp-overlap: with sequence parallelism a layer's all-gathers and
 * reduce-scatters hide behind its linear products (perfect overlap here:
 * overlap_eff 1), so the exposed time drops by exactly their time while
 * it fits; the vocab-parallel collectives stay exposed. */
static void test_tp_overlap(void)
{
    const int64_t M = 4;
    zp_model m = gpt(8, 4096, 32, 32000);
    zp_train tr = train(2048, 4 * M);
    tr.flash = 1;
    tr.dropout = 0;
    zp_cluster c = cluster(8);
    zp_layout l = lay(1, 8, 1, 1, 0, ZP_CKPT_NONE, 4, M);
    zp_conv cv = conv(), co = conv();
    co.tp_overlap = 1;
    zp_comm c0, c1;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &c0);
    zp_comm_plan(&m, &tr, &l, &c, &co, 0, &c1);
    double layer_tp = 0.0;
    int tagged = 1;
    for (int i = 0; i < c1.n; i++)
        if (c1.c[i].group == ZP_GRP_TP && strstr(c1.c[i].what, "sequence-parallel")) {
            layer_tp += c1.c[i].time_s;
            tagged &= c1.c[i].overlap == ZP_OVL_GEMM;
        }
    ok(tagged && layer_tp > 0, "--tp-overlap: the layers' all-gathers and reduce-scatters hide behind the matmuls");
    zp_cost k0, k1;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &c0, &c0, &k0);
    zp_cost_eval(&m, &tr, &l, &c, &co, &c1, &c1, &k1);
    is_dbl(k0.comm_exposed_s - k1.comm_exposed_s, layer_tp, 1e-9,
           "--tp-overlap: exposed time drops by the layers' TP time (%.4g s), the vocab-parallel ones still show",
           layer_tp);
    ok(k1.comm_exposed_s > 0, "--tp-overlap: the vocab-parallel collectives stay exposed (%.4g s)", k1.comm_exposed_s);
    is_dbl(k1.compute_s, k0.compute_s, 1e-15, "--tp-overlap: compute unchanged");
    /* without sequence parallelism the all-reduces stay on the critical path */
    l.sp = 0;
    zp_comm_plan(&m, &tr, &l, &c, &co, 0, &c1);
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &c0);
    zp_cost_eval(&m, &tr, &l, &c, &cv, &c0, &c0, &k0);
    zp_cost_eval(&m, &tr, &l, &c, &co, &c1, &c1, &k1);
    is_dbl(k1.comm_exposed_s, k0.comm_exposed_s, 1e-15, "--tp-overlap without sp: the all-reduces still show");
}

/* Full recompute of every k-th block: floor(L / k) = R blocks run their
 * forward again.  FLOPs by hand: the 72 rule plus 24 B s R h^2 (1 + s/(6h))
 * (full recompute's 96 rule adds that for all L blocks; the head is never
 * recomputed).  Time by shape: R of L blocks at full recompute's backward,
 * the rest at no recompute's, so 2 blocks with k = 2 take the mean of the
 * two. */
static void test_ckpt_every(void)
{
    zp_model m = gpt(96, 12288, 96, 51200);
    zp_train tr = train(2048, 8);
    zp_cluster c = cluster(1);
    zp_conv cv = conv();
    double B = 8, s = 2048, h = 12288, V = 51200, L = 96;
    zp_layout l = lay(1, 1, 1, 1, 0, ZP_CKPT_FULL, 1, 8);
    zp_cost o;
    tr.ckpt_every = 5;   /* 19 of 96 blocks */
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
    is_dbl(o.hw_flops, narayanan(B, s, L, h, V, 0) + 24 * B * s * 19 * h * h * (1 + s / (6 * h)), 1e-12,
           "every 5th of 96 blocks: hw FLOPs = 72 rule + 24 B s 19 h^2 (1 + s/6h)");
    tr.ckpt_every = 97;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
    is_dbl(o.hw_flops, narayanan(B, s, L, h, V, 0), 1e-12, "every 97th of 96 blocks: none rebuilt, the 72 rule");
    tr.ckpt_every = 1;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
    is_dbl(o.hw_flops, narayanan(B, s, L, h, V, 1), 1e-12, "every block: full recompute's 96 rule");
    tr.ckpt_every = 0;
    tr.ckpt_block = 30;   /* Megatron's block method: the first 30 of 96 */
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
    is_dbl(o.hw_flops, narayanan(B, s, L, h, V, 0) + 24 * B * s * 30 * h * h * (1 + s / (6 * h)), 1e-12,
           "the first 30 of 96 blocks: 72 rule + 24 B s 30 h^2 (1 + s/6h)");
    tr.ckpt_block = 0;

    zp_model m2 = gpt(2, 1024, 8, 4096);
    zp_train t2 = train(512, 6);
    t2.flash = 1;
    zp_conv sc = shape_conv(5e-6);
    zp_layout ln = lay(1, 1, 1, 1, 0, ZP_CKPT_NONE, 2, 3), lf = ln;
    lf.ckpt = ZP_CKPT_FULL;
    zp_cost none, full, half;
    zp_cost_eval(&m2, &t2, &ln, &c, &sc, &empty_comm, &empty_comm, &none);
    zp_cost_eval(&m2, &t2, &lf, &c, &sc, &empty_comm, &empty_comm, &full);
    t2.ckpt_every = 2;
    zp_cost_eval(&m2, &t2, &lf, &c, &sc, &empty_comm, &empty_comm, &half);
    ok(full.compute_s > none.compute_s * 1.1, "by shape: full recompute costs time (%.4g s vs %.4g s)", full.compute_s,
       none.compute_s);
    is_dbl(half.compute_s, 0.5 * (none.compute_s + full.compute_s), 1e-12,
           "by shape: every 2nd of 2 blocks = the mean of none and full");
    is_dbl(half.hw_flops, 0.5 * (none.hw_flops + full.hw_flops), 1e-12, "every 2nd of 2 blocks: FLOPs the mean too");
}

/* DeepSpeed's pipeline engine (--p2p-blocking, --framework deepspeed): the
 * closed forms zp_p2p_blocking_transfers against an event simulation of its
 * TrainSchedule written here from deepspeed/runtime/pipe/schedule.py: 2 (M
 * + p - 1) steps; at step n an even stage runs a forward when n is even, an
 * odd stage when n is odd, the backward otherwise (micro-batch n/2 - k/2
 * forward, n/2 - p + (k+1)/2 backward, and for odd n (n-1)/2 - k/2 and
 * (n-1)/2 - p + 1 + k/2); a forward step first receives its activation
 * and sends the previous step's gradient, a backward step sends the
 * previous step's activation and receives its gradient; a transfer starts
 * when both ends reach it and holds both for d.  The transfers on the
 * critical path are (T(d) - T(0)) / d. */
enum { DS_RA, DS_SG, DS_SA, DS_RG, DS_F, DS_B };
#define DS_MAXP 8
#define DS_MAXOPS 512
typedef struct { int op, mb; } ds_ins;

static int ds_program(int k, int p, int M, ds_ins *out)
{
    int n = 0, prev = -1;
    for (int st = 0; st < 2 * (M + p - 1); st++) {
        int fwd = (st % 2) == (k % 2), mb;
        if (fwd)
            mb = (st % 2 == 0 ? st / 2 : (st - 1) / 2) - k / 2;
        else
            mb = st % 2 == 0 ? st / 2 - p + (k + 1) / 2 : (st - 1) / 2 - p + 1 + k / 2;
        int ok = mb >= 0 && mb < M, okp = prev >= 0 && prev < M;
        if (n + 3 > DS_MAXOPS)
            return -1;
        if (fwd) {
            if (ok && k > 0) out[n++] = (ds_ins){DS_RA, mb};
            if (okp && k > 0) out[n++] = (ds_ins){DS_SG, prev};
        } else {
            if (okp && k < p - 1) out[n++] = (ds_ins){DS_SA, prev};
            if (ok && k < p - 1) out[n++] = (ds_ins){DS_RG, mb};
        }
        if (ok) out[n++] = (ds_ins){fwd ? DS_F : DS_B, mb};
        prev = mb;
    }
    return n;
}

/* the step's time, stage k computing a forward in tf[k] and a backward in
 * tb[k]; -1 when the programs do not fit or do not finish (a deadlock) */
static double ds_simulate(int p, int M, const double *tf, const double *tb, double d)
{
    static ds_ins prog[DS_MAXP][DS_MAXOPS];
    int len[DS_MAXP], pc[DS_MAXP] = {0};
    double t[DS_MAXP] = {0};
    if (p > DS_MAXP)
        return -1.0;
    for (int k = 0; k < p; k++)
        if ((len[k] = ds_program(k, p, M, prog[k])) < 0)
            return -1.0;
    for (;;) {
        int moved = 0, left = 0;
        for (int k = 0; k < p; k++) {
            while (pc[k] < len[k]) {
                ds_ins in = prog[k][pc[k]];
                if (in.op == DS_F || in.op == DS_B) {
                    t[k] += in.op == DS_F ? tf[k] : tb[k];
                    pc[k]++, moved = 1;
                    continue;
                }
                /* the partner: SA with the next stage's RA, SG with the previous stage's RG */
                int j = in.op == DS_SA || in.op == DS_RG ? k + 1 : k - 1;
                int want = in.op == DS_SA ? DS_RA : in.op == DS_RA ? DS_SA : in.op == DS_SG ? DS_RG : DS_SG;
                if (pc[j] < len[j] && prog[j][pc[j]].op == want && prog[j][pc[j]].mb == in.mb) {
                    double start = t[k] > t[j] ? t[k] : t[j];
                    t[k] = t[j] = start + d;
                    pc[k]++, pc[j]++, moved = 1;
                    continue;
                }
                break;
            }
            left += pc[k] < len[k];
        }
        if (!left)
            break;
        if (!moved)
            return -1.0;
    }
    double end = 0.0;
    for (int k = 0; k < p; k++)
        end = t[k] > end ? t[k] : end;
    return end;
}

static void test_p2p_blocking(void)
{
    /* a full recompute's proportions: backward (with the rebuild) three
     * forwards; transfers short beside them.  Equal stages, then one
     * stage (first, a middle one, last) 5 % heavier, which paces. */
    const double d = 1e-3;
    const char *kind_name[4] = {"equal stages", "first heaviest", "a middle stage heaviest", "last heaviest"};
    for (int kind = 0; kind < 4; kind++) {
        int bad = 0, checked = 0, fail = 0;
        for (int p = 2; p <= DS_MAXP; p++)
            for (int M = 1; M <= 16; M++) {
                double tf[DS_MAXP], tb[DS_MAXP];
                for (int k = 0; k < p; k++)
                    tf[k] = 1.0, tb[k] = 3.0;
                int heavy = kind == 1 ? 0 : kind == 2 ? p / 2 : kind == 3 ? p - 1 : -1;
                if (kind == 2 && p < 3)
                    continue;
                if (heavy >= 0)
                    tf[heavy] *= 1.05, tb[heavy] *= 1.05;
                double base = ds_simulate(p, M, tf, tb, 0.0), with = ds_simulate(p, M, tf, tb, d);
                if (base < 0 || with < 0) {
                    fail++;
                    continue;
                }
                zp_stage_kind sk = kind == 1 ? ZP_STAGE_FIRST : kind == 3 ? ZP_STAGE_LAST : ZP_STAGE_MIDDLE;
                double n = (with - base) / d, want = (double)zp_p2p_blocking_transfers(p, M, sk);
                /* without transfer time, equal stages take 1F1B's (M + p - 1) (t_f + t_b) */
                double t1f1b = (M + p - 1) * 4.0;
                if ((heavy < 0 && fabs(base - t1f1b) > 1e-9) || fabs(n - want) > 1e-6) {
                    if (!bad)
                        diag("%s, p %d M %d: simulated %.4f s and %.3f transfers; 1F1B %.4f s, closed form %.0f",
                             kind_name[kind], p, M, base, n, t1f1b, want);
                    bad++;
                }
                checked++;
            }
        ok(bad == 0 && fail == 0 && checked > 80,
           "DeepSpeed's TrainSchedule simulated, %s, p 2..8, M 1..16 (%d cases, %d unfinished): "
           "zp_p2p_blocking_transfers of the pacing stage's kind on the critical path (and with equal stages, "
           "without transfer time, 1F1B's (M + p - 1)(t_f + t_b))", kind_name[kind], checked, fail);
    }
    is_u64((uint64_t)zp_p2p_blocking_transfers(4, 8, ZP_STAGE_MIDDLE), 32, "p 4, M 8, middle: 4 x 8 + 2 x 0 = 32");
    is_u64((uint64_t)zp_p2p_blocking_transfers(35, 240, ZP_STAGE_MIDDLE), 4 * 240 + 2 * 31,
           "p 35, M 240, middle: 4 x 240 + 2 x 31 = 1022");
    is_u64((uint64_t)zp_p2p_blocking_transfers(35, 240, ZP_STAGE_LAST), 2 * 240 + 2 * 33,
           "p 35, M 240, last: 2 x 240 + 2 x 33 = 546");
    is_u64((uint64_t)zp_p2p_blocking_transfers(35, 240, ZP_STAGE_FIRST), 2 * 240 + 4 * 33,
           "p 35, M 240, first: 2 x 240 + 4 x 33 = 612");
    is_u64((uint64_t)zp_p2p_blocking_transfers(8, 4, ZP_STAGE_FIRST), 4 * 4 + 2 * 4,
           "p 8, M 4 < p, first: the middle's 4 x 4 + 2 x 4 = 24");
    is_u64((uint64_t)zp_p2p_blocking_transfers(2, 5, ZP_STAGE_MIDDLE), 10, "p 2, M 5: 2 x 5");
    is_u64((uint64_t)zp_p2p_blocking_transfers(1, 5, ZP_STAGE_MIDDLE), 0, "p 1: no pipeline, no transfers");

    /* in the step: GPT L = 8 on pp = 4 (2 blocks a stage), M = 8, the
     * first stage's 8 activation sends of 2 ms each on the critical path:
     * batched (Megatron), 16 ms exposed; blocking, the stages compute alike
     * but the last with the head, so the last stage paces: c_last M + (2 x
     * 8 + 2 x 2) 2 ms against the middle's c_mid M + 32 x 2 ms */
    zp_model m = gpt(8, 512, 8, 4096);
    zp_train tr = train(256, 8);
    zp_cluster c = cluster(4);
    zp_conv cv = conv();
    zp_layout l = lay(1, 1, 4, 1, 0, ZP_CKPT_NONE, 1, 8);
    const double L = 8, h = 512, V = 4096, s = 256, b = 1, p = 4, M = 8;
    double Fmid = 3 * b * s * (L / p * (24 * h * h + 4 * s * h)), Flast = Fmid + 3 * b * s * 2 * V * h;
    double cmid = M * Fmid / (PEAK * EFF), clast = M * Flast / (PEAK * EFF);
    double pace_mid = cmid + 32 * 0.002, pace_last = clast + 20 * 0.002;
    double want = (pace_mid > pace_last ? pace_mid : pace_last) - clast;
    zp_comm first = {0};
    first.n = 1;
    first.c[0].kind = ZP_COLL_SENDRECV;
    first.c[0].group = ZP_GRP_PP;
    first.c[0].overlap = ZP_OVL_NONE;
    first.c[0].count = 8;
    first.c[0].time_s = first.time_s = 8 * 0.002;
    zp_cost o, ob;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &first, &empty_comm, &o);
    is_dbl(o.comm_exposed_s, 0.016, 1e-12, "pp 4, M 8, batched: the first stage's 8 sends of 2 ms, 16 ms exposed");
    is_dbl(o.compute_s, clast, 1e-9, "pp 4, M 8: compute is the last stage's (with the head), %.6g s", clast);
    cv.p2p_blocking = 1;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &first, &empty_comm, &ob);
    is_dbl(ob.comm_exposed_s, want, 1e-9,
           "pp 4, M 8, blocking: the slower of the middle stage with 32 transfers (%.6g s) and the last with 20 "
           "(%.6g s), less the last's compute: %.6g s exposed", pace_mid, pace_last, want);
    is_dbl(ob.step_s - o.step_s, want - 0.016, 1e-9, "blocking changes the step by that less the 16 ms, nothing else");
    /* transfers of 2 us: the head's extra compute on the last stage (8 x
     * 3 b s 2 V h FLOPs) outweighs the middle's 12 more transfers, and the
     * last paces (mutation: the last stage left out of the pace is caught) */
    first.c[0].time_s = first.time_s = 8 * 2e-6;
    pace_mid = cmid + 32 * 2e-6, pace_last = clast + 20 * 2e-6;
    hand_check(pace_last > pace_mid, "2 us transfers: the last stage paces (%.6g s against the middle's %.6g s)", pace_last,
       pace_mid);
    zp_cost_eval(&m, &tr, &l, &c, &cv, &first, &empty_comm, &ob);
    is_dbl(ob.comm_exposed_s, 20 * 2e-6, 1e-9, "pp 4, M 8, blocking, 2 us transfers: the last stage's 2 x 8 + 2 x 2 "
           "= 20 transfers exposed, 40 us");
    l.pp = 1;
    zp_comm none = {0};
    zp_cost_eval(&m, &tr, &l, &c, &cv, &none, &empty_comm, &ob);
    ok(ob.comm_exposed_s == 0.0, "pp 1: blocking changes nothing (exposed %g s)", ob.comm_exposed_s);
}

/* DeepSpeed's bf16 optimizer (lp_grads): after every micro-batch each bf16
 * gradient is added into its fp32 one and zeroed, 12 bytes a parameter
 * (read 2, read and write 4 each, write 2) at the non-matmul rate, hbm_eff
 * of the HBM bandwidth.  pp = 1, M = 4, GPT L = 8, h = 512, V = 4096,
 * learned positions 2048, tied: Psi = 8 (12 h^2 + 13 h) + (V + 2048) h + 2 h;
 * hbm_eff 0.5: the step grows by 4 Psi 12 / (0.5 HBM); not with fp32
 * gradients off, ZeRO-2, fp16, or offload. */
static void test_lp_grads_time(void)
{
    const double L = 8, h = 512, V = 4096, Pos = 2048, M = 4;
    zp_model m = gpt(8, 512, 8, 4096);
    zp_train tr = train(256, 4);
    zp_cluster c = cluster(1);
    zp_conv cv = conv();
    cv.hbm_eff = 0.5;
    zp_layout l = lay(1, 1, 1, 1, 1, ZP_CKPT_NONE, 1, 4);
    double psi = L * (12 * h * h + 13 * h) + (V + Pos) * h + 2 * h;
    double add = M * psi * 12 / (0.5 * HBM * 1e9);
    zp_cost o, on;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
    cv.lp_grads = 1;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &on);
    is_dbl(on.step_s - o.step_s, add, 1e-9, "lp_grads, bf16 with fp32 gradients, ZeRO-1: + M Psi 12 / (0.5 HBM) = %.6g s",
           add);
    is_dbl(on.compute_s - o.compute_s, add, 1e-9, "... counted in the stage's compute (it runs after each backward)");
    zp_train t16 = tr;
    t16.grad_dtype = ZP_DT_BF16;
    zp_cost_eval(&m, &t16, &l, &c, &cv, &empty_comm, &empty_comm, &on);
    zp_cost_eval(&m, &t16, &l, &c, &(zp_conv){.gemm_eff = EFF, .link_eff = 0.8, .overlap_eff = 1.0,
                                              .alpha_intra_s = 5e-6, .alpha_inter_s = 2e-5,
                                              .cpu_adam_params_per_s = 1e9, .hbm_eff = 0.5}, &empty_comm, &empty_comm, &o);
    is_dbl(on.step_s, o.step_s, 1e-12, "lp_grads with bf16 gradients: nothing to add into, no time");
    l.zero = 2;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &on);
    cv.lp_grads = 0;
    zp_cost_eval(&m, &tr, &l, &c, &cv, &empty_comm, &empty_comm, &o);
    is_dbl(on.step_s, o.step_s, 1e-12, "lp_grads at ZeRO-2: DeepSpeed's ZeRO optimizer instead, no time");
}

/* Windows and a bubble derived by hand (review of the step-time model),
 * with the constant efficiency and perfect overlap of conv(): GPT L = 8,
 * h = 1024, a = 16, V = 32768, s = 1024, b = 1, M = 4; a micro-batch's
 * forward of Ls blocks is s Ls (24 h^2 + 4 s h) / (peak x eff) (no head
 * on a first stage), backward twice that. */
static void test_windows(void)
{
    const int64_t L = 8, h = 1024, a = 16, V = 32768, s = 1024, M = 4;
    zp_model m = gpt(L, h, a, V);
    zp_train tr = train(s, 8 * M);
    tr.dropout = 0;
    zp_cluster c = cluster(16);
    zp_conv cv = conv();
    double H = (double)h, S = (double)s, blk = S * (24 * H * H + 4 * S * H) / (PEAK * EFF);
    double head = S * 2 * (double)V * H / (PEAK * EFF);
    /* FSDP with a pipeline (ZeRO-3, pp 2): the stage's parameters gathered
     * once (behind the first micro-batch's forward alone) and its gradients
     * reduce-scattered once (behind the last one's backward alone).  The
     * first stage, 4 blocks: f0 = 4 blk, b0 = 2 f0.  A gather of 2 f0 shows
     * f0, a reduction of 3 b0 shows 2 b0: 5 f0 in all, where the whole
     * step's compute, M (f0 + b0) = 12 f0, would have hidden both */
    {
        zp_layout l = lay(8, 1, 2, 1, 3, ZP_CKPT_NONE, 1, M);
        double f0 = 4 * blk, b0 = 2 * f0;
        zp_comm cm = {0};
        cm.n = 2;
        cm.c[0].group = ZP_GRP_DP, cm.c[0].overlap = ZP_OVL_FWD, cm.c[0].count = 1, cm.c[0].time_s = 2 * f0;
        cm.c[1].group = ZP_GRP_DP, cm.c[1].overlap = ZP_OVL_BWD, cm.c[1].count = 1, cm.c[1].time_s = 3 * b0;
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &cm, &cm, &o);
        is_dbl(o.comm_exposed_s, f0 + 2 * b0, 1e-9, "FSDP + pp 2: the once-a-step gather behind one forward, the "
               "reduction behind one backward: %.4g s show", f0 + 2 * b0);
    }
    /* tensor parallelism's three windows never share a product: at pp 1
     * the weight-gradient products W = M L s 24 h^2 / (peak x eff), the
     * input-gradient ones as many, all linear products 3 W.  A reduction
     * behind the weight gradients of W and a re-gather behind the input
     * gradients of W fill theirs; an overlapped collective of 1.5 W has
     * the W left and shows 0.5 W (all 3 W would have hidden it) */
    {
        zp_layout l = lay(16, 1, 1, 1, 1, ZP_CKPT_NONE, 1, M);
        double W = (double)M * (double)L * S * 24 * H * H / (PEAK * EFF);
        zp_comm cm = {0};
        cm.n = 3;
        cm.c[0].group = ZP_GRP_TP, cm.c[0].overlap = ZP_OVL_WGRAD, cm.c[0].count = 1, cm.c[0].time_s = W;
        cm.c[1].group = ZP_GRP_TP, cm.c[1].overlap = ZP_OVL_DGRAD, cm.c[1].count = 1, cm.c[1].time_s = W;
        cm.c[2].group = ZP_GRP_TP, cm.c[2].overlap = ZP_OVL_GEMM, cm.c[2].count = 1, cm.c[2].time_s = 1.5 * W;
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &cm, &cm, &o);
        is_dbl(o.comm_exposed_s, 0.5 * W, 1e-9, "tp windows: weight gradients W, input gradients W, the rest W: "
               "1.5 W overlapped shows 0.5 W");
    }
    /* 1F1B on pp 2: the bubble is p - 1 micro-batches of the pacing
     * stage (the last: 4 blocks and the head), each its compute and the
     * communication every micro-batch exposes there (tensor parallelism's
     * T / M), not the once-a-step data-parallel reduction D */
    {
        zp_layout l = lay(8, 1, 2, 1, 1, ZP_CKPT_NONE, 1, M);
        double fl = 4 * blk + head, T = 0.2, D = 0.3;
        zp_comm cm = {0};
        cm.n = 2;
        cm.c[0].group = ZP_GRP_TP, cm.c[0].overlap = ZP_OVL_NONE, cm.c[0].count = 4 * M, cm.c[0].time_s = T;
        cm.c[1].group = ZP_GRP_DP, cm.c[1].overlap = ZP_OVL_NONE, cm.c[1].count = 1, cm.c[1].time_s = D;
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &cm, &cm, &o);
        is_dbl(o.bubble_s, 3 * fl + T / M, 1e-9, "1F1B pp 2: bubble = a micro-batch's compute 3 f and its exposed "
               "tensor-parallel time T / M (%.4g s)", 3 * fl + T / M);
        is_dbl(o.comm_exposed_s, T + D, 1e-9, "and the step's exposed communication, T + D, once");
    }
    /* a middle stage is evaluated with its own collectives when the layers
     * split evenly (pp 4, 2 blocks each): it sends activations and
     * gradients both; its critical-path time counts where the first's and
     * the last's are smaller */
    {
        zp_layout l = lay(4, 1, 4, 1, 1, ZP_CKPT_NONE, 1, M);
        zp_comm end = {0}, mid = {0};
        end.n = mid.n = 1;
        end.c[0].group = mid.c[0].group = ZP_GRP_PP;
        end.c[0].overlap = mid.c[0].overlap = ZP_OVL_NONE;
        end.c[0].count = M, mid.c[0].count = 2 * M;
        end.c[0].time_s = 0.01, mid.c[0].time_s = 0.02;
        zp_lcache lc;
        zp_lcache_init(&m, &tr, &l, &lc);
        zp_cost o;
        zp_cost_eval_c(&m, &tr, &l, &c, &cv, &lc, &end, &end, &mid, &o);
        is_dbl(o.comm_exposed_s, 0.02, 1e-12, "pp 4, even stages: the middle stage's 2M sends (0.02 s) are the "
               "exposed time, not the ends' M (0.01 s)");
    }
    /* the context-parallel ring hides behind the attention of every pass
     * that runs it: forward, backward (twice the forward) and, with full
     * recompute, the forward again: 4 passes of M L s 4 s h / (peak x eff)
     * (cp 1 here: the window alone is checked); a ring of 3.5 of them hides
     * (3 passes, without the recompute's, would have shown 0.5) */
    {
        zp_layout l = lay(16, 1, 1, 1, 1, ZP_CKPT_FULL, 1, M);
        double A = (double)M * (double)L * S * 4 * S * H / (PEAK * EFF);
        zp_comm cm = {0};
        cm.n = 1;
        cm.c[0].group = ZP_GRP_CP, cm.c[0].overlap = ZP_OVL_ATTN, cm.c[0].count = 1, cm.c[0].time_s = 3.5 * A;
        zp_cost o;
        zp_cost_eval(&m, &tr, &l, &c, &cv, &cm, &cm, &o);
        is_dbl(o.comm_exposed_s, 0.0, 1e-9, "cp ring under full recompute: 3.5 attention passes of time hide behind "
               "the 4 that run");
    }
}

int main(void)
{
    test_tensor_math();
    tap_plan(0);
    test_elementwise();
    test_flops_per_token();
    test_model_flops_mfu();
    test_compute_bubble();
    test_recompute();
    test_optimizer_and_overlap();
    test_last_stage_exposed();
    test_optimizer_max_stage();
    test_gemm_curve();
    test_shape_step();
    test_uneven_stages();
    test_fp8();
    test_cp();
    test_ckpt_op();
    test_ckpt_every();
    test_tp_overlap();
    test_p2p_blocking();
    test_lp_grads_time();
    test_windows();
    test_eager_traffic();
    return tap_exit();
}
