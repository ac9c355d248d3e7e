#!/bin/sh
# fuzz.sh - what the fuzzers found (scripts/fuzz, tests/fuzz/), replayed
# through the real command line.  Every reproducer a harness kept,
# tests/fuzz/HARNESS/crash-*, goes to the command that reads that kind of
# input, and the command must answer as it does for any bad input: exit 0,
# or 2 (bad input) or 1 (a stored document refused) with one line on
# stderr; never a signal, a sanitizer report or a second line.  Then each
# defect's own check: what the fix promises.
. "$(dirname "$0")/lib.sh"

F=$ZPLAN_SRCDIR/tests/fuzz

# answered ALLOWED LABEL: the last command ($rc, $errf) exited with one of
# ALLOWED (a list of statuses), and with one line on stderr if not 0
answered() {
    _problems=
    case " $1 " in
    *" $rc "*) ;;
    *) _problems="exit status $rc, expected one of $1" ;;
    esac
    if [ "$rc" -ne 0 ]; then
        _lines=$(wc -l <"$errf" | tr -d ' ')
        [ "$_lines" -eq 1 ] || _problems="$_problems; $_lines lines on stderr, expected 1"
        grep -q '^zplan: ' "$errf" || _problems="$_problems; stderr does not start with 'zplan: '"
    fi
    if [ -z "$_problems" ]; then
        ok 0 "$2"
    else
        ok 1 "$2"
        diag "$_problems"
        diag "stderr: $(head -c 600 "$errf")"
    fi
}

# exec_answered ALLOWED LABEL: as answered, for zplan exec, whose stderr
# also carries the launch and progress lines: each line its own "zplan: ",
# bar the launcher's (mpirun's) messages
exec_answered() {
    _problems=
    case " $1 " in
    *" $rc "*) ;;
    *) _problems="exit status $rc, expected one of $1" ;;
    esac
    grep -q 'runtime error\|Sanitizer\|Segmentation' "$errf" && _problems="$_problems; a crash report on stderr"
    tail -n 1 "$errf" | grep -q '^zplan: ' || [ ! -s "$errf" ] || _problems="$_problems; the last line is not zplan's"
    if [ -z "$_problems" ]; then
        ok 0 "$2"
    else
        ok 1 "$2"
        diag "$_problems"
        diag "stderr: $(tail -c 600 "$errf")"
    fi
}

# have HARNESS: whether tests/fuzz/HARNESS holds reproducers (a skip if not)
have() {
    for _f in "$F/$1"/crash-*; do
        [ -f "$_f" ] && return 0
    done
    skip "$1: no reproducers in tests/fuzz/$1"
    return 1
}

# ---- number: an option's value, as the options that take a count, an
# integer, a fraction, a size and a name read it
have number && for f in "$F"/number/crash-*; do
    v=$(cat "$f")
    for opt in --params --gpus --frag --host-mem --cuda-ctx --offload; do
        case $opt in
        --params) run "$ZPLAN" --params "$v" --gpus 1 --no-store ;;
        *) run "$ZPLAN" --params 1e9 --gpus 1 "$opt" "$v" --no-store ;;
        esac
        answered "0 2" "number $(basename "$f"): $opt"
    done
done

# ---- config: a config.json, as zplan --config reads it; what it plans is
# recorded, and zplan show accepts the record
have config && for f in "$F"/config/crash-*; do
    run "$ZPLAN" --config "$f" --gpus 8 --db "$tmp/config.db"
    answered "0 2" "config $(basename "$f"): zplan --config"
    if [ "$rc" -eq 0 ]; then
        run "$ZPLAN" show --db "$tmp/config.db"
        answered 0 "config $(basename "$f"): zplan show of its run"
    fi
done

# ---- plan: a plan file (or, after a first line #argv, a command line a
# word a line), as zplan --from reads it
have plan && for f in "$F"/plan/crash-*; do
    if [ "$(head -n 1 "$f")" = "#argv" ]; then
        _ifs=$IFS
        IFS='
'
        set -f
        # shellcheck disable=SC2046
        set -- $(tail -n +2 "$f")
        IFS=$_ifs
        set +f
        run "$ZPLAN" "$@" --no-store
        answered "0 2" "plan $(basename "$f"): the command line"
    else
        run "$ZPLAN" --from "$f" --no-store
        answered "0 2" "plan $(basename "$f"): zplan --from"
    fi
