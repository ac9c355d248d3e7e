/* test_memory.c - bytes per class of one rank (memory.c) against the
 * published accounting:
 *   - model states: the ZeRO paper (Rajbhandari et al. 2020, Sec. 3 and
 *     Table 1), Megatron-LM's distributed-optimizer table, DeepSpeed's
 *     offload estimators;
 *   - activations: Korthikanti et al. 2022, Table 2 and Sec. 4.2 (pipeline),
 *     Sec. 4.1 (embedding dropout, output layer);
 *   - runtime overheads and the worst pipeline stage (zplan's conventions,
 *     memory.c header).
 * Every expected value is computed here from the formula, in integer
 * arithmetic on the symbols, never copied from the program's output.
 * Conventions are set to match each source: overheads and fragmentation 0,
 * reduce bucket 0, and layouts chosen so that the remaining buffers are
 * known (dp = 1: no bucket; pp = 1: the fp32 logits on the only stage). */
#include "core.h"
#include "tap.h"

#include <string.h>

#define N_(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define GIB ((uint64_t)1 << 30)
#define MIB ((uint64_t)1 << 20)

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* GPT-style shape: LayerNorm, GELU, f = 4h, biases, tied, learned positions. */
static zp_model gpt(int64_t L, int64_t h, int64_t a, int64_t V, int64_t P)
{
    zp_model m = {0};
    strcpy(m.name, "gpt");
    m.layers = L; m.hidden = h; m.heads = a; m.kv_heads = a; m.ffn = 4 * h;
    m.vocab = V; m.max_pos = P; m.tied = 1; m.bias = 1;
    m.mlp = ZP_MLP_GELU; m.norm = ZP_NORM_LAYERNORM; m.pos = ZP_POS_LEARNED;
    return m;
}

/* One GPT block on one of t tensor-parallel ranks (Megatron split, see
 * test_model.c): column-parallel QKV and fc1 (weights and biases / t),
 * row-parallel proj and fc2 (weights / t, biases replicated), 2 LayerNorms. */
static int64_t gpt_layer(int64_t h, int64_t t)
{
    int64_t f = 4 * h;
    return (3 * h * h + 3 * h) / t + h * h / t + h + (h * f + f) / t + f * h / t + h + 4 * h;
}

static zp_model llama(int64_t L, int64_t h, int64_t a, int64_t g, int64_t f, int64_t V)
{
    zp_model m = {0};
    strcpy(m.name, "llama");
    m.layers = L; m.hidden = h; m.heads = a; m.kv_heads = g; m.ffn = f;
    m.vocab = V; m.max_pos = 0; m.tied = 0; m.bias = 0;
    m.mlp = ZP_MLP_SWIGLU; m.norm = ZP_NORM_RMSNORM; m.pos = ZP_POS_ROTARY;
    return m;
}

static zp_train train(zp_dtype dt, zp_dtype gdt, int master, int64_t seq)
{
    zp_train t = {0};
    t.seq = seq;
    t.global_batch = 1024;
    t.dtype = dt;
    t.grad_dtype = gdt;
    t.master = master;
    t.optim = ZP_OPT_ADAM;
    t.flash = 0;
    t.dropout = 1;
    return t;
}

static zp_layout lay(int64_t dp, int64_t tp, int64_t pp, int64_t vp, int zero, zp_offload off, zp_ckpt ck,
                     int sp, int64_t b, int64_t M)
{
    zp_layout l = {0};
    l.dp = dp; l.tp = tp; l.pp = pp; l.vp = vp; l.zero = zero; l.offload = off; l.ckpt = ck; l.sp = sp;
    l.micro_batch = b; l.grad_accum = M;
    return l;
}

static zp_cluster cluster(int64_t G, int64_t gpn)
{
    zp_cluster c = {0};
    strcpy(c.gpu.name, "test");
    c.gpu.mem_bytes = 80 * GIB;
    c.gpu.gpus_per_node = gpn;
    c.gpus = G;
    c.gpus_per_node = gpn;
    c.inter_node_gbps = 25;
    c.host_mem_bytes = 2048 * GIB;
    return c;
}

/* No overheads, no fragmentation, no reduce bucket. */
static zp_conv conv0(void)
{
    zp_conv c = {0};
    c.zero3_buffer = ZP_Z3BUF_PREFETCH;
    c.bucket_elems = 0;
    c.gemm_eff = 1;
    c.link_eff = 1;
    return c;
}

static uint64_t states(const zp_mem *m)
{
    return m->dev[ZP_MEM_PARAMS] + m->dev[ZP_MEM_GRADS] + m->dev[ZP_MEM_OPTIM];
}

/* ------------------------------------------------------- stage params */

static void test_stage_params(void)
{
    /* L=24, h=1024, a=16, V=50304, P=2048 */
    int64_t L = 24, h = 1024, V = 50304, P = 2048;
    zp_model m = gpt(L, h, 16, V, P);
    struct { const char *name; int64_t tp, pp, k; int tied; int64_t want; } cases[] = {
        /* pp = 1, tied: blocks + embedding + final norm; the head is the embedding */
        {"tp1 pp1 tied", 1, 1, 0, 1, L * gpt_layer(h, 1) + V * h + P * h + 2 * h},
        /* pp = 1, untied: + head V h */
        {"tp1 pp1 untied", 1, 1, 0, 0, L * gpt_layer(h, 1) + V * h + P * h + 2 * h + V * h},
        /* pp = 2, tp = 2: first stage half the blocks + ceil(V/2) rows + positions */
        {"tp2 pp2 stage 0", 2, 2, 0, 1, L / 2 * gpt_layer(h, 2) + V / 2 * h + P * h},
        /* last stage: half the blocks + final norm + the tied copy of the embedding */
        {"tp2 pp2 stage 1", 2, 2, 1, 1, L / 2 * gpt_layer(h, 2) + 2 * h + V / 2 * h},
        {"tp1 pp4 middle stage", 1, 4, 1, 1, L / 4 * gpt_layer(h, 1)},
        {"tp8 pp4 stage 3 untied", 8, 4, 3, 0, L / 4 * gpt_layer(h, 8) + 2 * h + V / 8 * h},
    };
    for (int i = 0; i < N_(cases); i++) {
        m.tied = cases[i].tied;
        zp_layout l = lay(1, cases[i].tp, cases[i].pp, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 8);
        is_u64(zp_stage_params(&m, &l, cases[i].k), cases[i].want, "stage_params %s = %lld", cases[i].name,
               (long long)cases[i].want);
    }
}

/* ------------------------------------------------------ ZeRO paper states */

static void test_zero_paper(void)
{
    /* Shape near 7.5B: GPT-3-style h = 4096, L = 36, V = 50304, P = 2048:
     * Psi = 36 (12 h^2 + 13 h) + (V + P) h + 2h = 7,464,116,224, a multiple of 64. */
    int64_t L = 36, h = 4096, V = 50304, P = 2048;
    zp_model m = gpt(L, h, 32, V, P);
    uint64_t psi = (uint64_t)(L * (12 * h * h + 13 * h) + (V + P) * h + 2 * h);
    const uint64_t Nd = 64, K = 12;
    zp_train tr = train(ZP_DT_FP16, ZP_DT_FP16, 1, 2048);
    zp_cluster c = cluster(64, 8);
    zp_conv cv = conv0();
    hand_check(psi == UINT64_C(7464116224), "ZeRO table shape: hand Psi = 7,464,116,224");
    hand_check(psi % Nd == 0, "ZeRO table shape: Psi divisible by Nd = 64");
    {
        zp_layout l = lay(64, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        is_u64(zp_stage_params(&m, &l, 0), psi, "stage_params of the 7.46B shape at pp = 1 equals hand Psi");
    }
    /* Rajbhandari et al. Sec. 3 / Fig. 1: per-device model states */
    uint64_t want[4] = {
        (2 + 2 + K) * psi,             /* baseline DP */
        2 * psi + 2 * psi + K * psi / Nd, /* P_os */
        2 * psi + (2 + K) * psi / Nd,  /* P_os+g */
        (2 + 2 + K) * psi / Nd,        /* P_os+g+p */
    };
    /* Table 1, 7.5B model, Nd = 64, printed decimal GB */
    const double printed_gb[4] = {120.0, 31.4, 16.6, 1.88};
    for (int z = 0; z <= 3; z++) {
        zp_layout l = lay(64, 1, 1, 1, z, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        zp_mem mem;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
        is_u64(states(&mem), want[z], "ZeRO-%d, Nd=64, Psi=%llu: params+grads+optimizer = %llu", z,
               (unsigned long long)psi, (unsigned long long)want[z]);
        /* each class on its own */
        is_u64(mem.dev[ZP_MEM_PARAMS], (z >= 3 ? psi / Nd : psi) * 2, "ZeRO-%d params bytes", z);
        is_u64(mem.dev[ZP_MEM_GRADS], (z >= 2 ? psi / Nd : psi) * 2, "ZeRO-%d grads bytes", z);
        is_u64(mem.dev[ZP_MEM_OPTIM], (z >= 1 ? psi / Nd : psi) * K, "ZeRO-%d optimizer bytes", z);
        /* the headline numbers (Psi 7.46e9 vs the paper's 7.5e9: within 2 %) */
        is_dbl((double)states(&mem) / 1e9, printed_gb[z], 0.02, "ZeRO-%d 7.5B on Nd=64 ~ %.3g GB (Table 1)", z,
               printed_gb[z]);
        /* and the formula on exactly 7.5e9 reproduces the printed values to their rounding */
        double p75 = 7.5e9, nd = 64, f[4] = {16 * p75, 4 * p75 + 12 * p75 / nd, 2 * p75 + 14 * p75 / nd, 16 * p75 / nd};
        is_dbl(f[z] / 1e9, printed_gb[z], 0.005, "ZeRO-%d formula at 7.5e9 = %.4g GB", z, f[z] / 1e9);
    }
    /* Psi not divisible by Nd: the shard is ceil(Psi / Nd) (GPT-2 small, Nd = 7) */
    {
        zp_model g2 = gpt(12, 768, 12, 50257, 1024);
        uint64_t psi2 = 124439808, nd = 7, sh = ceil_div(psi2, nd);
        zp_cluster c7 = cluster(7, 8);
        uint64_t w[4] = {16 * psi2, 4 * psi2 + 12 * sh, 2 * psi2 + 14 * sh, 16 * sh};
        for (int z = 0; z <= 3; z++) {
            zp_layout l = lay(7, 1, 1, 1, z, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
            zp_mem mem;
            zp_mem_stage(&g2, &tr, &l, &c7, &cv, 0, &mem);
            is_u64(states(&mem), w[z], "ZeRO-%d GPT-2 small on Nd=7 (shard ceil(Psi/7) = %llu)", z,
                   (unsigned long long)sh);
        }
    }
    /* SGD with momentum and fp32 master: K = 4 + 4 */
    {
        zp_train sg = tr;
        sg.optim = ZP_OPT_SGD;
        zp_layout l = lay(64, 1, 1, 1, 1, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        zp_mem mem;
        zp_mem_stage(&m, &sg, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_OPTIM], 8 * psi / Nd, "SGD-momentum + master, ZeRO-1: optimizer 8 Psi / Nd");
        sg.master = 0;
        zp_mem_stage(&m, &sg, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_OPTIM], 4 * psi / Nd, "SGD-momentum without master, ZeRO-1: optimizer 4 Psi / Nd");
    }
}

/* ------------------------------------------------------- Megatron states */

static void test_megatron(void)
{
    /* GPT L=24, h=2048, a=16, tp=2, pp=2, d=8: Psi = stage-0 parameters of a rank */
    int64_t L = 24, h = 2048, V = 50304, P = 2048;
    zp_model m = gpt(L, h, 16, V, P);
    uint64_t psi = (uint64_t)(L / 2 * gpt_layer(h, 2) + V / 2 * h + P * h);
    const uint64_t d = 8;
    zp_cluster c = cluster(32, 8);
    zp_conv cv = conv0();
    struct { const char *name; zp_dtype dt, gdt; int master; int zero; uint64_t want; } cases[] = {
        /* bf16 params 2 + fp32 main grads 4 + fp32 master 4 + Adam 8 */
        {"bf16 + fp32 grads, unsharded: 18", ZP_DT_BF16, ZP_DT_FP32, 1, 0, 18 * psi},
        {"bf16 + fp32 grads, distributed optimizer: 6 + 12/d", ZP_DT_BF16, ZP_DT_FP32, 1, 1,
         6 * psi + 12 * ceil_div(psi, d)},
        /* fp32 params 4 + fp32 grads 4 + Adam 8 (no separate master copy) */
        {"fp32 + fp32, unsharded: 16", ZP_DT_FP32, ZP_DT_FP32, 0, 0, 16 * psi},
        {"fp32 + fp32, distributed optimizer: 8 + 8/d", ZP_DT_FP32, ZP_DT_FP32, 0, 1, 8 * psi + 8 * ceil_div(psi, d)},
        /* a master flag means nothing when the parameters already are fp32 */
        {"fp32 + fp32 with master flag: still 16", ZP_DT_FP32, ZP_DT_FP32, 1, 0, 16 * psi},
        /* ZeRO paper's fp16 + fp16: 16 and 4 + 12/d */
        {"fp16 + fp16 grads, unsharded: 16", ZP_DT_FP16, ZP_DT_FP16, 1, 0, 16 * psi},
        {"fp16 + fp16 grads, ZeRO-1: 4 + 12/d", ZP_DT_FP16, ZP_DT_FP16, 1, 1, 4 * psi + 12 * ceil_div(psi, d)},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_train tr = train(cases[i].dt, cases[i].gdt, cases[i].master, 2048);
        zp_layout l = lay(8, 2, 2, 1, cases[i].zero, ZP_OFF_NONE, ZP_CKPT_NONE, 1, 1, 8);
        zp_mem mem;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
        is_u64(states(&mem), cases[i].want, "Megatron %s (Psi_rank = %llu)", cases[i].name, (unsigned long long)psi);
    }
}

/* ------------------------------------------ Korthikanti et al. activations */

/* Table 2, bytes per layer at 16-bit: sbh (10 + 24/t) + 5 a s^2 b / t
 * (r = t for the 10 with sequence parallelism; no s^2 term with selective
 * recompute); full recompute 2 sbh. */
static uint64_t korth(uint64_t s, uint64_t b, uint64_t h, uint64_t a, uint64_t t, int sp, int sel)
{
    uint64_t sbh = s * b * h;
    return (sp ? 10 * sbh / t : 10 * sbh) + 24 * sbh / t + (sel ? 0 : 5 * a * s * s * b / t);
}

static void test_act_korthikanti(void)
{
    /* GPT-3 175B: s = 2048, h = 12288, a = 96 (and b = 1, 2) */
    const uint64_t s = 2048, h = 12288, a = 96;
    zp_model m = gpt(96, (int64_t)h, (int64_t)a, 51200, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
    static const uint64_t ts[] = {1, 2, 4, 8};
    static const uint64_t bs[] = {1, 2};
    for (int ib = 0; ib < N_(bs); ib++)
        for (int it = 0; it < N_(ts); it++) {
            uint64_t t = ts[it], b = bs[ib], sbh = s * b * h;
            struct { const char *row; int sp; zp_ckpt ck; uint64_t want; } rows[] = {
                /* no parallelism: sbh (34 + 5as/h); tensor parallel: sbh (10 + 24/t + 5as/(ht)) */
                {"tensor parallel sbh(10+24/t+5as/(ht))", 0, ZP_CKPT_NONE,
                 sbh * 10 + sbh * 24 / t + 5 * a * s * s * b / t},
                {"tp+sp sbh(34/t+5as/(ht))", 1, ZP_CKPT_NONE, sbh * 34 / t + 5 * a * s * s * b / t},
                {"tp+selective sbh(10+24/t)", 0, ZP_CKPT_SELECTIVE, sbh * 10 + sbh * 24 / t},
                {"tp+sp+selective sbh 34/t", 1, ZP_CKPT_SELECTIVE, sbh * 34 / t},
                {"full recompute 2sbh", 0, ZP_CKPT_FULL, 2 * sbh},
            };
            for (int r = 0; r < N_(rows); r++) {
                zp_layout l = lay(1, (int64_t)t, 1, 1, 0, ZP_OFF_NONE, rows[r].ck, rows[r].sp, (int64_t)b, 1);
                uint64_t got = zp_act_layer_bytes(&m, &tr, &l);
                is_u64(got, rows[r].want, "Korthikanti %s, s=2048 b=%llu h=12288 a=96 t=%llu", rows[r].row,
                       (unsigned long long)b, (unsigned long long)t);
                /* the breakdown helper agrees with the table row (sanity of the test itself) */
                if (rows[r].ck != ZP_CKPT_FULL && r == 0)
                    hand_check(korth(s, b, h, a, t, 0, 0) == rows[r].want, "table row and breakdown agree at t=%llu",
                       (unsigned long long)t);
            }
            if (t == 1) {
                zp_layout l = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, (int64_t)b, 1);
                is_u64(zp_act_layer_bytes(&m, &tr, &l), sbh * 34 + 5 * a * s * s * b,
                       "Korthikanti no parallelism sbh(34 + 5as/h), b=%llu", (unsigned long long)b);
            }
        }
    /* selective recompute of more modules (Megatron's --recompute-modules),
     * t = 8 with sp, b = 1: the MLP rebuilds fc1's output and GELU's (B + B)
     * s b 4h / t = 16 sbh/t; the norms their two outputs 2 B sbh / t =
     * 4 sbh/t; the attention core its 5 a s^2 b / t */
    {
        const uint64_t t = 8, sbh = s * h, core = 5 * a * s * s / t;
        struct { int mods; uint64_t want; const char *what; } sel[] = {
            {ZP_RC_MLP, 34 * sbh / t + core - 16 * sbh / t, "mlp: 34 sbh/t + core - 16 sbh/t"},
            {ZP_RC_CORE_ATTN | ZP_RC_MLP, 18 * sbh / t, "core_attn,mlp: 18 sbh/t"},
            {ZP_RC_ALL, 14 * sbh / t, "core_attn,mlp,layernorm: 14 sbh/t"},
            {ZP_RC_NORM, 30 * sbh / t + core, "layernorm: 30 sbh/t + core"},
        };
        for (int i = 0; i < N_(sel); i++) {
            zp_layout l = lay(1, 8, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_SELECTIVE, 1, 1, 1);
            tr.rc_modules = sel[i].mods;
            is_u64(zp_act_layer_bytes(&m, &tr, &l), sel[i].want, "175B t=8 sp, selective %s", sel[i].what);
        }
        tr.rc_modules = 0;
    }
    /* the paper's 175B example (Sec. 5): t = 8, sp + selective, 34/t sbh per layer */
    {
        zp_layout l = lay(1, 8, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_SELECTIVE, 1, 1, 1);
        uint64_t sbh = s * h;
        is_u64(zp_act_layer_bytes(&m, &tr, &l), 34 * sbh / 8, "175B t=8 sp+selective: 34 sbh / 8 = %llu",
               (unsigned long long)(34 * sbh / 8));
    }
}

static void test_act_variants(void)
{
    const uint64_t s = 2048, h = 12288, a = 96;
    zp_model m = gpt(96, (int64_t)h, (int64_t)a, 51200, 2048);
    static const uint64_t ts[] = {1, 8};
    for (int it = 0; it < N_(ts); it++) {
        uint64_t t = ts[it], b = 1, sbh = s * b * h;
        for (int sp = 0; sp <= 1; sp++) {
            uint64_t r = sp ? t : 1;
            zp_layout l = lay(1, (int64_t)t, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, sp, 1, 1);
            /* flash attention: no s^2 terms (softmax output, its mask, dropout
             * output); keeps fp32 softmax statistics 4 a s b / t */
            zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
            tr.flash = 1;
            is_u64(zp_act_layer_bytes(&m, &tr, &l), 10 * sbh / r + 24 * sbh / t + 4 * a * s * b / t,
                   "flash attention t=%llu sp=%d: sbh(10/r + 24/t) + 4asb/t", (unsigned long long)t, sp);
            /* no dropout: the two 1-byte sbh masks, the as^2b mask and the
             * 2as^2b dropout output go; the 2as^2b softmax output stays */
            tr.flash = 0;
            tr.dropout = 0;
            is_u64(zp_act_layer_bytes(&m, &tr, &l), 8 * sbh / r + 24 * sbh / t + 2 * a * s * s * b / t,
                   "no dropout t=%llu sp=%d: sbh(8/r + 24/t) + 2as^2b/t", (unsigned long long)t, sp);
            /* flash and no dropout */
            tr.flash = 1;
            is_u64(zp_act_layer_bytes(&m, &tr, &l), 8 * sbh / r + 24 * sbh / t + 4 * a * s * b / t,
                   "flash, no dropout t=%llu sp=%d: sbh(8/r + 24/t) + 4asb/t", (unsigned long long)t, sp);
            /* FP8 linear layers (Transformer Engine) save their inputs in
             * 1 byte: the two norm outputs (2 sbh/r of the 8), the
             * projection's input (1 of 2 sbh/t) and fc2's, the GELU
             * output (4 of 8 sbh/t): sbh(6/r + 19/t) + 4asb/t */
            tr.fp8 = 1;
            is_u64(zp_act_layer_bytes(&m, &tr, &l), 6 * sbh / r + 19 * sbh / t + 4 * a * s * b / t,
                   "FP8 linear layers, flash, no dropout t=%llu sp=%d: sbh(6/r + 19/t) + 4asb/t",
                   (unsigned long long)t, sp);
            /* and their weights in FP8 too, kept through the step: 1 byte
             * a matmul weight, 96 blocks of 12 h^2 / t */
            {
                zp_cluster c = cluster((int64_t)t, 8);
                zp_conv cv = conv0();
                zp_mem with, without;
                zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &with);
                tr.fp8 = 0;
                zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &without);
                is_u64(with.dev[ZP_MEM_PARAMS] - without.dev[ZP_MEM_PARAMS], 96 * 12 * h * h / t,
                       "FP8 t=%llu sp=%d: the weights' FP8 copies, 96 x 12 h^2 / t bytes", (unsigned long long)t, sp);
            }
            tr.fp8 = 0;
            /* fp32 activations, B = 4, 1-byte masks: the 34 splits as
             * 2 LN inputs + QKV input + fc1 input (4B) + 2 masks replicated,
             * Q K (2B) + V (B) + proj input (B) + fc1 out (4B) + GELU out (4B) split,
             * core softmax B + mask 1 + dropout out B */
            tr = train(ZP_DT_FP32, ZP_DT_FP32, 0, (int64_t)s);
            is_u64(zp_act_layer_bytes(&m, &tr, &l), 18 * sbh / r + 48 * sbh / t + 9 * a * s * s * b / t,
                   "fp32 activations t=%llu sp=%d: sbh(18/r + 48/t) + 9as^2b/t", (unsigned long long)t, sp);
            /* full recompute with sp keeps the layer input split: 2 sbh / t */
            tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
            l.ckpt = ZP_CKPT_FULL;
            is_u64(zp_act_layer_bytes(&m, &tr, &l), 2 * sbh / r, "full recompute t=%llu sp=%d: 2 sbh / r",
                   (unsigned long long)t, sp);
        }
    }
    /* generalised to GQA and SwiGLU (LLaMA-2 70B: a = 64, g = 8, f = 28672),
     * t = 8, sp, flash, no dropout (LLaMA trains without):
     *   replicated (split by r = t): LN inputs 2 x 2sbh, QKV and gate/up input 2 x 2sbh... i.e. 8 sbh / r
     *   Q, K: 2 s b hd (a + g) / t; V: 2 s b hd g / t; o input 2 sbh / t
     *   SwiGLU: gate, up, product 3 x 2 s b f / t; softmax stats 4 a s b / t */
    {
        const uint64_t hh = 8192, aa = 64, g = 8, f = 28672, hd = hh / aa, t = 8, ss = 4096, b = 1;
        zp_model l70 = llama(80, (int64_t)hh, (int64_t)aa, (int64_t)g, (int64_t)f, 32000);
        zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)ss);
        tr.flash = 1;
        tr.dropout = 0;
        zp_layout l = lay(1, (int64_t)t, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 1, 1, 1);
        uint64_t sbh = ss * b * hh;
        uint64_t want = 8 * sbh / t + 2 * ss * b * hd * (aa + g) / t + 2 * ss * b * hd * g / t + 2 * sbh / t +
                        3 * 2 * ss * b * f / t + 4 * aa * ss * b / t;
        is_u64(zp_act_layer_bytes(&l70, &tr, &l), want, "LLaMA-2 70B GQA+SwiGLU t=8 sp flash: %llu bytes",
               (unsigned long long)want);
        /* PyTorch DTensor (--sp-inputs gathered): the two norms' outputs
         * are all-gathered and the QKV and gate/up products keep what the
         * gather made, 2 sbh each whole; the norms' inputs stay 2 x 2sbh / t */
        tr.sp_gathered = 1;
        uint64_t want_g = 4 * sbh / t + 2 * 2 * sbh + 2 * ss * b * hd * (aa + g) / t + 2 * ss * b * hd * g / t +
                          2 * sbh / t + 3 * 2 * ss * b * f / t + 4 * aa * ss * b / t;
        is_u64(zp_act_layer_bytes(&l70, &tr, &l), want_g,
               "the same with the gathered inputs kept (DTensor): 4 sbh more x (1 - 1/t), %llu bytes",
               (unsigned long long)want_g);
        /* without sequence parallelism nothing is gathered: as before */
        zp_layout nsp = l;
        nsp.sp = 0;
        uint64_t want_nsp = 8 * sbh + 2 * ss * b * hd * (aa + g) / t + 2 * ss * b * hd * g / t + 2 * sbh / t +
                            3 * 2 * ss * b * f / t + 4 * aa * ss * b / t;
        is_u64(zp_act_layer_bytes(&l70, &tr, &nsp), want_nsp, "no sp: the gathered-input convention changes nothing");
        /* full recompute keeps the block input, each rank's rows */
        zp_layout fl = l;
        fl.ckpt = ZP_CKPT_FULL;
        is_u64(zp_act_layer_bytes(&l70, &tr, &fl), 2 * sbh / t, "full recompute with DTensor: the input, 2 sbh / t");
        /* what more the gathered inputs keep than each rank's rows, by
         * case: d(x) = gathered - local for the same block */
        const uint64_t part = sbh - sbh / t;   /* one input of 1-byte values, whole instead of 1/t */
        struct { const char *what; int fp8, mods, block; zp_ckpt ck; uint64_t want; } dc[] = {
            {"FP8: two 1-byte inputs", 1, 0, ZP_BLOCK_SERIAL, ZP_CKPT_NONE, 2 * part},
            {"a parallel block with one norm: its one input", 0, 0, ZP_BLOCK_PARALLEL, ZP_CKPT_NONE, 2 * part},
            {"selective MLP: the QKV input alone (the MLP's gathered again when rebuilt)", 0, ZP_RC_MLP,
             ZP_BLOCK_SERIAL, ZP_CKPT_SELECTIVE, 2 * part},
            {"selective norms: neither (rebuilt, then gathered again)", 0, ZP_RC_NORM, ZP_BLOCK_SERIAL,
             ZP_CKPT_SELECTIVE, 0},
        };
        for (int i = 0; i < 4; i++) {
            zp_model mm = l70;
            mm.block = (zp_block)dc[i].block;
            zp_train tt = tr;
            tt.fp8 = dc[i].fp8;
            tt.rc_modules = dc[i].mods;
            zp_layout ll = l;
            ll.ckpt = dc[i].ck;
            tt.sp_gathered = 0;
            uint64_t loc = zp_act_layer_bytes(&mm, &tt, &ll);
            tt.sp_gathered = 1;
            uint64_t gat = zp_act_layer_bytes(&mm, &tt, &ll);
            is_u64(gat - loc, dc[i].want, "DTensor's gathered inputs, %s: %llu bytes more", dc[i].what,
                   (unsigned long long)dc[i].want);
        }
        tr.sp_gathered = 0;
    }
}

