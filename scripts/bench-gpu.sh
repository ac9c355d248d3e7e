#!/bin/sh
# scripts/bench-gpu.sh - the engine's training speed on one GPU beside PyTorch
# eager's at the same shapes (issue: GPU speed): for GPT-2 XL (1.5 B, 48
# layers of 1600, 25 heads, sequence 1024, micro-batch 2) and a 1 B LLaMA
# with grouped-query attention (TinyLlama's shape: 16 layers of 2048, 32
# heads over 8 KV heads, an MLP of 5632, vocabulary 32000, untied,
# sequence 2048, micro-batch 2) - the shapes scripts/torch-memory.py
# measures - it runs zplan-engine on the GPU (bf16 parameters and gradients,
# fp32 master weights, AdamW, one rank) with its linear layers' products
# exact in fp32 and on the tensor cores (gemm=bf16), the attention
# probabilities stored, and bf16 with flash attention, and
# scripts/bench-torch.py (Hugging Face
# transformers, SDPA, bf16 autocast, fused AdamW; with --compile also under
# torch.compile), and prints for each the median step time from the
# second step (the engine's) or third (PyTorch's), tokens a second, their
# ratio to PyTorch eager and the MFU: model FLOPs a token 6 N (N the
# parameters the products read: the head's, tied or not, counted; an
# untied input embedding, a lookup, not) + 12 L s h
# (the attention's products without the causal halving, Megatron's count),
# over the preset's dense bf16 peak (--gpu, default h200).
#
#   sh scripts/bench-gpu.sh [--tap] [--compile] [--gpu PRESET] [--backend cuda|cpu] [--shapes tiny]
#
# --backend cpu --shapes tiny runs the engine part on CPU ranks at a tiny
# shape (the test suite's check that the script works; no PyTorch there);
# --tap prints TAP lines (a shape's runs finished and gave a positive
# rate; the 1.0x goal is printed, not held, until the engine's fast path
# exists).  ZPLAN_ENGINE names the engine (default: ./zplan-engine of this
# tree), ZPLAN names zplan (for the preset's peak).  Timings want an
# otherwise idle GPU; the numbers are ratios and medians.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
ZPLAN_ENGINE=${ZPLAN_ENGINE:-$here/zplan-engine}
ZPLAN=${ZPLAN:-$here/zplan}
tap=0 compile=0 gpu=h200 backend=cuda shapes=full
while [ $# -gt 0 ]; do
    case $1 in
    --tap) tap=1 ;;
    --compile) compile=1 ;;
    --gpu) gpu=${2:?--gpu needs a preset}; shift ;;
    --backend) backend=${2:?--backend needs cuda or cpu}; shift ;;
    --shapes) shapes=${2:?--shapes needs full or tiny}; shift ;;
    -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-gpu.sh: unknown argument '$1' (allowed: --tap, --compile, --gpu P, --backend cuda|cpu, --shapes full|tiny, --help)" >&2
       exit 2 ;;
    esac
    shift
done
case $backend in cuda | cpu) ;; *) echo "bench-gpu.sh: --backend $backend: allowed cuda, cpu" >&2; exit 2 ;; esac
case $shapes in full | tiny) ;; *) echo "bench-gpu.sh: --shapes $shapes: allowed full, tiny" >&2; exit 2 ;; esac
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zplan-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

n=0 bad=0
. "$here/scripts/gpu-lib.sh"   # say, result, gpu_or_skip

gpu_or_skip bench-gpu.sh
# the preset's dense bf16 peak (FLOP/s)
peak=$("$ZPLAN" gpus --json 2>/dev/null | jq -r --arg g "$gpu" '.[] | select(.preset == $g) | .bf16_flops // empty | . / 1e12' |
    head -n 1)
[ -n "$peak" ] || { echo "bench-gpu.sh: no bf16 peak for --gpu $gpu (zplan gpus lists the presets)" >&2; exit 2; }

