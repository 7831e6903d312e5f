import Engine
import Sampling
import NN

/// The update half of a GRPO iteration (DanceGRPO's inner loop of `train_one_step`,
/// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py#L586).
public struct UpdateConfig: Sendable, Equatable {
    /// Fraction of the T−1 trainable transitions used per sample: K = floor((T−1)·fraction).
    public var timestepFraction: Float = 0.6
    /// ε of the clipped surrogate.
    public var clipRange: Float = 1e-4
    /// Samples per optimizer step.
    public var gradientAccumulationSteps = 12
    /// Global gradient-norm clip (`max_grad_norm`).
    public var maxGradNorm: Float = 1
    /// (sample, transition) rows per network call in training, sample by sample within an optimizer window (a call may
    /// hold the transitions of several samples); any value gives the same gradients up to float rounding.
    public var transitionBatchSize = 1
    /// Weight β of the KL penalty to the frozen reference policy (Flow-GRPO `train.beta`; see ReferenceKL.swift).
    /// 0 (the default, as DanceGRPO) never evaluates the reference.
    public var beta: Float = 0
    /// Mixed precision (`--mixed-precision`): the dtype the network computes in inside the differentiated function,
    /// from float32 master weights (nil: the parameters' own dtype).
    public var computeDType: DType? = nil

    public init() {}
}

/// What one update pass measured, for logs.
public struct UpdateStatistics: Sendable {
    /// exp(logp_new − logp_old) of every trained transition, in training order.
    public var ratios: [Float] = []
    public var clipFraction: Float = 0
    public var approxKL: Float = 0
    /// Mean over trained transitions of the KL penalty to the reference policy (before β); 0 when β = 0.
    public var referenceKL: Float = 0
    /// The steps (transition indices) that could be trained: the stochastic ones among the first T−1.
    public var trainableSteps: [Int] = []
    /// The transition index of each entry of `ratios`.
    public var trainedSteps: [Int] = []
    /// Pre-clip global gradient norm of each optimizer step taken.
    public var gradientNorms: [Float] = []
    /// Each optimizer step of the pass in order: nil where it was applied, else why it was skipped (not applied, or
    /// taken back: see `guardedStep`).
    public var stepOutcomes: [SkippedStep?] = []
    /// The steps skipped for non-finite values.
    public var skippedSteps: [SkippedStep] { stepOutcomes.compactMap { $0 } }
    /// Sum of the (normalised) losses, KL term included.
    public var loss: Float = 0
    public var optimizerSteps: Int { gradientNorms.count }

    public init() {}
}

/// Optimizer steps `updatePolicy` takes on `samples` samples: one per full window of `gradientAccumulationSteps`
/// samples (at least 1); an incomplete last window is dropped.
public func optimizerStepCount(samples: Int, gradientAccumulationSteps: Int) -> Int {
    samples / max(1, gradientAccumulationSteps)
}