/* A LLaMA-family block of s x b tokens, h wide, a and g heads of d, MLP f,
 * in bf16 with flash attention and no dropout, on t tensor-parallel ranks
 * with sp (L layers, vocabulary V): the model, training and layout, and
 * the saved activations by hand:
 *   replicated: 2 norm inputs + QKV input + gate/up input, 4 x 2 sbh / t
 *   Q, K, V 2 s b d (a + 2g) / t; o input 2 s b d a / t (a d wide, not h)
 *   gate, up, product 3 x 2 s b f / t; softmax stats 4 a s b / t */
typedef struct {
    zp_model m;
    zp_train tr;
    zp_layout l;
    uint64_t want;
} glu_case;

static glu_case glu_sp_flash(uint64_t L, uint64_t s, uint64_t b, uint64_t h, uint64_t a, uint64_t g, uint64_t d,
                             uint64_t f, uint64_t t, uint64_t V)
{
    glu_case c;
    c.m = llama((int64_t)L, (int64_t)h, (int64_t)a, (int64_t)g, (int64_t)f, (int64_t)V);
    c.m.head_dim = (int64_t)d;
    c.tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
    c.tr.flash = 1;
    c.tr.dropout = 0;
    c.l = lay(1, (int64_t)t, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 1, (int64_t)b, 1);
    uint64_t sbh = s * b * h;
    c.want = 8 * sbh / t + 2 * s * b * d * (a + 2 * g) / t + 2 * s * b * d * a / t + 3 * 2 * s * b * f / t +
             4 * a * s * b / t;
    return c;
}

/* Head width, parallel blocks and sliding windows in the saved activations
 * (Korthikanti et al.'s terms, as listed in test_act_variants). */
static void test_act_beyond(void)
{
    /* Gemma 7B's attention: h = 3072, a = g = 16 heads of d = 256 (4096
     * wide), GeGLU f = 24576, t = 2, b = 1 */
    {
        glu_case c = glu_sp_flash(28, 4096, 1, 3072, 16, 16, 256, 24576, 2, 256000);
        is_u64(zp_act_layer_bytes(&c.m, &c.tr, &c.l), c.want, "Gemma 7B head_dim 256, t=2 sp flash: %llu bytes",
               (unsigned long long)c.want);
    }
    /* Qwen3 8B's blocks (h = 4096, a = 32, g = 8, d = 128, f = 12288), s =
     * 4096, b = 2, t = 4: LLaMA's terms as above, and Q's and K's head
     * norms keep their inputs, the Q and K products' outputs, 2 s b d (a +
     * g) / t, and their fp32 1/rms, one a head row: 4 s b (a + g) / t; full
     * recompute keeps only the block's input, per-op checkpointing what it
     * kept without the norms */
    {
        const uint64_t s = 4096, b = 2, h = 4096, a = 32, g = 8, d = 128, t = 4;
        glu_case c = glu_sp_flash(36, s, b, h, a, g, d, 12288, t, 151936);
        zp_model m = c.m;
        zp_train tr = c.tr;
        zp_layout l = c.l;
        uint64_t sbh = s * b * h, base = c.want;
        uint64_t qkn = 2 * s * b * d * (a + g) / t + 4 * s * b * (a + g) / t;
        is_u64(zp_act_layer_bytes(&m, &tr, &l), base, "Qwen3 8B's shape without Q/K norms, t=4 sp flash: %llu bytes",
               (unsigned long long)base);
        m.qk_norm = 1;
        is_u64(zp_act_layer_bytes(&m, &tr, &l), base + qkn,
               "with them: + 2 s b d (a + g) / t + 4 s b (a + g) / t = %llu more", (unsigned long long)qkn);
        l.ckpt = ZP_CKPT_FULL;
        is_u64(zp_act_layer_bytes(&m, &tr, &l), 2 * sbh / t, "Q/K norms, full recompute: the input, 2 sbh / t");
        l.ckpt = ZP_CKPT_OP;
        uint64_t op = zp_act_layer_bytes(&m, &tr, &l);
        m.qk_norm = 0;
        is_u64(op, zp_act_layer_bytes(&m, &tr, &l), "Q/K norms, per-op checkpointing: as without (rebuilt from q)");
        /* their parameters: two RMSNorms of d, whole on every tp rank */
        m.qk_norm = 1;
        is_u64((uint64_t)zp_model_qk_norm_params(&m), 2 * d, "Q/K norms' parameters: 2 d");
        zp_model m0 = m;
        m0.qk_norm = 0;
        is_u64((uint64_t)(zp_model_layer_params(&m, 4) - zp_model_layer_params(&m0, 4)), 2 * d,
               "and a tp rank's block holds all of them (replicated): 2 d more at t=4");
        m.norm = ZP_NORM_LAYERNORM;
        is_u64((uint64_t)zp_model_qk_norm_params(&m), 4 * d, "LayerNorm head norms: scale and shift, 4 d");
    }
    /* Parallel blocks on the GPT-3 175B shape (s = 2048, h = 12288, a = 96,
     * bf16, dropout, no flash): attention and MLP read one input.  With one
     * shared LayerNorm the block keeps that input and the norm's output
     * (2 sbh of 16-bit values, 4 sbh bytes, instead of the serial 4 values,
     * 8 sbh bytes): sbh (6 + 24/t) + 5 a s^2 b / t; with two norms of it
     * (GPT-NeoX) the input once and both outputs: sbh (8 + 24/t) + ... */
    {
        const uint64_t s = 2048, h = 12288, a = 96;
        zp_model m = gpt(96, (int64_t)h, (int64_t)a, 51200, 2048);
        zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
        static const uint64_t ts[] = {1, 8};
        for (int it = 0; it < N_(ts); it++) {
            uint64_t t = ts[it], sbh = s * h;
            zp_layout l = lay(1, (int64_t)t, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
            m.block = ZP_BLOCK_PARALLEL;
            is_u64(zp_act_layer_bytes(&m, &tr, &l), 6 * sbh + 24 * sbh / t + 5 * a * s * s / t,
                   "parallel block, one norm, t=%llu: sbh (6 + 24/t) + 5as^2b/t", (unsigned long long)t);
            m.block = ZP_BLOCK_PARALLEL_2NORM;
            is_u64(zp_act_layer_bytes(&m, &tr, &l), 8 * sbh + 24 * sbh / t + 5 * a * s * s / t,
                   "parallel block, two norms, t=%llu: sbh (8 + 24/t) + 5as^2b/t", (unsigned long long)t);
            l.ckpt = ZP_CKPT_FULL;
            m.block = ZP_BLOCK_PARALLEL;
            is_u64(zp_act_layer_bytes(&m, &tr, &l), 2 * sbh, "parallel block, full recompute: the input, 2 sbh");
            m.block = ZP_BLOCK_SERIAL;
        }
    }
    /* A sliding window of w keys caps each row of scores: without flash
     * attention the softmax output, its mask and the dropout output are
     * 5 a s w b / t bytes instead of 5 a s^2 b / t (GPT-3 175B shape,
     * s = 2048, w = 512); a window of at least s changes nothing. */
    {
        const uint64_t s = 2048, h = 12288, a = 96, w = 512;
        zp_model m = gpt(96, (int64_t)h, (int64_t)a, 51200, 2048);
        zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
        zp_layout l = lay(1, 8, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 2, 1);
        uint64_t sbh = s * 2 * h;
        m.window = (int64_t)w;
        is_u64(zp_act_layer_bytes(&m, &tr, &l), 10 * sbh + 24 * sbh / 8 + 5 * a * s * w * 2 / 8,
               "window 512, s=2048 b=2 t=8: sbh (10 + 24/t) + 5 a s w b / t");
        m.window = 4096;
        is_u64(zp_act_layer_bytes(&m, &tr, &l), 10 * sbh + 24 * sbh / 8 + 5 * a * s * s * 2 / 8,
               "window 4096 >= s = 2048: the full 5 a s^2 b / t");
        /* flash attention keeps no score rows: the window changes nothing */
        tr.flash = 1;
        m.window = (int64_t)w;
        is_u64(zp_act_layer_bytes(&m, &tr, &l), 10 * sbh + 24 * sbh / 8 + 4 * a * s * 2 / 8,
               "window with flash attention: sbh (10 + 24/t) + 4asb/t as without");
        /* selective recompute rebuilds the core in backward: its working
         * set is the capped core, 5 a s w b / t */
        tr.flash = 0;
        l.ckpt = ZP_CKPT_SELECTIVE;
        zp_lcache lc;
        zp_lcache_init(&m, &tr, &l, &lc);
        is_u64(lc.recompute, 5 * a * s * w * 2 / 8, "selective recompute working set with the window: 5 a s w b / t");
        m.window = 0;
        zp_lcache_init(&m, &tr, &l, &lc);
        is_u64(lc.recompute, 5 * a * s * s * 2 / 8, "and without: 5 a s^2 b / t");
    }
}

/* --------------------------------------------------- pipeline in flight */

static void test_inflight(void)
{
    struct { const char *name; int64_t p, v, M, k, L, want; } cases[] = {
        /* 1F1B first stage: p micro-batches of L/p layers = L layers (M >= p) */
        {"1F1B stage 0, M = 2p", 4, 1, 8, 0, 32, 32},
        {"1F1B stage 0, M = p", 4, 1, 4, 0, 32, 32},
        {"1F1B stage 0, p=8 M=64 L=96", 8, 1, 64, 0, 96, 96},
        /* fewer micro-batches than stages: M L / p */
        {"1F1B stage 0, M = 2 < p = 4", 4, 1, 2, 0, 32, 2 * 32 / 4},
        {"1F1B stage 0, M = 1", 4, 1, 1, 0, 32, 32 / 4},
        {"1F1B stage 0, M = 3 < p = 8", 8, 1, 3, 0, 96, 3 * 96 / 8},
        /* last stage: one micro-batch of L/p layers */
        {"1F1B last stage", 4, 1, 8, 3, 32, 32 / 4},
        {"1F1B last stage p=8", 8, 1, 64, 7, 96, 96 / 8},
        /* stage k keeps p - k micro-batches (Narayanan et al. 1F1B warm-up) */
        {"1F1B stage 1 of 4", 4, 1, 8, 1, 32, 3 * 32 / 4},
        /* no pipeline: one micro-batch of all layers */
        {"no pipeline", 1, 1, 8, 0, 24, 24},
        /* interleaved, first stage: L (1 + (p - 1)/(p v)) */
        {"interleaved p=4 v=2 stage 0", 4, 2, 8, 0, 32, 32 + 32 * (4 - 1) / (4 * 2)},
        {"interleaved p=8 v=3 stage 0", 8, 3, 16, 0, 96, 96 + 96 * (8 - 1) / (8 * 3)},
        {"interleaved p=2 v=4 stage 0", 2, 4, 8, 0, 64, 64 + 64 * (2 - 1) / (2 * 4)},
        /* interleaved stage k: Megatron's warm-up 2(p-k-1) + (v-1)p, +1 in
         * flight, chunks of L/(pv) layers: last stage (v-1)p + 1 chunks */
        {"interleaved p=4 v=2 last stage", 4, 2, 8, 3, 32, ((2 - 1) * 4 + 1) * 32 / 8},
        /* few micro-batches cap the chunks at M v */
        {"interleaved p=4 v=2 M=4 stage 0: M v = 8 chunks", 4, 2, 4, 0, 32, 4 * 2 * 32 / (4 * 2)},
        /* uneven stages, interleaved: 126 layers on 16 stages of 7 or 8
         * blocks in 4 chunks of at most 2: stage 0 (7 blocks) keeps
         * 2 x 15 + 3 x 16 + 1 = 79 chunks of 2, stage 1 (8) 77 of 2 */
        {"uneven interleaved 126/16 v=4 stage 0", 16, 4, 32, 0, 126, 79 * 2},
        {"uneven interleaved 126/16 v=4 stage 1", 16, 4, 32, 1, 126, 77 * 2},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_layout l = lay(1, 1, cases[i].p, cases[i].v, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, cases[i].M);
        is_u64(zp_act_inflight(&l, cases[i].L, cases[i].k), cases[i].want,
               "inflight %s (p=%lld v=%lld M=%lld k=%lld L=%lld) = %lld layers", cases[i].name, (long long)cases[i].p,
               (long long)cases[i].v, (long long)cases[i].M, (long long)cases[i].k, (long long)cases[i].L,
               (long long)cases[i].want);
    }
}

/* ------------------------------------------- stage activations and logits */

static void test_stage_act(void)
{
    /* GPT-3 175B, V = 51200, s = 2048, b = 1, t = 8 with sp, dp = 1 */
    const uint64_t s = 2048, b = 1, h = 12288, a = 96, V = 51200, L = 96, t = 8;
    const uint64_t sbh = s * b * h;
    zp_model m = gpt((int64_t)L, (int64_t)h, (int64_t)a, (int64_t)V, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
    zp_cluster c = cluster(8, 8);
    zp_conv cv = conv0();
    uint64_t layer = sbh * 34 / t + 5 * a * s * s * b / t;
    /* pp = 1 (the only stage is first and last):
     *   activations = L layers + embedding dropout sbh p/t (p = 1) + output layer 4 sbh/t
     *   buffers     = fp32 logits 4 s b V / t (dp = 1: no bucket; pp = 1: no p2p) */
    {
        zp_layout l = lay(1, 8, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 1, 1, 4);
        zp_mem mem;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_ACT], L * layer + sbh / t + 4 * sbh / t,
               "pp=1 t=8 sp: activations = L sbh(34/t + 5as/(ht)) + sbh/t + 4sbh/t");
        is_u64(mem.dev[ZP_MEM_BUF], 4 * s * b * V / t, "pp=1 t=8: buffers = fp32 logits 4sbV/t");
        /* together: Korthikanti eq. for p = 1: L sbh(34/t + 5as/(ht)) + sbh p/t + 4sbh/t (1 + V/h) */
        is_u64(mem.dev[ZP_MEM_ACT] + mem.dev[ZP_MEM_BUF], L * layer + sbh / t + 4 * sbh / t + 4 * s * b * V / t,
               "pp=1: activations + logits = the paper's total with 4sbh/t (1 + V/h)");
        ok(mem.dev[ZP_MEM_OVERHEAD] == 0, "conv0: no overhead");
    }
    /* pp = 4, M = 8 >= p: first stage L layers' worth + sbh p/t embedding
     * dropout masks; last stage one micro-batch of L/p layers + 4 sbh/t */
    {
        const uint64_t p = 4;
        zp_layout l = lay(1, 8, 4, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 1, 1, 8);
        zp_cluster c32 = cluster(32, 8);
        zp_mem mem;
        zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_ACT], L * layer + sbh * p / t, "pp=4 stage 0: L layers + sbh p/t");
        zp_mem_stage(&m, &tr, &l, &c32, &cv, 3, &mem);
        is_u64(mem.dev[ZP_MEM_ACT], L / p * layer + 4 * sbh / t, "pp=4 last stage: L/p layers + 4sbh/t");
        zp_mem_stage(&m, &tr, &l, &c32, &cv, 1, &mem);
        is_u64(mem.dev[ZP_MEM_ACT], 3 * L / p * layer, "pp=4 stage 1: 3 micro-batches of L/p layers");
        /* interleaved v = 2: first stage L (1 + (p-1)/(pv)); the paper
         * keeps sbh p/t of masks, but Megatron's schedule has more of the
         * first chunk in flight.  Stage 0's forwards in order: chunk
         * (k mod vp) div p; its backwards: chunk v-1 - (j mod vp) div p.
         * Warm-up 2(p-1) + (v-1)p = 10 forwards (chunks 0000 1111 00),
         * then forward 10 + j before backward j: backwards 0-3 are chunk
         * 1's, and before backward 4, the first of chunk 0, forwards 0-14
         * have run: chunk 0 at 0-3 and 8-11, 8 = 2p micro-batches (the
         * most at any time, with M = 8 every one): sbh 2p/t */
        l.vp = 2;
        zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_ACT], (L + L * (p - 1) / (p * 2)) * layer + sbh * (2 * p) / t,
               "pp=4 v=2 stage 0: L(1 + (p-1)/(pv)) layers + sbh 2p/t");
    }
    /* full recompute, pp = 1: the peak is the first block's backward, not
     * the loss.  At the loss: L layer inputs 2sbh/t (sp) + masks sbh/t +
     * the head's inputs 4sbh/t, and fp32 logits 4sbV/t = 52 MB.  At the
     * block's backward: the same inputs and masks (head inputs freed) and
     * the block rebuilt, its output in place of its input (the kept
     * checkpoint), 34sbh/t + 5as^2b/t = 352 MB > 4sbh/t + 4sbV/t. */
    {
        zp_layout l = lay(1, 8, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 1, 1, 4);
        zp_mem mem;
        uint64_t rebuilt = layer;
        hand_check(rebuilt > 4 * sbh / t + 4 * s * b * V / t, "full recompute: the rebuilt layer outweighs head inputs + logits");
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_ACT], L * 2 * sbh / t + sbh / t, "pp=1 full recompute activations at the block's backward");
        is_u64(mem.dev[ZP_MEM_BUF], rebuilt, "pp=1 full recompute: one layer rebuilt");
        ok(mem.phase == ZP_PHASE_BACKWARD, "pp=1 full recompute: peak in backward");
        zp_layout n = lay(1, 8, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 1, 1, 4);
        zp_mem_stage(&m, &tr, &n, &c, &cv, 0, &mem);
        ok(mem.phase == ZP_PHASE_LOSS, "pp=1 no recompute: peak at the loss (nothing rebuilt in backward)");
    }
}

