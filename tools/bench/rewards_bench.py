#!/usr/bin/env python3
"""PyTorch side of `dancegrpo-bench rewards`: HPS-style scoring throughput of an open_clip ViT-B-32 (random weights).

    .venv-tools/bin/python tools/bench/rewards_bench.py [--images 32] [--batch 8] [--size 720] [--repeats 3] [--threads N]

Per batch, as DanceGRPO's HPS reward does it, but batched: the decoded uint8 images → ToTensor → longest
side to 224 with torchvision's antialiased bicubic (+ pad) → Normalize; open_clip's tokenizer; model(image, text) in
float32 under torch.inference_mode(); diagonal of image_features @ text_features.T. Every image has its own prompt.
Reports the median over --repeats runs after one warm-up.
"""
import argparse
import statistics
import time

import numpy as np
import open_clip
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def preprocess(img, size=224):
    t = TF.to_tensor(img)
    h, w = t.shape[1:]
    scale = size / float(max(h, w))
    if scale != 1.0:
        new = [round(d * scale) for d in (h, w)]
        t = TF.resize(t, new, InterpolationMode.BICUBIC, antialias=True)
        pad_h, pad_w = size - new[0], size - new[1]
        t = TF.pad(t, [pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2], fill=0)
    return TF.normalize(t, MEAN, STD)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=720)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)) for _ in range(args.images)]
    prompts = [f"a photo of object number {i} on a table" for i in range(args.images)]

    def score_all():
        scores = []
        with torch.inference_mode():
            for start in range(0, len(images), args.batch):
                pixels = torch.stack([preprocess(im) for im in images[start:start + args.batch]])
                text = tokenizer(prompts[start:start + args.batch])
                out = model(pixels, text)
                image_features, text_features = out[0], out[1]
                scores += torch.diagonal(image_features @ text_features.T).tolist()
        return scores

    def timed(fn):
        fn()
        samples = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    pre = timed(lambda: [preprocess(im) for im in images])
    total = timed(score_all)
    print(f"torch open_clip ViT-B-32 (HPS path), {args.images} images {args.size}×{args.size}, batch {args.batch}, "
          f"{torch.get_num_threads()} threads: {args.images / total:.2f} images/s "
          f"(preprocessing {1e3 * pre / args.images:.1f} ms/image, total {1e3 * total / args.images:.1f} ms/image)")


if __name__ == "__main__":
    main()
