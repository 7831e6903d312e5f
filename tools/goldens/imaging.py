#!/usr/bin/env python3
"""PNG and JPEG interoperability fixtures for Tests/ImagingTests (PIL and zlib on one side, the Swift codecs on the other).

Run from the package root (needs numpy and Pillow; see tools/requirements.txt):

    scripts/tools-env.sh python3 tools/goldens/imaging.py

It writes into Tests/TestSupport/Fixtures/imaging/:

1. PNG files made by other tools, for the Swift decoder (`PNGFixtureTests`):
   - pil_*.png: saved by PIL (RGB, RGB optimised, RGBA, grey, grey + alpha, 1-bit, 16-bit grey, 8-, 4- and 2-bit
     palettes, palette with tRNS transparency);
   - zlib_*.png: assembled here with Python's zlib, to reach cases PIL never writes: every row filter (row y uses
     filter y mod 5), stored (level 0) and fixed-Huffman deflate blocks, 16-bit RGB, image data split over several
     IDAT chunks, Adam7 interlacing.
   Each `<name>.png` comes with `<name>.samples`: the raw 8-bit samples the Swift decoder must produce, computed
   here from the source arrays (palette entries expanded to RGB or RGBA; 16-bit samples keep their high byte;
   1-bit grey becomes 0/255). `manifest.json` lists width, height and channels per file. Before writing, every file
   is read back with PIL and compared with the expected samples.
2. `jpeg_source.png` (a 48x40 picture: gradients, flat saturated shapes, a noisy patch) and `jpeg_pil_reference.json`:
   size and PSNR (dB, against the source, decoded by PIL) of PIL's own JPEGs of it with the standard tables, which
   the Swift encoder must match. (Saturated colour edges cost 4:2:0 much: PIL's own quality-95 4:2:0 file reaches only
   about 25 dB there, its 4:4:4 file about 39 dB.)
3. The other direction, PIL reading Swift's files: `swift_sample.png`, `swift_sample_q95.jpg` (4:2:0) and
   `swift_sample_q95_444.jpg` are written by the Swift test suite from jpeg_source.png (run once
   `DANCEGRPO_WRITE_IMAGING_FIXTURES=1 swift test --filter SwiftWrittenFilesTests`); when they exist, this script
   decodes them with PIL into `<file name with _ for .>_pil.samples` (RGB bytes), which the Swift tests compare with
   the source image. So after changing the encoders: run that test with the variable
   set, then this script again.

Seeded: rerunning gives the same files.
"""
import io
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "TestSupport", "Fixtures", "imaging")
rng = np.random.RandomState(1234)
manifest = {}


def save_expected(name, samples, channels):
    samples = np.ascontiguousarray(samples, dtype=np.uint8)
    height, width = samples.shape[:2]
    with open(os.path.join(OUT, name + ".samples"), "wb") as f:
        f.write(samples.tobytes())
    manifest[name] = {"width": width, "height": height, "channels": channels}


def check_with_pil(name, expected):
    """PIL must read the file back to the expected samples (channel conversions done the Swift decoder's way)."""
    image = Image.open(os.path.join(OUT, name + ".png"))
    image.load()
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    decoded = np.asarray(image)
    if image.mode in ("I;16", "I;16B", "I"):
        decoded = (decoded.astype(np.int64) >> 8).astype(np.uint8)
    if image.mode == "1":
        decoded = decoded.astype(np.uint8) * 255
    if decoded.dtype != np.uint8 and decoded.max() > 255:
        decoded = (decoded.astype(np.int64) >> 8).astype(np.uint8)
    assert np.array_equal(decoded.reshape(expected.shape), expected), f"PIL disagrees on {name}"