/* What a pipeline keeps outside its blocks (GPT-3 175B's shape as above,
 * p = 4, M = 8; 2-byte activations):
 *   - an embedding norm (BLOOM's word_embeddings_layernorm) keeps its
 *     input, B sbh/r, in every micro-batch in flight on stage 0 (p of them):
 *     outside every block, so full recompute keeps it too;
 *   - --pp-outputs: a stage k < p-1 keeps each in-flight micro-batch's
 *     output (min(p-k, M) of them): kept B sbh/r each (PyTorch eager: the
 *     residual stream's 4 bytes under autocast), sliced B ceil(sbh/t),
 *     freed nothing; the last stage sends none.  Interleaved, one per
 *     chunk in flight, 2(p-k-1) + (v-1)p + 1 on stage k, and the last
 *     stage sends all but its final chunk's: (v-1)p. */
static void test_stage_io(void)
{
    const uint64_t s = 2048, b = 1, h = 12288, a = 96, V = 51200, L = 96, t = 8, p = 4, B = 2;
    const uint64_t sbh = s * b * h;
    zp_model m = gpt((int64_t)L, (int64_t)h, (int64_t)a, (int64_t)V, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
    zp_cluster c = cluster(32, 8);
    zp_conv cv = conv0();
    zp_mem base, mem;
    for (int ck = 0; ck < 3; ck++) {   /* no recompute with sp, full recompute with sp, without sp */
        zp_layout l = lay(1, 8, 4, 1, 0, ZP_OFF_NONE, ck ? ZP_CKPT_FULL : ZP_CKPT_NONE, ck < 2, 1, 8);
        uint64_t r = ck < 2 ? t : 1;
        zp_model n = m;
        n.embed_norm = 1;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &base);
        zp_mem_stage(&n, &tr, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_ACT] - base.dev[ZP_MEM_ACT], p * B * sbh / r,
               ck == 2 ? "embedding norm, no sp: stage 0 keeps p inputs B sbh, whole"
               : ck ? "embedding norm, full recompute: stage 0 keeps p inputs B sbh/t too"
                    : "embedding norm: stage 0 keeps its input B sbh/t for each of p micro-batches");
        zp_mem_stage(&m, &tr, &l, &c, &cv, 1, &base);
        zp_mem_stage(&n, &tr, &l, &c, &cv, 1, &mem);
        is_u64(mem.dev[ZP_MEM_ACT], base.dev[ZP_MEM_ACT], "embedding norm: nothing on stage 1");
    }
    for (int sp = 0; sp < 2; sp++) {
        zp_layout l = lay(1, 8, 4, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, sp, 1, 8);
        uint64_t r = sp ? t : 1;
        for (int64_t k = 0; k < 4; k++) {
            uint64_t outs = (uint64_t)(k == 3 ? 0 : (int64_t)p - k);   /* min(p - k, M) before the last */
            cv.pp_out = ZP_PPOUT_FREED;
            zp_mem_stage(&m, &tr, &l, &c, &cv, k, &base);
            cv.pp_out = ZP_PPOUT_KEPT;
            zp_mem_stage(&m, &tr, &l, &c, &cv, k, &mem);
            is_u64(mem.dev[ZP_MEM_ACT] - base.dev[ZP_MEM_ACT], outs * B * sbh / r,
                   sp ? "pp outputs kept, sp: min(p-k, M) x B sbh/t on stage k < p-1, none on the last (v = 1)"
                      : "pp outputs kept: min(p-k, M) x B sbh on stage k < p-1, none on the last (v = 1)");
            cv.pp_out = ZP_PPOUT_SLICED;
            zp_mem_stage(&m, &tr, &l, &c, &cv, k, &mem);
            is_u64(mem.dev[ZP_MEM_ACT] - base.dev[ZP_MEM_ACT], outs * B * ceil_div(sbh, t),
                   "pp outputs sliced: min(p-k, M) x B ceil(sbh/t), whatever sp");
        }
    }
    {   /* interleaved v = 2, stage 0: 2(p-1) + (v-1)p + 1 = 11 chunk outputs (<= M v = 16) */
        zp_layout l = lay(1, 8, 4, 2, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 1, 1, 8);
        cv.pp_out = ZP_PPOUT_FREED;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &base);
        cv.pp_out = ZP_PPOUT_KEPT;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_ACT] - base.dev[ZP_MEM_ACT], (2 * (p - 1) + p + 1) * B * sbh / t,
               "pp outputs kept, v=2: one a chunk in flight, 11 on stage 0");
        cv.pp_out = ZP_PPOUT_FREED;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 3, &base);
        cv.pp_out = ZP_PPOUT_KEPT;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 3, &mem);
        is_u64(mem.dev[ZP_MEM_ACT] - base.dev[ZP_MEM_ACT], p * B * sbh / t,
               "pp outputs kept, v=2: the last stage sends its first chunk's, (v-1)p = 4 in flight");
    }
    {   /* PyTorch eager, bf16 autocast (r = 4), t = 1, p = 4, M = 8, stage 1: 3 outputs of 4 s b h */
        zp_layout l = lay(1, 1, 4, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, 8);
        zp_conv ce = cv;
        ce.eager = 1;
        ce.pp_out = ZP_PPOUT_FREED;
        zp_mem_stage(&m, &tr, &l, &c, &ce, 1, &base);
        ce.pp_out = ZP_PPOUT_KEPT;
        zp_mem_stage(&m, &tr, &l, &c, &ce, 1, &mem);
        is_u64(mem.dev[ZP_MEM_ACT] - base.dev[ZP_MEM_ACT], 3 * 4 * sbh,
               "pp outputs kept, PyTorch eager with autocast: 3 x 4 sbh (the fp32 stream) on stage 1");
    }
}

/* Full recompute of every k-th block only (torchtitan's layer-level AC):
 * a stage of Ls blocks rebuilds floor(Ls / k) of them, whose activations
 * are their inputs (2 sbh/t with sp), and keeps the rest whole (34 sbh/t +
 * 5 a s^2 b / t each), in every micro-batch in flight. */
static void test_ckpt_every(void)
{
    const uint64_t s = 2048, b = 1, h = 12288, a = 96, V = 51200, L = 96, t = 8, p = 4;
    const uint64_t sbh = s * b * h;
    zp_model m = gpt((int64_t)L, (int64_t)h, (int64_t)a, (int64_t)V, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
    zp_cluster c32 = cluster(32, 8), c = cluster(8, 8);
    zp_conv cv = conv0();
    uint64_t whole = sbh * 34 / t + 5 * a * s * s * b / t, in = 2 * sbh / t;
    zp_layout l = lay(1, 8, 4, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 1, 1, 8);
    zp_mem mem, ref;
    /* 24 blocks a stage, every 5th rebuilt: 4 of them; stage 0 holds 4
     * micro-batches, stage 1 three */
    tr.ckpt_every = 5;
    zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_ACT], 4 * (4 * in + 20 * whole) + sbh * p / t,
           "every 5th of 24 blocks, stage 0: 4 micro-batches x (4 inputs + 20 whole blocks) + sbh p/t masks");
    is_u64(mem.dev[ZP_MEM_BUF], 2 * 2 * sbh / t,
           "every 5th of 24: the last rebuilt block (the 20th) runs after 4 kept ones freed theirs: the buffers are "
           "the send and receive buffers 2 x 2 sbh/t only");
    tr.ckpt_every = 4;   /* 6 of 24, the 24th among them: backward starts with a rebuilt block */
    zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_ACT], 4 * (6 * in + 18 * whole) + sbh * p / t, "every 4th of 24, stage 0: 4 x (6 + 18)");
    is_u64(mem.dev[ZP_MEM_BUF], whole + 2 * 2 * sbh / t,
           "every 4th of 24: the stage's last block rebuilt first in backward, with every block's activations kept: "
           "+ one whole block");
    tr.ckpt_every = 5;
    zp_mem_stage(&m, &tr, &l, &c32, &cv, 1, &mem);
    is_u64(mem.dev[ZP_MEM_ACT], 3 * (4 * in + 20 * whole), "every 5th, stage 1: 3 x (4 inputs + 20 whole blocks)");
    /* k = 1 is full recompute, k beyond the stage's blocks none at all */
    tr.ckpt_every = 1;
    zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &mem);
    tr.ckpt_every = 0;
    zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &ref);
    ok(mem.dev_total == ref.dev_total && mem.dev[ZP_MEM_ACT] == 4 * 24 * in + sbh * p / t,
       "every 1st block: full recompute (%llu)", (unsigned long long)mem.dev_total);
    tr.ckpt_every = 25;
    zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &mem);
    zp_layout n = l;
    n.ckpt = ZP_CKPT_NONE;
    tr.ckpt_every = 0;
    zp_mem_stage(&m, &tr, &n, &c32, &cv, 0, &ref);
    ok(mem.dev_total == ref.dev_total && mem.dev[ZP_MEM_ACT] == 4 * 24 * whole + sbh * p / t &&
           mem.dev[ZP_MEM_BUF] == ref.dev[ZP_MEM_BUF],
       "every 25th of 24 blocks: nothing rebuilt, the memory of no recompute (%llu)", (unsigned long long)mem.dev_total);
    /* Megatron's block method: the first 10 of 24 blocks rebuilt, 14 kept;
     * the rebuilt ones come last in backward, after the kept ones freed
     * theirs: no rebuilt block at the peak; the first 24 (all): full */
    tr.ckpt_every = 0;
    tr.ckpt_block = 10;
    zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_ACT], 4 * (10 * in + 14 * whole) + sbh * p / t, "block 10 of 24, stage 0: 4 x (10 + 14)");
    is_u64(mem.dev[ZP_MEM_BUF], 2 * 2 * sbh / t, "block 10 of 24: the rebuilt blocks come last, nothing rebuilt at the peak");
    tr.ckpt_block = 24;
    zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &mem);
    tr.ckpt_block = 0;
    zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &ref);
    ok(mem.dev_total == ref.dev_total, "block 24 of 24: full recompute (%llu)", (unsigned long long)ref.dev_total);
    /* interleaved v = 2: the first 3 of each chunk of 12: 6 of 24 rebuilt;
     * stage 0 holds 2(p - 1) + (v - 1)p + 1 = 11 chunks of 12 blocks in
     * flight (132, test_stage_act's L(1 + (p-1)/(pv))), a quarter of them
     * rebuilt: 33; the first chunk 2p micro-batches of them (test_stage_act),
     * as many dropout masks */
    zp_layout lv = l;
    lv.vp = 2;
    tr.ckpt_block = 3;
    zp_mem_stage(&m, &tr, &lv, &c32, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_ACT], 33 * in + 99 * whole + sbh * (2 * p) / t,
           "block 3, v = 2: 6 of 24 rebuilt, that share of the 132 blocks in flight: 33 inputs + 99 whole");
    tr.ckpt_block = 0;
    /* interleaved v = 3, chunks of 8, every 16th: the 16th block is chunk
     * 1's last, whose backward starts with it: one whole block rebuilt at
     * the peak though 16 does not divide 24; every 5th (no chunk's last:
     * 8, 16, 24): none */
    lv.vp = 3;
    tr.ckpt_every = 16;
    zp_mem_stage(&m, &tr, &lv, &c32, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_BUF], whole + 2 * 2 * sbh / t, "v = 3, every 16th: a chunk's last block rebuilt, + one whole block");
    tr.ckpt_every = 5;
    zp_mem_stage(&m, &tr, &lv, &c32, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_BUF], 2 * 2 * sbh / t, "v = 3, every 5th: no chunk's last block rebuilt, nothing at the peak");
    tr.ckpt_every = 0;
    /* pp = 1, every 2nd of 96: 48 inputs + 48 whole blocks + sbh/t masks */
    zp_layout one = lay(1, 8, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 1, 1, 4);
    tr.ckpt_every = 2;
    zp_mem_stage(&m, &tr, &one, &c, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_ACT], 48 * in + 48 * whole + sbh / t, "pp=1 every 2nd: 48 inputs + 48 whole blocks + masks");
}

/* ---------------------------------------------- ZeRO-3 and bucket buffers */

static void test_buffers(void)
{
    /* LLaMA-2 7B, dp = 8, tp = pp = 1, fp16 params and grads */
    zp_model m = llama(32, 4096, 32, 32, 11008, 32000);
    uint64_t layer = 4 * 4096ull * 4096 + 3 * 4096ull * 11008 + 2 * 4096; /* > embedding 32000 x 4096 */
    uint64_t logits = 4ull * 2048 * 1 * 32000;
    zp_train tr = train(ZP_DT_FP16, ZP_DT_FP16, 1, 2048);
    tr.flash = 1;
    zp_cluster c = cluster(8, 8);
    zp_conv cv = conv0();
    zp_mem mem;
    zp_layout l = lay(8, 1, 1, 1, 3, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 4);
    /* DeepSpeed's estimator: 4 x largest layer (its fp16 params and grads
     * gathered), the module with the most parameters of its own
     * (model_to_params): the embedding or the untied head, 32000 x 4096,
     * not a block (the largest of whose modules, gate, up or down, is
     * 4096 x 11008) */
    cv.zero3_buffer = ZP_Z3BUF_DEEPSPEED;
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_BUF], 4 * 32000ull * 4096 + logits, "ZeRO-3 DeepSpeed buffer: 4 x the embedding + logits");
    {   /* a vocabulary of 1024: the MLP's matrices are the largest modules, 4 x 4096 x 11008 */
        zp_model sv = llama(32, 4096, 32, 32, 11008, 1024);
        zp_mem_stage(&sv, &tr, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_BUF], 4 * 4096ull * 11008 + 4ull * 2048 * 1024,
               "ZeRO-3 DeepSpeed buffer, vocabulary 1024: 4 x an MLP matrix + logits");
        /* fp32 gradients: DeepSpeed's estimate stays 4 bytes a parameter (its 16-bit gathered copies) */
        zp_train t32 = train(ZP_DT_FP16, ZP_DT_FP32, 1, 2048);
        t32.flash = 1;
        zp_mem_stage(&sv, &t32, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_BUF], 4 * 4096ull * 11008 + 4ull * 2048 * 1024,
               "ZeRO-3 DeepSpeed buffer with fp32 gradients: still 4 bytes a parameter of the largest module");
    }
    /* prefetch: at the block's backward the current and next blocks'
     * fp16 params + the block's fp16 grads = 6 x layer (1.21 GB); at the
     * loss (LLaMA is untied) the head's params and grads and the final
     * norm's, 4 (V h + h), the head inputs 2 x 2 sbh and the logits
     * (0.82 GB): the backward is the peak */
    cv.zero3_buffer = ZP_Z3BUF_PREFETCH;
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
    {
        uint64_t at_loss = 4 * (32000ull * 4096 + 4096) + 4 * 2048ull * 4096 + logits;
        hand_check(6 * layer > at_loss, "ZeRO-3 prefetch: 6 x layer > head params + grads + head inputs + logits");
        is_u64(mem.dev[ZP_MEM_BUF], 6 * layer, "ZeRO-3 prefetch buffer: (2 + 2 + 2) x largest layer");
        ok(mem.phase == ZP_PHASE_BACKWARD, "ZeRO-3 prefetch: peak in backward");
        /* a huge vocabulary moves the peak to the loss */
        zp_model big = llama(32, 4096, 32, 32, 11008, 256000);
        uint64_t blog = 4ull * 2048 * 256000, head = 256000ull * 4096 + 4096;
        zp_mem_stage(&big, &tr, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_BUF], blog + 4 * head, "ZeRO-3 prefetch, V = 256000: logits + head params + grads");
        ok(mem.phase == ZP_PHASE_LOSS, "ZeRO-3 prefetch, V = 256000: peak at the loss");
    }
    /* ZeRO-0..2 with dp > 1: one reduce bucket of min(bucket, Psi) gradients */
    cv.bucket_elems = 25 * 1024 * 1024 / 2;
    for (int z = 0; z <= 2; z++) {
        l.zero = z;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_BUF], 25 * MIB + logits, "ZeRO-%d: 25 MiB fp16 bucket + logits", z);
    }
}


