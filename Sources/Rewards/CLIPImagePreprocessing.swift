// The image side of the CLIP reward pipelines: resize, crop or pad, normalise. One implementation, three
// configurations, each reproducing a reference pipeline:
//
// - `.hpsv2()`: DanceGRPO's HPS-v2.1 transform (HPSv2 `image_transform(224, is_train=False, light_augmentation=True)`,
//   as DanceGRPO builds it): ToTensor, then `ResizeMaxSize(224)` on the float tensor — longest side to 224 with
//   torchvision's bicubic (antialiased, `torch._upsample_bicubic2d_aa`, computed on floats, no rounding or
//   clamping), zero padding to 224×224 centred (left/top = pad // 2) — then Normalize.
// - `.openCLIP()`: open_clip's `image_transform(size, is_train=False)`: torchvision `Resize(size, BICUBIC)` of the
//   PIL image (shortest side to `size`, long side `int(size·long/short)`), `CenterCrop` (offset
//   `round((H − size) / 2)`, Python's round-half-even), ToTensor, Normalize.
// - `.openCLIP(config)`: open_clip's `image_transform_v2(PreprocessCfg, is_train=False)` as a Hub
//   `open_clip_config.json` sets it up (`preprocess_cfg`: `resize_mode`, `interpolation`, `mean`, `std`,
//   `fill_color`; pinned source: transform.py L409-L434 at
//   https://github.com/mlfoundations/open_clip/blob/30573618fc37/src/open_clip/transform.py#L409-L434):
//   "shortest" is `.openCLIP()` above; "squash" resizes the PIL image to exactly size × size (torchvision
//   `Resize((size, size))`, aspect not kept), no crop; "longest" scales the longest side to `size`
//   (`ResizeKeepRatio(longest=1)`: ratio = max(H, W) / size, sides `round(side / ratio)`, half to even), then
//   `CenterCropOrPad` pads with `fill_color` (left/top = excess // 2). Either with PIL bicubic or bilinear.
// - `.clipProcessor()`: transformers' `CLIPImageProcessor` (slow, PIL; what PickScore's and DDPO's aesthetic code
//   ran): shortest edge to `size` as above, centre crop with offset `(H − size) // 2`, rescale 1/255, normalise.
//
// The PIL resampler is PIL's `ImagingResample` for 8-bit images reproduced exactly: separable bicubic (a = −0.5, or
// the triangle of bilinear, support 1) whose support is scaled by the downscale factor, coefficients normalised
// and rounded to 22-bit fixed point, one pass per axis with 8-bit rounding and clamping in between (horizontal
// first, unless the height shrinks much more: see `PILResampler.resize`). Its output equals PIL's byte for byte
// (tests: RewardsPreprocessingTests, OpenCLIPPreprocessTests). The float resampler follows torch's antialiased
// bicubic (same kernel and support rule, weights normalised, float32 sums); it matches torchvision to float
// rounding (≈1e-6).
import Foundation
import Imaging
import Models

public struct CLIPImagePreprocessing: Sendable, Equatable {
    /// How the image is brought to `size × size`.
    public enum Geometry: Sendable, Equatable {
        /// Shortest side to `size` (aspect kept), then a centre crop.
        case shortestSideThenCenterCrop(CropRounding)
        /// Longest side to `size` (aspect kept), then zero padding (value 0 before normalisation) centred:
        /// DanceGRPO's HPS `ResizeMaxSize` (rounds `side · size / longest`; an image already `size` long is left as
        /// is).
        case longestSideThenPad
        /// open_clip's `resize_mode: longest`: `ResizeKeepRatio(longest=1)` (sides `round(side / (longest / size))`)
        /// then `CenterCropOrPad` filled with the byte `fill` (left/top = excess // 2), always `size × size`.
        case longestSideThenCenterPad(fill: UInt8)
        /// open_clip's `resize_mode: squash`: both sides resized to `size`, aspect not kept, nothing cropped.
        case squash
    }

