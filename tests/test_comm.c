/* test_comm.c - collectives of one step (comm.c) against the alpha-beta
 * model with nccl-tests bus factors (doc/PERFORMANCE.md) and the traffic
 * rules of the ZeRO paper (2 Psi for DP and ZeRO-1/2, 3 Psi for ZeRO-3),
 * Megatron's tensor parallelism (Shoeybi et al.: 2 all-reduces forward and
 * 2 backward per layer; Korthikanti et al.: sequence parallelism replaces
 * each by an all-gather + reduce-scatter of the same bus bytes) and
 * pipeline point-to-point traffic (Narayanan et al. 2021), and context
 * parallelism's K, V ring (Megatron-LM's CP, ring attention). */
#include "core.h"
#include "tap.h"

/* the hand tables leave their optional last fields out */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <string.h>

#define N_(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const double NVLINK = 450, PCIE = 64, NIC = 50, EFF = 0.8, A_IN = 5e-6, A_OUT = 20e-6;

static zp_model gpt(int64_t L, int64_t h, int64_t a, int64_t V, int64_t P)
{
    zp_model m = {0};
    strcpy(m.name, "gpt");
    m.layers = L; m.hidden = h; m.heads = a; m.kv_heads = a; m.ffn = 4 * h;
    m.vocab = V; m.max_pos = P; m.tied = 1; m.bias = 1;
    m.mlp = ZP_MLP_GELU; m.norm = ZP_NORM_LAYERNORM; m.pos = ZP_POS_LEARNED;
    return m;
}

static zp_train train(zp_dtype dt, zp_dtype gdt, int64_t seq)
{
    zp_train t = {0};
    t.seq = seq; t.global_batch = 512; t.dtype = dt; t.grad_dtype = gdt; t.master = 1;
    t.optim = ZP_OPT_ADAM; t.flash = 1; t.dropout = 0;
    return t;
}

static zp_layout lay(int64_t dp, int64_t tp, int64_t pp, int64_t vp, int zero, zp_offload off, zp_ckpt ck,
                     int sp, int64_t b, int64_t M)
{
    zp_layout l = {0};
    l.dp = dp; l.tp = tp; l.pp = pp; l.vp = vp; l.zero = zero; l.offload = off; l.ckpt = ck; l.sp = sp;
    l.micro_batch = b; l.grad_accum = M;
    return l;
}

static zp_cluster cluster(int64_t G, int64_t gpn)
{
    zp_cluster c = {0};
    strcpy(c.gpu.name, "test");
    c.gpu.mem_bytes = (uint64_t)80 << 30;
    c.gpu.nvlink_gbps = NVLINK;
    c.gpu.pcie_gbps = PCIE;
    c.gpu.nic_gbps = NIC;
    c.gpu.gpus_per_node = gpn;
    c.gpus = G;
    c.gpus_per_node = gpn;
    c.inter_node_gbps = NIC;
    c.host_mem_bytes = (uint64_t)2048 << 30;
    return c;
}

static zp_conv conv(void)
{
    zp_conv c = {0};
    c.link_eff = EFF;
    c.alpha_intra_s = A_IN;
    c.alpha_inter_s = A_OUT;
    c.gemm_eff = 1;
    c.zero3_regather_all = 1;   /* the ZeRO paper's accounting */
    return c;
}

/* The first collective of the step matching group, kind and a piece of its description. */
static const zp_coll *find(const zp_comm *cm, zp_group g, zp_coll_kind k, const char *what)
{
    for (int i = 0; i < cm->n; i++)
        if (cm->c[i].group == g && cm->c[i].kind == k && (!what || strstr(cm->c[i].what, what)))
            return &cm->c[i];
    return NULL;
}

static int count_group(const zp_comm *cm, zp_group g)
{
    int n = 0;
    for (int i = 0; i < cm->n; i++)
        n += cm->c[i].group == g;
    return n;
}

/* ----------------------------------------------------------- coll_time */

static void test_coll_time(void)
{
    const double G30 = 1073741824.0;
    struct { const char *name; zp_coll_kind k; int64_t n; uint64_t S; double gbps, alpha, want; } cases[] = {
        /* t = alpha * steps + S * factor / B */
        {"all-reduce n=8 1GiB", ZP_COLL_ALLREDUCE, 8, (uint64_t)1 << 30, 300, 5e-6,
         5e-6 * 2 * 7 + G30 * 2.0 * 7 / 8 / 300e9},
        {"all-reduce n=2 1GiB", ZP_COLL_ALLREDUCE, 2, (uint64_t)1 << 30, 300, 5e-6, 5e-6 * 2 + G30 * 1.0 / 300e9},
        {"all-reduce n=64 64MB", ZP_COLL_ALLREDUCE, 64, 64000000, 25, 2e-5,
         2e-5 * 2 * 63 + 64e6 * 2.0 * 63 / 64 / 25e9},
        {"reduce-scatter n=8 1GiB", ZP_COLL_REDUCE_SCATTER, 8, (uint64_t)1 << 30, 300, 5e-6,
         5e-6 * 7 + G30 * 7.0 / 8 / 300e9},
        {"all-gather n=4 100MB", ZP_COLL_ALLGATHER, 4, 100000000, 100, 1e-5, 1e-5 * 3 + 1e8 * 3.0 / 4 / 100e9},
        {"send/recv 1MB", ZP_COLL_SENDRECV, 2, 1000000, 50, 2e-5, 2e-5 * 1 + 1e6 / 50e9},
        {"broadcast n=8, no latency", ZP_COLL_BROADCAST, 8, 1000000, 50, 0, 1e6 / 50e9},
        {"reduce n=8, no latency", ZP_COLL_REDUCE, 8, 1000000, 50, 0, 1e6 / 50e9},
        {"host-to-device 1GB", ZP_COLL_H2D, 1, 1000000000, 25, 5e-6, 5e-6 + 1e9 / 25e9},
        {"all-reduce n=1: nothing to do", ZP_COLL_ALLREDUCE, 1, 1000000, 50, 5e-6, 0.0},
    };
    for (int i = 0; i < N_(cases); i++) {
        double got = zp_coll_time(cases[i].k, cases[i].n, cases[i].S, cases[i].gbps, cases[i].alpha);
        is_dbl(got, cases[i].want, 1e-12, "coll_time %s = %.6g s (got %.6g)", cases[i].name, cases[i].want, got);
    }
    /* all-reduce = reduce-scatter + all-gather (ring), latency and bandwidth */
    double ar = zp_coll_time(ZP_COLL_ALLREDUCE, 16, 1 << 28, 200, 1e-5);
    double rs = zp_coll_time(ZP_COLL_REDUCE_SCATTER, 16, 1 << 28, 200, 1e-5);
    double ag = zp_coll_time(ZP_COLL_ALLGATHER, 16, 1 << 28, 200, 1e-5);
    is_dbl(ar, rs + ag, 1e-12, "ring all-reduce time = reduce-scatter + all-gather");
}

/* ------------------------------------------------------- data parallel */

