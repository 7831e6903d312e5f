#!/usr/bin/env python3
"""Goldens for the Swift HunyuanVideo transformer
(Tests/ModelsTests/HunyuanVideo/HunyuanVideoTransformer3DModelTests.swift).

    PATH="$PWD/.venv-tools/bin:$PATH" .venv-tools/bin/python3 tools/goldens/hunyuan_video_transformer.py

Builds diffusers' HunyuanVideoTransformer3DModel on a tiny random config (2 heads × 10, rope axes [2, 4, 4], one
double-stream, one single-stream and one refiner block, guidance embedding on, mlp_ratio 2, in_channels 6 ≠
out_channels 4 as latent-concat image conditioning has) and writes Tests/TestSupport/Fixtures/
hunyuan_video_transformer.safetensors:

  param.<diffusers key>       every weight, in diffusers' layout (Conv3d weight [O, C, t, h, w])
  <case>.input.{hidden_states [B, C, F, H, W], timestep [B], encoder_hidden_states [B, L, text_embed_dim],
                encoder_attention_mask [B, L] (1 = token, 0 = padding), pooled_projections [B, pooled], guidance [B]}
  <case>.output.sample        the forward pass in float64 (from the float32 weights and inputs), rounded to float32
  cases: "image" (F = 1) and "video" (F = 3, H ≠ W); batch 2 with different timesteps and guidance, and text masks
  with different valid lengths per sample (the padded tokens hold random values, so ignoring the mask shows).
  video.grad.<key>            gradients of mean(sample²) for a parameter of each kind, in diffusers' layout

hunyuan_video_transformer_token_replace.safetensors: the same for a smaller config with image_condition_type
"token_replace" (HunyuanVideo-I2V: the first latent frame's tokens modulated by the conditioning of timestep 0), one
case "video" (F = 3) with the gradients of three modulation weights.

Each file holds its config as JSON in the metadata key "config".

hunyuan_video_transformer_shapes.json: every parameter key and shape diffusers builds for the released
hunyuanvideo-community/HunyuanVideo transformer/config.json (built on the meta device, no weights), with that config
and the parameter count.
"""
import json
import os

import diffusers
import torch
from diffusers import HunyuanVideoTransformer3DModel
from safetensors.torch import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures")

TINY = dict(in_channels=6, out_channels=4, num_attention_heads=2, attention_head_dim=10, num_layers=1,
            num_single_layers=1, num_refiner_layers=1, mlp_ratio=2.0, patch_size=2, patch_size_t=1,
            qk_norm="rms_norm", guidance_embeds=True, text_embed_dim=12, pooled_projection_dim=8, rope_theta=256.0,
            rope_axes_dim=[2, 4, 4], image_condition_type=None)

TOKEN_REPLACE = dict(TINY, in_channels=4, attention_head_dim=8, mlp_ratio=1.0, text_embed_dim=8,
                     pooled_projection_dim=4, rope_axes_dim=[2, 2, 4], image_condition_type="token_replace")

# hunyuanvideo-community/HunyuanVideo transformer/config.json (its values are diffusers' defaults).
RELEASED = dict(in_channels=16, out_channels=16, num_attention_heads=24, attention_head_dim=128, num_layers=20,
                num_single_layers=40, num_refiner_layers=2, mlp_ratio=4.0, patch_size=2, patch_size_t=1,
                qk_norm="rms_norm", guidance_embeds=True, text_embed_dim=4096, pooled_projection_dim=768,
                rope_theta=256.0, rope_axes_dim=[16, 56, 56])


def build(config, seed):
    torch.manual_seed(seed)
    model = HunyuanVideoTransformer3DModel(**config).eval()
    with torch.no_grad():
        for p in model.parameters():
            # Norm weights start at one and biases at zero; perturb everything so every tensor matters.
            p.add_(torch.randn_like(p) * (0.1 if p.dim() == 1 else 0.05))
    # The reference runs in float64 from the float32 weights the Swift side loads.
    return model.double()


def run(model, prefix, inputs, grad_keys=()):
    """The forward pass; with grad_keys also the gradients of mean(sample²) for those parameters."""
    inputs = {k: v.float().double() for k, v in inputs.items()}  # the Swift side sees float32 values
    model.zero_grad()
    with torch.set_grad_enabled(bool(grad_keys)):
        out = model(**inputs, return_dict=False)[0]
    tensors = {f"{prefix}.input.{k}": v.float().contiguous() for k, v in inputs.items()}
    tensors[f"{prefix}.output.sample"] = out.detach().float().contiguous()
    if grad_keys:
        out.square().mean().backward()
        params = dict(model.named_parameters())
        tensors.update({f"{prefix}.grad.{k}": params[k].grad.float().contiguous() for k in grad_keys})
    return tensors


