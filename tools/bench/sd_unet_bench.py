#!/usr/bin/env python3
"""PyTorch CPU side of `dancegrpo-bench sd-unet`: diffusers' UNet2DConditionModel on the same config and inputs.

    .venv-tools/bin/python tools/bench/sd_unet_bench.py [--json] [--repeats N] [--warmup N] [--threads N]

Workload (CPU, float32, `torch.set_num_threads(--threads)`): block_out_channels (128, 256, 256), layers_per_block 2,
CrossAttnDownBlock2D ×2 + DownBlock2D, UpBlock2D + CrossAttnUpBlock2D ×2, attention_head_dim 8, cross_attention_dim
768, norm_num_groups 32; random weights (seed 0); batch 2 of 32×32×4 latents, timesteps (981, 501), 77 text tokens.
"forward" runs under torch.no_grad(); "forward+backward" is mean(y²).backward() with every parameter's gradient
materialised (reset to None before each run). Every timing is the median of --repeats runs after --warmup runs.
The Swift twin is Benchmarks/dancegrpo-bench/SDUNetBench.swift; keep them in step.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

CONFIG = dict(sample_size=32, in_channels=4, out_channels=4, block_out_channels=(128, 256, 256), layers_per_block=2,
              down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
              up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
              attention_head_dim=8, cross_attention_dim=768, norm_num_groups=32)
BATCH, LATENT, TOKENS = 2, 32, 77


def median_seconds(body, warmup, repeats):
    for _ in range(warmup):
        body()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else print
    import diffusers
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    model = UNet2DConditionModel(**CONFIG)
    g = torch.Generator().manual_seed(1)
    sample = torch.randn(BATCH, 4, LATENT, LATENT, generator=g)
    context = torch.randn(BATCH, TOKENS, 768, generator=g)
    timesteps = torch.tensor([981, 501])
    parameters = list(model.parameters())

    def forward():
        with torch.no_grad():
            model(sample, timesteps, encoder_hidden_states=context)

    def forward_backward():
        for p in parameters:
            p.grad = None
        model(sample, timesteps, encoder_hidden_states=context).sample.square().mean().backward()
        assert all(p.grad is not None for p in parameters), "a parameter got no gradient"

    result = {"forward_ms": 1e3 * median_seconds(forward, args.warmup, args.repeats)}
    log(f"diffusers sd-unet: forward {result['forward_ms']:.1f} ms")
    result["forward_backward_ms"] = 1e3 * median_seconds(forward_backward, args.warmup, args.repeats)
    log(f"diffusers sd-unet: forward+backward {result['forward_backward_ms']:.1f} ms")
    result.update(parameters=sum(p.numel() for p in parameters), torch_version=torch.__version__,
                  diffusers_version=diffusers.__version__, threads=torch.get_num_threads())
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
