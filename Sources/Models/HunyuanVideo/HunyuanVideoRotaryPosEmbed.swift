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
        let headDim = axesDims.reduce(0, +), counts = [frames, height, width]
        let tokens = frames * height * width, rows = textLength + tokens
        var cos = [Float](repeating: 1, count: rows * headDim), sin = [Float](repeating: 0, count: rows * headDim)
        // Per axis: the angle of each position and frequency, float32 as diffusers.
        let axisTables: [(cos: [Float], sin: [Float])] = axesDims.enumerated().map { axis, dim in
            var c = [Float](), s = [Float]()
            for position in 0..<counts[axis] {
                for i in 0..<(dim / 2) {
                    let frequency = 1 / Foundation.powf(Float(theta), Float(2 * i) / Float(dim))
                    let angle = Float(position) * frequency
                    c.append(Foundation.cos(angle))
                    s.append(Foundation.sin(angle))
                }
            }
            return (c, s)
        }
        var token = textLength
        for f in 0..<frames {
            for h in 0..<height {
                for w in 0..<width {
                    var column = token * headDim
                    for (axis, position) in [f, h, w].enumerated() {
                        let half = axesDims[axis] / 2
                        for i in 0..<half {
                            for k in 0..<2 {
                                cos[column + 2 * i + k] = axisTables[axis].cos[position * half + i]
                                sin[column + 2 * i + k] = axisTables[axis].sin[position * half + i]
                            }
                        }
                        column += axesDims[axis]
                    }
                    token += 1
                }
            }
        }
        return .tables(
            cos: Tensor(cos, shape: [rows, headDim]), sin: Tensor(sin, shape: [rows, headDim]), layout: .interleaved)
    }
}
