#!/bin/sh
# engine.sh - the execution engine trains a GPT for real on MPI ranks:
# the oracle (every data-parallel / ZeRO layout, with and without offload,
# and every recompute mode computes
# the same loss curve for the same model, seed and global batch, on 1, 2, 4
# and 8 ranks), the loss falls, and the device cap is a recorded
# out-of-memory outcome, not a crash.
. "$(dirname "$0")/lib.sh"

: "${ZPLAN_ENGINE:=$(dirname "$ZPLAN")/zplan-engine}"
if [ ! -x "$ZPLAN_ENGINE" ]; then
    echo "1..0 # SKIP zplan-engine is not built (configure found no MPI or OpenBLAS)"
    exit 0
fi
if ! command -v mpirun >/dev/null 2>&1; then
    echo "1..0 # SKIP mpirun is not installed (Debian: openmpi-bin)"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

# a small model; global batch 8 sequences per step for every layout
MODEL="layers=2 hidden=32 heads=4 vocab=64 seq=16 steps=20 seed=7"

# eng NP MB ACCUM ZERO CKPT [key=value...]: run, the JSON in $outf
eng() {
    np=$1 mb=$2 acc=$3 z=$4 k=$5
    shift 5
    # shellcheck disable=SC2086
    run timeout 300 mpirun -np "$np" "$ZPLAN_ENGINE" $MODEL micro_batch="$mb" accum="$acc" zero="$z" ckpt="$k" "$@"
}

eng 1 2 4 0 0
ok $rc "1 rank, DP, no recompute: trains" || diag "$err"
cp "$outf" "$tmp/ref.json"
jok "$tmp/ref.json" '.status == "ok" and (.losses | length) == 20' "20 steps, status ok"
jok "$tmp/ref.json" '.losses[19] < .losses[0] * 0.9' "the loss falls by more than 10% over 20 steps"
jok "$tmp/ref.json" '.losses[0] > 3.5 and .losses[0] < 4.8' "the first loss is near ln(64) = 4.16 (uniform start)"

# the oracle: every layout (ZeRO 0-3, offload of the optimizer at ZeRO >= 1
# and of the parameters too at ZeRO-3, each recompute mode), relative
# difference <= 1e-4 per step
names="none optimizer optimizer+params"
for np in 1 2 4 8; do
    case $np in 1) mb=2 acc=4 ;; 2) mb=2 acc=2 ;; 4) mb=2 acc=1 ;; 8) mb=1 acc=1 ;; esac
    for z in 0 1 2 3; do
        for off in 0 1 2; do
            [ "$off" -ge 1 ] && [ "$z" -lt 1 ] && continue
            [ "$off" -eq 2 ] && [ "$z" -lt 3 ] && continue
            offname=$(echo "$names" | cut -d' ' -f$((off + 1)))
            for k in 0 1 2; do
                [ "$np" -eq 1 ] && [ "$z" -eq 0 ] && [ "$k" -eq 0 ] && continue
                eng "$np" "$mb" "$acc" "$z" "$k" offload="$off"
                if [ "$rc" -ne 0 ]; then
                    ok 1 "$np ranks ZeRO-$z offload $offname ckpt $k: trains"
                    diag "$err"
                    continue
                fi
                jok "$outf" '[.losses, $ref[0].losses] | transpose | map((.[0] - .[1]) / .[1] | if . < 0 then -. else . end) | max <= 1e-4' \
                    "$np ranks, ZeRO-$z, offload $offname, recompute $k: the loss curve of 1 rank (<= 1e-4 relative per step)" \
                    --slurpfile ref "$tmp/ref.json"
            done
        done
    done
done

# offload moves the optimizer to the host pool: nothing of it on the device
eng 2 2 2 2 0 offload=1
jok "$outf" 'all(.per_rank[]; .device_class_peaks.optimizer == 0 and .device_class_peaks.grads == 0 and
    .host_class_peaks.optimizer > 0 and .host_class_peaks.grads > 0)' \
    "ZeRO-2 + optimizer offload: optimizer and gradient shards in the host pool only"
jok "$outf" '.bus_bytes_per_step["device-to-host"] > 0 and .bus_bytes_per_step["host-to-device"] > 0' \
    "ZeRO-2 + optimizer offload: bytes copied both ways between the pools"
eng 2 2 2 1 0 offload=2
ok "$([ "$rc" -eq 2 ] && grep -q 'offload' "$errf"; echo $?)" "parameter offload below ZeRO-3 is refused (exit 2)"

# the cap on the device pool: a recorded out-of-memory outcome
eng 2 2 2 0 0 device_cap=100000
ok "$([ "$rc" -ne 0 ] && jq -e '.status == "oom"' "$outf" >/dev/null; echo $?)" \
    "a device cap below the parameters: status oom, not a crash"
eng 1 2 1 0 9
ok "$([ "$rc" -eq 2 ] && grep -q 'ckpt=9' "$errf"; echo $?)" "a bad argument is refused (exit 2) naming it"

finish
