#!/bin/sh
# exec-cuda.sh - zplan exec --backend cuda, the parts that need no GPU:
# refused in one line before anything is recorded when there is no GPU (or
# no CUDA backend in the build); and, with a stand-in engine that answers
# as the CUDA engine does on one H200, the record (backend, GPU, the
# runtime's memory predicted beside measured, ranks sharing a GPU), zplan
# show, the measured runtime memory kept as the profile <gpu>-cuda, the next
# execution and the planner (--gpu <gpu>-cuda) predicting with it.
. "$(dirname "$0")/lib.sh"

need_engine
unset OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe
DB=$tmp/cuda.db
run "$ZPLAN" --model gpt2-small --gpus 1 --dp 1 --tp 1 --pp 1 --zero 0 --offload none --ckpt none \
    --micro-batch 2 --global-batch 2 --db "$DB" --json
ok $rc "plan GPT-2 small on 1 GPU" || diag "$err"
run "$ZPLAN" --model gpt2-small --gpus 2 --dp 2 --tp 1 --pp 1 --zero 1 --offload none --ckpt none \
    --micro-batch 2 --global-batch 4 --db "$DB" --json
ok $rc "plan GPT-2 small on 2 GPUs" || diag "$err"
SCALE=layers=2,hidden=64,heads=4,vocab=128,seq=32

# ---- the real engine here: no GPU (or no CUDA backend): one line, exit 2
count_execs() { "$ZPLAN" show 1 --db "$DB" --json | jq '.executions | length'; }
before=$(count_execs)
ok "$(case $before in '' | *[!0-9]*) echo 1 ;; *) echo 0 ;; esac)" "zplan show counts the executions: $before"
run "$ZPLAN" exec 1 --db "$DB" --backend cuda --scale "$SCALE" --steps 2
is "$rc" 2 "exec --backend cuda without a GPU: exit 2"
is "$(wc -l <"$errf" | tr -d ' ')" 1 "one line on stderr"
"$ZPLAN_ENGINE" devices >"$tmp/devices.json"
if [ "$(jq -r .cuda_built "$tmp/devices.json")" = 1 ]; then
    ok "$(grep -q '^zplan: --backend cuda: no GPU is visible (no CUDA device' "$errf"; echo $?)" \
        "it says no GPU is visible, and why" || diag "$err"
    jok "$tmp/devices.json" '(.compute_capabilities | length) == .gpus and (.names | length) == .gpus' \
        "zplan-engine devices: a name and a compute capability a GPU"
else
    ok "$(grep -q 'built without the CUDA backend.*--with-cuda' "$errf"; echo $?)" \
        "a build without CUDA says how to get one" || diag "$err"
fi
is "$(count_execs)" "$before" "nothing recorded"
run "$ZPLAN" exec 1 --db "$DB" --backend tpu
is "$rc" 2 "--backend tpu: exit 2"
ok "$(grep -q "not a backend (allowed: cpu, cuda)" "$errf"; echo $?)" "--backend tpu: the allowed backends named"

# ---- a stand-in for the CUDA engine on one H200: it measures a 527 MiB
# context, 8 MiB of cuBLAS, 2 MiB pages; rank 0 prints the result
MB=1048576
cat >"$tmp/engine" <<EOS
#!/bin/sh
if [ "\$1" = devices ]; then
    echo '{"cuda_built":1,"gpus":1,"names":["NVIDIA H200"],"compute_capabilities":[8.9]}'
    exit 0
fi
printf '%s\n' "\$*" >"$tmp/engine.args.\${OMPI_COMM_WORLD_RANK:-0}"
[ "\${OMPI_COMM_WORLD_RANK:-0}" = 0 ] || exit 0
n=\${OMPI_COMM_WORLD_SIZE:-1}
cls='{"params":1000000,"grads":1000000,"optimizer":2000000,"activations":300000,"buffers":100000,"total":4400000}'
per='{"rank":0,"device_class_peaks":'\$cls',"device_at_peak":'\$cls',"device_peak":4400000,"peak_phase":"backward",
 "host_class_peaks":{"total":0},"device_phases":{"backward":'\$cls',"loss":'\$cls'},"rss_bytes":1,
 "runtime_bytes":{"context":552402944,"blas":8388608,"communicator":0,"device_used_at_peak":700000000,
 "pinned_staging":0,"tensors_rounded_at_peak":8594432,"device_used_before":0}}'
ranks=\$per
i=1
while [ \$i -lt \$n ]; do ranks="\$ranks,\$(printf '%s' "\$per" | sed "s/\"rank\":0/\"rank\":\$i/")"; i=\$((i + 1)); done
group=single; shared=false
[ \$n -gt 1 ] && group=staged && shared=true
echo '{"progress":{"step":1,"steps":2,"loss":4.8,"time_s":0.1,"applied":1}}'
echo '{"status":"ok","ranks":'\$n',"backend":"cuda","device":"NVIDIA H200","group":"'\$group'","shared":'\$shared',
 "granule_bytes":2097152,"device_memory_bytes":150109880320,"params":1,"dtype":"bf16","grad_dtype":"bf16",
 "losses":[4.8,4.7],"step_time_s":0.1,"bus_bytes_per_step":{"total":0},"per_rank":['"\$ranks"']}' | tr -d '\n'
