#!/bin/sh
# store.sh - the SQLite store: what a run records, list and show, the
# database path, concurrent writers, and databases zplan must refuse.
. "$(dirname "$0")/lib.sh"

if command -v sqlite3 >/dev/null 2>&1; then
    have_sqlite=1
else
    have_sqlite=0
fi
# sq DB SQL: one value from the sqlite3 shell ("" without it)
sq() {
    sqlite3 -batch "$1" "$2" 2>/dev/null
}

S=$tmp/store.db

# ---------------------------------------------------------------- two runs

zp --params 11e9 --gpus 8 --db "$S" --json
ok $rc "run 1: --params 11e9 --gpus 8 --db exits 0" || show_run
cp "$outf" "$tmp/r1.json"
jok "$tmp/r1.json" '.run_id == 1' "run 1: run_id is 1 in a new database"
# a pipelined run, so that it records several stages
zp --model llama2-7b --gpus 16 --pp 2 --db "$S" --json
ok $rc "run 2: --model llama2-7b --gpus 16 --pp 2 --db exits 0" || show_run
cp "$outf" "$tmp/r2.json"
jok "$tmp/r2.json" '.run_id == 2 and .chosen.pp == 2' "run 2: run_id is 2, the chosen plan has 2 stages"

zp list --db "$S" --json
ok $rc "list --json exits 0"
cp "$outf" "$tmp/list.json"
jok "$tmp/list.json" 'length == 2 and [.[].run_id] == [2, 1]' "list --json: 2 runs, newest first"
jok "$tmp/list.json" '.[0].model == "llama2-7b" and .[0].params == 6738415616 and .[0].gpus == 16 and .[1].gpus == 8' \
    "list --json: each run's model and cluster"
zp list --db "$S"
ok "$(test $rc -eq 0 && awk '$1 == 2 {a = NR} $1 == 1 {b = NR} END {exit !(a && b && a < b)}' "$outf"; echo $?)" \
    "list: a table with run 2 above run 1"

zp show 1 --db "$S" --json
ok $rc "show 1 --json exits 0"
jok "$outf" '.executions == []' "show 1 --json: no executions yet"
jq -S 'del(.executions)' "$outf" >"$tmp/s1.json" 2>/dev/null
jq -S . "$tmp/r1.json" >"$tmp/r1s.json"
ok "$(test -s "$tmp/s1.json" && cmp -s "$tmp/s1.json" "$tmp/r1s.json"; echo $?)" "show 1 --json equals run 1's --json output (plus its executions)"
zp show 2 --db "$S" --json
jq -S 'del(.executions)' "$outf" >"$tmp/s2.json" 2>/dev/null
jq -S . "$tmp/r2.json" >"$tmp/r2s.json"
ok "$(test -s "$tmp/s2.json" && cmp -s "$tmp/s2.json" "$tmp/r2s.json"; echo $?)" "show 2 --json equals run 2's --json output"
zp show --db "$S" --json
jq -S 'del(.executions)' "$outf" >"$tmp/sl.json" 2>/dev/null
ok "$(test -s "$tmp/sl.json" && cmp -s "$tmp/sl.json" "$tmp/r2s.json"; echo $?)" "show without an id: the latest run (--json)"
zp show --db "$S"
ok "$(test $rc -eq 0 && head -n 1 "$outf" | grep -q '^Run 2 ' && grep -q '^Chosen plan: dp=[0-9]* tp=[0-9]* pp=2 ' "$outf"; echo $?)" \
    "show without an id: the latest run (text)"

# ---------------------------------------------------------------- the tables

