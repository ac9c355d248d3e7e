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
    is "$(sq "$S" 'PRAGMA user_version')" 6 "schema: PRAGMA user_version is 6 (runs and plans; executions; profiles; launchers; cp; act_offload)"
    # a run whose plans offload their activations or not (the search tries
    # offload where a layout exceeds the device): the column is each plan's
    A=$tmp/actoff.db
    zp --model llama3-8b --gpus 8 --gpu h100-sxm --seq 8192 --global-batch 64 --zero 3 --ckpt none --tp 1 --pp 1 \
        --top 1000 --db "$A" --json
    cp "$outf" "$tmp/actoff.json"
    is "$(sq "$A" "SELECT group_concat(act_offload, ',') FROM (SELECT act_offload FROM plans WHERE run_id = 1 AND
        kind = 'top' ORDER BY rank)")" "$(jq -r '[.plans[] | if .act_offload then 1 else 0 end] | join(",")' "$tmp/actoff.json")" \
        "plans.act_offload is each plan's act_offload, in rank order"
    is "$(sq "$A" "SELECT count(DISTINCT act_offload) FROM plans WHERE kind = 'top'")" 2 \
        "plans that keep their activations and plans that offload them both recorded"
    zp list --db "$A" --json
    jok "$outf" '.[0].fitting == $r[0].fitting + $r[0].act_offload_fit and $r[0].act_offload_fit > 0' \
        "zplan list: fit counts the layouts that fit with their activations offloaded too" --slurpfile r "$tmp/actoff.json"
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
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do skip_dep "sqlite3 shell not installed"; done
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
    for i in 1 2 3 4 5 6; do skip_dep "sqlite3 shell not installed"; done
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


# ---------------------------------------------------------------- files zplan does not recognise
# Each is refused with one true line, and its bytes are left as they were.

# one_line MSG PATTERN: nothing on stdout, one 'zplan:' line matching PATTERN
one_line() {
    ok "$(test ! -s "$outf" && test "$(wc -l <"$errf")" -eq 1 && grep -q "^zplan: $2" "$errf"; echo $?)" "$1" ||
        show_run
}
sha() {
    cksum <"$1"
}

