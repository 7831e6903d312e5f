import Foundation

// https://github.com/python-pillow/Pillow/blob/13.0.0/src/libImaging/Resample.c
/// PIL's `Image.resize(size, Image.LANCZOS)` of an 8-bit image: what diffusers' `VaeImageProcessor.resize` runs on a
/// PIL image (its default `resample="lanczos"`), so the condition image of ``QwenImageEditPipeline`` is resized
/// here as diffusers resizes it. The same separable two passes as ``TorchBicubicUInt8`` (width, then height, through
/// an 8-bit intermediate, a pass skipped when its size does not change) with PIL's Lanczos taps: `sinc(x)·sinc(x/3)`
/// over a support of 3 widened by the scale when shrinking, normalised in double, rounded to fixed point at PIL's 22
/// bits for 8-bit images. Integer arithmetic, so the result is PIL's to the bit.
enum PILLanczosUInt8 {
    /// PIL's `PRECISION_BITS` for 8-bit images: 32 − 8 − 2.
    static let precision = 22

    static func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let y = x * Double.pi
        return sin(y) / y
    }

    static func lanczos(_ x: Double) -> Double { -3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0 }

    /// `precompute_coeffs` and `normalize_coeffs_8bpc` for one axis of `input` → `output` pixels.
    static func axis(input: Int, output: Int) -> TorchBicubicUInt8.Axis {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = 3 * filterScale
        let inverse = 1 / filterScale
        let maxTaps = Int(support.rounded(.up)) * 2 + 1
        var axis = TorchBicubicUInt8.Axis()
        axis.precision = precision
        for i in 0..<output {
            let center = (Double(i) + 0.5) * scale
            // C casts truncate toward zero.
            let first = max(Int(center - support + 0.5), 0)
            let count = min(max(min(Int(center + support + 0.5), input) - first, 0), maxTaps)
            var w = (0..<count).map { lanczos((Double($0 + first) - center + 0.5) * inverse) }
            let total = w.reduce(0, +)
            if total != 0 { w = w.map { $0 / total } }
            axis.first.append(first)
            axis.weights.append(
                w.map { v in
                    let scaled = v * Double(1 << precision)
                    return Int32(scaled < 0 ? Int(-0.5 + scaled) : Int(0.5 + scaled))
                })
        }
        return axis
    }

    /// `pixels` `[height, width, channels]` row-major → `[newHeight, newWidth, channels]`.
    static func resize(_ pixels: [UInt8], height: Int, width: Int, channels: Int, newHeight: Int, newWidth: Int)
        -> [UInt8]
    {
        TorchBicubicUInt8.resize(
            pixels, height: height, width: width, channels: channels, newHeight: newHeight, newWidth: newWidth,
            axis: axis(input:output:))
    }
}
