/* test_model.c - parameter counts, tensor-parallel split, shape checks and
 * the derivation rule (model.c).
 *
 * Expected counts are derived by hand from the architectures and compared
 * with the published totals: GPT-2 small 124,439,808 (Radford et al. 2019,
 * HF "gpt2"), LLaMA-2 7B 6,738,415,616 and 70B 68,976,648,192 (Touvron et
 * al. 2023, HF parameter counts). */
#include "core.h"
#include "tap.h"

#include <math.h>
#include <string.h>

#define N_(a) ((int)(sizeof(a) / sizeof((a)[0])))

static zp_model gpt2_small(void)
{
    zp_model m = {0};
    strcpy(m.name, "gpt2");
    m.layers = 12; m.hidden = 768; m.heads = 12; m.kv_heads = 12; m.ffn = 3072;
    m.vocab = 50257; m.max_pos = 1024; m.tied = 1; m.bias = 1;
    m.mlp = ZP_MLP_GELU; m.norm = ZP_NORM_LAYERNORM; m.pos = ZP_POS_LEARNED;
    return m;
}

static zp_model llama2(int64_t L, int64_t h, int64_t a, int64_t g, int64_t f)
{
    zp_model m = {0};
    strcpy(m.name, "llama2");
    m.layers = L; m.hidden = h; m.heads = a; m.kv_heads = g; m.ffn = f;
    m.vocab = 32000; m.max_pos = 0; m.tied = 0; m.bias = 0;
    m.mlp = ZP_MLP_SWIGLU; m.norm = ZP_NORM_RMSNORM; m.pos = ZP_POS_ROTARY;
    return m;
}

/* GPT-2 block, one tp rank of t (Megatron split):
 *   QKV      h x 3h weight + 3h bias, column-parallel: both / t
 *   proj     h x h weight (row-parallel: / t) + h bias (replicated)
 *   fc1      h x f weight + f bias, column-parallel: / t
 *   fc2      f x h weight (/ t) + h bias (replicated)
 *   2 LayerNorms of 2h (replicated) */
static int64_t gpt2_layer(int64_t h, int64_t f, int64_t t)
{
    return (h * 3 * h + 3 * h) / t + h * h / t + h + (h * f + f) / t + f * h / t + h + 2 * 2 * h;
}

/* LLaMA block with GQA, one tp rank of t (no biases):
 *   Q h x h, K and V h x (g * h/a) each, all column-parallel / t
 *   o  h x h row-parallel / t
 *   gate, up h x f column-parallel / t; down f x h row-parallel / t
 *   2 RMSNorms of h (replicated) */
static int64_t llama_layer(int64_t h, int64_t a, int64_t g, int64_t f, int64_t t)
{
    int64_t hd = h / a;
    return (h * h + 2 * h * g * hd) / t + h * h / t + 3 * h * f / t + 2 * h;
}

