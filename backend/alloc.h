/* alloc.h - the tracking allocator under every allocation of the engine:
 * the accounting only (the device row, device.h, provides the memory).
 *
 * Two pools (device, host) and five classes (params, grads, optimizer,
 * activations, buffers), the planner's classes without "overhead".  Live
 * and peak bytes per class and pool, the peak of each pool's total with the
 * class breakdown and the phase at that moment.  A cap on a pool turns an
 * allocation beyond it into a recorded out-of-memory outcome (NULL), not a
 * crash.  On the CPU backend both pools are the same RAM, accounted apart. */
#ifndef ZE_ALLOC_H
#define ZE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

typedef enum ze_pool { ZE_DEVICE = 0, ZE_HOST, ZE_NPOOL } ze_pool;
typedef enum ze_class { ZE_PARAMS = 0, ZE_GRADS, ZE_OPTIM, ZE_ACT, ZE_BUF, ZE_NCLASS } ze_class;
/* loss: from the logits' allocation to their release (the loss and the
 * head's backward); backward: the blocks' backward and the reduction */
typedef enum ze_phase { ZE_SETUP = 0, ZE_FWD, ZE_LOSS, ZE_BWD, ZE_OPT, ZE_NPHASE } ze_phase;
extern const char *const ze_class_names[];  /* params grads optimizer activations buffers */
extern const char *const ze_phase_names[];  /* setup forward loss backward optimizer */

typedef struct ze_alloc {
    uint64_t live[ZE_NPOOL][ZE_NCLASS];
    uint64_t peak[ZE_NPOOL][ZE_NCLASS];       /* each class's own peak */
    uint64_t live_total[ZE_NPOOL];
    uint64_t peak_total[ZE_NPOOL];
    uint64_t at_peak[ZE_NPOOL][ZE_NCLASS];    /* breakdown when the total peaked */
    ze_phase peak_phase[ZE_NPOOL];
    uint64_t phase_peak[ZE_NPOOL][ZE_NPHASE];           /* the highest total in each phase */
    uint64_t phase_at_peak[ZE_NPOOL][ZE_NPHASE][ZE_NCLASS]; /* and its breakdown */
    uint64_t cap[ZE_NPOOL];                   /* 0: no cap */
    ze_phase phase;
    int oom;                                  /* an allocation was refused */
    uint64_t oom_request;                     /* its size */
    ze_pool oom_pool;
    /* what the memory's allocator reserves for a request: `granule`
     * multiples (0: the request itself); the reserved total live and as it
     * stood when the tracked total peaked */
    uint64_t granule[ZE_NPOOL];
    uint64_t rounded_live[ZE_NPOOL];
    uint64_t rounded_at_peak[ZE_NPOOL];
} ze_alloc;

void ze_alloc_init(ze_alloc *a, uint64_t device_cap, uint64_t host_cap);
/* Count `bytes` live in pool and class: 0, or -1 when the cap would be
 * exceeded (then a->oom is set, nothing counted). */
int ze_alloc_take(ze_alloc *a, ze_pool pool, ze_class cls, uint64_t bytes);
/* Count them freed. */
void ze_alloc_give(ze_alloc *a, ze_pool pool, ze_class cls, uint64_t bytes);
/* Record a request the memory itself refused as out of memory. */
void ze_alloc_refused(ze_alloc *a, ze_pool pool, uint64_t bytes);
/* Forget the peaks (after warm-up), keeping what is live. */
void ze_alloc_reset_peaks(ze_alloc *a);

#endif
