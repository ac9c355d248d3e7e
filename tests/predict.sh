#!/bin/sh
# predict.sh - the planner's memory against the engine's measurement: for
# every data-parallel / ZeRO layout, with and without offload, each
# recompute mode (all three at the first shape, one per layout in turn at
# the second), on 1, 2, 4 and 8 ranks and two model shapes, with fp32,
# bf16 and fp16 storage (the ranks of each: scripts/exec-matrix.sh), the predicted
# peak device memory per rank is within 1 % of the measured peak, every
# class within 1 %, the host bytes within 1 %, and the bytes sent per step
# exactly as predicted; and every 3D factorisation of 4 and 8 ranks (tp,
# pp, dp; GPT-2 and LLaMA blocks at two shapes) and every context-parallel
# one (cp > 1 with them), each rank within 1 % of its own stage's
# predicted peak and every class, the bytes exact per kind and per group.  The rows are scripts/exec-matrix.sh's (which prints the
# same matrix as a table).
. "$(dirname "$0")/lib.sh"

need_engine
TMPDIR=$tmp sh "$ZPLAN_SRCDIR/scripts/exec-matrix.sh" --tap
