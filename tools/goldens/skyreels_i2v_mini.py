#!/usr/bin/env python3
"""A miniature SkyReels-V1 image-to-video folder and diffusers' HunyuanSkyreelsImageToVideoPipeline run on it from
fixed latents (Tests/ModelsTests/HunyuanVideo/HunyuanSkyreelsImageToVideoPipelineTests.swift,
Tests/CommandLineTests/SkyReelsI2VCommandTests.swift).

    .venv-tools/bin/python3 tools/goldens/skyreels_i2v_mini.py   (after tools/goldens/hunyuan_video_mini.py)

Writes Tests/TestSupport/Fixtures/skyreels_i2v_mini/: transformer/ (HunyuanVideoTransformer3DModel as
hunyuan_video_mini's but with in_channels 8 = the VAE's 4 latent channels twice, out_channels 4, as SkyReels' 32 → 16)
saved by diffusers' own `save_pretrained`; vae/, scheduler/ and the text parts copied from hunyuan_video_mini/.

skyreels_i2v_mini_pipeline.safetensors: `HunyuanSkyreelsImageToVideoPipeline.__call__` for 2 prompts with one
condition image of 36×44 px (8-bit, resized by the pipeline's VideoProcessor to 32×32 with PIL's Lanczos), 5 frames,
3 steps, embedded guidance 1 (SkyReels' default), text at 32 tokens, true CFG 6 against a negative prompt (SkyReels'
default), from fixed `latents` [2, 4, 2, 4, 4]; `image_noise` [2, 4, 1, 4, 4] is the ε the posterior sample of the
image draws from the pipeline's generator (recomputed from the same seed and checked); outputs: the preprocessed image
[1, 3, 32, 32], the image latents [2, 4, 2, 4, 4] (with the zero frame after the first), the final latents, the
decoded video [2, 5, 32, 32, 3] in [0, 1], and the final latents without true CFG (no negative prompt). Weights
perturbed so every tensor matters; the pipeline runs in float64 from the float32 weights saved.
skyreels_i2v_mini_image.png: the condition image.
"""
import json
import os
import shutil
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402
import torch  # noqa: E402
from diffusers import (AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler,  # noqa: E402
                       HunyuanSkyreelsImageToVideoPipeline, HunyuanVideoTransformer3DModel)
from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_skyreels_image2video import \
    DEFAULT_PROMPT_TEMPLATE  # noqa: E402
from diffusers.utils.torch_utils import randn_tensor  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoTokenizer, CLIPTextModel, CLIPTokenizer, LlamaModel  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
BASE = os.path.join(FIXTURES, "hunyuan_video_mini")
FOLDER = os.path.join(FIXTURES, "skyreels_i2v_mini")
PROMPTS = ["A cat walks on the grass, realistic style.", "two blue cubes on a table"]
NEGATIVE = "blurry, low quality"
MAX_SEQUENCE_LENGTH, STEPS, GUIDANCE, TRUE_CFG = 32, 3, 1.0, 6.0
IMAGE_SEED = 11


def perturb(model, scale):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
            else:
                p.add_(scale * torch.randn_like(p))