static void test_dp(void)
{
    zp_model m = gpt(12, 768, 12, 50257, 1024);
    const double psi = 124439808.0; /* GPT-2 small, see test_model.c */
    zp_cluster c = cluster(8, 8);
    zp_conv cv = conv();
    static const int64_t ds[] = {2, 4, 8};
    for (int i = 0; i < N_(ds); i++) {
        double d = (double)ds[i];
        zp_train tr = train(ZP_DT_FP16, ZP_DT_FP16, 1024);
        zp_comm cm;
        /* pure DP, M = 1: one all-reduce of the fp16 gradients, 2(d-1)/d Psi x 2 bus bytes */
        zp_layout l = lay(ds[i], 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        double dp_bytes = 2 * (d - 1) / d * psi * 2;
        is_dbl((double)cm.bytes_per_step, dp_bytes, 1e-9, "DP d=%lld: bus bytes/step = 2(d-1)/d x Psi x 2 = %.0f",
               (long long)ds[i], dp_bytes);
        ok(cm.n == 1, "DP d=%lld: exactly one collective (got %d)", (long long)ds[i], cm.n);
        const zp_coll *ar = find(&cm, ZP_GRP_DP, ZP_COLL_ALLREDUCE, NULL);
        ok(ar && ar->bytes == (uint64_t)psi * 2 && ar->count == 1 && ar->group_size == ds[i] &&
               ar->overlap == ZP_OVL_BWD && !ar->inter_node,
           "DP d=%lld: all-reduce of S = 2 Psi once, overlapped with backward, inside the node", (long long)ds[i]);
        /* reduced after the backward (Megatron's default; DeepSpeed's below
         * ZeRO-3): the same all-reduce, overlapping nothing */
        zp_conv after = cv;
        after.grad_overlap = ZP_GOVL_NONE;
        zp_comm ca;
        zp_comm_plan(&m, &tr, &l, &c, &after, 0, &ca);
        const zp_coll *aa = find(&ca, ZP_GRP_DP, ZP_COLL_ALLREDUCE, NULL);
        after.grad_overlap = ZP_GOVL_ZERO3;
        zp_comm cz;
        zp_comm_plan(&m, &tr, &l, &c, &after, 0, &cz);
        const zp_coll *az = find(&cz, ZP_GRP_DP, ZP_COLL_ALLREDUCE, NULL);
        ok(aa && az && aa->bytes == ar->bytes && aa->overlap == ZP_OVL_NONE && az->overlap == ZP_OVL_NONE,
           "DP d=%lld, gradients reduced after the backward (Megatron's; DeepSpeed's at ZeRO 0): overlaps none",
           (long long)ds[i]);
        if (ar) {
            double want = A_IN * 2 * (d - 1) + psi * 2 * 2 * (d - 1) / d / (NVLINK * EFF * 1e9);
            is_dbl(ar->time_s, want, 1e-12, "DP d=%lld: all-reduce time on NVLink x %.1f", (long long)ds[i], EFF);
            is_dbl(ar->bus_factor, 2 * (d - 1) / d, 1e-15, "DP d=%lld: bus factor 2(d-1)/d", (long long)ds[i]);
        }
        /* gradient accumulation defers the all-reduce: still once per step */
        l.grad_accum = 8;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        is_dbl((double)cm.bytes_per_step, dp_bytes, 1e-9, "DP d=%lld M=8: all-reduce still once per step",
               (long long)ds[i]);

        /* ZeRO-1/2, M = 1: reduce-scatter Psi + all-gather Psi = DP's 2 Psi (param bytes = grad bytes) */
        for (int z = 1; z <= 2; z++) {
            l = lay(ds[i], 1, 1, 1, z, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
            zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
            is_dbl((double)cm.bytes_per_step, dp_bytes, 1e-9, "ZeRO-%d d=%lld M=1: bus bytes = DP's", z,
                   (long long)ds[i]);
        }
        /* ZeRO-3, M = 1: all-gather forward + all-gather backward + reduce-scatter = 3 Psi = 1.5 x DP */
        l = lay(ds[i], 1, 1, 1, 3, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        is_dbl((double)cm.bytes_per_step, 1.5 * dp_bytes, 1e-9, "ZeRO-3 d=%lld M=1: bus bytes = 1.5 x DP",
               (long long)ds[i]);

        /* Megatron precision: bf16 params, fp32 grads.  DP all-reduce of 4-byte
         * grads; ZeRO-1 reduce-scatter 4 Psi + all-gather 2 Psi */
        tr = train(ZP_DT_BF16, ZP_DT_FP32, 1024);
        l = lay(ds[i], 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        is_dbl((double)cm.bytes_per_step, 2 * (d - 1) / d * psi * 4, 1e-9, "DP fp32 grads d=%lld: 2(d-1)/d x 4 Psi",
               (long long)ds[i]);
        l.zero = 1;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        is_dbl((double)cm.bytes_per_step, (d - 1) / d * psi * (4 + 2), 1e-9,
               "ZeRO-1 fp32 grads bf16 params d=%lld: (d-1)/d x (4 + 2) Psi", (long long)ds[i]);
    }

    /* per micro-batch reduction: ZeRO-2/3 reduce every micro-batch (count M),
     * ZeRO-0/1 once; ZeRO-1/2 gather updated parameters once; ZeRO-3 gathers
     * in forward and backward of each micro-batch */
    {
        const int64_t M = 4, d = 8;
        zp_train tr = train(ZP_DT_FP16, ZP_DT_FP16, 1024);
        struct { int zero; zp_coll_kind k; const char *what; int64_t count; } cases[] = {
            {0, ZP_COLL_ALLREDUCE, "gradient", 1},
            {1, ZP_COLL_REDUCE_SCATTER, "gradient", 1},
            {1, ZP_COLL_ALLGATHER, "updated", 1},
            {2, ZP_COLL_REDUCE_SCATTER, "gradient", M},
            {2, ZP_COLL_ALLGATHER, "updated", 1},
            {3, ZP_COLL_REDUCE_SCATTER, "gradient", M},
            {3, ZP_COLL_ALLGATHER, "forward", M},
            {3, ZP_COLL_ALLGATHER, "backward", M},
        };
        for (int i = 0; i < N_(cases); i++) {
            zp_layout l = lay(d, 1, 1, 1, cases[i].zero, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, M);
            zp_comm cm;
            zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
            const zp_coll *cl = find(&cm, ZP_GRP_DP, cases[i].k, cases[i].what);
            ok(cl && cl->count == cases[i].count && cl->bytes == (uint64_t)psi * 2,
               "ZeRO-%d M=%lld: %s '%s' of 2 Psi bytes runs %lld times (got %lld)", cases[i].zero, (long long)M,
               zp_coll_kind_names[cases[i].k], cases[i].what, (long long)cases[i].count,
               (long long)(cl ? cl->count : -1));
        }
        /* totals: ZeRO-2 = (M + 1)(d-1)/d 2 Psi; ZeRO-3 = 3M (d-1)/d 2 Psi */
        zp_layout l = lay(d, 1, 1, 1, 2, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, M);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        is_dbl((double)cm.bytes_per_step, (M + 1) * 7.0 / 8 * psi * 2, 1e-9, "ZeRO-2 M=4: (M+1)(d-1)/d 2 Psi");
        l.zero = 3;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        is_dbl((double)cm.bytes_per_step, 3 * M * 7.0 / 8 * psi * 2, 1e-9, "ZeRO-3 M=4: 3M(d-1)/d 2 Psi");
        /* --zero3-regather blocks: the backward gathers the 12 blocks of
         * 12 h^2 + 13 h = 7087872 and, tied, the embedding (50257 + 1024) h
         * = 39383808 again as the head: all but the final norm's 2h = 1536 */
        zp_conv cb = cv;
        cb.zero3_regather_all = 0;
        zp_comm_plan(&m, &tr, &l, &c, &cb, 0, &cm);
        const zp_coll *bw = find(&cm, ZP_GRP_DP, ZP_COLL_ALLGATHER, "backward");
        ok(bw && bw->bytes == 2 * (12 * 7087872ull + 39383808ull) && bw->bytes == 2 * (psi - 1536) && bw->count == M,
           "regather blocks, tied: backward all-gather of 2 (12 x 7087872 + 39383808) bytes, M times");
        zp_model u = m;
        u.tied = 0;   /* untied: the head (V h) runs its backward on its forward's gather */
        zp_comm_plan(&u, &tr, &l, &c, &cb, 0, &cm);
        bw = find(&cm, ZP_GRP_DP, ZP_COLL_ALLGATHER, "backward");
        ok(bw && bw->bytes == 2 * 12 * 7087872ull, "regather blocks, untied: backward all-gather of the blocks only");
    }
    /* dp = 1: no data-parallel traffic at all */
    {
        zp_train tr = train(ZP_DT_FP16, ZP_DT_FP16, 1024);
        zp_cluster c1 = cluster(1, 8);
        for (int z = 0; z <= 3; z++) {
            zp_layout l = lay(1, 1, 1, 1, z, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 4);
            zp_comm cm;
            zp_comm_plan(&m, &tr, &l, &c1, &cv, 0, &cm);
            ok(cm.n == 0 && cm.bytes_per_step == 0 && cm.time_s == 0, "single GPU ZeRO-%d: no collectives (n=%d)",
               z, cm.n);
        }
    }
}

/* ------------------------------------------------------------- offload */

static void test_offload(void)
{
    zp_model m = gpt(12, 768, 12, 50257, 1024);
    const uint64_t psi = 124439808, d = 8, sh = (psi + d - 1) / d;
    zp_train tr = train(ZP_DT_FP16, ZP_DT_FP16, 1024);
    zp_cluster c = cluster(8, 8);
    zp_conv cv = conv();
    const int64_t M = 4;
    struct { const char *name; int zero; zp_offload off; int64_t d2h, h2d; } cases[] = {
        /* the gradient partition goes down once (ZeRO-1) or per micro-batch (ZeRO-2/3);
         * updated parameters come back once, or, offloaded, at every gather (2 per micro-batch) */
        {"ZeRO-1 optimizer offload", 1, ZP_OFF_OPT, 1, 1},
        {"ZeRO-2 optimizer offload", 2, ZP_OFF_OPT, M, 1},
        {"ZeRO-3 optimizer offload", 3, ZP_OFF_OPT, M, 1},
        {"ZeRO-3 optimizer+params offload", 3, ZP_OFF_OPT_PARAMS, M, 2 * M},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_layout l = lay((int64_t)d, 1, 1, 1, cases[i].zero, cases[i].off, ZP_CKPT_NONE, 0, 1, M);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        const zp_coll *dn = find(&cm, ZP_GRP_PCIE, ZP_COLL_D2H, NULL);
        const zp_coll *up = find(&cm, ZP_GRP_PCIE, ZP_COLL_H2D, NULL);
        ok(dn && dn->bytes == sh * 2 && dn->count == cases[i].d2h, "%s: device-to-host of ceil(Psi/d) x 2 bytes x %lld",
           cases[i].name, (long long)cases[i].d2h);
        int64_t ups = 0;   /* parameters offloaded: one entry for the forward's gathers, one for the backward's */
        for (int j = 0; j < cm.n; j++)
            if (cm.c[j].kind == ZP_COLL_H2D && cm.c[j].bytes == sh * 2)
                ups += cm.c[j].count;
        ok(up && up->bytes == sh * 2 && ups == cases[i].h2d, "%s: host-to-device of ceil(Psi/d) x 2 bytes x %lld",
           cases[i].name, (long long)cases[i].h2d);
        if (dn)
            is_dbl(dn->time_s, (double)dn->count * (A_IN + (double)(sh * 2) / (PCIE * EFF * 1e9)), 1e-12,
                   "%s: D2H time over PCIe", cases[i].name);
    }
    zp_layout l = lay((int64_t)d, 1, 1, 1, 2, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, M);
    zp_comm cm;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    ok(count_group(&cm, ZP_GRP_PCIE) == 0, "no offload: no PCIe transfers");
}

/* ------------------------------------------------------ tensor parallel */

static void test_tp(void)
{
    const int64_t L = 24, h = 4096, s = 2048, b = 2, M = 4, t = 8, V = 50304;
    zp_model m = gpt(L, h, 32, V, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, s);
    zp_cluster c = cluster(8, 8);
    zp_conv cv = conv();
    const uint64_t S = (uint64_t)(s * b * h * 2); /* one layer's bf16 output */
    const double ft = 2.0 * (t - 1) / t;
    for (int ck = 0; ck <= ZP_CKPT_FULL; ck++)   /* op: test_ckpt_op */ {
        int64_t per = 4 + (ck == ZP_CKPT_FULL ? 2 : 0);
        zp_layout l = lay(1, t, 1, 1, 0, ZP_OFF_NONE, (zp_ckpt)ck, 0, b, M);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        const zp_coll *ar = find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "tensor-parallel");
        ok(ar && ar->bytes == S && ar->count == per * L * M && ar->group_size == t && !ar->inter_node &&
               ar->overlap == ZP_OVL_NONE,
           "tp=8 %s: %lld all-reduces of s b h 2 = %llu bytes per layer per micro-batch (count %lld)",
           zp_ckpt_names[ck], (long long)per, (unsigned long long)S, (long long)(per * L * M));
        double layer_bus = ft * (double)S * (double)(per * L * M);
        if (ar)
            is_dbl(ar->time_s, (double)(per * L * M) * (A_IN * 2 * (t - 1) + (double)S * ft / (NVLINK * EFF * 1e9)),
                   1e-12, "tp=8 %s: all-reduce time", zp_ckpt_names[ck]);
        /* sequence parallelism: all-gather + reduce-scatter of the same S, the same bus bytes */
        l.sp = 1;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        const zp_coll *ag = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "sequence-parallel");
        const zp_coll *rs = find(&cm, ZP_GRP_TP, ZP_COLL_REDUCE_SCATTER, "sequence-parallel");
        ok(ag && rs && ag->bytes == S && rs->bytes == S && ag->count == per * L * M && rs->count == per * L * M,
           "tp=8 sp %s: %lld all-gathers and reduce-scatters of %llu bytes per layer per micro-batch",
           zp_ckpt_names[ck], (long long)per, (unsigned long long)S);
        ok(find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "tensor-parallel") == NULL, "tp=8 sp %s: no layer all-reduce",
           zp_ckpt_names[ck]);
        if (ag && rs)
            is_dbl(ag->bus_factor * (double)ag->bytes * (double)ag->count +
                       rs->bus_factor * (double)rs->bytes * (double)rs->count,
                   layer_bus, 1e-12, "tp=8 sp %s: same bus bytes as the all-reduces", zp_ckpt_names[ck]);
    }
    /* parallel attention + MLP (GPT-J, GPT-NeoX): their row-parallel outputs
     * summed before one all-reduce forward, one backward; full recompute one
     * more: 2, 2, 3 per layer per micro-batch (and as many all-gathers and
     * reduce-scatters each with sequence parallelism) */
    for (int nb = 0; nb < 2; nb++)
        for (int ck = 0; ck <= ZP_CKPT_FULL; ck++)   /* op: test_ckpt_op */ {
            zp_model mp = m;
            mp.block = nb ? ZP_BLOCK_PARALLEL_2NORM : ZP_BLOCK_PARALLEL;
            int64_t per = 2 + (ck == ZP_CKPT_FULL ? 1 : 0);
            zp_layout l = lay(1, t, 1, 1, 0, ZP_OFF_NONE, (zp_ckpt)ck, 0, b, M);
            zp_comm cm;
            zp_comm_plan(&mp, &tr, &l, &c, &cv, 0, &cm);
            const zp_coll *ar = find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "tensor-parallel");
            ok(ar && ar->bytes == S && ar->count == per * L * M,
               "tp=8 %s block, %s: %lld all-reduces per layer per micro-batch", zp_block_names[mp.block],
               zp_ckpt_names[ck], (long long)per);
            l.sp = 1;
            zp_comm_plan(&mp, &tr, &l, &c, &cv, 0, &cm);
            const zp_coll *ag = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "sequence-parallel");
            ok(ag && ag->count == per * L * M, "tp=8 sp %s block, %s: %lld all-gathers per layer per micro-batch",
               zp_block_names[mp.block], zp_ckpt_names[ck], (long long)per);
            /* the norms' gradients: GPT-J's one LayerNorm a block, NeoX's
             * two (parallel-2norm), and the final one, 2h fp32 values each
             * (weight and bias; the fp32 gradient dtype) */
            int64_t norms = (nb ? 2 : 1) * L + 1;
            const zp_coll *nr = find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "norm gradient");
            ok(nr && nr->bytes == (uint64_t)(norms * 2 * h * 4) && nr->count == 1,
               "tp=8 sp %s block, %s: the norm-gradient all-reduce sums %lld norms of 2h fp32 (%llu bytes)",
               zp_block_names[mp.block], zp_ckpt_names[ck], (long long)norms, (unsigned long long)(norms * 2 * h * 4));
        }
    /* vocab-parallel cross-entropy (Megatron): 3 fp32 all-reduces per token
     * per micro-batch (max, target logit, sum of exponentials) */
    {
        zp_layout l = lay(1, t, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, b, M);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        const zp_coll *ce = find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "cross-entropy");
        ok(ce && ce->bytes == (uint64_t)(4 * s * b) && ce->count == 3 * M,
           "vocab-parallel cross-entropy: 3M all-reduces of 4 s b bytes");
    }
    /* tp = 1: nothing in the tp group */
    {
        zp_layout l = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, b, M);
        zp_cluster c1 = cluster(1, 8);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c1, &cv, 0, &cm);
        ok(count_group(&cm, ZP_GRP_TP) == 0, "tp=1: no tensor-parallel collectives");
    }
}

