#!/usr/bin/env python3
"""A Qwen-Image prompt-embedding cache in DanceGRPO's own layout, made by diffusers' `QwenImagePipeline.encode_prompt`
on the miniature folder as the seed's preprocessing does, for Tests/TrainingTests/QwenImageTaskTests.swift (the
trainer reads the seed's files) and the preprocessing parity test (`dancegrpo preprocess --model qwen-image` caches
the same states).

    PATH="$PWD/.venv-tools/bin:$PATH" python3 tools/goldens/qwen_image_seed_cache.py

The seed (fastvideo/data_preprocess/preprocess_qwenimage_embedding.py at DanceGRPO 15cc71d5) encodes one prompt per
call (`--train_batch_size` 1, the script's default), right-pads states and mask with zeros to 1024 tokens, and
torch.saves them in bf16 (the pipeline loaded in bf16) and int64 (the mask as encode_prompt returns it):
https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/data_preprocess/preprocess_qwenimage_embedding.py

Writes Tests/TestSupport/Fixtures/qwen_image_mini_embeddings/:
  prompt_embed/<i>.pt           [1024, 32] bf16 states, zero past the prompt's tokens
  prompt_attention_mask/<i>.pt  [1024] int64, 1 for the prompt's tokens
  videos2caption.json           [{prompt_embed_path, prompt_attention_mask, caption, original_length}], as the seed
and Tests/TestSupport/Fixtures/qwen_image_mini_preprocess.safetensors: "prompt_embeds.<i>" the float32 states of
encode_prompt (unpadded, [L_i, 32]) for the same prompts, from the float32 pipeline.
"""
import json
import os
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from diffusers import QwenImagePipeline  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
FOLDER = os.path.join(FIXTURES, "qwen_image_mini")
OUT = os.path.join(FIXTURES, "qwen_image_mini_embeddings")
PROMPTS = ["a red fox running in the snow", "two blue cubes on a table"]
TARGET = 1024


def main():
    pipeline = QwenImagePipeline.from_pretrained(FOLDER, torch_dtype=torch.float32)
    for sub in ["prompt_embed", "prompt_attention_mask"]:
        os.makedirs(os.path.join(OUT, sub), exist_ok=True)
    items, expected = [], {}
    for i, prompt in enumerate(PROMPTS):
        with torch.no_grad():
            embeds, mask = pipeline.encode_prompt(prompt=[prompt])
        length = embeds.shape[1]
        assert mask is None or bool(mask.all()), "one prompt per call: no padding inside"
        if mask is None:
            mask = torch.ones(1, length, dtype=torch.long)
        expected[f"prompt_embeds.{i}"] = embeds[0].float().contiguous()
        padded = F.pad(embeds, (0, 0, 0, TARGET - length), "constant", 0)[0].to(torch.bfloat16)
        padded_mask = F.pad(mask, (0, TARGET - length), "constant", 0)[0].to(torch.long)
        torch.save(padded, os.path.join(OUT, "prompt_embed", f"{i}.pt"))
        torch.save(padded_mask, os.path.join(OUT, "prompt_attention_mask", f"{i}.pt"))
        items.append({"prompt_embed_path": f"{i}.pt", "prompt_attention_mask": f"{i}.pt", "caption": prompt,
                      "original_length": length})
    with open(os.path.join(OUT, "videos2caption.json"), "w") as f:
        json.dump(items, f, indent=4)
    path = os.path.join(FIXTURES, "qwen_image_mini_preprocess.safetensors")
    save_file(expected, path, metadata={"prompts": json.dumps(PROMPTS)})
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({total / 1e3:.0f} kB) and {path} ({os.path.getsize(path) / 1e3:.0f} kB)")
    print("lengths", [item["original_length"] for item in items])


if __name__ == "__main__":
    main()
