/* engine.c - a GPT-style decoder trained in a data-parallel / ZeRO layout.
 *
 * The model: token and position embeddings, L pre-LayerNorm blocks (causal
 * multi-head attention, GELU MLP, residuals), final LayerNorm, output head
 * tied to the token embedding, cross-entropy.  Parameters live in units
 * (the embedding, each block, the final norm); ZeRO shards each unit over
 * the data-parallel ranks (padded to a multiple of dp), so that a block is
 * gathered, reduced or updated on its own:
 *   ZeRO-0  full parameters, gradients, optimizer; gradients all-reduced
 *           in buckets after the last micro-batch's backward
 *   ZeRO-1  full parameters and gradients; each unit's gradients
 *           reduce-scattered once per step; optimizer on the shard;
 *           updated parameters all-gathered
 *   ZeRO-2  as 1, but only the gradient shard is kept: each unit's full
 *           gradient is a transient buffer, reduce-scattered per
 *           micro-batch as soon as the unit's backward is done
 *   ZeRO-3  as 2, and only the parameter shard is kept: a unit is gathered
 *           before its forward (the next one prefetched) and again before
 *           its backward, and freed after use
 * Offload (ZeRO >= 1): Adam's moments, the fp32 master copy of the shard
 * and the gradient shard live in the host pool and the optimizer runs
 * there: the reduced gradient shard is copied device-to-host (per
 * micro-batch at ZeRO-2/3, accumulating; once per step at ZeRO-1), the
 * updated shard host-to-device.  With the parameters offloaded too (ZeRO-3)
 * every gather first copies the host's shard to the device; that shard is
 * the master in fp32, and is rounded from the host's fp32 master when the
 * parameters are 16-bit.
 * Storage: parameters and gradients in the plan's types (fp32, bf16,
 * fp16), 16-bit parameters with fp32 master weights; the math in fp32 on
 * working copies (see params_of, grads_of).  fp16 steps are loss-scaled:
 * a step whose gradients overflow is skipped (nothing updated or
 * gathered) and halves the scale (not below 1); scale_window good steps
 * double it.
 * Recompute: none keeps every tensor backward needs; selective keeps all but
 * the attention probabilities (recomputed from Q, K, V); full keeps each
 * block's input and recomputes the block in backward.
 * Data: deterministic sequences from a seeded Markov chain over the
 * vocabulary; sequence n is the same on every layout, so every layout sees
 * the same global batch and computes the same losses. */
#include "engine.h"
#include "kernels.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const ze_coll_names[] = {"all-reduce", "reduce-scatter", "all-gather", NULL};
const char *const ze_dt_names[] = {"fp32", "bf16", "fp16", NULL};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------ one rank */

static void single_noop(ze_group *g, void *buf, size_t n, ze_dt dt) { (void)g; (void)buf; (void)n; (void)dt; }
static void single_sum(ze_group *g, double *v, int n) { (void)g; (void)v; (void)n; }

void ze_group_single(ze_group *g)
{
    memset(g, 0, sizeof *g);
    g->rank = 0;
    g->size = 1;
    g->allreduce = single_noop;
    g->reduce_scatter = single_noop;
    g->allgather = single_noop;
    g->sum_doubles = single_sum;
}

/* ------------------------------------------------------------ the model */

/* offsets of a block's tensors inside its unit */
enum { B_LN1W, B_LN1B, B_QKVW, B_QKVB, B_PROJW, B_PROJB, B_LN2W, B_LN2B, B_FCW, B_FCB, B_FCPW, B_FCPB, B_N };

/* Storage: parameters in the parameter type (pdt), gradients in the
 * gradient type (gdt), both as the device holds them; what the host
 * optimizer reads and writes (master, moments, hgrad, an offloaded gshard)
 * is fp32. */
typedef struct unit {
    size_t n;        /* parameters */
    size_t np;       /* padded to a multiple of dp */
    size_t shard;    /* np / dp */
    void *p;         /* full parameters (ZeRO 0-2), or NULL */
    void *pshard;    /* ZeRO-3: this rank's parameter shard */
    void *g;         /* full gradients (ZeRO 0-1), or NULL */
    void *gshard;    /* ZeRO 2-3: this rank's gradient shard (fp32 on the host with offload) */
    float *gtmp;     /* the unit's gradient while its backward runs (fp32): ZeRO 2-3, and ZeRO 0-1
                      * with 16-bit gradients; at ZeRO 2-3 narrowed in place for the reduce-scatter */
    float *m, *v;    /* optimizer state: shard (ZeRO >= 1) or full */
    float *master;   /* fp32 master of what this rank updates: with 16-bit parameters, and on the
                      * host with optimizer offload */
    float *hgrad;    /* ZeRO-1 with offload: the host's gradient shard */
} unit;

typedef struct model {
    const ze_cfg *c;
    int F, nunits;
    unit *u;                 /* 0: embedding, 1..L blocks, L+1: final norm */
    size_t boff[B_N];        /* tensor offsets in a block */
    ze_alloc *a;
    ze_group *g;
    int zero, off;
    ze_dt pdt, gdt;
    size_t pes, ges;         /* their sizes */
    uint64_t h2d, d2h;       /* bytes copied host-to-device, device-to-host */
    double scale;            /* loss scale (1 without loss scaling) */
    int good, applied, skipped;   /* steps since the scale last changed, updates applied, skipped */
} model;

static void block_offsets(const ze_cfg *c, size_t *off, size_t *n)
{
    size_t C = (size_t)c->C, F = 4 * C, o = 0;
    size_t sz[B_N] = {C, C, 3 * C * C, 3 * C, C * C, C, C, C, F * C, F, C * F, C};
    for (int i = 0; i < B_N; i++) {
        off[i] = o;
        o += sz[i];
    }
    *n = o;
}

