#!/usr/bin/env python3
"""Golden for the Swift FLUX transformer (Tests/ModelsTests/Flux/FluxTransformerTests.swift).

    scripts/tools-env.sh python3 tools/goldens/flux_transformer.py

Builds diffusers' FluxTransformer2DModel on a tiny random config (two double-stream and two single-stream blocks,
guidance embedding on, 3-axis RoPE), and writes Tests/TestSupport/Fixtures/flux_transformer.safetensors with
  param.<diffusers key>            every weight, in diffusers' layout (the Swift side loads them with Module.load)
  input.{hidden_states, encoder_hidden_states, pooled_projections, timestep, guidance, img_ids, txt_ids}
  output.sample                    the forward pass in float64, rounded to float32
  pack.{latents_nchw, packed, image_ids}   FluxPipeline._pack_latents / _prepare_latent_image_ids on a small grid
and the config as JSON in the metadata key "config".
"""
import json
import os

import torch
from diffusers import FluxPipeline, FluxTransformer2DModel
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures", "flux_transformer.safetensors")
torch.manual_seed(0)

config = dict(patch_size=1, in_channels=16, num_layers=2, num_single_layers=2, attention_head_dim=8,
              num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=24, guidance_embeds=True,
              axes_dims_rope=[2, 2, 4])
model = FluxTransformer2DModel(**config).double().eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        # Norm weights start at one and biases at zero-ish; perturb everything so every tensor matters.
        p.add_(torch.randn_like(p) * (0.1 if p.dim() == 1 else 0.02))

batch, latent_h, latent_w, text_len = 2, 8, 6, 5
latents = torch.randn(batch, 4, latent_h, latent_w, dtype=torch.float64)
packed = FluxPipeline._pack_latents(latents, batch, 4, latent_h, latent_w)
img_ids = FluxPipeline._prepare_latent_image_ids(batch, latent_h // 2, latent_w // 2, "cpu", torch.float64)
txt_ids = torch.zeros(text_len, 3, dtype=torch.float64)
inputs = {
    "hidden_states": packed,
    "encoder_hidden_states": torch.randn(batch, text_len, 32, dtype=torch.float64),
    "pooled_projections": torch.randn(batch, 24, dtype=torch.float64),
    "timestep": torch.tensor([0.9, 0.4166], dtype=torch.float64),
    "guidance": torch.tensor([3.5, 1.0], dtype=torch.float64),
    "img_ids": img_ids,
    "txt_ids": txt_ids,
}
# Inputs go through float32 first: the Swift side sees float32 values.
inputs = {k: v.float().double() for k, v in inputs.items()}
with torch.no_grad():
    out = model(**inputs, return_dict=False)[0]

tensors = {f"param.{k}": v.float().contiguous() for k, v in model.state_dict().items()}
tensors.update({f"input.{k}": v.float().contiguous() for k, v in inputs.items()})
tensors["output.sample"] = out.float().contiguous()
tensors["pack.latents_nchw"] = latents.float().contiguous()
tensors["pack.packed"] = packed.float().contiguous()
tensors["pack.image_ids"] = img_ids.float().contiguous()
# One metadata key: safetensors writes several in hash order, which would make reruns differ byte-wise.
save_file(tensors, OUT, metadata={"config": json.dumps(dict(config, _diffusers_version=__import__("diffusers").__version__))})
print("wrote", OUT, sum(t.numel() for t in tensors.values()), "values")
