#!/usr/bin/env python3
"""Goldens for the resizing step of the Swift Qwen2VLImageProcessor (Tests/ModelsTests/Qwen2VLVision/).

    .venv-tools/bin/python3 tools/goldens/qwen2vl_image_resize.py

transformers' Qwen2VLImageProcessor (torchvision backend, the default) resizes the 8-bit image to smart_resize's size
with torchvision's antialiased bicubic on the uint8 tensor, which on the CPU is torch's native uint8 path (int16
fixed-point weights). Writes Tests/TestSupport/Fixtures/qwen2vl_image_resize.safetensors:
  source.<i>, resized.<i>   uint8 [H, W, 3] images and the processor's own resize of them (its `resize` method, the
                            factor, min_pixels and max_pixels of case i in the metadata): upscaling, downscaling by
                            2-3× (multi-tap antialiasing) and a mixed case
  e2e.source                uint8 [20, 28, 3]
  e2e.pixel_values          Qwen2VLImageProcessor(patch 4, merge 2, min 64, max 4096)(e2e.source).pixel_values: resized
                            (to 16 × 32: 20 / 8 = 2.5 rounds to 2 in Python), rescaled, normalised, flattened
The metadata key "config" holds {"cases": [[factor, min_pixels, max_pixels], ...], "processor": {...}}. Seeded.
"""
import json
import os

import numpy as np
import torch
import transformers
from safetensors.torch import save_file
from transformers.image_processing_utils import SizeDict
from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures")
PROCESSOR = dict(patch_size=4, temporal_patch_size=2, merge_size=2, min_pixels=64, max_pixels=4096)
# (height, width, factor, min_pixels, max_pixels)
CASES = [(45, 61, 8, 64, 4096), (120, 90, 28, 3136, 3136), (30, 20, 28, 3136, 12845056), (97, 41, 8, 64, 1024)]


def smooth_image(rng, h, w):
    """Random 8-bit image with both smooth gradients and sharp noise, so that the cubic's overshoot is clamped
    somewhere and every tap weight matters."""
    y, x = np.mgrid[0:h, 0:w]
    base = 127 + 100 * np.sin(x[..., None] / 5.0 + np.arange(3)) * np.cos(y[..., None] / 7.0)
    noise = rng.integers(-60, 61, size=(h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def main():
    rng = np.random.default_rng(31)
    tensors, cases = {}, []
    for i, (h, w, factor, lo, hi) in enumerate(CASES):
        image = smooth_image(rng, h, w)
        processor = Qwen2VLImageProcessor(patch_size=factor // 2, merge_size=2, min_pixels=lo, max_pixels=hi)
        chw = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).contiguous()
        resized = processor.resize(chw, size=SizeDict(shortest_edge=lo, longest_edge=hi),
                                   resample=processor.resample, factor=factor)
        assert resized.dtype == torch.uint8
        tensors[f"source.{i}"] = torch.from_numpy(image)
        tensors[f"resized.{i}"] = resized[0].permute(1, 2, 0).contiguous()
        cases.append([factor, lo, hi])
        print(f"case {i}: {h}x{w} -> {tuple(resized.shape[-2:])}")

    image = smooth_image(rng, 20, 28)
    out = Qwen2VLImageProcessor(**PROCESSOR)(images=[image], return_tensors="pt")
    assert out["image_grid_thw"].tolist() == [[1, 4, 8]], out["image_grid_thw"]
    tensors["e2e.source"] = torch.from_numpy(image)
    tensors["e2e.pixel_values"] = out["pixel_values"].float()

    path = os.path.join(FIXTURES, "qwen2vl_image_resize.safetensors")
    meta = {"_transformers_version": transformers.__version__, "_torch_version": torch.__version__, "cases": cases,
            "processor": PROCESSOR}
    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata={"config": json.dumps(meta)})
    print(f"wrote {path}: {os.path.getsize(path)} bytes")


main()
