#!/bin/sh
# parallel.sh - tensor and pipeline parallelism in the engine (Megatron's
# tensor parallelism: column- and row-parallel blocks, vocabulary-parallel
# embedding and cross-entropy; pipeline stages with 1F1B or GPipe), with
# data parallelism and ZeRO over the rest of the ranks:
# the oracle (every (dp, tp) factorisation of 2, 4 and 8 ranks with tp > 1
# at ZeRO 0-3, and every (dp, tp, pp) one with pp > 1 at ZeRO 0-1, for
# GPT-2's blocks and the LLaMA family's, with and without flash attention,
# computes the loss curve of one rank within 1e-4 relative per step over 20
# fp32 steps), the stages'
# layers and micro-batches in flight, the bytes of each group by hand, and
# the layouts refused.
. "$(dirname "$0")/lib.sh"
need_engine

# 16 heads of 4 (8 KV heads for LLaMA: groups of 2), MLP widths and a
# vocabulary that 2, 4 and 8 divide; a global batch of 8 sequences a step
MODEL="layers=2 hidden=64 heads=16 vocab=128 seq=16 steps=20 seed=7"
LLAMA="kv_heads=8 ffn=48 norm=rmsnorm mlp=swiglu pos=rotary tied=0 bias=0"

# eng NP TP ZERO CKPT [key=value...]: dp = NP / TP ranks share the global
# batch (micro-batch 2 with accumulation 4 / dp, micro-batch 8 / dp at
# dp = 8); the JSON in $outf
eng() {
    np=$1 t=$2 z=$3 k=$4
    shift 4
    dp=$((np / t))
    if [ "$dp" -le 4 ]; then mb=2 acc=$((4 / dp)); else mb=1 acc=1; fi
    # shellcheck disable=SC2086
    run timeout 300 mpirun -np "$np" "$ZPLAN_ENGINE" $MODEL micro_batch="$mb" accum="$acc" zero="$z" ckpt="$k" tp="$t" "$@"
}
close='[.losses, $ref[0].losses] | transpose | map((.[0] - .[1]) / .[1] | fabs) | max <= 1e-4'