    /// Where a centre crop starts when the excess is odd.
    public enum CropRounding: Sendable, Equatable {
        /// torchvision `CenterCrop`: `int(round((H − size) / 2.0))`, rounding half to even.
        case torchvision
        /// transformers `center_crop`: `(H − size) // 2`.
        case floor
    }

    /// Which resampling code the reference runs.
    public enum Resampler: Sendable, Equatable {
        /// PIL's `Image.resize(…, BICUBIC)` on the 8-bit image (exact; the result is 8-bit).
        case pilBicubic
        /// PIL's `Image.resize(…, BILINEAR)` on the 8-bit image (exact).
        case pilBilinear
        /// torchvision `F.resize(tensor, …, BICUBIC, antialias=True)` on the float image in [0, 1].
        case torchBicubicAntialiased
    }

    public var size: Int
    public var geometry: Geometry
    public var resampler: Resampler
    public var mean: [Float]
    public var std: [Float]

    /// OpenAI CLIP's normalisation (open_clip's `OPENAI_DATASET_MEAN/STD`, CLIPImageProcessor's defaults).
    public static let openAIMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let openAIStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    public init(
        size: Int, geometry: Geometry, resampler: Resampler, mean: [Float] = openAIMean, std: [Float] = openAIStd
    ) {
        precondition(
            size > 0 && mean.count == 3 && std.count == 3, "CLIPImagePreprocessing: size > 0, 3 means and 3 stds")
        self.size = size
        self.geometry = geometry
        self.resampler = resampler
        self.mean = mean
        self.std = std
    }

    /// DanceGRPO's HPS-v2.1 transform (see the file header).
    public static func hpsv2(size: Int = 224) -> CLIPImagePreprocessing {
        CLIPImagePreprocessing(size: size, geometry: .longestSideThenPad, resampler: .torchBicubicAntialiased)
    }

    /// open_clip's evaluation transform (resize mode "shortest").
    public static func openCLIP(size: Int = 224, mean: [Float] = openAIMean, std: [Float] = openAIStd)
        -> CLIPImagePreprocessing
    {
        CLIPImagePreprocessing(
            size: size, geometry: .shortestSideThenCenterCrop(.torchvision), resampler: .pilBicubic,
            mean: mean, std: std)
    }

    /// open_clip's evaluation transform as an open_clip config sets it up (`preprocess_cfg`; see the file header):
    /// size = the vision tower's `image_size`, absent fields take `PreprocessCfg`'s defaults (shortest, bicubic,
    /// OpenAI mean and std, fill 0).
    public static func openCLIP(_ config: OpenCLIPConfig) -> CLIPImagePreprocessing {
        let geometry: Geometry
        switch config.resizeMode ?? .shortest {
        case .shortest: geometry = .shortestSideThenCenterCrop(.torchvision)
        case .longest: geometry = .longestSideThenCenterPad(fill: UInt8(config.fillColor ?? 0))
        case .squash: geometry = .squash
        }
        return CLIPImagePreprocessing(
            size: config.vision.imageSize, geometry: geometry,
            resampler: config.interpolation == .bilinear ? .pilBilinear : .pilBicubic,
            mean: config.imageMean.map { $0.map(Float.init) } ?? openAIMean,
            std: config.imageStd.map { $0.map(Float.init) } ?? openAIStd)
    }

    /// transformers' `CLIPImageProcessor` with `shortest_edge` = `crop_size` = `size`.
    public static func clipProcessor(size: Int = 224, mean: [Float] = openAIMean, std: [Float] = openAIStd)
        -> CLIPImagePreprocessing
    {
        CLIPImagePreprocessing(
            size: size, geometry: .shortestSideThenCenterCrop(.floor), resampler: .pilBicubic,
            mean: mean, std: std)
    }

    // MARK: - Whole pipeline

