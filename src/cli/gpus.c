/* gpus.c - `zplan gpus`: the GPU presets. */
#include "config.h"
#include "cli.h"
#include "opts.h"
#include "preset.h"
#include "render.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const zp_opt gpus_opts[] = {
    {"db", ZP_SO_DB, "PATH", NULL, "accepted as every command takes it (the presets are files, not in it)", "\nOptions:"},
    {"json", ZP_SO_JSON, NULL, NULL, "print the presets as JSON", NULL},
    ZP_OPT_UNITS(ZP_SO_UNITS),
    ZP_OPT_HELP(ZP_SO_HELP),
    ZP_OPT_END};

static int zp_cmd_gpus(zp_cli *cli, int argc, char **argv)
{
    zp_small_opts o;
    zp_status st = zp_small_parse(cli, "gpus", gpus_opts, argc, argv, &o, 0);
    if (st)
        return zp_fail(cli, st);
    if (o.help)
        return zp_usage(&zp_gpus_cmd);
    char names[128][64];
    int n = zp_preset_names("gpus", names, 128);
    if (n == 0)
        return zp_fail(cli, zp_err_set(&cli->err, ZP_EIO, "no GPU presets in %s/gpus (set ZPLAN_DATADIR)",
                                       zp_data_dir()));
    cJSON *arr = o.json ? cJSON_CreateArray() : NULL;
    if (!o.json)
        printf("%-12s %-12s %10s %8s %8s %8s %7s %7s %6s %5s %10s  %s\n", "preset", "name", "memory", "fp32", "fp16",
               "bf16", "HBM", "NVLink", "NIC", "/node", "host/node", "description");
    int bad = 0;   /* presets that do not read: listed without them, then exit 1 */
    for (int i = 0; i < n; i++) {
        zp_gpu g;
        zp_err e;
        char m[32], h[32];
        if (zp_gpu_preset(names[i], &g, &e) != ZP_OK) {
            fprintf(stderr, "%s: %s\n", cli->prog, e.msg);
            bad++;
            continue;
        }
        if (o.json) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "preset", names[i]);
            cJSON_AddStringToObject(x, "name", g.name);
            cJSON_AddNumberToObject(x, "memory_bytes", (double)g.mem_bytes);
            for (int d = 0; d < ZP_DT_N; d++)
                cJSON_AddNumberToObject(x, d == 0 ? "fp32_flops" : d == 1 ? "fp16_flops" : "bf16_flops",
                                        g.peak_flops[d]);
            cJSON_AddNumberToObject(x, "hbm_gbps", g.hbm_gbps);
            cJSON_AddNumberToObject(x, "nvlink_gbps", g.nvlink_gbps);
            cJSON_AddNumberToObject(x, "nic_gbps", g.nic_gbps);
            cJSON_AddNumberToObject(x, "gpus_per_node", (double)g.gpus_per_node);
            cJSON_AddNumberToObject(x, "host_memory_bytes", (double)g.host_mem_bytes);
            cJSON_AddItemToArray(arr, x);
        } else
            printf("%-12s %-12s %10s %8.1f %8.1f %8.1f %7.0f %7.0f %6.1f %5lld %10s  %s\n", names[i], g.name,
                   zp_fmt_bytes(m, sizeof m, g.mem_bytes, o.units), g.peak_flops[0] / 1e12, g.peak_flops[1] / 1e12,
                   g.peak_flops[2] / 1e12, g.hbm_gbps, g.nvlink_gbps, g.nic_gbps, (long long)g.gpus_per_node,
                   zp_fmt_bytes(h, sizeof h, g.host_mem_bytes, o.units), g.desc);
    }
    if (arr) {
        char *t = cJSON_Print(arr);
        puts(t ? t : "[]");
        free(t);
        cJSON_Delete(arr);
    } else
        printf("(peak: dense TFLOP/s; bandwidths: GB/s per GPU, one direction)\n");
    return bad ? 1 : 0;
}

static const char gpus_usage[] =
    "Usage: zplan gpus [--json] [--units gib|gb]\n\nList the GPU presets of data/gpus: memory, dense peak FLOP/s per "
    "dtype,\nmemory, NVLink and network bandwidth, node size and host RAM.\n";

const zp_cmd zp_gpus_cmd = {"gpus", zp_cmd_gpus, "list GPU presets", gpus_usage, gpus_opts, NULL};
