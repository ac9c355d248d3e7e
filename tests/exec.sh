#!/bin/sh
# exec.sh - zplan exec: a recorded plan run on MPI ranks, the execution
# recorded beside the prediction (schema of the record, model states and
# communication bytes predicted = measured), and the plans and launches it
# must refuse before (or instead of) running.
. "$(dirname "$0")/lib.sh"

need_engine sqlite3
# zplan exec itself sets what the ranks need (running as root, oversubscribing)
unset OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe
DB=$tmp/exec.db

# a data-parallel plan: GPT-2 small on 2 GPUs with ZeRO-1 (pinned)
run "$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --tp 1 --pp 1 --zero 1 --offload none --ckpt none \
    --micro-batch 2 --global-batch 8 --db "$DB" --json
ok $rc "plan GPT-2 small on 2 GPUs, ZeRO-1" || diag "$err"

run "$ZPLAN" exec 1 --db "$DB" --steps 4 --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --device-mem 1GiB --json
ok $rc "exec 1: runs on 2 ranks" || diag "$err"
cp "$outf" "$tmp/x.json"
is "$(grep -c '^zplan: step [1-4]/4  loss [0-9][0-9.]*  [0-9][0-9.]* s$' "$errf")" 4 \
    "progress on stderr: a line per step with its loss and time"
jok "$tmp/x.json" '.status == "ok" and .ranks == 2 and .dp == 2 and .tp == 1 and .pp == 1 and .zero == 1 and
    .offload == "none" and .ckpt == "none"' "the record: status, ranks and the layout"
jok "$tmp/x.json" '(.exec_id | type) == "number" and (.losses | length) == 4 and .steps_done == 4 and .model.layers == 2 and .model.hidden == 64' \
    "the record: exec id, one loss per step, the scaled model"
jok "$tmp/x.json" '(.step_time_s | has("predicted") and has("measured")) and (.comm_bytes_per_step | has("predicted") and has("measured"))' \
    "the record: step time and communication, predicted and measured"
jok "$tmp/x.json" '.gemm_time_s.predicted == null and .gemm_time_s.measured > 0 and
    .gemm_time_s.measured < .step_time_s.measured and (.gemm_time_s | has("preset_curve") | not)' \
    "the record: the engine's GEMM time (around each sgemm, within its step); no profile, no prediction; no preset curve off a GPU"
jok "$tmp/x.json" '(.per_rank | length) == 2 and all(.per_rank[]; has("rank") and has("stage") and
    (.predicted_bytes | has("params") and has("grads") and has("optimizer") and has("activations") and has("buffers") and has("peak")) and
    (.measured_bytes | has("params") and has("grads") and has("optimizer") and has("activations") and has("buffers") and has("peak")) and
    has("host_predicted_bytes") and has("host_measured_bytes"))' "the record: per rank, predicted and measured bytes by class"
# the engine sizes its tensors itself; model states must agree exactly:
# GPT-2 style L=2, h=64, V=128, T=32 has 2 x (12 h^2 + 13 h) + (V + T) h + 2h parameters,
# stored in the plan's bf16 (the default): params 2 B each in full, fp32
# master weights and Adam moments 12 B on the ZeRO-1 shard of 2
P=$((2 * (12 * 64 * 64 + 13 * 64) + (128 + 32) * 64 + 2 * 64))
jok "$tmp/x.json" ".model.params == $P" "the scaled model has $P parameters (hand count)"
jok "$tmp/x.json" '.dtype == "bf16" and .grad_dtype == "bf16"' "the plan's storage types: bf16 parameters and gradients"
jok "$tmp/x.json" "all(.per_rank[]; .measured_bytes.params == 2 * $P and .predicted_bytes.params == 2 * $P and
    .measured_bytes.optimizer == 12 * $P / 2)" "params: 2 bytes x $P measured and predicted; optimizer 12 bytes x $P / 2"
jok "$tmp/x.json" 'all(.per_rank[]; .measured_bytes.grads == .predicted_bytes.grads and
    .measured_bytes.optimizer == .predicted_bytes.optimizer)' "grads and optimizer: predicted = measured"
jok "$tmp/x.json" '.comm_bytes_per_step.predicted == .comm_bytes_per_step.measured and .comm_bytes_per_step.measured > 0' \
    "communication bytes per step: predicted = sent by the engine"
# ZeRO-1 on 2 ranks: the bf16 gradients (2P bytes) reduce-scattered and the
# bf16 parameters all-gathered once a step, each (n - 1)/n x 2P = P bus bytes
jok "$tmp/x.json" ".comm_bytes_per_step.by_kind == {\"reduce-scatter\": {\"predicted\": $P, \"measured\": $P},
    \"all-gather\": {\"predicted\": $P, \"measured\": $P}}" \
    "per kind: reduce-scatter P and all-gather P bus bytes, predicted and sent"
jok "$tmp/x.json" '.losses[3] < .losses[0]' "the loss falls"

run "$ZPLAN" show 1 --db "$DB" --json
jok "$outf" '(.executions | length) == 1 and .executions[0].status == "ok"' "zplan show --json lists the execution"
run "$ZPLAN" show 1 --db "$DB"
ok "$(echo "$out" | grep -q 'Execution 1 of run 1' && echo "$out" | grep -q 'predicted'; echo $?)" \
    "zplan show prints predicted vs measured"
ok "$(echo "$out" | grep -q 'storage: bf16 parameters, bf16 gradients, fp32 master weights'; echo $?)" \
    "zplan show names the storage types the engine ran"
# its table in binary units with an error column, never "-0.0%": the
# parameters are exact (2 x 110336 bf16 bytes = 215.50 KiB on both sides)
ok "$(echo "$out" | grep -q '^  params  *215.50 KiB  *215.50 KiB  *0.0%$' &&
      echo "$out" | grep -q '^  comm bytes per step  *[0-9.]* [KMG]*i*B  *[0-9.]* [KMG]*i*B  *[-+0-9.]*%$' &&
      ! echo "$out" | grep -q -- '-0\.0%'; echo $?)" \
    "zplan show: bytes in KiB/MiB with their error, parameters 215.50 KiB exact, no -0.0%" || diag "$out"

# the report draws predicted beside measured for the recorded execution
if command -v gnuplot >/dev/null 2>&1; then
    run "$ZPLAN" report 1 --db "$DB" --out "$tmp/rep"
    ok $rc "zplan report 1 with an execution recorded" || diag "$err"
    ok "$([ -s "$tmp/rep/measured.png" ] && [ -s "$tmp/rep/measured.gp" ]; echo $?)" "the measured chart is drawn"
    # its row: the record's rank-0 bytes in MiB, predicted then measured
    got=$(grep -v '^#' "$tmp/rep/measured.dat" | head -1 | awk '{ printf "[%s, %s, %s]", $4, $10, $12 }')
    jok "$tmp/x.json" '.per_rank[0] | [.predicted_bytes.params, .measured_bytes.params,
        .measured_bytes.optimizer] | map(. / 1048576) as $w | [$w, $g] | transpose | all(.[0] - .[1] | fabs < 1e-4)' \
        "measured.dat: params predicted and measured, optimizer measured (MiB), as the record has them" \
        --argjson g "$got" || diag "measured.dat row: $got"
    ok "$(grep -q '"exec_1_(plan_1)" "2_CPU_ranks"' "$tmp/rep/measured.dat"; echo $?)" \
        "measured.dat names the execution and where it ran"
    ok "$(grep -q 'predicted vs measured memory per class, per execution' "$tmp/rep/index.html"; echo $?)" \
        "index.html has the chart's table"
    # a second ok execution of the run: both drawn, each its own rows (the
    # chart once said no execution was recorded; mutation: only the first
    # or the last execution drawn is caught)
    run "$ZPLAN" exec 1 --db "$DB" --steps 2 --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --device-mem 1GiB
    run "$ZPLAN" report 1 --db "$DB" --out "$tmp/rep2"
    ok "$(test $rc -eq 0 && grep -q '"exec_1_(plan_1)"' "$tmp/rep2/measured.dat" &&
          grep -q '"exec_2_(plan_1)"' "$tmp/rep2/measured.dat"; echo $?)" \
        "two ok executions of run 1: measured.dat has rows of each" || diag "rc=$rc $err"
