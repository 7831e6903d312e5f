#!/usr/bin/env python3
"""Reference values for the optimizer tests (Tests/NNTests/Optim*Tests.swift).

Run from the package root (needs torch, diffusers, safetensors; see tools/requirements.txt):

    scripts/tools-env.sh python tools/goldens/optimizers.py

It writes Tests/TestSupport/Fixtures/optimizers.safetensors. Seeded: rerunning gives the same file for the same torch
version (recorded in the metadata). Keys are `<case>.<role>`; per-step tensors carry the step as a suffix
(`adamw.step3.grad.linear.weight` is the gradient fed to the 4th step, `adamw.step3.param.linear.weight` the parameter
after it). Parameter names are the Swift module's dotted keys.

Cases
- adamw / adamw_warmup: torch.optim.AdamW (single-tensor path, `foreach=False`), lr 1e-2, betas (0.9, 0.999), eps 1e-8,
  weight decay 1e-2 on `linear.weight` and `scale`, 0 on `linear.bias` (a second param group), 5 steps on fixed
  gradients. adamw_warmup runs the same under diffusers' constant-with-warmup schedule (2 warm-up steps) through
  LambdaLR, so step k uses lr·min(1, k/2): it pins which step index the schedule is read at.
- adamw_e2e: a Linear(4→3) regression loss mean((x Wᵀ + b − y)²); gradients from autograd, 5 AdamW steps.
- sgd / sgd_nesterov: torch.optim.SGD with momentum 0.9 (dampening 0.1, weight decay 1e-2 / nesterov, no decay).
- clip_above / clip_below: torch.nn.utils.clip_grad_norm_ with the global norm above / below max_norm; `norm` is the
  pre-clip norm it returns.
- schedule.<name>: the learning rate in the optimizer at each of steps 0..24 (the lr step k uses) for diffusers'
  get_constant_schedule, get_constant_schedule_with_warmup(5), get_linear_schedule_with_warmup(5, 20),
  get_cosine_schedule_with_warmup(5, 20), base lr 1e-3.
- ema_hyperbolic / ema_power: diffusers EMAModel (decay 0.9; its default (1+t)/(10+t) warm-up, and use_ema_warmup with
  inv_gamma 1, power 2/3) over 6 updates of a parameter that changes each step; stores the parameter before each
  update, the shadow after it and the decay used.
"""
import os

import diffusers
import torch
from diffusers.optimization import (
    get_constant_schedule,
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)
from diffusers.training_utils import EMAModel
from safetensors.torch import save_file

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures", "optimizers.safetensors")
T = {}
STEPS = 5


def put(key, t):
    assert key not in T, key
    t = torch.as_tensor(t).detach().contiguous()
    if t.dtype == torch.float64:
        t = t.float()
    T[key] = t.clone()


def initial_params():
    """Three tensors of unit-ish scale; `scale` has a few exact-zero gradients later (moments stay 0, denom = eps)."""
    return {
        "linear.weight": torch.randn(3, 4) * 0.5,
        "linear.bias": torch.randn(3) * 0.1,
        "scale": 1 + torch.randn(5) * 0.1,
    }


def fixed_gradients(params):
    """One gradient per parameter per step; scales differ so the second moment matters, some entries are zero."""
    grads = []
    for step in range(STEPS):
        g = {k: torch.randn_like(v) for k, v in params.items()}
        g["linear.bias"] *= 3.0
        g["scale"] *= 1e-3
        g["scale"][1] = 0.0
        grads.append(g)
    return grads


def run_fixed(case, make_optimizer, make_scheduler=None):
    params0 = initial_params()
    grads = fixed_gradients(params0)
    tensors = {k: torch.nn.Parameter(v.clone()) for k, v in params0.items()}
    optimizer = make_optimizer(tensors)
    scheduler = make_scheduler(optimizer) if make_scheduler else None
    for k, v in params0.items():
        put(f"{case}.initial.{k}", v)
    for step, g in enumerate(grads):
        put(f"{case}.step{step}.lr", torch.tensor(optimizer.param_groups[0]["lr"], dtype=torch.float64))
        for k, p in tensors.items():
            p.grad = g[k].clone()
            put(f"{case}.step{step}.grad.{k}", g[k])
        optimizer.step()
        if scheduler:
            scheduler.step()
        for k, p in tensors.items():
            put(f"{case}.step{step}.param.{k}", p)


def adamw_groups(tensors):
    decayed = [tensors["linear.weight"], tensors["scale"]]
    return torch.optim.AdamW(
        [{"params": decayed, "weight_decay": 1e-2}, {"params": [tensors["linear.bias"]], "weight_decay": 0.0}],
        lr=1e-2, betas=(0.9, 0.999), eps=1e-8, foreach=False)


