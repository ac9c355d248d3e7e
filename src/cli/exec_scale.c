/* exec_scale.c - zplan exec's --scale: the engine's smaller model of the
 * same layout, and the argument ranges zplan-engine accepts. */
#include "config.h"
#include "exec.h"
#include "jsonget.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The engine's GPT shape for `target` parameters with vocabulary V and
 * sequence T: hidden a multiple of 64 with 64-wide heads, for each the
 * layers that bring the count closest; of those within 10 % the one with
 * the least |ln((hidden / layers) / 64)| + 10 x relative error (GPT-2's
 * proportions, 1 % of error weighing as 10 % of aspect).  0, or -1 when
 * none is within 10 %. */
static int scale_to_params(double target, int64_t V, int64_t T, zp_model *m)
{
    double best = INFINITY;
    for (int64_t h = 64; h <= 16384; h += 64) {
        double block = 12.0 * (double)h * (double)h + 13.0 * (double)h, rest = (double)(V + T + 2) * (double)h;
        double L = floor((target - rest) / block + 0.5);
        if (L < 1 || L > 1000)
            continue;
        double n = L * block + rest, err = fabs(n - target) / target;
        double score = err <= 0.10 ? fabs(log((double)h / L / 64.0)) + 10.0 * err : INFINITY;
        if (score < best) {
            best = score;
            m->hidden = h;
            m->layers = (int64_t)L;
            m->heads = m->kv_heads = h / 64;
        }
    }
    return isfinite(best) ? 0 : -1;
}

/* Apply "key=value,..." to the model and batch; an item without "=" is a
 * parameter count (e.g. 20M) that chooses layers, hidden and heads. */
zp_status zp_exec_apply_scale(const char *spec, zp_model *m, zp_train *tr, zp_layout *l, zp_err *e)
{
    char buf[512];
    double target = 0.0;
    int shaped = 0, vocab_set = 0, seq_set = 0, accum_set = 0;
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        int64_t v;
        if (!eq) {
            zp_status st = zp_parse_count("--scale", kv, &target, e);
            if (st)
                return zp_err_set(e, ZP_EINVAL, "--scale '%s': expected a parameter count (20M, 1.5e7) or key=value "
                                  "(keys: layers, hidden, heads, vocab, seq, micro_batch, accum)", kv);
            if (target < 1e5 || target > 1e11)
                return zp_err_set(e, ZP_EINVAL, "--scale %s: a parameter count from 100k to 100B is allowed", kv);
            continue;
        }
        *eq = '\0';
        char what[64];
        snprintf(what, sizeof what, "--scale %s", kv);
        int64_t hi = !strcmp(kv, "layers") ? 1000 : !strcmp(kv, "hidden") ? 65536 : !strcmp(kv, "heads") ? 4096
                     : !strcmp(kv, "seq") ? 16384 : !strcmp(kv, "vocab") ? 1 << 20 : 4096;
        zp_status st = zp_parse_int(what, eq + 1, 1, hi, &v, e);
        if (st)
            return st;
        if (!strcmp(kv, "layers"))
            m->layers = v, shaped = 1;
        else if (!strcmp(kv, "hidden"))
            m->hidden = v, shaped = 1;
        else if (!strcmp(kv, "heads"))
            m->heads = m->kv_heads = v, shaped = 1;
        else if (!strcmp(kv, "vocab"))
            m->vocab = v, vocab_set = 1;
        else if (!strcmp(kv, "seq"))
            tr->seq = v, seq_set = 1;
        else if (!strcmp(kv, "micro_batch"))
            l->micro_batch = v;
        else if (!strcmp(kv, "accum"))
            l->grad_accum = v, accum_set = 1;
        else
            return zp_err_set(e, ZP_EINVAL, "--scale: unknown key '%s' (allowed: layers, hidden, heads, vocab, seq, "
                              "micro_batch, accum)", kv);
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
        if (!vocab_set)   /* byte-level tokens */
            m->vocab = 256;
        if (!seq_set && tr->seq > 256)
            tr->seq = 256;
        if (scale_to_params(target, m->vocab, tr->seq, m))
            return zp_err_set(e, ZP_EINVAL, "--scale '%s': no GPT shape with vocabulary %lld and sequence %lld comes "
                              "within 10%% of %.4g parameters", spec, (long long)m->vocab, (long long)tr->seq, target);
    }
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
    return ZP_OK;
}

/* The blocks zplan-engine builds: GPT-2's (a GELU MLP of 4h, LayerNorm,
 * learned positions, a head tied to the embedding, biases on every linear
 * layer, attention then MLP, every head with its own K and V).  A plan of
 * another architecture would run as a different model: refused, naming
 * what differs. */
zp_status zp_exec_engine_arch(const zp_model *m, const char *which, zp_err *e)
{
    char diff[400] = "";
    size_t u = 0;
#define DIFF(...) u += (size_t)snprintf(diff + u, u < sizeof diff ? sizeof diff - u : 0, __VA_ARGS__)
    if (m->mlp != ZP_MLP_GELU)
        DIFF("%sa gated (SwiGLU) MLP", u ? ", " : "");
    else if (m->ffn != 4 * m->hidden)
        DIFF("%san MLP of %lld, not 4 x %lld", u ? ", " : "", (long long)m->ffn, (long long)m->hidden);
    if (m->norm != ZP_NORM_LAYERNORM)
        DIFF("%sRMSNorm", u ? ", " : "");
    if (m->pos != ZP_POS_LEARNED)
        DIFF("%s%s positions", u ? ", " : "", m->pos == ZP_POS_ROTARY ? "rotary" : "ALiBi");
    if (m->kv_heads != m->heads)
        DIFF("%s%lld KV heads for %lld query heads", u ? ", " : "", (long long)m->kv_heads, (long long)m->heads);
    if (m->head_dim && m->head_dim * m->heads != m->hidden)
        DIFF("%sheads of %lld on a width of %lld", u ? ", " : "", (long long)m->head_dim, (long long)m->hidden);
    if (!m->tied)
        DIFF("%san untied output head", u ? ", " : "");
    if (!m->bias || m->head_bias)
        DIFF("%s%s", u ? ", " : "", m->head_bias ? "a biased output head" : "linear layers without biases");
    if (m->block != ZP_BLOCK_SERIAL)
        DIFF("%sparallel attention and MLP", u ? ", " : "");
    if (m->window)
        DIFF("%ssliding-window attention", u ? ", " : "");
    if (m->embed_norm)
        DIFF("%sa norm after the embedding", u ? ", " : "");
#undef DIFF
    if (!u)
        return ZP_OK;
    return zp_err_set(e, ZP_EINVAL, "%s: the engine builds GPT-2 blocks (GELU MLP of 4h, LayerNorm, learned "
                      "positions, tied head, biases) and this model has %s: it would run as another model, so it is "
                      "not run", which, diff);
}
