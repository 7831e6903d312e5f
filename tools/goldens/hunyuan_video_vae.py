#!/usr/bin/env python3
"""Goldens for the Swift AutoencoderKLHunyuanVideo (Tests/ModelsTests/HunyuanVideoVAE/).

    .venv-tools/bin/python3 tools/goldens/hunyuan_video_vae.py

Builds diffusers' AutoencoderKLHunyuanVideo on a tiny random config with the released structure (four blocks, spatial
compression 8, temporal 4: the first down block halves height and width only, the next two also time, the last
nothing, and the decoder mirrors it; mid-block attention with its causal mask over frames; block widths 4, 4, 4, 8, 2
groups, one resnet per down block, so that the file stays under 300 KB) and writes
Tests/TestSupport/Fixtures/hunyuan_video_vae.safetensors:
  param.<diffusers key>          every weight as diffusers' state_dict has it (channels-first conv weights)
  input.video1                   [2, 3, 1, 16, 16] in [-1, 1]: one frame (an image), batch 2
  output.video1.mean/.logvar     encode(video1).latent_dist.{mean, logvar}: [2, 4, 1, 2, 2]
  input.video5                   [1, 3, 5, 16, 16]: five frames
  output.video5.mean/.logvar     [1, 4, 2, 2, 2]
  input.latents1                 [2, 4, 1, 2, 2] random latents, one latent frame
  output.latents1.decoded        decode(latents1).sample, [2, 3, 1, 16, 16] (diffusers does not clamp)
  input.latents2                 [1, 4, 2, 2, 2], two latent frames
  output.latents2.decoded        [1, 3, 5, 16, 16]
  input.latents3                 [1, 4, 3, 3, 2]
  output.latents3.tiled          decode(latents3) after enable_tiling(16, 16, 8, 8, 8, 4): temporal tiles of 3 latent
                                 frames every latent frame (blend 4 frames), each decoded in spatial tiles of 2×2
                                 latents every latent position (blend 8 pixels): [1, 3, 9, 24, 16]
  input.video9                   [1, 3, 9, 24, 8]
  output.video9.tiled.mean       encode(video9).latent_dist.mean with the same tiling: temporal tiles of 9 frames
                                 every 4, each encoded in spatial tiles of 16×16 pixels every 8 (only the height is
                                 larger): [1, 4, 3, 3, 1]
  pipeline.scaled                video5's mean × scaling_factor, as pipeline_hunyuan_video_image2video.py:585 hands
                                 encoded latents to the transformer
  pipeline.unscaled              latents2 / scaling_factor, as pipeline_hunyuan_video.py:726 hands the transformer's
                                 latents to vae.decode
and Tests/TestSupport/Fixtures/hunyuan_video_vae_shapes.json: the key → shape map of diffusers'
AutoencoderKLHunyuanVideo() with its default config, which is the released hunyuanvideo-community/HunyuanVideo vae/
config (built on the meta device), and its parameter count.
All tensors are in diffusers' layout ([B, C, F, H, W]); the config is JSON in the metadata key "config". Weights and
inputs are rounded to float32, the reference runs in float64 and is stored as float32. Seeded: reruns give the same
file for the same torch/diffusers versions.
"""
import json
import os

import diffusers
import torch
from diffusers import AutoencoderKLHunyuanVideo
from safetensors.torch import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures")

CONFIG = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[4, 4, 4, 8], layers_per_block=1,
    norm_num_groups=2, scaling_factor=0.476986, spatial_compression_ratio=8, temporal_compression_ratio=4,
    mid_block_add_attention=True)


