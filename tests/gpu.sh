#!/bin/sh
# gpu.sh - the CUDA backend on a real GPU (scripts/gpu-check runs it there;
# elsewhere every test is a TAP SKIP that says why):
#   oracle   the GPU's losses (fp32, TF32 off) are the CPU engine's for the
#            same seed within 1e-4 relative per step over 20 steps: one rank
#            for offload none / optimizer / optimizer+params and recompute
#            none / selective / full, and 2 and 4 ranks sharing the GPU
#            (host-staged collectives) for ZeRO 0-3; tensor and pipeline
#            parallelism on 4 ranks sharing it (every factorisation, sp and
#            the interleaved schedule once each), and their per-rank memory
#            through zplan exec --backend cuda; the LLaMA family's
#            blocks likewise (1 rank per recompute mode, with the
#            probabilities stored and with flash attention, also over 300
#            tokens; 2 ranks at ZeRO 0-3); bf16 storage within 1e-2 of the
#            fp32 run on the GPU
#   memory   zplan exec --backend cuda at two shapes, one of over 1 B
#            parameters: each tensor class predicted within 1 % of the
#            allocator's measure, and the predicted device total (tensors +
#            context + cuBLAS + NCCL + the allocator's rounding) within 3 %
#            of the device's used bytes (cudaMemGetInfo) at the peak
#   calib    zplan calibrate --backend cuda: a GPU profile whose fitted
#            matmul curve is within 15 % of every bf16 GEMM it measured
#   sanitizer  compute-sanitizer --tool memcheck reports nothing on a small
#            run
# ZPLAN_GPU_BIG and ZPLAN_GPU_SMALL override the two memory shapes (zplan
# exec --scale); ZPLAN_GPU_QUICK=1 keeps the memory check to the 1-rank
# layouts; ZPLAN_GPU_PARTS (comma-separated: oracle, llama, tp, mem3d,
# bf16, mem, calib, sanitizer; default all) runs some parts only.
. "$(dirname "$0")/lib.sh"

need_engine
# an engine that does not start at all (a library not found) says why
# instead of passing for one built without CUDA
if ! probe=$("$ZPLAN_ENGINE" devices 2>"$tmp/probe.err") ||
    [ "$(printf '%s' "$probe" | jq 'has("cuda_built")' 2>/dev/null)" != true ]; then
    echo "Bail out! zplan-engine devices failed: $(head -n 3 "$tmp/probe.err" | tr '\n' ' ')"
    exit 1
fi
if [ "$(printf '%s' "$probe" | jq -r '.cuda_built // 0')" != 1 ]; then
    echo "1..0 # SKIP zplan-engine was built without the CUDA backend (configure found no nvcc, cuBLAS or NCCL)"
    exit 0
fi
if [ "$(printf '%s' "$probe" | jq -r '.gpus // 0')" -lt 1 ]; then
    echo "1..0 # SKIP no GPU is visible: $(printf '%s' "$probe" | jq -r '.why // "none"')"
    exit 0
fi
diag "GPUs: $(printf '%s' "$probe" | jq -c '.names')"

MODEL="layers=2 hidden=64 heads=4 vocab=128 seq=32 steps=20 seed=7"

# part NAME: whether ZPLAN_GPU_PARTS (comma-separated; default all) asks for it
part() {
    case ",${ZPLAN_GPU_PARTS:-oracle,llama,tp,mem3d,bf16,mem,calib,sanitizer}," in *",$1,"*) return 0 ;; esac
    return 1
}

# eng NP MB ACCUM ZERO CKPT [key=value...]: run the engine, the JSON in $outf
# (timeout --foreground: mpirun stays in the group that gpu-check's own
# timeout stops, so a phase cut short ends at once)
eng() {
    np=$1 mb=$2 acc=$3 z=$4 k=$5
    shift 5
    # shellcheck disable=SC2086
    run timeout --foreground 300 mpirun -np "$np" "$ZPLAN_ENGINE" $MODEL micro_batch="$mb" accum="$acc" zero="$z" ckpt="$k" "$@"
}

