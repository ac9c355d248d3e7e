#!/bin/sh
# cli.sh - the zplan command line: help, the plan answer (text and JSON),
# the presets, config.json files, and a few results checked against
# published numbers and textbook formulas (never against zplan itself).
. "$(dirname "$0")/lib.sh"

D=$ZPLAN_SRCDIR/tests/data
# jq helpers: absolute value, relative difference
JQDEF='def ab: if . < 0 then -. else . end; def rel(a; b): ((a - b) | ab) / (if (b | ab) > 0 then (b | ab) else 1 end);'

# ---------------------------------------------------------------- help

version=$(sed -n 's/^AC_INIT(\[zplan\], *\[\([^]]*\)\].*/\1/p' "$ZPLAN_SRCDIR/configure.ac")
zp --version
ok $rc "--version exits 0"
is "$out" "zplan $version" "--version prints 'zplan <version of configure.ac>'"

zp --help
ok $rc "--help exits 0"
missing=
for c in plan models gpus list show help; do
    grep -q "^  $c  *[a-z]" "$outf" || missing="$missing $c"
done
is "$missing" "" "--help lists the commands plan, models, gpus, list, show, help"

zp help plan
ok $rc "help plan exits 0"
missing=
for o in --params --gpus --json --model --config --db --no-store; do
    grep -q -- "$o" "$outf" || missing="$missing $o"
done
is "$missing" "" "help plan documents --params, --gpus, --json, --model, --config, --db, --no-store"

zp help nosuch
is "$rc" 2 "help nosuch exits 2"
ok "$(test ! -s "$outf" && grep -q '^zplan: .*nosuch' "$errf"; echo $?)" "help nosuch: a 'zplan:' message naming it, nothing on stdout"

# ---------------------------------------------------------------- the text answer

zp --params 11e9 --gpus 8 --no-store
ok $rc "--params 11e9 --gpus 8 --no-store exits 0" || show_run
cp "$outf" "$tmp/11b.txt"
ok "$(grep -q '^Chosen plan: dp=[0-9]* tp=[0-9]* pp=[0-9]*' "$tmp/11b.txt"; echo $?)" "text: prints the chosen plan"
missing=
for c in params grads optimizer activations buffers overhead total; do
    grep -q "^  $c  *[0-9.]* [KMGT]*i*B" "$tmp/11b.txt" || missing="$missing $c"
done
is "$missing" "" "text: the memory table has a row per class and the total"
ok "$(grep -q '^Communication per step' "$tmp/11b.txt"; echo $?)" "text: prints the communication"
missing=
for s in DP TP PP ZeRO-1 ZeRO-2 ZeRO-3 ZeRO-3+offload; do
    grep "^  $s  *[0-9]*x[0-9]*x[0-9]* z[0-3] " "$tmp/11b.txt" | grep -q -e " yes$" -e " no$" || missing="$missing $s"
done
is "$missing" "" "text: a row for each classic strategy (DP TP PP ZeRO-1 ZeRO-2 ZeRO-3 ZeRO-3+offload)"
# the rejected counts plus the fitting ones are the candidates searched
searched=$(sed -n 's/^Searched \([0-9]*\) candidate layouts: \([0-9]*\) rejected by rule, \([0-9]*\) evaluated, \([0-9]*\) fit\.$/\1 \4 \2 \3/p' "$tmp/11b.txt")
rejected=$(sed -n '/^Rejected candidates:/,/^$/p' "$tmp/11b.txt" | awk '/^ +[0-9]+  [a-zA-Z]/ {s += $1; n++} END {print n + 0, s + 0}')
ok "$(echo "$searched $rejected" | awk 'NF == 6 && $1 > 0 && $5 > 0 && $2 + $6 == $1 && $3 + $4 == $1 {ok = 1} END {exit !ok}'; echo $?)" \
    "text: rejected counts are printed and add up with the fitting ones to the searched, and rejected by rule + evaluated = searched ($searched / $rejected)"
# rejected by rule: every reason but memory, counted from the JSON's reasons
zp --params 11e9 --gpus 8 --no-store --json
jok "$outf" '.candidates_rule_rejected == ([.rejected | to_entries[] | select(.key | test("memory") | not) | .value] | add)' \
    "JSON: candidates_rule_rejected = the rejections by every reason but device and host memory"
# the README's example is what zplan prints: its lines up to the plans'
# table, word for word (the rest of it is summarised there)
awk '/^\$ zplan --params 11e9 --gpus 8$/ { on = 1; next } on && /^Plans, fastest first/ { exit } on' \
    "$ZPLAN_SRCDIR/README.md" >"$tmp/readme-11b.txt"
sed -n "1,$(wc -l <"$tmp/readme-11b.txt")p" "$tmp/11b.txt" >"$tmp/head-11b.txt"
ok "$(test -s "$tmp/readme-11b.txt" && cmp -s "$tmp/readme-11b.txt" "$tmp/head-11b.txt"; echo $?)" \
    "README's example of zplan --params 11e9 --gpus 8 is what it prints (model, cluster, training, search)" ||
    diag "$(diff "$tmp/readme-11b.txt" "$tmp/head-11b.txt" | head -20)"
ok "$(test ! -e "$ZPLAN_DB"; echo $?)" "--no-store writes no database"

zp --params 11e9 --gpus 8 --no-store --units gb
ok "$(test $rc -eq 0 && grep -q ' GB' "$outf" && ! grep -q 'GiB' "$outf"; echo $?)" "--units gb prints GB and no GiB"
# 80 GiB = 85.899 GB: the A100-80G capacity in decimal units
ok "$(grep -q '85\.90 GB' "$outf"; echo $?)" "--units gb: the 80 GiB device reads 85.90 GB"

# ---------------------------------------------------------------- parameter counts

for pair in 11e9:11e9 11B:11e9 175b:175e9 7.5e9:7.5e9 350M:350e6; do
    arg=${pair%%:*}
    target=${pair#*:}
    zp --params "$arg" --gpus 8 --no-store --json
    jok "$outf" "$JQDEF"' rel(.model.params; $t) < 0.05' "--params $arg: JSON params within 5% of $target" \
        --argjson t "$target"
    zp --params "$arg" --gpus 8 --no-store
    p=$(sed -n 's/.* parameters (\([0-9]*\))$/\1/p' "$outf")
    ok "$(test $rc -eq 0 && awk -v p="$p" -v t="$target" 'BEGIN {d = p / t - 1; if (d < 0) d = -d; exit !(p > 0 && d < 0.05)}'; echo $?)" \
        "--params $arg: printed params ($p) within 5% of $target"
done

# ---------------------------------------------------------------- JSON schema and invariants

# invariants FILE LABEL: the checks every answer must pass.
invariants() {
    f=$1
    l=$2
    jok "$f" '.model | all(.params, .layers, .hidden, .heads, .vocab, .seq; type == "number" and . > 0)' \
        "$l: model has params layers hidden heads vocab seq"
    jok "$f" '.candidates_evaluated > 0' "$l: candidates_evaluated > 0"
    jok "$f" '.fitting + ([.rejected[]] | add) == .candidates_evaluated' "$l: fitting + rejected == candidates_evaluated"
    jok "$f" '(.plans | type == "array" and length > 0)' "$l: plans is a non-empty array"
    jok "$f" '[.plans[].step_time_s] as $t | all(range(1; $t | length); $t[.] >= $t[. - 1])' \
        "$l: plans best first (step_time_s non-decreasing)"
    jok "$f" 'all(.plans[]; has("dp") and has("tp") and has("pp") and has("zero") and has("offload") and has("ckpt")
              and has("micro_batch") and has("grad_accum") and has("fits") and has("host_memory_bytes")
              and (.peak_phase == "loss" or .peak_phase == "backward") and has("comm_bytes_per_step") and has("step_time_s") and has("tokens_per_s") and has("mfu")
              and (.memory_bytes | has("params") and has("grads") and has("optimizer") and has("activations")
                   and has("buffers") and has("overhead") and has("total")))' \
        "$l: every plan has the documented keys"
    jok "$f" 'all(.plans[], .classic[] | select(has("memory_bytes")); .memory_bytes |
              .total == .params + .grads + .optimizer + .activations + .buffers + .overhead)' \
        "$l: memory_bytes.total is the sum of the six classes (plans and classic)"
    jok "$f" '.cluster.gpu_memory_bytes as $cap | all(.plans[]; .fits == true and .memory_bytes.total <= $cap)' \
        "$l: every listed plan fits and its total <= gpu_memory_bytes"
    jok "$f" '.cluster.gpus as $g | all(.plans[], .classic[] | select(has("dp")); .dp * .tp * .pp == $g)' \
        "$l: dp * tp * pp == gpus (plans and classic)"
    jok "$f" '.training.global_batch as $b | all(.plans[]; .dp * .micro_batch * .grad_accum == $b)' \
        "$l: dp * micro_batch * grad_accum == global_batch"
    jok "$f" "$JQDEF"' (.training.global_batch * .training.seq) as $tok |
              all(.plans[]; rel(.tokens_per_s; $tok / .step_time_s) < 1e-9)' \
        "$l: tokens_per_s == global_batch * seq / step_time_s"
    jok "$f" '.chosen | type == "object"' "$l: a plan is chosen"
    jok "$f" '(.chosen | del(.stages, .comm)) == .plans[0]' "$l: the chosen plan is plans[0]"
    jok "$f" '(.chosen.stages | length) == .chosen.pp' "$l: chosen.stages has one entry per pipeline stage"
    jok "$f" '[.classic[].strategy] == ["DP", "TP", "PP", "ZeRO-1", "ZeRO-2", "ZeRO-3", "ZeRO-3+offload"]' \
        "$l: classic lists the seven strategies in order"
}

zp --params 11e9 --gpus 8 --no-store --json
ok $rc "--json exits 0" || show_run
cp "$outf" "$tmp/11b.json"
jok "$tmp/11b.json" 'length == 1 and (.[0] | type) == "object"' "--json: stdout is exactly one JSON object" -s
jok "$tmp/11b.json" '.run_id == null' "--json --no-store: run_id is null"
invariants "$tmp/11b.json" "11e9 on 8 GPUs"

zp --model llama2-70b --gpu h100-sxm --gpus 64 --global-batch 512 --seq 4096 --no-store --json
ok $rc "llama2-70b on 64 H100s exits 0" || show_run
cp "$outf" "$tmp/70b.json"
invariants "$tmp/70b.json" "llama2-70b on 64 H100s"
jok "$tmp/70b.json" '.cluster.nodes == 8 and .training.seq == 4096 and .training.global_batch == 512' \
    "llama2-70b: 8 nodes, the given seq and global batch"

zp --params 11e9 --gpus 8 --db "$tmp/cli.db" --json
jok "$outf" '(.run_id | type) == "number" and .run_id >= 1 and .run_id == (.run_id | floor)' \
    "--json with a database: run_id is a number"

# ---------------------------------------------------------------- pinned layouts and formulas

# Plain DP of an 11B model in bf16 with fp32 master weights and Adam:
# 2 (params) + 2 (grads) + 4 + 4 + 4 (master, m, v) = 16 bytes/param,
# ~175 GB, far more than 80 GiB.
zp --params 11e9 --gpus 8 --no-store --json --dp 8 --tp 1 --pp 1 --zero 0 --offload none --ckpt none --micro-batch 1
ok $rc "fully pinned plain DP exits 0" || show_run
jok "$outf" '(.plans | length) == 1 and .plans[0].fits == false' "fully pinned plain DP: exactly one plan, fits false"
jok "$outf" '.plans[0] | .dp == 8 and .tp == 1 and .pp == 1 and .zero == 0 and .offload == "none"
             and .ckpt == "none" and .micro_batch == 1' "fully pinned plain DP: the plan is the pinned layout"
jok "$outf" "$JQDEF"' .model.params as $m | rel(.plans[0].memory_bytes | .params + .grads + .optimizer; 16 * $m) < 1e-9' \
    "fully pinned plain DP: params + grads + optimizer == 16 bytes/param"
jok "$outf" '.plans[0].memory_bytes.total > .cluster.gpu_memory_bytes' "fully pinned plain DP: needs more than the device"
zp --params 11e9 --gpus 8 --no-store --dp 8 --tp 1 --pp 1 --zero 0 --offload none --ckpt none --micro-batch 1
ok "$(grep -q 'DOES NOT FIT' "$outf"; echo $?)" "fully pinned plain DP: the text says it does not fit"

# Megatron-LM's 18 bytes/param: bf16 params (2), fp32 main grads (4),
# fp32 master weights and Adam m and v (12).
zp --model gpt3-1.3b --gpus 1 --grad-dtype fp32 --cuda-ctx 0 --nccl-mem 0 --frag 0 --dp 1 --tp 1 --pp 1 --zero 0 \
    --offload none --ckpt none --micro-batch 1 --global-batch 1 --json --no-store
ok $rc "gpt3-1.3b on one GPU, fp32 grads, exits 0" || show_run
jok "$outf" '.model.params as $m | (.plans[0].memory_bytes | .params + .grads + .optimizer) == 18 * $m' \
    "Megatron: params + grads + optimizer == 18 bytes/param"
jok "$outf" '.model.params as $m | .plans[0].memory_bytes | .params == 2 * $m and .grads == 4 * $m and .optimizer == 12 * $m' \
    "Megatron: 2 + 4 + 12 bytes/param by class"

# ZeRO paper: stage 3 moves 3 Psi per step (all-gather forward and
# backward, reduce-scatter), plain DP 2 Psi (all-reduce).
for z in 0 3; do
    zp --params 11e9 --gpus 8 --global-batch 8 --micro-batch 1 --zero $z --dp 8 --tp 1 --pp 1 --offload none \
        --ckpt none --json --no-store
    cp "$outf" "$tmp/zero$z.json"
done
jok /dev/null "$JQDEF"'
      ($a[0].plans[0].comm_bytes_per_step) as $d | ($b[0].plans[0].comm_bytes_per_step) as $z |
      $d > 0 and rel($z / $d; 1.5) < 1e-6' "ZeRO-3 sends 1.5x the bytes of plain DP with one micro-batch (3 Psi vs 2 Psi)" \
    -n --slurpfile a "$tmp/zero0.json" --slurpfile b "$tmp/zero3.json"
# 2 (n-1)/n Psi bytes for the ring all-reduce of bf16 gradients
jok "$tmp/zero0.json" "$JQDEF"' (.model.params * 2) as $psi | rel(.plans[0].comm_bytes_per_step; 2 * 7 / 8 * $psi) < 1e-6' \
    "plain DP on 8 GPUs sends 2 (n-1)/n x the bf16 gradient bytes per step"

# ---------------------------------------------------------------- presets

zp models
ok $rc "models exits 0"
missing=
for m in gpt2-small gpt2-medium gpt2-large gpt2-xl gpt3-1.3b gpt3-6.7b gpt3-13b gpt3-175b opt-175b bloom-176b \
    llama2-7b llama2-13b llama2-70b llama3-8b llama3-70b llama3-405b chatglm-6b t5-decoder-9.8b cpm2-decoder-7.4b \
    llama3.2-1b llama3.2-3b mistral-7b qwen2.5-7b qwen3-8b gemma-7b; do
    grep -q "^$m " "$outf" || missing="$missing $m"
done
is "$missing" "" "models lists the 25 presets"

zp gpus
ok $rc "gpus exits 0"
missing=
for g in a100-40g a100-80g b200 gtx1060-6g h100-pcie h100-sxm h200 l40s rtx3090 rtx4090 v100-16g v100-32g; do
    grep -q "^$g " "$outf" || missing="$missing $g"
done
is "$missing" "" "gpus lists the 12 presets"
zp gpus --json
jok "$outf" 'length >= 12 and all(.[]; .memory_bytes > 0 and .gpus_per_node >= 1)' "gpus --json: 12 or more GPUs"

# Published parameter counts (Hugging Face model cards / papers).
zp models --json
cp "$outf" "$tmp/models.json"
for pair in gpt2-small:124439808 gpt2-medium:354823168 gpt2-large:774030080 gpt2-xl:1557611200 \
    llama2-7b:6738415616 llama2-13b:13015864320 llama2-70b:68976648192 \
    llama3-8b:8030261248 llama3-70b:70553706496 llama3-405b:405853388800; do
    jok "$tmp/models.json" "any(.[]; .name == \"${pair%%:*}\" and .params == ${pair#*:})" \
        "models --json: ${pair%%:*} has the published ${pair#*:} parameters"
done
jok "$tmp/models.json" 'any(.[]; .name == "llama2-7b" and .mlp == "swiglu" and .norm == "rmsnorm" and .position == "rotary" and
    (.tied_embeddings | not) and .max_positions == 4096) and any(.[]; .name == "gpt2-small" and .mlp == "gelu" and
    .position == "learned" and .tied_embeddings and .max_positions == 1024)' \
    "models --json: the kind the text shows (MLP, norm, positions, tied) and the context"

zp --model llama2-7b --json --no-store
jok "$outf" '.model.params == 6738415616' "--model llama2-7b: 6738415616 parameters (published)"
zp --model llama2-70b --json --no-store
jok "$outf" '.model.kv_heads == 8 and .model.heads == 64' "--model llama2-70b: 64 heads, 8 KV heads (GQA)"

# ---------------------------------------------------------------- config.json

zp --config "$D/llama-gqa-config.json" --json --no-store
ok $rc "--config a LLaMA-3-8B config.json exits 0" || show_run
jok "$outf" '.model.params == 8030261248' "--config LLaMA-3 8B (GQA, untied): 8030261248 parameters (published)"
jok "$outf" '.model | .kv_heads == 8 and .ffn == 14336 and .mlp == "swiglu" and .norm == "rmsnorm" and .tied_embeddings == false' \
    "--config LLaMA-3 8B: 8 KV heads, SwiGLU 14336, RMSNorm, untied"
zp --config "$D/gpt2-config.json" --json --no-store
ok $rc "--config a GPT-2 config.json exits 0" || show_run
jok "$outf" '.model.params == 124439808' "--config GPT-2 small: 124439808 parameters (published)"
jok "$outf" '.model | .ffn == 4 * .hidden and .layers == 12 and .hidden == 768 and .tied_embeddings == true' \
    "--config GPT-2: n_inner null means 4h, tied embeddings"

# published config.json files (tests/data/hf; test_preset.c holds each one's
# published count and source): the counts derived there by hand from each
# model's module shapes, through the command line and its JSON answer
for pair in falcon-7b:6921720704 gemma-7b:8537680896 qwen2-7b:7615616512 gpt-j-6b:6050882784 \
    gpt-neox-20b:20554567680 phi-2:2779683840 opt-6.7b:6658473984 bloom-7b1:7069016064 \
    mistral-7b-v0.1:7241732096 qwen3-8b:8190735360; do
    zp --config "$D/hf/${pair%%:*}.json" --json --no-store
    ok $rc "--config ${pair%%:*} exits 0" || show_run
    jok "$outf" ".model.params == ${pair#*:}" "--config ${pair%%:*}: ${pair#*:} parameters (hand count of the published shapes)"
done
zp --config "$D/hf/falcon-7b.json" --json --no-store
jok "$outf" '.model | .kv_heads == 1 and .block == "parallel" and .position == "rotary" and .qkv_bias == false' \
    "--config falcon-7b: multi-query (1 KV head), parallel attention+MLP, rotary, no biases"
# Qwen3's Q and K head norms: in the answer, the model line, and read back
# from a stored run (a run stored before them reads as without: absent)
zp --config "$D/hf/qwen3-8b.json" --json --db "$tmp/qk.db"
jok "$outf" '.model | .qk_norm == true and .qkv_bias == false and .head_dim == 128 and .sliding_window == 0' \
    "--config qwen3-8b: Q/K head norms, no biases, head_dim 128, no window (use_sliding_window false)"