    /// The model input of one image: `size × size × 3` floats, HWC (channels-last), normalised.
    public func pixelValues(_ image: RGBImage) -> [Float] {
        var out = unnormalizedPixels(image)
        for i in stride(from: 0, to: out.count, by: 3) {
            for c in 0..<3 { out[i + c] = (out[i + c] - mean[c]) / std[c] }
        }
        return out
    }

    /// The resized and cropped (or padded) image before normalisation: `size × size × 3` floats in [0, 1] (the
    /// float resampler may overshoot slightly, as torchvision's does), HWC. With the PIL resampler every value is a
    /// byte / 255.
    public func unnormalizedPixels(_ image: RGBImage) -> [Float] {
        precondition(!image.isEmpty, "CLIPImagePreprocessing: empty image")
        let (w, h) = (image.width, image.height)
        var plane: FloatImage
        switch geometry {
        case .shortestSideThenCenterCrop(let rounding):
            let (newW, newH) = Self.shortestSideSize(width: w, height: h, size: size)
            let resized = resize(image, width: newW, height: newH)
            let top = Self.cropOffset(excess: newH - size, rounding)
            let left = Self.cropOffset(excess: newW - size, rounding)
            plane = resized.cropped(left: left, top: top, width: size, height: size)
        case .longestSideThenPad:
            let scale = Double(size) / Double(max(w, h))
            if scale == 1 {
                // ResizeMaxSize does nothing at all (no padding either) when the longest side already fits.
                plane = FloatImage(image)
            } else {
                let newH = Int((Double(h) * scale).rounded(.toNearestOrEven))
                let newW = Int((Double(w) * scale).rounded(.toNearestOrEven))
                plane = resize(image, width: newW, height: newH)
                    .padded(left: (size - newW) / 2, top: (size - newH) / 2, width: size, height: size)
            }
        case .longestSideThenCenterPad(let fill):
            let (newW, newH) = Self.longestSideSize(width: w, height: h, size: size)
            plane = resize(image, width: newW, height: newH)
            // CenterCropOrPad: pad the short sides (left/top = excess // 2), then crop any long side (round half
            // to even); with both sides ≤ size only the padding happens.
            if newW < size || newH < size {
                let (padW, padH) = (max(size - newW, 0), max(size - newH, 0))
                plane = plane.padded(
                    left: padW / 2, top: padH / 2, width: newW + padW, height: newH + padH,
                    fill: Float(fill) / 255)
            }
            if plane.width > size || plane.height > size {
                plane = plane.cropped(
                    left: Self.cropOffset(excess: plane.width - size, .torchvision),
                    top: Self.cropOffset(excess: plane.height - size, .torchvision),
                    width: size, height: size)
            }
        case .squash:
            plane = resize(image, width: size, height: size)
        }
        precondition(
            plane.width == size && plane.height == size,
            """
            CLIPImagePreprocessing: a \(w)×\(h) image gives \(plane.width)×\(plane.height), not \(size)×\(size) \
            (ResizeMaxSize leaves images whose longest side is already \(size) unpadded)
            """
        )
        return plane.values
    }

    /// `images` → `[B, size, size, 3]` floats (as a flat array, image after image).
    public func batch(_ images: [RGBImage]) -> [Float] {
        var all: [Float] = []
        all.reserveCapacity(images.count * size * size * 3)
        for image in images { all += pixelValues(image) }
        return all
    }

    // MARK: - Steps

    /// torchvision's `_compute_resized_output_size` for an int size (and transformers' `get_resize_output_image_size`
    /// with `default_to_square=False`): the short side becomes `size`, the long one `int(size · long / short)`.
    public static func shortestSideSize(width: Int, height: Int, size: Int) -> (width: Int, height: Int) {
        let (short, long) = width <= height ? (width, height) : (height, width)
        let newLong = Int(Double(size) * Double(long) / Double(short))
        return width <= height ? (size, newLong) : (newLong, size)
    }

