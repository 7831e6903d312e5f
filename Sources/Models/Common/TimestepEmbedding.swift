import Engine
import Foundation
import NN

/// Sinusoidal embedding of (possibly fractional) timesteps `[N]` → `[N, channels]`, diffusers' `Timesteps` /
/// `get_timestep_embedding`: frequencies `exp(−ln(maxPeriod)·i/(half − shift))` in float32, then `[sin, cos]`, or
/// `[cos, sin]` with `flipSinToCos`.
public func sinusoidalTimestepEmbedding(
    _ timesteps: Tensor, channels: Int, flipSinToCos: Bool,
    downscaleFrequencyShift: Float, scale: Float = 1, maxPeriod: Float = 10_000
) -> Tensor {
    let half = channels / 2
    let exponent =
        Tensor.arange(0, Double(half)) * (-Foundation.log(maxPeriod)) / (Float(half) - downscaleFrequencyShift)
    let angles = scale * timesteps.asType(.float32).expandedDims(axis: 1) * exponent.exp().expandedDims(axis: 0)
    let (sin, cos) = (angles.sin(), angles.cos())
    var embedding = flipSinToCos ? concatenated([cos, sin], axis: -1) : concatenated([sin, cos], axis: -1)
    if channels % 2 == 1 { embedding = embedding.padded([(0, 0), (0, 1)]) }
    return embedding
}

/// diffusers' `TimestepEmbedding`: `linear_2(silu(linear_1(x)))`; with `.geluTanh` the same two layers with the
/// tanh-approximated GELU between them.
public final class TimestepEmbedding: Module, UnaryLayer {
    /// The activation between the two layers.
    public enum Activation: Sendable {
        case silu
        /// PyTorch's `GELU(approximate="tanh")` (diffusers' `act_fn="gelu_tanh"`).
        case geluTanh
    }

    @Child(key: "linear_1") public var linear1: Linear
    @Child(key: "linear_2") public var linear2: Linear
    public let activation: Activation

    public init(
        inChannels: Int, embeddingDim: Int, activation: Activation = .silu, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        self.activation = activation
        super.init()
        let keys = key.split(into: 2)
        linear1 = Linear(inChannels, embeddingDim, dtype: dtype, key: keys[0])
        linear2 = Linear(embeddingDim, embeddingDim, dtype: dtype, key: keys[1])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let hidden = linear1(x)
        return linear2(activation == .silu ? silu(hidden) : geluApproximate(hidden))
    }
}

/// diffusers' `PixArtAlphaTextProjection`: `linear_2(act(linear_1(x)))`, SiLU for FLUX's pooled-text projection,
/// `.geluTanh` for Wan's text embedder.
public typealias TextProjection = TimestepEmbedding
