/* preset.h - model and GPU presets (data/models, data/gpus) and Hugging
 * Face config.json files, read with cJSON.  Shell code: touches files. */
#ifndef ZP_PRESET_H
#define ZP_PRESET_H

#include "core.h"

#include <cjson/cJSON.h>

/* The data directory: $ZPLAN_DATADIR, else the source tree's data/ (when
 * run from a build tree), else the installed $(pkgdatadir). */
const char *zp_data_dir(void);

/* Parse a config.json text (HF GPT-2 or LLaMA field names, plus zplan_*
 * keys); `where` names it in errors. */
zp_status zp_model_from_json(const char *text, const char *where, zp_model *m, zp_err *e);
/* Read a config.json file. */
zp_status zp_model_from_file(const char *path, zp_model *m, zp_err *e);
/* Load a preset by name from data/models (case-insensitive). */
zp_status zp_model_preset(const char *name, zp_model *m, zp_err *e);

zp_status zp_gpu_from_json(const char *text, const char *where, zp_gpu *g, zp_err *e);
zp_status zp_gpu_preset(const char *name, zp_gpu *g, zp_err *e);
/* The GPU in the preset format (what zp_gpu_from_json reads back), with
 * the source given; NULL when out of memory. */
struct cJSON *zp_gpu_to_json(const zp_gpu *g, const char *source);
/* The preset whose name names this device ("NVIDIA H200" -> h200: every
 * part of the preset's name, split at '-', found in the device's name,
 * ignoring case, as it is or run together without spaces and dashes:
 * "NVIDIA GeForce RTX 4090" -> rtx4090; "NVIDIA H100 80GB HBM3", the SXM
 * board's name, -> h100-sxm); 1 when one was found. */
int zp_gpu_preset_for_device(const char *device, zp_gpu *g);

/* Names of the presets in data/<kind> ("models" or "gpus"), sorted;
 * returns the count, fills at most max names (each up to 63 chars). */
int zp_preset_names(const char *kind, char (*names)[64], int max);

/* Read a whole file into a malloc'd NUL-terminated buffer. */
zp_status zp_read_file(const char *path, char **text, zp_err *e);

/* A key that appears twice in one object of o, at any depth (cJSON reads
 * the first and keeps both), or NULL. */
const char *zp_json_dup_key(const cJSON *o);

#endif
