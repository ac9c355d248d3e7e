/* preset.c - presets and config.json parsing with cJSON. */
#include "config.h"
#include "preset.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#ifndef ZP_SRCDATADIR
#define ZP_SRCDATADIR ""
#endif
#ifndef ZP_PKGDATADIR
#define ZP_PKGDATADIR ""
#endif

static int is_dir(const char *p)
{
    struct stat st;
    return p && *p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *zp_data_dir(void)
{
    const char *env = getenv("ZPLAN_DATADIR");
    if (env && *env)
        return env;
    if (is_dir(ZP_SRCDATADIR "/models"))
        return ZP_SRCDATADIR;
    return ZP_PKGDATADIR;
}

zp_status zp_read_file(const char *path, char **text, zp_err *e)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (!f)
        return zp_err_set(e, errno == ENOENT ? ZP_ENOTFOUND : ZP_EIO, "%s: cannot open: %s", path, strerror(errno));
    for (;;) {
        if (cap - len < 4096) {
            if (cap > (64u << 20)) {
                free(buf);
                fclose(f);
                return zp_err_set(e, ZP_EINVAL, "%s: file too large (allowed: up to 64 MiB)", path);
            }
            char *nb = realloc(buf, cap = cap ? 2 * cap : 8192);
            if (!nb) {
                free(buf);
                fclose(f);
                return zp_err_set(e, ZP_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    int bad = ferror(f), err = errno;
    fclose(f);
    if (bad) {
        free(buf);
        if (err == EISDIR)   /* the user's mistake, not the machine's */
            return zp_err_set(e, ZP_EINVAL, "%s is a directory (allowed: a file)", path);
        return zp_err_set(e, ZP_EIO, "%s: read error: %s", path, strerror(err));
    }
    buf[len] = '\0';
    /* every file read here is text (a config, a preset, a plan file): a NUL
     * byte would end it early for every reader, so it is refused here */
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *c = buf; c < nul; c++)
            line += *c == '\n';
        free(buf);
        return zp_err_set(e, ZP_EINVAL, "%s:%d: a NUL byte (allowed: a text file)", path, line);
    }
    *text = buf;
    return ZP_OK;
}

/* Line and column of a parse error position. */
static void where_in(const char *text, const char *pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p && pos && p < pos && *p; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else
            (*col)++;
    }
}

const char *zp_json_dup_key(const cJSON *o)
{
    for (const cJSON *a = o->child; a; a = a->next) {
        if (cJSON_IsObject(a) || cJSON_IsArray(a)) {
            const char *d = zp_json_dup_key(a);
            if (d)
                return d;
        }
        if (cJSON_IsObject(o))
            for (const cJSON *b = a->next; b; b = b->next)
                if (a->string && b->string && !strcmp(a->string, b->string))
                    return a->string;
    }
    return NULL;
}

/* How deeply arrays and objects are open at p (strings skipped). */
static int depth_at(const char *text, const char *p)
{
    int d = 0, in = 0;
    for (const char *c = text; *c && c < p; c++) {
        if (in) {
            if (*c == '\\' && c[1])
                c++;
            else if (*c == '"')
                in = 0;
        } else if (*c == '"')
            in = 1;
        else if (*c == '[' || *c == '{')
            d++;
        else if (*c == ']' || *c == '}')
            d--;
    }
    return d;
}

static cJSON *parse(const char *text, const char *where, zp_err *e)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(text, &end, 1);
    if (!j) {
        int line, col;
        const char *at = end ? end : cJSON_GetErrorPtr();
        where_in(text, at, &line, &col);
        if (at && depth_at(text, at) >= CJSON_NESTING_LIMIT)
            zp_err_set(e, ZP_EINVAL, "%s:%d:%d: JSON nested deeper than %d levels (allowed: at most %d)", where, line,
                       col, CJSON_NESTING_LIMIT, CJSON_NESTING_LIMIT);
        else
            zp_err_set(e, ZP_EINVAL, "%s:%d:%d: malformed JSON", where, line, col);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        zp_err_set(e, ZP_EINVAL, "%s: expected a JSON object at the top level", where);
        return NULL;
    }
    const char *dup = zp_json_dup_key(j);
    if (dup) {
        zp_err_set(e, ZP_EINVAL, "%s: the key \"%.64s\" appears twice in one object (cJSON would read the first, "
                   "Python's json, which transformers uses, the last; allowed: each key once)", where, dup);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* First present key of a list; NULL if none (JSON null counts as absent). */
static cJSON *any(const cJSON *j, const char *const *keys, const char **which)
{
    for (int i = 0; keys[i]; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        if (v && !cJSON_IsNull(v)) {
            if (which)
                *which = keys[i];
            return v;
        }
    }
    return NULL;
}

/* An integer field in [lo, hi]; absent: *out = dflt, or an error if
 * dflt < 0. */
static zp_status int_field(const cJSON *j, const char *where, const char *const *keys, int64_t lo, int64_t hi,
                           int64_t dflt, int64_t *out, zp_err *e)
{
    const char *k = keys[0];
    cJSON *v = any(j, keys, &k);
    if (!v) {
        if (dflt < 0) {
            char alt[160] = "";
            for (int i = 1; keys[i]; i++)
                snprintf(alt + strlen(alt), sizeof alt - strlen(alt), "%s\"%s\"", i > 1 ? ", " : " (or ", keys[i]);
            return zp_err_set(e, ZP_EINVAL, "%s: missing \"%s\"%s%s: a positive integer", where, keys[0], alt,
                              keys[1] ? ")" : "");
        }
        *out = dflt;
        return ZP_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble))
        return zp_err_set(e, ZP_EINVAL, "%s: \"%s\" must be an integer", where, k);
    if (v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return zp_err_set(e, ZP_EINVAL, "%s: \"%s\" = %.17g is out of range (allowed: %lld to %lld)", where, k,
                          v->valuedouble, (long long)lo, (long long)hi);
    *out = (int64_t)v->valuedouble;
    return ZP_OK;
}

static zp_status bool_field(const cJSON *j, const char *where, const char *key, int dflt, int *out, zp_err *e)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) {
        *out = dflt;
        return ZP_OK;
    }
    if (!cJSON_IsBool(v))
        return zp_err_set(e, ZP_EINVAL, "%s: \"%s\" must be true or false", where, key);
    *out = cJSON_IsTrue(v);
    return ZP_OK;
}

static zp_status enum_field(const cJSON *j, const char *where, const char *key, const char *const *names,
                            int *out, zp_err *e)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v))
        return ZP_OK;
    char what[128];
    snprintf(what, sizeof what, "%s: \"%s\"", where, key);
    if (!cJSON_IsString(v))
        return zp_err_set(e, ZP_EINVAL, "%s must be a string", what);
    return zp_parse_enum(what, v->valuestring, names, out, e);
}

