#!/usr/bin/env python3
"""Rounds of `make bench-grpo`: the Swift trainer against the seed's PyTorch loop and a batched PyTorch loop.

    python3 tools/bench/grpo_rounds.py --weights DIR --out DIR --torch-python PY [--rounds 5] [--threads 2]
                                       [--busy-limit 0.2] [-- Swift bench arguments]

Each round runs the three sides one after the other, in an order that alternates between rounds (Swift, seed,
batched; then batched, seed, Swift), so that a drift of the machine's speed during a round does not favour one side.
Each side is one process doing 1 warm-up and the median of 3 iterations (its own JSON line). While a side runs, the
CPU time of every other process on the machine is measured (/proc/stat minus this side's own CPU time): a round in
which any side saw more than `--busy-limit` cores of other work is printed but not used, because on a small machine a
compile beside the benchmark changes PyTorch's time far more than Swift's. The ratios are taken within each round
(PyTorch / Swift, > 1 = Swift faster) and their median over the idle rounds is quoted. Linux only (/proc).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def busy_seconds():
    """Busy CPU seconds of the whole machine so far: every /proc/stat field but idle and iowait."""
    with open("/proc/stat") as f:
        fields = [float(v) for v in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS


def run_side(command, log):
    """Runs one side; returns its JSON result and the cores other processes used meanwhile."""
    before_children = os.times()
    busy_before, start = busy_seconds(), time.monotonic()
    with open(log, "a") as err:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, text=True)
    wall = time.monotonic() - start
    busy_after, after_children = busy_seconds(), os.times()
    own = (after_children.children_user - before_children.children_user
           + after_children.children_system - before_children.children_system)
    if done.returncode != 0:
        sys.exit(f"bench-grpo: {' '.join(command)} failed with status {done.returncode}; see {log}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result, max(0.0, (busy_after - busy_before - own) / wall)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--torch-python", required=True, help="a Python that can import torch and diffusers")
    parser.add_argument("--swift-bench", default=".build/release/dancegrpo-bench")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    parser.add_argument("--busy-limit", type=float, default=0.2, help="cores of other work above which a round is "
                        "not used")
    parser.add_argument("swift_args", nargs="*", help="after --: arguments of `dancegrpo-bench grpo`")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    loop = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grpo_loop.py")
    torch_side = [args.torch_python, loop, "--weights", args.weights, "--threads", str(args.threads), "--json"]
    sides = {
        "swift": [args.swift_bench, "grpo", "--weights", args.weights, "--json"] + args.swift_args,
        "seed": torch_side,
        "batched": torch_side + ["--batched"],
    }
    rows = []
    with open(os.path.join(args.out, "rounds.txt"), "w") as record:
        for round_ in range(1, args.rounds + 1):
            order = ["swift", "seed", "batched"] if round_ % 2 else ["batched", "seed", "swift"]
            seconds, others = {}, {}
            for side in order:
                result, others[side] = run_side(sides[side], os.path.join(args.out, f"{side}.log"))
                seconds[side] = result["median_seconds"]
                if side == "swift":
                    batches = f"{result['rollout_batch']}/{result['transition_batch']}"
            idle = max(others.values()) <= args.busy_limit
            line = (f"round {round_}: Swift {seconds['swift']:.3f} s (batches {batches}), "
                    f"PyTorch seed {seconds['seed']:.3f} s, batched {seconds['batched']:.3f} s "
                    f"({args.threads} threads); ratios {seconds['seed'] / seconds['swift']:.2f}, "
                    f"{seconds['batched'] / seconds['swift']:.2f}; other processes "
                    + ", ".join(f"{side} {others[side]:.2f}" for side in order) + " cores"
                    + ("" if idle else f" — busy (> {args.busy_limit}), not used"))
            print(line, flush=True)
            record.write(line + "\n")
            if idle:
                rows.append(seconds)
    if not rows:
        print(f"grpo: no round was idle (other processes above {args.busy_limit} cores in every round): no ratio "
              "reported; rerun on an idle machine")
        return 1
    median = {side: statistics.median(r[side] for r in rows) for side in sides}
    seed_ratio = statistics.median(r["seed"] / r["swift"] for r in rows)
    batched_ratio = statistics.median(r["batched"] / r["swift"] for r in rows)
    print(f"{len(rows)} of {args.rounds} rounds idle; medians over them, ratios PyTorch / Swift (> 1: Swift faster)")
    print(f"grpo: Swift {median['swift']:.3f} s/it, PyTorch seed {median['seed']:.3f} s/it (ratio {seed_ratio:.2f}), "
          f"PyTorch batched {median['batched']:.3f} s/it (ratio {batched_ratio:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
