#!/bin/sh
# torch-memory.sh - zplan's PyTorch memory (--framework torch) against
# PyTorch's own: the table scripts/torch-memory.py measures on the GPU test
# machine (scripts/gpu-check keeps it as torch-memory.jsonl), committed as
# data/validation/torch-memory.jsonl, each shape's tensor peak
# (max_memory_allocated) and device total within 5 % of zplan's
# (scripts/torch-memory.py --compare --tap).  Until a GPU has measured it
# there is no table, and this says so as a SKIP.
: "${ZPLAN_SRCDIR:=.}"
: "${ZPLAN:=./zplan}"
table=$ZPLAN_SRCDIR/data/validation/torch-memory.jsonl
if [ ! -s "$table" ]; then
    echo "1..0 # SKIP no measured table (data/validation/torch-memory.jsonl): scripts/torch-memory.py measures it on the GPU test machine (scripts/gpu-check), and no GPU has been lent yet"
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "not ok 1 - python3 is missing (scripts/setup installs it)"
    echo "1..1"
    exit 1
fi
exec python3 "$ZPLAN_SRCDIR/scripts/torch-memory.py" --compare "$table" --zplan "$ZPLAN" --tap
