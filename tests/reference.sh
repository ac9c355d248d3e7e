#!/bin/sh
# reference.sh - the engine against a reference written apart from it.
#
# tests/engine.sh compares every layout with the same binary at 1 rank, so
# a bug in the step they share is invisible there.  Here zplan-engine at 1
# rank dumps what it trains on (dump=DIR: initial parameters, batches,
# hyper-parameters; engine.c) and tests/reference.py, the same GPT step
# written separately in NumPy (forward and backward by hand), trains on it;
# the two 20-step fp32 loss curves agree within 1e-4 relative per step:
#   AdamW with weight decay and clipping active (clip 1: every step clipped)
#   SGD with weight decay (clip 1: some steps clipped, some not)
#   fp16 storage with dynamic loss scaling (skipped steps, halved and
#   doubled scales)
#   the LLaMA family's blocks (RMSNorm, SwiGLU, rotary, grouped-query
#   attention, untied head, no biases), and each of those alone
#   flash-style attention (flash=1) against the same references
# Then the mutations: the reference broken on purpose in one way at a time
# must differ from the engine by more than 1e-4, so each bug named in the
# test's title could not hide from this comparison; two of them (no
# clipping, no weight decay) are also made in the engine through its
# arguments.
#
# Needs zplan-engine, mpirun and python3 with NumPy (Debian: python3-numpy);
# without one of them the script is skipped, except under CI=true, where a
# missing dependency is a failure (the CI machine has them all).
if [ "${CI:-}" = true ] && ! command -v jq >/dev/null 2>&1; then
    echo "Bail out! jq is missing (CI=true: the CI machine must have it)"
    exit 1
fi
. "$(dirname "$0")/lib.sh"

: "${ZPLAN_ENGINE:=$(dirname "$ZPLAN")/zplan-engine}"
[ -x "$ZPLAN_ENGINE" ] || missing "zplan-engine is not built (configure found no MPI or OpenBLAS)"
command -v mpirun >/dev/null 2>&1 || missing "mpirun is not installed (Debian: openmpi-bin)"
py=$(python_with numpy) || missing "no python3 with NumPy (Debian: python3-numpy)"
REF=$ZPLAN_SRCDIR/tests/reference.py
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

# a small model with gradient accumulation: 2 micro-batches of 2 sequences
MODEL="layers=2 hidden=32 heads=4 vocab=64 seq=16 micro_batch=2 accum=2 steps=20 seed=7"
TOL=1e-4

# eng NAME [key=value...]: the engine at 1 rank; its JSON in $tmp/NAME.json
eng() {
    _n=$1
    shift
    # shellcheck disable=SC2086
    run timeout 300 mpirun -np 1 "$ZPLAN_ENGINE" $MODEL "$@"
    cp "$outf" "$tmp/$_n.json"
}

# ref NAME OUT [--mutate M]: the reference on the dump $tmp/NAME.d, its JSON in $tmp/OUT.json
ref() {
    _d=$1 _o=$2
    shift 2
    run "$py" "$REF" "$tmp/$_d.d" "$@"
    cp "$outf" "$tmp/$_o.json"
    [ "$rc" -eq 0 ] || diag "reference.py: $(head -c 1000 "$errf")"
}

# maxrel A B: the largest relative difference per step between the loss
# curves of two JSON files (a missing or non-finite loss counts as 1e300)
maxrel() {
    jq -n --slurpfile a "$tmp/$1.json" --slurpfile b "$tmp/$2.json" \
        '[$a[0].losses, $b[0].losses] | if (.[0] | length) != (.[1] | length) or (.[0] | length) == 0 then 1e300
         else transpose | map(if .[0] == null or .[1] == null then 1e300 else (.[0] - .[1]) / .[1] | fabs end) | max
         end' 2>/dev/null || echo 1e300
}

# within A B MSG: the curves agree within $TOL per step
within() {
    _e=$(maxrel "$1" "$2")
    ok "$(awk -v e="$_e" -v t="$TOL" 'BEGIN { exit !(e <= t) }'; echo $?)" "$3 (max relative difference $_e)"
}

# caught A B MSG: both runs gave their 20 losses (a run that failed, or
# wrote nothing, catches nothing) and the curves differ by more than $TOL at
# some step (a null loss, an overflow, is a difference)
caught() {
    _n=$(jq -n --slurpfile a "$tmp/$1.json" --slurpfile b "$tmp/$2.json" \
        '[$a[0].losses, $b[0].losses] | map(length) | min' 2>/dev/null || echo 0)
    _e=$(maxrel "$1" "$2")
    ok "$([ "${_n:-0}" = 20 ] && awk -v e="$_e" -v t="$TOL" 'BEGIN { exit !(e > t) }'; echo $?)" \
        "$3 (max relative difference $_e)" || diag "losses: $_n of 20 in the shorter of $1 and $2"
}

