/* test_alloc.c - the engine's tracking allocator: live and peak bytes per
 * pool and class, the breakdown and phase at the peak, the cap. */
#include "alloc.h"
#include "tap.h"

#include <stdint.h>

int main(void)
{
    tap_plan(0);
    ze_alloc a;
    ze_alloc_init(&a, 1000, 0);
    a.phase = ZE_SETUP;
    char *p = ze_calloc(&a, ZE_DEVICE, ZE_PARAMS, 400);
    ok(p && p[0] == 0 && p[399] == 0, "400 zeroed bytes of params");
    is_u64(a.live[ZE_DEVICE][ZE_PARAMS], 400, "params live 400");
    a.phase = ZE_FWD;
    char *q = ze_calloc(&a, ZE_DEVICE, ZE_ACT, 500);
    ok(q != NULL, "500 bytes of activations under the 1000-byte cap");
    is_u64(a.peak_total[ZE_DEVICE], 900, "device peak 400 + 500");
    is_u64(a.at_peak[ZE_DEVICE][ZE_ACT], 500, "activations at the peak");
    ok(a.peak_phase[ZE_DEVICE] == ZE_FWD, "the peak happened in forward");
    char *r = ze_calloc(&a, ZE_DEVICE, ZE_BUF, 101);
    ok(r == NULL && a.oom && a.oom_request == 101 && a.oom_pool == ZE_DEVICE,
       "101 more bytes exceed the cap: refused, recorded as out of memory");
    is_u64(a.live_total[ZE_DEVICE], 900, "a refused request changes nothing live");
    ze_free(&a, q);
    is_u64(a.live[ZE_DEVICE][ZE_ACT], 0, "freed activations");
    is_u64(a.peak[ZE_DEVICE][ZE_ACT], 500, "the activations' peak stays");
    a.phase = ZE_BWD;
    char *s = ze_calloc(&a, ZE_DEVICE, ZE_BUF, 600);
    ok(s != NULL, "600 bytes fit after the free");
    is_u64(a.peak_total[ZE_DEVICE], 1000, "new device peak 400 + 600");
    is_u64(a.at_peak[ZE_DEVICE][ZE_ACT], 0, "the breakdown is the one at the new peak");
    is_u64(a.at_peak[ZE_DEVICE][ZE_BUF], 600, "buffers at the new peak");
    ok(a.peak_phase[ZE_DEVICE] == ZE_BWD, "the new peak happened in backward");
    /* each phase keeps its own highest total and breakdown */
    is_u64(a.phase_peak[ZE_DEVICE][ZE_FWD], 900, "forward's own peak: 400 + 500");
    is_u64(a.phase_at_peak[ZE_DEVICE][ZE_FWD][ZE_ACT], 500, "forward's peak held 500 of activations");
    is_u64(a.phase_peak[ZE_DEVICE][ZE_BWD], 1000, "backward's own peak: 400 + 600");
    is_u64(a.phase_at_peak[ZE_DEVICE][ZE_BWD][ZE_BUF], 600, "backward's peak held 600 of buffers");
    is_u64(a.phase_peak[ZE_DEVICE][ZE_LOSS], 0, "nothing was allocated in the loss phase");
    char *h = ze_calloc(&a, ZE_HOST, ZE_OPTIM, 5000);
    ok(h != NULL, "the host pool has no cap here");
    is_u64(a.peak_total[ZE_HOST], 5000, "host peak");
    is_u64(a.peak_total[ZE_DEVICE], 1000, "host bytes do not count on the device");
    ze_free(&a, p);
    ze_free(&a, s);
    ze_free(&a, h);
    ze_free(&a, NULL);
    is_u64(a.live_total[ZE_DEVICE] + a.live_total[ZE_HOST], 0, "everything freed");
    ze_alloc_reset_peaks(&a);
    is_u64(a.peak_total[ZE_DEVICE], 0, "peaks reset to what is live");
    return tap_exit();
}
