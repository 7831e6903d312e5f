#!/usr/bin/env python3
"""Goldens for open_clip's configurable evaluation transform (Tests/RewardsTests/OpenCLIPPreprocessTests.swift):
open_clip's own `image_transform_v2(PreprocessCfg(...), is_train=False)` on small seeded non-square images, for the
resize modes and interpolations a Hub `open_clip_config.json` can choose (`preprocess_cfg`), and the transform
open_clip itself builds from such a file (`create_model_and_transforms("local-dir:…")`).

    scripts/tools-env.sh python3 tools/goldens/openclip_preprocess.py

Writes, under Tests/TestSupport/Fixtures/rewards/:

openclip_squash/open_clip_config.json   a Hub-style open_clip config (model_cfg: the tiny model of rewards.py,
                                        48 px; preprocess_cfg as DFN5B-CLIP-ViT-H-14-378's: squash, bicubic, mean 0,
                                        std 1)
openclip_preprocess.safetensors
  image.<name>          [H, W, 3] uint8 inputs (seeded noise over gradients, with a hard edge): 37×23, 19×41
  <case>.<name>         [24, 24, 3] float32: the transform's output (normalised, CHW permuted to HWC) for each case
                        of CASES (metadata "cases": the PreprocessCfg fields of each, as JSON)
  config.wide           [48, 48, 3] float32: the transform open_clip builds from openclip_squash/ (with the tiny
                        weights of rewards.py copied next to the config in a temporary folder), on image.wide
metadata: cases, images (JSON lists), versions.
"""
import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import numpy as np  # noqa: E402
import open_clip  # noqa: E402
import PIL  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from open_clip.transform import PreprocessCfg, image_transform_v2  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
OUT = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures", "rewards")
VERSIONS = {"torch": torch.__version__, "open_clip": open_clip.__version__, "torchvision": torchvision.__version__,
            "pillow": PIL.__version__}
SIZE = 24
IMAGES = [("wide", (37, 23)), ("tall", (19, 41))]
# (name, PreprocessCfg fields besides size). 37×23 and 19×41 are each downscaled on one axis and upscaled on the
# other; 19×41 → 24×24 is also where Pillow 13 runs its vertical pass first.
CASES = [
    ("squash_bicubic", dict(resize_mode="squash", interpolation="bicubic", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))),
    ("squash_bilinear", dict(resize_mode="squash", interpolation="bilinear")),
    ("shortest_bicubic", dict(resize_mode="shortest", interpolation="bicubic", mean=(0.5, 0.5, 0.5),
                              std=(0.5, 0.5, 0.5))),
    ("shortest_bilinear", dict(resize_mode="shortest", interpolation="bilinear")),
    ("longest_bicubic", dict(resize_mode="longest", interpolation="bicubic")),
    ("longest_bilinear_fill", dict(resize_mode="longest", interpolation="bilinear", fill_color=200)),
]
# The tiny open_clip model of rewards.py (its weights are open_clip_pytorch_model.safetensors there).
MODEL_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 48, "layers": 2, "width": 16, "head_width": 8, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 571, "width": 16, "heads": 2, "layers": 2},
}
HUB_CONFIG = {
    "model_cfg": MODEL_CFG,
    "preprocess_cfg": {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "interpolation": "bicubic",
                       "resize_mode": "squash"},
}


def make_image(w, h, rng):
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w * 255, y / h * 255, (x + y) / (w + h) * 255], -1)
    img = np.clip(base + rng.integers(-4, 5, size=(h, w, 3)) * 16, 0, 255).astype(np.uint8)
    img[h // 3: h // 2, w // 4: w // 2] = [250, 20, 30]  # a hard edge
    return img


def hwc(t):
    return t.permute(1, 2, 0).contiguous().float()


def main():
    rng = np.random.default_rng(7)
    arrays = {name: make_image(w, h, rng) for name, (w, h) in IMAGES}
    images = {name: Image.fromarray(a) for name, a in arrays.items()}
    tensors = {f"image.{name}": torch.from_numpy(a.copy()) for name, a in arrays.items()}

    cases = {}
    for case, fields in CASES:
        cfg = PreprocessCfg(size=SIZE, **fields)
        cases[case] = asdict(cfg)
        transform = image_transform_v2(cfg, is_train=False)
        for name, img in images.items():
            tensors[f"{case}.{name}"] = hwc(transform(img))

    folder = os.path.join(OUT, "openclip_squash")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "open_clip_config.json"), "w") as f:
        json.dump(HUB_CONFIG, f, indent=2)
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copyfile(os.path.join(folder, "open_clip_config.json"), os.path.join(scratch, "open_clip_config.json"))
        shutil.copyfile(os.path.join(OUT, "open_clip_pytorch_model.safetensors"),
                        os.path.join(scratch, "open_clip_model.safetensors"))
        _, _, transform = open_clip.create_model_and_transforms("local-dir:" + scratch)
    print(transform)
    tensors["config.wide"] = hwc(transform(images["wide"]))

    path = os.path.join(OUT, "openclip_preprocess.safetensors")
    save_file(tensors, path, metadata={"cases": json.dumps(cases), "images": json.dumps([n for n, _ in IMAGES]),
                                       **VERSIONS})
    print("wrote", path, f"{os.path.getsize(path) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
