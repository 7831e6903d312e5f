import Engine

/// Layer normalisation over the last axis (`torch.nn.LayerNorm(dims)`): keys `weight`, `bias` when affine.
public final class LayerNorm: Module, UnaryLayer {
    @Param public var weight: Tensor?
    @Param public var bias: Tensor?
    public let eps: Float

    /// `elementwiseAffine` false has neither tensor (diffusers' `elementwise_affine=False`); `bias` false keeps
    /// only the weight (`nn.LayerNorm(bias=False)`).
    public init(
        _ dimensions: Int, eps: Float = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true,
        dtype: DType = .float32
    ) {
        weight = elementwiseAffine ? Tensor.ones([dimensions], dtype: dtype) : nil
        self.bias = elementwiseAffine && bias ? Tensor.zeros([dimensions], dtype: dtype) : nil
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, eps: eps) }
}

/// RMS normalisation over the last axis, `x / sqrt(mean(x²) + eps) · weight` (`torch.nn.RMSNorm`, diffusers'
/// `RMSNorm`, T5's `T5LayerNorm`): key `weight` when affine.
public final class RMSNorm: Module, UnaryLayer {
    @Param public var weight: Tensor?
    public let eps: Float

    public init(_ dimensions: Int, eps: Float = 1e-6, elementwiseAffine: Bool = true, dtype: DType = .float32) {
        weight = elementwiseAffine ? Tensor.ones([dimensions], dtype: dtype) : nil
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { rmsNorm(x, weight: weight, eps: eps) }
}

/// Group normalisation (`torch.nn.GroupNorm(groups, channels)`) on channels-last input `[N, *spatial, C]`:
/// channels are split into `groups` consecutive blocks as in PyTorch, and each sample's block is normalised over its
/// spatial positions and channels together. Keys `weight`, `bias` ([C]) when affine. Computed in float32 whatever
/// the input's dtype; the result has the input's dtype.
public final class GroupNorm: Module, UnaryLayer {
    @Param public var weight: Tensor?
    @Param public var bias: Tensor?
    public let groups: Int
    public let channels: Int
    public let eps: Float

    public init(groups: Int, channels: Int, eps: Float = 1e-5, affine: Bool = true, dtype: DType = .float32) {
        precondition(channels % groups == 0, "GroupNorm: \(channels) channels do not split into \(groups) groups")
        weight = affine ? Tensor.ones([channels], dtype: dtype) : nil
        bias = affine ? Tensor.zeros([channels], dtype: dtype) : nil
        self.groups = groups
        self.channels = channels
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(
            x.ndim >= 2 && x.dim(-1) == channels,
            "GroupNorm: expected channels-last input [N, …, \(channels)], got \(x.shape)")
        let shape = x.shape, n = shape[0], perGroup = channels / groups
        // Rows of [N·groups, positions·channels per group], one group's values contiguous, and the two statistics
        // (mean, then the mean square of the centred values: two passes, as stable as torch's) as products with a
        // 1/L column: MLX's CPU reductions over the strided [N, P, G, C/G] axes ran 2.6× slower than this.
        let rows = x.asType(.float32).reshaped([n, -1, groups, perGroup]).transposed([0, 2, 1, 3]).reshaped([
            n * groups, -1
        ])
        let averaging = Tensor.full([rows.dim(1), 1], 1.0 / Double(rows.dim(1)))
        let centred = rows - rows.matmul(averaging)
        let variance = centred.square().matmul(averaging)
        var y = (centred * (variance + eps).rsqrt()).reshaped([n, groups, -1, perGroup]).transposed([0, 2, 1, 3])
            .reshaped(shape)
        if let weight { y = y * weight.asType(.float32) }
        if let bias { y = y + bias.asType(.float32) }
        return y.asType(x.dtype)
    }
}
