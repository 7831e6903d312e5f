import Foundation
import Engine

/// Adam with decoupled weight decay, step for step PyTorch's `torch.optim.AdamW` (its single-tensor path, without
/// amsgrad or maximize). For parameter p, gradient g, step t (counted per parameter, from 1):
///
///     p ← p · (1 − lr·λ)                         decoupled weight decay, before the moments
///     m ← m + (1 − β₁)·(g − m)                   first moment (PyTorch's lerp)
///     v ← β₂·v + (1 − β₂)·g²                     second moment
///     p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// ε is added after the bias-corrected square root, as PyTorch does (not inside it).
///
/// Precision: the moments are always float32, and the update is computed in float32 from the parameter and gradient
/// cast up, then cast back to the parameter's dtype. PyTorch instead keeps the moments in the parameter's dtype; for
/// float32 parameters the two agree, and for bf16/fp16 parameters float32 moments avoid losing small second moments.
/// Updates of the order of lr·1e-5 still vanish when rounded into a bf16 parameter, so train with float32 master
/// weights (`model.castParameters(to: .float32)`) and cast down for inference.
///
/// State tensors: `state.<parameter>.exp_avg`, `.exp_avg_sq` (float32) and `.step` (int32), PyTorch's names.
public final class AdamW: Optimizer {
    public let beta1: Double
    public let beta2: Double
    public let eps: Double
    public let weightDecay: Double
    /// Parameters whose key matches get no weight decay (PyTorch's second param group with `weight_decay=0`).
    public let noWeightDecay: KeyPattern?

    /// Updates taken by each parameter: its bias-correction step. Equal to ``Optimizer/stepCount`` unless some steps
    /// had no gradient for it.
    public private(set) var parameterSteps: [String: Int] = [:]

    public init(
        model: Module, schedule: LRSchedule, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
        weightDecay: Double = 1e-2, noWeightDecay: KeyPattern? = nil
    ) {
        precondition(
            betas.0 >= 0 && betas.0 < 1 && betas.1 >= 0 && betas.1 < 1, "AdamW: betas must be in [0, 1), got \(betas)")
        precondition(eps >= 0 && weightDecay >= 0, "AdamW: eps and weightDecay must be ≥ 0")
        beta1 = betas.0
        beta2 = betas.1
        self.eps = eps
        self.weightDecay = weightDecay
        self.noWeightDecay = noWeightDecay
        super.init(model: model, schedule: schedule)
    }

    /// AdamW at a constant learning rate.
    public convenience init(
        model: Module, learningRate: Double, betas: (Double, Double) = (0.9, 0.999),
        eps: Double = 1e-8, weightDecay: Double = 1e-2, noWeightDecay: KeyPattern? = nil
    ) {
        self.init(
            model: model, schedule: .constant(learningRate), betas: betas, eps: eps, weightDecay: weightDecay,
            noWeightDecay: noWeightDecay)
    }

    override public var stateNames: [String] { ["exp_avg", "exp_avg_sq"] }

    override public func update(key: String, parameter: Tensor, gradient: Tensor, learningRate lr: Double) -> Tensor {
        let t = (parameterSteps[key] ?? 0) + 1
        parameterSteps[key] = t
        let g = gradient.asType(.float32)
        var p = parameter.asType(.float32)

        let decay = noWeightDecay?.matches(key) == true ? 0 : weightDecay
        if decay != 0 { p = p * Float(1 - lr * decay) }

        let previousMean = state[key]?["exp_avg"] ?? Tensor.zeros(like: g)
        let previousSquare = state[key]?["exp_avg_sq"] ?? Tensor.zeros(like: g)
        let mean = previousMean + (g - previousMean) * Float(1 - beta1)
        let square = previousSquare * Float(beta2) + g * Float(1 - beta2) * g
        state[key] = ["exp_avg": mean, "exp_avg_sq": square]

        let biasCorrection1 = 1 - Foundation.pow(beta1, Double(t))
        let biasCorrection2 = 1 - Foundation.pow(beta2, Double(t))
        let stepSize = lr / biasCorrection1
        let denominator = square.sqrt() / Float(biasCorrection2.squareRoot()) + Float(eps)
        return (p + (mean * Float(-stepSize)) / denominator).asType(parameter.dtype)
    }

    override public func stateTensors() -> [String: Tensor] {
        var result = super.stateTensors()
        for (key, t) in parameterSteps { result["state.\(key).step"] = Tensor(Int32(t)) }
        return result
    }

    override public var stateMetadata: [String: String] {
        super.stateMetadata.merging([
            "betas": "\(beta1),\(beta2)", "eps": "\(eps)", "weight_decay": "\(weightDecay)",
            "no_weight_decay": noWeightDecay?.description ?? ""
        ]) { $1 }
    }

    override public func loadState(_ tensors: [String: Tensor], source: String = "optimizer state") throws {
        let (steps, entries) = try parseState(tensors, extraNames: ["step"], source: source)
        stepCount = steps
        parameterSteps = entries.mapValues { Int($0["step"]!.item(Int32.self)) }
        state = entries.mapValues { $0.filter { $0.key != "step" } }
    }
}
