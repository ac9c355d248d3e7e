#!/bin/sh
# eager.sh - zplan's PyTorch-eager memory model (--framework torch) against
# PyTorch's own autograd and allocator on CPU: scripts/eager-check.py runs a
# GPT-2 and a LLaMA model written op for op as Hugging Face transformers
# writes them, in fp32, as a bf16 model and under CUDA autocast's casts, and
# holds zplan's predicted activations (what autograd saves; short sequences)
# and peak within 1 % of what PyTorch kept and allocated: at the loss's
# backward (short sequences, with dropout too), at the last block's attention
# backward (long ones) and with every block rebuilt (gradient checkpointing);
# the non-matmul kernels' traffic within 1 %; and PyTorch's CUDA caching
# allocator, modelled and held to a sequence worked by hand, replaying
# three training steps of four shapes (two with every block rebuilt):
# zplan's tensors within 1 % of the log's peak, its tensors and
# fragmentation within 5 % of the peak reserved.
#
# Needs python3 with PyTorch (Debian: python3-torch) and a C compiler;
# without them the script is skipped, except under CI=true, where a missing
# dependency is a failure (scripts/setup installs them).
. "$(dirname "$0")/lib.sh"

py=$(python_with torch) || missing "no python3 with PyTorch (Debian: python3-torch)"
command -v "${CC:-cc}" >/dev/null 2>&1 || missing "no C compiler for the allocator shim (${CC:-cc})"
export OMP_NUM_THREADS=1
exec "$py" "$ZPLAN_SRCDIR/scripts/eager-check.py" --zplan "$ZPLAN" --tap