static void test_params(void)
{
    /* GPT-2 small: L=12, h=768, f=3072, V=50257, 1024 positions, tied head */
    {
        zp_model m = gpt2_small();
        int64_t L = 12, h = 768, f = 3072, V = 50257, P = 1024;
        int64_t layer = gpt2_layer(h, f, 1);          /* = 7,087,872 */
        int64_t want = L * layer + V * h + P * h + 2 * h; /* blocks + wte + wpe + ln_f */
        hand_check(layer == 7087872, "GPT-2 small: hand block count is 7,087,872");
        hand_check(want == 124439808, "GPT-2 small: hand total equals the published 124,439,808");
        is_u64(zp_model_layer_params(&m, 1), layer, "GPT-2 small layer params = %lld", (long long)layer);
        is_u64(zp_model_embed_params(&m, 1), V * h + P * h, "GPT-2 small embedding = wte + wpe");
        is_u64(zp_model_head_params(&m, 1), V * h, "GPT-2 small head rows = V h");
        is_u64(zp_model_final_norm_params(&m), 2 * h, "GPT-2 small final LayerNorm = 2h");
        is_u64(zp_model_params(&m), want, "GPT-2 small total = %lld", (long long)want);
        /* matmul weights: per block h*3h + h*h + 2hf = 12h^2 (f = 4h), plus the head V h */
        is_u64(zp_model_matmul_params(&m), L * 12 * h * h + V * h, "GPT-2 small matmul params = 12 h^2 L + V h");
        /* untying adds a separate head of V h */
        m.tied = 0;
        is_u64(zp_model_params(&m), want + V * h, "GPT-2 small untied adds V h");
        /* without learned positions the table disappears */
        m.tied = 1;
        m.pos = ZP_POS_ROTARY;
        is_u64(zp_model_params(&m), want - P * h, "GPT-2 small with rotary positions drops P h");
    }
    /* LLaMA-2 7B: L=32, h=4096, a=g=32, f=11008, V=32000, untied */
    {
        zp_model m = llama2(32, 4096, 32, 32, 11008);
        int64_t L = 32, h = 4096, f = 11008, V = 32000;
        int64_t layer = 4 * h * h + 3 * h * f + 2 * h; /* = 202,383,360 */
        int64_t want = L * layer + 2 * V * h + h;      /* blocks + embedding + head + final norm */
        hand_check(llama_layer(h, 32, 32, f, 1) == layer, "LLaMA-2 7B: GQA formula at g=a gives 4h^2+3hf+2h");
        hand_check(want == INT64_C(6738415616), "LLaMA-2 7B: hand total equals the published 6,738,415,616");
        is_u64(zp_model_layer_params(&m, 1), layer, "LLaMA-2 7B layer params = %lld", (long long)layer);
        is_u64(zp_model_embed_params(&m, 1), V * h, "LLaMA-2 7B embedding = V h (rotary: no table)");
        is_u64(zp_model_final_norm_params(&m), h, "LLaMA-2 7B final RMSNorm = h");
        is_u64(zp_model_params(&m), want, "LLaMA-2 7B total = %lld", (long long)want);
        is_u64(zp_model_matmul_params(&m), L * (4 * h * h + 3 * h * f) + V * h,
               "LLaMA-2 7B matmul params = L(4h^2 + 3hf) + V h");
    }
    /* LLaMA-2 70B: L=80, h=8192, a=64, g=8, f=28672 */
    {
        zp_model m = llama2(80, 8192, 64, 8, 28672);
        int64_t L = 80, h = 8192, a = 64, g = 8, f = 28672, V = 32000;
        int64_t hd = h / a;                                            /* 128 */
        int64_t layer = h * h + 2 * h * g * hd + h * h + 3 * h * f + 2 * h; /* = 855,654,400 */
        int64_t want = L * layer + 2 * V * h + h;
        hand_check(layer == 855654400, "LLaMA-2 70B: hand block count is 855,654,400");
        hand_check(want == INT64_C(68976648192), "LLaMA-2 70B: hand total equals the published 68,976,648,192");
        is_u64(zp_model_layer_params(&m, 1), layer, "LLaMA-2 70B layer params (GQA g=8)");
        is_u64(zp_model_params(&m), want, "LLaMA-2 70B total = %lld", (long long)want);
        is_u64(zp_model_matmul_params(&m), L * (2 * h * h + 2 * h * g * hd + 3 * h * f) + V * h,
               "LLaMA-2 70B matmul params");
    }
}

static void test_tp_split(void)
{
    static const int64_t ts[] = {1, 2, 4, 8};
    zp_model g2 = gpt2_small();
    zp_model l7 = llama2(32, 4096, 32, 32, 11008);
    zp_model l70 = llama2(80, 8192, 64, 8, 28672);
    for (int i = 0; i < N_(ts); i++) {
        int64_t t = ts[i];
        int64_t want = gpt2_layer(768, 3072, t);
        is_u64(zp_model_layer_params(&g2, t), want, "GPT-2 small layer at t=%lld: %lld", (long long)t,
               (long long)want);
        want = llama_layer(4096, 32, 32, 11008, t);
        is_u64(zp_model_layer_params(&l7, t), want, "LLaMA-2 7B layer at t=%lld: %lld", (long long)t,
               (long long)want);
        want = llama_layer(8192, 64, 8, 28672, t);
        is_u64(zp_model_layer_params(&l70, t), want, "LLaMA-2 70B layer at t=%lld: %lld", (long long)t,
               (long long)want);
        /* vocab-parallel embedding: ceil(V/t) rows; learned positions replicated */
        int64_t rows = (50257 + t - 1) / t;
        is_u64(zp_model_embed_params(&g2, t), rows * 768 + 1024 * 768, "GPT-2 embedding at t=%lld: ceil(V/t) h + P h",
               (long long)t);
        is_u64(zp_model_head_params(&g2, t), rows * 768, "GPT-2 head at t=%lld: ceil(V/t) h", (long long)t);
    }
    /* the replicated part (row-parallel biases + norms) is what keeps t
     * ranks from summing to exactly the whole block */
    int64_t repl = 768 + 768 + 4 * 768;
    is_u64(8 * zp_model_layer_params(&g2, 8), zp_model_layer_params(&g2, 1) + 7 * repl,
           "GPT-2: 8 tp ranks hold the block once plus 7 extra copies of the replicated 6h");
}