else
    skip_dep "gnuplot is not installed"
fi

# --scale by parameter count keeps a LLaMA a LLaMA: Llama-3-8B's 4 query
# heads per KV head and its MLP of 3.5 h, 64-wide heads, within 10 % of 1M
"$ZPLAN" --model llama3-8b --gpus 2 --dp 2 --zero 1 --db "$DB" --json >"$tmp/l8.json" 2>/dev/null
run "$ZPLAN" exec "$(jq .run_id "$tmp/l8.json")" --db "$DB" --steps 2 --scale 1M,seq=32 --json
jok "$outf" '.model as $m | .status == "ok" and $m.mlp == "swiglu" and $m.norm == "rmsnorm" and
    $m.position == "rotary" and $m.tied_embeddings == false and $m.heads == $m.hidden / 64 and
    $m.kv_heads == ([1, ($m.heads / 4 | floor)] | max) and $m.ffn == ($m.hidden * 3.5 | round) and
    (($m.params - 1000000) / 1000000 | fabs) <= 0.10' \
    "--scale 1M of Llama-3-8B: SwiGLU 3.5 h, RMSNorm, rotary, untied, KV heads heads/4, within 10% of 1e6" ||
    diag "rc=$rc $(jq -c .model "$outf" 2>/dev/null) $err"

# --scale by parameter count: a GPT of 64-wide heads, byte-level vocabulary
run "$ZPLAN" exec 1 --db "$DB" --steps 2 --scale 2M,seq=32 --json
ok $rc "exec --scale 2M,seq=32 runs" || diag "$err"
jok "$outf" '.model as $m | $m.vocab == 256 and $m.seq == 32 and $m.hidden % 64 == 0 and $m.heads == $m.hidden / 64 and
    ($m.params == $m.layers * (12 * $m.hidden * $m.hidden + 13 * $m.hidden) + (256 + 32 + 2) * $m.hidden) and
    (($m.params - 2000000) / 2000000 | fabs) <= 0.10' \
    "--scale 2M: within 10% of 2e6 parameters, L (12 h^2 + 13 h) + (V + T + 2) h by hand, heads of 64"

# inside a Slurm allocation the ranks are launched with srun (here a stand-in
# srun that notes its arguments and hands them to mpirun)
mkdir "$tmp/slurm"
cat >"$tmp/slurm/srun" <<EOS
#!/bin/sh
printf "%s\\n" "\$*" >"$tmp/srun.args"
[ "\$1" = -n ] || exit 9
n=\$2
shift 2
exec mpirun --oversubscribe -np "\$n" "\$@"
EOS
chmod +x "$tmp/slurm/srun"
SLURM_JOB_ID=42 PATH="$tmp/slurm:$PATH" run "$ZPLAN" exec 1 --db "$DB" --steps 2 \
    --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --json
ok "$([ "$rc" -eq 0 ] && jtrue "$outf" '.status == "ok"'; echo $?)" "inside a Slurm allocation: runs" ||
    diag "rc=$rc $err"
is "$(cut -d' ' -f1-2 "$tmp/srun.args" 2>/dev/null)" "-n 2" "inside a Slurm allocation: launched as srun -n 2"
# several machines through an Open MPI hostfile (here one: this machine, 2 slots)
# (Open MPI's reader allows blanks around '=' and comments)
printf '# this machine\nlocalhost slots = 2   # two ranks\n' >"$tmp/hosts"
run "$ZPLAN" exec 1 --db "$DB" --steps 2 --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --hostfile "$tmp/hosts" --json
ok "$([ "$rc" -eq 0 ] && jtrue "$outf" '.status == "ok" and .ranks == 2 and (.losses | length) == 2'; echo $?)" \
    "--hostfile: the ranks placed by the hostfile run" || diag "rc=$rc $err"
ZPLAN_LAUNCHER=qsub run "$ZPLAN" exec 1 --db "$DB" --steps 1
ok "$([ "$rc" -eq 2 ] && grep -q 'ZPLAN_LAUNCHER' "$errf"; echo $?)" "an unknown ZPLAN_LAUNCHER: exit 2"

# a device cap below the parameters: a recorded out-of-memory outcome
run "$ZPLAN" exec 1 --db "$DB" --steps 2 --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --device-mem 100KiB --json
ok "$([ "$rc" -eq 1 ] && jtrue "$outf" '.status == "oom"'; echo $?)" "a too small --device-mem: status oom, exit 1"
is "$(sqlite3 -batch "$DB" "SELECT status FROM executions ORDER BY id DESC LIMIT 1" 2>&1)" "oom" \
    "the store keeps the out-of-memory execution"

# a step whose loss is not finite (JSON has no NaN: the engine writes null)
# is recorded as null, not as a loss of 0, and show reads the record back
cat >"$tmp/nanwrap" <<EOS
#!/bin/sh
"$ZPLAN_ENGINE" "\$@" | sed 's/"losses":\\[\\([^],]*\\),[^],]*/"losses":[\\1,null/'
EOS
chmod +x "$tmp/nanwrap"
ZPLAN_ENGINE=$tmp/nanwrap run "$ZPLAN" exec 1 --db "$DB" --steps 3 --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --json
jok "$outf" '(.losses | length) == 3 and .losses[1] == null and .losses[0] > 0 and .losses[2] > 0' \
    "a loss that is not finite: recorded as null, not 0" || diag "rc=$rc $(jq -c .losses "$outf") $err"
run "$ZPLAN" show 1 --db "$DB" --json
jok "$outf" '.executions[-1].losses[1] == null' "show reads the record with the null loss back" || diag "rc=$rc $err"

# Runs ended before they finish.  The ranks are started through a wrapper
# that notes each one's pid; ended(ARGS): the execution of plan 1 (tiny
# model, steps without end) started in the background, waited for until it
# has finished 3 steps; then the test acts on it and collects it with
# collect.  Each leaves its execution recorded (the status, the losses of
# the steps finished) and no rank alive.
cat >"$tmp/engwrap" <<EOS
#!/bin/sh
echo \$\$ >>"$tmp/pids"
exec "$ZPLAN_ENGINE" "\$@"
EOS
chmod +x "$tmp/engwrap"
# (a job started with & from a script ignores SIGINT, and zplan exec keeps
# a signal ignored at its start ignored, as nohup expects: the runs here get
# SIGINT back with env --default-signal; $sigs: what else env is told)
started() {   # $1: --timeout (a run that does not start is ended by it)
    : >"$tmp/pids"
    : >"$errf"   # now: the job below may open it only after the first look
    # shellcheck disable=SC2086
    ZPLAN_ENGINE=$tmp/engwrap env --default-signal=INT ${sigs:-} "$ZPLAN" exec 1 --db "$DB" --steps 1000000 --device-mem 1GiB \
        --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --timeout "$1" --json >"$outf" 2>"$errf" &
    zpid=$!
    i=0
    until grep -q '^zplan: step 3/' "$errf"; do
        i=$((i + 1))
        [ $i -gt 600 ] && { diag "no step 3 in 60 s: $(tail -n 3 "$errf")"; return 1; }
        sleep 0.1
    done
    [ "$(wc -l <"$tmp/pids")" -eq 2 ] || { diag "rank pids: $(tr '\n' ' ' <"$tmp/pids")"; return 1; }
}
collect() {
    wait "$zpid"
    rc=$?
    err=$(cat "$errf")
    # a rank is gone once it is dead: ended, or a zombie left to init to reap
    # (mpirun puts each rank in its own process group and may end first)
    alive=0
    for i in 1 2 3 4 5 6 7 8 9 10; do
        alive=0
        for p in $(cat "$tmp/pids"); do
            case $(ps -o stat= -p "$p" 2>/dev/null) in "" | Z*) ;; *) alive=$((alive + 1)) ;; esac
        done
        [ $alive -eq 0 ] && break
        sleep 0.5
    done
}
ended_ok() {   # $1 the status expected, $2 the reason's words, $3 what was done
    ok "$([ "$rc" -eq 1 ] && jtrue "$outf" '.status == $s' --arg s "$1"; echo $?)" "$3: exit 1, status $1" ||
        diag "rc=$rc $err"
    jok "$outf" '.reason | test($r)' "$3: the record says why" --arg r "$2" ||
        diag "$(jq -c '{reason, launcher_exit, steps_done}' "$outf") $(tail -n 5 "$errf")"
    jok "$outf" '.steps_done >= 3 and .steps_done < 1000000 and (.losses | length) == .steps_done and
        all(.losses[]; . > 0 and . < 10) and .step_time_s.measured > 0' \
        "$3: the losses and step time of the steps finished are kept"
    id=$(jq '.exec_id' "$outf")
    is "$(sqlite3 -batch "$DB" "SELECT status || ' ' || json_array_length(json_extract(record_json, '\$.losses')) FROM executions WHERE id = $id" 2>&1)" \
        "$1 $(jq '.steps_done' "$outf")" "$3: the store has the execution marked $1 with its losses"
    is "$alive" 0 "$3: no rank is left running"
}
if started 120; then
    kill -INT "$zpid"
