/* device.c - what every device row shares: tensors accounted in the
 * tracking allocator before the row is asked for their memory, and a table
 * of the live ones by address (device memory cannot carry a header the host
 * reads), so that a free knows its pool, class and size. */
#include "device.h"

#include <stdlib.h>
#include <string.h>

const char *const ze_dt_names[] = {"fp32", "bf16", "fp16", NULL};

static size_t slot_of(const void *p, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    return (size_t)(x & (uint64_t)(cap - 1));
}

/* Insert into a table of cap (a power of two) slots with room. */
static void put(ze_block *t, size_t cap, ze_block b)
{
    size_t i = slot_of(b.p, cap);
    while (t[i].p)
        i = (i + 1) & (cap - 1);
    t[i] = b;
}

static int grow(ze_dev *d)
{
    size_t cap = d->cap_blocks ? 2 * d->cap_blocks : 256;
    ze_block *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < d->cap_blocks; i++)
        if (d->blocks[i].p)
            put(t, cap, d->blocks[i]);
    free(d->blocks);
    d->blocks = t;
    d->cap_blocks = cap;
    return 0;
}

void *ze_dev_alloc(ze_dev *d, ze_pool pool, ze_class cls, size_t bytes, int zero)
{
    ze_alloc *a = d->a;
    if ((d->nblocks + 1) * 2 > d->cap_blocks && grow(d) != 0)
        return NULL;
    uint64_t peak = a->peak_total[pool];
    if (a->cap[pool] && a->live_total[pool] + bytes > a->cap[pool]) {   /* over the cap: ask no memory */
        ze_alloc_refused(a, pool, bytes);
        return NULL;
    }
    void *p = d->ops->mem_alloc(d, pool, bytes ? bytes : 1);
    if (!p) {   /* the row had no room: out of memory, as the cap's */
        ze_alloc_refused(a, pool, bytes);
        return NULL;
    }
    if (ze_alloc_take(a, pool, cls, bytes) != 0) {
        d->ops->mem_free(d, pool, p);
        return NULL;
    }
    put(d->blocks, d->cap_blocks, (ze_block){p, bytes, (uint32_t)pool, (uint32_t)cls});
    d->nblocks++;
    if (zero && bytes)
        d->ops->zero(d, p, pool, bytes);
    if (pool == ZE_DEVICE && a->peak_total[pool] > peak && d->on_peak)
        d->on_peak(d);
    return p;
}

void ze_dev_free(ze_dev *d, void *p)
{
    if (!p)
        return;
    if (!d->cap_blocks)
        abort();   /* nothing is live: not a tensor of ours, a bug */
    size_t i = slot_of(p, d->cap_blocks);
    while (d->blocks[i].p != p) {
        if (!d->blocks[i].p)
            abort();   /* not a live tensor: a bug, not an input */
        i = (i + 1) & (d->cap_blocks - 1);
    }
    ze_block b = d->blocks[i];
    ze_alloc_give(d->a, (ze_pool)b.pool, (ze_class)b.cls, b.bytes);
    d->ops->mem_free(d, (ze_pool)b.pool, p);
    /* backward-shift deletion keeps every probe sequence unbroken */
    d->blocks[i].p = NULL;
    d->nblocks--;
    for (size_t j = (i + 1) & (d->cap_blocks - 1); d->blocks[j].p; j = (j + 1) & (d->cap_blocks - 1)) {
        ze_block m = d->blocks[j];
        d->blocks[j].p = NULL;
        put(d->blocks, d->cap_blocks, m);
    }
}

void *ze_dev_raw(ze_dev *d, size_t bytes)
{
    return d->ops->mem_alloc(d, ZE_DEVICE, bytes ? bytes : 1);
}

void ze_dev_raw_free(ze_dev *d, void *p)
{
    if (p)
        d->ops->mem_free(d, ZE_DEVICE, p);
}

void ze_dev_fini(ze_dev *d)
{
    if (!d->ops)
        return;
    for (size_t i = 0; i < d->cap_blocks; i++)
        if (d->blocks[i].p) {
            ze_alloc_give(d->a, (ze_pool)d->blocks[i].pool, (ze_class)d->blocks[i].cls, d->blocks[i].bytes);
            d->ops->mem_free(d, (ze_pool)d->blocks[i].pool, d->blocks[i].p);
        }
    free(d->blocks);
    d->blocks = NULL;
    d->nblocks = d->cap_blocks = 0;
    if (d->ops->fini)
        d->ops->fini(d);
    d->ops = NULL;
}
