#!/bin/sh
# scripts/predict-gpu.sh - the planner's step time beside the engine's on one
# GPU (issue: GPU speed, its prediction item): zplan calibrate --backend cuda
# measures a GPU profile (or --profile names one), then for 8 shapes of the
# GPT-2 and LLaMA families, 125 M to 3 B parameters, micro-batches 1 to 16,
# recompute none and full, it plans one GPU (bf16, AdamW, the
# probabilities stored: the attention's products then go through cuBLAS,
# where the engine times its GEMMs, as the planner's GEMM time counts them;
# the products at the ceiling cuBLAS reaches alone, --gemm-ceiling
# benchmark, as the engine's own products are planned),
# runs the plan unscaled with zplan exec --backend cuda --profile (which
# records the planner's step time for the engine's conventions beside the
# engine's median step from the second), and prints each error
# (predicted - measured) / measured, how many are within 10 % and their
# median |error|: the issue's goal is 8 shapes within 10 %, median at most
# 5 %.  Beside it, the products' time a step by the device preset's
# default curve (no profile) against the engine's GEMMs timed around each
# cuBLAS call: the goal, within 15 % on every shape.
#
#   sh scripts/predict-gpu.sh [--tap] [--profile NAME] [--db PATH] [--steps N]
#                             [--backend cuda|cpu] [--shapes full|tiny]
#
# --backend cpu --shapes tiny runs two scaled shapes on a CPU rank with a
# CPU profile (--profile, from zplan calibrate): the test suite's check that
# the script works.  --tap prints TAP (each shape ran and was predicted;
# the goal is printed, not held).  ZPLAN names zplan (default ./zplan of
# this tree), ZPLAN_ENGINE the engine (default: the one beside zplan).  The
# database is --db's, else with --profile zplan's own ($ZPLAN_DB or
# ./zplan.db, where the profile is), else a temporary one.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
ZPLAN=${ZPLAN:-$here/zplan}
ZPLAN_ENGINE=${ZPLAN_ENGINE:-$(dirname "$ZPLAN")/zplan-engine}   # (zplan's own choice: the one beside it)
export ZPLAN_ENGINE
tap=0 backend=cuda shapes=full profile="" db="" steps=6
while [ $# -gt 0 ]; do
    case $1 in
    --tap) tap=1 ;;
    --profile) profile=${2:?--profile needs a name}; shift ;;
    --db) db=${2:?--db needs a path}; shift ;;
    --steps) steps=${2:?--steps needs a count}; shift ;;
    --backend) backend=${2:?--backend needs cuda or cpu}; shift ;;
    --shapes) shapes=${2:?--shapes needs full or tiny}; shift ;;
    -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "predict-gpu.sh: unknown argument '$1' (allowed: --tap, --profile NAME, --db PATH, --steps N, --backend cuda|cpu, --shapes full|tiny, --help)" >&2
       exit 2 ;;
    esac
    shift
done
case $backend in cuda | cpu) ;; *) echo "predict-gpu.sh: --backend $backend: allowed cuda, cpu" >&2; exit 2 ;; esac
case $shapes in full | tiny) ;; *) echo "predict-gpu.sh: --shapes $shapes: allowed full, tiny" >&2; exit 2 ;; esac
case $steps in '' | *[!0-9]*) echo "predict-gpu.sh: --steps $steps: a count of 3 or more" >&2; exit 2 ;; esac
[ "$steps" -ge 3 ] || { echo "predict-gpu.sh: --steps $steps: a count of 3 or more (the median is of the steps from the second)" >&2; exit 2; }
if [ "$backend" = cpu ] && [ -z "$profile" ]; then
    echo "predict-gpu.sh: --backend cpu needs --profile NAME (zplan calibrate --np 1 --name NAME makes one)" >&2
    exit 2
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zplan-predict.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
# the database: --db's; with --profile, zplan's own (where the profile is);
# else a temporary one for the profile calibrated here
[ -n "$db" ] || { [ -n "$profile" ] && db=${ZPLAN_DB:-zplan.db}; } || db=$tmp/predict.db

n=0 bad=0
. "$here/scripts/gpu-lib.sh"   # say, result, gpu_or_skip

gpu_or_skip predict-gpu.sh
if [ "$backend" = cuda ]; then
    if [ -z "$profile" ]; then
        if "$ZPLAN" calibrate --backend cuda --db "$db" --json >"$tmp/prof.json" 2>"$tmp/prof.err" </dev/null; then
            profile=$(jq -r .name "$tmp/prof.json")
            result 0 "zplan calibrate --backend cuda: the profile $profile"
            say "profile $profile: $(jq -c '{gemm_max_efficiency, gemm_max_efficiency_benchmark, elementwise_gbps}' "$tmp/prof.json")"
        else
            result 1 "zplan calibrate --backend cuda failed: $(tail -n 3 "$tmp/prof.err" | tr '\n' ' ')"
            [ $tap -eq 0 ] || echo "1..$n"
            exit 1
        fi
    fi
fi

# shape rows: NAME|MODEL|SEQ|MICRO-BATCH|RECOMPUTE|SCALE
if [ "$shapes" = tiny ]; then
    rows="gpt2-tiny|gpt2-small|64|2|none|layers=2,hidden=64,heads=4,vocab=256,seq=64,micro_batch=2,accum=1
