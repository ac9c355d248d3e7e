/* test_search.c - enumeration, validity, fit and ranking (search.c).
 *
 * The candidate count is derived by hand from the documented enumeration
 * (search.c header): every factorisation G = dp x tp x pp, x 4 ZeRO stages
 * x 3 offload modes x 3 recompute modes x each divisor b of
 * global_batch / dp; a factorisation rejected before the inner loops counts
 * its 4 x 3 x 3 = 36 combinations once (micro-batch loop not entered). */
#include "core.h"
#include "tap.h"

#include <string.h>

#define N_(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define GIB ((uint64_t)1 << 30)
#define MIB ((uint64_t)1 << 20)
#define KMAX 1024

static zp_plan top[KMAX], top5[5];

static zp_gpu gpu(uint64_t mem)
{
    zp_gpu g = {0};
    strcpy(g.name, "test80");
    g.mem_bytes = mem;
    g.peak_flops[ZP_DT_FP32] = 60e12;
    g.peak_flops[ZP_DT_FP16] = 989e12;
    g.peak_flops[ZP_DT_BF16] = 989e12;
    g.hbm_gbps = 3350;
    g.nvlink_gbps = 450;
    g.pcie_gbps = 64;
    g.nic_gbps = 50;
    g.gpus_per_node = 8;
    g.host_mem_bytes = 2048 * GIB;
    g.cuda_ctx_bytes = 500 * MIB;
    g.nccl_comm_bytes = 1 * GIB;
    return g;
}

static zp_model gpt(int64_t L, int64_t h, int64_t a)
{
    zp_model m = {0};
    strcpy(m.name, "gpt");
    m.layers = L; m.hidden = h; m.heads = a; m.kv_heads = a; m.ffn = 4 * h;
    m.vocab = 50304; m.max_pos = 2048; m.tied = 1; m.bias = 1;
    m.mlp = ZP_MLP_GELU; m.norm = ZP_NORM_LAYERNORM; m.pos = ZP_POS_LEARNED;
    return m;
}

static zp_problem problem(zp_model m, int64_t G, uint64_t mem, int64_t gb)
{
    zp_problem pb;
    memset(&pb, 0, sizeof pb);
    pb.model = m;
    pb.train.seq = 2048;
    pb.train.global_batch = gb;
    pb.train.dtype = ZP_DT_BF16;
    pb.train.grad_dtype = ZP_DT_FP32;
    pb.train.master = 1;
    pb.train.optim = ZP_OPT_ADAM;
    pb.train.flash = 1;
    pb.train.dropout = 0;
    pb.cluster.gpu = gpu(mem);
    pb.cluster.gpus = G;
    pb.cluster.gpus_per_node = 8;
    pb.cluster.inter_node_gbps = 50;
    pb.cluster.host_mem_bytes = 2048 * GIB;
    zp_conv_defaults(&pb.conv, &pb.cluster.gpu);
    zp_pins_none(&pb.pins);
    return pb;
}

static int64_t sum_rejected(const zp_search_result *r)
{
    int64_t s = 0;
    for (int i = 0; i < ZP_REJ_N; i++)
        s += r->rejected[i];
    return s;
}

/* ------------------------------------------------ the 24-layer problem */

