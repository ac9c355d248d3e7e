/* alloc.c - tracking allocator: a small header before each block records
 * its size, pool and class, so that free knows what to subtract. */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

const char *const ze_class_names[] = {"params", "grads", "optimizer", "activations", "buffers", NULL};
const char *const ze_phase_names[] = {"setup", "forward", "loss", "backward", "optimizer", NULL};

typedef struct hdr {
    uint64_t bytes;
    uint32_t pool, cls;
    uint64_t pad;   /* keep the block 32-byte aligned after a 32-byte header */
    uint64_t magic;
} hdr;

#define ZE_MAGIC 0x7a706c616e616c6cULL

void ze_alloc_init(ze_alloc *a, uint64_t device_cap, uint64_t host_cap)
{
    memset(a, 0, sizeof *a);
    a->cap[ZE_DEVICE] = device_cap;
    a->cap[ZE_HOST] = host_cap;
}

static void *ze_get(ze_alloc *a, ze_pool pool, ze_class cls, size_t bytes, int zero);

void *ze_calloc(ze_alloc *a, ze_pool pool, ze_class cls, size_t bytes)
{
    return ze_get(a, pool, cls, bytes, 1);
}

void *ze_malloc(ze_alloc *a, ze_pool pool, ze_class cls, size_t bytes)
{
    return ze_get(a, pool, cls, bytes, 0);
}

static void *ze_get(ze_alloc *a, ze_pool pool, ze_class cls, size_t bytes, int zero)
{
    if (a->cap[pool] && a->live_total[pool] + bytes > a->cap[pool]) {
        if (!a->oom) {
            a->oom = 1;
            a->oom_request = bytes;
            a->oom_pool = pool;
        }
        return NULL;
    }
    hdr *h = NULL;
    if (posix_memalign((void **)&h, 64, sizeof(hdr) + bytes) != 0)
        return NULL;
    if (zero)
        memset(h + 1, 0, bytes);
    h->bytes = bytes;
    h->pool = (uint32_t)pool;
    h->cls = (uint32_t)cls;
    h->magic = ZE_MAGIC;
    a->live[pool][cls] += bytes;
    a->live_total[pool] += bytes;
    if (a->live[pool][cls] > a->peak[pool][cls])
        a->peak[pool][cls] = a->live[pool][cls];
    if (a->live_total[pool] > a->peak_total[pool]) {
        a->peak_total[pool] = a->live_total[pool];
        memcpy(a->at_peak[pool], a->live[pool], sizeof a->at_peak[pool]);
        a->peak_phase[pool] = a->phase;
    }
    if (a->live_total[pool] > a->phase_peak[pool][a->phase]) {
        a->phase_peak[pool][a->phase] = a->live_total[pool];
        memcpy(a->phase_at_peak[pool][a->phase], a->live[pool], sizeof a->phase_at_peak[pool][a->phase]);
    }
    return h + 1;
}

void ze_free(ze_alloc *a, void *p)
{
    if (!p)
        return;
    hdr *h = (hdr *)p - 1;
    if (h->magic != ZE_MAGIC)
        abort();   /* not ours: a bug, not an input */
    h->magic = 0;
    a->live[h->pool][h->cls] -= h->bytes;
    a->live_total[h->pool] -= h->bytes;
    free(h);
}

void ze_alloc_reset_peaks(ze_alloc *a)
{
    for (int p = 0; p < ZE_NPOOL; p++) {
        memcpy(a->peak[p], a->live[p], sizeof a->peak[p]);
        a->peak_total[p] = a->live_total[p];
        memcpy(a->at_peak[p], a->live[p], sizeof a->at_peak[p]);
        a->peak_phase[p] = a->phase;
        memset(a->phase_peak[p], 0, sizeof a->phase_peak[p]);
        memset(a->phase_at_peak[p], 0, sizeof a->phase_at_peak[p]);
    }
}
