#!/usr/bin/env python3
"""A miniature Stable Diffusion v1 folder and its goldens (Tests/ModelsTests/SD/*.swift).

    scripts/tools-env.sh python3 tools/goldens/sd_pipeline.py

Builds every component of diffusers' StableDiffusionPipeline on tiny random configs and writes them with
`save_pretrained` into Tests/TestSupport/Fixtures/sd_mini/ — the layout of a real `data/stable-diffusion-v1-4` folder
(unet/, vae/, text_encoder/, tokenizer/, scheduler/, model_index.json). The scheduler folder holds SD v1.4's own
scheduler_config.json (a PNDMScheduler config: 1000 steps, scaled_linear 0.00085…0.012, steps_offset 1,
set_alpha_to_one false, clip_sample false), which DanceGRPO turns into a DDIMScheduler with `from_config`, as done
here. The CLIP tokenizer is the small BPE of tools/goldens/flux_pipeline.py (copied from flux_mini/tokenizer).

Then it writes Tests/TestSupport/Fixtures/sd_pipeline.safetensors with
  unet.*        the folder's UNet on fixed inputs (sample [B, 4, 8, 8], integer timesteps, context [B, 5, 32]);
  unet_b.*      a second UNet config (linear projections, two transformer layers, only-cross-attention, list-valued
                sizes, center_input_sample, flip_sin_to_cos false, freq_shift 1, upcast_attention), its weights under
                `unet_b.weights.<key>` and its config in the metadata;
  scheduler.*   the DDIM tables (alphas_cumprod, the 50- and 4-step timesteps);
  step.*        ddpo-pytorch's `ddim_step_with_logprob` (transcribed below from kvablack/ddpo-pytorch
                ddpo_pytorch/diffusers_patch/ddim_with_logprob.py@1958463, the file DanceGRPO copies) at η = 1 with
                per-sample timesteps: drawn from given noise, and scoring a given previous sample;
  step_v.*      the same for a v-prediction config with clip_sample and set_alpha_to_one true, trailing spacing;
  pipeline.*    StableDiffusionPipeline (4 DDIM steps, guidance 5, η 0) from fixed initial latents, two prompts:
                token ids, prompt and negative ("") embeddings, final latents and images [B, H, W, 3] in [0, 1];
  rollout.*     a 4-step η = 1 rollout with CFG 5 from the same latents and given per-step noise (the loop of
                DanceGRPO's pipeline_with_logprob with ddim_step_with_logprob): latents per step and log-probs.
Computation in float64 for a tight reference; weights saved as float32. Tensors are in PyTorch's channels-first layout.
"""
import json
import math
import os
import shutil

import torch
from diffusers import (AutoencoderKL, DDIMScheduler, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel)
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
FOLDER = os.path.join(FIXTURES, "sd_mini")
PROMPTS = ["a red fox in the snow", "Two blue cubes, on a table!"]
# CompVis/stable-diffusion-v1-4 scheduler/scheduler_config.json, verbatim.
SD14_SCHEDULER = {
    "_class_name": "PNDMScheduler", "_diffusers_version": "0.7.0.dev0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False,
    "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None, "clip_sample": False,
}
UNET = dict(
    sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 16, 32), layers_per_block=1,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=32, attention_head_dim=[2, 2, 4], norm_num_groups=8)
UNET_B = dict(
    sample_size=8, in_channels=4, out_channels=3, block_out_channels=(8, 16), layers_per_block=[1, 2],
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=32, attention_head_dim=2, norm_num_groups=4, norm_eps=1e-6, use_linear_projection=True,
    transformer_layers_per_block=2, only_cross_attention=True, center_input_sample=True,
    flip_sin_to_cos=False, freq_shift=1, upcast_attention=True, time_embedding_dim=24, downsample_padding=0,
    resnet_out_scale_factor=2.0, mid_block_scale_factor=1.5)
torch.manual_seed(0)


