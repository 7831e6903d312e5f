#!/usr/bin/env python3
"""Reference video files for Tests/VideoTests, written and decoded by PyAV (FFmpeg's libraries, as bundled in its
wheel; see tools/requirements.txt), so the Swift reader is checked against files it did not write.

Run from the package root:

    scripts/tools-env.sh python3 tools/goldens/video.py

It writes into Tests/TestSupport/Fixtures/video/, for each clip NAME:
- NAME.<ext>: the file, encoded by PyAV from synthetic frames (a gradient background, a light square moving right, a dark one
  moving down, so that motion compensation and frame order both matter);
- NAME.source.rgb: the frames given to the encoder, F x H x W x 3 bytes;
- NAME.decoded.rgb: the frames PyAV decodes from the file, converted to RGB with the settings the Swift reader uses
  (bicubic, accurate rounding, full chroma interpolation, the stream's matrix and range): an independent decode
  that the Swift one must match;
and manifest.json with each clip's size, frame count, frame rate (as a fraction), codec and pixel format.

The clips:
- h264_bframes.mp4: H.264 (libx264, yuv420p, B-frames: decode order differs from display order), 12 fps, 40 x 32;
- mjpeg_fullrange.mkv: Motion JPEG in Matroska, yuvj422p (full range), 10 fps, odd size 35 x 27.

Rerunning writes the same bytes (the muxers in bitexact mode) with the same PyAV wheel; another libx264 may encode
differently, and then the decoded frames are recorded anew with the file.
"""
import json
import os
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "TestSupport", "Fixtures", "video")


def synthetic_frames(count, width, height):
    """A gradient with a light square moving right and a dark one moving down. Both differ from the background
    mostly in luma and sit on the 2 x 2 grid of 4:2:0 chroma: saturated colour edges would lose more to chroma
    subsampling (about 28 dB even losslessly coded) than to the codec, which is what the tests measure.
    """
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for f in range(count):
        frame = np.stack([x * 200 // max(1, width - 1) + 20, y * 180 // max(1, height - 1) + 40,
                          np.full_like(x, 90 + 8 * f)], -1).astype(np.uint8)
        left = 2 + 2 * f
        frame[6:16, left:left + 10] = (235, 230, 220)
        top, column = 2 + 2 * f, width * 2 // 3 & ~1
        frame[top:top + 8, column:column + 8] = (30, 35, 50)
        frames.append(frame)
    return np.stack(frames)


def decode(path, full_range):
    """Frames PyAV decodes, in display order, converted the way the Swift reader converts."""
    frames = []
    with av.open(path) as container:
        for frame in container.decode(video=0):
            rgb = frame.reformat(
                format="rgb24", interpolation=Interpolation.BICUBIC | Interpolation.ACCURATE_RND
                | Interpolation.FULL_CHR_H_INT, src_colorspace=Colorspace.ITU601,
                src_color_range=ColorRange.JPEG if full_range else ColorRange.MPEG, dst_color_range=ColorRange.JPEG)
            frames.append(rgb.to_ndarray())
    return np.stack(frames)


def write_clip(name, codec, pixel_format, rate, frames, options, full_range):
    path = os.path.join(OUT, name)
    count, height, width = frames.shape[:3]
    # bitexact: no random Matroska segment ID, no muxing date or library version, so reruns write the same bytes.
    with av.open(path, "w", container_options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, pixel_format
        for array in frames:
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    decoded = decode(path, full_range)
    assert decoded.shape == frames.shape, f"{name}: decoded {decoded.shape}, encoded {frames.shape}"
    mse = np.mean((decoded.astype(np.float64) - frames) ** 2)
    psnr = 10 * np.log10(255 ** 2 / mse)
    assert psnr > 30, f"{name}: PyAV's own round trip reaches only {psnr:.1f} dB"
    stem = os.path.splitext(name)[0]
    frames.tofile(os.path.join(OUT, stem + ".source.rgb"))
    decoded.tofile(os.path.join(OUT, stem + ".decoded.rgb"))
    rate = Fraction(rate)
    print(f"{name}: {os.path.getsize(path)} bytes, {count} frames {width}x{height}, PyAV round trip {psnr:.2f} dB")
    return {"file": name, "width": width, "height": height, "frames": count, "fps_num": rate.numerator,
            "fps_den": rate.denominator, "codec": codec, "pixel_format": pixel_format}


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {
        "h264_bframes": write_clip("h264_bframes.mp4", "libx264", "yuv420p", 12, synthetic_frames(10, 40, 32),
                                   {"crf": "16", "bf": "3", "preset": "medium"}, full_range=False),
        "mjpeg_fullrange": write_clip("mjpeg_fullrange.mkv", "mjpeg", "yuvj422p", 10, synthetic_frames(6, 35, 27),
                                      {"q:v": "2"}, full_range=True),
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
