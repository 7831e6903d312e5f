import Engine
import NN

/// transformers `Qwen2_5_VLRMSNorm` (Qwen2's): `x / sqrt(mean(x²) + eps)` in float32, rounded back to the input's
/// dtype, then times `weight`. Key `weight`.
public final class Qwen2_5_VLRMSNorm: Module, UnaryLayer {
    @Param public var weight: Tensor
    public let eps: Float

    public init(_ dimensions: Int, eps: Float, dtype: DType = .float32) {
        weight = Tensor.ones([dimensions], dtype: dtype)
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        weight * rmsNorm(x.asType(.float32), weight: nil, eps: eps).asType(x.dtype)
    }
}