def perturb(module):
    """Random biases and norm affines too, so that every tensor matters (diffusers initialises many to 0/1)."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * (0.1 if p.dim() == 1 else 0.02))
    return module


# ddpo-pytorch's DDIM step with log-probability, transcribed (see the module docstring). Timesteps are a [B] tensor.
def left_broadcast(t, shape):
    return t.reshape(t.shape + (1,) * (len(shape) - t.ndim)).broadcast_to(shape)


def ddim_step_with_logprob(scheduler, model_output, timestep, sample, eta, prev_sample=None, noise=None):
    cfg = scheduler.config
    prev_timestep = timestep - cfg.num_train_timesteps // scheduler.num_inference_steps
    prev_timestep = torch.clamp(prev_timestep, 0, cfg.num_train_timesteps - 1)
    alpha_prod_t = scheduler.alphas_cumprod.gather(0, timestep)
    alpha_prod_t_prev = torch.where(prev_timestep >= 0, scheduler.alphas_cumprod.gather(0, prev_timestep),
                                    scheduler.final_alpha_cumprod)
    variance = (1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev)
    alpha_prod_t = left_broadcast(alpha_prod_t, sample.shape)
    alpha_prod_t_prev = left_broadcast(alpha_prod_t_prev, sample.shape)
    beta_prod_t = 1 - alpha_prod_t
    if cfg.prediction_type == "epsilon":
        pred_original = (sample - beta_prod_t ** 0.5 * model_output) / alpha_prod_t ** 0.5
        pred_epsilon = model_output
    elif cfg.prediction_type == "v_prediction":
        pred_original = alpha_prod_t ** 0.5 * sample - beta_prod_t ** 0.5 * model_output
        pred_epsilon = alpha_prod_t ** 0.5 * model_output + beta_prod_t ** 0.5 * sample
    else:
        raise ValueError(cfg.prediction_type)
    if cfg.clip_sample:
        pred_original = pred_original.clamp(-cfg.clip_sample_range, cfg.clip_sample_range)
    std_dev_t = left_broadcast(eta * variance ** 0.5, sample.shape)
    direction = (1 - alpha_prod_t_prev - std_dev_t ** 2) ** 0.5 * pred_epsilon
    mean = alpha_prod_t_prev ** 0.5 * pred_original + direction
    if prev_sample is None:
        prev_sample = mean + std_dev_t * noise
    log_prob = (-((prev_sample.detach() - mean) ** 2) / (2 * std_dev_t ** 2) - torch.log(std_dev_t)
                - torch.log(torch.sqrt(2 * torch.as_tensor(math.pi))))
    log_prob = log_prob.mean(dim=tuple(range(1, log_prob.ndim)))
    return prev_sample.type(sample.dtype), log_prob, mean, pred_original


def step_goldens(prefix, scheduler, golden, g):
    b = 3
    steps = scheduler.num_inference_steps
    picks = [0, steps // 2, steps - 1]
    timesteps = scheduler.timesteps[picks].long()
    model_output = torch.randn(b, 4, 8, 8, generator=g, dtype=torch.float64)
    sample = torch.randn(b, 4, 8, 8, generator=g, dtype=torch.float64)
    noise = torch.randn(b, 4, 8, 8, generator=g, dtype=torch.float64)
    given = torch.randn(b, 4, 8, 8, generator=g, dtype=torch.float64)
    drawn, drawn_log_prob, mean, x0 = ddim_step_with_logprob(scheduler, model_output, timesteps, sample, 1.0, noise=noise)
    _, given_log_prob, _, _ = ddim_step_with_logprob(scheduler, model_output, timesteps, sample, 1.0, prev_sample=given)
    golden.update({
        f"{prefix}.timesteps": timesteps.to(torch.int32), f"{prefix}.model_output": model_output,
        f"{prefix}.sample": sample, f"{prefix}.noise": noise, f"{prefix}.prev_sample": drawn,
        f"{prefix}.log_prob": drawn_log_prob, f"{prefix}.mean": mean, f"{prefix}.pred_original": x0,
        f"{prefix}.given_prev_sample": given, f"{prefix}.given_log_prob": given_log_prob,
    })
    if prefix == "step":
        # diffusers' own DDIMScheduler.step agrees for SD's config (set_alpha_to_one false makes the clamp harmless).
        for i, t in enumerate(timesteps.tolist()):
            ref = scheduler.step(model_output[i:i + 1], t, sample[i:i + 1], eta=1.0,
                                 variance_noise=noise[i:i + 1]).prev_sample
            assert torch.allclose(ref, drawn[i:i + 1], atol=1e-10), (t, (ref - drawn[i:i + 1]).abs().max())


def main():
    shutil.rmtree(FOLDER, ignore_errors=True)
    os.makedirs(FOLDER)

    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(FIXTURES, "flux_mini", "tokenizer"))
    text_encoder = perturb(CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=32, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)))
    unet = perturb(UNet2DConditionModel(**UNET))
    vae = perturb(AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
        block_out_channels=[8, 16], layers_per_block=1, latent_channels=4, norm_num_groups=4, sample_size=16,
        scaling_factor=0.18215))
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=PNDMScheduler.from_config(SD14_SCHEDULER), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(FOLDER, safe_serialization=True)
    with open(os.path.join(FOLDER, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(SD14_SCHEDULER, f, indent=2)
    for name in ("vocab.json", "merges.txt"):  # what the Swift loader reads (transformers 5 writes tokenizer.json only)
        shutil.copyfile(os.path.join(FIXTURES, "flux_mini", "tokenizer", name), os.path.join(FOLDER, "tokenizer", name))
    scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.scheduler = scheduler
    pipe.to(torch.float64)

    golden = {}
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        # UNet on fixed inputs.
        sample = torch.randn(2, 4, 8, 8, generator=g, dtype=torch.float64)
        timesteps = torch.tensor([981, 1])
        context = torch.randn(2, 5, 32, generator=g, dtype=torch.float64)
        golden.update({"unet.sample": sample, "unet.timesteps": timesteps.to(torch.int32), "unet.context": context,
                       "unet.output": unet(sample, timesteps, encoder_hidden_states=context).sample})

        unet_b = perturb(UNet2DConditionModel(**UNET_B)).to(torch.float64)
        golden.update({f"unet_b.weights.{k}": v for k, v in unet_b.state_dict().items()})
        timesteps_b = torch.tensor([500.0, 20.0])
        golden.update({"unet_b.sample": sample, "unet_b.timesteps": timesteps_b, "unet_b.context": context,
                       "unet_b.output": unet_b(sample, timesteps_b, encoder_hidden_states=context).sample})

        # Scheduler tables and single steps.
        scheduler.set_timesteps(50)
        golden["scheduler.alphas_cumprod"] = scheduler.alphas_cumprod
        golden["scheduler.timesteps_50"] = scheduler.timesteps.to(torch.int32)
        step_goldens("step", scheduler, golden, g)
        v_config = dict(SD14_SCHEDULER, _class_name="DDIMScheduler", prediction_type="v_prediction", clip_sample=True,
                        clip_sample_range=1.5, set_alpha_to_one=True, timestep_spacing="trailing", steps_offset=0)
        v_scheduler = DDIMScheduler.from_config(v_config)
        v_scheduler.set_timesteps(10)
        golden["step_v.scheduler_timesteps"] = v_scheduler.timesteps.to(torch.int32)
        step_goldens("step_v", v_scheduler, golden, g)
        scheduler.set_timesteps(4)
        golden["scheduler.timesteps_4"] = scheduler.timesteps.to(torch.int32)

        # The pipeline: 4 DDIM steps, CFG 5, η 0, from fixed latents.
        latents = torch.randn(2, 4, 8, 8, generator=g, dtype=torch.float64)
        ids = tokenizer(PROMPTS, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        uncond_ids = tokenizer([""], padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        prompt_embeds, negative_embeds = pipe.encode_prompt(PROMPTS, "cpu", 1, True)
        run = dict(prompt=PROMPTS, num_inference_steps=4, guidance_scale=5.0, eta=0.0, height=16, width=16)
        final_latents = pipe(**run, latents=latents.clone(), output_type="latent").images
        images = pipe(**run, latents=latents.clone(), output_type="np").images
        golden.update({"pipeline.ids": ids.to(torch.int32), "pipeline.uncond_ids": uncond_ids.to(torch.int32),
                       "pipeline.prompt_embeds": prompt_embeds, "pipeline.negative_embeds": negative_embeds[:1],
                       "pipeline.initial_latents": latents, "pipeline.final_latents": final_latents,
                       "pipeline.images": torch.from_numpy(images)})

        # A rollout with log-probs: DanceGRPO's pipeline_with_logprob loop, η = 1, given per-step noise.
        scheduler.set_timesteps(4)
        embeds = torch.cat([negative_embeds, prompt_embeds])
        x = latents.clone()
        all_latents, all_log_probs, noises = [x], [], []
        for t in scheduler.timesteps:
            eps = unet(torch.cat([x] * 2), t, encoder_hidden_states=embeds).sample
            uncond, cond = eps.chunk(2)
            eps = uncond + 5.0 * (cond - uncond)
            noise = torch.randn(x.shape, generator=g, dtype=torch.float64)
            x, log_prob, _, _ = ddim_step_with_logprob(scheduler, eps, t.repeat(x.shape[0]).long(), x, 1.0, noise=noise)
            all_latents.append(x)
            all_log_probs.append(log_prob)
            noises.append(noise)
        golden.update({"rollout.noise": torch.stack(noises), "rollout.latents": torch.stack(all_latents),
                       "rollout.log_probs": torch.stack(all_log_probs)})

    golden = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in golden.items()}
    metadata = {
        "unet_b_config": json.dumps(dict(unet_b.config)),
        "step_v_config": json.dumps(v_config),
        "run": json.dumps({"prompts": PROMPTS, "steps": 4, "guidance": 5.0, "eta": 0.0, "size": 16}),
    }
    save_file(golden, os.path.join(FIXTURES, "sd_pipeline.safetensors"), metadata=metadata)
    print("wrote", FOLDER, "and sd_pipeline.safetensors;", "unet parameters:", sum(p.numel() for p in unet.parameters()))


if __name__ == "__main__":
    main()