static void test_check(void)
{
    struct { const char *name; int64_t L, h, a, g, f, V, P; zp_status st; } cases[] = {
        {"GPT-2 small", 12, 768, 12, 12, 3072, 50257, 1024, ZP_OK},
        {"LLaMA-2 70B", 80, 8192, 64, 8, 28672, 32000, 0, ZP_OK},
        {"MQA g=1", 4, 256, 8, 1, 1024, 1000, 0, ZP_OK},
        {"zero layers", 0, 768, 12, 12, 3072, 50257, 1024, ZP_EINVAL},
        {"negative layers", -1, 768, 12, 12, 3072, 50257, 1024, ZP_EINVAL},
        {"zero hidden", 12, 0, 12, 12, 3072, 50257, 1024, ZP_EINVAL},
        {"zero heads", 12, 768, 0, 12, 3072, 50257, 1024, ZP_EINVAL},
        {"zero KV heads", 12, 768, 12, 0, 3072, 50257, 1024, ZP_EINVAL},
        {"zero FFN", 12, 768, 12, 12, 0, 50257, 1024, ZP_EINVAL},
        {"zero vocab", 12, 768, 12, 12, 3072, 0, 1024, ZP_EINVAL},
        {"negative positions", 12, 768, 12, 12, 3072, 50257, -1, ZP_EINVAL},
        {"heads 7 do not divide hidden 768", 12, 768, 7, 7, 3072, 50257, 1024, ZP_EINVAL},
        {"KV heads 5 do not divide heads 12", 12, 768, 12, 5, 3072, 50257, 1024, ZP_EINVAL},
        {"KV heads above heads", 12, 768, 12, 24, 3072, 50257, 1024, ZP_EINVAL},
        {"hidden out of range", 12, (int64_t)1 << 21, 16, 16, 3072, 50257, 1024, ZP_EINVAL},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_model m = gpt2_small();
        m.layers = cases[i].L; m.hidden = cases[i].h; m.heads = cases[i].a; m.kv_heads = cases[i].g;
        m.ffn = cases[i].f; m.vocab = cases[i].V; m.max_pos = cases[i].P;
        zp_err e = {0};
        zp_status st = zp_model_check(&m, &e);
        ok(st == cases[i].st && (st == ZP_OK || (e.code == st && e.msg[0])),
           "model_check(%s): expected %s, got %d '%s'", cases[i].name, cases[i].st ? "EINVAL" : "OK", (int)st,
           e.msg);
    }
    /* the messages name the offending numbers */
    zp_model m = gpt2_small();
    zp_err e = {0};
    m.heads = 7; m.kv_heads = 7;
    zp_model_check(&m, &e);
    ok(strstr(e.msg, "7") && strstr(e.msg, "768"), "heads message names heads 7 and hidden 768: '%s'", e.msg);
    m = gpt2_small();
    m.kv_heads = 5;
    zp_model_check(&m, &e);
    ok(strstr(e.msg, "5") && strstr(e.msg, "12"), "KV heads message names 5 and 12: '%s'", e.msg);
}

/* The fields beyond a GPT-2 / LLaMA block, each counted by hand from the
 * published module shapes of a model that has it. */