zp show "$(jq .run_id "$outf")" --db "$tmp/qk.db" --json
jok "$outf" '.model.qk_norm == true and .model.params == 8190735360' "a stored Qwen3 run reads its Q/K head norms back"
zp show "$(jq .run_id "$outf")" --db "$tmp/qk.db"
grep -q 'Q/K head norms' "$outf"
ok $? "zplan show: the model line names the Q/K head norms" || show_run
zp --config "$D/hf/qwen2-7b.json" --json --no-store
jok "$outf" '.model.qk_norm == false' "--config qwen2-7b: no Q/K head norms"
# PyTorch eager's tensors are modelled for transformers' GPT-2 and LLaMA
# modules, Qwen3's head norms in its own blocks: Phi-3's fused products,
# and Q/K norms in a GELU block, are refused under it, in one line
cat >"$tmp/phi3.json" <<'EOF'
{"model_type": "phi3", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128,
 "vocab_size": 256, "max_position_embeddings": 128}
EOF
cat >"$tmp/qwen3-gelu.json" <<'EOF'
{"model_type": "qwen3", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "head_dim": 16,
 "intermediate_size": 128, "vocab_size": 256, "zplan_mlp": "gelu"}
EOF
for c in phi3 qwen3-gelu; do
    zp --config "$tmp/$c.json" --gpus 1 --seq 128 --framework torch --no-store
    ok "$(test "$rc" -eq 2 && test "$(wc -l <"$errf")" -eq 1 && grep -q 'is not modelled' "$errf"; echo $?)" \
        "--config $c --framework torch: refused in one line (exit 2)" || show_run
    zp --config "$tmp/$c.json" --gpus 1 --seq 128 --json --db "$tmp/fp.db"
    ok $rc "--config $c without --eager: planned" || show_run
done
zp show "$(jq .run_id "$outf")" --db "$tmp/fp.db" --json
jok "$outf" '.model.qk_norm == true and .model.mlp == "gelu" and .model.fused_proj == false' \
    "a stored qwen3 run with a GELU MLP reads back as such"
zp --config "$tmp/phi3.json" --gpus 1 --seq 128 --json --no-store
jok "$outf" '.model.fused_proj == true and .model.qk_norm == false' "--config phi3: fused products in the answer"
# Granite 3's multipliers (embedding 12, residual 0.22, attention scale
# 1/128, logits 8): in the answer and on the model line, stored and read back
cat >"$tmp/granite.json" <<'EOF2'
{"model_type": "granite", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
 "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 256, "embedding_multiplier": 12.0,
 "residual_multiplier": 0.22, "attention_multiplier": 0.0078125, "logits_scaling": 8.0}
EOF2
zp --config "$tmp/granite.json" --gpus 1 --seq 128 --json --db "$tmp/fp.db"
zp show "$(jq .run_id "$outf")" --db "$tmp/fp.db" --json
jok "$outf" '.model.multipliers == true' "a stored Granite run reads back with its multipliers"
zp --config "$tmp/granite.json" --gpus 1 --seq 128 --no-store
ok "$(grep -q "Granite's multipliers" "$outf"; echo $?)" "--config granite: the model line names its multipliers" || show_run
zp --config "$D/hf/gemma-7b.json" --no-store
grep -q 'head_dim 256' "$outf"
ok "$(grep -q 'GELU gate, embedding x sqrt(h)' "$outf"; echo $?)" "--config gemma-7b: the model line names its GELU gate and embedding scale" || show_run
ok $? "--config gemma-7b: the model line shows head_dim 256" || show_run
# Mistral's 4096-token window without flash attention: each layer keeps
# B a s w b softmax bytes instead of B a s^2 b; at s = 8192, bf16 (B = 2),
# a = 32, b = 1 the 32 layers save 32 x 2 x 32 x 8192 x (8192 - 4096)
# = 68,719,476,736 bytes (no dropout: no mask, no dropout output)
# (the activations on the device: --no-act-offload, or the search offloads the no-window model's)
pin="--json --no-store --gpu h200 --seq 8192 --no-flash-attn --dp 8 --tp 1 --pp 1 --zero 3 --ckpt none --micro-batch 1 --no-act-offload"
jq 'del(.sliding_window)' "$D/hf/mistral-7b-v0.1.json" >"$tmp/mistral-nowindow.json"
zp --config "$D/hf/mistral-7b-v0.1.json" $pin
cp "$outf" "$tmp/window.json"
jok "$tmp/window.json" '.model.sliding_window == 4096' "--config mistral-7b-v0.1: sliding_window 4096 in the answer"
zp --config "$tmp/mistral-nowindow.json" $pin
ok "$(jq -n --slurpfile a "$tmp/window.json" --slurpfile b "$outf" \
    '(($b[0].chosen // $b[0].closest).memory_bytes.activations - ($a[0].chosen // $a[0].closest).memory_bytes.activations)
     == 68719476736' | grep -qx true; echo $?)" \
    "mistral-7b-v0.1 at s=8192 without flash attention: the window saves 32 x 2 a s (s - w) b = 68719476736 bytes"

# ---------------------------------------------------------------- nothing fits

zp --model gpt3-175b --gpus 8 --gpu v100-16g --no-store
ok "$(test $rc -eq 0 && grep -q 'Nothing fits' "$outf"; echo $?)" "gpt3-175b on 8 V100-16G: prints 'Nothing fits'" || show_run
zp --model gpt3-175b --gpus 8 --gpu v100-16g --no-store --json
ok $rc "gpt3-175b on 8 V100-16G --json exits 0" || show_run
jok "$outf" '.plans == [] and .chosen == null' "nothing fits: plans == [], chosen null"
jok "$outf" '(.suggestions | length) > 0 and any(.suggestions[]; test("GPU"))' "nothing fits: suggestions mention GPUs"
zp --model gpt3-175b --gpus 8 --gpu v100-16g --dtype fp16 --no-store --json
ok $rc "gpt3-175b on 8 V100-16G in fp16 --json exits 0" || show_run
jok "$outf" '.plans == [] and .chosen == null and .fitting == 0' "nothing fits (fp16): plans == [], chosen null"
jok "$outf" '(.suggestions | length) > 0 and any(.suggestions[]; test("[0-9]+ GPUs"))' \
    "nothing fits (fp16): a suggestion names a GPU count"
jok "$outf" '(.closest | type) == "object" and .closest.fits == false' "nothing fits (fp16): the closest plan is shown"
# a long sequence with an unpinned micro-batch: the micro-batches whose
# byte counts would pass 2^62 are left out of the search as not fitting,
# not a reason to refuse the question.  By hand, Llama 3 405B at s = 131072
# with b sequences: 4 x 126 x b x s x (16 h + 4 f + 4 a d + 5 a s) =
# 5.58e15 b bytes of activations, past 2^62 = 4.61e18 from b = 827 (the
# global batch of 2048 on one replica went to 2048)
zp --model llama3-405b --gpu h100-sxm --gpus 2048 --seq 131072 --no-store --json
ok "$([ "$rc" -eq 0 ] && jtrue "$outf" '.fitting > 0 and all(.plans[]; .micro_batch < 827)'; echo $?)" \
    "llama3-405b, s 131072, 2048 GPUs, micro-batch unpinned: planned, every plan's micro-batch below 827" || show_run
# everything pinned but --vp: the search's interleaving choices are listed
# (34 layers on 2 stages: vp 1 or 17), as many as the header counts
zp --params 11e9 --dp 4 --tp 1 --pp 2 --zero 1 --offload none --ckpt none --micro-batch 2 --no-store --json
jok "$outf" '.fitting == 2 and (.plans | length) == 2 and ([.plans[].vp] | sort) == [1, 17]' \
    "all pinned but --vp: both interleavings listed, as the header counts"
# PyTorch's SDPA in fp32 with grouped KV heads runs the math path (flash and
# cuDNN take 16-bit inputs, the memory-efficient kernel no grouped heads):
# planned as eager attention, said in a note; with as many KV heads as
# query heads the memory-efficient kernel keeps flash's tensors
printf '{"model_type": "llama", "vocab_size": 32000, "num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12, "num_key_value_heads": %s, "intermediate_size": 2048, "max_position_embeddings": 4096}\n' 4 >"$tmp/l125g.json"
sed 's/"num_key_value_heads": 4/"num_key_value_heads": 12/' "$tmp/l125g.json" >"$tmp/l125m.json"
tq() { "$ZPLAN" --config "$1" --gpus 1 --gpu h200 --seq 1024 --micro-batch 4 --global-batch 4 --dp 1 --tp 1 --pp 1 \
    --zero 0 --offload none --ckpt none --dtype fp32 "$2" --framework torch --json --no-store 2>"$tmp/tq.err" |
    jq -c '[.chosen.memory_bytes.total, .training.flash_attention]'; }
g_sdpa=$(tq "$tmp/l125g.json" --flash-attn)
g_eager=$(tq "$tmp/l125g.json" --no-flash-attn)
m_sdpa=$(tq "$tmp/l125m.json" --flash-attn)
tq "$tmp/l125g.json" --flash-attn >/dev/null
ok "$([ -n "$g_sdpa" ] && [ "$g_sdpa" = "$g_eager" ] && grep -q 'runs its math attention' "$tmp/tq.err" &&
      [ "$(echo "$m_sdpa" | jq '.[1]')" = true ]; echo $?)" \
    "--framework torch, fp32 SDPA with 4 KV heads of 12: planned as eager attention ($g_sdpa = $g_eager), a note; 12 KV heads: fused ($m_sdpa)"
# the GPU count suggested is the fewest whole nodes that fit: the search
# itself at that count, with the global batch the suggestion names (a run
# on n GPUs would round its own default to a multiple of n), finds a plan,
# at one node fewer none
zp --model llama3-405b --gpus 8 --no-store --json
n=$(jq -r '[.suggestions[] | capture("^(?<n>[0-9]+) GPUs would fit") | .n][0] // empty' "$outf")
b=$(jq -r '[.suggestions[] | capture("would fit it at this global batch [(]--gpus [0-9]+ --global-batch (?<b>[0-9]+)[)]") | .b][0] // empty' "$outf")
is "$b" 1024 "the GPU count suggested names the global batch it fits at (1024, the 8 GPUs' default)"
zp --model llama3-405b --gpus "${n:-0}" --global-batch 1024 --no-store --json
f1=$(jq .fitting "$outf")
zp --model llama3-405b --gpus "$((${n:-8} - 8))" --global-batch 1024 --no-store --json
f0=$(jq .fitting "$outf")
ok "$([ -n "$n" ] && [ "$n" -gt 8 ] && [ "$f1" -gt 0 ] && [ "$f0" -eq 0 ]; echo $?)" \
    "llama3-405b on 8 GPUs: '$n GPUs would fit it', the fewest nodes ($f1 plans fit on $n, $f0 on $((${n:-8} - 8)))"

# a preset that does not read: the others listed, the error said, exit 1
mkdir -p "$tmp/dd"
cp -r "$ZPLAN_DATADIR/gpus" "$ZPLAN_DATADIR/models" "$tmp/dd/"
printf '{"name": \n' >"$tmp/dd/gpus/broken.json"
printf '{\n' >"$tmp/dd/models/broken.json"
for c in gpus models; do
    run env ZPLAN_DATADIR="$tmp/dd" "$ZPLAN" $c --json
    ok "$(test $rc -eq 1 && grep -q "broken.json:2:1: malformed JSON" "$errf" &&
          test "$(jq length "$outf")" -eq "$(ls "$ZPLAN_DATADIR/$c"/*.json | wc -l)"; echo $?)" \
        "zplan $c with a broken preset file: the others listed, the file named, exit 1" || show_run
done

# "--" ends the options, as GNU getopt reads it: what follows is an argument
zp --params 1e9 --gpus 1 --no-store --
ok "$(test $rc -eq 0; echo $?)" "a trailing -- is accepted" || show_run
zp --params 1e9 --gpus 1 --no-store -- --gpus 2
ok "$(test $rc -eq 2 && grep -q "unexpected argument '--gpus'" "$errf"; echo $?)" \
    "after --, --gpus is an argument (the plan command takes none): exit 2" || show_run

# an option given twice, or under two names, counts as the last says (argparse's rule)
zp --params 11e9 --gpus 8 --zero 1 --zero-stage 2 --no-store --json
jok "$outf" '.chosen.zero == 2' "--zero 1 --zero-stage 2: the last counts (ZeRO-2)"
zp --params 11e9 --gpus 8 --zero-stage 2 --zero 1 --no-store --json
jok "$outf" '.chosen.zero == 1' "--zero-stage 2 --zero 1: the last counts (ZeRO-1)"

# recompute choices that choose nothing on the model, and --sp on one tp rank: planned, with a note
for c in "--ckpt-layers 40|every block of a stage is rebuilt, as --ckpt full" \
    "--ckpt-every 40|no stage has a k-th block, so none is rebuilt, as --ckpt none" \
    "--tp 1 --sp|--sp with --tp 1: sequence parallelism splits what tensor parallelism leaves whole"; do
    zp --model llama3-8b --gpus 8 ${c%%|*} --no-store
    ok "$(test $rc -eq 0 && grep -q -- "note: .*${c#*|}" "$errf"; echo $?)" "${c%%|*} on a 32-block model: a note" || show_run
done
zp --model llama3-8b --gpus 8 --ckpt-layers 31 --tp 2 --sp --no-store
ok "$(test $rc -eq 0 && ! grep -q "note:" "$errf"; echo $?)" "--ckpt-layers 31 --tp 2 --sp: no note" || show_run

# a node's network given as a GPU's (a DGX H100's 3.2 Tb/s): planned as given, with a note
zp --params 7e9 --gpus 16 --gpu a100-80g --inter-node-gbps 3.2Tbps --no-store
ok "$(test $rc -eq 0 && grep -q "note: --inter-node-gbps 3.2Tbps is 400 GB/s a GPU, more than a network card moves (800 Gb/s, 100 GB/s): it is per GPU" "$errf"; echo $?)" \
    "--inter-node-gbps above any network card: a note that it is per GPU" || show_run
zp --params 7e9 --gpus 16 --gpu l40s --inter-node-gbps 400Gbps --no-store
ok "$(test $rc -eq 0 && ! grep -q "note:" "$errf"; echo $?)" "--inter-node-gbps 400Gbps on L40S (no NVLink): no note" || show_run
zp --params 7e9 --gpus 16 --gpu a100-80g --inter-node-gbps 200Gbps --no-store
ok "$(test $rc -eq 0 && ! grep -q "note:" "$errf"; echo $?)" "--inter-node-gbps 200Gbps: no note" || show_run

# no doubling of the GPUs fits a batch of 1026 sequences (18 GPUs' default:
# 2^21 tokens rounded up to a multiple of 18) on 6 GiB GPUs: said, not silent
# (a 1T model: smaller ones fit some doubling once tensor parallelism spans
# these one-GPU machines, over their 1 Gb/s network, at days a step)
zp --params 1e12 --gpus 18 --gpu gtx1060-6g --no-store --json --no-act-offload
jok "$outf" '.fitting == 0 and ([.suggestions[] | select(test("^no GPU count from 36 to [0-9]+ in doublings fits it at this global batch [(]1026 sequences"))] | length) == 1' \
    "1T on 18 GTX 1060s: the suggestion says no GPU count it tried fits the batch of 1026"

# zero overheads in any unit (--cuda-ctx 0B, 0MiB, 0.0 were refused as "must be positive")
for z in 0 0B 0MiB 0.0; do
    zp --params 1e9 --gpus 1 --cuda-ctx "$z" --nccl-mem "$z" --no-store --json
    jok "$outf" '.conventions.cuda_context_bytes == 0 and .conventions.nccl_comm_bytes == 0' \
        "--cuda-ctx $z --nccl-mem $z: no context, no NCCL memory" || show_run
done

# PyTorch's cuBLAS workspaces (--blas-workspace): GPT-2 small on an H200
# (compute capability 9.0: 32 MiB a thread) and an A100 (8.0: 8.125 MiB),
# two threads, in the buffers under every framework (each runs on PyTorch);
# none in zplan's own accounting (no framework)
ws() {
    g1=$1
    shift
    zp --model gpt2-small --gpus 1 --gpu "$g1" --seq 1024 --micro-batch 4 --global-batch 4 --dp 1 --tp 1 --pp 1 \
        --zero 0 --ckpt none --flash-attn --dtype bf16 --no-store --json "$@" && jq -r '.chosen.memory_bytes.buffers' "$outf"
}
for g in h200:33554432 a100-80g:8519680; do
    for fw in torch megatron none; do
        fwa="--framework $fw"
        [ "$fw" = none ] && fwa=
        # shellcheck disable=SC2086
        b1=$(ws "${g%%:*}" $fwa) b0=$(ws "${g%%:*}" $fwa --blas-workspace 0)
        want=$((2 * ${g#*:}))
        [ "$fw" = none ] && want=0
        ok "$(case "$b1$b0" in '' | *[!0-9]*) echo 1 ;; *) [ "$((b1 - b0))" -eq "$want" ]; echo $? ;; esac)" \
            "${g%%:*}, framework $fw: the buffers hold $want bytes of cuBLAS workspaces ($b1 - $b0)"
    done
done
# FSDP's SHARD_GRAD_OP (--framework fsdp, --zero2-reshard): GPT-2 medium on
# 8 GPUs, 32 sequences of 1 a GPU: 4 micro-batches, 4 parameter all-gathers
# of the 16-bit parameters a step; --no-zero2-reshard: DeepSpeed's one after
# the optimizer, a quarter of the bytes
for z in "" --no-zero2-reshard; do
    # shellcheck disable=SC2086
    zp --model gpt2-medium --gpus 8 --dp 8 --tp 1 --pp 1 --zero 2 --micro-batch 1 --global-batch 32 --framework fsdp \
        --no-store --json $z
    cp "$outf" "$tmp/z2$z.json"
done
jq -s . "$tmp/z2.json" "$tmp/z2--no-zero2-reshard.json" >"$tmp/z2both.json"
jok "$tmp/z2both.json" '[.[] | [.chosen.comm[] | select(.collective == "all-gather" and .group == "dp")]] as $ag |
    .[0].conventions.zero2_reshard and (.[1].conventions.zero2_reshard | not) and
    ($ag[0] | length) == 1 and ($ag[1] | length) == 1 and $ag[0][0].count == 4 and
    $ag[1][0].count == 1 and $ag[0][0].bus_bytes_per_step == 4 * $ag[1][0].bus_bytes_per_step' \
    "--framework fsdp --zero 2, 4 micro-batches: 4 parameter all-gathers; --no-zero2-reshard: one, a quarter of the bytes"
zp --model gpt2-small --gpus 1 --gpu h200 --framework torch --blas-workspace 48MiB --no-store --json
jok "$outf" '.conventions.torch_blas_workspace_bytes == 50331648' "--blas-workspace 48MiB: 50331648 bytes, in the JSON's conventions"
zp --model gpt2-small --gpus 1 --blas-workspace lots --no-store
ok "$([ "$rc" -eq 2 ] && grep -q -- "--blas-workspace" "$errf"; echo $?)" "--blas-workspace lots: refused (exit 2), naming it"

# an answer that cannot be written (a full disk) is a failure, exit 1 in
# one line, and a planning run whose answer was not delivered is not recorded
runs_in() { sqlite3 -batch "$1" 'SELECT count(*) FROM runs' 2>/dev/null || echo none; }
if [ -w /dev/full ] && command -v sqlite3 >/dev/null 2>&1; then
    "$ZPLAN" --params 1e9 --json --db "$tmp/full.db" >/dev/full 2>"$errf"
    rc=$?
    ok "$([ $rc -eq 1 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q 'cannot write' "$errf"; echo $?)" \
        "zplan --params 1e9 --json > /dev/full: exit 1, one line" || diag "rc=$rc $(cat "$errf")"
    is "$(runs_in "$tmp/full.db")" 0 "the undelivered answer is not recorded"
    "$ZPLAN" --params 1e9 --db "$tmp/full.db" >/dev/null 2>&1
    for cmd in "list" "show --json" "show" "models" "models --json" "gpus --json" "--version" "--help"; do
        # shellcheck disable=SC2086
        "$ZPLAN" $cmd --db "$tmp/full.db" >/dev/full 2>"$errf"
        rc=$?
        ok "$([ $rc -eq 1 ] && grep -q 'cannot write' "$errf"; echo $?)" "zplan $cmd > /dev/full: exit 1" ||
            diag "rc=$rc $(cat "$errf")"
    done
else
    skip_dep "no writable /dev/full or no sqlite3 here"
fi
# a reader that has gone (a closed pipe) is a write error, exit 1 and one
# line, not a silent death by SIGPIPE (exit 141), and nothing is recorded
if command -v python3 >/dev/null 2>&1 && command -v sqlite3 >/dev/null 2>&1; then
    rc=$(python3 -c 'import os, subprocess, sys
r, w = os.pipe(); os.close(r)
print(subprocess.call(sys.argv[1:], stdout=w, stderr=open(sys.argv[-1] + ".err", "w")))' \
        "$ZPLAN" --params 1e9 --gpus 8 --db "$tmp/pipe.db")
    ok "$([ "$rc" = 1 ] && [ "$(wc -l <"$tmp/pipe.db.err")" -eq 1 ] && grep -q '^zplan: cannot write' "$tmp/pipe.db.err"
        echo $?)" "zplan --params 1e9 --gpus 8 into a closed pipe: exit 1, one line" || diag "rc=$rc $(cat "$tmp/pipe.db.err")"
    is "$(runs_in "$tmp/pipe.db")" 0 "the answer no reader took is not recorded"
else
    skip_dep "no python3 or no sqlite3 here"
    skip_dep "no python3 or no sqlite3 here"
fi
# --report without gnuplot is refused before anything is recorded
ZPLAN_GNUPLOT=/nonexistent "$ZPLAN" --params 1e9 --report --db "$tmp/nognuplot.db" >/dev/null 2>"$errf"
rc=$?
ok "$([ $rc -eq 2 ] && grep -q gnuplot "$errf" && [ ! -e "$tmp/nognuplot.db" ]; echo $?)" \
    "--report with ZPLAN_GNUPLOT=/nonexistent: exit 2, no database written" || diag "rc=$rc $(cat "$errf")"
# a value with a newline in it is echoed back on one line
"$ZPLAN" --params "$(printf '1e9\nrm -rf /')" --no-store >/dev/null 2>"$errf"
ok "$([ $? -eq 2 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q '1e9\\nrm' "$errf"; echo $?)" \
    "a value holding a newline: one line on stderr, the newline shown as \\n" || diag "$(cat "$errf")"

# plan files: a switch by its positive name (sp = no); --no-bwd-workspace,
# which has none, by its own (it could not be written in a plan file)
printf 'params = 1e9\ngpus = 8\nno-bwd-workspace = yes\n' >"$tmp/nobwd.plan"
run "$ZPLAN" --from "$tmp/nobwd.plan" --no-store --json
jok "$outf" '.conventions.backward_workspace == false' "plan file: no-bwd-workspace = yes is --no-bwd-workspace"
printf 'params = 1e9\ngpus = 8\nno-bwd-workspace = no\n' >"$tmp/bwd.plan"
run "$ZPLAN" --from "$tmp/bwd.plan" --no-store --json
jok "$outf" '.conventions.backward_workspace == true' "plan file: no-bwd-workspace = no leaves the workspace in"
printf 'params = 1e9\nno-sp = yes\n' >"$tmp/nosp.plan"
run "$ZPLAN" --from "$tmp/nosp.plan" --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "nosp.plan:2: 'no-sp' (allowed: a switch by its own name: sp = no)" "$errf"; echo $?)" \
    "plan file: no-sp is refused, saying sp = no" || diag "rc=$rc $err"
printf 'params = 1e9\nsp = 1\n' >"$tmp/sp1.plan"
run "$ZPLAN" --from "$tmp/sp1.plan" --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "sp1.plan:2: 'sp = 1' (allowed: yes, true or on; no, false or off)" "$errf"; echo $?)" \
    "plan file: sp = 1 refused, naming every accepted word" || diag "rc=$rc $err"
printf 'params = 1e9\ngpus = 8\n\000\000\000' >"$tmp/nul.plan"
run "$ZPLAN" --from "$tmp/nul.plan" --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "nul.plan:3: a NUL byte" "$errf"; echo $?)" \
    "plan file with NUL bytes: refused naming the file and line (it read as if it ended there)" || diag "rc=$rc $err"
# a bad value in the file is named with its file and line, unless the
# command line gives the option again (then the value is its own)
printf 'params = 1e9\ngpus = 4x\nseq = 0\n' >"$tmp/badval.plan"
run "$ZPLAN" --from "$tmp/badval.plan" --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "badval.plan:2: --gpus '4x' is not an integer" "$errf"; echo $?)" \
    "plan file: a bad --gpus value named with the file and its line" || diag "rc=$rc $err"