# within FILE REF TOL MSG: the loss curves agree within TOL relative per step
within() {
    jok "$1" "[.losses, \$ref[0].losses] | (.[0] | length) == 20 and (transpose |
        map((.[0] - .[1]) / .[1] | fabs) | max) <= $3" "$4" --slurpfile ref "$2" ||
        diag "$(jq -c '.losses[0:4]' "$1") vs $(jq -c '.losses[0:4]' "$2"); $(jq -r '.error // ""' "$1")"
}

# plan_id ARGS: plan 1.3e9 parameters on H200s (fp32, no flash attention,
# micro-batch 2) with ARGS, the run's id in $id; else a failed test ($what)
plan_id() {
    "$ZPLAN" --params 1.3e9 --gpu h200 --micro-batch 2 --dtype fp32 --no-flash-attn --db "$tmp/mem.db" --json "$@" \
        >"$tmp/plan.json" 2>"$tmp/plan.err" || true
    id=$(jq -r '.run_id // empty' "$tmp/plan.json" 2>/dev/null)
    [ -n "$id" ] && return 0
    ok 1 "$what: planned"
    diag "$(cat "$tmp/plan.err")"
    return 1
}

if part oracle; then
# ---- oracle, one rank: each offload and recompute mode
offnames="none optimizer optimizer+params"
for off in 0 1 2; do
    z=$((off == 0 ? 0 : off == 1 ? 1 : 3))
    for k in 0 1 2; do
        what="1 rank, ZeRO-$z, offload $(echo "$offnames" | cut -d' ' -f$((off + 1))), recompute $k"
        eng 1 2 4 "$z" "$k" offload="$off"
        cp "$outf" "$tmp/cpu.json"
        eng 1 2 4 "$z" "$k" offload="$off" backend=cuda
        ok $rc "$what: runs on the GPU" || { diag "$err"; continue; }
        jok "$outf" '.backend == "cuda" and .status == "ok"' "$what: the record says cuda"
        within "$outf" "$tmp/cpu.json" 1e-4 "$what: the CPU engine's losses within 1e-4 per step"
        [ "$off$k" = 00 ] && cp "$outf" "$tmp/gpu-fp32.json"
    done
done

# ---- NCCL on a lone GPU (group=nccl): one rank's communicator, so that
# group_nccl.c's init, collectives and finalize run on a machine with one
# GPU, where ranks sharing it take the host-staged group; ZeRO-3 for its
# reduce-scatters and all-gathers (NCCL_SOCKET_IFNAME=lo: the machine has
# no network, and NCCL's bootstrap passes over lo when other interfaces
# are up)
for z in 0 3; do
    what="1 rank, NCCL's group (group=nccl), ZeRO-$z"
    eng 1 2 4 "$z" 0
    cp "$outf" "$tmp/cpu.json"
    export NCCL_SOCKET_IFNAME=lo
    eng 1 2 4 "$z" 0 backend=cuda group=nccl
    unset NCCL_SOCKET_IFNAME
    ok $rc "$what: runs" || { diag "$err"; continue; }
    jok "$outf" '.group == "nccl"' "$what: the record says nccl"
    within "$outf" "$tmp/cpu.json" 1e-4 "$what: the CPU engine's losses within 1e-4 per step"
done

# ---- oracle, ranks sharing the GPU: ZeRO 0-3 against one CPU rank
eng 1 2 4 0 0
cp "$outf" "$tmp/cpu1.json"
for np in 2 4; do
    case $np in 2) mb=2 acc=2 ;; 4) mb=2 acc=1 ;; esac
    for z in 0 1 2 3; do
        what="$np ranks sharing the GPU, ZeRO-$z"
        eng "$np" "$mb" "$acc" "$z" 0 backend=cuda
        ok $rc "$what: runs" || { diag "$err"; continue; }
        jok "$outf" '.group == "staged" and .shared == true' "$what: collectives staged through the host"
        within "$outf" "$tmp/cpu1.json" 1e-4 "$what: the CPU engine's losses within 1e-4 per step"
    done