def smooth_rgb(width, height):
    """Gradients with a noisy band: gives every PNG filter something to win on."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x * 7 + y * 3) % 256], -1)
    image[height // 3: height // 3 + 3] = rng.randint(0, 256, (min(3, height - height // 3), width, 3))
    return image.astype(np.uint8)


def pil_png(name, array, expected, channels, **save_options):
    image = Image.fromarray(array)
    image.save(os.path.join(OUT, name + ".png"), **save_options)
    save_expected(name, expected, channels)
    check_with_pil(name, expected)


def pil_fixtures():
    rgb = smooth_rgb(23, 17)
    pil_png("pil_rgb", rgb, rgb, 3)
    pil_png("pil_rgb_optimized", rgb, rgb, 3, optimize=True)
    rgba = np.concatenate([smooth_rgb(13, 11), rng.randint(0, 256, (11, 13, 1)).astype(np.uint8)], -1)
    pil_png("pil_rgba", rgba, rgba, 4)
    gray = smooth_rgb(19, 7)[..., 0]
    pil_png("pil_gray", gray, gray, 1)
    gray_alpha = np.stack([smooth_rgb(9, 9)[..., 1], rng.randint(0, 256, (9, 9)).astype(np.uint8)], -1)
    pil_png("pil_gray_alpha", gray_alpha, gray_alpha, 2)

    bits = rng.randint(0, 2, (5, 17)).astype(bool)
    Image.fromarray(bits).save(os.path.join(OUT, "pil_mono.png"))
    save_expected("pil_mono", bits.astype(np.uint8) * 255, 1)
    check_with_pil("pil_mono", bits.astype(np.uint8) * 255)

    gray16 = rng.randint(0, 65536, (6, 8)).astype(np.uint16)
    Image.fromarray(gray16).save(os.path.join(OUT, "pil_gray16.png"))
    save_expected("pil_gray16", (gray16 >> 8).astype(np.uint8), 1)
    check_with_pil("pil_gray16", (gray16 >> 8).astype(np.uint8))

    # PIL picks the bit depth from the number of palette entries: 40 → 8 bits, 16 → 4 bits, 4 → 2 bits.
    for name, entries in [("pil_palette", 40), ("pil_palette_4bit", 16), ("pil_palette_2bit", 4)]:
        palette = rng.randint(0, 256, (entries, 3)).astype(np.uint8)
        indices = rng.randint(0, entries, (10, 15)).astype(np.uint8)
        image = Image.frombytes("P", (15, 10), indices.tobytes())
        image.putpalette(palette.flatten().tolist())
        image.save(os.path.join(OUT, name + ".png"))
        save_expected(name, palette[indices], 3)
        check_with_pil(name, palette[indices])
    palette = rng.randint(0, 256, (16, 3)).astype(np.uint8)
    indices = rng.randint(0, 16, (10, 15)).astype(np.uint8)
    alpha = rng.randint(0, 256, 16).astype(np.uint8)
    image = Image.frombytes("P", (15, 10), indices.tobytes())
    image.putpalette(palette.flatten().tolist())
    image.save(os.path.join(OUT, "pil_palette_trns.png"), transparency=alpha.tobytes())
    expected = np.concatenate([palette[indices], alpha[indices][..., None]], -1)
    save_expected("pil_palette_trns", expected, 4)
    check_with_pil("pil_palette_trns", expected)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_rows(raw_rows, bpp, filters):
    """PNG filtering written out from the specification, independent of the Swift code."""
    out = bytearray()
    previous = bytes(len(raw_rows[0]))
    for row, f in zip(raw_rows, filters):
        out.append(f)
        for i, value in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            prediction = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
            out.append((value - prediction) & 0xFF)
        previous = row
    return bytes(out)


# Adam7 passes: (first column, first row, column step, row step).
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def filtered_image(array, bit_depth, channels, filters):
    height = array.shape[0]
    samples = array.astype(">u2").tobytes() if bit_depth == 16 else array.astype(np.uint8).tobytes()
    row_bytes = len(samples) // height
    rows = [samples[y * row_bytes:(y + 1) * row_bytes] for y in range(height)]
    bpp = max(1, channels * bit_depth // 8)
    return filter_rows(rows, bpp, filters or [0] * height)


def zlib_png(name, array, bit_depth, colour_type, expected, channels, filters=None, level=9, strategy=None, idat_parts=1,
             interlaced=False):
    height, width = array.shape[:2]
    if interlaced:
        # Each non-empty pass is a small image of its own, filtered row by row (filter type = row index mod 5).
        passes = [array[y0::dy, x0::dx] for x0, y0, dx, dy in ADAM7]
        data = b"".join(filtered_image(p, bit_depth, channels, [y % 5 for y in range(p.shape[0])])
                        for p in passes if p.size)
    else:
        data = filtered_image(array, bit_depth, channels, filters)
    if strategy is None:
        compressed = zlib.compress(data, level)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, 15, 9, strategy)
        compressed = compressor.compress(data) + compressor.flush()
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, int(interlaced)))
    cut = [len(compressed) * k // idat_parts for k in range(idat_parts + 1)]
    for k in range(idat_parts):
        png += chunk(b"IDAT", compressed[cut[k]:cut[k + 1]])
    png += chunk(b"IEND", b"")
    with open(os.path.join(OUT, name + ".png"), "wb") as f:
        f.write(png)
    save_expected(name, expected, channels)
    check_with_pil(name, expected)


def zlib_fixtures():
    rgb = smooth_rgb(16, 10)
    zlib_png("zlib_filters", rgb, 8, 2, rgb, 3, filters=[y % 5 for y in range(10)])
    rgba = np.concatenate([smooth_rgb(11, 10), rng.randint(0, 256, (10, 11, 1)).astype(np.uint8)], -1)
    zlib_png("zlib_filters_rgba", rgba, 8, 6, rgba, 4, filters=[(y + 2) % 5 for y in range(10)])
    zlib_png("zlib_stored", rgb, 8, 2, rgb, 3, filters=[4] * 10, level=0)
    zlib_png("zlib_fixed", rgb, 8, 2, rgb, 3, filters=[1] * 10, strategy=zlib.Z_FIXED)
    rgb16 = rng.randint(0, 65536, (5, 7, 3)).astype(np.uint16)
    zlib_png("zlib_rgb16", rgb16, 16, 2, (rgb16 >> 8).astype(np.uint8), 3, filters=[y % 5 for y in range(5)])
    zlib_png("zlib_multi_idat", rgb, 8, 2, rgb, 3, filters=[2] * 10, idat_parts=4)
    # Deterministic (no rng draws), so the fixtures generated after it stay as they were.
    y, x = np.mgrid[0:11, 0:13]
    adam7 = np.stack([x * 19 % 256, y * 23 % 256, (x * y * 7 + 3) % 256], -1).astype(np.uint8)
    zlib_png("zlib_adam7", adam7, 8, 2, adam7, 3, interlaced=True)


def jpeg_fixtures():
    height, width = 40, 48
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // (width - 1), y * 255 // (height - 1), np.full_like(x, 90)], -1).astype(np.float64)
    image[5:18, 6:20] = [220, 40, 40]
    image[((x - 34) ** 2 + (y - 26) ** 2) <= 64] = [40, 70, 230]
    image[28:36, 4:16] += rng.normal(0, 25, (8, 12, 3))
    image = np.clip(image, 0, 255).astype(np.uint8)
    Image.fromarray(image).save(os.path.join(OUT, "jpeg_source.png"))
    reference = {}
    for quality, subsampling, key in [(95, 2, "q95_420"), (75, 2, "q75_420"), (90, 0, "q90_444"), (95, 0, "q95_444")]:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality, subsampling=subsampling)
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        reference[key] = {"bytes": len(buffer.getvalue()), "psnr": round(psnr(decoded, image), 3)}
    with open(os.path.join(OUT, "jpeg_pil_reference.json"), "w") as f:
        json.dump(reference, f, indent=1, sort_keys=True)
    return image


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def swift_written_files(source):
    for file_name in ["swift_sample.png", "swift_sample_q95.jpg", "swift_sample_q95_444.jpg"]:
        samples_name = file_name.replace(".", "_") + "_pil"
        path = os.path.join(OUT, file_name)
        if not os.path.exists(path):
            print(f"  {file_name} missing: run `DANCEGRPO_WRITE_IMAGING_FIXTURES=1 swift test --filter SwiftWrittenFilesTests`, then this script again")
            continue
        decoded = np.asarray(Image.open(path).convert("RGB"))
        assert decoded.shape == source.shape, f"{file_name}: PIL reads {decoded.shape}, source is {source.shape}"
        with open(os.path.join(OUT, samples_name + ".samples"), "wb") as f:
            f.write(decoded.tobytes())
        print(f"  PIL decoded {file_name}: PSNR vs source {psnr(decoded, source):.2f} dB")


def main():
    os.makedirs(OUT, exist_ok=True)
    pil_fixtures()
    zlib_fixtures()
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    source = jpeg_fixtures()
    swift_written_files(source)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, into {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
