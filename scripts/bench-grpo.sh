#!/usr/bin/env bash
# `make bench-grpo`: seconds per GRPO iteration of the Swift trainer against two PyTorch loops on the same tiny-FLUX
# weights: the transcription of the seed's batch-1 loop and a batched loop doing the same work, as Flow-GRPO does
# (tools/bench/grpo_loop.py). The rounds, their alternation, the busy-machine check and the last line
# (`grpo: Swift S s/it, PyTorch seed T1 s/it (ratio R1), PyTorch batched T2 s/it (ratio R2)`) are
# tools/bench/grpo_rounds.py's.
# usage: scripts/bench-grpo.sh WEIGHTS_DIR OUTPUT_DIR [Swift bench arguments, e.g. --rollout-batch 1 --transition-batch 1]
# environment: ROUNDS (default 5), TORCH_THREADS (default 2), BUSY_LIMIT (cores of other work, default 0.2)
set -euo pipefail
weights=$1 out=$2
shift 2
mkdir -p "$out"
[ -f "$weights/config.json" ] || scripts/tools-env.sh python3 tools/bench/grpo_loop.py --write-weights "$weights"
python=$(scripts/tools-env.sh sh -c 'command -v python3')
exec python3 tools/bench/grpo_rounds.py --weights "$weights" --out "$out" --torch-python "$python" \
    --rounds "${ROUNDS:-5}" --threads "${TORCH_THREADS:-2}" --busy-limit "${BUSY_LIMIT:-0.2}" -- "$@"
