#!/bin/sh
# context.sh - context parallelism in the engine: each sequence cut into
# 2 cp chunks, a rank of the cp group taking one from each end (causal
# attention's work balanced), every block's attention taking the keys and
# values of the whole sequence around the group's ring (cp - 1 turns of point-to-point transfers forward, cp - 1 again in
# backward and cp - 1 more for their gradients), the dp x cp ranks sharing
# ZeRO's shards and summing their gradients:
# the oracle (every (tp, cp, pp) factorisation of 2, 4 and 8 ranks with
# cp > 1, with dp over the rest, at ZeRO 0-3 without a pipeline and 0-1
# with one, for GPT-2's blocks and the LLaMA family's, computes the loss
# curve of one rank within 1e-4 relative per step over 20 fp32 steps), the
# ring's bytes by hand, the ranks' coordinates, zplan exec's per-rank
# memory and bytes against the planner's, and the layouts refused.
. "$(dirname "$0")/lib.sh"
need_engine sqlite3

# 4 layers (one a stage at pp 4), 16 heads of 4 (8 KV heads for LLaMA), a
# sequence of 16 tokens (chunks of 4, 2 and 1); a global batch of 8
# sequences a step; parallel.sh's learning rate for its deeper models (at
# 1e-2 these 4 layers' curve amplifies rounding: 1.8e-4 between cp 4 and
# 1 rank, by the order of the sums alone; at 3e-3, 8e-8)
MODEL="layers=4 hidden=64 heads=16 vocab=128 seq=16 steps=20 seed=7 lr=3e-3 flash=1"
LLAMA="kv_heads=8 ffn=48 norm=rmsnorm mlp=swiglu pos=rotary tied=0 bias=0"

# ceng NP TP CP PP ZERO CKPT [key=value...]: dp = NP / (TP CP PP) ranks
# share the global batch (micro-batch 2 with accumulation 4 / dp, micro-
# batch 8 / dp at dp = 8); the JSON in $outf
ceng() {
    np=$1 t=$2 c=$3 p=$4 z=$5 k=$6
    shift 6
    dp=$((np / t / c / p))
    if [ "$dp" -le 4 ]; then mb=2 acc=$((4 / dp)); else mb=1 acc=1; fi
    # shellcheck disable=SC2086
    run timeout 300 mpirun -np "$np" "$ZPLAN_ENGINE" $MODEL micro_batch="$mb" accum="$acc" zero="$z" ckpt="$k" \
        tp="$t" cp="$c" pp="$p" "$@"
}
close='[.losses, $ref[0].losses] | transpose | map((.[0] - .[1]) / .[1] | fabs) | max <= 1e-4'