else
    kill -INT "$zpid"
    diag "the run did not start: $(cat "$errf")"
fi
collect
ended_ok interrupted interrupted "Ctrl-C (SIGINT) during a run"

# SIGHUP (the terminal closed) is handled as SIGTERM: the ranks end, the
# execution is marked interrupted (it stayed "running" with no launcher);
# zplan starts with SIGHUP's default action even where this test runs
# under nohup (an ignored SIGHUP is kept, below)
sigs=--default-signal=HUP
if started 120; then
    kill -HUP "$zpid"
else
    kill -INT "$zpid"
fi
sigs=
collect
ended_ok interrupted interrupted "SIGHUP during a run"

# under nohup (SIGHUP ignored when zplan starts) a closed terminal does not
# end the run: SIGHUP stays ignored; SIGINT still ends it
sigs=--ignore-signal=HUP
if started 120; then
    kill -HUP "$zpid"
    s1=$(grep -c '^zplan: step' "$errf")
    sleep 2
    s2=$(grep -c '^zplan: step' "$errf")
    ok "$(kill -0 "$zpid" 2>/dev/null && [ "$s2" -gt "$s1" ] && ! grep -q 'interrupted' "$errf"; echo $?)" \
        "SIGHUP ignored at the start (nohup): the run goes on" || diag "$(tail -n 2 "$errf")"
    kill -INT "$zpid"
else
    kill -INT "$zpid"
    ok 1 "SIGHUP ignored at the start (nohup): the run goes on"
fi
sigs=
collect
ended_ok interrupted interrupted "nohup, then SIGINT"

# zplan exec killed outright (SIGKILL: no handler runs): its ranks end
# promptly anyway (the launcher is told when its parent dies)
if started 120; then
    kill -KILL "$zpid"
else
    kill -INT "$zpid"
fi
collect
is "$alive" 0 "zplan exec killed with SIGKILL: no rank is left running"
run "$ZPLAN" show 1 --db "$DB" --json
jok "$outf" '.executions[-1] | .status == "lost" and (.reason | test("launcher.*gone"))' \
    "zplan show marks the execution whose launcher was killed as lost (it stayed running)"

# the database locked (another process holds BEGIN IMMEDIATE) when the run
# ends: zplan waits (with progress), then keeps the record in a file and
# says how to import it; zplan import adds it once the lock is gone.  The
# lock is taken once the run is under way (step 1 shown).
mkfifo "$tmp/lockfifo"
: >"$errf"
ZPLAN_DB_WAIT_S=2 "$ZPLAN" exec 1 --db "$DB" --steps 3000 --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 \
    --json >"$outf" 2>"$errf" &
zpid=$!
i=0
until grep -q '^zplan: step 1/' "$errf" || [ $i -gt 300 ]; do i=$((i + 1)); sleep 0.1; done
(echo 'BEGIN IMMEDIATE;'; echo "SELECT 'locked';"; cat "$tmp/lockfifo") | sqlite3 -batch "$DB" >"$tmp/lock.out" 2>&1 &
lockpid=$!
wait "$zpid"
rc=$?
echo 'COMMIT;' >"$tmp/lockfifo"
wait "$lockpid" 2>/dev/null
saved=$(sed -n 's/.*record is in \(.*\.json\): zplan import.*/\1/p' "$errf")
ok "$([ "$rc" -eq 1 ] && grep -q locked "$tmp/lock.out" && [ -n "$saved" ] && [ -s "$saved" ] &&
      grep -q 'locked by another process; waiting' "$errf"; echo $?)" \
    "a database locked as a run ends: exit 1, the record kept in a file, zplan import named" ||
    diag "rc=$rc $(tail -n 3 "$errf") $(cat "$tmp/lock.out")"
# (a list in between sees the row still running with its launcher gone and
# marks it lost; the import still finishes it)
"$ZPLAN" list --db "$DB" >/dev/null 2>&1
is "$(sqlite3 -batch "$DB" 'SELECT status FROM executions ORDER BY id DESC LIMIT 1')" lost \
    "list in between: the row whose launcher ended is marked lost"
run "$ZPLAN" import "$saved" --db "$DB"
ok $rc "zplan import adds the kept record once the lock is gone (after list marked the row lost)" || diag "$err"
run "$ZPLAN" show 1 --db "$DB" --json
jok "$outf" '.executions[-1].status == "ok" and (.executions[-1].losses | length) == 3000' \
    "the imported execution is listed with its losses"

# a rank that dies: the launcher ends the job
if started 120; then
    kill -KILL "$(head -n 1 "$tmp/pids")"
else
    kill -INT "$zpid"
fi
collect
ended_ok failed 'no result|failed' "a rank killed during a run"

# a hung rank (stopped: the other waits for it in a collective) is ended
# after --timeout; once what was under way has arrived (1 s after the stop)
# no step finishes
t0=$(date +%s)
stopped=1 seen=-1 later=-2
if started 20; then
    kill -STOP "$(head -n 1 "$tmp/pids")" && stopped=$?
    sleep 1
    seen=$(grep -c '^zplan: step' "$errf")
    sleep 3
    later=$(grep -c '^zplan: step' "$errf")
fi
collect
t1=$(date +%s)
ok "$stopped" "a hung rank: one rank stopped (SIGSTOP) during the run"
ended_ok failed 'timed out' "a hung rank"
ok "$([ "$later" -eq "$seen" ]; echo $?)" "a hung rank: no progress while it is stopped ($seen steps, then $later)"
# (ending the job, mpirun wakes its ranks: SIGCONT before SIGTERM, so a few
# more steps may finish then; the record has every step that was shown)
jok "$outf" ".steps_done >= $seen and .steps_done == $(grep -c '^zplan: step' "$errf")" \
    "a hung rank: the record has every step shown as done ($seen before the stop)"
ok "$([ $((t1 - t0)) -ge 20 ] && [ $((t1 - t0)) -lt 60 ]; echo $?)" \
    "a hung rank: ended by --timeout 20, within a minute ($((t1 - t0)) s)"
run "$ZPLAN" show 1 --db "$DB" --json
jok "$outf" '[.executions[].status] | index("interrupted") != null and index("failed") != null' \
    "zplan show --json lists the ended executions"

