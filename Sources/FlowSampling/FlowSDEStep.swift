import Engine
import Foundation

// One reverse-time step of a flow-matching sampler with the Gaussian log-likelihood of the transition, for GRPO.
// Rectified-flow convention: x_σ = (1−σ)·x0 + σ·ε and the network predicts v = ε − x0.
// Port of DanceGRPO fastvideo/train_grpo_flux.py@15cc71d `flux_step` (sde_solver branch); spec §2.2.
// Deliberate deviations: none in the formulas; the log-prob keeps the constant terms (the reference's current form).
//
// Shapes: x, v, noise [B, ...] (B = samples); log-prob [B] (mean over every non-batch element).

/// What one step returns: the next latent, the clean-sample prediction, and the transition's log-probability.
public struct FlowStepOutput {
    /// x_{i+1}: drawn, or the given one when scoring a stored trajectory.
    public let sample: Tensor
    /// x̂0 = x − σ·v (DanceGRPO decodes this from the last step).
    public let predictedOriginal: Tensor
    /// The Gaussian mean of x_{i+1}.
    public let mean: Tensor
    /// Per-sample mean over elements of log N(x_{i+1}; mean, std²), [B].
    public let logProb: Tensor
    /// The transition's standard deviation.
    public let std: Float
}

/// The samplers a rollout can use. Every stochastic one shares the same log-probability form.
public enum FlowSampler: Sendable, Equatable {
    /// DanceGRPO's SDE: constant noise scale η, std η·√(σ−σ'), mean with the score correction −½η²·ŝ·dσ.
    case danceSDE(eta: Float)
    /// The deterministic Euler ODE step (evaluation, MixGRPO outside its SDE window); log-prob is zero.
    case ode
}

/// Takes the step `σ → σNext` from `x` with velocity `v`. With `nextSample` the transition is scored rather than
/// drawn (training recomputes the log-prob of a stored trajectory with the same function, so the two cannot differ);
/// otherwise `noise` (standard normal, shaped like x) is required for stochastic samplers.
public func flowStep(
    _ sampler: FlowSampler, velocity v: Tensor, sample x: Tensor, sigma: Float, sigmaNext: Float,
    nextSample: Tensor? = nil, noise: Tensor? = nil
) -> FlowStepOutput {
    let dSigma = sigmaNext - sigma
    let predictedOriginal = x - sigma * v
    switch sampler {
    case .ode:
        let mean = x + dSigma * v
        let sample = nextSample ?? mean
        return FlowStepOutput(sample: sample, predictedOriginal: predictedOriginal, mean: mean,
                              logProb: Tensor.zeros([x.dim(0)]), std: 0)
    case .danceSDE(let eta):
        // ŝ = −(x − (1−σ)·x̂0)/σ², the score of N((1−σ)x0, σ²I); σ > 0 at every step that is taken.
        let score = -(x - (1 - sigma) * predictedOriginal) / (sigma * sigma)
        let mean = x + dSigma * (v - 0.5 * eta * eta * score)
        let std = eta * (sigma - sigmaNext).squareRoot()
        let sample: Tensor
        if let nextSample {
            sample = nextSample
        } else {
            guard let noise else { preconditionFailure("flowStep: a stochastic step needs noise or nextSample") }
            sample = mean + std * noise
        }
        let logProb = gaussianLogProbMean(sample.stopGradient(), mean: mean, std: std)
        return FlowStepOutput(sample: sample, predictedOriginal: predictedOriginal, mean: mean, logProb: logProb, std: std)
    }
}

/// log N(x; mean, std²) per element, averaged over all non-batch axes: [B]. The sample is treated as data (the
/// caller detaches it), so gradients reach only the mean.
public func gaussianLogProbMean(_ x: Tensor, mean: Tensor, std: Float) -> Tensor {
    let logNormaliser = Foundation.log(std) + 0.5 * Foundation.log(2 * Float.pi)
    let perElement = -(x - mean).square() / (2 * std * std) - logNormaliser
    let axes = Array(1..<Swift.max(perElement.ndim, 1))
    return axes.isEmpty ? perElement : perElement.mean(axes: axes)
}
