import Engine
import NN

/// Why an optimizer step was skipped: a value that is not finite, where it was found.
public enum SkippedStep: Sendable, Equatable, CustomStringConvertible {
    /// A reward of the iteration was NaN or infinite (the iteration's update is skipped as one step).
    case nonFiniteReward(count: Int)
    /// The window's summed loss.
    case nonFiniteLoss(Float)
    /// The global gradient norm before clipping.
    case nonFiniteGradientNorm(Float)
    /// Some trained weight after the step (the step is undone).
    case nonFiniteWeights
    /// fp16 gradients that overflowed at this loss scale (`LossScaler`: the step is skipped and the scale halved).
    case gradientOverflow(lossScale: Float)

    public var description: String {
        switch self {
        case .nonFiniteReward(let count): return "\(count) non-finite reward(s)"
        case .nonFiniteLoss(let loss): return "loss \(loss)"
        case .nonFiniteGradientNorm(let norm): return "gradient norm \(norm)"
        case .nonFiniteWeights: return "non-finite weights after the step"
        case .gradientOverflow(let scale): return "fp16 gradient overflow at loss scale \(scale) (scale halved)"
        }
    }

    /// Whether the skip counts toward `--max-consecutive-skipped-steps`: an fp16 overflow is the loss scaler's
    /// routine way of finding its scale, not a sign of a diverging run (it is still counted and logged).
    public var countsTowardStop: Bool {
        if case .gradientOverflow = self { return false }
        return true
    }
}

/// Whether every trainable parameter of `module` is finite: one scalar, (p − p) summed, which is 0 exactly when every
/// element is finite and NaN otherwise.
public func parametersAreFinite(_ module: Module) -> Bool {
    let probes = module.trainableParameters().map { ($0.value - $0.value).asType(.float32).sum() }
    guard let first = probes.first else { return true }
    let total = probes.dropFirst().reduce(first, +)
    return total.item(Float.self).isFinite
}

/// An optimizer step that can be taken back: the parameters and the optimizer's state (its step counter included,
/// so a skipped step does not advance the learning-rate schedule) from before the step.
struct OptimizerSnapshot {
    let parameters: [String: Tensor]
    let state: [String: Tensor]

    init(_ optimizer: Optimizer) {
        parameters = Dictionary(uniqueKeysWithValues: optimizer.model.trainableParameters().map { ($0.key, $0.value) })
        state = optimizer.stateTensors()
    }

    func restore(_ optimizer: Optimizer) throws {
        optimizer.model.update(parameters: parameters)
        try optimizer.loadState(state, source: "the state before a skipped step")
    }
}

/// Takes an optimizer step unless the window's loss or gradient norm is not finite, and takes it back when it makes
/// a weight non-finite; returns why it skipped the step, or nil when it was applied. Every decision rests on values
/// the ranks share (the averaged gradients' norm, the weights they all compute), so ranks skip the same steps.
/// With fp16's `lossScaler`, a non-finite loss or norm also halves the scale (`LossScaler.skipNonFinite`) and any
/// other step counts as finite for its growth. `weightsAreFinite` judges the weights after the step (default: the
/// optimizer's model; sharded training asks every rank about its shares).
func guardedStep(
    optimizer: Optimizer, gradients: [String: Tensor], norm: Float, loss: Float?, lossScaler: LossScaler? = nil,
    weightsAreFinite: ((Optimizer) throws -> Bool)? = nil
) throws -> SkippedStep? {
    if let loss, !loss.isFinite { return lossScaler?.skipNonFinite(.nonFiniteLoss(loss)) ?? .nonFiniteLoss(loss) }
    guard norm.isFinite else {
        return lossScaler?.skipNonFinite(.nonFiniteGradientNorm(norm)) ?? .nonFiniteGradientNorm(norm)
    }
    defer { lossScaler?.update(foundNonFinite: false) }
    let snapshot = OptimizerSnapshot(optimizer)
    try optimizer.step(gradients: gradients)
    eval(optimizer.tensorsToEvaluate)
    guard try weightsAreFinite?(optimizer) ?? parametersAreFinite(optimizer.model) else {
        try snapshot.restore(optimizer)
        return .nonFiniteWeights
    }
    return nil
}