done

fi
if part llama; then
# ---- the LLaMA family's blocks on the GPU (the CUDA RMSNorm, SwiGLU,
# rotary and grouped-query kernels end to end): the CPU engine's losses
# within 1e-4 per step, one rank in each recompute mode and ranks sharing
# the GPU at ZeRO 0-3
LLAMA="kv_heads=2 ffn=176 norm=rmsnorm mlp=swiglu pos=rotary tied=0 bias=0"
for k in 0 1 2; do
    # shellcheck disable=SC2086
    eng 1 2 4 0 "$k" $LLAMA
    cp "$outf" "$tmp/llama-cpu.json"
    # shellcheck disable=SC2086
    eng 1 2 4 0 "$k" $LLAMA backend=cuda
    if ok $rc "LLaMA blocks, 1 rank, recompute $k: runs on the GPU"; then
        within "$outf" "$tmp/llama-cpu.json" 1e-4 "LLaMA blocks, 1 rank, recompute $k: the CPU engine's losses within 1e-4"
    else
        diag "$err"
    fi
    # flash attention (k_flash_fwd/bwd: each row's log-sum-exp, the
    # probabilities rebuilt in the backward) against the same CPU curve,
    # computed there with the probabilities stored
    # shellcheck disable=SC2086
    eng 1 2 4 0 "$k" $LLAMA backend=cuda flash=1
    ok $rc "LLaMA blocks, flash attention, 1 rank, recompute $k: runs on the GPU" || { diag "$err"; continue; }
    jok "$outf" '.flash_attention' "LLaMA blocks, flash attention, recompute $k: the engine says flash"
    within "$outf" "$tmp/llama-cpu.json" 1e-4 \
        "LLaMA blocks, flash attention on the GPU, recompute $k: the CPU engine's losses (probabilities stored) within 1e-4"
done
# 300 tokens: the flash kernels' three chunks of 128 keys, the last partial
# shellcheck disable=SC2086
eng 1 2 4 0 0 $LLAMA seq=300
cp "$outf" "$tmp/llama-cpu300.json"
# shellcheck disable=SC2086
eng 1 2 4 0 0 $LLAMA seq=300 backend=cuda flash=1
ok $rc "LLaMA blocks, flash attention, 300 tokens: runs on the GPU" || diag "$err"
within "$outf" "$tmp/llama-cpu300.json" 1e-4 \
    "LLaMA blocks, flash attention on the GPU over 300 tokens: the CPU engine's losses within 1e-4"
# shellcheck disable=SC2086
eng 1 2 4 0 0 $LLAMA
cp "$outf" "$tmp/llama-cpu1.json"
for z in 0 1 2 3; do
    # shellcheck disable=SC2086
    eng 2 2 2 "$z" 0 $LLAMA backend=cuda
    ok $rc "LLaMA blocks, 2 ranks sharing the GPU, ZeRO-$z: runs" || { diag "$err"; continue; }
    within "$outf" "$tmp/llama-cpu1.json" 1e-4 "LLaMA blocks, 2 ranks sharing the GPU, ZeRO-$z: the CPU engine's losses within 1e-4"
