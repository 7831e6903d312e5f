#!/usr/bin/env python3
"""The seed's HunyuanVideo GRPO rollout (fastvideo/train_grpo_hunyuan.py, `run_sample_step` with `flux_step`) on the
miniature folder and the seed-layout cache, for Tests/TrainingTests/HunyuanVideoGRPOParityTests.swift: the trajectory,
each transition's Gaussian mean and log-probability, and the decoded latent, which `HunyuanVideoTask`'s policy on the
flow chain's Dance SDE must reproduce.

    .venv-tools/bin/python3 tools/goldens/hunyuan_video_grpo_rollout.py
    (after tools/goldens/hunyuan_video_seed_cache.py)

What the seed does, written out (its script imports its whole training stack, so the steps are restated here):
- σ = sd3_time_shift(shift, linspace(1, 0, T + 1)) with shift 5, T = 4 (float32 linspace, as torch gives it);
- at step i the transformer gets τ = int(σ_i · 1000) and the guidance `torch.tensor([6018.0], dtype=bfloat16)`
  (6016 once rounded), `encoder_hidden_states` the cached packed rows [B, 1 + L, D] (its hunyuan_hf model takes row 0's
  first pooled_projection_dim features as the pooled vector and rows 1… as the states) and the cached mask;
- flux_step with sde_solver: x̂0 = x − σv; mean = x + dσ·v − ½η²·ŝ·dσ with ŝ = −(x − (1 − σ)x̂0)/σ²;
  std = η√(σ − σ′); log p = mean over elements of −(x′ − mean)²/(2 std²) − log std − log √(2π); η 0.25;
- the decoded latent is the last step's x̂0.
The transformer is diffusers' HunyuanVideoTransformer3DModel from hunyuan_video_mini/transformer (the seed's hunyuan_hf
copy of it splits the packed rows as above, then runs the same model), in float64 from the float32 weights; the
initial noise and every step's noise are drawn here (seeded) and stored, so the Swift test scores the same
trajectory.

Writes Tests/TestSupport/Fixtures/hunyuan_video_grpo_rollout.safetensors: `latents` [2, T + 1, 4, 2, 4, 4]
(x_0 … x_T), `means` [2, T, 4, 2, 4, 4], `log_probs` [2, T], `timesteps` [T], `sigmas` [T + 1], `decoded`
[2, 4, 2, 4, 4], and the captions (the cache's first and last) in the metadata.
"""
import json
import math
import os
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import torch  # noqa: E402
from diffusers import HunyuanVideoTransformer3DModel  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
CACHE = os.path.join(FIXTURES, "hunyuan_video_mini_embeddings")
STEPS, SHIFT, ETA = 4, 5.0, 0.25
FILES = [0, 2]


def main():
    torch.manual_seed(0)
    transformer = HunyuanVideoTransformer3DModel.from_pretrained(
        os.path.join(FIXTURES, "hunyuan_video_mini", "transformer")).double().eval()
    with open(os.path.join(CACHE, "videos2caption.json")) as f:
        manifest = json.load(f)
    packed = torch.stack([torch.load(os.path.join(CACHE, "prompt_embed", manifest[i]["prompt_embed_path"]))
                          for i in FILES]).double()
    mask = torch.stack([torch.load(os.path.join(CACHE, "prompt_attention_mask", manifest[i]["prompt_attention_mask"]))
                        for i in FILES])
    pooled_dim = transformer.config.pooled_projection_dim
    pooled, states = packed[:, 0, :pooled_dim], packed[:, 1:]

    t = torch.linspace(1, 0, STEPS + 1)  # float32, as the seed's
    sigmas = SHIFT * t / (1 + (SHIFT - 1) * t)
    timesteps = [int(s * 1000) for s in sigmas[:STEPS]]
    guidance = torch.tensor([6018.0], dtype=torch.bfloat16).double()
    assert guidance.item() == 6016

    b = len(FILES)
    x = torch.randn(b, 4, 2, 4, 4, dtype=torch.float64)
    latents, means, log_probs = [x], [], []
    with torch.no_grad():
        for i in range(STEPS):
            sigma, sigma_next = sigmas[i].double().item(), sigmas[i + 1].double().item()
            v = transformer(hidden_states=x, timestep=torch.full([b], timesteps[i], dtype=torch.long),
                            encoder_hidden_states=states, encoder_attention_mask=mask, pooled_projections=pooled,
                            guidance=guidance.expand(b), return_dict=False)[0]
            d_sigma = sigma_next - sigma
            x0 = x - sigma * v
            score = -(x - x0 * (1 - sigma)) / sigma ** 2
            mean = x + d_sigma * v + (-0.5 * ETA ** 2 * score) * d_sigma
            std = ETA * math.sqrt(sigma - sigma_next)
            nxt = mean + torch.randn_like(mean) * std
            lp = (-((nxt - mean) ** 2) / (2 * std ** 2) - math.log(std) - math.log(math.sqrt(2 * math.pi)))
            latents.append(nxt)
            means.append(mean)
            log_probs.append(lp.mean(dim=tuple(range(1, lp.ndim))))
            x = nxt
    tensors = {"latents": torch.stack(latents, 1), "means": torch.stack(means, 1),
               "log_probs": torch.stack(log_probs, 1), "timesteps": torch.tensor(timesteps, dtype=torch.float64),
               "sigmas": sigmas.double(), "decoded": x0}
    path = os.path.join(FIXTURES, "hunyuan_video_grpo_rollout.safetensors")
    save_file({k: v.float().contiguous() for k, v in tensors.items()}, path,
              metadata={"captions": json.dumps([manifest[i]["caption"] for i in FILES]), "steps": str(STEPS),
                        "shift": str(SHIFT), "eta": str(ETA), "guidance": "6016"})
    print(f"wrote {path} ({os.path.getsize(path) / 1e3:.0f} kB); timesteps {timesteps}; log-probs",
          tensors["log_probs"].tolist())


if __name__ == "__main__":
    main()
