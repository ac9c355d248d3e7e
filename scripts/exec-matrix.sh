#!/bin/sh
# scripts/exec-matrix.sh - predicted vs measured device memory for every
# data-parallel / ZeRO layout (with and without offload) and recompute mode
# on two model shapes (every mode at the first, one per layout in turn at
# the second) and storage types: fp32 on 1, 2, 4 and 8 ranks, bf16
# (fp32 master weights) on 2 and 8, fp16 (loss scaling) on 4, bf16
# parameters with fp32 gradients on 2; and a LLaMA-family model (Llama-3-8B
# scaled) in fp32 on 2 ranks and bf16 on 4; and the 3D layouts (tensor and
# pipeline parallel: every factorisation of 4 and 8 ranks, below) and the
# context-parallel ones (cp > 1 with dp, tp and pp, below).  GPT-2's
# first shape stores the attention probabilities, its second and the LLaMA
# rows (2D and 3D) run flash attention.  Plans a pinned layout, runs it with
# zplan exec, and prints per class and for the peak the planner's error
# against the engine, the host bytes and the bytes sent per step.
#
#   sh scripts/exec-matrix.sh          the table
#   sh scripts/exec-matrix.sh --tap    TAP: a row passes when the peak is
#                                      within 1 %, every class within 1 %,
#                                      host bytes within 1 % and the bytes
#                                      sent exact, in total and per kind of
#                                      collective and copy (tests/predict.sh)
# The bounds fit the evidence: every row measures within 0.2 % (peak) and
# 0.5 % (classes); with the issue's 3 % a mutation moving 8 rows to -3.1 ..
# -3.6 % passed 40 of 48.
# ZPLAN names the zplan binary (default: ./zplan of the tree this script is
# in); ZPLAN_MATRIX_SHAPES, ZPLAN_MATRIX_RANKS and ZPLAN_MATRIX_DTYPES
# (entries DTYPE[/GRAD_DTYPE][:RANK,RANK...]; the ranks default to
# ZPLAN_MATRIX_RANKS) narrow the GPT-2 rows, ZPLAN_MATRIX_LLAMA names the
# LLaMA rows' preset (empty: none); ZPLAN_MATRIX_2D=0 leaves out the data-
# parallel rows, ZPLAN_MATRIX_3D=0 the 3D ones (ZPLAN_MATRIX_3D_PEAK and
# ZPLAN_MATRIX_3D_CLASS: their bounds, fractions, for the context-parallel
# rows too), ZPLAN_MATRIX_CP=0 the context-parallel ones (every
# factorisation of 4 and 8 ranks with cp > 1), ZPLAN_MATRIX_EVERY=0 the
# rows of full recompute of every k-th block.  Each recompute mode
# meets every layout at the first shape; the second shape takes one mode per
# layout in turn (ZPLAN_MATRIX_ALL_CKPT=1: all three there too, the full
# product of 432 data-parallel rows, about 4 minutes more).  Writes nothing but a temporary database.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
ZPLAN=${ZPLAN:-$here/zplan}
tap=0
case ${1:-} in
--tap) tap=1 ;;
"") ;;
-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
*) echo "exec-matrix.sh: unknown argument '$1' (allowed: --tap, --help)" >&2; exit 2 ;;
esac
db=$(mktemp "${TMPDIR:-/tmp}/zplan-matrix.XXXXXX")
trap 'rm -f "$db" "$db-wal" "$db-shm" "$db.json"' EXIT
trap 'exit 1' HUP INT TERM   # dash runs the EXIT trap on exit, not on a signal
shapes=${ZPLAN_MATRIX_SHAPES:-"layers=2,hidden=64,heads=4,vocab=256,seq=64 layers=4,hidden=128,heads=8,vocab=512,seq=128"}
ranks=${ZPLAN_MATRIX_RANKS:-"1 2 4 8"}
dtypes=${ZPLAN_MATRIX_DTYPES:-"fp32 bf16:2,8 fp16:4 bf16/fp32:2"}
llama=${ZPLAN_MATRIX_LLAMA-llama3-8b}

