import Engine

/// Attention masks as transformers 4.x built them: 0 where `allowed`, `torch.finfo(dtype).min` elsewhere, added to
/// the scores. The fill is finite so that a query with no visible key (a left-padded CLIP position) averages all
/// values instead of giving NaN; transformers 5 gives NaN there, which then spreads to the whole sequence.
func additiveMask(allowed: Tensor, dtype: DType) -> Tensor {
    Tensor.where(allowed, Tensor.zeros([], dtype: dtype), Tensor.scalar(lowestFinite(dtype), dtype: dtype))
}

/// Nonzero (or true) entries of a tokenizer's attention mask, as bool.
func keptTokens(_ attentionMask: Tensor) -> Tensor {
    attentionMask.dtype == .bool ? attentionMask : attentionMask .!= Tensor.zeros([], dtype: attentionMask.dtype)
}

/// `torch.finfo(dtype).min`.
private func lowestFinite(_ dtype: DType) -> Double {
    switch dtype {
    case .float16: return -65504
    case .bfloat16: return -3.3895313892515355e38
    case .float64: return -Double.greatestFiniteMagnitude
    default: return -Double(Float.greatestFiniteMagnitude)
    }
}
