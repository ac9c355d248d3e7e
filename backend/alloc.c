/* alloc.c - the tracking allocator's accounting: live and peak bytes per
 * pool and class, the breakdown and phase at each peak. */
#include "alloc.h"

#include <string.h>

const char *const ze_class_names[] = {"params", "grads", "optimizer", "activations", "buffers", NULL};
const char *const ze_phase_names[] = {"setup", "forward", "loss", "backward", "optimizer", NULL};

void ze_alloc_init(ze_alloc *a, uint64_t device_cap, uint64_t host_cap)
{
    memset(a, 0, sizeof *a);
    a->cap[ZE_DEVICE] = device_cap;
    a->cap[ZE_HOST] = host_cap;
}

static uint64_t rounded(const ze_alloc *a, ze_pool pool, uint64_t bytes)
{
    uint64_t g = a->granule[pool];
    return g ? (bytes + g - 1) / g * g : bytes;
}

void ze_alloc_refused(ze_alloc *a, ze_pool pool, uint64_t bytes)
{
    if (!a->oom) {
        a->oom = 1;
        a->oom_request = bytes;
        a->oom_pool = pool;
    }
}

int ze_alloc_take(ze_alloc *a, ze_pool pool, ze_class cls, uint64_t bytes)
{
    if (a->cap[pool] && a->live_total[pool] + bytes > a->cap[pool]) {
        ze_alloc_refused(a, pool, bytes);
        return -1;
    }
    a->live[pool][cls] += bytes;
    a->live_total[pool] += bytes;
    a->rounded_live[pool] += rounded(a, pool, bytes);
    if (a->live[pool][cls] > a->peak[pool][cls])
        a->peak[pool][cls] = a->live[pool][cls];
    if (a->live_total[pool] > a->peak_total[pool]) {
        a->peak_total[pool] = a->live_total[pool];
        memcpy(a->at_peak[pool], a->live[pool], sizeof a->at_peak[pool]);
        a->peak_phase[pool] = a->phase;
        a->rounded_at_peak[pool] = a->rounded_live[pool];
    }
    if (a->live_total[pool] > a->phase_peak[pool][a->phase]) {
        a->phase_peak[pool][a->phase] = a->live_total[pool];
        memcpy(a->phase_at_peak[pool][a->phase], a->live[pool], sizeof a->phase_at_peak[pool][a->phase]);
    }
    return 0;
}

void ze_alloc_give(ze_alloc *a, ze_pool pool, ze_class cls, uint64_t bytes)
{
    a->live[pool][cls] -= bytes;
    a->live_total[pool] -= bytes;
    a->rounded_live[pool] -= rounded(a, pool, bytes);
}

void ze_alloc_reset_peaks(ze_alloc *a)
{
    for (int p = 0; p < ZE_NPOOL; p++) {
        memcpy(a->peak[p], a->live[p], sizeof a->peak[p]);
        a->peak_total[p] = a->live_total[p];
        memcpy(a->at_peak[p], a->live[p], sizeof a->at_peak[p]);
        a->peak_phase[p] = a->phase;
        a->rounded_at_peak[p] = a->rounded_live[p];
        memset(a->phase_peak[p], 0, sizeof a->phase_peak[p]);
        memset(a->phase_at_peak[p], 0, sizeof a->phase_at_peak[p]);
    }
}
