import Engine
import Foundation
import NN

/// FLUX's 3-axis rotary embedding (diffusers `FluxPosEmbed`): each position id `[L, 3]` (text ids are zeros; image ids
/// are (0, row, column)) rotates its own slice of every head, `axes_dims_rope` features per axis, with
/// frequencies `θ^(−2i/d)`. As in diffusers the angles are computed in float64 and the tables rounded to float32;
/// the ids are small integers, so the tables are built on the host.
public struct FluxPositionEmbedding: Sendable {
    public let axesDims: [Int]
    public let theta: Double

    public init(axesDims: [Int], theta: Double = 10_000) {
        self.axesDims = axesDims
        self.theta = theta
    }

    /// Interleaved cos/sin tables `[L, Σ axesDims]` for `ids [L, axes]`.
    public func callAsFunction(_ ids: Tensor) -> RotaryEmbedding {
        precondition(
            ids.ndim == 2 && ids.dim(1) == axesDims.count,
            "FluxPositionEmbedding: ids must be [L, \(axesDims.count)], got \(ids.shape)")
        let positions = ids.asType(.float32).toArray(Float.self).map(Double.init)
        let length = ids.dim(0), width = axesDims.reduce(0, +)
        var cos = [Float](repeating: 0, count: length * width), sin = cos
        for row in 0..<length {
            var column = 0
            for (axis, dim) in axesDims.enumerated() {
                let position = positions[row * axesDims.count + axis]
                for i in 0..<(dim / 2) {
                    let frequency = 1 / Foundation.pow(theta, Double(2 * i) / Double(dim))
                    let angle = position * frequency
                    let (c, s) = (Float(Foundation.cos(angle)), Float(Foundation.sin(angle)))
                    for k in 0..<2 {
                        cos[row * width + column + 2 * i + k] = c
                        sin[row * width + column + 2 * i + k] = s
                    }
                }
                column += dim
            }
        }
        return .tables(
            cos: Tensor(cos, shape: [length, width]), sin: Tensor(sin, shape: [length, width]), layout: .interleaved)
    }
}