static int str_in(const char *s, const char *const *list)
{
    for (int i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------- Hugging Face config.json
 *
 * A config.json is read by its model_type: each architecture zplan models
 * is a row below with the defaults its Hugging Face class has and the keys
 * it reads.  A field that changes the parameter count or the memory is
 * either modelled (head_dim, multi-query / grouped KV heads, partial
 * biases, rotary or ALiBi positions, parallel attention + MLP blocks, the
 * embedding norm, the sliding window) or refused in one line naming it
 * (mixture of experts, encoder-decoders, cross-attention, Q/K norms,
 * low-rank attention, projected embeddings, quantized weights, windows on
 * some layers only, an unknown model_type): never ignored.  A config
 * without model_type is read with GPT-2 or (hidden_act silu) LLaMA
 * defaults and the zplan_* keys. */

static zp_status num_field(const cJSON *j, const char *where, const char *key, double lo, double hi, double *out,
                           int allow_null, zp_err *e);

/* An architecture: its model_type and the defaults of its HF class. */
typedef struct hf_arch {
    const char *type;
    zp_mlp mlp;
    zp_norm norm;
    zp_pos pos;
    int bias;           /* every linear layer of a block */
    int qkv_bias;       /* Q, K, V only (Qwen2) */
    int mlp_bias;       /* the MLP only (GPT-J) */
    int head_bias;      /* lm_head (GPT-J, Phi) */
    int embed_norm;     /* word_embeddings_layernorm (BLOOM) */
    int tied;           /* tie_word_embeddings default */
    zp_block block;
    int64_t pos_extra;  /* learned position rows beyond max_position_embeddings (OPT's offset 2) */
    int64_t head_dim;   /* head_dim default (GemmaConfig: 256); 0: h / a */
    int window_keys;    /* reads sliding_window (Mistral, Phi-3); 2: only where use_sliding_window is
                         * true, its default false (Qwen2Config) */
    int attn_bias_key;  /* reads attention_bias (and mlp_bias: LLaMA family, GPT-NeoX) */
    int64_t pos_rows;   /* a learned table's rows when the config gives none: the class's default
                         * (GPT2Config n_positions 1024, OPTConfig max_position_embeddings 2048) */
    int qk_norm;        /* Q and K head norms, always (Qwen3Attention's q_norm and k_norm) */
    int fused_proj;     /* one QKV product and one gate-up product (Phi3Attention, Phi3MLP) */
} hf_arch;

#define GELU ZP_MLP_GELU
#define GLU ZP_MLP_SWIGLU   /* SwiGLU and GeGLU: gate, up and down */
#define LN ZP_NORM_LAYERNORM
#define RMS ZP_NORM_RMSNORM
static const hf_arch hf_archs[] = {
    /* type        mlp   norm pos              bias qkv mlp head emb tied block                   +pos d   win attn rows qk fu */
    {"gpt2",      GELU, LN,  ZP_POS_LEARNED,  1,   0,  0,  0,   0,  1,   ZP_BLOCK_SERIAL,         0,   0,  0,  0, 1024, 0, 0},
    {"llama",     GLU,  RMS, ZP_POS_ROTARY,   0,   0,  0,  0,   0,  0,   ZP_BLOCK_SERIAL,         0,   0,  0,  1, 0, 0, 0},
    {"mistral",   GLU,  RMS, ZP_POS_ROTARY,   0,   0,  0,  0,   0,  0,   ZP_BLOCK_SERIAL,         0,   0,  1,  1, 0, 0, 0},
    {"mixtral",   GLU,  RMS, ZP_POS_ROTARY,   0,   0,  0,  0,   0,  0,   ZP_BLOCK_SERIAL,         0,   0,  1,  1, 0, 0, 0},
    {"qwen2",     GLU,  RMS, ZP_POS_ROTARY,   0,   1,  0,  0,   0,  0,   ZP_BLOCK_SERIAL,         0,   0,  2,  0, 0, 0, 0},
    /* Qwen3: Qwen2's blocks with Q and K head norms (an RMSNorm of head_dim
     * on each head, before the rotation), attention_bias for Q, K, V and o
     * (default none), head_dim 128 by default (transformers'
     * configuration_qwen3.py and modeling_qwen3.py at 008e5743) */
    {"qwen3",     GLU,  RMS, ZP_POS_ROTARY,   0,   0,  0,  0,   0,  0,   ZP_BLOCK_SERIAL,         0, 128,  2,  1, 0, 1, 0},
    {"gemma",     GLU,  RMS, ZP_POS_ROTARY,   0,   0,  0,  0,   0,  1,   ZP_BLOCK_SERIAL,         0, 256,  0,  1, 0, 0, 0},
    /* Phi-3 and Phi-4 (model_type phi3): LLaMA's blocks with Q, K, V as one
     * product and gate and up as one (the same weights), no biases, untied,
     * a window on every layer where sliding_window is given (transformers'
     * Phi3Config and Phi3Attention) */
    {"phi3",      GLU,  RMS, ZP_POS_ROTARY,   0,   0,  0,  0,   0,  0,   ZP_BLOCK_SERIAL,         0,   0,  1,  0, 0, 0, 1},
    /* IBM Granite (model_type granite): LLaMA's blocks and keys (attention_bias,
     * mlp_bias), untied by default; its four multipliers (embedding,
     * residual, attention, logits) scale by a number and change no count
     * and no saved tensor (transformers' GraniteConfig and modeling_granite.py
     * at 008e5743) */
    {"granite",   GLU,  RMS, ZP_POS_ROTARY,   0,   0,  0,  0,   0,  0,   ZP_BLOCK_SERIAL,         0,   0,  0,  1, 0, 0, 0},
    {"falcon",    GELU, LN,  ZP_POS_ROTARY,   0,   0,  0,  0,   0,  1,   ZP_BLOCK_PARALLEL,       0,   0,  0,  0, 0, 0, 0},
    {"gpt_neox",  GELU, LN,  ZP_POS_ROTARY,   1,   0,  0,  0,   0,  0,   ZP_BLOCK_PARALLEL_2NORM, 0,   0,  0,  1, 0, 0, 0},
    {"gptj",      GELU, LN,  ZP_POS_ROTARY,   0,   0,  1,  1,   0,  0,   ZP_BLOCK_PARALLEL,       0,   0,  0,  0, 0, 0, 0},
    {"phi",       GELU, LN,  ZP_POS_ROTARY,   1,   0,  0,  1,   0,  0,   ZP_BLOCK_PARALLEL,       0,   0,  0,  0, 0, 0, 0},
    {"opt",       GELU, LN,  ZP_POS_LEARNED,  1,   0,  0,  0,   0,  1,   ZP_BLOCK_SERIAL,         2,   0,  0,  0, 2048, 0, 0},
    {"bloom",     GELU, LN,  ZP_POS_ALIBI,    1,   0,  0,  0,   1,  1,   ZP_BLOCK_SERIAL,         0,   0,  0,  0, 0, 0, 0},
};
/* no model_type: GPT-2 defaults, or LLaMA's when hidden_act is silu */
static const hf_arch hf_plain = {NULL, GELU, LN, ZP_POS_LEARNED, 1, 0, 0, 0, 0, 1, ZP_BLOCK_SERIAL, 0, 0, 1, 1, 1024, 0, 0};
static const hf_arch hf_plain_gated = {NULL, GLU, RMS, ZP_POS_ROTARY, 0, 0, 0, 0, 0, 0, ZP_BLOCK_SERIAL, 0, 0, 1, 1, 0, 0, 0};
#undef GELU
#undef GLU
#undef LN
#undef RMS

/* Fields that change the count or the memory in ways zplan does not
 * model, and when they do. */
enum { UNM_PRESENT, UNM_TRUE, UNM_FALSE, UNM_ABOVE_1, UNM_NOT_HIDDEN };
static const struct {
    const char *key;
    int when;
    const char *what, *allowed;
} hf_unmodelled[] = {
    {"num_local_experts", UNM_ABOVE_1, "mixture-of-experts layers are not modelled", "a dense model: absent, null or 1"},
    {"num_experts", UNM_ABOVE_1, "mixture-of-experts layers are not modelled", "a dense model: absent, null or 1"},
    {"n_routed_experts", UNM_ABOVE_1, "mixture-of-experts layers are not modelled", "a dense model: absent, null or 1"},
    {"moe_num_experts", UNM_ABOVE_1, "mixture-of-experts layers are not modelled", "a dense model: absent, null or 1"},
    {"is_encoder_decoder", UNM_TRUE, "an encoder-decoder (encoder stack, decoder stack, cross-attention) is not "
     "modelled", "a decoder-only model: false or absent"},
    {"num_decoder_layers", UNM_PRESENT, "an encoder-decoder (encoder stack, decoder stack, cross-attention) is not "
     "modelled", "a decoder-only model: absent"},
    {"decoder_layers", UNM_PRESENT, "an encoder-decoder (encoder stack, decoder stack, cross-attention) is not "
     "modelled", "a decoder-only model: absent"},
    {"encoder_layers", UNM_PRESENT, "an encoder-decoder (encoder stack, decoder stack, cross-attention) is not "
     "modelled", "a decoder-only model: absent"},
    {"add_cross_attention", UNM_TRUE, "cross-attention layers are not modelled", "false or absent"},
    {"kv_lora_rank", UNM_PRESENT, "low-rank (latent) attention projections are not modelled", "absent or null"},
    {"q_lora_rank", UNM_PRESENT, "low-rank (latent) attention projections are not modelled", "absent or null"},
    {"qk_layernorm", UNM_TRUE, "norms on Q and K other than Qwen3's (model_type qwen3) are not modelled",
     "false or absent"},
    {"use_qk_norm", UNM_TRUE, "norms on Q and K other than Qwen3's (model_type qwen3) are not modelled",
     "false or absent"},
    {"qk_norm", UNM_TRUE, "norms on Q and K other than Qwen3's (model_type qwen3) are not modelled",
     "false or absent"},
    {"word_embed_proj_dim", UNM_NOT_HIDDEN, "an embedding of another width than hidden_size, projected in and out, "
     "is not modelled", "the hidden size"},
    {"embedding_size", UNM_NOT_HIDDEN, "an embedding of another width than hidden_size, projected in and out, is not "
     "modelled", "the hidden size"},
    {"do_layer_norm_before", UNM_FALSE, "post-norm blocks without a final norm are not modelled", "true or absent"},
    {"_remove_final_layer_norm", UNM_TRUE, "a model without its final norm is not modelled", "false or absent"},
    {"layer_norm_elementwise_affine", UNM_FALSE, "norms without parameters are not modelled", "true or absent"},
    {"sliding_window_pattern", UNM_PRESENT, "a sliding window on some layers only is not modelled", "absent"},
    {"quantization_config", UNM_PRESENT, "quantized weights are not modelled (zplan plans 16- and 32-bit "
     "training)", "absent"},
};

static const cJSON *present(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* The first field that zplan does not model, refused in one line. */
static zp_status refuse_unmodelled(const cJSON *j, const char *where, const char *const *k_hidden, zp_err *e)
{
    for (size_t i = 0; i < sizeof hf_unmodelled / sizeof hf_unmodelled[0]; i++) {
        const cJSON *v = present(j, hf_unmodelled[i].key);
        if (!v)
            continue;
        int hit = 0;
        switch (hf_unmodelled[i].when) {
        case UNM_PRESENT: hit = 1; break;
        case UNM_TRUE: hit = cJSON_IsTrue(v); break;
        case UNM_FALSE: hit = cJSON_IsFalse(v); break;
        case UNM_ABOVE_1: hit = !cJSON_IsNumber(v) || v->valuedouble > 1; break;
        case UNM_NOT_HIDDEN: {
            const cJSON *h = any(j, k_hidden, NULL);
            hit = !cJSON_IsNumber(v) || !cJSON_IsNumber(h) || v->valuedouble != h->valuedouble;
            break;
        }
        }
        if (!hit)
            continue;
        char val[48];
        if (cJSON_IsNumber(v))
            snprintf(val, sizeof val, "%.17g", v->valuedouble);
        else if (cJSON_IsBool(v))
            snprintf(val, sizeof val, "%s", cJSON_IsTrue(v) ? "true" : "false");
        else
            snprintf(val, sizeof val, "%s", cJSON_IsObject(v) ? "{...}" : cJSON_IsArray(v) ? "[...]" : "given");
        return zp_err_set(e, ZP_EINVAL, "%s: \"%s\" = %s: %s (allowed: %s)", where, hf_unmodelled[i].key, val,
                          hf_unmodelled[i].what, hf_unmodelled[i].allowed);
    }
    return ZP_OK;
}

/* The sliding window: sliding_window (null: none); Qwen2 and Qwen3 only
 * with use_sliding_window true (their classes' default is false, whatever
 * sliding_window says), and on the layers from max_window_layers up (absent:
 * 28, and sliding_window 4096, their classes' defaults), so a window on some
 * layers only is refused; layer_types, where given, must name one kind for
 * every layer. */
static zp_status window_field(const cJSON *j, const char *where, const hf_arch *ar, int64_t layers, int64_t *out,
                              zp_err *e)
{
    static const char *const k_win[] = {"sliding_window", NULL};
    zp_status st;
    int use = 1;
    *out = 0;
    if (!ar->window_keys)
        return ZP_OK;
    /* Qwen2Config and Qwen3Config: sliding_window 4096 and max_window_layers
     * 28 where the file leaves them out (null: no window) */
    int qwen = ar->window_keys == 2;
    int win_null = qwen && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "sliding_window"));
    if ((st = int_field(j, where, k_win, 1, INT64_C(1) << 40, qwen && !win_null ? 4096 : 0, out, e)) ||
        (st = bool_field(j, where, "use_sliding_window", !qwen, &use, e)))
        return st;
    if (!use)
        *out = 0;
    if (*out > 0 && (qwen || present(j, "max_window_layers"))) {
        static const char *const k_mwl[] = {"max_window_layers", NULL};
        int64_t mwl;
        if ((st = int_field(j, where, k_mwl, 0, 100000, qwen ? 28 : 0, &mwl, e)))
            return st;
        if (mwl >= layers)
            *out = 0;                   /* no layer is windowed */
        else if (mwl > 0)
            return zp_err_set(e, ZP_EINVAL, "%s: \"max_window_layers\" = %lld%s with %lld layers: a sliding window "
                              "on some layers only is not modelled (allowed: 0, or at least the layers)", where,
                              (long long)mwl, present(j, "max_window_layers") ? "" : " (absent: its class's default)",
                              (long long)layers);
    }
    const cJSON *lt = present(j, "layer_types");
    if (lt) {
        const cJSON *x;
        int full = 0, sliding = 0, other = !cJSON_IsArray(lt);
        cJSON_ArrayForEach(x, lt) {
            if (cJSON_IsString(x) && !strcmp(x->valuestring, "full_attention"))
                full++;
            else if (cJSON_IsString(x) && !strcmp(x->valuestring, "sliding_attention"))
                sliding++;
            else
                other++;
        }
        if (other || (full && sliding) || (sliding && *out == 0))
            return zp_err_set(e, ZP_EINVAL, "%s: \"layer_types\": attention kinds that differ by layer are not "
                              "modelled (allowed: \"full_attention\" for every layer, or \"sliding_attention\" for "
                              "every layer with a sliding_window)", where);
        if (full)
            *out = 0;
    }
    return ZP_OK;
}

zp_status zp_model_from_json(const char *text, const char *where, zp_model *m, zp_err *e)
{
    static const char *const k_layers[] = {"num_hidden_layers", "n_layer", "num_layers", "n_layers", NULL};
    static const char *const k_hidden[] = {"hidden_size", "n_embd", "n_embed", "d_model", NULL};
    static const char *const k_heads[] = {"num_attention_heads", "n_head", "num_heads", NULL};
    static const char *const k_kv[] = {"num_key_value_heads", "multi_query_group_num", NULL};
    static const char *const k_falcon_kv[] = {"num_kv_heads", "n_head_kv", NULL};
    static const char *const k_hd[] = {"head_dim", "d_kv", NULL};
    static const char *const k_ffn[] = {"intermediate_size", "n_inner", "ffn_dim", "inner_hidden_size",
                                        "ffn_hidden_size", "d_ff", NULL};
    static const char *const k_vocab[] = {"vocab_size", "padded_vocab_size", NULL};
    static const char *const k_pos[] = {"max_position_embeddings", "n_positions", "n_ctx", NULL};
    static const char *const k_nln[] = {"num_ln_in_parallel_attn", NULL};
    static const char *const gated_acts[] = {"silu", "swiglu", "swish", NULL};
    static const char *const mlp_names[] = {"gelu", "swiglu", NULL};
    static const char *const norm_names[] = {"layernorm", "rmsnorm", NULL};
    static const char *const pos_names[] = {"learned", "rotary", "alibi", NULL};
    zp_status st;
    cJSON *j = parse(text, where, e);
    if (!j)
        return ZP_EINVAL;
    memset(m, 0, sizeof *m);
    if ((st = refuse_unmodelled(j, where, k_hidden, e)))
        goto out;
    const cJSON *mt = present(j, "model_type"), *act = cJSON_GetObjectItemCaseSensitive(j, "hidden_act");
    const hf_arch *ar = NULL;
    if (mt && !cJSON_IsString(mt)) {
        st = zp_err_set(e, ZP_EINVAL, "%s: \"model_type\" must be a string", where);
        goto out;
    }
    if (mt) {
        char list[256] = "";
        for (size_t i = 0; i < sizeof hf_archs / sizeof hf_archs[0]; i++) {
            if (!strcmp(mt->valuestring, hf_archs[i].type))
                ar = &hf_archs[i];
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", hf_archs[i].type);
        }
        if (!ar) {
            st = zp_err_set(e, ZP_EINVAL, "%s: \"model_type\" = \"%.64s\" is not an architecture zplan models "
                            "(allowed: %s; or no model_type, with the zplan_* keys)", where, mt->valuestring, list);
            goto out;
        }
    } else
        ar = str_in(cJSON_IsString(act) ? act->valuestring : NULL, gated_acts) ? &hf_plain_gated : &hf_plain;
    int is_falcon = ar->type && !strcmp(ar->type, "falcon"), is_neox = ar->type && !strcmp(ar->type, "gpt_neox");
    int gated = ar->mlp == ZP_MLP_SWIGLU;
    int mlp = ar->mlp, norm = ar->norm, pos = ar->pos, alibi = 0, zbias = -1;
    m->bias = ar->bias, m->qkv_bias = ar->qkv_bias, m->mlp_bias = ar->mlp_bias;
    m->head_bias = ar->head_bias, m->embed_norm = ar->embed_norm, m->block = ar->block, m->qk_norm = ar->qk_norm;
    m->fused_proj = ar->fused_proj;
    if ((st = int_field(j, where, k_layers, 1, 100000, -1, &m->layers, e)) ||
        (st = int_field(j, where, k_hidden, 1, 1 << 20, -1, &m->hidden, e)) ||
        (st = int_field(j, where, k_heads, 1, 1 << 20, -1, &m->heads, e)) ||
        (st = int_field(j, where, k_hd, 1, 1 << 16, ar->head_dim, &m->head_dim, e)) ||
        (st = int_field(j, where, k_ffn, 1, 1 << 23, gated ? -1 : 4 * m->hidden, &m->ffn, e)) ||
        (st = int_field(j, where, k_vocab, 1, 1 << 24, -1, &m->vocab, e)) ||
        (st = int_field(j, where, k_pos, 0, 1 << 24, 0, &m->max_pos, e)) ||
        (st = bool_field(j, where, "tie_word_embeddings", ar->tied, &m->tied, e)))
        goto out;
    /* Granite's multipliers (GraniteConfig's defaults 1.0, and the
     * attention's scale is attention_multiplier itself, not 1/sqrt(d)):
     * a LLaMA of its shape only when every one is the identity */
    if (ar->type && !strcmp(ar->type, "granite")) {
        static const char *const mk[] = {"embedding_multiplier", "residual_multiplier", "logits_scaling",
                                         "attention_multiplier"};
        int64_t d = m->head_dim > 0 ? m->head_dim : m->hidden / m->heads;
        double want[4] = {1.0, 1.0, 1.0, 1.0 / sqrt((double)d)};
        for (int i = 0; i < 4; i++) {
            double x = 1.0;   /* (absent or null: the class's 1.0) */
            if (present(j, mk[i]) && (st = num_field(j, where, mk[i], -1e300, 1e300, &x, 0, e)))
                goto out;
            if (fabs(x - want[i]) > 1e-9 * fabs(want[i]))
                m->multipliers = 1;
        }
    }
    /* KV heads: num_key_value_heads; Falcon: one (multi_query, its
     * default) or, with the new decoder architecture, num_kv_heads */
    if (is_falcon) {
        int newdec, mq, par;
        int64_t nln = 2;
        if ((st = bool_field(j, where, "new_decoder_architecture", 0, &newdec, e)) ||
            (st = bool_field(j, where, "multi_query", 1, &mq, e)) ||
            (st = bool_field(j, where, "parallel_attn", 1, &par, e)) ||
            (st = int_field(j, where, k_falcon_kv, 1, 1 << 20, m->heads, &m->kv_heads, e)) ||
            (st = int_field(j, where, k_nln, 1, 2, 2, &nln, e)) ||
            (st = bool_field(j, where, "alibi", 0, &alibi, e)) ||
            (st = bool_field(j, where, "bias", 0, &m->bias, e)))
            goto out;
        if (!newdec)
            m->kv_heads = mq ? 1 : m->heads;
        m->block = newdec ? (nln == 1 ? ZP_BLOCK_PARALLEL : ZP_BLOCK_PARALLEL_2NORM)
                          : par ? ZP_BLOCK_PARALLEL : ZP_BLOCK_SERIAL;
        if (alibi)
            pos = ZP_POS_ALIBI;
    } else {
        int mq = 0;
        if (!ar->type && (st = bool_field(j, where, "multi_query", 0, &mq, e)))
            goto out;
        if ((st = int_field(j, where, k_kv, 1, 1 << 20, mq ? 1 : m->heads, &m->kv_heads, e)))
            goto out;
    }
    /* biases beyond the architecture's: attention_bias (Q, K, V and the
     * output projection) and mlp_bias in the LLaMA family; GPT-NeoX's
     * attention_bias takes them from attention only; OPT's enable_bias */
    if (ar->attn_bias_key) {
        int ab, mb;
        if ((st = bool_field(j, where, "attention_bias", is_neox, &ab, e)) ||
            (st = bool_field(j, where, "mlp_bias", 0, &mb, e)))
            goto out;
        if (is_neox) {
            m->bias = ab;
            m->mlp_bias = 1;
        } else {
            m->qkv_bias = m->out_bias = ab;
            m->mlp_bias = mb;
        }
    }
    if (ar->type && !strcmp(ar->type, "opt") && (st = bool_field(j, where, "enable_bias", 1, &m->bias, e)))
        goto out;
    /* parallel attention + MLP: GPT-NeoX's use_parallel_residual (two
     * norms); without model_type, also Falcon's parallel_attn (one) */
    if (is_neox || !ar->type) {
        int upr, pa = 0;
        if ((st = bool_field(j, where, "use_parallel_residual", is_neox, &upr, e)) ||
            (!ar->type && (st = bool_field(j, where, "parallel_attn", 0, &pa, e))))
            goto out;
        m->block = upr ? ZP_BLOCK_PARALLEL_2NORM : pa ? ZP_BLOCK_PARALLEL : ZP_BLOCK_SERIAL;
    }
    if ((st = window_field(j, where, ar, m->layers, &m->window, e)))
        goto out;
    /* attention dropout in training (GPT-2's attn_pdrop, the rest's
     * attention_dropout): a probability */
    for (const char *const *k = (const char *const[]){"attn_pdrop", "attention_dropout", NULL}; *k; k++) {
        const cJSON *v = present(j, *k);
        if (!v)
            continue;
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0 && v->valuedouble < 1.0)) {
            st = zp_err_set(e, ZP_EINVAL, "%s: \"%s\" must be a probability (allowed: a number from 0 to below 1)",
                            where, *k);
            goto out;
        }
        if (v->valuedouble > 0.0)
            m->dropout = 1;
    }
    {
        const cJSON *zb = present(j, "zplan_bias");
        if (zb && (st = bool_field(j, where, "zplan_bias", 0, &zbias, e)))
            goto out;
    }
    if ((st = enum_field(j, where, "zplan_mlp", mlp_names, &mlp, e)) ||
        (st = enum_field(j, where, "zplan_norm", norm_names, &norm, e)) ||
        (st = enum_field(j, where, "zplan_position", pos_names, &pos, e)))
        goto out;
    if (zbias >= 0) {   /* zplan_bias states every block bias */
        m->bias = zbias;
        m->qkv_bias = m->out_bias = m->mlp_bias = 0;
    }
    m->mlp = (zp_mlp)mlp;
    /* a gated MLP's gate (as the MLP ends up, zplan_mlp included): SiLU,
     * or GELU where the activation is of that family (Gemma's class
     * default gelu_pytorch_tanh, its hidden_activation first); Gemma also
     * scales its embedding by sqrt(h) */
    int is_gemma = ar->type && !strcmp(ar->type, "gemma");
    if (m->mlp == ZP_MLP_SWIGLU) {
        const cJSON *ha = is_gemma ? present(j, "hidden_activation") : NULL;
        if (!ha || !cJSON_IsString(ha))
            ha = cJSON_IsString(act) ? act : NULL;
        const char *an = ha ? ha->valuestring : is_gemma ? "gelu_pytorch_tanh" : "silu";
        m->gelu_gate = !strncmp(an, "gelu", 4);
    }
    m->embed_scale = is_gemma;
    m->norm = (zp_norm)norm;
    m->pos = (zp_pos)pos;
    /* max_position_embeddings: the rows of a learned table, or for rotary
     * and ALiBi positions the context the model was trained for (no
     * parameters: zp_model_embed_params counts a table only when learned) */
    const char *pos_key = NULL;
    if (m->pos == ZP_POS_LEARNED && m->max_pos == 0 && any(j, k_pos, &pos_key)) {
        /* a learned table of no rows holds no position: no sequence fits */
        st = zp_err_set(e, ZP_EINVAL, "%s: \"%s\" = 0, but the model learns its positions: its table needs a row a "
                        "position (allowed: 1 to 16777216)", where, pos_key);
        goto out;
    }
    if (m->pos == ZP_POS_LEARNED && m->max_pos == 0)
        m->max_pos = ar->pos_rows;   /* absent: the class's default (zplan_position learned: none) */
    if (m->pos == ZP_POS_LEARNED && m->max_pos > 0)
        m->max_pos += ar->pos_extra;
    cJSON_Delete(j);
    j = NULL;
    zp_err ce = {0};
    snprintf(m->name, sizeof m->name, "shape");
    if (zp_model_check(m, &ce) != ZP_OK)
        return zp_err_set(e, ZP_EINVAL, "%s: %s", where, ce.msg);
    const char *base = strrchr(where, '/');
    snprintf(m->name, sizeof m->name, "%s", base ? base + 1 : where);
    char *dot = strrchr(m->name, '.');
    if (dot && strcmp(dot, ".json") == 0)
        *dot = '\0';
    return ZP_OK;