# refused before any launch (exit 2), nothing recorded
n0=$(sqlite3 -batch "$DB" "SELECT count(*) FROM executions" 2>&1)
ok "$(case $n0 in '' | *[!0-9]*) echo 1 ;; *) echo 0 ;; esac)" "the store counts its executions: $n0"
r_nm=$("$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --tp 1 --pp 1 --zero 1 --offload none --ckpt none --micro-batch 2 \
    --global-batch 8 --dtype bf16 --no-master-weights --db "$DB" --json 2>/dev/null | jq .run_id)
# per-op recompute, ZeRO-3 with a pipeline and FP8: the engine has none of
# them; a context-parallel plan runs on cp x dp ranks (tests/context.sh),
# not on another count
r_op=$("$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --ckpt op --global-batch 8 --db "$DB" --json 2>/dev/null | jq .run_id)
r_cp=$("$ZPLAN" --model gpt2-small --gpus 2 --cp 2 --seq 1024 --global-batch 8 --db "$DB" --json 2>/dev/null | jq .run_id)
r_mlp=$("$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --recompute-modules mlp --global-batch 8 --db "$DB" --json 2>/dev/null | jq .run_id)
r_zpp=$("$ZPLAN" --model gpt2-small --gpus 2 --dp 1 --tp 1 --pp 2 --zero 3 --global-batch 8 --db "$DB" --json 2>/dev/null | jq .run_id)
r_fp8=$("$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --gpu h100-sxm --fp8 --global-batch 8 --db "$DB" --json 2>/dev/null | jq .run_id)
r_l8=$(jq .run_id "$tmp/l8.json")
# activation offload in stream order (PyTorch's save_on_cpu, --framework
# fsdp): the engine's copies are the async mode's, two blocks' on the device
r_ao=$("$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --act-offload --framework fsdp --global-batch 8 --db "$DB" --json \
    2>/dev/null | jq .run_id)
# and under --ckpt-every, where the engine's last two blocks are not the
# two whole ones the planner keeps on the device
r_aoe=$("$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --act-offload --ckpt-every 2 --global-batch 8 --db "$DB" --json \
    2>/dev/null | jq .run_id)
# each planned (a run id, not an empty or null one, which exec would refuse
# for another reason)
bad_ids=
for r in "$r_nm" "$r_op" "$r_cp" "$r_mlp" "$r_zpp" "$r_fp8" "$r_l8" "$r_ao" "$r_aoe"; do
    case $r in '' | *[!0-9]*) bad_ids="$bad_ids '$r'" ;; esac
done
is "$bad_ids" "" "the plans exec is to refuse were planned and stored"
# ARGS::WHY: refused (exit 2) for its own reason, WHY in the one line
for case in "99::is not in" "1/5::has no plan 5" "abc::is not a run" "1 --np 3::does not match" "1 --backend cuda::--backend cuda" \
    "$r_nm::master weights" "$r_op::per op" "$r_cp --np 3::dp x tp x pp x cp" "$r_mlp::--recompute-modules" "$r_zpp::ZeRO-3 with pp=2" \
    "$r_fp8::FP8" "$r_ao::not on a copy stream" "$r_aoe::with --ckpt-every" "1 --scale layers=0::layers '0' is out of range" "1 --scale depth=3::unknown key 'depth'" \
    "1 --scale 5M,layers=3::give one or the other" "1 --scale 20Q::expected a parameter count" \
    "1 --scale 10::from 100k to 100B" "1 --hostfile $tmp/no-such-hosts::--hostfile" "1 --device-mem 8::give the unit" \
    "$r_l8 --scale layers=2,hidden=60,heads=4,kv_heads=2,vocab=128,seq=32,ffn=160::even head width" \
    "1 --scale layers=1,hidden=4096,heads=64,vocab=1048576,seq=64::one MPI call moves" \
    "1 --scale layers=2,hidden=64,heads=4,vocab=128,seq=16384,micro_batch=4096,accum=1::the engine indexes"; do
    args=${case%%::*} why=${case#*::}
    # shellcheck disable=SC2086
    run "$ZPLAN" exec $args --db "$DB" --steps 1
    ok "$([ "$rc" -eq 2 ] && grep -q '^zplan: ' "$errf" && grep -q -F -- "$why" "$errf"; echo $?)" \
        "refused before launching: exec $args (exit 2, saying '$why')" || diag "rc=$rc $err"
done
is "$(sqlite3 -batch "$DB" "SELECT count(*) FROM executions" 2>&1)" "$n0" \
    "refused executions leave no row"

# as_predicted WHAT: in the execution's JSON ($outf), every rank's model
# states and the bytes of every collective kind as predicted, and its
# activations and peak within 1 % of the prediction
as_predicted() {
    jok "$outf" 'all(.per_rank[]; .measured_bytes.params == .predicted_bytes.params and
        .measured_bytes.grads == .predicted_bytes.grads and .measured_bytes.optimizer == .predicted_bytes.optimizer) and
        .comm_bytes_per_step.predicted == .comm_bytes_per_step.measured and
        all(.comm_bytes_per_step.by_kind[]; .predicted == .measured)' \
        "$1: model states and the bytes of every collective kind predicted = measured"
    jok "$outf" 'all(.per_rank[]; (.measured_bytes.activations - .predicted_bytes.activations | fabs) <=
        0.01 * .measured_bytes.activations and (.measured_bytes.peak - .predicted_bytes.peak | fabs) <=
        0.01 * .measured_bytes.peak)' \
        "$1: activations and peak within 1 % of the prediction" ||
        diag "$(jq -c '.per_rank[0] | [.predicted_bytes, .measured_bytes]' "$outf" 2>/dev/null)"
}

# activation offload (--act-offload, the async mode): each block's kept
# tensors go to the host pool after its forward but the last two blocks',
# and come back for its backward, the block below fetched ahead.  GPT-2
# small scaled to L=6, h=64, s=64, b=2 on 2 ranks, full recompute: a
# block keeps its input, b s h fp32 = 2 x 64 x 64 x 4 = 32768 bytes; 4 of
# the 6 go to the host (131072 bytes at the forward's end), two stay on
# the device (65536 at the backward's peak), and 4 cross each way a
# micro-batch, 8 a step of 2: 262144 bytes host-to-device and as many
# back.  The losses are those of the same run without offload, bit for bit
ao_scale=layers=6,hidden=64,heads=4,vocab=256,seq=64,micro_batch=2,accum=2
for ck in full none; do
    for ao in --act-offload --no-act-offload; do
        "$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --tp 1 --pp 1 --zero 1 --offload none --ckpt $ck --micro-batch 2 \
            --global-batch 8 $ao --db "$DB" --json >"$tmp/ao.json" 2>/dev/null
        run "$ZPLAN" exec "$(jq .run_id "$tmp/ao.json")" --db "$DB" --steps 3 --json --scale "$ao_scale"
        ok "$rc" "exec of a plan with $ao (ckpt $ck) runs" || diag "rc=$rc $err"
        cp "$outf" "$tmp/ao-$ck$ao.json"
    done
done
outf=$tmp/ao-full--act-offload.json
jok "$outf" 'all(.per_rank[]; .host_measured_bytes == 131072 and .host_predicted_bytes == 131072 and
    .measured_bytes.activations == 65536 and .predicted_bytes.activations == 65536) and
    .comm_bytes_per_step.by_kind["host-to-device"].measured == 262144 and
    .comm_bytes_per_step.by_kind["device-to-host"].measured == 262144' \
    "--act-offload, full recompute: 4 inputs of 32768 bytes on the host, 2 on the device, 8 x 32768 copied each way a step"
as_predicted "--act-offload, full recompute"
outf=$tmp/ao-none--act-offload.json
jok "$outf" 'all(.per_rank[]; (.host_measured_bytes - .host_predicted_bytes | fabs) <= 0.01 * .host_measured_bytes and
    .host_measured_bytes > 0 and (.measured_bytes.peak - .predicted_bytes.peak | fabs) <= 0.01 * .measured_bytes.peak) and
    ([.comm_bytes_per_step.by_kind["host-to-device", "device-to-host"] | (.measured - .predicted | fabs) <= 0.01 * .measured] | all)' \
    "--act-offload, no recompute: host activations, device peak and the copies within 1 % of the prediction"
for ck in full none; do
    ok "$(jq -n --slurpfile a "$tmp/ao-$ck--act-offload.json" --slurpfile b "$tmp/ao-$ck--no-act-offload.json" \
        '$a[0].losses == $b[0].losses and ($a[0].per_rank[0].measured_bytes.peak < $b[0].per_rank[0].measured_bytes.peak)' |
        grep -qx true; echo $?)" "--act-offload (ckpt $ck): the same losses as without it, on a lower device peak"
done

# the LLaMA family runs as itself: Llama-3-8B (SwiGLU, RMSNorm, rotary, 8 KV
# heads of 32, untied head, no biases) scaled to L=2, h=64, 4 heads keeps
# its proportions: 1 KV head (32/8 = 4 query heads each), an MLP of
# 14336/4096 x 64 = 224.  Hand count: embedding V h = 8192; a block: norm
# 64, QKV (64 + 2 x 16) x 64 = 6144, projection 4096, norm 64, gate and up
# 2 x 224 x 64 = 28672, down 64 x 224 = 14336, 53376; the final norm and
# the untied head 64 + 8192: 8192 + 2 x 53376 + 8256 = 123200
LP=123200
for lay in "--zero 1 --ckpt none" "--zero 3 --ckpt full"; do
    # shellcheck disable=SC2086
    "$ZPLAN" --model llama3-8b --gpus 2 --dp 2 $lay --db "$DB" --json >"$tmp/llama.json" 2>/dev/null
    run "$ZPLAN" exec "$(jq .run_id "$tmp/llama.json")" --db "$DB" --steps 4 --json \
        --scale layers=2,hidden=64,heads=4,vocab=128,seq=32,micro_batch=2,accum=2
    ok "$rc" "exec of a Llama-3-8B plan ($lay) runs" || diag "rc=$rc $err"
    jok "$outf" ".status == \"ok\" and .model.params == $LP and .model.kv_heads == 1 and .model.ffn == 224 and
        .model.mlp == \"swiglu\" and .model.norm == \"rmsnorm\" and .model.position == \"rotary\" and
        .model.tied_embeddings == false and .model.bias == false" \
        "Llama-3-8B ($lay) runs as a LLaMA: $LP parameters (hand count), 1 KV head, SwiGLU 224, RMSNorm, rotary, untied"
    as_predicted "Llama-3-8B ($lay)"
    jok "$outf" '.losses[3] < .losses[0]' "Llama-3-8B ($lay): the loss falls"
done

# flash attention: the plan's choice runs (the engine's flash=1), each block
# keeping its rows' log-sum-exp (fp32, b a s values) instead of the
# probabilities (b a s s); the backward holds no head's s x s score
# gradients.  GPT-2 small scaled to L=2, 4 heads, s=64, b=2 on 2 ranks:
# activations differ by 2 x 4 x 2 x 4 x 64 x (64 - 1) = 258048 bytes and the
# buffers by 64 x 64 x 4 = 16384, predicted and measured alike; the losses
# are the same sums (to float rounding)
for fa in flash-attn no-flash-attn; do
    "$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --tp 1 --pp 1 --zero 1 --ckpt none --micro-batch 2 --global-batch 4 \
        --"$fa" --db "$DB" --json >"$tmp/fa.json" 2>/dev/null
    run "$ZPLAN" exec "$(jq .run_id "$tmp/fa.json")" --db "$DB" --steps 3 --json \
        --scale layers=2,hidden=64,heads=4,vocab=128,seq=64
    ok "$rc" "exec with --$fa runs" || diag "rc=$rc $err"
    cp "$outf" "$tmp/$fa.json"
done
jok "$tmp/flash-attn.json" '.flash_attention == true' "--flash-attn: the record says the engine ran flash attention"
jok "$tmp/no-flash-attn.json" '.flash_attention == false' "--no-flash-attn: the record says it stored the probabilities"
# (the plan is bf16, the default: on the CPU its products stay exact fp32)
jok "$tmp/flash-attn.json" '.dtype == "bf16" and .gemm_math == "fp32"' \
    "a bf16 plan on the CPU: the record says exact fp32 products (tensor-core math is the GPU's)"
for side in predicted measured; do
    is "$(jq -n --slurpfile f "$tmp/flash-attn.json" --slurpfile n "$tmp/no-flash-attn.json" \
        "[\$n[0].per_rank[0].${side}_bytes.activations - \$f[0].per_rank[0].${side}_bytes.activations,
          \$n[0].per_rank[0].${side}_bytes.buffers - \$f[0].per_rank[0].${side}_bytes.buffers] | @csv" -r)" "258048,16384" \
        "flash attention: $side activations 258048 bytes and buffers 16384 fewer (by hand)"
done
jok "$tmp/flash-attn.json" 'all(.per_rank[]; (.measured_bytes.peak - .predicted_bytes.peak | fabs) <= 0.01 * .measured_bytes.peak)' \
    "flash attention: the peak within 1 % of the prediction"
is "$(jq -n --slurpfile f "$tmp/flash-attn.json" --slurpfile n "$tmp/no-flash-attn.json" \
    '[range(3) as $i | ($f[0].losses[$i] - $n[0].losses[$i]) / $n[0].losses[$i] | fabs < 1e-6] | all')" true \
    "flash attention: the same losses as with stored probabilities (relative 1e-6)"
run "$ZPLAN" show "$(jq .run_id "$tmp/flash-attn.json")" --db "$DB"
ok "$(echo "$out" | grep -q 'model run: .*; flash attention$'; echo $?)" "zplan show names the flash attention it ran" ||
    diag "$(echo "$out" | grep 'model run')"

# a model the engine does not build is refused, not run as another model:
# BLOOM's ALiBi positions are named (its 176B given 8 TiB GPUs to make a
# plan on 2); nothing recorded
n0=$(sqlite3 -batch "$DB" "SELECT count(*) FROM executions")
"$ZPLAN" --model bloom-176b --gpus 2 --dp 2 --gpu-mem 8TiB --db "$DB" --json >"$tmp/bloom.json" 2>/dev/null
run "$ZPLAN" exec "$(jq .run_id "$tmp/bloom.json")" --db "$DB" --steps 1
ok "$([ "$rc" -eq 2 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q 'engine builds GPT-2 and LLaMA-family blocks' "$errf" &&
      grep -q 'ALiBi positions' "$errf"; echo $?)" \
    "exec of a BLOOM plan: refused (exit 2), naming ALiBi" || diag "rc=$rc $err"
