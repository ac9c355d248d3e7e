#!/bin/sh
# badinput.sh - every class of bad input is refused the same way: exit
# status 2, exactly one line on stderr, "zplan: ..." naming the offending
# option or file, nothing on stdout, and no database created.
. "$(dirname "$0")/lib.sh"
set -f   # the tables below hold patterns: no globbing anywhere

DB=$tmp/bad.db
C=$tmp/cfg
mkdir "$C" || exit 1

# config.json files that must be refused
printf '{\n  "num_hidden_layers": 2,\n  "hidden_size": 64,,\n  "num_attention_heads": 4,\n  "vocab_size": 100\n}\n' \
    >"$C/malformed.json"
printf '[{"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100}]\n' >"$C/array.json"
printf '{"num_hidden_layers": -4, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100}\n' >"$C/neg.json"
printf '{"num_hidden_layers": 4, "hidden_size": 64, "num_attention_heads": 6, "vocab_size": 100}\n' >"$C/heads.json"
printf '{"num_hidden_layers": 1.5, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100}\n' >"$C/frac.json"
printf '{"num_hidden_layers": 2,\n\000 "hidden_size": 64}\n' >"$C/nul.json"
# well-formed but nested past cJSON's 1000 levels: said so, not "malformed"
awk 'BEGIN { printf "{\"a\": "; for (i = 0; i < 1200; i++) printf "["; for (i = 0; i < 1200; i++) printf "]"; print "}" }' \
    >"$C/deep.json"
# a well-formed one, to show the fixtures are refused for their defect only
printf '{"num_hidden_layers": 4, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100}\n' >"$C/good.json"
"$ZPLAN" --config "$C/good.json" --gpus 1 --no-store >/dev/null 2>&1
ok $? "control: a well-formed small config.json is accepted"

# a database holding one run, for `show 999`
RUNS=$tmp/runs.db
"$ZPLAN" --params 1e9 --gpus 1 --db "$RUNS" >/dev/null 2>&1
ok $? "control: a run is recorded in runs.db"
runs_before=$("$ZPLAN" list --db "$RUNS" --json 2>/dev/null | jq length)
is "$runs_before" 1 "control: runs.db holds one run"

# One case a line:  words stderr must contain (grep patterns) | arguments.
# The arguments are expanded by the shell ($DB, $C, quotes).
check_cases() {
    while IFS='|' read -r words args; do
        case $words in
        '' | '#'*) continue ;;
        esac
        rm -f "$DB" "$DB-wal" "$DB-shm" "$DB-journal"
        eval "set -- $args"
        zp "$@"
        problems=
        [ "$rc" -eq 2 ] || problems="$problems; exit status $rc, expected 2"
        [ -s "$outf" ] && problems="$problems; stdout is not empty"
        lines=$(wc -l <"$errf")
        [ "$lines" -eq 1 ] || problems="$problems; $lines lines on stderr, expected 1"
        head -n 1 "$errf" | grep -q '^zplan: ' || problems="$problems; stderr does not start with 'zplan: '"
        for w in $words; do
            grep -q -e "$w" "$errf" || problems="$problems; stderr does not name '$w'"
        done
        for f in "$DB" "$DB-wal" "$DB-shm" "$ZPLAN_DB"; do
            [ -e "$f" ] && problems="$problems; $f was created"
        done
        # shellcheck disable=SC2086
        label=$(echo $args)
        if [ -z "$problems" ]; then
            ok 0 "refused: zplan $label"
        else
            ok 1 "refused: zplan $label"
            diag "${problems#; }"
            diag "stderr: $err"
            [ -s "$outf" ] && diag "stdout: $(head -c 300 "$outf")"
        fi
    done
}

