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

    /// Rows `indices` of the table. Indices outside `0..<count` (MLX's gather does not check them: a large one reads
    /// outside the table) and floating-point indices are refused through the engine's error scope (see
    /// `Engine.catchingErrors`): the result is then zeros of the right shape, and the boundary that checks throws.
    /// The check reads the indices' extremes, so it evaluates them (token ids are host-built constants).
    public func callAsFunction(_ indices: Tensor) -> Tensor {
        if let problem = Self.problem(indices, count: count) {
            Engine.refuse("embedding", problem, operands: [indices, weight])
            return Tensor.zeros(indices.shape + [dimensions], dtype: weight.dtype)
        }
        return weight.take(indices, axis: 0)
    }

    /// Why `indices` cannot index a table of `count` rows, or nil when they can.
    static func problem(_ indices: Tensor, count: Int) -> String? {
        if indices.dtype.isFloatingPoint { return "indices must be integers, found \(indices.dtype)" }
        guard indices.count > 0 else { return nil }
        let wide = indices.asType(.int64)
        let extremes = stacked([wide.min(), wide.max()]).toArray(Int64.self)
        guard extremes[0] < 0 || extremes[1] >= Int64(count) else { return nil }
        let found = extremes[0] < 0 ? extremes[0] : extremes[1]
        return "index \(found) is outside the table's \(count) rows (expected 0..<\(count))"
    }

    /// `x · weightᵀ`: scores against every entry, for an output layer tied to this table.
    public func asLinear(_ x: Tensor) -> Tensor { x.matmul(weight.T) }
}
