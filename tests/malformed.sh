#!/bin/sh
# malformed.sh - a stored run, an execution record or an engine's output
# that is not as zplan writes it (a shared database edited by hand, a
# broken engine) is refused in one line naming the document and the field,
# exit 1, never a crash (a stored run without model.heads gave SIGFPE, exit
# 136, at zplan exec and zplan report).
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null 2>&1 || missing "sqlite3 is not installed"
DB=$tmp/m.db
"$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --tp 1 --pp 1 --zero 1 --micro-batch 2 --global-batch 8 --db "$DB" \
    >/dev/null 2>&1
ok $? "a run to spoil"
cp "$DB" "$tmp/clean.db"

# spoil SQL FIELD: a fresh copy of the run with result_json changed by SQL
spoil() {
    cp "$tmp/clean.db" "$DB"
    sqlite3 "$DB" "UPDATE runs SET result_json = $1 WHERE id = 1"
}
# refused CMD FIELD WHAT: exit 1, one line naming run 1 and the field
refused() {
    cmd=$1 field=$2 what=$3
    # shellcheck disable=SC2086
    run "$ZPLAN" $cmd --db "$DB"
    ok "$([ "$rc" -eq 1 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q "run 1" "$errf" &&
          grep -qF -- "$field" "$errf"; echo $?)" "$what: zplan $cmd exits 1 naming run 1 and $field" ||
        diag "rc=$rc $(head -c 300 "$errf")"
}
for c in "exec 1" "report 1 --out $tmp/rep" "show 1"; do
    spoil "json_remove(result_json, '\$.model.heads')"
    refused "$c" model.heads "no model.heads"
done
spoil "json_set(result_json, '\$.cluster.gpus', 0)"
refused "report 1 --out $tmp/rep" cluster.gpus "cluster.gpus = 0"
spoil "json_set(result_json, '\$.plans[0].dp', 0)"
refused "exec 1" "plans[0].dp" "plans[0].dp = 0"
spoil "json_set(result_json, '\$.training.seq', 'long')"
refused "show 1" training.seq "training.seq a string"
spoil "json_set(result_json, '\$.model.kv_heads', 5)"
refused "exec 1" "model" "kv_heads 5 (they no longer divide the 12 heads)"
spoil "json_set(result_json, '\$.chosen.pp', 3)"
refused "report 1 --out $tmp/rep" "chosen" "chosen.pp 3 on 2 GPUs"
spoil "json_set(result_json, '\$.model.layers', 1e300)"
refused "exec 1" "model.layers" "model.layers 1e300"
spoil "'[]'"
refused "show 1" "object" "a result that is an array"
# show --json prints the stored document as it is (to inspect it)
spoil "json_remove(result_json, '\$.model.heads')"
run "$ZPLAN" show 1 --json --db "$DB"
ok "$([ "$rc" -eq 0 ] && jtrue "$outf" '.model.heads == null'; echo $?)" \
    "zplan show 1 --json still prints the spoiled document as stored"
# a truncated result (not JSON at all): show --json prints its text under
# stored_result with the executions, and exits 1 as the text view does
spoil "'{\"model\": '"
run "$ZPLAN" show 1 --json --db "$DB"
ok "$([ "$rc" -eq 1 ] && jtrue "$outf" '.run_id == 1 and .stored_result == "{\"model\": " and .executions == []' &&
      grep -q "run 1: the stored result is not a JSON object" "$errf"; echo $?)" \
    "zplan show 1 --json on a truncated result: its text as stored, exit 1" || diag "rc=$rc $(head -c 300 "$errf")"

# an execution record edited by hand
cp "$tmp/clean.db" "$DB"
sqlite3 "$DB" "INSERT INTO executions (run_id, plan_rank, created, status, backend, ranks, steps, scale, record_json)
    VALUES (1, 1, '2026-12-04T00:00:00Z', 'ok', 'cpu', 2, 3, 'none',
    '{\"exec_id\": 1, \"status\": \"ok\", \"per_rank\": [{\"rank\": 0, \"measured_bytes\": {\"peak\": \"lots\"}}]}')" \
    2>"$errf" || diag "$(cat "$errf")"
for c in "show 1" "report 1 --out $tmp/rep"; do
    run "$ZPLAN" $c --db "$DB"
    ok "$([ "$rc" -eq 1 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q "execution 1 of run 1" "$errf" &&
          grep -qF 'per_rank[0].measured_bytes.peak' "$errf"; echo $?)" \
        "a spoiled execution record: zplan $c exits 1 naming the execution and the field" ||
        diag "rc=$rc $(head -c 300 "$errf")"