# ---- AdamW with decoupled weight decay, clipping at norm 1
eng adamw weight_decay=0.1 clip=1 dump="$tmp/adamw.d"
ok "$rc" "AdamW run with dump=DIR: trains" || diag "$err"
jok "$tmp/adamw.json" '.status == "ok" and (.losses | length) == 20' "AdamW: 20 steps, status ok"
jok "$tmp/adamw.d/config.json" '.optimizer == "adamw" and .beta1 == 0.899999976 and .beta2 == 0.949999988 and
    .eps == 9.99999994e-09 and .weight_decay == 0.100000001 and .clip == 1 and .warmup_steps == 5 and
    .lr == 0.00999999978 and .accum == 2 and .micro_batch == 2 and .ranks == 1 and .params_from == "device"' \
    "the dump's hyper-parameters (the reference's) are the documented ones: AdamW 0.9/0.95/1e-8, weight decay 0.1, clip 1, warm-up 5, lr 1e-2"
ok "$([ "$(wc -c <"$tmp/adamw.d/params.f32")" -eq $((4 * $(jq .params "$tmp/adamw.json"))) ] &&
    [ "$(wc -c <"$tmp/adamw.d/batches.i32")" -eq $((4 * 20 * 2 * 2 * 2 * 16)) ]; echo $?)" \
    "the dump's sizes: 4 bytes per parameter; 20 steps x 2 micro-batches x (tokens + targets) x 2 x 16 int32"
eng adamw-nodump weight_decay=0.1 clip=1
jok "$tmp/adamw-nodump.json" '.losses == $d[0].losses' "without dump=DIR the losses are the same, bit for bit" \
    --slurpfile d "$tmp/adamw.json"
ref adamw adamw-ref
jok "$tmp/adamw-ref.json" '.init_matches and .data_matches' \
    "the dumped parameters are the documented initialisation and the batches the seeded chain's sequences"
jok "$tmp/adamw-ref.json" '.clipped == 20 and (.grad_norms | min) > 1' \
    "AdamW: clipping triggers (the gradient norm exceeds 1 at every step)"
within adamw adamw-ref "AdamW + weight decay + clipping: the engine's 20 losses match the NumPy reference within 1e-4"
diag "per step relative differences: $(jq -n -c --slurpfile a "$tmp/adamw.json" --slurpfile b "$tmp/adamw-ref.json" \
    '[$a[0].losses, $b[0].losses] | transpose | map((.[0] - .[1]) / .[1] | fabs | . * 1e10 | round / 1e10)')"

ref adamw m-beta2 --mutate beta2
caught adamw m-beta2 "mutation: AdamW beta2 0.95 -> 0.5 is caught"
ref adamw m-noclip --mutate no-clip
caught adamw m-noclip "mutation: no gradient clipping is caught"
ref adamw m-nowd --mutate no-weight-decay
caught adamw m-nowd "mutation: weight decay not applied (AdamW, decoupled) is caught"
ref adamw m-nowarm --mutate no-warmup
caught adamw m-nowarm "mutation: warm-up removed is caught"
# the engine itself mutated through its arguments, against the reference
# of the correct run
eng adamw-clip0 weight_decay=0.1 clip=0
caught adamw-clip0 adamw-ref "mutation in the engine: clipping disabled (clip=0) is caught by the reference"
eng adamw-wd0 weight_decay=0 clip=1
caught adamw-wd0 adamw-ref "mutation in the engine: weight decay not applied (weight_decay=0) is caught by the reference"

# ---- SGD with momentum and weight decay: the update scales with the
# gradient, so an unaveraged accumulation shows (AdamW's update does not
# see a constant factor on the gradient, and clipping hides it on a
# clipped step)
eng sgd sgd=1 weight_decay=0.1 clip=1 dump="$tmp/sgd.d"
ok "$rc" "SGD run with dump=DIR: trains" || diag "$err"
jok "$tmp/sgd.d/config.json" '.optimizer == "sgd" and .momentum == 0.899999976 and .lr == 0.049999997 and
    .weight_decay == 0.100000001 and .clip == 1 and .warmup_steps == 5' \
    "the SGD dump's hyper-parameters are the documented ones: momentum 0.9, lr 5 x 1e-2 (in float32), weight decay 0.1, clip 1, warm-up 5"
ref sgd sgd-ref
jok "$tmp/sgd-ref.json" '.init_matches and .data_matches and .clipped > 0 and .clipped < 20' \
    "SGD: some steps clipped, some not"