if [ $have_sqlite = 1 ]; then
    # another program's SQLite database (rollback journal, as sqlite3 makes it)
    F=$tmp/foreign.db
    sqlite3 "$F" 'CREATE TABLE t1 (a); CREATE TABLE t2 (b); INSERT INTO t1 VALUES (1)'
    before=$(sha "$F")
    zp --params 1e9 --gpus 1 --db "$F"
    is "$rc" 1 "foreign database: planning into it exits 1"
    one_line "foreign database: one line naming its tables" \
        ".*foreign.db is an SQLite database but not zplan's (it has tables t1, t2); use another --db"
    zp list --db "$F"
    ok "$(test $rc -eq 1 && grep -q "not zplan's (it has tables t1, t2)" "$errf"; echo $?)" \
        "foreign database: list exits 1 with the same line" || show_run
    ok "$(test "$(sha "$F")" = "$before" && test ! -e "$F-wal" && test "$(sq "$F" 'PRAGMA journal_mode')" = delete &&
        test "$(sq "$F" "SELECT count(*) FROM sqlite_master")" = 2; echo $?)" \
        "foreign database: byte-identical, no WAL, no tables added"

    # the same in WAL mode: a read-only look makes -wal and -shm beside it,
    # removed again when the file is refused (nothing left in its directory)
    W=$tmp/foreign-wal.db
    sqlite3 "$W" 'PRAGMA journal_mode = WAL; CREATE TABLE t1 (a); INSERT INTO t1 VALUES (1)' >/dev/null
    rm -f "$W-wal" "$W-shm"
    before=$(sha "$W")
    zp list --db "$W"
    lrc=$rc
    zp --params 1e9 --gpus 1 --db "$W"
    ok "$(test $lrc -eq 1 && test $rc -eq 1 && test "$(sha "$W")" = "$before" && test ! -e "$W-wal" &&
          test ! -e "$W-shm"; echo $?)" \
        "foreign WAL database: refused by list and plan, byte-identical, no -wal or -shm left" ||
        diag "rc=$rc $(ls "$W"* 2>&1)"

    # user_version 1 and a runs table only: read (nothing there), not written to
    P=$tmp/partial.db
    sqlite3 "$P" 'PRAGMA user_version = 1; CREATE TABLE runs (id INTEGER PRIMARY KEY, result_json TEXT)'
    before=$(sha "$P")
    zp show --db "$P"
    ok "$(test $rc -eq 2 && grep -q 'partial.db holds no runs yet' "$errf"; echo $?)" \
        "runs table only: show reads it: no runs yet, exit 2" || show_run
    zp --params 1e9 --gpus 1 --db "$P"
    is "$rc" 1 "runs table only: planning into it exits 1"
    one_line "runs table only: one line naming the missing tables" \
        ".*partial.db is an incomplete zplan database (schema version 1 without its tables plans, plan_stages, plan_comm, rejections)"
    ok "$(test "$(sha "$P")" = "$before" && test "$(sq "$P" 'PRAGMA journal_mode')" = delete; echo $?)" \
        "runs table only: byte-identical, not switched to WAL"

    # a newer schema in a rollback-journal file: refused before the WAL switch
    N=$tmp/newer.db
    "$ZPLAN" --params 1e9 --gpus 1 --db "$N" >/dev/null 2>&1
    sqlite3 "$N" 'PRAGMA journal_mode = DELETE; PRAGMA user_version = 7' >/dev/null
    before=$(sha "$N")
    zp --params 2e9 --gpus 1 --db "$N"
    is "$rc" 1 "schema 7 (journal_mode delete): planning into it exits 1"
    one_line "schema 7: one line saying it is newer than this zplan's" \
        ".*newer.db has schema version 7, newer than this zplan's (6)"
    ok "$(test "$(sha "$N")" = "$before" && test "$(sq "$N" 'PRAGMA journal_mode')" = delete; echo $?)" \
        "schema 7: byte-identical, still journal_mode delete (not switched to WAL)"

    # schema 3 (executions without the launcher's identity) is migrated to 4
    # when next written; an execution row whose run was deleted by hand
    # (schema 3 did not enforce the reference) is dropped, not a failure
    M=$tmp/schema3.db
    "$ZPLAN" --params 1e9 --gpus 1 --db "$M" >/dev/null 2>&1
    sqlite3 "$M" "PRAGMA foreign_keys = OFF;
        INSERT INTO executions (id, run_id, plan_rank, status, backend, ranks, steps, scale, record_json)
          VALUES (1, 1, 1, 'ok', 'cpu', 1, 1, 'none', '{}'), (2, 99, 1, 'ok', 'cpu', 1, 1, 'none', '{}');
        ALTER TABLE executions DROP COLUMN launcher_host; ALTER TABLE executions DROP COLUMN launcher_boot;
        ALTER TABLE executions DROP COLUMN launcher_pid; ALTER TABLE executions DROP COLUMN launcher_start;
        ALTER TABLE plans DROP COLUMN cp; ALTER TABLE plans DROP COLUMN act_offload;
        PRAGMA user_version = 3" >/dev/null
    zp --params 2e9 --gpus 1 --db "$M" --json
    ok "$(test $rc -eq 0 && jtrue "$outf" '.run_id == 2'; echo $?)" "schema 3 with an orphan execution: planning into it records run 2" ||
        show_run
    is "$(sq "$M" 'PRAGMA user_version') $(sq "$M" 'SELECT group_concat(id) FROM executions')" "6 1" \
        "schema 3: migrated to 6, the execution of run 1 kept, the orphan (run 99) dropped"
    is "$(sq "$M" 'SELECT group_concat(DISTINCT cp) FROM plans')" "1" \
        "schema 3 migrated: the plans recorded before --cp read cp 1"
    is "$(sq "$M" "SELECT group_concat(DISTINCT act_offload) FROM plans WHERE run_id = 1")" "0" \
        "schema 3 migrated: the plans recorded before --act-offload read act_offload 0"

    # a zplan database with a page overwritten: damaged, not empty
    C=$tmp/damaged.db
    "$ZPLAN" --params 1e9 --gpus 1 --db "$C" >/dev/null 2>&1
    page=$(sq "$C" "SELECT rootpage FROM sqlite_master WHERE name = 'runs'")
    psize=$(sq "$C" 'PRAGMA page_size')
    awk -v n="$psize" 'BEGIN {for (i = 0; i < n; i++) printf "%c", 65 + i % 26}' |
        dd of="$C" bs="$psize" seek=$((page - 1)) count=1 conv=notrunc 2>/dev/null
    before=$(sha "$C")
    zp show --db "$C"
    is "$rc" 1 "damaged database: show exits 1"
    one_line "damaged database: show says it is damaged, in SQLite's words" ".*damaged.db is damaged: .*Page $page"
    zp list --db "$C"
    ok "$(test $rc -eq 1 && test ! -s "$outf" && grep -q 'damaged.db is damaged' "$errf"; echo $?)" \
        "damaged database: list exits 1, prints no table, says it is damaged" || show_run
    zp --params 2e9 --gpus 1 --db "$C"
    is "$rc" 1 "damaged database: planning into it exits 1"
    one_line "damaged database: planning says it is damaged" ".*damaged.db is damaged"
    ok "$(test "$(sha "$C")" = "$before"; echo $?)" "damaged database: byte-identical"
