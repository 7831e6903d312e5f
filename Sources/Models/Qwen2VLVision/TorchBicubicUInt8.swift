// https://github.com/pytorch/pytorch/blob/d0f2af8b66b20da4baa50644c0cd3f887a2eae2e/aten/src/ATen/native/cpu/UpSampleKernel.cpp
/// torch's antialiased bicubic resize of 8-bit images on the CPU (`interpolate(mode="bicubic", antialias=True)` on a
/// uint8 tensor, which torchvision's `resize` calls for uint8 images and transformers' Qwen2-VL image processor
/// therefore runs). Separable: width first, then height, each through an 8-bit intermediate, a pass skipped when
/// its size does not change. Per axis, PIL's support and centring (Keys cubic with a = −0.5, support widened by the
/// scale when shrinking), weights normalised in double, then rounded to int16 at the largest precision at which
/// the axis's largest weight still fits; each output is the integer dot product plus half a unit, shifted down and
/// clamped to 0...255. Integer arithmetic, so the result is torch's to the bit.
enum TorchBicubicUInt8 {
    /// One axis's taps: per output index the first input index and its int16 weights.
    struct Axis {
        var first: [Int] = []
        var weights: [[Int32]] = []
        var precision = 0
    }

    static func cubic(_ x: Double) -> Double {
        let a = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0
    }

    static func axis(input: Int, output: Int) -> Axis {
        let scale = Double(input) / Double(output)
        let support = scale >= 1 ? 2 * scale : 2
        let maxTaps = Int(support.rounded(.up)) * 2 + 1
        let inverse = scale >= 1 ? 1 / scale : 1
        var real: [[Double]] = []
        var axis = Axis()
        var largest = 0.0
        for i in 0..<output {
            let center = scale * (Double(i) + 0.5)
            // C++ casts truncate toward zero.
            let first = max(Int(center - support + 0.5), 0)
            let count = min(max(min(Int(center + support + 0.5), input) - first, 0), maxTaps)
            var w = (0..<count).map { cubic((Double($0 + first) - center + 0.5) * inverse) }
            var total = 0.0
            for v in w { total += v }
            if total != 0 {
                w = w.map { $0 / total }
                for v in w { largest = max(largest, v) }
            }
            axis.first.append(first)
            real.append(w)
        }
        var precision = 0
        while precision < 22 && Int(0.5 + largest * Double(1 << (precision + 1))) < (1 << 15) { precision += 1 }
        axis.precision = precision
        axis.weights = real.map { row in
            row.map { v in
                let scaled = v * Double(1 << precision)
                return Int32(scaled < 0 ? Int(-0.5 + scaled) : Int(0.5 + scaled))
            }
        }
        return axis
    }

    /// `pixels` `[height, width, channels]` row-major → `[newHeight, newWidth, channels]`.
    static func resize(_ pixels: [UInt8], height: Int, width: Int, channels: Int, newHeight: Int, newWidth: Int)
        -> [UInt8]
    {
        resize(
            pixels, height: height, width: width, channels: channels, newHeight: newHeight, newWidth: newWidth,
            axis: axis(input:output:))
    }

    /// The two fixed-point passes with the taps of `axis(input, output)` (PIL's structure, which torch follows; PIL's
    /// own filters reuse it: ``PILLanczosUInt8``).
    static func resize(
        _ pixels: [UInt8], height: Int, width: Int, channels: Int, newHeight: Int, newWidth: Int,
        axis: (Int, Int) -> Axis
    ) -> [UInt8] {
        precondition(pixels.count == height * width * channels, "TorchBicubicUInt8: \(pixels.count) values")
        var image = pixels
        var (h, w) = (height, width)
        if newWidth != w {
            let a = axis(w, newWidth)
            var out = [UInt8](repeating: 0, count: h * newWidth * channels)
            for y in 0..<h {
                for x in 0..<newWidth {
                    for c in 0..<channels {
                        var acc = Int64(1) << (a.precision - 1)
                        for (j, weight) in a.weights[x].enumerated() {
                            acc += Int64(weight) * Int64(image[(y * w + a.first[x] + j) * channels + c])
                        }
                        out[(y * newWidth + x) * channels + c] = UInt8(min(max(acc >> a.precision, 0), 255))
                    }
                }
            }
            (image, w) = (out, newWidth)
        }
        if newHeight != h {
            let a = axis(h, newHeight)
            var out = [UInt8](repeating: 0, count: newHeight * w * channels)
            for y in 0..<newHeight {
                for x in 0..<w {
                    for c in 0..<channels {
                        var acc = Int64(1) << (a.precision - 1)
                        for (j, weight) in a.weights[y].enumerated() {
                            acc += Int64(weight) * Int64(image[((a.first[y] + j) * w + x) * channels + c])
                        }
                        out[(y * w + x) * channels + c] = UInt8(min(max(acc >> a.precision, 0), 255))
                    }
                }
            }
            (image, h) = (out, newHeight)
        }
        return image
    }
}
