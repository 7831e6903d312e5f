#!/usr/bin/env python3
"""Goldens for the Swift Qwen2.5-VL vision tower and image processor (Tests/ModelsTests/Qwen2VLVision/).

    .venv-tools/bin/python3 tools/goldens/qwen2vl_vision.py

Builds transformers' Qwen2_5_VisionTransformerPretrainedModel on a tiny random config (depth 3 with block 1 full
attention, hidden 32, 4 heads, patch 4, window 16 pixels = 2 × 2 merged tokens, so the images below split into
several whole and partial windows, and windows that divide the grid evenly get transformers' padded empty ones) and
its Qwen2VLImageProcessor with the same patch sizes, and writes Tests/TestSupport/Fixtures/qwen2vl_vision.safetensors:
  param.<key>                    the tower's state_dict (the keys under `visual.` in a Qwen2.5-VL checkpoint)
  input.image<i>                 [H, W, 3] 8-bit images (as float32), already at the processor's size (do_resize=False)
  processor.pixel_values         Qwen2VLImageProcessor(images).pixel_values, both images: [64 + 24, 96]
  processor.grid_thw             its image_grid_thw, [[1, 8, 8], [1, 4, 6]]
  output.merged                  tower(pixel_values, grid_thw).pooler_output: [22, 24] (the merged tokens)
  output.last_hidden_state       its last_hidden_state put back in the processor's order (argsort of window_index
                                 applied per merge unit): [88, 32]
  layout.window_index, layout.cu_window_seqlens, layout.cu_seqlens
                                 transformers' get_vision_window_index / get_vision_attention_seqlens for grid_thw
  input.video_pixel_values, input.video_grid_thw, output.video_merged
                                 a two-frame grid [[2, 4, 4]] of random pixel values (full attention per frame)
  smart_resize                   rows [height, width, factor, min_pixels, max_pixels, h_bar, w_bar] of
                                 transformers' smart_resize, ties of Python's round included
and Tests/TestSupport/Fixtures/qwen2vl_vision_7b_shapes.json: the key → shape map and parameter count of the tower
with Qwen2.5-VL-7B's vision_config (the text_encoder/ of Qwen-Image-Edit; built on the meta device, no weights), so
that the test checks the real checkpoint's `visual.*` keys and shapes.
The tower's config is JSON in the metadata key "config"; the processor's in "processor" goes inside it as
config["processor"] (one metadata key keeps reruns byte-identical). Weights and inputs are float32; the reference
runs in float64 (eager attention). Seeded.
"""
import json
import math
import os

import numpy as np
import torch
import transformers
from safetensors.torch import save_file
from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel
from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor, smart_resize
from transformers.vision_utils import get_vision_attention_seqlens, get_vision_window_index

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures")

CONFIG = dict(
    depth=3, hidden_size=32, hidden_act="silu", intermediate_size=24, num_heads=4, in_channels=3, patch_size=4,
    spatial_merge_size=2, temporal_patch_size=2, window_size=16, out_hidden_size=24, fullatt_block_indexes=[1])
PROCESSOR = dict(patch_size=4, temporal_patch_size=2, merge_size=2, min_pixels=64, max_pixels=4096)