uint64_t ze_param_count(const ze_cfg *c)
{
    size_t off[B_N], nb;
    block_offsets(c, off, &nb);
    return (uint64_t)c->V * (uint64_t)c->C + (uint64_t)c->T * (uint64_t)c->C + (uint64_t)c->L * nb +
           2 * (uint64_t)c->C;
}

int ze_cfg_check(const ze_cfg *c, int dp, char *msg, size_t n)
{
    if (c->L < 1 || c->C < 1 || c->NH < 1 || c->V < 2 || c->T < 2 || c->B < 1 || c->M < 1 || c->steps < 1) {
        snprintf(msg, n, "layers, hidden, heads, vocabulary (>= 2), sequence (>= 2), micro-batch, "
                         "accumulation and steps must be positive");
        return -1;
    }
    if (c->C % c->NH) {
        snprintf(msg, n, "heads %d do not divide hidden %d", c->NH, c->C);
        return -1;
    }
    if ((uint64_t)(c->V + c->T) * (uint64_t)c->C > (uint64_t)INT_MAX / 2 ||
        16ull * (uint64_t)c->C * (uint64_t)c->C > (uint64_t)INT_MAX / 2) {
        snprintf(msg, n, "a parameter unit would exceed the %d elements one MPI call can move", INT_MAX / 2);
        return -1;
    }
    if (c->zero < 0 || c->zero > 3 || dp < 1) {
        snprintf(msg, n, "ZeRO stage %d is not 0..3", c->zero);
        return -1;
    }
    if ((int)c->pdt < 0 || (int)c->pdt > ZE_F16 || (int)c->gdt < 0 || (int)c->gdt > ZE_F16) {
        snprintf(msg, n, "storage types %d, %d: each is 0 (fp32), 1 (bf16) or 2 (fp16)", (int)c->pdt, (int)c->gdt);
        return -1;
    }
    if (!(c->loss_scale >= 0.0f) || (c->loss_scale > 0.0f && c->scale_window < 1)) {
        snprintf(msg, n, "loss scale %g with window %d: the scale is 0 (none) or positive, the window >= 1",
                 (double)c->loss_scale, c->scale_window);
        return -1;
    }
    if (c->offload < 0 || c->offload > 2 || (c->offload && c->zero < 1) || (c->offload == 2 && c->zero < 3)) {
        snprintf(msg, n, "offload %d with ZeRO-%d: optimizer offload needs ZeRO >= 1, parameter offload ZeRO-3",
                 c->offload, c->zero);
        return -1;
    }
    return 0;
}

#define CHECK(x)                                                                                                   \
    do {                                                                                                           \
        if (!(x))                                                                                                  \
            return -1;                                                                                             \
    } while (0)

static float *alloc_f(model *m, ze_class cls, size_t n)
{
    return ze_calloc(m->a, ZE_DEVICE, cls, n * sizeof(float));
}

/* Not zeroed: for outputs the forward (or a scratch user) writes whole. */
static float *alloc_u(model *m, ze_class cls, size_t n)
{
    return ze_malloc(m->a, ZE_DEVICE, cls, n * sizeof(float));
}

static float *alloc_h(model *m, ze_class cls, size_t n)
{
    return ze_calloc(m->a, ZE_HOST, cls, n * sizeof(float));
}

/* n values of `bytes` each, zeroed, in the pool */
static void *alloc_t(model *m, ze_pool pool, ze_class cls, size_t n, size_t bytes)
{
    return ze_calloc(m->a, pool, cls, n * bytes);
}

/* ------------------------------------------------------------ storage types
 * Conversions between fp32 and a storage type, in chunks through local
 * arrays (memcpy in and out), so that a buffer may be rewritten in place
 * from one type to the other. */
enum { CH = 1024 };

static void *at(const void *base, ze_dt dt, size_t i)
{
    return (char *)(uintptr_t)base + i * ze_dt_size(dt);
}

