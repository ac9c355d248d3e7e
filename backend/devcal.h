/* devcal.h - a device row's rates, measured through its own table
 * (devcal.c): zplan-engine calibrate backend=cuda|cpu. */
#ifndef ZE_DEVCAL_H
#define ZE_DEVCAL_H

#include "device.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* Measure row d (GEMMs up to max_dim on a side, from fp32 tensors and at
 * the layers' shapes from bf16 operands too, the elementwise rate, flash
 * attention under bf16 math, the runtime's memory) into out; 0, or -1
 * with msg. */
int ze_devcal(ze_dev *d, int max_dim, cJSON *out, char *msg, size_t mn);

#endif
