#!/usr/bin/env python3
"""PyTorch CPU side of `make bench-grpo`: seconds per GRPO iteration of DanceGRPO's FLUX training loop on a tiny FLUX.

A transcription of the loop of DanceGRPO's `fastvideo/train_grpo_flux.py` (no file copied; linked below), on CPU,
float32, `torch.set_num_threads(--threads)` (default 2):
- rollout without grad, batch 1 per sample (as DanceGRPO): T = 8 Dance-SDE steps (η 0.3, shift 3), network fed
  trunc(1000σ)/1000 and guidance 3.5, latents x_0..x_T and log-probs stored;
- reward: a cheap deterministic function of the last step's x̂0, −mean|x̂0| (stands in for HPS);
- advantages per group of G = 4 (unbiased std + 1e-8), clipped to ±5;
- for each sample, a random permutation of its T−1 transitions, the first K = floor(7·0.6) = 4 trained one by one:
  forward with grad, log-prob of the stored next latent, PPO-clipped loss / (accumulation·K), backward;
- every `--accumulation` (4) samples: global grad-norm clip 1.0, AdamW (lr 1e-5, betas (0.9, 0.999), eps 1e-8,
  weight decay 1e-4) step, zero_grad.
Model: diffusers FluxTransformer2DModel(in_channels 64, 1 double + 2 single blocks, 4 heads of 32 (inner 128),
joint_attention_dim 64, pooled 32, guidance_embeds, axes_dims_rope [8, 12, 12]); 64 image tokens (a 16×16 latent
packed 2×2), 16 text tokens of random embeddings per prompt; 2 prompts × 4 generations.

    .venv-tools/bin/python tools/bench/grpo_loop.py --write-weights DIR   # the weights both sides load
    .venv-tools/bin/python tools/bench/grpo_loop.py --weights DIR [--json] [--warmup 1] [--repeats 3] [--threads 2]
                                                   [--batched]

`--batched` does the same work with batched network calls, as Flow-GRPO's trainer does (`iteration_batched`): the
rollout steps all 8 samples in one call; training takes each optimizer window's 16 trained transitions (4 samples × K,
each row its own σ) in one call, the per-row losses summed, then clips and steps. Same gradients as the seed's loop.

The Swift twin is `dancegrpo-bench grpo` (Benchmarks/dancegrpo-bench/GRPOBench.swift); keep the two in step.
DanceGRPO's file: https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch

CONFIG = dict(patch_size=1, in_channels=64, num_layers=1, num_single_layers=2, attention_head_dim=32,
              num_attention_heads=4, joint_attention_dim=64, pooled_projection_dim=32, guidance_embeds=True,
              axes_dims_rope=[8, 12, 12])
PROMPTS, GENERATIONS, STEPS, SHIFT, ETA, FRACTION = 2, 4, 8, 3.0, 0.3, 0.6
LATENT_SIDE, TEXT_TOKENS = 16, 16
ACCUMULATION, CLIP_RANGE, ADV_CLIP, MAX_GRAD_NORM, LR, WEIGHT_DECAY = 4, 1e-4, 5.0, 1.0, 1e-5, 1e-4


def sigma_schedule():
    t = torch.linspace(1, 0, STEPS + 1)
    return SHIFT * t / (1 + (SHIFT - 1) * t)


def dance_step(v, x, sigma, sigma_next, next_sample=None):
    """DanceGRPO flux_step: mean with the score correction, std η√(σ−σ'), per-element Gaussian log-prob averaged.
    σ and σ' are floats (one step for the whole batch) or [B, 1, 1] tensors (one step per row)."""
    dsigma = sigma_next - sigma
    x0 = x - sigma * v
    score = -(x - x0 * (1 - sigma)) / sigma**2
    mean = x + dsigma * v - 0.5 * ETA**2 * score * dsigma
    std = ETA * torch.sqrt(torch.as_tensor(sigma - sigma_next))
    if next_sample is None:
        next_sample = mean + std * torch.randn_like(mean)
    logp = -((next_sample.detach() - mean) ** 2) / (2 * std**2) - torch.log(std) - math.log(math.sqrt(2 * math.pi))
    return next_sample, x0, logp.mean(dim=tuple(range(1, logp.ndim)))


TRAINABLE = STEPS - 1
TRAINED = int(TRAINABLE * FRACTION)


def group_advantages(rewards):
    """Per group of GENERATIONS: (r − mean) / (unbiased std + 1e-8), clipped to ±ADV_CLIP."""
    groups = rewards.view(PROMPTS, GENERATIONS)
    advantages = ((groups - groups.mean(1, keepdim=True)) / (groups.std(1, keepdim=True) + 1e-8)).reshape(-1)
    return advantages.clamp(-ADV_CLIP, ADV_CLIP)


class Loop:
    def __init__(self, weights):
        from diffusers import FluxTransformer2DModel

        self.model = FluxTransformer2DModel.from_pretrained(weights, torch_dtype=torch.float32)
        self.model.train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8,
                                           weight_decay=WEIGHT_DECAY)
        g = torch.Generator().manual_seed(1)
        text = torch.randn(PROMPTS, TEXT_TOKENS, CONFIG["joint_attention_dim"], generator=g)
        pooled = torch.randn(PROMPTS, CONFIG["pooled_projection_dim"], generator=g)
        self.text = text.repeat_interleave(GENERATIONS, dim=0)
        self.pooled = pooled.repeat_interleave(GENERATIONS, dim=0)
        side = LATENT_SIDE // 2
        rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
        self.img_ids = torch.stack([torch.zeros_like(rows), rows, cols], dim=-1).reshape(side * side, 3).float()
        self.txt_ids = torch.zeros(TEXT_TOKENS, 3)
        self.sigmas = sigma_schedule()
        self.tokens = side * side

    def velocity(self, x, n, timestep):
        return self.model(hidden_states=x, encoder_hidden_states=self.text[n:n + 1], pooled_projections=self.pooled[n:n + 1],
                          timestep=torch.tensor([timestep / 1000.0]), guidance=torch.tensor([3.5]),
                          img_ids=self.img_ids, txt_ids=self.txt_ids, return_dict=False)[0]

    def velocity_rows(self, x, rows, timesteps):
        """One network call for several samples: `rows` their indices, `timesteps` one per row."""
        return self.model(hidden_states=x, encoder_hidden_states=self.text[rows], pooled_projections=self.pooled[rows],
                          timestep=torch.tensor(timesteps, dtype=torch.float32) / 1000.0,
                          guidance=torch.full((len(rows),), 3.5), img_ids=self.img_ids, txt_ids=self.txt_ids,
                          return_dict=False)[0]

    def iteration_batched(self):
        """The same work with batched network calls, as Flow-GRPO's trainer does: the rollout steps all samples in
        one call, and training takes each optimizer window's trained transitions (4 samples × K) in one call."""
        n_samples = PROMPTS * GENERATIONS
        sigmas = self.sigmas
        timesteps = [int(float(s) * 1000) for s in sigmas[:STEPS]]
        every = list(range(n_samples))
        self.model.eval()
        with torch.no_grad():
            x = torch.randn(n_samples, self.tokens, CONFIG["in_channels"])
            states, logps = [x], []
            for i in range(STEPS):
                v = self.velocity_rows(x, every, [timesteps[i]] * n_samples)
                x, x0, logp = dance_step(v, x, float(sigmas[i]), float(sigmas[i + 1]))
                states.append(x)
                logps.append(logp)
            latents = torch.stack(states, dim=1)  # [N, T+1, L, C]
            log_probs = torch.stack(logps, dim=1)  # [N, T]
            rewards = -x0.abs().mean(dim=(1, 2))
        advantages = group_advantages(rewards)
        k = TRAINED
        self.model.train()
        self.optimizer.zero_grad()
        for start in range(0, n_samples, ACCUMULATION):
            rows, steps = [], []
            for n in range(start, start + ACCUMULATION):
                for j in torch.randperm(TRAINABLE)[:k].tolist():
                    rows.append(n)
                    steps.append(j)
            r, j = torch.tensor(rows), torch.tensor(steps)
            x, x_next = latents[r, j], latents[r, j + 1]
            sigma, sigma_next = sigmas[j].view(-1, 1, 1), sigmas[j + 1].view(-1, 1, 1)
            v = self.velocity_rows(x, rows, [timesteps[i] for i in steps])
            _, _, logp = dance_step(v, x, sigma, sigma_next, next_sample=x_next)
            ratio = torch.exp(logp - log_probs[r, j])
            a = advantages[r]
            loss = torch.maximum(-a * ratio, -a * ratio.clamp(1 - CLIP_RANGE, 1 + CLIP_RANGE))
            (loss.sum() / (ACCUMULATION * k)).backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), MAX_GRAD_NORM)
            self.optimizer.step()
            self.optimizer.zero_grad()
        return float(rewards.mean())

    def iteration(self):
        n_samples = PROMPTS * GENERATIONS
        sigmas = self.sigmas
        timesteps = [int(float(s) * 1000) for s in sigmas[:STEPS]]
        latents, log_probs, rewards = [], [], []
        self.model.eval()
        with torch.no_grad():
            for n in range(n_samples):
                x = torch.randn(1, self.tokens, CONFIG["in_channels"])
                states, logps = [x], []
                for i in range(STEPS):
                    v = self.velocity(x, n, timesteps[i])
                    x, x0, logp = dance_step(v, x, float(sigmas[i]), float(sigmas[i + 1]))
                    states.append(x)
                    logps.append(logp)
                latents.append(torch.cat(states))
                log_probs.append(torch.cat(logps))
                rewards.append(-x0.abs().mean())
        rewards = torch.stack(rewards)
        advantages = group_advantages(rewards)
        k = TRAINED
        self.model.train()
        self.optimizer.zero_grad()
        for n in range(n_samples):
            order = torch.randperm(TRAINABLE)[:k].tolist()
            for j in order:
                x, x_next = latents[n][j:j + 1], latents[n][j + 1:j + 2]
                v = self.velocity(x, n, timesteps[j])
                _, _, logp = dance_step(v, x, float(sigmas[j]), float(sigmas[j + 1]), next_sample=x_next)
                ratio = torch.exp(logp - log_probs[n][j])
                a = advantages[n]
                loss = torch.maximum(-a * ratio, -a * ratio.clamp(1 - CLIP_RANGE, 1 + CLIP_RANGE)).mean()
                (loss / (ACCUMULATION * k)).backward()
            if (n + 1) % ACCUMULATION == 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), MAX_GRAD_NORM)
                self.optimizer.step()
                self.optimizer.zero_grad()
        return float(rewards.mean())