static void test_small_problem(void)
{
    /* 24 layers, h = 2048, a = 16; 8 GPUs of 80 GiB, 8 per node; global batch 12 */
    zp_problem pb = problem(gpt(24, 2048, 16), 8, 80 * GIB, 12);
    zp_search_result res;
    zp_err e = {0};
    zp_status st = zp_search(&pb, top, KMAX, &res, &e);
    ok(st == ZP_OK, "24L search ok (%s)", e.msg);
    /* Hand count.  Factorisations (tp, pp, dp) of 8, all tp | 8, tp | 16 heads, pp | 24 layers, each with
     * every interleaving vp dividing the 24/pp layers of a stage (pp = 2: 1 2 3 4 6 12; pp = 4: 1 2 3 6;
     * pp = 8: 1 3) and every micro-batch b | 12/dp; each such slot x 4 ZeRO x 3 offload x 3 recompute = 36:
     *   dp = 8: (1,1,8): 12 % 8 != 0, rejected whole                                   36
     *   dp = 4: (2,1,4): 2 b; (1,2,4): 6 vp x 2 b = 12                         14 x 36 = 504
     *   dp = 2: (4,1,2): 4; (2,2,2): 6 x 4 = 24; (1,4,2): 4 x 4 = 16           44 x 36 = 1584
     *   dp = 1: (8,1,1): 6; (4,2,1): 6 x 6 = 36; (2,4,1): 4 x 6 = 24; (1,8,1): 2 x 6 = 12
     *                                                                          78 x 36 = 2808
     * total 4932: 12 slots at pp = 1, 124 at pp > 1. */
    is_u64(res.evaluated, 36 + 504 + 1584 + 2808, "24L: evaluated = hand count 4932");
    is_u64(sum_rejected(&res), res.evaluated, "24L: rejected counts (fits included) sum to evaluated");
    is_u64(res.rejected[ZP_REJ_DP_BATCH], 36, "24L: dp=8 does not divide batch 12: 36");
    /* ZeRO-2/3 with pp > 1: 124 slots x 2 ZeRO stages x 3 offload x 3 recompute */
    is_u64(res.rejected[ZP_REJ_ZERO_PP], 124 * 2 * 3 * 3, "24L: ZeRO-2/3 with pp > 1: 2232");
    /* offload invalid: pp = 1 slots (12): ZeRO-0 x {opt, opt+params}, ZeRO-1, -2 x opt+params = 4 per
     * recompute; pp > 1 slots (124): ZeRO-0 x 2 + ZeRO-1 x 1 = 3 per recompute */
    is_u64(res.rejected[ZP_REJ_OFFLOAD], 12 * 4 * 3 + 124 * 3 * 3, "24L: offload without the ZeRO it needs: 1260");
    /* interleaving (vp > 1) needs M = 12 / (dp b) divisible by pp; the vp > 1 slots where it is not:
     * (1,2,4) M 3 1: 5 x 2; (2,2,2) M 3 1 of 6 3 2 1: 5 x 2; (1,4,2) all 4 of M 6 3 2 1: 3 x 4;
     * (4,2,1) M 3 1 of 12 6 4 3 2 1: 5 x 2; (2,4,1) M 6 3 2 1: 3 x 4; (1,8,1) all 6: 1 x 6 = 60 slots,
     * each with the 3 valid (ZeRO, offload) pairs x 3 recompute */
    is_u64(res.rejected[ZP_REJ_VP], 60 * 3 * 3, "24L: interleaving whose micro-batches pp does not divide: 540");
    /* valid (zero, offload) pairs: pp = 1: 8, pp > 1: 3; with flash attention
     * the unpinned selective recompute is the same plan as none, so of the
     * 3 recompute modes 2 are evaluated and 1 is rejected as a duplicate */
    int64_t valid = 8 * 2 * 12 + 3 * 2 * (124 - 60);
    is_u64(res.rejected[ZP_REJ_SELECTIVE_FLASH], 8 * 12 + 3 * (124 - 60), "24L: selective = none under flash: 288");
    is_u64(res.rejected[ZP_REJ_NONE] + res.rejected[ZP_REJ_DEVICE_MEM] + res.rejected[ZP_REJ_HOST_MEM], valid,
           "24L: %lld valid layouts evaluated for fit", (long long)valid);
    ok(res.rejected[ZP_REJ_TP_NODE] == 0 && res.rejected[ZP_REJ_TP_HEADS] == 0 && res.rejected[ZP_REJ_PP_LAYERS] == 0,
       "24L: no tp/pp structural rejects (every vp searched divides a stage's layers)");
    ok(res.ntop > 0 && res.ntop == res.rejected[ZP_REJ_NONE], "24L: every fitting plan kept with k = %d (ntop %d)",
       KMAX, res.ntop);

    int fits = 1, sorted = 1, shape = 1, batch = 1, valid_l = 1, same = 1;
    for (int i = 0; i < res.ntop; i++) {
        const zp_plan *p = &top[i];
        fits &= p->mem.dev_total <= pb.cluster.gpu.mem_bytes && p->host_per_node <= pb.cluster.host_mem_bytes &&
                p->reject == ZP_REJ_NONE;
        if (i > 0)
            sorted &= top[i - 1].cost.step_s <= p->cost.step_s;
        shape &= p->lay.dp * p->lay.tp * p->lay.pp == 8;
        batch &= p->lay.dp * p->lay.micro_batch * p->lay.grad_accum == 12;
        valid_l &= zp_layout_check(&pb, &p->lay) == ZP_REJ_NONE;
        zp_plan again;
        zp_plan_eval(&pb, &p->lay, &again);
        same &= again.cost.step_s == p->cost.step_s && again.mem.dev_total == p->mem.dev_total;
    }
    ok(fits, "24L: every plan in top[] fits device memory and host RAM");
    ok(sorted, "24L: top[] sorted by step time");
    ok(shape, "24L: dp x tp x pp = 8 for every plan");
    ok(batch, "24L: dp x micro-batch x grad-accum = 12 for every plan");
    ok(valid_l, "24L: every plan passes layout_check");
    ok(same, "24L: re-evaluating a plan gives the same step time and memory");
    ok(res.ntop > 0 && top[0].lay.sp == (top[0].lay.tp > 1), "24L: unpinned sp is on exactly when tp > 1");

    /* k = 5 keeps the 5 fastest of the full ranking */
    zp_search_result r5;
    zp_search(&pb, top5, 5, &r5, &e);
    int match = r5.ntop == 5;
    for (int i = 0; match && i < 5; i++)
        match = top5[i].cost.step_s == top[i].cost.step_s;
    ok(match, "24L: k = 5 returns the first 5 of the full ranking (ntop %d)", r5.ntop);
    is_u64(r5.evaluated, res.evaluated, "24L: k does not change the enumeration");

    /* pinning tp = 2: factorisations (2,1,4) (2,2,2) (2,4,1), with their vp and b: 36 x (2 + 6 x 4 + 4 x 6) */
    zp_problem p2 = pb;
    p2.pins.tp = 2;
    zp_search(&p2, top, KMAX, &res, &e);
    is_u64(res.evaluated, 36 * (2 + 6 * 4 + 4 * 6), "24L tp=2 pinned: 1800 candidates");
    int all2 = 1;
    for (int i = 0; i < res.ntop; i++)
        all2 &= top[i].lay.tp == 2;
    ok(all2 && res.ntop > 0, "24L tp=2 pinned: every plan has tp 2");

    /* pinning ZeRO-3 and full recompute: 1 x 3 x 1 per slot; only pp = 1 survives ZERO_PP */
    p2 = pb;
    p2.pins.zero = 3;
    p2.pins.ckpt = ZP_CKPT_FULL;
    zp_search(&p2, top, KMAX, &res, &e);
    is_u64(res.evaluated, 3 * (1 + 12 + 124), "24L zero=3 ckpt=full pinned: 3 offloads x (1 invalid factorisation + 136 slots)");

    /* every dimension pinned: exactly one candidate */
    p2 = pb;
    p2.pins.dp = 2; p2.pins.tp = 2; p2.pins.pp = 2; p2.pins.vp = 1; p2.pins.micro_batch = 2;
    p2.pins.zero = 1; p2.pins.offload = ZP_OFF_OPT; p2.pins.ckpt = ZP_CKPT_SELECTIVE; p2.pins.sp = 1;
    st = zp_search(&p2, top, KMAX, &res, &e);
    ok(st == ZP_OK, "all pinned: search ok (%s)", e.msg);
    is_u64(res.evaluated, 1, "all pinned: one candidate evaluated");
    is_u64(sum_rejected(&res), 1, "all pinned: one outcome counted");
    ok(res.ntop == 1 && top[0].lay.dp == 2 && top[0].lay.tp == 2 && top[0].lay.pp == 2 &&
           top[0].lay.micro_batch == 2 && top[0].lay.grad_accum == 3 && top[0].lay.zero == 1 &&
           top[0].lay.offload == ZP_OFF_OPT && top[0].lay.ckpt == ZP_CKPT_SELECTIVE && top[0].lay.sp == 1,
       "all pinned: the plan is the pinned layout, M = 12 / (2 x 2) = 3");
}

/* ------------------------------- a problem with structural rejections */