check_cases <<'EOF'
# ---- --params: not a positive finite count up to 1e15
--params -5                    | --params -5 --db "$DB"
--params                       | --params 0 --db "$DB"
--params nan                   | --params nan --db "$DB"
--params inf                   | --params inf --db "$DB"
--params 1e400                 | --params 1e400 --db "$DB"
--params abc                   | --params abc --db "$DB"
--params 11X                   | --params 11X --db "$DB"
--params                       | --params '' --db "$DB"
--params 1e16                  | --params 1e16 --db "$DB"
--params 0x10                  | --params 0x10 --db "$DB"
# ---- integers
--gpus                         | --params 11e9 --gpus 0 --db "$DB"
--gpus                         | --params 11e9 --gpus -1 --db "$DB"
--gpus 1.5                     | --params 11e9 --gpus 1.5 --db "$DB"
--gpus abc                     | --params 11e9 --gpus abc --db "$DB"
--gpus 99999999999             | --params 11e9 --gpus 99999999999 --db "$DB"
--seq                          | --params 11e9 --seq 0 --db "$DB"
--global-batch abc             | --params 11e9 --global-batch abc --db "$DB"
--micro-batch                  | --params 11e9 --micro-batch 0 --db "$DB"
--micro-batch --global-batch   | --params 11e9 --global-batch 10 --micro-batch 4 --db "$DB"
--top                          | --params 11e9 --top 0 --db "$DB"
--gpus-per-node                | --params 11e9 --gpus-per-node 0 --db "$DB"
# ---- presets
--model nosuch                 | --model nosuch --db "$DB"
--gpu nosuch                   | --params 11e9 --gpu nosuch --db "$DB"
# ---- layouts that cannot be built
--tp                           | --params 11e9 --gpus 8 --tp 3 --db "$DB"
--dp                           | --params 11e9 --gpus 8 --dp 3 --db "$DB"
--dp --gpus                    | --params 11e9 --gpus 8 --dp 2 --tp 2 --pp 1 --db "$DB"
--pp                           | --params 11e9 --gpus 8 --pp 7 --db "$DB"
--zero 4                       | --params 11e9 --zero 4 --db "$DB"
--zero --pp                    | --params 11e9 --gpus 8 --zero 2 --pp 2 --db "$DB"
--zero 3 --pp --offload        | --params 11e9 --gpus 8 --zero 3 --pp 2 --offload optimizer+params --db "$DB"
--offload --zero               | --params 11e9 --offload optimizer --zero 0 --db "$DB"
--gpus needs a value --tp      | --params 11e9 --gpus --tp 2 --db "$DB"
nul.json:2:.a.NUL.byte         | --config "$C/nul.json" --db "$DB"
valid.layout 36.candidates,.36:.dp.x.micro-batch | --params 11e9 --gpus 8 --global-batch 3 --tp 1 --pp 1 --db "$DB"
--ckpt selective --eager none full | --model llama3-8b --gpus 8 --eager --ckpt selective --db "$DB"
--ckpt op --eager none full    | --model llama3-8b --gpus 8 --framework torch --ckpt op --db "$DB"
--offload bogus                | --params 11e9 --offload bogus --db "$DB"
--ckpt bogus                   | --params 11e9 --ckpt bogus --db "$DB"
--dtype int8                   | --params 11e9 --dtype int8 --db "$DB"
--vp                           | --params 11e9 --gpus 8 --vp 2 --db "$DB"
--db.needs.a.path              | --params 11e9 --db ""
is.a.directory                 | --config "$C" --db "$DB"
deep.json:1:.*nested.deeper.than.1000 | --config "$C/deep.json" --db "$DB"
--db.needs.a.path              | report 1 --db ""
--db.needs.a.path              | exec 1 --db ""
--db.needs.a.path              | calibrate --db ""
--name.*preset                 | calibrate --name a100-80g --db "$DB"
stages.hold.8.and.9.blocks.*--vp.dividing.9.and.at.most.8 | --params 7e9 --gpus 8 --pp 4 --vp 2 --db "$DB"
--vp.dividing.each.stage.s.17.blocks | --params 7e9 --gpus 8 --pp 2 --vp 3 --db "$DB"
--gpus --gpus-per-node         | --params 11e9 --gpus 12 --gpus-per-node 8 --db "$DB"
--dtype bf16 V100              | --params 11e9 --dtype bf16 --gpu v100-16g --db "$DB"
# ---- sizes and fractions
--host-mem                     | --params 11e9 --host-mem 0 --db "$DB"
--host-mem 12XB                | --params 11e9 --host-mem 12XB --db "$DB"
--gpu-mem.'80'.is.80.bytes.*80GiB | --params 11e9 --gpu-mem 80 --db "$DB"
--host-mem.'512'.is.512.bytes  | --params 11e9 --host-mem 512 --db "$DB"
--frag                         | --params 11e9 --frag 2 --db "$DB"
--seq                          | --model gpt2-small --seq 4096 --db "$DB"
--nccl-mem                     | --params 1e9 --nccl-mem 9000TiB --db "$DB"
--units furlongs               | --params 11e9 --units furlongs --db "$DB"
--optimizer lion               | --params 11e9 --optimizer lion --db "$DB"
# ---- config.json
missing.json                   | --config "$C/missing.json" --db "$DB"
malformed.json:3:[0-9][0-9]*   | --config "$C/malformed.json" --db "$DB"
array.json object              | --config "$C/array.json" --db "$DB"
neg.json num_hidden_layers     | --config "$C/neg.json" --db "$DB"
heads.json heads               | --config "$C/heads.json" --db "$DB"
frac.json num_hidden_layers    | --config "$C/frac.json" --db "$DB"
# published config.json files of models zplan does not model: named field
mixtral-8x7b-v0.1.json num_local_experts | --config "$ZPLAN_SRCDIR/tests/data/hf/mixtral-8x7b-v0.1.json" --db "$DB"
t5-11b.json is_encoder_decoder | --config "$ZPLAN_SRCDIR/tests/data/hf/t5-11b.json" --db "$DB"
# ---- the command line itself
--params --model --config      | --gpus 8 --db "$DB"
--params --model               | --params 11e9 --model gpt2-small --db "$DB"
--bogus                        | --params 11e9 --bogus --db "$DB"
# byte counts beyond 64 bits (the total came out smaller than two of its parts)
--seq --micro-batch 2^62       | --params 1e15 --gpus 1 --seq 1048576 --global-batch 16777216 --micro-batch 16777216 --db "$DB"
--seq 2^62.*a.smaller.--seq.$  | --params 1e15 --gpus 1 --seq 1048576 --global-batch 16777216 --db "$DB"
# long options are spelled out: --fro (once taken as --from, the plan file then ignored)
--fro abbreviated --from       | --params 1e9 --fro plans/tiny-cpu.plan --db "$DB"
--par abbreviated --params     | --par 1e9 --db "$DB"
--params                       | --db "$DB" --params
extra                          | --params 11e9 extra --db "$DB"
nosuchcmd                      | nosuchcmd --db "$DB"
--bogus models                 | models --bogus
# ---- zplan exec --scale: a shape the core refuses, named once and whole (the
# message quoted itself and came out as "--scale: --scale: l: heads 3 ...");
# byte counts beyond 64 bits (the prediction wrapped)
--scale: derived: heads 3      | exec 1 --scale layers=2,hidden=64,heads=3 --db "$RUNS"
--scale: 2^62 micro-batch      | exec 1 --scale layers=1000,hidden=65536,heads=4096,vocab=1048576,seq=16384,micro_batch=4096 --db "$RUNS"
# ---- the store
999                            | show 999 --db "$RUNS"
abc                            | show abc --db "$DB"
bad.db                         | list --db "$DB"
bad.db                         | show --db "$DB"
bad.db                         | show 1 --db "$DB"
EOF

runs_after=$("$ZPLAN" list --db "$RUNS" --json 2>/dev/null | jq length)
is "$runs_after" "$runs_before" "show 999 left runs.db as it was"

finish
