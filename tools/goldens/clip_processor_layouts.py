#!/usr/bin/env python3
"""A CLIPProcessor folder in the layout of the installed transformers, with what it computes (Tests/RewardsTests/
CLIPProcessorLayoutTests.swift).

    scripts/tools-env.sh python3 tools/goldens/clip_processor_layouts.py         # the layout of tools' transformers
    <venv with transformers<5>/bin/python tools/goldens/clip_processor_layouts.py
    <venv with transformers>=5>/bin/python tools/goldens/clip_processor_layouts.py

Reward folders (PickScore, CLIP score) come saved by either major version of transformers, which write a processor
differently: 4.x writes `preprocessor_config.json` (the image processor's settings at the top level) and the slow
tokenizer's `vocab.json` + `merges.txt`; 5.x writes `processor_config.json` (settings nested under
"image_processor") and `tokenizer.json` alone. Run under each version (torch is not needed), it writes
Tests/TestSupport/Fixtures/rewards/clip_processor_layouts/transformers<major>/ with `CLIPProcessor.save_pretrained`
and transformers<major>.json beside it:
  input_ids, attention_mask   the processor's ids for PROMPTS (padding=True)
  pixel_values                [16, 16, 3] (HWC) for images/odd.png, as the processor normalises it
  versions
The tokenizer is flux_mini's 571-token byte-level BPE; the image processor resizes the shortest edge to 16, crops
16×16 and normalises with a mean and std that are not CLIP's defaults, so a loader that misses them shows.
"""
import json
import os
import shutil

import numpy as np
import transformers
from PIL import Image
from transformers import CLIPImageProcessor, CLIPProcessor, CLIPTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
TOKENIZER = os.path.join(FIXTURES, "flux_mini", "tokenizer")
OUT = os.path.join(FIXTURES, "rewards", "clip_processor_layouts")
PROMPTS = ["a red fox in the snow", "Two blue cubes, on a table!"]
MEAN = [0.45, 0.42, 0.4]
STD = [0.27, 0.25, 0.28]


def tokenizer(major):
    vocab_file = os.path.join(TOKENIZER, "vocab.json")
    merges_file = os.path.join(TOKENIZER, "merges.txt")
    if major < 5:
        return CLIPTokenizer(vocab_file=vocab_file, merges_file=merges_file, model_max_length=77)
    with open(vocab_file) as f:
        vocab = json.load(f)
    with open(merges_file) as f:
        lines = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#version")]
    return CLIPTokenizer(vocab=vocab, merges=[tuple(line.split(" ")) for line in lines], model_max_length=77)


def main():
    major = int(transformers.__version__.split(".")[0])
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}, image_mean=MEAN, image_std=STD)
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer(major))
    folder = os.path.join(OUT, f"transformers{major}")
    shutil.rmtree(folder, ignore_errors=True)
    processor.save_pretrained(folder)

    image = Image.open(os.path.join(FIXTURES, "rewards", "images", "odd.png")).convert("RGB")
    pixels = processor(images=image, return_tensors="np")["pixel_values"][0]  # [3, 16, 16]
    text = processor(text=PROMPTS, padding=True, return_tensors="np")
    golden = {
        "prompts": PROMPTS,
        "input_ids": text["input_ids"].tolist(),
        "attention_mask": text["attention_mask"].tolist(),
        "pixel_values": np.transpose(pixels, (1, 2, 0)).astype(np.float64).ravel().tolist(),
        "versions": {"transformers": transformers.__version__},
    }
    with open(os.path.join(OUT, f"transformers{major}.json"), "w") as f:
        json.dump(golden, f)
        f.write("\n")
    print(f"wrote {folder}: {sorted(os.listdir(folder))}")


if __name__ == "__main__":
    main()