static void test_structural(void)
{
    /* 20 layers, h = 1536, a = 12; 8 GPUs; batch 12 (each rejected
     * factorisation counts its 36 ZeRO x offload x recompute choices times
     * the micro-batches the inner loop would try, one when dp does not
     * divide the batch):
     *   (1,1,8) dp 8 does not divide 12            DP_BATCH   36
     *   (8,1,1) tp 8 does not divide 12 heads      TP_HEADS   36 x 6 (b | 12: 1 2 3 4 6 12)
     *   valid, with vp | 20/pp (pp = 2: 1 2 5 10; pp = 4: 1 5; pp = 8 does not divide 20: uneven
     *   stages of 2 and 3 blocks, vp 1 only) and b | 12/dp:
     *   dp 4: (2,1,4) 2, (1,2,4) 4 x 2; dp 2: (4,1,2) 4, (2,2,2) 4 x 4, (1,4,2) 2 x 4;
     *   dp 1: (4,2,1) 4 x 6, (2,4,1) 2 x 6, (1,8,1) 6: 36 x 80 */
    zp_problem pb = problem(gpt(20, 1536, 12), 8, 80 * GIB, 12);
    zp_search_result res;
    zp_err e = {0};
    zp_search(&pb, top, KMAX, &res, &e);
    is_u64(res.evaluated, 36 + 36 * 6 + 36 * (2 + 8 + 4 + 16 + 8 + 24 + 12 + 6), "20L/12 heads: evaluated = 3132");
    is_u64(res.rejected[ZP_REJ_TP_HEADS], 216, "20L/12 heads: tp 8 rejected, 36 combinations x 6 micro-batches");
    is_u64(res.rejected[ZP_REJ_PP_LAYERS], 0, "20L/12 heads: pp 8 on 20 layers is searched (uneven stages)");
    is_u64(res.rejected[ZP_REJ_DP_BATCH], 36, "20L/12 heads: dp 8 rejected once, 36 combinations");
    is_u64(sum_rejected(&res), res.evaluated, "20L/12 heads: outcomes sum to evaluated");

    /* 4 GPUs per node: tp 8 spans two whole nodes, a layout (Megatron's and
     * Calculon's), evaluated with its collectives across the nodes */
    zp_problem p4 = problem(gpt(24, 2048, 16), 8, 80 * GIB, 16);
    p4.cluster.gpus_per_node = 4;
    zp_search(&p4, top, KMAX, &res, &e);
    is_u64(res.rejected[ZP_REJ_TP_NODE], 0, "4 GPUs per node: tp 8 over two nodes is not rejected by rule");
    zp_layout l8 = {0};
    l8.dp = 1, l8.tp = 8, l8.pp = 1, l8.vp = 1, l8.sp = 1, l8.micro_batch = 1, l8.grad_accum = 16, l8.zero = 1;
    static zp_comm c8;
    zp_comm_plan(&p4.model, &p4.train, &l8, &p4.cluster, &p4.conv, 0, &c8);
    int across = 0, n_tp = 0;
    for (int i = 0; i < c8.n; i++)
        if (c8.c[i].group == ZP_GRP_TP)
            n_tp++, across += c8.c[i].inter_node;
    ok(n_tp > 0 && across == n_tp, "4 GPUs per node, tp 8: every tensor-parallel collective crosses the nodes (%d of %d)",
       across, n_tp);
    /* 6 GPUs per node, 12 GPUs, 16 heads, global batch 12: tp 4 neither
     * divides 6 nor is a multiple of it (tp 3, 6 and 12 do not divide the 16
     * heads); its (dp, pp): (3, 1), b | 4: 3 micro-batches; (1, 3) with vp 1,
     * 2, 4, 8 (each divides the 8 blocks of a stage), b | 12: 4 x 6: 36
     * combinations x 27 */
    zp_problem p6 = problem(gpt(24, 2048, 16), 12, 80 * GIB, 12);
    p6.cluster.gpus_per_node = 6;
    zp_search(&p6, top, KMAX, &res, &e);
    is_u64(res.rejected[ZP_REJ_TP_NODE], 36 * 27, "6 GPUs per node: tp 4 rejected (36 x (3 + 4 x 6))");
}

/* -------------------------------------------------------- layout_check */

static void test_layout_check(void)
{
    zp_problem pb = problem(gpt(24, 2048, 16), 8, 80 * GIB, 12);
    zp_problem p12 = problem(gpt(20, 1536, 12), 8, 80 * GIB, 12);
    struct { const char *name; const zp_problem *pb; int64_t dp, tp, pp, vp, b; int zero; zp_offload off;
             zp_reject want; } cases[] = {
        {"valid dp2 tp2 pp2", &pb, 2, 2, 2, 1, 1, 1, ZP_OFF_NONE, ZP_REJ_NONE},
        {"valid interleaved pp2 vp2 (M 6)", &pb, 2, 2, 2, 2, 1, 0, ZP_OFF_NONE, ZP_REJ_NONE},
        {"valid ZeRO-3 + params offload", &pb, 4, 1, 1, 1, 1, 3, ZP_OFF_OPT_PARAMS, ZP_REJ_NONE},
        {"tp 16 over two whole nodes", &pb, 1, 16, 1, 1, 1, 0, ZP_OFF_NONE, ZP_REJ_NONE},
        {"tp 12 neither divides the node of 8 nor spans whole ones", &p12, 1, 12, 1, 1, 1, 0, ZP_OFF_NONE,
         ZP_REJ_TP_NODE},
        {"tp 3 does not divide the node", &pb, 1, 3, 1, 1, 1, 0, ZP_OFF_NONE, ZP_REJ_TP_NODE},
        {"tp 8 does not divide 12 heads", &p12, 1, 8, 1, 1, 1, 0, ZP_OFF_NONE, ZP_REJ_TP_HEADS},
        {"pp 5 on 24 layers: uneven stages of 4 and 5 blocks", &pb, 1, 1, 5, 1, 1, 0, ZP_OFF_NONE, ZP_REJ_NONE},
        {"pp 32 exceeds 24 layers", &pb, 1, 1, 32, 1, 1, 0, ZP_OFF_NONE, ZP_REJ_PP_LAYERS},
        {"pp 5 x vp 2 on 24 (stages of 4 and 5 blocks: 2 does not divide 5)", &pb, 1, 1, 5, 2, 1, 0, ZP_OFF_NONE,
         ZP_REJ_PP_LAYERS},
        {"pp 5 x vp 5 on 24 (stages of 4 and 5: 5 chunks do not fit 4 blocks)", &pb, 1, 1, 5, 5, 1, 0, ZP_OFF_NONE,
         ZP_REJ_PP_LAYERS},
        {"pp 7 x vp 2 on 24 (stages of 3 and 4 blocks, 2 chunks each)", &pb, 1, 1, 7, 2, 1, 0, ZP_OFF_NONE,
         ZP_REJ_VP},
        {"pp 4 x vp 4 does not divide 24", &pb, 1, 1, 4, 4, 1, 0, ZP_OFF_NONE, ZP_REJ_PP_LAYERS},
        {"dp 8 x b 1 does not divide 12", &pb, 8, 1, 1, 1, 1, 0, ZP_OFF_NONE, ZP_REJ_DP_BATCH},
        {"dp 2 x b 4 does not divide 12", &pb, 2, 1, 1, 1, 4, 0, ZP_OFF_NONE, ZP_REJ_DP_BATCH},
        {"ZeRO-2 with pp 2", &pb, 2, 2, 2, 1, 1, 2, ZP_OFF_NONE, ZP_REJ_ZERO_PP},
        {"ZeRO-3 with pp 2", &pb, 2, 2, 2, 1, 1, 3, ZP_OFF_NONE, ZP_REJ_ZERO_PP},
        {"optimizer offload at ZeRO-0", &pb, 4, 1, 1, 1, 1, 0, ZP_OFF_OPT, ZP_REJ_OFFLOAD},
        {"param offload at ZeRO-2", &pb, 4, 1, 1, 1, 1, 2, ZP_OFF_OPT_PARAMS, ZP_REJ_OFFLOAD},
        {"vp 2 without pipeline", &pb, 4, 1, 1, 2, 1, 0, ZP_OFF_NONE, ZP_REJ_VP},
        {"vp 2, M 3 not divisible by pp 2", &pb, 4, 1, 2, 2, 1, 0, ZP_OFF_NONE, ZP_REJ_VP},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_layout l = {0};
        l.dp = cases[i].dp; l.tp = cases[i].tp; l.pp = cases[i].pp; l.vp = cases[i].vp;
        l.micro_batch = cases[i].b; l.zero = cases[i].zero; l.offload = cases[i].off; l.ckpt = ZP_CKPT_NONE;
        l.sp = l.tp > 1;
        l.grad_accum = cases[i].pb->train.global_batch / (l.dp * l.micro_batch);
        if (l.grad_accum < 1)
            l.grad_accum = 1;
        zp_reject got = zp_layout_check(cases[i].pb, &l);
        ok(got == cases[i].want, "layout_check %s: '%s' (got '%s')", cases[i].name, zp_reject_names[cases[i].want],
           zp_reject_names[got]);
    }
    /* what each framework runs: FSDP has no ZeRO-1 and no optimizer-only
     * offload, and pipelines with FULL_SHARD unpinned (torchtitan's 3D);
     * DeepSpeed's pipeline engine refuses ZeRO-2/3, pinned or not; DDP
     * (torch) has ZeroRedundancyOptimizer (ZeRO-1), no ZeRO-2/3, no
     * offload; zplan's own and Megatron's conventions restrict nothing */
    struct { const char *fw; int64_t dp, pp; int zero, pin_zero; zp_offload off; zp_reject want; } fw[] = {
        {"fsdp", 4, 1, 1, -1, ZP_OFF_NONE, ZP_REJ_FRAMEWORK},
        {"fsdp", 4, 1, 2, -1, ZP_OFF_OPT, ZP_REJ_FRAMEWORK},
        {"fsdp", 4, 1, 3, -1, ZP_OFF_OPT_PARAMS, ZP_REJ_NONE},
        {"fsdp", 4, 1, 2, -1, ZP_OFF_NONE, ZP_REJ_NONE},
        {"fsdp", 4, 1, 0, -1, ZP_OFF_NONE, ZP_REJ_NONE},
        {"fsdp", 2, 2, 3, -1, ZP_OFF_NONE, ZP_REJ_NONE},
        {"fsdp", 2, 2, 2, -1, ZP_OFF_NONE, ZP_REJ_ZERO_PP},
        {"deepspeed", 2, 2, 3, 3, ZP_OFF_NONE, ZP_REJ_FRAMEWORK},
        {"deepspeed", 2, 2, 1, -1, ZP_OFF_NONE, ZP_REJ_NONE},
        {"deepspeed", 4, 1, 3, -1, ZP_OFF_OPT_PARAMS, ZP_REJ_NONE},
        {"torch", 4, 1, 1, -1, ZP_OFF_NONE, ZP_REJ_NONE},
        {"torch", 4, 1, 2, -1, ZP_OFF_NONE, ZP_REJ_FRAMEWORK},
        {"torch", 4, 1, 1, -1, ZP_OFF_OPT, ZP_REJ_FRAMEWORK},
        {"megatron", 4, 1, 3, -1, ZP_OFF_OPT_PARAMS, ZP_REJ_NONE},
        {"", 2, 2, 3, -1, ZP_OFF_NONE, ZP_REJ_ZERO_PP},
        {"", 2, 2, 3, 3, ZP_OFF_NONE, ZP_REJ_NONE},
    };
    for (int i = 0; i < N_(fw); i++) {
        zp_problem q = pb;
        snprintf(q.conv.framework, sizeof q.conv.framework, "%s", fw[i].fw);
        q.pins.zero = fw[i].pin_zero;
        zp_layout l = {0};
        l.dp = fw[i].dp, l.tp = 1, l.pp = fw[i].pp, l.vp = 1, l.micro_batch = 1, l.zero = fw[i].zero;
        l.offload = fw[i].off, l.ckpt = ZP_CKPT_NONE, l.grad_accum = q.train.global_batch / l.dp;
        zp_reject got = zp_layout_check(&q, &l);
        ok(got == fw[i].want, "layout_check, framework '%s': ZeRO-%d%s, pp %lld, offload %d: '%s' (got '%s')",
           fw[i].fw, fw[i].zero, fw[i].pin_zero >= 0 ? " pinned" : "", (long long)fw[i].pp, (int)fw[i].off,
           zp_reject_names[fw[i].want], zp_reject_names[got]);
    }
}