else
    for i in $(seq 22); do skip_dep "sqlite3 shell not installed"; done
fi

# an empty file is a new database, as before
: >"$tmp/empty.db"
zp list --db "$tmp/empty.db"
ok "$(test $rc -eq 2 && grep -q 'empty.db holds no runs yet' "$errf"; echo $?)" "empty file: list says it holds no runs yet"
zp --params 1e9 --gpus 1 --db "$tmp/empty.db" --json
ok "$(test $rc -eq 0 && jtrue "$outf" '.run_id == 1'; echo $?)" "empty file: planning into it records run 1"
# a zplan database whose runs are gone (its profiles alone, say) lists
# nothing either: exit 2, as show says
if command -v sqlite3 >/dev/null 2>&1; then
    cp "$tmp/empty.db" "$tmp/noruns.db"
    sqlite3 "$tmp/noruns.db" 'PRAGMA foreign_keys = OFF; DELETE FROM runs'
    zp list --db "$tmp/noruns.db"
    ok "$(test $rc -eq 2 && grep -q 'noruns.db holds no runs yet' "$errf" && [ ! -s "$outf" ]; echo $?)" \
        "a zplan database without runs: list says it holds none (exit 2), no table head" || show_run
else
    skip_dep "sqlite3 shell not installed"
fi

# ---------------------------------------------------------------- files zplan may not write
# Root passes permission bits: as root the directory is made immutable
# (chattr +i, where the file system has it); otherwise read-only (chmod).

RO=$tmp/ro
mkdir "$RO"
"$ZPLAN" --params 1e9 --gpus 1 --db "$RO/a.db" >/dev/null 2>&1
how=
if [ "$(id -u)" -ne 0 ]; then
    chmod 555 "$RO" && how=chmod
elif command -v chattr >/dev/null 2>&1 && chattr +i "$RO" 2>/dev/null; then
    how=chattr
    trap 'chattr -i "$RO" 2>/dev/null; rm -rf "$tmp"' 0
fi
if [ -n "$how" ]; then
    before=$(sha "$RO/a.db")
    zp list --db "$RO/a.db" --json
    ok "$(test $rc -eq 0 && jtrue "$outf" 'length == 1'; echo $?)" \
        "read-only directory ($how): list reads the database" || show_run
    zp show 1 --db "$RO/a.db" --json
    ok "$(test $rc -eq 0 && jtrue "$outf" '.run_id == 1'; echo $?)" "read-only directory: show reads run 1" || show_run
    zp --params 2e9 --gpus 1 --db "$RO/a.db"
    is "$rc" 1 "read-only directory: planning into it exits 1"
    one_line "read-only directory: one line with the OS's reason" \
        ".*cannot write .*ro/a.db: its directory .*ro: \\(Permission denied\\|Operation not permitted\\)"
    zp --params 2e9 --gpus 1 --db "$RO/new.db"
    ok "$(test $rc -eq 1 && grep -q 'cannot create .*ro/new.db: its directory' "$errf"; echo $?)" \
        "read-only directory: a new database there: 'cannot create', exit 1" || show_run
    ok "$(test "$(sha "$RO/a.db")" = "$before" && test "$(ls "$RO")" = a.db; echo $?)" \
        "read-only directory: the database is byte-identical, nothing added beside it"
    if [ $how = chattr ]; then chattr -i "$RO"; else chmod 755 "$RO"; fi
