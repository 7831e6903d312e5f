import Engine

/// A lookup table (`torch.nn.Embedding(count, dimensions)`): key `weight [count, dimensions]`; integer indices of
/// any shape give `[*indices.shape, dimensions]`.
public final class Embedding: Module, UnaryLayer {
    @Param public var weight: Tensor

    public var count: Int { weight.dim(0) }
    public var dimensions: Int { weight.dim(1) }

    /// PyTorch's initialisation: standard normal.
    public init(_ count: Int, _ dimensions: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        weight = Random.normal([count, dimensions], key: key).asType(dtype)
        super.init()
    }

    public init(weight: Tensor) {
        self.weight = weight
        super.init()
    }

    public func callAsFunction(_ indices: Tensor) -> Tensor {
        precondition(!indices.dtype.isFloatingPoint, "Embedding: indices must be integers, got \(indices.dtype)")
        return weight.take(indices, axis: 0)
    }

    /// `x · weightᵀ`: scores against every entry, for an output layer tied to this table.
    public func asLinear(_ x: Tensor) -> Tensor { x.matmul(weight.T) }
}