run "$ZPLAN" --from "$tmp/badval.plan" --gpus 8 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "badval.plan:3: --seq '0' is out of range" "$errf"; echo $?)" \
    "plan file: the next bad value (seq, line 3) once the command line gives --gpus" || diag "rc=$rc $err"
run "$ZPLAN" --from "$tmp/badval.plan" --gpus 8 --seq 0 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "^zplan: --seq '0' is out of range" "$errf"; echo $?)" \
    "plan file: a bad value the command line gave is not the file's" || diag "rc=$rc $err"
# the command line overrides the file, the model too: any of --params,
# --model, --config replaces the file's model, whichever key it used
printf 'model = gpt2-small\ngpus = 8\n' >"$tmp/m.plan"
run "$ZPLAN" --from "$tmp/m.plan" --params 1e9 --no-store --json
jok "$outf" '.model.name == "derived" and .cluster.gpus == 8' "plan file with model = gpt2-small, --params 1e9 given: the 1e9 model"
run "$ZPLAN" --from "$tmp/nobwd.plan" --model=gpt2-small --no-store --json
jok "$outf" '.model.name == "gpt2-small" and .conventions.backward_workspace == false' \
    "plan file with params = 1e9, --model=gpt2-small given: gpt2-small, the file's other keys kept"
run "$ZPLAN" --from "$tmp/m.plan" --params 1e9 --model gpt2-small --no-store
ok "$([ "$rc" -eq 2 ] && grep -q 'alternatives: give exactly one' "$errf"; echo $?)" \
    "two models on the command line are still refused" || diag "rc=$rc $err"

# the network's units: 400 alone meant 400 Gb/s and was read as 400 GB/s
# (more than NVLink), changing the plan; with a unit either is exact, a
# bare number above any NIC (100 GB/s = 800 Gb/s) is refused, and the
# Cluster line says the bandwidth in both units
B="--params 70e9 --gpus 64 --no-store"
run "$ZPLAN" $B --inter-node-gbps 400
ok "$([ "$rc" -eq 2 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q "^zplan: --inter-node-gbps 400: a bare number is GB/s per GPU.*400Gbps for gigabits, 400GB/s for gigabytes" "$errf"; echo $?)" \
    "--inter-node-gbps 400: refused in one line, exit 2, naming both units" || diag "rc=$rc $err"
run "$ZPLAN" $B --inter-node-gbps 400Gbps --json
cp "$outf" "$tmp/bits.json"
run "$ZPLAN" $B --inter-node-gbps 50 --json
jok "$tmp/bits.json" '.cluster.inter_node_gbps == 50 and .chosen == $b[0].chosen' \
    "--inter-node-gbps 400Gbps is 50 GB/s: the same plan as 50" --slurpfile b "$outf"
run "$ZPLAN" $B --inter-node-gbps 400GB/s --json
jok "$outf" '.cluster.inter_node_gbps == 400' "--inter-node-gbps 400GB/s: 400 GB/s, said so"
run "$ZPLAN" $B --inter-node-gbps 400Gb/s
ok "$([ "$rc" -eq 0 ] && grep -q '^Cluster .*; network 50 GB/s (400 Gb/s) per GPU$' "$outf"; echo $?)" \
    "the Cluster line: network 50 GB/s (400 Gb/s) per GPU" || diag "$(grep '^Cluster' "$outf")"
printf 'params = 70e9\ngpus = 64\ninter-node-gbps = 400\n' >"$tmp/bits.plan"
run "$ZPLAN" --from "$tmp/bits.plan" --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "400Gbps for gigabits" "$errf"; echo $?)" \
    "a plan file's inter-node-gbps = 400: refused the same way" || diag "rc=$rc $err"

# one candidate is "1 candidate layout"; a one-stage plan has no pipeline
# bubble to print ("pipeline bubble 0.0 us"); a pipeline's is printed
run "$ZPLAN" --params 1e9 --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --micro-batch 1 --ckpt none --offload none --no-store
ok "$([ "$rc" -eq 0 ] && grep -q '^Searched 1 candidate layout: 0 rejected by rule, 1 evaluated, 1 fit\.$' "$outf" && grep -q '^  step .* = compute' "$outf" &&
      ! grep -q 'pipeline bubble' "$outf"; echo $?)" "one candidate, one stage: 'Searched 1 candidate layout', no bubble term" ||
    diag "$(grep -e '^Searched' -e '^  step' "$outf")"
run "$ZPLAN" --model llama2-7b --gpus 16 --pp 4 --no-store
ok "$([ "$rc" -eq 0 ] && grep -q '^  step .* + pipeline bubble [0-9.]* [mu]*s + optimizer' "$outf"; echo $?)" \
    "a 4-stage plan: its pipeline bubble is printed" || diag "$(grep '^  step' "$outf")"

# zplan list: a shape derived from --params says so (not "derived"), the
# best plan names its settings (not "none none"), a stored name is printed
# without its control characters
LDB=$tmp/list.db
"$ZPLAN" --params 1e9 --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --micro-batch 1 --ckpt none --offload none --db "$LDB" >/dev/null 2>&1
run "$ZPLAN" list --db "$LDB"
ok "$([ "$rc" -eq 0 ] && grep -q '^    1  .*  (from --params)  *1.014B .*  dp=8 tp=1 pp=1 zero=1 offload=none ckpt=none mb=1$' "$outf"; echo $?)" \
    "list: '(from --params)' and the best plan as dp=8 tp=1 pp=1 zero=1 offload=none ckpt=none mb=1" || diag "$out"
# an interleaved and a context-parallel plan: list and the Chosen line name
# vp and cp (dp x tp x pp alone would read as fewer GPUs), and a partial
# full recompute says which blocks
LDB2=$tmp/list2.db
run "$ZPLAN" --model gpt3-175b --gpus 1024 --global-batch 1536 --tp 2 --pp 16 --vp 6 --zero 1 --micro-batch 1 \
    --ckpt none --db "$LDB2"
ok "$([ "$rc" -eq 0 ] && grep -q '^Chosen plan: dp=32 tp=2 pp=16 vp=6 zero=1 ' "$outf"; echo $?)" \
    "Chosen line: vp=6 for an interleaved plan" || diag "$(grep '^Chosen' "$outf")"
"$ZPLAN" --model llama3-8b --gpus 8 --seq 65536 --tp 1 --pp 1 --cp 2 --zero 3 --micro-batch 1 --ckpt full \
    --db "$LDB2" >/dev/null 2>&1
run "$ZPLAN" list --db "$LDB2"
ok "$([ "$rc" -eq 0 ] && grep -q '  dp=4 tp=1 pp=1 cp=2 zero=3 offload=none ckpt=full mb=1$' "$outf" &&
      grep -q '  dp=32 tp=2 pp=16 vp=6 zero=1 offload=none ckpt=none mb=1$' "$outf"; echo $?)" \
    "list: the best plans name cp=2 and vp=6" || diag "$out"
run "$ZPLAN" --model gpt3-1.3b --gpus 8 --ckpt-layers 13 --no-store
ok "$([ "$rc" -eq 0 ] && grep -q '^Chosen plan: .* ckpt=full (the first 13 blocks of a stage), ' "$outf"; echo $?)" \
    "Chosen line: --ckpt-layers 13 says which blocks are rebuilt" || diag "$(grep '^Chosen' "$outf")"
if command -v sqlite3 >/dev/null 2>&1; then
    sqlite3 "$LDB" "UPDATE runs SET model = 'evil' || char(10) || 'x' || char(27) || '[2J' WHERE id = 1"
    run "$ZPLAN" list --db "$LDB"
    ok "$([ "$rc" -eq 0 ] && [ "$(wc -l <"$outf")" -eq 2 ] && grep -q '  evil?x?\[2J ' "$outf"; echo $?)" \
        "list: a stored model name's newline and escape are shown as '?'" || diag "$out"
else
    skip_dep "sqlite3 is not installed"
fi
# --units gb: the table's headers read "dev GB/GPU" and "host GB/node"
run "$ZPLAN" --params 1e9 --gpus 8 --no-store --units gb
ok "$([ "$rc" -eq 0 ] && grep -q '  dev GB/GPU  host GB/node comm/step' "$outf"; echo $?)" \
    "--units gb: headers 'dev GB/GPU' and 'host GB/node'" || diag "$(grep '^  #' "$outf")"

# nothing fits 1e12 on 8 GPUs: the recompute-and-offload suggestion says
# that it still does not fit (offloaded, the optimizer states of 1e12
# parameters, 12 bytes each over 8 GPUs, need ~1.4 TiB per GPU, ~11 TiB per
# node of 2 TiB), instead of reading as a way out
run "$ZPLAN" --params 1e12 --gpus 8 --no-store
ok "$([ "$rc" -eq 0 ] && grep -q '^  - the closest plan .*with full recompute and offload: .* per node (still does not fit: offload exceeds host memory)$' "$outf"; echo $?)" \
    "nothing fits: the recompute-and-offload suggestion says it still does not fit, and why" ||
    diag "$(grep 'closest plan (' "$outf")"

# the offloaded optimizer's host rate is an option, recorded with the run:
# ZeRO-3 on 8 ranks with the optimizer offloaded, its step = ceil(P / 8) / rate
run "$ZPLAN" --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --zero 3 --offload optimizer --micro-batch 1 --ckpt full \
    --host-adam-rate 2e8 --json --db "$tmp/hostadam.db"
jok "$outf" '.conventions.host_adam_params_per_s == 2e8 and
    (.chosen.time_s.optimizer - ((.model.params / 8 | ceil) / 2e8) | fabs) < 1e-9 * .chosen.time_s.optimizer' \
    "--host-adam-rate 2e8: the offloaded step is ceil(P / 8) / 2e8 s, the rate recorded"
run "$ZPLAN" show --db "$tmp/hostadam.db" --json
jok "$outf" '.conventions.host_adam_params_per_s == 2e8' "the stored run reads the rate back"

# a V100 has no bf16 and no FlashAttention (sm_80 and up): the defaults
# become fp16 and stored attention scores, said on stderr in one line; a
# user's own choices stand, and an A100 plans bf16 with flash attention
run "$ZPLAN" --params 1e9 --gpus 8 --gpu v100-32g --no-store --json
ok "$([ "$rc" -eq 0 ] && [ "$(wc -l <"$errf")" -eq 1 ] &&
      grep -q '^zplan: note: the V100-32G has no bf16 and no FlashAttention .*fp16 and attention that stores its scores' "$errf"; echo $?)" \
    "V100: a one-line note says fp16 and no flash attention" || diag "rc=$rc $err"
jok "$outf" '.training.dtype == "fp16" and .training.flash_attention == false' "V100: planned in fp16 without flash attention"
run "$ZPLAN" --params 1e9 --gpus 8 --gpu v100-32g --dtype fp16 --flash-attn --no-store --json
ok "$([ "$rc" -eq 0 ] && [ ! -s "$errf" ]; echo $?)" "V100 with --dtype fp16 --flash-attn: no note" || diag "$err"
jok "$outf" '.training.flash_attention == true' "V100 with --flash-attn: the user's choice stands"
run "$ZPLAN" --params 1e9 --gpus 8 --gpu v100-32g --flash-attn --no-store --json
ok "$([ "$rc" -eq 0 ] && grep -q '^zplan: note: the V100-32G has no bf16 (bf16 needs Ampere or newer): planning with fp16 (--dtype to choose)$' "$errf"; echo $?)" \
    "V100 with --flash-attn: the note speaks of the dtype only" || diag "rc=$rc $err"
# a GPU file named by a short path with a directory in it ("./g"), not
# by its .json ending, is read as a file, not looked up as a preset
mkdir -p "$tmp/gdir" && cp "$ZPLAN_SRCDIR/data/gpus/h100-sxm.json" "$tmp/gdir/g"
(cd "$tmp/gdir" && "$ZPLAN" --params 1e9 --gpus 8 --gpu ./g --no-store --json) >"$outf" 2>"$errf"
jok "$outf" '.cluster.gpu == "H100-SXM"' "--gpu ./g: a file by its path" || diag "$(cat "$errf")"
# --gpu-tflops overrides the 16-bit peak the card has: it gives a V100 no bf16
run "$ZPLAN" --params 1e9 --gpus 8 --gpu v100-32g --gpu-tflops 125 --no-store --json
jok "$outf" '.training.dtype == "fp16" and .training.flash_attention == false and .cluster.peak_flops == 125e12' \
    "V100 with --gpu-tflops 125: still fp16 without flash attention, at the overridden peak"
# Pascal's GTX 1060 runs fp16 at 1/64 of fp32 (its preset: 0.1 against 4.4 TFLOP/s): fp32 by default
run "$ZPLAN" --model gpt2-small --gpus 1 --gpu gtx1060-6g --no-store --json
jok "$outf" '.training.dtype == "fp32"' "GTX 1060: planned in fp32, not its slow fp16"
ok "$(grep -q 'planning with fp32 and attention that stores its scores' "$errf"; echo $?)" "GTX 1060: the note says fp32" ||
    diag "$err"
run "$ZPLAN" --params 1e9 --gpus 8 --gpu a100-80g --no-store --json
ok "$([ "$rc" -eq 0 ] && [ ! -s "$errf" ]; echo $?)" "A100: no note" || diag "$err"
jok "$outf" '.training.dtype == "bf16" and .training.flash_attention == true' "A100: bf16 with flash attention"

# a rotary model's context is its preset's max_position_embeddings (4096
# for llama2-7b), reported as such and counted as no parameters
run "$ZPLAN" --model llama2-7b --gpus 8 --no-store --json
jok "$outf" '.model.max_positions == 4096 and .model.position == "rotary" and .model.params == 6738415616' \
    "llama2-7b: max_positions 4096 (was 0), still 6738415616 parameters"

# presets whose names promised 11B (7.36B and 9.8B stand-ins) are renamed;
# the old names say what became of them
run "$ZPLAN" --model cpm2-11b --gpus 8 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "^zplan: --model 'cpm2-11b' is now cpm2-decoder-7.4b (.*7.36B" "$errf"; echo $?)" \
    "--model cpm2-11b: exit 2, naming cpm2-decoder-7.4b and its 7.36B" || diag "rc=$rc $err"
run "$ZPLAN" --model t5-decoder-9.8b --gpus 8 --no-store --json
# by hand: GPT-2 blocks of h 4096, FFN 16384: 4h^2 + 4h (attention) +
# 2 h f + f + h (MLP) + 4h (norms) per layer, x 48, + (32128 + 512) h
# embeddings + 2h final norm = 9799933952
jok "$outf" '.model.params == 9799933952' "t5-decoder-9.8b: 9799933952 parameters (hand count), as its name says"

# the communication table in nccl-tests' words: "ranks" (not "size", which
# is bytes there), algbw = bytes of a call / its time, busbw = algbw x the
# bus factor (2(n-1)/n for all-reduce, (n-1)/n for all-gather), GB/s
run "$ZPLAN" --model gpt3-175b --gpus 1024 --no-store --json
cp "$outf" "$tmp/175b.json"
run "$ZPLAN" --model gpt3-175b --gpus 1024 --no-store
want=$(jq -r '.chosen.comm[] | select(.what == "sequence-parallel all-gather") |
    "\(.bytes * .count / .time_s / 1e9) \(.bytes * .count / .time_s / 1e9 * (.group_size - 1) / .group_size)"' "$tmp/175b.json" |
    awk '{ printf "%.1f %.1f", $1, $2 }')
