/// Conversion between RGB8 images and the float tensors models read and write (channels-last, HWC).
extension RGBImage {
    /// The value range of float pixels: diffusion models work in [-1, 1], most image code in [0, 1].
    public enum FloatRange: Sendable {
        case minusOneToOne
        case zeroToOne
    }

    /// Builds an image from float pixels in HWC layout, as a model's output tensor gives them after `toArray`.
    /// `shape` is [H, W, C] or [1, H, W, C] with C = 3 (RGB) or 1 (grey, copied to all channels). Values outside the
    /// range are clipped; NaN becomes the range's minimum.
    public init(hwc values: [Float], shape: [Int], range: FloatRange) throws {
        var dims = shape
        if dims.count == 4 {
            guard dims[0] == 1 else {
                throw ImagingError.invalidArgument("expected one image in shape [1, H, W, C], got shape \(shape)")
            }
            dims.removeFirst()
        }
        guard dims.count == 3, dims[0] >= 0, dims[1] >= 0, dims[2] == 3 || dims[2] == 1 else {
            throw ImagingError.invalidArgument("expected shape [H, W, 3] or [H, W, 1] (HWC), got \(shape)")
        }
        let (height, width, channels) = (dims[0], dims[1], dims[2])
        guard values.count == height * width * channels else {
            throw ImagingError.invalidArgument(
                "shape \(shape) needs \(height * width * channels) values, got \(values.count)")
        }
        let (offset, scale): (Float, Float) = range == .minusOneToOne ? (1, 127.5) : (0, 255)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            for c in 0..<3 {
                let v = values[i * channels + (channels == 3 ? c : 0)]
                let scaled = (v + offset) * scale
                pixels[i * 3 + c] = scaled.isNaN ? 0 : UInt8(min(255, max(0, scaled.rounded())))
            }
        }
        try self.init(width: width, height: height, pixels: pixels)
    }

    /// The pixels as floats in HWC layout (H × W × 3 values), for building a model input tensor of shape [H, W, 3].
    public func floatValues(range: FloatRange) -> [Float] {
        switch range {
        case .zeroToOne: return pixels.map { Float($0) / 255 }
        case .minusOneToOne: return pixels.map { Float($0) / 127.5 - 1 }
        }
    }
}