# the errors of one execution record: one line of fields
#   params grads optimizer activations buffers peak host comm verdict
errors='
    def e(a; b): if b == 0 then (if a == 0 then 0 else 1e9 end) else (a - b) / b end;
    def pct(x): if x >= 1e9 then "inf" else ((x * 1000 | round) / 10 | tostring) + "%" end;
    .per_rank[0] as $r | .comm_bytes_per_step as $c |
    ([ "params", "grads", "optimizer", "activations", "buffers" ] | map(e($r.predicted_bytes[.]; $r.measured_bytes[.]))) as $cl |
    e($r.predicted_bytes.peak; $r.measured_bytes.peak) as $pk |
    e($r.host_predicted_bytes; $r.host_measured_bytes) as $h |
    ($c.predicted == $c.measured and ($c.by_kind | type) == "object" and all(($c.by_kind // {})[]; .predicted == .measured)) as $cx |
    (($pk | fabs) <= 0.01 and all($cl[]; fabs <= 0.01) and ($h | fabs) <= 0.01 and $cx
     and all(.per_rank[]; .measured_bytes.peak == $r.measured_bytes.peak)
     and .dtype == $pdt and .grad_dtype == $gdt) as $good |
    ($cl + [$pk, $h] | map(pct(.)) | join(" ")) + " " +
    (if $cx then "exact" else "\($c.predicted)/\($c.measured)" end) + " " +
    (if $good then "ok" else "FAIL" end)'

n=0 bad=0
if [ $tap -eq 0 ]; then
    printf '# zplan exec matrix: device bytes of rank 0, error = (predicted - measured) / measured\n'
    printf '# %-46s %-9s %5s %4s %-16s %-9s %7s %7s %7s %7s %7s %7s %7s %6s %s\n' shape dtype ranks zero offload \
        ckpt params grads optim activ buffers peak host comm bounds
fi
# matrix MODEL SHAPES DTYPES FLASH: the rows of one model preset; from its
# FLASH-th shape on (0: none) planned and run with flash attention
matrix() {
model=$1 shapes=$2 dtypes=$3 flash=$4
si=0
for shape in $shapes; do
  si=$((si + 1))
  attn=--no-flash-attn fan=
  [ "$flash" -gt 0 ] && [ "$si" -ge "$flash" ] && attn=--flash-attn fan=' flash'
  for dts in $dtypes; do
    dt=${dts%%:*}
    nps=$ranks
    case $dts in *:*) nps=$(echo "${dts#*:}" | tr , ' ') ;; esac
    pdt=${dt%%/*}
    gdt=${dt#*/}
    for np in $nps; do
        for z in 0 1 2 3; do
            for off in none optimizer optimizer+params; do
                [ "$off" != none ] && [ "$z" -lt 1 ] && continue
                [ "$off" = optimizer+params ] && [ "$z" -lt 3 ] && continue
                ri=0
                for k in none selective full; do
                    # after the first shape, one recompute mode per layout, in turn
                    # (every mode still meets every layout at the first)
                    ri=$((ri + 1))
                    [ "$si" -gt 1 ] && [ "${ZPLAN_MATRIX_ALL_CKPT:-0}" != 1 ] &&
                        [ $(( (np + z + ${#off}) % 3 + 1 )) -ne "$ri" ] && continue
                    n=$((n + 1))
                    what="$model $shape$fan $dt $np ranks ZeRO-$z offload $off ckpt $k"
                    "$ZPLAN" --model "$model" --gpus "$np" --dp "$np" --tp 1 --pp 1 --zero "$z" --offload "$off" \
                        --ckpt "$k" --micro-batch 2 --global-batch $((np * 4)) --db "$db" "$attn" \
                        --dtype "$pdt" --grad-dtype "$gdt" --json >/dev/null
                    id=$(sqlite3 -batch "$db" 'SELECT max(id) FROM runs')
                    if ! "$ZPLAN" exec "$id" --db "$db" --steps 3 --scale "$shape,micro_batch=2,accum=2" --oversubscribe \
                        --device-mem 8GiB --json >"$db.json" 2>/dev/null; then
                        bad=$((bad + 1))
                        if [ $tap -eq 1 ]; then echo "not ok $n - $what: the execution failed"; else
                            printf '  %-46s %-9s %5s %4s %-16s %-9s failed\n' "${model%%-*} $shape" "$dt" "$np" "$z" "$off" "$k"; fi
                        continue
                    fi
                    # shellcheck disable=SC2046
                    set -- $(jq -r --arg pdt "$pdt" --arg gdt "$gdt" "$errors" "$db.json")
                    if [ $tap -eq 1 ]; then
                        if [ "$9" = ok ]; then echo "ok $n - $what: peak $6, classes $1 $2 $3 $4 $5, host $7, comm $8"
                        else
                            bad=$((bad + 1))
                            echo "not ok $n - $what: peak $6 (within 1%), classes $1 $2 $3 $4 $5 (1%), host $7, comm $8"
                        fi
                    else
                        [ "$9" = ok ] || bad=$((bad + 1))
                        printf '  %-46s %-9s %5s %4s %-16s %-9s %7s %7s %7s %7s %7s %7s %7s %6s %s\n' "${model%%-*} $shape" "$dt" \
                            "$np" "$z" "$off" "$k" "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9"
                    fi
                done
            done
        done
    done
  done
done
}
if [ "${ZPLAN_MATRIX_2D-1}" = 1 ]; then
# GPT-2 with stored attention probabilities at the first shape, flash
# attention (each row's log-sum-exp) at the second
matrix gpt2-small "$shapes" "$dtypes" 2
# the LLaMA family (Llama-3-8B scaled: SwiGLU, RMSNorm, rotary, 2 KV heads
# of 8, untied head, no biases), fp32 on 2 ranks and bf16 on 4, with flash
# attention
[ -n "$llama" ] && matrix "$llama" "layers=2,hidden=128,heads=8,vocab=256,seq=64" "fp32:2 bf16:4" 1
fi

# the 3D layouts: every factorisation of 4 and 8 ranks into dp x tp x pp
# with tp or pp above 1, GPT-2 blocks at one shape (GPT-2 medium's 16
# heads: the planner's tp divides the unscaled model's) and the LLaMA family's
# (16 heads, 8 KV heads: every tp up to 8 divides both) at another, fp32;
# ZeRO 0-3 taken in turn (0-1 with a pipeline, which the engine runs at
# ZeRO 0-1), the recompute modes likewise, sequence parallelism on half of
# the rows with tp.  Every rank against its own
# stage's prediction: the peak and every class, and the bytes sent per
# step exact per kind and per group (rank 0's).
errors3d='
    def e(a; b): if b == 0 then (if a == 0 then 0 else 1e9 end) else (a - b) / b end;
    def pct(x): if x >= 1e9 then "inf" else ((x * 1000 | round) / 10 | tostring) + "%" end;
    def worst(xs): xs | map(fabs) | max;
    [.per_rank[] | . as $r | [ "params", "grads", "optimizer", "activations", "buffers" ] |
        map(e($r.predicted_bytes[.]; $r.measured_bytes[.]))] as $cls |
    [.per_rank[] | e(.predicted_bytes.peak; .measured_bytes.peak)] as $pks |
    .comm_bytes_per_step as $c |
    ($c.predicted == $c.measured and all(($c.by_kind // {})[]; .predicted == .measured) and
     ($c.by_group | type) == "object" and all($c.by_group[]; .predicted == .measured)) as $cx |
    worst($pks) as $pk | worst([$cls[][]]) as $cl |
    ([.per_rank[] | .stage] | unique | length) as $stages |
    (.status == "ok" and $stages == .pp and $pk <= $pkb and $cl <= $clb and $cx) as $good |
    "\(pct($pk)) \(pct($cl)) \($stages) " + (if $cx then "exact" else "\($c.predicted)/\($c.measured)" end) + " " +
    (if $good then "ok" else "FAIL" end)'
# check3d WHAT SCALE: run the newest plan scaled, every rank against its
# stage's prediction; one TAP line (or table row), bad counted
check3d() {
    what=$1
    id=$(sqlite3 -batch "$db" 'SELECT max(id) FROM runs')
    if ! "$ZPLAN" exec "$id" --db "$db" --steps 3 --scale "$2" --oversubscribe --device-mem 8GiB --json \
        >"$db.json" 2>/dev/null; then
        bad=$((bad + 1))
        if [ $tap -eq 1 ]; then echo "not ok $n - $what: the execution failed"; else
            printf '  %-56s failed\n' "$what"; fi
        return
    fi
    # shellcheck disable=SC2046
    set -- $(jq -r --argjson pkb "$pk3" --argjson clb "$cl3" "$errors3d" "$db.json")
    if [ $tap -eq 1 ]; then
        if [ "$5" = ok ]; then echo "ok $n - $what: every rank's peak within $1, classes $2, $3 stages, comm $4"
        else
            bad=$((bad + 1))
            echo "not ok $n - $what: worst peak $1 (bound $pk3), worst class $2 (bound $cl3), $3 stages, comm $4"
        fi
    else
        [ "$5" = ok ] || bad=$((bad + 1))
        printf '  %-56s peak %6s class %6s stages %s comm %s %s\n' "$what" "$1" "$2" "$3" "$4" "$5"
    fi
}
# matrix3d MODEL SHAPE EXTRA ATTN LAYOUTS: one row per layout dp:tp:cp:pp,
# ZeRO and the recompute modes in turn, sequence parallelism on half of the
# rows with tp
matrix3d() {
model=$1 shape=$2 extra=$3 attn=$4 lays=$5 fan=
[ "$attn" = --flash-attn ] && fan=" flash"
i=0
for lay in $lays; do
    dp=${lay%%:*} rest=${lay#*:}
    tp=${rest%%:*} rest=${rest#*:}
    cp=${rest%:*} pp=${rest#*:}
    np=$((dp * tp * cp * pp))
    if [ "$pp" -gt 1 ]; then z=$((i % 2)); else z=$((i % 4)); fi
    k=$(echo "none selective full" | cut -d' ' -f$((i % 3 + 1)))
    sp=--no-sp
    spn= cpn=
    if [ "$tp" -gt 1 ] && [ $((i % 2)) -eq 0 ]; then sp=--sp spn=" sp"; fi   # sequence parallelism on half the tp rows
    [ "$cp" -gt 1 ] && cpn=" x cp $cp"
    i=$((i + 1)) n=$((n + 1))
    what="$model $shape tp $tp$spn$cpn x dp $dp x pp $pp ZeRO-$z ckpt $k$fan"
    # shellcheck disable=SC2086
    "$ZPLAN" --model "$model" --gpus "$np" --dp "$dp" --tp "$tp" --cp "$cp" --pp "$pp" --vp 1 "$sp" --zero "$z" \
        --offload none --ckpt "$k" --micro-batch 2 --global-batch $((dp * 8)) --db "$db" "$attn" \
        --dtype fp32 --json >/dev/null
    check3d "$what" "$shape,micro_batch=2,accum=4$extra"
done
}
pk3=${ZPLAN_MATRIX_3D_PEAK:-0.01} cl3=${ZPLAN_MATRIX_3D_CLASS:-0.01}
if [ "${ZPLAN_MATRIX_3D-1}" = 1 ]; then
    [ $tap -eq 0 ] && printf '# 3D layouts: the worst rank (each against its stage), error = (predicted - measured) / measured\n'
    lay3d="1:4:1:1 2:2:1:1 1:2:1:2 1:1:1:4 2:1:1:2 1:8:1:1 2:4:1:1 4:2:1:1 1:4:1:2 2:2:1:2 1:2:1:4 4:1:1:2 2:1:1:4 1:1:1:8"
    matrix3d gpt2-medium "layers=8,hidden=64,heads=8,vocab=256,seq=64" "" --no-flash-attn "$lay3d"
    matrix3d llama3-8b "layers=8,hidden=128,heads=16,kv_heads=8,vocab=256,seq=64" "" --flash-attn "$lay3d"
fi

# context parallelism: every factorisation of 4 and 8 ranks into dp x tp x
# cp x pp with cp above 1 (flash attention, which cp needs), as the 3D rows
if [ "${ZPLAN_MATRIX_CP-1}" = 1 ]; then
    [ $tap -eq 0 ] && printf '# context-parallel layouts: the worst rank (each against its stage), error as above\n'
    laycp="2:1:2:1 1:1:4:1 1:2:2:1 1:1:2:2 4:1:2:1 2:1:4:1 1:1:8:1 2:2:2:1 1:2:4:1 1:4:2:1 2:1:2:2 1:2:2:2 1:1:4:2 1:1:2:4"
    matrix3d gpt2-medium "layers=8,hidden=64,heads=8,vocab=256,seq=64" "" --flash-attn "$laycp"
    matrix3d llama3-8b "layers=8,hidden=128,heads=16,kv_heads=8,vocab=256,seq=64" "" --flash-attn "$laycp"
fi

# full recompute of every k-th block of a stage (--ckpt-every): 8 layers,
# k = 2 and 3, alone, with dp (ZeRO-1), tp (sp), pp and tp x pp; and of
# its first N blocks (--ckpt-layers, Megatron's block method); every rank
# against its stage's prediction, as the 3D rows
every() {
model=$1 shape=$2
for row in 2:2:1:1:1 3:1:2:1:0 3:1:1:2:0 2:1:2:2:0 3:2:1:2:1 b3:2:1:1:1 b1:1:2:2:0; do
    k=${row%%:*} rest=${row#*:}
    how="--ckpt-every $k" which="every $k$( [ "$k" = 2 ] && echo nd || echo rd) block"
    case $k in b*) how="--ckpt-layers ${k#b}" which="the first ${k#b} blocks" ;; esac
    dp=${rest%%:*} rest=${rest#*:}
    tp=${rest%%:*} rest=${rest#*:}
    pp=${rest%%:*} z=${rest#*:}
    np=$((dp * tp * pp)) n=$((n + 1))
    what="$model $shape $which, tp $tp x dp $dp x pp $pp ZeRO-$z"
    "$ZPLAN" --model "$model" --gpus "$np" --dp "$dp" --tp "$tp" --pp "$pp" --vp 1 --zero "$z" --offload none \
        --ckpt full $how --micro-batch 2 --global-batch $((dp * 8)) --db "$db" --no-flash-attn \
        --dtype fp32 --json >/dev/null
    check3d "$what" "$shape,micro_batch=2,accum=4"
done
}
if [ "${ZPLAN_MATRIX_EVERY-1}" = 1 ]; then
    [ $tap -eq 0 ] && printf '# full recompute of every k-th block: the worst rank, error as above\n'
    every gpt2-medium "layers=8,hidden=64,heads=8,vocab=256,seq=64"
fi

if [ $tap -eq 1 ]; then
    echo "1..$n"
else
    printf '# %d executions, %d outside the bounds (peak, classes and host 1%%, comm exact)\n' "$n" "$bad"
fi
[ $bad -eq 0 ]