else
    for i in 1 2 3 4 5 6; do skip_dep "no way to make a read-only directory here (root, and no chattr +i)"; done
fi

# ---------------------------------------------------------------- a locked database
# Another process holds BEGIN IMMEDIATE (a sqlite3 shell, as a backup or a
# long transaction would): a run waits, saying so, then gives up with one
# line and writes nothing.  The lock holder answers through a FIFO once it
# has the lock; closing its input ends it and frees the lock.

if [ $have_sqlite = 1 ]; then
    L=$tmp/locked.db
    "$ZPLAN" --params 1e9 --gpus 1 --db "$L" >/dev/null 2>&1
    mkfifo "$tmp/lock.in" "$tmp/lock.out"
    sqlite3 "$L" <"$tmp/lock.in" >"$tmp/lock.out" 2>&1 &
    lockpid=$!
    exec 3>"$tmp/lock.in" 4<"$tmp/lock.out"
    echo "BEGIN IMMEDIATE; SELECT 'locked';" >&3
    read -r got <&4
    is "$got" locked "locked: a sqlite3 shell holds BEGIN IMMEDIATE"
    start=$(date +%s)
    ZPLAN_DB_WAIT_S=3 zp --params 2e9 --gpus 1 --db "$L"
    took=$(($(date +%s) - start))
    is "$rc" 1 "locked: planning exits 1"
    ok "$(test $took -ge 2 && test $took -le 8; echo $?)" "locked: it waited ZPLAN_DB_WAIT_S=3 s ($took s)"
    ok "$(grep -q '^zplan: the database .*locked.db is locked by another process; waiting (1 s, at most 3 s)$' "$errf"
        echo $?)" "locked: a progress line on stderr while waiting" || show_run
    ok "$(test ! -s "$outf" && test "$(grep -vc 'locked by another process; waiting' "$errf")" -eq 1 &&
        tail -n 1 "$errf" | grep -q '^zplan: the database .*locked.db is locked by another process: gave up after 3 s'
        echo $?)" "locked: then one line saying it gave up, nothing on stdout" || show_run
    ZPLAN_DB_WAIT_S=1.5 zp list --db "$L"
    ok "$(test $rc -eq 2 && grep -q "ZPLAN_DB_WAIT_S='1.5': allowed are whole seconds" "$errf"; echo $?)" \
        "ZPLAN_DB_WAIT_S=1.5: refused, exit 2" || show_run
    exec 3>&-
    wait $lockpid
    exec 4<&-
    is "$(sq "$L" 'SELECT count(*) FROM runs') $(sq "$L" 'SELECT count(*) FROM plans WHERE run_id > 1')" "1 0" \
        "locked: nothing was written (1 run, no plans of a second)"
    zp --params 2e9 --gpus 1 --db "$L" --json
    ok "$(test $rc -eq 0 && jtrue "$outf" '.run_id == 2'; echo $?)" "lock released: the next run is recorded as run 2"
else
    for i in $(seq 8); do skip_dep "sqlite3 shell not installed"; done
fi

# ---------------------------------------------------------------- zplan import
# A saved execution (the format zp_store_finish_exec_or_save writes; the C
# test test_store makes a real one under a lock) is added once, and again
# is a no-op; a bad file is refused with one line naming the field.

I=$tmp/import.db
"$ZPLAN" --params 1e9 --gpus 1 --db "$I" >/dev/null 2>&1
X=$tmp/saved.json
printf '%s\n' '{"format": "zplan-execution", "format_version": 1, "database": "'"$I"'",' \
    '"saved": "2026-01-31T12:00:00Z", "reason": "the database was locked", "exec_id": 4, "run_id": 1, "plan": 1,' \
    '"backend": "cpu", "ranks": 2, "steps": 3, "scale": "none", "status": "interrupted",' \
    '"record": {"exec_id": 4, "run_id": 1, "plan": 1, "status": "interrupted",' \
    '"step_time_s": {"predicted": 0.4, "measured": 0.5}}}' >"$X"
zp import "$X"
ok "$(test $rc -eq 0 && grep -q '^Execution 4 of run 1 (interrupted) is now recorded in .*import.db' "$outf"; echo $?)" \
    "import: exit 0, execution 4 added to the database the file names" || show_run