within sgd sgd-ref "SGD + weight decay + clipping: the engine's 20 losses match the NumPy reference within 1e-4"
ref sgd m-noavg --mutate no-accum-mean
caught sgd m-noavg "mutation: accumulation not averaged (gradient summed over the micro-batches) is caught"
ref sgd m-sgd-nowd --mutate no-weight-decay
caught sgd m-sgd-nowd "mutation: weight decay not applied (SGD) is caught"
ref sgd m-sgd-nowarm --mutate no-warmup
caught sgd m-sgd-nowarm "mutation: warm-up removed (SGD) is caught"

# ---- fp16 parameters and gradients with dynamic loss scaling from 2^24:
# overflowing steps skipped (the scale halved), 4 good steps double it
eng fp16 dtype=2 loss_scale=16777216 scale_window=4 weight_decay=0.1 clip=1 dump="$tmp/fp16.d"
ok "$rc" "fp16 loss-scaled run with dump=DIR: trains" || diag "$err"
jok "$tmp/fp16.d/config.json" '.dtype == "fp16" and .grad_dtype == "fp16" and .loss_scale == 16777216 and
    .scale_window == 4 and .params_from == "device"' "the fp16 dump: fp16 storage, loss scale 2^24, window 4"
ref fp16 fp16-ref
jok "$tmp/fp16-ref.json" '.skipped > 0 and .skipped == $e[0].skipped_steps and .loss_scale == $e[0].loss_scale and
    .loss_scale > 1 and .loss_scale < 16777216' \
    "fp16: the reference skips the engine's number of steps and ends at its loss scale" --slurpfile e "$tmp/fp16.json"
within fp16 fp16-ref "fp16 + loss scaling: the engine's 20 losses match the NumPy reference within 1e-4"
ref fp16 m-unscale --mutate no-unscale
caught fp16 m-unscale "mutation: the loss scale not divided out of the gradients is caught"
ref fp16 m-noskip --mutate no-skip
caught fp16 m-noskip "mutation: an overflowing step applied instead of skipped is caught"

# ---- the LLaMA family's blocks: RMSNorm, SwiGLU of width 48, rotary
# positions, 2 KV heads for 4 query heads, an untied head, no biases
# (AdamW as above); and a rotary-sign or KV-head-mapping bug in the
# reference is caught
LLAMA="kv_heads=2 ffn=48 norm=rmsnorm mlp=swiglu pos=rotary tied=0 bias=0"
# shellcheck disable=SC2086
eng llama weight_decay=0.1 clip=1 $LLAMA dump="$tmp/llama.d"
ok "$rc" "LLaMA-family run with dump=DIR: trains" || diag "$err"
jok "$tmp/llama.d/config.json" '.kv_heads == 2 and .ffn == 48 and .norm == "rmsnorm" and .mlp == "swiglu" and
    .pos == "rotary" and .rope_theta == 10000 and .tied == false and .bias == false' \
    "the LLaMA dump records the architecture: 2 KV heads, SwiGLU 48, RMSNorm, rotary (base 10000), untied, no biases"
ref llama llama-ref
jok "$tmp/llama-ref.json" '.init_matches and .data_matches' "LLaMA: the dumped parameters are the documented initialisation"
within llama llama-ref "LLaMA blocks + AdamW: the engine's 20 losses match the NumPy reference within 1e-4"
ref llama m-rope --mutate rope-sign
caught llama m-rope "mutation: rotary positions turned the other way is caught"
ref llama m-gqa --mutate gqa-share
caught llama m-gqa "mutation: query head h reading KV head h mod 2 instead of h / 2 is caught"
# ---- Qwen3's Q and K head norms (qk_norm=1) on the LLaMA blocks: an
# RMSNorm of the head size on each Q and K head before the rotation, with
# flash attention and with the stored probabilities; and norms over all
# of a token's heads at once instead of head by head are caught
# shellcheck disable=SC2086
eng qkn weight_decay=0.1 clip=1 $LLAMA qk_norm=1 dump="$tmp/qkn.d"
ok "$rc" "LLaMA blocks with Q/K head norms, dump=DIR: trains" || diag "$err"
jok "$tmp/qkn.d/config.json" '.qk_norm == true and .norm == "rmsnorm"' "the dump records the Q/K head norms"
ref qkn qkn-ref
jok "$tmp/qkn-ref.json" '.init_matches and .data_matches' \
    "Q/K head norms: the dumped parameters are the documented initialisation (the head norms' weights 1)"