got=$(grep '^  sequence-parallel all-gather ' "$outf" | awk '{ print $(NF-2), $(NF-1) }')
ok "$([ "$rc" -eq 0 ] && grep -q '^  what  *collective  *group  *ranks link .* algbw   busbw  overlaps with$' "$outf" &&
      [ -n "$want" ] && [ "$got" = "$want" ]; echo $?)" \
    "comm table: 'ranks', and algbw/busbw of the sequence-parallel all-gather as nccl-tests reckons them ($want GB/s)" ||
    diag "got '$got' want '$want'"

# the users' words: Megatron-LM's, DeepSpeed's, torchrun's and torch's
# names give the same plan as zplan's own
run "$ZPLAN" --params 7e9 --gpus 16 --gpus-per-node 8 --tp 2 --pp 2 --micro-batch 1 --global-batch 256 --seq 4096 --sp \
    --ckpt selective --zero 1 --offload optimizer --dtype bf16 --no-store --json
cp "$outf" "$tmp/own.json"
run "$ZPLAN" --params 7e9 --nnodes 2 --nproc-per-node 8 --tensor-model-parallel-size 2 --pipeline-model-parallel-size 2 \
    --micro-batch-size 1 --global-batch-size 256 --seq-length 4096 --sequence-parallel --recompute-granularity selective \
    --zero-stage 1 --offload cpu --dtype bfloat16 --no-store --json
jok "$outf" '.cluster == $o[0].cluster and .training == $o[0].training and .chosen == $o[0].chosen' \
    "Megatron/DeepSpeed/torchrun/torch names: the same cluster, training and chosen plan as zplan's" --slurpfile o "$tmp/own.json"
run "$ZPLAN" --params 7e9 --nnodes 2 --gpus 16 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q 'give one pair' "$errf"; echo $?)" "--nnodes with --gpus: refused, exit 2" || diag "$err"
# suggestions: the nearest option, --gpus for a count given to --gpu, the
# preset a Hugging Face spelling means
run "$ZPLAN" --params 1e9 --micro-batchsize 2 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "^zplan: unknown option '--micro-batchsize' (did you mean --micro-batch-size?" "$errf"; echo $?)" \
    "an unknown option names the nearest" || diag "$err"
run "$ZPLAN" --params 1e9 --gpu 8 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "did you mean --gpus 8?" "$errf"; echo $?)" "--gpu 8: did you mean --gpus 8?" || diag "$err"
for m in Llama-2-7b-hf meta-llama/Llama-2-7b llama-2-7b; do
    run "$ZPLAN" --model "$m" --no-store
    ok "$([ "$rc" -eq 2 ] && grep -q "did you mean llama2-7b?" "$errf"; echo $?)" "--model $m: did you mean llama2-7b?" ||
        diag "$err"
done

# Megatron's layers per virtual stage: 32 layers, pp 4, 2 layers each is
# 32 / (4 x 2) = 4 virtual stages per rank (zplan's --vp), said so
run "$ZPLAN" --model llama2-7b --gpus 16 --pp 4 --num-layers-per-virtual-pipeline-stage 2 --no-store --json
ok "$([ "$rc" -eq 0 ] && grep -q 'num-layers-per-virtual-pipeline-stage 2 with 32 layers on 4 stages is --vp 4' "$errf"; echo $?)" \
    "--num-layers-per-virtual-pipeline-stage 2, 32 layers, pp 4: --vp 4, said on stderr" || diag "$err"
jok "$outf" '.chosen.pp == 4 and .chosen.vp == 4' "... and planned with vp 4"
run "$ZPLAN" --model llama2-7b --gpus 16 --num-layers-per-virtual-pipeline-stage 2 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q 'needs --pp' "$errf"; echo $?)" "... without --pp: refused, exit 2" || diag "$err"
run "$ZPLAN" --model llama2-7b --gpus 16 --pp 4 --num-layers-per-virtual-pipeline-stage 3 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q 'do not split' "$errf"; echo $?)" "... 3 layers each of 8 per stage: refused, exit 2" ||
    diag "$err"

# the plans list shows distinct results: at dp = 1 ZeRO 0, 1 and 2 hold
# and send the same bytes (nothing to shard over one rank) in the same
# time, so they are one row naming the others; ZeRO-3's prefetch buffer
# makes it a different result
run "$ZPLAN" --params 1e9 --gpus 1 --micro-batch 1 --ckpt none --offload none --no-store --json
jok "$outf" '[.plans[] | [.zero, .same_result_with]] == [[0, "zero=1, zero=2"], [3, null]]' \
    "dp=1: ZeRO 0-2 one row (same_result_with zero=1, zero=2), ZeRO-3 its own"
run "$ZPLAN" --params 1e9 --gpus 1 --micro-batch 1 --ckpt none --offload none --no-store
ok "$([ "$rc" -eq 0 ] && grep -q '^        the same result with zero=1, zero=2$' "$outf"; echo $?)" \
    "text: the row is followed by the settings of the same result" || diag "$out"
# ten rows stay ten distinct results
# ---------------------------------------------------------------- uneven pipeline stages

# Llama 3 405B: 126 layers on 16 stages (Dubey et al. 2024 ran 7, 8 x 14, 7):
# planned, not refused, and interleaved too: vp 2 and 4 divide the 8 blocks
# and fit in 7; vp 8 does not fit 7 blocks
zp --model llama3-405b --gpu h100-sxm --gpus 8192 --tp 8 --pp 16 --global-batch 2048 --seq 8192 --no-store --json
jok "$outf" '(.plans | length) > 0 and .plans[0].pp == 16' \
    "Llama 3 405B, 126 layers on pp 16: planned with uneven stages"
zp --model llama3-405b --gpu h100-sxm --gpus 8192 --tp 8 --pp 16 --vp 4 --ckpt full --global-batch 2048 --seq 8192 \
    --no-store --json
jok "$outf" '(.plans | length) > 0 and .plans[0].vp == 4' "--pp 16 --vp 4 on 126 layers: planned, 4 chunks a stage"
zp --model llama3-405b --gpu h100-sxm --gpus 8192 --tp 8 --pp 16 --vp 8 --global-batch 2048 --seq 8192 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q -e '--pp 16 x --vp 8 does not fit the model.s 126 layers' "$errf"; echo $?)" \
    "--pp 16 --vp 8 on 126 layers: refused, 8 chunks do not fit a stage of 7 blocks" || diag "$(cat "$errf")"
zp --model gpt2-small --gpus 16 --pp 16 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q -e '--pp 16 exceeds the model.s 12 layers' "$errf"; echo $?)" \
    "--pp 16 on 12 layers: refused, at most one stage a layer" || diag "$(cat "$errf")"

# ---------------------------------------------------------------- a GPU not in the presets

# a file in the presets' format: 65536 MiB = 68719476736 bytes
jq '.name = "MyGPU" | .description = "my card" | .memory_mib = 65536' "$ZPLAN_DATADIR/gpus/h100-sxm.json" >"$tmp/mygpu.json"
zp --params 7e9 --gpu "$tmp/mygpu.json" --no-store --json
jok "$outf" '.cluster.gpu == "MyGPU" and .cluster.gpu_memory_bytes == 68719476736 and .conventions.gemm_by_shape.sms == 132' \
    "--gpu FILE.json: the file's name, 65536 MiB = 68719476736 bytes, its curve (132 SMs)"
# overrides: 40 GiB = 42949672960 bytes, 800 TFLOP/s = 8e14 FLOP/s (bf16)
zp --params 7e9 --gpu h100-sxm --gpu-mem 40GiB --gpu-tflops 800 --hbm-gbps 2000 --nvlink-gbps 300 --db "$tmp/over.db" --json
cp "$outf" "$tmp/over.json"
jok "$tmp/over.json" '.cluster.gpu_memory_bytes == 42949672960 and .cluster.peak_flops == 8e14 and .cluster.hbm_gbps == 2000 and
    .cluster.nvlink_gbps == 300 and .conventions.gemm_by_shape.hbm_gbps == 2000 and
    .cluster.gpu_overrides == "memory 40.00 GiB, 16-bit dense peak 800 TFLOP/s, HBM 2000 GB/s, NVLink 300 GB/s"' \
    "--gpu-mem 40GiB --gpu-tflops 800 --hbm-gbps 2000 --nvlink-gbps 300: in the cluster, the curve and gpu_overrides"
zp show "$(jq .run_id "$tmp/over.json")" --db "$tmp/over.db"
ok "$(grep -q '^Cluster  8 x H100-SXM (NVIDIA H100 SXM5 80GB HBM3; overridden: memory 40.00 GiB, 16-bit dense peak 800 TFLOP/s, HBM 2000 GB/s, NVLink 300 GB/s), 1 node of 8, 40.00 GiB each' "$outf"; echo $?)" \
    "zplan show: the Cluster line says what was overridden" || diag "$(grep '^Cluster' "$outf")"
for bad in "--gpu $tmp/nosuch.json" "--gpu-mem lots" "--gpu-tflops 0" "--hbm-gbps -1" "--nvlink-gbps x"; do
    zp --params 7e9 $bad --no-store
    ok "$([ "$rc" -eq 2 ] && [ "$(wc -l <"$errf")" -eq 1 ] && grep -q '^zplan: --' "$errf"; echo $?)" \
        "$bad: exit 2, one line naming the option" || diag "rc $rc: $(cat "$errf")"
done
echo '{"name": 3}' >"$tmp/badgpu.json"
zp --params 7e9 --gpu "$tmp/badgpu.json" --no-store
ok "$([ "$rc" -eq 2 ] && grep -q 'badgpu.json: "name" must be a string' "$errf"; echo $?)" \
    "--gpu FILE with a bad field: exit 2 naming the file and the field"
jq '.name = ""' "$ZPLAN_SRCDIR/data/gpus/a100-80g.json" >"$tmp/noname.json"
zp --params 7e9 --gpu "$tmp/noname.json" --no-store
ok "$([ "$rc" -eq 2 ] && grep -q 'noname.json: "name" must be a string, not empty' "$errf"; echo $?)" \
    "--gpu FILE with an empty name: exit 2 (it printed '8 x  (...)')"
jq 'del(.pcie_gbps, .host_mem_gib)' "$ZPLAN_SRCDIR/data/gpus/a100-80g.json" >"$tmp/missing.json"
zp --params 7e9 --gpu "$tmp/missing.json" --no-store
ok "$([ "$rc" -eq 2 ] && grep -q 'missing.json: missing "pcie_gbps", "host_mem_gib" (a GPU file needs each of' "$errf"; echo $?)" \
    "--gpu FILE without two required fields: both named at once as missing" || diag "rc=$rc $(cat "$errf")"
# on one GPU the classic TP and PP rows would repeat DP: they say so
zp --model gpt2-xl --gpus 1 --no-store --json
jok "$outf" '[.classic[] | select(.strategy == "TP" or .strategy == "PP") | .invalid | endswith(": the DP row")] == [true, true]' \
    "one GPU: the classic TP and PP rows say they would be the DP row"
# a chosen plan within 5 % of the memory says it has little headroom and
# how to keep some; at 90 % (the README's 11B) nothing is said
zp --model gpt3-175b --gpus 1024 --global-batch 1536 --framework megatron --no-store
ok "$(grep -q '^  total .*(device capacity 80.00 GiB, 98% used)$' "$outf" &&
      grep -q '^  little headroom: .*--gpu-mem 72GiB plans with a tenth kept free$' "$outf"; echo $?)" \
    "a plan at 98 % of the memory: little headroom, --gpu-mem 72GiB to keep a tenth free" || diag "$(grep -A1 '^  total' "$outf")"
zp --params 5e7 --gpus 1 --gpu-mem 1GiB --cuda-ctx 0 --nccl-mem 0 --micro-batch 2 --no-store
ok "$(grep -q '^  little headroom: .*--gpu-mem 921MiB plans with a tenth kept free$' "$outf"; echo $?)" \
    "a 1 GiB GPU nearly full: the headroom line in MiB (0.9 GiB)" || diag "$(grep -A1 '^  total' "$outf")"
zp --params 11e9 --gpus 8 --no-store
ok "$([ "$rc" -eq 0 ] && grep -q '^  total .*90% used)$' "$outf" && ! grep -q 'little headroom' "$outf"; echo $?)" \
    "the README's 11B at 90 %: no headroom line"
# the default batch is 2^21 tokens whatever the sequence (1024 sequences
# of 131072 tokens were 134M tokens a step), rounded up to the GPUs
zp --model llama3-8b --gpus 8 --seq 8192 --no-store --json
jok "$outf" '.training.global_batch == 256 and .training.tokens_per_step == 2097152' "default batch at 8192 tokens: 256 sequences, 2^21 tokens"
zp --model llama3-8b --gpus 24 --seq 131072 --no-store --json
jok "$outf" '.training.global_batch == 24' "default batch at 131072 tokens on 24 GPUs: 16 sequences rounded up to 24"
# names as people write them: AdamW (Adam's state), Hugging Face's and
# Meta's model names, a GPU family without its variant
zp --params 1e9 --optimizer adamw --no-store --json
jok "$outf" '.training.optimizer == "adam"' "--optimizer adamw: Adam's state and pass"
for pair in "meta-llama/Meta-Llama-3-8B:llama3-8b?" "meta-llama/Llama-3.1-70B:llama3-70b?"; do
    zp --model "${pair%%:*}" --no-store
    ok "$([ "$rc" -eq 2 ] && grep -q "did you mean ${pair#*:}" "$errf"; echo $?)" "--model ${pair%%:*}: did you mean ${pair#*:}" ||
        diag "$(cat "$errf")"
done
zp --params 1e9 --gpu H20 --no-store
ok "$([ "$rc" -eq 2 ] && ! grep -q 'did you mean' "$errf"; echo $?)" "--gpu H20: not taken for the H200 (a model number ends at a digit)" ||
    diag "$(cat "$errf")"
zp --params 1e9 --gpu H100 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "did you mean h100-pcie or h100-sxm?" "$errf"; echo $?)" "--gpu H100: did you mean h100-pcie or h100-sxm?" ||
    diag "$(cat "$errf")"
# the Training line gives the fused attention kernel's rate, which long
# sequences hang on: the preset's fitted one, or the kernel asked for
zp --model llama3-8b --gpu h100-sxm --gpus 8 --no-store
ok "$(grep -q '^Training .*, flash attention at 18 % of peak$' "$outf"; echo $?)" \
    "the Training line: flash attention at the H100 preset's 18 % of peak" || diag "$(grep '^Training' "$outf")"
zp --model llama3-8b --gpu h100-sxm --gpus 8 --attn-kernel cudnn --no-store
ok "$(grep -q '^Training .*, flash attention at 44 % of peak (cuDNN)$' "$outf"; echo $?)" \
    "the Training line with --attn-kernel cudnn: 44 % of peak (cuDNN)" || diag "$(grep '^Training' "$outf")"
# a GPU file without the efficiency curve plans at a flat 0.6 and says so
# (an H800 written from the H100's datasheet numbers came out 23 % faster
# than the H100 preset); every preset has the curve, --gemm-eff chooses
jq 'del(.sms, .gemm_max_efficiency) | .name = "H800"' "$ZPLAN_SRCDIR/data/gpus/h100-sxm.json" >"$tmp/nocurve.json"
zp --model llama3-8b --gpus 8 --gpu "$tmp/nocurve.json" --no-store --json
jok "$outf" '.conventions.gemm_efficiency == 0.6' "--gpu FILE without sms and gemm_max_efficiency: a flat 0.6"
ok "$([ "$rc" -eq 0 ] && grep -q '^zplan: note: .*the H800 gives no efficiency curve .*flat 0.6' "$errf"; echo $?)" \
    "--gpu FILE without the curve: a note says so" || diag "$(cat "$errf")"
zp --model llama3-8b --gpus 8 --gpu "$tmp/nocurve.json" --gemm-eff 0.5 --no-store
ok "$(grep -q 'no efficiency curve' "$errf"; [ $? -eq 1 ] && [ "$rc" -eq 0 ]; echo $?)" "--gemm-eff given: no note"
ok "$(for g in "$ZPLAN_SRCDIR"/data/gpus/*.json; do
          "$ZPLAN" --params 1e8 --gpus 1 --gpu "$(basename "$g" .json)" --no-store --json 2>&1 >/dev/null ||
              echo "zplan failed on $g"
      done | grep -c 'no efficiency curve\|zplan failed')" "every GPU preset has the curve: no note (and each plans)"

# ---------------------------------------------------------------- the search held against Calculon

# GPT-3 175B on 1024 A100s with a batch of 1536 (Calculon, Isaev et al.
# 2023, chose tp 2, pp 16, dp 32, vp 6): interleaving is searched, and the
# best plan is at least as fast, by zplan's own model, as that layout pinned
zp --model gpt3-175b --gpus 1024 --global-batch 1536 --no-store --json; cp "$outf" "$tmp/175.json"
zp --model gpt3-175b --gpus 1024 --global-batch 1536 --no-store --json --tp 2 --pp 16 --dp 32 --vp 6
jq -s . "$tmp/175.json" "$outf" >"$tmp/175c.json"
jok "$tmp/175c.json" '.[0].plans[0].vp > 1 and .[0].plans[0].step_time_s <= .[1].plans[0].step_time_s' \
    "175B / 1024 GPUs / batch 1536: the best plan is interleaved and no slower than Calculon's tp2 pp16 dp32 vp6"
# the classic strategies with dp 1024 say why they are empty: 1536 / 1024
# is not whole; 1024 and 2048 are the multiples of 1024 around it
jok "$tmp/175.json" '[.classic[] | select(.strategy == "DP" or (.strategy | startswith("ZeRO"))) | .invalid] |
    length == 5 and all(. == "dp 1024 does not divide the global batch 1536 (nearest that it divides: 1024, 2048)")' \
    "175B / 1024 GPUs: DP and the ZeRO rows say dp 1024 does not divide 1536, and name 1024 and 2048"
zp --model gpt3-175b --gpus 1024 --global-batch 1536 --no-store
ok "$(grep -q '^  DP  *dp 1024 does not divide the global batch 1536 (nearest that it divides: 1024, 2048)$' "$outf"; echo $?)" \
    "text: the DP row gives the reason"

# ---------------------------------------------------------------- FP8

# the linear layers in FP8 on an H100: faster than bf16, recorded, and the
# same answer under Megatron's spelling; refused where there is no FP8
H8="--model gpt3-6.7b --gpu h100-sxm --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --offload none --ckpt none --micro-batch 4"
zp $H8 --fp8 --db "$tmp/fp8.db" --json; cp "$outf" "$tmp/fp8.json"
zp $H8 --no-store --json; cp "$outf" "$tmp/bf16.json"
zp $H8 --fp8-format hybrid --no-store --json
jq -s . "$tmp/fp8.json" "$tmp/bf16.json" "$outf" >"$tmp/fp8all.json"
jok "$tmp/fp8all.json" '.[0].training.fp8 == true and (.[1].training | has("fp8") | not) and
    .[0].plans[0].step_time_s < .[1].plans[0].step_time_s and .[2].plans[0].step_time_s == .[0].plans[0].step_time_s and
    .[0].cluster.peak_fp8_flops == 1.9789e15 and
    (.[0].plans[0].mfu - .[0].plans[0].model_flops_per_step / .[0].plans[0].step_time_s / 8 / 1.9789e15 | fabs) < 1e-12' \
    "--fp8 on H100s: faster than bf16, MFU against the FP8 peak (1978.9 TFLOP/s), --fp8-format hybrid the same" ||
    diag "$(jq -c '[.[] | .plans[0].step_time_s]' "$tmp/fp8all.json")"