echo
EOS
chmod +x "$tmp/engine"

ZPLAN_ENGINE=$tmp/engine run "$ZPLAN" exec 1 --db "$DB" --backend cuda --scale "$SCALE" --steps 2 --json
ok $rc "exec --backend cuda with the stand-in engine" || diag "$err"
cp "$outf" "$tmp/x1.json"
ok "$(grep -q 'backend=cuda' "$tmp/engine.args.0"; echo $?)" "the engine is launched with backend=cuda"
# the plan is bf16 (the default): on the GPU its linear layers run on the
# tensor cores, as autocast runs them and calibrate measured them
ok "$(grep -q 'gemm=bf16' "$tmp/engine.args.0"; echo $?)" "a bf16 plan: the engine is launched with gemm=bf16"
jok "$tmp/x1.json" '.gemm_math == "bf16"' "the record: bf16 products (the stand-in did not say: what exec asked)"
# the products' time by the H200 preset's default curve, no profile, for
# the engine's measured GEMM time beside it (the stand-in times none)
jok "$tmp/x1.json" '.gemm_time_s.preset == "H200" and .gemm_time_s.preset_curve > 0 and .gemm_time_s.predicted == null and
    .gemm_time_s.measured == null' "the record: GEMM time by the H200 preset's default curve, none measured by the stand-in" ||
    diag "$(jq -c .gemm_time_s "$tmp/x1.json")"
jok "$tmp/x1.json" '.backend == "cuda" and .gpu == "NVIDIA H200" and .shared_gpu == false and .ranks_per_gpu == 1' \
    "the record: backend cuda, the GPU's name, one rank on it"
# the H200 preset says a 500 MiB context (data/gpus/h200.json)
jok "$tmp/x1.json" ".overhead_source == \"the GPU preset H200\" and
    .per_rank[0].runtime_bytes.predicted.context == 500 * $MB and .per_rank[0].runtime_bytes.predicted.communicator == 0" \
    "first execution: the context predicted from the H200 preset (500 MiB), no NCCL at dp = 1"
jok "$tmp/x1.json" '.per_rank[0].runtime_bytes.measured | .context == 552402944 and .blas == 8388608 and
    .rounding == 8594432 - 4400000 and .gpu_used_at_peak == 700000000' \
    "the measured runtime: context, cuBLAS, rounding (rounded tensors - tensors), the GPU's used bytes"
jok "$tmp/x1.json" '.per_rank[0].runtime_bytes.predicted as $p | .per_rank[0].predicted_bytes.peak as $t |
    $p.device_total == $t + $p.context + $p.blas + $p.communicator + $p.rounding and $p.gpu_total == $p.device_total' \
    "the predicted device total: tensors + context + cuBLAS + NCCL + rounding"
jok "$tmp/x1.json" '.profile_kept == "nvidia-h200-cuda"' "the measured runtime kept as the profile nvidia-h200-cuda"

run "$ZPLAN" show 1 --db "$DB"
ok "$(echo "$out" | grep -q 'on 1 rank on NVIDIA H200 (CUDA), 2 steps'; echo $?)" "zplan show: the GPU and the backend" ||
    diag "$out"
ok "$(echo "$out" | grep -q 'bf16 products (tensor cores)'; echo $?)" "zplan show: the products' math" || diag "$out"
# 524288000 B = 500.00 MiB predicted, 552402944 B = 526.81 MiB measured:
# (524288000 - 552402944) / 552402944 = -5.1 %
ok "$(echo "$out" | grep -q 'overhead: CUDA context *500.00 MiB *526.81 MiB *-5.1%'; echo $?)" \
    "zplan show: the context, predicted beside measured"

# the next execution on this GPU predicts with what was measured
ZPLAN_ENGINE=$tmp/engine run "$ZPLAN" exec 1 --db "$DB" --backend cuda --scale "$SCALE" --steps 2 --json
ok $rc "a second execution" || diag "$err"
jok "$outf" '.overhead_source | startswith("the stored profile nvidia-h200-cuda")' \
    "second execution: the overheads from the stored profile"
jok "$outf" '.per_rank[0].runtime_bytes.predicted | .context == 552402944 and .blas == 8388608' \
    "second execution: context and cuBLAS predicted as measured before"

# two ranks on the one GPU: they share it, collectives staged, no NCCL
ZPLAN_ENGINE=$tmp/engine run "$ZPLAN" exec 2 --db "$DB" --backend cuda --scale "$SCALE" --steps 2 --json
ok $rc "2 ranks on 1 GPU" || diag "$err"
jok "$outf" '.shared_gpu == true and .ranks_per_gpu == 2 and .group == "staged" and
    .per_rank[0].runtime_bytes.predicted.communicator == 0 and
    .per_rank[0].runtime_bytes.predicted.gpu_total == 2 * .per_rank[0].runtime_bytes.predicted.device_total' \
    "ranks sharing the GPU: no NCCL, the GPU holds both ranks"