/* ----------------------------------------------------------- pins_check */

static void test_pins(void)
{
    zp_problem base = problem(gpt(24, 2048, 16), 8, 80 * GIB, 12);
    struct { const char *name; int64_t dp, tp, pp, vp, mb; int zero, off; zp_status want; const char *flag; } cases[] = {
        {"no pins", -1, -1, -1, -1, -1, -1, -1, ZP_OK, NULL},
        {"tp 2 pp 2", -1, 2, 2, -1, -1, -1, -1, ZP_OK, NULL},
        {"zero 3 alone", -1, -1, -1, -1, -1, 3, 2, ZP_OK, NULL},
        {"tp 3", -1, 3, -1, -1, -1, -1, -1, ZP_EINVAL, "--tp"},
        {"tp 16 beyond the GPUs", -1, 16, -1, -1, -1, -1, -1, ZP_EINVAL, "--tp"},
        {"zero 3 with pp 2 (FSDP with pipelining)", -1, -1, 2, -1, -1, 3, -1, ZP_OK, NULL},
        {"zero 3 with pp 2 and parameter offload", -1, -1, 2, -1, -1, 3, 2, ZP_EINVAL, "--offload"},
        {"zero 2 with pp 2", -1, -1, 2, -1, -1, 2, -1, ZP_EINVAL, "--zero"},
        {"dp x tp x pp != gpus", 2, 2, 1, -1, -1, -1, -1, ZP_EINVAL, "--gpus"},
        {"pp 5 does not divide 8 GPUs", -1, -1, 5, -1, -1, -1, -1, ZP_EINVAL, "--pp"},
        {"pp 4 x vp 4 does not divide 24 layers", -1, -1, 4, 4, -1, -1, -1, ZP_EINVAL, "--vp"},
        {"vp 2 with pp 1", -1, -1, 1, 2, -1, -1, -1, ZP_EINVAL, "--vp"},
        {"dp 8 does not divide batch 12", 8, -1, -1, -1, -1, -1, -1, ZP_EINVAL, "--dp"},
        {"micro-batch 5 does not divide 12", -1, -1, -1, -1, 5, -1, -1, ZP_EINVAL, "--micro-batch"},
        {"dp 4 x micro-batch 2 does not divide 12", 4, -1, -1, -1, 2, -1, -1, ZP_EINVAL, "--micro-batch"},
        {"offload with zero 0", -1, -1, -1, -1, -1, 0, 1, ZP_EINVAL, "--offload"},
        {"param offload with zero 1", -1, -1, -1, -1, -1, 1, 2, ZP_EINVAL, "--offload"},
    };
    for (int i = 0; i < N_(cases); i++) {
        zp_problem pb = base;
        pb.pins.dp = cases[i].dp; pb.pins.tp = cases[i].tp; pb.pins.pp = cases[i].pp; pb.pins.vp = cases[i].vp;
        pb.pins.micro_batch = cases[i].mb; pb.pins.zero = cases[i].zero; pb.pins.offload = cases[i].off;
        zp_err e = {0};
        zp_status st = zp_pins_check(&pb, &e);
        if (cases[i].want == ZP_OK)
            ok(st == ZP_OK, "pins_check %s: ok (%s)", cases[i].name, e.msg);
        else {
            ok(st == ZP_EINVAL && strstr(e.msg, cases[i].flag), "pins_check %s: EINVAL naming %s: '%s'",
               cases[i].name, cases[i].flag, e.msg);
            zp_search_result res;
            zp_err e2 = {0};
            ok(zp_search(&pb, top, KMAX, &res, &e2) == ZP_EINVAL && strcmp(e.msg, e2.msg) == 0,
               "search %s: refuses with the same message", cases[i].name);
        }
    }
    /* zero 2 and pp 2 together: the message names both */
    zp_problem pb = base;
    pb.pins.zero = 2;
    pb.pins.pp = 2;
    zp_err e = {0};
    zp_pins_check(&pb, &e);
    ok(strstr(e.msg, "--zero") && strstr(e.msg, "--pp"), "zero 2 + pp 2: names --zero and --pp: '%s'", e.msg);
}

