import Engine

// Flow-GRPO's KL penalty to the frozen reference policy (`config.train.beta`; flow_grpo scripts/train_sd3.py):
//
//   kl = mean_elements((μ_θ − μ_ref)²) / (2·std_dev_t²),   loss += β · kl
//
// per transition, where μ_θ and μ_ref are the step means under the trained and the reference policy for the same
// x_j, and std_dev_t is the scale the reference's step returns (`FlowStepOutput.noiseScale`). Two deliberate
// properties of the reference are kept:
// - the squared difference is averaged over the latent's elements, like the log-probs (not summed);
// - for Flow-SDE, std_dev_t is a(σ) = noiseLevel·√(σ/(1−σ)), not the sample std a(σ)·√(σ−σ'): the true
//   KL between the two Gaussians would be (σ−σ')⁻¹ times larger. For CPS std_dev_t is the sample std; for
//   Dance-SDE (which has no KL upstream) the analogue of a(σ) is the constant η.
// In `updatePolicy` the KL term is divided by the same (accumulation·K) as the clipped loss, so one optimizer step
// averages policy loss + β·KL over its transitions, as Flow-GRPO's per-micro-batch mean does.

/// Per-sample KL penalty `[B]` between step means `[B, ...]`; the reference mean is treated as data.
public func referenceKL(mean: Tensor, referenceMean: Tensor, noiseScale: Float) -> Tensor {
    precondition(noiseScale > 0, "referenceKL: the step has no noise (ODE or σ' = 0 CPS step)")
    let perElement = (mean - referenceMean.stopGradient()).square()
    let axes = Array(1..<Swift.max(perElement.ndim, 1))
    let meanSquare = axes.isEmpty ? perElement : perElement.mean(axes: axes)
    return meanSquare / (2 * noiseScale * noiseScale)
}
