#!/usr/bin/env python3
"""PIL's JPEG files of seeded images, for `JPEGParityTests` (Tests/ImagingTests).

DDPO's JPEG (in)compressibility reward is the size of `PIL.Image.fromarray(rgb).save(buffer, format="JPEG",
quality=95)` in kilobytes; the Swift encoder drives the same libjpeg with Pillow's settings and must write the same
bytes. Run from the package root:

    scripts/tools-env.sh python3 tools/goldens/jpeg_sizes.py

It writes into Tests/TestSupport/Fixtures/imaging/jpeg_parity/:

- `<name>.png`: 22 seeded RGB images from 1x1 to 256x192 (flat, gradients, noise, checkerboards, mixed content),
  lossless, so the Swift test starts from exactly PIL's pixels;
- `sizes.json`: per image its size and, of PIL's quality-95 JPEG (default 4:2:0), the byte count, CRC-32 and SHA-256
  of the file, plus the Pillow and libjpeg versions that wrote them;
- decoder fixtures written by PIL, each with `<name>.samples`, PIL's own decoding to RGB bytes:
  `progressive.jpg` (`progressive=True`), `grey.jpg` (mode "L") and `cmyk.jpg` (mode "CMYK", Adobe-inverted).

Seeded: rerunning gives the same files for the same Pillow build.
"""
import hashlib
import io
import json
import os
import zlib

import numpy as np
import PIL
from PIL import Image, features

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "TestSupport", "Fixtures",
                   "imaging", "jpeg_parity")
rng = np.random.RandomState(95)


def gradient(height, width):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) * 3 % 256], -1)


def checker(height, width, cell):
    y, x = np.mgrid[0:height, 0:width]
    on = ((x // cell + y // cell) % 2)[..., None]
    return np.where(on, [230, 30, 60], [20, 200, 250])


def mixed(height, width):
    image = gradient(height, width).astype(np.float64)
    image[height // 5:height // 2, width // 6:width // 2] = [220, 40, 40]
    y, x = np.mgrid[0:height, 0:width]
    image[((x - 2 * width // 3) ** 2 + (y - height // 2) ** 2) <= (min(height, width) // 4) ** 2] = [40, 70, 230]
    patch = image[2 * height // 3:, :width // 3]
    patch += rng.normal(0, 30, patch.shape)
    return image


def images():
    """(name, uint8 array) pairs; big ones stay smooth so the fixtures stay small."""
    cases = [
        ("flat_1x1", np.full((1, 1, 3), [200, 100, 50])),
        ("noise_1x1", rng.randint(0, 256, (1, 1, 3))),
        ("noise_7x5", rng.randint(0, 256, (5, 7, 3))),
        ("gradient_7x5", gradient(5, 7)),
        ("flat_16x16", np.full((16, 16, 3), [90, 150, 210])),
        ("noise_16x16", rng.randint(0, 256, (16, 16, 3))),
        ("gradient_16x16", gradient(16, 16)),
        ("noise_33x17", rng.randint(0, 256, (17, 33, 3))),
        ("mixed_33x17", mixed(17, 33)),
        ("checker_33x17", checker(17, 33, 3)),
        ("gradient_1x40", gradient(40, 1)),
        ("gradient_40x1", gradient(1, 40)),
        ("noise_8x8", rng.randint(0, 256, (8, 8, 3))),
        ("soft_noise_48x40", np.clip(128 + rng.normal(0, 20, (40, 48, 3)), 0, 255)),
        ("mixed_48x40", mixed(40, 48)),
        ("checker_64x64", checker(64, 64, 8)),
        ("noise_64x48", rng.randint(0, 256, (48, 64, 3))),
        ("mixed_100x75", mixed(75, 100)),
        ("grey_ramp_129x65", np.repeat(gradient(65, 129)[..., :1], 3, -1)),
        ("gradient_256x192", gradient(192, 256)),
        ("mixed_256x192", mixed(192, 256)),
        ("flat_256x192", np.full((192, 256, 3), [255, 255, 255])),
    ]
    return [(name, np.clip(array, 0, 255).astype(np.uint8)) for name, array in cases]


def pil_jpeg(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def decoder_fixtures(source):
    """PIL's files for the Swift decoder, and PIL's own decoding of each."""
    rgb = Image.fromarray(source)
    cases = [
        ("progressive", pil_jpeg(rgb, quality=90, progressive=True)),
        ("grey", pil_jpeg(rgb.convert("L"), quality=90)),
        ("cmyk", pil_jpeg(rgb.convert("CMYK"), quality=90)),
    ]
    for name, data in cases:
        with open(os.path.join(OUT, name + ".jpg"), "wb") as f:
            f.write(data)
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        with open(os.path.join(OUT, name + ".samples"), "wb") as f:
            f.write(decoded.tobytes())
        print(f"  {name}.jpg: {len(data)} bytes, mode {Image.open(io.BytesIO(data)).mode}")


def main():
    os.makedirs(OUT, exist_ok=True)
    sizes = {}
    for name, array in images():
        image = Image.fromarray(array)
        image.save(os.path.join(OUT, name + ".png"), optimize=True)
        data = pil_jpeg(image, quality=95)
        sizes[name] = {
            "width": array.shape[1],
            "height": array.shape[0],
            "bytes": len(data),
            "crc32": zlib.crc32(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    document = {"pillow": PIL.__version__, "libjpeg": features.version("jpg"), "quality": 95, "images": sizes}
    with open(os.path.join(OUT, "sizes.json"), "w") as f:
        json.dump(document, f, indent=1, sort_keys=True)
        f.write("\n")
    decoder_fixtures(dict(images())["mixed_48x40"])
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, into {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