llama-tiny-full|llama3.2-1b|64|2|full|layers=2,hidden=64,heads=4,kv_heads=2,ffn=128,vocab=256,seq=64,micro_batch=2,accum=1"
else
    rows="gpt2-small|gpt2-small|1024|16|none|none
gpt2-medium|gpt2-medium|1024|8|none|none
gpt2-medium-full|gpt2-medium|1024|8|full|none
gpt2-large|gpt2-large|1024|4|none|none
gpt2-xl-full|gpt2-xl|1024|2|full|none
llama3.2-1b|llama3.2-1b|2048|2|none|none
llama3.2-1b-full|llama3.2-1b|2048|4|full|none
llama3.2-3b-full|llama3.2-3b|2048|1|full|none"
fi
printf '%s\n' "$rows" >"$tmp/rows"
: >"$tmp/errs"
: >"$tmp/gerrs"
[ $tap -eq 1 ] || printf '%-18s %10s %12s %12s %9s\n' shape params "predicted s" "measured s" error
# (the rows from descriptor 3: mpirun reads standard input)
while IFS='|' read -r name model seq mb ckpt scale <&3; do
    if ! "$ZPLAN" --model "$model" --gpu "$profile" --gpus 1 --dp 1 --tp 1 --pp 1 --zero 0 --offload none \
        --ckpt "$ckpt" --seq "$seq" --micro-batch "$mb" --global-batch "$mb" --no-flash-attn \
        --gemm-ceiling benchmark --db "$db" --json >"$tmp/plan.json" 2>"$tmp/plan.err" </dev/null; then
        result 1 "$name: not planned: $(tail -n 2 "$tmp/plan.err" | tr '\n' ' ')"
        continue
    fi
    if ! jq -e '(.plans | length) > 0' "$tmp/plan.json" >/dev/null 2>&1; then
        result 1 "$name: nothing fits: $(jq -c '[.rejected[]? | .reason] | .[0:2]' "$tmp/plan.json" 2>/dev/null)"
        continue
    fi
    id=$(jq -r .run_id "$tmp/plan.json")
    # (a scaled shape's device pool: 1 GiB, not the profile's memory
    # scaled as the model; unscaled, the GPU's)
    # shellcheck disable=SC2046
    if "$ZPLAN" exec "$id" --backend "$backend" --profile "$profile" --scale "$scale" --steps "$steps" --db "$db" \
        $([ "$scale" = none ] || echo --device-mem 1GiB) --json >"$tmp/x.json" 2>"$tmp/x.err" </dev/null &&
        jq -e '.status == "ok" and (.step_time_s.predicted | type) == "number" and .step_time_s.measured > 0' \
            "$tmp/x.json" >/dev/null 2>&1; then
        p=$(jq -r .step_time_s.predicted "$tmp/x.json") m=$(jq -r .step_time_s.measured "$tmp/x.json")
        e=$(awk -v p="$p" -v m="$m" 'BEGIN { printf "%.1f", 100 * (p - m) / m }')
        echo "$e" >>"$tmp/errs"
        # the products' time: the device preset's default curve (no
        # profile) against the engine's GEMMs as timed around each call
        gd=$(jq -r '.gemm_time_s.preset_curve // empty' "$tmp/x.json")
        gm=$(jq -r '.gemm_time_s.measured // empty' "$tmp/x.json")
        if [ -n "$gd" ] && [ -n "$gm" ]; then
            ge=$(awk -v p="$gd" -v m="$gm" 'BEGIN { printf "%.1f", 100 * (p - m) / m }')
            echo "$ge" >>"$tmp/gerrs"
            say "$name GEMM time a step: $(jq -r .gemm_time_s.preset "$tmp/x.json")'s default curve $gd s, the profile's $(jq -r '.gemm_time_s.predicted // "-"' "$tmp/x.json") s, measured $gm s: $ge %"
        fi
        [ $tap -eq 1 ] || printf '%-18s %10s %12.4f %12.4f %8s%%\n' "$name" "$(jq -r .model.params "$tmp/x.json")" "$p" "$m" "$e"
        say "$name: $(jq -c '{gemm_math, predicted_time_s, measured_time_s}' "$tmp/x.json")"
        result 0 "$name: predicted $p s, measured $m s a step: $e %"
    else
        result 1 "$name: exec failed: $(jq -r '.reason // .error // empty' "$tmp/x.json" 2>/dev/null) $(tail -n 3 "$tmp/x.err" | tr '\n' ' ')"
    fi
done 3<"$tmp/rows"
k=$(wc -l <"$tmp/errs")
if [ "$k" -gt 0 ]; then
    within=$(awk '{ x = $1 < 0 ? -$1 : $1; if (x <= 10) w++ } END { print w + 0 }' "$tmp/errs")
    med=$(awk '{ print ($1 < 0 ? -$1 : $1) }' "$tmp/errs" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    say "$within of $k shapes within 10 %, median |error| $med % (the issue's goal: 8 shapes within 10 %, median at most 5 %)"
fi
k=$(wc -l <"$tmp/gerrs")
if [ "$k" -gt 0 ]; then
    within=$(awk '{ x = $1 < 0 ? -$1 : $1; if (x <= 15) w++ } END { print w + 0 }' "$tmp/gerrs")
    say "GEMM time by the preset's default curve: $within of $k shapes within 15 % of the engine's (the issue's goal: all)"
fi
[ $tap -eq 0 ] || echo "1..$n"
[ $bad -eq 0 ]