run "$ZPLAN" show 2 --db "$DB"
ok "$(echo "$out" | grep -q 'ranks sharing the GPU: time not that of separate GPUs'; echo $?)" \
    "zplan show: time marked as shared"

# the planner with the measured profile
run "$ZPLAN" --params 1e9 --gpu nvidia-h200-cuda --gpus 1 --db "$DB" --json
ok $rc "plan with --gpu nvidia-h200-cuda" || diag "$err"
jok "$outf" '.conventions | .cuda_context_bytes == 552402944 and .cublas_bytes == 8388608 and
    .alloc_granule_bytes == 2097152 and .fragmentation == 0' \
    "--gpu nvidia-h200-cuda: the measured context, cuBLAS and allocator granule"
# the profile has the device's compute capability, the stand-in's 8.9 (not
# the H200 preset's 9.0, whose rates it took), so PyTorch's frameworks plan
# with 8.125 MiB cuBLAS workspaces there
run "$ZPLAN" --params 1e9 --gpu nvidia-h200-cuda --gpus 1 --framework torch --db "$DB" --json
jok "$outf" '.conventions.torch_blas_workspace_bytes == 8519680' \
    "--gpu nvidia-h200-cuda --framework torch: the device's own capability, 8.9, so 8.125 MiB workspaces"
run "$ZPLAN" --params 1e9 --gpu nvidia-h200-cuda --gpus 1 --db "$DB" --json
jok "$outf" '.chosen.memory_bytes.overhead >= 552402944 + 8388608 and
    .chosen.memory_bytes.overhead < 552402944 + 8388608 + 1073741824' \
    "the overhead class: context + cuBLAS + the rounding of a few hundred tensors"

# the engine's flash attention timed at the rate zplan calibrate measured
# it: two stand-in calibrations of the H200 (five 4096^3 bf16 products at
# 700 TFLOP/s; flash attention under bf16 math at 200 and at 400 TFLOP/s,
# the profiles' attention_efficiency_engine), one plan executed with each
# (GPT-2 small scaled to 2 layers of 64, 4 heads of 16: the tensor-core
# kernels' head size); the predicted steps differ by the attention's
# FLOPs (layers x micro-batches x 7 products - forward 2, backward 4, the
# scores rebuilt 1 - of s^2 h b FLOPs each, causal: half of 2 s^2 h b)
# over 200 TFLOP/s less the same over 400
for a in 2e14 4e14; do
    printf '#!/bin/sh\necho '"'"'{"status":"ok","backend":"cuda","device":"NVIDIA H200","sms":132,"compute_capability":9.0,"gemm":[%s],"elementwise":{"bytes_per_s":3e12},"attention":[{"dtype":"bf16","flops_per_s":%s}],"runtime_bytes":{"context":552402944,"blas":8388608},"device_memory_bytes":150109880320,"granule_bytes":2097152}'"'"'\n' \
        "$(for i in 1 2 3 4 5; do printf '%s{"dtype":"bf16","m":4096,"n":4096,"k":4096,"seconds":1,"flops_per_s":7e14}' "$([ $i -gt 1 ] && echo ,)"; done)" \
        "$a" >"$tmp/cal-$a"
    chmod +x "$tmp/cal-$a"
    ZPLAN_ENGINE=$tmp/cal-$a run "$ZPLAN" calibrate --backend cuda --name "cal-$a" --db "$DB"
    ok $rc "a stand-in calibration, flash attention at $a FLOP/s" || diag "$err"
    ZPLAN_ENGINE=$tmp/engine run "$ZPLAN" exec 1 --db "$DB" --backend cuda --scale "$SCALE" --steps 2 --profile "cal-$a" --json
    ok $rc "exec --profile cal-$a" || diag "$err"
    cp "$outf" "$tmp/xa-$a.json"
done
jok "$tmp/xa-2e14.json" '.flash_attention and .tp == 1 and .ckpt == "none" and
    (.model.layers * .grad_accum * 7 * .model.seq * .model.seq * .model.hidden * .micro_batch) as $f |
    ((.step_time_s.predicted - $b[0].step_time_s.predicted) - ($f / 2e14 - $f / 4e14)) / ($f / 2e14 - $f / 4e14) | fabs < 1e-6' \
    "exec --profile: the engine's flash attention at the profile's attention_efficiency_engine (the step's difference by hand)" \
    --slurpfile b "$tmp/xa-4e14.json" ||
    diag "$(jq -c '[.step_time_s, .model, .micro_batch, .grad_accum]' "$tmp/xa-2e14.json") $(jq -c .step_time_s "$tmp/xa-4e14.json")"
finish
