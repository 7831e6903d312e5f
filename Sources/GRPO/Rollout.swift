import Engine
import FlowSampling

/// How trajectories are sampled (spec §2).
public struct RolloutConfig: Sendable, Equatable {
    public var steps = 16
    public var shift: Float = 3
    /// The sampler of every step, unless `samplerPlan` is set.
    public var sampler = FlowSampler.danceSDE(eta: 0.3)
    /// One sampler per step (`steps` entries), e.g. `MixGRPOWindow.plan(iteration:)`: overrides `sampler`.
    public var samplerPlan: [FlowSampler]? = nil
    /// True classifier-free guidance (spec §4.6): v = v_u + w·(v_c − v_u), the two branches in one batched call.
    /// `nil` (the default) calls the policy once on the conditioning alone. Needs the `unconditional` argument of
    /// `rollout` and `updatePolicy`; the rollout records the scale so training applies the identical formula.
    public var guidanceScale: Float? = nil
    /// One initial noise for every sample of the call (`--init_same_noise`), across prompts as the reference does.
    public var sameInitialNoise = false
    /// Samples per network call. Any value gives the same trajectories up to float rounding of batched BLAS.
    public var batchSize = 1

    public init() {}

    public var schedule: SigmaSchedule { SigmaSchedule(steps: steps, shift: shift) }

    /// The sampler of each step.
    public var samplers: [FlowSampler] {
        guard let samplerPlan else { return [FlowSampler](repeating: sampler, count: steps) }
        precondition(samplerPlan.count == steps, "RolloutConfig: \(samplerPlan.count) samplers in the plan for \(steps) steps")
        return samplerPlan
    }
}

/// The sampled trajectories of N samples.
public struct RolloutBatch: @unchecked Sendable {
    /// x_0 … x_T, `[N, T+1, ...latent]`, float32.
    public let latents: Tensor
    /// log p(x_{i+1} | x_i) of each transition under the sampling policy, `[N, T]`.
    public let logProbs: Tensor
    /// x̂0 of the last step, `[N, ...latent]`: what gets decoded and rewarded (spec §2.3).
    public let finalPrediction: Tensor
    public let schedule: SigmaSchedule
    /// The sampler each step used (`steps` entries); training rescored transitions with the same ones.
    public let samplers: [FlowSampler]
    /// The CFG scale the rollout used (nil: none); training applies the same.
    public let guidanceScale: Float?

    public init(latents: Tensor, logProbs: Tensor, finalPrediction: Tensor, schedule: SigmaSchedule,
                samplers: [FlowSampler], guidanceScale: Float? = nil) {
        precondition(samplers.count == schedule.steps, "RolloutBatch: \(samplers.count) samplers for \(schedule.steps) steps")
        self.latents = latents
        self.logProbs = logProbs
        self.finalPrediction = finalPrediction
        self.schedule = schedule
        self.samplers = samplers
        self.guidanceScale = guidanceScale
    }

    public var count: Int { latents.dim(0) }
    public var steps: Int { schedule.steps }
}

/// Samples N trajectories (N = conditioning rows). Randomness comes only from `key`: the same key, policy and
/// conditioning give the same trajectories.
/// - latentShape: the shape of one sample's latent (without the batch axis).
/// - unconditional: the unconditional branch for CFG (`config.guidanceScale`): one row shared by every sample, or
///   one row per sample; its tensors must match the conditioning's keys and non-batch shapes.
public func rollout(policy: FlowPolicy, conditioning: Conditioning, latentShape: [Int], config: RolloutConfig,
                    key: RandomKey, unconditional: Conditioning? = nil) -> RolloutBatch {
    let n = conditioning.count
    let schedule = config.schedule
    let samplers = config.samplers
    let guidance = GuidanceInputs(scale: config.guidanceScale, unconditional: unconditional, samples: n)
    let keys = key.split(into: 2)
    let initial: Tensor
    if config.sameInitialNoise {
        initial = Random.normal([1] + latentShape, key: keys[0]).broadcast(to: [n] + latentShape)
    } else {
        initial = Random.normal([n] + latentShape, key: keys[0])
    }
    let stepKeys = keys[1].split(into: schedule.steps)

    var latentChunks: [Tensor] = [], logProbChunks: [Tensor] = [], predictionChunks: [Tensor] = []
    for start in stride(from: 0, to: n, by: max(1, config.batchSize)) {
        let rows = Array(start..<min(n, start + max(1, config.batchSize)))
        let chunkConditioning = conditioning.rows(rows)
        let chunkUnconditional = guidance.rows(rows)
        var x = initial[start..<(start + rows.count)]
        var states = [x], logProbs: [Tensor] = []
        var prediction = x
        for i in 0..<schedule.steps {
            let timesteps = Tensor.full([rows.count], Double(schedule.timesteps[i]))
            let v = guidedVelocity({ policy.velocity($0, timesteps: $1, conditioning: $2) }, x, timesteps: timesteps, conditioning: chunkConditioning,
                                   unconditional: chunkUnconditional, scale: config.guidanceScale)
            // Each sample's step noise depends on its global index, not on how samples are chunked.
            let noise = Random.normal([n] + latentShape, key: stepKeys[i])[start..<(start + rows.count)]
            let out = flowStep(samplers[i], velocity: v, sample: x, sigma: schedule.sigmas[i],
                               sigmaNext: schedule.sigmas[i + 1], noise: noise)
            x = out.sample
            prediction = out.predictedOriginal
            eval(x, out.logProb, prediction)
            states.append(x)
            logProbs.append(out.logProb)
        }
        latentChunks.append(stacked(states, axis: 1))
        logProbChunks.append(stacked(logProbs, axis: 1))
        predictionChunks.append(prediction)
    }
    return RolloutBatch(latents: concatenated(latentChunks, axis: 0), logProbs: concatenated(logProbChunks, axis: 0),
                        finalPrediction: concatenated(predictionChunks, axis: 0), schedule: schedule, samplers: samplers,
                        guidanceScale: config.guidanceScale)
}