jok "$tmp/fp8all.json" '.[0].plans[0].memory_bytes.params > .[1].plans[0].memory_bytes.params and
    .[0].plans[0].memory_bytes.activations < .[1].plans[0].memory_bytes.activations' \
    "--fp8: the weights' FP8 copies added, the linear layers' saved inputs smaller"
zp show "$(jq .run_id "$tmp/fp8.json")" --db "$tmp/fp8.db" --json
jq -s . "$tmp/fp8.json" "$outf" >"$tmp/fp8show.json"
jok "$tmp/fp8show.json" '.[1].training.fp8 == true and .[1].plans[0].step_time_s == .[0].plans[0].step_time_s' \
    "zplan show keeps --fp8"
zp --params 7e9 --fp8 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q -e '--fp8: the A100-80G has no FP8 tensor cores' "$errf"; echo $?)" \
    "--fp8 on an A100: refused, there are no FP8 tensor cores" || diag "$err"
zp --params 7e9 --gpu h100-sxm --fp8-format e5m2 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "fp8-format 'e5m2' is not a format" "$errf"; echo $?)" "--fp8-format e5m2: refused" ||
    diag "$err"

# ---------------------------------------------------------------- one option table

# zplan help plan (its left column, from the command's option table), the
# man page's plan options and README's list name the same options
zp help plan
awk '/^  --/ { l = length($0) >= 24 && substr($0, 23, 2) == "  " ? substr($0, 1, 24) : $0; print l }' "$outf" |
    grep -o -- '--[a-z0-9][a-z0-9-]*' | sort -u >"$tmp/opt-help"
sed -n '/^\.SH MODEL OPTIONS/,/^\.SH ENVIRONMENT/p' "$ZPLAN_SRCDIR/zplan.1" | grep -E '^\.(B|BI|BR)' |
    grep -o -- '\\-\\-[a-z0-9\\-]*' | sed 's/\\//g' | sort -u >"$tmp/opt-man"
sed -n '/^### Every option of `zplan plan`/,/^## /p' "$ZPLAN_SRCDIR/README.md" | grep -o -- '`--[a-z0-9][a-z0-9-]*' |
    tr -d '`' | sort -u >"$tmp/opt-readme"
ok "$([ "$(wc -l <"$tmp/opt-help")" -gt 60 ] && cmp -s "$tmp/opt-help" "$tmp/opt-man" &&
      cmp -s "$tmp/opt-help" "$tmp/opt-readme"; echo $?)" \
    "zplan help plan, the man page and README list the same $(wc -l <"$tmp/opt-help") options" ||
    diag "help/man: $(diff "$tmp/opt-help" "$tmp/opt-man" | tr '\n' ' ') help/README: $(diff "$tmp/opt-help" "$tmp/opt-readme" | tr '\n' ' ')"
# every option the help lists is one the command takes (an unknown one would
# fail with exit 2 before planning: given with --help, each answers 0)
bad=
for o in $(cat "$tmp/opt-help"); do
    zp $o x --help --no-store >/dev/null 2>&1
    if [ "$rc" -eq 2 ] && grep -q "unknown option '$o" "$errf"; then bad="$bad $o"; fi
done
is "$bad" "" "every option in the help parses (the table is the parser)"
# the other commands' helps come from their tables too: each option there
# is accepted by the command
for c in exec report calibrate list show models gpus import; do
    zp help "$c"
    for o in $(grep -o -- '^  --[a-z0-9-]*' "$outf" | tr -d ' '); do
        zp "$c" "$o" x --help >/dev/null 2>&1
        if [ "$rc" -eq 2 ] && grep -q "unknown option '$o" "$errf"; then bad="$bad $c$o"; fi
    done
done
is "$bad" "" "exec, report, calibrate, list, show, models, gpus, import: each option in their help is theirs"
zp exec 1 --stepz 3 --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "unknown option '--stepz' (did you mean --steps?" "$errf"; echo $?)" \
    "exec: an unknown option names the nearest from its table" || diag "$err"
zp report --tops 3
ok "$([ "$rc" -eq 2 ] && grep -q "unknown option '--tops' (did you mean --top?" "$errf"; echo $?)" \
    "report: an unknown option names the nearest from its table" || diag "$err"

# ---------------------------------------------------------------- matmul efficiency by shape

# Llama-2-7B on 8 A100s, the layout pinned but the micro-batch: by shape,
# a micro-batch of 1 runs smaller products and launches each kernel 4 times
# as often as one of 4, so its step is slower; with one constant
# efficiency (--gemm-eff) the two take the same time (FLOPs are linear in
# tokens), which was the old answer (60.85 s at 1, 2 and 4).
L7="--model llama2-7b --gpus 8 --no-store --json --dp 8 --tp 1 --pp 1 --zero 1 --offload none --ckpt full"
zp $L7 --micro-batch 1; cp "$outf" "$tmp/mb1.json"
zp $L7 --micro-batch 4; cp "$outf" "$tmp/mb4.json"
jq -s . "$tmp/mb1.json" "$tmp/mb4.json" >"$tmp/mb14.json"
jok "$tmp/mb14.json" '.[0].plans[0].step_time_s > .[1].plans[0].step_time_s * 1.01' \
    "by shape: Llama-2-7B at micro-batch 1 is more than 1 % slower than at 4"
zp $L7 --micro-batch 1 --gemm-eff 0.6; cp "$outf" "$tmp/mb1c.json"
zp $L7 --micro-batch 4 --gemm-eff 0.6
jq -s . "$tmp/mb1c.json" "$outf" >"$tmp/mb14c.json"
jok "$tmp/mb14c.json" "$JQDEF"' rel(.[0].plans[0].time_s.compute; .[1].plans[0].time_s.compute) < 1e-9' \
    "--gemm-eff 0.6: the same compute time at micro-batch 1 and 4"
# the curve is the preset's (its file read here), the kernel time and the
# share of HBM zplan's documented defaults (README "GEMM efficiency by shape")
jok "$tmp/mb1.json" '$p[0] as $g | .conventions.gemm_by_shape.sms == $g.sms and
    .conventions.gemm_efficiency == $g.gemm_max_efficiency and
    .conventions.gemm_by_shape.attention_efficiency == $g.attention_efficiency and
    .conventions.gemm_by_shape.hbm_efficiency == 0.3 and .conventions.gemm_by_shape.kernel_us == 4.5' \
    "JSON conventions: the A100 preset's curve (its SMs, ceiling, attention rate), 30 % of HBM, 4.5 us a kernel" \
    --slurpfile p "$ZPLAN_DATADIR/gpus/a100-80g.json"
jok "$tmp/mb1c.json" '(.conventions | has("gemm_by_shape") | not) and .conventions.gemm_efficiency == 0.6' \
    "JSON conventions with --gemm-eff 0.6: no curve, the constant"
# a stored run keeps its curve: show prints the same answer
zp --model llama2-7b --gpus 8 --db "$tmp/shape.db" --json --micro-batch 2; cp "$outf" "$tmp/shape.json"
zp show "$(jq .run_id "$tmp/shape.json")" --db "$tmp/shape.db" --json
jq -s . "$tmp/shape.json" "$outf" >"$tmp/shape2.json"
jok "$tmp/shape2.json" '.[0].conventions == .[1].conventions and .[0].plans[0].step_time_s == .[1].plans[0].step_time_s' \
    "zplan show: the stored run keeps gemm_by_shape and its step time"
zp --model llama2-7b --gpus 8 --no-store --attn-eff 0
is "$rc" 2 "--attn-eff 0: refused (exit 2)"
is "$(head -c 11 "$errf")" "zplan: --at" "--attn-eff 0: the error names the option"

run "$ZPLAN" --params 1e9 --gpus 1 --no-store --json
jok "$outf" '(.plans | length) == 10 and ([.plans[] | [.memory_bytes.total, .host_memory_bytes, .comm_bytes_per_step,
    .step_time_s]] | unique | length) == 10' "--gpus 1: 10 rows, 10 distinct results"

# full recompute of every k-th block: pins --ckpt full, said on the
# Training line, kept in the JSON and the store; between none and full in
# memory and time
zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --micro-batch 1 --db "$tmp/every.db" --json --ckpt-every 4
cp "$outf" "$tmp/every.json"
jok "$tmp/every.json" '.training.ckpt_every == 4 and all(.plans[]; .ckpt == "full")' \
    "--ckpt-every 4: training.ckpt_every 4, every plan full recompute"
zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --micro-batch 1 --no-store --json --ckpt full
cp "$outf" "$tmp/full.json"
zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --micro-batch 1 --no-store --json --ckpt none
jq -s . "$tmp/every.json" "$tmp/full.json" "$outf" >"$tmp/e3.json"
jok "$tmp/e3.json" '.[1].plans[0].memory_bytes.activations < .[0].plans[0].memory_bytes.activations and
    .[0].plans[0].memory_bytes.activations < .[2].plans[0].memory_bytes.activations and
    .[2].plans[0].step_time_s < .[0].plans[0].step_time_s and .[0].plans[0].step_time_s < .[1].plans[0].step_time_s' \
    "every 4th block: activations and step time between full recompute and none"
zp show "$(jq .run_id "$tmp/every.json")" --db "$tmp/every.db"
ok "$(grep -q '^Training .*full recompute of every 4th block' "$outf"; echo $?)" "zplan show: the Training line says every 4th block"
zp --model llama2-7b --gpus 8 --no-store --ckpt-every 2 --ckpt selective
is "$rc" 2 "--ckpt-every with --ckpt selective: refused (exit 2)"
ok "$(grep -q '^zplan: --ckpt-every 2 with --ckpt selective' "$errf"; echo $?)" "the refusal names both options"
zp --model llama2-7b --gpus 8 --no-store --ckpt-every 0
is "$rc" 2 "--ckpt-every 0: refused (exit 2)"
# Megatron's block method: --recompute-method block --recompute-num-layers N = --ckpt-layers N
zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --micro-batch 1 --no-store --json --recompute-method block \
    --recompute-num-layers 8
cp "$outf" "$tmp/blk.json"
zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --micro-batch 1 --no-store --json --ckpt-layers 8
jq -s . "$tmp/blk.json" "$outf" "$tmp/full.json" >"$tmp/blk2.json"
jok "$tmp/blk2.json" '.[0].training.ckpt_layers == 8 and .[0].plans[0] == .[1].plans[0] and all(.[0].plans[]; .ckpt == "full") and
    .[0].plans[0].step_time_s < .[2].plans[0].step_time_s' \
    "--recompute-method block --recompute-num-layers 8 = --ckpt-layers 8: faster than full recompute of all 32"
zp --model llama2-7b --gpus 8 --no-store --recompute-method uniform --recompute-num-layers 2
is "$rc" 2 "--recompute-method uniform --recompute-num-layers 2: refused (exit 2)"
ok "$(grep -q 'groups of 2 blocks under one checkpoint are not modelled' "$errf"; echo $?)" "the refusal says what is not modelled"
zp --model llama2-7b --gpus 8 --no-store --json --recompute-method uniform
jok "$outf" '(.training | has("ckpt_layers") | not) and all(.plans[]; .ckpt == "full")' "--recompute-method uniform: full recompute"
zp --model llama2-7b --gpus 8 --no-store --ckpt-layers 2 --ckpt-every 2
is "$rc" 2 "--ckpt-layers with --ckpt-every: refused (exit 2)"
zp --model llama2-7b --gpus 8 --no-store --recompute-method block --recompute-num-layers 2 --ckpt-every 2
ok "$([ "$rc" -eq 2 ] && grep -q '^zplan: --recompute-method with --ckpt-every' "$errf"; echo $?)" \
    "--recompute-method with --ckpt-every: refused (exit 2), naming both"
# full recompute chosen: the fewest blocks the block method could rebuild and still fit, checked
# against the same layout pinned with --ckpt-layers N (the same step and memory) and N - 1 (does not fit)
L7="--model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --offload none --micro-batch 4 --seq 4096 --no-store --json"
# shellcheck disable=SC2086
zp $L7 --ckpt full
cp "$outf" "$tmp/pr.json"
n=$(jq '.chosen.partial_recompute.ckpt_layers' "$tmp/pr.json")
jok "$tmp/pr.json" '.chosen.partial_recompute.ckpt_layers > 1 and .chosen.partial_recompute.blocks == 32 and
    .chosen.partial_recompute.step_time_s < .chosen.step_time_s' "full recompute: a partial rebuild (N = $n of 32) fits, faster"
# shellcheck disable=SC2086
zp $L7 --ckpt-layers "$n"
jq -s . "$tmp/pr.json" "$outf" >"$tmp/pr2.json"
jok "$tmp/pr2.json" '.[1].chosen.fits and .[1].chosen.step_time_s == .[0].chosen.partial_recompute.step_time_s and
    .[1].chosen.memory_bytes.total == .[0].chosen.partial_recompute.memory_bytes and
    (.[1].chosen | has("partial_recompute") | not)' "--ckpt-layers $n pinned: the same step and memory, fits"
# shellcheck disable=SC2086
zp $L7 --ckpt-layers "$((n - 1))"
jok "$outf" '.chosen.fits | not' "--ckpt-layers $((n - 1)): does not fit (N = $n is the fewest)"
# shellcheck disable=SC2086
zp $L7 --ckpt full --micro-batch 2
jok "$outf" '.chosen.partial_recompute.ckpt_layers == 0' "where the layout fits without recompute, that is said instead (ckpt_layers 0)"
# Megatron's --recompute-modules: selective recompute means something under flash attention
zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --micro-batch 1 --no-store --json --recompute-modules mlp,layernorm
cp "$outf" "$tmp/mods.json"
zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --zero 1 --micro-batch 1 --no-store --json --ckpt selective
jq -s . "$tmp/mods.json" "$outf" >"$tmp/mods2.json"
jok "$tmp/mods2.json" '.[0].training.recompute_modules == "mlp,layernorm" and all(.[0].plans[]; .ckpt == "selective") and
    .[0].plans[0].memory_bytes.activations < .[1].plans[0].memory_bytes.activations and
    .[0].plans[0].step_time_s > .[1].plans[0].step_time_s' \
    "--recompute-modules mlp,layernorm under flash attention: less activation memory and more time than the attention core's"
zp --model llama2-7b --gpus 8 --no-store --recompute-modules mlp,softmax
is "$rc" 2 "--recompute-modules mlp,softmax: refused (exit 2)"
ok "$(grep -q "softmax" "$errf" && grep -q "core_attn" "$errf"; echo $?)" "the refusal names the module and the allowed ones"
zp --model llama2-7b --gpus 8 --no-store --recompute-modules mlp --ckpt full
is "$rc" 2 "--recompute-modules with --ckpt full: refused (exit 2)"
zp --model llama2-7b --gpus 8 --no-store --recompute-modules mlp --ckpt-every 2
ok "$([ "$rc" -eq 2 ] && grep -q '^zplan: --recompute-modules with --ckpt-every' "$errf"; echo $?)" \
    "--recompute-modules with --ckpt-every: refused (exit 2), naming both"
zp --model llama2-7b --gpus 8 --no-store --recompute-num-layers 2
is "$rc" 2 "--recompute-num-layers without --recompute-method: refused (exit 2)"

# --framework: a framework's defaults, each overridable
zp --model llama2-7b --gpus 16 --no-store --json --framework megatron
jok "$outf" '.conventions.framework == "megatron" and .conventions.grad_reduce == "after" and
    .conventions.bucket_elems == 0 and .training.grad_dtype == "fp32"' \
    "--framework megatron: fp32 main gradients, reduced after the backward, no bucket beside the gradient buffer"
zp --model llama2-7b --gpus 16 --no-store --json --framework megatron --overlap-grad-reduce --grad-dtype bf16
jok "$outf" '.conventions.grad_reduce == "backward" and .training.grad_dtype == "bf16"' \
    "--framework megatron --overlap-grad-reduce --grad-dtype bf16: the options override the framework"
zp --model llama2-7b --gpus 16 --no-store --json --framework deepspeed
jok "$outf" '.conventions.grad_reduce == "zero3" and .conventions.bucket_elems == 500000000 and
    .conventions.zero3_buffer == "deepspeed" and .training.grad_dtype == "bf16"' \
    "--framework deepspeed: 5e8-element buckets, overlap_comm at ZeRO-3 only, its ZeRO-3 buffers"
zp --model llama2-7b --gpus 16 --no-store --json --framework fsdp
jok "$outf" '.conventions.grad_reduce == "backward" and .conventions.bucket_elems == 0' "--framework fsdp: per-unit reduction behind the backward"
jok "$outf" '.conventions.dp_overlap_efficiency == 0.5 and .conventions.overlap_efficiency == 0.8' \
    "--framework fsdp: half of the data-parallel group's hidden collectives hide, the others' 0.8"
jok "$outf" '([.plans[] | select(.zero == 1 or .offload == "optimizer")] | length) == 0 and
    ([.rejected | to_entries[] | select(.key | startswith("not a layout the framework runs")) | .value] | .[0] > 0)' \
    "--framework fsdp: no ZeRO-1 and no optimizer-only offload among the plans, counted as rejected by rule"
zp --model llama2-7b --gpus 8 --no-store --json --framework torch
jok "$outf" '([.plans[] | select(.zero >= 2 or .offload != "none")] | length) == 0 and (.plans | length) > 0' \
    "--framework torch (DDP): ZeRO 0-1 and no offload among the plans"
jok "$outf" '[.classic[] | select(.strategy | startswith("ZeRO-2") or startswith("ZeRO-3")) | .invalid] |
    length == 3 and all(. == "not a layout torch runs (--framework torch)")' \
    "--framework torch: the classic ZeRO-2/3 rows say the framework does not run them"
run "$ZPLAN" --model llama2-7b --gpus 8 --framework deepspeed --zero 3 --pp 2 --tp 1 --dp 4 --micro-batch 1 --ckpt full \
    --offload none --no-store
ok "$([ "$rc" -eq 2 ] && grep -q "^zplan: --zero 3 --offload none --pp 2 with --framework deepspeed: DeepSpeed's pipeline engine runs ZeRO 0-1 only" "$errf"; echo $?)" \
    "--framework deepspeed with ZeRO-3 and pp 2 pinned: refused, its pipeline engine has no ZeRO-2/3" || diag "rc=$rc $err"