/* ------------------------------------------------------- nothing fits */

static void test_nothing_fits(void)
{
    /* GPT-3 175B shape on 8 GPUs of 16 GiB: even ZeRO-3 needs 16 B x 175e9 / 8
     * = 350 GB of model states per GPU; with full offload the host needs
     * 18 B x 175e9 = 3.2 TB per node against 1 TiB */
    zp_problem pb = problem(gpt(96, 12288, 96), 8, 16 * GIB, 8);
    pb.cluster.host_mem_bytes = 1024 * GIB;
    zp_search_result res;
    zp_err e = {0};
    zp_status st = zp_search(&pb, top, KMAX, &res, &e);
    ok(st == ZP_OK, "175B on 8 x 16 GiB: search runs (%s)", e.msg);
    is_u64(res.ntop, 0, "175B on 8 x 16 GiB: no plan fits");
    is_u64(res.rejected[ZP_REJ_NONE], 0, "175B on 8 x 16 GiB: zero fits counted");
    ok(res.have_closest == 1, "175B on 8 x 16 GiB: a closest plan is reported");
    ok(res.closest.reject == ZP_REJ_DEVICE_MEM || res.closest.reject == ZP_REJ_HOST_MEM,
       "175B: the closest plan says why it does not fit ('%s')", zp_reject_names[res.closest.reject]);
    ok(res.rejected[ZP_REJ_DEVICE_MEM] + res.rejected[ZP_REJ_HOST_MEM] > 0 &&
           sum_rejected(&res) == res.evaluated,
       "175B: every valid layout rejected for memory, outcomes sum to evaluated");
    /* the closest is the valid layout with the least device memory */
    int least = 1;
    zp_layout l = {0};
    for (int64_t tp = 1; tp <= 8; tp *= 2)
        for (int64_t pp = 1; pp <= 8 / tp; pp *= 2)
            for (int z = 0; z <= 3; z++)
                for (int o = 0; o < ZP_OFF_N; o++)
                    for (int c = 0; c <= ZP_CKPT_FULL; c++)   /* op: only when pinned */
                        for (int64_t b = 1; b <= 8; b *= 2) {
                            l.dp = 8 / tp / pp; l.tp = tp; l.pp = pp; l.vp = 1; l.zero = z;
                            l.offload = (zp_offload)o; l.ckpt = (zp_ckpt)c; l.sp = tp > 1; l.micro_batch = b;
                            if (8 % (l.dp * b))
                                continue;
                            l.grad_accum = 8 / (l.dp * b);
                            if (zp_layout_check(&pb, &l) != ZP_REJ_NONE)
                                continue;
                            zp_plan p;
                            zp_plan_eval(&pb, &l, &p);
                            /* distance from fitting: the larger of device and
                             * host use over capacity */
                            double dm = (double)p.mem.dev_total / (double)pb.cluster.gpu.mem_bytes;
                            double hm = (double)p.host_per_node / (double)pb.cluster.host_mem_bytes;
                            double cd = (double)res.closest.mem.dev_total / (double)pb.cluster.gpu.mem_bytes;
                            double ch = (double)res.closest.host_per_node / (double)pb.cluster.host_mem_bytes;
                            least &= (dm > hm ? dm : hm) >= (cd > ch ? cd : ch);
                        }
    ok(least, "175B: no valid layout is closer to fitting (max of device and host use over capacity) than the closest");
}

/* ----------------------------------------------------- ties in the ranking */

/* Equal step times.  On one GPU (dp = 1) ZeRO 0-3 run the same step: no
 * data-parallel collective (a group of one), the same FLOPs, and the
 * optimizer pass over ceil(P / 1) = P parameters; the ranking then
 * promises (search.c better(), README "Search"): less device memory
 * first, then the layout in order (here the ZeRO stage).  Case A, the
 * usual conventions: at dp = 1 a shard is the whole and no reduce bucket
 * is allocated, so ZeRO-0, -1 and -2 hold the same bytes, and ZeRO-3 more
 * (its current and prefetched blocks and the block's gradient, gathered
 * at dp = 1 too: memory.c): order 0, 1, 2, 3. */
static void test_ties(void)
{
    zp_err e = {0};
    zp_search_result res;
    zp_problem pb = problem(gpt(4, 256, 4), 1, 80 * GIB, 4);
    pb.pins.micro_batch = 1;
    pb.pins.ckpt = ZP_CKPT_NONE;
    pb.pins.offload = ZP_OFF_NONE;
    zp_search(&pb, top, KMAX, &res, &e);
    ok(res.ntop == 4, "dp=1 ZeRO 0-3: 4 plans fit (got %d)", res.ntop);
    if (res.ntop == 4) {
        ok(top[0].cost.step_s == top[1].cost.step_s && top[1].cost.step_s == top[2].cost.step_s &&
               top[2].cost.step_s == top[3].cost.step_s,
           "dp=1: the four ZeRO stages have the same step time exactly (%.9g s)", top[0].cost.step_s);
        ok(top[0].mem.dev_total == top[1].mem.dev_total && top[1].mem.dev_total == top[2].mem.dev_total &&
               top[3].mem.dev_total > top[2].mem.dev_total,
           "dp=1: ZeRO-0, -1, -2 hold the same %llu bytes, ZeRO-3 more (%llu)",
           (unsigned long long)top[0].mem.dev_total, (unsigned long long)top[3].mem.dev_total);
        ok(top[0].lay.zero == 0 && top[1].lay.zero == 1 && top[2].lay.zero == 2 && top[3].lay.zero == 3,
           "dp=1 equal step times: ranked ZeRO-0, 1, 2, 3 (got %d %d %d %d) (mutation: tie-break reversed "
           "is caught; memory compared the wrong way is caught; layout order reversed is caught)",
           top[0].lay.zero, top[1].lay.zero, top[2].lay.zero, top[3].lay.zero);
    }
    zp_search(&pb, top5, 1, &res, &e);
    ok(res.ntop == 1 && top5[0].lay.zero == 0, "dp=1, k = 1: the best is ZeRO-0 (got ZeRO-%d)", top5[0].lay.zero);

    /* Case B, where memory and layout order disagree: a backend computing
     * in fp32 (zplan's CPU engine) with bf16 parameters and gradients,
     * gradients reduced in buckets, no fragmentation.  memory.c counts the
     * unit's fp32 working copy of its parameters below ZeRO-3, and its fp32
     * gradient at ZeRO 0-1 only.  With V = 50304 the peak is at the loss,
     * where the unit is the head: with the tied embedding at pp = 1 that is
     * (V + Pos) h = 52352 x 256 = 13,402,112 parameters, + the final norm
     * 2h = 512.  ZeRO-2 therefore holds 4 x 13,402,624 = 53,610,496 bytes
     * less than ZeRO-0 and -1: order 2, 0, 1 (and ZeRO-3 last: it widens
     * both, as ZeRO-0 does, and holds its gathered blocks). */
    pb.train.grad_dtype = ZP_DT_BF16;
    pb.train.compute_fp32 = 1;
    pb.conv.frag = 0;
    zp_search(&pb, top, KMAX, &res, &e);
    ok(res.ntop == 4, "fp32 compute, dp=1 ZeRO 0-3: 4 plans fit (got %d)", res.ntop);
    if (res.ntop == 4) {
        ok(top[0].cost.step_s == top[3].cost.step_s && top[1].cost.step_s == top[2].cost.step_s &&
               top[0].cost.step_s == top[1].cost.step_s,
           "fp32 compute, dp=1: equal step times (%.9g s)", top[0].cost.step_s);
        zp_plan z0 = top[0], z2 = top[0];
        for (int i = 0; i < 4; i++) {
            if (top[i].lay.zero == 0)
                z0 = top[i];
            if (top[i].lay.zero == 2)
                z2 = top[i];
        }
        is_u64(z0.mem.dev_total - z2.mem.dev_total, 4 * (52352ull * 256 + 512),
               "fp32 compute, dp=1: ZeRO-2 holds 4 (V + Pos + 2) h = 53,610,496 bytes less than ZeRO-0");
        ok(top[0].lay.zero == 2 && top[1].lay.zero == 0 && top[2].lay.zero == 1 && top[3].lay.zero == 3,
           "fp32 compute, dp=1 equal step times: ranked ZeRO-2, 0, 1, 3 (got %d %d %d %d) (mutation: memory "
           "tie-break dropped is caught)", top[0].lay.zero, top[1].lay.zero, top[2].lay.zero, top[3].lay.zero);
    }
}

