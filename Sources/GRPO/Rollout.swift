import Engine
import Sampling

/// How trajectories are sampled.
public struct RolloutConfig: Sendable {
    /// The chain: a flow-matching schedule with its samplers (the default: DanceGRPO's FLUX settings), or DDIM.
    public var process: any SamplingProcess = FlowProcess(steps: 16, shift: 3, sampler: .danceSDE(eta: 0.3))
    /// True classifier-free guidance: out = out_u + w·(out_c − out_u), the two branches in one batched call.
    /// `nil` (the default) calls the policy once on the conditioning alone. Needs the `unconditional` argument of
    /// `rollout` and `updatePolicy`; the rollout records the scale so training applies the identical formula.
    public var guidanceScale: Float? = nil
    /// One initial noise for every sample of the call (`--init_same_noise`).
    public var sameInitialNoise = false
    /// With `sameInitialNoise`: the noise is shared within each run of this many consecutive samples (a prompt's G
    /// samples) instead of by all; 0: by all. DanceGRPO trains one prompt per step, where both mean the same.
    public var initialNoiseGroupSize = 0
    /// Samples per network call. Any value gives the same trajectories up to float rounding of batched BLAS.
    public var batchSize = 1
    /// Only these rows of the conditioning are sampled (nil: all), each with the noise it has in a call over all rows;
    /// data-parallel evaluation gives each process a share this way.
    public var rows: Range<Int>? = nil

    public init() {}

    /// A flow-matching rollout: `steps` steps with shift `shift`, `sampler` at every step unless `plan` is given.
    public static func flow(
        steps: Int, shift: Float = 3, sampler: FlowSampler = .danceSDE(eta: 0.3),
        plan: [FlowSampler]? = nil
    ) -> RolloutConfig {
        var config = RolloutConfig()
        config.process = FlowProcess(steps: steps, shift: shift, sampler: sampler, plan: plan)
        return config
    }
}

/// The sampled trajectories of N samples.
public struct RolloutBatch: @unchecked Sendable {
    /// x_0 … x_T, `[N, T+1, ...latent]`, float32.
    public let latents: Tensor
    /// log p(x_{i+1} | x_i) of each transition under the sampling policy, `[N, T]`.
    public let logProbs: Tensor
    /// What gets decoded and rewarded, `[N, ...latent]`: x̂0 of the last step for flows, the final
    /// sample for DDIM (`SamplingProcess.decodedLatent`).
    public let finalLatents: Tensor
    /// The chain that produced the trajectories; training rescores transitions with it.
    public let process: any SamplingProcess
    /// The CFG scale the rollout used (nil: none); training applies the same.
    public let guidanceScale: Float?

    public init(
        latents: Tensor, logProbs: Tensor, finalLatents: Tensor, process: any SamplingProcess,
        guidanceScale: Float? = nil
    ) {
        precondition(
            latents.dim(1) == process.steps + 1,
            "RolloutBatch: \(latents.dim(1)) latents per trajectory for \(process.steps) steps")
        self.latents = latents
        self.logProbs = logProbs
        self.finalLatents = finalLatents
        self.process = process
        self.guidanceScale = guidanceScale
    }

    public var count: Int { latents.dim(0) }
    public var steps: Int { process.steps }

    /// The flow process of a flow-matching rollout (nil for DDIM).
    public var flow: FlowProcess? { process as? FlowProcess }

    /// The trajectories of these samples, in this order (a best-of-N training subset).
    public func rows(_ indices: [Int]) -> RolloutBatch {
        let index = Tensor(indices.map(Int32.init))
        return RolloutBatch(
            latents: latents.take(index, axis: 0), logProbs: logProbs.take(index, axis: 0),
            finalLatents: finalLatents.take(index, axis: 0), process: process, guidanceScale: guidanceScale)
    }
}

/// Samples N trajectories (N = conditioning rows). Randomness comes only from `key`: the same key, policy and
/// conditioning give the same trajectories.
/// - latentShape: the shape of one sample's latent (without the batch axis).
/// - unconditional: the unconditional branch for CFG (`config.guidanceScale`): one row shared by every sample, or
///   one row per sample; its tensors must match the conditioning's keys and non-batch shapes.
public func rollout(
    policy: DenoisingPolicy, conditioning: Conditioning, latentShape: [Int], config: RolloutConfig,
    key: RandomKey, unconditional: Conditioning? = nil
) -> RolloutBatch {
    let n = conditioning.count
    let process = config.process
    let guidance = GuidanceInputs(scale: config.guidanceScale, unconditional: unconditional, samples: n)
    let keys = key.split(into: 2)
    let initial: Tensor
    if config.sameInitialNoise {
        let group = config.initialNoiseGroupSize > 0 ? config.initialNoiseGroupSize : n
        precondition(n % group == 0, "rollout: \(n) samples do not split into initial-noise groups of \(group)")
        initial = Random.normal([n / group, 1] + latentShape, key: keys[0]).broadcast(
            to: [n / group, group] + latentShape
        )
        .reshaped([n] + latentShape)
    } else {
        initial = Random.normal([n] + latentShape, key: keys[0])
    }
    let stepKeys = keys[1].split(into: process.steps)

    var latentChunks: [Tensor] = [], logProbChunks: [Tensor] = [], predictionChunks: [Tensor] = []
    let sampled = config.rows ?? 0..<n
    precondition(sampled.lowerBound >= 0 && sampled.upperBound <= n, "rollout: rows \(sampled) of \(n) samples")
    for start in stride(from: sampled.lowerBound, to: sampled.upperBound, by: max(1, config.batchSize)) {
        let rows = Array(start..<min(sampled.upperBound, start + max(1, config.batchSize)))
        let chunkConditioning = conditioning.rows(rows)
        let chunkUnconditional = guidance.rows(rows)
        var x = initial[start..<(start + rows.count)]
        var states = [x], logProbs: [Tensor] = []
        var prediction = x
        for i in 0..<process.steps {
            let timesteps = Tensor.full([rows.count], Double(process.networkTimestep(i)))
            let v = guidedOutput(
                { policy.modelOutput($0, timesteps: $1, conditioning: $2) }, x, timesteps: timesteps,
                conditioning: chunkConditioning,
                unconditional: chunkUnconditional, scale: config.guidanceScale)
            // Each sample's step noise depends on its global index, not on how samples are chunked.
            let noise = Random.normal([n] + latentShape, key: stepKeys[i])[start..<(start + rows.count)]
            let out = process.transition(i, modelOutput: v, sample: x, nextSample: nil, noise: noise)
            x = out.sample
            prediction = process.decodedLatent(lastStep: out)
            eval(x, out.logProb, prediction)
            states.append(x)
            logProbs.append(out.logProb)
        }
        latentChunks.append(stacked(states, axis: 1))
        logProbChunks.append(stacked(logProbs, axis: 1))
        predictionChunks.append(prediction)
    }
    return RolloutBatch(
        latents: concatenated(latentChunks, axis: 0), logProbs: concatenated(logProbChunks, axis: 0),
        finalLatents: concatenated(predictionChunks, axis: 0), process: process,
        guidanceScale: config.guidanceScale)
}
