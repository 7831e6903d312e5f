#!/usr/bin/env python3
"""A miniature HunyuanVideo folder and diffusers' HunyuanVideoPipeline run on it from fixed latents
(Tests/ModelsTests/HunyuanVideo/HunyuanVideoPipelineTests.swift, Tests/CommandLineTests/HunyuanVideoCommandTests.swift).

    .venv-tools/bin/python3 tools/goldens/hunyuan_video_mini.py   (after tools/goldens/hunyuan_video_text.py)

Writes Tests/TestSupport/Fixtures/hunyuan_video_mini/ with diffusers' own `save_pretrained`: transformer/
(HunyuanVideoTransformer3DModel: 2 heads × 8, one double, one single and one refiner block, text_embed_dim 32 and
pooled_projection_dim 16 to take the miniature Llama and CLIP), vae/ (AutoencoderKLHunyuanVideo: four blocks of 4
channels, latent_channels 4, spatial 8×, temporal 4×), scheduler/ (FlowMatchEulerDiscreteScheduler, shift 7 as the
released folder), the text parts copied from hunyuan_video_text/ (Llama 3 tokenizer and LlamaModel, CLIP-L's) and
model_index.json.

hunyuan_video_mini_pipeline.safetensors: `HunyuanVideoPipeline.__call__` for 2 prompts, 5 frames of 32×32, 3 steps,
embedded guidance 6, text at 32 tokens with the default template (its crop_start as the miniature tokenizer counts
the template's prefix), from fixed `latents` [2, 4, 2, 4, 4] (the layout the pipeline takes): the final latents
(`output_type="latent"`), the decoded video [2, 5, 32, 32, 3] in [0, 1] (`output_type="np"`), the prompt embeds, mask
and pooled embeds, and the final latents with true CFG 2.5 against a negative prompt. The weights are perturbed so
that every tensor matters; the pipeline runs in float64 from the float32 weights saved (outputs stored as float32).
Seeded: reruns give the same tensors (the file's bytes may differ in its header's order).
"""
import json
import os
import shutil
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import torch  # noqa: E402
from diffusers import (AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler, HunyuanVideoPipeline,  # noqa: E402
                       HunyuanVideoTransformer3DModel)