/* ------------------------------------------------------- the fit boundary */

/* A plan whose total is exactly the capacity fits; one byte more does not.
 * The total, by hand, for a GPT of L = 2, h = 64, a = 4, V = 128, 32
 * learned positions, tied, on one GPU: fp32 parameters and gradients,
 * Adam without a separate master, flash attention, no dropout, s = 32,
 * b = 1, M = 1, no recompute, ZeRO-0; conventions: CUDA context 500 MiB,
 * no communicator (one GPU), no fragmentation, no reduce bucket, no
 * backward workspace.
 *   P = 2 (12 h^2 + 13 h) + (V + 32) h + 2 h = 99968 + 10240 + 128 = 110,336
 *   model states 4 P + 4 P + 8 P = 16 P                  = 1,765,376
 *   a layer's activations, fp32 (Korthikanti, 4 bytes a value, no masks,
 *     no s^2 terms): 64 sbh + 4 a s b (softmax statistics), sbh = 2048:
 *     131,072 + 512 = 131,584; two layers                 =   263,168
 *   the peak is at the loss: + final-norm and head inputs 2 x 4 sbh = 16,384
 *     and the fp32 logits 4 s b V                         =    16,384
 *   total = 1,765,376 + 263,168 + 16,384 + 16,384 + 500 MiB = 526,349,312
 * With the optimizer offloaded at ZeRO-1 the host holds the fp32 gradient
 * copy 4 P and master + m + v 12 P: 16 P = 1,765,376 bytes for the one
 * rank on the node. */
static void test_fit_boundary(void)
{
    zp_model m = gpt(2, 64, 4);
    m.vocab = 128;
    m.max_pos = 32;
    zp_problem pb = problem(m, 1, 80 * GIB, 1);
    pb.train.seq = 32;
    pb.train.dtype = pb.train.grad_dtype = ZP_DT_FP32;
    pb.train.master = 0;
    pb.conv.cuda_ctx_bytes = 500 * MIB;
    pb.conv.frag = 0;
    pb.conv.bucket_elems = 0;
    pb.conv.bwd_workspace = 0;
    pb.pins.dp = pb.pins.tp = pb.pins.pp = pb.pins.vp = pb.pins.micro_batch = 1;
    pb.pins.zero = 0;
    pb.pins.offload = ZP_OFF_NONE;
    pb.pins.ckpt = ZP_CKPT_NONE;
    pb.pins.sp = 0;
    const uint64_t total = 1765376 + 263168 + 16384 + 16384 + 500 * MIB;
    hand_check(total == 526349312, "fit boundary: hand total 526,349,312 bytes");
    zp_layout l = {.dp = 1, .tp = 1, .pp = 1, .vp = 1, .zero = 0, .offload = ZP_OFF_NONE, .ckpt = ZP_CKPT_NONE,
                   .sp = 0, .micro_batch = 1, .grad_accum = 1};
    zp_plan p;
    zp_search_result res;
    zp_err e = {0};

    pb.cluster.gpu.mem_bytes = total;
    zp_plan_eval(&pb, &l, &p);
    is_u64(p.mem.dev_total, total, "fit boundary: the plan needs the hand total");
    ok(p.reject == ZP_REJ_NONE, "GPU memory = total (%llu): the plan fits (got '%s') (mutation: a total equal "
       "to the capacity refused is caught)", (unsigned long long)total, zp_reject_names[p.reject]);
    zp_search(&pb, top, KMAX, &res, &e);
    ok(res.ntop == 1 && res.rejected[ZP_REJ_NONE] == 1 && !res.have_closest,
       "GPU memory = total: the search keeps it (ntop %d)", res.ntop);

    pb.cluster.gpu.mem_bytes = total - 1;
    zp_plan_eval(&pb, &l, &p);
    ok(p.reject == ZP_REJ_DEVICE_MEM, "GPU memory = total - 1: exceeds device memory (got '%s') (mutation: fits "
       "when total > capacity is caught)", zp_reject_names[p.reject]);
    zp_search(&pb, top, KMAX, &res, &e);
    ok(res.ntop == 0 && res.rejected[ZP_REJ_DEVICE_MEM] == 1 && res.have_closest &&
           res.closest.reject == ZP_REJ_DEVICE_MEM,
       "GPU memory = total - 1: the search keeps nothing, the plan is the closest misfit (ntop %d)", res.ntop);

    /* activation offload, unpinned, on the misfit: tried again once
     * (act_tried, beside evaluated).  Its two blocks are both in flight at
     * the backward's start; on a copy stream two stay on the device, so
     * nothing moves and it still does not fit (nor is it the closest: the
     * layout is); in stream order one stays, the other block's
     * activations go to the host and it fits, by their bytes */
    is_u64((uint64_t)res.act_tried, 1, "GPU memory = total - 1: the misfit tried again with activations offloaded");
    ok(res.act_fit == 0 && res.evaluated == 1 && !res.closest.lay.act_offload,
       "async: two blocks stay, nothing moves: still no fit, the closest is the layout itself");
    pb.conv.act_offload = ZP_AOFF_SYNC;
    zp_search(&pb, top, KMAX, &res, &e);
    ok(res.act_tried == 1 && res.act_fit == 1 && res.ntop == 1 && top[0].lay.act_offload &&
           top[0].mem.host[ZP_MEM_ACT] > 0 && top[0].mem.dev_total + top[0].mem.host[ZP_MEM_ACT] == total,
       "sync: one block's activations on the host, the rest of the total on the device, and it fits (host %llu)",
       (unsigned long long)top[0].mem.host[ZP_MEM_ACT]);
    pb.pins.act_offload = 0;
    zp_search(&pb, top, KMAX, &res, &e);
    ok(res.act_tried == 0 && res.ntop == 0, "--no-act-offload: not tried, nothing fits");
    pb.pins.act_offload = -1;
    pb.conv.act_offload = ZP_AOFF_ASYNC;

    /* host RAM, the same boundary */
    pb.cluster.gpu.mem_bytes = 80 * GIB;
    pb.pins.zero = 1;
    pb.pins.offload = ZP_OFF_OPT;
    l.zero = 1;
    l.offload = ZP_OFF_OPT;
    pb.cluster.host_mem_bytes = 1765376;
    zp_plan_eval(&pb, &l, &p);
    is_u64(p.host_per_node, 1765376, "optimizer offload: the node's host RAM 16 P = 1,765,376 by hand");
    ok(p.reject == ZP_REJ_NONE, "host RAM = need: the plan fits (got '%s') (mutation: a host need equal to the "
       "RAM refused is caught)", zp_reject_names[p.reject]);
    pb.cluster.host_mem_bytes = 1765375;
    zp_plan_eval(&pb, &l, &p);
    ok(p.reject == ZP_REJ_HOST_MEM, "host RAM = need - 1: exceeds host RAM (got '%s') (mutation: fits when the "
       "host need > RAM is caught)", zp_reject_names[p.reject]);
}

