/* test_alloc.c - the engine's tracking allocator (live and peak bytes per
 * pool and class, the breakdown and phase at the peak, the cap, rounding to
 * a granule) and the device layer's tensors above it (device.c through the
 * CPU row: accounted before the memory is taken, found again by address
 * when freed, zeroed on request, a refusal recorded as out of memory). */
#include "alloc.h"
#include "device.h"
#include "tap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void accounting(void)
{
    ze_alloc a;
    ze_alloc_init(&a, 1000, 0);
    a.phase = ZE_SETUP;
    ok(ze_alloc_take(&a, ZE_DEVICE, ZE_PARAMS, 400) == 0, "400 bytes of params taken");
    is_u64(a.live[ZE_DEVICE][ZE_PARAMS], 400, "params live 400");
    a.phase = ZE_FWD;
    ok(ze_alloc_take(&a, ZE_DEVICE, ZE_ACT, 500) == 0, "500 bytes of activations under the 1000-byte cap");
    is_u64(a.peak_total[ZE_DEVICE], 900, "device peak 400 + 500");
    is_u64(a.at_peak[ZE_DEVICE][ZE_ACT], 500, "activations at the peak");
    ok(a.peak_phase[ZE_DEVICE] == ZE_FWD, "the peak happened in forward");
    ok(ze_alloc_take(&a, ZE_DEVICE, ZE_BUF, 101) == -1 && a.oom && a.oom_request == 101 && a.oom_pool == ZE_DEVICE,
       "101 more bytes exceed the cap: refused, recorded as out of memory");
    is_u64(a.live_total[ZE_DEVICE], 900, "a refused request changes nothing live");
    ze_alloc_give(&a, ZE_DEVICE, ZE_ACT, 500);
    is_u64(a.live[ZE_DEVICE][ZE_ACT], 0, "freed activations");
    is_u64(a.peak[ZE_DEVICE][ZE_ACT], 500, "the activations' peak stays");
    a.phase = ZE_BWD;
    ok(ze_alloc_take(&a, ZE_DEVICE, ZE_BUF, 600) == 0, "600 bytes fit after the free");
    is_u64(a.peak_total[ZE_DEVICE], 1000, "new device peak 400 + 600");
    is_u64(a.at_peak[ZE_DEVICE][ZE_ACT], 0, "the breakdown is the one at the new peak");
    is_u64(a.at_peak[ZE_DEVICE][ZE_BUF], 600, "buffers at the new peak");
    ok(a.peak_phase[ZE_DEVICE] == ZE_BWD, "the new peak happened in backward");
    is_u64(a.phase_peak[ZE_DEVICE][ZE_FWD], 900, "forward's own peak: 400 + 500");
    is_u64(a.phase_at_peak[ZE_DEVICE][ZE_FWD][ZE_ACT], 500, "forward's peak held 500 of activations");
    is_u64(a.phase_peak[ZE_DEVICE][ZE_BWD], 1000, "backward's own peak: 400 + 600");
    is_u64(a.phase_at_peak[ZE_DEVICE][ZE_BWD][ZE_BUF], 600, "backward's peak held 600 of buffers");
    is_u64(a.phase_peak[ZE_DEVICE][ZE_LOSS], 0, "nothing was allocated in the loss phase");
    ok(ze_alloc_take(&a, ZE_HOST, ZE_OPTIM, 5000) == 0, "the host pool has no cap here");
    is_u64(a.peak_total[ZE_HOST], 5000, "host peak");
    is_u64(a.peak_total[ZE_DEVICE], 1000, "host bytes do not count on the device");
    ze_alloc_give(&a, ZE_DEVICE, ZE_PARAMS, 400);
    ze_alloc_give(&a, ZE_DEVICE, ZE_BUF, 600);
    ze_alloc_give(&a, ZE_HOST, ZE_OPTIM, 5000);
    is_u64(a.live_total[ZE_DEVICE] + a.live_total[ZE_HOST], 0, "everything freed");
    ze_alloc_reset_peaks(&a);
    is_u64(a.peak_total[ZE_DEVICE], 0, "peaks reset to what is live");

    /* a 2 MiB granule (the CUDA row's per-tensor cudaMalloc): 1 byte
     * reserves 2 MiB, 2 MiB + 1 reserves 4 MiB, 2 MiB exactly 2 MiB */
    ze_alloc g;
    ze_alloc_init(&g, 0, 0);
    g.granule[ZE_DEVICE] = 2u << 20;
    ze_alloc_take(&g, ZE_DEVICE, ZE_PARAMS, 1);
    ze_alloc_take(&g, ZE_DEVICE, ZE_GRADS, (2u << 20) + 1);
    ze_alloc_take(&g, ZE_DEVICE, ZE_OPTIM, 2u << 20);
    is_u64(g.rounded_live[ZE_DEVICE], 8u << 20, "rounded: 2 + 4 + 2 MiB reserved for 1 B, 2 MiB + 1 B, 2 MiB");
    is_u64(g.rounded_at_peak[ZE_DEVICE], 8u << 20, "the rounded total as it stood at the peak");
    ze_alloc_give(&g, ZE_DEVICE, ZE_GRADS, (2u << 20) + 1);
    is_u64(g.rounded_live[ZE_DEVICE], 4u << 20, "freeing gives back its rounded size");
    is_u64(g.rounded_at_peak[ZE_DEVICE], 8u << 20, "the peak's stays");
}