done

# a truncated execution record (not a JSON object at all): refused the same
# way, not shown as a record with nothing in it; --json shows it as stored
cp "$tmp/clean.db" "$DB"
sqlite3 "$DB" "INSERT INTO executions (run_id, plan_rank, created, status, backend, ranks, steps, scale, record_json)
    VALUES (1, 1, '2026-12-04T00:00:00Z', 'ok', 'cpu', 2, 3, 'none', '{\"exec_id\": 1, \"status\": \"ok\", \"per_ra')" \
    2>"$errf" || diag "$(cat "$errf")"
for c in "show 1" "report 1 --out $tmp/rep-trunc"; do
    run "$ZPLAN" $c --db "$DB"
    ok "$([ "$rc" -eq 1 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q "execution 1 of run 1: the stored document is not valid" "$errf" &&
          [ ! -e "$tmp/rep-trunc" ]; echo $?)" \
        "a truncated execution record: zplan $c exits 1 naming the execution, nothing written" ||
        diag "rc=$rc $(head -c 300 "$errf")"
done
run "$ZPLAN" show 1 --json --db "$DB"
ok "$([ "$rc" -eq 0 ] && jtrue "$outf" '.executions[0].stored_record | startswith("{\"exec_id\": 1")'; echo $?)" \
    "zplan show 1 --json shows the truncated record's text as stored" || diag "rc=$rc $(head -c 300 "$outf")"

# an engine whose output is not what zplan-engine prints: recorded as
# failed, saying why, not read
if command -v mpirun >/dev/null 2>&1; then
    # (before ZPLAN_ENGINE=... run: dash keeps an assignment before a function)
    real=${ZPLAN_ENGINE:-$(dirname "$ZPLAN")/zplan-engine}
    cp "$tmp/clean.db" "$DB"
    printf '#!/bin/sh\n[ "${OMPI_COMM_WORLD_RANK:-0}" = 0 ] || exit 0\necho %s\n' \
        "'{\"status\":\"ok\",\"ranks\":0,\"per_rank\":[{\"rank\":0}]}'" >"$tmp/bad-engine"
    chmod +x "$tmp/bad-engine"
    ZPLAN_ENGINE=$tmp/bad-engine run "$ZPLAN" exec 1 --db "$DB" --steps 1 --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --json
    ok "$([ "$rc" -eq 1 ] && jtrue "$outf" '.status == "failed" and (.reason | test("engine.s output.*ranks"))'
          echo $?)" "an engine printing ranks 0: recorded as failed, the record says which field" ||
        diag "rc=$rc $(jq -c '{status, reason}' "$outf" 2>/dev/null) $(head -c 300 "$errf")"
    # the real engine's output with one thing changed (jq -M: Open MPI gives
    # the ranks a terminal, where jq would colour it): its answer for the
    # ranks and steps launched is checked beyond the schema
    if [ -x "$real" ] && command -v jq >/dev/null 2>&1; then
        for m in 'no-ranks:.per_rank = []:per_rank has 0 of the 2 ranks' \
                 'rank-twice:.per_rank[1].rank = 0:per_rank.1..rank 0 is given twice' \
                 'many-losses:.losses = (.losses + .losses + .losses):losses holds 6 values for 2 steps'; do
            name=${m%%:*}; rest=${m#*:}; filt=${rest%%:*}; want=${rest#*:}
            # (the engine's own leaks are not what this checks: a sanitizer build's, at exit, are not counted)
            printf '#!/bin/sh\nASAN_OPTIONS=detect_leaks=0 "%s" "$@" | jq -M -c %s\n' "$real" \
                "'if has(\"per_rank\") then $filt else . end'" >"$tmp/eng-$name"
            chmod +x "$tmp/eng-$name"
            cp "$tmp/clean.db" "$DB"
            OPENBLAS_NUM_THREADS=1 ZPLAN_ENGINE=$tmp/eng-$name run "$ZPLAN" exec 1 --db "$DB" --steps 2 \
                --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --json
            ok "$([ "$rc" -eq 1 ] && jtrue "$outf" '.status == "failed" and (.reason | test("engine.s output is not valid: " + $w))' \
                  --arg w "$want"; echo $?)" "an engine's output with $name: recorded as failed, saying so" ||
                diag "rc=$rc $(jq -c '{status, reason}' "$outf" 2>/dev/null) $(head -c 300 "$errf")"
        done
    else
        for m in no-ranks rank-twice many-losses; do
            skip_dep "an engine's output with $m: zplan-engine or jq is missing"
        done
    fi
else
    skip_dep "mpirun is not installed"
fi
finish
