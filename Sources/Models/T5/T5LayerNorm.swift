import Engine
import NN

/// T5's layer norm (transformers `T5LayerNorm`): `weight · x / sqrt(mean(x²) + eps)`, no mean subtraction and no
/// bias. The statistics are taken in float32 whatever the input's dtype; the result is rounded to the weight's dtype
/// when that is half precision, as transformers does.
public final class T5LayerNorm: Module, UnaryLayer {
    @Param public var weight: Tensor
    public let eps: Float

    public init(_ dimensions: Int, eps: Float = 1e-6, dtype: DType = .float32) {
        weight = Tensor.ones([dimensions], dtype: dtype)
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var normalised = rmsNorm(x.asType(.float32), weight: nil, eps: eps)
        if weight.dtype == .float16 || weight.dtype == .bfloat16 { normalised = normalised.asType(weight.dtype) }
        return weight * normalised
    }
}