/* The backward workspace and per-layer reduction (bucket_elems = 0):
 * buffers = fp32 logits + one block's activation gradients + the
 * transient full gradients (a block, and the tied embedding) at ZeRO-2. */
static void test_workspace(void)
{
    const uint64_t s = 64, b = 2, h = 64, a = 4, V = 256, T = 64;
    zp_model m = gpt(2, (int64_t)h, (int64_t)a, (int64_t)V, (int64_t)T);
    zp_train tr = train(ZP_DT_FP32, ZP_DT_FP32, 0, (int64_t)s);
    tr.dropout = 0;
    zp_cluster c = cluster(8, 8);
    zp_conv cv = conv0();
    cv.bucket_elems = 0;
    zp_layout l = lay(8, 1, 1, 1, 2, ZP_OFF_NONE, ZP_CKPT_NONE, 0, (int64_t)b, 2);
    zp_mem with, without;
    cv.bwd_workspace = 1;
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &with);
    cv.bwd_workspace = 0;
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &without);
    /* fp32 (4 bytes), t = 1, g = a, f = 4h: residual sbh + one sbh + QKV 3 sbh
     * + MLP 2 x 4 sbh = 13 sbh.  No flash: the frameworks' score gradients
     * (--score-grads all) come when the MLP's backward is over, its inner
     * saved tensors (fc1 and GELU outputs, 2 x 4 sbh) and gradients (2 x 4
     * sbh) freed: here E = b a s^2 = 32768 values (131072 bytes) is less
     * than those 16 sbh x 4 = 524288 bytes, and adds nothing */
    uint64_t ws = 4 * 13 * s * b * h;
    is_u64(with.dev[ZP_MEM_BUF] - without.dev[ZP_MEM_BUF], ws, "workspace: 4 x 13 sbh bytes = %llu (the scores' "
           "gradients within what the MLP's backward freed)", (unsigned long long)ws);
    {   /* zplan's engine (--score-grads head): its T x T scratch of one
         * head and sequence beside the rest, 4 (13 sbh + s^2) */
        zp_mem hw, hwo;
        zp_conv ch = cv;
        ch.score_grads = ZP_SGRAD_HEAD;
        ch.bwd_workspace = 1;
        zp_mem_stage(&m, &tr, &l, &c, &ch, 0, &hw);
        ch.bwd_workspace = 0;
        zp_mem_stage(&m, &tr, &l, &c, &ch, 0, &hwo);
        is_u64(hw.dev[ZP_MEM_BUF] - hwo.dev[ZP_MEM_BUF], 4 * (13 * s * b * h + s * s),
               "workspace, one head at a time (the engine): 4 (13 sbh + s^2)");
    }
    {   /* s = 1024, b = 1, one GPU, no dropout: E = a s^2 = 4194304 values,
         * 4 E = 16777216 bytes against the MLP's 4 x 4 s b f = 4194304: the
         * block's backward holds 12582912 more than the workspace, at the
         * backward only (the loss holds the workspace alone) */
        const uint64_t S = 1024;
        zp_model ml = gpt(2, (int64_t)h, (int64_t)a, (int64_t)V, (int64_t)S);
        zp_train tl = train(ZP_DT_FP32, ZP_DT_FP32, 0, (int64_t)S);
        tl.dropout = 0;
        zp_layout l1 = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        zp_conv ca = cv;
        zp_mem aw, awo, hw;
        ca.bwd_workspace = 1;
        zp_mem_stage(&ml, &tl, &l1, &c, &ca, 0, &aw);
        zp_conv ch = ca;
        ch.score_grads = ZP_SGRAD_HEAD;
        zp_mem_stage(&ml, &tl, &l1, &c, &ch, 0, &hw);
        ca.bwd_workspace = 0;
        zp_mem_stage(&ml, &tl, &l1, &c, &ca, 0, &awo);
        uint64_t sbh1 = S * h, extra = 4 * a * S * S - 4 * 4 * S * 4 * h;
        ok(aw.phase == ZP_PHASE_BACKWARD, "s = 1024 without flash: the peak is the block's backward");
        is_u64(aw.dev[ZP_MEM_BUF], 4 * 13 * sbh1 + extra,
               "s = 1024, at the block's backward: workspace 4 x 13 sbh + the scores' 4 a s^2 beyond the MLP's "
               "16 s f bytes (dp 1: no bucket; nothing rebuilt)");
        /* without them, and with the engine's one head, the peak is the
         * loss: the fp32 logits 4 s V and the workspace (+ 4 s^2) */
        ok(awo.phase == ZP_PHASE_LOSS && hw.phase == ZP_PHASE_LOSS, "s = 1024: the engine's and no workspace peak at the loss");
        is_u64(hw.dev[ZP_MEM_BUF], 4 * S * V + 4 * (13 * sbh1 + S * S),
               "s = 1024, the engine: logits + workspace with one head's s^2 at the loss");
    }
    cv.bwd_workspace = 0;   /* as the checks below expect */
    /* the rest, at the first block's backward: the block's full fp32
     * gradient and the tied embedding's, 4 (49984 + 20480) = 281856; at the
     * loss it would be head inputs 2 x 4 sbh + logits 4 s b V + embedding
     * and final-norm gradients 4 (20480 + 128) = 279040 */
    uint64_t layer = (uint64_t)gpt_layer((int64_t)h, 1), embed = (V + T) * h;
    hand_check(4 * (layer + embed) > 8 * s * b * h + 4 * s * b * V + 4 * (embed + 2 * h),
       "ZeRO-2 per-layer: the block's backward outweighs the loss (281856 > 279040)");
    is_u64(without.dev[ZP_MEM_BUF], 4 * (layer + embed),
           "ZeRO-2 per-layer: (block + tied embedding) fp32 gradients");
    ok(without.phase == ZP_PHASE_BACKWARD && with.phase == ZP_PHASE_BACKWARD, "ZeRO-2 per-layer: peak in backward");
    ok(with.dev[ZP_MEM_ACT] == without.dev[ZP_MEM_ACT] && with.dev[ZP_MEM_PARAMS] == without.dev[ZP_MEM_PARAMS],
       "the workspace is a buffer: no other class changes");
    /* flash attention: no s^2 scores */
    tr.flash = 1;
    cv.bwd_workspace = 1;
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &with);
    cv.bwd_workspace = 0;
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &without);
    is_u64(with.dev[ZP_MEM_BUF] - without.dev[ZP_MEM_BUF], 4 * 13 * s * b * h, "workspace with flash: 4 x 13 sbh");
    /* SwiGLU, GQA, tp = 2 with sequence parallelism, bf16:
     * 2 (sbh/2 + sbh + s b d_head (a + 2g)/2 + 3 s b f/2 + sbh), the last
     * the operand gathered whole (the output gradient, then a kept input) */
    zp_model q = llama(2, 1024, 8, 2, 2816, 1000);
    zp_train tq = train(ZP_DT_BF16, ZP_DT_BF16, 1, 256);
    tq.flash = 1;
    zp_layout lq = lay(4, 2, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 1, 1, 1);
    zp_cluster cq = cluster(8, 8);
    cv.bwd_workspace = 1;
    zp_mem_stage(&q, &tq, &lq, &cq, &cv, 0, &with);
    cv.bwd_workspace = 0;
    zp_mem_stage(&q, &tq, &lq, &cq, &cv, 0, &without);
    uint64_t sq = 256, hq = 1024, hdq = 128;
    uint64_t wq = 2 * (sq * hq / 2 + sq * hq + sq * hdq * (8 + 2 * 2) / 2 + 3 * sq * 2816 / 2 + sq * hq);
    /* the peak is the loss (one stage), where the working buffers are the
     * workspace and, with sp, the head's input gathered whole: 2 sbh */
    ok(with.phase == ZP_PHASE_LOSS, "SwiGLU GQA tp=2 sp bf16: the peak at the loss");
    is_u64(with.dev[ZP_MEM_BUF] - without.dev[ZP_MEM_BUF], wq + 2 * sq * hq,
           "workspace + gathered head input, SwiGLU GQA tp=2 sp bf16: %llu", (unsigned long long)(wq + 2 * sq * hq));
}

/* A backend computing in fp32 (zplan's CPU engine, compute_fp32): 16-bit
 * storage keeps its model-state bytes, while activations are 4 bytes and the
 * unit in use has fp32 working copies.  Same GPT as test_workspace
 * (L = 2, h = 64, a = 4, V = 256, T = s = 64, b = 2), per-layer reduction,
 * no workspace, no recompute, no dropout, no flash attention. */
static void test_compute_fp32(void)
{
    const uint64_t s = 64, b = 2, h = 64, a = 4, V = 256, T = 64, sbh = s * b * h;
    zp_model m = gpt(2, (int64_t)h, (int64_t)a, (int64_t)V, (int64_t)T);
    zp_cluster c = cluster(8, 8);
    zp_conv cv = conv0();
    cv.bucket_elems = 0;
    cv.bwd_workspace = 0;
    uint64_t layer = (uint64_t)gpt_layer((int64_t)h, 1), embed = (V + T) * h, P = 2 * layer + embed + 2 * h;
    /* one layer's activations at 4 bytes (Korthikanti, t = 1, no dropout):
     * LN inputs, QKV input, fc1 input 4 sbh, Q K V 3 sbh, projection input
     * sbh, fc1 and GELU outputs 8 sbh = 16 sbh, and the softmax a s^2 b */
    uint64_t act = 2 * 4 * (16 * sbh + a * s * s * b);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, 1, (int64_t)s);
    tr.dropout = 0;
    tr.compute_fp32 = 1;
    zp_layout l = lay(8, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, (int64_t)b, 1);
    zp_mem mem;
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_PARAMS], 2 * P, "bf16 computed in fp32: parameters still 2 bytes");
    is_u64(mem.dev[ZP_MEM_OPTIM], 12 * P, "bf16 computed in fp32: fp32 master + Adam 12 bytes");
    is_u64(mem.dev[ZP_MEM_ACT], act, "bf16 computed in fp32: activations at 4 bytes, 2 x 4 (16 sbh + a s^2 b)");
    /* at the first block's backward: the block's fp32 parameter copy, and
     * fp32 gradients of the block and of the tied embedding, 4 (2 layer +
     * embed) = 481792; the loss holds 4 (embed + 2h) twice + logits 4 s b V +
     * head inputs 8 sbh = 361472 */
    hand_check(4 * (2 * layer + embed) > 8 * (embed + 2 * h) + 4 * s * b * V + 8 * sbh, "the block's backward is the peak");
    is_u64(mem.dev[ZP_MEM_BUF], 4 * (2 * layer + embed), "ZeRO-0 bf16: fp32 block copy + block and embedding fp32 gradients");
    ok(mem.phase == ZP_PHASE_BACKWARD, "ZeRO-0 bf16 computed in fp32: peak in backward");
    tr.grad_dtype = ZP_DT_FP32;
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
    /* no fp32 gradient copies: the block's backward holds 4 layer = 199936,
     * the loss the head's and final norm's fp32 copies 4 (embed + 2h) +
     * logits 4 s b V + head inputs 8 sbh = 279040: the loss is the peak */
    hand_check(4 * layer < 4 * (embed + 2 * h) + 4 * s * b * V + 8 * sbh, "fp32 gradients: the loss outweighs the block");
    is_u64(mem.dev[ZP_MEM_BUF], 4 * (embed + 2 * h) + 4 * s * b * V,
           "bf16 parameters, fp32 gradients: at the loss the head's fp32 copy and the logits");
    ok(mem.phase == ZP_PHASE_LOSS && mem.dev[ZP_MEM_ACT] == act + 8 * sbh, "... with the head inputs, at the loss");
    is_u64(mem.dev[ZP_MEM_GRADS], 4 * P, "fp32 gradients: 4 bytes");
    tr.grad_dtype = ZP_DT_BF16;
    l.zero = 3;
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_BUF], 4 * (2 * layer + layer + embed),
           "ZeRO-3 bf16: current and prefetched blocks widened to fp32 + block and embedding fp32 gradients");
    is_u64(mem.dev[ZP_MEM_PARAMS], 2 * ceil_div(P, 8), "ZeRO-3 bf16: the 2-byte shard");
    /* fp32 storage: nothing to copy, the same as without the flag */
    zp_train t32 = train(ZP_DT_FP32, ZP_DT_FP32, 0, (int64_t)s);
    t32.dropout = 0;
    zp_mem plain;
    l.zero = 0;
    zp_mem_stage(&m, &t32, &l, &c, &cv, 0, &plain);
    t32.compute_fp32 = 1;
    zp_mem_stage(&m, &t32, &l, &c, &cv, 0, &mem);
    ok(memcmp(mem.dev, plain.dev, sizeof mem.dev) == 0 && mem.dev[ZP_MEM_BUF] == 4 * s * b * V &&
       mem.dev[ZP_MEM_ACT] == act + 8 * sbh, "fp32 storage: computing in fp32 changes nothing (logits only)");
    /* without the flag, 16-bit activations and no copies */
    tr.compute_fp32 = 0;
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
    ok(mem.dev[ZP_MEM_ACT] == act / 2 + 4 * sbh && mem.dev[ZP_MEM_BUF] == 4 * s * b * V,
       "bf16 on a 16-bit backend: 2-byte activations, no copies (at the loss: logits only)");
}

/* ------------------------------------------------------------- offload */

static void test_offload(void)
{
    /* GPT-2 small, fp16 + fp16 + Adam with master (K = 12), d = 8 */
    zp_model m = gpt(12, 768, 12, 50257, 1024);
    uint64_t psi = 124439808, d = 8, sh = ceil_div(psi, d);
    zp_train tr = train(ZP_DT_FP16, ZP_DT_FP16, 1, 1024);
    zp_conv cv = conv0();
    zp_cluster c = cluster(16, 8);
    struct {
        const char *name; int zero; zp_offload off;
        uint64_t dp_, dg, dopt, hp, hg, hopt;
    } cases[] = {
        /* DeepSpeed ZeRO-2 + optimizer offload: GPU 2 Psi; host 16 B/param/d
         * (fp32 master + m + v = 12, fp32 gradient partition 4) */
        {"ZeRO-2 + optimizer offload", 2, ZP_OFF_OPT, 2 * psi, 0, 0, 0, 4 * sh, 12 * sh},
        /* ZeRO-1: full fp16 grads on the device, the partition copied to the host in fp32 */
        {"ZeRO-1 + optimizer offload", 1, ZP_OFF_OPT, 2 * psi, 2 * psi, 0, 0, 4 * sh, 12 * sh},
        /* ZeRO-3 + optimizer offload: the fp16 parameter partition stays (DeepSpeed's 2 Psi/N) */
        {"ZeRO-3 + optimizer offload", 3, ZP_OFF_OPT, 2 * sh, 0, 0, 0, 4 * sh, 12 * sh},
        /* ZeRO-3 + optimizer and parameter offload: no model states on the device */
        {"ZeRO-3 + optimizer+params offload", 3, ZP_OFF_OPT_PARAMS, 0, 0, 0, 2 * sh, 4 * sh, 12 * sh},
        /* no offload: nothing on the host */
        {"ZeRO-2 no offload", 2, ZP_OFF_NONE, 2 * psi, 2 * sh, 12 * sh, 0, 0, 0},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_layout l = lay(8, 1, 1, 1, cases[i].zero, cases[i].off, ZP_CKPT_NONE, 0, 1, 4);
        zp_mem mem;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_PARAMS], cases[i].dp_, "%s: device params", cases[i].name);
        is_u64(mem.dev[ZP_MEM_GRADS], cases[i].dg, "%s: device grads", cases[i].name);
        is_u64(mem.dev[ZP_MEM_OPTIM], cases[i].dopt, "%s: device optimizer", cases[i].name);
        is_u64(mem.host[ZP_MEM_PARAMS], cases[i].hp, "%s: host params", cases[i].name);
        is_u64(mem.host[ZP_MEM_GRADS], cases[i].hg, "%s: host grads", cases[i].name);
        is_u64(mem.host[ZP_MEM_OPTIM], cases[i].hopt, "%s: host optimizer", cases[i].name);
        is_u64(mem.host_total, cases[i].hp + cases[i].hg + cases[i].hopt, "%s: host total", cases[i].name);
        /* host RAM per node: GPUs per node (8) x the rank's host bytes */
        is_u64(zp_mem_host_per_node(&c, &mem), 8 * mem.host_total, "%s: host per node = 8 ranks x host total",
               cases[i].name);
    }
    {
        zp_layout l = lay(8, 1, 1, 1, 2, ZP_OFF_OPT, ZP_CKPT_NONE, 0, 1, 4);
        zp_mem mem;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
        ok(mem.host_total == 16 * sh, "ZeRO-2 optimizer offload: host = 16 B x Psi/d = %llu",
           (unsigned long long)(16 * sh));
        zp_cluster c4 = cluster(4, 8); /* a job smaller than a node: 4 ranks on it */
        is_u64(zp_mem_host_per_node(&c4, &mem), 4 * mem.host_total, "4 GPUs on an 8-GPU node: 4 ranks x host");
    }
    /* the host optimizer's own copy of the partition */
    {
        zp_mem mem;
        zp_train t32 = train(ZP_DT_FP32, ZP_DT_FP32, 0, 1024);
        zp_layout l = lay(8, 1, 1, 1, 2, ZP_OFF_OPT, ZP_CKPT_NONE, 0, 1, 4);
        zp_mem_stage(&m, &t32, &l, &c, &cv, 0, &mem);
        /* fp32 storage: m, v (8) + an fp32 copy to update (4); the device keeps its 4 Psi */
        is_u64(mem.host[ZP_MEM_OPTIM], 12 * sh, "fp32 ZeRO-2 optimizer offload: host optimizer (8 + 4) x Psi/d");
        is_u64(mem.host[ZP_MEM_GRADS], 4 * sh, "fp32 ZeRO-2 optimizer offload: host fp32 gradient shard");
        is_u64(mem.dev[ZP_MEM_PARAMS], 4 * psi, "fp32 ZeRO-2 optimizer offload: device params 4 Psi");
        l = lay(8, 1, 1, 1, 3, ZP_OFF_OPT_PARAMS, ZP_CKPT_NONE, 0, 1, 4);
        zp_mem_stage(&m, &t32, &l, &c, &cv, 0, &mem);
        /* parameters offloaded in fp32 are that copy themselves */
        is_u64(mem.host[ZP_MEM_PARAMS] + mem.host[ZP_MEM_OPTIM], 4 * sh + 8 * sh,
               "fp32 ZeRO-3 optimizer+params offload: host params 4 + moments 8, no other copy");
        zp_train nm = train(ZP_DT_BF16, ZP_DT_BF16, 0, 1024);
        l = lay(8, 1, 1, 1, 1, ZP_OFF_OPT, ZP_CKPT_NONE, 0, 1, 4);
        zp_mem_stage(&m, &nm, &l, &c, &cv, 0, &mem);
        is_u64(mem.host[ZP_MEM_OPTIM], 10 * sh, "bf16 without master weights, optimizer offload: moments 8 + bf16 copy 2");
    }
}