    /// open_clip's `ResizeKeepRatio.get_params` with `longest=1` and no random scaling: ratio = max(H/size, W/size)
    /// (its `· 1 + min · 0` leaves it as is), each side `round(side / ratio)`, Python's round half to even.
    public static func longestSideSize(width: Int, height: Int, size: Int) -> (width: Int, height: Int) {
        let ratio = max(Double(height) / Double(size), Double(width) / Double(size))
        return (
            Int((Double(width) / ratio).rounded(.toNearestOrEven)),
            Int((Double(height) / ratio).rounded(.toNearestOrEven))
        )
    }

    static func cropOffset(excess: Int, _ rounding: CropRounding) -> Int {
        switch rounding {
        case .torchvision: return Int((Double(excess) / 2).rounded(.toNearestOrEven))
        case .floor: return Int((Double(excess) / 2).rounded(.down))
        }
    }

    /// The resampled image in [0, 1] floats (PIL: the 8-bit result divided by 255, as ToTensor does).
    func resize(_ image: RGBImage, width: Int, height: Int) -> FloatImage {
        switch resampler {
        case .pilBicubic:
            return FloatImage(PILResampler.resize(image, width: width, height: height, filter: .bicubic))
        case .pilBilinear:
            return FloatImage(PILResampler.resize(image, width: width, height: height, filter: .bilinear))
        case .torchBicubicAntialiased:
            return TorchResampler.bicubicAntialiased(FloatImage(image), width: width, height: height)
        }
    }
}

/// An RGB image of floats, HWC.
struct FloatImage {
    var width: Int
    var height: Int
    var values: [Float]

    init(width: Int, height: Int, values: [Float]) {
        self.width = width
        self.height = height
        self.values = values
    }

    /// ToTensor: bytes / 255 in float32.
    init(_ image: RGBImage) {
        self.init(width: image.width, height: image.height, values: image.pixels.map { Float($0) / 255 })
    }

    func cropped(left: Int, top: Int, width: Int, height: Int) -> FloatImage {
        precondition(left >= 0 && top >= 0 && left + width <= self.width && top + height <= self.height)
        var out = [Float](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let src = ((top + y) * self.width + left) * 3
            out.replaceSubrange(y * width * 3..<(y + 1) * width * 3, with: values[src..<src + width * 3])
        }
        return FloatImage(width: width, height: height, values: out)
    }

    /// Places this image at (left, top) in a `width × height` canvas filled with `fill`.
    func padded(left: Int, top: Int, width: Int, height: Int, fill: Float = 0) -> FloatImage {
        var out = [Float](repeating: fill, count: width * height * 3)
        for y in 0..<self.height {
            let dst = ((top + y) * width + left) * 3
            out.replaceSubrange(dst..<dst + self.width * 3, with: values[y * self.width * 3..<(y + 1) * self.width * 3])
        }
        return FloatImage(width: width, height: height, values: out)
    }
}

/// The bicubic kernel of PIL and of torch's antialiased resize (Keys, a = −0.5), support 2.
@inline(__always) func bicubicKernel(_ x: Double) -> Double {
    let a = -0.5
    let x = abs(x)
    if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
    if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
    return 0
}

/// PIL's `Resample.c` for 8-bit RGB with the BICUBIC or BILINEAR filter, reproduced exactly.
enum PILResampler {
    static let precisionBits = 32 - 8 - 2

    /// PIL's `struct filter`s: the kernel and its support at scale 1.
    enum Filter {
        case bicubic, bilinear

        var support: Double { self == .bicubic ? 2 : 1 }

        func callAsFunction(_ x: Double) -> Double {
            switch self {
            case .bicubic: return bicubicKernel(x)
            case .bilinear: return max(1 - abs(x), 0)
            }
        }
    }

