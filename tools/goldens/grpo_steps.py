#!/usr/bin/env python3
"""Reference values for the GRPO step, advantage, loss and KL tests (Tests/SamplingTests/FlowStepGoldenTests.swift,
Tests/GRPOTests/GRPOGoldenTests.swift).

Run from the package root (needs torch and safetensors; see tools/requirements.txt):

    scripts/tools-env.sh python3 tools/goldens/grpo_steps.py

It writes Tests/TestSupport/Fixtures/grpo_steps.safetensors. Everything is a plain-torch float32 transcription of the
formulas as written in docs/dancegrpo-spec.md §2.2/§4 and in the reference samplers they cite (DanceGRPO `flux_step`,
Flow-GRPO `sde_step_with_logprob` with sde_type "sde" and "cps", Flow-GRPO's KL term, DDPO's per-prompt tracker);
no reference file is imported or copied. Seeded.

Keys
- `schedule.sigmas`: torch.linspace(1, 0, T+1) bent by the shift s·t/(1+(s−1)t), T = 8, s = 3.
- `x`, `v`, `noise`, `given_next` [3, 4, 8]: the inputs of every step case.
- `<sampler>.step<i>.<field>` for sampler in dance (η 0.3), flowsde (noise level 0.7), cps (noise level 0.8) and
  steps i ∈ {0 (σ = 1), 3, 7 (σ' = 0)}: `sigma`, `sigma_next` (scalars), `mean`, `sample` (= mean + std·noise),
  `pred_original`, `logprob_drawn` (of `sample`), `logprob_given` (of `given_next`), `std`, `noise_scale` (the
  reference's std_dev_t).
- `adv.group.rewards` [12] → `adv.group.out`: groups of 4, (r − mean)/(unbiased std + 1e-8), clamp ±5.
  `adv.clip.rewards` [50] (one outlier) → `adv.clip.out`, one group of 50 (clipped at 5).
  `adv.global.rewards` [4], `adv.global.gathered` [8] → `adv.global.out`.
- `loss.logp`, `loss.old`, `loss.adv` [6], clip range 0.2, normalizer 3 → `loss.value` (sum of
  max(−A r, −A clip(r, 1±ε)) / normalizer), `loss.ratio`, `loss.clipfrac`, `loss.grad` (d value / d logp).
- `kl.v_ref` [3, 4, 8]; `kl.<sampler>.ref_mean`, `kl.<sampler>.value` [3] at step 3: mean over elements of
  (μ(v) − μ(v_ref))² / (2·std_dev_t²).
- `tracker.prompts{1,2}` (int ids), `tracker.rewards{1,2}` → `tracker.adv{1,2}`: DDPO's tracker (buffer 4, min count 3,
  population std + 1e-6, batch statistics below min count) over two consecutive calls.
"""
import math
import os
from collections import deque

import numpy as np
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures", "grpo_steps.safetensors")
T = {}


def put(key, t):
    assert key not in T, key
    t = torch.as_tensor(t).detach().contiguous()
    if t.dtype == torch.float64:
        t = t.float()
    T[key] = t.clone()


STEPS, SHIFT = 8, 3.0
grid = torch.linspace(1, 0, STEPS + 1, dtype=torch.float32)
sigmas = SHIFT * grid / (1 + (SHIFT - 1) * grid)
put("schedule.sigmas", sigmas)

shape = (3, 4, 8)
x = torch.randn(shape)
v = torch.randn(shape)
noise = torch.randn(shape)
given_next = torch.randn(shape)
v_ref = v + 0.05 * torch.randn(shape)
put("x", x)
put("v", v)
put("noise", noise)
put("given_next", given_next)
put("kl.v_ref", v_ref)


def elementwise_mean(t):
    return t.mean(dim=tuple(range(1, t.ndim)))


def gaussian_logprob(sample, mean, std):
    per = -((sample - mean) ** 2) / (2 * std**2) - torch.log(std) - torch.log(torch.sqrt(torch.tensor(2 * math.pi)))
    return elementwise_mean(per)


def dance(v, sigma, sigma_next, eta=0.3):
    """DanceGRPO flux_step (sde_solver), fastvideo/train_grpo_flux.py at 22b85ef."""
    dsigma = sigma_next - sigma
    x0 = x - sigma * v
    score = -(x - x0 * (1 - sigma)) / sigma**2
    mean = x + dsigma * v + (-0.5 * eta**2 * score) * dsigma
    std = eta * torch.sqrt(sigma - sigma_next)
    return mean, std, torch.tensor(eta), x0, "gauss"


def flowsde(v, sigma, sigma_next, level=0.7):
    """Flow-GRPO sde_type='sde': a(σ) = level·sqrt(σ/(1−σ)), with 1−σ replaced by 1−sigmas[1] at σ = 1."""
    dt = sigma_next - sigma
    denominator_sigma = torch.where(sigma == 1, sigmas[1], sigma)
    a = torch.sqrt(sigma / (1 - denominator_sigma)) * level
    mean = x * (1 + a**2 / (2 * sigma) * dt) + v * (1 + a**2 * (1 - sigma) / (2 * sigma)) * dt
    std = a * torch.sqrt(-dt)
    return mean, std, a, x - sigma * v, "gauss"