for pin in "fsdp --zero 1:--zero 1 with --framework fsdp" "fsdp --offload optimizer:--offload optimizer with --framework fsdp" \
    "torch --zero 2:--zero 2 with --framework torch" "torch --offload optimizer:--offload optimizer with --framework torch"; do
    # shellcheck disable=SC2086
    run "$ZPLAN" --model llama2-7b --gpus 8 --no-store --framework ${pin%%:*}
    ok "$([ "$rc" -eq 2 ] && grep -q "^zplan: ${pin#*:}: .*(allowed: " "$errf"; echo $?)" \
        "--framework ${pin%%:*} pinned: refused before the search, naming what the framework allows" || diag "rc=$rc $err"
done
zp --model llama3-8b --gpus 16 --seq 8192 --global-batch 64 --pp 2 --framework fsdp --no-store --json
jok "$outf" 'any(.plans[]; .zero == 3) and all(.plans[]; .zero == 3 or .zero == 0)' \
    "--framework fsdp, pp 2 pinned: FSDP (ZeRO-3) with pipelining searched unpinned, or DDP"
zp --model llama2-7b --gpus 16 --no-store --json --framework fsdp --overlap-eff 0.7
jok "$outf" '.conventions.dp_overlap_efficiency == 0.7 and .conventions.overlap_efficiency == 0.7' \
    "--framework fsdp --overlap-eff 0.7: an explicit overlap efficiency applies to every group"
zp --model llama2-7b --gpus 16 --no-store --json --framework megatron --dp-overlap-eff 0.9
jok "$outf" '.conventions.dp_overlap_efficiency == 0.9 and .conventions.overlap_efficiency == 0.8' \
    "--dp-overlap-eff 0.9: the data-parallel group's alone"
# a pinned ZeRO-3 layout whose gathers and reduce-scatters all fit behind
# its compute: 0.2 of their time shows at 0.8, 0.5 under fsdp's default
zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --zero 3 --micro-batch 4 --ckpt full --no-store --json \
    --framework fsdp --dp-overlap-eff 0.8
cp "$outf" "$tmp/fsdp-08.json"
zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --zero 3 --micro-batch 4 --ckpt full --no-store --json --framework fsdp
jq -s . "$tmp/fsdp-08.json" "$outf" >"$tmp/fsdp2.json"
jok "$tmp/fsdp2.json" '([.[0].chosen.comm[] | select(.group == "dp") | .time_s] | add) as $t |
    ([.[0].chosen.comm[] | select(.group != "dp")] | length) == 0 and $t > 0 and
    (.[0].chosen.time_s.comm_exposed - 0.2 * $t | fabs) < 1e-9 * $t and
    (.[1].chosen.time_s.comm_exposed - 0.5 * $t | fabs) < 1e-9 * $t and
    .[0].chosen.time_s.compute == .[1].chosen.time_s.compute' \
    "--framework fsdp: ZeRO-3's collectives, all behind compute, show 0.5 of their time (0.2 at --dp-overlap-eff 0.8)"
# the same pinned ZeRO-1 layout: Megatron's reduction after the backward costs time
zp --model llama2-7b --gpus 16 --dp 16 --tp 1 --pp 1 --zero 1 --micro-batch 4 --no-store --json --framework megatron --grad-dtype bf16
cp "$outf" "$tmp/fw-after.json"
zp --model llama2-7b --gpus 16 --dp 16 --tp 1 --pp 1 --zero 1 --micro-batch 4 --no-store --json --grad-dtype bf16
jq -s . "$tmp/fw-after.json" "$outf" >"$tmp/fw2.json"
jok "$tmp/fw2.json" '.[0].plans[0].time_s.comm_exposed > .[1].plans[0].time_s.comm_exposed and
    .[0].plans[0].time_s.compute == .[1].plans[0].time_s.compute' \
    "gradients reduced after the backward: more exposed communication, the same compute"
zp --model llama2-7b --gpus 16 --framework megatron --db "$tmp/fw.db" --json
zp show "$(jq .run_id "$outf")" --db "$tmp/fw.db"
ok "$(grep -q "^Training .*megatron's defaults, gradients reduced after the backward" "$outf"; echo $?)" \
    "zplan show: the Training line names the framework and when gradients are reduced"
# Megatron's asynchronous input-gradient all-reduce: at tp 8 without sp, less exposed; its flag turns it off
zp --model llama2-7b --gpus 8 --dp 1 --tp 8 --pp 1 --no-sp --micro-batch 2 --no-store --json --framework megatron
cp "$outf" "$tmp/tpgo.json"
zp --model llama2-7b --gpus 8 --dp 1 --tp 8 --pp 1 --no-sp --micro-batch 2 --no-store --json --framework megatron \
    --no-async-tensor-model-parallel-allreduce
jq -s . "$tmp/tpgo.json" "$outf" >"$tmp/tpgo2.json"
jok "$tmp/tpgo2.json" '.[0].conventions.tp_grad_overlap and (.[1].conventions.tp_grad_overlap | not) and
    .[0].plans[0].time_s.comm_exposed < .[1].plans[0].time_s.comm_exposed and
    .[0].plans[0].comm_bytes_per_step == .[1].plans[0].comm_bytes_per_step' \
    "--framework megatron: input-gradient all-reduces behind the weight gradients (less exposed, the same bytes); --no-async-tensor-model-parallel-allreduce turns it off"
# DeepSpeed's pipeline engine: blocking, paired sends and receives at every step, 4M + 2(p - 4)
# transfers on the critical path (p 4, M 16: 64) in place of the first stage's 16 activation sends
zp --model llama2-7b --gpus 8 --dp 1 --tp 2 --pp 4 --vp 1 --micro-batch 1 --global-batch 16 --no-store --json --framework deepspeed
cp "$outf" "$tmp/p2pb.json"
zp --model llama2-7b --gpus 8 --dp 1 --tp 2 --pp 4 --vp 1 --micro-batch 1 --global-batch 16 --no-store --json --framework deepspeed \
    --no-p2p-blocking
jq -s . "$tmp/p2pb.json" "$outf" >"$tmp/p2pb2.json"
jok "$tmp/p2pb2.json" '.[0].conventions.p2p_blocking and (.[1].conventions.p2p_blocking | not) and
    ([.[1].chosen.comm[] | select(.what == "pipeline activation send")][0]) as $s |
    $s.count == 16 and
    ((.[0].chosen.time_s.comm_exposed - .[1].chosen.time_s.comm_exposed) / ($s.time_s / $s.count)) as $n |
    $n > (2 * 16 + 2 * 2 - 16) - 1e-6 and $n < (4 * 16 + 2 * 0 - 16) + 1e-6 and
    .[0].chosen.comm_bytes_per_step == .[1].chosen.comm_bytes_per_step' \
    "--framework deepspeed, p 4, M 16: blocking pipeline transfers expose between the last stage's 36 and a middle stage's 64 transfers in place of the first stage's 16 sends (test_cost derives which), the same bytes; --no-p2p-blocking turns it off"
zp --model llama2-7b --gpus 8 --dp 1 --tp 2 --pp 4 --vp 1 --micro-batch 1 --global-batch 16 --no-store --framework deepspeed
ok "$(grep -q "pipeline transfers block (--p2p-blocking): those of the stage that paces" "$outf"; echo $?)" \
    "--framework deepspeed, pp 4: the text says the pacing stage's blocking transfers are on the critical path"
zp --model llama2-7b --gpus 8 --tp 2 --pp 4 --vp 2 --no-store --framework deepspeed
is "$rc" 2 "--framework deepspeed --vp 2: refused (exit 2): DeepSpeed's pipeline engine has no interleaving"
ok "$(grep -q "no interleaved schedule (allowed: --vp 1, or --no-p2p-blocking)" "$errf"; echo $?)" "the refusal says why and what is allowed"
zp --model llama2-7b --gpus 16 --pp 4 --global-batch 64 --no-store --json --framework deepspeed
jok "$outf" '[.plans[].vp] | all(. == 1)' "--framework deepspeed: only vp 1 is searched"
zp --model llama2-7b --gpus 8 --dp 1 --tp 2 --pp 4 --vp 1 --micro-batch 1 --global-batch 16 --no-store --framework deepspeed \
    --no-p2p-blocking
ok "$(grep -q "transfers block" "$outf"; echo $? | grep -qx 1; echo $?)" "--no-p2p-blocking: no such line"
# Megatron-LM's interleaved schedule overlaps its pipeline transfers (overlap_p2p_comm, on by
# default, --no-overlap-p2p-communication turns it off); only with interleaving
zp --model llama2-7b --gpus 8 --dp 1 --tp 2 --pp 4 --vp 2 --micro-batch 1 --global-batch 16 --no-store --json --framework megatron
cp "$outf" "$tmp/p2po.json"
zp --model llama2-7b --gpus 8 --dp 1 --tp 2 --pp 4 --vp 2 --micro-batch 1 --global-batch 16 --no-store --json --framework megatron \
    --no-overlap-p2p-communication
jq -s . "$tmp/p2po.json" "$outf" >"$tmp/p2po2.json"
jok "$tmp/p2po2.json" '.[0].conventions.p2p_overlap and (.[1].conventions.p2p_overlap | not) and
    ([.[0].chosen.comm[] | select(.group == "pp") | .overlap] | length > 0 and all(. == "other chunks")) and
    ([.[1].chosen.comm[] | select(.group == "pp") | .overlap] | all(. == "none")) and
    .[0].chosen.time_s.comm_exposed < .[1].chosen.time_s.comm_exposed and
    .[0].chosen.time_s.compute == .[1].chosen.time_s.compute' \
    "--framework megatron, vp 2: the pipeline sends behind the other chunks (less exposed, the same compute); --no-overlap-p2p-communication: on the critical path"
zp --model llama2-7b --gpus 8 --dp 1 --tp 2 --pp 4 --vp 1 --micro-batch 1 --global-batch 16 --no-store --json --framework megatron
jok "$outf" '.conventions.p2p_overlap and ([.chosen.comm[] | select(.group == "pp") | .overlap] | length > 0 and all(. == "none"))' \
    "--framework megatron without interleaving: the sends block (Megatron forces the overlap off)"
# the distributed optimizer's all-gather behind the next forward (--overlap-param-gather)
zp --model llama2-7b --gpus 16 --dp 16 --tp 1 --pp 1 --micro-batch 1 --global-batch 16 --zero 1 --no-store --json --framework megatron \
    --overlap-grad-reduce
cp "$outf" "$tmp/pgo.json"
zp --model llama2-7b --gpus 16 --dp 16 --tp 1 --pp 1 --micro-batch 1 --global-batch 16 --zero 1 --no-store --json --framework megatron \
    --overlap-grad-reduce --overlap-param-gather
jq -s . "$tmp/pgo.json" "$outf" >"$tmp/pgo2.json"
jok "$tmp/pgo2.json" '(.[0].conventions.param_gather_overlap | not) and .[1].conventions.param_gather_overlap and
    ([.[0].chosen.comm[] | select(.what == "updated-parameter all-gather")][0]) as $a |
    ([.[1].chosen.comm[] | select(.what == "updated-parameter all-gather")][0]) as $b |
    $a.overlap == "none" and $b.overlap == "forward" and $a.bytes == $b.bytes and
    .[1].chosen.time_s.comm_exposed < .[0].chosen.time_s.comm_exposed' \
    "ZeRO-1, --overlap-param-gather: the updated parameters' all-gather behind the forward, less exposed, the same bytes"
zp --model llama2-7b --gpus 16 --no-store --framework megatron --overlap-param-gather
is "$rc" 2 "--framework megatron --overlap-param-gather without --overlap-grad-reduce: refused (exit 2), as Megatron refuses it"
ok "$(grep -q "allowed: add --grad-reduce backward" "$errf"; echo $?)" "the refusal says what is allowed"
# Adam's implementation: torch.optim's foreach (--framework torch) makes sqrt(v) at the step,
# 4 bytes a parameter; with 128 tokens on one GPU (GPT-2 medium, fp32) that step is the peak: the
# parameters, every gradient and the moments, 4 + 4 + 8 bytes a parameter, + sqrt(v) in buffers (beside
# PyTorch's two 32 MiB cuBLAS workspaces on an H200)
for i in fused foreach; do
    zp --model gpt2-medium --gpus 1 --gpu h200 --seq 128 --micro-batch 1 --global-batch 1 --dtype fp32 --ckpt none \
        --framework torch --adam-impl $i --json --db "$tmp/adam.db"
    cp "$outf" "$tmp/adam-$i.json"
done
jok "$tmp/adam-foreach.json" '.conventions.adam_impl == "foreach" and .chosen.peak_phase == "step" and
    .chosen.memory_bytes.activations == 0 and
    .chosen.memory_bytes.params + .chosen.memory_bytes.grads + .chosen.memory_bytes.optimizer == 16 * .model.params and
    .chosen.memory_bytes.buffers == 4 * .model.params + 2 * 33554432' \
    "--adam-impl foreach: the peak is the step, 16 bytes a parameter of states and sqrt(v)'s 4 in buffers (+ 2 x 32 MiB of cuBLAS workspaces)"
jq -s . "$tmp/adam-fused.json" "$tmp/adam-foreach.json" >"$tmp/adam2.json"
jok "$tmp/adam2.json" '.[0].conventions.adam_impl == "fused" and .[0].chosen.peak_phase != "step" and
    ((.[1].chosen.time_s.optimizer - .[0].chosen.time_s.optimizer * 80 / 28) | fabs) < 1e-9 * .[0].chosen.time_s.optimizer' \
    "--adam-impl fused: no step peak; foreach moves 80 bytes a parameter where fused moves 28 (fp32)"
zp show "$(jq .run_id "$tmp/adam-foreach.json")" --db "$tmp/adam.db" --json
jok "$outf" '.conventions.adam_impl == "foreach" and .chosen.peak_phase == "step"' "a stored foreach run reads back as foreach"
zp show "$(jq .run_id "$tmp/adam-foreach.json")" --db "$tmp/adam.db"
ok "$(grep -q "at its peak: the optimizer step" "$outf"; echo $?)" "the text names the optimizer step as the peak"
# eager attention on a long sequence (GPT-2 small's blocks at 8192 tokens, 8000 words): the last block's
# attention backward holds the softmax's two fp32 gradients, 8 a s^2 bytes (it has freed the
# probabilities' bf16 copy, 2 a s^2), where the loss's three fp32 logit-sized tensors are 12 s V, far
# less; SDPA has no such moment
printf '{"model_type": "gpt2", "n_layer": 12, "n_embd": 768, "n_head": 12, "vocab_size": 8000, "n_positions": 8192}' \
    >"$tmp/g2long.json"
for a in --no-flash-attn --flash-attn; do
    zp --config "$tmp/g2long.json" --gpus 1 --gpu h200 --seq 8192 --micro-batch 1 --global-batch 1 --dtype bf16 \
        --ckpt none $a --framework torch --adam-impl fused --json --db "$tmp/attn.db"
    cp "$outf" "$tmp/attn$a.json"
done
jok "$tmp/attn--no-flash-attn.json" '.chosen.peak_phase == "attention" and
    .chosen.memory_bytes.buffers >= 8 * 12 * 8192 * 8192' \
    "--framework torch, eager attention, 8192 tokens: the peak is the last block's attention backward, its 8 a s^2 bytes in buffers"
jok "$tmp/attn--flash-attn.json" '.chosen.peak_phase == "loss"' "the same with SDPA: the peak is the loss's"
zp show "$(jq .run_id "$tmp/attn--no-flash-attn.json")" --db "$tmp/attn.db"
ok "$(grep -q "at its peak: the last block's attention backward" "$outf"; echo $?)" \
    "a stored run whose peak is the attention backward reads back and says so"
# PyTorch eager trains a transformers model with its config's dropout: GPT-2's config.json sets
# attn_pdrop 0.1, so --framework torch plans its masks (and says so) unless --no-dropout; zplan's own
# accounting keeps its default (off); LLaMA's attention_dropout 0.0 leaves it off
for a in "--framework torch" "--framework torch --no-dropout" "--framework megatron"; do
    zp --config "$ZPLAN_SRCDIR/tests/data/gpt2-config.json" --gpus 1 --gpu h200 --seq 1024 --micro-batch 4 \
        --global-batch 4 $a --json --no-store
    cp "$outf" "$tmp/drop-$(echo "$a" | tr -d ' -').json"
    cp "$errf" "$tmp/drop-$(echo "$a" | tr -d ' -').err"
done
jok "$tmp/drop-frameworktorch.json" '.training.dropout' "--framework torch, GPT-2's config (attn_pdrop 0.1): dropout masks planned"
ok "$(grep -q "drops attention probabilities in training" "$tmp/drop-frameworktorch.err"; echo $?)" "... and zplan says so"
jq -s . "$tmp/drop-frameworktorch.json" "$tmp/drop-frameworktorchnodropout.json" >"$tmp/drop2.json"
jok "$tmp/drop2.json" '(.[1].training.dropout | not) and .[0].chosen.memory_bytes.activations > .[1].chosen.memory_bytes.activations' \
    "--no-dropout overrides it, and the masks weigh"
jok "$tmp/drop-frameworkmegatron.json" '.training.dropout | not' "--framework megatron keeps zplan's default, no dropout"
zp --config "$ZPLAN_SRCDIR/tests/data/llama-gqa-config.json" --gpus 1 --gpu h200 --seq 1024 --micro-batch 1 \
    --global-batch 1 --framework torch --json --no-store
jok "$outf" '.training.dropout | not' "--framework torch, LLaMA's config (attention_dropout 0.0): no dropout"
printf '{"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 100, "n_positions": 64, "attn_pdrop": 1.5}' \
    >"$tmp/badpdrop.json"
zp --config "$tmp/badpdrop.json" --gpus 1 --no-store
is "$rc" 2 "attn_pdrop 1.5: exit 2"
ok "$(grep -q '"attn_pdrop" must be a probability' "$errf"; echo $?)" "... saying it must be a probability"
for f in torch fsdp megatron deepspeed; do
    zp --model llama2-7b --gpus 8 --no-store --json --framework $f
    case $f in torch) want=foreach ;; *) want=fused ;; esac
    jok "$outf" ".conventions.adam_impl == \"$want\"" "--framework $f: Adam $want"
done
zp --model llama2-7b --gpus 8 --no-store --adam-impl apex
is "$rc" 2 "--adam-impl apex: refused (exit 2)"
# a tied head's gradient summed at the word embedding's backward (--framework torch, GPT-2 small
# in fp32, one sequence of 128 tokens, every block rebuilt): every gradient (4 bytes a parameter)
# and one more of the word embedding's, 4 V h (in place), two with --grad-sum copy (fused Adam: foreach's
# sqrt(v) at the step, 4 bytes a parameter, would outweigh it); with rebuilt
# blocks the fragmentation is 0.20 of the tensors, 0.05 without, one --frag for both
for g in inplace copy; do
    zp --config "$ZPLAN_SRCDIR/tests/data/gpt2-config.json" --gpus 1 --gpu h200 --seq 128 --micro-batch 1 \
        --global-batch 1 --dtype fp32 --ckpt full --framework torch --adam-impl fused --no-dropout --grad-sum $g \
        --json --db "$tmp/gsum.db"
    cp "$outf" "$tmp/gsum-$g.json"
done
jq -s . "$tmp/gsum-inplace.json" "$tmp/gsum-copy.json" >"$tmp/gsum2.json"
jok "$tmp/gsum2.json" 'all(.[]; .chosen.peak_phase == "embedding" and .chosen.memory_bytes.activations == 0) and
    .[0].conventions.grad_sum == "inplace" and .[1].conventions.grad_sum == "copy" and
    .[0].chosen.memory_bytes.grads == 4 * (.[0].model.params + 50257 * 768) and
    .[1].chosen.memory_bytes.grads == 4 * (.[1].model.params + 2 * 50257 * 768)' \
    "--grad-sum inplace|copy: the word embedding's backward, every gradient and one (two) more of the table's"
jok "$tmp/gsum-copy.json" '.conventions.fragmentation == 0.05 and .conventions.fragmentation_rebuilt == 0.2' \
    "the fragmentation's two fractions recorded: 0.05, 0.20 with rebuilt blocks"
zp show "$(jq .run_id "$tmp/gsum-copy.json")" --db "$tmp/gsum.db" --json
jok "$outf" '.conventions.grad_sum == "copy" and .chosen.peak_phase == "embedding" and .conventions.fragmentation_rebuilt == 0.2' \
    "a stored --grad-sum copy run reads back as copy, its peak the embedding's"
zp show "$(jq .run_id "$tmp/gsum-copy.json")" --db "$tmp/gsum.db"
ok "$(grep -q "at its peak: the word embedding's backward" "$outf"; echo $?)" "the text names the word embedding's backward"
zp --config "$ZPLAN_SRCDIR/tests/data/gpt2-config.json" --gpus 1 --gpu h200 --seq 128 --micro-batch 1 \
    --global-batch 1 --dtype fp32 --ckpt full --framework torch --frag 0.1 --json --no-store
jok "$outf" '.conventions.fragmentation == 0.1 and .conventions.fragmentation_rebuilt == 0.1' "--frag 0.1 sets both fractions"
zp --model llama2-7b --gpus 8 --no-store --grad-sum twice
is "$rc" 2 "--grad-sum twice: refused (exit 2)"
ok "$(grep -q "inplace" "$errf" && grep -q "copy" "$errf"; echo $?)" "... naming inplace and copy"
# pipeline stage outputs: stage 1 of 4 (GPT-2 medium, s 1024, b 1, h 1024, tp 2, no sp, bf16) has
# min(p - 1, M) = 3 micro-batches in flight; kept holds each one's output whole, 2 s b h bytes,
# sliced its tp slice, 2 s b h / 2; freed nothing
for po in freed kept sliced; do
    zp --model gpt2-medium --gpus 8 --tp 2 --pp 4 --vp 1 --dp 1 --micro-batch 1 --global-batch 8 --seq 1024 --ckpt full \
        --no-sp --framework deepspeed --pp-outputs $po --json --db "$tmp/ppo.db"
    cp "$outf" "$tmp/ppo-$po.json"
