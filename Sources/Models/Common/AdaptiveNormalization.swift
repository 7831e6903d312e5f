import Engine
import NN

// diffusers' adaptive layer norms (DiT/FLUX/SD3 "AdaLN"): a conditioning vector [B, D] is mapped by
// `linear(silu(emb))` to per-sample shifts, scales and gates that modulate a parameter-free LayerNorm of x [B, L, D].

/// Modulation `norm(x)·(1 + scale) + shift` with [B, D] scale/shift broadcast over the sequence.
@inline(__always) func modulate(_ normalized: Tensor, shift: Tensor, scale: Tensor) -> Tensor {
    normalized * (scale.expandedDims(axis: 1) + 1) + shift.expandedDims(axis: 1)
}

/// `AdaLayerNormZero`: six chunks (shift, scale, gate for attention; shift, scale, gate for the MLP).
public final class AdaLayerNormZero: Module {
    public let linear: Linear
    let norm: LayerNorm

    public init(_ dim: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        linear = Linear(dim, 6 * dim, dtype: dtype, key: key)
        norm = LayerNorm(dim, eps: 1e-6, elementwiseAffine: false)
        super.init()
    }

    /// The modulated input and the gate of the attention branch, plus shift/scale/gate for the MLP branch.
    public func callAsFunction(_ x: Tensor, embedding: Tensor) -> (
        x: Tensor, gateMSA: Tensor, shiftMLP: Tensor, scaleMLP: Tensor, gateMLP: Tensor
    ) {
        let c = linear(silu(embedding)).split(parts: 6, axis: 1)
        return (modulate(norm(x), shift: c[0], scale: c[1]), c[2], c[3], c[4], c[5])
    }
}

/// `AdaLayerNormZeroSingle`: three chunks (shift, scale, gate).
public final class AdaLayerNormZeroSingle: Module {
    public let linear: Linear
    let norm: LayerNorm

    public init(_ dim: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        linear = Linear(dim, 3 * dim, dtype: dtype, key: key)
        norm = LayerNorm(dim, eps: 1e-6, elementwiseAffine: false)
        super.init()
    }

    public func callAsFunction(_ x: Tensor, embedding: Tensor) -> (x: Tensor, gate: Tensor) {
        let c = linear(silu(embedding)).split(parts: 3, axis: 1)
        return (modulate(norm(x), shift: c[0], scale: c[1]), c[2])
    }
}

/// `AdaLayerNormContinuous` (the output norm): two chunks in the order scale, shift.
public final class AdaLayerNormContinuous: Module {
    public let linear: Linear
    let norm: LayerNorm

    public init(
        _ dim: Int, conditioningDim: Int, eps: Float = 1e-6, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        linear = Linear(conditioningDim, 2 * dim, dtype: dtype, key: key)
        norm = LayerNorm(dim, eps: eps, elementwiseAffine: false)
        super.init()
    }

    public func callAsFunction(_ x: Tensor, conditioning: Tensor) -> Tensor {
        let c = linear(silu(conditioning)).split(parts: 2, axis: 1)
        return modulate(norm(x), shift: c[1], scale: c[0])
    }
}
