import Engine
import FlowSampling
import NN

/// The update half of a GRPO iteration (spec §2.4, §4.3, §4.4).
public struct UpdateConfig: Sendable, Equatable {
    /// Fraction of the T−1 trainable transitions used per sample: K = floor((T−1)·fraction).
    public var timestepFraction: Float = 0.6
    /// ε of the clipped surrogate.
    public var clipRange: Float = 1e-4
    /// Samples per optimizer step.
    public var gradientAccumulationSteps = 12
    /// Global gradient-norm clip (`max_grad_norm`).
    public var maxGradNorm: Float = 1
    /// Transitions per network call in training; any value gives the same gradients up to float rounding.
    public var transitionBatchSize = 1

    public init() {}
}

/// What one update pass measured, for logs.
public struct UpdateStatistics: Sendable {
    /// exp(logp_new − logp_old) of every trained transition, in training order.
    public var ratios: [Float] = []
    public var clipFraction: Float = 0
    public var approxKL: Float = 0
    /// Pre-clip global gradient norm of each optimizer step.
    public var gradientNorms: [Float] = []
    public var loss: Float = 0
    public var optimizerSteps: Int { gradientNorms.count }
}

/// Trains the policy on a rollout: for each sample, a random subset of K of its first T−1 transitions (the last is
/// never trained), the clipped surrogate divided by (accumulation·K), an optimizer step every
/// `gradientAccumulationSteps` samples with global norm clipping. An incomplete final window is dropped, as the
/// reference's next `zero_grad` drops it.
/// - advantages: one per sample, `[N]` values.
/// - key: draws the per-sample permutations.
public func updatePolicy(policy: FlowPolicy, optimizer: Optimizer, rollout: RolloutBatch, conditioning: Conditioning,
                         advantages: [Float], sampler: FlowSampler, config: UpdateConfig, key: RandomKey) throws -> UpdateStatistics {
    let n = rollout.count, schedule = rollout.schedule
    precondition(advantages.count == n, "updatePolicy: \(advantages.count) advantages for \(n) samples")
    let trainable = schedule.steps - 1
    let k = Int((Float(trainable) * config.timestepFraction).rounded(.down))
    precondition(k >= 1, "updatePolicy: timestep fraction \(config.timestepFraction) trains no transition of \(trainable)")
    let accumulation = max(1, config.gradientAccumulationSteps)
    let sampleKeys = key.split(into: n)

    var statistics = UpdateStatistics()
    var accumulated: [String: Tensor] = [:]
    var clipped = 0, klSum: Float = 0, lossSum: Float = 0
    for sample in 0..<n {
        let order = Random.permutation(trainable, key: sampleKeys[sample]).toArray(Int32.self).map(Int.init)
        let chosen = Array(order.prefix(k))
        let sampleConditioning = conditioning.rows([sample])
        let advantage = Tensor([advantages[sample]])
        for start in stride(from: 0, to: k, by: max(1, config.transitionBatchSize)) {
            let js = Array(chosen[start..<min(k, start + max(1, config.transitionBatchSize))])
            let index = Tensor(js.map(Int32.init))
            let trajectory = rollout.latents[sample]                              // [T+1, ...]
            let x = trajectory.take(index, axis: 0)
            let xNext = trajectory.take(index + Tensor(Int32(1)), axis: 0)
            let oldLogProbs = rollout.logProbs[sample].take(index, axis: 0)
            let timesteps = Tensor(js.map { Float(schedule.timesteps[$0]) })
            let rowsConditioning = sampleConditioning.rows([Int](repeating: 0, count: js.count))
            var ratio = Tensor.zeros([js.count])
            var kl = Tensor.zeros([])
            let (values, gradients) = valueAndGrad(model: policy.module) {
                let v = policy.velocity(x, timesteps: timesteps, conditioning: rowsConditioning).asType(.float32)
                let logProbs = js.indices.map { r in
                    flowStep(sampler, velocity: v[r..<(r + 1)], sample: x[r..<(r + 1)], sigma: schedule.sigmas[js[r]],
                             sigmaNext: schedule.sigmas[js[r] + 1], nextSample: xNext[r..<(r + 1)]).logProb
                }
                let out = clippedPolicyLoss(logProb: concatenated(logProbs, axis: 0), oldLogProb: oldLogProbs,
                                            advantage: advantage.broadcast(to: [js.count]), clipRange: config.clipRange,
                                            normalizer: Float(accumulation * k))
                ratio = out.ratio.stopGradient()
                kl = out.approxKL
                return [out.loss]
            }
            for (name, g) in gradients { accumulated[name] = accumulated[name].map { $0 + g } ?? g }
            eval(Array(accumulated.values) + [values[0], ratio, kl])
            let r = ratio.toArray(Float.self)
            statistics.ratios += r
            clipped += r.filter { abs($0 - 1) > config.clipRange }.count
            klSum += kl.item(Float.self) * Float(js.count)
            lossSum += values[0].item(Float.self)
        }
        if (sample + 1) % accumulation == 0 {
            let (clippedGradients, norm) = clipGradientNorm(accumulated, maxNorm: config.maxGradNorm)
            try optimizer.step(gradients: clippedGradients)
            eval(optimizer.tensorsToEvaluate)
            statistics.gradientNorms.append(norm)
            accumulated = [:]
        }
    }
    let trained = Float(statistics.ratios.count)
    statistics.clipFraction = Float(clipped) / trained
    statistics.approxKL = klSum / trained
    statistics.loss = lossSum
    return statistics
}