/* ---------------------------------------------------- pipeline parallel */

static void test_pp(void)
{
    const int64_t L = 32, h = 4096, s = 2048, b = 1, M = 8, V = 50304;
    zp_model m = gpt(L, h, 32, V, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, s);
    zp_conv cv = conv();
    const uint64_t S = (uint64_t)(s * b * h * 2);
    struct { int64_t p, v, k, t; int sp; int64_t fwd, bwd; } cases[] = {
        /* 1F1B: every stage but the last sends activations of each micro-batch,
         * every stage but the first sends gradients back */
        {4, 1, 0, 1, 0, M, 0},
        {4, 1, 1, 1, 0, M, M},
        {4, 1, 3, 1, 0, 0, M},
        /* interleaved v chunks: each chunk sends, except the last chunk of the
         * last stage (forward) and the first chunk of the first (backward) */
        {4, 2, 0, 1, 0, 2 * M, M},
        {4, 2, 2, 1, 0, 2 * M, 2 * M},
        {4, 2, 3, 1, 0, M, 2 * M},
        {2, 4, 0, 1, 0, 4 * M, 3 * M},
        /* with sequence parallelism the message is split by t */
        {4, 1, 1, 4, 1, M, M},
    };
    for (int i = 0; i < N_(cases); i++) {
        int64_t p = cases[i].p, t = cases[i].t;
        zp_layout l = lay(1, t, p, cases[i].v, 0, ZP_OFF_NONE, ZP_CKPT_NONE, cases[i].sp, b, M);
        zp_cluster c = cluster(p * t, 8);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, cases[i].k, &cm);
        uint64_t msg = S / (uint64_t)(cases[i].sp ? t : 1);
        const zp_coll *fa = find(&cm, ZP_GRP_PP, ZP_COLL_SENDRECV, "activation");
        const zp_coll *bg = find(&cm, ZP_GRP_PP, ZP_COLL_SENDRECV, "gradient send");
        int64_t fc = fa ? fa->count : 0, bc = bg ? bg->count : 0;
        ok(fc == cases[i].fwd && bc == cases[i].bwd && (!fa || fa->bytes == msg) && (!bg || bg->bytes == msg),
           "pp=%lld v=%lld stage %lld tp=%lld sp=%d: %lld activation and %lld gradient sends of %llu bytes "
           "(got %lld, %lld)",
           (long long)p, (long long)cases[i].v, (long long)cases[i].k, (long long)t, cases[i].sp,
           (long long)cases[i].fwd, (long long)cases[i].bwd, (unsigned long long)msg, (long long)fc, (long long)bc);
        /* the pipeline group spans t p GPUs: across nodes beyond 8 (NIC) */
        int x = p * t > 8;
        if (fa)
            is_dbl(fa->time_s, (double)fc * ((x ? A_OUT : A_IN) + (double)msg / ((x ? NIC : NVLINK) * EFF * 1e9)),
                   1e-12, "pp=%lld tp=%lld: send time alpha + S / B per message on %s", (long long)p, (long long)t,
                   x ? "the NIC" : "NVLink");
    }
    /* tied embeddings: first and last stage all-reduce the embedding gradient
     * (ceil(V/t) h fp32 values), middle stages do not */
    {
        zp_layout l = lay(1, 1, 4, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, b, M);
        zp_cluster c = cluster(4, 8);
        for (int64_t k = 0; k < 4; k++) {
            zp_comm cm;
            zp_comm_plan(&m, &tr, &l, &c, &cv, k, &cm);
            const zp_coll *e = find(&cm, ZP_GRP_EMB, ZP_COLL_ALLREDUCE, NULL);
            if (k == 0 || k == 3)
                ok(e && e->bytes == (uint64_t)(V * h * 4) && e->count == 1 && e->group_size == 2,
                   "pp=4 stage %lld: tied embedding gradient all-reduce of V h x 4 bytes", (long long)k);
            else
                ok(!e, "pp=4 stage %lld: no embedding all-reduce in the middle", (long long)k);
        }
        zp_model u = m;
        u.tied = 0;
        zp_comm cm;
        zp_comm_plan(&u, &tr, &l, &c, &cv, 0, &cm);
        ok(count_group(&cm, ZP_GRP_EMB) == 0, "untied: no embedding group traffic");
    }
}

/* --------------------------------------------------- inter-node groups */

/* One GPT block on one of t tensor-parallel ranks (Megatron split, as in
 * test_model.c): column-parallel QKV and fc1 with their biases / t,
 * row-parallel proj and fc2 / t with replicated biases, 2 LayerNorms. */
static int64_t gpt_layer(int64_t h, int64_t t)
{
    int64_t f = 4 * h;
    return (3 * h * h + 3 * h) / t + h * h / t + h + (h * f + f) / t + f * h / t + h + 4 * h;
}

static void test_inter_node(void)
{
    const int64_t L = 32, h = 4096, V = 50304, Pos = 2048, s = 2048, M = 8;
    zp_model m = gpt(L, h, 32, V, Pos);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, s);
    zp_conv cv = conv();
    /* Megatron rank order: tp fastest, then dp, then pp; a group of
     * consecutive-span tp, tp dp, tp dp pp crosses nodes when the span
     * exceeds the GPUs per node (8) */
    struct { int64_t tp, dp, pp; int tp_x, dp_x, pp_x; } cases[] = {
        {8, 2, 1, 0, 1, 0},  /* dp span 16 */
        {2, 4, 2, 0, 0, 1},  /* dp span 8; pp span 16 */
        {1, 16, 1, 0, 1, 0},
        {4, 2, 4, 0, 0, 1},
        {2, 2, 2, 0, 0, 0},  /* 8 GPUs: one node */
        {8, 1, 4, 0, 0, 1},
        {16, 2, 1, 1, 1, 0}, /* tp over two whole nodes (8 ranks in each); dp span 32, one rank a node */
    };
    for (int i = 0; i < N_(cases); i++) {
        int64_t t = cases[i].tp, d = cases[i].dp, p = cases[i].pp, G = t * d * p;
        zp_cluster c = cluster(G, 8);
        zp_layout l = lay(d, t, p, 1, 1, ZP_OFF_NONE, ZP_CKPT_NONE, t > 1, 1, M);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        const int want[3] = {cases[i].tp_x, cases[i].dp_x, cases[i].pp_x};
        const zp_group grp[3] = {ZP_GRP_TP, ZP_GRP_DP, ZP_GRP_PP};
        const int64_t size[3] = {t, d, p};
        /* one collective per group whose S is known by hand, timed on the
         * link the case expects (NIC 50 GB/s, alpha 20 us across nodes;
         * NVLink 450 GB/s, alpha 5 us inside), both x 0.8:
         *   TP sequence-parallel all-gather of a layer's output 2 s h =
         *     16,777,216 bytes, 4 L/p M times, factor (t-1)/t, t-1 steps
         *   DP updated-parameter all-gather of the first stage's bf16
         *     parameters 2 P_0, P_0 = L/p block(t) + (ceil(V/t) + Pos) h,
         *     + 2 h at p = 1 (the only stage also holds the final norm),
         *     once, factor (d-1)/d, d-1 steps
         *   PP activation send of 2 s h / t (sp) bytes, M times, factor 1 */
        const char *what[3] = {"sequence-parallel all-gather", "updated-parameter", "activation"};
        const zp_coll_kind kind[3] = {ZP_COLL_ALLGATHER, ZP_COLL_ALLGATHER, ZP_COLL_SENDRECV};
        int64_t P0 = L / p * gpt_layer(h, t) + ((V + t - 1) / t + Pos) * h + (p == 1 ? 2 * h : 0);
        const double S[3] = {2.0 * s * h, 2.0 * (double)P0, 2.0 * s * h / (double)t};
        const double count[3] = {4.0 * (double)(L / p) * M, 1, M};
        const double fac[3] = {(double)(t - 1) / (double)t, (double)(d - 1) / (double)d, 1};
        const double steps[3] = {(double)(t - 1), (double)(d - 1), 1};
        for (int g = 0; g < 3; g++) {
            int seen = 0, bad = 0;
            for (int j = 0; j < cm.n; j++)
                if (cm.c[j].group == grp[g]) {
                    seen++;
                    bad += cm.c[j].inter_node != want[g];
                }
            ok((size[g] > 1 ? seen > 0 : seen == 0) && bad == 0,
               "tp=%lld dp=%lld pp=%lld: all %d %s collectives %s nodes", (long long)t, (long long)d, (long long)p,
               seen, zp_group_names[grp[g]], want[g] ? "cross" : "stay inside");
            if (size[g] < 2)
                continue;
            const zp_coll *cl = find(&cm, grp[g], kind[g], what[g]);
            double B = (want[g] ? NIC : NVLINK) * EFF * 1e9, a = want[g] ? A_OUT : A_IN;
            double tw = count[g] * (a * steps[g] + S[g] * fac[g] / B);
            /* the dp all-gather across nodes with r = 8 / t > 1 ranks a
             * node: NVLink inside the node, then N = d / r rings across
             * nodes of S / r each (NCCL's hierarchical algorithm; the case
             * tp=1 dp=16: r = 8, N = 2) */
            int64_t r = 8 / t < d ? 8 / t : d;
            /* a tp group over whole nodes (t a multiple of 8): r = 8 of
             * its ranks in each node, N = t / 8 rings across, alike */
            if (g == 0 && want[g])
                r = 8;
            if ((g == 1 || g == 0) && want[g] && r > 1) {
                double N = (double)size[g] / (double)r;
                tw = count[g] * ((r - 1.0) / r * S[g] / (NVLINK * EFF * 1e9) + A_IN * (r - 1.0) +
                                 (N - 1.0) / N * S[g] / r / (NIC * EFF * 1e9) + A_OUT * (N - 1.0));
            }
            ok(cl && (double)cl->bytes == S[g] && (double)cl->count == count[g],
               "tp=%lld dp=%lld pp=%lld: %s '%s' of %.0f bytes x %.0f", (long long)t, (long long)d, (long long)p,
               zp_group_names[grp[g]], what[g], S[g], count[g]);
            if (cl)
                is_dbl(cl->time_s, tw, 1e-12, "tp=%lld dp=%lld pp=%lld: %s '%s' timed on %s: %.6g s", (long long)t,
                       (long long)d, (long long)p, zp_group_names[grp[g]], what[g], want[g] ? "the NIC" : "NVLink", tw);
        }
    }
}

