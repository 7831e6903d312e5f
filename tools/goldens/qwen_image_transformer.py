#!/usr/bin/env python3
"""Golden for the Swift Qwen-Image transformer (Tests/ModelsTests/QwenImage/QwenImageTransformerTests.swift).

    PATH="$PWD/.venv-tools/bin:$PATH" python3 tools/goldens/qwen_image_transformer.py

Builds diffusers' QwenImageTransformer2DModel on a tiny random config (two double-stream blocks, 2 heads × 16,
3-axis RoPE with scale_rope) and writes Tests/TestSupport/Fixtures/qwen_image_transformer.safetensors with
  param.<diffusers key>       every weight, in diffusers' layout, stored as float16: the weights are rounded to
                              float16 values before the reference runs, so widening them gives exactly the weights the
                              reference used (and the file stays small)
  <case>.input.{hidden_states, encoder_hidden_states, encoder_hidden_states_mask, timestep}
  <case>.img_shapes           int32 [images, 3]: the (frames, height, width) list every batch row shares
  <case>.output.sample        the forward pass in float64 (from the float32 inputs), rounded to float32
  cases: "image" (one 4×6 image, as text-to-image), "edit" (two images per row with different sizes, one of odd
  height, as QwenImageEditPipeline joins the target and the condition image); batch 2 with different timesteps, a
  text mask with padding in one row.
  image.grad.<key>            gradients of mean(sample²) for a parameter of each kind
  pack.{latents, packed}      QwenImagePipeline._pack_latents on 5-D latents [B, C, 1, H, W]
  rope.{img_shapes, text_length, rows, cos, sin}   QwenEmbedRope's tables at realistic sizes (two images, 300 text
                              tokens), every 37th row of the joint [text, images] sequence
and the config as JSON in the metadata key "config".

qwen_image_transformer_shapes.json: the keys and shapes of the released Qwen/Qwen-Image transformer (block 0 for all
60) and its total key count.
"""
import json
import os

import diffusers
import torch
from diffusers import QwenImagePipeline, QwenImageTransformer2DModel
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures",
                   "qwen_image_transformer.safetensors")
torch.manual_seed(0)

config = dict(patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=16,
              num_attention_heads=2, joint_attention_dim=16, guidance_embeds=False, axes_dims_rope=[4, 6, 6])
model = QwenImageTransformer2DModel(**config).eval()
with torch.no_grad():
    for p in model.parameters():
        # Norm weights start at one and biases at zero-ish; perturb everything so every tensor matters.
        p.add_(torch.randn_like(p) * (0.1 if p.dim() == 1 else 0.02))
        p.copy_(p.half().float())
# The reference runs in float64 from the (float16-exact) float32 weights the Swift side loads.
model = model.double()


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def run(prefix, inputs, img_shapes, grad_keys=()):
    inputs = {k: v.float().double() if v.is_floating_point() else v for k, v in inputs.items()}
    model.zero_grad()
    batch = inputs["hidden_states"].shape[0]
    with torch.set_grad_enabled(bool(grad_keys)):
        out = model(**inputs, img_shapes=[img_shapes] * batch, return_dict=False)[0]
    tensors = {f"{prefix}.input.{k}": (v.float() if v.is_floating_point() else v.to(torch.int32)).contiguous()
               for k, v in inputs.items()}
    tensors[f"{prefix}.img_shapes"] = torch.tensor(img_shapes, dtype=torch.int32)
    tensors[f"{prefix}.output.sample"] = out.detach().float().contiguous()
    if grad_keys:
        out.square().mean().backward()
        params = dict(model.named_parameters())
        tensors.update({f"{prefix}.grad.{k}": params[k].grad.float().contiguous() for k in grad_keys})
    print(prefix, "output scale", out.abs().max().item())
    return tensors


