#!/usr/bin/env python3
"""PyTorch CPU side of `dancegrpo-bench flux`: diffusers' FluxTransformer2DModel on the same config and inputs.

The Swift benchmark runs this script itself (after its own measurements) when torch and diffusers are importable; it
can also be run alone from the package root:

    .venv-tools/bin/python tools/bench/flux_bench.py [--json] [--repeats N] [--warmup N] [--threads N] [--no-backward]

Workload (CPU, `torch.set_num_threads(--threads)`, default: the cores this process may use), float32 and bfloat16
weights and activations:
- config: num_layers 4, num_single_layers 8, 8 heads of 64 (inner 512), joint_attention_dim 1024,
  pooled_projection_dim 256, in_channels 64, guidance_embeds, axes_dims_rope [8, 28, 28]; random weights (seed 0).
- inputs: batch 1, a 32×32 latent packed into 256 image tokens of 64 features, 128 text tokens, timestep 0.5,
  guidance 3.5; image ids (0, row, column), text ids zeros (as FluxPipeline builds them).
- "forward" runs under torch.no_grad(); "forward+backward" is mean(y²) (in float32) .backward() with every
  parameter's gradient materialised, gradients reset to None before each run.
Every timing is the median of --repeats runs after --warmup untimed runs, the policy of the Swift side.

With --json the results are one JSON object on stdout (progress goes to stderr); otherwise a short table.
The Swift twin of the config and inputs is Benchmarks/dancegrpo-bench/FluxBench.swift; keep them in step.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch

CONFIG = dict(patch_size=1, in_channels=64, num_layers=4, num_single_layers=8, attention_head_dim=64,
              num_attention_heads=8, joint_attention_dim=1024, pooled_projection_dim=256, guidance_embeds=True,
              axes_dims_rope=[8, 28, 28])
BATCH, LATENT_SIZE, TEXT_TOKENS = 1, 32, 128
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def median_seconds(body, warmup, repeats):
    for _ in range(warmup):
        body()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def inputs(dtype):
    g = torch.Generator().manual_seed(1)
    side = LATENT_SIZE // 2
    rows, columns = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    img_ids = torch.stack([torch.zeros_like(rows), rows, columns], dim=-1).reshape(side * side, 3).float()
    return dict(
        hidden_states=torch.randn(BATCH, side * side, CONFIG["in_channels"], generator=g).to(dtype),
        encoder_hidden_states=torch.randn(BATCH, TEXT_TOKENS, CONFIG["joint_attention_dim"], generator=g).to(dtype),
        pooled_projections=torch.randn(BATCH, CONFIG["pooled_projection_dim"], generator=g).to(dtype),
        timestep=torch.full((BATCH,), 0.5, dtype=dtype),
        guidance=torch.full((BATCH,), 3.5, dtype=dtype),
        img_ids=img_ids,
        txt_ids=torch.zeros(TEXT_TOKENS, 3),
    )


def bench(dtype_name, warmup, repeats, backward, log):
    from diffusers import FluxTransformer2DModel

    dtype = DTYPES[dtype_name]
    torch.manual_seed(0)
    model = FluxTransformer2DModel(**CONFIG).to(dtype)
    x = inputs(dtype)
    parameters = list(model.parameters())

    def forward():
        with torch.no_grad():
            model(**x, return_dict=False)

    def forward_backward():
        for p in parameters:
            p.grad = None
        loss = model(**x, return_dict=False)[0].float().square().mean()
        loss.backward()
        assert all(p.grad is not None for p in parameters), "a parameter got no gradient"

    result = {"parameters": sum(p.numel() for p in parameters),
              "forward_ms": 1e3 * median_seconds(forward, warmup, repeats)}
    log(f"diffusers flux {dtype_name}: forward {result['forward_ms']:.1f} ms")
    if backward:
        result["forward_backward_ms"] = 1e3 * median_seconds(forward_backward, warmup, repeats)
        log(f"diffusers flux {dtype_name}: forward+backward {result['forward_backward_ms']:.1f} ms")
    return result


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
    parser.add_argument("--no-backward", action="store_true", help="time the forward pass only")
    args = parser.parse_args()
    if args.repeats < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--repeats and --threads must be at least 1, --warmup at least 0")

    torch.set_num_threads(args.threads)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))
    import diffusers

    # `.to(bfloat16)` makes diffusers warn about modules to keep in float32; FLUX has none.
    diffusers.utils.logging.set_verbosity_error()
    results = {name: bench(name, args.warmup, args.repeats, not args.no_backward, log) for name in DTYPES}
    if args.json:
        print(json.dumps({
            "torch_version": torch.__version__,
            "diffusers_version": diffusers.__version__,
            "python_version": platform.python_version(),
            "threads": torch.get_num_threads(),
            "repeats": args.repeats,
            "warmup": args.warmup,
            "config": CONFIG,
            "results": results,
        }))


if __name__ == "__main__":
    main()