/* --tp-overlap hides the sequence-parallel gathers and reduce-scatters
 * behind the products inside a node (async TP's symmetric memory,
 * Transformer Engine's userbuffers, both over NVLink); a tp group over
 * whole nodes runs them exposed */
static void test_tp_overlap_nodes(void)
{
    zp_model m = gpt(32, 4096, 32, 50304, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 2048);
    zp_conv cv = conv();
    cv.tp_overlap = 1;
    for (int i = 0; i < 2; i++) {
        int64_t t = i ? 16 : 8;
        zp_cluster c = cluster(t, 8);
        zp_layout l = lay(1, t, 1, 1, 1, ZP_OFF_NONE, ZP_CKPT_NONE, 1, 1, 4);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        const zp_coll *g = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "sequence-parallel all-gather");
        const zp_coll *r = find(&cm, ZP_GRP_TP, ZP_COLL_REDUCE_SCATTER, "sequence-parallel reduce-scatter");
        zp_overlap want = i ? ZP_OVL_NONE : ZP_OVL_GEMM;
        ok(g && r && g->overlap == want && r->overlap == want,
           "--tp-overlap, tp %lld on 8-GPU nodes: the sequence-parallel collectives overlap '%s'", (long long)t,
           zp_overlap_names[want]);
    }
}

/* ----------------------------------------------------------- totals */

/* Every collective of one 3D layout, written out by hand: S, count, the
 * nccl-tests bus factor (doc/PERFORMANCE.md: all-reduce 2(n-1)/n,
 * reduce-scatter and all-gather (n-1)/n, send/recv and copies 1) and the
 * bus bytes per step, as concrete numbers, never from the program's own
 * fields.  GPT L = 32, h = 4096, a = 32, V = 50304, Pos = 2048, s = 2048,
 * b = 1; t = 4 (sp), d = 4, p = 4, v = 2, M = 16; ZeRO-1 with the
 * optimizer offloaded, full recompute; bf16 params, fp32 grads.
 *   one block on a tp rank: (3h^2+3h)/4 + h^2/4 + h + (4h^2+4h)/4 + 4h^2/4
 *     + h + 4h = 50,363,392; ceil(V/4) = 12576 embedding rows
 *   P_0 = 8 x 50363392 + 12576 h + 2048 h = 462,807,040
 *   P_1 = 8 x 50363392                    = 402,907,136  (a middle stage)
 *   P_3 = 8 x 50363392 + 2h + 12576 h      = 454,426,624  (tied copy)
 *   DP (span t d = 16 GPUs > 8: across nodes, 2 of the 4 ranks in each
 *     node, so hierarchical: (2-1)/2 S over NVLink, then 2 rings across
 *     of S/2, (2-1)/2 of it each): gradient reduce-scatter S = 4 P,
 *     factor 3/4; updated-parameter all-gather S = 2 P, 3/4
 *   offload (PCIe, factor 1): gradient partition down 4 ceil(P/4), updated
 *     parameters up 2 ceil(P/4), once each (ZeRO-1)
 *   TP (NVLink): a layer's output 2 s b h = 16,777,216 bytes, all-gather +
 *     reduce-scatter (4 + 2 with full recompute) x L/p x M = 6 x 8 x 16 =
 *     768 times each, bus 3/4 x 16777216 = 12,582,912 a call; the first
 *     stage's embedding output and the last's head input gradient once per
 *     micro-batch (16); the last's cross-entropy 3 x 16 all-reduces of
 *     4 s b = 8192 bytes, bus 3/2 x 8192 = 12,288
 *   PP (span 64 GPUs: the NIC): messages 2 s b h / t = 4,194,304 bytes,
 *     v M = 32 per direction, (v - 1) M = 16 where a stage has no
 *     neighbour (the last forward, the first backward)
 *   tied embedding (first and last, n = 2: factor 2 x 1/2 = 1): fp32
 *     gradient of 12576 h rows, 4 x 12576 x 4096 = 206,045,184 bytes */
enum { LNK_NIC, LNK_NVL, LNK_PCIE };
struct hand_coll {
    zp_coll_kind kind; zp_group group; const char *what; int64_t n; int link; uint64_t S; int64_t count;
    double factor; int64_t steps; uint64_t bus;
    const char *mutation;   /* a mutation of comm.c this row catches that no other test did */
    int64_t per_node;       /* > 1: a collective across nodes with this many of its ranks in a node,
                             * run hierarchically (NVLink inside, rings of S / per_node across) */
};

static void check_stage(const zp_model *m, const zp_train *tr, const zp_layout *l, const zp_cluster *c,
                        const zp_conv *cv, int64_t k, const struct hand_coll *want, int nwant, uint64_t total)
{
    static const double bw[] = {NIC, NVLINK, PCIE}, alpha[] = {A_OUT, A_IN, A_IN};
    zp_comm cm;
    zp_comm_plan(m, tr, l, c, cv, k, &cm);
    is_u64(cm.n, nwant, "3D stage %lld: %d collectives, no more", (long long)k, nwant);
    double tsum = 0;
    uint64_t bsum = 0;
    for (int i = 0; i < nwant; i++) {
        const struct hand_coll *w = &want[i];
        double tw = (double)w->count * (alpha[w->link] * (double)w->steps +
                                        (double)w->S * w->factor / (bw[w->link] * EFF * 1e9));
        if (w->per_node > 1) {   /* reduce-scatter / all-gather: (r-1)/r inside, (N-1)/N of S/r across */
            double r = (double)w->per_node, N = (double)w->n / r;
            tw = (double)w->count * ((r - 1) / r * (double)w->S / (NVLINK * EFF * 1e9) + A_IN * (r - 1) +
                                     (N - 1) / N * (double)w->S / r / (NIC * EFF * 1e9) + A_OUT * (N - 1));
        }
        tsum += tw;
        bsum += w->bus;
        const zp_coll *cl = find(&cm, w->group, w->kind, w->what[0] ? w->what : NULL);
        ok(cl != NULL, "3D stage %lld: %s %s '%s' present%s%s", (long long)k, zp_group_names[w->group],
           zp_coll_kind_names[w->kind], w->what, w->mutation ? " (mutation: " : "", w->mutation ? w->mutation : "");
        if (!cl)
            continue;
        ok(cl->bytes == w->S && cl->count == w->count && cl->group_size == w->n &&
               cl->inter_node == (w->link == LNK_NIC),
           "3D stage %lld: %s %s '%s': S = %llu bytes x %lld calls, group of %lld, %s%s%s (got %llu x %lld, %lld)",
           (long long)k, zp_group_names[w->group], zp_coll_kind_names[w->kind], w->what,
           (unsigned long long)w->S, (long long)w->count, (long long)w->n, w->link == LNK_NIC ? "across nodes" : "inside",
           w->mutation ? " (mutation: " : "", w->mutation ? w->mutation : "",
           (unsigned long long)cl->bytes, (long long)cl->count, (long long)cl->group_size);
        is_dbl(cl->bus_factor, w->factor, 0, "3D stage %lld: %s %s '%s': bus factor %g", (long long)k,
               zp_group_names[w->group], zp_coll_kind_names[w->kind], w->what, w->factor);
        is_u64(cl->bus_bytes, w->bus, "3D stage %lld: %s %s '%s': bus bytes per step %llu", (long long)k,
               zp_group_names[w->group], zp_coll_kind_names[w->kind], w->what, (unsigned long long)w->bus);
        is_dbl(cl->time_s, tw, 1e-12, "3D stage %lld: %s %s '%s': %lld x (alpha x %lld + S x %g / B) = %.6g s",
               (long long)k, zp_group_names[w->group], zp_coll_kind_names[w->kind], w->what, (long long)w->count,
               (long long)w->steps, w->factor, tw);
    }
    is_u64(bsum, total, "3D stage %lld: the hand table adds up to %llu bus bytes (sanity of the table)",
           (long long)k, (unsigned long long)total);
    is_u64(cm.bytes_per_step, total, "3D stage %lld: bus bytes per step = %llu", (long long)k,
           (unsigned long long)total);
    is_dbl(cm.time_s, tsum, 1e-12, "3D stage %lld: time = the hand times' sum %.6g s", (long long)k, tsum);
}

