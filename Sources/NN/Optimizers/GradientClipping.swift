import Engine

/// The L2 norm of all gradients together, as one float32 scalar tensor (lazy): √(Σ over tensors of Σ g²), computed
/// in float32 whatever the gradients' dtype. 0 for no gradients.
public func globalGradientNorm(_ gradients: [String: Tensor]) -> Tensor {
    // Sorted keys fix the summation order, so the same gradients always give the same bits.
    let squares = gradients.keys.sorted().map { gradients[$0]!.asType(.float32).square().sum() }
    guard var total = squares.first else { return Tensor.scalar(0) }
    for s in squares.dropFirst() { total = total + s }
    return total.sqrt()
}

/// Scales all gradients together so that their global L2 norm is at most `maxNorm`, by PyTorch's
/// `clip_grad_norm_` rule: coefficient = maxNorm / (norm + 1e-6), clamped to 1, applied to every gradient (an exact
/// no-op below the limit). Returns the clipped gradients (in their own dtypes) and the norm BEFORE clipping, which is
/// what trainers log. Reading the norm evaluates it; the clipped gradients stay lazy.
///
/// As in PyTorch (with `error_if_nonfinite=False`), a non-finite norm is returned as is and turns the gradients into
/// NaN; check `norm.isFinite` to skip such a step.
public func clipGradientNorm(_ gradients: [String: Tensor], maxNorm: Float) -> (clipped: [String: Tensor], norm: Float)
{
    precondition(maxNorm > 0, "clipGradientNorm: maxNorm must be > 0, got \(maxNorm)")
    let norm = globalGradientNorm(gradients)
    let coefficient = (maxNorm / (norm + 1e-6)).minimum(1)
    let clipped = gradients.mapValues { $0 * coefficient.asType($0.dtype.isFloatingPoint ? $0.dtype : .float32) }
    return (clipped, norm.item(Float.self))
}
