#!/bin/sh
# scripts/bench-engine.sh - the engine's efficiency on this machine: for a
# few model shapes, runs zplan-engine on 2 ranks (ZeRO-1, no recompute) 5
# times and prints the medians of
#   gemm eff   OpenBLAS sgemm alone on the run's own GEMM calls (every
#              shape of a step, its calls, contiguous operands, replayed
#              after the run on the same ranks) over the time the engine's
#              GEMM phases took for them (goal >= 80 %)
#   overhead   the share of a step that is neither GEMM nor MPI: layer norms,
#              GELU, softmax, cross-entropy, optimizer, copies (goal < 15 %)
# ENGINE names zplan-engine (default: the one in this tree).
set -eu
case ${1:-} in
"") ;;
-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
*) echo "bench-engine.sh: unknown argument '$1' (it takes none; ENGINE= and ZPLAN_BENCH_REPS= in the environment)" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")/.." && pwd)
ENGINE=${ENGINE:-$here/zplan-engine}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
reps=${ZPLAN_BENCH_REPS:-5}
out=$(mktemp "${TMPDIR:-/tmp}/zplan-bench-engine.XXXXXX")
trap 'rm -f "$out" "$out.run"' EXIT
trap 'exit 1' HUP INT TERM
printf '# %-44s %9s %9s %10s %10s\n' shape "gemm eff" overhead "step s" "GFLOP/s"
for shape in "layers=4 hidden=256 heads=4 vocab=512 seq=128" "layers=4 hidden=512 heads=8 vocab=1024 seq=128" \
    "layers=4 hidden=768 heads=12 vocab=1024 seq=128" "layers=2 hidden=1024 heads=16 vocab=1024 seq=256"; do
    i=0
    : >"$out"
    while [ $i -lt "$reps" ]; do
        # a failed run stops the benchmark: its numbers would be zeros
        # shellcheck disable=SC2086
        if ! mpirun -np 2 "$ENGINE" $shape micro_batch=4 accum=2 steps=5 zero=1 ckpt=0 >"$out.run"; then
            echo "bench-engine.sh: zplan-engine failed on $shape" >&2
            exit 1
        fi
        jq -er '"\(.gemm.efficiency) \(.overhead_fraction) \(.steady_step_s) \(.gemm.flops_per_s)"' "$out.run" >>"$out" ||
            { echo "bench-engine.sh: no measurement in zplan-engine's output on $shape" >&2; exit 1; }
        i=$((i + 1))
    done
    sort -n "$out" | awk -v s="$shape" '
        { e[NR] = $1; o[NR] = $2; t[NR] = $3; f[NR] = $4 }
        function med(a, n,   i, j, x) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
                                    return a[int((n + 1) / 2)] }
        END { gsub(/ /, ",", s); printf "  %-44s %8.1f%% %8.1f%% %10.3f %10.1f\n", s, 100 * med(e, NR), 100 * med(o, NR), med(t, NR), med(f, NR) / 1e9 }'
done