is "$(sqlite3 -batch "$DB" "SELECT count(*) FROM executions" 2>&1)" "$n0" \
    "the refused BLOOM execution leaves no row"
# Qwen3 runs as itself: its Q and K head norms (an RMSNorm of the head
# size on each Q and K head, before the rotation) read back from the stored
# run.  Hand count: embedding 256 x 64 = 16384; a block: norm 64, QKV
# (64 + 2 x 2 x 16) x 64 = 8192, the head norms 2 x 16 = 32, projection
# 4096, norm 64, gate and up 2 x 128 x 64 = 16384, down 8192: 37024; the
# final norm and the untied head 64 + 16384: 16384 + 2 x 37024 + 16448 =
# 106880.  With tp 2 (sp on and off) each rank normalises its own heads and
# their weights' gradients are summed over tp, bytes the planner counts as
# the collective "Q/K head norm gradient all-reduce"; each block keeps the
# heads before their norms and a rstd per head and token, (16 + 1) x 4 bytes
# a head, token and layer on top of LLaMA's
cat >"$tmp/qwen3-tiny.json" <<'EOF2'
{"model_type": "qwen3", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
 "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 128, "vocab_size": 256,
 "max_position_embeddings": 64}
EOF2
for lay in "--tp 2 --dp 1 --sp --zero 0 --ckpt none" "--tp 2 --dp 1 --no-sp --zero 1 --ckpt selective" \
           "--dp 2 --zero 3 --ckpt full"; do
    # shellcheck disable=SC2086
    "$ZPLAN" --config "$tmp/qwen3-tiny.json" --gpus 2 $lay --seq 64 --global-batch 4 --db "$DB" --json \
        >"$tmp/qwen3.json" 2>/dev/null
    run "$ZPLAN" exec "$(jq .run_id "$tmp/qwen3.json")" --db "$DB" --steps 4 --json
    ok "$rc" "exec of a Qwen3 plan ($lay) runs" || diag "rc=$rc $err"
    jok "$outf" '.status == "ok" and .model.params == 106880 and .losses[3] < .losses[0]' \
        "Qwen3 ($lay): 106880 parameters with its head norms (hand count), and the loss falls"
    as_predicted "Qwen3 ($lay)"
