/* group.c - what every collective group shares: the byte counting, one
 * rank alone, the clock. */
#include "group.h"

#include <string.h>
#include <time.h>

const char *const ze_coll_names[] = {"all-reduce", "reduce-scatter", "all-gather", NULL};

double ze_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ze_group_count(ze_group *g, ze_coll k, size_t n, ze_dt dt, double seconds)
{
    double f = g->size > 1 ? (double)(g->size - 1) / (double)g->size : 0.0;
    if (k == ZE_ALLREDUCE)
        f *= 2.0;
    g->bus_bytes[k] += (uint64_t)((double)n * (double)ze_dt_size(dt) * f + 0.5);
    g->calls[k]++;
    g->comm_s += seconds;
}

static int single_noop(ze_group *g, void *buf, size_t n, ze_dt dt)
{
    (void)g, (void)buf, (void)n, (void)dt;
    return 0;
}

static int single_sum(ze_group *g, double *v, int n)
{
    (void)g, (void)v, (void)n;
    return 0;
}

void ze_group_single(ze_group *g)
{
    memset(g, 0, sizeof *g);
    g->rank = 0;
    g->size = 1;
    g->kind = "single";
    g->allreduce = single_noop;
    g->reduce_scatter = single_noop;
    g->allgather = single_noop;
    g->sum_doubles = single_sum;
}

void ze_group_fini(ze_group *g)
{
    if (g->fini)
        g->fini(g);
    g->fini = NULL;
}
