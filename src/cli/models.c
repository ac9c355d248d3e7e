/* models.c - `zplan models`: the model presets. */
#include "config.h"
#include "cli.h"
#include "opts.h"
#include "preset.h"
#include "render.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const zp_opt models_opts[] = {
    {"db", ZP_SO_DB, "PATH", NULL, "accepted as every command takes it (the presets are files, not in it)", "\nOptions:"},
    {"json", ZP_SO_JSON, NULL, NULL, "print the presets as JSON", NULL},
    ZP_OPT_HELP(ZP_SO_HELP),
    ZP_OPT_END};

static int zp_cmd_models(zp_cli *cli, int argc, char **argv)
{
    zp_small_opts o;
    zp_status st = zp_small_parse(cli, "models", models_opts, argc, argv, &o, 0);
    if (st)
        return zp_fail(cli, st);
    if (o.help)
        return zp_usage(&zp_models_cmd);
    char names[128][64];
    int n = zp_preset_names("models", names, 128);
    if (n == 0)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "no model presets in %s/models (set ZPLAN_DATADIR)",
                                       zp_data_dir()));
    cJSON *arr = o.json ? cJSON_CreateArray() : NULL;
    if (!o.json)
        printf("%-18s %6s %7s %6s %5s %7s %8s %10s  %s\n", "name", "layers", "hidden", "heads", "kv", "ffn", "vocab",
               "params", "kind");
    int bad = 0;   /* presets that do not read: listed without them, then exit 1 */
    for (int i = 0; i < n; i++) {
        zp_model m;
        zp_err e;
        char c[32];
        if (zp_model_preset(names[i], &m, &e) != ZP_OK) {
            fprintf(stderr, "%s: %s\n", cli->prog, e.msg);
            bad++;
            continue;
        }
        if (o.json) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "name", m.name);
            cJSON_AddNumberToObject(x, "params", (double)zp_model_params(&m));
            cJSON_AddNumberToObject(x, "layers", (double)m.layers);
            cJSON_AddNumberToObject(x, "hidden", (double)m.hidden);
            cJSON_AddNumberToObject(x, "heads", (double)m.heads);
            cJSON_AddNumberToObject(x, "kv_heads", (double)m.kv_heads);
            cJSON_AddNumberToObject(x, "ffn", (double)m.ffn);
            cJSON_AddNumberToObject(x, "vocab", (double)m.vocab);
            /* what the text's kind column says, and the positions */
            cJSON_AddStringToObject(x, "mlp", m.mlp == ZP_MLP_GELU ? "gelu" : "swiglu");
            cJSON_AddStringToObject(x, "norm", m.norm == ZP_NORM_LAYERNORM ? "layernorm" : "rmsnorm");
            cJSON_AddStringToObject(x, "position", m.pos == ZP_POS_LEARNED ? "learned" : m.pos == ZP_POS_ROTARY ? "rotary"
                                                                                                                : "alibi");
            cJSON_AddBoolToObject(x, "tied_embeddings", m.tied);
            cJSON_AddNumberToObject(x, "max_positions", (double)m.max_pos);
            cJSON_AddItemToArray(arr, x);
        } else
            printf("%-18s %6lld %7lld %6lld %5lld %7lld %8lld %10s  %s %s%s\n", m.name, (long long)m.layers,
                   (long long)m.hidden, (long long)m.heads, (long long)m.kv_heads, (long long)m.ffn,
                   (long long)m.vocab, zp_fmt_count(c, sizeof c, (double)zp_model_params(&m)),
                   m.mlp == ZP_MLP_GELU ? "GELU" : "SwiGLU", m.norm == ZP_NORM_LAYERNORM ? "LayerNorm" : "RMSNorm",
                   m.tied ? ", tied" : "");
    }
    if (arr) {
        char *t = cJSON_Print(arr);
        puts(t ? t : "[]");
        free(t);
        cJSON_Delete(arr);
    }
    return bad ? 1 : 0;
}

static const char models_usage[] =
    "Usage: zplan models [--json]\n\nList the model presets of data/models with their shapes and parameter counts.\n";

const zp_cmd zp_models_cmd = {"models", zp_cmd_models, "list model presets", models_usage, models_opts, NULL};