def perturb(model):
    """GroupNorm scales 1 + 0.1·randn, biases pushed by 0.1·randn, weights ×1.5, so that every tensor changes the
    output and the input still moves it through some twenty convolutions."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
            else:
                p.mul_(1.5)


def main():
    torch.manual_seed(0)
    model = AutoencoderKLHunyuanVideo(**CONFIG).eval()
    perturb(model)
    model = model.float().double()  # the float32-rounded weights, computed in float64

    def uniform(*shape):
        return (torch.rand(*shape) * 2 - 1).float().double()

    video1, video5 = uniform(2, 3, 1, 16, 16), uniform(1, 3, 5, 16, 16)
    latents1 = torch.randn(2, 4, 1, 2, 2).float().double()
    latents2 = torch.randn(1, 4, 2, 2, 2).float().double()
    latents3 = torch.randn(1, 4, 3, 3, 2).float().double()
    video9 = uniform(1, 3, 9, 24, 8)
    tensors = {}
    with torch.no_grad():
        for name, video in [("video1", video1), ("video5", video5)]:
            posterior = model.encode(video).latent_dist
            tensors[f"input.{name}"] = video
            tensors[f"output.{name}.mean"] = posterior.mean
            tensors[f"output.{name}.logvar"] = posterior.logvar
            print(f"{name}: mean {tuple(posterior.mean.shape)} max |x| {posterior.mean.abs().max():.3f}")
        for name, latents in [("latents1", latents1), ("latents2", latents2)]:
            decoded = model.decode(latents).sample
            print(f"{name}: decoded {tuple(decoded.shape)}, max |x| {decoded.abs().max():.3f}")
            tensors[f"input.{name}"] = latents
            tensors[f"output.{name}.decoded"] = decoded
        scaling = model.config.scaling_factor
        tensors["pipeline.scaled"] = tensors["output.video5.mean"] * scaling
        tensors["pipeline.unscaled"] = latents2 / scaling
        tensors["input.latents3"] = latents3
        model.use_framewise_decoding = False
        untiled = model.decode(latents3).sample
        model.use_framewise_decoding = True
        model.enable_tiling(
            tile_sample_min_height=16, tile_sample_min_width=16, tile_sample_min_num_frames=8,
            tile_sample_stride_height=8, tile_sample_stride_width=8, tile_sample_stride_num_frames=4)
        tiled = model.decode(latents3).sample
        tensors["input.video9"] = video9
        tensors["output.video9.tiled.mean"] = model.encode(video9).latent_dist.mean
        model.use_tiling = model.use_framewise_encoding = False
        gap9 = (tensors["output.video9.tiled.mean"] - model.encode(video9).latent_dist.mean).abs().max().item()
        print(f"video9: tiled mean {tuple(tensors['output.video9.tiled.mean'].shape)}, tiled vs whole {gap9:.3f}")
        tensors["output.latents3.tiled"] = tiled
        gap = (tiled - untiled).abs().max().item()
        print(f"latents3: tiled {tuple(tiled.shape)}, max |x| {tiled.abs().max():.3f}, tiled vs whole {gap:.3f}")

    out = {f"param.{k}": v.float().contiguous() for k, v in model.state_dict().items()}
    out.update({k: v.float().contiguous() for k, v in tensors.items()})
    path = os.path.join(FIXTURES, "hunyuan_video_vae.safetensors")
    config = {"_class_name": "AutoencoderKLHunyuanVideo", **CONFIG, "_diffusers_version": diffusers.__version__}
    # One metadata key: safetensors writes the metadata map in hash order, so several keys would make reruns differ.
    save_file(out, path, metadata={"config": json.dumps(config)})
    count = sum(v.numel() for v in model.state_dict().values())
    print(f"wrote {path}: {os.path.getsize(path)} bytes, {len(model.state_dict())} parameter tensors, {count} scalars")

    with torch.device("meta"):
        released = AutoencoderKLHunyuanVideo().state_dict()
    shapes = {
        "diffusers_version": diffusers.__version__,
        "parameter_count": sum(v.numel() for v in released.values()),
        "shapes": {k: list(v.shape) for k, v in released.items()},
    }
    path = os.path.join(FIXTURES, "hunyuan_video_vae_shapes.json")
    with open(path, "w") as f:  # one key per line, so a diff shows what changed
        lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(shapes["shapes"].items())]
        f.write(f'{{"diffusers_version": {json.dumps(shapes["diffusers_version"])}, '
                f'"parameter_count": {shapes["parameter_count"]}, "shapes": {{\n' + ",\n".join(lines) + "\n}}\n")
    print(f"wrote {path}: {len(released)} tensors, {shapes['parameter_count']} scalars")


main()
