import Engine
import Foundation

// One reverse-time step of a flow-matching sampler with the Gaussian log-likelihood of the transition, for GRPO.
// Rectified-flow convention: x_σ = (1−σ)·x0 + σ·ε and the network predicts v = ε − x0.
// Port of DanceGRPO fastvideo/train_grpo_flux.py `flux_step` (sde_solver branch):
// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py#L137
// Deliberate deviations: none in the formulas; the log-prob keeps the constant terms (the reference's current form).
// Flow-GRPO's SDE and CPS steps are in FlowGRPOSteps.swift; `flowStep` is the one entry point for every sampler.
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
    /// The transition's standard deviation (0 for the ODE step).
    public let std: Float
    /// The σ-dependent scale the reference samplers call `std_dev_t`: η for Dance-SDE, a(σ) = η·√(σ/(1−σ))
    /// for Flow-SDE (the sample std is a(σ)·√(σ−σ')), σ'·sin(ηπ/2) for CPS (equal to the sample std), 0 for
    /// ODE. Flow-GRPO's KL penalty divides by 2·noiseScale² (see `referenceKL` in GRPO).
    public let noiseScale: Float

    public init(sample: Tensor, predictedOriginal: Tensor, mean: Tensor, logProb: Tensor, std: Float, noiseScale: Float)
    {
        self.sample = sample
        self.predictedOriginal = predictedOriginal
        self.mean = mean
        self.logProb = logProb
        self.std = std
        self.noiseScale = noiseScale
    }
}

/// The samplers a rollout can use, one per step (a rollout may mix them: see `MixGRPOWindow` in GRPO).
public enum FlowSampler: Sendable, Equatable, Codable {
    /// DanceGRPO's SDE: constant noise scale η, std η·√(σ−σ'), mean with the score correction
    /// −½η²·ŝ·dσ.
    case danceSDE(eta: Float)
    /// Flow-GRPO's SDE (`sde_type="sde"`): the same mean with η replaced by a(σ) = noiseLevel·√(σ/(1−σ)); see
    /// FlowGRPOSteps.swift.
    case flowSDE(noiseLevel: Float)
    /// Coefficient-preserving sampling (Flow-GRPO `sde_type="cps"`); see FlowGRPOSteps.swift.
    case cps(noiseLevel: Float)
    /// The deterministic Euler ODE step (evaluation, MixGRPO outside its SDE window); log-prob is zero.
    case ode

    /// Whether the step draws noise; only such transitions have a log-probability and can be trained.
    public var isStochastic: Bool {
        if case .ode = self { return false }
        return true
    }
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
        return FlowStepOutput(
            sample: sample, predictedOriginal: predictedOriginal, mean: mean,
            logProb: Tensor.zeros([x.dim(0)]), std: 0, noiseScale: 0)
    case .danceSDE(let eta):
        // ŝ = −(x − (1−σ)·x̂0)/σ², the score of N((1−σ)x0, σ²I); σ > 0 at every step that is taken.
        let score = -(x - (1 - sigma) * predictedOriginal) / (sigma * sigma)
        let mean = x + dSigma * (v - 0.5 * eta * eta * score)
        let std = eta * (sigma - sigmaNext).squareRoot()
        let sample = drawOrScore(mean: mean, std: std, nextSample: nextSample, noise: noise)
        let logProb = gaussianLogProbMean(sample.stopGradient(), mean: mean, std: std)
        return FlowStepOutput(
            sample: sample, predictedOriginal: predictedOriginal, mean: mean, logProb: logProb, std: std,
            noiseScale: eta)
    case .flowSDE(let noiseLevel):
        return flowSDEStep(
            noiseLevel: noiseLevel, velocity: v, sample: x, sigma: sigma, sigmaNext: sigmaNext,
            nextSample: nextSample, noise: noise)
    case .cps(let noiseLevel):
        return cpsStep(
            noiseLevel: noiseLevel, velocity: v, sample: x, sigma: sigma, sigmaNext: sigmaNext,
            nextSample: nextSample, noise: noise)
    }
}

/// The given next sample (scoring), or `mean + std·noise` (drawing).
func drawOrScore(mean: Tensor, std: Float, nextSample: Tensor?, noise: Tensor?) -> Tensor {
    if let nextSample { return nextSample }
    guard let noise else { preconditionFailure("flowStep: a stochastic step needs noise or nextSample") }
    return mean + std * noise
}

/// log N(x; mean, std²) per element, averaged over all non-batch axes: [B]. The sample is treated as data (the
/// caller detaches it), so gradients reach only the mean.
public func gaussianLogProbMean(_ x: Tensor, mean: Tensor, std: Float) -> Tensor {
    let logNormaliser = Foundation.log(std) + 0.5 * Foundation.log(2 * Float.pi)
    let perElement = -(x - mean).square() / (2 * std * std) - logNormaliser
    let axes = Array(1..<Swift.max(perElement.ndim, 1))
    return axes.isEmpty ? perElement : perElement.mean(axes: axes)
}
