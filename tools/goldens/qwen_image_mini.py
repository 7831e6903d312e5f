#!/usr/bin/env python3
"""A miniature Qwen-Image folder and diffusers' QwenImagePipeline run on it from fixed latents (true CFG against a
negative prompt), for Tests/ModelsTests/QwenImage/QwenImagePipelineTests.swift and the `sample --model qwen-image`
CLI test.

    PATH="$PWD/.venv-tools/bin:$PATH" python3 tools/goldens/qwen_image_mini.py

Writes Tests/TestSupport/Fixtures/qwen_image_mini/ with diffusers'/transformers' own `save_pretrained`:
transformer/ (QwenImageTransformer2DModel: 2 layers, 2 heads × 8, in 16 = 4 latent channels × 2×2, joint dim 32),
vae/ (AutoencoderKLQwenImage: base_dim 4, z_dim 4, spatial 8), text_encoder/ (Qwen2.5-VL with a 32-wide 2-layer
language model), tokenizer/ (the tiny Qwen2 tokenizer tools/goldens/qwen2vl_text.py trains, from its transformers 4
files), scheduler/ (FlowMatchEulerDiscreteScheduler with Qwen-Image's settings: dynamic shifting with base/max shift
0.5/0.9 over 256…8192 tokens, exponential time shift, shift_terminal 0.02) and model_index.json; and
qwen_image_mini_pipeline.safetensors: "latents" (packed [2, 4, 16], the layout the pipeline takes), "final_latents"
(output_type="latent", packed) and "images" ([2, 32, 32, 3] in [0, 1], output_type="np") for 2 prompts, 32×32 px,
3 steps, true_cfg_scale 4 with a negative prompt; plus "sigmas" and "timesteps" of the scheduler as the pipeline set
it, and "schedule.<name>.sigmas" of two more scheduler settings (SCHEDULES: the linear time shift, a static shift,
each with shift_terminal). float32 throughout, as the pipeline runs. Seeded; weights perturbed so that every tensor matters.
"""
import json
import os
import shutil
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImagePipeline,  # noqa: E402
                       QwenImageTransformer2DModel)
from diffusers.pipelines.qwenimage.pipeline_qwenimage import calculate_shift  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoTokenizer, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
FOLDER = os.path.join(FIXTURES, "qwen_image_mini")
PROMPTS = ["A cat walks on the grass, realistic style.", "\u4e00\u53ea\u732b\u5728\u96ea\u5730\u91cc \U0001f431 2024"]
NEGATIVE = "blurry, low quality"
STEPS, SIZE, CFG = 3, 32, 4.0
# Further FlowMatchEulerDiscreteScheduler settings, set as the Qwen-Image pipeline sets them (sigmas linspace(1, 1/T),
# mu of calculate_shift for an image sequence length): the linear time shift with a terminal stretch, and a static shift with one; "schedule.<name>.sigmas".
SCHEDULES = [  # (name, config, steps, image sequence length)
    ("linear_terminal", dict(use_dynamic_shifting=True, time_shift_type="linear", base_shift=0.5, max_shift=0.9,
                             base_image_seq_len=256, max_image_seq_len=8192, shift_terminal=0.1), 5, 1024),
    ("static_terminal", dict(shift=3.0, shift_terminal=0.05), 4, 0),
]