zp show 1 --db "$I" --json
jok "$outf" '.executions | length == 1 and .[0].exec_id == 4 and .[0].status == "interrupted" and .[0].step_time_s.measured == 0.5' \
    "import: show lists execution 4 with its record"
zp import "$X" --json
ok "$(test $rc -eq 0 && jtrue "$outf" '.import == "already" and .exec_id == 4'; echo $?)" \
    "import again: exit 0, nothing to do (idempotent)" || show_run
jq '.record.step_time_s.measured = 9' "$X" >"$tmp/other.json"
zp import "$tmp/other.json"
is "$rc" 2 "import of another record for a finished execution: exit 2"
one_line "import of another record: refused, one line" "execution 4 in .*import.db already finished as 'interrupted'"
zp show 1 --db "$I" --json
jok "$outf" '.executions | length == 1 and .[0].step_time_s.measured == 0.5' "import of another record: the row is unchanged"

# a row marked lost (list or show found its launcher gone while the record
# waited in its file) is finished by the import
if [ $have_sqlite = 1 ]; then
    sq "$I" "INSERT INTO executions (id, run_id, plan_rank, status, backend, ranks, steps, scale, record_json)
             VALUES (6, 1, 1, 'lost', 'cpu', 2, 3, 'none', '{\"reason\": \"its launcher is gone\"}')" >/dev/null
    jq '.exec_id = 6 | .record.exec_id = 6' "$X" >"$tmp/lost.json"
    zp import "$tmp/lost.json"
    ok "$(test $rc -eq 0 && test "$(sq "$I" 'SELECT status FROM executions WHERE id = 6')" = interrupted; echo $?)" \
        "import over a row marked lost: exit 0, the row now interrupted with its record" || show_run
else
    skip_dep "sqlite3 shell not installed"
fi