done
# the head norms' tp all-reduce, by hand: tp 2 without sp at ZeRO 1 sums
# each block's 2 x 16 bf16 gradients once a step, 2 blocks: 128 bytes, bus
# bytes 128 x 2 (2 - 1) / 2 = 128 on top of Megatron's all-reduces (the
# same plan on the LLaMA without the norms)
sed 's/"qwen3"/"llama"/' "$tmp/qwen3-tiny.json" >"$tmp/llama-tiny.json"
for mdl in qwen3 llama; do
    "$ZPLAN" --config "$tmp/$mdl-tiny.json" --gpus 2 --tp 2 --dp 1 --no-sp --zero 1 --ckpt none --seq 64 \
        --global-batch 4 --dtype bf16 --grad-dtype bf16 --db "$DB" --json >"$tmp/$mdl-ar.json" 2>/dev/null
    run "$ZPLAN" exec "$(jq .run_id "$tmp/$mdl-ar.json")" --db "$DB" --steps 1 --json
    cp "$outf" "$tmp/$mdl-ar-exec.json"
done
is "$(jq -n --slurpfile q "$tmp/qwen3-ar-exec.json" --slurpfile l "$tmp/llama-ar-exec.json" \
    '$q[0].comm_bytes_per_step.by_kind["all-reduce"].measured - $l[0].comm_bytes_per_step.by_kind["all-reduce"].measured')" \
    128 "Qwen3 on tp 2: the head norms' gradient all-reduce measured 2 x 2 x 16 x 2 = 128 bytes a step (hand count)"
# what the engine cannot build is still refused: Q/K head norms in
# LayerNorm blocks (a zplan_norm override), and an MLP too narrow to lend
# the norms' backward its room; nothing recorded
n0=$(sqlite3 -batch "$DB" "SELECT count(*) FROM executions")
jq '. + {"zplan_norm": "layernorm"}' "$tmp/qwen3-tiny.json" >"$tmp/qwen3-ln.json"
"$ZPLAN" --config "$tmp/qwen3-ln.json" --gpus 2 --dp 2 --seq 64 --global-batch 4 --db "$DB" --json >"$tmp/qwen3-ln-run.json" 2>/dev/null
run "$ZPLAN" exec "$(jq .run_id "$tmp/qwen3-ln-run.json")" --db "$DB" --steps 1
ok "$([ "$rc" -eq 2 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q "norms on Q's and K's heads in LayerNorm blocks" "$errf"; echo $?)" \
    "exec of Q/K head norms in LayerNorm blocks: refused (exit 2), naming them" || diag "rc=$rc $err"
jq '. + {"intermediate_size": 16}' "$tmp/qwen3-tiny.json" >"$tmp/qwen3-narrow.json"
"$ZPLAN" --config "$tmp/qwen3-narrow.json" --gpus 2 --dp 2 --seq 64 --global-batch 4 --db "$DB" --json >"$tmp/qwen3-nr.json" 2>/dev/null
run "$ZPLAN" exec "$(jq .run_id "$tmp/qwen3-nr.json")" --db "$DB" --steps 1
ok "$([ "$rc" -eq 2 ] && grep -q "head norms need an MLP of at least hidden / 3" "$errf"; echo $?)" \
    "exec of Qwen3 with an MLP of 16 on 64: refused (exit 2), saying what the engine needs" || diag "rc=$rc $err"
is "$(sqlite3 -batch "$DB" "SELECT count(*) FROM executions" 2>&1)" "$n0" \
    "the refused Q/K head norm executions leave no row"
# Qwen2's bias on the Q, K and V product alone runs as itself (the engine's
# qkv_bias=1): Qwen2.5-7B on tp 2 scaled to L = 2, h = 128, 8 heads of 16,
# 2 KV heads, an MLP of 512, 256 tokens.  Hand count: embedding 256 x 128 =
# 32768; a block: norm 128, QKV (128 + 2 x 2 x 16) x 128 = 24576 and its
# bias 192, projection 16384, norm 128, gate and up 2 x 512 x 128 = 131072,
# down 65536: 238016; the final norm and the untied head 128 + 32768:
# 32768 + 2 x 238016 + 32896 = 541696
"$ZPLAN" --model qwen2.5-7b --gpus 2 --tp 2 --dp 1 --zero 1 --db "$DB" --json >"$tmp/qwen2.json" 2>/dev/null
run "$ZPLAN" exec "$(jq .run_id "$tmp/qwen2.json")" --db "$DB" --steps 4 --json \
    --scale layers=2,hidden=128,heads=8,kv_heads=2,ffn=512,vocab=256,seq=64
jok "$outf" '.status == "ok" and .model.params == 541696 and .model.bias == false and .losses[3] < .losses[0]' \
    "Qwen2.5-7B (its QKV bias alone) on tp 2: 541696 parameters (hand count), and the loss falls" ||
    diag "rc=$rc $(jq -c .model "$outf" 2>/dev/null) $err"
as_predicted "Qwen2.5-7B on tp 2"
n0=$(sqlite3 -batch "$DB" "SELECT count(*) FROM executions")
# Granite's multipliers (embedding, residual, attention scale, logits) make
# it other than the LLaMA of its shape, which the engine would run: refused
jq '.model_type = "granite" | . + {"embedding_multiplier": 12.0, "residual_multiplier": 0.22,
    "attention_multiplier": 0.0625, "logits_scaling": 8.0}' "$tmp/llama-tiny.json" >"$tmp/granite-tiny.json"
"$ZPLAN" --config "$tmp/granite-tiny.json" --gpus 2 --dp 2 --seq 64 --global-batch 4 --db "$DB" --json \
    >"$tmp/granite.json" 2>/dev/null
run "$ZPLAN" exec "$(jq .run_id "$tmp/granite.json")" --db "$DB" --steps 1
ok "$([ "$rc" -eq 2 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q "Granite's multipliers" "$errf"; echo $?)" \
    "exec of a Granite plan: refused (exit 2), naming its multipliers" || diag "rc=$rc $err"
is "$(sqlite3 -batch "$DB" "SELECT count(*) FROM executions" 2>&1)" "$n0" "the refused Granite execution leaves no row"
# Gemma's GELU gate and its embedding scaled by sqrt(h) are not the
# engine's SiLU gate and plain lookup: refused, naming both
jq '.model_type = "gemma"' "$tmp/llama-tiny.json" >"$tmp/gemma-tiny.json"
"$ZPLAN" --config "$tmp/gemma-tiny.json" --gpus 2 --dp 2 --seq 64 --global-batch 4 --db "$DB" --json \
    >"$tmp/gemma.json" 2>/dev/null
run "$ZPLAN" exec "$(jq .run_id "$tmp/gemma.json")" --db "$DB" --steps 1
ok "$([ "$rc" -eq 2 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q "a GELU-gated MLP" "$errf" &&
      grep -q "embedding scaled by sqrt(h)" "$errf"; echo $?)" \
    "exec of a Gemma plan: refused (exit 2), naming its GELU gate and embedding scale" || diag "rc=$rc $err"
is "$(sqlite3 -batch "$DB" "SELECT count(*) FROM executions" 2>&1)" "$n0" "the refused Gemma execution leaves no row"
# a sliding window (Mistral's) masks keys only on a sequence longer than
# itself: a window of 32 keys is refused on 64 tokens (the engine attends to
# every earlier key), naming the --scale seq= that runs it, and runs on 32,
# where it masks nothing, with its activations and peak as predicted
cat >"$tmp/mistral-tiny.json" <<'EOF2'
{"model_type": "mistral", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
 "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 256, "max_position_embeddings": 64,
 "sliding_window": 32}
EOF2
"$ZPLAN" --config "$tmp/mistral-tiny.json" --gpus 2 --dp 2 --seq 64 --global-batch 4 --db "$DB" --json >"$tmp/mistral.json" 2>/dev/null
run "$ZPLAN" exec "$(jq .run_id "$tmp/mistral.json")" --db "$DB" --steps 2
ok "$([ "$rc" -eq 2 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q "sliding-window attention of 32 keys on a sequence of 64" "$errf" &&
      grep -q -- "--scale seq=32" "$errf"; echo $?)" \
    "exec of a 32-key window on 64 tokens: refused (exit 2), naming --scale seq=32" || diag "rc=$rc $err"