/// Trains the policy on a rollout: for each sample, a random subset of K of its trainable transitions (the stochastic
/// ones among the first T−1: the last is never trained, and ODE steps of a mixed plan have no log-prob), the clipped
/// surrogate (plus β·KL to the reference policy) divided by (accumulation·K), an optimizer step every
/// `gradientAccumulationSteps` samples with global norm clipping. K = floor(trainable·fraction); with every step
/// stochastic this is DanceGRPO's floor((T−1)·fraction). An incomplete final window is dropped, as the reference's
/// next `zero_grad` drops it. A rollout with no trainable transition trains nothing.
/// - advantages: one per sample, `[N]` values.
/// - sampler: optional check only: the rollout records its process (`RolloutBatch.process`) and training rescoring
///   uses them; if given, every stochastic step must have used it.
/// - unconditional: the CFG branch when the rollout used `guidanceScale` (as given to `rollout`).
/// - key: draws the per-sample permutations.
/// - processGroup: data parallelism: every rank trains its own samples, and before each optimizer step the window's
///   gradients are averaged over the ranks (each rank's is already its mean over its window), so W ranks with windows
///   of A samples take the step one process would take on a window of W·A. Every rank must call this with as many
///   samples.
/// - lossScaler: fp16's dynamic loss scaling: the loss is scaled in the differentiated function, the window's
///   gradients unscaled before clipping, and an overflowing window skips its step (`LossScaler`).
/// - sharded: ZeRO stages 1–3 (its process group is the one used, and `optimizer` is not): gradients, the optimizer
///   step and (stage 3) the weights go through it; every stage takes the steps stage 0 takes.
public func updatePolicy(
    policy: DenoisingPolicy, optimizer: Optimizer, rollout: RolloutBatch, conditioning: Conditioning,
    advantages: [Float], sampler: FlowSampler? = nil, config: UpdateConfig, key: RandomKey,
    unconditional: Conditioning? = nil, processGroup: ProcessGroup? = nil, lossScaler: LossScaler? = nil,
    sharded: ShardedTraining? = nil
) throws -> UpdateStatistics {
    let n = rollout.count, process = rollout.process
    precondition(advantages.count == n, "updatePolicy: \(advantages.count) advantages for \(n) samples")
    if let sampler, let flow = rollout.flow {
        precondition(
            flow.samplers.allSatisfy { !$0.isStochastic || $0 == sampler },
            "updatePolicy: the rollout used \(flow.samplers), not \(sampler)")
    }
    var statistics = UpdateStatistics()
    let candidates = (0..<(process.steps - 1)).filter { process.isStochastic($0) }
    statistics.trainableSteps = candidates
    guard !candidates.isEmpty else { return statistics }
    let k = Int((Float(candidates.count) * config.timestepFraction).rounded(.down))
    guard k >= 1 else {
        throw PolicyUpdateError.noTransitionTrained(fraction: config.timestepFraction, trainable: candidates.count)
    }
    let accumulation = max(1, config.gradientAccumulationSteps)
    let normalizer = Float(accumulation * k)
    let guidance = GuidanceInputs(scale: rollout.guidanceScale, unconditional: unconditional, samples: n)
    let sampleKeys = key.split(into: n)

    // Each sample's K transitions, drawn by its own permutation (so they do not depend on how calls are batched).
    let chosen: [[Int]] = (0..<n).map { sample in
        Array(
            Random.permutation(candidates.count, key: sampleKeys[sample]).toArray(Int32.self).map {
                candidates[Int($0)]
            }.prefix(k))
    }
    let stepsPerTrajectory = process.steps + 1
    let rowsPerCall = max(1, config.transitionBatchSize)
    let flatLatents = rollout.latents.reshaped([n * stepsPerTrajectory] + Array(rollout.latents.shape.dropFirst(2)))
    let flatLogProbs = rollout.logProbs.reshaped([-1])

    var accumulated: [String: Tensor] = [:]
    var clipped = 0, klSum: Float = 0, referenceKLSum: Float = 0, lossSum: Float = 0, windowLoss: Float = 0
    // Optimizer windows of `accumulation` samples; inside one, a network call takes up to `transitionBatchSize`
    // (sample, transition) rows, sample by sample, so a call may span samples without changing the summed gradient.
    for windowStart in stride(from: 0, to: n, by: accumulation) {
        let windowSamples = windowStart..<min(n, windowStart + accumulation)
        let rows: [(sample: Int, step: Int)] = windowSamples.flatMap { sample in chosen[sample].map { (sample, $0) } }
        for start in stride(from: 0, to: rows.count, by: rowsPerCall) {
            let call = Array(rows[start..<min(rows.count, start + rowsPerCall)])
            let samples = call.map(\.sample), js = call.map(\.step)
            let x = flatLatents.take(Tensor(call.map { Int32($0.sample * stepsPerTrajectory + $0.step) }), axis: 0)
            let xNext = flatLatents.take(
                Tensor(call.map { Int32($0.sample * stepsPerTrajectory + $0.step + 1) }), axis: 0)
            let oldLogProbs = flatLogProbs.take(
                Tensor(call.map { Int32($0.sample * process.steps + $0.step) }), axis: 0)
            let timesteps = Tensor(js.map { process.networkTimestep($0) })
            let rowsConditioning = conditioning.rows(samples)
            let rowsUnconditional = guidance.rows(samples)
            let advantage = Tensor(samples.map { advantages[$0] })
            func step(_ r: Int, _ v: Tensor) -> TransitionOutput {
                process.transition(
                    js[r], modelOutput: v[r..<(r + 1)], sample: x[r..<(r + 1)], nextSample: xNext[r..<(r + 1)],
                    noise: nil)
            }
            // The reference policy's step means, outside the differentiated function (they are data).
            var referenceMeans: [Tensor] = []
            if config.beta > 0 {
                let vRef = try guidedOutput(
                    { x, t, c in
                        // Sharded training keeps the reference sharded too and gathers it for this pass.
                        if let sharded, sharded.hasReference {
                            return try sharded.withReferenceParameters {
                                policy.modelOutput(x, timesteps: t, conditioning: c)
                            }
                        }
                        return try policy.referenceOutput(x, timesteps: t, conditioning: c)
                    }, x,
                    timesteps: timesteps, conditioning: rowsConditioning,
                    unconditional: rowsUnconditional, scale: rollout.guidanceScale
                ).stopGradient()
                referenceMeans = js.indices.map { step($0, vRef).mean }
                eval(referenceMeans)
            }
            var ratio = Tensor.zeros([js.count])
            var kl = Tensor.zeros([])
            var referenceKLs = Tensor.zeros([js.count])
            let lossOfCall: () -> [Tensor] = {
                let v = guidedOutput(
                    { policy.modelOutput($0, timesteps: $1, conditioning: $2) }, x, timesteps: timesteps,
                    conditioning: rowsConditioning, unconditional: rowsUnconditional,
                    scale: rollout.guidanceScale)
                let steps = js.indices.map { step($0, v) }
                let out = clippedPolicyLoss(
                    logProb: concatenated(steps.map(\.logProb), axis: 0), oldLogProb: oldLogProbs,
                    advantage: advantage, clipRange: config.clipRange, normalizer: normalizer)
                ratio = out.ratio.stopGradient()
                kl = out.approxKL
                var loss = out.loss
                if config.beta > 0 {
                    let penalties = concatenated(
                        js.indices.map { r in
                            referenceKL(
                                mean: steps[r].mean, referenceMean: referenceMeans[r], noiseScale: steps[r].noiseScale)
                        }, axis: 0)
                    referenceKLs = penalties.stopGradient()
                    loss = loss + config.beta * penalties.sum() / normalizer
                }
                return [lossScaler?.scaled(loss) ?? loss]
            }
            let values: [Tensor]
            if let sharded {
                let (callValues, gradients) = sharded.valueAndGrad(computeDType: config.computeDType, lossOfCall)
                values = callValues
                sharded.accumulate(gradients)
                // In unit order on every rank: the graph holds collectives.
                eval(sharded.accumulatedTensors + [values[0], ratio, kl, referenceKLs])
            } else {
                let (callValues, gradients) = valueAndGrad(
                    model: policy.module, computeDType: config.computeDType, lossOfCall)
                values = callValues
                for (name, g) in gradients { accumulated[name] = accumulated[name].map { $0 + g } ?? g }
                eval(Array(accumulated.values) + [values[0], ratio, kl, referenceKLs])
            }
            let r = ratio.toArray(Float.self)
            statistics.ratios += r
            statistics.trainedSteps += js
            clipped += r.filter { abs($0 - 1) > config.clipRange }.count
            klSum += kl.item(Float.self) * Float(js.count)
            referenceKLSum += referenceKLs.sum().item(Float.self)
            let callLoss = values[0].item(Float.self) / (lossScaler?.scale ?? 1)
            lossSum += callLoss
            windowLoss += callLoss
        }
        // An incomplete final window trains nothing, as the reference's next zero_grad drops it.
        if windowSamples.count == accumulation, let sharded {
            let (skipped, norm) = try sharded.step(
                maxNorm: config.maxGradNorm, loss: sharded.processGroup.worldSize > 1 ? nil : windowLoss,
                lossScaler: lossScaler)
            if skipped == nil { statistics.gradientNorms.append(norm) }
            statistics.stepOutcomes.append(skipped)
        } else if windowSamples.count == accumulation {
            if let lossScaler { accumulated = lossScaler.unscale(accumulated) }
            if let processGroup, processGroup.worldSize > 1 {
                accumulated = try averageOverRanks(accumulated, processGroup)
            }
            let (clippedGradients, norm) = clipGradientNorm(accumulated, maxNorm: config.maxGradNorm)
            // Each rank's loss is its own: with several ranks the decision rests on the shared gradient norm (a
            // non-finite loss makes it non-finite too).
            let skipped = try guardedStep(
                optimizer: optimizer, gradients: clippedGradients, norm: norm,
                loss: (processGroup?.worldSize ?? 1) > 1 ? nil : windowLoss, lossScaler: lossScaler)
            if skipped == nil { statistics.gradientNorms.append(norm) }
            statistics.stepOutcomes.append(skipped)
        }
        accumulated = [:]
        sharded?.discardAccumulated()
        windowLoss = 0
    }
    let trained = Float(statistics.ratios.count)
    statistics.clipFraction = Float(clipped) / trained
    statistics.approxKL = klSum / trained
    statistics.referenceKL = referenceKLSum / trained
    statistics.loss = lossSum
    return statistics
}

