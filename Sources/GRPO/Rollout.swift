import Engine
import FlowSampling

/// How trajectories are sampled (spec §2).
public struct RolloutConfig: Sendable, Equatable {
    public var steps = 16
    public var shift: Float = 3
    public var sampler = FlowSampler.danceSDE(eta: 0.3)
    /// One initial noise for every sample of the call (`--init_same_noise`), across prompts as the reference does.
    public var sameInitialNoise = false
    /// Samples per network call. Any value gives the same trajectories up to float rounding of batched BLAS.
    public var batchSize = 1

    public init() {}

    public var schedule: SigmaSchedule { SigmaSchedule(steps: steps, shift: shift) }
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

    public var count: Int { latents.dim(0) }
    public var steps: Int { schedule.steps }
}

/// Samples N trajectories (N = conditioning rows). Randomness comes only from `key`: the same key, policy and
/// conditioning give the same trajectories.
/// - latentShape: the shape of one sample's latent (without the batch axis).
public func rollout(policy: FlowPolicy, conditioning: Conditioning, latentShape: [Int], config: RolloutConfig,
                    key: RandomKey) -> RolloutBatch {
    let n = conditioning.count
    let schedule = config.schedule
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
        var x = initial[start..<(start + rows.count)]
        var states = [x], logProbs: [Tensor] = []
        var prediction = x
        for i in 0..<schedule.steps {
            let timesteps = Tensor.full([rows.count], Double(schedule.timesteps[i]))
            let v = policy.velocity(x, timesteps: timesteps, conditioning: chunkConditioning).asType(.float32)
            // Each sample's step noise depends on its global index, not on how samples are chunked.
            let noise = Random.normal([n] + latentShape, key: stepKeys[i])[start..<(start + rows.count)]
            let out = flowStep(config.sampler, velocity: v, sample: x, sigma: schedule.sigmas[i],
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
                        finalPrediction: concatenated(predictionChunks, axis: 0), schedule: schedule)
}