    /// `precompute_coeffs` + `normalize_coeffs_8bpc`: per output index, the first input index, the tap count and the
    /// fixed-point weights.
    static func coefficients(inSize: Int, outSize: Int, filter: Filter = .bicubic)
        -> (bounds: [(start: Int, count: Int)], weights: [[Int]])
    {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        var bounds: [(Int, Int)] = []
        var weights: [[Int]] = []
        bounds.reserveCapacity(outSize)
        weights.reserveCapacity(outSize)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1 / filterScale
            let xmin = max(Int(center - support + 0.5), 0)  // C's (int) truncates toward zero
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var k = [Double](repeating: 0, count: max(xmax, 0))
            var ww = 0.0
            for x in 0..<max(xmax, 0) {
                let w = filter((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            if ww != 0 { for x in k.indices { k[x] /= ww } }
            let one = Double(1 << precisionBits)
            weights.append(k.map { $0 < 0 ? Int(-0.5 + $0 * one) : Int(0.5 + $0 * one) })
            bounds.append((xmin, max(xmax, 0)))
        }
        return (bounds, weights)
    }

    @inline(__always) static func clip8(_ v: Int) -> UInt8 {
        let shifted = v >> precisionBits  // arithmetic shift, as C's on int
        return shifted <= 0 ? 0 : shifted >= 255 ? 255 : UInt8(shifted)
    }

    /// Both passes, in Pillow 13's order: the vertical pass first when the height shrinks by more than twice what
    /// the width shrinks (only a mixed or strongly vertical resize, e.g. 19×41 → 24×24), else the horizontal one.
    /// The order changes the 8-bit rounding between passes. Pillow ≤ 12 always ran the horizontal pass first; the
    /// goldens record the Pillow they were made with. Pinned source: `ImagingResampleInner`,
    /// https://github.com/python-pillow/Pillow/blob/13.0.0/src/libImaging/Resample.c#L863-L867
    static func resize(_ image: RGBImage, width: Int, height: Int, filter: Filter) -> RGBImage {
        func horizontal(_ image: RGBImage) -> RGBImage {
            guard width != image.width else { return image }
            let (bounds, weights) = coefficients(inSize: image.width, outSize: width, filter: filter)
            return try! RGBImage(
                width: width, height: image.height,
                pixels: pass(
                    image.pixels, lines: image.height, outSize: width, bounds: bounds, weights: weights,
                    inputOffset: { line, i in (line * image.width + i) * 3 },
                    outputOffset: { line, o in (line * width + o) * 3 }))
        }
        func vertical(_ image: RGBImage) -> RGBImage {
            guard height != image.height else { return image }
            let (bounds, weights) = coefficients(inSize: image.height, outSize: height, filter: filter)
            let w = image.width
            return try! RGBImage(
                width: w, height: height,
                pixels: pass(
                    image.pixels, lines: w, outSize: height, bounds: bounds, weights: weights,
                    inputOffset: { column, i in (i * w + column) * 3 },
                    outputOffset: { column, o in (o * w + column) * 3 }))
        }
        let heightShrink = image.height - height
        let verticalFirst = heightShrink > 0 && heightShrink > (image.width - width) * 2
        return verticalFirst ? horizontal(vertical(image)) : vertical(horizontal(image))
    }

    /// One separable pass over `lines` rows (or columns) of RGB bytes; `inputOffset(line, i)` / `outputOffset(line, o)`
    /// give the byte offset of sample i (o) of a line.
    private static func pass(
        _ input: [UInt8], lines: Int, outSize: Int, bounds: [(start: Int, count: Int)], weights: [[Int]],
        inputOffset: (Int, Int) -> Int, outputOffset: (Int, Int) -> Int
    ) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: lines * outSize * 3)
        let rounding = 1 << (precisionBits - 1)
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                for o in 0..<outSize {
                    let (start, count) = bounds[o]
                    weights[o].withUnsafeBufferPointer { k in
                        for line in 0..<lines {
                            var s0 = rounding, s1 = rounding, s2 = rounding
                            for t in 0..<count {
                                let i = inputOffset(line, start + t)
                                s0 += Int(src[i]) * k[t]
                                s1 += Int(src[i + 1]) * k[t]
                                s2 += Int(src[i + 2]) * k[t]
                            }
                            let d = outputOffset(line, o)
                            dst[d] = clip8(s0)
                            dst[d + 1] = clip8(s1)
                            dst[d + 2] = clip8(s2)
                        }
                    }
                }
            }
        }
        return output
    }
}

