#!/usr/bin/env python3
"""Goldens for the Swift Wan-2.1 transformer (Tests/ModelsTests/Wan/WanTransformerTests.swift).

    scripts/tools-env.sh python3 tools/goldens/wan_transformer.py

Builds diffusers' WanTransformer3DModel on tiny random configs and writes two files under Tests/TestSupport/Fixtures:

wan_transformer.safetensors (text-to-video, the Wan2.1-T2V layout: cross-attention norm on, no image branch)
  param.<diffusers key>       every weight, in diffusers' layout (Conv3d weight [O, C, t, h, w])
  <case>.input.{hidden_states [B, C, F, H, W], timestep [B], encoder_hidden_states [B, L, text_dim]}
  <case>.output.sample        the forward pass in float64 (from the float32 weights and inputs), rounded to float32
  cases: "image" (F = 1, as the seed trains Wan), "video" (F = 3, H ≠ W); batch 2 with different timesteps each, and
  text lengths that differ from each other and from the pipeline's 512.
  video.grad.<key>            gradients of mean(sample²) for a parameter of each kind, in diffusers' layout

wan_transformer_i2v.safetensors (image-to-video, the Wan2.1-I2V layout: image embedder, added k/v projections in
  every cross-attention), one case "video" with video.input.encoder_hidden_states_image, batch 2.
wan_transformer_flf2v.safetensors (first-last-frame-to-video: the image embedder's position embedding over the two
  images' tokens, cross-attention norm off), one case "video", batch 1 (two image-state entries).
diffusers' attention splits the image tokens off the front of the context by assuming 512 text tokens, so the image
cases have exactly 512.

Each file holds its config as JSON in the metadata key "config".

wan_transformer_shapes.json: every parameter key and shape of the released sizes (Wan2.1-T2V-1.3B, the I2V-14B
layout) with their configs.
"""
import json
import os

import diffusers
import torch
from diffusers import WanTransformer3DModel
from safetensors.torch import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures")

T2V = dict(patch_size=[1, 2, 2], num_attention_heads=2, attention_head_dim=12, in_channels=4, out_channels=4,
           text_dim=16, freq_dim=16, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
           eps=1e-6, image_dim=None, added_kv_proj_dim=None, rope_max_seq_len=64)
I2V = dict(T2V, num_layers=1, image_dim=8, added_kv_proj_dim=24)
FLF2V = dict(I2V, cross_attn_norm=False, pos_embed_seq_len=6)


def build(config, seed):
    torch.manual_seed(seed)
    model = WanTransformer3DModel(**config).eval()
    with torch.no_grad():
        for p in model.parameters():
            # Norm weights start at one and biases at zero (pos_embed too); perturb everything so every tensor matters.
            p.add_(torch.randn_like(p) * (0.1 if p.dim() == 1 or p.dim() == 3 else 0.05))
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


model = build(T2V, 0)
tensors = {}
tensors.update(run(model, "image", {
    "hidden_states": randn(2, 4, 1, 8, 8),
    "timestep": torch.tensor([999.0, 250.5], dtype=torch.float64),
    "encoder_hidden_states": randn(2, 7, 16),
}))
tensors.update(run(model, "video", {
    "hidden_states": randn(2, 4, 3, 4, 6),
    "timestep": torch.tensor([37.25, 812.0], dtype=torch.float64),
    "encoder_hidden_states": randn(2, 5, 16),
}, grad_keys=[
    "patch_embedding.weight", "condition_embedder.time_embedder.linear_1.weight",
    "condition_embedder.text_embedder.linear_1.weight", "blocks.0.attn1.norm_q.weight", "blocks.0.attn1.to_k.weight",
    "blocks.0.attn2.to_v.weight", "blocks.0.norm2.weight", "blocks.1.ffn.net.0.proj.weight",
    "blocks.1.scale_shift_table", "scale_shift_table", "proj_out.weight",
]))
save(model, T2V, tensors, "wan_transformer.safetensors")

model = build(I2V, 1)
save(model, I2V, run(model, "video", {
    "hidden_states": randn(2, 4, 2, 4, 4),
    "timestep": torch.tensor([500.0, 21.5], dtype=torch.float64),
    "encoder_hidden_states": randn(2, 512, 16),
    "encoder_hidden_states_image": randn(2, 3, 8),
}), "wan_transformer_i2v.safetensors")

model = build(FLF2V, 2)
# The first and last frames' image tokens come as two batch entries per sample and are joined along the sequence
# (pos_embed_seq_len = 2 × 3 tokens) inside the image embedder.
save(model, FLF2V, run(model, "video", {
    "hidden_states": randn(1, 4, 2, 4, 4),
    "timestep": torch.tensor([500.0], dtype=torch.float64),
    "encoder_hidden_states": randn(1, 512, 16),
    "encoder_hidden_states_image": randn(2, 3, 8),
}), "wan_transformer_flf2v.safetensors")

# The released sizes: every key and shape diffusers builds for Wan2.1-T2V-1.3B's transformer/config.json and for the
# I2V-14B layout (built on the meta device, no weights), so the Swift module tree is checked against full-size
# checkpoints without downloading one.
RELEASED = {
    "t2v_1_3b": dict(patch_size=[1, 2, 2], num_attention_heads=12, attention_head_dim=128, in_channels=16,
                     out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
                     qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=None, added_kv_proj_dim=None,
                     rope_max_seq_len=1024),
    "i2v_14b": dict(patch_size=[1, 2, 2], num_attention_heads=40, attention_head_dim=128, in_channels=36,
                    out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40, cross_attn_norm=True,
                    qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=1280, added_kv_proj_dim=5120,
                    rope_max_seq_len=1024),
}
shapes = {}
for name, config in RELEASED.items():
    with torch.device("meta"):
        model = WanTransformer3DModel(**config)
    shapes[name] = {"config": config, "shapes": {k: list(v.shape) for k, v in model.state_dict().items()}}
path = os.path.join(FIXTURES, "wan_transformer_shapes.json")
with open(path, "w") as f:
    json.dump(shapes, f, sort_keys=True, separators=(",", ":"))
    f.write("\n")
print("wrote", path, {k: len(v["shapes"]) for k, v in shapes.items()}, "keys")