def cps(v, sigma, sigma_next, level=0.8):
    """Flow-GRPO sde_type='cps': std σ'·sin(level·π/2); log-prob −(x'−μ)² without constants."""
    std = sigma_next * math.sin(level * math.pi / 2)
    x0 = x - sigma * v
    x1 = x + (1 - sigma) * v
    mean = x0 * (1 - sigma_next) + x1 * torch.sqrt(torch.clamp(sigma_next**2 - std**2, min=0))
    return mean, std, std, x0, "cps"


def logprob(kind, sample, mean, std):
    if kind == "gauss":
        return gaussian_logprob(sample, mean, std)
    return elementwise_mean(-((sample - mean) ** 2))


for name, fn in [("dance", dance), ("flowsde", flowsde), ("cps", cps)]:
    for i in [0, 3, 7]:
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        mean, std, scale, x0, kind = fn(v, sigma, sigma_next)
        sample = mean + std * noise
        p = f"{name}.step{i}."
        put(p + "sigma", sigma)
        put(p + "sigma_next", sigma_next)
        put(p + "mean", mean)
        put(p + "sample", sample)
        put(p + "pred_original", x0)
        put(p + "std", torch.as_tensor(std, dtype=torch.float32))
        put(p + "noise_scale", torch.as_tensor(scale, dtype=torch.float32))
        put(p + "logprob_drawn", logprob(kind, sample, mean, torch.as_tensor(std)))
        put(p + "logprob_given", logprob(kind, given_next, mean, torch.as_tensor(std)))
    # KL penalty at step 3 against the reference velocity.
    sigma, sigma_next = sigmas[3], sigmas[4]
    mean, _, scale, _, _ = fn(v, sigma, sigma_next)
    ref_mean, _, _, _, _ = fn(v_ref, sigma, sigma_next)
    put(f"kl.{name}.ref_mean", ref_mean)
    put(f"kl.{name}.value", elementwise_mean((mean - ref_mean) ** 2) / (2 * torch.as_tensor(scale) ** 2))


def group_advantages(rewards, group, eps=1e-8, clip=5.0):
    g = rewards.view(-1, group)
    a = (g - g.mean(dim=1, keepdim=True)) / (g.std(dim=1, keepdim=True) + eps)
    return a.reshape(-1).clamp(-clip, clip)


rewards = torch.rand(12)
put("adv.group.rewards", rewards)
put("adv.group.out", group_advantages(rewards, 4))
outlier = torch.cat([torch.rand(49) * 0.01, torch.tensor([3.0])])
put("adv.clip.rewards", outlier)
put("adv.clip.out", group_advantages(outlier, 50))
local, gathered = torch.rand(4), torch.rand(8)
gathered[:4] = local
put("adv.global.rewards", local)
put("adv.global.gathered", gathered)
put("adv.global.out", ((local - gathered.mean()) / (gathered.std() + 1e-8)).clamp(-5, 5))

logp = (torch.randn(6) * 0.3).requires_grad_()
old = torch.randn(6) * 0.3
adv = torch.randn(6)
ratio = torch.exp(logp - old)
value = torch.maximum(-adv * ratio, -adv * torch.clamp(ratio, 1 - 0.2, 1 + 0.2)).sum() / 3
(grad,) = torch.autograd.grad(value, logp)
put("loss.logp", logp)
put("loss.old", old)
put("loss.adv", adv)
put("loss.value", value)
put("loss.ratio", ratio)
put("loss.clipfrac", ((ratio - 1).abs() > 0.2).float().mean())
put("loss.grad", grad)


class Tracker:
    """DDPO's per-prompt tracker: deque buffer per prompt, batch statistics below min_count, population std."""

    def __init__(self, buffer_size, min_count):
        self.buffer_size, self.min_count, self.stats = buffer_size, min_count, {}

    def update(self, prompts, rewards):
        prompts, rewards = np.array(prompts), np.array(rewards, dtype=np.float64)
        out = np.empty_like(rewards)
        for prompt in np.unique(prompts):
            mine = rewards[prompts == prompt]
            buf = self.stats.setdefault(prompt, deque(maxlen=self.buffer_size))
            buf.extend(mine)
            if len(buf) < self.min_count:
                mean, std = np.mean(rewards), np.std(rewards) + 1e-6
            else:
                mean, std = np.mean(buf), np.std(buf) + 1e-6
            out[prompts == prompt] = (mine - mean) / std
        return out


tracker = Tracker(buffer_size=4, min_count=3)
rng = np.random.default_rng(0)
for call, prompts in [(1, [0, 0, 1, 1, 2, 0]), (2, [1, 1, 0, 0, 2, 2])]:
    r = rng.random(len(prompts))
    put(f"tracker.prompts{call}", torch.tensor(prompts, dtype=torch.int32))
    put(f"tracker.rewards{call}", torch.tensor(r, dtype=torch.float64).float())
    # The tracker sees the float32-rounded rewards, as the Swift side does.
    put(f"tracker.adv{call}", torch.tensor(tracker.update(prompts, torch.tensor(r).float().double().numpy())))

save_file(T, OUT, metadata={"torch": torch.__version__, "generator": "tools/goldens/grpo_steps.py"})
print(f"wrote {len(T)} tensors to {os.path.normpath(OUT)}")