/// An update that cannot train what it was given.
public enum PolicyUpdateError: Error, CustomStringConvertible, Equatable {
    /// floor(trainable · fraction) is 0: no transition of any sample would be trained.
    case noTransitionTrained(fraction: Float, trainable: Int)

    public var description: String {
        switch self {
        case .noTransitionTrained(let fraction, let trainable):
            return
                """
                timestep fraction \(fraction) trains no transition: floor(\(trainable) × \(fraction)) = 0 of the \
                \(trainable) stochastic transitions (--timestep-fraction must be at least 1/\(trainable))
                """
        }
    }
}

/// The mean over the ranks of each rank's gradients, summed as one flat float32 tensor in key order (one collective;
/// dictionary order differs between processes, sorted names are the same everywhere). The sum stays an engine array.
func averageOverRanks(_ gradients: [String: Tensor], _ processGroup: ProcessGroup) throws -> [String: Tensor] {
    let names = gradients.keys.sorted()
    let shapes = names.map { gradients[$0]!.shape }
    let flat = concatenated(names.map { gradients[$0]!.asType(.float32).reshaped([-1]) }, axis: 0)
    let mean = try processGroup.allSum(flat) * processGroup.gradientAverageScale
    var offsets = [0]
    for shape in shapes { offsets.append(offsets.last! + shape.reduce(1, *)) }
    var averaged: [String: Tensor] = [:]
    for (i, name) in names.enumerated() {
        averaged[name] = mean[offsets[i]..<offsets[i + 1]].reshaped(shapes[i]).asType(gradients[name]!.dtype)
    }
    return averaged
}
