#!/bin/sh
# groups.sh - the engine's process groups for tensor, context, data and
# pipeline parallelism (the first part of the TP/PP issue), on MPI ranks:
# for every (tp, cp, dp, pp) factorisation of 1, 2, 4 and 8 ranks,
# zplan-engine groups splits the world into the four kinds of group and
# checks each against the layout (size and place, the sum of its members'
# world ranks, a broadcast from its first rank, the bytes counted) and
# sends each pipeline stage's world rank to the next stage.  Here the
# coordinates it reports are held to Megatron's order, tp fastest, then cp,
# dp, pp: rank = tp + T (cp + C (dp + D pp)).
. "$(dirname "$0")/lib.sh"

need_engine
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

for n in 1 2 4 8; do
    for t in 1 2 4 8; do
        for c in 1 2 4 8; do
            for p in 1 2 4 8; do
                [ $((t * c * p)) -le "$n" ] && [ $((n % (t * c * p))) -eq 0 ] || continue
                d=$((n / (t * c * p)))
                what="$n ranks, tp $t cp $c dp $d pp $p"
                run timeout 120 mpirun -np "$n" "$ZPLAN_ENGINE" groups tp="$t" cp="$c" pp="$p"
                ok "$rc" "$what: every group checks out" || diag "$(head -c 600 "$outf") $(head -c 400 "$errf")"
                jok "$outf" '.failed == 0 and .checks > 0 and .tp == $t and .cp == $c and .dp == $d and .pp == $p and
                    (.ranks | length) == $n and all(.ranks[]; .rank == .tp + $t * (.cp + $c * (.dp + $d * .pp)))' \
                    "$what: coordinates in Megatron's order (tp fastest, then cp, dp, pp)" \
                    --argjson t "$t" --argjson c "$c" --argjson d "$d" --argjson p "$p" --argjson n "$n"
            done
        done
    done
done
run timeout 60 mpirun -np 4 "$ZPLAN_ENGINE" groups tp=3
ok "$([ "$rc" -eq 2 ] && grep -q 'divide' "$errf"; echo $?)" "tp 3 on 4 ranks: refused (exit 2), saying the degrees must divide the ranks"

finish
