#!/usr/bin/env bash
# `make bench-grpo`: seconds per GRPO iteration of the Swift trainer against the PyTorch transcription of the seed's
# loop (tools/bench/grpo_loop.py) on the same tiny-FLUX weights. The two sides run in turn, ROUNDS times (each a
# warm-up iteration + the median of 3), and the ratio is taken round by round, so that a shared machine whose speed
# drifts between runs moves both sides of a ratio alike; the median of those ratios is the figure to quote.
# usage: scripts/bench-grpo.sh WEIGHTS_DIR OUTPUT_DIR [Swift bench arguments, e.g. --rollout-batch 8 --transition-batch 4]
set -euo pipefail
weights=$1 out=$2
shift 2
rounds=${ROUNDS:-3}
torch_threads=${TORCH_THREADS:-2}
mkdir -p "$out"
[ -f "$weights/config.json" ] || scripts/tools-env.sh python3 tools/bench/grpo_loop.py --write-weights "$weights"
: > "$out/rounds.txt"
for round in $(seq 1 "$rounds"); do
    swift=$(.build/release/dancegrpo-bench grpo --weights "$weights" --json "$@" 2>>"$out/swift.log" | tail -1)
    torch=$(scripts/tools-env.sh python3 tools/bench/grpo_loop.py --weights "$weights" --threads "$torch_threads" --json 2>>"$out/torch.log" | tail -1)
    python3 - "$round" "$swift" "$torch" <<'PY' | tee -a "$out/rounds.txt"
import json, sys
round_, swift, torch = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
s, t = swift["median_seconds"], torch["median_seconds"]
print(f"round {round_}: Swift {s:.3f} s (batches {swift['rollout_batch']}/{swift['transition_batch']}), "
      f"PyTorch {t:.3f} s ({torch['threads']} threads), ratio {t / s:.2f}")
PY
done
python3 - "$out/rounds.txt" <<'PY'
import re, statistics, sys
rows = [tuple(map(float, re.search(r"Swift ([0-9.]+) s.*PyTorch ([0-9.]+) s.*ratio ([0-9.]+)", l).groups()))
        for l in open(sys.argv[1])]
swift, torch, ratio = (statistics.median(c) for c in zip(*rows))
print(f"seconds/iteration (median of {len(rows)} rounds): Swift {swift:.3f}, PyTorch {torch:.3f}; "
      f"ratio PyTorch/Swift (> 1 = Swift faster), median of per-round ratios: {ratio:.2f}")
PY