done
# Qwen3's Q and K head norms (qk_norm=1: the CUDA row's RMSNorm and row
# copies on the heads as rows of the head size), with Qwen2's QKV bias
# alone (the QKV product's bias epilogue, the others' none), flash attention and full
# recompute, and on 2 ranks sharing the GPU as tp 2 (the norms' gradients
# summed over tp): the CPU engine's losses within 1e-4
# shellcheck disable=SC2086
eng 1 2 4 0 2 $LLAMA qk_norm=1 qkv_bias=1
cp "$outf" "$tmp/qkn-cpu.json"
# shellcheck disable=SC2086
eng 1 2 4 0 2 $LLAMA qk_norm=1 qkv_bias=1 flash=1 backend=cuda
ok $rc "Q/K head norms and a QKV bias alone, flash attention, full recompute: runs on the GPU" || diag "$err"
within "$outf" "$tmp/qkn-cpu.json" 1e-4 "Q/K head norms and a QKV bias alone on the GPU: the CPU engine's losses within 1e-4"
# shellcheck disable=SC2086
eng 2 2 4 0 0 $LLAMA qk_norm=1 qkv_bias=1 tp=2
cp "$outf" "$tmp/qkn-cpu-tp.json"
# shellcheck disable=SC2086
eng 2 2 4 0 0 $LLAMA qk_norm=1 qkv_bias=1 tp=2 backend=cuda
ok $rc "Q/K head norms, tp 2 on 2 ranks sharing the GPU: runs" || diag "$err"
within "$outf" "$tmp/qkn-cpu-tp.json" 1e-4 "Q/K head norms, tp 2 on the GPU: the CPU engine's losses within 1e-4"
# activation offload (act_offload=1: each block's kept tensors to pinned
# host memory but the last two blocks', back for its backward, through
# the CUDA row's copies between the pools): 5 blocks, 3 of them offloaded a
# micro-batch, with and without full recompute; the values do not change,
# so the CPU engine's losses without offload hold within 1e-4
for k in 0 2; do
    # shellcheck disable=SC2086
    eng 1 2 4 0 "$k" $LLAMA layers=5
    cp "$outf" "$tmp/ao-cpu.json"
    # shellcheck disable=SC2086
    eng 1 2 4 0 "$k" $LLAMA layers=5 act_offload=1 backend=cuda
    ok $rc "activation offload, recompute $k: runs on the GPU" || { diag "$err"; continue; }
    jok "$outf" '.bus_bytes_per_step["host-to-device"] > 0 and
        .bus_bytes_per_step["host-to-device"] == .bus_bytes_per_step["device-to-host"]' \
        "activation offload, recompute $k: as many bytes copied to the host as back, each step"
    within "$outf" "$tmp/ao-cpu.json" 1e-4 "activation offload on the GPU, recompute $k: the CPU engine's losses within 1e-4"
done

fi
if part tp; then
# ---- tensor and pipeline parallelism on the GPU: 4 ranks sharing it (the
# host-staged groups split into tp, dp and pp groups), every factorisation
# of 4 ranks with tp or pp above 1, GPT-2 blocks, sequence parallelism and
# the interleaved schedule once each, and context parallelism (the ring's
# sends and receives, the part kernels) alone and with tp: the CPU
# engine's 1-rank curve within 1e-4 per step
TPM="layers=4 hidden=64 heads=4 vocab=128 seq=32 steps=20 seed=7 lr=3e-3 micro_batch=2"
run timeout --foreground 300 mpirun -np 1 "$ZPLAN_ENGINE" $TPM accum=4
cp "$outf" "$tmp/tp-cpu.json"
for lay in "tp=4" "tp=2 accum=2" "tp=2 pp=2" "tp=2 pp=2 sp=1" "pp=2 accum=2" "pp=4" "pp=2 vp=2 tp=2" "tp=4 sp=1 zero=1" \
    "cp=4 flash=1" "tp=2 cp=2 flash=1 zero=3"; do
    acc=accum=4
    case $lay in *accum=*) acc= ;; esac
    # shellcheck disable=SC2086
    run timeout --foreground 300 mpirun -np 4 "$ZPLAN_ENGINE" $TPM $acc $lay backend=cuda
    ok $rc "4 ranks sharing the GPU, $lay: runs" || { diag "$err"; continue; }
    within "$outf" "$tmp/tp-cpu.json" 1e-4 "4 ranks sharing the GPU, $lay: the CPU engine's 1-rank losses within 1e-4"
