#!/usr/bin/env python3
"""A safetensors file written by the reference `safetensors` library, read by Tests/EngineTests/SafeTensorsTests.swift.

    scripts/tools-env.sh python3 tools/goldens/safetensors_interop.py

Writes Tests/TestSupport/Fixtures/safetensors_interop.safetensors: one small tensor per dtype the engine supports,
with values chosen to be exact in every dtype (so the test compares with `==`), plus `__metadata__`.
Values of tensor `<dtype>` are arange(6) - 2 reshaped to [2, 3] (bool: arange(6) % 2 == 1; unsigned: arange(6)).
"""
import os

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures", "safetensors_interop.safetensors")

base = torch.arange(6).reshape(2, 3)
tensors = {
    "bool": (base % 2 == 1),
    "uint8": base.to(torch.uint8),
    "int8": (base - 2).to(torch.int8),
    "int16": (base - 2).to(torch.int16),
    "int32": (base - 2).to(torch.int32),
    "int64": (base - 2).to(torch.int64),
    "float16": (base - 2).to(torch.float16) / 4,
    "bfloat16": (base - 2).to(torch.bfloat16) / 4,
    "float32": (base - 2).to(torch.float32) / 4,
    "float64": (base - 2).to(torch.float64) / 4,
    "scalar": torch.tensor(3.5),
    "empty": torch.zeros(0, 4),
}
save_file(tensors, OUT, metadata={"format": "pt"})
print("wrote", OUT)
