#!/usr/bin/env python3
"""A SkyReels-I2V prompt-embedding cache in DanceGRPO's own layout, for Tests/TrainingTests/SkyReelsI2VTaskTests.swift
(the trainer reads the seed's files, the empty prompt's cache beside the prompts' as the seed's data/empty).

    PATH="$PWD/.venv-tools/bin:$PATH" python3 tools/goldens/skyreels_seed_cache.py   (after skyreels_i2v_mini.py)

The seed (fastvideo/data_preprocess/preprocess_hunyuan_embeddings.py through fastvideo/utils/load.py's
HunyuanTextEncoderWrapper.encode_prompt at DanceGRPO 15cc71d5) torch.saves per prompt the templated Llama states with
CLIP-L's pooled vector zero-padded to their width in front (`[1 + L, D]`, the text encoders' fp16 autocast: bf16 here)
and the Llama mask (`[L]`, int64), and a manifest of {prompt_embed_path, prompt_attention_mask, caption}; run once on
the prompts (data/rl_embeddings) and once on assets/empty.txt (data/empty, blank lines: the empty prompt).
https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/utils/load.py#L150-L160
The states come from diffusers' `encode_prompt` on the miniature folder (the same template and layers), at 8 tokens.

Writes Tests/TestSupport/Fixtures/skyreels_i2v_mini_seed_cache/{rl_embeddings,empty}/ and, in
skyreels_i2v_mini_seed_cache/expected.safetensors, the float32 states, masks and pooled vectors of the prompts.
"""
import json
import os
import shutil
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from diffusers import HunyuanSkyreelsImageToVideoPipeline  # noqa: E402
from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_skyreels_image2video import \
    DEFAULT_PROMPT_TEMPLATE  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
FOLDER = os.path.join(FIXTURES, "skyreels_i2v_mini")
OUT = os.path.join(FIXTURES, "skyreels_i2v_mini_seed_cache")
PROMPTS = ["A cat walks on the grass, realistic style.", "two blue cubes on a table"]
LENGTH = 8


def write(folder, prompts, pipeline, template):
    for sub in ["prompt_embed", "prompt_attention_mask"]:
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    items, expected = [], {}
    for i, prompt in enumerate(prompts):
        with torch.no_grad():
            embeds, pooled, mask = pipeline.encode_prompt(
                [prompt], prompt_template=template, max_sequence_length=LENGTH, device=torch.device("cpu"))
        row = F.pad(pooled, (0, embeds.shape[2] - pooled.shape[1])).unsqueeze(1)
        torch.save(torch.cat([row, embeds], dim=1)[0].to(torch.bfloat16),
                   os.path.join(folder, "prompt_embed", f"{i}.pt"))
        torch.save(mask[0].to(torch.long), os.path.join(folder, "prompt_attention_mask", f"{i}.pt"))
        items.append({"prompt_embed_path": f"{i}.pt", "prompt_attention_mask": f"{i}.pt", "caption": prompt})
        expected.update({f"prompt_embeds.{i}": embeds[0], f"attention_mask.{i}": mask[0].float(),
                         f"pooled.{i}": pooled[0]})
    with open(os.path.join(folder, "videos2caption.json"), "w") as f:
        json.dump(items, f, indent=4)
    return expected


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    pipeline = HunyuanSkyreelsImageToVideoPipeline.from_pretrained(FOLDER, torch_dtype=torch.float32)
    template = DEFAULT_PROMPT_TEMPLATE["template"]
    crop_start = len(pipeline.tokenizer(template.split("{}")[0])["input_ids"])
    template = {"template": template, "crop_start": crop_start}
    expected = write(os.path.join(OUT, "rl_embeddings"), PROMPTS, pipeline, template)
    empty = write(os.path.join(OUT, "empty"), [""], pipeline, template)
    expected.update({k.replace(".0", ".empty"): v for k, v in empty.items()})
    path = os.path.join(OUT, "expected.safetensors")
    save_file({k: v.float().contiguous() for k, v in expected.items()}, path)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({total / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