run_fixed("adamw", adamw_groups)
run_fixed("adamw_warmup", adamw_groups, lambda o: get_constant_schedule_with_warmup(o, num_warmup_steps=2))
run_fixed("sgd", lambda t: torch.optim.SGD(list(t.values()), lr=0.1, momentum=0.9, dampening=0.1,
                                           weight_decay=1e-2, foreach=False))
run_fixed("sgd_nesterov", lambda t: torch.optim.SGD(list(t.values()), lr=0.1, momentum=0.9, nesterov=True,
                                                    foreach=False))

# --- end to end: gradients from autograd of a tiny loss -------------------------------------------------------------
linear = torch.nn.Linear(4, 3)
with torch.no_grad():
    linear.weight.copy_(torch.randn(3, 4) * 0.5)
    linear.bias.copy_(torch.randn(3) * 0.1)
x = torch.randn(6, 4)
y = torch.randn(6, 3)
put("adamw_e2e.x", x)
put("adamw_e2e.y", y)
put("adamw_e2e.initial.weight", linear.weight)
put("adamw_e2e.initial.bias", linear.bias)
optimizer = torch.optim.AdamW(linear.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                              foreach=False)
for step in range(STEPS):
    optimizer.zero_grad()
    loss = ((linear(x) - y) ** 2).mean()
    loss.backward()
    put(f"adamw_e2e.step{step}.loss", loss)
    optimizer.step()
    put(f"adamw_e2e.step{step}.param.weight", linear.weight)
    put(f"adamw_e2e.step{step}.param.bias", linear.bias)

# --- global gradient-norm clipping ----------------------------------------------------------------------------------
for case, max_norm, scale in [("clip_above", 1.0, 2.0), ("clip_below", 100.0, 1.0)]:
    grads = {"a.weight": torch.randn(3, 4) * scale, "a.bias": torch.randn(3) * scale, "b": torch.randn(2, 2, 2) * scale}
    params = {k: torch.nn.Parameter(torch.zeros_like(g)) for k, g in grads.items()}
    for k, p in params.items():
        p.grad = grads[k].clone()
        put(f"{case}.grad.{k}", grads[k])
    norm = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm, foreach=False)
    put(f"{case}.max_norm", torch.tensor(max_norm))
    put(f"{case}.norm", norm)
    for k, p in params.items():
        put(f"{case}.clipped.{k}", p.grad)
    assert (norm > max_norm) == (case == "clip_above"), (case, float(norm))

# --- learning-rate schedules ----------------------------------------------------------------------------------------
schedules = {
    "constant": lambda o: get_constant_schedule(o),
    "constant_with_warmup": lambda o: get_constant_schedule_with_warmup(o, num_warmup_steps=5),
    "linear_with_warmup": lambda o: get_linear_schedule_with_warmup(o, num_warmup_steps=5, num_training_steps=20),
    "cosine_with_warmup": lambda o: get_cosine_schedule_with_warmup(o, num_warmup_steps=5, num_training_steps=20),
}
for name, make in schedules.items():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    scheduler = make(optimizer)
    rates = []
    for _ in range(25):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    put(f"schedule.{name}", torch.tensor(rates, dtype=torch.float64))

# --- EMA of parameters ----------------------------------------------------------------------------------------------
for case, options in [("ema_hyperbolic", {}), ("ema_power", {"use_ema_warmup": True, "inv_gamma": 1.0, "power": 2 / 3})]:
    param = torch.nn.Parameter(torch.randn(2, 3))
    ema = EMAModel([param], decay=0.9, foreach=False, **options)
    put(f"{case}.initial", param)
    for step in range(6):
        with torch.no_grad():
            param.add_(torch.randn(2, 3) * 0.5)
        put(f"{case}.step{step}.param", param)
        ema.step([param])
        put(f"{case}.step{step}.decay", torch.tensor(ema.cur_decay_value, dtype=torch.float64))
        put(f"{case}.step{step}.shadow", ema.shadow_params[0])

# ---------------------------------------------------------------------------------------------------------------------
os.makedirs(os.path.dirname(OUT), exist_ok=True)

save_file(T, OUT, metadata={"torch_version": torch.__version__, "diffusers_version": diffusers.__version__,
                            "generator": "tools/goldens/optimizers.py"})
size = os.path.getsize(OUT)
assert size < 300_000, f"fixture too large: {size} bytes"
print(f"wrote {len(T)} tensors, {size} bytes, torch {torch.__version__} -> {os.path.normpath(OUT)}")