# badcase JQ-EDIT FIELD MSG: the edited file is refused with one line naming FIELD
badcase() {
    jq "$1" "$X" >"$tmp/bad.json"
    zp import "$tmp/bad.json" --db "$I"
    ok "$(test $rc -eq 2 && test ! -s "$outf" && test "$(wc -l <"$errf")" -eq 1 &&
        grep -q "^zplan: .*bad.json: field '$2'" "$errf"; echo $?)" "import, $3: exit 2, one line naming '$2'" ||
        show_run
}
badcase '.format = "other"' format "not a saved execution"
badcase '.format_version = 2' format_version "a newer format"
badcase '.exec_id = "4"' exec_id "exec_id a string"
badcase '.run_id = 1.5' run_id "run_id fractional"
badcase '.plan = 0' plan "plan 0"
badcase 'del(.backend)' backend "no backend"
badcase '.ranks = -2' ranks "negative ranks"
badcase '.status = "running"' status "status running"
badcase '.record = [1]' record "record an array"
badcase '.saved = "yesterday"' saved "saved not a time"
badcase '.database = "rel.db"' database "database a relative path"
# the record itself as show and report read it (their schema), so that no
# row goes in that they would then refuse: a negative time or peak, losses
# that are not the steps done, a key given twice
for edit in '.record.step_time_s.measured = -1|step_time_s.measured = -1 is out of range' \
    '.record.per_rank = [{"rank": 0, "measured_bytes": {"peak": -5}}]|per_rank\[0\].measured_bytes.peak = -5 is out of range' \
    '.record.status = 3|record.status'; do
    jq "${edit%%|*}" "$X" >"$tmp/bad.json"
    zp import "$tmp/bad.json" --db "$I"
    ok "$(test $rc -eq 2 && test "$(wc -l <"$errf")" -eq 1 && grep -q "${edit#*|}" "$errf"; echo $?)" \
        "import of a record show would refuse (${edit%%|*}): exit 2, the field named" || show_run
done
# a record whose layout is not the ranks launched (show prints a line per
# pipeline stage: a pp of 2e9 printed for half an hour; the range refuses
# that one, this check a pp of 1e6), and a layout
# field of the wrong type
for edit in '.record.ranks = 2 | .record.dp = 1 | .record.pp = 1000000#dp x tp x pp x cp = 1000000, but ranks is 2' \
    '.record.ranks = 2 | .record.dp = 2 | .record.tp = "x"#record: tp is not a number'; do
    jq "${edit%%#*}" "$X" >"$tmp/bad.json"
    zp import "$tmp/bad.json" --db "$I"
    ok "$(test $rc -eq 2 && test "$(wc -l <"$errf")" -eq 1 && grep -q "${edit#*#}" "$errf"; echo $?)" \
        "import of a record whose layout show would misread (${edit%%#*}): exit 2, one line" || show_run
done
jq '.record.losses = [3.5, 3.4] | .record.steps_done = 3' "$X" >"$tmp/bad.json"
zp import "$tmp/bad.json" --db "$I"
ok "$(test $rc -eq 2 && grep -q "field 'record.steps_done' is 3: allowed: 2, the number of record.losses" "$errf"; echo $?)" \
    "import of a record whose losses are not its steps done: exit 2" || show_run
sed 's/"exec_id": 4,/"exec_id": 4, "exec_id": 5,/' "$X" >"$tmp/bad.json"
zp import "$tmp/bad.json" --db "$I"
ok "$(test $rc -eq 2 && grep -q 'the key "exec_id" appears twice' "$errf"; echo $?)" \
    "import of a file with a key given twice: exit 2" || show_run
zp show 1 --db "$I" --json
jok "$outf" '[.executions[].exec_id] - [4, 6] == [] and ([.executions[] | select(.exec_id == 4) | .step_time_s.measured] == [0.5])' \
    "none of the refused files left a row or changed execution 4"
printf '{"format": "zplan-execution",\n "exec_id": }\n' >"$tmp/bad.json"
zp import "$tmp/bad.json"
ok "$(test $rc -eq 2 && grep -q '^zplan: .*bad.json: not JSON (at line 2)' "$errf"; echo $?)" \
    "import, not JSON: exit 2, its line" || show_run
zp import "$tmp/none.json"
ok "$(test $rc -eq 2 && grep -q '^zplan: cannot read .*none.json: No such file' "$errf"; echo $?)" \
    "import, no such file: exit 2" || show_run
mkdir -p "$tmp/adir"
zp import "$tmp/adir"
ok "$(test $rc -eq 2 && grep -q '^zplan: cannot read .*adir: Is a directory' "$errf"; echo $?)" \
    "import of a directory: exit 2, as a missing file" || show_run
jq '.exec_id = 5 | .run_id = 9 | .record.exec_id = 5 | .record.run_id = 9' "$X" >"$tmp/run9.json"
zp import "$tmp/run9.json"
ok "$(test $rc -eq 2 && grep -q 'run 9, which is not in .*import.db' "$errf"; echo $?)" \
    "import of a run the database lacks: exit 2, the record is another database's" || show_run
jq '.exec_id = 5 | .record.exec_id = 5 | .plan = 99 | .record.plan = 99' "$X" >"$tmp/plan99.json"
zp import "$tmp/plan99.json"
ok "$(test $rc -eq 2 && grep -q 'plan 99, which run [0-9]* of .*import.db does not have' "$errf"; echo $?)" \
    "import of a plan the run lacks: exit 2" || show_run
jq '.exec_id = 998' "$X" >"$tmp/otherid.json"
zp import "$tmp/otherid.json"
ok "$(test $rc -eq 2 && grep -q "field 'record.exec_id' is [0-9]*: allowed: 998, the file's own 'exec_id'" "$errf"; echo $?)" \
    "import of a file whose header and record name different executions: exit 2" || show_run
zp import "$X" --db "$tmp/nowhere.db"
ok "$(test $rc -eq 2 && test ! -e "$tmp/nowhere.db"; echo $?)" "import --db to no database: exit 2, none created" ||
    show_run

# ---------------------------------------------------------------- lost executions
# list and show mark a running execution lost only when its launcher is
# gone: same host and boot, and the recorded pid no longer the process that
# started then.  A live launcher (here a sleep, its pid and start time as
# zplan exec records its own) stays running; the same pid with another
# start time (a reused pid) is lost; a row recorded without a start time,
# or by another host, cannot be judged and stays running.  (mutation:
# marking every running row lost is caught by the first; ignoring the
# start time by the second)
if [ $have_sqlite -eq 1 ] && [ -r /proc/sys/kernel/random/boot_id ] && [ -r /proc/self/stat ]; then
    L=$tmp/lost.db
    zp --params 1e9 --gpus 1 --db "$L"
    sleep 300 &
    live=$!
    lstart=$(awk '{ print $22 }' "/proc/$live/stat")
    lhost=$(cat /proc/sys/kernel/hostname)
    lboot=$(cat /proc/sys/kernel/random/boot_id)
    for row in "$live $lstart $lhost" "$live $((lstart + 1)) $lhost" "$live 0 $lhost" "$live $((lstart + 1)) other-host"; do
        set -- $row
        sqlite3 -batch "$L" "INSERT INTO executions (run_id, plan_rank, status, backend, ranks, steps, scale,
            launcher_host, launcher_boot, launcher_pid, launcher_start)
            VALUES (1, 1, 'running', 'cpu', 2, 3, 'none', '$3', '$lboot', $1, $2)"
    done
    zp list --db "$L"
    is "$(sq "$L" "SELECT group_concat(status, ' ') FROM (SELECT status FROM executions ORDER BY id)")" \
        "running lost running running" \
        "list: a live launcher's row stays running, a reused pid's is lost, rows it cannot judge stay running"
    zp show 1 --db "$L" --json
    ok "$(test $rc -eq 0 && jtrue "$outf" '[.executions[].status] == ["running", "lost", "running", "running"]'; echo $?)" \
        "show 1 --json after list: the executions as marked" || show_run
    kill "$live" 2>/dev/null
    wait "$live" 2>/dev/null
    zp show 1 --db "$L"
    is "$(sq "$L" "SELECT group_concat(status, ' ') FROM (SELECT status FROM executions ORDER BY id)")" \
        "lost lost running running" "show: once the launcher has ended its row is marked lost"
else
    for i in 1 2 3; do skip_dep "sqlite3 or /proc is missing"; done
fi

# show answers in the units the run was planned in (--units gb), unless
# --units says otherwise
U=$tmp/units.db
zp --params 13e9 --gpus 16 --gpu h100-pcie --units gb --db "$U"
head -n -2 "$outf" >"$tmp/planned.txt"   # less the "Recorded as run 1" lines
zp show 1 --db "$U"
tail -n +2 "$outf" >"$tmp/shown.txt"
ok "$(test $rc -eq 0 && grep -q ' GB each' "$tmp/shown.txt" && cmp -s "$tmp/shown.txt" "$tmp/planned.txt"; echo $?)" \
    "show of a run planned with --units gb: the same text as planning printed (GB)" ||
    diag "$(diff "$tmp/shown.txt" "$tmp/planned.txt" | head -5)"
zp show 1 --db "$U" --units gib
ok "$(grep -q 'GiB each' "$outf" && ! grep -q ' GB each' "$outf"; echo $?)" "show --units gib over a GB run: GiB"

# stored strings reach the terminal with control characters as '?': an
# execution's collective kinds (import checks the record, not its keys)
jq '.record.ranks = 2 | .record.comm_bytes_per_step = {"predicted": 5, "measured": 6,
    "by_kind": {"\u001b[31mEVIL": {"predicted": 5, "measured": 6}}}' "$X" >"$tmp/esc.json"
