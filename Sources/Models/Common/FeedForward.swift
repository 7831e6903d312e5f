import Engine
import NN

/// diffusers' `FeedForward` with a GELU projection in front: keys `net.0.proj` (dim → inner, or dim → 2·inner for
/// GEGLU) and `net.2` (inner → out); `net.1` is dropout and has no tensors.
public final class FeedForward: Module, UnaryLayer {
    /// diffusers' `GELU` module (a projection followed by the activation) or, `gated`, its `GEGLU` (a projection to
    /// twice the width, split into `hidden, gate`, giving `hidden · gelu(gate)` with the exact GELU).
    public final class GELUProjection: Module, UnaryLayer {
        public let proj: Linear
        let approximation: GELU.Approximation
        let gated: Bool
        init(_ input: Int, _ output: Int, approximation: GELU.Approximation, gated: Bool, dtype: DType, key: RandomKey)
        {
            proj = Linear(input, gated ? 2 * output : output, dtype: dtype, key: key)
            self.approximation = approximation
            self.gated = gated
            super.init()
        }
        public func callAsFunction(_ x: Tensor) -> Tensor {
            let y = proj(x)
            if gated {
                let parts = y.split(parts: 2, axis: -1)
                return parts[0] * gelu(parts[1])
            }
            return approximation == .tanh ? geluApproximate(y) : gelu(y)
        }
    }

    @Child(key: "net.0") public var input: GELUProjection
    @Child(key: "net.2") public var output: Linear

    /// `activation` "gelu-approximate" is `.tanh` (FLUX, SD3), "gelu" is `.none`; "geglu" (Stable Diffusion's UNet)
    /// is `gated` (its GELU is always exact). The hidden width is `innerDim` when given (diffusers' `inner_dim`, e.g.
    /// Wan's `ffn_dim`), else `dim · multiplier`.
    public init(
        dim: Int, outputDim: Int? = nil, multiplier: Int = 4, innerDim: Int? = nil,
        approximation: GELU.Approximation = .tanh, gated: Bool = false, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        super.init()
        let keys = key.split(into: 2)
        let inner = innerDim ?? dim * multiplier
        input = GELUProjection(dim, inner, approximation: approximation, gated: gated, dtype: dtype, key: keys[0])
        output = Linear(inner, outputDim ?? dim, dtype: dtype, key: keys[1])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { output(input(x)) }
}