within qkn qkn-ref "LLaMA blocks + Q/K head norms: the engine's 20 losses match the NumPy reference within 1e-4"
ref qkn m-qkw --mutate qk-whole
caught qkn m-qkw "mutation: Q and K normalised over all their heads at once instead of head by head is caught"
# shellcheck disable=SC2086
eng qkn-fa weight_decay=0.1 clip=1 $LLAMA qk_norm=1 flash=1 ckpt=2 dump="$tmp/qkn-fa.d"
ref qkn-fa qkn-fa-ref
within qkn-fa qkn-fa-ref "Q/K head norms with flash attention and full recompute: the engine's 20 losses match the NumPy reference within 1e-4"
run timeout 60 mpirun -np 1 "$ZPLAN_ENGINE" $MODEL qk_norm=1
ok "$([ "$rc" -eq 2 ] && grep -q 'RMSNorm blocks' "$errf"; echo $?)" "qk_norm=1 on LayerNorm blocks is refused (exit 2), naming RMSNorm" ||
    diag "rc $rc: $(head -c 300 "$errf")"

# ---- Qwen2's bias on the QKV product alone (qkv_bias=1 with bias=0), on
# the LLaMA blocks, against the reference
# shellcheck disable=SC2086
eng qkvb weight_decay=0.1 clip=1 $LLAMA qkv_bias=1 dump="$tmp/qkvb.d"
ok "$rc" "LLaMA blocks with a QKV bias alone, dump=DIR: trains" || diag "$err"
jok "$tmp/qkvb.d/config.json" '.qkv_bias == true and .bias == false' "the dump records the QKV bias alone"
ref qkvb qkvb-ref
jok "$tmp/qkvb-ref.json" '.init_matches and .data_matches' "QKV bias alone: the dumped parameters are the documented initialisation"
within qkvb qkvb-ref "LLaMA blocks + a QKV bias alone (Qwen2): the engine's 20 losses match the NumPy reference within 1e-4"

# one feature at a time on GPT-2: each against the reference
for f in "norm=rmsnorm" "mlp=swiglu ffn=40" "pos=rotary" "kv_heads=1" "tied=0" "bias=0"; do
    n=$(echo "$f" | tr -c 'a-z0-9\n' _)
    # shellcheck disable=SC2086
    eng "f$n" weight_decay=0.1 clip=1 $f dump="$tmp/f$n.d"
    ref "f$n" "f$n-ref"
    within "f$n" "f$n-ref" "GPT-2 with only $f: the engine's 20 losses match the NumPy reference within 1e-4"
done

# ---- flash-style attention (flash=1): the probabilities never stored, each
# row's log-sum-exp kept and the backward rebuilding them tile by tile; the
# reference computes the attention as before (stored probabilities), so
# the same 20 losses within 1e-4: GPT-2 with AdamW, the LLaMA family's
# blocks with selective recompute, fp16 with loss scaling and full
# recompute, and a 150-token sequence that spans three of the CPU's
# 64-row tiles, the last one partial
eng fa-adamw weight_decay=0.1 clip=1 flash=1
within fa-adamw adamw-ref "flash attention, GPT-2 + AdamW: the engine's 20 losses match the NumPy reference within 1e-4"
jok "$tmp/fa-adamw.json" '.flash_attention == true' "flash=1: the engine's JSON says flash attention"
# shellcheck disable=SC2086
eng fa-llama weight_decay=0.1 clip=1 $LLAMA flash=1 ckpt=1
within fa-llama llama-ref "flash attention, LLaMA blocks + selective recompute: the 20 losses match the reference within 1e-4"
eng fa-fp16 dtype=2 loss_scale=16777216 scale_window=4 weight_decay=0.1 clip=1 flash=1 ckpt=2
within fa-fp16 fp16-ref "flash attention, fp16 + loss scaling + full recompute: the 20 losses match the reference within 1e-4"
# shellcheck disable=SC2086
eng fa-long weight_decay=0.1 clip=1 $LLAMA seq=150 flash=1 dump="$tmp/fa-long.d"
ref fa-long fa-long-ref
within fa-long fa-long-ref "flash attention over 150 tokens (three tiles, GQA, rotary): the 20 losses match the reference within 1e-4"
# its time, as the GEMMs' is: the products' FLOPs a step over the causal
# pairs, 2 layers x 2 micro-batches x (2 forward + 5 backward products) x
# 2 hs (8) FLOPs x B NH T (T + 1) / 2 pairs (2 x 4 x 150 x 151 / 2), and
# seconds within the step
jok "$tmp/fa-long.json" '.flash.flops_per_step == 2 * 2 * 7 * 2 * 8 * (2 * 4 * 150 * 151 / 2) and
    .flash.seconds_per_step > 0 and .flash.seconds_per_step < .steady_step_s' \
    "flash attention's time a step: its products' FLOPs over the causal pairs, its seconds within the step"