E=$tmp/esc.db
"$ZPLAN" --params 1e9 --gpus 1 --db "$E" >/dev/null 2>&1
jq --arg d "$E" '.database = $d' "$tmp/esc.json" >"$tmp/esc2.json"
zp import "$tmp/esc2.json" --db "$E"
zp show 1 --db "$E"
ok "$(test $rc -eq 0 && grep -q '?\[31mEVIL' "$outf" && ! grep -q "$(printf '\033')" "$outf"; echo $?)" \
    "show: an imported collective kind with an escape sequence printed with '?', no raw ESC" || show_run

# a stored run whose recompute modules zplan does not name is refused
if command -v sqlite3 >/dev/null 2>&1; then
    R=$tmp/rm.db
    zp --model llama3-8b --gpus 8 --ckpt selective --recompute-modules mlp --db "$R"
    sqlite3 -batch "$R" "UPDATE runs SET result_json = json_set(result_json, '$.training.recompute_modules', 'bogus')"
    zp show 1 --db "$R"
    ok "$(test $rc -ne 0 && grep -q "training.recompute_modules names 'bogus'" "$errf"; echo $?)" \
        "show of a run whose recompute_modules names 'bogus': refused, naming it" || show_run
else
    skip_dep "sqlite3 shell not installed"
fi

finish