# shape rows: NAME|ENGINE KEYS|BENCH-TORCH ARGS|L|s|h|E, E the parameters
# no product reads (an untied model's input embedding, V h), left out of N
if [ "$shapes" = tiny ]; then
    rows="gpt2-tiny|layers=2 hidden=64 heads=4 vocab=128 seq=64 micro_batch=2|--arch gpt2 --layers 2 --hidden 64 --heads 4 --vocab 128 --seq 64 --micro-batch 2|2|64|64|0"
else
    rows="gpt2-xl|layers=48 hidden=1600 heads=25 vocab=50257 seq=1024 micro_batch=2|--arch gpt2 --layers 48 --hidden 1600 --heads 25 --vocab 50257 --seq 1024 --micro-batch 2|48|1024|1600|0
llama-1b-gqa|layers=16 hidden=2048 heads=32 kv_heads=8 ffn=5632 vocab=32000 seq=2048 micro_batch=2 norm=rmsnorm mlp=swiglu pos=rotary tied=0 bias=0|--arch llama --layers 16 --hidden 2048 --heads 32 --kv-heads 8 --ffn 5632 --vocab 32000 --seq 2048 --micro-batch 2 --tied 0|16|2048|2048|65536000"
fi
torch_ok=0
python3 -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('torch') and u.find_spec('transformers')))" \
    >/dev/null 2>&1 && [ "$backend" = cuda ] && torch_ok=1

