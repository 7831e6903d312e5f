import Engine
import Foundation
import NN

/// diffusers' `HunyuanVideoRotaryPosEmbed`: each video token (frame, row, column after patching) rotates its own
/// slice of every head per axis (`rope_axes_dim`), adjacent feature pairs, frequencies `θ^(−2i/d)` per axis with
/// θ = `rope_theta`. The text tokens are not rotated.
///
/// diffusers computes the frequencies, angles, cosines and sines in float32 (`get_1d_rotary_pos_embed`'s default
/// `freqs_dtype`), so the tables are built that way here too, on the host (the positions are small integers).
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_hunyuan_video.py
public struct HunyuanVideoRotaryPosEmbed: Sendable {
    public let axesDims: [Int]
    public let theta: Double

    public init(axesDims: [Int], theta: Double) {
        self.axesDims = axesDims
        self.theta = theta
    }

    /// Interleaved cos/sin tables `[textLength + frames·height·width, head_dim]`: `textLength` rows of the identity
    /// rotation (cos 1, sin 0) for the text tokens in front, then the patched grid frame-major (rows, then columns),
    /// as diffusers flattens the patch embedding's output.
    public func callAsFunction(frames: Int, height: Int, width: Int, textLength: Int = 0) -> RotaryEmbedding {
        let counts = [frames, height, width], headDim = axesDims.reduce(0, +)
        // Per axis its positions' tables [count, dim], broadcast over the other two axes and joined per token.
        var cosParts: [Tensor] = [], sinParts: [Tensor] = []
        for (axis, dim) in axesDims.enumerated() {
            let (c, s) = axisTables(count: counts[axis], dim: dim)
            var shape = [1, 1, 1, dim]
            shape[axis] = counts[axis]
            cosParts.append(c.reshaped(shape).broadcast(to: counts + [dim]))
            sinParts.append(s.reshaped(shape).broadcast(to: counts + [dim]))
        }
        let tokens = frames * height * width
        let cos = concatenated(
            [Tensor.ones([textLength, headDim]), concatenated(cosParts, axis: -1).reshaped([tokens, headDim])], axis: 0)
        let sin = concatenated(
            [Tensor.zeros([textLength, headDim]), concatenated(sinParts, axis: -1).reshaped([tokens, headDim])], axis: 0
        )
        return .tables(cos: cos, sin: sin, layout: .interleaved)
    }

    /// `[count, dim]` cos and sin of positions `0 ..< count` on one axis, each angle repeated for its feature pair;
    /// frequencies, angles and their cosines in float32 as diffusers.
    private func axisTables(count: Int, dim: Int) -> (cos: Tensor, sin: Tensor) {
        var cos = [Float](), sin = [Float]()
        cos.reserveCapacity(count * dim)
        sin.reserveCapacity(count * dim)
        for position in 0..<count {
            for i in 0..<(dim / 2) {
                let frequency = 1 / Foundation.powf(Float(theta), Float(2 * i) / Float(dim))
                let angle = Float(position) * frequency
                cos += [Foundation.cos(angle), Foundation.cos(angle)]
                sin += [Foundation.sin(angle), Foundation.sin(angle)]
            }
        }
        return (Tensor(cos, shape: [count, dim]), Tensor(sin, shape: [count, dim]))
    }
}
