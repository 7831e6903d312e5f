import Engine

/// Stochastic gradient descent with momentum, PyTorch's `torch.optim.SGD` (without maximize). For parameter p and
/// gradient g:
///
///     d ← g + λ·p                                    L2 weight decay, coupled (added to the gradient)
///     b ← d on the first step, else μ·b + (1 − τ)·d  momentum buffer (τ = dampening)
///     d ← d + μ·b if nesterov, else b
///     p ← p − lr·d
///
/// As with ``AdamW``, the buffer is float32 and the arithmetic is float32 whatever the parameter dtype.
/// State tensors: `state.<parameter>.momentum_buffer` (only when momentum ≠ 0).
public final class SGD: Optimizer {
    public let momentum: Double
    public let dampening: Double
    public let weightDecay: Double
    public let nesterov: Bool

    public init(
        model: Module, schedule: LRSchedule, momentum: Double = 0, dampening: Double = 0,
        weightDecay: Double = 0, nesterov: Bool = false
    ) {
        precondition(momentum >= 0 && weightDecay >= 0, "SGD: momentum and weightDecay must be ≥ 0")
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: nesterov needs momentum > 0 and no dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        super.init(model: model, schedule: schedule)
    }

    public convenience init(
        model: Module, learningRate: Double, momentum: Double = 0, dampening: Double = 0,
        weightDecay: Double = 0, nesterov: Bool = false
    ) {
        self.init(
            model: model, schedule: .constant(learningRate), momentum: momentum, dampening: dampening,
            weightDecay: weightDecay, nesterov: nesterov)
    }

    override public var stateNames: [String] { momentum == 0 ? [] : ["momentum_buffer"] }

    override public func update(key: String, parameter: Tensor, gradient: Tensor, learningRate lr: Double) -> Tensor {
        let p = parameter.asType(.float32)
        var direction = gradient.asType(.float32)
        if weightDecay != 0 { direction = direction + p * Float(weightDecay) }
        if momentum != 0 {
            let buffer: Tensor
            if let previous = state[key]?["momentum_buffer"] {
                buffer = previous * Float(momentum) + direction * Float(1 - dampening)
            } else {
                buffer = direction
            }
            state[key] = ["momentum_buffer": buffer]
            direction = nesterov ? direction + buffer * Float(momentum) : buffer
        }
        return (p + direction * Float(-lr)).asType(parameter.dtype)
    }

    override public var stateMetadata: [String: String] {
        super.stateMetadata.merging([
            "momentum": "\(momentum)", "dampening": "\(dampening)", "weight_decay": "\(weightDecay)",
            "nesterov": "\(nesterov)"
        ]) { $1 }
    }
}