[ $tap -eq 1 ] || printf '%-14s %-22s %12s %12s %10s %8s\n' shape run "step s" "tokens/s" "x eager" MFU
say "peak: $gpu dense bf16 $peak TFLOP/s; MFU = (6 N + 12 L s h) x tokens a second / peak"
printf '%s\n' "$rows" >"$tmp/rows"
# (the rows from descriptor 3: mpirun and python3 read standard input)
while IFS='|' read -r name keys targs L s h E <&3; do
    eager=""
    if [ $torch_ok -eq 1 ]; then
        # shellcheck disable=SC2086
        if python3 "$here/scripts/bench-torch.py" $targs >"$tmp/torch.json" 2>"$tmp/torch.err" </dev/null; then
            eager=$(jq -r .tokens_per_s "$tmp/torch.json")
            N=$(jq -r .params "$tmp/torch.json")
            mfu=$(awk -v t="$eager" -v N="$N" -v E="$E" -v L="$L" -v s="$s" -v h="$h" -v p="$peak" \
                'BEGIN { printf "%.1f%%", 100 * t * (6 * (N - E) + 12 * L * s * h) / (p * 1e12) }')
            st=$(jq -r .step_s "$tmp/torch.json")
            [ $tap -eq 1 ] || printf '%-14s %-22s %12.4f %12.0f %10s %8s\n' "$name" "pytorch eager" "$st" "$eager" 1.00 "$mfu"
            say "$name pytorch eager: $(cat "$tmp/torch.json")"
            result 0 "$name: PyTorch eager ran, $eager tokens/s"
        else
            result 1 "$name: PyTorch eager failed: $(tail -n 3 "$tmp/torch.err" | tr '\n' ' ')"
        fi
        if [ $compile -eq 1 ]; then
            # shellcheck disable=SC2086
            if python3 "$here/scripts/bench-torch.py" $targs --compile >"$tmp/tc.json" 2>"$tmp/tc.err" </dev/null; then
                tc=$(jq -r .tokens_per_s "$tmp/tc.json")
                say "$name torch.compile: $(cat "$tmp/tc.json")"
                [ $tap -eq 1 ] || printf '%-14s %-22s %12.4f %12.0f %10s\n' "$name" "pytorch compiled" \
                    "$(jq -r .step_s "$tmp/tc.json")" "$tc" "$(awk -v a="$tc" -v b="${eager:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }')"
                result 0 "$name: torch.compile ran, $tc tokens/s"
            else
                result 1 "$name: torch.compile failed: $(tail -n 3 "$tmp/tc.err" | tr '\n' ' ')"
            fi
        fi
    else
        say "$name: PyTorch eager not run (python3 has no torch and transformers here, or --backend cpu)"
    fi
    # the products exact in fp32 (before the tensor cores) and in bf16
    # (gemm=bf16: what zplan exec runs a bf16 plan with on a GPU), the
    # attention's probabilities stored and flash-style; the last once more
    # with cuBLASLt off (ZPLAN_CUBLASLT=0: each bias added by a kernel
    # before its product instead of in the product's epilogue), to keep
    # the epilogue only if it pays
    for v in "fp32 0 1" "bf16 0 1" "bf16 1 1" "bf16 1 0"; do
        set -- $v
        gm=$1 fa=$2 lt=$3
        run="engine $gm $([ "$fa" = 1 ] && echo flash || echo probs)$([ "$lt" = 0 ] && echo ' no-lt' || :)"
        # shellcheck disable=SC2086
        if ZPLAN_CUBLASLT=$lt timeout 600 mpirun -np 1 -x ZPLAN_CUBLASLT "$ZPLAN_ENGINE" $keys accum=1 steps=6 zero=0 \
            dtype=1 grad_dtype=1 flash=$fa gemm="$gm" backend="$backend" >"$tmp/eng.json" 2>"$tmp/eng.err" </dev/null &&
            [ "$(jq -r .status "$tmp/eng.json" 2>/dev/null)" = ok ] &&
            jq -e '(.step_time_s | type) == "number" and .step_time_s > 0' "$tmp/eng.json" >/dev/null 2>&1; then
            st=$(jq -r .step_time_s "$tmp/eng.json")
            N=$(jq -r .params "$tmp/eng.json")
            set -- $(awk -v st="$st" -v N="$N" -v E="$E" -v L="$L" -v s="$s" -v h="$h" -v p="$peak" -v e="${eager:-0}" -v keys="$keys" '
                BEGIN { split(keys, kv, " "); b = 1
                        for (i in kv) { split(kv[i], x, "="); if (x[1] == "micro_batch") b = x[2] }
                        t = b * s / st; r = "-"; if (e > 0) r = sprintf("%.2f", t / e)
                        printf "%.6g %s %.1f%%\n", t, r, 100 * t * (6 * (N - E) + 12 * L * s * h) / (p * 1e12) }')
            [ $tap -eq 1 ] || printf '%-14s %-22s %12.4f %12.0f %10s %8s\n' "$name" "$run" "$st" "$1" "$2" "$3"
            say "$name $run: step $st s, $1 tokens/s, $2 x eager, MFU $3, peak device bytes $(jq -r '.per_rank[0].device_peak' "$tmp/eng.json")"
            # where the step went: the GEMMs, flash attention (TFLOP/s of
            # its products), the rest (elementwise kernels, the optimizer)
            say "$name $run: $(jq -r '"GEMMs \(.gemm.seconds_per_step) s at \(.gemm.flops_per_s / 1e12) TFLOP/s" +
                (if .flash then ", flash attention \(.flash.seconds_per_step) s at \(.flash.flops_per_s / 1e12) TFLOP/s"
                 else "" end) + ", the rest \(.steady_step_s - .gemm.seconds_per_step - (.flash.seconds_per_step // 0)) s" +
                (if .gemm.bias_epilogue then "; bias in cuBLASLt'"'"'s epilogue: \(.gemm.bias_epilogue.on), " +
                 "\(.gemm.bias_epilogue.plans_fused) of \(.gemm.bias_epilogue.plans) plans, \(.gemm.bias_epilogue.calls) products in the run"
                 else "" end)' "$tmp/eng.json")"
            if awk -v t="$1" 'BEGIN { exit !(t > 0) }'; then result 0 "$name: $run ran, $1 tokens/s"
            else result 1 "$name: $run gave no rate ($1 tokens/s)"; fi
        else
            result 1 "$name: $run failed: $(jq -r '.error // empty' "$tmp/eng.json" 2>/dev/null) $(tail -n 3 "$tmp/eng.err" | tr '\n' ' ')"
        fi
    done
done 3<"$tmp/rows"
if [ $tap -eq 1 ]; then
    echo "1..$n"
else
    say "$n runs, $bad failed (the issue's goal: the engine at least 1.0 x PyTorch eager on both shapes)"
fi
[ $bad -eq 0 ]