def perturb(model):
    """Norm weights 1 + 0.1·randn, biases 0.1·randn, other weights randn/sqrt(fan-in), so that every tensor moves the
    output (transformers' own initialisation, normal(0, 0.02), would leave the blocks near identity)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or "ln_q" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / math.sqrt(p[0].numel()))


def main():
    torch.manual_seed(25)
    rng = np.random.default_rng(25)
    config = Qwen2_5_VLVisionConfig(**CONFIG)
    config._attn_implementation = "eager"
    model = Qwen2_5_VisionTransformerPretrainedModel(config).eval()
    perturb(model)
    model = model.float().double()

    processor = Qwen2VLImageProcessor(**PROCESSOR)
    images = [rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8),
              rng.integers(0, 256, size=(16, 24, 3), dtype=np.uint8)]
    batch = processor(images=images, do_resize=False, return_tensors="pt")
    pixel_values, grid_thw = batch["pixel_values"], batch["image_grid_thw"]
    assert grid_thw.tolist() == [[1, 8, 8], [1, 4, 6]], grid_thw

    tensors = {}
    for i, image in enumerate(images):
        tensors[f"input.image{i}"] = torch.from_numpy(image).float()
    tensors["processor.pixel_values"] = pixel_values.float()
    tensors["processor.grid_thw"] = grid_thw.float()

    window_index, cu_window = get_vision_window_index(grid_thw, 2, CONFIG["window_size"], CONFIG["patch_size"])
    cu_seqlens, _ = get_vision_attention_seqlens(grid_thw, config)
    tensors["layout.window_index"] = window_index.float()
    tensors["layout.cu_window_seqlens"] = cu_window.float()
    tensors["layout.cu_seqlens"] = cu_seqlens.float()
    print(f"windows: {len(cu_window) - 1} for {len(window_index)} merged tokens; cu_seqlens {cu_seqlens.tolist()}")

    with torch.no_grad():
        out = model(pixel_values.double(), grid_thw=grid_thw)
        tensors["output.merged"] = out.pooler_output
        unit = CONFIG["spatial_merge_size"] ** 2
        back = torch.argsort(window_index)
        tensors["output.last_hidden_state"] = out.last_hidden_state.reshape(-1, unit, 32)[back].reshape(-1, 32)
        print(f"merged {tuple(out.pooler_output.shape)}, max |x| {out.pooler_output.abs().max():.3f}")

        video_grid = torch.tensor([[2, 4, 4]])
        video = torch.randn(32, 96).float().double()
        tensors["input.video_pixel_values"] = video
        tensors["input.video_grid_thw"] = video_grid.float()
        tensors["output.video_merged"] = model(video, grid_thw=video_grid).pooler_output

    rows = []
    for h, w, factor, lo, hi in [
        (42, 70, 28, 56 * 56, 28 * 28 * 1280), (1024, 768, 28, 3136, 12845056), (1000, 1000, 28, 3136, 1003520),
        (20, 30, 28, 3136, 12845056), (4000, 3000, 28, 3136, 1003520), (3, 500, 28, 3136, 12845056),
        (98, 126, 28, 3136, 12845056), (1080, 1920, 28, 3136, 12845056), (33, 47, 8, 64, 4096),
        (512, 512, 8, 64, 4096)]:
        rows.append([h, w, factor, lo, hi, *smart_resize(h, w, factor, lo, hi)])
    tensors["smart_resize"] = torch.tensor(rows, dtype=torch.float64)

    out_tensors = {f"param.{k}": v.float().contiguous() for k, v in model.state_dict().items()}
    out_tensors.update({k: v.float().contiguous() for k, v in tensors.items()})
    meta = {"_transformers_version": transformers.__version__, **CONFIG, "processor": PROCESSOR}
    path = os.path.join(FIXTURES, "qwen2vl_vision.safetensors")
    save_file(out_tensors, path, metadata={"config": json.dumps(meta)})
    count = sum(v.numel() for v in model.state_dict().values())
    print(f"wrote {path}: {os.path.getsize(path)} bytes, {len(model.state_dict())} parameter tensors, {count} scalars")


QWEN25_VL_7B = dict(
    depth=32, hidden_act="silu", hidden_size=1280, intermediate_size=3420, num_heads=16, in_chans=3,
    out_hidden_size=3584, patch_size=14, spatial_merge_size=2, spatial_patch_size=14, window_size=112,
    fullatt_block_indexes=[7, 15, 23, 31], tokens_per_second=2, temporal_patch_size=2)


def real_layout():
    with torch.device("meta"):
        model = Qwen2_5_VisionTransformerPretrainedModel(Qwen2_5_VLVisionConfig(**QWEN25_VL_7B))
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    count = sum(v.numel() for v in model.state_dict().values())
    path = os.path.join(FIXTURES, "qwen2vl_vision_7b_shapes.json")
    with open(path, "w") as f:  # one key per line, so a diff shows what changed
        lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(shapes.items())]
        f.write(f'{{"transformers_version": {json.dumps(transformers.__version__)}, "vision_config": '
                f'{json.dumps(QWEN25_VL_7B)}, "parameter_count": {count}, "shapes": {{\n' + ",\n".join(lines) + "\n}}\n")
    print(f"wrote {path}: {len(shapes)} tensors, {count} scalars")


main()
real_layout()
