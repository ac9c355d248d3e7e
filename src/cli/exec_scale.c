/* exec_scale.c - zplan exec's --scale: the engine's smaller model of the
 * same layout, and the argument ranges zplan-engine accepts. */
#include "config.h"
#include "exec.h"
#include "jsonget.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* KV heads for `heads` query heads keeping the model's group size g (query
 * heads per KV head): heads / g, or the largest divisor of heads below it
 * (at least 1). */
static int64_t kv_for(int64_t heads, int64_t g)
{
    int64_t kv = g > 0 ? heads / g : heads;
    if (kv < 1)
        kv = 1;
    while (heads % kv)
        kv--;
    return kv;
}

/* The model at hidden h with 64-wide heads and L layers, its architecture
 * and proportions kept: the MLP as wide relative to hidden as the model's
 * (ffn_ratio), the query heads per KV head (group).  For tensor
 * parallelism over tp ranks the MLP width is rounded to a multiple of tp
 * and the KV heads raised to the fewest that tp divides and that divide
 * the heads (a smaller group than the model's where it must be); 0 when
 * tp does not divide the heads. */
static int reshape(zp_model *m, int64_t h, int64_t L, double ffn_ratio, int64_t group, int64_t tp)
{
    m->hidden = h;
    m->layers = L;
    m->heads = h / 64;
    m->kv_heads = kv_for(m->heads, group);
    m->head_dim = 0;
    m->ffn = (int64_t)floor(ffn_ratio * (double)h / (double)tp + 0.5) * tp;
    if (m->ffn < tp)
        m->ffn = tp;
    if (m->heads % tp)
        return 0;
    while (m->kv_heads % tp || m->heads % m->kv_heads)
        m->kv_heads++;
    return 1;
}

/* The engine's shape for `target` parameters with vocabulary V and
 * sequence T, of the model's architecture: hidden a multiple of 64 with
 * 64-wide heads (the KV heads and MLP width in the model's proportions),
 * for each the layers that bring the count closest; of those within 10 %
 * the one with the least |ln((hidden / layers) / 64)| + 10 x relative
 * error (GPT-2's proportions, 1 % of error weighing as 10 % of aspect).
 * 0, or -1 when none is within 10 %. */
static int scale_to_params(double target, int64_t V, int64_t T, int64_t tp, zp_model *m)
{
    double best = INFINITY, ratio = m->hidden > 0 ? (double)m->ffn / (double)m->hidden : 4.0;
    int64_t group = m->kv_heads > 0 ? m->heads / m->kv_heads : 1;
    zp_model c = *m, pick = *m;
    c.vocab = V;
    if (c.pos == ZP_POS_LEARNED)
        c.max_pos = T;
    for (int64_t h = 64; h <= 16384; h += 64) {
        if (!reshape(&c, h, 1, ratio, group, tp))
            continue;
        double one = (double)zp_model_params(&c);
        c.layers = 2;
        double block = (double)zp_model_params(&c) - one, rest = one - block;
        double L = floor((target - rest) / block + 0.5);
        if (L < 1 || L > 1000)
            continue;
        double n = L * block + rest, err = fabs(n - target) / target;
        double score = err <= 0.10 ? fabs(log((double)h / L / 64.0)) + 10.0 * err : INFINITY;
        if (score < best) {
            best = score;
            pick = c;
            pick.layers = (int64_t)L;
        }
    }
    if (!isfinite(best))
        return -1;
    pick.vocab = m->vocab;
    pick.max_pos = m->max_pos;
    *m = pick;
    return 0;
}

/* Apply "key=value,..." to the model and batch; an item without "=" is a
 * parameter count (e.g. 20M) that chooses layers, hidden and heads. */