done
jq -s . "$tmp/ppo-freed.json" "$tmp/ppo-kept.json" "$tmp/ppo-sliced.json" >"$tmp/ppo3.json"
jok "$tmp/ppo3.json" '[.[] | .chosen.stages[1].memory_bytes.activations] as $a |
    $a[1] - $a[0] == 3 * 2 * 1024 * 1024 and $a[2] - $a[0] == 3 * 2 * 1024 * 1024 / 2 and
    ([.[] | .chosen.stages[3].memory_bytes.activations] | unique | length) == 1' \
    "--pp-outputs: stage 1 keeps 3 outputs, 2 s b h each (kept) or half (sliced, tp 2); the last stage none"
# the scores' gradients without flash attention (Llama 2 7B, 32 heads, s 4096, b 1, bf16, one GPU,
# full recompute): at the block's backward every head's, 2 a s^2 = 1073741824 bytes, beyond what the
# MLP's backward freed, its gate, up and product outputs and three gradients, 2 x 6 s f = 541065216;
# the engine's one head counts 2 s^2 instead
for g in all head; do
    zp --model llama2-7b --gpus 1 --gpu-mem 1TiB --seq 4096 --micro-batch 1 --global-batch 1 --ckpt full \
        --no-flash-attn --score-grads $g --json --db "$tmp/sg.db"
    cp "$outf" "$tmp/sg-$g.json"
done
jq -s . "$tmp/sg-all.json" "$tmp/sg-head.json" >"$tmp/sg2.json"
jok "$tmp/sg2.json" '.[0].conventions.score_grads == "all" and .[1].conventions.score_grads == "head" and
    ([.[] | .chosen.peak_phase] | unique) == ["backward"] and
    .[0].chosen.memory_bytes.buffers - .[1].chosen.memory_bytes.buffers ==
        2 * 32 * 4096 * 4096 - 2 * 6 * 4096 * 11008 - 2 * 4096 * 4096' \
    "--score-grads all: every head's 2 a s^2 beyond the MLP's 12 s f, against the engine's 2 s^2"
# a stored run read back for its report plans with its own score_grads, and one stored before the
# key (removed here) with the one head zplan counted then: the report's dp-1 total differs by the
# same 499122176 bytes and the 5 % fragmentation on them
if command -v sqlite3 >/dev/null 2>&1; then
    sid=$(jq .run_id "$tmp/sg-all.json")
    (cd "$tmp" && "$ZPLAN" report "$sid" --db "$tmp/sg.db" --out "$tmp/sg-r1" >/dev/null 2>&1)
    sqlite3 -batch "$tmp/sg.db" "UPDATE runs SET result_json = json_remove(result_json, '\$.conventions.score_grads') WHERE id = $sid"
    (cd "$tmp" && "$ZPLAN" report "$sid" --db "$tmp/sg.db" --out "$tmp/sg-r2" >/dev/null 2>&1)
    d=$(awk 'FNR == 1 { f++ } $1 == 1 { t[f] = $6 } END { printf "%.4f", t[1] - t[2] }' \
        "$tmp/sg-r1/scaling.dat" "$tmp/sg-r2/scaling.dat" 2>/dev/null)
    is "$d" "$(awk 'BEGIN { printf "%.4f", 499122176 * 1.05 / 1073741824 }')" \
        "a stored run's score_grads read back (all; absent before the key: head) for its report's plans"
else
    skip_dep "no sqlite3 here"
fi
zp show "$(jq .run_id "$tmp/sg-head.json")" --db "$tmp/sg.db" --json
jok "$outf" '.conventions.score_grads == "head"' "a stored run reads --score-grads back"
zp --model gpt2-medium --gpus 1 --no-store --json
jok "$outf" '.conventions.score_grads == "all"' "--score-grads: all by default"
zp --model gpt2-medium --gpus 1 --no-store --score-grads some
is "$rc" 2 "--score-grads some: refused (exit 2)"
# BLOOM's embedding LayerNorm: stage 0 of 2 keeps its input, 2 s b h bytes (no sp), for each of the
# min(p, M) = 2 micro-batches in flight, beside what the same shape with GPT-2's blocks keeps
cat >"$tmp/bloom-gpt2.json" <<'EOF'
{"model_type": "gpt2", "n_layer": 70, "n_embd": 14336, "n_head": 112, "vocab_size": 250880, "n_positions": 2048}
EOF
for mo in "--model bloom-176b" "--config $tmp/bloom-gpt2.json"; do
    zp $mo --gpus 16 --tp 8 --pp 2 --vp 1 --dp 1 --no-sp --micro-batch 1 --global-batch 16 --seq 2048 --ckpt full \
        --gpu-mem 1TiB --no-store --json
    cp "$outf" "$tmp/en-$(echo "$mo" | cut -c3-7).json"
done
jq -s . "$tmp/en-model.json" "$tmp/en-confi.json" >"$tmp/en2.json"
jok "$tmp/en2.json" '.[0].model.embed_norm and (.[1].model.embed_norm | not) and
    .[0].chosen.stages[0].memory_bytes.activations - .[1].chosen.stages[0].memory_bytes.activations == 2 * 2 * 2048 * 14336 and
    .[0].chosen.stages[1].memory_bytes.activations == .[1].chosen.stages[1].memory_bytes.activations' \
    "BLOOM's embedding norm: stage 0 keeps 2 x 2 s b h more than GPT-2's blocks, stage 1 the same"
zp show "$(jq .run_id "$tmp/ppo-sliced.json")" --db "$tmp/ppo.db" --json
jok "$outf" '.conventions.pp_outputs == "sliced"' "a stored run reads --pp-outputs back"
for f in torch fsdp megatron deepspeed; do
    zp --model llama2-7b --gpus 8 --no-store --json --framework $f
    case $f in torch|fsdp) want=kept ;; megatron) want=freed ;; *) want=sliced ;; esac
    jok "$outf" ".conventions.pp_outputs == \"$want\"" "--framework $f: pipeline outputs $want"
done
zp --model llama2-7b --gpus 8 --no-store --json
jok "$outf" '.conventions.pp_outputs == "freed"' "no framework: pipeline outputs freed once sent"
zp --model llama2-7b --gpus 8 --no-store --pp-outputs partial
is "$rc" 2 "--pp-outputs partial: refused (exit 2)"
# --sp-inputs: DTensor's column-parallel products keep the input the sequence-parallel
# all-gather made (whole), Megatron's keep each rank's rows and gather them again.  By
# hand, LLaMA-2 7B (32 blocks, h 4096) at 2048 tokens, tp 2, no recompute: the QKV and
# gate/up inputs, 2 x 2 s b h bytes a block, kept whole instead of halved: 32 x 2 x 2 x
# 2048 x 4096 / 2 = 536870912 bytes more, and no re-gather collective
for sp in local gathered; do
    zp --model llama2-7b --gpus 8 --tp 2 --pp 1 --dp 4 --zero 1 --ckpt none --micro-batch 1 --seq 2048 --sp \
        --sp-inputs $sp --gpu-mem 1TiB --no-store --json
    cp "$outf" "$tmp/spin-$sp.json"
done
jq -s . "$tmp/spin-local.json" "$tmp/spin-gathered.json" >"$tmp/spin.json"
jok "$tmp/spin.json" '.[1].chosen.memory_bytes.activations - .[0].chosen.memory_bytes.activations == 32 * 2 * 2 * 2048 * 4096 / 2 and
    ([.[0].chosen.comm[] | select(.what | test("re-gather"))] | length) == 1 and
    ([.[1].chosen.comm[] | select(.what | test("re-gather"))] | length) == 0 and
    .[0].conventions.sp_inputs == "local" and .[1].conventions.sp_inputs == "gathered"' \
    "--sp-inputs gathered: 2 x 2 s b h (1 - 1/t) more a block, no re-gather for the weight gradients"
for f in torch fsdp megatron deepspeed; do
    zp --model llama2-7b --gpus 8 --no-store --json --framework $f
    case $f in torch|fsdp) want=gathered ;; *) want=local ;; esac
    jok "$outf" ".conventions.sp_inputs == \"$want\"" "--framework $f: sequence-parallel inputs $want"
done
zp --model llama2-7b --gpus 8 --no-store --sp-inputs whole
is "$rc" 2 "--sp-inputs whole: refused (exit 2)"
zp --model llama2-7b --gpus 8 --tp 2 --sp --sp-inputs gathered --json --db "$tmp/spin.db"
zp show "$(jq .run_id "$outf")" --db "$tmp/spin.db" --json
jok "$outf" '.conventions.sp_inputs == "gathered"' "a stored run reads --sp-inputs back"
# the attention kernel's rate: Megatron's Transformer Engine takes cuDNN's on Hopper; each
# kernel reads its own number from the preset file, a preset without it keeps the fitted one
H=$ZPLAN_SRCDIR/data/gpus/h100-sxm.json
A=$ZPLAN_SRCDIR/data/gpus/a100-80g.json
for k in default preset fa2 cudnn; do
    case $k in
    default) zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --micro-batch 1 --global-batch 8 --seq 4096 --zero 1 --ckpt none \
        --gpu h100-sxm --no-store --json --framework megatron ;;
    *) zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --micro-batch 1 --global-batch 8 --seq 4096 --zero 1 --ckpt none \
        --gpu h100-sxm --no-store --json --framework megatron --gemm-ceiling preset --attn-kernel $k ;;
    esac
    cp "$outf" "$tmp/ak-$k.json"
done
# --framework megatron on an H100: cuDNN's attention, and the short benchmark's matmul ceiling, which
# Megatron sustains: the 16-bit ceiling the preset's gemm_max_efficiency_benchmark, the FP8 one 0.88 of
# it (the preset gives no FP8 ceiling of its own), cuDNN's rate in the ratio benchmark / sustained
jok "$tmp/ak-default.json" '.conventions.attention_kernel == "cudnn" and .conventions.gemm_ceiling == "benchmark" and
    .conventions.gemm_efficiency == $h[0].gemm_max_efficiency_benchmark and
    ((.conventions.gemm_by_shape.attention_efficiency - $h[0].attention_efficiency_cudnn * $h[0].gemm_max_efficiency_benchmark /
      $h[0].gemm_max_efficiency) | fabs) < 1e-12' \
    "--framework megatron on an H100: cuDNN's attention and the benchmark ceiling, the preset's numbers in the benchmark / sustained ratio" --slurpfile h "$H"
zp --model llama2-7b --gpus 8 --gpu h100-sxm --fp8 --no-store --json --framework megatron
jok "$outf" '$h[0].gemm_max_efficiency_fp8 == null and
    ((.conventions.gemm_by_shape.fp8_max_efficiency - 0.88 * $h[0].gemm_max_efficiency_benchmark) | fabs) < 1e-12' \
    "--framework megatron --fp8 on an H100: the FP8 ceiling 0.88 of the benchmark one" --slurpfile h "$H"
zp --model llama2-7b --gpus 8 --gpu h100-sxm --fp8 --no-store --json
jok "$outf" '.conventions.gemm_ceiling == "preset" and .conventions.gemm_efficiency == $h[0].gemm_max_efficiency and
    ((.conventions.gemm_by_shape.fp8_max_efficiency - 0.88 * $h[0].gemm_max_efficiency) | fabs) < 1e-12 and
    .conventions.gemm_by_shape.attention_efficiency == $h[0].attention_efficiency' \
    "no framework: the sustained ceilings fitted to training runs and the fitted attention rate" --slurpfile h "$H"
zp --model llama2-7b --gpus 8 --gpu a100-80g --no-store --json --framework megatron
jok "$outf" '.conventions.gemm_ceiling == "preset" and $a[0].gemm_max_efficiency_benchmark == null and
    .conventions.gemm_efficiency == $a[0].gemm_max_efficiency' \
    "--framework megatron on an A100, whose preset ceiling is a benchmark's already: that one, recorded as the preset's" --slurpfile a "$A"
# a ceiling the user gives is the user's: nothing scaled, recorded as the preset's
zp --model llama2-7b --gpus 8 --gpu h100-sxm --fp8 --no-store --json --framework megatron --gemm-max-eff 0.7
jok "$outf" '.conventions.gemm_ceiling == "preset" and .conventions.gemm_efficiency == 0.7 and
    ((.conventions.gemm_by_shape.fp8_max_efficiency - 0.88 * $h[0].gemm_max_efficiency) | fabs) < 1e-12 and
    .conventions.gemm_by_shape.attention_efficiency == $h[0].attention_efficiency_cudnn' \
    "--framework megatron --gemm-max-eff 0.7: that ceiling, the FP8 ceiling and cuDNN's rate unscaled" --slurpfile h "$H"
zp --model llama2-7b --gpus 8 --no-store --gemm-ceiling benchmark --gemm-max-eff 0.7
is "$rc" 2 "--gemm-ceiling with --gemm-max-eff: refused (exit 2), both set the ceiling"
zp --model llama2-7b --gpus 8 --no-store --gemm-ceiling fastest
is "$rc" 2 "--gemm-ceiling fastest: refused (exit 2)"
# FlashAttention-2's rate under the benchmark ceiling, and a stored run read back with its numbers
zp --model llama2-7b --gpus 8 --gpu h100-sxm --fp8 --json --db "$tmp/gc.db" --framework megatron --attn-kernel fa2
cp "$outf" "$tmp/gc1.json"
zp show "$(jq .run_id "$tmp/gc1.json")" --db "$tmp/gc.db" --json
jq -s . "$tmp/gc1.json" "$outf" >"$tmp/gc2.json"
jok "$tmp/gc2.json" '.[0].conventions.gemm_ceiling == "benchmark" and
    ((.[0].conventions.gemm_by_shape.attention_efficiency - $h[0].attention_efficiency_fa2 * $h[0].gemm_max_efficiency_benchmark /
      $h[0].gemm_max_efficiency) | fabs) < 1e-12 and
    .[1].conventions.gemm_ceiling == "benchmark" and .[1].conventions.gemm_efficiency == .[0].conventions.gemm_efficiency and
    .[1].conventions.gemm_by_shape == .[0].conventions.gemm_by_shape and .[1].chosen.step_time_s == .[0].chosen.step_time_s' \
    "--attn-kernel fa2 under the benchmark ceiling: the preset's rate x benchmark / sustained; zplan show reads the run back with the same ceilings, rates and step time" --slurpfile h "$H"
jq -s . "$tmp/ak-preset.json" "$tmp/ak-fa2.json" "$tmp/ak-cudnn.json" >"$tmp/ak3.json"
# llama2-7b, s 4096, one micro-batch of 1 on a rank: 32 layers x 7 fused products (2 forward, 4
# backward, the scores again) of half of 2 s^2 d x 32 heads (causal), at the preset's rate of 989.4 TFLOP/s
jok "$tmp/ak3.json" '(32 * 7 * 0.5 * 2 * 4096 * 4096 * 128 * 32 / ($h[0].peak_tflops.bf16 * 1e12)) as $w |
    [.[].conventions.gemm_by_shape.attention_efficiency] == [$h[0].attention_efficiency, $h[0].attention_efficiency_fa2,
        $h[0].attention_efficiency_cudnn] and
    ((.[0].chosen.time_s.compute - .[1].chosen.time_s.compute) - $w * (1 / $h[0].attention_efficiency - 1 / $h[0].attention_efficiency_fa2) | fabs) < 1e-9 and
    ((.[1].chosen.time_s.compute - .[2].chosen.time_s.compute) - $w * (1 / $h[0].attention_efficiency_fa2 - 1 / $h[0].attention_efficiency_cudnn) | fabs) < 1e-9' \
    "--attn-kernel preset, fa2, cudnn: each the preset file's rate; compute differs by the attention alone, 32 layers x 7 causal products by hand" --slurpfile h "$H"
zp --model llama2-7b --gpus 8 --gpu a100-80g --no-store --json --framework megatron --attn-kernel fa2
jok "$outf" '.conventions.attention_kernel == "preset" and ($a[0].attention_efficiency_fa2 == null) and
    .conventions.gemm_by_shape.attention_efficiency == $a[0].attention_efficiency' \
    "an A100 preset without a FlashAttention-2 rate: --attn-kernel fa2 keeps the fitted attention_efficiency, and records it as the preset's" --slurpfile a "$A"
zp --model llama2-7b --gpus 8 --gpu h100-sxm --no-store --json --framework megatron --attn-eff 0.5
jok "$outf" '.conventions.gemm_by_shape.attention_efficiency == 0.5' "--attn-eff overrides the kernel's rate"
zp --model llama2-7b --gpus 8 --no-store --attn-kernel triton
is "$rc" 2 "--attn-kernel triton: refused (exit 2)"
# DeepSpeed's bf16 optimizer: the bf16 gradients stay beside the fp32 ones, grads grow by the bf16 params' bytes
zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --micro-batch 1 --zero 1 --offload none --dtype bf16 --grad-dtype fp32 --no-store --json --framework deepspeed
cp "$outf" "$tmp/lpg.json"
zp --model llama2-7b --gpus 8 --dp 8 --tp 1 --pp 1 --micro-batch 1 --zero 1 --offload none --dtype bf16 --grad-dtype fp32 --no-store --json --framework deepspeed --no-lp-grads
jq -s . "$tmp/lpg.json" "$outf" >"$tmp/lpg2.json"
jok "$tmp/lpg2.json" '.[0].conventions.lp_grads and (.[1].conventions.lp_grads | not) and
    .[0].chosen.memory_bytes.grads - .[1].chosen.memory_bytes.grads == .[0].chosen.memory_bytes.params and
    .[1].chosen.memory_bytes.grads == 2 * .[0].chosen.memory_bytes.params' \
    "--framework deepspeed, bf16 with fp32 gradients, ZeRO-1: grads = 4 + 2 bytes a parameter (the bf16 copy: the params' bytes again); --no-lp-grads: 4"
# PyTorch eager (--framework torch): autocast's fp32 states, the loss's fp32 b s V tensors, no gradients before the backward
zp --model gpt2-small --gpus 1 --gpu h200 --dp 1 --tp 1 --pp 1 --zero 0 --ckpt none --seq 1024 --micro-batch 4 --global-batch 4 \
    --dtype bf16 --flash-attn --no-store --json --framework torch
cp "$outf" "$tmp/eg.json"
zp --model gpt2-small --gpus 1 --gpu h200 --dp 1 --tp 1 --pp 1 --zero 0 --ckpt none --seq 1024 --micro-batch 4 --global-batch 4 \
    --dtype bf16 --flash-attn --no-store --json --framework torch --no-eager
jq -s . "$tmp/eg.json" "$outf" >"$tmp/eg2.json"
jok "$tmp/eg2.json" '.[0].conventions.eager and (.[1].conventions.eager | not) and .[0].model.params as $p |
    .[0].chosen.peak_phase == "loss" and .[0].chosen.memory_bytes.grads == 0 and
    .[0].chosen.memory_bytes.optimizer == 8 * $p and .[1].chosen.memory_bytes.optimizer == 12 * $p and
    .[0].chosen.memory_bytes.params == 4 * $p + 2 * (12 * 12 * 768 * 768 + 50257 * 768) and
    .[0].chosen.memory_bytes.buffers == 12 * 4096 * 50257 + 2 * 33554432' \
    "--framework torch, GPT-2 small, bf16 on one GPU: autocast's 4 + 8 bytes a parameter and the bf16 copies of the products' weights, no gradients at the loss, 12 b s V bytes of fp32 loss tensors and two 32 MiB cuBLAS workspaces; --no-eager: zplan's own (12 bytes a parameter of optimizer)"
