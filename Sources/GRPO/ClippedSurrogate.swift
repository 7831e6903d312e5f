import Engine

// The PPO-clipped policy loss of GRPO, on log-probabilities of the same transitions under the current
// policy and the rollout policy (DanceGRPO's `train_one_step`, linked below).
// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py#L605

/// The loss and the statistics the trainer logs.
public struct PolicyLossOutput {
    /// Sum over the batch of max(−A·r, −A·clip(r, 1±ε)), divided by `normalizer` (grad_accum · K upstream).
    public let loss: Tensor
    /// exp(logp_new − logp_old), [B].
    public let ratio: Tensor
    /// Fraction of samples whose ratio lies outside [1−ε, 1+ε].
    public let clipFraction: Tensor
    /// ½·mean((logp_new − logp_old)²): the usual approximate KL between the two policies.
    public let approxKL: Tensor
}

/// - logProb: [B] log-probs under the policy being trained (differentiable).
/// - oldLogProb: [B] log-probs recorded during the rollout (treated as data).
/// - advantage: [B] per-trajectory advantages (treated as data).
public func clippedPolicyLoss(
    logProb: Tensor, oldLogProb: Tensor, advantage: Tensor, clipRange: Float, normalizer: Float = 1
) -> PolicyLossOutput {
    let logRatio = logProb - oldLogProb.stopGradient()
    let ratio = logRatio.exp()
    let a = advantage.stopGradient()
    let unclipped = -a * ratio
    let clipped = -a * ratio.clipped(min: 1 - clipRange, max: 1 + clipRange)
    let loss = Tensor.maximum(unclipped, clipped).sum() / normalizer
    let outside = ((ratio - 1).abs() .> clipRange).asType(.float32).mean()
    let approxKL = 0.5 * logRatio.square().mean()
    return PolicyLossOutput(loss: loss, ratio: ratio, clipFraction: outside, approxKL: approxKL.stopGradient())
}
