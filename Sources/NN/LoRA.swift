import Engine

/// A low-rank adapter on a ``Linear`` layer (LoRA, Hu et al. 2021), computed as PEFT does:
/// `y = W x + b + scale · B (A x)` with `A = lora_A.weight [rank, in]`, `B = lora_B.weight [out, rank]` and
/// `scale = alpha / rank`. `B` starts at zero, so attaching an adapter does not change the layer's output.
public final class LoRAAdapter {
    /// `lora_A`: in → rank, PEFT's kaiming-uniform(a=√5) initialisation, which is uniform in ±1/sqrt(in).
    public let down: Linear
    /// `lora_B`: rank → out, zero-initialised.
    public let up: Linear
    public let alpha: Float
    /// Whether `scale · B A` is currently folded into the base weight (the adapter path is then skipped).
    public internal(set) var isMerged = false

    public var rank: Int { down.outputFeatures }
    public var scale: Float { alpha / Float(rank) }

    init(down: Linear, up: Linear, alpha: Float) {
        self.down = down
        self.up = up
        self.alpha = alpha
    }

    /// `scale · B (A x)`, in the adapter's dtype (PEFT casts the input to `lora_A`'s dtype the same way).
    func delta(_ x: Tensor) -> Tensor {
        up(down(x.asType(down.weight.dtype))) * scale
    }

    /// `scale · B A`, the update to the base weight, in float32 whatever the storage dtype.
    func weightDelta() -> Tensor {
        up.weight.asType(.float32).matmul(down.weight.asType(.float32)) * scale
    }
}

extension Linear {
    /// Attaches a fresh adapter (replacing any previous one, which must not be merged). The adapter's tensors are
    /// trainable; freezing the base weights is up to the caller (``Module/addLoRA(_:key:)`` does it).
    @discardableResult
    public func attachLoRA(rank: Int, alpha: Float, dtype: DType = .float32, key: RandomKey) -> LoRAAdapter {
        precondition(rank > 0, "attachLoRA: rank must be positive, got \(rank)")
        precondition(lora?.isMerged != true, "attachLoRA: unmerge the current adapter first")
        let down = Linear(inputFeatures, rank, bias: false, dtype: dtype, key: key)
        let up = Linear(weight: Tensor.zeros([outputFeatures, rank], dtype: dtype))
        let adapter = LoRAAdapter(down: down, up: up, alpha: alpha)
        lora = adapter
        return adapter
    }

    /// Removes the adapter; a merged one stays folded into the weight.
    public func detachLoRA() { lora = nil }

    // Model-wide `mergeLoRA()` / `unmergeLoRA()` (LoRA+Model.swift) call these; on a single Linear they act on it.

    /// `W += scale · B A`, formed in float32 and rounded once to the weight's dtype.
    func foldLoRA() {
        guard let lora, !lora.isMerged else { return }
        weight = (weight.asType(.float32) + lora.weightDelta()).asType(weight.dtype)
        lora.isMerged = true
    }

    /// `W −= scale · B A`; exact up to the rounding of the weight's dtype.
    func unfoldLoRA() {
        guard let lora, lora.isMerged else { return }
        weight = (weight.asType(.float32) - lora.weightDelta()).asType(weight.dtype)
        lora.isMerged = false
    }
}