is "$(sqlite3 -batch "$DB" "SELECT count(*) FROM executions" 2>&1)" "$n0" "the refused window execution leaves no row"
run "$ZPLAN" exec "$(jq .run_id "$tmp/mistral.json")" --db "$DB" --steps 4 --scale seq=32 --json
jok "$outf" '.status == "ok" and .model.seq == 32 and .losses[3] < .losses[0] and all(.per_rank[];
    (.measured_bytes.activations - .predicted_bytes.activations | fabs) <= 0.01 * .measured_bytes.activations and
    (.measured_bytes.peak - .predicted_bytes.peak | fabs) <= 0.01 * .measured_bytes.peak)' \
    "the same plan at --scale seq=32 (the window masks nothing): runs, activations and peak within 1 %" ||
    diag "rc=$rc $(jq -c '.per_rank[0] | [.predicted_bytes, .measured_bytes]' "$outf" 2>/dev/null) $err"

# refused before anything is written, and in one line: a plan file is
# planned without recording until all is checked (a wrong --np, cp not dividing the sequence,
# ZeRO-2 in a pipeline, a bad --scale recorded the planning run, then refused; a shape outside
# the engine's ranges, vocab 1, was launched and recorded as failed)
runs_now() { sqlite3 -batch "$DB" 'SELECT count(*) FROM runs'; }
execs_now() { sqlite3 -batch "$DB" 'SELECT count(*) FROM executions'; }
printf 'model = gpt2-small\ngpus = 4\ntp = 2\ndp = 2\npp = 1\nglobal-batch = 8\n' >"$tmp/tp2.plan"
printf 'model = gpt2-small\ngpus = 4\ntp = 1\ncp = 2\ndp = 2\npp = 1\nglobal-batch = 8\n' >"$tmp/cp2.plan"
printf 'model = gpt2-small\ngpus = 4\ntp = 1\ndp = 2\npp = 2\nzero = 2\nglobal-batch = 8\n' >"$tmp/pp2z2.plan"
printf 'model = gpt2-small\ngpus = 2\nlayers = 3\n' >"$tmp/bad.plan"
printf 'model = gpt2-small\ngpus = 2\ngpu = h100-sxm\nfp8 = yes\nglobal-batch = 4\n' >"$tmp/fp8.plan"
# a plan file that asks for activation offload gets it (exec adds
# --no-act-offload only where the file says nothing), and in stream order
# (fsdp's) the engine refuses it
printf 'model = gpt2-small\ngpus = 2\nframework = fsdp\nact-offload = yes\nglobal-batch = 4\n' >"$tmp/aosync.plan"
printf 'localhost slots=2\nthis is not a hostfile line\n' >"$tmp/garbage-hosts"
: >"$tmp/empty-hosts"
r0=$(runs_now) e0=$(execs_now)
for args in "$ZPLAN_SRCDIR/plans/tiny-cpu.plan --np 3" "$tmp/cp2.plan --scale layers=2,hidden=64,heads=4,vocab=256,seq=62" "$tmp/pp2z2.plan --scale layers=2,hidden=64,heads=4,vocab=256,seq=64" \
    "$ZPLAN_SRCDIR/plans/tiny-cpu.plan --scale depth=3" "1 --scale layers=2,,hidden=64" "1 --scale layers=2,layers=3" \
    "$tmp/fp8.plan --scale layers=2,hidden=64,heads=4,vocab=256,seq=64" \
    "$tmp/aosync.plan --scale layers=2,hidden=64,heads=4,vocab=256,seq=64" "$tmp/bad.plan" "1 --hostfile $tmp/garbage-hosts" "1 --hostfile $tmp/empty-hosts" \
    "1 --scale layers=1,hidden=32,heads=2,vocab=1,seq=16"; do
    # shellcheck disable=SC2086
    run "$ZPLAN" exec $args --db "$DB" --steps 1 --oversubscribe
    ok "$([ "$rc" -eq 2 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q '^zplan: ' "$errf"; echo $?)" \
        "refused in one line, exit 2: exec $(echo "$args" | sed "s|$tmp/||; s|$ZPLAN_SRCDIR/||")" || diag "rc=$rc $err"
    case $args in *aosync*)
        ok "$(grep -q 'not on a copy stream' "$errf"; echo $?)" "the plan file's act-offload = yes kept: refused as sync" ;;
    esac
done
run "$ZPLAN" exec 1 --scale "" --db "$DB" --steps 1 --oversubscribe
ok "$([ "$rc" -eq 2 ] && grep -q "^zplan: --scale '': an empty item" "$errf"; echo $?)" \
    "--scale '' is refused (it read as no scaling: a full-size model on the CPU ranks)" || diag "rc=$rc $err"
is "$(runs_now) $(execs_now)" "$r0 $e0" "those refusals recorded no planning run and no execution"
# a tensor-parallel plan runs (with its sequence parallelism): 4 ranks,
# tp 2 x dp 2, the record's coordinates and bytes per group
run "$ZPLAN" exec "$tmp/tp2.plan" --db "$DB" --steps 2 --oversubscribe --scale layers=2,hidden=64,heads=4,vocab=256,seq=64 --json
ok "$rc" "exec of a tp 2 x dp 2 plan runs" || diag "rc=$rc $err"
jok "$outf" '.status == "ok" and .tp == 2 and .dp == 2 and .sp == true and .ranks == 4 and
    ([.per_rank[] | [.tp_rank, .dp_rank, .stage]] == [[0,0,0],[1,0,0],[0,1,0],[1,1,0]]) and
    all(.comm_bytes_per_step.by_group[]; .predicted == .measured) and .comm_bytes_per_step.by_group.tp.measured > 0' \
    "the tp 2 x dp 2 record: each rank's coordinates, the bytes of the dp and tp groups as predicted"
# a plan for 65,536 GPUs is not launched as 65,536 ranks
"$ZPLAN" --params 1e9 --gpus 65536 --dp 65536 --tp 1 --pp 1 --zero 3 --micro-batch 1 --global-batch 65536 \
    --db "$DB" >/dev/null 2>&1
big=$(sqlite3 -batch "$DB" 'SELECT max(id) FROM runs')
mkdir -p "$tmp/fakempi"
printf '#!/bin/sh\necho launched >"%s/launched"\n' "$tmp" >"$tmp/fakempi/mpirun"
chmod +x "$tmp/fakempi/mpirun"
PATH=$tmp/fakempi:$PATH run "$ZPLAN" exec "$big" --db "$DB" --steps 1
ok "$([ "$rc" -eq 2 ] && [ ! -e "$tmp/launched" ] && grep -q 'reduced scale' "$errf" &&
      grep -q -- '(--np allows at most 4096 ranks)' "$errf" && ! grep -q -- 'say --np 65536' "$errf"; echo $?)" \
    "a plan of dp=65536: refused before launch (exit 2), saying how to run it at reduced scale, not suggesting --np 65536" ||
    diag "rc=$rc $err"
# the limit without --np at its edge: 64 ranks launched, 65 refused
# (mutation: the limit off by one either way is caught)
for n in 64 65; do
    run "$ZPLAN" --model gpt2-small --gpus $n --gpus-per-node 1 --dp $n --tp 1 --pp 1 --zero 1 --micro-batch 1 \
        --global-batch $n --db "$DB" --json
    edge=$(jq .run_id "$outf")
    rm -f "$tmp/launched"
    PATH=$tmp/fakempi:$PATH run "$ZPLAN" exec "$edge" --db "$DB" --steps 1 --oversubscribe
    if [ $n -eq 64 ]; then
        ok "$([ -e "$tmp/launched" ]; echo $?)" "a plan of dp=64 without --np: launched (the limit is 64)" ||
            diag "rc=$rc $err"
    else
        ok "$([ "$rc" -eq 2 ] && [ ! -e "$tmp/launched" ] && grep -q -- '64' "$errf"; echo $?)" \
            "a plan of dp=65 without --np: refused before launch (exit 2), naming the limit of 64" || diag "rc=$rc $err"
    fi
done
# --scale shrinks the accumulation too: a plan of 128 micro-batches per
# step on 8 ranks (1024 / (8 x 1)) runs 4 unless accum= says, and exec says
# so before the launch (mutation: the plan's accumulation kept is caught)
run "$ZPLAN" --model gpt2-small --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --micro-batch 1 --global-batch 1024 \
    --db "$DB" --json