if [ $have_sqlite = 1 ]; then
    is "$(sq "$S" 'PRAGMA user_version')" 3 "schema: PRAGMA user_version is 3 (runs and plans; executions; profiles)"
    is "$(sq "$S" 'PRAGMA journal_mode')" wal "schema: journal_mode is wal"
    for r in 1 2; do
        f=$tmp/r$r.json
        is "$(sq "$S" "SELECT count(*) FROM plans WHERE run_id = $r AND kind = 'top'")" \
            "$(jq '.plans | length' "$f")" "run $r: plans rows of kind 'top' == length of .plans"
        is "$(sq "$S" "SELECT count(*) FROM plans WHERE run_id = $r AND kind = 'classic'")" 7 \
            "run $r: 7 plans rows of kind 'classic'"
        is "$(sq "$S" "SELECT count(*) FROM plan_stages WHERE run_id = $r")" "$(jq '.chosen.pp' "$f")" \
            "run $r: plan_stages rows == chosen.pp"
        is "$(sq "$S" "SELECT count(*) FROM plan_comm WHERE run_id = $r")" "$(jq '.chosen.comm | length' "$f")" \
            "run $r: plan_comm rows == length of chosen.comm"
        is "$(sq "$S" "SELECT (SELECT sum(count) FROM rejections WHERE run_id = $r) + fitting = candidates
                        AND fitting > 0 FROM runs WHERE id = $r")" 1 \
            "run $r: sum(rejections.count) + runs.fitting == runs.candidates"
        is "$(sq "$S" "SELECT candidates || ' ' || fitting || ' ' || params FROM runs WHERE id = $r")" \
            "$(jq -r '"\(.candidates_evaluated) \(.fitting) \(.model.params)"' "$f")" \
            "run $r: runs row holds the answer's candidates, fitting and params"
        is "$(sq "$S" "SELECT dp || ' ' || tp || ' ' || pp || ' ' || zero || ' ' || micro_batch || ' ' || total_bytes
                        FROM plans WHERE run_id = $r AND kind = 'top' AND rank = 1")" \
            "$(jq -r '.plans[0] | "\(.dp) \(.tp) \(.pp) \(.zero) \(.micro_batch) \(.memory_bytes.total)"' "$f")" \
            "run $r: the rank-1 plans row is plans[0]"
    done
    is "$(sq "$S" "SELECT count(*) FROM plan_stages WHERE run_id = 2 AND total_bytes =
                    params_bytes + grads_bytes + optimizer_bytes + activations_bytes + buffers_bytes + overhead_bytes")" 2 \
        "run 2: each stage's total_bytes is the sum of its classes"
else
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do skip "sqlite3 shell not installed"; done
fi

# ---------------------------------------------------------------- where the database is

mkdir "$tmp/cwd"
E=$tmp/env.db
(cd "$tmp/cwd" && ZPLAN_DB=$E "$ZPLAN" --params 1e9 --gpus 1 >/dev/null 2>"$tmp/env.err")
ok $? "ZPLAN_DB: a run without --db exits 0"
ok "$(test -f "$E" && test ! -e "$tmp/cwd/zplan.db"; echo $?)" "ZPLAN_DB: the run went to \$ZPLAN_DB, not ./zplan.db"
(cd "$tmp/cwd" && ZPLAN_DB=$E "$ZPLAN" list --json >"$tmp/env.json" 2>/dev/null)
jok "$tmp/env.json" 'length == 1 and .[0].params > 0' "ZPLAN_DB: list without --db reads \$ZPLAN_DB"
(cd "$tmp/cwd" && ZPLAN_DB=$E "$ZPLAN" --params 1e9 --gpus 1 --db "$tmp/other.db" >/dev/null 2>&1)
(cd "$tmp/cwd" && ZPLAN_DB=$E "$ZPLAN" list --json >"$tmp/env2.json" 2>/dev/null)
ok "$(test -f "$tmp/other.db" && jtrue "$tmp/env2.json" 'length == 1'; echo $?)" "--db wins over ZPLAN_DB"