zp_status zp_exec_apply_scale(const char *spec, zp_model *m, zp_train *tr, zp_layout *l, zp_err *e)
{
    char buf[512];
    double target = 0.0;
    int shaped = 0, vocab_set = 0, seq_set = 0, accum_set = 0, kv_set = 0, ffn_set = 0;
    const zp_model m0 = *m;   /* the proportions scaling keeps */
    size_t sl = strlen(spec);
    if (!sl || spec[0] == ',' || spec[sl - 1] == ',' || strstr(spec, ",,"))
        return zp_err_set(e, ZP_EINVAL, "--scale '%.64s': an empty item (allowed: a parameter count and key=value "
                          "items separated by single commas, or none for the plan's own model)", spec);
    if (sl >= sizeof buf)
        return zp_err_set(e, ZP_EINVAL, "--scale: longer than %zu characters", sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", spec);
    char seen[16][16];
    int nseen = 0;
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        int64_t v;
        if (!eq) {
            zp_status st = zp_parse_count("--scale", kv, &target, e);
            if (st)
                return zp_err_set(e, ZP_EINVAL, "--scale '%s': expected a parameter count (20M, 1.5e7) or key=value "
                                  "(keys: layers, hidden, heads, kv_heads, ffn, vocab, seq, micro_batch, accum, dp, tp, pp, cp)", kv);
            if (target < 1e5 || target > 1e11)
                return zp_err_set(e, ZP_EINVAL, "--scale %s: a parameter count from 100k to 100B is allowed", kv);
            continue;
        }
        *eq = '\0';
        for (int i = 0; i < nseen; i++)
            if (!strcmp(seen[i], kv))
                return zp_err_set(e, ZP_EINVAL, "--scale: the key '%s' is given twice (allowed: each key once)", kv);
        if (nseen < 16 && strlen(kv) < sizeof seen[0])
            snprintf(seen[nseen++], sizeof seen[0], "%s", kv);
        char what[64];
        snprintf(what, sizeof what, "--scale %s", kv);
        int64_t hi = !strcmp(kv, "layers") ? 1000 : !strcmp(kv, "hidden") ? 65536
                     : !strcmp(kv, "heads") || !strcmp(kv, "kv_heads") ? 4096
                     : !strcmp(kv, "seq") ? 16384 : !strcmp(kv, "vocab") || !strcmp(kv, "ffn") ? 1 << 20 : 4096;
        zp_status st = zp_parse_int(what, eq + 1, 1, hi, &v, e);
        if (st)
            return st;
        if (!strcmp(kv, "layers"))
            m->layers = v, shaped = 1;
        else if (!strcmp(kv, "hidden"))
            m->hidden = v, shaped = 1;
        else if (!strcmp(kv, "heads"))
            m->heads = v, shaped = 1;
        else if (!strcmp(kv, "kv_heads"))
            m->kv_heads = v, kv_set = shaped = 1;
        else if (!strcmp(kv, "ffn"))
            m->ffn = v, ffn_set = shaped = 1;
        else if (!strcmp(kv, "vocab"))
            m->vocab = v, vocab_set = 1;
        else if (!strcmp(kv, "seq"))
            tr->seq = v, seq_set = 1;
        else if (!strcmp(kv, "micro_batch"))
            l->micro_batch = v;
        else if (!strcmp(kv, "accum"))
            l->grad_accum = v, accum_set = 1;
        else if (!strcmp(kv, "dp"))   /* the layout's degrees: its kind (ZeRO, recompute) kept */
            l->dp = v;
        else if (!strcmp(kv, "tp"))
            l->tp = v;
        else if (!strcmp(kv, "pp"))
            l->pp = v;
        else if (!strcmp(kv, "cp"))
            l->cp = v;
        else
            return zp_err_set(e, ZP_EINVAL, "--scale: unknown key '%s' (allowed: layers, hidden, heads, kv_heads, ffn, "
                              "vocab, seq, micro_batch, accum, dp, tp, pp, cp)", kv);
    }
    /* a scaled run is a small one: the plan's accumulation (128 micro-
     * batches of a 1024-sequence batch on 8 ranks) would make each of its
     * steps as long as the plan's, so it keeps at most ZP_SCALE_ACCUM unless
     * accum= says */
    if (!accum_set && l->grad_accum > ZP_SCALE_ACCUM)
        l->grad_accum = ZP_SCALE_ACCUM;
    if (target > 0) {
        if (shaped)
            return zp_err_set(e, ZP_EINVAL, "--scale '%s': a parameter count chooses layers, hidden and heads; give "
                              "one or the other", spec);
        if (!vocab_set)   /* byte-level tokens, as many rows as tp splits */
            m->vocab = l->tp > 1 ? (256 + l->tp - 1) / l->tp * l->tp : 256;
        if (!seq_set && tr->seq > 256)
            tr->seq = 256;
        if (scale_to_params(target, m->vocab, tr->seq, l->tp > 1 ? l->tp : 1, m))
            return zp_err_set(e, ZP_EINVAL, "--scale '%s': no shape of this architecture with vocabulary %lld and "
                              "sequence %lld%s comes within 10%% of %.4g parameters (or give the shape: layers=, "
                              "hidden=, heads=, kv_heads=, ffn=)", spec, (long long)m->vocab, (long long)tr->seq,
                              l->tp > 1 ? " whose heads, KV heads and MLP split over tp" : "", target);
        return ZP_OK;
    }
    /* keys that reshape keep the model's proportions where not given: the
     * MLP's width relative to hidden, the query heads per KV head */
    if (!ffn_set && m->hidden != m0.hidden)
        m->ffn = m0.ffn * m->hidden % m0.hidden == 0 ? m0.ffn * m->hidden / m0.hidden
                 : (int64_t)floor((double)m0.ffn * (double)m->hidden / (double)m0.hidden + 0.5);
    if (!kv_set && m->heads != m0.heads)
        m->kv_heads = kv_for(m->heads, m0.kv_heads > 0 ? m0.heads / m0.kv_heads : 1);
    if (m->ffn < 1)
        m->ffn = 1;
    return ZP_OK;
}

