"""Proves that a network folder written by `dancegrpo` loads with diffusers' `from_pretrained`: a FLUX transformer
(a pretrained world model's or a GRPO checkpoint's `transformer/`, `FluxTransformer2DModel`) or a Stable Diffusion
UNet (a `StableDiffusionTask`/UNet-world checkpoint's or model's `unet/`, `UNet2DConditionModel`), told apart by
`config.json`. Every tensor of the file becomes a parameter of the diffusers model with the same shape and values, no
parameter is left uninitialised, and a forward pass runs. Exit status 0 on success.

With `--lora FILE` (UNet only) it also checks an adapter file written by `saveLoRA(prefix: "unet")`: diffusers'
`StableDiffusionPipeline.lora_state_dict` reads it, every key is `unet.<module>.lora_A.weight` /
`unet.<module>.lora_B.weight` for a `torch.nn.Linear` `<module>` of the diffusers UNet with matching shapes, and only
attention projections (attn1/attn2 `to_q`, `to_k`, `to_v`, `to_out.0`) are adapted.

    scripts/tools-env.sh python3 tools/checks/diffusers_loads_checkpoint.py runs/shapes-grpo/checkpoint-100-0/transformer
    scripts/tools-env.sh python3 tools/checks/diffusers_loads_checkpoint.py assets/shapes-model-sd/unet [--lora FILE]
"""
import json
import re
import sys
from pathlib import Path

import torch
from safetensors import safe_open


def load_stored(folder: Path) -> dict:
    stored = {}
    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(f, "pt") as handle:
            for key in handle.keys():
                stored[key] = handle.get_tensor(key)
    return stored


def compare(folder: Path, model, stored: dict) -> bool:
    params = dict(model.state_dict())
    missing = sorted(set(params) - set(stored))
    unexpected = sorted(set(stored) - set(params))
    wrong = [(k, tuple(stored[k].shape), tuple(params[k].shape)) for k in set(stored) & set(params) if stored[k].shape != params[k].shape]
    differing = [k for k in set(stored) & set(params) if not torch.equal(stored[k].to(params[k].dtype), params[k])]
    if missing or unexpected or wrong or differing:
        print(f"{folder}: missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}, values differ {differing[:5]}")
        return False
    return True


def check_flux(folder: Path, config: dict) -> int:
    from diffusers import FluxTransformer2DModel

    model = FluxTransformer2DModel.from_pretrained(folder, torch_dtype=torch.float32)
    stored = load_stored(folder)
    if not compare(folder, model, stored):
        return 1
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


ATTENTION_PROJECTION = re.compile(r".*\.attn[12]\.(to_q|to_k|to_v|to_out\.0)$")


def check_unet_lora(model, lora_file: Path) -> int:
    from diffusers import StableDiffusionPipeline

    state, _ = StableDiffusionPipeline.lora_state_dict(str(lora_file))
    modules = dict(model.named_modules())
    problems, adapted = [], set()
    for key, tensor in state.items():
        match = re.fullmatch(r"unet\.(.+)\.lora_([AB])\.weight", key)
        if not match:
            problems.append(f"{key}: not unet.<module>.lora_A/B.weight")
            continue
        name, which = match.groups()
        layer = modules.get(name)
        if not isinstance(layer, torch.nn.Linear):
            problems.append(f"{key}: {name} is not a Linear of the diffusers UNet")
            continue
        if not ATTENTION_PROJECTION.fullmatch(name):
            problems.append(f"{key}: {name} is not an attention projection")
        other = state.get(f"unet.{name}.lora_{'B' if which == 'A' else 'A'}.weight")
        if other is None:
            problems.append(f"{key}: its lora_{'B' if which == 'A' else 'A'} partner is missing")
            continue
        a, b = (tensor, other) if which == "A" else (other, tensor)
        if a.shape[1] != layer.in_features or b.shape[0] != layer.out_features or a.shape[0] != b.shape[1]:
            problems.append(f"{key}: A {tuple(a.shape)} / B {tuple(b.shape)} do not fit Linear({layer.in_features}, {layer.out_features})")
        adapted.add(name)
    if problems:
        print(f"{lora_file}: " + "; ".join(problems[:8]))
        return 1
    print(f"{lora_file}: {len(state)} tensors read by StableDiffusionPipeline.lora_state_dict; {len(adapted)} adapted attention "
          f"projections, every one a Linear of the diffusers UNet with matching shapes (e.g. {sorted(adapted)[0]})")
    return 0


def check_unet(folder: Path, config: dict, lora_file: Path | None) -> int:
    from diffusers import UNet2DConditionModel

    model = UNet2DConditionModel.from_pretrained(folder, torch_dtype=torch.float32)
    stored = load_stored(folder)
    if not compare(folder, model, stored):
        return 1
    size = config["sample_size"] if isinstance(config["sample_size"], int) else config["sample_size"][0]
    cross = config["cross_attention_dim"] if isinstance(config["cross_attention_dim"], int) else config["cross_attention_dim"][0]
    generator = torch.Generator().manual_seed(0)
    out = model(torch.randn(2, config["in_channels"], size, size, generator=generator), torch.tensor([981, 1]),
                encoder_hidden_states=torch.randn(2, 7, cross, generator=generator), return_dict=False)[0]
    assert torch.isfinite(out).all(), "non-finite forward output"
    print(f"{folder}: {len(stored)} tensors, {sum(t.numel() for t in stored.values())} parameters loaded by diffusers "
          f"{__import__('diffusers').__version__} UNet2DConditionModel; forward output {tuple(out.shape)} finite")
    return check_unet_lora(model, lora_file) if lora_file else 0


def main(arguments: list[str]) -> int:
    lora = None
    if "--lora" in arguments:
        i = arguments.index("--lora")
        lora = Path(arguments[i + 1])
        arguments = arguments[:i] + arguments[i + 2:]
    if len(arguments) != 1:
        sys.exit(__doc__)
    folder = Path(arguments[0])
    config = json.loads((folder / "config.json").read_text())
    if config.get("_class_name") == "UNet2DConditionModel" or "down_block_types" in config:
        return check_unet(folder, config, lora)
    if lora:
        sys.exit("--lora is for UNet folders")
    return check_flux(folder, config)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