/* ---------------------------------------------------- context parallel */

/* cp is searched (powers of 2 up to 32 dividing the GPUs) from a sequence
 * of 8192 on, and stays 1 below unless pinned; every plan uses its GPUs
 * as dp x tp x pp x cp; cp needs flash attention and 2 cp chunks of the
 * sequence; a pinned cp holds. */
static void test_cp(void)
{
    zp_problem pb = problem(gpt(24, 2048, 16), 8, 80 * GIB, 8);
    zp_search_result res;
    zp_err e = {0};
    int any = 0, shape = 1;
    ok(zp_search(&pb, top, KMAX, &res, &e) == ZP_OK, "seq 2048: search runs");
    for (int i = 0; i < res.ntop; i++)
        any |= zp_cp(&top[i].lay) > 1;
    ok(!any, "seq 2048: no plan with cp > 1 (not searched below 8192)");
    int64_t short_n = res.evaluated;
    /* from 8192 tokens on (NeMo's Llama 3 runs at 8192 use cp 2) cp 2, 4,
     * 8 join the candidates, 4096 has none */
    pb.train.seq = 4096;
    ok(zp_search(&pb, top, KMAX, &res, &e) == ZP_OK, "seq 4096: search runs");
    int64_t n4k = res.evaluated;
    for (int i = 1; i < ZP_REJ_N; i++)
        n4k += res.rejected[i];
    pb.train.seq = 8192;
    ok(zp_search(&pb, top, KMAX, &res, &e) == ZP_OK, "seq 8192: search runs");
    int64_t n8k = res.evaluated;
    for (int i = 1; i < ZP_REJ_N; i++)
        n8k += res.rejected[i];
    ok(n8k > n4k, "seq 8192: cp enumerated (%lld candidates against %lld at 4096)", (long long)n8k, (long long)n4k);
    pb.train.seq = 32768;
    ok(zp_search(&pb, top, KMAX, &res, &e) == ZP_OK && res.ntop > 0, "seq 32768: search runs and finds plans");
    any = 0;
    for (int i = 0; i < res.ntop; i++) {
        any |= zp_cp(&top[i].lay) > 1;
        shape &= top[i].lay.dp * top[i].lay.tp * top[i].lay.pp * zp_cp(&top[i].lay) == 8;
    }
    ok(any && shape, "seq 32768: cp > 1 among the best, every plan dp x tp x pp x cp = 8");
    ok(res.evaluated > short_n, "seq 32768: more candidates than at 2048 (%lld > %lld): cp 2, 4, 8 enumerated",
       (long long)res.evaluated, (long long)short_n);
    /* without flash attention, cp > 1 is rejected by rule */
    pb.train.flash = 0;
    zp_status st = zp_search(&pb, top, KMAX, &res, &e);
    ok(st == ZP_OK && res.rejected[ZP_REJ_CP] > 0, "no flash: cp > 1 rejected by rule (%lld)",
       (long long)res.rejected[ZP_REJ_CP]);
    any = 0;
    for (int i = 0; i < res.ntop; i++)
        any |= zp_cp(&top[i].lay) > 1;
    ok(!any, "no flash: no plan with cp > 1");
    pb.pins.cp = 1;   /* no context parallelism: valid whatever the attention (a run's own layout pinned) */
    ok(zp_pins_check(&pb, &e) == ZP_OK, "--cp 1 without flash: accepted (cp 1 splits nothing)");
    any = 0;
    ok(zp_search(&pb, top, KMAX, &res, &e) == ZP_OK && res.ntop > 0, "--cp 1 without flash: search runs");
    for (int i = 0; i < res.ntop; i++)
        any |= zp_cp(&top[i].lay) != 1;
    ok(!any, "--cp 1: every plan has cp 1");
    pb.train.flash = 1;   /* pinned to 1, cp is not searched at 32768 either */
    ok(zp_search(&pb, top, KMAX, &res, &e) == ZP_OK && res.ntop > 0, "--cp 1 at seq 32768: search runs");
    any = 0;
    for (int i = 0; i < res.ntop; i++)
        any |= zp_cp(&top[i].lay) != 1;
    ok(!any, "--cp 1 at seq 32768: every plan has cp 1 (the searched cp > 1 held off)");
    pb.train.flash = 0;
    pb.pins.cp = 2;
    ok(zp_pins_check(&pb, &e) == ZP_EINVAL && strstr(e.msg, "--cp"), "--cp 2 without flash: refused naming --cp: '%s'",
       e.msg);
    pb.train.flash = 1;
    pb.train.seq = 2050;   /* 2050 is not 4 equal chunks */
    ok(zp_pins_check(&pb, &e) == ZP_EINVAL && strstr(e.msg, "--cp"), "--cp 2 with seq 2050: refused: '%s'", e.msg);
    pb.train.seq = 2048;   /* pinned, it holds below 8192 too */
    ok(zp_search(&pb, top, KMAX, &res, &e) == ZP_OK && res.ntop > 0, "--cp 2 at seq 2048: search runs");
    shape = 1;
    for (int i = 0; i < res.ntop; i++)
        shape &= top[i].lay.cp == 2 && top[i].lay.dp * top[i].lay.tp * top[i].lay.pp == 4;
    ok(shape, "--cp 2: every plan has cp 2 and dp x tp x pp = 4");
    pb.pins.cp = 3;
    pb.train.seq = 3072;   /* 6 equal chunks: what is refused is the 8 GPUs */
    ok(zp_pins_check(&pb, &e) == ZP_EINVAL && strstr(e.msg, "--cp 3") && strstr(e.msg, "--gpus 8"),
       "--cp 3 on 8 GPUs: refused: '%s'", e.msg);
}

