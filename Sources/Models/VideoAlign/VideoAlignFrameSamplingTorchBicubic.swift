// https://github.com/pytorch/pytorch/blob/d0f2af8b66b20da4baa50644c0cd3f887a2eae2e/aten/src/ATen/native/cpu/UpSampleKernel.cpp
// https://github.com/pytorch/vision/blob/v0.29.2/torchvision/transforms/_functional_tensor.py
/// torch's antialiased bicubic resize of float32 images on the CPU (`interpolate(mode="bicubic", antialias=True)`),
/// the kernel torchvision's v1 `resize` runs on uint8 tensors after casting them to float32 (it then clamps to
/// 0...255 and rounds half to even back to uint8). Separable: the width first, then the height, through a float32
/// intermediate, a pass skipped when its size does not change. Per axis, PIL's support and centring (Keys cubic,
/// a = −0.5; the support widened by the scale when shrinking); weights computed and normalised in float32 and each
/// output the float32 sum of weight × input in tap order, as torch's scalar loop does, so the rounding to uint8 lands
/// where torch's does.
enum TorchBicubicFloat {
    struct Axis {
        var first: [Int] = []
        var weights: [[Float]] = []
    }

    static func cubic(_ x: Float) -> Float {
        let a: Float = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0
    }

    static func axis(input: Int, output: Int) -> Axis {
        // area_pixel_compute_scale<float>: float(input) / output.
        let scale = Float(input) / Float(output)
        let support: Float = scale >= 1 ? 2 * scale : 2
        let maxTaps = Int(support.rounded(.up)) * 2 + 1
        let inverse: Float = scale >= 1 ? Float(1 / Double(scale)) : 1
        var axis = Axis()
        for i in 0..<output {
            // `scale * (i + 0.5)` is a double product stored as float; the bounds are float sums plus a double half,
            // truncated.
            let center = Float(Double(scale) * (Double(i) + 0.5))
            let first = max(Int(Double(center - support) + 0.5), 0)
            let count = min(max(min(Int(Double(center + support) + 0.5), input) - first, 0), maxTaps)
            var w: [Float] = []
            var total: Float = 0
            for j in 0..<count {
                // (j + xmin - center + 0.5) * invscale: an int minus a float (float), plus 0.5 and times the
                // inverse scale in double, handed to the float filter.
                let offset = Float(j + first) - center
                let v = cubic(Float((Double(offset) + 0.5) * Double(inverse)))
                w.append(v)
                total += v
            }
            if total != 0 { w = w.map { $0 / total } }
            axis.first.append(first)
            axis.weights.append(w)
        }
        return axis
    }

    /// `pixels` `[height, width, channels]` → `[newHeight, newWidth, channels]` float32, unclamped.
    static func resize(_ pixels: [Float], height: Int, width: Int, channels: Int, newHeight: Int, newWidth: Int)
        -> [Float]
    {
        precondition(pixels.count == height * width * channels, "TorchBicubicFloat: \(pixels.count) values")
        var image = pixels
        var (h, w) = (height, width)
        if newWidth != w {
            let a = axis(input: w, output: newWidth)
            var out = [Float](repeating: 0, count: h * newWidth * channels)
            for y in 0..<h {
                for x in 0..<newWidth {
                    let taps = a.weights[x]
                    for c in 0..<channels {
                        var acc: Float = 0
                        for (j, weight) in taps.enumerated() {
                            let v = image[(y * w + a.first[x] + j) * channels + c] * weight
                            acc = j == 0 ? v : acc + v
                        }
                        out[(y * newWidth + x) * channels + c] = acc
                    }
                }
            }
            (image, w) = (out, newWidth)
        }
        if newHeight != h {
            let a = axis(input: h, output: newHeight)
            var out = [Float](repeating: 0, count: newHeight * w * channels)
            for y in 0..<newHeight {
                let taps = a.weights[y]
                for x in 0..<w {
                    for c in 0..<channels {
                        var acc: Float = 0
                        for (j, weight) in taps.enumerated() {
                            let v = image[((a.first[y] + j) * w + x) * channels + c] * weight
                            acc = j == 0 ? v : acc + v
                        }
                        out[(y * w + x) * channels + c] = acc
                    }
                }
            }
            (image, h) = (out, newHeight)
        }
        return image
    }

    /// torchvision's path for uint8 input: to float32, ``resize(_:height:width:channels:newHeight:newWidth:)``,
    /// clamp to 0...255, round half to even, back to uint8.
    static func resizeUInt8(
        _ pixels: [UInt8], height: Int, width: Int, channels: Int, newHeight: Int, newWidth: Int
    ) -> [UInt8] {
        resize(
            pixels.map(Float.init), height: height, width: width, channels: channels, newHeight: newHeight,
            newWidth: newWidth
        ).map { UInt8(min(max($0, 0), 255).rounded(.toNearestOrEven)) }
    }
}