done

fi
if part mem3d; then
# ---- and their memory: zplan exec --backend cuda of every 4-rank
# factorisation with tp or pp above 1, each rank against its own stage's
# prediction: every tensor class within 5 %, the tensors' peak within 3 %
mem3d() {
    what="memory, 4 ranks sharing the GPU, dp $1 x tp $2 x pp $3"
    plan_id --gpus 4 --dp "$1" --tp "$2" --pp "$3" --vp 1 --zero 1 --offload none --ckpt selective \
        --global-batch $(($1 * 8)) || return
    run "$ZPLAN" exec "$id" --db "$tmp/mem.db" --backend cuda --steps 2 \
        --scale "layers=8,hidden=1024,heads=16,vocab=8192,seq=256,micro_batch=2,accum=4" --json
    ok $rc "$what: runs" || { diag "$err"; return; }
    jok "$outf" 'def e(a; b): if b == 0 then (if a == 0 then 0 else 1e9 end) else (a - b) / b | fabs end;
        all(.per_rank[]; . as $r | ([ "params", "grads", "optimizer", "activations", "buffers" ] |
            map(e($r.predicted_bytes[.]; $r.measured_bytes[.])) | max) <= 0.05 and
            e($r.predicted_bytes.peak; $r.measured_bytes.peak) <= 0.03) and
        all(.comm_bytes_per_step.by_group[]; .predicted == .measured)' \
        "$what: every rank's tensor classes within 5 % and peak within 3 % of its stage's prediction, bytes per group exact" ||
        diag "$(jq -c '[.per_rank[] | {stage, p: .predicted_bytes.peak, m: .measured_bytes.peak}]' "$outf")"
}
for lay in "1 4 1" "2 2 1" "1 2 2" "1 1 4" "2 1 2"; do
    # shellcheck disable=SC2086
    mem3d $lay
done

fi
if part bf16; then
# ---- bf16 storage (fp32 master weights) on the GPU
if [ ! -f "$tmp/gpu-fp32.json" ]; then   # the oracle part not run: its fp32 curve on the GPU
    eng 1 2 4 0 0 backend=cuda
    cp "$outf" "$tmp/gpu-fp32.json"
fi
eng 1 2 4 0 0 dtype=1 backend=cuda
ok $rc "bf16 storage on the GPU: runs" || diag "$err"
within "$outf" "$tmp/gpu-fp32.json" 1e-2 "bf16 storage: within 1e-2 of the fp32 run on the GPU"
jok "$outf" '[.losses, $ref[0].losses] | transpose | any(.[0] != .[1])' \
    "bf16 storage: not the fp32 curve itself" --slurpfile ref "$tmp/gpu-fp32.json"
# the linear layers on the tensor cores (gemm=bf16: cuBLAS's FAST_16BF on
# the fp32 tensors) against the CPU row's operands rounded to nearest even,
# under SGD (Adam's first step is each gradient's sign: a rounding that
# goes the other way flips a weight's whole step); the CPU-to-CPU
# reference check of the same math is tests/reference.sh's, within 1e-4,
# and that cuBLAS rounds to bf16 (not TF32, not exact) is test_cuda's
eng 1 2 4 0 0 sgd=1 gemm=bf16
cp "$outf" "$tmp/cpu-tc.json"
eng 1 2 4 0 0 sgd=1 gemm=bf16 backend=cuda
ok $rc "bf16 products (tensor cores) on the GPU: runs" || diag "$err"
jok "$outf" '.gemm_math == "bf16"' "bf16 products: the GPU engine says so"
jok "$outf" '.gemm.seconds_per_step > 0 and .gemm.seconds_per_step < .step_time_s' \
    "the GPU engine times its GEMMs (events around each cuBLAS call): within its step" ||
    diag "$(jq -c '[.gemm, .step_time_s]' "$outf")"
