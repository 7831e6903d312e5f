internal import CMLXShim

// MLX's fused kernels: normalisation, rotary embedding, attention.

/// Layer normalisation over the last axis.
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
    let r: mlx.core.array
    switch (weight, bias) {
    case let (w?, b?):
        r = withUnsafePointer(to: w.raw) { wp in withUnsafePointer(to: b.raw) { dg.layerNorm(x.raw, wp, $0, eps) } }
    case let (w?, nil): r = withUnsafePointer(to: w.raw) { dg.layerNorm(x.raw, $0, nil, eps) }
    case let (nil, b?): r = withUnsafePointer(to: b.raw) { dg.layerNorm(x.raw, nil, $0, eps) }
    case (nil, nil): r = dg.layerNorm(x.raw, nil, nil, eps)
    }
    return checked("layerNorm", [x], r)
}

/// RMS normalisation over the last axis: `x / sqrt(mean(x²) + eps) * weight`.
public func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) -> Tensor {
    let r =
        weight.map { w in withUnsafePointer(to: w.raw) { dg.rmsNorm(x.raw, $0, eps) } } ?? dg.rmsNorm(x.raw, nil, eps)
    return checked("rmsNorm", [x], r)
}

/// Rotary position embedding of the first `dimensions` features of `x [..., L, D]`, positions `offset ..< offset+L`.
/// `traditional` rotates adjacent pairs (x0,x1),(x2,x3)…; otherwise the two halves.
public func rope(
    _ x: Tensor, dimensions: Int, traditional: Bool, base: Float = 10_000, scale: Float = 1,
    offset: Int = 0, frequencies: Tensor? = nil
) -> Tensor {
    let r =
        frequencies.map { f in
            withUnsafePointer(to: f.raw) {
                dg.rope(x.raw, Int32(dimensions), traditional, base, scale, Int32(offset), $0)
            }
        } ?? dg.rope(x.raw, Int32(dimensions), traditional, base, scale, Int32(offset), nil)
    return checked("rope", [x], r)
}

/// Attention mask forms for ``scaledDotProductAttention(queries:keys:values:scale:mask:)``.
public enum AttentionMask {
    case none
    /// Query i attends to keys 0...i (aligned to the end when keys are longer).
    case causal
    /// Boolean (true = attend) or additive float mask broadcastable to `[B, H, Lq, Lk]`.
    case array(Tensor)
}

/// `softmax(Q Kᵀ · scale + mask) V` with `Q [B, H, Lq, D]`, `K, V [B, Hkv, Lk, D]`.
public func scaledDotProductAttention(
    queries q: Tensor, keys k: Tensor, values v: Tensor, scale: Float,
    mask: AttentionMask = .none
) -> Tensor {
    attention(q, k, v, scale: scale, mask: mask, sequenceMajor: false)
}

private func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float, mask: AttentionMask, sequenceMajor: Bool)
    -> Tensor
{
    let r: mlx.core.array
    switch mask {
    case .none: r = dg.sdpa(q.raw, k.raw, v.raw, scale, "", nil, sequenceMajor)
    case .causal: r = dg.sdpa(q.raw, k.raw, v.raw, scale, "causal", nil, sequenceMajor)
    case .array(let m):
        r = withUnsafePointer(to: m.raw) { dg.sdpa(q.raw, k.raw, v.raw, scale, "array", $0, sequenceMajor) }
    }
    return checked(sequenceMajor ? "sequenceMajorAttention" : "scaledDotProductAttention", [q, k, v], r)
}

/// Attention over `Q [B, Lq, H, D]`, `K, V [B, Lk, Hkv, D]` (heads after the sequence, as projections are reshaped),
/// giving `[B, Lq, H, D]`: the same values as ``scaledDotProductAttention(queries:keys:values:scale:mask:)`` on the
/// transposed tensors, without materialising the transposes (float32 on the CPU with as many key/value heads as query
/// heads, and no mask or an additive float one; anything else goes through the transposes).
public func sequenceMajorAttention(
    queries q: Tensor, keys k: Tensor, values v: Tensor, scale: Float,
    mask: AttentionMask = .none
) -> Tensor {
    attention(q, k, v, scale: scale, mask: mask, sequenceMajor: true)
}

/// Rotary embedding of `x [B, L, H, D]` from tables `cos`, `sin` of shape `[L, D]` or `[B, L, D]` (each angle repeated
/// for its pair): `x · cos + rotate(x) · sin` in float32, rotating adjacent pairs (`interleaved`) or the two halves.
/// The tables are constants (no gradient flows into them).
public func rotaryEmbedding(_ x: Tensor, cos: Tensor, sin: Tensor, interleaved: Bool) -> Tensor {
    checked("rotaryEmbedding", [x, cos, sin], dg.rotaryTables(x.raw, cos.raw, sin.raw, interleaved))
}
