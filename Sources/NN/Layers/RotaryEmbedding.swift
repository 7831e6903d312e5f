import Engine

/// How a rotary embedding pairs the features of a head.
public enum RotaryLayout: Sendable {
    /// Adjacent pairs (x0, x1), (x2, x3), … (FLUX, CogVideoX; diffusers' `use_real_unbind_dim=-1`; MLX
    /// `traditional`).
    case interleaved
    /// First half with second half (x_i, x_{i+D/2}) (GPT-NeoX, Stable Audio; diffusers' `use_real_unbind_dim=-2`).
    case halves
}

/// Rotary position embedding for attention queries and keys `[B, H, L, D]`.
public enum RotaryEmbedding {
    /// Precomputed tables as diffusers builds them: `cos`, `sin` of shape `[L, D]` (or `[B, L, D]` for positions
    /// that differ per sample), already expanded to every feature (each angle repeated for its pair).
    /// Computed as `x · cos + rotate(x) · sin` in float32, rounded back to `x`'s dtype.
    case tables(cos: Tensor, sin: Tensor, layout: RotaryLayout)
    /// Positions `offset ..< offset + L` with frequencies `base^(−2i/dimensions)` on the first `dimensions` features
    /// (all when nil), by the engine's fused kernel; positions are multiplied by `scale`.
    case positions(
        offset: Int = 0, base: Float = 10_000, dimensions: Int? = nil, scale: Float = 1, layout: RotaryLayout)

    /// Tables for 1-D `positions [L]` (or `[B, L]`) over `dimensions` features: angle `position ·
    /// base^(−2i/dimensions)`.
    public static func tables(
        positions: Tensor, dimensions: Int, base: Float = 10_000,
        layout: RotaryLayout
    ) -> RotaryEmbedding {
        precondition(dimensions % 2 == 0, "RotaryEmbedding: dimensions must be even, got \(dimensions)")
        let exponents = Tensor.arange(0, Double(dimensions), step: 2) / Float(dimensions)
        let frequencies = (Tensor(base).pow(exponents)).reciprocal()  // [D/2]
        let angles = positions.asType(.float32).expandedDims(axis: -1) * frequencies  // [..., L, D/2]
        let expanded = layout == .interleaved ? angles.repeated(2, axis: -1) : concatenated([angles, angles], axis: -1)
        return .tables(cos: expanded.cos(), sin: expanded.sin(), layout: layout)
    }

    /// `x [B, H, L, D]` rotated.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case let .positions(offset, base, dimensions, scale, layout):
            return rope(
                x, dimensions: dimensions ?? x.dim(-1), traditional: layout == .interleaved, base: base,
                scale: scale, offset: offset)
        case let .tables(cos, sin, layout):
            precondition(
                cos.shape == sin.shape && (cos.ndim == 2 || cos.ndim == 3) && cos.dim(-1) == x.dim(-1)
                    && cos.dim(-2) == x.dim(-2),
                "RotaryEmbedding: tables \(cos.shape) do not fit queries/keys \(x.shape) (expected [L, D] or [B, L, D])"
            )
            // [B, L, D] tables gain the head axis.
            let (c, s) = cos.ndim == 3 ? (cos.expandedDims(axis: 1), sin.expandedDims(axis: 1)) : (cos, sin)
            let rotated = RotaryEmbedding.rotate(x, layout)
            return (x.asType(.float32) * c + rotated.asType(.float32) * s).asType(x.dtype)
        }
    }

    /// `x [B, L, H, D]` (heads after the sequence) rotated: the tables by the engine's fused kernel, positions by
    /// MLX's kernel on the transposed view.
    public func sequenceMajor(_ x: Tensor) -> Tensor {
        switch self {
        case .positions:
            return self(x.transposed([0, 2, 1, 3])).transposed([0, 2, 1, 3])
        case let .tables(cos, sin, layout):
            return rotaryEmbedding(x, cos: cos, sin: sin, interleaved: layout == .interleaved)
        }
    }

    /// The "imaginary" partner of each feature: (x0, x1) → (−x1, x0) per pair.
    static func rotate(_ x: Tensor, _ layout: RotaryLayout) -> Tensor {
        let d = x.dim(-1)
        switch layout {
        case .interleaved:
            let pairs = x.reshaped(Array(x.shape.dropLast()) + [d / 2, 2])
            let real = pairs[.ellipsis, 0], imaginary = pairs[.ellipsis, 1]
            return stacked([-imaginary, real], axis: -1).reshaped(x.shape)
        case .halves:
            let real = x[.ellipsis, ..<(d / 2)], imaginary = x[.ellipsis, (d / 2)...]
            return concatenated([-imaginary, real], axis: -1)
        }
    }
}