/* ------------------------------------------------------------ overheads */

static void test_overhead(void)
{
    zp_model m = gpt(24, 1024, 16, 50304, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, 1024);
    zp_cluster c = cluster(64, 8);
    struct { const char *name; int64_t dp, tp, pp; int tied; uint64_t ncomm; } cases[] = {
        {"single GPU", 1, 1, 1, 1, 0},
        {"dp 8", 8, 1, 1, 1, 1},
        {"tp 8", 1, 8, 1, 1, 1},
        {"dp 2 tp 2 pp 2 tied: dp, tp, pp, embedding", 2, 2, 2, 1, 4},
        {"dp 2 tp 2 pp 2 untied: no embedding group", 2, 2, 2, 0, 3},
        {"pp 8 tied: pp + embedding", 1, 1, 8, 1, 2},
        {"dp 4 tp 4 untied", 4, 4, 1, 0, 2},
    };
    for (int i = 0; i < N_(cases); i++) {
        m.tied = cases[i].tied;
        zp_conv cv = conv0();
        cv.cuda_ctx_bytes = 400 * MIB;
        cv.nccl_comm_bytes = 1 * GIB;
        cv.bucket_elems = 1 << 20;
        zp_layout l = lay(cases[i].dp, cases[i].tp, cases[i].pp, 1, 1, ZP_OFF_NONE, ZP_CKPT_SELECTIVE,
                          cases[i].tp > 1, 1, 8);
        zp_mem mem;
        for (int fr = 0; fr <= 1; fr++) {
            cv.frag = fr ? 0.05 : 0.0;
            for (int64_t k = 0; k < cases[i].pp; k += cases[i].pp > 1 ? cases[i].pp - 1 : 1) {
                zp_mem_stage(&m, &tr, &l, &c, &cv, k, &mem);
                uint64_t rest = 0, tot = 0, htot = 0;
                for (int j = 0; j < ZP_MEM_OVERHEAD; j++)
                    rest += mem.dev[j];
                double fragb = cv.frag * (double)rest;
                uint64_t want = 400 * MIB + cases[i].ncomm * GIB + (uint64_t)fragb;
                /* the fragmentation term may round either way by a byte */
                uint64_t got = mem.dev[ZP_MEM_OVERHEAD];
                ok(got + 1 >= want && got <= want + 1,
                   "overhead %s stage %lld frag %.2f: ctx + %llu x nccl + frag x %llu = %llu (got %llu)",
                   cases[i].name, (long long)k, cv.frag, (unsigned long long)cases[i].ncomm,
                   (unsigned long long)rest, (unsigned long long)want, (unsigned long long)got);
                for (int j = 0; j < ZP_MEM_NCLASS; j++) {
                    tot += mem.dev[j];
                    htot += mem.host[j];
                }
                ok(mem.dev_total == tot && mem.host_total == htot, "%s stage %lld: totals are the sums of the classes",
                   cases[i].name, (long long)k);
            }
        }
    }
}

/* The allocator's rounding (alloc_granule_bytes: the CUDA row's 2 MiB
 * pages), counted by hand for a small GPT (L = 2, h = 64, V = 128, P = 32,
 * fp32, Adam): a block has 12 h^2 + 13 h = 49984 parameters, the
 * embedding (V + P) h = 10240, the final norm 2 h = 128; each
 * device-resident state tensor of a unit wastes the rest of its last 2 MiB
 * page, and each transient one (2 per layer in flight + 4) half a page. */
static void test_rounding(void)
{
    zp_model m = gpt(2, 64, 4, 128, 32);
    zp_train tr = train(ZP_DT_FP32, ZP_DT_FP32, 1, 32);
    zp_cluster c = cluster(2, 2);
    const uint64_t G = 2 * MIB;
    const uint64_t blk = 49984, emb = 10240, fin = 128;
    struct { const char *name; int64_t dp; int zero; zp_offload off; zp_ckpt ck; uint64_t want; } cases[] = {
        /* ZeRO-0, 1 rank: params, grads, m, v of each unit; 2 layers x 2 + 4 transients */
        {"dp 1 ZeRO-0", 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE,
         4 * (2 * (G - 4 * blk) + (G - 4 * emb) + (G - 4 * fin)) + (2 * 2 + 4) * (G / 2)},
        /* full recompute keeps one tensor per layer in flight */
        {"dp 1 ZeRO-0 full recompute", 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL,
         4 * (2 * (G - 4 * blk) + (G - 4 * emb) + (G - 4 * fin)) + (2 * 1 + 4) * (G / 2)},
        /* ZeRO-1 on 2 ranks with the optimizer offloaded: full params and
         * grads on the device (units padded to even: unchanged), m and v on
         * the host */
        {"dp 2 ZeRO-1 offload", 2, 1, ZP_OFF_OPT, ZP_CKPT_NONE,
         2 * (2 * (G - 4 * blk) + (G - 4 * emb) + (G - 4 * fin)) + (2 * 2 + 4) * (G / 2)},
        /* ZeRO-3 on 2 ranks: every state tensor a shard of n / 2 */
        {"dp 2 ZeRO-3", 2, 3, ZP_OFF_NONE, ZP_CKPT_NONE,
         4 * (2 * (G - 2 * blk) + (G - 2 * emb) + (G - 2 * fin)) + (2 * 2 + 4) * (G / 2)},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_conv cv = conv0();
        cv.alloc_granule_bytes = G;
        zp_layout l = lay(cases[i].dp, 1, 1, 1, cases[i].zero, cases[i].off, cases[i].ck, 0, 1, 1);
        zp_mem mem;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_OVERHEAD], cases[i].want, "rounding, %s: %llu bytes by hand", cases[i].name,
               (unsigned long long)cases[i].want);
    }
    /* foreach Adam, 32 tokens: the step is the peak (sqrt(v), 4 Psi, above
     * the few activations): a fifth fp32 tensor a unit, no layer in flight */
    {
        zp_conv cv = conv0();
        cv.alloc_granule_bytes = G;
        cv.adam_foreach = 1;
        zp_layout l = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        zp_mem mem;
        zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
        uint64_t want = 5 * (2 * (G - 4 * blk) + (G - 4 * emb) + (G - 4 * fin)) + 4 * (G / 2);
        ok(mem.phase == ZP_PHASE_STEP && mem.dev[ZP_MEM_OVERHEAD] == want,
           "rounding at foreach Adam's step: 5 state tensors a unit + 4 transients, %llu bytes by hand (got %llu)",
           (unsigned long long)want, (unsigned long long)mem.dev[ZP_MEM_OVERHEAD]);
    }
    /* with a cuBLAS workspace the overhead grows by it, and no granule means no rounding */
    zp_conv cv = conv0();
    cv.cublas_bytes = 8 * MIB;
    cv.cuda_ctx_bytes = 500 * MIB;
    zp_layout l = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
    zp_mem mem;
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_OVERHEAD], 508 * MIB, "context 500 MiB + cuBLAS 8 MiB, no granule: 508 MiB");
}

/* ---------------------------------------------------------- worst stage */

/* The worst stage and its bytes, derived by hand for every stage (the
 * test no longer accepts "the first or the last": it names the stage).
 * Conventions that leave every term known: bf16 parameters, fp32 grads,
 * Adam with master (2 + 4 + 12/d bytes a parameter, ZeRO-1 at d = 2),
 * flash attention, no dropout, no recompute, t = 1, b = 1, no backward
 * workspace, per-layer reduction (bucket 0: no reduce bucket), no
 * fragmentation; overhead = context 400 MiB + 512 MiB per communicator
 * (dp, pp and, tied, the embedding group).  Per stage k of p, with
 * P_k its parameters and n_k its layers in flight (1F1B: min(M, p - k)
 * micro-batches of L/p layers; interleaved: chunks of L/(p v)):
 *   total_k = 2 P_k + 4 P_k + 12 ceil(P_k / 2)          model states
 *           + n_k x layer activations                   (+ 4 sbh at the last: final-norm and head inputs)
 *           + 4 sbh (pp > 1: send and receive buffers)   (+ 4 s b V at the last: fp32 logits)
 *           + overhead
 * Layer activations, 16-bit, flash, no dropout, g = a (Korthikanti et
 * al. without masks and s^2 terms): GELU f = 4h: 32 sbh + 4 a s b;
 * SwiGLU: 16 sbh + 6 s b f + 4 a s b. */
/* Blocks per stage when pp does not divide the layers: floor(L/p) each,
 * the remainder one each on stages 1 .. p-2, then 0, then p-1. */
static void test_stage_layers(void)
{
    struct { int64_t L, p; int64_t want[16]; } cases[] = {
        {126, 16, {7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 7}},   /* Llama 3 405B (Dubey et al. 2024) */
        {70, 12, {5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5}},                /* BLOOM 176B on 12 stages */
        {7, 4, {2, 2, 2, 1}},                                          /* the middle full, then the first */
        {5, 2, {3, 2}},                                                /* no middle: the first */
        {24, 4, {6, 6, 6, 6}},                                         /* even */
    };
    for (int i = 0; i < N_(cases); i++) {
        int same = 1;
        int64_t sum = 0;
        for (int64_t k = 0; k < cases[i].p; k++) {
            same &= zp_stage_layers(cases[i].L, cases[i].p, k) == cases[i].want[k];
            sum += zp_stage_layers(cases[i].L, cases[i].p, k);
        }
        ok(same && sum == cases[i].L, "%lld layers on %lld stages: the blocks per stage by hand, %lld in all",
           (long long)cases[i].L, (long long)cases[i].p, (long long)sum);
    }
    /* every split adds up and differs by at most one block */
    int good = 1;
    for (int64_t L = 1; L <= 64; L++)
        for (int64_t p = 1; p <= L; p++) {
            int64_t sum = 0, lo = L, hi = 0;
            for (int64_t k = 0; k < p; k++) {
                int64_t n = zp_stage_layers(L, p, k);
                sum += n;
                lo = n < lo ? n : lo;
                hi = n > hi ? n : hi;
            }
            good &= sum == L && hi - lo <= 1 && lo >= 1;
        }
    ok(good, "L = 1..64, p = 1..L: the stages add up to L, at least one block each, at most one apart");
}

static void test_worst(void)
{
    zp_conv cv = conv0();
    cv.cuda_ctx_bytes = 400 * MIB;
    cv.nccl_comm_bytes = 512 * MIB;
    cv.frag = 0;
    cv.bucket_elems = 0;
    cv.bwd_workspace = 0;
    const uint64_t s = 512, h = 512, a = 8, sbh = s * h;
    const uint64_t gpt_block = 12 * h * h + 13 * h, gpt_act = 32 * sbh + 4 * a * s;
    const uint64_t f = 1376, llama_block = 4 * h * h + 3 * h * f + 2 * h, llama_act = 16 * sbh + 6 * s * f + 4 * a * s;
    struct {
        const char *name; zp_model m; int64_t p, v, M; uint64_t V, P[4], act_layer, ncomm; int64_t inflight[4];
        int64_t worst;
    } cases[] = {
        /* GPT L = 8, V = 2048, Pos = 1024, tied, p = 4, M = 8: stage 0 keeps
         * 4 micro-batches of 2 layers against the last stage's one + logits;
         * P_0 = 2 blocks + (V + Pos) h, P_3 = 2 blocks + 2h + V h */
        {"GPT 8L pp4 M8 V=2048: the first stage", gpt(8, 512, 8, 2048, 1024), 4, 1, 8, 2048,
         {2 * gpt_block + (2048 + 1024) * h, 2 * gpt_block, 2 * gpt_block, 2 * gpt_block + 2 * h + 2048 * h},
         gpt_act, 3, {8, 6, 4, 2}, 0},
        /* LLaMA-like L = 8, untied, V = 32000, p = 4, M = 1: one micro-batch
         * of 2 layers everywhere; the last stage's final norm (h), head
         * inputs and fp32 logits 4 s b V make it the largest:
         * P_0 = 2 blocks + V h, P_3 = 2 blocks + h + V h */
        {"LLaMA-like 8L pp4 M1 V=32000: the last stage", llama(8, 512, 8, 8, 1376, 32000), 4, 1, 1, 32000,
         {2 * llama_block + 32000 * h, 2 * llama_block, 2 * llama_block, 2 * llama_block + h + 32000 * h},
         llama_act, 2, {2, 2, 2, 2}, 3},
        /* the GPT, interleaved v = 2, M = 8: stage k keeps min(M v,
         * 2 (p - k - 1) + (v - 1) p + 1) = 11, 9, 7, 5 chunks of one layer */
        {"GPT 8L pp4 v2 M8: the first stage", gpt(8, 512, 8, 2048, 1024), 4, 2, 8, 2048,
         {2 * gpt_block + (2048 + 1024) * h, 2 * gpt_block, 2 * gpt_block, 2 * gpt_block + 2 * h + 2048 * h},
         gpt_act, 3, {11, 9, 7, 5}, 0},
        /* uneven stages: 10 layers on 4 stages are 2, 3, 3, 2 (the remainder
         * on the middle stages), M = 8: stage k keeps min(M, p - k) x its
         * layers = 8, 9, 6, 2 layers in flight, so the second stage, with a
         * block more than the first and not its embedding, is the largest */
        {"GPT 10L pp4 M8: uneven stages 2 3 3 2, the second", gpt(10, 512, 8, 2048, 1024), 4, 1, 8, 2048,
         {2 * gpt_block + (2048 + 1024) * h, 3 * gpt_block, 3 * gpt_block, 2 * gpt_block + 2 * h + 2048 * h},
         gpt_act, 3, {8, 9, 6, 2}, 1},
        /* no pipeline: the only stage, first and last: all parameters,
         * 8 layers of one micro-batch, head inputs and logits, no p2p;
         * dp the only communicator */
        {"GPT 8L no pipeline: stage 0", gpt(8, 512, 8, 2048, 1024), 1, 1, 4, 2048,
         {8 * gpt_block + (2048 + 1024) * h + 2 * h, 0, 0, 0}, gpt_act, 1, {8, 0, 0, 0}, 0},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
        tr.flash = 1;
        tr.dropout = 0;
        int64_t p = cases[i].p;
        zp_layout l = lay(2, 1, p, cases[i].v, 1, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, cases[i].M);
        zp_cluster c = cluster(2 * p, 8);
        uint64_t want[4] = {0}, overhead = 400 * MIB + cases[i].ncomm * 512 * MIB;
        int64_t hand_worst = 0;
        for (int64_t k = 0; k < p; k++) {
            uint64_t P = cases[i].P[k];
            want[k] = 6 * P + 12 * ceil_div(P, 2) + (uint64_t)cases[i].inflight[k] * cases[i].act_layer +
                      (p > 1 ? 4 * sbh : 0) + (k == p - 1 ? 4 * sbh + 4 * s * cases[i].V : 0) + overhead;
            if (want[k] > want[hand_worst])
                hand_worst = k;
            zp_mem st;
            zp_mem_stage(&cases[i].m, &tr, &l, &c, &cv, k, &st);
            is_u64(st.dev_total, want[k], "%s: stage %lld total by hand = %llu (mutation: the pipeline send and "
                   "receive buffers halved is caught)", cases[i].name, (long long)k, (unsigned long long)want[k]);
        }
        is_u64(hand_worst, cases[i].worst, "%s: the hand totals make stage %lld the largest (sanity of the table)",
               cases[i].name, (long long)cases[i].worst);
        zp_mem w;
        int64_t ws = zp_mem_worst(&cases[i].m, &tr, &l, &c, &cv, &w);
        is_u64(ws, cases[i].worst, "%s: worst stage is %lld (mutation: worst stage always 0 is caught; "
               "first and last compared the wrong way is caught)", cases[i].name, (long long)cases[i].worst);
        is_u64(w.dev_total, want[cases[i].worst], "%s: the worst stage's %llu bytes by hand", cases[i].name,
               (unsigned long long)want[cases[i].worst]);
    }
}

/* ---------------------------------------------------- context parallel */

/* Context parallelism: each of cp ranks keeps s / cp tokens of every
 * sequence.  Flash attention, no dropout, bf16 (B = 2), a LLaMA block
 * (RMSNorm, SwiGLU f, g KV heads of d = h / a): per layer the two norm
 * inputs and outputs 4 B sbh/r, Q, K, V B sb d (a + 2g)/t, the projection
 * input B sb a d/t, gate, up and product 3 B sbf/t, the softmax statistics
 * 4 a sb/t, with s the rank's s / cp.  The model states are sharded over
 * dp x cp (ZeRO-1: the optimizer's 12 bytes a parameter / (dp cp)), and
 * the last stage's fp32 logits are 4 (s / cp) b V / t. */
