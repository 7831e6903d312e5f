/// Conversion between the frames of a video and the float tensors video models read and write (frames first, then
/// channels-last: FHWC).
extension RGBImage {
    /// Builds one image per frame from float pixels in FHWC layout, as a video model's output gives them after a
    /// transpose to [F, H, W, C] and `toArray`. `shape` is [F, H, W, C] or [1, F, H, W, C] with C = 3 or 1; values
    /// are mapped as `init(hwc:shape:range:)` maps them (clipped, NaN to the range's minimum).
    public static func frames(fhwc values: [Float], shape: [Int], range: FloatRange) throws -> [RGBImage] {
        var dims = shape
        if dims.count == 5 {
            guard dims[0] == 1 else {
                throw ImagingError.invalidArgument("expected one video in shape [1, F, H, W, C], got shape \(shape)")
            }
            dims.removeFirst()
        }
        guard dims.count == 4, dims.allSatisfy({ $0 >= 0 }) else {
            throw ImagingError.invalidArgument("expected shape [F, H, W, 3] or [F, H, W, 1] (FHWC), got \(shape)")
        }
        let frameSize = dims[1] * dims[2] * dims[3]
        guard values.count == dims[0] * frameSize else {
            throw ImagingError.invalidArgument(
                "shape \(shape) needs \(dims[0] * frameSize) values, got \(values.count)")
        }
        return try (0..<dims[0]).map { f in
            try RGBImage(
                hwc: Array(values[(f * frameSize)..<((f + 1) * frameSize)]), shape: Array(dims[1...]), range: range)
        }
    }

    /// The frames' pixels as floats in FHWC layout (F × H × W × 3 values), for a video model's input tensor of shape
    /// [F, H, W, 3]. The frames must share one size.
    public static func fhwcValues(frames: [RGBImage], range: FloatRange) throws -> [Float] {
        guard let first = frames.first else { return [] }
        if let other = frames.first(where: { $0.width != first.width || $0.height != first.height }) {
            throw ImagingError.invalidArgument(
                """
                video frames must share one size, got \(first.width)×\(first.height) and \
                \(other.width)×\(other.height)
                """
            )
        }
        return frames.flatMap { $0.floatValues(range: range) }
    }
}