for arch in gpt2 llama; do
    extra=
    [ "$arch" = llama ] && extra=$LLAMA
    # shellcheck disable=SC2086
    eng 1 1 0 0 $extra
    cp "$outf" "$tmp/$arch.json"
    jok "$tmp/$arch.json" '.status == "ok" and (.losses | length) == 20 and .tp == 1' "$arch, 1 rank: 20 steps"
    i=0
    for layout in 2:2 4:2 4:4 8:2 8:4 8:8; do
        np=${layout%:*} t=${layout#*:}
        for z in 0 1 2 3; do
            k=$(( (i + z) % 3 ))   # the recompute modes in turn
            off=0
            [ "$z" -ge 1 ] && [ $(( (i + z) % 4 )) -eq 0 ] && off=1   # optimizer offload, some of the time
            [ "$z" -eq 3 ] && [ $(( i % 3 )) -eq 2 ] && off=2          # and the parameters too
            sp=$(( (i + z) % 2 ))                                      # sequence parallelism on and off
            fa=$(( (i + z / 2) % 2 ))                                  # flash attention on and off
            # shellcheck disable=SC2086
            eng "$np" "$t" "$z" "$k" offload="$off" sp="$sp" flash="$fa" $extra
            if [ "$rc" -ne 0 ]; then
                ok 1 "$arch, tp $t x dp $((np / t)), sp $sp, flash $fa, ZeRO-$z, offload $off, recompute $k: trains"
                diag "$err"
                continue
            fi
            jok "$outf" ".tp == $t and .dp == $((np / t)) and .sp == ($sp == 1) and .flash_attention == ($fa == 1) and ($close)" \
                "$arch, tp $t x dp $((np / t)), sp $sp, flash $fa, ZeRO-$z, offload $off, recompute $k: the loss curve of 1 rank (<= 1e-4 relative per step)" \
                --slurpfile ref "$tmp/$arch.json"
        done
        i=$((i + 1))
    done
done

# Qwen3's Q and K head norms (qk_norm=1) on the LLaMA blocks: each tp rank
# normalises its own heads with the whole weights, whose gradients are then
# summed over the tp ranks, with sequence parallelism or without; a ZeRO
# stage, the recompute modes, sp and flash attention in turn, against 1 rank
QKN="$LLAMA qk_norm=1"
# shellcheck disable=SC2086
eng 1 1 0 0 $QKN
cp "$outf" "$tmp/qkn.json"
jok "$tmp/qkn.json" '.status == "ok" and (.losses | length) == 20' "Q/K head norms, 1 rank: 20 steps"
i=0
for spec in 2:1:3 2:2:0 4:2:1 4:4:2 8:2:3 8:4:0 8:8:1; do   # ranks:tp:ZeRO
    np=${spec%%:*} rest=${spec#*:}
    t=${rest%:*} z=${rest#*:}
    k=$((i % 3)) sp=$((i % 2)) fa=$(((i / 2) % 2))
    [ "$t" -eq 1 ] && sp=0
    off=0
    [ "$z" -eq 3 ] && off=$((1 + i / 4 % 2))   # ZeRO-3: the optimizer, or it and the parameters, offloaded
    # shellcheck disable=SC2086
    eng "$np" "$t" "$z" "$k" sp="$sp" flash="$fa" offload="$off" $QKN
    jok "$outf" ".status == \"ok\" and .tp == $t and ($close)" \
        "Q/K head norms, tp $t x dp $((np / t)), sp $sp, flash $fa, ZeRO-$z, offload $off, recompute $k: the loss curve of 1 rank (<= 1e-4 relative per step)" \
        --slurpfile ref "$tmp/qkn.json"
    i=$((i + 1))
done

# Qwen2's bias on the QKV product alone (qkv_bias=1): column-parallel with
# its product, each rank its heads' rows; against 1 rank
# shellcheck disable=SC2086
eng 1 1 0 0 $LLAMA qkv_bias=1
cp "$outf" "$tmp/qkvb.json"
for spec in 4:2:1:1:1 8:4:3:0:0; do   # ranks:tp:ZeRO:sp:recompute
    # shellcheck disable=SC2046
    set -- $(echo "$spec" | tr ":" " ")
    np=$1 t=$2 z=$3 sp=$4 k=$5
    # shellcheck disable=SC2086
    eng "$np" "$t" "$z" "$k" sp="$sp" $LLAMA qkv_bias=1
    jok "$outf" ".status == \"ok\" and .tp == $t and ($close)" \
        "QKV bias alone, tp $t x dp $((np / t)), sp $sp, ZeRO-$z, recompute $k: the loss curve of 1 rank (<= 1e-4 relative per step)" \
        --slurpfile ref "$tmp/qkvb.json"
done

# Megatron's tensor-parallel all-reduces, by hand: per layer and
# micro-batch 2 in forward (the row-parallel products) and 2 in backward
# (the column-parallel inputs' gradients), 2 more with full recompute (the
# forward again); per micro-batch one for the embedding's output and one
# for the head's input gradient, each of N x hidden fp32 values (N = micro-
# batch x seq); and three of N fp32 values for the cross-entropy (maximum,
# sum of exponentials, target logit).  Bus bytes: S x 2 (t - 1) / t.
# tp 4 x dp 2 (micro-batch 2, accumulation 2: N = 32) and tp 8 (micro-batch
# 1, accumulation 1: N = 16), none and full recompute.
for spec in 8:4:0 8:4:2 8:8:0 8:8:2; do
    np=${spec%%:*} rest=${spec#*:}
    t=${rest%:*} k=${rest#*:}
    eng "$np" "$t" 1 "$k"
    dp=$((np / t))
    if [ "$dp" -le 4 ]; then n=32 m=$((4 / dp)); else n=16 m=1; fi
    per_layer=$((k == 2 ? 6 : 4))
    s=$(( (4 * n * 64 * (2 * per_layer * m + 2 * m) + 4 * n * 3 * m) * 2 * (t - 1) / t ))
    jok "$outf" ".bus_bytes_per_group.tp[\"all-reduce\"] == $s and .bus_bytes_per_group.tp[\"reduce-scatter\"] == 0 and
        .bus_bytes_per_group.tp[\"all-gather\"] == 0" \
        "tp $t x dp $dp, recompute $k: the tensor-parallel group's all-reduces send $s bytes a step, by hand"
done
# with sequence parallelism (tp 4 x dp 2, N = 32 rows, 8 a rank): per
# layer and micro-batch the row-parallel outputs reduce-scattered (2) and
# the column-parallel inputs gathered (2) in forward, in backward the
# output gradients gathered (2), the kept inputs gathered again (2) and the
# input gradients reduce-scattered (2), full recompute the forward's again;
# per micro-batch the embedding's output reduce-scattered and its gradient
# gathered, the head's input gathered and its gradient reduce-scattered;
# each of S = 32 x 64 fp32 = 8192 bytes, bus S (t - 1) / t = 6144.  The
# all-reduces: the cross-entropy's 3 x 2 of 32 fp32 values, and once a
# step the norms' gradients (5 LayerNorms of 128 fp32), bus x 1.5.
for k in 0 2; do
    eng 8 4 1 "$k" sp=1
    ag=$(( 6144 * ((k == 2 ? 8 : 6) * 2 * 2 + 2 + 2) ))
    rs=$(( 6144 * ((k == 2 ? 6 : 4) * 2 * 2 + 2 + 2) ))
    ar=$(( (3 * 2 * 32 * 4 + 5 * 128 * 4) * 3 / 2 ))
    jok "$outf" ".sp and .bus_bytes_per_group.tp[\"all-gather\"] == $ag and .bus_bytes_per_group.tp[\"reduce-scatter\"] == $rs and
        .bus_bytes_per_group.tp[\"all-reduce\"] == $ar" \
        "tp 4 x dp 2 with sp, recompute $k: all-gathers $ag, reduce-scatters $rs, all-reduces $ar bytes a step, by hand"
done
# the data-parallel group's: ZeRO-1 over dp 2 with tp 4 reduce-scatters and
# gathers each rank's quarter of the model (P / 4 fp32 values, the norms
# and row-parallel biases whole on every tp rank, every unit padded to
# dp); bus bytes S (dp - 1) / dp
eng 8 4 1 0
nb=$(( 64 + 64 + (3 * 64 * 64 + 3 * 64) / 4 + (64 * 64) / 4 + 64 + 64 + 64 + (256 * 64 + 256) / 4 + (64 * 256) / 4 + 64 ))
ne=$(( 16 * 64 + 128 * 64 / 4 ))
nl=128
units=$(( ne + 2 * nb + nl ))
jok "$outf" ".bus_bytes_per_group.dp[\"reduce-scatter\"] == 4 * $units / 2 and .bus_bytes_per_group.dp[\"all-gather\"] == 4 * $units / 2" \
    "tp 4 x dp 2, ZeRO-1: the dp group moves 4 x $units / 2 bytes each way (a tp rank's share of the model, by hand)"
jok "$outf" '[.per_rank[] | [.tp_rank, .dp_rank]] == [[0,0],[1,0],[2,0],[3,0],[0,1],[1,1],[2,1],[3,1]]' \
    "the ranks' coordinates: tp fastest, then dp"

# ---------------------------------------------------------------- pipeline
# 8 layers (pp up to 8), at a learning rate that lets them learn smoothly
# (at 1e-2 these 8 layers do not learn in 20 steps, and their curve
# amplifies rounding: then a layout differs from 1 rank by the reduction
# order alone)
PMODEL="layers=8 hidden=64 heads=16 vocab=128 seq=16 steps=20 seed=7 lr=3e-3"
# peng NP TP PP ZERO CKPT [key=value...]
peng() {
    np=$1 t=$2 p=$3 z=$4 k=$5
    shift 5
    dp=$((np / t / p))
    if [ "$dp" -le 4 ]; then mb=2 acc=$((4 / dp)); else mb=1 acc=1; fi
    # shellcheck disable=SC2086
    run timeout 300 mpirun -np "$np" "$ZPLAN_ENGINE" $PMODEL micro_batch="$mb" accum="$acc" zero="$z" ckpt="$k" \
        tp="$t" pp="$p" "$@"
}
for arch in gpt2 llama; do
    extra=
    [ "$arch" = llama ] && extra=$LLAMA
    # shellcheck disable=SC2086
    peng 1 1 1 0 0 $extra
    cp "$outf" "$tmp/p$arch.json"
    jok "$tmp/p$arch.json" '.status == "ok" and .losses[19] < .losses[0] * 0.97' "$arch, 8 layers, 1 rank: the loss falls"
    i=0
    # (np:tp:pp) every factorisation of 2, 4, 8 ranks with pp > 1
    for layout in 2:1:2 4:1:4 4:2:2 4:1:2 8:1:8 8:2:4 8:4:2 8:1:4 8:1:2 8:2:2; do
        np=${layout%%:*} rest=${layout#*:}
        t=${rest%:*} p=${rest#*:}
        for z in 0 1; do
            k=$(( (i + z) % 3 ))
            sched=1f1b
            [ $(( (i + z) % 4 )) -eq 3 ] && sched=gpipe
            off=0
            [ "$z" -eq 1 ] && [ $(( i % 3 )) -eq 1 ] && off=1
            sp=0
            [ "$t" -gt 1 ] && sp=$(( (i + z + 1) % 2 ))
            fa=$((i % 2))   # (with sp and without, 1F1B and GPipe, each way)
            # shellcheck disable=SC2086
            peng "$np" "$t" "$p" "$z" "$k" schedule="$sched" offload="$off" sp="$sp" flash="$fa" $extra
            what="$arch, tp $t x dp $((np / t / p)) x pp $p, sp $sp, flash $fa, ZeRO-$z, offload $off, recompute $k, $sched"
            if [ "$rc" -ne 0 ]; then
                ok 1 "$what: trains"
                diag "$err"
                continue
            fi
            jok "$outf" ".pp == $p and .schedule == \"$sched\" and .flash_attention == ($fa == 1) and ($close)" \
                "$what: the loss curve of 1 rank (<= 1e-4 relative per step)" --slurpfile ref "$tmp/p$arch.json"
        done
        i=$((i + 1))
    done
done

# the Q and K head norms on pipeline stages (tp within each), against 1 rank
# shellcheck disable=SC2086
peng 1 1 1 0 0 $QKN
cp "$outf" "$tmp/pqkn.json"
for spec in 4:2:2:1:1 8:2:4:0:0; do   # ranks:tp:pp:ZeRO:sp
    np=${spec%%:*} rest=${spec#*:}
    t=${rest%%:*} rest=${rest#*:}
    p=${rest%%:*} rest=${rest#*:}
    z=${rest%:*} sp=${rest#*:}
    # shellcheck disable=SC2086
    peng "$np" "$t" "$p" "$z" 1 sp="$sp" $QKN
    jok "$outf" ".status == \"ok\" and .pp == $p and ($close)" \
        "Q/K head norms, tp $t x pp $p x dp $((np / t / p)), sp $sp, ZeRO-$z: the loss curve of 1 rank (<= 1e-4 relative per step)" \
        --slurpfile ref "$tmp/pqkn.json"
done
# and interleaved: 2 stages of 2 chunks each (vp 2), dp 2
# shellcheck disable=SC2086
peng 4 1 2 1 2 vp=2 $QKN
jok "$outf" ".status == \"ok\" and .pp == 2 and ($close)" \
    "Q/K head norms, pp 2 x vp 2 x dp 2, ZeRO-1, full recompute: the loss curve of 1 rank (<= 1e-4 relative per step)" \
    --slurpfile ref "$tmp/pqkn.json"

# the interleaved schedule (Megatron's: vp chunks per stage, chunk c of
# stage k the virtual stage c pp + k): every factorisation with pp > 1
# whose micro-batches divide by pp, vp 2 (and 4 on 2 stages), on the 1-rank
# curve within 1e-4, sp on and off (8 stages of 2 chunks: 16 layers, 8
# micro-batches, against their own 1-rank curve)
# shellcheck disable=SC2086
peng 1 1 1 0 0 layers=16 accum=8
cp "$outf" "$tmp/r16gpt2.json"
# shellcheck disable=SC2086
peng 1 1 1 0 0 layers=16 accum=8 $LLAMA
cp "$outf" "$tmp/r16llama.json"
i=0
for layout in 2:1:2:2 4:1:4:2 4:2:2:2 4:1:2:4 8:2:2:2 8:4:2:2 8:2:4:2 8:1:8:2; do
    np=${layout%%:*} rest=${layout#*:}
    t=${rest%%:*} rest=${rest#*:}
    p=${rest%:*} v=${rest#*:}
    for arch in gpt2 llama; do
        extra=
        [ "$arch" = llama ] && extra=$LLAMA
        z=$((i % 2)) k=$((i % 3)) sp=0
        [ "$t" -gt 1 ] && sp=$(( (i + 1) % 2 ))
        layers=8 acc=
        [ "$p" -eq 8 ] && layers=16 acc=accum=8
        # shellcheck disable=SC2086
        peng "$np" "$t" "$p" "$z" "$k" vp="$v" sp="$sp" layers="$layers" $acc $extra
        what="$arch, tp $t x dp $((np / t / p)) x pp $p, vp $v, sp $sp, ZeRO-$z, recompute $k"
        ref=$tmp/p$arch.json
        [ "$p" -eq 8 ] && ref=$tmp/r16$arch.json
        jok "$outf" ".schedule == \"interleaved\" and .vp == $v and ($close)" \
            "$what: the loss curve of 1 rank (<= 1e-4 relative per step)" --slurpfile ref "$ref"
        i=$((i + 1))
    done
done

# the planner's placement: 6 layers on 4 stages are 1, 2, 2, 1 (the
# remainder to the middle stages first); stage k sends its output forward
# (not the last) and its input's gradient back (not the first), each N x
# hidden fp32 values per micro-batch (N = 2 x 16): 4 micro-batches x 8192
# bytes each way; the tied embedding's gradient (vocab x hidden fp32) is
# summed over the first and last stages, S x 2 (2 - 1) / 2 = 32768 bytes
run timeout 300 mpirun -np 4 "$ZPLAN_ENGINE" layers=6 hidden=64 heads=16 vocab=128 seq=16 steps=3 seed=7 \
    micro_batch=2 accum=4 pp=4
jok "$outf" '[.per_rank[] | [.pp_rank, .first_layer, .layers]] == [[0,0,1],[1,1,2],[2,3,2],[3,5,1]]' \
    "6 layers on 4 stages: 1, 2, 2, 1 (the remainder to the middle stages)"
jok "$outf" '[.per_rank[] | .bus_bytes_per_group.pp["send/recv"]] == [32768, 65536, 65536, 32768] and
    [.per_rank[] | .bus_bytes_per_group.embedding["all-reduce"]] == [32768, 0, 0, 32768]' \
    "pp 4: 4 micro-batches x 8192 bytes sent each way a stage has a neighbour; the tied embedding's 32768 over the ends"

# micro-batches in flight: 1F1B holds min(p - k, M) on stage k (one
# micro-batch's activations more per stage towards the first), GPipe all M
# on every stage (8 micro-batches of one sequence, 2 layers a stage)
for sched in 1f1b gpipe; do
    run timeout 300 mpirun -np 4 "$ZPLAN_ENGINE" $PMODEL steps=3 micro_batch=1 accum=8 pp=4 schedule="$sched"
    cp "$outf" "$tmp/$sched.json"
done
# against GPipe's all 8 on the same stage (whatever else the stage holds,
# the same in both): GPipe over 1F1B is 8 - 4, 8 - 3, 8 - 2 micro-batches
# on stages 0, 1, 2, so 4 d, 5 d, 6 d with d one micro-batch's activations
jok "$tmp/1f1b.json" '[.per_rank[] | .device_class_peaks.activations] as $a |
    [$g[0].per_rank[] | .device_class_peaks.activations] as $gp |
    [range(0; 3) | $gp[.] - $a[.]] as $x | ($x[1] - $x[0]) as $d |
    $d > 0 and $x[0] == 4 * $d and $x[2] == 6 * $d and $a[0] - $a[1] == $d and $a[1] - $a[2] == $d' \
    "1F1B on 4 stages, 8 micro-batches: stages 0, 1, 2 hold 4, 3, 2 micro-batches' activations (GPipe's 8 less 4 d, 5 d, 6 d)" \
    --slurpfile g "$tmp/gpipe.json"
jok "$tmp/gpipe.json" '[.per_rank[] | .device_class_peaks.activations] as $g |
    [$f[0].per_rank[] | .device_class_peaks.activations] as $a | ($a[0] - $a[1]) as $d |
    $g[0] == $g[1] and $g[1] == $g[2] and $g[0] - 8 * $d == $a[0] - 4 * $d' \
    "GPipe: every stage holds all 8 micro-batches' activations" --slurpfile f "$tmp/1f1b.json"

# the bubble: 1F1B on 4 stages idles (p - 1) / (M + p - 1) of a step on
# every stage.  Measured as each rank's time waiting in the pipeline's
# sends and receives (and the tied embedding's reduction) over its step,
# with each micro-batch's compute emulated by a sleep (20 ms forward, 40 ms
# backward: mb_delay_ms) so that 4 stages run side by side on 2 cores as
# they would on 4 processors; within 20 % of the formula on every stage.
# (At 10 and 20 ms, the sends' and receives' own cost on 2 cores shared
# with another job took M = 16 to +18 %; at 20 and 40 it is half that.)
# Noise only adds waiting: on CI runs with nothing else running, a busy
# moment held every stage up ~80 ms a step (1F1B M = 8 measured 0.35 for
# 0.273, three runs in a row; M = 16 0.21 for 0.158), so each rank's idle
# share is the median over 5 steps (pipeline_idle_median: two held-up
# steps move it no more than the others do), and a run off the bound is run
# again, up to 3 times, 2 s apart, the check on the last; a schedule that
# idles the wrong share misses every time.
# bubble_runs JQ-CONDITION ENGINE-ARGS...: sets $tries
bubble_runs() {
    cond=$1
    shift
    tries=0
    while [ "$tries" -lt 3 ]; do
        [ "$tries" -eq 0 ] || sleep 2
        tries=$((tries + 1))
        OMPI_MCA_mpi_yield_when_idle=1 run timeout 300 mpirun -np 4 "$ZPLAN_ENGINE" "$@"
        [ "$rc" -eq 0 ] || return 0
        jtrue "$outf" "$cond" && return 0
    done
    return 0
}
idles='[.per_rank[] | .pipeline_idle_median * 1000 | round / 1000]'
for M in 4 8 16; do
    cond=".status == \"ok\" and (.per_rank | length) == 4 and ((3 / ($M + 3)) as \$w |
        all(.per_rank[]; (.pipeline_idle_median - \$w) / \$w | fabs <= 0.2))"
    bubble_runs "$cond" layers=4 hidden=32 heads=4 vocab=64 seq=16 micro_batch=1 accum="$M" steps=6 pp=4 mb_delay_ms=20
    jok "$outf" "$cond" \
        "1F1B, 4 stages, M = $M: every stage idles (p - 1) / (M + p - 1) = $(echo "$M" | awk '{printf "%.3f", 3 / ($1 + 3)}') of its step, within 20 %: $(jq -c "$idles" "$outf") (run $tries of at most 3)"
done

# interleaved (vp 2): the bubble v times smaller, (p - 1) / (v M + p - 1).
# Each of a stage's v chunks sleeps 1 / v of mb_delay_ms, so 40 ms gives a
# chunk the 20 + 40 ms that a whole stage has above: at a quarter of that
# the sends' and receives' own cost on 2 oversubscribed cores was a fifth
# of the 0.086 that M = 16 idles, and the check failed on noise, not on
# the schedule
for M in 4 8 16; do
    cond=".status == \"ok\" and (.per_rank | length) == 4 and ((3 / (2 * $M + 3)) as \$w |
        all(.per_rank[]; (.pipeline_idle_median - \$w) / \$w | fabs <= 0.2))"
    bubble_runs "$cond" layers=8 hidden=32 heads=4 vocab=64 seq=16 micro_batch=1 accum="$M" steps=6 pp=4 vp=2 mb_delay_ms=40
    jok "$outf" "$cond" \
        "interleaved vp 2, 4 stages, M = $M: every stage idles (p - 1) / (v M + p - 1) = $(echo "$M" | awk '{printf "%.3f", 3 / (2 * $1 + 3)}'), within 20 %: $(jq -c "$idles" "$outf") (run $tries of at most 3)"
done

# ---------------------------------------------------------------- machines
# two machines: the Open MPI host entries node-a and node-b (2 slots each)
# reached through a stand-in for ssh that runs the command here (and notes
# the host it was asked for), the ranks talking TCP over the loopback (the
# shared-memory transport is for ranks of one machine): mpirun starts a
# daemon per "machine" as it would over ssh.  tp 2 inside each machine,
# pp 2 across them, as the layout puts tp innermost.
printf '#!/bin/sh\necho "$1" >>"%s"\nshift\nexec sh -c "$*"\n' "$tmp/hosts-used" >"$tmp/fake-ssh"
chmod +x "$tmp/fake-ssh"
printf 'node-a slots=2\nnode-b slots=2\n' >"$tmp/hosts"
# (two daemons on one host both write hwloc's shared topology at one address
# and one of them crashes now and then, 2 runs in 10 here: rtc ^hwloc,
# which only binds processes, leaves that out; 20 runs in 20 then passed)
two_machines() {
    OMPI_MCA_plm_rsh_agent="$tmp/fake-ssh" OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include=lo \
        OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_rmaps_base_oversubscribe=0 OMPI_MCA_rtc='^hwloc' "$@"
}
peng 1 1 1 0 0 layers=4 steps=10
cp "$outf" "$tmp/m1.json"
: >"$tmp/hosts-used"
# shellcheck disable=SC2086
two_machines run timeout 300 mpirun --hostfile "$tmp/hosts" -np 4 "$ZPLAN_ENGINE" $PMODEL layers=4 steps=10 \
    micro_batch=2 accum=4 tp=2 pp=2
jok "$outf" ".status == \"ok\" and .tp == 2 and .pp == 2 and ($close)" \
    "two machines (a hostfile of 2 x 2 slots), tp 2 in each, pp 2 across: the loss curve of 1 rank" \
    --slurpfile ref "$tmp/m1.json"
is "$(sort -u "$tmp/hosts-used" | tr '\n' ' ')" "node-a node-b " "mpirun reached both machines through the launch agent"
# zplan exec --hostfile: the same two machines for a tp 2 x pp 2 plan
printf 'model = gpt2-medium\ngpus = 4\ntp = 2\npp = 2\ndp = 1\nzero = 1\nsp = yes\nvp = 1\nglobal-batch = 8\nmicro-batch = 2\n' \
    >"$tmp/3d.plan"
: >"$tmp/hosts-used"
two_machines run "$ZPLAN" exec "$tmp/3d.plan" --db "$tmp/x.db" --steps 3 --hostfile "$tmp/hosts" \
    --scale layers=4,hidden=64,heads=8,vocab=256,seq=64,accum=4 --json
jok "$outf" '.status == "ok" and .ranks == 4 and ([.per_rank[] | .stage] == [0,0,1,1]) and
    all(.comm_bytes_per_step.by_group[]; .predicted == .measured) and
    all(.per_rank[]; (.measured_bytes.peak - .predicted_bytes.peak) / .predicted_bytes.peak | fabs < 0.01)' \
    "zplan exec --hostfile on the two machines: 4 ranks, 2 stages, each within 1% of its stage's peak, bytes as predicted"
is "$(sort -u "$tmp/hosts-used" | tr '\n' ' ')" "node-a node-b " "zplan exec --hostfile reached both machines"

# the 3D example plans run at reduced scale on 8 ranks: the model and the
# layout's degrees shrunk by --scale, its kind kept (ZeRO-1, recompute; the
# sequence parallelism and interleaving the engine has not are left out,
# said on stderr); every rank within 1 % of its stage's predicted peak, 3 %
# (the issue's bound) for GPT-3's interleaved schedule, whose sends not
# waited for hold buffers the planner does not count, as many as the ranks'
# timing leaves in flight (1.0-1.2 % measured)
for spec in "gpt3-175b-3d.plan:layers=8,hidden=64,heads=8,vocab=256,seq=64,dp=2,tp=2,pp=2:2:0.03" \
    "llama3-70b-64gpu.plan:layers=8,hidden=128,heads=16,kv_heads=8,vocab=256,seq=64,dp=1,tp=2,pp=4:4:0.01"; do
    plan=${spec%%:*} rest=${spec#*:}
    bound=${rest##*:} rest=${rest%:*}
    sc=${rest%:*} stages=${rest#*:}
    run "$ZPLAN" exec "$ZPLAN_SRCDIR/plans/$plan" --db "$tmp/x.db" --steps 3 --oversubscribe --scale "$sc,accum=4" --json
    jok "$outf" ".status == \"ok\" and .ranks == 8 and ([.per_rank[] | .stage] | unique | length) == $stages and
        all(.comm_bytes_per_step.by_group[]; .predicted == .measured) and
        all(.per_rank[]; (.measured_bytes.peak - .predicted_bytes.peak) / .predicted_bytes.peak | fabs < $bound)" \
        "plans/$plan at reduced scale on 8 ranks ($sc): $stages stages, each rank within $bound of its stage's peak" ||
        diag "$err"
done
run "$ZPLAN" exec "$ZPLAN_SRCDIR/plans/gpt3-175b-3d.plan" --db "$tmp/x.db" --steps 1
ok "$([ "$rc" -eq 2 ] && grep -q '1024 ranks.*dp=, tp=, pp=, cp= shrinks the layout' "$errf"; echo $?)" \
    "plans/gpt3-175b-3d.plan unscaled: 1024 ranks refused (exit 2), saying how to shrink the layout"

# refused: tp not dividing the ranks, the heads, the KV heads; dump=DIR
eng 2 2 0 0 heads=4 kv_heads=1
ok "$([ "$rc" -eq 2 ] && grep -q 'tensor parallelism 2' "$errf"; echo $?)" "tp 2 over 1 KV head is refused (exit 2)"
run timeout 60 mpirun -np 3 "$ZPLAN_ENGINE" $MODEL tp=2
ok "$([ "$rc" -eq 2 ] && grep -q 'tp divides the ranks' "$errf"; echo $?)" "tp 2 over 3 ranks is refused (exit 2)"
eng 2 2 0 0 dump="$tmp/dump"
ok "$([ "$rc" -eq 2 ] && grep -q 'needs tp = 1' "$errf"; echo $?)" "dump=DIR with tp 2 is refused on every rank (exit 2)"
peng 2 1 2 2 0
ok "$([ "$rc" -eq 2 ] && grep -q 'ZeRO-2 with pipeline' "$errf"; echo $?)" "ZeRO-2 with pp 2 is refused (exit 2)"
run timeout 60 mpirun -np 4 "$ZPLAN_ENGINE" $MODEL pp=4
ok "$([ "$rc" -eq 2 ] && grep -q 'every stage has a layer' "$errf"; echo $?)" "2 layers on 4 stages are refused (exit 2)"

finish