static void test_cp(void)
{
    const uint64_t S = 32768, h = 4096, a = 32, g = 8, f = 14336, V = 128256, d = h / a, B = 2;
    zp_model m = llama(32, (int64_t)h, (int64_t)a, (int64_t)g, (int64_t)f, (int64_t)V);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, 1, (int64_t)S);
    tr.flash = 1;
    tr.dropout = 0;
    static const struct { uint64_t cp, t; int sp; } cases[] = {{1, 1, 0}, {2, 1, 0}, {4, 2, 1}, {8, 8, 1}};
    for (int i = 0; i < N_(cases); i++) {
        uint64_t cp = cases[i].cp, t = cases[i].t, r = cases[i].sp ? t : 1, s = S / cp, b = 1, sb = s * b;
        zp_layout l = lay(2, (int64_t)t, 1, 1, 1, ZP_OFF_NONE, ZP_CKPT_NONE, cases[i].sp, 1, 4);
        l.cp = (int64_t)cp;
        uint64_t want = 4 * B * sb * h / r + B * sb * d * (a + 2 * g) / t + B * sb * a * d / t + 3 * B * sb * f / t +
                        4 * a * sb / t;
        is_u64(zp_act_layer_bytes(&m, &tr, &l), want,
               "LLaMA-8B layer, s=32768 cp=%llu t=%llu sp=%d: every term of s/cp = %llu tokens",
               (unsigned long long)cp, (unsigned long long)t, cases[i].sp, (unsigned long long)s);
        zp_layout f1 = l;
        f1.ckpt = ZP_CKPT_FULL;
        is_u64(zp_act_layer_bytes(&m, &tr, &f1), B * sb * h / r, "full recompute cp=%llu: the input, B (s/cp) b h / r",
               (unsigned long long)cp);
        zp_mem mem;
        zp_conv cv = conv0();
        zp_cluster cl = cluster((int64_t)(2 * t * cp), 8);
        zp_mem_stage(&m, &tr, &l, &cl, &cv, 0, &mem);
        uint64_t P = (uint64_t)zp_model_layer_params(&m, (int64_t)t) * 32 + (uint64_t)zp_model_embed_params(&m, (int64_t)t) +
                     (uint64_t)zp_model_final_norm_params(&m) + (uint64_t)zp_model_head_params(&m, (int64_t)t);
        is_u64(mem.dev[ZP_MEM_OPTIM], ceil_div(P, 2 * cp) * 12,
               "ZeRO-1 dp=2 cp=%llu t=%llu: optimizer 12 bytes x P / (dp cp) = %llu", (unsigned long long)cp,
               (unsigned long long)t, (unsigned long long)(ceil_div(P, 2 * cp) * 12));
        is_u64(mem.dev[ZP_MEM_PARAMS], P * 2, "ZeRO-1 cp=%llu: the parameters stay whole (2P)", (unsigned long long)cp);
    }
    /* the ring's buffers: a block's attention backward holds the whole
     * sequence's keys and values, gathered again, and their gradients,
     * 2 B S b g d / t bytes each.  Everything else of a rank at cp and
     * sequence S is what a rank at cp = 1 and sequence S / cp holds (the
     * same tokens, flash attention: no score spans the sequence), so the
     * first stage of two (its peak a backward, no loss) differs by exactly
     * 4 B S b g d / t: 256 MiB at S = 32768, t = 1, b = 1; 128 MiB at t = 2.
     * Under full recompute the rebuilt block's output is freed by its
     * backward (B (S/cp) b h less), and its forward held the keys and values
     * with two parts in flight beside it (2 B S b g d (1 + 2/cp) / t): at
     * cp 8 the backward is larger, 4 B S b g d - B (S/8) b h; at cp 2 the
     * forward, whose ring equals the backward's, 4 B S b g d, with the
     * output beside it; at cp 4 and t = 2 the output (B (S/4) b h, h = 4 g
     * d) is 2 parts and the forward strictly larger, 3 B S b g d / t.
     * With every 3rd block rebuilt (--ckpt-every 3) the stage's 16th block
     * is kept, no rebuild is in the backward's moment: the backward's ring,
     * 4 B S b g d, at cp 4 too */
    static const struct { uint64_t cp, t; zp_ckpt k; int every; } ring[] = {
        {2, 1, ZP_CKPT_NONE, 0}, {4, 1, ZP_CKPT_NONE, 0}, {2, 2, ZP_CKPT_NONE, 0}, {8, 1, ZP_CKPT_FULL, 0},
        {2, 1, ZP_CKPT_FULL, 0}, {4, 2, ZP_CKPT_FULL, 0}, {4, 1, ZP_CKPT_FULL, 3}};
    for (int i = 0; i < N_(ring); i++) {
        uint64_t cp = ring[i].cp, t = ring[i].t;
        zp_layout l = lay(1, (int64_t)t, 2, 1, 0, ZP_OFF_NONE, ring[i].k, 0, 1, 4);   /* (ZeRO-0: no shards) */
        l.cp = (int64_t)cp;
        zp_layout l1 = l;
        l1.cp = 1;
        zp_train tr0 = tr;
        tr0.ckpt_every = ring[i].every;
        zp_train tr1 = tr0;
        tr1.seq = (int64_t)(S / cp);
        zp_conv cv = conv0();
        zp_cluster cl = cluster((int64_t)(2 * t * cp), 8);
        zp_mem with, without;
        zp_mem_stage(&m, &tr0, &l, &cl, &cv, 0, &with);
        zp_mem_stage(&m, &tr1, &l1, &cl, &cv, 0, &without);
        int full = ring[i].k == ZP_CKPT_FULL && !ring[i].every;
        uint64_t want = full && cp == 8   ? 4 * B * S * g * d / t - B * (S / cp) * h
                        : full && cp == 4 ? 3 * B * S * g * d / t
                                          : 4 * B * S * g * d / t;
        ok(with.phase == ZP_PHASE_BACKWARD && without.phase == ZP_PHASE_BACKWARD,
           "cp=%llu t=%llu %s, first of 2 stages: both peaks a block's backward", (unsigned long long)cp,
           (unsigned long long)t, zp_ckpt_names[ring[i].k]);
        is_u64(with.dev[ZP_MEM_BUF] - without.dev[ZP_MEM_BUF], want,
               "cp=%llu t=%llu %s%s, S=32768: the ring's keys, values and their gradients, %llu bytes beyond a rank "
               "at cp 1 and S/cp", (unsigned long long)cp, (unsigned long long)t, zp_ckpt_names[ring[i].k],
               ring[i].every ? " every 3rd" : "", (unsigned long long)want);
        is_u64(with.dev_total - without.dev_total, want, "cp=%llu t=%llu: and nothing else (%llu, %llu, %llu, %llu "
               "bytes of params, grads, optimizer, activations against %llu, %llu, %llu, %llu)", (unsigned long long)cp,
               (unsigned long long)t, (unsigned long long)with.dev[ZP_MEM_PARAMS],
               (unsigned long long)with.dev[ZP_MEM_GRADS], (unsigned long long)with.dev[ZP_MEM_OPTIM],
               (unsigned long long)with.dev[ZP_MEM_ACT], (unsigned long long)without.dev[ZP_MEM_PARAMS],
               (unsigned long long)without.dev[ZP_MEM_GRADS], (unsigned long long)without.dev[ZP_MEM_OPTIM],
               (unsigned long long)without.dev[ZP_MEM_ACT]);
    }
}

/* Per-op checkpointing (--ckpt op, torchtitan's policy): bf16, flash, no
 * dropout.  A LLaMA block (q k v o gate up down) keeps its input B sbh/r,
 * the attention output B sb a d/t and log-sum-exp 4 a sb/t, q and v
 * B sb d (a + g)/t, the gate B sb f/t and down's output B sbh; a GPT block
 * (qkv o fc1 fc2) its input, the attention output and lse, QKV
 * B sb d (a + 2g)/t and fc1 B sb f/t.  Its recompute working set is the
 * rest of the layer: none's bytes minus those. */
static void test_ckpt_op(void)
{
    const uint64_t s = 8192, b = 2, h = 4096, a = 32, g = 8, f = 14336, B = 2, d = h / a, sb = s * b, sbh = sb * h;
    zp_model m = llama(32, (int64_t)h, (int64_t)a, (int64_t)g, (int64_t)f, 128256);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
    tr.flash = 1;
    tr.dropout = 0;
    zp_layout l = lay(8, 1, 1, 1, 3, ZP_OFF_NONE, ZP_CKPT_OP, 0, (int64_t)b, 1);
    uint64_t keep = B * sbh + B * sb * d * a + 4 * a * sb + B * sb * d * (a + g) + B * sb * f + B * sbh;
    is_u64(zp_act_layer_bytes(&m, &tr, &l), keep,
           "op, Llama-3-8B s=8192 b=2: input, attention out + lse, q, v, gate, down out = %llu bytes",
           (unsigned long long)keep);
    zp_layout none = l;
    none.ckpt = ZP_CKPT_NONE;
    uint64_t all = 4 * B * sbh + B * sb * d * (a + 2 * g) + B * sb * d * a + 3 * B * sb * f + 4 * a * sb;
    is_u64(zp_act_layer_bytes(&m, &tr, &none), all, "none, the same block: %llu bytes (the LLaMA terms)",
           (unsigned long long)all);
    hand_check(keep * 100 < all * 50, "op keeps under half of none's bytes (%.1f %%)", 100.0 * (double)keep / (double)all);
    zp_mem mo, mn;
    zp_conv cv = conv0();
    cv.bwd_workspace = 0;
    zp_cluster c = cluster(8, 8);
    zp_mem_stage(&m, &tr, &l, &c, &cv, 0, &mo);
    zp_mem_stage(&m, &tr, &none, &c, &cv, 0, &mn);
    /* at the loss (one stage: the last) the final norm's and head's inputs too, 2 B sbh */
    is_u64(mo.dev[ZP_MEM_ACT], 32 * keep + (mo.phase == ZP_PHASE_LOSS ? 2 * B * sbh : 0),
           "op: 32 layers' kept bytes (and at the loss the head's two inputs) are the activations at the peak");
    ok(mo.dev_total < mn.dev_total, "op: the device total is below none's (%.1f vs %.1f GiB)",
       (double)mo.dev_total / (double)GIB, (double)mn.dev_total / (double)GIB);
    /* a GPT block: QKV and fc1 kept */
    zp_model gm = gpt(24, 2048, 16, 50257, 2048);
    uint64_t H = 2048, A = 16, F = 4 * H, D = H / A;
    uint64_t gk = B * sb * H + B * sb * D * A + 4 * A * sb + B * sb * D * (3 * A) + B * sb * F;
    zp_layout gl = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_OP, 0, (int64_t)b, 1);
    is_u64(zp_act_layer_bytes(&gm, &tr, &gl), gk, "op, GPT block: input, attention out + lse, QKV, fc1 = %llu bytes",
           (unsigned long long)gk);
}

/* ZeRO-3 with pipeline parallelism, FSDP's with pipelining (torchtitan):
 * the stage's parameters and gradients are sharded at rest (params and
 * grads ceil(P/d) x their bytes, the optimizer ceil(P/d) x 12) and whole
 * through the step: buffers hold P x (2 + 4) bytes more than ZeRO-1's
 * (bf16 parameters, fp32 gradients), everything else alike. */
static void test_fsdp_pp(void)
{
    zp_model m = gpt(24, 2048, 16, 50257, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, 2048);
    zp_conv cv = conv0();
    zp_cluster c = cluster(8, 8);
    zp_layout l3 = lay(4, 1, 2, 1, 3, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, 8), l1 = l3;
    l1.zero = 1;
    zp_mem m3, m1;
    zp_mem_stage(&m, &tr, &l3, &c, &cv, 0, &m3);
    zp_mem_stage(&m, &tr, &l1, &c, &cv, 0, &m1);
    uint64_t P = (uint64_t)(12 * gpt_layer(2048, 1)) + (uint64_t)zp_model_embed_params(&m, 1), Ps = ceil_div(P, 4);
    is_u64(m3.dev[ZP_MEM_PARAMS], Ps * 2, "FSDP + PP: parameters sharded, ceil(P/4) x 2 bytes");
    is_u64(m3.dev[ZP_MEM_GRADS], Ps * 4, "FSDP + PP: fp32 gradients sharded, ceil(P/4) x 4 bytes");
    is_u64(m3.dev[ZP_MEM_OPTIM], Ps * 12, "FSDP + PP: optimizer ceil(P/4) x 12 bytes");
    is_u64(m3.dev[ZP_MEM_BUF] - m1.dev[ZP_MEM_BUF], P * 6,
           "FSDP + PP: buffers P x (2 + 4) more than ZeRO-1's (the stage whole through the step)");
    is_u64(m3.dev[ZP_MEM_ACT], m1.dev[ZP_MEM_ACT], "FSDP + PP: the same activations as ZeRO-1");
}

/* DeepSpeed's bf16 optimizer (lp_grads, --framework deepspeed): with bf16
 * parameters and fp32 accumulated gradients each parameter keeps its bf16
 * gradient beside the fp32 one (runtime/bf16_optimizer.py adds it in after
 * every micro-batch and zeroes it in place), so grads are Psi (4 + 2) at
 * ZeRO 0 and 1; nothing changes at ZeRO 2 (partitioned reduction), with
 * 16-bit gradients (nothing wider to add into) or with the flag off.
 * Psi of the 7.46B shape above, d = 8. */
static void test_lp_grads(void)
{
    int64_t L = 36, h = 4096, V = 50304, P = 2048;
    zp_model m = gpt(L, h, 32, V, P);
    uint64_t psi = (uint64_t)(L * (12 * h * h + 13 * h) + (V + P) * h + 2 * h);
    zp_cluster c = cluster(8, 8);
    zp_conv cv = conv0();
    cv.lp_grads = 1;
    zp_train wide = train(ZP_DT_BF16, ZP_DT_FP32, 1, 2048), narrow = train(ZP_DT_BF16, ZP_DT_BF16, 1, 2048);
    zp_mem mem;
    for (int z = 0; z <= 2; z++) {
        zp_layout l = lay(8, 1, 1, 1, z, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        zp_mem_stage(&m, &wide, &l, &c, &cv, 0, &mem);
        uint64_t want = z < 2 ? psi * (4 + 2) : (uint64_t)zp_ceil_div((int64_t)psi, 8) * 4;
        is_u64(mem.dev[ZP_MEM_GRADS], want, "lp_grads, bf16 with fp32 gradients, ZeRO-%d: grads %s = %llu", z,
               z < 2 ? "Psi (4 + 2)" : "Psi/8 x 4 (ZeRO-2: unchanged)", (unsigned long long)want);
    }
    zp_layout l1 = lay(8, 1, 1, 1, 1, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
    zp_mem_stage(&m, &narrow, &l1, &c, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_GRADS], psi * 2, "lp_grads with bf16 gradients: nothing wider, grads Psi x 2");
    /* where DeepSpeed takes another optimizer: fp16 with fp32 gradients
     * (its ZeRO optimizer), and optimizer offload */
    zp_train fp16w = train(ZP_DT_FP16, ZP_DT_FP32, 1, 2048);
    zp_mem_stage(&m, &fp16w, &l1, &c, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_GRADS], psi * 4, "lp_grads with fp16 and fp32 gradients (DeepSpeed's ZeRO optimizer): Psi x 4");
    zp_layout lo = lay(8, 1, 1, 1, 1, ZP_OFF_OPT, ZP_CKPT_NONE, 0, 1, 1);
    zp_mem_stage(&m, &wide, &lo, &c, &cv, 0, &mem);
    uint64_t with_off = mem.dev[ZP_MEM_GRADS];
    cv.lp_grads = 0;
    zp_mem_stage(&m, &wide, &lo, &c, &cv, 0, &mem);
    is_u64(with_off, mem.dev[ZP_MEM_GRADS], "lp_grads with optimizer offload: as without (%llu bytes)",
           (unsigned long long)with_off);
    zp_mem_stage(&m, &wide, &l1, &c, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_GRADS], psi * 4, "lp_grads off (Megatron's main_grad): grads Psi x 4");
}

/* PyTorch eager with Hugging Face transformers' modules (cv.eager,
 * --framework torch): what autograd keeps, op by op, derived here per token
 * and layer from the modules' code (GPT2Attention/Conv1D/NewGELUActivation,
 * LlamaRMSNorm/LlamaAttention/LlamaMLP) and the ops' saved tensors
 * (tests/eager.sh holds the same against PyTorch itself on CPU).  Autocast:
 * the stream fp32 (4 bytes), each product's 16-bit inputs its own copies. */