static void test_beyond(void)
{
    /* Gemma 7B: head_dim 256 on h = 3072 with 16 heads (Q, K, V 4096 wide,
     * o 4096 -> 3072), GeGLU f = 24576, RMSNorm, tied, V = 256000.
     * Block: 3 x 3072 x 4096 + 4096 x 3072 + 3 x 3072 x 24576 + 2 x 3072 = 276,830,208;
     * total 28 x block + 256000 x 3072 + 3072 = 8,537,680,896 (Gemma report, Table 2:
     * 786,432,000 embedding + 7,751,248,896 non-embedding) */
    {
        zp_model m = llama2(28, 3072, 16, 16, 24576);
        m.head_dim = 256; m.vocab = 256000; m.tied = 1;
        int64_t h = 3072, q = 4096, f = 24576;
        is_u64(zp_model_head_dim(&m), 256, "Gemma 7B: head width 256, not h / a = 192");
        is_u64(zp_model_layer_params(&m, 1), 276830208, "Gemma 7B block = 276,830,208");
        is_u64(zp_model_params(&m), INT64_C(8537680896), "Gemma 7B total = the published 8,537,680,896");
        for (int64_t t = 2; t <= 16; t *= 2)
            is_u64(zp_model_layer_params(&m, t), (3 * h * q + q * h) / t + 3 * h * ((f + t - 1) / t) + 2 * h,
                   "Gemma 7B block at t=%lld: (3 h q + q h) / t + 3 h f / t + 2h", (long long)t);
        is_u64(zp_model_matmul_params(&m), 28 * (3 * h * q + q * h + 3 * h * f) + INT64_C(256000) * h,
               "Gemma 7B matmul params use the 4096-wide attention");
        m.head_dim = 0;
        is_u64(zp_model_layer_params(&m, 1), 4 * h * h + 3 * h * f + 2 * h, "head_dim 0 means h / a as before");
    }
    /* Falcon-7B: multi-query (g = 1), parallel attention + MLP behind one
     * LayerNorm, no biases, GELU 4h, tied, V = 65024, h = 4544, a = 71 (d = 64).
     * Block: 4544 x 4672 + 4544^2 + 2 x 4544 x 18176 + 2 x 4544 = 207,070,080 */
    {
        zp_model m = gpt2_small();
        m.layers = 32; m.hidden = 4544; m.heads = 71; m.kv_heads = 1; m.ffn = 4 * 4544; m.vocab = 65024;
        m.bias = 0; m.pos = ZP_POS_ROTARY; m.max_pos = 0; m.block = ZP_BLOCK_PARALLEL;
        is_u64(zp_model_layer_params(&m, 1), 207070080, "Falcon-7B block = 207,070,080 (MQA, one shared norm)");
        is_u64(zp_model_params(&m), INT64_C(6921720704), "Falcon-7B total = 32 blocks + 65024 x 4544 + 2 x 4544");
        m.block = ZP_BLOCK_PARALLEL_2NORM;
        is_u64(zp_model_layer_params(&m, 1), 207070080 + 2 * 4544, "two norms of the same input: one more LayerNorm");
    }
    /* Qwen2-7B: biases on Q, K, V only (3584 + 2 x 512 a layer), GQA g = 4.
     * Block: 3584 (3584 + 1024) + 4608 + 3584^2 + 3 x 3584 x 18944 + 2 x 3584 = 233,057,792 */
    {
        zp_model m = llama2(28, 3584, 28, 4, 18944);
        m.vocab = 152064; m.qkv_bias = 1;
        int64_t h = 3584, qkv = 3584 + 1024, f = 18944;
        is_u64(zp_model_layer_params(&m, 1), 233057792, "Qwen2-7B block = 233,057,792 (q/k/v biases)");
        is_u64(zp_model_params(&m), INT64_C(7615616512), "Qwen2-7B total = 28 blocks + 2 x 152064 x 3584 + 3584");
        is_u64(zp_model_layer_params(&m, 4), (h * qkv + h * h + qkv) / 4 + 3 * h * (f / 4) + 2 * h,
               "Qwen2-7B block at t=4: the q/k/v biases split with their columns");
        m.out_bias = 1;
        is_u64(zp_model_layer_params(&m, 4), (h * qkv + h * h + qkv) / 4 + 3 * h * (f / 4) + 2 * h + h,
               "an output-projection bias is row-parallel: replicated");
    }
    /* GPT-J-6B: no attention biases, MLP biases, lm_head with a bias,
     * parallel block behind one LayerNorm, untied, V = 50400.
     * Block: 4 x 4096^2 + 2 x 4096 x 16384 + 16384 + 4096 + 2 x 4096 = 201,355,264 */
    {
        zp_model m = gpt2_small();
        m.layers = 28; m.hidden = 4096; m.heads = 16; m.kv_heads = 16; m.ffn = 16384; m.vocab = 50400;
        m.bias = 0; m.mlp_bias = 1; m.head_bias = 1; m.tied = 0; m.pos = ZP_POS_ROTARY; m.max_pos = 0;
        m.block = ZP_BLOCK_PARALLEL;
        is_u64(zp_model_layer_params(&m, 1), 201355264, "GPT-J block = 201,355,264");
        is_u64(zp_model_head_params(&m, 1), INT64_C(50400) * 4096 + 50400, "GPT-J head = V h + V (its bias)");
        is_u64(zp_model_head_params(&m, 8), INT64_C(6300) * 4096 + 6300, "GPT-J head at t=8: V/8 rows and biases");
        is_u64(zp_model_params(&m), INT64_C(6050882784), "GPT-J total = 28 blocks + wte + ln_f + lm_head with bias");
        is_u64(zp_model_layer_params(&m, 2), (4 * INT64_C(4096) * 4096) / 2 + 2 * 4096 * 8192 + 8192 + 4096 + 2 * 4096,
               "GPT-J block at t=2: fc_in bias split, fc_out bias replicated");
    }
    /* BLOOM-560m: LayerNorm after the word embedding, ALiBi, tied;
     * 24 (12 h^2 + 13 h) + 250880 h + 2 x 2h = 559,214,592 (model card) */
    {
        zp_model m = gpt2_small();
        m.layers = 24; m.hidden = 1024; m.heads = 16; m.kv_heads = 16; m.ffn = 4096; m.vocab = 250880;
        m.pos = ZP_POS_ALIBI; m.max_pos = 0; m.embed_norm = 1;
        is_u64(zp_model_embed_params(&m, 1), INT64_C(250880) * 1024 + 2 * 1024, "BLOOM embedding = V h + its LayerNorm 2h");
        is_u64(zp_model_embed_params(&m, 4), INT64_C(62720) * 1024 + 2 * 1024, "BLOOM embedding at t=4: norm replicated");
        is_u64(zp_model_params(&m), 559214592, "BLOOM-560m total = the published 559,214,592");
    }
    /* what zp_model_check says of the new fields */
    {
        zp_model m = llama2(2, 3072, 16, 16, 256);
        zp_err e = {0};
        m.head_dim = 256;
        m.hidden = 3000;   /* 16 does not divide 3000, but the heads are 256 wide */
        ok(zp_model_check(&m, &e) == ZP_OK, "heads need not divide hidden when head_dim is given (%s)", e.msg);
        m.head_dim = -1;
        ok(zp_model_check(&m, &e) == ZP_EINVAL && strstr(e.msg, "head_dim"), "negative head_dim refused: '%s'", e.msg);
        m.head_dim = 0;
        ok(zp_model_check(&m, &e) == ZP_EINVAL && strstr(e.msg, "divide hidden"),
           "without head_dim heads must divide hidden: '%s'", e.msg);
        m = llama2(2, 64, 8, 8, 256);
        m.window = -4;
        ok(zp_model_check(&m, &e) == ZP_EINVAL && strstr(e.msg, "window"), "negative window refused: '%s'", e.msg);
        m.window = 0;
        m.tied = 1; m.head_bias = 1;
        ok(zp_model_check(&m, &e) == ZP_EINVAL && strstr(e.msg, "tied"), "a tied head with a bias refused: '%s'",
           e.msg);
        m = llama2(2, 64, 8, 8, 256);
        m.head_dim = 65536; m.heads = 1024; m.kv_heads = 1024; m.hidden = 65536;
        ok(zp_model_check(&m, &e) == ZP_EINVAL && strstr(e.msg, "head_dim"),
           "an attention width beyond 4194304 is out of range: '%s'", e.msg);
    }
}