static void test_totals(void)
{
    zp_model m = gpt(32, 4096, 32, 50304, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 2048);
    zp_conv cv = conv();
    zp_cluster c = cluster(64, 8);
    zp_layout l = lay(4, 4, 4, 2, 1, ZP_OFF_OPT, ZP_CKPT_FULL, 1, 1, 16);
    const zp_coll_kind RS = ZP_COLL_REDUCE_SCATTER, AG = ZP_COLL_ALLGATHER, AR = ZP_COLL_ALLREDUCE,
                       SR = ZP_COLL_SENDRECV;
    const struct hand_coll s0[] = {
        {RS, ZP_GRP_DP, "gradient reduce-scatter", 4, LNK_NIC, 1851228160, 1, 0.75, 3, 1388421120, NULL, 2},
        {AG, ZP_GRP_DP, "updated-parameter", 4, LNK_NIC, 925614080, 1, 0.75, 3, 694210560, NULL, 2},
        {ZP_COLL_D2H, ZP_GRP_PCIE, "", 1, LNK_PCIE, 462807040, 1, 1, 1, 462807040,
         "the offloaded gradient partition sent in the parameter dtype is caught)"},
        {ZP_COLL_H2D, ZP_GRP_PCIE, "", 1, LNK_PCIE, 231403520, 1, 1, 1, 231403520, NULL},
        {AG, ZP_GRP_TP, "sequence-parallel", 4, LNK_NVL, 16777216, 768, 0.75, 3, 9663676416, NULL},
        {RS, ZP_GRP_TP, "sequence-parallel", 4, LNK_NVL, 16777216, 768, 0.75, 3, 9663676416, NULL},
        {RS, ZP_GRP_TP, "embedding output", 4, LNK_NVL, 16777216, 16, 0.75, 3, 201326592,
         "the embedding output's count 2M instead of M is caught)"},
        /* sequence parallelism's: the kept inputs of the 2 column-parallel
         * products per layer gathered again (8 layers x 16 micro-batches),
         * the lookup's gradient gathered per micro-batch, the norms'
         * gradients (2 per layer of 2h = 8192 fp32 values) summed once */
        {AG, ZP_GRP_TP, "re-gather", 4, LNK_NVL, 16777216, 256, 0.75, 3, 3221225472, NULL},
        {AG, ZP_GRP_TP, "embedding gradient", 4, LNK_NVL, 16777216, 16, 0.75, 3, 201326592, NULL},
        {AR, ZP_GRP_TP, "norm gradient", 4, LNK_NVL, 524288, 1, 1.5, 6, 786432, NULL},
        {SR, ZP_GRP_PP, "activation", 2, LNK_NIC, 4194304, 32, 1, 1, 134217728, NULL},
        {SR, ZP_GRP_PP, "gradient send", 2, LNK_NIC, 4194304, 16, 1, 1, 67108864, NULL},
        {AR, ZP_GRP_EMB, "", 2, LNK_NIC, 206045184, 1, 1, 2, 206045184, NULL},
    };
    const struct hand_coll s1[] = {
        {RS, ZP_GRP_DP, "gradient reduce-scatter", 4, LNK_NIC, 1611628544, 1, 0.75, 3, 1208721408, NULL, 2},
        {AG, ZP_GRP_DP, "updated-parameter", 4, LNK_NIC, 805814272, 1, 0.75, 3, 604360704, NULL, 2},
        {ZP_COLL_D2H, ZP_GRP_PCIE, "", 1, LNK_PCIE, 402907136, 1, 1, 1, 402907136, NULL},
        {ZP_COLL_H2D, ZP_GRP_PCIE, "", 1, LNK_PCIE, 201453568, 1, 1, 1, 201453568, NULL},
        {AG, ZP_GRP_TP, "sequence-parallel", 4, LNK_NVL, 16777216, 768, 0.75, 3, 9663676416, NULL},
        {RS, ZP_GRP_TP, "sequence-parallel", 4, LNK_NVL, 16777216, 768, 0.75, 3, 9663676416, NULL},
        {AG, ZP_GRP_TP, "re-gather", 4, LNK_NVL, 16777216, 256, 0.75, 3, 3221225472, NULL},
        {AR, ZP_GRP_TP, "norm gradient", 4, LNK_NVL, 524288, 1, 1.5, 6, 786432, NULL},
        {SR, ZP_GRP_PP, "activation", 2, LNK_NIC, 4194304, 32, 1, 1, 134217728, NULL},
        {SR, ZP_GRP_PP, "gradient send", 2, LNK_NIC, 4194304, 32, 1, 1, 134217728, NULL},
    };
    const struct hand_coll s3[] = {
        {RS, ZP_GRP_DP, "gradient reduce-scatter", 4, LNK_NIC, 1817706496, 1, 0.75, 3, 1363279872, NULL, 2},
        {AG, ZP_GRP_DP, "updated-parameter", 4, LNK_NIC, 908853248, 1, 0.75, 3, 681639936, NULL, 2},
        {ZP_COLL_D2H, ZP_GRP_PCIE, "", 1, LNK_PCIE, 454426624, 1, 1, 1, 454426624, NULL},
        {ZP_COLL_H2D, ZP_GRP_PCIE, "", 1, LNK_PCIE, 227213312, 1, 1, 1, 227213312, NULL},
        {AG, ZP_GRP_TP, "sequence-parallel", 4, LNK_NVL, 16777216, 768, 0.75, 3, 9663676416, NULL},
        {RS, ZP_GRP_TP, "sequence-parallel", 4, LNK_NVL, 16777216, 768, 0.75, 3, 9663676416, NULL},
        {RS, ZP_GRP_TP, "head input", 4, LNK_NVL, 16777216, 16, 0.75, 3, 201326592,
         "the head-input gradient as an all-reduce under sequence parallelism is caught)"},
        /* the head's input gathered per micro-batch; the norms: 17 (the
         * final one too) */
        {AG, ZP_GRP_TP, "re-gather", 4, LNK_NVL, 16777216, 256, 0.75, 3, 3221225472, NULL},
        {AG, ZP_GRP_TP, "head input", 4, LNK_NVL, 16777216, 16, 0.75, 3, 201326592, NULL},
        {AR, ZP_GRP_TP, "norm gradient", 4, LNK_NVL, 557056, 1, 1.5, 6, 835584, NULL},
        {AR, ZP_GRP_TP, "cross-entropy", 4, LNK_NVL, 8192, 48, 1.5, 6, 589824, NULL},
        {SR, ZP_GRP_PP, "activation", 2, LNK_NIC, 4194304, 16, 1, 1, 67108864, NULL},
        {SR, ZP_GRP_PP, "gradient send", 2, LNK_NIC, 4194304, 32, 1, 1, 134217728, NULL},
        {AR, ZP_GRP_EMB, "", 2, LNK_NIC, 206045184, 1, 1, 2, 206045184, NULL},
    };
    check_stage(&m, &tr, &l, &c, &cv, 0, s0, N_(s0), 26136231936u);
    check_stage(&m, &tr, &l, &c, &cv, 1, s1, N_(s1), 25235243008u);
    check_stage(&m, &tr, &l, &c, &cv, 3, s3, N_(s3), 26086588416u);
}

/* ---------------------------------------------------- context parallel */

/* Context parallelism (cp ranks of s / cp tokens each): the ring passes a
 * rank's K and V chunk, 2 b (s / cp) g d / t values of 2 bytes, to its
 * neighbour cp - 1 times per layer and micro-batch forward and 2 (cp - 1)
 * times backward (K, V again, and their gradients), once more forward with
 * full recompute; the gradients are reduced over the dp x cp ranks that
 * hold the same parameters; a tp all-reduce moves s / cp tokens. */
static void test_cp(void)
{
    const int64_t L = 4, h = 1024, a = 16, g = 4, s = 8192, b = 2, M = 3, V = 32000;
    zp_model m = gpt(L, h, a, V, 0);
    m.kv_heads = g;
    m.pos = ZP_POS_ROTARY;
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, s);
    zp_conv cv = conv();
    int64_t d = h / a;   /* 64 */
    struct { int64_t dp, tp, cp; zp_ckpt ck; } cases[] = {
        {2, 1, 2, ZP_CKPT_NONE}, {1, 2, 4, ZP_CKPT_NONE}, {2, 2, 2, ZP_CKPT_FULL}, {1, 1, 8, ZP_CKPT_NONE},
    };
    for (int i = 0; i < N_(cases); i++) {
        int64_t dp = cases[i].dp, t = cases[i].tp, cp = cases[i].cp;
        zp_layout l = lay(dp, t, 1, 1, 1, ZP_OFF_NONE, cases[i].ck, 0, b, M);
        l.cp = cp;
        zp_cluster c = cluster(dp * t * cp, 8);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        uint64_t kv = (uint64_t)(2 * b * (s / cp) * g * d / t * 2);   /* K and V chunk, bf16 */
        int64_t rounds = (cp - 1) * L * M, rc = cases[i].ck == ZP_CKPT_FULL ? 2 : 1;
        const zp_coll *f = find(&cm, ZP_GRP_CP, ZP_COLL_SENDRECV, "forward");
        const zp_coll *bk = find(&cm, ZP_GRP_CP, ZP_COLL_SENDRECV, "backward");
        ok(f && bk && f->bytes == kv && bk->bytes == kv && f->count == rounds * rc && bk->count == 2 * rounds &&
           f->group_size == cp && f->overlap == ZP_OVL_ATTN,
           "dp %lld tp %lld cp %lld%s: ring of %llu-byte K, V chunks, %lld sends forward, %lld backward, "
           "behind the attention", (long long)dp, (long long)t, (long long)cp,
           cases[i].ck == ZP_CKPT_FULL ? " full recompute" : "", (unsigned long long)kv, (long long)(rounds * rc),
           (long long)(2 * rounds));
        /* the ring spans t cp GPUs: inside a node up to 8 */
        int x = t * cp > 8;
        if (f)
            is_dbl(f->time_s, (double)f->count * ((x ? A_OUT : A_IN) + (double)kv / ((x ? NIC : NVLINK) * EFF * 1e9)),
                   1e-12, "cp %lld tp %lld: each ring send alpha + S / B on %s", (long long)cp, (long long)t,
                   x ? "the NIC" : "NVLink");
        const zp_coll *rs = find(&cm, ZP_GRP_DP, ZP_COLL_REDUCE_SCATTER, "gradient");
        ok(rs && rs->group_size == dp * cp, "dp %lld cp %lld: gradients reduce-scattered over dp x cp = %lld ranks",
           (long long)dp, (long long)cp, (long long)(dp * cp));
        if (t > 1) {
            /* sequence parallelism off: one layer output of s / cp tokens, bf16 */
            const zp_coll *ar = find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "tensor-parallel");
            ok(ar && ar->bytes == (uint64_t)((s / cp) * b * h * 2),
               "tp %lld cp %lld: the tensor-parallel all-reduce moves s/cp b h x 2 = %lld bytes", (long long)t,
               (long long)cp, (long long)((s / cp) * b * h * 2));
        }
    }
    /* cp = 1 (or unset): no ring */
    zp_layout l = lay(2, 1, 1, 1, 1, ZP_OFF_NONE, ZP_CKPT_NONE, 0, b, M);
    zp_cluster c = cluster(2, 8);
    zp_comm cm;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    ok(count_group(&cm, ZP_GRP_CP) == 0, "cp unset: no context-parallel traffic");
}

/* Per-op checkpointing with tensor parallelism: with sequence parallelism
 * the column-parallel inputs are gathered again (2 all-gathers more per
 * layer and micro-batch, as full recompute), the reduce-scatters' outputs
 * are kept (none more); without it the two all-reduces of the forward
 * again. */
static void test_ckpt_op(void)
{
    const int64_t L = 4, M = 3;
    zp_model m = gpt(L, 2048, 16, 32000, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, 2048);
    zp_conv cv = conv();
    zp_cluster c = cluster(4, 8);
    for (int sp = 0; sp <= 1; sp++) {
        zp_layout l = lay(1, 4, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_OP, sp, 1, M);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        if (sp) {
            const zp_coll *ag = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "sequence-parallel");
            const zp_coll *rs = find(&cm, ZP_GRP_TP, ZP_COLL_REDUCE_SCATTER, "sequence-parallel");
            ok(ag && rs && ag->count == 6 * L * M && rs->count == 4 * L * M,
               "op + sp: %lld all-gathers (6 a layer) and %lld reduce-scatters (4 a layer)", (long long)(6 * L * M),
               (long long)(4 * L * M));
        } else {
            const zp_coll *ar = find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "tensor-parallel");
            ok(ar && ar->count == 6 * L * M, "op without sp: %lld all-reduces (6 a layer)", (long long)(6 * L * M));
        }
    }
}

/* ZeRO-3 with pp > 1 (FSDP with pipelining): one all-gather of the stage's
 * P bf16 parameters a step, behind the compute, and one reduce-scatter of
 * its P gradients after the last micro-batch; no per-micro-batch gathers. */
static void test_fsdp_pp(void)
{
    const int64_t M = 8;
    zp_model m = gpt(24, 2048, 16, 50257, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 2048);
    zp_conv cv = conv();
    zp_cluster c = cluster(8, 8);
    zp_layout l = lay(4, 1, 2, 1, 3, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, M);
    zp_comm cm;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    uint64_t P = (uint64_t)(12 * gpt_layer(2048, 1)) + (uint64_t)zp_model_embed_params(&m, 1);
    const zp_coll *ag = find(&cm, ZP_GRP_DP, ZP_COLL_ALLGATHER, "FSDP + PP");
    const zp_coll *rs = find(&cm, ZP_GRP_DP, ZP_COLL_REDUCE_SCATTER, "gradient");
    ok(ag && ag->bytes == P * 2 && ag->count == 1 && ag->overlap == ZP_OVL_FWD,
       "FSDP + PP: one all-gather of P x 2 bytes a step, behind the first micro-batch's forward");
    ok(rs && rs->bytes == P * 4 && rs->count == 1, "FSDP + PP: one reduce-scatter of P x 4 bytes a step");
    ok(!find(&cm, ZP_GRP_DP, ZP_COLL_ALLGATHER, "ZeRO-3 forward"), "FSDP + PP: no per-micro-batch gathers");
}

/* DeepSpeed's ZeRO-3 reduces behind the backward (overlap_comm): its
 * gradient reduce-scatter keeps its overlap; at ZeRO 2 it does not */
static void test_after_zero3(void);

/* DTensor's kept gathered inputs (sp_gathered) spare the weight gradients'
 * re-gather, unless selective recompute rebuilds the norms that made them:
 * then nothing keeps them and they are gathered again, as Megatron's */
