# scripts/gpu-lib.sh - what bench-gpu.sh and predict-gpu.sh share, sourced
# by both (not run): their TAP-or-table output and their no-GPU skip.
# The caller sets tap (1: TAP lines; else 0), n and bad (0) and, for
# gpu_or_skip, backend and ZPLAN_ENGINE.

# say MSG: a note (a TAP comment under --tap)
say() { if [ $tap -eq 1 ]; then echo "# $*"; else echo "$*"; fi; }

# result OK MSG: a TAP line, or a note when it failed
result() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then
        if [ $tap -eq 1 ]; then echo "ok $n - $2"; fi
    else
        bad=$((bad + 1))
        if [ $tap -eq 1 ]; then echo "not ok $n - $2"; else echo "FAILED: $2"; fi
    fi
}

# gpu_or_skip NAME: with --backend cuda and no GPU the engine can use, say
# why (a TAP SKIP plan under --tap, else on stderr) and exit 0
gpu_or_skip() {
    [ "$backend" = cuda ] || return 0
    probe=$("$ZPLAN_ENGINE" devices 2>/dev/null || echo '{}')
    if [ "$(printf '%s' "$probe" | jq -r '.gpus // 0')" -lt 1 ]; then
        why=$(printf '%s' "$probe" | jq -r '.why // "zplan-engine devices found none (or no CUDA build)"')
        if [ $tap -eq 1 ]; then echo "1..0 # SKIP no GPU: $why"; else echo "$1: no GPU: $why" >&2; fi
        exit 0
    fi
}
