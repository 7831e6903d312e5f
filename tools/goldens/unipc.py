#!/usr/bin/env python3
"""Goldens for the Swift UniPCMultistepScheduler (Tests/SamplingTests/UniPCMultistepSchedulerTests.swift).

    scripts/tools-env.sh python3 tools/goldens/unipc.py

Runs diffusers' own `UniPCMultistepScheduler.from_config(...)`, `set_timesteps(n)` and `step(...)` (the loop
`WanPipeline.__call__` runs) on fixed random model outputs and writes Tests/TestSupport/Fixtures/unipc.safetensors:
  sample                      [2, 4, 3, 4, 4] the initial latents (B, C, F, H, W as WanPipeline's latents)
  model_output.<i>            [2, 4, 3, 4, 4] the "network output" fed at step i (shared by every case; a case of n
                              steps uses 0..<n)
  <case>.sigmas               [n + 1] scheduler.sigmas after set_timesteps (float32, as diffusers keeps them)
  <case>.timesteps            [n] scheduler.timesteps (int64 in diffusers, stored as float32: integers below 1000)
  <case>.step<i>              [2, 4, 3, 4, 4] scheduler.step(model_output.<i>, timesteps[i], x).prev_sample
Cases (the config of each is JSON in the metadata key "configs", by case name, exactly as from_config got it):
  wan.steps{1,2,6,10}                Wan2.1-T2V-1.3B-Diffusers' scheduler/scheduler_config.json (order 2, bh2,
                                     flow_prediction, flow_shift 3)
  order1_shift5.steps6, …steps10     the same with solver_order 1 and flow_shift 5 (the 720p shift)
  order3.steps7                      solver_order 3 (orders 1, 2, 3, 3, 3, 2, 1: linear solves), v_prediction,
                                     disable_corrector [2], shift_terminal 0.1
  epsilon.steps5                     prediction_type epsilon (x0 = (x − σε)/(1 − σ))
  sample.steps5                      prediction_type sample, solver "midpoint" (diffusers maps it to bh2)
  bh1_sigma_min.steps6               solver_type bh1, final_sigmas_type sigma_min (the last step has h = 0),
                                     lower_order_final false (order 2 up to the end)
Inputs are float32 values; diffusers steps them in float64 (its sigma/coefficient scalars stay float32 as it keeps
them) and the outputs are stored as float32. Seeded: reruns give the same file for the same torch/diffusers versions.
"""
import json
import os

import torch
from diffusers import UniPCMultistepScheduler
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures", "unipc.safetensors")

# https://huggingface.co/Wan-AI/Wan2.1-T2V-1.3B-Diffusers/blob/main/scheduler/scheduler_config.json
WAN = {
    "_class_name": "UniPCMultistepScheduler", "_diffusers_version": "0.33.0.dev0", "beta_end": 0.02,
    "beta_schedule": "linear", "beta_start": 0.0001, "disable_corrector": [], "dynamic_thresholding_ratio": 0.995,
    "final_sigmas_type": "zero", "flow_shift": 3.0, "lower_order_final": True, "num_train_timesteps": 1000,
    "predict_x0": True, "prediction_type": "flow_prediction", "rescale_betas_zero_snr": False,
    "sample_max_value": 1.0, "solver_order": 2, "solver_p": None, "solver_type": "bh2", "steps_offset": 0,
    "thresholding": False, "timestep_spacing": "linspace", "trained_betas": None, "use_beta_sigmas": False,
    "use_exponential_sigmas": False, "use_flow_sigmas": True, "use_karras_sigmas": False,
}
CONFIGS = {
    "wan": WAN,
    "order1_shift5": {**WAN, "solver_order": 1, "flow_shift": 5.0},
    "order3": {
        **WAN, "solver_order": 3, "prediction_type": "v_prediction", "disable_corrector": [2],
        "shift_terminal": 0.1,
    },
    "epsilon": {**WAN, "prediction_type": "epsilon"},
    "bh1_sigma_min": {**WAN, "solver_type": "bh1", "final_sigmas_type": "sigma_min", "lower_order_final": False},
    "sample": {**WAN, "prediction_type": "sample", "solver_type": "midpoint"},
}
CASES = [("wan", 1), ("wan", 2), ("wan", 6), ("wan", 10), ("order1_shift5", 6), ("order1_shift5", 10), ("order3", 7),
         ("epsilon", 5), ("sample", 5), ("bh1_sigma_min", 6)]
SHAPE = (2, 4, 3, 4, 4)

torch.manual_seed(0)
T = {}


def put(key, t):
    assert key not in T, key
    T[key] = t.detach().to(torch.float32).contiguous().clone()


sample = torch.randn(SHAPE)
put("sample", sample)
outputs = [torch.randn(SHAPE) for _ in range(max(n for _, n in CASES))]
for i, m in enumerate(outputs):
    put(f"model_output.{i}", m)

for name, steps in CASES:
    scheduler = UniPCMultistepScheduler.from_config(CONFIGS[name])
    scheduler.set_timesteps(steps)
    prefix = f"{name}.steps{steps}"
    put(prefix + ".sigmas", scheduler.sigmas)
    put(prefix + ".timesteps", scheduler.timesteps)
    x = sample.double()
    for i, t in enumerate(scheduler.timesteps):
        x = scheduler.step(outputs[i].double(), t, x).prev_sample
        assert x.dtype == torch.float64 and torch.isfinite(x).all(), (prefix, i)
        put(f"{prefix}.step{i}", x)

# One metadata key: safetensors writes the metadata map in hash order, so several keys would make reruns differ.
save_file(T, OUT, metadata={"configs": json.dumps(CONFIGS, sort_keys=True)})
print(f"wrote {OUT}: {len(T)} tensors, {os.path.getsize(OUT)} bytes")