jok "$tmp/llama.json" 'has("flash") | not' "no flash attention, no flash timing in the JSON"

# ---- tensor-core math (gemm=bf16|fp16): every operand of a linear layer's
# product and of the attention's rounded to 16 bits, the products summed
# in fp32 (the reference rounds the same operands by its own round16;
# flash attention rounds each key tile's unnormalised probabilities at
# the running maximum, which the reference's flash_out does over the same
# tiles of 64 keys, for head sizes a multiple of 16: its cases have 2 heads
# of 16; 150 tokens span two of the CPU's 128-row attention blocks and
# three flash tiles).  The first loss is the
# forward alone: the engine's within 1e-6 of the reference's, and the fp32
# engine's at least 5 times farther off it (the rounding is there and is
# the reference's: the fp32 engine is hundreds of times farther).
# The curves are compared under SGD: Adam's first update is the sign of
# each gradient, so a last-bit difference between two summation orders
# (NumPy's and OpenBLAS's) that flips one 16-bit rounding flips that
# weight's whole step, and the curves drift by about 1e-3 for no fault
# first0 A B: the first losses' relative difference
first0() {
    jq -n --slurpfile a "$tmp/$1.json" --slurpfile b "$tmp/$2.json" \
        '($a[0].losses[0] - $b[0].losses[0]) / $b[0].losses[0] | fabs' 2>/dev/null || echo 1e300
}
SGD="sgd=1 weight_decay=0.01"
# shellcheck disable=SC2086
for tc in "bf16|$SGD gemm=bf16" "fp16|$SGD gemm=fp16" "llama-bf16|$SGD $LLAMA gemm=bf16" \
    "bf16-fp16|dtype=2 loss_scale=16777216 scale_window=4 $SGD gemm=bf16" "bf16-flash|$SGD heads=2 gemm=bf16 flash=1" \
    "llama-bf16-150|$SGD $LLAMA seq=150 gemm=bf16" "llama-bf16-flash-150|$SGD $LLAMA heads=2 kv_heads=1 seq=150 gemm=bf16 flash=1"; do
    n=${tc%%|*} args=${tc#*|}
    eng "tc-$n" $args dump="$tmp/tc-$n.d"
    ref "tc-$n" "tc-$n-ref"
    # shellcheck disable=SC2046 # (split on purpose: the same keys, gemm= left out)
    eng "tc-$n-32" $(echo "$args" | sed 's/gemm=[a-z0-9]*//')
    e=$(first0 "tc-$n" "tc-$n-ref") e32=$(first0 "tc-$n-32" "tc-$n-ref")
    ok "$(awk -v e="$e" -v f="$e32" 'BEGIN { exit !(e <= 1e-6 && f > 5 * e) }'; echo $?)" \
        "gemm ${args##*gemm=}, $n: the first loss (the forward) is the reference's within 1e-6 ($e), the fp32 engine's at least 5 times farther ($e32)"
    within "tc-$n" "tc-$n-ref" "gemm ${args##*gemm=}, $n, SGD: the engine's 20 losses match the rounding reference within 1e-4"
done
jok "$tmp/tc-bf16.json" '.gemm_math == "bf16"' "gemm=bf16: the engine's JSON says its products' math"
jok "$tmp/tc-fp16.d/config.json" '.gemm_math == "fp16"' "gemm=fp16: the dump tells the reference its products' math"
jok "$tmp/adamw.json" '.gemm_math == "fp32"' "without gemm= the products are exact fp32"
eng bad gemm=tf32
ok "$([ "$rc" -eq 2 ] && grep -q 'gemm=tf32 is not fp32, bf16 or fp16' "$errf"; echo $?)" \
    "gemm=tf32 is refused (exit 2) naming what is allowed"

# ---- the new arguments
eng bad weight_decay=x
ok "$([ "$rc" -eq 2 ] && grep -q 'weight_decay=x' "$errf"; echo $?)" "weight_decay=x is refused (exit 2) naming it"
eng bad clip=-1
ok "$([ "$rc" -eq 2 ] && grep -q 'clip=-1' "$errf"; echo $?)" "clip=-1 is refused (exit 2) naming it"
: >"$tmp/afile"
eng bad steps=1 dump="$tmp/afile/d"
ok "$([ "$rc" -ne 0 ] && jtrue "$outf" '.status == "failed" and (.error | test("^dump: "))'; echo $?)" \
    "a dump directory that cannot be made: status failed, the error says dump"

finish