/* Search pb; how many of its best plans satisfy pred (-1: none found). */
static int matching(const zp_problem *pb, int (*pred)(const zp_layout *))
{
    zp_search_result res;
    zp_err e = {0};
    if (zp_search(pb, top, KMAX, &res, &e) != ZP_OK || res.ntop == 0)
        return -1;
    int n = 0;
    for (int i = 0; i < res.ntop; i++)
        n += pred(&top[i].lay);
    return n == res.ntop ? KMAX + 1 : n;   /* KMAX + 1: every one */
}

static int is_op(const zp_layout *l) { return l->ckpt == ZP_CKPT_OP; }
static int is_fsdp_pp(const zp_layout *l) { return l->zero == 3 && l->pp > 1; }
static int is_fsdp_pp_kept(const zp_layout *l) { return is_fsdp_pp(l) && l->offload != ZP_OFF_OPT_PARAMS; }

/* --ckpt op is searched only when pinned; ZeRO-3 with pp > 1 (FSDP with
 * pipelining) evaluated only when --zero 3 is given, and then never with
 * parameter offload */
static void test_pinned_only(void)
{
    zp_problem pb = problem(gpt(24, 2048, 16), 8, 80 * GIB, 8);
    ok(matching(&pb, is_op) == 0, "unpinned: no plan recomputes per op");
    ok(matching(&pb, is_fsdp_pp) == 0, "unpinned: no ZeRO-3 plan with pp > 1");
    zp_problem po = pb;
    po.pins.ckpt = ZP_CKPT_OP;
    ok(matching(&po, is_op) == KMAX + 1, "--ckpt op: every plan recomputes per op");
    pb.pins.zero = 3;
    pb.pins.pp = 2;
    ok(matching(&pb, is_fsdp_pp_kept) == KMAX + 1, "--zero 3 --pp 2: every plan FSDP + PP, none offloading parameters");
}

/* Uneven stages (10 blocks on 4: 2 3 3 2) with a small vocabulary: the
 * second stage, a block more than the first and more micro-batches in
 * flight (3 x 3 blocks against 4 x 2), is the worst rank.  Its plan
 * reports that rank's communication, exposes its tensor-parallel
 * all-reduces (3 blocks x 4 a micro-batch, none overlapped: 1.5 times the
 * first stage's), and its optimizer pass covers its 3 blocks: by hand
 * 3 (12 h^2 + 13 h) / t parameters and the whole biases and norms. */
static void test_uneven_stages(void)
{
    zp_model m = gpt(10, 2048, 16);
    m.vocab = 1024;
    zp_problem pb = problem(m, 8, 80 * GIB, 8);
    zp_layout l = {.dp = 1, .tp = 2, .pp = 4, .vp = 1, .cp = 1, .zero = 1, .offload = ZP_OFF_NONE,
                   .ckpt = ZP_CKPT_NONE, .micro_batch = 1, .grad_accum = 8};
    zp_plan pl;
    zp_plan_eval(&pb, &l, &pl);
    is_u64((uint64_t)pl.worst_stage, 1, "2 3 3 2 blocks, vocabulary 1024: the second stage is the worst rank");
    zp_comm c0, c1, c3;
    zp_comm_plan(&pb.model, &pb.train, &l, &pb.cluster, &pb.conv, 0, &c0);
    zp_comm_plan(&pb.model, &pb.train, &l, &pb.cluster, &pb.conv, 1, &c1);
    zp_comm_plan(&pb.model, &pb.train, &l, &pb.cluster, &pb.conv, 3, &c3);
    double tp0 = 0, tp1 = 0;
    uint64_t tpb1 = 0;
    for (int i = 0; i < c0.n; i++)
        tp0 += c0.c[i].group == ZP_GRP_TP ? c0.c[i].time_s : 0.0;
    for (int i = 0; i < c1.n; i++)
        if (c1.c[i].group == ZP_GRP_TP)
            tp1 += c1.c[i].time_s, tpb1 += c1.c[i].bytes * (uint64_t)c1.c[i].count;
    double h = 2048, s = 2048, M = 8;
    is_u64(tpb1, (uint64_t)(3 * 4 * M * s * h * 2), "the second stage: 3 blocks x 4 all-reduces of s h bf16 a micro-batch");
    ok(c1.bytes_per_step != c3.bytes_per_step, "its bytes differ from the last stage's (%llu, %llu)",
       (unsigned long long)c1.bytes_per_step, (unsigned long long)c3.bytes_per_step);
    is_u64(pl.comm_bytes, c1.bytes_per_step, "the plan reports the worst rank's bytes, the second stage's");
    /* the same cost with the middle stage given the first stage's collectives (2 blocks, and the embedding's) */
    zp_lcache lc;
    zp_cost as_first;
    zp_lcache_init(&pb.model, &pb.train, &l, &lc);
    zp_cost_eval_c(&pb.model, &pb.train, &l, &pb.cluster, &pb.conv, &lc, &c0, &c3, NULL, &as_first);
    ok(tp1 > tp0 && pl.cost.comm_exposed_s >= tp1 && pl.cost.comm_exposed_s > as_first.comm_exposed_s,
       "its exposed communication holds its own all-reduces (%g s >= %g s; %g s with the first stage's %g s)",
       pl.cost.comm_exposed_s, tp1, as_first.comm_exposed_s, tp0);
    uint64_t pbytes, gbytes, K;
    zp_state_bytes(&pb.train, &pb.conv, &pbytes, &gbytes, &K);
    /* one block on one of 2 tp ranks: QKV and fc1 column-parallel (3 h^2 / 2
     * + 3 h / 2, 4 h^2 / 2 + 4 h / 2), the output projection and fc2
     * row-parallel with whole biases (h^2 / 2 + h, 4 h^2 / 2 + h), two
     * norms whole (4 h): 6 h^2 + 9.5 h; dp 1, so ZeRO-1 shards nothing */
    int64_t P1 = zp_stage_params(&pb.model, &l, 1);
    is_u64((uint64_t)P1, (uint64_t)(3 * (6 * h * h + 9.5 * h)), "the second stage: 3 blocks of 6 h^2 + 9.5 h on a tp rank");
    double want = (double)P1 * (2.0 * (double)pbytes + (double)gbytes + 2.0 * (double)K) / (pb.cluster.gpu.hbm_gbps * 1e9);
    ok(P1 > zp_stage_params(&pb.model, &l, 0) && P1 > zp_stage_params(&pb.model, &l, 3),
       "the second stage holds the most parameters");
    is_dbl(pl.cost.optimizer_s, want, 1e-12, "the optimizer pass covers the second stage's parameters");
}

int main(void)
{
    tap_plan(0);
    test_small_problem();
    test_structural();
    test_layout_check();
    test_pins();
    test_nothing_fits();
    test_ties();
    test_fit_boundary();
    test_cp();
    test_pinned_only();
    test_uneven_stages();
    return tap_exit();
}