done

# ---- gpu: a GPU preset (data/gpus/NAME.json) as zplan --gpu NAME reads it
have gpu && for f in "$F"/gpu/crash-*; do
    d=$tmp/data-$(basename "$f" .json)
    mkdir -p "$d/gpus" && ln -s "$ZPLAN_DATADIR/models" "$d/models" && cp "$f" "$d/gpus/fuzz.json"
    ZPLAN_DATADIR=$d run "$ZPLAN" --params 1e9 --gpu fuzz --db "$tmp/gpu.db"
    answered "0 2" "gpu $(basename "$f"): zplan --gpu"
    if [ "$rc" -eq 0 ]; then
        run "$ZPLAN" show --db "$tmp/gpu.db"
        answered 0 "gpu $(basename "$f"): zplan show of its run"
    fi
done

# ---- engine: zplan-engine's stdout, as zplan exec reads it.  A stand-in
# engine prints the reproducer (rank 0; the devices probe answers as the
# CUDA engine on one H200); whatever it printed, the record zplan exec
# writes must be one that zplan show and report accept.
if [ -x "${ZPLAN_ENGINE:-$(dirname "$ZPLAN")/zplan-engine}" ] && command -v mpirun >/dev/null 2>&1; then
    : "${ZPLAN_ENGINE:=$(dirname "$ZPLAN")/zplan-engine}"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    DB=$tmp/engine.db
    "$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --tp 1 --pp 1 --zero 1 --micro-batch 2 --global-batch 8 --db "$DB" \
        >/dev/null 2>&1
    ok $? "engine: a run to execute"
    cat >"$tmp/engine" <<'EOS'
#!/bin/sh
if [ "$1" = devices ]; then
    echo '{"cuda_built":1,"gpus":1,"names":["NVIDIA H200"]}'
    exit 0
fi
[ "${OMPI_COMM_WORLD_RANK:-0}" = 0 ] || exit 0
cat "$ZPLAN_FUZZ_OUTPUT"
EOS
    chmod +x "$tmp/engine"
    n=0
    for f in "$F"/engine/crash-*; do
        [ -f "$f" ] || continue
        for backend in cpu cuda; do
            n=$((n + 1))
            name=$(basename "$f" .txt)
            ZPLAN_ENGINE=$tmp/engine ZPLAN_FUZZ_OUTPUT=$f run "$ZPLAN" exec 1 --db "$DB" --steps 2 --backend $backend \
                --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --json
            cp "$outf" "$tmp/$name-$backend.json"
            cp "$errf" "$tmp/$name-$backend.err"
            exec_answered "0 1" "engine $name ($backend): zplan exec records the execution"
            run "$ZPLAN" show 1 --db "$DB"
            answered 0 "engine $name ($backend): zplan show accepts the record zplan exec wrote"
        done
    done
    [ "$n" -gt 0 ] || skip "no engine reproducers in $F/engine"
    # the defects themselves, in the records of the runs above
    jok "$tmp/crash-bus-bytes-negative-cpu.json" '.status == "failed" and (.reason | test("bus_bytes_per_step.total"))' \
        "a negative bus byte count is refused by the output check (named), not recorded"
    jok "$tmp/crash-skipped-steps-cpu.json" '.status == "failed" and (.reason | test("skipped_steps"))' \
        "skipped_steps 1.5 is refused by the output check (named), not recorded"
    jok "$tmp/crash-progress-out-of-range-cpu.json" '.steps_done == 0 and .step_time_s.measured == null' \
        "progress lines with a negative time or a loss of 1e300 are not counted as steps"
    ok "$(grep -q 'the measured profile nvidia-h200-cuda was not kept: .*alloc_granule_mib' "$tmp/crash-profile-granule-cuda.err"
          echo $?)" "a 4 GiB allocation granule: the measured profile is not kept, and the warning says why" ||
        diag "$(cat "$tmp/crash-profile-granule-cuda.err")"
    run "$ZPLAN" --params 1e9 --gpus 1 --gpu nvidia-h200-cuda --db "$DB" --no-store
    ok "$([ "$rc" -eq 2 ] && grep -q 'is not a preset' "$errf"; echo $?)" \
        "no unreadable profile stands in the way of --gpu nvidia-h200-cuda" || diag "$err"
    # losses the engine reports as null (not finite) stay null in the record
    printf '{"status":"ok","ranks":2,"losses":[4.5,null,4.25]}\n' >"$tmp/null-loss.txt"
    ZPLAN_ENGINE=$tmp/engine ZPLAN_FUZZ_OUTPUT=$tmp/null-loss.txt run "$ZPLAN" exec 1 --db "$DB" --steps 3 \
        --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --json
    jok "$outf" '.losses == [4.5, null, 4.25]' "a loss the engine reports as null is recorded as null, not 0"
