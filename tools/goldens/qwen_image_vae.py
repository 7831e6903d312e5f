#!/usr/bin/env python3
"""Goldens for the Swift AutoencoderKLQwenImage (Tests/ModelsTests/QwenImageVAE/QwenImageVAETests.swift).

    .venv-tools/bin/python3 tools/goldens/qwen_image_vae.py

Builds diffusers' AutoencoderKLQwenImage (its own module, not AutoencoderKLWan) on a tiny random config with
Qwen-Image's structure (four levels, temperal_downsample [False, True, True]: spatial compression 8; base_dim 4 so that the file
stays small) and writes Tests/TestSupport/Fixtures/qwen_image_vae.safetensors:
  param.<diffusers key>        every weight as diffusers' state_dict has it
  input.image1                 [2, 3, 1, 16, 16] in [-1, 1]: one-frame images, as the Qwen pipelines pass them
  output.image1.mean/.logvar   encode(image1).latent_dist.{mean, logvar}: [2, 4, 1, 2, 2]
  input.image2                 [1, 3, 1, 24, 32]: a non-square image
  output.image2.mean/.logvar   [1, 4, 1, 3, 4]
  input.latents1               [2, 4, 1, 2, 2] random latents
  output.latents1.decoded      decode(latents1).sample, [2, 3, 1, 16, 16] (clamped to [-1, 1] as diffusers does)
  input.latents2               [1, 4, 1, 3, 4]
  output.latents2.decoded      [1, 3, 1, 24, 32]
  pipeline.normalized          (image2 mean - latents_mean) / latents_std: QwenImageEditPipeline._encode_vae_image
                               (with sample_mode "argmax", the posterior's mean) on encode(image2)
  pipeline.denormalized        latents2 / (1 / latents_std) + latents_mean, as QwenImagePipeline hands the
                               transformer's latents to vae.decode
The config is JSON in the metadata key "config". The generator also checks that AutoencoderKLQwenImage() with
diffusers' defaults (which are Qwen-Image's vae/config.json) has exactly the keys and shapes of AutoencoderKLWan()'s,
which Tests/TestSupport/Fixtures/wan_vae_wan21_shapes.json holds, and prints its parameter count. Weights and inputs are
rounded to float32, the reference runs in float64 and is stored as float32. Seeded.
"""
import json
import os

import diffusers
import torch
from diffusers import AutoencoderKLQwenImage, AutoencoderKLWan
from safetensors.torch import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures")

CONFIG = dict(
    base_dim=4, z_dim=4, dim_mult=[1, 2, 2, 2], num_res_blocks=1, attn_scales=[],
    temperal_downsample=[False, True, True], dropout=0.0, input_channels=3,
    latents_mean=[0.31, -0.62, 0.05, 1.2], latents_std=[1.7, 0.45, 2.3, 1.1])


def perturb(model):
    """RMS gammas 1 + 0.1·randn, biases pushed by 0.1·randn, weights ×1.5 (as wan_vae.py does, so that every tensor
    matters and the input still moves the output after a dozen convolutions)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
            else:
                p.mul_(1.5)


def main():
    torch.manual_seed(31)
    model = AutoencoderKLQwenImage(**CONFIG).eval()
    perturb(model)
    model = model.float().double()

    def uniform(*shape):
        return (torch.rand(*shape) * 2 - 1).float().double()

    image1, image2 = uniform(2, 3, 1, 16, 16), uniform(1, 3, 1, 24, 32)
    latents1 = torch.randn(2, 4, 1, 2, 2).float().double()
    latents2 = torch.randn(1, 4, 1, 3, 4).float().double()
    mean = torch.tensor(CONFIG["latents_mean"]).float().double().view(1, 4, 1, 1, 1)
    std = torch.tensor(CONFIG["latents_std"]).float().double().view(1, 4, 1, 1, 1)
    tensors = {}
    with torch.no_grad():
        for name, image in [("image1", image1), ("image2", image2)]:
            posterior = model.encode(image).latent_dist
            tensors[f"input.{name}"] = image
            tensors[f"output.{name}.mean"] = posterior.mean
            tensors[f"output.{name}.logvar"] = posterior.logvar
            print(f"{name}: mean max |x| {posterior.mean.abs().max():.3f}")
        for name, latents in [("latents1", latents1), ("latents2", latents2)]:
            decoded = model.decode(latents).sample
            saturated = (decoded.abs() >= 1).double().mean().item()
            print(f"{name}: decoded {tuple(decoded.shape)}, max |x| {decoded.abs().max():.3f}, clamped {saturated:.1%}")
            tensors[f"input.{name}"] = latents
            tensors[f"output.{name}.decoded"] = decoded
        tensors["pipeline.normalized"] = (tensors["output.image2.mean"] - mean) / std
        tensors["pipeline.denormalized"] = latents2 / (1.0 / std) + mean

    out = {f"param.{k}": v.float().contiguous() for k, v in model.state_dict().items()}
    out.update({k: v.float().contiguous() for k, v in tensors.items()})
    path = os.path.join(FIXTURES, "qwen_image_vae.safetensors")
    config = {"_class_name": "AutoencoderKLQwenImage", **CONFIG, "_diffusers_version": diffusers.__version__}
    save_file(out, path, metadata={"config": json.dumps(config)})
    count = sum(v.numel() for v in model.state_dict().values())
    print(f"wrote {path}: {os.path.getsize(path)} bytes, {len(model.state_dict())} parameter tensors, {count} scalars")

    qwen = {k: tuple(v.shape) for k, v in AutoencoderKLQwenImage().state_dict().items()}
    wan = {k: tuple(v.shape) for k, v in AutoencoderKLWan().state_dict().items()}
    assert qwen == wan, "Qwen-Image's default layout differs from Wan 2.1's"
    print(f"AutoencoderKLQwenImage() has Wan 2.1's {len(qwen)} keys and shapes, "
          f"{sum(torch.Size(s).numel() for s in qwen.values())} scalars")


main()
