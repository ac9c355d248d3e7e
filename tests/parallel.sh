#!/bin/sh
# parallel.sh - tensor parallelism in the engine (Megatron's: column- and
# row-parallel blocks, vocabulary-parallel embedding and cross-entropy),
# with data parallelism and ZeRO over the rest of the ranks:
# the oracle (every (dp, tp) factorisation of 2, 4 and 8 ranks with tp > 1,
# ZeRO 0-3, for GPT-2's blocks and the LLaMA family's, computes the loss
# curve of one rank within 1e-4 relative per step over 20 fp32 steps), the
# tensor-parallel bytes by hand, and the layouts refused.
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
            # shellcheck disable=SC2086
            eng "$np" "$t" "$z" "$k" offload="$off" $extra
            if [ "$rc" -ne 0 ]; then
                ok 1 "$arch, tp $t x dp $((np / t)), ZeRO-$z, offload $off, recompute $k: trains"
                diag "$err"
                continue
            fi
            jok "$outf" ".tp == $t and .dp == $((np / t)) and ($close)" \
                "$arch, tp $t x dp $((np / t)), ZeRO-$z, offload $off, recompute $k: the loss curve of 1 rank (<= 1e-4 relative per step)" \
                --slurpfile ref "$tmp/$arch.json"
        done
        i=$((i + 1))
    done
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

# refused: tp not dividing the ranks, the heads, the KV heads; dump=DIR
eng 2 2 0 0 heads=4 kv_heads=1
ok "$([ "$rc" -eq 2 ] && grep -q 'tensor parallelism 2' "$errf"; echo $?)" "tp 2 over 1 KV head is refused (exit 2)"
run timeout 60 mpirun -np 3 "$ZPLAN_ENGINE" $MODEL tp=2
ok "$([ "$rc" -eq 2 ] && grep -q 'tp divides the ranks' "$errf"; echo $?)" "tp 2 over 3 ranks is refused (exit 2)"
eng 2 2 0 0 dump="$tmp/dump"
ok "$([ "$rc" -eq 2 ] && grep -q 'needs tp = 1' "$errf"; echo $?)" "dump=DIR with tp 2 is refused on every rank (exit 2)"

finish
