import Engine
import Foundation
import NN

/// Qwen-Image's 3-axis rotary embedding (diffusers `QwenEmbedRope`, built by the model with `scale_rope=True`).
///
/// Each head's features are split `axesDims` = (frame, row, column) and each slice rotates adjacent pairs by its
/// axis's position times `θ^(−2i/d)`. Positions, for the images of one batch row (`img_shapes[0]`: diffusers uses
/// the first row's list for every row):
/// - image `k` of the list (0 the generated image, 1 an Edit condition image): frame `k + f`;
/// - with `scaleRope`, rows `−(h − ⌊h/2⌋) … ⌊h/2⌋ − 1` and columns likewise (the grid centred on
///   zero, so one size's positions are the middle of a larger size's), otherwise `0 ..< h`, `0 ..< w`;
/// - text token `i`: `m + i` on all three axes, `m` the largest `max(⌊h/2⌋, ⌊w/2⌋)` over the images
///   (`max(h, w)` without `scaleRope`), so text never shares an image position.
///
/// diffusers tabulates positions −4096 … 4095 with float32 frequencies and float32 products `position · frequency`
/// (`torch.outer` of integer positions and float32 frequencies); the tables here are built the same way, on the host,
/// for exactly the positions used. FLUX's `FluxPositionEmbedding` takes the same shape of positions but computes the
/// angles in float64 as FLUX's embedding does, which is why it is not reused.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_qwenimage.py
public struct QwenEmbedRope: Sendable {
    /// (frames, height, width) of one image's packed token grid.
    public typealias ImageShape = (frames: Int, height: Int, width: Int)

    public let axesDims: [Int]
    public let theta: Float
    public let scaleRope: Bool
    /// diffusers' tables cover positions `−maxPosition ..< maxPosition` on every axis.
    public static let maxPosition = 4096

    public init(axesDims: [Int], theta: Float = 10_000, scaleRope: Bool = true) {
        precondition(axesDims.count == 3, "QwenEmbedRope: expected 3 axes (frame, row, column), got \(axesDims)")
        self.axesDims = axesDims
        self.theta = theta
        self.scaleRope = scaleRope
    }

    /// Positions `[Σ f·h·w, 3]` of the images' tokens (frame-major, then rows, then columns, in list order) and
    /// `[textLength, 3]` of the text tokens.
    public func positions(imageShapes: [ImageShape], textLength: Int) -> (image: [[Int]], text: [[Int]]) {
        var image: [[Int]] = []
        var maxIndex = 0
        for (k, shape) in imageShapes.enumerated() {
            let (f, h, w) = shape
            let (rowStart, columnStart) = scaleRope ? (-(h - h / 2), -(w - w / 2)) : (0, 0)
            for frame in 0..<f {
                for row in 0..<h {
                    for column in 0..<w { image.append([k + frame, rowStart + row, columnStart + column]) }
                }
            }
            maxIndex = max(maxIndex, scaleRope ? max(h / 2, w / 2) : max(h, w))
        }
        let text = (0..<textLength).map { [maxIndex + $0, maxIndex + $0, maxIndex + $0] }
        return (image, text)
    }

    /// Interleaved cos/sin tables for the joint sequence `[text, images]` (the order of the double-stream attention),
    /// `[textLength + Σ f·h·w, Σ axesDims]`.
    public func callAsFunction(imageShapes: [ImageShape], textLength: Int) -> RotaryEmbedding {
        let (image, text) = positions(imageShapes: imageShapes, textLength: textLength)
        let rows = text + image
        for position in rows where position.contains(where: { $0 < -Self.maxPosition || $0 >= Self.maxPosition }) {
            preconditionFailure(
                "QwenEmbedRope: position \(position) lies outside diffusers' tables (−\(Self.maxPosition) ..< "
                    + "\(Self.maxPosition)); images \(imageShapes), \(textLength) text tokens")
        }
        // float32 as diffusers: exponent 2i/d, θ^exponent, its reciprocal.
        let frequencies = axesDims.map { d in
            stride(from: 0, to: d, by: 2).map { i in
                1 / Float(Foundation.pow(Double(theta), Double(Float(i) / Float(d))))
            }
        }
        let width = axesDims.reduce(0, +)
        var cos = [Float](repeating: 0, count: rows.count * width), sin = cos
        for (r, position) in rows.enumerated() {
            var column = r * width
            for axis in 0..<3 {
                for frequency in frequencies[axis] {
                    let angle = Double(Float(position[axis]) * frequency)
                    let (c, s) = (Float(Foundation.cos(angle)), Float(Foundation.sin(angle)))
                    cos[column] = c
                    cos[column + 1] = c
                    sin[column] = s
                    sin[column + 1] = s
                    column += 2
                }
            }
        }
        return .tables(
            cos: Tensor(cos, shape: [rows.count, width]), sin: Tensor(sin, shape: [rows.count, width]),
            layout: .interleaved)
    }
}
