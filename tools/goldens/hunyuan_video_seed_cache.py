#!/usr/bin/env python3
"""An embedding cache in DanceGRPO's own HunyuanVideo layout, made from the miniature HunyuanVideo folder
(Tests/TrainingTests/HunyuanVideoTaskTests.swift, Tests/CommandLineTests/HunyuanVideoTrainCommandTests.swift):
`train --model hunyuan-video` must read the seed's files, and `preprocess --model hunyuan-video` must write the same
tensors.

    .venv-tools/bin/python3 tools/goldens/hunyuan_video_seed_cache.py   (after tools/goldens/hunyuan_video_mini.py)

The seed's preprocessing (fastvideo/data_preprocess/preprocess_hunyuan_embeddings.py, --model_type hunyuan_hf) runs
`HunyuanTextEncoderWrapper.encode_prompt` (fastvideo/utils/load.py) one prompt per call: the Llama side puts the
prompt in the video template, tokenizes it padded and truncated to text_len + crop_start tokens, takes
`hidden_states[-(2 + 1)]` (no final norm) and cuts the first crop_start positions from states and mask; the CLIP side
takes `pooler_output` of the prompt at 77 tokens with its mask; then the pooled vector is zero-padded to the Llama
width and put before the states. Those steps are written out here with transformers' modules (the seed's TextEncoder
class needs its whole package), run in float64 from the folder's float32 weights, and checked against diffusers'
`HunyuanVideoPipeline.encode_prompt`.

Writes Tests/TestSupport/Fixtures/hunyuan_video_mini_embeddings/:
  prompt_embed/<i>.pt           torch.save of one float32 tensor [1 + 32, 32] (the seed: [1 + 256, 4096] float16)
  prompt_attention_mask/<i>.pt  torch.save of one int64 tensor [32] (the seed: [256])
  videos2caption.json           [{prompt_embed_path, prompt_attention_mask, caption}], as the seed writes it
  expected.safetensors          the same tensors as float32, keys "<folder>/<i>" (read by the command-line tests)
Float32 rather than the seed's float16 (its text encoders' precision) so that the Swift preprocessing can be compared
within 1e-4; the reader takes either. text_len is 32 instead of 256 to keep the files small; crop_start is the
miniature tokenizer's count of the template's prefix, as hunyuan_video_mini.py counts it.
"""
import json
import os
import shutil
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from diffusers import HunyuanVideoPipeline  # noqa: E402
from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video import DEFAULT_PROMPT_TEMPLATE  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoTokenizer, CLIPTextModel, CLIPTokenizer, LlamaModel  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
FOLDER = os.path.join(FIXTURES, "hunyuan_video_mini")
OUT = os.path.join(FIXTURES, "hunyuan_video_mini_embeddings")
# Short, middling and past TEXT_LEN tokens (cut there) with the miniature tokenizer's small vocabulary.
CAPTIONS = ["a cat", "two blue cubes on a table", "A cat walks on the grass, realistic style, sunny afternoon."]
TEXT_LEN = 32


def main():
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(FOLDER, "tokenizer"))
    llama = LlamaModel.from_pretrained(os.path.join(FOLDER, "text_encoder")).double().eval()
    tokenizer_2 = CLIPTokenizer.from_pretrained(os.path.join(FOLDER, "tokenizer_2"))
    clip = CLIPTextModel.from_pretrained(os.path.join(FOLDER, "text_encoder_2")).double().eval()
    template = DEFAULT_PROMPT_TEMPLATE["template"]
    crop_start = len(tokenizer(template.split("{}")[0])["input_ids"])

    def seed_encode(caption):
        """HunyuanTextEncoderWrapper.encode_prompt for one caption: packed states [1 + L, D], mask [L]."""
        llm_inputs = tokenizer(template.format(caption), truncation=True, max_length=TEXT_LEN + crop_start,
                               padding="max_length", return_tensors="pt")
        out = llama(input_ids=llm_inputs["input_ids"], attention_mask=llm_inputs["attention_mask"],
                    output_hidden_states=True)
        states = out.hidden_states[-(2 + 1)][:, crop_start:]
        mask = llm_inputs["attention_mask"][:, crop_start:]
        clip_inputs = tokenizer_2(caption, truncation=True, max_length=77, padding="max_length", return_tensors="pt")
        pooled = clip(input_ids=clip_inputs["input_ids"], attention_mask=clip_inputs["attention_mask"]).pooler_output
        pooled = F.pad(pooled, (0, states.shape[2] - pooled.shape[1]), value=0).unsqueeze(1)
        return torch.cat([pooled, states], dim=1)[0], mask[0], states[0], pooled[0, 0]

    pipeline = HunyuanVideoPipeline(text_encoder=llama, tokenizer=tokenizer, text_encoder_2=clip,
                                    tokenizer_2=tokenizer_2, transformer=None, vae=None, scheduler=None)
    shutil.rmtree(OUT, ignore_errors=True)
    for sub in ("prompt_embed", "prompt_attention_mask"):
        os.makedirs(os.path.join(OUT, sub))
    items, expected = [], {}
    with torch.no_grad():
        for i, caption in enumerate(CAPTIONS):
            packed, mask, states, pooled = seed_encode(caption)
            embeds, pooled_d, mask_d = pipeline.encode_prompt(
                caption, prompt_template={"template": template, "crop_start": crop_start},
                max_sequence_length=TEXT_LEN, device=torch.device("cpu"))
            assert torch.allclose(embeds[0], states, atol=1e-10) and torch.equal(mask_d[0].long(), mask.long())
            assert torch.allclose(pooled_d[0], pooled[:pooled_d.shape[1]], atol=1e-10)
            name = f"{i}.pt"
            torch.save(packed.float().contiguous(), os.path.join(OUT, "prompt_embed", name))
            torch.save(mask.long().contiguous(), os.path.join(OUT, "prompt_attention_mask", name))
            expected[f"prompt_embed/{i}"] = packed.float().contiguous()
            expected[f"prompt_attention_mask/{i}"] = mask.float().contiguous()
            items.append({"prompt_embed_path": name, "prompt_attention_mask": name, "caption": caption})
    with open(os.path.join(OUT, "videos2caption.json"), "w") as f:
        json.dump(items, f, indent=4)
    save_file(expected, os.path.join(OUT, "expected.safetensors"),
              metadata={"crop_start": str(crop_start), "max_sequence_length": str(TEXT_LEN)})
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({size / 1e3:.0f} kB); crop_start {crop_start}; mask sums",
          [int(torch.load(os.path.join(OUT, "prompt_attention_mask", f"{i}.pt")).sum()) for i in range(3)])


if __name__ == "__main__":
    main()
