/* init.h - the engine's initial parameter values, one pure function of
 * (seed, unit, index) that every device row computes the same way (the CPU
 * row in C, the CUDA row in a kernel: this header is included by both), so
 * that value i of unit u is the same whatever the layout or device.
 *
 * A unit's parameters are described by segments, in order: segment k covers
 * the indices below seg[k].end not covered by the ones before it; its
 * values are `value` when std is 0, else std * N(0, 1) from a counter-based
 * generator (splitmix-style mixing, Box-Muller in double).  Indices at or
 * past `valid` (the padding of a ZeRO shard) are 0. */
#ifndef ZE_INIT_H
#define ZE_INIT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define ZE_HD __host__ __device__
#else
#define ZE_HD
#endif

enum { ZE_INIT_MAXSEG = 16 };

typedef struct ze_init_seg {
    uint64_t end;   /* one past this segment's last index in the unit */
    float value;    /* when std == 0 */
    float std;      /* > 0: std * N(0, 1) */
} ze_init_seg;

typedef struct ze_init_desc {
    uint32_t seed;
    uint32_t unit;
    int nseg;
    uint64_t valid;   /* the unit's parameters; indices at or past it are 0 */
    ze_init_seg seg[ZE_INIT_MAXSEG];
} ze_init_desc;

static inline ZE_HD uint64_t ze_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline ZE_HD float ze_gauss(uint32_t seed, uint64_t u, uint64_t i)
{
    uint64_t a = ze_mix(((uint64_t)seed << 40) ^ (u << 32) ^ (2 * i + 1));
    uint64_t b = ze_mix(a ^ 0x9e3779b97f4a7c15ULL);
    double u1 = ((double)(a >> 11) + 0.5) / 9007199254740992.0, u2 = (double)(b >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* The initial value of index i of the described unit. */
static inline ZE_HD float ze_init_value(const ze_init_desc *d, uint64_t i)
{
    if (i >= d->valid)
        return 0.0f;
    int k = 0;
    while (k + 1 < d->nseg && i >= d->seg[k].end)
        k++;
    return d->seg[k].std > 0.0f ? d->seg[k].std * ze_gauss(d->seed, d->unit, i) : d->seg[k].value;
}

#endif