def main():
    torch.manual_seed(0)
    shutil.rmtree(FOLDER, ignore_errors=True)
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=8, out_channels=4, num_attention_heads=2, attention_head_dim=8, num_layers=1, num_single_layers=1,
        num_refiner_layers=1, mlp_ratio=2.0, patch_size=2, patch_size_t=1, qk_norm="rms_norm", guidance_embeds=True,
        text_embed_dim=32, pooled_projection_dim=16, rope_theta=256.0, rope_axes_dim=[2, 2, 4]).eval()
    perturb(transformer, 0.05)
    transformer.save_pretrained(os.path.join(FOLDER, "transformer"), safe_serialization=True)
    for part in ("vae", "scheduler", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"):
        shutil.copytree(os.path.join(BASE, part), os.path.join(FOLDER, part))
    with open(os.path.join(BASE, "model_index.json")) as f:
        index = json.load(f)
    index["_class_name"] = "HunyuanSkyreelsImageToVideoPipeline"
    with open(os.path.join(FOLDER, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)

    # A smooth image with texture, 36×44, so that the resize to 32×32 matters on both axes.
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:36, 0:44]
    base = np.stack([128 + 90 * np.sin(xx / 5.0), 128 + 90 * np.cos(yy / 4.0), 64 + 3 * (xx + yy)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    image = PIL.Image.fromarray(pixels, "RGB")
    image.save(os.path.join(FIXTURES, "skyreels_i2v_mini_image.png"))

    vae = AutoencoderKLHunyuanVideo.from_pretrained(os.path.join(FOLDER, "vae")).double().eval()
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(FOLDER, "tokenizer"))
    template = DEFAULT_PROMPT_TEMPLATE["template"]
    crop_start = len(tokenizer(template.split("{}")[0])["input_ids"])
    pipeline = HunyuanSkyreelsImageToVideoPipeline(
        text_encoder=LlamaModel.from_pretrained(os.path.join(FOLDER, "text_encoder")).double().eval(),
        tokenizer=tokenizer, transformer=transformer.double(), vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler.from_pretrained(os.path.join(FOLDER, "scheduler")),
        text_encoder_2=CLIPTextModel.from_pretrained(os.path.join(FOLDER, "text_encoder_2")).double().eval(),
        tokenizer_2=CLIPTokenizer.from_pretrained(os.path.join(FOLDER, "tokenizer_2")))
    common = dict(image=[image, image], prompt=PROMPTS, height=32, width=32, num_frames=5, num_inference_steps=STEPS,
                  guidance_scale=GUIDANCE, max_sequence_length=MAX_SEQUENCE_LENGTH,
                  prompt_template={"template": template, "crop_start": crop_start})
    latents = torch.randn(2, 4, 2, 4, 4, generator=torch.Generator().manual_seed(7))

    # prepare_latents draws the posterior sample of image i with the generator (one draw per image, in order, in
    # the VAE's dtype): the same draws from the same seed are the ε the Swift side is given.
    gen = torch.Generator().manual_seed(IMAGE_SEED)
    image_noise = torch.cat([randn_tensor((1, 4, 1, 4, 4), generator=gen, dtype=torch.float64) for _ in range(2)])

    captured = {}
    original_prepare = pipeline.prepare_latents

    def prepare(*args, **kwargs):
        out = original_prepare(*args, **kwargs)
        captured["pixels"], captured["image_latents"] = args[0].clone(), out[1].clone()
        return out
    pipeline.prepare_latents = prepare

    with torch.no_grad():
        pixels_pt = pipeline.video_processor.preprocess(image, height=32, width=32).double()
        posterior = vae.encode(pixels_pt.unsqueeze(2)).latent_dist
        expected_image_latents = (posterior.mean + posterior.std * image_noise) * vae.config.scaling_factor
        guided = pipeline(latents=latents.clone(), output_type="latent", negative_prompt=NEGATIVE,
                          true_cfg_scale=TRUE_CFG, generator=torch.Generator().manual_seed(IMAGE_SEED),
                          **common).frames
        # prepare_latents casts the image latents to float32 (its `dtype`), then the transformer input to float64.
        assert torch.allclose(captured["image_latents"][:, :, :1].double(), expected_image_latents, atol=1e-6)
        assert captured["image_latents"][:, :, 1:].abs().max() == 0
        assert torch.allclose(captured["pixels"][:1].double(), pixels_pt)
        decoded = vae.decode(guided / vae.config.scaling_factor).sample
        video = (decoded / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 4, 1)
        np_video = pipeline(latents=latents.clone(), output_type="np", negative_prompt=NEGATIVE,
                            true_cfg_scale=TRUE_CFG, generator=torch.Generator().manual_seed(IMAGE_SEED),
                            **common).frames
        assert torch.allclose(torch.from_numpy(np_video).double(), video, atol=1e-6)
        plain = pipeline(latents=latents.clone(), output_type="latent",
                         generator=torch.Generator().manual_seed(IMAGE_SEED), **common).frames
    assert not torch.allclose(plain, guided, atol=1e-3)
    # "latents" and "image_noise": the keys `dancegrpo sample --initial-noise` reads.
    tensors = {"latents": latents, "image_noise": image_noise, "pixels": pixels_pt,
               "image_latents": captured["image_latents"], "final_latents": guided, "video": video,
               "final_latents_no_cfg": plain}
    out = {k: v.float().contiguous() for k, v in tensors.items()}
    out["image"] = torch.from_numpy(pixels.copy())
    path = os.path.join(FIXTURES, "skyreels_i2v_mini_pipeline.safetensors")
    save_file(out, path,
              metadata={"prompts": json.dumps(PROMPTS), "negative_prompt": NEGATIVE, "guidance": str(GUIDANCE),
                        "true_cfg_scale": str(TRUE_CFG), "steps": str(STEPS), "frames": "5", "height": "32",
                        "width": "32", "max_sequence_length": str(MAX_SEQUENCE_LENGTH), "crop_start": str(crop_start)})
    print(f"wrote {path} ({os.path.getsize(path) / 1e3:.0f} kB) and {FOLDER}; crop_start", crop_start,
          "latent scale", guided.abs().max().item(), "image latent scale", captured["image_latents"].abs().max().item(),
          "video range", video.min().item(), video.max().item(), "cfg effect", (plain - guided).abs().max().item())


if __name__ == "__main__":
    main()