within "$outf" "$tmp/cpu-tc.json" 1e-3 "bf16 products, SGD: the CPU row's rounded-operand curve within 1e-3 per step"
diag "first loss (the forward): GPU $(jq '.losses[0]' "$outf"), CPU $(jq '.losses[0]' "$tmp/cpu-tc.json")"
# what zplan exec runs a bf16 plan with on a GPU: bf16 storage, AdamW, bf16 products
eng 1 2 4 0 0 dtype=1 gemm=bf16 backend=cuda
ok $rc "bf16 storage and bf16 products on the GPU: runs" || diag "$err"
within "$outf" "$tmp/gpu-fp32.json" 1e-2 "bf16 storage and products: within 1e-2 of the fp32 run on the GPU"
# flash attention on the tensor cores (gemm=bf16 flash=1: k_flash_tc_*,
# head size 16) against the CPU row's rounding twin (zk_flash_*_m), LLaMA
# blocks (grouped K/V heads, rotary) over 152 tokens (three key tiles, the
# last partial), SGD as above; and with 4 ranks sharing the GPU in tp 2 x
# cp 2 (the part kernels) against the same CPU curve
# shellcheck disable=SC2086
eng 1 2 4 0 0 sgd=1 gemm=bf16 flash=1 $LLAMA seq=152
cp "$outf" "$tmp/cpu-fa-tc.json"
# shellcheck disable=SC2086
eng 1 2 4 0 0 sgd=1 gemm=bf16 flash=1 $LLAMA seq=152 backend=cuda
ok $rc "flash attention on the tensor cores (bf16, LLaMA blocks, 152 tokens): runs" || diag "$err"
within "$outf" "$tmp/cpu-fa-tc.json" 1e-3 "flash attention on the tensor cores, SGD: the CPU row's rounding twin's curve within 1e-3 per step"
jok "$outf" '.flash.seconds_per_step > 0 and .flash.seconds_per_step < .step_time_s and
    .flash.flops_per_step == $ref[0].flash.flops_per_step' \
    "the GPU engine times its flash kernels (events around each): within its step, the CPU row's FLOPs" \
    --slurpfile ref "$tmp/cpu-fa-tc.json" || diag "$(jq -c '[.flash, .step_time_s]' "$outf")"
# shellcheck disable=SC2086
eng 4 2 4 0 0 sgd=1 gemm=bf16 flash=1 $LLAMA seq=152 tp=2 cp=2 backend=cuda
ok $rc "flash attention on the tensor cores, tp 2 x cp 2 on 4 ranks sharing the GPU: runs" || diag "$err"
within "$outf" "$tmp/cpu-fa-tc.json" 1e-3 "flash attention on the tensor cores, tp 2 x cp 2: the CPU row's 1-rank curve within 1e-3 per step"

fi
if part mem; then
# ---- memory: zplan exec --backend cuda, predicted beside measured
small=${ZPLAN_GPU_SMALL:-"layers=8,hidden=1024,heads=16,vocab=8192,seq=256,micro_batch=2,accum=1"}
big=${ZPLAN_GPU_BIG:-"layers=24,hidden=2048,heads=16,vocab=8192,seq=256,micro_batch=2,accum=1"}
memcheck='
    def e(a; b): if b == 0 then (if a == 0 then 0 else 1e9 end) else (a - b) / b end;
    .per_rank[0] as $r | $r.runtime_bytes as $rt |
    ([ "params", "grads", "optimizer", "activations", "buffers" ]
     | map(e($r.predicted_bytes[.]; $r.measured_bytes[.]) | fabs) | max) as $cl |
    e($rt.predicted.gpu_total; $rt.measured.gpu_used_at_peak) as $tot |
    "\($cl) \($tot) \($r.measured_bytes.peak) \($rt.measured.context) \($rt.measured.blas) \($rt.measured.communicator) \($rt.measured.rounding) \($rt.measured.gpu_used_at_peak)"'
