#!/usr/bin/env python3
"""PyTorch CPU side of `make bench` (Benchmarks/dancegrpo-bench): the same workloads as the Swift benchmark.

The Swift benchmark runs this script itself when torch is importable; it can also be run alone from the package root:

    .venv-tools/bin/python tools/bench/torch_bench.py [--json] [--repeats N] [--warmup N] [--threads N]

Workloads (float32, CPU, `torch.set_num_threads(--threads)`, default: the cores this process may use):
- sgemm n = 256, 512, 1024: `a @ b` of two n×n matrices, ceil(3e9 / 2n³) products per timed run (90, 12, 2);
  GFLOP/s = 2n³ / median time per product.
- transformer: 8 pre-norm blocks, hidden 256, 4 heads, MLP 256→1024→256 with exact GELU, batch 8, 256 tokens.
  Block: x + out(sdpa(qkv(LN(x)))) then x + fc2(gelu(fc1(LN(x)))); fused qkv projection, F.scaled_dot_product_attention.
  "forward" runs under torch.inference_mode() (like the engine, it keeps nothing for a backward pass);
  "forward+backward" is mean(y²).backward() with every parameter's gradient materialised.
Every timing is the median of --repeats runs after --warmup untimed runs.

With --json the results are one JSON object on stdout (progress goes to stderr); otherwise a short table.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

GEMM_SIZES = (256, 512, 1024)
LAYERS, HIDDEN, HEADS, MLP_HIDDEN, BATCH, TOKENS = 8, 256, 4, 1024, 8, 256


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(HIDDEN, eps=1e-5)
        self.qkv = nn.Linear(HIDDEN, 3 * HIDDEN)
        self.out = nn.Linear(HIDDEN, HIDDEN)
        self.norm2 = nn.LayerNorm(HIDDEN, eps=1e-5)
        self.fc1 = nn.Linear(HIDDEN, MLP_HIDDEN)
        self.fc2 = nn.Linear(MLP_HIDDEN, HIDDEN)

    def attention(self, x):
        b, l, _ = x.shape
        head_dim = HIDDEN // HEADS
        q, k, v = (t.reshape(b, l, HEADS, head_dim).transpose(1, 2) for t in self.qkv(x).chunk(3, dim=-1))
        a = F.scaled_dot_product_attention(q, k, v)
        return self.out(a.transpose(1, 2).reshape(b, l, HIDDEN))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


def median_seconds(body, warmup, repeats):
    for _ in range(warmup):
        body()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def products_per_run(n):
    """About 3 GFLOP per timed run, as in the Swift benchmark (GemmBench.productsPerRun)."""
    return max(1, math.ceil(3e9 / (2 * n**3)))


def bench_gemm(n, warmup, repeats):
    g = torch.Generator().manual_seed(n)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    count = products_per_run(n)

    def run():
        for _ in range(count):
            a @ b

    seconds = median_seconds(run, warmup, repeats)
    return 2 * n**3 * count / seconds / 1e9


def bench_transformer(warmup, repeats):
    torch.manual_seed(0)
    model = Transformer()
    x = torch.randn(BATCH, TOKENS, HIDDEN)
    parameters = list(model.parameters())

    def forward():
        with torch.inference_mode():
            model(x)

    def forward_backward():
        for p in parameters:
            p.grad = None
        loss = model(x).square().mean()
        loss.backward()
        assert all(p.grad is not None for p in parameters)

    return {
        "parameters": sum(p.numel() for p in parameters),
        "forward_ms": 1e3 * median_seconds(forward, warmup, repeats),
        "forward_backward_ms": 1e3 * median_seconds(forward_backward, warmup, repeats),
    }


def default_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=default_threads())
    args = parser.parse_args()
    if args.repeats < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--repeats and --threads must be at least 1, --warmup at least 0")

    torch.set_num_threads(args.threads)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))

    gemm = {}
    for n in GEMM_SIZES:
        gemm[str(n)] = bench_gemm(n, args.warmup, args.repeats)
        log(f"torch sgemm {n}: {gemm[str(n)]:.1f} GFLOP/s")
    transformer = bench_transformer(args.warmup, args.repeats)
    log(f"torch transformer: forward {transformer['forward_ms']:.1f} ms, "
        f"forward+backward {transformer['forward_backward_ms']:.1f} ms ({transformer['parameters']} parameters)")

    if args.json:
        print(json.dumps({
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "threads": torch.get_num_threads(),
            "blas": "MKL" if torch.backends.mkl.is_available() else "not MKL",
            "repeats": args.repeats,
            "warmup": args.warmup,
            "gemm_gflops": gemm,
            "transformer": transformer,
        }))


if __name__ == "__main__":
    main()