acc=$(jq .run_id "$outf")
rm -f "$tmp/launched"
PATH=$tmp/fakempi:$PATH run "$ZPLAN" exec "$acc" --db "$DB" --steps 3 --oversubscribe --scale layers=2,hidden=64,heads=4,vocab=128,seq=32
ok "$([ -e "$tmp/launched" ] && grep -q '^zplan: execution [0-9]*: .*(3 steps of 4 micro-batches of 1 sequence per rank' "$errf"; echo $?)" \
    "--scale: a plan's 128 micro-batches per step become 4, said before the launch" || diag "rc=$rc $err"
# fewer than 8 cores: the warning; 8 or more: none (the ranks do not take
# turns); counted as zplan counts them, those this process may run on (nproc
# follows the affinity, as zplan's sched_getaffinity; not OMP_NUM_THREADS,
# which lib.sh sets to 1)
if [ "$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)" -lt 8 ]; then
    ok "$(grep -q '^zplan: warning: 8 ranks on [0-9]* cores (--oversubscribe): they take turns' "$errf"; echo $?)" \
        "8 ranks on fewer cores: a warning that they take turns" || diag "$err"
else
    ok "$(grep -q 'they take turns' "$errf" && echo 1 || echo 0)" "8 ranks on 8 or more cores: no warning that they take turns" ||
        diag "$err"
fi
rm -f "$tmp/launched"
PATH=$tmp/fakempi:$PATH run "$ZPLAN" exec "$acc" --db "$DB" --steps 3 --oversubscribe --scale layers=2,hidden=64,heads=4,vocab=128,seq=32,accum=16
ok "$(grep -q '(3 steps of 16 micro-batches of 1 sequence per rank' "$errf"; echo $?)" \
    "--scale accum=16: the accumulation asked for" || diag "rc=$rc $err"
# the other forms an Open MPI hostfile takes reach mpirun unrefused
printf 'ops@node1 count=4\nnode2 slots=2 max-slots = 4\n[fe80::1] cpu=2\n' >"$tmp/forms-hosts"
rm -f "$tmp/launched"
PATH=$tmp/fakempi:$PATH run "$ZPLAN" exec 1 --db "$DB" --steps 1 --hostfile "$tmp/forms-hosts"
ok "$([ -e "$tmp/launched" ]; echo $?)" "a hostfile with user@host, count=, max-slots = N, [v6]: passed to mpirun" ||
    diag "rc=$rc $err"
# README's cluster example: a parameter count with tp 4 picks a shape whose
# heads, KV heads (Llama's groups of 8) and MLP split over 4 ranks
printf 'node1 slots=8\nnode2 slots=8\n' >"$tmp/two-hosts"
rm -f "$tmp/launched"
PATH=$tmp/fakempi:$PATH run "$ZPLAN" exec "$ZPLAN_SRCDIR/plans/llama3-70b-64gpu.plan" --db "$DB" --steps 1 \
    --hostfile "$tmp/two-hosts" --scale 1B,dp=4,tp=4,pp=1
ok "$([ -e "$tmp/launched" ] && grep -q 'mpirun -np 16 ' "$errf"; echo $?)" \
    "README's cluster example (llama3-70b-64gpu.plan --scale 1B,dp=4,tp=4,pp=1): a 1B shape tp 4 splits, 16 ranks launched" ||
    diag "rc=$rc $err"
rm -f "$tmp/launched"; e0=$(execs_now)
# more ranks than this machine's cores: only with --oversubscribe
cores=$(getconf _NPROCESSORS_ONLN)   # (nproc honours OMP_NUM_THREADS, set to 1 here)
n=$((cores + 1))
"$ZPLAN" --model gpt2-small --gpus "$n" --dp "$n" --tp 1 --pp 1 --zero 1 --micro-batch 1 --global-batch "$n" \
    --db "$DB" >/dev/null 2>&1
many=$(sqlite3 -batch "$DB" 'SELECT max(id) FROM runs')
PATH=$tmp/fakempi:$PATH run "$ZPLAN" exec "$many" --db "$DB" --steps 1
ok "$([ "$rc" -eq 2 ] && [ ! -e "$tmp/launched" ] && grep -q -- '--oversubscribe' "$errf"; echo $?)" \
    "$n ranks on $cores cores: refused (exit 2) naming --oversubscribe" || diag "rc=$rc $err"
is "$(execs_now)" "$e0" "and nothing recorded"

# a plan file: planned (recorded as a run), then its best plan run
cat >"$tmp/two.plan" <<EOP
# GPT-2 small on 2 ranks, ZeRO-3, every layout dimension pinned
model = gpt2-small
gpus = 2
dp = 2
tp = 1
pp = 1
zero = 3
offload = none
ckpt = selective
micro-batch = 2
global-batch = 8
dtype = fp32
EOP
runs0=$(sqlite3 -batch "$DB" 'SELECT count(*) FROM runs')
run "$ZPLAN" exec "$tmp/two.plan" --db "$DB" --steps 2 --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --json
ok "$([ "$rc" -eq 0 ] && jtrue "$outf" '.status == "ok" and .zero == 3 and .ckpt == "selective" and .ranks == 2'
      echo $?)" "exec FILE.plan: plans the file and runs its plan" || diag "rc=$rc $err"
is "$(sqlite3 -batch "$DB" 'SELECT count(*) FROM runs')" $((runs0 + 1)) "exec FILE.plan: the planning is recorded as a run"
run "$ZPLAN" exec "$tmp/none.plan" --db "$DB" --steps 1
ok "$([ "$rc" -eq 2 ] && grep -q 'none.plan' "$errf"; echo $?)" "exec of a missing plan file: exit 2 naming it"

# a failed launch says so and how to fix it
mkdir "$tmp/bin"
for t in sh env cat; do ln -s "$(command -v $t)" "$tmp/bin/$t" 2>/dev/null; done
PATH=$tmp/bin run "$ZPLAN" exec 1 --db "$DB" --steps 1
ok "$([ "$rc" -eq 1 ] && grep -q 'mpirun not found' "$errf" && grep -q 'openmpi-bin' "$errf"; echo $?)" \
    "no mpirun: exit 1, says how to install it" || diag "rc=$rc $err"

# a run ended early keeps the median of its steps from the second: a
# stand-in engine reports steps of 9.31 (the first), 6.18, 6.43, 6.42, 7.13
# and 7.43 s, then a rank fails; the median of the five from the second is
# 6.43 s (with the first, 7.13 s was recorded)
cat >"$tmp/slow-first" <<'EOS'
#!/bin/sh
[ "${OMPI_COMM_WORLD_RANK:-0}" = 0 ] || exit 1
s=1
for t in 9.31 6.18 6.43 6.42 7.13 7.43; do
    echo "{\"progress\":{\"step\":$s,\"steps\":10,\"loss\":4.0,\"time_s\":$t,\"applied\":1}}"
    s=$((s + 1))
done
exit 1
EOS
chmod +x "$tmp/slow-first"
ZPLAN_ENGINE=$tmp/slow-first run "$ZPLAN" exec 1 --db "$DB" --steps 10 --scale layers=2,hidden=64,heads=4,vocab=128,seq=32 --json
jok "$outf" '.status == "failed" and .steps_done == 6 and .step_time_s.measured == 6.43' \
    "a run ended after 6 steps: step time 6.43 s, the median from the 2nd step (not 7.13 with the first)"

# an engine path that is a file, not a program: said so, not 'not found'
# (a command, not run: dash keeps an assignment before a function)
: >"$tmp/not-a-program"
ZPLAN_ENGINE=$tmp/not-a-program "$ZPLAN" exec 1 --db "$DB" --steps 1 >"$outf" 2>"$errf"
rc=$?
ok "$([ "$rc" -eq 1 ] && grep -q 'not-a-program is not an executable program' "$errf"; echo $?)" \
    "ZPLAN_ENGINE naming a file that is not a program: exit 1, said so" || diag "rc=$rc $(cat "$errf")"

finish