static void test_derive(void)
{
    static const double targets[] = {350e6, 1.3e9, 11e9, 175e9, 1e12};
    for (int i = 0; i < N_(targets); i++) {
        double P = targets[i];
        zp_model m;
        zp_err e = {0};
        zp_status st = zp_model_derive(P, 0, &m, &e);
        ok(st == ZP_OK, "derive(%.4g) ok (%s)", P, e.msg);
        if (st != ZP_OK)
            continue;
        double got = (double)zp_model_params(&m);
        ok(fabs(got - P) <= 0.05 * P, "derive(%.4g): %lld params within 5%% (h=%lld L=%lld)", P, (long long)got,
           (long long)m.hidden, (long long)m.layers);
        int64_t hd = m.hidden >= 2048 ? 128 : 64;
        ok(m.heads * hd == m.hidden && m.kv_heads == m.heads,
           "derive(%.4g): heads %lld x %lld = hidden %lld, no GQA", P, (long long)m.heads, (long long)hd,
           (long long)m.hidden);
        ok(m.layers > 0 && m.ffn == 4 * m.hidden, "derive(%.4g): L=%lld > 0, f=%lld = 4h", P, (long long)m.layers,
           (long long)m.ffn);
        ok(zp_model_check(&m, &e) == ZP_OK, "derive(%.4g): derived shape passes model_check", P);
        if (P == 175e9) {
            /* GPT-3 175B (Brown et al. 2020, Table 2.1): h = 12288, L = 96, 96 heads of 128.
             * Check: block 12h^2 + 13h = 1,812,099,072; rest (50304 + 2048) h + 2h
             * = 643,325,952; (175e9 - rest) / block = 96.2 -> 96; h / L = 128 exactly. */
            is_u64(m.hidden, 12288, "derive(175e9) reproduces GPT-3's h = 12288");
            is_u64(m.layers, 96, "derive(175e9) reproduces GPT-3's L = 96");
            is_u64(m.heads, 96, "derive(175e9) has 96 heads");
        }
    }
    /* a long sequence's position table is part of N: 350M at 131072
     * positions.  By hand: at h = 1024 the block is 12h^2 + 13h =
     * 12,596,224 and the rest (50304 + 131072) h + 2h = 185,731,072, so
     * L = round((350e6 - rest) / block) = round(13.04) = 13 and the count
     * 13 x 12,596,224 + 185,731,072 = 349,481,984 (0.15 % short of N, h/L
     * = 79); h = 1536 (the 2048-position choice) has 278.6M outside its
     * blocks and L = round(2.52) = 3, 363.6M (+3.9 %) but h/L = 512.  Its
     * 2048-position shape, L = 10, would come to 561.9M with the
     * sequence's table added. */
    {
        zp_model m = {0};
        zp_err e = {0};
        zp_status st = zp_model_derive(350e6, 131072, &m, &e);
        ok(st == ZP_OK && m.max_pos == 131072 && m.hidden == 1024 && m.layers == 13 &&
               zp_model_params(&m) == 349481984,
           "derive(350e6, 131072 positions): L=13 h=1024, 349,481,984 parameters with the table (got L=%lld h=%lld)",
           (long long)m.layers, (long long)m.hidden);
    }
    static const double bad[] = {1e6, 0.0, -1.0, NAN, INFINITY};
    for (int i = 0; i < N_(bad); i++) {
        zp_model m;
        zp_err e = {0};
        ok(zp_model_derive(bad[i], 0, &m, &e) == ZP_EINVAL && strstr(e.msg, "--params"),
           "derive(%g) rejected with EINVAL naming --params: '%s'", bad[i], e.msg);
    }
    /* the least count derived: one block of h = 128 (12 h^2 + 13 h = 198272)
     * rounds from half of it over the rest (embedding 50304 h, 2048
     * positions, final norm 2 h: 6701312), 6701312 + 99136 = 6800448 */
    {
        zp_model m;
        zp_err e = {0};
        ok(zp_model_derive(6800448, 0, &m, &e) == ZP_OK && m.layers == 1 && m.hidden == 128,
           "derive(6800448): one block of 128, the least count derived");
        ok(zp_model_derive(6800447, 0, &m, &e) == ZP_EINVAL && strstr(e.msg, "--params 6800447 ") &&
               strstr(e.msg, "at least 6800448 "),
           "derive(6800447) refused, the message naming the least count, 6800448: '%s'", e.msg);
    }
}

int main(void)
{
    tap_plan(0);
    test_params();
    test_tp_split();
    test_check();
    test_beyond();
    test_derive();
    return tap_exit();
}