def write_weights(folder):
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(0)
    model = FluxTransformer2DModel(**CONFIG)
    model.save_pretrained(folder, safe_serialization=True)
    print(f"wrote {sum(p.numel() for p in model.parameters())} parameters to {folder}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write-weights", metavar="DIR")
    parser.add_argument("--weights", metavar="DIR")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batched", action="store_true",
                        help="batched network calls (all samples per rollout step, a window's transitions per call)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.write_weights:
        write_weights(args.write_weights)
        return
    if not args.weights:
        parser.error("--weights DIR (written by --write-weights) is required")
    torch.manual_seed(0)
    import diffusers

    diffusers.utils.logging.set_verbosity_error()
    loop = Loop(args.weights)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))
    seconds = []
    for i in range(args.warmup + args.repeats):
        start = time.perf_counter()
        reward = loop.iteration_batched() if args.batched else loop.iteration()
        elapsed = time.perf_counter() - start
        log(f"torch grpo iteration {i}{' (warm-up)' if i < args.warmup else ''}: {elapsed:.2f} s, reward {reward:.4f}")
        if i >= args.warmup:
            seconds.append(elapsed)
    median = statistics.median(seconds)
    if args.json:
        print(json.dumps({"torch_version": torch.__version__, "diffusers_version": diffusers.__version__,
                          "threads": torch.get_num_threads(), "batched": args.batched, "seconds": seconds, "median_seconds": median}))
    else:
        print(f"torch grpo: {median:.3f} s/iteration (median of {len(seconds)}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
