#!/usr/bin/env python3
"""A miniature Qwen-Image-Edit folder and diffusers' QwenImageEditPipeline run on it from fixed latents (true CFG
against a negative prompt), for Tests/ModelsTests/QwenImage/QwenImageEditPipelineTests.swift and the
`sample --model qwen-image-edit` CLI test.

    PATH="$PWD/.venv-tools/bin:$PATH" python3 tools/goldens/qwen_image_edit_mini.py

Run tools/goldens/qwen_image_mini.py first: this folder reuses its modules. Writes
Tests/TestSupport/Fixtures/qwen_image_edit_mini/ with diffusers'/transformers' own `save_pretrained`: transformer/,
vae/, scheduler/, tokenizer/ as qwen_image_mini's; text_encoder/ the same Qwen2.5-VL (a 32-wide language model and a
one-block vision tower, patch 2, merge 2) with `image_token_id` / `vision_start_token_id` set to the tiny tokenizer's
ids for `<|image_pad|>` / `<|vision_start|>`; processor/ the image processor's preprocessor_config.json (patch 2,
merge 2, max_pixels 384 so that the 96×64 condition image is resized again, to 16×24, for the vision tower); and
model_index.json. The processor's tokenizer files are left out: the tokenizer is tokenizer/'s.

The condition image is also written as qwen_image_edit_mini_condition.png. And
qwen_image_edit_mini_pipeline.safetensors for one prompt, 2 images per prompt, 32×32 px, 3 steps,
true_cfg_scale 4 with a negative prompt, from the 40×24 8-bit "condition_image":
  latents [2, 4, 16]              the packed initial noise (`sample --initial-noise` reads this key)
  final_latents [2, 4, 16]        output_type="latent"
  images [2, 32, 32, 3]           output_type="np"
  condition_resized [64, 96, 3]   the condition image after VaeImageProcessor.resize (PIL Lanczos) to the size
                                  calculate_dimensions gives
  image_latents [1, 24, 16]       its VAE latents (argmax), normalised and packed
  lanczos_down [23, 37, 3]        condition_resized shrunk by PIL's Lanczos (the support widened by the scale)
  vision_image [16, 24, 3]        the resized image after the Qwen2-VL processor's own resize (torch bicubic)
  input_ids, position_ids         the processor's ids for the templated prompt and get_rope_index's [3, 1, L]
  prompt_embeds, negative_prompt_embeds   encode_prompt's (masks are None: one row each)

Target area: diffusers fixes the condition image's area at 1024² (calculate_dimensions(1024 * 1024, w / h)); here the
module's calculate_dimensions is wrapped to use TARGET_AREA = 64² so that the fixture stays small (metadata
"target_area"). The Swift pipeline takes the area as a parameter defaulting to 1024².

Rotary positions: with transformers 5 the language model computes get_rope_index's 3-axis positions only when it is
given `mm_token_type_ids`, which diffusers 0.42.1 does not pass (it would fall back to 1-D positions 0..L-1, unlike
transformers 4, which derived the same 3-axis positions from input_ids). The text encoder's forward is wrapped so that
it receives them: the image tokens get (t, row, column) positions as Qwen2.5-VL was trained with.
float32 throughout, as the pipeline runs. Seeded.
"""
import json
import os
import shutil
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402
import torch  # noqa: E402
from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImageEditPipeline,  # noqa: E402
                       QwenImageTransformer2DModel)
from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration, Qwen2VLProcessor  # noqa: E402
from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor  # noqa: E402
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
SOURCE = os.path.join(FIXTURES, "qwen_image_mini")
FOLDER = os.path.join(FIXTURES, "qwen_image_edit_mini")
PROMPT = "Turn the sky purple \u7d2b\u8272 and add 3 stars \u2b50"
NEGATIVE = "blurry, low quality"
STEPS, SIZE, CFG, PER_PROMPT = 3, 32, 4.0, 2
CONDITION = (24, 40)  # height, width of the condition image
TARGET_AREA = 64 * 64
PROCESSOR = dict(patch_size=2, temporal_patch_size=2, merge_size=2, min_pixels=64, max_pixels=384)


