import Engine
import Foundation

// Flow-GRPO's two stochastic samplers, ported from the formulas of flow_grpo
// `flow_grpo/diffusers_patch/sd3_sde_with_logprob.py` (`sde_step_with_logprob`, sde_type "sde" and "cps"; the same
// formulas are in MixGRPO `fastvideo/utils/sampling_utils.py` `flow_grpo_step`). Conventions as in FlowSDEStep.swift:
// x_σ = (1−σ)·x0 + σ·ε, v = ε − x0, σ' < σ, dt = σ' − σ < 0 (Flow-GRPO's `dt = sigma_prev - sigma`),
// all float32.

/// Flow-GRPO's SDE (`sde_type="sde"`).
///
/// - a(σ) = noiseLevel·√(σ/(1−σ)). At σ = 1 the reference divides by 1 − `sigmas[1]` instead of 1 − σ
///   (`torch.where(sigma == 1, sigma_max, sigma)` with `sigma_max = sigmas[1]`): σ = 1 only at the first step, where
///   `sigmas[1]` is σ', so this uses a(1) = noiseLevel·√(1/(1−σ')). The numerator stays σ = 1.
/// - mean μ = x·(1 + a²·dt/(2σ)) + v·(1 + a²·(1−σ)/(2σ))·dt (the Dance-SDE mean with η → a(σ));
/// - std s = a(σ)·√(−dt); x' = μ + s·z;
/// - log-prob: the full Gaussian per element, −(x'−μ)²/(2s²) − log s − log√(2π), averaged over non-batch
/// elements.
func flowSDEStep(
    noiseLevel: Float, velocity v: Tensor, sample x: Tensor, sigma: Float, sigmaNext: Float,
    nextSample: Tensor?, noise: Tensor?
) -> FlowStepOutput {
    let dt = sigmaNext - sigma
    let denominatorSigma = sigma >= 1 ? sigmaNext : sigma
    let a = (sigma / (1 - denominatorSigma)).squareRoot() * noiseLevel
    let mean = x * (1 + a * a / (2 * sigma) * dt) + v * ((1 + a * a * (1 - sigma) / (2 * sigma)) * dt)
    let std = a * (-dt).squareRoot()
    let sample = drawOrScore(mean: mean, std: std, nextSample: nextSample, noise: noise)
    let logProb = gaussianLogProbMean(sample.stopGradient(), mean: mean, std: std)
    return FlowStepOutput(
        sample: sample, predictedOriginal: x - sigma * v, mean: mean, logProb: logProb, std: std,
        noiseScale: a)
}

/// Coefficient-preserving sampling (Flow-GRPO `sde_type="cps"`; Wang & Yu, "Coefficients-Preserving Sampling for
/// Reinforcement Learning with Flow Matching", 2025).
///
/// - std s = σ'·sin(noiseLevel·π/2) (the sample's std itself; no √(−dt));
/// - x̂0 = x − σ·v, x̂1 = x + (1−σ)·v (predicted noise);
/// - mean μ = (1−σ')·x̂0 + √(σ'² − s²)·x̂1, so the coefficients of x0 and ε in x' stay (1−σ', σ');
/// - x' = μ + s·z;
/// - log-prob: as the reference, with every constant and the variance dropped: −(x'−μ)², averaged over non-batch
///   elements. It is not a normalised density, and its ratios are not Gaussian likelihood ratios (they are
///   exp(−Δ(x'−μ)²) without the 1/(2s²) factor); the reference trains on exactly this quantity.
/// At the last step σ' = 0 the step is deterministic (s = 0, μ = x̂0) and the log-prob is 0.
func cpsStep(
    noiseLevel: Float, velocity v: Tensor, sample x: Tensor, sigma: Float, sigmaNext: Float,
    nextSample: Tensor?, noise: Tensor?
) -> FlowStepOutput {
    let std = sigmaNext * Float(Foundation.sin(Double(noiseLevel) * Double.pi / 2))
    let predictedOriginal = x - sigma * v
    let predictedNoise = x + (1 - sigma) * v
    let mean =
        (1 - sigmaNext) * predictedOriginal + Swift.max(0, sigmaNext * sigmaNext - std * std).squareRoot()
        * predictedNoise
    let sample = drawOrScore(mean: mean, std: std, nextSample: nextSample, noise: noise)
    let perElement = -(sample.stopGradient() - mean).square()
    let axes = Array(1..<Swift.max(perElement.ndim, 1))
    let logProb = axes.isEmpty ? perElement : perElement.mean(axes: axes)
    return FlowStepOutput(
        sample: sample, predictedOriginal: predictedOriginal, mean: mean, logProb: logProb, std: std,
        noiseScale: std)
}