static void test_sp_gathered_norms(void)
{
    zp_model m = gpt(4, 1024, 16, 32000, 1024);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, 1024);
    zp_conv cv = conv();
    zp_cluster c = cluster(8, 8);
    zp_layout l = lay(1, 4, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_SELECTIVE, 1, 1, 2);
    tr.sp_gathered = 1;
    static const int mods[] = {ZP_RC_CORE_ATTN, ZP_RC_MLP, ZP_RC_NORM, ZP_RC_MLP | ZP_RC_NORM};
    for (int i = 0; i < 4; i++) {
        tr.rc_modules = mods[i];
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        int norms = (mods[i] & ZP_RC_NORM) != 0;
        const zp_coll *rg = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "re-gather");
        ok(norms ? rg && rg->count == 2 * 4 * 2 : rg == NULL, "DTensor, selective recompute of modules %d: %s", mods[i],
           norms ? "the norms rebuilt, 2 re-gathers a block" : "no re-gather");
    }
}

/* Q's and K's head norms (Qwen3): every tp rank holds them whole and
 * makes their gradients from its own heads, summed over tp once a step
 * (per micro-batch at ZeRO-2/3), with or without sp: 4 layers x 2 d
 * (h 1024 / 16 heads: d = 64) x 2 bytes (bf16 gradients) = 1024 B */
static void test_qk_norm(void)
{
    zp_model m = gpt(4, 1024, 16, 32000, 1024);
    m.norm = ZP_NORM_RMSNORM;
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, 1024);
    zp_conv cv = conv();
    zp_cluster c = cluster(8, 8);
    for (int sp = 0; sp <= 1; sp++)
        for (int zero = 0; zero <= 2; zero += 2) {
            zp_layout l = lay(1, 4, 1, 1, zero, ZP_OFF_NONE, ZP_CKPT_NONE, sp, 1, 2);
            zp_comm cm;
            m.qk_norm = 0;
            zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
            ok(!find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "Q/K"), "no Q/K norms: no all-reduce of theirs");
            m.qk_norm = 1;
            zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
            const zp_coll *q = find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "Q/K");
            ok(q && q->bytes == 1024 && q->count == (zero >= 2 ? 2 : 1) && q->group_size == 4,
               "Q/K norms, t=4, sp %d, ZeRO-%d: their gradients all-reduced over tp, 4 x 2 x 64 x 2 = 1024 B, %d a "
               "step", sp, zero, zero >= 2 ? 2 : 1);
        }
    zp_layout l1 = lay(4, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 2);
    zp_comm cm;
    zp_comm_plan(&m, &tr, &l1, &c, &cv, 0, &cm);
    ok(!find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "Q/K"), "Q/K norms without tp: nothing to sum");
}

static void test_after_zero3(void)
{
    zp_model m = gpt(4, 1024, 16, 32000, 1024);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, 1024);
    zp_conv cv = conv();
    cv.grad_overlap = ZP_GOVL_ZERO3;
    zp_cluster c = cluster(8, 8);
    for (int z = 2; z <= 3; z++) {
        zp_layout l = lay(8, 1, 1, 1, z, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 2);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        const zp_coll *rs = find(&cm, ZP_GRP_DP, ZP_COLL_REDUCE_SCATTER, "gradient");
        ok(rs && rs->overlap == (z == 3 ? ZP_OVL_BWD : ZP_OVL_NONE),
           "DeepSpeed's reduction, ZeRO %d: the gradient reduce-scatter overlaps %s", z, z == 3 ? "backward" : "none");
    }
}

/* FP8 linear layers with sequence parallelism (Transformer Engine, torchao's
 * float8 tensor parallelism): the gathers that feed a product move the FP8
 * input, 1 byte a value; the backward's gradient gathers and every
 * reduce-scatter stay in bf16.  Serial block, per layer and micro-batch:
 * forward 2 gathers (QKV's and fc1's inputs), backward 2 gradient gathers,
 * full recompute 2 more forward gathers, and (not per-op) 2 re-gathers of
 * the saved inputs for the weights' gradients. */
static void test_fp8_sp(void)
{
    const int64_t L = 4, M = 3, s = 2048, b = 2, h = 2048;
    zp_model m = gpt(L, h, 16, 32000, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, s);
    zp_conv cv = conv();
    zp_cluster c = cluster(4, 8);
    const uint64_t S16 = (uint64_t)(s * b * h * 2), S8 = (uint64_t)(s * b * h);
    const zp_ckpt cks[3] = {ZP_CKPT_NONE, ZP_CKPT_FULL, ZP_CKPT_OP};
    const int64_t fwd8[3] = {2, 4, 4}, regather[3] = {2, 2, 0};
    for (int i = 0; i < 3; i++) {
        zp_layout l = lay(1, 4, 1, 1, 0, ZP_OFF_NONE, cks[i], 1, b, M);
        zp_comm base, cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &base);
        tr.fp8 = 1;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        tr.fp8 = 0;
        const zp_coll *a8 = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "(FP8 inputs)");
        const zp_coll *ag = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "(gradients)");
        const zp_coll *rg = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "re-gather");
        const zp_coll *rs = find(&cm, ZP_GRP_TP, ZP_COLL_REDUCE_SCATTER, "sequence-parallel");
        const zp_coll *rs0 = find(&base, ZP_GRP_TP, ZP_COLL_REDUCE_SCATTER, "sequence-parallel");
        const zp_coll *ag0 = find(&base, ZP_GRP_TP, ZP_COLL_ALLGATHER, "sequence-parallel");
        ok(a8 && a8->bytes == S8 && a8->count == fwd8[i] * L * M, "fp8 sp %s: %lld FP8 gathers of s b h = %llu bytes",
           zp_ckpt_names[cks[i]], (long long)(fwd8[i] * L * M), (unsigned long long)S8);
        ok(ag && ag->bytes == S16 && ag->count == 2 * L * M, "fp8 sp %s: %lld gradient gathers of 2 s b h bytes",
           zp_ckpt_names[cks[i]], (long long)(2 * L * M));
        ok(regather[i] ? rg && rg->bytes == S8 && rg->count == regather[i] * L * M : rg == NULL,
           "fp8 sp %s: the weight gradients' re-gathers (%lld) in FP8", zp_ckpt_names[cks[i]],
           (long long)(regather[i] * L * M));
        ok(rs && rs0 && rs->bytes == S16 && rs->count == rs0->count, "fp8 sp %s: the reduce-scatters unchanged (bf16)",
           zp_ckpt_names[cks[i]]);
        ok(ag0 && ag0->bytes == S16 && a8 && ag && ag0->count == a8->count + ag->count,
           "fp8 sp %s: as many gathers as in bf16 (%lld), split by what they carry", zp_ckpt_names[cks[i]],
           ag0 ? (long long)ag0->count : -1LL);
        /* DTensor (--sp-inputs gathered): the products keep the gathered
         * input, so no re-gather; per-op checkpointing, which keeps none,
         * gathers again in its recompute (the fwd8 count above) */
        zp_comm dt;
        tr.sp_gathered = 1;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &dt);
        tr.sp_gathered = 0;
        const zp_coll *rgd = find(&dt, ZP_GRP_TP, ZP_COLL_ALLGATHER, "re-gather");
        const zp_coll *agd = find(&dt, ZP_GRP_TP, ZP_COLL_ALLGATHER, "sequence-parallel all-gather");
        const zp_coll *rsd = find(&dt, ZP_GRP_TP, ZP_COLL_REDUCE_SCATTER, "sequence-parallel");
        ok(rgd == NULL && agd && ag0 && agd->count == ag0->count && rsd && rs0 && rsd->count == rs0->count &&
               dt.n == base.n - (regather[i] ? 1 : 0),
           "sp %s, gathered inputs kept: no re-gather, the other collectives as before", zp_ckpt_names[cks[i]]);
    }
}

/* Full recompute of every k-th block: only the R = floor(L / k) rebuilt
 * blocks repeat their forward collectives.  Serial block, per micro-batch:
 * 4 all-reduces a layer (2 forward, 2 backward) + 2 per rebuilt block; with
 * sp as many all-gathers and reduce-scatters; the context-parallel ring
 * goes round once more per rebuilt block. */
static void test_ckpt_every(void)
{
    const int64_t L = 5, M = 3;
    zp_model m = gpt(L, 2048, 16, 32000, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, 4096);
    zp_conv cv = conv();
    zp_cluster c = cluster(8, 8);
    tr.ckpt_every = 2;   /* blocks 2 and 4 of 5 */
    zp_layout l = lay(1, 4, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, M);
    zp_comm cm;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    const zp_coll *ar = find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "tensor-parallel");
    ok(ar && ar->count == (4 * L + 2 * 2) * M, "every 2nd of 5: (4 x 5 + 2 x 2) x M = %lld all-reduces",
       (long long)((4 * L + 2 * 2) * M));
    tr.ckpt_every = 0;
    tr.ckpt_block = 3;   /* the first 3 of 5 */
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    ar = find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "tensor-parallel");
    ok(ar && ar->count == (4 * L + 2 * 3) * M, "block 3 of 5: (4 x 5 + 2 x 3) x M = %lld all-reduces",
       (long long)((4 * L + 2 * 3) * M));
    tr.ckpt_block = 0;
    tr.ckpt_every = 2;
    l.sp = 1;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    const zp_coll *ag = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "sequence-parallel all-gather");
    const zp_coll *rs = find(&cm, ZP_GRP_TP, ZP_COLL_REDUCE_SCATTER, "sequence-parallel");
    ok(ag && rs && ag->count == (4 * L + 4) * M && rs->count == (4 * L + 4) * M,
       "every 2nd of 5, sp: %lld all-gathers and reduce-scatters", (long long)((4 * L + 4) * M));
    zp_layout lc = lay(1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_FULL, 0, 1, M);
    lc.cp = 4;
    zp_comm_plan(&m, &tr, &lc, &c, &cv, 0, &cm);
    const zp_coll *f = find(&cm, ZP_GRP_CP, ZP_COLL_SENDRECV, "forward");
    ok(f && f->count == 3 * M * (L + 2), "every 2nd of 5, cp 4: the forward ring (cp - 1) M (L + 2) = %lld times",
       (long long)(3 * M * (L + 2)));
}

/* Selective recompute of the MLP (--recompute-modules mlp) repeats its
 * forward collective: without sp 4 + 1 all-reduces a layer; with sp 5
 * all-gathers and reduce-scatters, and the weight gradients' re-gathers
 * stay 2 a layer (fc1 keeps its input as the rank's rows, recomputed or
 * not). */
static void test_rc_mlp(void)
{
    const int64_t L = 3, M = 2;
    zp_model m = gpt(L, 2048, 16, 32000, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, 2048);
    zp_cluster c = cluster(4, 8);
    zp_conv cv = conv();
    tr.rc_modules = ZP_RC_MLP;
    zp_layout l = lay(1, 4, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_SELECTIVE, 0, 1, M);
    zp_comm cm;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    const zp_coll *ar = find(&cm, ZP_GRP_TP, ZP_COLL_ALLREDUCE, "tensor-parallel");
    ok(ar && ar->count == 5 * L * M, "selective mlp, no sp: 5 all-reduces a layer (%lld)", (long long)(5 * L * M));
    l.sp = 1;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    const zp_coll *ag = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "sequence-parallel all-gather");
    const zp_coll *rs = find(&cm, ZP_GRP_TP, ZP_COLL_REDUCE_SCATTER, "sequence-parallel");
    const zp_coll *rg = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "re-gather");
    ok(ag && rs && rg && ag->count == 5 * L * M && rs->count == 5 * L * M && rg->count == 2 * L * M,
       "selective mlp, sp: 5 all-gathers and reduce-scatters a layer, 2 re-gathers");
    tr.rc_modules = ZP_RC_CORE_ATTN;   /* Korthikanti's: no collective again */
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    ag = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "sequence-parallel all-gather");
    rg = find(&cm, ZP_GRP_TP, ZP_COLL_ALLGATHER, "re-gather");
    ok(ag && rg && ag->count == 4 * L * M && rg->count == 2 * L * M, "selective core_attn, sp: 4 and 2 a layer");
}