static void test_eager(void)
{
    zp_conv cv = conv0();
    cv.eager = cv.ce_unfused = 1;   /* --framework torch */
    zp_cluster c = cluster(1, 1);
    zp_mem mem;
    /* GPT-2 small, micro-batch 4 x 1024 */
    int64_t L = 12, h = 768, a = 12, V = 50257, s = 1024, b = 4, n = s * b, f = 4 * h;
    zp_model g2 = gpt(L, h, a, V, 1024);
    zp_train ac = train(ZP_DT_BF16, ZP_DT_BF16, 1, s), f32 = train(ZP_DT_FP32, ZP_DT_FP32, 1, s);
    ac.dropout = f32.dropout = 0;
    ac.flash = 1;
    zp_layout l1 = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, b, 1);
    /* autocast, SDPA: each LayerNorm its fp32 input and mean, rstd; c_attn's
     * bf16 copy of its input, its output (q, k, v); SDPA's output (c_proj's
     * input) and fp32 log-sum-exp; c_fc's copy of its input; gelu_new: pow's
     * fp32 copy of x, tanh's output, the fp32 factor (1 + tanh) and the bf16
     * 0.5 x that the last product keeps, c_proj's bf16 copy of the result */
    uint64_t ln = 4 * h + 4 + 4, want = (uint64_t)n * (2 * ln + 2 * h + 2 * 3 * h + 2 * h + 4 * a + 2 * h +
                                                         (4 + 4 + 4 + 2 + 2) * f);
    is_u64(zp_eager_layer_bytes(&g2, &ac, &l1), want, "eager GPT-2, autocast, SDPA: %llu bytes a layer",
           (unsigned long long)want);
    /* eager attention instead: the softmax's fp32 output and its bf16 copy
     * (a s s per sequence), the heads merged for c_proj (2 h) */
    ac.flash = 0;
    uint64_t eager_attn = want - (uint64_t)n * (2 * h + 4 * a) + (uint64_t)b * a * s * s * (4 + 2) + (uint64_t)n * 2 * h;
    is_u64(zp_eager_layer_bytes(&g2, &ac, &l1), eager_attn, "eager GPT-2, autocast, eager attention: + 6 a s^2 b");
    /* fp32: no copies, the LayerNorms' outputs saved by their products;
     * scores once (4 a s^2 b); gelu_new keeps x, tanh, the factor, 0.5 x and
     * the result, 4 bytes each */
    uint64_t w32 = (uint64_t)n * (2 * ln + 4 * h + 4 * 3 * h + 4 * h + 4 * h + 5 * 4 * f) + (uint64_t)b * a * s * s * 4;
    is_u64(zp_eager_layer_bytes(&g2, &f32, &l1), w32, "eager GPT-2, fp32, eager attention: %llu bytes a layer",
           (unsigned long long)w32);
    zp_layout lf = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, b, 1);
    is_u64(zp_eager_layer_bytes(&g2, &ac, &lf), (uint64_t)n * h * 4, "eager, full recompute: the fp32 layer input");

    /* the whole rank at one micro-batch on one GPU, autocast SDPA: fp32
     * parameters (4 Psi) and their bf16 copies for every product and the
     * head (2 (L 12 h^2 + V h)), no gradients yet at the loss's backward,
     * Adam 8 Psi; the activations and the final norm's and head's saved
     * inputs; three fp32 b s V tensors (log-softmax, its gradient, the
     * logits' gradient) */
    ac.flash = 1;
    uint64_t psi = (uint64_t)(L * gpt_layer(h, 1) + (V + 1024) * h + 2 * h);
    zp_mem_stage(&g2, &ac, &l1, &c, &cv, 0, &mem);
    is_u64((uint64_t)mem.phase, ZP_PHASE_LOSS, "eager GPT-2 one GPU: the peak is the loss's backward");
    is_u64(mem.dev[ZP_MEM_PARAMS], psi * 4 + 2 * (uint64_t)(L * 12 * h * h + V * h),
           "eager autocast: params 4 Psi + the products' bf16 weight copies");
    is_u64(mem.dev[ZP_MEM_GRADS], 0, "eager, one micro-batch, one GPU: no gradients at the loss (set_to_none)");
    is_u64(mem.dev[ZP_MEM_OPTIM], psi * 8, "eager autocast: Adam's 8 Psi, no master copy");
    is_u64(mem.dev[ZP_MEM_ACT], (uint64_t)L * want + (uint64_t)n * (ln + 2 * h),
           "eager: the layers' and the final norm's and head's saved tensors");
    is_u64(mem.dev[ZP_MEM_BUF], 12 * (uint64_t)n * V, "eager: the loss's three fp32 b s V tensors");
    {   /* PyTorch's cuBLAS workspaces (CublasHandlePool.cpp): ":4096:8" on
         * compute capability 9.x, 10.x and 12.x, 4096 KiB x 8 = 33,554,432
         * bytes; else ":4096:2:16:8", (4096 x 2 + 16 x 8) KiB = 8,519,680;
         * no capability given (a CPU profile): none; a step holds two (the
         * forward's thread and autograd's), in the buffers at every moment,
         * whatever the accounting (every framework runs on PyTorch) */
        static const struct {
            double cc;
            uint64_t ws;
        } wc[] = {{9.0, 33554432}, {10.0, 33554432}, {12.0, 33554432}, {8.0, 8519680}, {8.9, 8519680},
                  {11.0, 8519680}, {7.0, 8519680}, {0.0, 0}};
        for (size_t i = 0; i < sizeof wc / sizeof wc[0]; i++)
            is_u64(zp_torch_blas_ws(wc[i].cc), wc[i].ws, "PyTorch's cuBLAS workspace at compute capability %.1f",
                   wc[i].cc);
        zp_conv cw = cv;
        cw.torch_blas_ws_bytes = zp_torch_blas_ws(9.0);
        zp_mem mw;
        zp_mem_stage(&g2, &ac, &l1, &c, &cw, 0, &mw);
        is_u64(mw.dev[ZP_MEM_BUF], 12 * (uint64_t)n * V + 2 * 33554432ULL,
               "eager on an H200: the loss's tensors and two 32 MiB cuBLAS workspaces");
        is_u64((uint64_t)mw.phase, (uint64_t)mem.phase, "the workspaces move no peak: every moment has them");
        cw.eager = 0;
        zp_mem mn, mn0;
        zp_mem_stage(&g2, &ac, &l1, &c, &cw, 0, &mn);
        cw.torch_blas_ws_bytes = 0;
        zp_mem_stage(&g2, &ac, &l1, &c, &cw, 0, &mn0);
        is_u64(mn.dev[ZP_MEM_BUF] - mn0.dev[ZP_MEM_BUF], 2 * 33554432ULL,
               "zplan's own accounting with them set (a framework on PyTorch): the same two workspaces");
        is_u64(mn.dev_total - mn0.dev_total, 2 * 33554432ULL, "and the total by as much (no fragmentation here)");
    }
    /* a fused (compiled) loss instead: the fp32 logits alone; and without
     * eager, zplan's own: the fp32 logits, or with an uncompiled PyTorch
     * cross_entropy (torchtitan's in 2024) the same three tensors */
    cv.ce_unfused = 0;
    zp_mem_stage(&g2, &ac, &l1, &c, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_BUF], 4 * (uint64_t)n * V, "eager, fused loss (--no-ce-unfused): the fp32 logits, 4 b s V");
    cv.ce_unfused = 1;
    {   /* eager attention on long sequences, autocast: the step's first
         * attention backward, the last block's softmax's, outweighs the
         * loss's.  By then the loss's three b s V tensors, the head's saved
         * inputs and the block's backward down to its values product are
         * gone: its second LayerNorm (ln), c_fc's input copy (2 h), gelu_new's
         * tensors (16 f), c_proj's input (the heads merged, 2 h) and the
         * probabilities' bf16 copy (2 S, S = a s s b); at b = 1 the values
         * are a view of the QKV output, which q and k keep.  Beside the rest:
         * the gradient the softmax receives and the one it makes, fp32 (8 S),
         * the values' (2 h a token) and the residual stream's (4 h); the
         * gradients of the head (the word embedding's part: V h; the position
         * table's comes with the embedding's backward), the final norm (2 h)
         * and the block's projection, MLP and second norm (9 h^2 + 8 h),
         * fp32; every weight copy but the head's and the block's projection
         * and MLP's (h^2 + 8 h^2) */
        int64_t sl = 4096, Vl = 1000, nl = sl;
        cv.bwd_workspace = 1;   /* (zplan's default: the activations' gradients counted) */
        zp_model gl = gpt(L, h, a, Vl, sl);
        zp_train al = ac;
        al.seq = sl, al.flash = 0;
        zp_layout lb = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        uint64_t S = (uint64_t)a * sl * sl;
        uint64_t layer = (uint64_t)nl * (2 * ln + 2 * h + 2 * 3 * h + 2 * h + 2 * h + 16 * f) + 6 * S;
        is_u64(zp_eager_layer_bytes(&gl, &al, &lb), layer, "eager GPT-2, autocast, eager attention, 1 x 4096 tokens: "
               "%llu bytes a layer", (unsigned long long)layer);
        uint64_t freed = (uint64_t)nl * (ln + 2 * h + 16 * f + 2 * h) + 2 * S;
        uint64_t psil = (uint64_t)(L * gpt_layer(h, 1) + (Vl + sl) * h + 2 * h);
        zp_mem_stage(&gl, &al, &lb, &c, &cv, 0, &mem);
        is_u64((uint64_t)mem.phase, ZP_PHASE_ATTN, "eager attention, 4096 tokens, 1000 words: the peak is the last "
               "block's attention backward");
        is_u64(mem.dev[ZP_MEM_ACT], (uint64_t)L * layer - freed, "... every block's saved tensors but what the last "
               "block's backward has freed");
        is_u64(mem.dev[ZP_MEM_BUF], 8 * S + (uint64_t)nl * (2 * h + 4 * h), "... the softmax's two fp32 gradients, "
               "the values' and the residual stream's");
        is_u64(mem.dev[ZP_MEM_GRADS], 4 * (uint64_t)(Vl * h + 2 * h + 9 * h * h + 8 * h), "... the fp32 gradients of "
               "the head, the final norm and the block's projection, MLP and second norm");
        is_u64(mem.dev[ZP_MEM_PARAMS], psil * 4 + 2 * (uint64_t)(L * 12 * h * h - 9 * h * h), "... fp32 parameters and "
               "the weight copies of every product but the head's and the last block's projection and MLP");
        /* two micro-batches accumulated: at the second's moment every
         * gradient is there (4 Psi), and the tied head's new one (V h, fp32)
         * waits in autograd's buffer for the embedding's; the rest as above */
        zp_layout lb2 = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 2);
        zp_mem m2;
        zp_mem_stage(&gl, &al, &lb2, &c, &cv, 0, &m2);
        is_u64((uint64_t)m2.phase, ZP_PHASE_ATTN, "... two micro-batches: the same moment");
        is_u64(m2.dev[ZP_MEM_GRADS], psil * 4 + 4 * (uint64_t)(Vl * h), "... every fp32 gradient and the head's new one");
        is_u64(m2.dev[ZP_MEM_ACT], mem.dev[ZP_MEM_ACT], "... the same activations");
        /* every block rebuilt (transformers' gradient checkpointing), two
         * micro-batches, 128 tokens, SDPA: autocast's cache holds every
         * weight's copy through the forward, the loss's too, but no rebuilt
         * block saves one; the loss's forward holds 10 b s V (the bf16
         * logits, their fp32 copy, the log-softmax) beside all the copies
         * (2 (12 L h^2 + V h)), its backward 12 b s V beside the head's copy
         * alone: the forward's is the peak, with the fp32 gradients of the
         * first micro-batch (4 Psi), every block's input (4 h a token), the
         * final norm's saved tensors and the head input's copy */
        zp_train as = ac;
        as.seq = 128, as.flash = 1;
        zp_layout lc = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, 2);
        zp_mem mc;
        zp_mem_stage(&gl, &as, &lc, &c, &cv, 0, &mc);
        uint64_t n128 = 128, psi128 = (uint64_t)(L * gpt_layer(h, 1) + (Vl + sl) * h + 2 * h);
        is_u64((uint64_t)mc.phase, ZP_PHASE_LOSS, "full recompute, 2 micro-batches of 128 tokens: the loss's moment");
        is_u64(mc.dev[ZP_MEM_BUF], 10 * n128 * (uint64_t)Vl, "... its forward's: 10 b s V in buffers");
        is_u64(mc.dev[ZP_MEM_PARAMS], psi128 * 4 + 2 * (uint64_t)(L * 12 * h * h + Vl * h),
               "... every weight copy in autocast's cache");
        is_u64(mc.dev[ZP_MEM_GRADS], psi128 * 4, "... the first micro-batch's gradients");
        is_u64(mc.dev[ZP_MEM_ACT], (uint64_t)L * n128 * 4 * h + n128 * (ln + 2 * h),
               "... every block's fp32 input, the final norm's tensors and the head input's copy");
        /* every block rebuilt, eager attention, 4096 tokens: the first
         * block's softmax backward (the other blocks' checkpoints done):
         * the causal mask its checkpoint keeps (b x 1 x s x s, fp32), its
         * rebuilt tensors but what its backward has freed (as the last
         * block's above); the softmax's two gradients, the values' and the
         * residual stream's, and the reentrant checkpoint's rebuilt output
         * and the gradient handed to it (4 h a token each); every fp32
         * gradient but its QKV's (3 h^2 + 3 h), its first norm's (2 h) and
         * the position table's (s h: the tied word embedding's part waits
         * in autograd's buffer, the same size); its own weight copies but
         * the projection's and MLP's (12 h^2 - 9 h^2) */
        zp_layout lf1 = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, 1);
        zp_mem mf;
        zp_mem_stage(&gl, &al, &lf1, &c, &cv, 0, &mf);
        is_u64((uint64_t)mf.phase, ZP_PHASE_BACKWARD, "eager attention, every block rebuilt, 4096 tokens: the first "
               "block's backward");
        is_u64(mf.dev[ZP_MEM_ACT], 4 * (uint64_t)sl * sl + layer - freed, "... the mask and the block's rebuilt "
               "tensors but what its backward has freed");
        is_u64(mf.dev[ZP_MEM_BUF], 8 * S + (uint64_t)nl * (2 * h + 4 * h) + 2 * (uint64_t)nl * 4 * h,
               "... the softmax's gradients, the values' and the residual stream's, the rebuilt output and the "
               "gradient handed to it");
        is_u64(mf.dev[ZP_MEM_GRADS], 4 * (psil - (uint64_t)(3 * h * h + 3 * h + 2 * h + sl * h)),
               "... every gradient but its QKV's, its first norm's and the position table's");
        is_u64(mf.dev[ZP_MEM_PARAMS], psil * 4 + 2 * (uint64_t)(12 * h * h - 9 * h * h),
               "... its own weight copies but the projection's and MLP's");
        /* a stage of one block (12 stages): the same moment, its gradients
         * the block's but its QKV's and first norm's, and on the first
         * stage no embedding's yet */
        zp_layout lp12 = lay(1, 1, 12, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        zp_mem_stage(&gl, &al, &lp12, &c, &cv, 5, &mf);
        is_u64((uint64_t)mf.phase, ZP_PHASE_BACKWARD, "eager attention, one block a stage (stage 5 of 12): its "
               "softmax's backward");
        is_u64(mf.dev[ZP_MEM_ACT], layer - freed, "... its tensors but what its backward has freed");
        is_u64(mf.dev[ZP_MEM_GRADS], 4 * (uint64_t)(gpt_layer(h, 1) - (3 * h * h + 3 * h + 2 * h)),
               "... its gradients but its QKV's and first norm's");
        /* dropout on the attention probabilities, LLaMA in fp32 (eager-check's
         * long model): the values product's backward is the moment, with
         * the dropout's mask (S bytes), the dropout's output it read (4 S),
         * the probabilities' gradient it makes (4 S), the repeated values
         * (4 q) and the heads' gradient it was handed (4 q): 9 S + 8 q,
         * above the dropout's backward (mask and two gradients, 9 S) and
         * the softmax's (8 S); beside them the values' gradient (4 q) and
         * the residual stream's (4 h a token; q = h here) */
        {
            zp_model ll = llama(2, 64, 4, 2, 176, 200);
            zp_train lt = f32;
            lt.seq = 512, lt.flash = 0, lt.dropout = 1;
            zp_mem md;
            zp_mem_stage(&ll, &lt, &lb, &c, &cv, 0, &md);
            uint64_t Sd = 4 * 512 * 512, nhd = 512 * 64;
            is_u64((uint64_t)md.phase, ZP_PHASE_ATTN, "LLaMA fp32, dropout, 512 tokens: the last block's attention "
                   "backward");
            is_u64(md.dev[ZP_MEM_BUF], Sd + 4 * Sd + 4 * Sd + 4 * nhd + 4 * nhd + 4 * nhd + 4 * nhd,
                   "... the values product's backward: the mask, the dropout's output, the probabilities' gradient, "
                   "the values, the heads', the values' and the residual stream's gradients");
            lt.dropout = 0;
            zp_mem_stage(&ll, &lt, &lb, &c, &cv, 0, &md);
            is_u64(md.dev[ZP_MEM_BUF], 2 * 4 * Sd + 4 * nhd + 4 * nhd, "... without dropout, the softmax's two "
                   "gradients");
        }
        /* with GPT-2's 50257 words the loss's 12 b s V outweighs it again */
        gl.vocab = 50257;
        zp_mem_stage(&gl, &al, &lb, &c, &cv, 0, &mem);
        is_u64((uint64_t)mem.phase, ZP_PHASE_LOSS, "eager attention, 4096 tokens, 50257 words: the peak is the loss's");
        /* with flash attention there is no such moment (SDPA's backward
         * holds no s x s tensor) */
        gl.vocab = Vl, al.flash = 1;
        zp_mem_stage(&gl, &al, &lb, &c, &cv, 0, &mem);
        is_u64((uint64_t)mem.phase, ZP_PHASE_LOSS, "SDPA, 4096 tokens, 1000 words: the peak is the loss's");
        cv.bwd_workspace = 0;
    }
    cv.ce_unfused = 0;
    cv.eager = 0;
    zp_mem lo, hi;
    zp_mem_stage(&g2, &ac, &l1, &c, &cv, 0, &lo);
    cv.ce_unfused = 1;
    zp_mem_stage(&g2, &ac, &l1, &c, &cv, 0, &hi);
    is_u64(hi.dev[ZP_MEM_BUF] - lo.dev[ZP_MEM_BUF], 8 * (uint64_t)n * V,
           "zplan's own with an uncompiled cross_entropy (--ce-unfused): 12 b s V in place of 4");
    {   /* tp = 2: torch's loss_parallel on the rank's ceil(V/2) logits holds
         * the log-softmax, a zeroed gradient, its exp and their sum, 16
         * bytes a logit against the fused loss's 4 */
        zp_layout l1t = l1;
        zp_mem lt, ht;
        l1t.tp = 2;
        cv.ce_unfused = 0;
        zp_mem_stage(&g2, &ac, &l1t, &c, &cv, 0, &lt);
        cv.ce_unfused = 1;
        zp_mem_stage(&g2, &ac, &l1t, &c, &cv, 0, &ht);
        is_u64(ht.dev[ZP_MEM_BUF] - lt.dev[ZP_MEM_BUF], 12 * (uint64_t)n * ceil_div(V, 2),
               "--ce-unfused with tp 2 (loss_parallel): 16 b s ceil(V/2) in place of 4");
    }
    cv.eager = 1;
    /* two data-parallel ranks: the parameters' .grad are still unset at
     * the loss (DDP's buckets, below, are apart); with two micro-batches
     * the first's gradients are there */
    zp_layout l2 = lay(2, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, b, 1);
    zp_cluster c2 = cluster(2, 2);
    zp_mem_stage(&g2, &ac, &l2, &c2, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_GRADS], 0, "eager, dp 2, one micro-batch: no .grad at the loss");
    zp_layout l2m = lay(2, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, b, 2);
    zp_mem_stage(&g2, &ac, &l2m, &c2, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_GRADS], psi * 4, "eager, dp 2, two micro-batches: fp32 gradients 4 Psi at the second's loss");
    /* two data-parallel ranks: DDP's reducer holds every gradient in its
     * buckets beside the parameters' .grad (gradient_as_bucket_view off),
     * at ZeRO-1 too (ZeroRedundancyOptimizer over DDP) */
    cv.bucket_elems = 25 * 1024 * 1024 / 2;
    for (int z = 0; z <= 1; z++) {
        zp_layout lz = lay(2, 1, 1, 1, z, ZP_OFF_NONE, ZP_CKPT_NONE, 0, b, 1);
        zp_mem_stage(&g2, &ac, &lz, &c2, &cv, 0, &mem);
        is_u64(mem.dev[ZP_MEM_BUF], 12 * (uint64_t)n * V + psi * 4,
               "eager, dp 2, ZeRO-%d, DDP: + every gradient in its buckets, 4 Psi", z);
    }
    cv.bucket_elems = 0;
    /* a short sequence (16 tokens, per token: the GPT-2 layer above): the
     * peak is the first block's backward, with every gradient (4 Psi,
     * counted whole), the first block's activations and bf16 weight copy
     * and, beside them, the block's activation gradients (the workspace);
     * the other blocks' copies and activations freed by their backwards */
    zp_train sh = ac;
    sh.seq = 16;
    zp_layout l3 = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
    /* (at GPT-2's vocabulary the word embedding's backward outweighs it:
     * one more of the table's gradient, 4 V h = 154 MB, against one
     * block's copy and activations, 15 MB; a vocabulary of 1024 here) */
    zp_mem_stage(&g2, &sh, &l3, &c, &cv, 0, &mem);
    is_u64((uint64_t)mem.phase, ZP_PHASE_EMBED, "eager, 16 tokens, GPT-2's vocabulary: the peak is the word "
           "embedding's backward");
    zp_model gv = gpt(L, h, a, 1024, 1024);
    uint64_t psiv = (uint64_t)(L * gpt_layer(h, 1) + (1024 + 1024) * h + 2 * h);
    zp_mem_stage(&gv, &sh, &l3, &c, &cv, 0, &mem);
    uint64_t tok = want / (uint64_t)n;
    is_u64((uint64_t)mem.phase, ZP_PHASE_BACKWARD, "eager, 16 tokens: the peak is the first block's backward");
    is_u64(mem.dev[ZP_MEM_GRADS], psiv * 4, "eager, 16 tokens: all the gradients by then, 4 Psi");
    is_u64(mem.dev[ZP_MEM_PARAMS], psiv * 4 + 2 * (uint64_t)(12 * h * h), "eager, 16 tokens: one block's weight copy");
    is_u64(mem.dev[ZP_MEM_ACT], 16 * tok, "eager, 16 tokens: one block's activations (16 x %llu bytes)",
           (unsigned long long)tok);
    /* foreach Adam (torch.optim's default): at the step nothing of the
     * backward is left, and beside the fp32 parameters, gradients and
     * moments (4 + 4 + 8 bytes a parameter) it makes sqrt(v), 4 more: 20 Psi
     * against the backward's 16 Psi + one block's copy and activations */
    cv.adam_foreach = 1;
    zp_mem_stage(&g2, &sh, &l3, &c, &cv, 0, &mem);
    is_u64((uint64_t)mem.phase, ZP_PHASE_STEP, "eager, 16 tokens, foreach Adam: the peak is the optimizer step");
    is_u64(mem.dev[ZP_MEM_PARAMS] + mem.dev[ZP_MEM_GRADS] + mem.dev[ZP_MEM_OPTIM], psi * 16,
           "foreach Adam's step: parameters, every gradient and the moments, 16 Psi (no weight copies)");
    is_u64(mem.dev[ZP_MEM_ACT], 0, "foreach Adam's step: no activations");
    is_u64(mem.dev[ZP_MEM_BUF], psi * 4, "foreach Adam's step: sqrt(v), 4 Psi, in buffers");
    /* two ranks, ZeRO-1 over DDP: its buckets (every gradient, 4 Psi) live
     * on, and the optimizer updates and makes sqrt(v) for its half only */
    cv.bucket_elems = 25 * 1024 * 1024 / 2;
    zp_layout l5 = lay(2, 1, 1, 1, 1, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
    zp_mem_stage(&g2, &sh, &l5, &c2, &cv, 0, &mem);
    uint64_t half = (psi + 1) / 2;
    is_u64((uint64_t)mem.phase, ZP_PHASE_STEP, "foreach Adam, ZeRO-1 on 2: the peak is the step");
    is_u64(mem.dev[ZP_MEM_OPTIM], half * 8, "foreach Adam, ZeRO-1 on 2: the moments of half the parameters");
    is_u64(mem.dev[ZP_MEM_BUF], psi * 4 + half * 4, "foreach Adam, ZeRO-1 on 2: DDP's buckets, 4 Psi, + sqrt(v) of the half");
    cv.bucket_elems = 0;
    /* ZeRO-3 on 2: at GPT-2's loss the tied embedding is gathered whole
     * with its gradient, 8 V h = 309 MB, more than sqrt(v) of the half,
     * 4 Psi / 2 = 249 MB: the loss stays the peak.  In fp32 (no autocast
     * copies, which at the loss hold 2 bytes of every matmul weight, about
     * sqrt(v) of the half again) with a vocabulary of 1024 (8 V h = 6 MB)
     * the step is: every class a half, sqrt(v) too, no gathered block left */
    zp_layout l6 = lay(2, 1, 1, 1, 3, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
    zp_mem_stage(&g2, &sh, &l6, &c2, &cv, 0, &mem);
    ok(8 * (uint64_t)V * h > 2 * psi && mem.phase == ZP_PHASE_LOSS,
       "foreach Adam, ZeRO-3 on 2: the gathered tied embedding and its gradient outweigh sqrt(v) of the half, "
       "the loss stays the peak");
    zp_model gs = gpt(L, h, a, 1024, 1024);
    uint64_t hs = (uint64_t)(L * gpt_layer(h, 1) + (1024 + 1024) * h + 2 * h + 1) / 2;
    zp_train s32 = f32;
    s32.seq = 16;
    zp_mem_stage(&gs, &s32, &l6, &c2, &cv, 0, &mem);
    is_u64((uint64_t)mem.phase, ZP_PHASE_STEP, "foreach Adam, ZeRO-3 on 2, vocabulary 1024: the peak is the step");
    is_u64(mem.dev[ZP_MEM_PARAMS] + mem.dev[ZP_MEM_GRADS] + mem.dev[ZP_MEM_OPTIM] + mem.dev[ZP_MEM_BUF], hs * 20,
           "foreach Adam, ZeRO-3 on 2: (4 + 4 + 8 + 4) bytes a parameter of the half, no gathered block left");
    /* one of two pipeline stages: the stage's own parameters, sqrt(v) half
     * its moments (4 of 8 bytes a parameter) */
    zp_layout l7 = lay(1, 1, 2, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 2);
    for (int k = 0; k < 2; k++) {
        zp_mem_stage(&g2, &sh, &l7, &c2, &cv, k, &mem);
        is_u64((uint64_t)mem.phase, ZP_PHASE_STEP, "foreach Adam, stage %d of 2: the peak is the step", k);
        ok(mem.dev[ZP_MEM_BUF] * 2 == mem.dev[ZP_MEM_OPTIM] && mem.dev[ZP_MEM_GRADS] == mem.dev[ZP_MEM_BUF] &&
               mem.dev[ZP_MEM_ACT] == 0,
           "foreach Adam, stage %d of 2: sqrt(v) of the stage's own parameters, 4 bytes a parameter against the "
           "moments' 8 and the gradients' 4",
           k);
    }
    /* many tokens (4 x 1024, above): the loss's three fp32 b s V tensors
     * (12 x 4096 x 50257 bytes) outweigh sqrt(v) (4 Psi): the peak and
     * its classes are the fused implementation's */
    zp_mem fu;
    zp_mem_stage(&g2, &ac, &l1, &c, &cv, 0, &mem);
    cv.adam_foreach = 0;
    zp_mem_stage(&g2, &ac, &l1, &c, &cv, 0, &fu);
    cv.adam_foreach = 1;
    is_u64((uint64_t)mem.phase, ZP_PHASE_LOSS, "foreach Adam, 4096 tokens: the loss stays the peak");
    ok(memcmp(mem.dev, fu.dev, sizeof mem.dev) == 0 && mem.dev_total == fu.dev_total,
       "foreach Adam, 4096 tokens: every class as with fused Adam");
    /* SGD keeps no second moment, and an offloaded optimizer steps on the
     * host: the backward stays the peak */
    zp_train sg = sh;
    sg.optim = ZP_OPT_SGD;
    zp_mem_stage(&gv, &sg, &l3, &c, &cv, 0, &mem);
    is_u64((uint64_t)mem.phase, ZP_PHASE_BACKWARD, "foreach, SGD: no sqrt(v), the backward is the peak");
    zp_layout lo1 = lay(1, 1, 1, 1, 1, ZP_OFF_OPT, ZP_CKPT_NONE, 0, 1, 1);
    zp_mem_stage(&g2, &sh, &lo1, &c, &cv, 0, &mem);
    is_u64((uint64_t)mem.phase == ZP_PHASE_STEP, 0, "foreach Adam offloaded: the host steps, no device sqrt(v)");
    cv.adam_foreach = 0;
    /* full recompute of every 2nd block (ckpt_every 2: blocks 1, 3, ...):
     * the first block keeps all of its activations, and at its backward
     * nothing is rebuilt */
    sh.ckpt_every = 2;
    zp_layout l4 = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, 1);
    zp_mem_stage(&gv, &sh, &l4, &c, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_ACT], 16 * tok, "eager, every 2nd block rebuilt: the first block's own at its backward");
    sh.ckpt_every = 0;
    zp_mem_stage(&gv, &sh, &l4, &c, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_ACT], 16 * (uint64_t)h * 4, "eager, every block rebuilt: the first block's fp32 input");
    /* dropout (GPT-2, autocast, eager attention): the probabilities' mask,
     * 1 byte (the values product reads the bf16 copy's dropout output in
     * place of the copy), and the two residual branches' masks */
    zp_train dr = ac;
    dr.flash = 0;
    dr.dropout = 1;
    is_u64(zp_eager_layer_bytes(&g2, &dr, &l1), eager_attn + (uint64_t)b * a * s * s + 2 * (uint64_t)n * h,
           "eager GPT-2 with dropout: + the probabilities' mask and two residual masks, 1 byte each");
    dr.flash = 1;
    is_u64(zp_eager_layer_bytes(&g2, &dr, &l1), want + 2 * (uint64_t)n * h,
           "eager GPT-2 with dropout under SDPA: only the residual masks (the kernel keeps a seed)");
    /* pipeline stages: the first stage's peak is its backward's start,
     * every block's activations and weight copies (nothing freed yet) */
    zp_layout lp = lay(1, 1, 2, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, b, 1);
    zp_cluster cp2 = cluster(2, 2);
    zp_mem_stage(&g2, &ac, &lp, &cp2, &cv, 0, &mem);
    is_u64(mem.dev[ZP_MEM_ACT], 6 * want, "eager, pp 2, stage 0: its 6 blocks' activations at its backward");
    is_u64(mem.dev[ZP_MEM_PARAMS] - (uint64_t)zp_stage_params(&g2, &lp, 0) * 4, 2 * 6 * (uint64_t)(12 * h * h),
           "eager, pp 2, stage 0: its 6 blocks' weight copies");
    is_u64(mem.dev[ZP_MEM_GRADS], 0, "eager, pp 2, stage 0, one micro-batch: no gradient at its backward's start");
    /* LLaMA 1B-like, autocast, SDPA, micro-batch 2 x 2048: RMSNorm keeps its
     * fp32 input and normalised x (and rsqrt, 4 a token); q, k, v each their
     * own bf16 copy of the norm's output; SDPA its q and k (rotated, fp32,
     * cast again), v, output, log-sum-exp; gate and up their copies; SiLU's
     * input, its output, up's output, the product */
    int64_t lh = 2048, la = 32, lg = 8, lfn = 5632, d = lh / la;
    zp_model ll = llama(16, lh, la, lg, lfn, 32000);
    zp_train lt = train(ZP_DT_BF16, ZP_DT_BF16, 1, 2048);
    lt.dropout = 0;
    lt.flash = 1;
    zp_layout ll1 = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 2, 1);
    uint64_t rms = 4 * lh + 4 * lh + 4, ln_ = 2 * 2048;
    uint64_t lw = ln_ * (2 * rms + 3 * 2 * lh + 2 * (la * d) + 2 * (lg * d) + 2 * (lg * d) + 2 * (la * d) + 4 * la +
                         2 * 2 * lh + 4 * 2 * lfn);
    is_u64(zp_eager_layer_bytes(&ll, &lt, &ll1), lw, "eager LLaMA, autocast, SDPA: %llu bytes a layer",
           (unsigned long long)lw);
    /* a bf16 model (no master weights, no autocast): RMSNorm's fp32 copy and
     * bf16 normalised x; the norm's output once for q, k, v and once for
     * gate, up; eager attention: q, the repeated keys and values, the fp32
     * softmax and its bf16 copy, the merged heads */
    zp_train pb = lt;
    pb.master = 0;
    pb.flash = 0;
    uint64_t S = (uint64_t)la * 2048 * 2048 * 2;
    uint64_t pw = ln_ * (2 * (4 * lh + 2 * lh + 4) + 2 * lh + 2 * (la * d) * 2 + 2 * (la * d) + 2 * (la * d) + 2 * lh +
                         4 * 2 * lfn) + S * (4 + 2);
    is_u64(zp_eager_layer_bytes(&ll, &pb, &ll1), pw, "eager LLaMA, bf16 model, eager attention: %llu bytes a layer",
           (unsigned long long)pw);
    /* rotary positions: cos and sin (fp32 with autocast) on the first stage */
    zp_mem_stage(&ll, &lt, &ll1, &c, &cv, 0, &mem);
    uint64_t head = ln_ * (rms + 2 * lh);
    is_u64(mem.dev[ZP_MEM_ACT], 16 * lw + 2 * 4 * 2048 * (uint64_t)d + head,
           "eager LLaMA: layers, cos and sin (fp32, s x d each), the final norm and the head's input");
    /* eager off: zplan's own accounting (16-bit parameters and gradients,
     * Adam with its fp32 master, gradients at the loss, the fp32 logits) */
    cv.eager = 0;
    zp_mem off;
    zp_mem_stage(&ll, &lt, &ll1, &c, &cv, 0, &off);
    uint64_t lpsi = (uint64_t)zp_stage_params(&ll, &ll1, 0);
    is_u64(off.dev[ZP_MEM_PARAMS], lpsi * 2, "eager off: bf16 parameters, 2 Psi");
    is_u64(off.dev[ZP_MEM_GRADS], lpsi * 2, "eager off: bf16 gradients, 2 Psi");
    is_u64(off.dev[ZP_MEM_OPTIM], lpsi * 12, "eager off: Adam and the fp32 master, 12 Psi");
    /* selective and per-op recompute are not PyTorch eager's */
    zp_problem prob = {0};
    prob.model = ll;
    prob.train = lt;
    prob.conv = cv;
    prob.conv.eager = 1;
    prob.cluster = c;
    prob.pins.ckpt = ZP_CKPT_SELECTIVE;   /* asked for (unasked, flash rejects it first) */
    zp_layout ls = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_SELECTIVE, 0, 2, 1);
    is_u64((uint64_t)zp_layout_check(&prob, &ls), ZP_REJ_EAGER_CKPT, "eager: selective recompute rejected by rule");
    ls.ckpt = ZP_CKPT_FULL;
    is_u64((uint64_t)zp_layout_check(&prob, &ls), ZP_REJ_NONE, "eager: full recompute allowed");
}