tensors = {}
# Text-to-image: latents [B, C, 1, H, W] = [2, 4, 1, 8, 12] packed to 4×6 tokens of 16 features.
latents = randn(2, 4, 1, 8, 12)
packed = QwenImagePipeline._pack_latents(latents, 2, 4, 8, 12)
tensors["pack.latents"] = latents.float().contiguous()
tensors["pack.packed"] = packed.float().contiguous()
tensors.update(run("image", {
    "hidden_states": packed,
    "encoder_hidden_states": randn(2, 7, 16),
    # Row 1 pads its last three tokens, as the pipeline pads a shorter prompt.
    "encoder_hidden_states_mask": torch.tensor([[1] * 7, [1] * 4 + [0] * 3], dtype=torch.int64),
    "timestep": torch.tensor([0.9, 0.25], dtype=torch.float64),
}, [(1, 4, 6)], grad_keys=[
    "img_in.weight", "txt_in.weight", "txt_norm.weight", "time_text_embed.timestep_embedder.linear_1.bias",
    "time_text_embed.timestep_embedder.linear_2.weight", "transformer_blocks.0.img_mod.1.bias",
    "transformer_blocks.0.txt_mod.1.bias", "transformer_blocks.0.attn.norm_q.weight",
    "transformer_blocks.0.attn.norm_added_k.weight", "transformer_blocks.0.attn.add_v_proj.weight",
    "transformer_blocks.0.txt_mlp.net.0.proj.bias", "transformer_blocks.1.attn.to_out.0.weight",
    "transformer_blocks.1.img_mlp.net.2.bias", "norm_out.linear.bias", "proj_out.weight",
]))
# Edit: the target image (4×4 tokens) and the condition image (3×6 tokens, odd height) joined along the sequence.
tensors.update(run("edit", {
    "hidden_states": randn(2, 16 + 18, 16),
    "encoder_hidden_states": randn(2, 5, 16),
    "encoder_hidden_states_mask": torch.tensor([[1, 1, 0, 0, 0], [1] * 5], dtype=torch.int64),
    "timestep": torch.tensor([0.5, 0.0625], dtype=torch.float64),
}, [(1, 4, 4), (1, 3, 6)]))

# The rotary tables at realistic sizes (a 50×70 generated image, a 33×21 condition image, 300 text tokens), rows
# [text, images] as the joint attention orders them, every 37th row: interleaved cos/sin expanded to each feature.
rope_shapes, rope_text = [(1, 50, 70), (1, 33, 21)], 300
img_freqs, txt_freqs = model.pos_embed([rope_shapes], max_txt_seq_len=rope_text, device=torch.device("cpu"))
freqs = torch.cat([txt_freqs, img_freqs], dim=0)
rows = torch.arange(0, freqs.shape[0], 37)
tensors["rope.img_shapes"] = torch.tensor(rope_shapes, dtype=torch.int32)
tensors["rope.text_length"] = torch.tensor([rope_text], dtype=torch.int32)
tensors["rope.rows"] = rows.to(torch.int32)
tensors["rope.cos"] = freqs[rows].real.float().repeat_interleave(2, dim=-1).contiguous()
tensors["rope.sin"] = freqs[rows].imag.float().repeat_interleave(2, dim=-1).contiguous()

tensors.update({f"param.{k}": v.half().contiguous() for k, v in model.state_dict().items()})
# One metadata key: safetensors writes several in hash order, which would make reruns differ byte-wise.
save_file(tensors, OUT, metadata={"config": json.dumps(dict(config, _diffusers_version=diffusers.__version__))})
print("wrote", OUT, os.path.getsize(OUT), "bytes")

# The released size: every key and shape diffusers builds for Qwen/Qwen-Image's transformer/config.json (built on the
# meta device, no weights), block 0 standing for the 60 identical blocks, so the Swift module tree is checked against
# the full-size checkpoint without downloading it.
RELEASED = dict(patch_size=2, in_channels=64, out_channels=16, num_layers=60, attention_head_dim=128,
                num_attention_heads=24, joint_attention_dim=3584, guidance_embeds=False, axes_dims_rope=[16, 56, 56])
with torch.device("meta"):
    released = QwenImageTransformer2DModel(**RELEASED)
shapes = {k: list(v.shape) for k, v in released.state_dict().items()
          if not k.startswith("transformer_blocks.") or k.startswith("transformer_blocks.0.")}
path = os.path.join(os.path.dirname(OUT), "qwen_image_transformer_shapes.json")
with open(path, "w") as f:
    json.dump({"config": RELEASED, "key_count": len(released.state_dict()), "shapes": shapes}, f, sort_keys=True,
              separators=(",", ":"))
    f.write("\n")
print("wrote", path, len(shapes), "of", len(released.state_dict()), "keys")