/* Megatron's asynchronous input-gradient reduction (tp_grad_overlap): of
 * a serial block's 4 all-reduces a layer and micro-batch (2 forward, 2
 * backward) the backward's 2 run behind the weight-gradient products
 * (ZP_OVL_WGRAD), the forward's stay on the critical path; full recompute's
 * 2 more are forward ones.  With sequence parallelism the same split of
 * the reduce-scatters; the all-gathers do not change.  The bytes in all
 * are those without it. */
static void test_tp_grad_overlap(void)
{
    const int64_t L = 3, M = 2;
    zp_model m = gpt(L, 2048, 16, 32000, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, 2048);
    zp_cluster c = cluster(4, 8);
    zp_conv cv = conv();
    for (int ck = 0; ck < 2; ck++)
        for (int sp = 0; sp < 2; sp++) {
            zp_layout l = lay(1, 4, 1, 1, 0, ZP_OFF_NONE, ck ? ZP_CKPT_FULL : ZP_CKPT_NONE, sp, 1, M);
            zp_comm base, cm;
            cv.tp_grad_overlap = 0;
            zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &base);
            cv.tp_grad_overlap = 1;
            zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
            zp_coll_kind k = sp ? ZP_COLL_REDUCE_SCATTER : ZP_COLL_ALLREDUCE;
            const char *crit_what = sp ? "sequence-parallel reduce-scatter" : "tensor-parallel all-reduce";
            const zp_coll *crit = find(&cm, ZP_GRP_TP, k, crit_what);
            const zp_coll *bg = find(&cm, ZP_GRP_TP, k, "of input gradients");
            int64_t fwd = (2 + (ck ? 2 : 0)) * L * M, bwd = 2 * L * M;
            ok(crit && bg && crit->count == fwd && crit->overlap == ZP_OVL_NONE &&
                   bg->count == bwd && bg->overlap == ZP_OVL_WGRAD,
               "%s, %s: %lld forward %ss on the critical path, %lld backward behind the weight gradients",
               sp ? "sp" : "no sp", ck ? "full recompute" : "no recompute", (long long)fwd, zp_coll_kind_names[k],
               (long long)bwd);
            ok(cm.bytes_per_step == base.bytes_per_step, "%s, %s: the same bytes as without (%llu)", sp ? "sp" : "no sp",
               ck ? "full" : "none", (unsigned long long)base.bytes_per_step);
        }
}

/* Megatron's interleaved schedule with overlap_p2p_comm (p2p_overlap):
 * the pipeline sends of a stage run behind its other chunks' compute
 * (ZP_OVL_P2P) only with interleaving (vp > 1); without it they block (the
 * schedule forces the overlap off), as they do with the option off.  The
 * distributed optimizer's --overlap-param-gather (param_gather_overlap):
 * ZeRO-1 and 2's updated-parameter all-gather behind the next forward
 * (ZP_OVL_FWD), the reduce-scatter unchanged; the bytes the same. */
static void test_p2p_param_overlap(void)
{
    const int64_t L = 8, M = 4;
    zp_model m = gpt(L, 2048, 16, 32000, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, 2048);
    zp_cluster c = cluster(4, 8);
    zp_conv cv = conv();
    for (int v = 1; v <= 2; v++)
        for (int on = 0; on < 2; on++) {
            zp_layout l = lay(1, 1, 4, v, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, M);
            cv.p2p_overlap = on;
            zp_comm cm;
            zp_comm_plan(&m, &tr, &l, &c, &cv, 1, &cm);
            const zp_coll *a = find(&cm, ZP_GRP_PP, ZP_COLL_SENDRECV, "activation send");
            const zp_coll *g = find(&cm, ZP_GRP_PP, ZP_COLL_SENDRECV, "gradient send");
            zp_overlap want = on && v > 1 ? ZP_OVL_P2P : ZP_OVL_NONE;
            ok(a && g && a->overlap == want && g->overlap == want && a->count == v * M && g->count == v * M,
               "pp 4, vp %d, p2p overlap %s: a middle stage's %d sends each way %s", v, on ? "on" : "off",
               (int)(v * M), want == ZP_OVL_P2P ? "behind the other chunks" : "on the critical path");
        }
    cv.p2p_overlap = 0;
    for (int z = 1; z <= 2; z++) {
        zp_layout l = lay(8, 1, 1, 1, z, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, M);
        zp_comm base, cm;
        cv.param_gather_overlap = 0;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &base);
        cv.param_gather_overlap = 1;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        const zp_coll *b0 = find(&base, ZP_GRP_DP, ZP_COLL_ALLGATHER, "updated-parameter");
        const zp_coll *b1 = find(&cm, ZP_GRP_DP, ZP_COLL_ALLGATHER, "updated-parameter");
        const zp_coll *rs = find(&cm, ZP_GRP_DP, ZP_COLL_REDUCE_SCATTER, "gradient reduce-scatter");
        ok(b0 && b1 && rs && b0->overlap == ZP_OVL_NONE && b1->overlap == ZP_OVL_FWD && rs->overlap == ZP_OVL_BWD &&
               b0->bytes == b1->bytes && cm.bytes_per_step == base.bytes_per_step,
           "ZeRO-%d: the updated parameters' all-gather behind the forward with --param-gather-overlap, after the "
           "step without; the same bytes", z);
    }
    cv.param_gather_overlap = 0;
}

/* FSDP's SHARD_GRAD_OP (zero2_reshard, --framework fsdp): each backward that
 * reduce-scatters reshards the parameters, so each of the M = 4
 * micro-batches' forwards gathers them again: 4 all-gathers of the stage's
 * 16-bit parameters, S = 2 P, behind the step's compute as ZeRO-3's gathers
 * are (FWD_BWD), where DeepSpeed's ZeRO-2 gathers the updated parameters
 * once after the optimizer; the reduce-scatters (4) unchanged.
 * By hand, dp 8 (a ring's factor 7/8): 4 x round(2 P x 7/8) bytes sent. */
static void test_zero2_reshard(void)
{
    const int64_t M = 4;
    zp_model m = gpt(8, 2048, 16, 32000, 2048);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_BF16, 2048);
    zp_cluster c = cluster(1, 8);
    zp_conv cv = conv();
    zp_layout l = lay(8, 1, 1, 1, 2, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, M);
    int64_t P = zp_stage_params(&m, &l, 0);
    zp_comm base, cm;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &base);
    cv.zero2_reshard = 1;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    const zp_coll *b = find(&base, ZP_GRP_DP, ZP_COLL_ALLGATHER, "updated-parameter");
    const zp_coll *r = find(&cm, ZP_GRP_DP, ZP_COLL_ALLGATHER, "each micro-batch");
    const zp_coll *rs0 = find(&base, ZP_GRP_DP, ZP_COLL_REDUCE_SCATTER, NULL);
    const zp_coll *rs1 = find(&cm, ZP_GRP_DP, ZP_COLL_REDUCE_SCATTER, NULL);
    ok(b && b->count == 1 && !find(&cm, ZP_GRP_DP, ZP_COLL_ALLGATHER, "updated-parameter"),
       "ZeRO-2 kept whole: one updated-parameter all-gather a step; resharding replaces it");
    ok(r && r->count == M && r->bytes == (uint64_t)(2 * P) && r->overlap == ZP_OVL_FWD_BWD &&
           r->bus_bytes == (uint64_t)M * (uint64_t)llround(2.0 * (double)P * 7.0 / 8.0),
       "FSDP SHARD_GRAD_OP: 4 all-gathers of 2 P bytes (P = %lld) behind forward and backward, 4 x 2 P x 7/8 sent",
       (long long)P);
    {   /* at one micro-batch the same bytes as before: one gather of 2 P */
        zp_layout l1 = lay(8, 1, 1, 1, 2, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 4, 1);
        zp_comm c0, c1;
        cv.zero2_reshard = 0;
        zp_comm_plan(&m, &tr, &l1, &c, &cv, 0, &c0);
        cv.zero2_reshard = 1;
        zp_comm_plan(&m, &tr, &l1, &c, &cv, 0, &c1);
        ok(c0.bytes_per_step == c1.bytes_per_step && c0.time_s == c1.time_s,
           "one micro-batch: resharding gathers once, the bytes and time DeepSpeed's ZeRO-2 sends");
    }
    ok(rs0 && rs1 && rs0->count == M && rs1->count == M && rs0->bus_bytes == rs1->bus_bytes,
       "the 4 gradient reduce-scatters the same either way");
}

/* Group size on NVLink (zp_conv.group_c): a ring collective of n < 8
 * ranks inside a node runs at link_eff x (1 - c/n) / (1 - c/8) of NVLink,
 * 8 and more at link_eff; across nodes the hierarchical algorithm's NVLink
 * part by its r ranks a node, its NIC rings at link_eff alone; point to
 * point untouched.  Each time worked by hand from the formula, c = 0.75. */