from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video import DEFAULT_PROMPT_TEMPLATE  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoTokenizer, CLIPTextModel, CLIPTokenizer, LlamaModel  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
TEXT = os.path.join(FIXTURES, "hunyuan_video_text")
FOLDER = os.path.join(FIXTURES, "hunyuan_video_mini")
PROMPTS = ["A cat walks on the grass, realistic style.", "two blue cubes on a table"]
NEGATIVE = "blurry, low quality"
MAX_SEQUENCE_LENGTH, STEPS, GUIDANCE, TRUE_CFG = 32, 3, 6.0, 2.5


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
        in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=8, num_layers=1, num_single_layers=1,
        num_refiner_layers=1, mlp_ratio=2.0, patch_size=2, patch_size_t=1, qk_norm="rms_norm", guidance_embeds=True,
        text_embed_dim=32, pooled_projection_dim=16, rope_theta=256.0, rope_axes_dim=[2, 2, 4]).eval()
    perturb(transformer, 0.05)
    transformer.save_pretrained(os.path.join(FOLDER, "transformer"), safe_serialization=True)
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[4, 4, 4, 4], layers_per_block=1,
        norm_num_groups=2, scaling_factor=0.476986, spatial_compression_ratio=8, temporal_compression_ratio=4,
        mid_block_add_attention=True).eval()
    perturb(vae, 0.02)
    with torch.no_grad():  # weights × 1.5 (as hunyuan_video_vae.py) so the latents move the video visibly
        for name, p in vae.named_parameters():
            if p.dim() > 1:
                p.mul_(1.5)
    vae.save_pretrained(os.path.join(FOLDER, "vae"), safe_serialization=True)
    # hunyuanvideo-community/HunyuanVideo scheduler/scheduler_config.json: shift 7, no dynamic shifting.
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=7.0, use_dynamic_shifting=False)
    scheduler.save_pretrained(os.path.join(FOLDER, "scheduler"))
    for part in ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"):
        shutil.copytree(os.path.join(TEXT, part), os.path.join(FOLDER, part))
    with open(os.path.join(FOLDER, "model_index.json"), "w") as f:
        json.dump({"_class_name": "HunyuanVideoPipeline",
                   "transformer": ["diffusers", "HunyuanVideoTransformer3DModel"],
                   "vae": ["diffusers", "AutoencoderKLHunyuanVideo"],
                   "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
                   "text_encoder": ["transformers", "LlamaModel"], "tokenizer": ["transformers", "LlamaTokenizerFast"],
                   "text_encoder_2": ["transformers", "CLIPTextModel"],
                   "tokenizer_2": ["transformers", "CLIPTokenizer"]},
                  f, indent=2)

    tokenizer = AutoTokenizer.from_pretrained(os.path.join(FOLDER, "tokenizer"))
    template = DEFAULT_PROMPT_TEMPLATE["template"]
    crop_start = len(tokenizer(template.split("{}")[0])["input_ids"])
    pipeline = HunyuanVideoPipeline(
        text_encoder=LlamaModel.from_pretrained(os.path.join(FOLDER, "text_encoder")).double().eval(),
        tokenizer=tokenizer, transformer=transformer.double(), vae=vae.double(), scheduler=scheduler,
        text_encoder_2=CLIPTextModel.from_pretrained(os.path.join(FOLDER, "text_encoder_2")).double().eval(),
        tokenizer_2=CLIPTokenizer.from_pretrained(os.path.join(FOLDER, "tokenizer_2")))
    common = dict(prompt=PROMPTS, height=32, width=32, num_frames=5, num_inference_steps=STEPS,
                  guidance_scale=GUIDANCE, max_sequence_length=MAX_SEQUENCE_LENGTH,
                  prompt_template={"template": template, "crop_start": crop_start})
    latents = torch.randn(2, 4, 2, 4, 4, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        embeds, pooled, mask = pipeline.encode_prompt(
            PROMPTS, prompt_template=common["prompt_template"], max_sequence_length=MAX_SEQUENCE_LENGTH,
            device=torch.device("cpu"))
        final = pipeline(latents=latents.clone(), output_type="latent", **common).frames
        np_video = pipeline(latents=latents.clone(), output_type="np", **common).frames
        decoded = pipeline.vae.decode(final / pipeline.vae.config.scaling_factor).sample
        # postprocess_video's [-1, 1] -> [0, 1] and channels-last, kept in float64 (its numpy output is float32).
        video = (decoded / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 4, 1)
        assert torch.allclose(torch.from_numpy(np_video).double(), video, atol=1e-6)
        true_cfg = pipeline(latents=latents.clone(), output_type="latent", negative_prompt=NEGATIVE,
                            true_cfg_scale=TRUE_CFG, **common).frames
    assert not torch.allclose(true_cfg, final, atol=1e-3)
    # "latents": the key `dancegrpo sample --initial-noise` reads, so the file itself is the CLI test's noise.
    tensors = {"latents": latents, "final_latents": final, "video": video,
               "final_latents_true_cfg": true_cfg, "prompt_embeds": embeds, "prompt_attention_mask": mask,
               "pooled_prompt_embeds": pooled}
    path = os.path.join(FIXTURES, "hunyuan_video_mini_pipeline.safetensors")
    save_file({k: v.float().contiguous() for k, v in tensors.items()}, path,
              metadata={"prompts": json.dumps(PROMPTS), "negative_prompt": NEGATIVE, "guidance": str(GUIDANCE),
                        "true_cfg_scale": str(TRUE_CFG), "steps": str(STEPS), "frames": "5", "height": "32",
                        "width": "32", "max_sequence_length": str(MAX_SEQUENCE_LENGTH), "crop_start": str(crop_start)})
    folder_size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(FOLDER) for f in fs)
    print(f"wrote {path} ({os.path.getsize(path) / 1e3:.0f} kB) and {FOLDER} ({folder_size / 1e3:.0f} kB);",
          "crop_start", crop_start, "latent scale", final.abs().max().item(), "video range",
          video.min().item(), video.max().item())


if __name__ == "__main__":
    main()