def save(model, config, tensors, name):
    tensors.update({f"param.{k}": v.float().contiguous() for k, v in model.state_dict().items()})
    path = os.path.join(FIXTURES, name)
    # One metadata key: safetensors writes several in hash order, which would make reruns differ byte-wise.
    save_file(tensors, path, metadata={"config": json.dumps(dict(config, _diffusers_version=diffusers.__version__))})
    print("wrote", path, sum(t.numel() for t in tensors.values()), "values")


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def mask(lengths, total):
    return (torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]).double()


model = build(TINY, 0)
tensors = {}
tensors.update(run(model, "image", {
    "hidden_states": randn(2, 6, 1, 4, 4),
    "timestep": torch.tensor([999.0, 250.5], dtype=torch.float64),
    "encoder_hidden_states": randn(2, 7, 12),
    "encoder_attention_mask": mask([3, 5], 7),
    "pooled_projections": randn(2, 8),
    "guidance": torch.tensor([6000.0, 1000.0], dtype=torch.float64),
}))
tensors.update(run(model, "video", {
    "hidden_states": randn(2, 6, 3, 4, 6),
    "timestep": torch.tensor([37.25, 812.0], dtype=torch.float64),
    "encoder_hidden_states": randn(2, 6, 12),
    "encoder_attention_mask": mask([6, 2], 6),
    "pooled_projections": randn(2, 8),
    "guidance": torch.tensor([3500.0, 7000.0], dtype=torch.float64),
}, grad_keys=[
    "x_embedder.proj.weight",
    "context_embedder.time_text_embed.timestep_embedder.linear_1.weight",
    "context_embedder.time_text_embed.text_embedder.linear_2.bias",
    "context_embedder.proj_in.weight",
    "context_embedder.token_refiner.refiner_blocks.0.norm1.weight",
    "context_embedder.token_refiner.refiner_blocks.0.attn.to_k.weight",
    "context_embedder.token_refiner.refiner_blocks.0.ff.net.0.proj.weight",
    "context_embedder.token_refiner.refiner_blocks.0.norm_out.linear.weight",
    "time_text_embed.guidance_embedder.linear_2.weight",
    "time_text_embed.text_embedder.linear_1.weight",
    "transformer_blocks.0.norm1_context.linear.weight",
    "transformer_blocks.0.attn.norm_added_k.weight",
    "transformer_blocks.0.attn.add_v_proj.weight",
    "transformer_blocks.0.attn.to_q.weight",
    "transformer_blocks.0.ff_context.net.2.weight",
    "single_transformer_blocks.0.attn.norm_q.weight",
    "single_transformer_blocks.0.proj_mlp.weight",
    "single_transformer_blocks.0.proj_out.weight",
    "norm_out.linear.weight",
    "proj_out.weight",
]))
save(model, TINY, tensors, "hunyuan_video_transformer.safetensors")

model = build(TOKEN_REPLACE, 1)
save(model, TOKEN_REPLACE, run(model, "video", {
    "hidden_states": randn(2, 4, 3, 4, 6),
    "timestep": torch.tensor([500.0, 20.0], dtype=torch.float64),
    "encoder_hidden_states": randn(2, 5, 8),
    "encoder_attention_mask": mask([5, 3], 5),
    "pooled_projections": randn(2, 4),
    "guidance": torch.tensor([6000.0, 2500.0], dtype=torch.float64),
}, grad_keys=[
    "time_text_embed.timestep_embedder.linear_2.weight",
    "transformer_blocks.0.norm1.linear.weight",
    "single_transformer_blocks.0.norm.linear.weight",
]), "hunyuan_video_transformer_token_replace.safetensors")

with torch.device("meta"):
    model = HunyuanVideoTransformer3DModel(**RELEASED)
shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
released = {"config": RELEASED, "parameters": sum(p.numel() for p in model.parameters()), "shapes": shapes}
path = os.path.join(FIXTURES, "hunyuan_video_transformer_shapes.json")
with open(path, "w") as f:
    json.dump(released, f, sort_keys=True, separators=(",", ":"))
    f.write("\n")
print("wrote", path, len(shapes), "keys,", released["parameters"], "parameters")
