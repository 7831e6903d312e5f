#!/usr/bin/env python3
"""Goldens for the Swift AutoencoderKL (Tests/ModelsTests/VAE/AutoencoderKLTests.swift).

    scripts/tools-env.sh python3 tools/goldens/vae.py

Builds diffusers' AutoencoderKL on two tiny random configs and writes one file per config into
Tests/TestSupport/Fixtures/:
  vae_sd.safetensors     Stable Diffusion v1 shape: 4 latent channels, scaling 0.18215, no shift, quant convs on
  vae_flux.safetensors   FLUX shape: 16 latent channels, scaling 0.3611, shift 0.1159, no quant convs, three levels

Each file holds
  param.<diffusers key>     every weight exactly as diffusers' state_dict has it (channels-first conv weights)
  input.images              [N, H, W, 3] in [-1, 1]
  output.mean, output.logvar  encode(images).latent_dist.{mean, logvar} (logvar clamped as diffusers does)
  input.latents             [N, h, w, latent_channels], a random latent for the decoder
  output.decoded            decode(latents).sample
  pipeline.normalized       the posterior mean as the pipelines hand it to the denoiser:
                            FLUX img2img `(z - shift_factor) * scaling_factor`, SD img2img `scaling_factor * z`
  pipeline.denormalized     input.latents as the pipelines hand them to vae.decode:
                            FLUX `latents / scaling_factor + shift_factor`, SD `latents / scaling_factor`
Images and latents are stored channels-last ([N, H, W, C]), the layout the Swift model takes; the config is JSON in
the metadata key "config". Weights and inputs are rounded to float32 first, the reference runs in float64 and is
stored as float32. Seeded: rerunning gives the same files for the same torch/diffusers versions.
"""
import json
import os

import diffusers
import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures")

CONFIGS = {
    "vae_sd": dict(
        in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
        block_out_channels=[8, 16], layers_per_block=1, act_fn="silu", latent_channels=4, norm_num_groups=4,
        sample_size=16, scaling_factor=0.18215, shift_factor=None, force_upcast=True,
        use_quant_conv=True, use_post_quant_conv=True, mid_block_add_attention=True),
    "vae_flux": dict(
        in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
        block_out_channels=[8, 8, 12], layers_per_block=2, act_fn="silu", latent_channels=16, norm_num_groups=4,
        sample_size=16, scaling_factor=0.3611, shift_factor=0.1159, force_upcast=True,
        use_quant_conv=False, use_post_quant_conv=False, mid_block_add_attention=True),
}


def channels_last(t):
    return t.permute(0, 2, 3, 1).float().contiguous()


def make(name, config, seed):
    torch.manual_seed(seed)
    model = AutoencoderKL(**config).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                # Norm weights start at 1 and biases at 0 or near it: perturb them so every one of them matters.
                p.add_(torch.randn_like(p) * 0.1)
    model = model.float().double()  # the float32-rounded weights, computed in float64

    batch, size = 2, 16
    images = (torch.rand(batch, 3, size, size) * 2 - 1).double()
    levels = len(config["block_out_channels"]) - 1
    latent = size // 2 ** levels
    latents = torch.randn(batch, config["latent_channels"], latent, latent).float().double()
    scale, shift = config["scaling_factor"], config["shift_factor"]
    with torch.no_grad():
        posterior = model.encode(images).latent_dist
        decoded = model.decode(latents).sample
        if shift is None:
            normalized = scale * posterior.mean            # pipeline_stable_diffusion_img2img.py:771
            denormalized = latents / scale                 # pipeline_stable_diffusion.py:1085
        else:
            normalized = (posterior.mean - shift) * scale  # pipeline_flux_img2img.py:474
            denormalized = latents / scale + shift         # pipeline_flux.py:962

    tensors = {f"param.{k}": v.float().contiguous() for k, v in model.state_dict().items()}
    tensors["input.images"] = channels_last(images)
    tensors["output.mean"] = channels_last(posterior.mean)
    tensors["output.logvar"] = channels_last(posterior.logvar)
    tensors["input.latents"] = channels_last(latents)
    tensors["output.decoded"] = channels_last(decoded)
    tensors["pipeline.normalized"] = channels_last(normalized)
    tensors["pipeline.denormalized"] = channels_last(denormalized)
    out = os.path.join(FIXTURES, f"{name}.safetensors")
    # One metadata key: safetensors writes the metadata map in hash order, so several keys would make reruns
    # differ byte-wise.
    save_file(tensors, out, metadata={"config": json.dumps({"_class_name": "AutoencoderKL", **config, "_diffusers_version": diffusers.__version__})})
    print(f"wrote {out}: {os.path.getsize(out)} bytes, {len(model.state_dict())} parameter tensors")


for i, (name, config) in enumerate(CONFIGS.items()):
    make(name, config, seed=i)