def condition_image(rng, h, w):
    y, x = np.mgrid[0:h, 0:w]
    base = 127 + 100 * np.sin(x[..., None] / 4.0 + np.arange(3)) * np.cos(y[..., None] / 5.0)
    noise = rng.integers(-50, 51, size=(h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    shutil.rmtree(FOLDER, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(SOURCE, "tokenizer"))
    tokenizer.save_pretrained(os.path.join(FOLDER, "tokenizer"))
    text_encoder = Qwen2_5_VLForConditionalGeneration.from_pretrained(os.path.join(SOURCE, "text_encoder")).eval()
    image_token_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    text_encoder.config.image_token_id = image_token_id
    text_encoder.config.vision_start_token_id = tokenizer.convert_tokens_to_ids("<|vision_start|>")
    text_encoder.config.vision_end_token_id = tokenizer.convert_tokens_to_ids("<|vision_end|>")
    text_encoder.config.video_token_id = tokenizer.convert_tokens_to_ids("<|video_pad|>")
    text_encoder.save_pretrained(os.path.join(FOLDER, "text_encoder"))
    transformer = QwenImageTransformer2DModel.from_pretrained(os.path.join(SOURCE, "transformer")).eval()
    transformer.save_pretrained(os.path.join(FOLDER, "transformer"))
    vae = AutoencoderKLQwenImage.from_pretrained(os.path.join(SOURCE, "vae")).eval()
    vae.save_pretrained(os.path.join(FOLDER, "vae"))
    scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(os.path.join(SOURCE, "scheduler"))
    scheduler.save_pretrained(os.path.join(FOLDER, "scheduler"))
    image_processor = Qwen2VLImageProcessor(**PROCESSOR)
    image_processor.save_pretrained(os.path.join(FOLDER, "processor"))
    processor = Qwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                 video_processor=Qwen2VLVideoProcessor())
    pipeline = QwenImageEditPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                     processor=processor, transformer=transformer)
    pipeline.save_config(FOLDER)  # model_index.json

    # See the docstring: the image tokens' 3-axis rotary positions.
    forward = text_encoder.forward

    def forward_with_token_types(*args, input_ids=None, **kwargs):
        kwargs.setdefault("mm_token_type_ids", (input_ids == image_token_id).int())
        return forward(*args, input_ids=input_ids, **kwargs)

    text_encoder.forward = forward_with_token_types
    dimensions = pipeline_qwenimage_edit.calculate_dimensions
    pipeline_qwenimage_edit.calculate_dimensions = lambda area, ratio: dimensions(TARGET_AREA, ratio)

    rng = np.random.default_rng(31)
    source = condition_image(rng, *CONDITION)
    image = PIL.Image.fromarray(source)
    image.save(os.path.join(FIXTURES, "qwen_image_edit_mini_condition.png"))  # `sample --image` of the CLI test
    width, height, _ = pipeline_qwenimage_edit.calculate_dimensions(None, CONDITION[1] / CONDITION[0])
    resized = pipeline.image_processor.resize(image, height, width)
    with torch.no_grad():
        embeds, mask = pipeline.encode_prompt(prompt=PROMPT, image=resized)
        negative, negative_mask = pipeline.encode_prompt(prompt=NEGATIVE, image=resized)
        assert mask is None and negative_mask is None
        inputs = processor(text=[pipeline.prompt_template_encode.format(PROMPT)], images=resized, padding=True,
                           return_tensors="pt")
        positions, _ = text_encoder.model.get_rope_index(
            inputs["input_ids"], mm_token_type_ids=inputs["mm_token_type_ids"],
            image_grid_thw=inputs["image_grid_thw"], attention_mask=inputs["attention_mask"])
        vision_image = image_processor.resize(
            torch.from_numpy(np.asarray(resized)).permute(2, 0, 1).unsqueeze(0).contiguous(),
            size=image_processor.size.__class__(shortest_edge=PROCESSOR["min_pixels"],
                                                longest_edge=PROCESSOR["max_pixels"]),
            resample=image_processor.resample, factor=PROCESSOR["patch_size"] * PROCESSOR["merge_size"])
        t, gh, gw = inputs["image_grid_thw"][0].tolist()
        assert vision_image.shape[-2:] == (gh * PROCESSOR["patch_size"], gw * PROCESSOR["patch_size"])
        pixels = pipeline.image_processor.preprocess(resized, height, width).unsqueeze(2)
        _, image_latents = pipeline.prepare_latents(pixels, 1, 4, SIZE, SIZE, torch.float32, "cpu", None,
                                                    latents=torch.zeros(1, 4, 16))

        latents = torch.randn(PER_PROMPT, (SIZE // 16) ** 2, 16, generator=torch.Generator().manual_seed(7))
        kwargs = dict(image=image, prompt=PROMPT, negative_prompt=NEGATIVE, true_cfg_scale=CFG, height=SIZE,
                      width=SIZE, num_inference_steps=STEPS, num_images_per_prompt=PER_PROMPT)
        final = pipeline(**kwargs, latents=latents.clone(), output_type="latent").images
        images = pipeline(**kwargs, latents=latents.clone(), output_type="np").images
    assert final.shape == latents.shape and images.shape == (PER_PROMPT, SIZE, SIZE, 3), (final.shape, images.shape)
    path = os.path.join(FIXTURES, "qwen_image_edit_mini_pipeline.safetensors")
    tensors = {
        "latents": latents, "final_latents": final.float(), "images": torch.from_numpy(images).float(),
        "condition_image": torch.from_numpy(source), "condition_resized": torch.from_numpy(np.asarray(resized)),
        "vision_image": vision_image[0].permute(1, 2, 0),
        "lanczos_down": torch.from_numpy(np.asarray(resized.resize((37, 23), PIL.Image.LANCZOS))), "image_latents": image_latents.float(),
        "input_ids": inputs["input_ids"].int(), "position_ids": positions.int(), "prompt_embeds": embeds.float(),
        "negative_prompt_embeds": negative.float(),
    }
    save_file({k: v.contiguous() for k, v in tensors.items()}, path,
              metadata={"prompt": PROMPT, "negative_prompt": NEGATIVE, "true_cfg_scale": str(CFG),
                        "steps": str(STEPS), "height": str(SIZE), "width": str(SIZE),
                        "images_per_prompt": str(PER_PROMPT), "target_area": str(TARGET_AREA),
                        "condition_size": json.dumps([height, width])})
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(FOLDER) for f in fs)
    print(f"wrote {FOLDER} ({total / 1e3:.0f} kB) and {path} ({os.path.getsize(path) / 1e3:.0f} kB)")
    print("condition", (height, width), "grid", (t, gh, gw), "embeds", tuple(embeds.shape), "negative",
          tuple(negative.shape), "final max", final.abs().max().item(), "images range", images.min(), images.max())


if __name__ == "__main__":
    main()