/* What zplan-engine accepts (backend/engine_main.c's argument ranges),
 * checked before anything is launched or recorded. */
zp_status zp_exec_engine_limits(const zp_model *m, const zp_train *t, const zp_layout *l, int64_t steps,
                               const char *which, zp_err *e)
{
    static const struct { const char *what; int64_t lo, hi; } lim[] = {
        {"layers", 1, 1000}, {"hidden", 1, 1 << 16}, {"heads", 1, 1 << 12}, {"vocab", 2, 1 << 20},
        {"seq", 2, 1 << 14}, {"micro-batch", 1, 1 << 12}, {"accumulation", 1, 1 << 12}, {"steps", 1, 1 << 20}};
    int64_t v[] = {m->layers, m->hidden, m->heads, m->vocab, t->seq, l->micro_batch, l->grad_accum, steps};
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if (v[i] < lim[i].lo || v[i] > lim[i].hi)
            return zp_err_set(e, ZP_EINVAL, "%s: the engine runs %s %lld..%lld, not %lld (shrink it with --scale, "
                              "e.g. --scale %s)", which, lim[i].what, (long long)lim[i].lo, (long long)lim[i].hi,
                              (long long)v[i], i < 5 ? "20M,seq=256" : "micro_batch=2,accum=2");
    /* tensor parallelism splits the heads, the KV heads, the MLP and the
     * vocabulary; a pipeline gives each stage a layer; the engine
     * pipelines ZeRO 0-1 */
    int64_t kv = m->kv_heads > 0 ? m->kv_heads : m->heads, f = m->ffn > 0 ? m->ffn : 4 * m->hidden;
    if (l->tp > 1 && (m->heads % l->tp || kv % l->tp || f % l->tp || m->vocab % l->tp)) {
        /* a shape that splits: 16-wide heads, a common multiple of 8 and
         * tp of them, grouped KV heads (where the model groups them) one a
         * tp rank, a vocabulary of 256 rows or the next multiple of tp */
        int64_t a = 8, b = l->tp;
        while (b) {
            int64_t r = a % b;
            a = b, b = r;
        }
        int64_t hd = 8 / a * l->tp, voc = (256 + l->tp - 1) / l->tp * l->tp;
        char kvs[32] = "";
        if (kv < m->heads)
            snprintf(kvs, sizeof kvs, ",kv_heads=%lld", (long long)l->tp);
        return zp_err_set(e, ZP_EINVAL, "%s: tp=%lld must divide the heads (%lld), the KV heads (%lld), the MLP width "
                          "(%lld) and the vocabulary (%lld) of the engine's model (choose them with --scale, e.g. "
                          "--scale layers=4,hidden=%lld,heads=%lld%s,ffn=%lld,vocab=%lld,seq=64)", which,
                          (long long)l->tp, (long long)m->heads, (long long)kv, (long long)f, (long long)m->vocab,
                          (long long)(16 * hd), (long long)hd, kvs, (long long)(64 * hd), (long long)voc);
    }
    if (l->tp > 1 && l->sp && (l->micro_batch * t->seq) % l->tp)
        return zp_err_set(e, ZP_EINVAL, "%s: sequence parallelism over tp=%lld splits the micro-batch's %lld token rows "
                          "evenly (--scale seq= or micro_batch=)", which, (long long)l->tp,
                          (long long)(l->micro_batch * t->seq));
    /* the Q and K head norms' backward works in the MLP's spent gradients
     * (backend/engine.c, qkn_scratch) */
    int64_t fw = (m->mlp == ZP_MLP_SWIGLU ? 3 : 2) * f;
    if (m->qk_norm && fw < m->hidden)
        return zp_err_set(e, ZP_EINVAL, "%s: the engine's Q and K head norms need an MLP of at least hidden / %d, the "
                          "engine's model has %lld on %lld (choose it with --scale ffn=)", which,
                          m->mlp == ZP_MLP_SWIGLU ? 3 : 2, (long long)f, (long long)m->hidden);
    /* rotary positions rotate pairs of a head's dimensions */
    if (m->pos == ZP_POS_ROTARY && m->heads > 0 && (m->hidden % m->heads || (m->hidden / m->heads) % 2))
        return zp_err_set(e, ZP_EINVAL, "%s: rotary positions need an even head width, the engine's model has "
                          "hidden %lld over %lld heads (choose them with --scale, e.g. hidden=64,heads=4)", which,
                          (long long)m->hidden, (long long)m->heads);
    /* what one MPI call moves and one index reaches (engine.c,
     * ze_cfg_check): each parameter unit (the embedding with the position
     * rows, a block, the final norm with an untied head) at most
     * INT_MAX / 2 elements, a micro-batch's MLP activations INT_MAX */
    double C = (double)m->hidden, big = (double)INT_MAX / 2;
    double units[3] = {((double)m->vocab + (double)t->seq) * C, (double)zp_model_layer_params(m, 1),
                       (double)zp_model_final_norm_params(m) + (m->tied ? 0.0 : (double)m->vocab * C)};
    static const char *const unit_names[3] = {"the embedding", "a block", "the final norm and head"};
    for (int i = 0; i < 3; i++)
        if (units[i] > big)
            return zp_err_set(e, ZP_EINVAL, "%s: %s of the engine's model would hold %.4g parameters, beyond the "
                              "%d one MPI call moves (shrink it with --scale, e.g. --scale 20M,seq=256)", which,
                              unit_names[i], units[i], INT_MAX / 2);
    double act = (double)l->micro_batch * (double)t->seq * (m->mlp == ZP_MLP_SWIGLU ? 2.0 : 1.0) * (double)f;
    if (act > (double)INT_MAX)
        return zp_err_set(e, ZP_EINVAL, "%s: a micro-batch's MLP activations would be %.4g values, beyond the %d the "
                          "engine indexes (a smaller --scale micro_batch= or seq=)", which, act, INT_MAX);
    if (l->pp > m->layers)
        return zp_err_set(e, ZP_EINVAL, "%s: pp=%lld stages need as many layers, the engine's model has %lld (--scale "
                          "layers=%lld)", which, (long long)l->pp, (long long)m->layers, (long long)l->pp);
    if (l->pp > 1 && l->zero > 1)
        return zp_err_set(e, ZP_EINVAL, "%s: ZeRO-%d with pp=%lld: the engine pipelines ZeRO 0-1 (plan with --zero 1, "
                          "or --pp 1)", which, l->zero, (long long)l->pp);
    int64_t nch = 2 * zp_cp(l);   /* (with cp > 1: a chunk from each end a rank) */
    if (zp_cp(l) > 1 && t->seq % nch)
        return zp_err_set(e, ZP_EINVAL, "%s: cp=%lld cuts a sequence of %lld tokens into 2 x cp chunks, one from each "
                          "end a rank: 2 x cp divides the sequence (--scale seq=%lld)", which, (long long)zp_cp(l),
                          (long long)t->seq, (long long)(t->seq / nch > 0 ? t->seq / nch * nch : nch));
    return ZP_OK;
}

