#!/usr/bin/env python3
"""An embedding cache in DanceGRPO's own layout (fastvideo/data_preprocess/preprocess_flux_embedding.py), for
Tests/TrainingTests/FluxTaskTests.swift: `train --model flux --embeddings` must read DanceGRPO's preprocessed files.

    scripts/tools-env.sh python3 tools/goldens/seed_embedding_cache.py

Writes Tests/TestSupport/Fixtures/flux_seed_cache/:
  prompt_embed/<i>.pt          torch.save of one bf16 tensor [16, 32]  (DanceGRPO: [512, 4096], T5 states)
  pooled_prompt_embeds/<i>.pt  torch.save of one bf16 tensor [32]      (DanceGRPO: [768], CLIP pooled)
  text_ids/<i>.pt              torch.save of a (3,) zero tensor, as DanceGRPO stores it
  videos2caption.json          [{prompt_embed_path, pooled_prompt_embeds_path, text_ids, caption}], as DanceGRPO
  expected.safetensors         the float32 values of each tensor, keys "<folder>/<i>"
Sizes match Tests/TestSupport/Fixtures/flux_mini (joint_attention_dim 32, pooled_projection_dim 32).
"""
import json
import os

import torch
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures", "flux_seed_cache")
CAPTIONS = ["a red apple on a table", "a lighthouse at dusk", "two cats asleep"]

torch.manual_seed(0)
expected = {}
items = []
for sub in ["prompt_embed", "pooled_prompt_embeds", "text_ids"]:
    os.makedirs(os.path.join(ROOT, sub), exist_ok=True)
for i, caption in enumerate(CAPTIONS):
    name = f"{i}.pt"
    prompt = torch.randn(16, 32).to(torch.bfloat16)
    pooled = torch.randn(32).to(torch.bfloat16)
    ids = torch.zeros(3)
    torch.save(prompt, os.path.join(ROOT, "prompt_embed", name))
    torch.save(pooled, os.path.join(ROOT, "pooled_prompt_embeds", name))
    torch.save(ids, os.path.join(ROOT, "text_ids", name))
    expected[f"prompt_embed/{i}"] = prompt.float()
    expected[f"pooled_prompt_embeds/{i}"] = pooled.float()
    items.append({"prompt_embed_path": name, "text_ids": name, "pooled_prompt_embeds_path": name, "caption": caption})
with open(os.path.join(ROOT, "videos2caption.json"), "w") as f:
    json.dump(items, f, indent=4)
save_file(expected, os.path.join(ROOT, "expected.safetensors"), metadata={"torch": torch.__version__})
print(f"wrote {ROOT}")
