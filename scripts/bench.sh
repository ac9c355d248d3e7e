#!/bin/sh
# scripts/bench.sh - the planner's speed goals, measured:
#   1. candidate plans evaluated per second on one core (scripts/bench_search)
#   2. wall-clock time of the whole process for the largest search,
#      `zplan --params 1e12 --gpus 16384 --no-store`, median of RUNS runs.
# Run from a built tree (sh scripts/setup first).  RUNS (default 21).
set -eu
case ${1:-} in
"") ;;
-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
*) echo "bench.sh: unknown argument '$1' (it takes none; RUNS= in the environment)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
runs=${RUNS:-21}
make scripts/bench_search >/dev/null   # rebuilt when the core changed
echo "# $(uname -m), $(nproc) cores, $(date -u +%Y-%m-%d)"
taskset -c 0 ./scripts/bench_search 2>/dev/null || ./scripts/bench_search
echo "# whole process: zplan --params 1e12 --gpus 16384 --no-store (text output), $runs runs"
i=0
times=$(mktemp "${TMPDIR:-/tmp}/zplan-bench.XXXXXX")   # not into the tree
trap 'rm -f "$times"' EXIT
trap 'exit 1' HUP INT TERM
: >"$times"
while [ "$i" -lt "$runs" ]; do
    s=$(date +%s%N)
    ./zplan --params 1e12 --gpus 16384 --no-store >/dev/null
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 )) >>"$times"
    i=$((i + 1))
done
sort -n "$times" | awk '{ t[NR] = $1 } END {
    printf "  wall time: median %.1f ms, min %.1f ms, max %.1f ms (goal: < 500 ms)\n",
           t[int((NR + 1) / 2)] / 1000, t[1] / 1000, t[NR] / 1000 }'