def perturb(model, scale):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma") or ("norm" in name and name.endswith("weight")):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
            else:
                p.add_(scale * torch.randn_like(p))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    shutil.rmtree(FOLDER, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(FIXTURES, "tokenizers", "qwen2", "legacy"))
    tokenizer.save_pretrained(os.path.join(FOLDER, "tokenizer"))
    config = Qwen2_5_VLConfig(
        text_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=32, vocab_size=len(tokenizer), rms_norm_eps=1e-6,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]},
                         bos_token_id=None, eos_token_id=None, pad_token_id=None),
        vision_config=dict(depth=1, patch_size=2, hidden_size=16, out_hidden_size=32, num_heads=2, intermediate_size=32,
                           fullatt_block_indexes=[0]),
        tie_word_embeddings=True, attn_implementation="eager")
    text_encoder = Qwen2_5_VLForConditionalGeneration(config).eval()
    perturb(text_encoder, 0.05)
    text_encoder.save_pretrained(os.path.join(FOLDER, "text_encoder"))
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=8, num_attention_heads=2,
        joint_attention_dim=32, guidance_embeds=False, axes_dims_rope=[2, 2, 4]).eval()
    perturb(transformer, 0.05)
    transformer.save_pretrained(os.path.join(FOLDER, "transformer"))
    vae = AutoencoderKLQwenImage(
        base_dim=4, z_dim=4, dim_mult=[1, 2, 2, 2], num_res_blocks=1, attn_scales=[],
        temperal_downsample=[False, True, True], dropout=0.0, input_channels=3,
        latents_mean=[0.31, -0.62, 0.05, 1.2], latents_std=[1.7, 0.45, 2.3, 1.1]).eval()
    perturb(vae, 0.02)
    vae.save_pretrained(os.path.join(FOLDER, "vae"))
    # Qwen/Qwen-Image's scheduler/scheduler_config.json settings.
    scheduler = FlowMatchEulerDiscreteScheduler(
        base_image_seq_len=256, base_shift=0.5, invert_sigmas=False, max_image_seq_len=8192, max_shift=0.9,
        num_train_timesteps=1000, shift=1.0, shift_terminal=0.02, stochastic_sampling=False,
        time_shift_type="exponential", use_beta_sigmas=False, use_dynamic_shifting=True,
        use_exponential_sigmas=False, use_karras_sigmas=False)
    scheduler.save_pretrained(os.path.join(FOLDER, "scheduler"))
    pipeline = QwenImagePipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                 transformer=transformer)
    pipeline.save_config(FOLDER)  # model_index.json

    latents = torch.randn(2, (SIZE // 16) ** 2, 16, generator=torch.Generator().manual_seed(7))
    kwargs = dict(prompt=PROMPTS, negative_prompt=NEGATIVE, true_cfg_scale=CFG, height=SIZE, width=SIZE,
                  num_inference_steps=STEPS)
    with torch.no_grad():
        final = pipeline(**kwargs, latents=latents.clone(), output_type="latent").images
        sigmas, timesteps = pipeline.scheduler.sigmas.clone(), pipeline.scheduler.timesteps.clone()
        images = pipeline(**kwargs, latents=latents.clone(), output_type="np").images
    assert final.shape == latents.shape and images.shape == (2, SIZE, SIZE, 3), (final.shape, images.shape)
    schedules = {}
    for name, config, steps, tokens in SCHEDULES:
        variant = FlowMatchEulerDiscreteScheduler(**config)
        c = variant.config
        mu = calculate_shift(tokens, c.base_image_seq_len, c.max_image_seq_len, c.base_shift, c.max_shift)
        variant.set_timesteps(sigmas=np.linspace(1.0, 1 / steps, steps), mu=mu)
        schedules[f"schedule.{name}.sigmas"] = variant.sigmas.float().contiguous()
    path = os.path.join(FIXTURES, "qwen_image_mini_pipeline.safetensors")
    # "latents": the key `dancegrpo sample --initial-noise` reads, so the file itself is the CLI test's noise.
    save_file({"latents": latents, "final_latents": final.contiguous().float(),
               "images": torch.from_numpy(images).float().contiguous(), "sigmas": sigmas.float(),
               "timesteps": timesteps.float(), **schedules},
              path, metadata={"prompts": json.dumps(PROMPTS), "negative_prompt": NEGATIVE, "true_cfg_scale": str(CFG),
                              "steps": str(STEPS), "height": str(SIZE), "width": str(SIZE),
                              "schedules": json.dumps([{"name": n, "config": c, "steps": k, "image_seq_len": m}
                                                       for n, c, k, m in SCHEDULES])})
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(FOLDER) for f in fs)
    print(f"wrote {FOLDER} ({total / 1e3:.0f} kB) and {path} ({os.path.getsize(path) / 1e3:.0f} kB)")
    print("sigmas", sigmas.tolist(), "final max", final.abs().max().item(), "images range",
          images.min(), images.max())


if __name__ == "__main__":
    main()
