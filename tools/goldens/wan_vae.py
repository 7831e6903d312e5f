#!/usr/bin/env python3
"""Goldens for the Swift AutoencoderKLWan (Tests/ModelsTests/WanVAE/WanVAETests.swift).

    scripts/tools-env.sh python3 tools/goldens/wan_vae.py

Builds diffusers' AutoencoderKLWan on a tiny random config with Wan 2.1's structure (four levels, temperal_downsample
[False, True, True]: spatial compression 8, temporal 4, one 2D and two 3D resamples each way; base_dim 4 so that the
file stays under 300 KB) and writes Tests/TestSupport/Fixtures/wan_vae.safetensors:
  param.<diffusers key>        every weight as diffusers' state_dict has it (channels-first conv weights, RMS gammas
                               [C, 1, 1, 1] and [C, 1, 1])
  input.video1                 [2, 3, 1, 16, 16] in [-1, 1]: one frame (an image), batch 2
  output.video1.mean/.logvar   encode(video1).latent_dist.{mean, logvar}: [2, 4, 1, 2, 2]
  input.video5                 [1, 3, 5, 16, 16]: five frames, encoded as diffusers does (frame 0, then frames 1-4)
  output.video5.mean/.logvar   [1, 4, 2, 2, 2]
  input.latents1               [2, 4, 1, 2, 2] random latents, one latent frame
  output.latents1.decoded      decode(latents1).sample, [2, 3, 1, 16, 16] (clamped to [-1, 1] as diffusers does)
  input.latents2               [1, 4, 2, 2, 2], two latent frames, decoded frame by frame
  output.latents2.decoded      [1, 3, 5, 16, 16]
  input.video9, output.video9.mean/.logvar        [1, 3, 9, 8, 8] → [1, 4, 3, 1, 1]: three chunks, so every cache
  input.latents3, output.latents3.decoded         [1, 4, 3, 1, 1] → [1, 3, 9, 8, 8]   entry is also read once full
                                                                                       (8×8 to keep the file small)
  pipeline.normalized          (video5 mean - latents_mean) * (1 / latents_std), as pipeline_wan_i2v.py:462 and
                               pipeline_wan_video2video.py:435 hand encoded latents to the transformer
  pipeline.denormalized        latents2 / (1 / latents_std) + latents_mean, as pipeline_wan.py:672 hands the
                               transformer's latents to vae.decode
and Tests/TestSupport/Fixtures/wan_vae_wan21_shapes.json: the key → shape map of diffusers' AutoencoderKLWan() with
its default config, which is Wan 2.1's (the layout Wan2.1-T2V-1.3B-Diffusers' vae/ folder holds), and its
parameter count, so that the test checks the real checkpoint's keys and shapes without its weights.
All tensors are in diffusers' layout ([B, C, F, H, W]); the config is JSON in the metadata key "config". Weights
and inputs are rounded to float32, the reference runs in float64 and is stored as float32. Seeded: reruns give the
same file for the same torch/diffusers versions.
"""
import json
import os

import diffusers
import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures")

CONFIG = dict(
    base_dim=4, z_dim=4, dim_mult=[1, 2, 2, 2], num_res_blocks=1, attn_scales=[],
    temperal_downsample=[False, True, True], dropout=0.0,
    latents_mean=[-0.75, 0.1, 0.96, -0.29], latents_std=[2.8, 1.45, 0.6, 1.9])


def perturb(model):
    """RMS gammas 1 + 0.1·randn and biases pushed by 0.1·randn, so that every tensor changes the output; weights ×1.5,
    so that the input still moves the posterior (by a tenth to a third of its scale) after a dozen convolutions instead
    of drowning in their biases, while under 3% of the decoded values reach diffusers' clamp at ±1."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
            else:
                p.mul_(1.5)


def main():
    torch.manual_seed(0)
    model = AutoencoderKLWan(**CONFIG).eval()
    perturb(model)
    model = model.float().double()  # the float32-rounded weights, computed in float64

    def uniform(*shape):
        return (torch.rand(*shape) * 2 - 1).float().double()

    video1, video5, video9 = uniform(2, 3, 1, 16, 16), uniform(1, 3, 5, 16, 16), uniform(1, 3, 9, 8, 8)
    latents1 = torch.randn(2, 4, 1, 2, 2).float().double()
    latents2 = torch.randn(1, 4, 2, 2, 2).float().double()
    latents3 = torch.randn(1, 4, 3, 1, 1).float().double()
    mean = torch.tensor(CONFIG["latents_mean"], dtype=torch.float64).view(1, 4, 1, 1, 1)
    inverse_std = 1.0 / torch.tensor(CONFIG["latents_std"], dtype=torch.float64).view(1, 4, 1, 1, 1)
    tensors = {}
    with torch.no_grad():
        for name, video in [("video1", video1), ("video5", video5), ("video9", video9)]:
            posterior = model.encode(video).latent_dist
            tensors[f"input.{name}"] = video
            tensors[f"output.{name}.mean"] = posterior.mean
            tensors[f"output.{name}.logvar"] = posterior.logvar
        for name, latents in [("latents1", latents1), ("latents2", latents2), ("latents3", latents3)]:
            decoded = model.decode(latents).sample
            saturated = (decoded.abs() >= 1).double().mean().item()
            print(f"{name}: decoded {tuple(decoded.shape)}, max |x| {decoded.abs().max():.3f}, clamped {saturated:.1%}")
            tensors[f"input.{name}"] = latents
            tensors[f"output.{name}.decoded"] = decoded
        tensors["pipeline.normalized"] = (tensors["output.video5.mean"] - mean) * inverse_std
        tensors["pipeline.denormalized"] = latents2 / inverse_std + mean

    out = {f"param.{k}": v.float().contiguous() for k, v in model.state_dict().items()}
    out.update({k: v.float().contiguous() for k, v in tensors.items()})
    path = os.path.join(FIXTURES, "wan_vae.safetensors")
    config = {"_class_name": "AutoencoderKLWan", **CONFIG, "_diffusers_version": diffusers.__version__}
    # One metadata key: safetensors writes the metadata map in hash order, so several keys would make reruns differ.
    save_file(out, path, metadata={"config": json.dumps(config)})
    count = sum(v.numel() for v in model.state_dict().values())
    print(f"wrote {path}: {os.path.getsize(path)} bytes, {len(model.state_dict())} parameter tensors, {count} scalars")

    wan21 = AutoencoderKLWan().state_dict()
    shapes = {
        "diffusers_version": diffusers.__version__,
        "parameter_count": sum(v.numel() for v in wan21.values()),
        "shapes": {k: list(v.shape) for k, v in wan21.items()},
    }
    path = os.path.join(FIXTURES, "wan_vae_wan21_shapes.json")
    with open(path, "w") as f:  # one key per line, so a diff shows what changed
        lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(shapes["shapes"].items())]
        f.write(f'{{"diffusers_version": {json.dumps(shapes["diffusers_version"])}, '
                f'"parameter_count": {shapes["parameter_count"]}, "shapes": {{\n' + ",\n".join(lines) + "\n}}\n")
    print(f"wrote {path}: {len(wan21)} tensors, {shapes['parameter_count']} scalars")


main()
