"""Proves that a transformer folder written by `dancegrpo` (a pretrained world model, or a GRPO run's
checkpoint-<n>-<e>/transformer) loads with diffusers' `FluxTransformer2DModel.from_pretrained`: every tensor of the
file becomes a parameter of the diffusers model with the same shape, no parameter is left uninitialised, and a forward
pass runs. Exit status 0 on success.

    scripts/tools-env.sh python3 tools/checks/diffusers_loads_checkpoint.py runs/shapes-grpo/checkpoint-100-0/transformer
"""
import json
import sys
from pathlib import Path

import torch
from diffusers import FluxTransformer2DModel
from safetensors import safe_open


def main(folder: Path) -> int:
    model = FluxTransformer2DModel.from_pretrained(folder, torch_dtype=torch.float32)
    files = sorted(folder.glob("*.safetensors"))
    stored = {}
    for f in files:
        with safe_open(f, "pt") as handle:
            for key in handle.keys():
                stored[key] = handle.get_tensor(key)
    params = dict(model.state_dict())
    missing = sorted(set(params) - set(stored))
    unexpected = sorted(set(stored) - set(params))
    wrong = [(k, tuple(stored[k].shape), tuple(params[k].shape)) for k in set(stored) & set(params) if stored[k].shape != params[k].shape]
    differing = [k for k in set(stored) & set(params) if not torch.equal(stored[k].to(params[k].dtype), params[k])]
    if missing or unexpected or wrong or differing:
        print(f"{folder}: missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}, values differ {differing[:5]}")
        return 1
    config = json.loads((folder / "config.json").read_text())
    tokens, text = 16, 8
    generator = torch.Generator().manual_seed(0)
    out = model(
        hidden_states=torch.randn(1, tokens, config["in_channels"], generator=generator),
        encoder_hidden_states=torch.randn(1, text, config["joint_attention_dim"], generator=generator),
        pooled_projections=torch.randn(1, config["pooled_projection_dim"], generator=generator),
        timestep=torch.tensor([0.5]),
        img_ids=torch.zeros(tokens, 3),
        txt_ids=torch.zeros(text, 3),
        guidance=torch.tensor([3.5]) if config.get("guidance_embeds") else None,
        return_dict=False,
    )[0]
    assert torch.isfinite(out).all(), "non-finite forward output"
    print(f"{folder}: {len(stored)} tensors, {sum(t.numel() for t in stored.values())} parameters loaded by diffusers "
          f"{__import__('diffusers').__version__} FluxTransformer2DModel; forward output {tuple(out.shape)} finite")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