zp --model gpt2-small --gpus 1 --no-store --json --dp 1 --zero 0 --micro-batch 4 --global-batch 4
jok "$outf" '(.conventions.eager | not) and (.conventions.ce_unfused | not)' "no --framework: zplan's own accounting (eager off, a fused loss)"
zp --model llama3-8b --gpus 8 --gpu h100-sxm --dp 8 --zero 3 --tp 1 --pp 1 --ckpt full --seq 8192 --micro-batch 1 --global-batch 8 \
    --no-store --json --framework fsdp
cp "$outf" "$tmp/ce.json"
zp --model llama3-8b --gpus 8 --gpu h100-sxm --dp 8 --zero 3 --tp 1 --pp 1 --ckpt full --seq 8192 --micro-batch 1 --global-batch 8 \
    --no-store --json --framework fsdp --ce-unfused
jq -s . "$tmp/ce.json" "$outf" >"$tmp/ce2.json"
jok "$tmp/ce2.json" '(.[0].conventions.ce_unfused | not) and .[1].conventions.ce_unfused and .[1].chosen.peak_phase == "loss" and
    .[1].chosen.memory_bytes.buffers - .[0].chosen.memory_bytes.buffers == 8 * 8192 * 128256' \
    "--ce-unfused (fsdp, Llama 3 8B, 8192 tokens): the loss holds 12 bytes a logit instead of 4, 8 x 8192 x 128256 more"
# with tp 2 torch's loss_parallel holds four fp32 tensors a logit of its vocabulary half at the
# backward: 16 bytes against the fused loss's 4, 12 x 8192 x 128256/2 more
for ce in --no-ce-unfused --ce-unfused; do
    zp --model llama3-8b --gpus 8 --gpu h100-sxm --dp 4 --zero 3 --tp 2 --pp 1 --ckpt full --seq 8192 --micro-batch 1 \
        --global-batch 4 --no-store --json --framework fsdp $ce
    cp "$outf" "$tmp/ce$ce.json"
done
jq -s . "$tmp/ce--no-ce-unfused.json" "$tmp/ce--ce-unfused.json" >"$tmp/ce2tp.json"
jok "$tmp/ce2tp.json" '.[1].chosen.peak_phase == "loss" and
    .[1].chosen.memory_bytes.buffers - .[0].chosen.memory_bytes.buffers == 12 * 8192 * 128256 / 2' \
    "--ce-unfused with tp 2 (torch's loss_parallel): 16 bytes a logit of the rank's half instead of 4"
zp --model gpt2-small --gpus 1 --gpu h200 --dp 1 --zero 0 --micro-batch 4 --global-batch 4 --dtype bf16 --no-store --framework torch
ok "$(grep -q "bf16 autocast: fp32 params, fp32 grads, no master copy" "$outf"; echo $?)" \
    "--framework torch, bf16: the Training line says autocast's fp32 parameters and gradients"
zp --model gpt2-small --gpus 2 --gpu h200 --dp 2 --zero 1 --micro-batch 4 --global-batch 8 --dtype bf16 --no-store --json --framework torch
jok "$outf" '[.chosen.comm[] | select(.group == "dp") | .what] == ["gradient all-reduce", "updated-parameter all-gather (shard broadcasts)"]' \
    "--framework torch, ZeRO-1: ZeroRedundancyOptimizer over DDP, a gradient all-reduce and the updated shards' broadcasts"
zp --model gpt2-small --gpus 1 --gpu h200 --dp 1 --zero 0 --micro-batch 4 --global-batch 4 --dtype bf16 --framework torch --db "$tmp/ac.db"
zp report --db "$tmp/ac.db" --out "$tmp/acrep"
ok "$(grep -q "bf16 autocast: fp32 params, fp32 grads" "$tmp/acrep/report.md" && grep -q "bf16 autocast: fp32 params, fp32 grads" "$tmp/acrep/index.html"; echo $?)" \
    "the report's training row (markdown and HTML) says autocast's fp32 parameters and gradients too"
zp --model gpt2-small --gpus 1 --gpu h200 --dp 1 --zero 0 --offload none --micro-batch 4 --global-batch 4 --ckpt selective --no-store --framework torch
is "$rc" 2 "--framework torch --ckpt selective: refused (exit 2)"
ok "$(grep -q "\-\-ckpt selective with --eager: Hugging Face's modules checkpoint whole blocks" "$errf"; echo $?)" \
    "the answer says PyTorch eager rebuilds whole blocks only, naming both options"
zp --model llama2-7b --no-store --framework jax
is "$rc" 2 "--framework jax: refused (exit 2)"
ok "$(grep -q "allowed: torch, fsdp, megatron, deepspeed" "$errf"; echo $?)" "the refusal lists the frameworks"
zp --model llama2-7b --no-store --grad-reduce never
is "$rc" 2 "--grad-reduce never: refused (exit 2)"

# NVLink's efficiency: the B200 preset's measured 0.68, other presets the
# link efficiency; --link-eff given is NVLink's too unless --nvlink-eff is
nvl() {
    zp --model llama3-8b --gpus 8 --tp 2 --dp 4 --pp 1 --micro-batch 1 --global-batch 8 --seq 2048 --no-store --json "$@"
    jq -r '.conventions | "\(.link_efficiency) \(.nvlink_efficiency) \(.group_efficiency_c)"' "$outf"
}
is "$(nvl --gpu b200)" "0.8 0.68 0.75" "b200: link efficiency 0.8, NVLink's 0.68 (its nvlink_efficiency), group term 0.75"
is "$(nvl --gpu h100-sxm)" "0.8 0.8 0.75" "h100-sxm: NVLink at the link efficiency, 0.8"
# a tp 2 collective's bandwidth time, worked back from its JSON row (time
# a call less 5 us a ring step, n - 1 of them, 2 (n - 1) for an
# all-reduce; over bus bytes at 450 GB/s x 0.8): the
# group term's (1 - 0.75/2) / (1 - 0.75/8) = 0.6897 of the link
jok "$outf" '[.chosen.comm[] | select(.group == "tp" and .group_size == 2) |
        (.bytes * .bus_factor / (450e9 * 0.8)) / (.time_s / .count - 5e-6 * (.group_size - 1) * (if .collective == "all-reduce" then 2 else 1 end))] |
        length > 0 and all(. - 0.625 / 0.90625 | fabs < 1e-9)' \
    "h100-sxm tp 2: every tp collective at (1 - 0.75/2)/(1 - 0.75/8) = 0.6897 of NVLink x 0.8"
is "$(nvl --gpu b200 --link-eff 0.7)" "0.7 0.7 0.75" "b200 --link-eff 0.7: NVLink's too, over the preset's"
is "$(nvl --gpu b200 --link-eff 0.7 --nvlink-eff 0.5 --group-eff-c 0)" "0.7 0.5 0" \
    "--nvlink-eff 0.5 beside --link-eff 0.7 keeps NVLink's apart; --group-eff-c 0 recorded"
jok "$outf" '[.chosen.comm[] | select(.group == "tp" and .group_size == 2) |
        (.bytes * .bus_factor / (900e9 * 0.5)) / (.time_s / .count - 5e-6 * (.group_size - 1) * (if .collective == "all-reduce" then 2 else 1 end))] |
        length > 0 and all(. - 1 | fabs < 1e-9)' \
    "b200 --nvlink-eff 0.5 --group-eff-c 0: tp 2 collectives at 900 GB/s x 0.5, no group term"
zp --model llama3-70b --gpus 64 --tp 8 --pp 2 --no-sp --tp-overlap --no-store
ok "$(test $rc -eq 0 && grep -q "note: --tp-overlap hides .* which --no-sp leaves out" "$errf"; echo $?)" \
    "--tp-overlap with --no-sp: a note says it changes nothing" || show_run
zp --model gpt3-175b --gpus 32 --global-batch 32 --tp 16 --pp 2 --tp-overlap --no-store
ok "$(test $rc -eq 0 && grep -q "note: --tp-overlap runs inside a node (.*--tp 16 spans nodes" "$errf"; echo $?)" \
    "--tp-overlap with tp 16 over two nodes: a note says its collectives stay exposed" || show_run
# tensor parallelism over whole nodes widens what the suggestion tries: a
# 30B model on 6 GiB GTX 1060s (one a machine) at one sequence a step
# fits only with tp beyond a node (its 56 heads), past the 32 GPUs that
# global batch x GPUs per node x layers once capped the doublings at
zp --params 3e10 --gpus 2 --global-batch 1 --gpu gtx1060-6g --no-store --json
jok "$outf" '.fitting == 0 and ([.suggestions[] | select(test("^[0-9]+ GPUs would fit it")) |
    capture("^(?<g>[0-9]+) GPUs").g | tonumber | select(. > 32)] | length) == 1' \
    "30B on 2 GTX 1060s: the suggestion finds a GPU count past the old cap of 32 (tp over machines)"
zp --model llama3-8b --gpus 8 --gpu b200 --no-store --group-eff-c 2
is "$rc" 2 "--group-eff-c 2: refused (exit 2: 1 - 2/2 would leave 2 ranks no bandwidth)"


# ---------------------------------------------------------------- activation offload
# Llama 3 8B (L = 32, h = 4096), seq 8192, micro-batch 4, full recompute,
# one stage: each block keeps its bf16 input, B s b h = 2 x 8192 x 4 x 4096
# = 268,435,456 bytes, 32 of them in flight (one micro-batch).  Offloaded on
# a copy stream two stay on the device, 30 go to the host; in stream order
# one stays, 31 go.  Each that goes crosses PCIe twice a micro-batch,
# M = 64 / (8 x 4) = 2: 60 (62) copies each way, each alpha + S / (PCIe x
# link efficiency) = 5e-6 + 268435456 / (64e9 x 0.8) s on the H100 preset
aob="--model llama3-8b --gpus 8 --gpu h100-sxm --seq 8192 --global-batch 64 --no-store --json --dp 8 --tp 1 --pp 1 --cp 1 --zero 3 --offload none --micro-batch 4"
ao="$aob --ckpt full"
S1=268435456
zp $ao --no-act-offload
cp "$outf" "$tmp/ao-none.json"
zp $ao --act-offload
ok $rc "--act-offload: exits 0" || show_run
cp "$outf" "$tmp/ao-async.json"
zp $ao --act-offload --act-offload-mode sync
cp "$outf" "$tmp/ao-sync.json"
jok "$tmp/ao-async.json" ".chosen.act_offload and .chosen.fits and .conventions.act_offload_mode == \"async\" and
    .chosen.host_bytes_per_rank.activations == 30 * $S1 and .chosen.host_memory_bytes == 8 * 30 * $S1" \
    "--act-offload (async): 30 of the 32 blocks' inputs on the host, 30 x $S1 bytes a rank, 8 ranks a node"
ok "$(jq -n --slurpfile a "$tmp/ao-none.json" --slurpfile b "$tmp/ao-async.json" --slurpfile c "$tmp/ao-sync.json" \
    '($a[0].chosen.memory_bytes.activations - $b[0].chosen.memory_bytes.activations) == 30 * '$S1' and
     ($a[0].chosen.memory_bytes.activations - $c[0].chosen.memory_bytes.activations) == 31 * '$S1' and
     ($a[0].chosen.host_bytes_per_rank.activations // 0) == 0' | grep -qx true; echo $?)" \
    "--act-offload: the device holds 30 (async) and 31 (sync) blocks' inputs fewer than without it"
jok "$tmp/ao-async.json" "$JQDEF"'
    (5e-6 + '$S1' / (64e9 * 0.8)) as $t |
    [.chosen.comm[] | select(.group == "pcie")] as $c | ($c | length) == 2 and
    ([$c[] | select(.bytes == '$S1' and .count == 60 and .overlap == "its block" and rel(.time_s; 60 * $t) < 1e-9)] | length) == 2 and
    ([$c[].collective] | sort) == ["device-to-host", "host-to-device"]' \
    "--act-offload: one copy to the host and one back a block moved and micro-batch, 60 x $S1 bytes each way, behind its block"
ok "$(jq -n --slurpfile a "$tmp/ao-none.json" --slurpfile b "$tmp/ao-async.json" --slurpfile c "$tmp/ao-sync.json" "$JQDEF"'
    (2 * (5e-6 + '$S1' / (64e9 * 0.8))) as $x |
     rel($c[0].chosen.step_time_s - $a[0].chosen.step_time_s; 62 * $x) < 1e-6 and
     rel($b[0].chosen.step_time_s - $a[0].chosen.step_time_s; 0.2 * 60 * $x) < 1e-6 and
     $b[0].chosen.time_s.compute == $a[0].chosen.time_s.compute' | grep -qx true; echo $?)" \
    "--act-offload: in stream order the copies add their whole time; on a copy stream, each shorter than its block's pass, 1 - 0.8 of it"
# every 2nd block rebuilt (--ckpt-every 2): 16 blocks keep their input S,
# 16 their whole activations K; a copy stream keeps two whole ones on the
# device, so 14 whole and 16 inputs go, copied a micro-batch each (M = 2:
# 28 and 32 copies each way, as two kinds with their own sizes), and the
# host holds 14 K + 16 S
zp $aob --ckpt-every 2 --act-offload
jok "$outf" '[.chosen.comm[] | select(.group == "pcie")] as $c | ($c | length) == 4 and
    ([$c[] | select(.bytes == '$S1')] | map(.count)) == [32, 32] and
    ([$c[] | select(.bytes != '$S1')] | map(.count)) == [28, 28] and
    ([$c[] | select(.bytes != '$S1')][0].bytes) as $k | $k > 8 * '$S1' and
    .chosen.host_bytes_per_rank.activations == 14 * $k + 16 * '$S1'' \
    "--act-offload --ckpt-every 2: 28 whole blocks and 32 inputs copied each way, the host holding 14 whole and 16 inputs" || show_run
zp $ao --act-offload --framework deepspeed
jok "$outf" '.conventions.act_offload_mode == "checkpoints" and .chosen.act_offload and
    ([.chosen.comm[] | select(.group == "pcie") | .overlap] | unique) == ["none (compute stream)"]' \
    "--framework deepspeed: cpu_checkpointing, the checkpoints copied in stream order" || show_run
zp $aob --ckpt selective --act-offload --framework deepspeed
is "$rc" 2 "--act-offload --framework deepspeed --ckpt selective: refused (exit 2)"
ok "$(grep -q "^zplan: --act-offload with --ckpt selective: DeepSpeed's cpu_checkpointing" "$errf"; echo $?)" \
    "the refusal names cpu_checkpointing and what it allows" || show_run
zp $ao --act-offload --framework torch
is "$rc" 2 "--act-offload --framework torch: refused (exit 2: PyTorch eager's accounting)"
zp $ao --act-offload-mode later
is "$rc" 2 "--act-offload-mode later: refused (exit 2)"
ok "$(grep -q "^zplan: .*--act-offload-mode.*async" "$errf"; echo $?)" "the refusal lists the modes" || show_run
# two stages of 16 blocks, micro-batch 2 (S = 2 x 8192 x 2 x 4096 bytes a
# block): stage 0 has 2 micro-batches in flight, 32 blocks, 30 of them on
# the host; the last stage (the worst device rank, with the logits) 16, 14
# on the host.  Rank order puts pp outermost, so a node of 16 GPUs holds
# both stages' 8 ranks and needs 8 x (30 + 14) S; on nodes of 8 (dp 8 x tp
# 1 a stage) the first node holds stage 0's alone, 8 x 30 S: each from its
# stages' own host bytes, not from the worst device rank's (the last stage)
zp --model llama3-8b --gpus 16 --gpus-per-node 16 --gpu h100-sxm --seq 8192 --global-batch 64 --no-store --json \
    --dp 8 --tp 1 --pp 2 --vp 1 --cp 1 --zero 1 --offload none --micro-batch 2 --ckpt full --act-offload
jok "$outf" '(2 * 8192 * 2 * 4096) as $s | .chosen.worst_stage == 1 and
    [.chosen.stages[].host_bytes.activations] == [30 * $s, 14 * $s] and .chosen.host_memory_bytes == 8 * (30 + 14) * $s' \
    "--act-offload, pp 2 in one node of 16: host RAM a node from both stages' offloaded blocks, 8 x (30 + 14) S" || show_run
zp --model llama3-8b --gpus 16 --gpu h100-sxm --seq 8192 --global-batch 64 --no-store --json \
    --dp 8 --tp 1 --pp 2 --vp 1 --cp 1 --zero 1 --offload none --micro-batch 2 --ckpt full --act-offload
jok "$outf" '(2 * 8192 * 2 * 4096) as $s | .chosen.worst_stage == 1 and .chosen.host_memory_bytes == 8 * 30 * $s' \
    "--act-offload, pp 2 on nodes of 8: the first node's stage 0 alone, 8 x 30 S, though the last stage is the device's worst" || show_run
# searched: tried on the candidates over device memory only, never ahead
# of a layout that fits without it
zp --model llama3-8b --gpus 8 --gpu h100-sxm --seq 8192 --global-batch 64 --no-store --json --zero 3 --ckpt none --tp 1 --pp 1 \
    --top 1000
cp "$outf" "$tmp/ao-search.json"
jok "$outf" '.act_offload_tried > 0 and .act_offload_fit > 0 and .act_offload_fit < .act_offload_tried and
    .rejected["exceeds device memory"] == .act_offload_tried and (.plans[0].act_offload | not) and
    ([.plans[] | select(.act_offload)] | length) > 0' \
    "search: every layout over device memory tried again with its activations offloaded (zplan's async mode), some fit" || show_run
zp --model llama3-8b --gpus 8 --gpu h100-sxm --seq 8192 --global-batch 64 --no-store --zero 3 --ckpt none --tp 1 --pp 1
ok "$(grep -q '^  + [0-9]* over device memory tried again with their activations offloaded to the host: [0-9]* fit\.$' "$outf"; echo $?)" \
    "text: the tried-again candidates on a line of their own" || show_run
zp --model llama3-8b --gpus 8 --gpu h100-sxm --seq 8192 --global-batch 64 --no-store --json --zero 3 --ckpt none --tp 1 --pp 1 --no-act-offload
jok "$outf" '.act_offload_tried == 0 and ([.plans[] | select(.act_offload)] | length) == 0' \
    "--no-act-offload: nothing tried again, no plan offloads"
ok "$(jq -n --slurpfile a "$tmp/ao-search.json" --slurpfile b "$outf" \
    '$a[0].plans[0] == $b[0].plans[0] and $a[0].fitting == $b[0].fitting and
     ([$a[0].plans[] | select(.act_offload | not)] | .[:3]) == ($b[0].plans | .[:3])' | grep -qx true; echo $?)" \
    "search: offloading adds plans without displacing or changing those that keep their activations"
zp --model llama3-8b --gpus 8 --gpu h100-sxm --no-store --framework megatron --act-offload --pp 2
is "$rc" 2 "--act-offload --pp 2 --framework megatron: refused (exit 2)"
ok "$(grep -q "^zplan: --act-offload: Megatron-core's --cpu-offloading runs without pipeline parallelism and without recompute" "$errf"; echo $?)" \
    "the refusal says Megatron-core's offload runs without a pipeline or recompute" || show_run
zp --model llama3-8b --gpus 8 --gpu h100-sxm --no-store --json --framework megatron --act-offload
jok "$outf" '[.plans[] | select(.pp != 1 or .ckpt != "none")] | length == 0' \
    "--act-offload --framework megatron, searched: every plan at pp 1 without recompute" || show_run
# a layout pinned whole is the one asked about: too big, it is shown as it
# is, and a hint says what offloading its activations would do
zp $aob --ckpt none
jok "$outf" '.act_offload_tried == 0 and (.chosen.fits | not) and (.chosen.act_offload | not) and
    ([.suggestions[] | select(test("^with its activations offloaded to the host [(]--act-offload[)] the pinned plan needs .* [(]that fits[)]$"))] | length) == 1' \
    "a pinned layout too big: shown as pinned, with a hint that offloading its activations fits it" || show_run

finish