for arch in gpt2 llama; do
    extra=
    [ "$arch" = llama ] && extra=$LLAMA
    # shellcheck disable=SC2086
    ceng 1 1 1 1 0 0 $extra
    cp "$outf" "$tmp/$arch.json"
    jok "$tmp/$arch.json" '.status == "ok" and (.losses | length) == 20 and .cp == 1' "$arch, 1 rank: 20 steps"
    i=0
    # (np:tp:cp:pp) every factorisation of 2, 4 and 8 ranks with cp > 1
    for layout in 2:1:2:1 4:1:4:1 4:1:2:1 4:2:2:1 4:1:2:2 8:1:8:1 8:1:4:1 8:1:2:1 8:2:4:1 8:4:2:1 8:2:2:1 \
        8:1:2:2 8:1:4:2 8:2:2:2 8:1:2:4; do
        np=${layout%%:*} rest=${layout#*:}
        t=${rest%%:*} rest=${rest#*:}
        c=${rest%:*} p=${rest#*:}
        zs="0 1 2 3"
        [ "$p" -gt 1 ] && zs="0 1"
        for z in $zs; do
            [ "$arch" = llama ] && [ $(( (i + z) % 2 )) -eq 1 ] && continue   # LLaMA: half of them
            k=$(( (i + z) % 3 ))   # the recompute modes in turn
            sp=0   # (LLaMA's rows, (i + z) even, take it every other one)
            if [ "$t" -gt 1 ]; then
                if [ "$arch" = llama ]; then sp=$(( (i + z) / 2 % 2 )); else sp=$(( (i + z) % 2 )); fi
            fi
            # shellcheck disable=SC2086
            ceng "$np" "$t" "$c" "$p" "$z" "$k" sp="$sp" $extra
            what="$arch, tp $t x cp $c x dp $((np / t / c / p)) x pp $p, sp $sp, ZeRO-$z, recompute $k"
            if [ "$rc" -ne 0 ]; then
                ok 1 "$what: trains"
                diag "$err"
                continue
            fi
            jok "$outf" ".tp == $t and .cp == $c and .pp == $p and .dp == $((np / t / c / p)) and ($close)" \
                "$what: the loss curve of 1 rank (<= 1e-4 relative per step)" --slurpfile ref "$tmp/$arch.json"
        done
        i=$((i + 1))
    done
done

# Qwen3's Q and K head norms on context-parallel ranks (each normalises its
# own chunks' heads before they go around the ring), with tp, sp and a
# pipeline, against 1 rank
QKN="$LLAMA qk_norm=1"
# shellcheck disable=SC2086
ceng 1 1 1 1 0 0 $QKN
cp "$outf" "$tmp/qkn.json"
for spec in 2:1:2:1:3:2:0 4:2:2:1:1:0:1 8:2:2:2:1:1:0; do   # ranks:tp:cp:pp:ZeRO:recompute:sp
    # shellcheck disable=SC2046
    set -- $(echo "$spec" | tr ":" " ")
    np=$1 t=$2 c=$3 p=$4 z=$5 k=$6 sp=$7
    # shellcheck disable=SC2086
    ceng "$np" "$t" "$c" "$p" "$z" "$k" sp="$sp" $QKN
    jok "$outf" ".status == \"ok\" and .cp == $c and ($close)" \
        "Q/K head norms, tp $t x cp $c x pp $p, sp $sp, ZeRO-$z, recompute $k: the loss curve of 1 rank (<= 1e-4 relative per step)" \
        --slurpfile ref "$tmp/qkn.json"
done

# flash attention's FLOPs a step on a context-parallel rank (device.h's
# ze_flash_flops over the part kernels' calls): rank 0 of cp 2 holds chunks
# 0 and 3 of 4 tokens (positions 0..3 and 12..15), 4 layers x 4
# micro-batches x 2 sequences x 7 products (forward 2, backward 5) x 2 x 4
# (the head size) FLOPs x 16 heads x its causal pairs, 4 x 5 / 2 and
# 4 x 12 + 4 x 5 / 2
ceng 2 1 2 1 0 0
jok "$outf" '.cp == 2 and .flash.flops_per_step == 4 * 4 * 2 * 7 * 2 * 4 * 16 * (10 + 58)' \
    "cp 2, rank 0: flash attention's FLOPs a step over its two chunks' causal pairs, by hand" ||
    diag "$(jq -c .flash "$outf")"

# the ring, by hand: a part's keys and values are B T/cp 2 KV hs fp32
# values (GPT-2: 16 KV heads of 4 = 64 wide; LLaMA: 8 of 4 = 32); per block
# and micro-batch cp - 1 turns forward, cp - 1 to gather them again in
# backward and cp - 1 for their gradients, cp - 1 more forward for a block
# rebuilt (full recompute).  Each turn sends one part: S = 4 B (T/cp) 2 w.
# cp 4 x dp 2 (micro-batch 2, accumulation 2), 4 layers: S = 4 x 2 x 4 x
# 2 x 64 = 4096 bytes, (3 or 4) x (cp - 1) turns a block and micro-batch.
for k in 0 2; do
    ceng 8 1 4 1 1 "$k"
    turns=$(( (k == 2 ? 4 : 3) * 3 * 4 * 2 ))
    jok "$outf" ".bus_bytes_per_group.cp[\"send/recv\"] == 4096 * $turns and
        ([.bus_bytes_per_group.cp | to_entries[] | select(.key != \"send/recv\") | .value] | add) == 0" \
        "cp 4 x dp 2, recompute $k: the ring sends $turns parts of 4096 bytes a step (by hand), nothing else"
done
# the data-parallel group is the dp x cp ranks: ZeRO-1 over cp 4 x dp 2
# reduce-scatters and gathers the whole model in 8 shards, as dp 8 would
ceng 8 1 4 1 1 0
cp "$outf" "$tmp/cp4.json"
# shellcheck disable=SC2086
run timeout 300 mpirun -np 8 "$ZPLAN_ENGINE" $MODEL micro_batch=1 accum=1 zero=1
jok "$tmp/cp4.json" '.bus_bytes_per_group.dp == $d[0].bus_bytes_per_group.dp' \
    "cp 4 x dp 2, ZeRO-1: the data-parallel group's bytes are dp 8's (its shards over the dp x cp ranks)" \
    --slurpfile d "$outf"
jok "$tmp/cp4.json" '[.per_rank[] | [.cp_rank, .dp_rank]] == [[0,0],[1,0],[2,0],[3,0],[0,1],[1,1],[2,1],[3,1]]' \
    "the ranks' coordinates: cp fastest (after tp), then dp"
ceng 8 2 2 1 0 0
jok "$outf" '[.per_rank[] | [.tp_rank, .cp_rank, .dp_rank]] == [[0,0,0],[1,0,0],[0,1,0],[1,1,0],[0,0,1],[1,0,1],[0,1,1],[1,1,1]]' \
    "tp 2 x cp 2 x dp 2: tp fastest, then cp, then dp"

# zplan exec runs a cp plan: every rank within 1 % of the planner's peak
# (its moment: a block's attention backward, with the whole sequence's
# keys and values and their gradients on every rank) and the bytes of
# every group as predicted
printf 'model = gpt2-medium\ngpus = 4\ntp = 1\npp = 1\ndp = 2\ncp = 2\nzero = 1\nflash-attn = yes\nglobal-batch = 8\nmicro-batch = 2\nseq = 1024\n' \
    >"$tmp/cp.plan"
run "$ZPLAN" exec "$tmp/cp.plan" --db "$tmp/x.db" --steps 3 --oversubscribe \
    --scale layers=2,hidden=64,heads=4,vocab=64,seq=512,accum=2 --json
jok "$outf" '.status == "ok" and .ranks == 4 and ([.per_rank[] | .cp_rank] == [0,1,0,1]) and
    .comm_bytes_per_step.by_group.cp.predicted > 0 and all(.comm_bytes_per_step.by_group[]; .predicted == .measured) and
    all(.per_rank[]; (.measured_bytes.peak - .predicted_bytes.peak) / .predicted_bytes.peak | fabs < 0.01)' \
    "zplan exec of a cp 2 x dp 2 plan: 4 ranks, each within 1% of the predicted peak, every group's bytes as predicted" ||
    diag "$err"
jok "$outf" 'all(.per_rank[]; .predicted_phase == "backward" and .peak_phase == "backward")' \
    "its peak is a block's backward (the ring's buffers), predicted and measured on every rank"
# the example plan (Llama 3 8B at 65,536 tokens, FSDP 4 x CP 2) on 8 ranks
# at exec's default reduced scale
run "$ZPLAN" exec "$ZPLAN_SRCDIR/plans/llama3-8b-cp-long.plan" --db "$tmp/x.db" --steps 3 --oversubscribe --json
jok "$outf" '.status == "ok" and .ranks == 8 and .cp == 2 and all(.comm_bytes_per_step.by_group[]; .predicted == .measured) and
    all(.per_rank[]; (.measured_bytes.peak - .predicted_bytes.peak) / .predicted_bytes.peak | fabs < 0.01)' \
    "plans/llama3-8b-cp-long.plan at reduced scale on 8 ranks: each within 1% of the predicted peak, bytes exact" ||
    diag "$err"
# --scale cp= on a plan without flash attention: refused before launch
printf 'model = gpt2-medium\ngpus = 2\ntp = 1\npp = 1\ndp = 2\nzero = 1\nflash-attn = no\nglobal-batch = 8\nmicro-batch = 2\n' \
    >"$tmp/nf.plan"
run "$ZPLAN" exec "$tmp/nf.plan" --db "$tmp/nf.db" --steps 1 --oversubscribe \
    --scale layers=2,hidden=64,heads=4,vocab=64,seq=64,dp=1,cp=2
n=$(sqlite3 -batch "$tmp/nf.db" 'SELECT count(*) FROM executions' 2>/dev/null)   # (no table: nothing written)
ok "$([ "$rc" -eq 2 ] && grep -q 'cp=2 without flash attention' "$errf" && [ "${n:-0}" = 0 ]; echo $?)" \
    "zplan exec --scale cp=2 of a plan without flash attention: refused before launch, nothing recorded (exit 2)"

# refused: cp not dividing the sequence or the ranks, cp without flash
# attention, dump=DIR with cp
ceng 2 1 2 1 0 0 seq=14
ok "$([ "$rc" -eq 2 ] && grep -q 'context parallelism 2.*2 x cp the sequence' "$errf"; echo $?)" \
    "cp 2 over a sequence of 14 (not 4 chunks) is refused (exit 2)"
# shellcheck disable=SC2086
run timeout 60 mpirun -np 3 "$ZPLAN_ENGINE" $MODEL cp=2
ok "$([ "$rc" -eq 2 ] && grep -q 'divides the ranks' "$errf"; echo $?)" "cp 2 over 3 ranks is refused (exit 2)"
ceng 2 1 2 1 0 0 flash=0
ok "$([ "$rc" -eq 2 ] && grep -q 'flash=1' "$errf"; echo $?)" "cp 2 without flash attention is refused (exit 2)"
ceng 2 1 2 1 0 0 dump="$tmp/dump"
ok "$([ "$rc" -eq 2 ] && grep -q 'cp = 1' "$errf"; echo $?)" "dump=DIR with cp 2 is refused on every rank (exit 2)"
printf 'model = gpt2-medium\ngpus = 4\ntp = 1\npp = 1\ndp = 2\ncp = 2\nzero = 1\nflash-attn = no\nglobal-batch = 8\nmicro-batch = 2\nseq = 1024\n' \
    >"$tmp/cpnf.plan"
run "$ZPLAN" exec "$tmp/cpnf.plan" --db "$tmp/x.db" --steps 1 --oversubscribe --scale layers=2,hidden=64,heads=4,vocab=64
ok "$([ "$rc" -eq 2 ] && grep -q 'context parallelism needs flash attention' "$errf"; echo $?)" \
    "zplan exec of a cp plan without flash attention is refused before launch, as the planner refuses it (exit 2)"
run "$ZPLAN" exec "$tmp/cp.plan" --db "$tmp/x.db" --steps 1 --oversubscribe --scale layers=2,hidden=64,heads=4,vocab=64,seq=62
ok "$([ "$rc" -eq 2 ] && grep -q '2 x cp divides the sequence (--scale seq=60)' "$errf"; echo $?)" \
    "zplan exec --scale seq=62 with cp 2 is refused, naming a sequence that divides (exit 2)"
finish
