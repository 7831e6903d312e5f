#!/usr/bin/env python3
"""A Qwen-Image-Edit cache in DanceGRPO's own layout, made by diffusers' `QwenImageEditPipeline` on the miniature
folder as the seed's preprocessing does, from the SEED-Data-Edit-style fixture
Tests/TestSupport/Fixtures/qwen_image_edit_seed_data/ (edit_data.jsonl and its images), for
Tests/TrainingTests/QwenImageEditTaskTests.swift (the trainer reads the seed's files) and the preprocessing parity test
(`dancegrpo preprocess --model qwen-image-edit` caches the same tensors).

    PATH="$PWD/.venv-tools/bin:$PATH" python3 tools/goldens/qwen_image_edit_seed_cache.py

Run tools/goldens/qwen_image_edit_mini.py first (the folder). The seed (fastvideo/data_preprocess/
preprocess_qwenimage_edit_embeddings.py at DanceGRPO 15cc71d5) per annotation line, one per call: opens
`source_image` under its images root as RGB; takes `calculate_dimensions(1024², w / h)`; resizes the image with the
pipeline's `image_processor.resize` to that size; `encode_prompt(image=resized, prompt=instruction)`; preprocesses the
resized image to [-1, 1] and `_encode_vae_image`s it; right-pads states and mask with zeros to 5000 tokens and
torch.saves states, mask and `image_latents[0]` ([z, 1, h, w]); the manifest adds `original_length` and the calculated
height and width:
https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/data_preprocess/preprocess_qwenimage_edit_embeddings.py

Deviations, to keep the fixture small: the area is 64² (metadata "target_area"; `calculate_dimensions` wrapped as in
qwen_image_edit_mini.py) and states and mask are padded to 256 tokens, not 5000 (the reader takes any padded length of
at least `original_length`). States and latents are stored in bf16 (the seed's pipeline runs in bf16; here it runs in
float32 and the results are cast), the mask as int64 (diffusers 0.35.0, the seed's, returns it; 0.42.1 returns None
for a full mask, stored as ones). The text encoder's forward is wrapped to receive `mm_token_type_ids` (see
qwen_image_edit_mini.py).

Writes Tests/TestSupport/Fixtures/qwen_image_edit_seed_cache/:
  prompt_embed/<i>.pt           [256, 32] bf16
  prompt_attention_mask/<i>.pt  [256] int64
  image_latents/<i>.pt          [4, 1, h, w] bf16
  videos2caption.json           as the seed's
and Tests/TestSupport/Fixtures/qwen_image_edit_seed_preprocess.safetensors: float32 "prompt_embeds.<i>" [L_i, 32] and
"image_latents.<i>" [4, 1, h, w].
"""
import json
import os
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import PIL.Image  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImageEditPipeline,  # noqa: E402
                       QwenImageTransformer2DModel)
from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration, Qwen2VLProcessor  # noqa: E402
from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor  # noqa: E402
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
FOLDER = os.path.join(FIXTURES, "qwen_image_edit_mini")
DATA = os.path.join(FIXTURES, "qwen_image_edit_seed_data")
OUT = os.path.join(FIXTURES, "qwen_image_edit_seed_cache")
TARGET_AREA = 64 * 64
PADDED = 256


def main():
    torch.set_num_threads(1)
    # The folder's processor/ holds only the image processor (its tokenizer is tokenizer/'s), so the pipeline is
    # assembled from its parts.
    def part(name):
        return os.path.join(FOLDER, name)

    tokenizer = AutoTokenizer.from_pretrained(part("tokenizer"))
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor.from_pretrained(part("processor")),
                                 tokenizer=tokenizer, video_processor=Qwen2VLVideoProcessor())
    text_encoder = Qwen2_5_VLForConditionalGeneration.from_pretrained(part("text_encoder")).eval()
    pipeline = QwenImageEditPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler.from_pretrained(part("scheduler")),
        vae=AutoencoderKLQwenImage.from_pretrained(part("vae")).eval(), text_encoder=text_encoder, tokenizer=tokenizer,
        processor=processor, transformer=QwenImageTransformer2DModel.from_pretrained(part("transformer")).eval())
    image_token_id = text_encoder.config.image_token_id
    forward = text_encoder.forward

    def forward_with_token_types(*args, input_ids=None, **kwargs):
        kwargs.setdefault("mm_token_type_ids", (input_ids == image_token_id).int())
        return forward(*args, input_ids=input_ids, **kwargs)

    text_encoder.forward = forward_with_token_types
    for sub in ["prompt_embed", "prompt_attention_mask", "image_latents"]:
        os.makedirs(os.path.join(OUT, sub), exist_ok=True)
    with open(os.path.join(DATA, "edit_data.jsonl"), encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    items, expected = [], {}
    for i, line in enumerate(lines):
        image = PIL.Image.open(os.path.join(DATA, line["source_image"])).convert("RGB")
        width, height, _ = pipeline_qwenimage_edit.calculate_dimensions(TARGET_AREA, image.size[0] / image.size[1])
        resized = pipeline.image_processor.resize(image, height, width)
        pixels = pipeline.image_processor.preprocess(resized, height, width).unsqueeze(2)
        with torch.no_grad():
            embeds, mask = pipeline.encode_prompt(image=resized, prompt=line["instruction"])
            latents = pipeline._encode_vae_image(image=pixels, generator=None)
        length = embeds.shape[1]
        assert mask is None or bool(mask.all()), "one sample per call: no padding inside"
        if mask is None:
            mask = torch.ones(1, length, dtype=torch.long)
        expected[f"prompt_embeds.{i}"] = embeds[0].float().contiguous()
        expected[f"image_latents.{i}"] = latents[0].float().contiguous()
        padded = F.pad(embeds, (0, 0, 0, PADDED - length), "constant", 0)[0].to(torch.bfloat16)
        padded_mask = F.pad(mask, (0, PADDED - length), "constant", 0)[0].to(torch.long)
        torch.save(padded, os.path.join(OUT, "prompt_embed", f"{i}.pt"))
        torch.save(padded_mask, os.path.join(OUT, "prompt_attention_mask", f"{i}.pt"))
        torch.save(latents[0].to(torch.bfloat16), os.path.join(OUT, "image_latents", f"{i}.pt"))
        items.append({"prompt_embed_path": f"{i}.pt", "prompt_attention_mask": f"{i}.pt", "image_latents": f"{i}.pt",
                      "caption": line["instruction"], "original_length": length, "calculated_height": height,
                      "calculated_width": width})
    with open(os.path.join(OUT, "videos2caption.json"), "w") as f:
        json.dump(items, f, indent=4)
    path = os.path.join(FIXTURES, "qwen_image_edit_seed_preprocess.safetensors")
    save_file(expected, path, metadata={"target_area": str(TARGET_AREA), "padded_length": str(PADDED)})
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({total / 1e3:.0f} kB) and {path} ({os.path.getsize(path) / 1e3:.0f} kB)")
    print("items", [(item["original_length"], item["calculated_height"], item["calculated_width"]) for item in items],
          "latents", [tuple(expected[f"image_latents.{i}"].shape) for i in range(len(items))])


if __name__ == "__main__":
    main()
