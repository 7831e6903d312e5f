"""PyTorch side of `dancegrpo-bench ops`: the SD UNet's primitives at the medium config's sizes (batch 2, 32×32, 256
channels, float32, channels-first as PyTorch runs them), forward only, median of 5 after 2 warm-ups.

    scripts/tools-env.sh python3 tools/bench/ops_bench.py [--threads 2]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def median_ms(fn, warmup=2, repeats=5):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(2, 256, 32, 32)
    w3 = torch.randn(256, 256, 3, 3) * 0.02
    w1 = torch.randn(256, 256, 1, 1) * 0.02
    norm = torch.nn.GroupNorm(32, 256)
    q = torch.randn(2, 8, 1024, 32)
    k = torch.randn(2, 8, 77, 32)
    self_k = torch.randn(2, 8, 1024, 32)
    flat = x.permute(0, 2, 3, 1).reshape(2048, 256).contiguous()
    cases = [
        ("conv3x3 256->256", lambda: F.conv2d(x, w3, padding=1)),
        ("conv1x1 256->256", lambda: F.conv2d(x, w1)),
        ("matmul 2048x256 @ 256x256", lambda: flat @ w1.reshape(256, 256).t()),
        ("group_norm 32 groups", lambda: norm(x)),
        ("silu", lambda: F.silu(x)),
        ("gelu (erf)", lambda: F.gelu(x)),
        ("self-attention 1024 tokens", lambda: F.scaled_dot_product_attention(q, self_k, self_k, scale=0.18)),
        ("cross-attention 77 tokens", lambda: F.scaled_dot_product_attention(q, k, k, scale=0.18)),
    ]
    print(f"torch ops (batch 2, 32×32, 256 channels, float32; median of 5 after 2 warm-ups; {args.threads} threads):")
    with torch.no_grad():
        for name, op in cases:
            print(f"  {name:<28} {median_ms(op):8.2f} ms")


if __name__ == "__main__":
    main()