/* dst (fp32) = src (dt) */
static void load(float *dst, const void *src, ze_dt dt, size_t n)
{
    if (dt == ZE_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    uint16_t h[CH];
    for (size_t i = 0; i < n; i += CH) {
        size_t k = n - i < CH ? n - i : CH;
        memcpy(h, at(src, dt, i), k * 2);
        zk_unpack16(dst + i, h, k, dt == ZE_F16);
    }
}

/* dst (dt) = src (fp32), rounded to nearest even */
static void store(void *dst, const float *src, ze_dt dt, size_t n)
{
    if (dt == ZE_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    uint16_t h[CH];
    for (size_t i = 0; i < n; i += CH) {
        size_t k = n - i < CH ? n - i : CH;
        zk_pack16(h, src + i, k, dt == ZE_F16);
        memcpy(at(dst, dt, i), h, k * 2);
    }
}

/* dst (dt) += src (fp32 when sdt is ZE_F32, else dt), the sum rounded into dt */
static void acc_into(void *dst, ze_dt dt, const void *src, ze_dt sdt, size_t n)
{
    if (dt == ZE_F32 && sdt == ZE_F32) {
        zk_acc(dst, src, n);
        return;
    }
    float a[CH], b[CH];
    for (size_t i = 0; i < n; i += CH) {
        size_t k = n - i < CH ? n - i : CH;
        load(a, at(dst, dt, i), dt, k);
        load(b, at(src, sdt, i), sdt, k);
        zk_acc(a, b, k);
        store(at(dst, dt, i), a, dt, k);
    }
}

/* buf holds n floats: rewrite them as n values of dt from its start */
static void narrow(float *buf, ze_dt dt, size_t n)
{
    float f[CH];
    for (size_t i = 0; dt != ZE_F32 && i < n; i += CH) {   /* writes stay below what is still to read */
        size_t k = n - i < CH ? n - i : CH;
        memcpy(f, buf + i, k * sizeof(float));
        store(at(buf, dt, i), f, dt, k);
    }
}

/* buf holds n values of dt from its start and room for n floats: widen them */
static void widen(float *buf, ze_dt dt, size_t n)
{
    uint16_t h[CH];
    for (size_t e = n; dt != ZE_F32 && e > 0;) {   /* from the end: writes stay above what is still to read */
        size_t k = e < CH ? e : CH, i = e - k;
        memcpy(h, at(buf, dt, i), k * 2);
        zk_unpack16(buf + i, h, k, dt == ZE_F16);
        e = i;
    }
}

/* Deterministic parameter init: N(0, 0.02) by a counter-based generator
 * (value i of unit u is the same whatever the layout), LayerNorm weights 1,
 * biases 0. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static float gauss(uint32_t seed, uint64_t u, uint64_t i)
{
    uint64_t a = mix(((uint64_t)seed << 40) ^ (u << 32) ^ (2 * i + 1));
    uint64_t b = mix(a ^ 0x9e3779b97f4a7c15ULL);
    double u1 = ((double)(a >> 11) + 0.5) / 9007199254740992.0, u2 = (double)(b >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static float init_value(const model *m, int u, size_t i)
{
    const ze_cfg *c = m->c;
    size_t C = (size_t)c->C;
    if (u == m->nunits - 1)   /* final norm: weight then bias */
        return i < C ? 1.0f : 0.0f;
    if (u > 0) {
        size_t k = B_N - 1;
        while (i < m->boff[k])
            k--;
        if (k == B_LN1W || k == B_LN2W)
            return 1.0f;
        if (k == B_LN1B || k == B_LN2B || k == B_QKVB || k == B_PROJB || k == B_FCB || k == B_FCPB)
            return 0.0f;
        /* residual projections scaled by 1/sqrt(2L) as GPT-2 */
        float s = (k == B_PROJW || k == B_FCPW) ? 0.02f / sqrtf(2.0f * (float)c->L) : 0.02f;
        return s * gauss(c->seed, (uint64_t)u, i);
    }
    return 0.02f * gauss(c->seed, 0, i);
}

/* dst (dt) = the initial values of unit k's parameters first .. first+n-1
 * (0 past the unit's end: the padding) */
static void init_range(const model *m, int k, void *dst, ze_dt dt, size_t first, size_t n)
{
    float f[CH];
    for (size_t i = 0; i < n; i += CH) {
        size_t len = n - i < CH ? n - i : CH;
        for (size_t j = 0; j < len; j++)
            f[j] = first + i + j < m->u[k].n ? init_value(m, k, first + i + j) : 0.0f;
        store(at(dst, dt, i), f, dt, len);
    }
}

static int model_init(model *m, const ze_cfg *c, ze_alloc *a, ze_group *g)
{
    size_t nb;
    memset(m, 0, sizeof *m);
    m->c = c;
    m->a = a;
    m->g = g;
    m->zero = c->zero;
    m->off = c->offload;
    m->pdt = c->pdt;
    m->gdt = c->gdt;
    m->pes = ze_dt_size(c->pdt);
    m->ges = ze_dt_size(c->gdt);
    m->scale = c->loss_scale > 0.0f ? (double)c->loss_scale : 1.0;
    m->F = 4 * c->C;
    m->nunits = c->L + 2;
    block_offsets(c, m->boff, &nb);
    m->u = calloc((size_t)m->nunits, sizeof *m->u);
    CHECK(m->u);
    size_t d = (size_t)g->size, r = (size_t)g->rank;
    int nstate = c->sgd ? 1 : 2;
    for (int k = 0; k < m->nunits; k++) {
        unit *u = &m->u[k];
        u->n = k == 0 ? (size_t)c->V * (size_t)c->C + (size_t)c->T * (size_t)c->C
               : k == m->nunits - 1 ? 2 * (size_t)c->C : nb;
        u->shard = (u->n + d - 1) / d;
        u->np = m->zero == 0 ? u->n : u->shard * d;   /* ZeRO pads each unit to a multiple of dp */
        size_t nopt = m->zero >= 1 ? u->shard : u->np, first = m->zero >= 1 ? r * u->shard : 0;
        if (m->zero <= 2) {
            CHECK(u->p = alloc_t(m, ZE_DEVICE, ZE_PARAMS, u->np, m->pes));
            init_range(m, k, u->p, m->pdt, 0, u->np);
        } else {
            CHECK(u->pshard = alloc_t(m, m->off == 2 ? ZE_HOST : ZE_DEVICE, ZE_PARAMS, u->shard, m->pes));
            init_range(m, k, u->pshard, m->pdt, first, u->shard);
        }
        if (m->zero <= 1)
            CHECK(u->g = alloc_t(m, ZE_DEVICE, ZE_GRADS, u->np, m->ges));
        if (m->zero <= 1 && m->off)
            CHECK(u->hgrad = alloc_h(m, ZE_GRADS, u->shard));
        if (m->zero >= 2)
            CHECK(u->gshard = m->off ? alloc_h(m, ZE_GRADS, u->shard) : alloc_t(m, ZE_DEVICE, ZE_GRADS, u->shard, m->ges));
        if (m->off) {
            CHECK(u->m = alloc_h(m, ZE_OPTIM, nopt));
            if (nstate == 2)
                CHECK(u->v = alloc_h(m, ZE_OPTIM, nopt));
        } else {
            CHECK(u->m = alloc_f(m, ZE_OPTIM, nopt));
            if (nstate == 2)
                CHECK(u->v = alloc_f(m, ZE_OPTIM, nopt));
        }
        /* the fp32 master of what this rank updates: the host optimizer's
         * own copy (optimizer offload: fp32 parameters offloaded with ZeRO-3
         * are that copy themselves), and 16-bit parameters' master weights */
        if (m->off == 1 || m->pdt != ZE_F32) {
            CHECK(u->master = m->off ? alloc_h(m, ZE_OPTIM, nopt) : alloc_f(m, ZE_OPTIM, nopt));
            init_range(m, k, u->master, ZE_F32, first, nopt);
        }
    }
    return 0;
}

static void model_free(model *m)
{
    if (!m->u)
        return;
    for (int k = 0; k < m->nunits; k++) {
        unit *u = &m->u[k];
        ze_free(m->a, u->p);
        ze_free(m->a, u->pshard);
        ze_free(m->a, u->g);
        ze_free(m->a, u->gshard);
        ze_free(m->a, u->gtmp);
        ze_free(m->a, u->m);
        ze_free(m->a, u->v);
        ze_free(m->a, u->master);
        ze_free(m->a, u->hgrad);
    }
    free(m->u);
    m->u = NULL;
}

/* Unit k's full parameters in fp32 for the math: the resident ones (fp32,
 * ZeRO 0-2), or a transient buffer (*gathered) holding the fp32 working
 * copy of 16-bit parameters, or at ZeRO-3 the unit gathered (in the
 * parameter type, into the buffer's first half) and widened in place. */
static float *params_of(model *m, int k, float **gathered)
{
    unit *u = &m->u[k];
    if (m->zero <= 2 && m->pdt == ZE_F32)
        return u->p;
    if (*gathered)
        return *gathered;
    float *buf = alloc_u(m, ZE_BUF, u->np);
    if (!buf)
        return NULL;
    if (m->zero <= 2)
        load(buf, u->p, m->pdt, u->np);
    else {
        memcpy(at(buf, m->pdt, (size_t)m->g->rank * u->shard), u->pshard, u->shard * m->pes);
        if (m->off == 2)   /* the shard came from the host pool */
            m->h2d += u->shard * m->pes;
        m->g->allgather(m->g, buf, u->np, m->pdt);
        widen(buf, m->pdt, u->np);
    }
    *gathered = buf;
    return buf;
}

static void release(model *m, float **gathered)
{
    if (*gathered) {
        ze_free(m->a, *gathered);
        *gathered = NULL;
    }
}

/* Where unit k's gradients accumulate (fp32) during a backward: the
 * resident fp32 gradients (ZeRO 0-1), or the unit's transient. */
static float *grads_of(model *m, int k)
{
    unit *u = &m->u[k];
    if (m->zero <= 1 && m->gdt == ZE_F32)
        return u->g;
    if (!u->gtmp)
        u->gtmp = alloc_f(m, ZE_BUF, u->np);
    return u->gtmp;
}

/* Unit k's backward is done.  ZeRO 0-1 (16-bit gradients): add the
 * micro-batch's gradient into the stored ones.  ZeRO 2-3: reduce-scatter
 * the full gradient (in the gradient type: narrowed in place) and add this
 * rank's block into the shard.  Free the transient. */
static void grads_done(model *m, int k)
{
    unit *u = &m->u[k];
    if (!u->gtmp)
        return;
    if (m->zero <= 1)
        acc_into(u->g, m->gdt, u->gtmp, ZE_F32, u->n);
    else {
        narrow(u->gtmp, m->gdt, u->np);
        m->g->reduce_scatter(m->g, u->gtmp, u->np, m->gdt);
        const void *blk = at(u->gtmp, m->gdt, (size_t)m->g->rank * u->shard);
        if (m->off) {   /* accumulated into the host's fp32 shard */
            acc_into(u->gshard, ZE_F32, blk, m->gdt, u->shard);
            m->d2h += u->shard * m->ges;
        } else
            acc_into(u->gshard, m->gdt, blk, m->gdt, u->shard);
    }
    ze_free(m->a, u->gtmp);
    u->gtmp = NULL;
}

/* ------------------------------------------------------------ activations */

/* What one block keeps from forward to backward for one micro-batch. */
typedef struct lact {
    float *x;            /* block input (LN1 input) */
    float *ln1, *mean1, *rstd1, *qkv, *att, *atty, *xmid, *ln2, *mean2, *rstd2, *fc, *gelu;
    float *mem;          /* the allocation holding the fields after x */
} lact;

static size_t lact_floats(const ze_cfg *c, int with_att)
{
    size_t N = (size_t)c->B * (size_t)c->T, C = (size_t)c->C, F = 4 * C;
    size_t att = (size_t)c->B * (size_t)c->NH * (size_t)c->T * (size_t)c->T;
    return N * C /* ln1 */ + 2 * N + 3 * N * C + (with_att ? att : 0) + N * C /* atty */ + N * C /* xmid */ +
           N * C /* ln2 */ + 2 * N + 2 * N * F;
}

static int lact_alloc(model *m, lact *la, ze_class cls, int with_att)
{
    const ze_cfg *c = m->c;
    size_t N = (size_t)c->B * (size_t)c->T, C = (size_t)c->C, F = 4 * C;
    float *p = la->mem = alloc_u(m, cls, lact_floats(c, with_att));
    CHECK(p);
    la->ln1 = p, p += N * C;
    la->mean1 = p, p += N;
    la->rstd1 = p, p += N;
    la->qkv = p, p += 3 * N * C;
    if (with_att)
        la->att = p, p += (size_t)c->B * (size_t)c->NH * (size_t)c->T * (size_t)c->T;
    else
        la->att = NULL;
    la->atty = p, p += N * C;
    la->xmid = p, p += N * C;
    la->ln2 = p, p += N * C;
    la->mean2 = p, p += N;
    la->rstd2 = p, p += N;
    la->fc = p, p += N * F;
    la->gelu = p;
    return 0;
}

/* One block forward from la->x into xout (the next block's input). */
static void block_fwd(model *m, const float *w, lact *la, float *att, float *xout)
{
    const ze_cfg *c = m->c;
    int N = c->B * c->T, C = c->C, F = m->F;
    const size_t *o = m->boff;
    zk_layernorm_fwd(la->ln1, la->mean1, la->rstd1, la->x, w + o[B_LN1W], w + o[B_LN1B], N, C);
    zk_matmul_fwd(la->qkv, la->ln1, w + o[B_QKVW], w + o[B_QKVB], N, C, 3 * C);
    zk_attention_fwd(la->atty, att, la->qkv, c->B, c->T, C, c->NH);
    zk_matmul_fwd(la->xmid, la->atty, w + o[B_PROJW], w + o[B_PROJB], N, C, C);
    zk_acc(la->xmid, la->x, (size_t)N * (size_t)C);
    zk_layernorm_fwd(la->ln2, la->mean2, la->rstd2, la->xmid, w + o[B_LN2W], w + o[B_LN2B], N, C);
    zk_matmul_fwd(la->fc, la->ln2, w + o[B_FCW], w + o[B_FCB], N, C, F);
    zk_gelu_fwd(la->gelu, la->fc, (size_t)N * (size_t)F);
    zk_matmul_fwd(xout, la->gelu, w + o[B_FCPW], w + o[B_FCPB], N, F, C);
    zk_acc(xout, la->xmid, (size_t)N * (size_t)C);
}

/* Backward scratch: one block's activation gradients. */
typedef struct bscratch {
    float *d1, *d3, *datt, *dF1, *dF2;   /* N*C, 3*N*C, T*T, N*F, N*F */
} bscratch;

/* One block backward: dres holds dL/dxout on entry and dL/dx on return. */
static void block_bwd(model *m, const float *w, float *dw, const lact *la, const float *att, float *dres,
                      bscratch *s)
{
    const ze_cfg *c = m->c;
    int N = c->B * c->T, C = c->C, F = m->F;
    size_t NC = (size_t)N * (size_t)C, NF = (size_t)N * (size_t)F;
    const size_t *o = m->boff;
    memset(s->dF1, 0, NF * sizeof(float));
    zk_matmul_bwd(s->dF1, dw + o[B_FCPW], dw + o[B_FCPB], dres, la->gelu, w + o[B_FCPW], N, F, C);
    memset(s->dF2, 0, NF * sizeof(float));
    zk_gelu_bwd(s->dF2, la->fc, s->dF1, NF);
    memset(s->d1, 0, NC * sizeof(float));
    zk_matmul_bwd(s->d1, dw + o[B_FCW], dw + o[B_FCB], s->dF2, la->ln2, w + o[B_FCW], N, C, F);
    zk_layernorm_bwd(dres, dw + o[B_LN2W], dw + o[B_LN2B], s->d1, la->xmid, w + o[B_LN2W], la->mean2, la->rstd2,
                     N, C);
    memset(s->d1, 0, NC * sizeof(float));
    zk_matmul_bwd(s->d1, dw + o[B_PROJW], dw + o[B_PROJB], dres, la->atty, w + o[B_PROJW], N, C, C);
    memset(s->d3, 0, 3 * NC * sizeof(float));
    zk_attention_bwd(s->d3, s->datt, s->d1, att, la->qkv, c->B, c->T, C, c->NH);
    memset(s->d1, 0, NC * sizeof(float));
    zk_matmul_bwd(s->d1, dw + o[B_QKVW], dw + o[B_QKVB], s->d3, la->ln1, w + o[B_QKVW], N, C, 3 * C);
    zk_layernorm_bwd(dres, dw + o[B_LN1W], dw + o[B_LN1B], s->d1, la->x, w + o[B_LN1W], la->mean1, la->rstd1, N, C);
}

/* ------------------------------------------------------------ data */

/* Sequence n (T + 1 tokens): a first-order Markov chain whose transition
 * from token a prefers a few successors, so that there is something to
 * learn; the same on every rank and layout. */
static void sequence(const ze_cfg *c, uint64_t n, int *out)
{
    uint64_t st = mix(((uint64_t)c->seed << 32) ^ (n * 2654435761ULL + 1));
    int tok = (int)(st % (uint64_t)c->V);
    for (int t = 0; t <= c->T; t++) {
        out[t] = tok;
        st = mix(st + 0x9e3779b97f4a7c15ULL);
        int k = (int)(st % 4);   /* one of 4 likely successors, or any token 1/8 of the time */
        if ((st >> 8) % 8 == 0)
            tok = (int)((st >> 16) % (uint64_t)c->V);
        else
            tok = (int)((uint64_t)(tok * 7 + 3 + k * 13) % (uint64_t)c->V);
    }
}

/* ------------------------------------------------------------ one step */

typedef struct step_ctx {
    int failed;        /* an allocation was refused (or failed) */
    model *m;
    lact *acts;        /* L blocks' saved activations (per micro-batch) */
    float *xfin;       /* final-norm input (block L's output) */
    float *lnf, *meanf, *rstdf;
    int *tok, *tgt;    /* B*T */
    double fwd_s, bwd_s;
} step_ctx;

/* Forward and backward of one micro-batch; returns the loss, or sets
 * x->failed when an allocation is refused. */
static double micro_batch(step_ctx *x, uint64_t first_seq, float dscale)
{
    model *m = x->m;
    const ze_cfg *c = m->c;
    ze_alloc *a = m->a;
    int N = c->B * c->T, C = c->C, L = c->L, V = c->V;
    size_t NC = (size_t)N * (size_t)C;
    int with_att = c->ckpt == ZE_CKPT_NONE;
    int *seq = malloc(sizeof(int) * (size_t)(c->T + 1));
    if (!seq)
        return x->failed = 1, 0.0;
    for (int b = 0; b < c->B; b++) {
        sequence(c, first_seq + (uint64_t)b, seq);
        memcpy(x->tok + (size_t)b * (size_t)c->T, seq, sizeof(int) * (size_t)c->T);
        memcpy(x->tgt + (size_t)b * (size_t)c->T, seq + 1, sizeof(int) * (size_t)c->T);
    }
    free(seq);
    double t0 = now_s();
    a->phase = ZE_FWD;

    /* forward: activations for backward, per block */
    float *gath = NULL, *gnext = NULL;
    const float *emb = params_of(m, 0, &gath);
    if (!emb)
        return x->failed = 1, 0.0;
    if (!(x->acts[0].x = alloc_u(m, ZE_ACT, NC)))
        return x->failed = 1, 0.0;
    zk_embed_fwd(x->acts[0].x, x->tok, emb, emb + (size_t)V * (size_t)C, c->B, c->T, C);
    release(m, &gath);
    float *att_tmp = NULL;
    size_t att_n = (size_t)c->B * (size_t)c->NH * (size_t)c->T * (size_t)c->T;
    if (c->ckpt == ZE_CKPT_SELECTIVE && !(att_tmp = alloc_u(m, ZE_BUF, att_n)))
        return x->failed = 1, 0.0;
    for (int l = 0; l < L; l++) {
        lact *la = &x->acts[l];
        const float *w = params_of(m, 1 + l, &gath);
        if (!w)
            return x->failed = 1, 0.0;
        if (l + 1 < L && m->zero == 3 && !params_of(m, 2 + l, &gnext))   /* prefetch the next block */
            return x->failed = 1, 0.0;
        float *xout = l + 1 < L ? (x->acts[l + 1].x = alloc_u(m, ZE_ACT, NC)) : (x->xfin = alloc_u(m, ZE_ACT, NC));
        if (!xout)
            return x->failed = 1, 0.0;
        if (c->ckpt == ZE_CKPT_FULL) {
            lact tmp = *la;
            if (lact_alloc(m, &tmp, ZE_BUF, 1))
                return x->failed = 1, 0.0;
            block_fwd(m, w, &tmp, tmp.att, xout);
            ze_free(a, tmp.mem);
        } else {
            if (lact_alloc(m, la, ZE_ACT, with_att))
                return x->failed = 1, 0.0;
            block_fwd(m, w, la, with_att ? la->att : att_tmp, xout);
        }
        release(m, &gath);
        gath = gnext;
        gnext = NULL;
    }
    ze_free(a, att_tmp);
    att_tmp = NULL;

    /* head: final norm, tied output projection, cross-entropy, and its
     * backward straight away */
    float *gf = NULL, *ge = NULL;
    const float *wf = params_of(m, L + 1, &gf);
    const float *we = params_of(m, 0, &ge);
    if (!wf || !we)
        return x->failed = 1, 0.0;
    if (!(x->lnf = alloc_u(m, ZE_ACT, NC + 2 * (size_t)N)))
        return x->failed = 1, 0.0;
    x->meanf = x->lnf + NC;
    x->rstdf = x->meanf + N;
    zk_layernorm_fwd(x->lnf, x->meanf, x->rstdf, x->xfin, wf, wf + C, N, C);
    a->phase = ZE_LOSS;   /* until the logits are freed */
    float *logits = alloc_u(m, ZE_BUF, (size_t)N * (size_t)V);
    if (!logits)
        return x->failed = 1, 0.0;
    zk_matmul_fwd(logits, x->lnf, we, NULL, N, C, V);
    double loss = zk_crossentropy(logits, x->tgt, N, V, dscale);
    double t1 = now_s();
    x->fwd_s += t1 - t0;

    bscratch s;
    size_t TT = (size_t)c->T * (size_t)c->T;   /* attention backward scratch */
    float *sbuf = alloc_u(m, ZE_BUF, 4 * NC + TT + 2 * NC * 4);   /* each part zeroed where it must be */
    float *dres = alloc_f(m, ZE_BUF, NC);
    if (!sbuf || !dres)
        return x->failed = 1, 0.0;
    s.d1 = sbuf;
    s.d3 = s.d1 + NC;
    s.datt = s.d3 + 3 * NC;
    s.dF1 = s.datt + TT;
    s.dF2 = s.dF1 + 4 * NC;
    float *dwe = grads_of(m, 0), *dwf = grads_of(m, L + 1);
    if (!dwe || !dwf)
        return x->failed = 1, 0.0;
    memset(s.d1, 0, NC * sizeof(float));
    zk_matmul_bwd(s.d1, dwe, NULL, logits, x->lnf, we, N, C, V);
    ze_free(a, logits);
    a->phase = ZE_BWD;
    zk_layernorm_bwd(dres, dwf, dwf + C, s.d1, x->xfin, wf, x->meanf, x->rstdf, N, C);
    release(m, &gf);
    release(m, &ge);
    grads_done(m, L + 1);
    ze_free(a, x->lnf);
    ze_free(a, x->xfin);
    x->lnf = x->xfin = NULL;

    for (int l = L - 1; l >= 0; l--) {
        lact *la = &x->acts[l];
        const float *w = params_of(m, 1 + l, &gath);
        if (!w)
            return x->failed = 1, 0.0;
        if (l > 0 && m->zero == 3 && !params_of(m, l, &gnext))   /* prefetch the block below */
            return x->failed = 1, 0.0;
        float *dw = grads_of(m, 1 + l);
        if (!dw)
            return x->failed = 1, 0.0;
        if (c->ckpt == ZE_CKPT_FULL) {
            /* recompute the block from its input (the checkpoint): the whole
             * forward again, as activation checkpointing reruns it */
            lact tmp = *la;
            float *xout = alloc_u(m, ZE_BUF, NC);
            if (!xout || lact_alloc(m, &tmp, ZE_BUF, 1))
                return x->failed = 1, 0.0;
            block_fwd(m, w, &tmp, tmp.att, xout);
            ze_free(a, xout);
            block_bwd(m, w, dw, &tmp, tmp.att, dres, &s);
            ze_free(a, tmp.mem);
        } else if (c->ckpt == ZE_CKPT_SELECTIVE) {
            /* recompute the attention probabilities from Q, K, V */
            float *att = alloc_u(m, ZE_BUF, att_n);
            if (!att)
                return x->failed = 1, 0.0;
            /* the output rewritten with the values it already holds */
            zk_attention_fwd(la->atty, att, la->qkv, c->B, c->T, C, c->NH);
            block_bwd(m, w, dw, la, att, dres, &s);
            ze_free(a, att);
            ze_free(a, la->mem);
        } else {
            block_bwd(m, w, dw, la, la->att, dres, &s);
            ze_free(a, la->mem);
        }
        ze_free(a, la->x);
        la->x = NULL;
        la->mem = NULL;
        release(m, &gath);
        gath = gnext;
        gnext = NULL;
        grads_done(m, 1 + l);
    }
    zk_embed_bwd(dwe, dwe + (size_t)V * (size_t)C, dres, x->tok, c->B, c->T, C);
    grads_done(m, 0);
    ze_free(a, sbuf);
    ze_free(a, dres);
    x->bwd_s += now_s() - t1;
    return loss;
}

/* After the last micro-batch: reduce what is still local (ZeRO-0: all-reduce
 * in buckets of units; ZeRO-1: reduce-scatter each unit), in the gradient
 * type. */
static void reduce_grads(model *m)
{
    if (m->zero == 1) {
        for (int k = m->nunits - 1; k >= 0; k--) {
            unit *u = &m->u[k];
            m->g->reduce_scatter(m->g, u->g, u->np, m->gdt);
            if (m->off) {   /* the reduced shard to the host optimizer (fp32 there) */
                load(u->hgrad, at(u->g, m->gdt, (size_t)m->g->rank * u->shard), m->gdt, u->shard);
                m->d2h += u->shard * m->ges;
            }
        }
        return;
    }
    if (m->zero != 0 || m->g->size == 1)
        return;
    /* per unit, last first, in place (no copy into a separate bucket) */
    for (int k = m->nunits - 1; k >= 0; k--)
        m->g->allreduce(m->g, m->u[k].g, m->u[k].n, m->gdt);
}

/* The gradient the optimizer reads for unit u (its type in *dt) and how
 * many values: the full gradient (ZeRO-0), or this rank's shard. */
static void *opt_grad(model *m, unit *u, ze_dt *dt, size_t *n)
{
    size_t r = (size_t)m->g->rank;
    *n = m->zero == 0 ? u->n : u->shard;
    *dt = m->off ? ZE_F32 : m->gdt;
    if (m->zero == 0)
        return u->g;
    if (m->zero == 1)
        return m->off ? (void *)u->hgrad : at(u->g, m->gdt, r * u->shard);
    return u->gshard;
}

/* The optimizer on what this rank owns: the gradient norm (of the unscaled
 * gradients) for clipping; with loss scaling a step whose gradients
 * overflowed is skipped (the gradients dropped, nothing updated or
 * gathered) and the scale halved, and after scale_window good steps it
 * doubles.  Parameters with a master copy are the master rounded to their
 * type after the update.  Returns 1 when the step was applied. */
static int optimize(model *m)
{
    const ze_cfg *c = m->c;
    size_t r = (size_t)m->g->rank;
    double ss = 0.0;
    float buf[CH];
    for (int k = 0; k < m->nunits; k++) {
        ze_dt dt;
        size_t n;
        const void *g = opt_grad(m, &m->u[k], &dt, &n);
        if (dt == ZE_F32)
            ss += zk_sumsq(g, n);
        else
            for (size_t i = 0; i < n; i += CH) {
                size_t len = n - i < CH ? n - i : CH;
                load(buf, at(g, dt, i), dt, len);
                ss += zk_sumsq(buf, len);
            }
    }
    double sum[1] = {ss};
    if (m->zero >= 1)
        m->g->sum_doubles(m->g, sum, 1);
    int scaling = c->loss_scale > 0.0f, skip = scaling && !isfinite(sum[0]);
    double norm = sqrt(sum[0]) / m->scale;
    float scale = c->clip > 0 && norm > c->clip ? (float)(c->clip / norm) : 1.0f;
    if (m->scale != 1.0)   /* unscale with the clipping */
        scale = (float)((double)scale / m->scale);
    /* linear warm-up over the first 5 updates */
    int step = m->applied + 1;
    float lr = c->lr * (step < 5 ? (float)step / 5.0f : 1.0f);
    for (int k = 0; k < m->nunits; k++) {
        unit *u = &m->u[k];
        ze_dt dt;
        size_t n;
        void *g = opt_grad(m, u, &dt, &n);
        void *dev = m->zero == 0 ? u->p : m->zero <= 2 ? at(u->p, m->pdt, r * u->shard) : u->pshard;
        float *p = u->master ? u->master : dev;   /* fp32 here */
        for (size_t i = 0; !skip && i < n; i += CH) {
            size_t len = n - i < CH ? n - i : CH;
            float *gi = dt == ZE_F32 ? (float *)g + i : buf;
            if (dt != ZE_F32)
                load(buf, at(g, dt, i), dt, len);
            if (scale != 1.0f)
                zk_scale(gi, len, scale);
            if (c->sgd)
                zk_sgd(p + i, gi, u->m + i, len, lr, 0.9f, c->weight_decay);
            else
                zk_adamw(p + i, gi, u->m + i, u->v + i, len, lr, 0.9f, 0.95f, 1e-8f, c->weight_decay, step);
        }
        if (u->master && !skip) {   /* the updated master, in the parameter type, to where the parameters are */
            store(dev, u->master, m->pdt, n);
            if (m->off == 1)
                m->h2d += n * m->pes;
        }
        memset(m->zero <= 1 ? u->g : u->gshard, 0,
               m->zero <= 1 ? u->np * m->ges : u->shard * (m->off ? sizeof(float) : m->ges));
        if (u->hgrad)
            memset(u->hgrad, 0, u->shard * sizeof(float));
        if (!skip && (m->zero == 1 || m->zero == 2))
            m->g->allgather(m->g, u->p, u->np, m->pdt);
    }
    if (skip) {
        m->scale = m->scale > 2.0 ? m->scale / 2.0 : 1.0;   /* DeepSpeed's floor: 1 */
        m->good = 0;
        m->skipped++;
        return 0;
    }
    m->applied++;
    if (scaling && ++m->good >= c->scale_window) {
        m->scale *= 2.0;
        m->good = 0;
    }
    return 1;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int ze_train(const ze_cfg *c, ze_group *g, ze_result *res)
{
    model m;
    step_ctx x;
    int rc = 0;
    double opt_total = 0.0, steady_t0 = 0.0, comm0 = 0.0, compute0 = 0.0;
    /* bytes moved per step, summed over the steady steps (from the second
     * on) that were applied, and over all steady steps */
    uint64_t bus_ok[ZE_NCOLL] = {0}, bus_all[ZE_NCOLL] = {0}, h2d_ok = 0, d2h_ok = 0, h2d_all = 0, d2h_all = 0;
    int n_ok = 0, n_all = 0;
    zk_gemm_stats gemm0 = zk_gemm_counters;
    zk_gemm_log_clear();
    memset(&m, 0, sizeof m);
    memset(res, 0, sizeof *res);
    memset(&x, 0, sizeof x);
    ze_alloc_init(&res->mem, c->device_cap, 0);
    res->params = ze_param_count(c);
    res->losses = calloc((size_t)c->steps, sizeof(double));
    double *step_times = calloc((size_t)c->steps, sizeof(double));
    x.acts = calloc((size_t)c->L, sizeof(lact));
    x.tok = malloc(sizeof(int) * (size_t)c->B * (size_t)c->T);
    x.tgt = malloc(sizeof(int) * (size_t)c->B * (size_t)c->T);
    if (!res->losses || !step_times || !x.acts || !x.tok || !x.tgt) {
        free(step_times);
        free(x.acts);
        free(x.tok);
        free(x.tgt);
        return -1;
    }
    res->mem.phase = ZE_SETUP;
    if (model_init(&m, c, &res->mem, g) != 0) {
        rc = 1;
        goto out;
    }
    x.m = &m;
    uint64_t per_step = (uint64_t)g->size * (uint64_t)c->B * (uint64_t)c->M;
    for (int s = 0; s < c->steps; s++) {
        double t0 = now_s(), loss = 0.0;
        uint64_t b0[ZE_NCOLL], h0 = m.h2d, d0 = m.d2h;
        memcpy(b0, g->bus_bytes, sizeof b0);
        if (s == 1) {
            gemm0 = zk_gemm_counters;
            zk_gemm_log_clear();   /* the shapes of the steady steps */
            steady_t0 = t0;
            comm0 = g->comm_s;
            compute0 = x.fwd_s + x.bwd_s;
        }
        for (int j = 0; j < c->M; j++) {
            uint64_t first = (uint64_t)s * per_step + ((uint64_t)g->rank * (uint64_t)c->M + (uint64_t)j) *
                                                          (uint64_t)c->B;
            double l = micro_batch(&x, first, (float)m.scale / (float)(c->M * g->size));
            if (x.failed) {
                rc = 1;
                goto out;
            }
            loss += l;
        }
        res->mem.phase = ZE_BWD;
        reduce_grads(&m);
        double t1 = now_s();
        res->mem.phase = ZE_OPT;
        int applied = optimize(&m);
        opt_total += now_s() - t1;
        if (s >= 1 || c->steps == 1) {
            for (int k = 0; k < ZE_NCOLL; k++) {
                bus_all[k] += g->bus_bytes[k] - b0[k];
                bus_ok[k] += applied ? g->bus_bytes[k] - b0[k] : 0;
            }
            h2d_all += m.h2d - h0, d2h_all += m.d2h - d0, n_all++;
            if (applied)
                h2d_ok += m.h2d - h0, d2h_ok += m.d2h - d0, n_ok++;
        }
        double sum[1] = {loss / (double)c->M};
        g->sum_doubles(g, sum, 1);
        res->losses[s] = sum[0] / (double)g->size;
        res->steps_done = s + 1;
        step_times[s] = now_s() - t0;
        if (c->on_step)
            c->on_step(c->on_step_ctx, s + 1, c->steps, res->losses[s], step_times[s], applied);
    }
    /* bytes per step from step 2 on (step 1 may differ in nothing, but keep
     * the measurement on steady state), over the applied steps: a skipped
     * step (loss scaling) gathers no updated parameters; over all steady
     * steps when every one was skipped */
    int counted = c->steps > 1 ? c->steps - 1 : 1;
    const uint64_t *bb = n_ok ? bus_ok : bus_all;
    uint64_t nb = (uint64_t)(n_ok ? n_ok : n_all);
    for (int k = 0; k < ZE_NCOLL; k++)
        res->bus_bytes_per_step[k] = bb[k] / nb;
    res->h2d_per_step = (n_ok ? h2d_ok : h2d_all) / nb;
    res->d2h_per_step = (n_ok ? d2h_ok : d2h_all) / nb;
    res->gemm_s = (zk_gemm_counters.seconds - gemm0.seconds) / counted;
    res->steady_step_s = c->steps > 1 ? (now_s() - steady_t0) / counted : step_times[0];
    res->steady_comm_s = (g->comm_s - (c->steps > 1 ? comm0 : 0.0)) / counted;
    res->steady_compute_s = (x.fwd_s + x.bwd_s - (c->steps > 1 ? compute0 : 0.0)) / counted;
    res->gemm_flops = (zk_gemm_counters.flops - gemm0.flops) / counted;
out:
    res->skipped = m.skipped;
    res->loss_scale = m.scale;
    if (rc == 1)
        res->status = res->mem.oom ? 1 : 2;
    if (res->steps_done > 0) {
        qsort(step_times, (size_t)res->steps_done, sizeof(double), cmp_d);
        res->step_s = step_times[res->steps_done / 2];
        res->fwd_s = x.fwd_s / res->steps_done;
        res->bwd_s = x.bwd_s / res->steps_done;
        res->opt_s = opt_total / res->steps_done;
        res->comm_s = g->comm_s / res->steps_done;
    }
    model_free(&m);
    free(step_times);
    free(x.acts);
    free(x.tok);
    free(x.tgt);
    return rc;
}