static int peaks_seen;
static void on_peak(ze_dev *d)
{
    (void)d;
    peaks_seen++;
}

/* A row whose memory refuses what is larger than 1 MiB, as cudaMalloc does
 * when the GPU is full. */
static void *(*cpu_alloc)(ze_dev *, ze_pool, size_t);
static void *small_alloc(ze_dev *d, ze_pool pool, size_t bytes)
{
    return bytes > (1u << 20) ? NULL : cpu_alloc(d, pool, bytes);
}

static void tensors(void)
{
    ze_alloc a;
    ze_dev d;
    ze_alloc_init(&a, 0, 0);
    ze_dev_cpu_init(&d, &a);
    ok(strcmp(d.ops->name, "cpu") == 0 && d.ordinal == -1, "the CPU row");
    d.on_peak = on_peak;
    /* many tensors freed in a scrambled order: each one's class and size
     * found again by its address (the table grows past 256 slots) */
    enum { N = 1000 };
    static void *p[N];
    uint64_t want = 0;
    int zeroed = 1;
    for (int i = 0; i < N; i++) {
        size_t bytes = (size_t)(i % 7 + 1) * 24;
        p[i] = ze_dev_alloc(&d, i % 2 ? ZE_HOST : ZE_DEVICE, (ze_class)(i % ZE_NCLASS), bytes, 1);
        for (size_t k = 0; p[i] && k < bytes; k++)
            zeroed &= ((unsigned char *)p[i])[k] == 0;
        if (p[i])
            memset(p[i], 0xab, bytes);
        want += bytes;
    }
    ok(zeroed, "tensors asked zeroed are zero");
    is_u64(a.live_total[ZE_DEVICE] + a.live_total[ZE_HOST], want, "1000 tensors live: %llu bytes",
           (unsigned long long)want);
    is_u64(d.nblocks, N, "1000 tensors in the table");
    ok(peaks_seen >= 1 && peaks_seen <= N / 2 + 1, "the row was told of each new device peak (%d times)",
       peaks_seen);
    for (int i = 0; i < N; i++) {   /* a permutation: i * 7919 mod N */
        int j = (int)(((long)i * 7919) % N);
        ze_dev_free(&d, p[j]);
    }
    is_u64(a.live_total[ZE_DEVICE] + a.live_total[ZE_HOST], 0, "all freed: nothing live");
    for (int k = 0; k < ZE_NCLASS; k++)
        if (a.live[ZE_DEVICE][k] || a.live[ZE_HOST][k])
            ok(0, "class %d still live", k);
    is_u64(d.nblocks, 0, "the table is empty");
    void *one = ze_dev_alloc(&d, ZE_DEVICE, ZE_GRADS, 4096, 1);
    uint64_t live1 = a.live_total[ZE_DEVICE];
    ze_dev_free(&d, NULL);
    ok(one && d.nblocks == 1 && a.live_total[ZE_DEVICE] == live1 && a.live[ZE_DEVICE][ZE_GRADS] == live1,
       "freeing NULL does nothing: the one live block stays, %llu bytes", (unsigned long long)live1);
    ze_dev_free(&d, one);

    /* the row refuses: out of memory, as the cap's, nothing counted */
    cpu_alloc = d.ops->mem_alloc;
    ze_dev_ops ops = *d.ops;
    ops.mem_alloc = small_alloc;
    d.ops = &ops;
    uint64_t peak = a.peak_total[ZE_DEVICE];
    void *q = ze_dev_alloc(&d, ZE_DEVICE, ZE_PARAMS, 2u << 20, 0);
    ok(q == NULL && a.oom && a.oom_request == 2u << 20 && a.oom_pool == ZE_DEVICE,
       "a request the row refuses is an out-of-memory outcome");
    is_u64(a.live_total[ZE_DEVICE], 0, "and counts nothing live");
    is_u64(a.peak_total[ZE_DEVICE], peak, "nor raises the peak");
    void *r = ze_dev_alloc(&d, ZE_DEVICE, ZE_PARAMS, 100, 0);
    ok(r != NULL, "a smaller one is still given");
    ze_dev_fini(&d);
    is_u64(a.live_total[ZE_DEVICE], 0, "fini frees what is still live");
    ze_dev_fini(&d);
    ok(d.ops == NULL, "fini twice is harmless");
}

int main(void)
{
    tap_plan(0);
    accounting();
    tensors();
    return tap_exit();
}