else
    skip_dep "engine: zplan-engine or mpirun is missing"
fi

# ---- execrecord: a stored execution record (the executions table),
# as zplan show and report read it
if command -v sqlite3 >/dev/null 2>&1; then
    have execrecord && for f in "$F"/execrecord/crash-*; do
        XDB=$tmp/execrecord.db
        rm -f "$XDB"
        "$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --tp 1 --pp 1 --zero 1 --micro-batch 2 --global-batch 8 \
            --db "$XDB" >/dev/null 2>&1
        sqlite3 "$XDB" "INSERT INTO executions (run_id, plan_rank, created, status, backend, ranks, steps, scale,
            record_json) VALUES (1, 1, '2026-01-01T00:00:00Z', 'ok', 'cpu', 2, 3, 'none', readfile('$f'))"
        ok $? "execrecord $(basename "$f"): the reproducer is stored" || continue
        run "$ZPLAN" show 1 --db "$XDB"
        answered "0 1" "execrecord $(basename "$f"): zplan show"
        run "$ZPLAN" report 1 --out "$tmp/xreport" --db "$XDB"
        answered "0 1 2" "execrecord $(basename "$f"): zplan report"
    done
else
    skip_dep "execrecord: sqlite3 is not installed"
fi

# ---- result: a stored run's result_json (a shared database, edited),
# read by zplan show, report and exec.  Each reproducer replaces run 1's
# document; every command answers in one line, 1 for a refused document
# (exec: 2 once it gets past the document, the engine being absent here).
if command -v sqlite3 >/dev/null 2>&1; then
    RDB=$tmp/result.db
    "$ZPLAN" --params 1e9 --gpus 8 --db "$RDB" >/dev/null 2>&1
    ok $? "result: a run whose document to replace"
    cp "$RDB" "$tmp/result-clean.db"
    for f in "$F"/result/crash-*; do
        [ -f "$f" ] || continue
        name=$(basename "$f" .json)
        cp "$tmp/result-clean.db" "$RDB"
        sqlite3 "$RDB" "UPDATE runs SET result_json = readfile('$f') WHERE id = 1"
        ok $? "result $name: the reproducer replaces the document" || continue
        run "$ZPLAN" show 1 --db "$RDB"
        answered "0 1" "result $name: zplan show"
        cp "$errf" "$tmp/$name.show.err"
        run "$ZPLAN" report 1 --out "$tmp/report-$name" --db "$RDB"
        answered "0 1 2" "result $name: zplan report"
        ZPLAN_ENGINE=$tmp/no-engine run "$ZPLAN" exec 1 --steps 1 --db "$RDB"
        answered "1 2" "result $name: zplan exec"
    done
    # byte counts beyond 64 bits (report's scaling chart computed them again
    # and they wrapped), and a micro-batch larger than the batch: refused
    ok "$(grep -q 'run 1: the stored document is not valid: training: .*2^62' \
        "$tmp/crash-activations-beyond-64-bits.show.err"; echo $?)" \
        "a stored run whose activations leave 64 bits is refused, naming the training" ||
        diag "$(cat "$tmp/crash-activations-beyond-64-bits.show.err")"
    ok "$(grep -q 'run 1: the stored document is not valid: chosen has dp x micro_batch x grad_accum = .*global batch' \
        "$tmp/crash-micro-batch-beyond-batch.show.err"; echo $?)" \
        "a stored plan whose micro-batches do not make the global batch is refused, naming it" ||
        diag "$(cat "$tmp/crash-micro-batch-beyond-batch.show.err")"
else
    skip_dep "result: sqlite3 is not installed"
fi

finish