# in_range X LO HI: 0 when X is a number within [LO, HI], else 1 (an empty
# X, what a failed jq leaves, is not a number: awk would compare it as a
# string and pass)
in_range() {
    awk -v x="$1" -v lo="$2" -v hi="$3" \
        'BEGIN { n = x ~ /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/; print (n && x + 0 >= lo && x + 0 <= hi) ? 0 : 1 }'
}
# mem SHAPE NAME NP ZERO OFFLOAD CKPT
mem() {
    what="memory, $2, $3 rank(s), ZeRO-$4, offload $5, recompute $6"
    plan_id --gpus "$3" --dp "$3" --tp 1 --pp 1 --zero "$4" --offload "$5" --ckpt "$6" --global-batch $(($3 * 2)) ||
        return
    run "$ZPLAN" exec "$id" --db "$tmp/mem.db" --backend cuda --steps 2 --scale "$1" --json
    ok $rc "$what: runs" || { diag "$err"; return; }
    cp "$outf" "$tmp/mem-last.json"   # the last execution that ran, for the profile check below
    # shellcheck disable=SC2046
    set -- $(jq -r "$memcheck" "$outf")
    diag "$what: class error $1, device total error $2 (tensor peak $3, context $4, cuBLAS $5, NCCL $6, rounding $7, used $8)"
    ok "$(in_range "$1" 0 0.01)" "$what: each tensor class within 1 % ($1)"
    ok "$(in_range "$2" -0.03 0.03)" "$what: device total within 3 % of the used bytes at the peak ($2)"
}
for shape in "$small" "$big"; do
    name=$([ "$shape" = "$big" ] && echo "1.2B" || echo "small")
    for k in none selective full; do
        mem "$shape" "$name" 1 0 none "$k"
        mem "$shape" "$name" 1 1 optimizer "$k"
        mem "$shape" "$name" 1 3 optimizer+params "$k"
    done
    [ "${ZPLAN_GPU_QUICK:-0}" = 1 ] && continue
    for np in 2 4; do
        for z in 0 1 2 3; do
            mem "$shape" "$name" "$np" "$z" none none
        done
    done
done
# (an execution that ran: a plan or run that failed leaves $outf not one)
if [ -f "$tmp/mem-last.json" ]; then
    jok "$tmp/mem-last.json" '.profile_kept | type == "string"' \
        "a CUDA execution keeps the GPU's measured runtime memory as a profile"
else
    ok 1 "a CUDA execution keeps the GPU's measured runtime memory as a profile: no memory execution ran"
fi