(cd "$tmp/cwd" && unset ZPLAN_DB && "$ZPLAN" --params 1e9 --gpus 1 --no-store >/dev/null 2>&1)
ok "$(test $? -eq 0 && test ! -e "$tmp/cwd/zplan.db"; echo $?)" "--no-store: no ./zplan.db"
zp --params 1e9 --gpus 1 --no-store --db "$tmp/nostore.db"
ok "$(test $rc -eq 0 && test ! -e "$tmp/nostore.db"; echo $?)" "--no-store --db PATH: PATH is not created"
zp --params 1e9 --gpus 1 --no-store --db "$tmp/nostore.db" --json
jok "$outf" '.run_id == null' "--no-store: run_id is null"

# ---------------------------------------------------------------- concurrent writers

W=$tmp/conc.db
pids=
for i in 1 2 3 4; do
    "$ZPLAN" --params "${i}e9" --gpus 8 --db "$W" >/dev/null 2>"$tmp/conc$i.err" &
    pids="$pids $!"
done
failed=0
for p in $pids; do
    wait "$p" || failed=$((failed + 1))
done
is "$failed" 0 "4 concurrent zplan runs into one database all succeed"
[ "$failed" -eq 0 ] || diag "$(cat "$tmp"/conc*.err)"
zp list --db "$W" --json
jok "$outf" 'length == 4 and ([.[].run_id] | sort) == [1, 2, 3, 4]' "4 concurrent runs: 4 runs recorded, ids 1..4"
jok "$outf" '([.[].params] | sort) as $p | ($p | length) == 4 and $p[0] < $p[1] and $p[1] < $p[2] and $p[2] < $p[3]' \
    "4 concurrent runs: each run's own model was recorded"

# ---------------------------------------------------------------- databases to refuse

V=$tmp/future.db
"$ZPLAN" --params 1e9 --gpus 1 --db "$V" >/dev/null 2>&1
if [ $have_sqlite = 1 ]; then
    sqlite3 "$V" 'PRAGMA user_version = 99' >/dev/null 2>&1
    before=$(sq "$V" 'SELECT count(*) FROM runs')
    is "$before" 1 "schema 99: the database holds one run"
    zp --params 2e9 --gpus 1 --db "$V"
    is "$rc" 1 "schema 99: planning into it exits 1"
    ok "$(test ! -s "$outf" && test "$(wc -l <"$errf")" -eq 1 && grep -q '^zplan: .*schema version.*99' "$errf"; echo $?)" \
        "schema 99: one 'zplan:' line naming the schema version" || diag "stderr: $err"
    is "$(sq "$V" 'SELECT count(*) FROM runs')" 1 "schema 99: no run was added"
    is "$(sq "$V" 'PRAGMA user_version')" 99 "schema 99: the version was left alone"
    zp list --db "$V"
    ok "$(test $rc -eq 1 && grep -q '^zplan: .*schema version' "$errf"; echo $?)" "schema 99: list exits 1 naming the schema version" ||
        show_run
else
    for i in 1 2 3 4 5 6; do skip "sqlite3 shell not installed"; done
fi

G=$tmp/garbage.db
awk 'BEGIN {for (i = 0; i < 200; i++) printf "%05d this is not an SQLite database, just bytes\n", i}' >"$G"
cp "$G" "$tmp/garbage.orig"
zp --params 1e9 --gpus 1 --db "$G"
is "$rc" 1 "garbage --db: planning exits 1"
ok "$(test ! -s "$outf" && test "$(wc -l <"$errf")" -eq 1 && grep -q '^zplan: .*garbage.db' "$errf"; echo $?)" \
    "garbage --db: one 'zplan:' line naming the file" || diag "stderr: $err"
ok "$(cmp -s "$G" "$tmp/garbage.orig" && test ! -e "$G-wal" && test ! -e "$G-journal"; echo $?)" \
    "garbage --db: the file is left byte-identical"
zp list --db "$G"
ok "$(test $rc -eq 1 && cmp -s "$G" "$tmp/garbage.orig"; echo $?)" "garbage --db: list exits 1, file unchanged"
zp show 1 --db "$G"
ok "$(test $rc -eq 1 && cmp -s "$G" "$tmp/garbage.orig"; echo $?)" "garbage --db: show exits 1, file unchanged"

finish