/* PyTorch eager with a tied head: the word embedding's backward, the
 * backward's last moment ("embedding").  GPT-2 widths, two blocks, one
 * sequence of 128 tokens, fp32, every block rebuilt, so that the
 * vocabulary's table (V h = 38.6 M values) outweighs what the blocks hold:
 * no activation left, every gradient made (4 Psi), the word embedding's
 * twice (the head's part in autograd's buffer, the lookup's), three times
 * where autograd makes their sum as a new tensor (--grad-sum copy,
 * PyTorch 1.13), and with accumulation the earlier micro-batches' .grad
 * besides; the lookup output's gradient (4 h a token) in the buffers.  An
 * untied head (LLaMA) has no such moment. */
static void test_eager_embed(void)
{
    zp_conv cv = conv0();
    cv.eager = cv.ce_unfused = 1;
    cv.bwd_workspace = 1;   /* activation gradients counted (--no-bwd-workspace: none, below) */
    zp_cluster c = cluster(1, 1);
    int64_t L = 2, h = 768, a = 12, V = 50257, s = 128;
    zp_model g2 = gpt(L, h, a, V, s);
    zp_train t = train(ZP_DT_FP32, ZP_DT_FP32, 0, s);
    t.dropout = 0;
    t.flash = 1;
    uint64_t psi = (uint64_t)(L * gpt_layer(h, 1) + (V + s) * h + 2 * h), wte = (uint64_t)V * (uint64_t)h * 4;
    static const struct {
        int copy;
        int64_t M;
        uint64_t tables;   /* word-embedding-sized gradients beyond the one among the 4 Psi */
    } cs[] = {{0, 1, 1}, {1, 1, 2}, {0, 2, 2}, {1, 2, 3}};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        zp_layout l = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, cs[i].M);
        cv.grad_sum_copy = cs[i].copy;
        zp_mem m;
        zp_mem_stage(&g2, &t, &l, &c, &cv, 0, &m);
        is_u64((uint64_t)m.phase, ZP_PHASE_EMBED, "tied GPT-2, 2 blocks rebuilt, 1 x 128 tokens, %s, %lld micro-batch%s: "
               "the peak is the word embedding's backward", cs[i].copy ? "copy" : "in place", (long long)cs[i].M,
               cs[i].M > 1 ? "es" : "");
        is_u64(m.dev[ZP_MEM_GRADS], 4 * psi + cs[i].tables * wte, "... every gradient and %llu more of the word "
               "embedding's", (unsigned long long)cs[i].tables);
        is_u64(m.dev[ZP_MEM_ACT], 0, "... no activation left");
        is_u64(m.dev[ZP_MEM_BUF], 4 * (uint64_t)s * (uint64_t)h, "... the lookup output's gradient, 4 h a token");
        is_u64(m.dev[ZP_MEM_PARAMS], 4 * psi, "... no weight copy (fp32)");
    }
    {
        zp_layout l = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, 1);
        zp_conv nw = cv;
        nw.bwd_workspace = 0;
        zp_mem m;
        zp_mem_stage(&g2, &t, &l, &c, &nw, 0, &m);
        ok(m.phase == ZP_PHASE_EMBED && m.dev[ZP_MEM_BUF] == 0, "--no-bwd-workspace: the same moment, no lookup "
           "output's gradient");
    }
    /* an untied head: the lookup's gradient goes to .grad alone */
    zp_model ll = llama(2, 768, 12, 4, 2048, 32000);
    zp_train tl = train(ZP_DT_FP32, ZP_DT_FP32, 0, s);
    tl.dropout = 0;
    tl.flash = 1;
    zp_layout l1 = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, 1);
    cv.grad_sum_copy = 1;
    zp_mem m;
    zp_mem_stage(&ll, &tl, &l1, &c, &cv, 0, &m);
    ok(m.phase != ZP_PHASE_EMBED, "an untied head (LLaMA): no word-embedding moment");
    /* zplan's own accounting (not eager): none either */
    cv.eager = 0;
    zp_layout l2 = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, 1);
    zp_mem_stage(&g2, &t, &l2, &c, &cv, 0, &m);
    ok(m.phase != ZP_PHASE_EMBED, "zplan's own accounting (no --eager): no word-embedding moment");

    /* fragmentation: a fraction of the tensors at the peak (params to
     * buffers); under PyTorch eager with rebuilt blocks frag_rebuilt, else
     * frag (zplan's own accounting rebuilds too, and keeps frag) */
    cv.frag = 0.05;
    cv.frag_rebuilt = 0.20;
    static const struct {
        int eager;
        zp_ckpt ck;
        double f;
    } fc[] = {{1, ZP_CKPT_FULL, 0.20}, {1, ZP_CKPT_NONE, 0.05}, {0, ZP_CKPT_FULL, 0.05}, {0, ZP_CKPT_NONE, 0.05}};
    for (size_t i = 0; i < sizeof fc / sizeof fc[0]; i++) {
        cv.eager = fc[i].eager;
        zp_layout lk = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, fc[i].ck, 0, 4, 1);
        zp_mem_stage(&g2, &t, &lk, &c, &cv, 0, &m);
        uint64_t rest = 0;
        for (int j = 0; j < ZP_MEM_OVERHEAD; j++)
            rest += m.dev[j];
        is_u64(m.dev[ZP_MEM_OVERHEAD], (uint64_t)(fc[i].f * (double)rest), "%s, %s: fragmentation %.2f of the tensors",
               fc[i].eager ? "PyTorch eager" : "zplan's own accounting", zp_ckpt_names[fc[i].ck], fc[i].f);
    }
    /* every 2nd block rebuilt is rebuilt blocks too; ckpt_every past the
     * stage's blocks rebuilds none */
    cv.eager = 1;
    zp_layout lh = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 4, 1);
    zp_train t2 = t;
    t2.ckpt_every = 2;
    zp_mem_stage(&g2, &t2, &lh, &c, &cv, 0, &m);
    uint64_t r2 = 0;
    for (int j = 0; j < ZP_MEM_OVERHEAD; j++)
        r2 += m.dev[j];
    is_u64(m.dev[ZP_MEM_OVERHEAD], (uint64_t)(0.20 * (double)r2), "PyTorch eager, every 2nd block rebuilt: 0.20");
    t2.ckpt_every = 3;   /* 2 blocks: none is the 3rd */
    zp_mem_stage(&g2, &t2, &lh, &c, &cv, 0, &m);
    r2 = 0;
    for (int j = 0; j < ZP_MEM_OVERHEAD; j++)
        r2 += m.dev[j];
    is_u64(m.dev[ZP_MEM_OVERHEAD], (uint64_t)(0.05 * (double)r2), "PyTorch eager, every 3rd of 2 blocks (none) rebuilt: 0.05");
}

/* Activation offload (zp_layout.act_offload): of the blocks in flight, two
 * (a copy stream) or one (stream order) stay on the device, the larger kind
 * first, the rest go to the host; DeepSpeed's cpu_checkpointing moves the
 * rebuilt blocks' inputs only, one of them back at a time.  The 175B stage
 * of test_ckpt_every: 4 micro-batches x 24 blocks in flight on stage 0, with
 * every 5th rebuilt 16 inputs (in) and 80 whole blocks (whole), and the
 * embedding's dropout masks (sbh p / t), which stay. */
static void test_act_offload(void)
{
    const uint64_t s = 2048, b = 1, h = 12288, a = 96, V = 51200, L = 96, t = 8, p = 4;
    const uint64_t sbh = s * b * h, masks = sbh * p / t;
    zp_model m = gpt((int64_t)L, (int64_t)h, (int64_t)a, (int64_t)V, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1, (int64_t)s);
    zp_cluster c32 = cluster(32, 8);
    zp_conv cv = conv0();
    uint64_t whole = sbh * 34 / t + 5 * a * s * s * b / t, in = 2 * sbh / t;
    zp_layout l = lay(1, 8, 4, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 1, 1, 8);
    zp_mem off, ref;
    struct {
        const char *name; int mode; int64_t every; uint64_t dev, host;
    } cases[] = {
        {"async, every 5th rebuilt: two whole blocks stay", ZP_AOFF_ASYNC, 5, 2 * whole, 16 * in + 78 * whole},
        {"sync, every 5th rebuilt: one whole block stays", ZP_AOFF_SYNC, 5, whole, 16 * in + 79 * whole},
        {"checkpoints, every 5th rebuilt: the kept blocks and one input stay", ZP_AOFF_CKPT_SYNC, 5,
         80 * whole + in, 15 * in},
        {"async, full recompute: two inputs stay", ZP_AOFF_ASYNC, 0, 2 * in, 94 * in},
        {"checkpoints, full recompute: one input stays", ZP_AOFF_CKPT_SYNC, 0, in, 95 * in},
    };
    for (int i = 0; i < N_(cases); i++) {
        cv.act_offload = cases[i].mode;
        tr.ckpt_every = cases[i].every;
        l.act_offload = 1;
        zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &off);
        l.act_offload = 0;
        zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &ref);
        is_u64(off.dev[ZP_MEM_ACT], cases[i].dev + masks, "act offload %s: device activations", cases[i].name);
        is_u64(off.host[ZP_MEM_ACT], cases[i].host, "act offload %s: host activations", cases[i].name);
        ok(ref.dev[ZP_MEM_ACT] - off.dev[ZP_MEM_ACT] == off.host[ZP_MEM_ACT] && ref.host[ZP_MEM_ACT] == 0 &&
               ref.dev_total - off.dev_total == off.host[ZP_MEM_ACT] &&
               off.host_total - ref.host_total == off.host[ZP_MEM_ACT],
           "act offload %s: what leaves the device is what the host holds, nothing else moves", cases[i].name);
    }
    /* the mode none, and PyTorch eager's accounting: nothing moves */
    cv.act_offload = ZP_AOFF_NONE;
    tr.ckpt_every = 0;
    l.act_offload = 1;
    zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &off);
    l.act_offload = 0;
    zp_mem_stage(&m, &tr, &l, &c32, &cv, 0, &ref);
    ok(off.dev_total == ref.dev_total && off.host_total == 0, "act offload with mode none: the memory of none");
}

int main(void)
{
    tap_plan(0);
    test_stage_params();
    test_zero_paper();
    test_megatron();
    test_act_korthikanti();
    test_act_variants();
    test_act_beyond();
    test_inflight();
    test_stage_act();
    test_stage_io();
    test_ckpt_every();
    test_act_offload();
    test_buffers();
    test_workspace();
    test_compute_fp32();
    test_offload();
    test_overhead();
    test_rounding();
    test_stage_layers();
    test_worst();
    test_cp();
    test_ckpt_op();
    test_fsdp_pp();
    test_lp_grads();
    test_eager();
    test_eager_embed();
    return tap_exit();
}