/* The blocks zplan-engine builds: GPT-2's (a GELU MLP, LayerNorm, learned
 * positions, a head tied to the embedding, biases on every linear layer)
 * and the LLaMA family's variations of them, each on its own (RMSNorm, a
 * SwiGLU MLP, rotary positions, K and V heads shared by groups of query
 * heads, an untied head, no biases), any MLP width; attention then MLP,
 * heads of hidden / heads.  A plan of another architecture would run as a
 * different model: refused, naming what differs.  (A sliding window is
 * checked on the scaled sequence, exec.c: where it is no shorter than the
 * sequence it masks nothing, and the engine's attention is the model's.) */
zp_status zp_exec_engine_arch(const zp_model *m, const char *which, zp_err *e)
{
    char diff[400] = "";
    size_t u = 0;
#define DIFF(...) u += (size_t)snprintf(diff + u, u < sizeof diff ? sizeof diff - u : 0, __VA_ARGS__)
    if (m->pos == ZP_POS_ALIBI)
        DIFF("%sALiBi positions", u ? ", " : "");
    if (m->kv_heads < 1 || m->heads % m->kv_heads)
        DIFF("%s%lld KV heads that do not divide %lld query heads", u ? ", " : "", (long long)m->kv_heads,
             (long long)m->heads);
    if (m->head_dim && m->head_dim * m->heads != m->hidden)
        DIFF("%sheads of %lld on a width of %lld", u ? ", " : "", (long long)m->head_dim, (long long)m->hidden);
    if (m->head_bias)
        DIFF("%sa biased output head", u ? ", " : "");
    if (!m->bias && (m->out_bias || m->mlp_bias))
        DIFF("%sbiases on some linear layers only (other than Qwen2's on Q, K and V)", u ? ", " : "");
    if (m->block != ZP_BLOCK_SERIAL)
        DIFF("%sparallel attention and MLP", u ? ", " : "");
    if (m->embed_norm)
        DIFF("%sa norm after the embedding", u ? ", " : "");
    if (m->multipliers)
        DIFF("%sGranite's multipliers (embedding, residual, attention scale, logits)", u ? ", " : "");
    if (m->gelu_gate)
        DIFF("%sa GELU-gated MLP (GeGLU; the engine's gate is SiLU)", u ? ", " : "");
    if (m->embed_scale)
        DIFF("%san embedding scaled by sqrt(h) (Gemma's)", u ? ", " : "");
    if (m->qk_norm && m->norm != ZP_NORM_RMSNORM)
        DIFF("%snorms on Q's and K's heads in LayerNorm blocks", u ? ", " : "");
#undef DIFF
    if (!u)
        return ZP_OK;
    return zp_err_set(e, ZP_EINVAL, "%s: the engine builds GPT-2 and LLaMA-family blocks (LayerNorm or RMSNorm, GELU "
                      "or SwiGLU MLP, learned or rotary positions, grouped-query attention, tied or untied head, "
                      "biases on every linear layer, on QKV alone or none, Qwen3's norms on Q's and K's heads in "
                      "RMSNorm blocks) and this model has %s: it would run as another model, so it is not run", which,
                      diff);
}
