import Engine

/// The activation functions layers are configured with (`MLP(activation:)`), by their PyTorch / diffusers names.
public enum Activation: String, Sendable, CaseIterable {
    case gelu  // exact erf form (`nn.GELU()`)
    case geluTanh = "gelu_tanh"  // `nn.GELU(approximate="tanh")`, `gelu_pytorch_tanh`, `gelu_new`
    case quickGelu = "quick_gelu"  // CLIP's `x · sigmoid(1.702 x)`
    case silu
    case relu
    case tanh
    case sigmoid
    case identity

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .gelu: return exactGelu(x)
        case .geluTanh: return geluApproximate(x)
        case .quickGelu: return clipQuickGelu(x)
        case .silu: return sigmoidLinearUnit(x)
        case .relu: return rectifiedLinearUnit(x)
        case .tanh: return x.tanh()
        case .sigmoid: return logisticSigmoid(x)
        case .identity: return x
        }
    }
}

// The engine's functions under names that the enum's cases do not shadow.
private func exactGelu(_ x: Tensor) -> Tensor { gelu(x) }
private func clipQuickGelu(_ x: Tensor) -> Tensor { quickGelu(x) }
private func sigmoidLinearUnit(_ x: Tensor) -> Tensor { silu(x) }
private func rectifiedLinearUnit(_ x: Tensor) -> Tensor { relu(x) }
private func logisticSigmoid(_ x: Tensor) -> Tensor { sigmoid(x) }

// Parameter-free layers, so that containers (`Sequential`) keep PyTorch's indices: `nn.Sequential(Linear, GELU,
// Linear)` has keys `0.weight` and `2.weight`, and so does the Swift one.

public final class GELU: Module, UnaryLayer {
    public enum Approximation: Sendable { case none, tanh }
    public let approximation: Approximation
    public init(approximate: Approximation = .none) { approximation = approximate; super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { approximation == .none ? gelu(x) : geluApproximate(x) }
}

public final class QuickGELU: Module, UnaryLayer {
    public override init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { quickGelu(x) }
}

public final class SiLU: Module, UnaryLayer {
    public override init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { silu(x) }
}

public final class ReLU: Module, UnaryLayer {
    public override init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { relu(x) }
}

public final class LeakyReLU: Module, UnaryLayer {
    public let negativeSlope: Float
    public init(negativeSlope: Float = 0.01) { self.negativeSlope = negativeSlope; super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { leakyRelu(x, negativeSlope: negativeSlope) }
}

public final class Tanh: Module, UnaryLayer {
    public override init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.tanh() }
}

public final class Sigmoid: Module, UnaryLayer {
    public override init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { sigmoid(x) }
}

public final class Identity: Module, UnaryLayer {
    public override init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x }
}

/// Any ``Activation`` as a layer.
public final class ActivationLayer: Module, UnaryLayer {
    public let activation: Activation
    public init(_ activation: Activation) { self.activation = activation; super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { activation(x) }
}