fi
if part calib; then
# ---- zplan calibrate --backend cuda: GPU 0's GEMM rates, elementwise rate
# and runtime memory as a GPU profile; the fitted curve within 15 % of
# every bf16 shape measured (the issue's bound for a curve against the
# engine's GEMMs; at least the 5 products big enough to fit), a context
# of 300 MiB to 1 GiB (GPU.md measured 527 MiB on the H200)
run "$ZPLAN" calibrate --backend cuda --db "$tmp/cal.db" --json
ok $rc "zplan calibrate --backend cuda: a GPU profile" || diag "$err"
if [ "$rc" -eq 0 ]; then
    cp "$outf" "$tmp/gpuprof.json"
    diag "$(jq -c '{name, gemm_max_efficiency, sms, elementwise_gbps, cuda_context_mib, cublas_mib,
        fp32: .measured.gemm_fit_fp32_ceiling, attention_efficiency_engine,
        flash: [.measured.attention[] | {t, heads, forward_seconds, backward_seconds, tflops: (.flops_per_s / 1e12)}],
        bf16_operands: [.measured.gemm[] | select(.operands == "bf16") | [.m, .n, .k, (.flops_per_s / 1e12)]]}' \
        "$tmp/gpuprof.json")"
    jok "$tmp/gpuprof.json" '.attention_efficiency_engine > 0 and .attention_efficiency_engine <= 1 and
        (.measured.attention | length) == 2' \
        "the GPU profile: flash attention's rate under bf16 math at 2 shapes, its attention_efficiency_engine in (0, 1]"
    jok "$tmp/gpuprof.json" '.gemm_max_efficiency_benchmark > 0.3 and .gemm_max_efficiency_benchmark <= 1 and .sms > 0 and
        .elementwise_gbps > 100 and .cuda_context_mib > 300 and .cuda_context_mib < 1024 and
        ([.measured.gemm_fit[] | select(.dtype == "bf16")] | length) >= 5' \
        "the GPU profile: a ceiling in (0.3, 1] fitted to 5 or more bf16 products, SMs, an elementwise rate, a context of 300 MiB to 1 GiB"
    jok "$tmp/gpuprof.json" '.gemm_max_efficiency_benchmark as $e | all(.measured.gemm_fit[] | select(.dtype == "bf16");
        ($e * .curve_shape_factor - .measured_efficiency) / .measured_efficiency | fabs <= 0.15)' \
        "the fitted curve within 15 % of every bf16 GEMM measured" ||
        diag "$(jq -c '[.measured.gemm_fit[] | select(.dtype == "bf16") | [.m, .n, .k, .measured_efficiency, .curve_shape_factor]]' "$tmp/gpuprof.json")"
    run "$ZPLAN" --gpu "$(jq -r .name "$tmp/gpuprof.json")" --gpus 8 --model gpt2-xl --db "$tmp/cal.db" --no-store --json
    ok $rc "a plan on the GPU profile" || diag "$err"
fi

fi
if part sanitizer; then
# ---- compute-sanitizer on a small run
if command -v compute-sanitizer >/dev/null 2>&1; then
    run timeout --foreground 300 mpirun -np 1 compute-sanitizer --tool memcheck --error-exitcode 99 "$ZPLAN_ENGINE" \
        layers=2 hidden=64 heads=4 vocab=128 seq=32 steps=2 micro_batch=2 accum=2 zero=3 offload=2 ckpt=1 dtype=1 \
        backend=cuda
    if grep -q -i "device not supported\|unable to run on this device\|not supported on this" "$errf" "$outf"; then
        # some virtualised machines refuse the sanitizer's device access
        why=$(grep -h -i -m 1 'not supported\|unable' "$errf" "$outf" | head -n 1)
        skip "compute-sanitizer memcheck: it cannot attach to this device ($why)"
        skip "compute-sanitizer: no error summary on this device"
    else
        ok $rc "compute-sanitizer memcheck: no error on a small run (ZeRO-3, offload, bf16)" || diag "$(tail -n 30 "$errf")"
        grep -q "ERROR SUMMARY: 0 errors" "$errf" "$outf"
        ok $? "compute-sanitizer: ERROR SUMMARY: 0 errors"
    fi
    # the tensor-core flash kernels (head size 64, 150 tokens: partial tiles
    # of queries and keys, grouped K/V heads): out-of-bounds accesses, then
    # shared-memory races between their warps
    for tool in memcheck racecheck; do
        run timeout --foreground 300 mpirun -np 1 compute-sanitizer --tool "$tool" --error-exitcode 99 "$ZPLAN_ENGINE" \
            layers=1 hidden=128 heads=2 kv_heads=1 vocab=64 seq=150 steps=1 micro_batch=1 gemm=bf16 flash=1 \
            backend=cuda
        ok $rc "compute-sanitizer $tool: the tensor-core flash kernels, no error" || diag "$(tail -n 30 "$errf")"
    done
else
    skip "compute-sanitizer is not installed"
fi
fi
finish