static void test_group_eff(void)
{
    const double C = 0.75;
    zp_model m = gpt(12, 768, 12, 50257, 1024);
    const double psi = 124439808.0;   /* GPT-2 small, as test_dp */
    zp_train tr = train(ZP_DT_FP16, ZP_DT_FP16, 1024);
    zp_conv cv = conv();
    cv.group_c = C;
    static const int64_t ds[] = {2, 4, 8};
    zp_cluster c = cluster(8, 8);
    for (int i = 0; i < N_(ds); i++) {
        double d = (double)ds[i];
        zp_layout l = lay(ds[i], 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
        const zp_coll *ar = find(&cm, ZP_GRP_DP, ZP_COLL_ALLREDUCE, NULL);
        double h = ds[i] < 8 ? (1 - C / d) / (1 - C / 8) : 1.0;   /* 2: 0.6897, 4: 0.8966, 8: 1 */
        double want = A_IN * 2 * (d - 1) + psi * 2 * 2 * (d - 1) / d / (NVLINK * EFF * h * 1e9);
        ok(ar != NULL, "group c=%.2f, d=%lld: one all-reduce", C, (long long)ds[i]);
        if (ar)
            is_dbl(ar->time_s, want, 1e-12, "group c=%.2f, d=%lld: all-reduce on NVLink at %.1f x %.4f", C,
                   (long long)ds[i], EFF, h);
        is_dbl(zp_group_eff(&cv, ds[i]), h, 1e-15, "zp_group_eff(%lld) = %.4f", (long long)ds[i], h);
    }
    is_dbl(zp_group_eff(&cv, 1), 1.0, 0, "zp_group_eff of one rank: 1");
    is_dbl(zp_group_eff(&cv, 16), 1.0, 0, "zp_group_eff of 16 ranks: 1");
    /* two nodes of 4, dp 8: NVLink part (3/4 of S by 4 ranks a node, at
     * (1 - c/4) / (1 - c/8)), then 4 rings of S/4 over the NICs at link_eff */
    zp_cluster c2 = cluster(8, 4);
    zp_layout l = lay(8, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
    zp_comm cm;
    zp_comm_plan(&m, &tr, &l, &c2, &cv, 0, &cm);
    const zp_coll *ar = find(&cm, ZP_GRP_DP, ZP_COLL_ALLREDUCE, NULL);
    double S = psi * 2, r = 4, N = 2, h4 = (1 - C / 4) / (1 - C / 8);
    double want = 2 * (r - 1) / r * S / (NVLINK * EFF * h4 * 1e9) + A_IN * 2 * (r - 1) +
                  2 * (N - 1) / N * S / r / (NIC * EFF * 1e9) + A_OUT * 2 * (N - 1);
    ok(ar && ar->inter_node, "group c: dp 8 over two nodes of 4 crosses them");
    if (ar)
        is_dbl(ar->time_s, want, 1e-12, "group c: dp 8 on two nodes of 4, NVLink part at %.4f, NIC rings at link_eff", h4);
    /* NVLink's own efficiency (a preset's measured nvlink_efficiency):
     * the NVLink part at it, the NIC rings still at link_eff */
    zp_conv cn = cv;
    cn.nvlink_eff = 0.68;
    zp_comm_plan(&m, &tr, &l, &c2, &cn, 0, &cm);
    ar = find(&cm, ZP_GRP_DP, ZP_COLL_ALLREDUCE, NULL);
    want = 2 * (r - 1) / r * S / (NVLINK * 0.68 * h4 * 1e9) + A_IN * 2 * (r - 1) +
           2 * (N - 1) / N * S / r / (NIC * EFF * 1e9) + A_OUT * 2 * (N - 1);
    if (ok(ar != NULL, "nvlink_eff 0.68: dp 8 on two nodes of 4 has its all-reduce"))
        is_dbl(ar->time_s, want, 1e-12, "nvlink_eff 0.68: the NVLink part at 0.68 x %.4f, the NIC rings at link_eff %.1f",
               h4, EFF);
    is_dbl(zp_nvlink_eff(&cn), 0.68, 0, "zp_nvlink_eff: the measured NVLink efficiency where given");
    is_dbl(zp_nvlink_eff(&cv), EFF, 0, "zp_nvlink_eff: link_eff where none is given");
    /* a node whose GPUs talk over PCIe (its "NVLink" no faster than PCIe:
     * the H100 PCIe, L40S, RTX presets): no group term */
    zp_cluster cp = cluster(8, 8);
    cp.gpu.nvlink_gbps = PCIE;
    zp_layout l2 = lay(2, 1, 1, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 1);
    zp_comm_plan(&m, &tr, &l2, &cp, &cv, 0, &cm);
    ar = find(&cm, ZP_GRP_DP, ZP_COLL_ALLREDUCE, NULL);
    if (ok(ar != NULL, "PCIe node: dp 2 has its all-reduce"))
        is_dbl(ar->time_s, A_IN * 2 + psi * 2 * 2 * 0.5 / (PCIE * EFF * 1e9), 1e-12,
               "PCIe node, dp 2: all-reduce at link_eff alone, no group term");
    /* a measured profile (its own link efficiency, as zplan calibrate
     * writes): the group term off, the bandwidths as achieved */
    zp_gpu prof = cluster(8, 8).gpu;
    prof.link_eff = 1.0;
    zp_conv cd;
    memset(&cd, 0, sizeof cd);
    zp_conv_defaults(&cd, &prof);
    ok(cd.group_c == 0.0 && cd.link_eff == 1.0, "a profile with its own link efficiency: group term off (c %g)",
       cd.group_c);
    /* zplan exec: a stored plan's conventions (B200: NVLink at 0.68, the
     * group term), then the measured profile over them: as measured */
    zp_conv st = cv;
    st.nvlink_eff = 0.68;
    zp_conv_apply_gpu(&st, &prof);
    ok(zp_nvlink_eff(&st) == 1.0 && st.group_c == 0.0,
       "a profile applied over a stored plan's conventions: NVLink at the measured link efficiency (%g), no group term",
       zp_nvlink_eff(&st));
    prof.link_eff = 0.0;
    zp_conv_defaults(&cd, &prof);
    ok(cd.group_c == 0.75 && cd.link_eff == 0.8, "a preset without one: the defaults, c 0.75 and 0.8");
    /* pipeline sends are point to point: as without the term */
    zp_layout lp = lay(1, 1, 2, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 0, 1, 4);
    zp_conv c0 = conv();
    zp_comm a, b;
    zp_comm_plan(&m, &tr, &lp, &c, &cv, 0, &a);
    zp_comm_plan(&m, &tr, &lp, &c, &c0, 0, &b);
    const zp_coll *sa = find(&a, ZP_GRP_PP, ZP_COLL_SENDRECV, NULL), *sb = find(&b, ZP_GRP_PP, ZP_COLL_SENDRECV, NULL);
    ok(sa && sb && sa->time_s == sb->time_s, "group c: pipeline send/recv timed as without it (%.6g s)",
       sa ? sa->time_s : 0.0);
}

/* Pipeline sends go over NVLink or the network as the neighbour stage
 * sits: tp 4 x pp 4 on two nodes of 8 GPUs puts stages 0 and 1 in node 0,
 * 2 and 3 in node 1, so stage 0 sends forward over NVLink, stage 1 forward
 * over the network and backward over NVLink; each send a message of
 * s b h 2 / t (sequence parallel) at alpha + S / B. */
static void test_pp_links(void)
{
    zp_model m = gpt(8, 1024, 16, 51200, 1024);
    zp_train tr = train(ZP_DT_BF16, ZP_DT_FP32, 1024);
    zp_conv cv = conv();
    zp_cluster c = cluster(16, 8);
    zp_layout l = lay(1, 4, 4, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 1, 1, 8);
    const double msg = 1024.0 * 1 * 1024 * 2 / 4;
    static const struct { int64_t k; int fwd_net, bwd_net; } st[] = {{0, 0, -1}, {1, 1, 0}, {2, 0, 1}, {3, -1, 0}};
    for (int i = 0; i < 4; i++) {
        zp_comm cm;
        zp_comm_plan(&m, &tr, &l, &c, &cv, st[i].k, &cm);
        const zp_coll *f = find(&cm, ZP_GRP_PP, ZP_COLL_SENDRECV, "activation send");
        const zp_coll *b = find(&cm, ZP_GRP_PP, ZP_COLL_SENDRECV, "gradient send");
        const zp_coll *x[2] = {f, b};
        const int want[2] = {st[i].fwd_net, st[i].bwd_net};
        for (int j = 0; j < 2; j++) {
            if (want[j] < 0) {
                ok(x[j] == NULL, "tp 4 pp 4 on 2 nodes, stage %lld: no %s send", (long long)st[i].k,
                   j ? "backward" : "forward");
                continue;
            }
            ok(x[j] && x[j]->inter_node == want[j] && x[j]->bytes == (uint64_t)msg && x[j]->count == 8,
               "tp 4 pp 4 on 2 nodes, stage %lld: its %s send of %.0f bytes x 8 %s", (long long)st[i].k,
               j ? "backward" : "forward", msg, want[j] ? "crosses the nodes" : "stays in the node");
            if (x[j])
                is_dbl(x[j]->time_s, 8 * ((want[j] ? A_OUT : A_IN) + msg / ((want[j] ? NIC : NVLINK) * EFF * 1e9)), 1e-12,
                       "stage %lld %s send timed on %s", (long long)st[i].k, j ? "backward" : "forward",
                       want[j] ? "the NIC" : "NVLink");
        }
    }
    /* interleaved (vp 2): the last stage's forward and stage 0's backward
     * wrap around, from node 1 to node 0 */
    l.vp = 2;
    zp_comm cm;
    zp_comm_plan(&m, &tr, &l, &c, &cv, 3, &cm);
    const zp_coll *f = find(&cm, ZP_GRP_PP, ZP_COLL_SENDRECV, "activation send");
    ok(f && f->inter_node && f->count == 8, "vp 2, the last stage's wrapped forward send to stage 0 crosses the nodes");
    zp_comm_plan(&m, &tr, &l, &c, &cv, 0, &cm);
    const zp_coll *b = find(&cm, ZP_GRP_PP, ZP_COLL_SENDRECV, "gradient send");
    ok(b && b->inter_node && b->count == 8, "vp 2, stage 0's wrapped backward send to the last stage crosses the nodes");
    f = find(&cm, ZP_GRP_PP, ZP_COLL_SENDRECV, "activation send");
    ok(f && !f->inter_node && f->count == 16, "vp 2, stage 0's forward sends (2 chunks x 8) stay in the node");
    /* stages of 6 ranks on nodes of 8 (tp 2, dp 3, pp 4 on 24 GPUs):
     * stages 0-5, 6-11, 12-17, 18-23 on nodes 0-7, 8-15, 16-23.  Stage 0
     * forward: 0 -> 6 stays, 2 -> 8 crosses; stage 1 forward 6 -> 12 and
     * backward 8 -> 2 cross; stage 2 forward 12 -> 18 and backward 12 -> 6
     * cross; stage 3 backward 18 -> 12 crosses.  A send some rank of the
     * stage makes across nodes is timed on the NIC (that rank paces it). */
    zp_cluster c3 = cluster(24, 8);
    zp_layout l3 = lay(3, 2, 4, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 1, 1, 6);
    static const struct { int64_t k; int fwd, bwd; } s3[] = {{0, 1, -1}, {1, 1, 1}, {2, 1, 1}, {3, -1, 1}};
    for (int i = 0; i < 4; i++) {
        zp_comm_plan(&m, &tr, &l3, &c3, &cv, s3[i].k, &cm);
        const zp_coll *sf = find(&cm, ZP_GRP_PP, ZP_COLL_SENDRECV, "activation send");
        const zp_coll *sb = find(&cm, ZP_GRP_PP, ZP_COLL_SENDRECV, "gradient send");
        ok((s3[i].fwd < 0 ? sf == NULL : sf && sf->inter_node == s3[i].fwd) &&
               (s3[i].bwd < 0 ? sb == NULL : sb && sb->inter_node == s3[i].bwd),
           "stages of 6 ranks on nodes of 8, stage %lld: a send crosses where any of its ranks' does",
           (long long)s3[i].k);
    }
    /* the middle stage the planner times: of those holding the most
     * blocks, the first whose sends cross the most.  tp 2 x pp 8 on two
     * nodes of 8 (stages of 2 ranks, 4 a node): stage 3 sends forward
     * across (ranks 6, 7 -> 8, 9), stage 4 backward; stage 1 crosses
     * nothing; 8 layers split evenly: stage 3 */
    zp_model m8 = gpt(8, 1024, 16, 51200, 1024);
    zp_layout l8 = lay(1, 2, 8, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 1, 1, 8);
    ok(zp_stage_middle_pick(&m8, &l8, &c) == 3, "tp 2 x pp 8 on two nodes of 8: the middle stage timed is 3 (got %lld)",
       (long long)zp_stage_middle_pick(&m8, &l8, &c));
    zp_cluster one = cluster(16, 16);
    ok(zp_stage_middle_pick(&m8, &l8, &one) == 1, "the same on one node of 16: stage 1");
    /* 10 layers on 8 stages: stages 1 and 2 hold 2 blocks, the rest 1;
     * neither crosses: stage 1 */
    zp_model m10 = gpt(10, 1024, 16, 51200, 1024);
    ok(zp_stage_middle_pick(&m10, &l8, &c) == 1, "10 layers on pp 8: a stage with a block more (1) before a crossing one");
    zp_layout l2 = lay(8, 1, 2, 1, 0, ZP_OFF_NONE, ZP_CKPT_NONE, 1, 1, 8);
    ok(zp_stage_middle_pick(&m8, &l2, &c) == 0, "pp 2: no middle stage");
}

int main(void)
{
    tap_plan(0);
    test_coll_time();
    test_dp();
    test_offload();
    test_tp();
    test_fp8_sp();
    test_ckpt_every();
    test_tp_grad_overlap();
    test_p2p_param_overlap();
    test_zero2_reshard();
    test_rc_mlp();
    test_pp();
    test_inter_node();
    test_tp_overlap_nodes();
    test_cp();
    test_ckpt_op();
    test_fsdp_pp();
    test_totals();
    test_after_zero3();
    test_sp_gathered_norms();
    test_qk_norm();
    test_group_eff();
    test_pp_links();
    return tap_exit();
}