/// torch's `_upsample_bicubic2d_aa` (antialiased bicubic, `align_corners=False`) on float images.
enum TorchResampler {
    /// `HelperInterpBase::_compute_indices_min_size_weights_aa` in float32.
    static func coefficients(inSize: Int, outSize: Int) -> (bounds: [(start: Int, count: Int)], weights: [[Float]]) {
        let scale = Float(inSize) / Float(outSize)
        let support: Float = scale >= 1 ? 2 * scale : 2
        let invScale: Float = scale >= 1 ? 1 / scale : 1
        var bounds: [(Int, Int)] = []
        var weights: [[Float]] = []
        for i in 0..<outSize {
            let center = scale * (Float(i) + 0.5)
            let xmin = max(Int(center - support + 0.5), 0)
            let xsize = min(Int(center + support + 0.5), inSize) - xmin
            var k = [Float](repeating: 0, count: max(xsize, 0))
            var total: Float = 0
            for j in 0..<max(xsize, 0) {
                let w = Float(bicubicKernel(Double((Float(j + xmin) - center + 0.5) * invScale)))
                k[j] = w
                total += w
            }
            if total != 0 { for j in k.indices { k[j] /= total } }
            bounds.append((xmin, max(xsize, 0)))
            weights.append(k)
        }
        return (bounds, weights)
    }

    static func bicubicAntialiased(_ image: FloatImage, width: Int, height: Int) -> FloatImage {
        var current = image
        if width != image.width {
            let (bounds, weights) = coefficients(inSize: image.width, outSize: width)
            current = FloatImage(
                width: width, height: image.height,
                values: pass(
                    current.values, lines: image.height, outSize: width, bounds: bounds, weights: weights,
                    inputOffset: { line, i in (line * image.width + i) * 3 },
                    outputOffset: { line, o in (line * width + o) * 3 }))
        }
        if height != image.height {
            let (bounds, weights) = coefficients(inSize: image.height, outSize: height)
            let w = current.width
            current = FloatImage(
                width: w, height: height,
                values: pass(
                    current.values, lines: w, outSize: height, bounds: bounds, weights: weights,
                    inputOffset: { column, i in (i * w + column) * 3 },
                    outputOffset: { column, o in (o * w + column) * 3 }))
        }
        return current
    }

    private static func pass(
        _ input: [Float], lines: Int, outSize: Int, bounds: [(start: Int, count: Int)], weights: [[Float]],
        inputOffset: (Int, Int) -> Int, outputOffset: (Int, Int) -> Int
    ) -> [Float] {
        var output = [Float](repeating: 0, count: lines * outSize * 3)
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                for o in 0..<outSize {
                    let (start, count) = bounds[o]
                    weights[o].withUnsafeBufferPointer { k in
                        for line in 0..<lines {
                            var s0: Float = 0, s1: Float = 0, s2: Float = 0
                            for t in 0..<count {
                                let i = inputOffset(line, start + t)
                                s0 += src[i] * k[t]
                                s1 += src[i + 1] * k[t]
                                s2 += src[i + 2] * k[t]
                            }
                            let d = outputOffset(line, o)
                            dst[d] = s0
                            dst[d + 1] = s1
                            dst[d + 2] = s2
                        }
                    }
                }
            }
        }
        return output
    }
}