out:
    cJSON_Delete(j);
    return st;
}

zp_status zp_model_from_file(const char *path, zp_model *m, zp_err *e)
{
    char *text;
    zp_status st = zp_read_file(path, &text, e);
    if (st != ZP_OK) {
        if (st == ZP_ENOTFOUND || st == ZP_EIO)
            e->code = st = ZP_EINVAL;   /* a missing --config is bad input */
        return st;
    }
    st = zp_model_from_json(text, path, m, e);
    free(text);
    return st;
}

static void lower(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

static int valid_name(const char *s)
{
    if (!*s || strlen(s) > 60)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
            return 0;
    return 1;
}

/* name in lower case without its organisation ("meta-llama/"), a "-hf"
 * suffix and punctuation: how names that differ only in spelling compare */
static void squash(char *out, size_t n, const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *p = slash ? slash + 1 : name;
    size_t len = strlen(p), k = 0;
    if (len >= 3 && strcasecmp(p + len - 3, "-hf") == 0)
        len -= 3;
    for (size_t i = 0; i < len && k + 1 < n; i++)
        if (isalnum((unsigned char)p[i]))
            out[k++] = (char)tolower((unsigned char)p[i]);
    out[k] = '\0';
}

static zp_status unknown(const char *kind, const char *what, const char *name, zp_err *e)
{
    char names[64][64], list[1024] = "";
    int n = zp_preset_names(kind, names, 64);
    size_t used = 0;
    for (int i = 0; i < n && i < 64; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
        if (w > 0 && (size_t)w < sizeof list - used)
            used += (size_t)w;
    }
    /* presets renamed because their names promised a size they are not */
    static const struct { const char *old, *now, *why; } renamed[] = {
        {"cpm2-11b", "cpm2-decoder-7.4b", "a decoder-only stand-in of 7.36B parameters, not CPM-2's 11B"},
        {"t5-11b-decoder", "t5-decoder-9.8b", "a decoder-only stand-in of 9.8B parameters, not T5's 11B"},
    };
    for (size_t i = 0; i < sizeof renamed / sizeof renamed[0]; i++)
        if (strcmp(kind, "models") == 0 && strcmp(name, renamed[i].old) == 0)
            return zp_err_set(e, ZP_ENOTFOUND, "%s '%s' is now %s (%s)", what, name, renamed[i].now, renamed[i].why);
    if (n == 0)
        return zp_err_set(e, ZP_ENOTFOUND, "%s '%s': no presets found in %s/%s (set ZPLAN_DATADIR)", what, name,
                          zp_data_dir(), kind);
    /* a count given to --gpu (--gpu 8): --gpus was meant */
    if (strcmp(kind, "gpus") == 0 && name[0] && strspn(name, "0123456789") == strlen(name))
        return zp_err_set(e, ZP_ENOTFOUND, "%s '%s' is not a GPU preset: did you mean --gpus %s? (presets: %s)", what,
                          name, name, list);
    /* a Hugging Face repository's spelling of a preset (Llama-2-7b-hf,
     * meta-llama/Llama-2-7b, llama-2-7b): the same letters and digits */
    char want[64], have[64];
    squash(want, sizeof want, name);
    /* Meta's own spelling (Meta-Llama-3-8B) and Llama 3's point releases
     * (3.1, 3.2, 3.3: Llama 3's blocks, longer context) */
    char *w = want;
    if (!strncmp(w, "meta", 4) && !strncmp(w + 4, "llama", 5))
        w += 4;
    if (!strncmp(w, "llama3", 6) && w[6] >= '1' && w[6] <= '3' && isdigit((unsigned char)w[7]))
        memmove(w + 6, w + 7, strlen(w + 7) + 1);
    for (int i = 0; i < n && i < 64 && w[0]; i++) {
        squash(have, sizeof have, names[i]);
        if (strcmp(w, have) == 0)
            return zp_err_set(e, ZP_ENOTFOUND, "%s '%s' is not a preset: did you mean %s?", what, name, names[i]);
    }
    /* a family without its variant (--gpu H100, --gpu a100): its presets */
    char near[256] = "";
    size_t nu = 0;
    int nn = 0;
    size_t wl = strlen(w);
    for (int i = 0; i < n && i < 64 && wl >= 3 && nu < sizeof near; i++) {
        squash(have, sizeof have, names[i]);
        /* a model number ends where a digit meets a non-digit (H20 is
         * not the H200, nor A10 the A100): the name's character after the
         * wl letters and digits matched (a100-40g: '-' after "a100") */
        const char *q = names[i];
        for (size_t k = 0; *q && k < wl; q++)
            k += isalnum((unsigned char)*q) ? 1 : 0;
        if (!strncmp(have, w, wl) && !(isdigit((unsigned char)w[wl - 1]) && isdigit((unsigned char)*q))) {
            nu += (size_t)snprintf(near + nu, sizeof near - nu, "%s%s", nn ? " or " : "", names[i]);
            nn++;
        }
    }
    if (nn > 0 && nu < sizeof near)
        return zp_err_set(e, ZP_ENOTFOUND, "%s '%s' is not a preset: did you mean %s?", what, name, near);
    return zp_err_set(e, ZP_ENOTFOUND, "%s '%s' is not a preset (allowed: %s)", what, name, list);
}

static zp_status preset_text(const char *kind, const char *what, const char *name, char *path, size_t pn,
                             char **text, zp_err *e)
{
    char lname[64];
    lower(lname, sizeof lname, name);
    if (!valid_name(lname))
        return unknown(kind, what, name, e);
    snprintf(path, pn, "%s/%s/%s.json", zp_data_dir(), kind, lname);
    zp_status st = zp_read_file(path, text, e);
    if (st == ZP_ENOTFOUND)
        return unknown(kind, what, name, e);
    return st;
}

zp_status zp_model_preset(const char *name, zp_model *m, zp_err *e)
{
    char path[4096], *text;
    zp_status st = preset_text("models", "--model", name, path, sizeof path, &text, e);
    if (st != ZP_OK)
        return st;
    st = zp_model_from_json(text, path, m, e);
    free(text);
    if (st == ZP_OK) {
        char lname[64];
        lower(lname, sizeof lname, name);
        snprintf(m->name, sizeof m->name, "%s", lname);
    }
    return st;
}

static zp_status num_field(const cJSON *j, const char *where, const char *key, double lo, double hi, double *out,
                           int allow_null, zp_err *e)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (allow_null && (!v || cJSON_IsNull(v))) {
        *out = 0.0;
        return ZP_OK;
    }
    if (!v || !cJSON_IsNumber(v))
        return zp_err_set(e, ZP_EINVAL, "%s: \"%s\" must be a number", where, key);
    if (!isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return zp_err_set(e, ZP_EINVAL, "%s: \"%s\" = %g is out of range (allowed: %g to %g)", where, key,
                          v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return ZP_OK;
}

/* Bytes of v units (MiB, GiB; v >= 0 and checked), to the nearest byte: a
 * profile written as bytes / 2^20 with 15 significant digits (cJSON) reads
 * back as the same bytes, not one less each time it is rewritten. */
static uint64_t bytes_of(double v, double unit)
{
    return (uint64_t)llround(v * unit);
}

zp_status zp_gpu_from_json(const char *text, const char *where, zp_gpu *g, zp_err *e)
{
    zp_status st = ZP_OK;
    double mem, hbm, nvl, pcie, nic, gpn, host, ctx, nccl, cublas, granule, sms, fl[ZP_DT_N];
    cJSON *j = parse(text, where, e);
    if (!j)
        return ZP_EINVAL;
    memset(g, 0, sizeof *g);
    cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    cJSON *desc = cJSON_GetObjectItemCaseSensitive(j, "description");
    cJSON *peak = cJSON_GetObjectItemCaseSensitive(j, "peak_tflops");
    if (!cJSON_IsString(name) || !*name->valuestring) {
        st = zp_err_set(e, ZP_EINVAL, "%s: \"name\" must be a string, not empty", where);
        goto out;
    }
    if (!cJSON_IsObject(peak)) {
        st = zp_err_set(e, ZP_EINVAL, "%s: \"peak_tflops\" must be an object", where);
        goto out;
    }
    if (desc && !cJSON_IsNull(desc) && !cJSON_IsString(desc)) {
        st = zp_err_set(e, ZP_EINVAL, "%s: \"description\" must be a string", where);
        goto out;
    }
    {   /* every key one zplan reads (a misspelled optional one was ignored,
         * its default taken unsaid), or a note: a key ending in "source" */
        static const char *const keys[] = {
            "name", "description", "peak_tflops", "memory_mib", "hbm_gbps", "nvlink_gbps", "pcie_gbps", "nic_gbps",
            "gpus_per_node", "host_mem_gib", "cuda_context_mib", "nccl_comm_mib", "gemm_efficiency", "latency_us",
            "link_efficiency", "nvlink_efficiency", "host_adam_params_per_s", "elementwise_gbps", "cublas_mib",
            "alloc_granule_mib", "sms",
            "gemm_max_efficiency", "gemm_max_efficiency_benchmark", "attention_efficiency", "attention_efficiency_fa2",
            "attention_efficiency_cudnn", "attention_efficiency_engine", "gemm_max_efficiency_fp8", "compute_capability",
            /* zplan calibrate's: the sgemm benchmark's rate beside the
             * training step's, and what it measured, kept as read */
            "sgemm_shape_efficiency", "measured", NULL};
        static const char *const peaks[] = {"fp32", "tf32", "fp16", "bf16", "fp8", NULL};
        for (int level = 0; level < 2; level++) {
            const char *const *known = level ? peaks : keys;
            for (const cJSON *k = (level ? peak : j)->child; k; k = k->next) {
                size_t kl = strlen(k->string);
                const char *near = zp_nearest_name(known, k->string);
                if (!(near && !strcmp(near, k->string)) && !(!level && kl >= 6 && !strcmp(k->string + kl - 6, "source"))) {
                    char hint[96] = "";
                    if (near)
                        snprintf(hint, sizeof hint, "did you mean \"%s\"? ", near);
                    st = zp_err_set(e, ZP_EINVAL, "%s: unknown key \"%s%.64s\" (%s%s)", where,
                                    level ? "peak_tflops." : "", k->string, hint,
                                    level ? "allowed: fp32, tf32, fp16, bf16, fp8"
                                          : "a GPU file's keys are the presets', README \"Inputs\"; notes go in "
                                            "keys ending in \"source\"");
                    goto out;
                }
            }
        }
    }
    {   /* the required numbers: every missing one named at once */
        static const char *const req[] = {"memory_mib", "hbm_gbps", "nvlink_gbps", "pcie_gbps", "nic_gbps",
                                          "gpus_per_node", "host_mem_gib", "cuda_context_mib", "nccl_comm_mib", NULL};
        char miss[256] = "";
        size_t u = 0;
        for (int i = 0; req[i]; i++)
            if (!cJSON_GetObjectItemCaseSensitive(j, req[i]))
                u += (size_t)snprintf(miss + u, u < sizeof miss ? sizeof miss - u : 0, "%s\"%s\"", u ? ", " : "",
                                      req[i]);
        if (u) {
            st = zp_err_set(e, ZP_EINVAL, "%s: missing %s (a GPU file needs each of memory_mib, hbm_gbps, "
                            "nvlink_gbps, pcie_gbps, nic_gbps, gpus_per_node, host_mem_gib, cuda_context_mib, "
                            "nccl_comm_mib; see data/gpus/)", where, miss);
            goto out;
        }
    }
    if ((st = num_field(j, where, "memory_mib", 1, 1e9, &mem, 0, e)) ||
        (st = num_field(j, where, "hbm_gbps", 1e-3, 1e6, &hbm, 0, e)) ||
        (st = num_field(j, where, "nvlink_gbps", 1e-3, 1e6, &nvl, 0, e)) ||
        (st = num_field(j, where, "pcie_gbps", 1e-3, 1e6, &pcie, 0, e)) ||
        (st = num_field(j, where, "nic_gbps", 1e-3, 1e6, &nic, 0, e)) ||
        (st = num_field(j, where, "gpus_per_node", 1, 1024, &gpn, 0, e)) ||
        (gpn != floor(gpn) && (st = zp_err_set(e, ZP_EINVAL, "%s: \"gpus_per_node\" = %g is not a whole number of "
                                               "GPUs", where, gpn))) ||
        (st = num_field(j, where, "host_mem_gib", 1, 1e9, &host, 0, e)) ||
        (st = num_field(j, where, "cuda_context_mib", 0, 1e6, &ctx, 0, e)) ||
        (st = num_field(j, where, "nccl_comm_mib", 0, 1e6, &nccl, 0, e)))
        goto out;
    for (int d = 0; d < ZP_DT_N; d++)
        if ((st = num_field(peak, where, zp_dtype_names[d], 0, 1e9, &fl[d], 1, e)))
            goto out;
    if ((st = num_field(peak, where, "fp8", 0, 1e9, &g->peak_fp8, 1, e)))
        goto out;
    g->peak_fp8 *= 1e12;
    /* optional, as measured profiles have them */
    if ((st = num_field(j, where, "gemm_efficiency", 0, 1, &g->gemm_eff, 1, e)) ||
        (st = num_field(j, where, "latency_us", 0, 1e6, &g->alpha_s, 1, e)) ||
        (st = num_field(j, where, "link_efficiency", 0, 1, &g->link_eff, 1, e)) ||
        (st = num_field(j, where, "nvlink_efficiency", 0, 1, &g->nvlink_eff, 1, e)) ||
        (st = num_field(j, where, "host_adam_params_per_s", 1e3, 1e15, &g->host_adam_params_per_s, 1, e)) ||
        (st = num_field(j, where, "elementwise_gbps", 0, 1e6, &g->elementwise_bps, 1, e)) ||
        (st = num_field(j, where, "cublas_mib", 0, 1e6, &cublas, 1, e)) ||
        (st = num_field(j, where, "alloc_granule_mib", 0, 1024, &granule, 1, e)) ||
        (st = num_field(j, where, "sms", 0, 1e5, &sms, 1, e)) ||
        (sms != floor(sms) && (st = zp_err_set(e, ZP_EINVAL, "%s: \"sms\" = %g is not a whole number of "
                                               "multiprocessors", where, sms))) ||
        (st = num_field(j, where, "gemm_max_efficiency", 0, 1, &g->gemm_eff_max, 1, e)) ||
        (st = num_field(j, where, "gemm_max_efficiency_benchmark", 0, 1, &g->gemm_eff_max_bench, 1, e)) ||
        (st = num_field(j, where, "attention_efficiency", 0, 1, &g->attn_eff, 1, e)) ||
        (st = num_field(j, where, "attention_efficiency_fa2", 0, 1, &g->attn_eff_fa2, 1, e)) ||
        (st = num_field(j, where, "attention_efficiency_cudnn", 0, 1, &g->attn_eff_cudnn, 1, e)) ||
        (st = num_field(j, where, "attention_efficiency_engine", 0, 1, &g->attn_eff_engine, 1, e)) ||
        (st = num_field(j, where, "gemm_max_efficiency_fp8", 0, 1, &g->gemm_eff_max_fp8, 1, e)) ||
        (st = num_field(j, where, "compute_capability", 0, 20, &g->compute_cap, 1, e)))
        goto out;
    /* an optional rate or count of 0 would read as absent (the default):
     * refused rather than silently replaced */
    {
        static const char *const pos_keys[] = {
            "gemm_efficiency", "link_efficiency", "nvlink_efficiency", "elementwise_gbps", "sms", "compute_capability",
            "gemm_max_efficiency", "gemm_max_efficiency_benchmark", "attention_efficiency",
            "attention_efficiency_fa2", "attention_efficiency_cudnn", "attention_efficiency_engine",
            "gemm_max_efficiency_fp8", NULL};
        for (int i = 0; pos_keys[i]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, pos_keys[i]);
            if (cJSON_IsNumber(v) && v->valuedouble == 0.0) {
                st = zp_err_set(e, ZP_EINVAL, "%s: \"%s\" = 0 would mean the default (allowed: above 0, or absent "
                                "or null for the default)", where, pos_keys[i]);
                goto out;
            }
            /* as the command line's --gemm-eff, --attn-eff, ... allow: a rate of
             * 1e-300 would time a step in 1e300 s */
            if (cJSON_IsNumber(v) && strcmp(pos_keys[i], "sms") && v->valuedouble < 1e-3) {
                st = zp_err_set(e, ZP_EINVAL, "%s: \"%s\" = %g is out of range (allowed: %s, as on the command line)",
                                where, pos_keys[i], v->valuedouble,
                                strcmp(pos_keys[i], "elementwise_gbps") ? "0.001 to 1" : "0.001 to 1e+06");
                goto out;
            }
        }
    }
    if (g->gemm_eff_max_bench > 0 && g->gemm_eff_max_bench < g->gemm_eff_max) {
        st = zp_err_set(e, ZP_EINVAL, "%s: \"gemm_max_efficiency_benchmark\" = %g is below \"gemm_max_efficiency\" = %g "
                        "(a short benchmark reaches at least what training sustains)", where, g->gemm_eff_max_bench,
                        g->gemm_eff_max);
        goto out;
    }
    g->sms = (int64_t)sms;
    g->alpha_s *= 1e-6;
    g->elementwise_bps *= 1e9;
    snprintf(g->name, sizeof g->name, "%s", name->valuestring);
    snprintf(g->desc, sizeof g->desc, "%s", cJSON_IsString(desc) ? desc->valuestring : "");
    g->mem_bytes = bytes_of(mem, 1048576.0);
    for (int d = 0; d < ZP_DT_N; d++)
        g->peak_flops[d] = fl[d] * 1e12;
    g->hbm_gbps = hbm;
    g->nvlink_gbps = nvl;
    g->pcie_gbps = pcie;
    g->nic_gbps = nic;
    g->gpus_per_node = (int64_t)gpn;
    g->host_mem_bytes = bytes_of(host, 1073741824.0);
    g->cuda_ctx_bytes = bytes_of(ctx, 1048576.0);
    g->nccl_comm_bytes = bytes_of(nccl, 1048576.0);
    g->cublas_bytes = bytes_of(cublas, 1048576.0);
    g->alloc_granule_bytes = bytes_of(granule, 1048576.0);
out:
    cJSON_Delete(j);
    return st;
}

zp_status zp_gpu_preset(const char *name, zp_gpu *g, zp_err *e)
{
    char path[4096], *text;
    zp_status st = preset_text("gpus", "--gpu", name, path, sizeof path, &text, e);
    if (st != ZP_OK)
        return st;
    st = zp_gpu_from_json(text, path, g, e);
    free(text);
    return st;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int zp_preset_names(const char *kind, char (*names)[64], int max)
{
    char dir[4096];
    int n = 0;
    snprintf(dir, sizeof dir, "%s/%s", zp_data_dir(), kind);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < max) {
        size_t len = strlen(de->d_name);
        if (len > 5 && len < 64 && strcmp(de->d_name + len - 5, ".json") == 0) {
            memcpy(names[n], de->d_name, len - 5);
            names[n][len - 5] = '\0';
            n++;
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_names);
    return n;
}

cJSON *zp_gpu_to_json(const zp_gpu *g, const char *source)
{
    cJSON *p = cJSON_CreateObject();
    if (!p)
        return NULL;
    cJSON_AddStringToObject(p, "name", g->name);
    cJSON_AddStringToObject(p, "description", g->desc);
    cJSON_AddNumberToObject(p, "memory_mib", (double)g->mem_bytes / 1048576.0);
    cJSON *pk = cJSON_AddObjectToObject(p, "peak_tflops");
    for (int d = 0; d < ZP_DT_N; d++)
        if (g->peak_flops[d] > 0)
            cJSON_AddNumberToObject(pk, zp_dtype_names[d], g->peak_flops[d] / 1e12);
        else
            cJSON_AddNullToObject(pk, zp_dtype_names[d]);
    if (g->peak_fp8 > 0)
        cJSON_AddNumberToObject(pk, "fp8", g->peak_fp8 / 1e12);
    else
        cJSON_AddNullToObject(pk, "fp8");
    cJSON_AddNumberToObject(p, "hbm_gbps", g->hbm_gbps);
    cJSON_AddNumberToObject(p, "nvlink_gbps", g->nvlink_gbps);
    cJSON_AddNumberToObject(p, "pcie_gbps", g->pcie_gbps);
    cJSON_AddNumberToObject(p, "nic_gbps", g->nic_gbps);
    cJSON_AddNumberToObject(p, "gpus_per_node", (double)g->gpus_per_node);
    cJSON_AddNumberToObject(p, "host_mem_gib", (double)g->host_mem_bytes / 1073741824.0);
    cJSON_AddNumberToObject(p, "cuda_context_mib", (double)g->cuda_ctx_bytes / 1048576.0);
    cJSON_AddNumberToObject(p, "nccl_comm_mib", (double)g->nccl_comm_bytes / 1048576.0);
    cJSON_AddNumberToObject(p, "cublas_mib", (double)g->cublas_bytes / 1048576.0);
    cJSON_AddNumberToObject(p, "alloc_granule_mib", (double)g->alloc_granule_bytes / 1048576.0);
    if (g->gemm_eff > 0)
        cJSON_AddNumberToObject(p, "gemm_efficiency", g->gemm_eff);
    if (g->sms > 0)
        cJSON_AddNumberToObject(p, "sms", (double)g->sms);
    if (g->compute_cap > 0)
        cJSON_AddNumberToObject(p, "compute_capability", g->compute_cap);
    if (g->gemm_eff_max > 0)
        cJSON_AddNumberToObject(p, "gemm_max_efficiency", g->gemm_eff_max);
    if (g->gemm_eff_max_bench > 0)
        cJSON_AddNumberToObject(p, "gemm_max_efficiency_benchmark", g->gemm_eff_max_bench);
    if (g->attn_eff > 0)
        cJSON_AddNumberToObject(p, "attention_efficiency", g->attn_eff);
    if (g->attn_eff_fa2 > 0)
        cJSON_AddNumberToObject(p, "attention_efficiency_fa2", g->attn_eff_fa2);
    if (g->attn_eff_cudnn > 0)
        cJSON_AddNumberToObject(p, "attention_efficiency_cudnn", g->attn_eff_cudnn);
    if (g->attn_eff_engine > 0)
        cJSON_AddNumberToObject(p, "attention_efficiency_engine", g->attn_eff_engine);
    if (g->alpha_s > 0)
        cJSON_AddNumberToObject(p, "latency_us", g->alpha_s * 1e6);
    if (g->link_eff > 0)
        cJSON_AddNumberToObject(p, "link_efficiency", g->link_eff);
    if (g->nvlink_eff > 0)
        cJSON_AddNumberToObject(p, "nvlink_efficiency", g->nvlink_eff);
    if (g->host_adam_params_per_s > 0)
        cJSON_AddNumberToObject(p, "host_adam_params_per_s", g->host_adam_params_per_s);
    if (g->elementwise_bps > 0)
        cJSON_AddNumberToObject(p, "elementwise_gbps", g->elementwise_bps / 1e9);
    cJSON_AddStringToObject(p, "source", source ? source : "");
    return p;
}

int zp_gpu_preset_for_device(const char *device, zp_gpu *g)
{
    char names[128][64], dev[256], flat[256];
    lower(dev, sizeof dev, device);
    /* the name run together too ("geforce rtx 4090" has rtx4090), and the
     * H100 SXM5 board, which CUDA names "NVIDIA H100 80GB HBM3" (the PCIe
     * board says PCIe), as sxm */
    size_t k = 0;
    for (const char *c = dev; *c && k + 1 < sizeof flat; c++)
        if (*c != ' ' && *c != '-' && *c != '_')
            flat[k++] = *c;
    flat[k] = '\0';
    if (strstr(dev, "h100") && strstr(dev, "hbm3") && !strstr(dev, "pcie") && strlen(dev) + 5 < sizeof dev)
        strcat(dev, " sxm");
    int n = zp_preset_names("gpus", names, 128), best = -1;
    size_t best_len = 0;
    for (int i = 0; i < n && i < 128; i++) {
        char nm[64], *save = NULL;
        lower(nm, sizeof nm, names[i]);
        int all = 1;
        for (char *t = strtok_r(nm, "-", &save); t; t = strtok_r(NULL, "-", &save))
            all &= strstr(dev, t) != NULL || strstr(flat, t) != NULL;
        if (all && strlen(names[i]) > best_len)   /* the most specific: a100-80g before a100 */
            best = i, best_len = strlen(names[i]);
    }
    zp_err e = {0};
    return best >= 0 && zp_gpu_preset(names[best], g, &e) == ZP_OK;
}
