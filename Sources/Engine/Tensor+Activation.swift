internal import CMLXShim

// Activations and normalised exponentials, as free functions so model code reads like the references.

/// Softmax over `axes` (default: the last axis). `precise` accumulates reduced-precision inputs in float32.
public func softmax(_ x: Tensor, axes: [Int] = [-1], precise: Bool = false) -> Tensor {
    checked("softmax", [x], withInt32s(axes) { dg.softmax(x.raw, $0, $1, precise) })
}
public func softmax(_ x: Tensor, axis: Int, precise: Bool = false) -> Tensor {
    softmax(x, axes: [axis], precise: precise)
}

public func logSoftmax(_ x: Tensor, axis: Int = -1) -> Tensor { x - x.logSumExp(axes: [axis], keepDims: true) }

public func sigmoid(_ x: Tensor) -> Tensor { x.unary(.Sigmoid, "sigmoid") }
public func relu(_ x: Tensor) -> Tensor { x.maximum(0) }
/// x·σ(x): one graph node with its own vectorised CPU kernel and gradient for float32, composed otherwise.
public func silu(_ x: Tensor) -> Tensor { checked("silu", [x], dg.silu(x.raw)) }

/// SiLU composed from MLX's element-wise ops (the reference the fused kernel is tested against).
public func siluComposed(_ x: Tensor) -> Tensor { x * sigmoid(x) }

/// GELU with the exact erf form (PyTorch `approximate="none"`). One graph node with its own vectorised CPU kernel and
/// gradient for float32 (MLX's erf is scalar there); the composed formula otherwise.
public func gelu(_ x: Tensor) -> Tensor { checked("gelu", [x], dg.geluErf(x.raw)) }

/// The exact GELU composed from MLX's own element-wise ops (the reference the fused kernel is tested against).
public func geluComposed(_ x: Tensor) -> Tensor { x * ((x * Float(1.0 / 2.0.squareRoot())).erf() + 1) * 0.5 }

/// GELU with the tanh approximation (PyTorch `approximate="tanh"`, T5's `gelu_new`). One graph node with its own
/// vectorised CPU kernel and gradient for float32 (MLX's tanh is scalar libm there); the composed formula otherwise.
public func geluApproximate(_ x: Tensor) -> Tensor {
    checked("gelu (tanh)", [x], dg.geluTanh(x.raw))
}

/// The tanh-form GELU composed from MLX's own element-wise ops (the reference the fused kernel is tested against).
public func geluApproximateComposed(_ x: Tensor) -> Tensor {
    let c = Float((2.0 / Double.pi).squareRoot())
    return 0.5 * x * (1 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// CLIP's quick GELU: `x * sigmoid(1.702 x)`, fused for float32 on the CPU as `silu` is.
public func quickGelu(_ x: Tensor) -> Tensor { checked("quick gelu", [x], dg.quickGelu(x.raw)) }

/// The quick GELU composed from MLX's own element-wise ops (the fused kernel's reference).
public func quickGeluComposed(_ x: Tensor) -> Tensor { x * sigmoid(1.702 * x) }

public func leakyRelu(_ x: Tensor, negativeSlope: Float = 0.01) -> Tensor {
    Tensor.where(x .> 0, x, x * negativeSlope)
}
