import Checkpoints
import Engine
import Sampling
import Foundation
import GRPO
import Imaging
import NN
import Rewards

/// DanceGRPO for any ``TrainingTask``: each iteration draws B training prompts, samples G trajectories per prompt
/// with the task's chain (Dance/Flow-GRPO SDE, CPS or MixGRPO window for flows; DDIM η for Stable Diffusion),
/// scores the decoded images, normalises rewards per prompt group, and trains the task's network with the clipped
/// surrogate. Every random draw derives from (seed, iteration), so a resumed run continues exactly as an
/// uninterrupted one. `run(observers:)` is the whole training run; `step()` one iteration.
public final class GRPOTrainer {
    public let config: Config
    public let task: TrainingTask
    public let runFolder: URL
    public let optimizer: AdamW
    public let rewards: RewardSet
    /// The EMA of the trained weights (of this rank's shares under ZeRO stages 1–3).
    public let ema: ExponentialMovingAverage?
    /// The sharded training state under ZeRO stages 1–3 with several processes (nil: replicated).
    public let sharded: ShardedTraining?
    public private(set) var iteration = 0
    /// Optimizer steps skipped for non-finite values: in the whole run (saved with checkpoints), and the current run
    /// of skipped steps in a row (the run stops at `maxConsecutiveSkippedSteps`).
    public private(set) var skippedSteps = 0
    public private(set) var consecutiveSkippedSteps = 0
    let policy: DenoisingPolicy
    /// fp16's dynamic loss scaling (`--mixed-precision fp16`), saved with checkpoints; nil otherwise.
    public let lossScaler: LossScaler?
    let stochasticSampler: RolloutSampler
    /// Per-prompt reward histories (when `perPromptStatBuffer` > 0), one per normalised quantity: each reward when
    /// advantages are summed, else the weighted reward sum (see `normalizedStreams`); saved with checkpoints.
    public private(set) var statTrackers: [String: PerPromptStatTracker] = [:]
    let heldOut: Evaluation

    /// The processes of the run: it shards the training state and averages the gradients.
    public let processGroup: ProcessGroup
    /// The run's data-parallel replicas (``processGroup`` itself unless it runs sequence parallelism): rewards are
    /// gathered over it for statistics, seeds and prompts differ per replica.
    public let dataGroup: ProcessGroup

    public init(
        task: TrainingTask, config: Config, runFolder: URL, processGroup: ProcessGroup = SingleProcessGroup(),
        rewardLocations: RewardLocations = RewardLocations(), rewardCatalog: RewardCatalog? = nil
    ) throws {
        self.config = config
        self.processGroup = processGroup
        self.dataGroup = DataParallelView.of(processGroup)
        self.task = task
        self.runFolder = runFolder
        rewards = try (rewardCatalog ?? task.rewardCatalog).makeSet(config.rewards, locations: rewardLocations)
        try config.validate()
        stochasticSampler = try GRPOTrainer.stochasticSampler(config, chain: task.chain)
        let network = task.network
        if config.gradientCheckpointing {
            guard let checkpointable = network as? GradientCheckpointable else {
                throw TrainerError.incompatibleWithModel(
                    "--gradient-checkpointing: the \(type(of: network)) network has no checkpointed blocks")
            }
            checkpointable.gradientCheckpointing = true
        }
        if processGroup.gradientShares > 1 { try GRPOTrainer.parallelizeSequence(network, processGroup) }
        if config.loraRank > 0 {
            let targets = config.loraTargets.modules
            let lora = LoRAConfig(
                rank: config.loraRank, alpha: config.loraAlpha > 0 ? config.loraAlpha : Float(2 * config.loraRank),
                targetModules: targets)
            try network.addLoRA(lora, key: RandomKey(seed: config.seed &+ 17))
        }
        // --mixed-precision (GRPOTrainer+MixedPrecision.swift): float32 master weights, passes in the compute dtype.
        let computeDType = GRPOTrainer.prepareMixedPrecision(config, network: network)
        lossScaler = config.mixedPrecision == .fp16 ? LossScaler() : nil
        let schedule = try GRPOTrainer.learningRateSchedule(config)
        let makeOptimizer = { (module: Module) in
            AdamW(
                model: module, schedule: schedule, betas: (config.adamBeta1, config.adamBeta2), eps: config.adamEpsilon,
                weightDecay: config.weightDecay)
        }
        let stage = ZeroStage(rawValue: config.zeroStage) ?? .replicated
        if stage != .replicated && processGroup.worldSize > 1 {
            // The optimizer, the EMA and the KL reference live on this rank's shares.
            let sharded = try ShardedTraining(
                model: network, stage: stage, processGroup: processGroup,
                blocks: (network as? GradientCheckpointable)?.checkpointedBlocks ?? [], keepsReference: config.beta > 0,
                makeOptimizer: makeOptimizer)
            sharded.forwardDType = computeDType
            self.sharded = sharded
            policy = GRPOTrainer.mixedPrecisionPolicy(task.policy(reference: nil), config)
            optimizer = sharded.optimizer as! AdamW
        } else {
            sharded = nil
            let reference = config.beta > 0 ? ReferenceWeights(snapshotOf: network, dtype: computeDType) : nil
            policy = GRPOTrainer.mixedPrecisionPolicy(task.policy(reference: reference), config)
            optimizer = makeOptimizer(network)
        }
        let averaged = sharded?.shareModule ?? network
        ema = config.emaDecay > 0 ? ExponentialMovingAverage(model: averaged, decay: config.emaDecay) : nil
        heldOut = Evaluation(
            prompts: try task.evaluationPrompts(count: config.evalPrompts), steps: config.samplingSteps,
            shift: config.shift, guidanceScale: config.guidanceScale)
        if config.perPromptStatBuffer > 0 {
            for stream in normalizedStreams {
                statTrackers[stream] = PerPromptStatTracker(
                    bufferSize: config.perPromptStatBuffer, minCount: config.perPromptStatMinCount)
            }
        }
        try FileSystemFailure.wrapping("create the run folder", path: runFolder) {
            try FileManager.default.createDirectory(at: runFolder, withIntermediateDirectories: true)
        }
    }

    // MARK: - One iteration

    public struct IterationLog: Codable, Sendable {
        public var iteration: Int
        public var rewardMean: [String: Double]
        public var rewardStd: [String: Double]
        /// The weighted sum of the reward means (the one reward's mean when there is one): `reward.txt`'s value.
        public var reward: Double
        /// Fraction of samples judged fully correct, when a reward reports `accuracy` (the shapes world's rewards).
        public var accuracy: Double?
        /// The mean of every extra metric the rewards reported, by name.
        public var rewardInfo: [String: Double]
        public var advantageMean: Double
        public var advantageAbsMax: Double
        /// Samples the update trained (this process's; fewer than rolled out with best-of-N).
        public var trainedSamples: Int
        public var ratioMean: Double
        public var ratioMin: Double
        public var ratioMax: Double
        public var clipFraction: Double
        public var approxKL: Double
        /// KL penalty to the reference policy before β (0 without one).
        public var referenceKL: Double
        public var gradNorm: Double
        public var learningRate: Double
        public var secondsRollout: Double
        public var secondsReward: Double
        public var secondsUpdate: Double
        public var heldOutReward: Double?
        public var heldOutAccuracy: Double?
        /// Optimizer steps of this iteration skipped for non-finite values, why, and the run's total so far.
        public var skippedSteps = 0
        public var skipReasons: [String] = []
        public var skippedStepsTotal = 0
    }

    /// One iteration's samples: the prompts (each repeated G times), their conditioning and the trajectories.
    struct IterationRollout {
        var prompts: [Prompt]
        var conditioning: Conditioning
        var unconditional: Conditioning?
        var trajectories: RolloutBatch
        var updateKey: RandomKey
        var seconds: Double
    }

    /// Rollout, reward, advantages and update for the next iteration. An optimizer step with a non-finite loss,
    /// gradient norm or resulting weight is skipped (an iteration with a non-finite reward skips its update as one
    /// step) and counted; after `maxConsecutiveSkippedSteps` in a row the run stops with
    /// `TrainerError.tooManySkippedSteps`, its weights those before the first of them.
    public func step() throws -> IterationLog {
        let batch = try sampleRollout(iteration: iteration)
        var started = Date()
        let scored = try score(batch)
        let secondsReward = Date().timeIntervalSince(started)
        let nonFinite = try dataGroup.allGather([Double(scored.scores.joined().filter { !$0.isFinite }.count)])
            .reduce(0, +)
        started = Date()
        let learningRate = optimizer.learningRate
        var advantages: [Float] = []
        var stats = UpdateStatistics()
        var trained = 0
        if nonFinite > 0 {
            stats.stepOutcomes = [SkippedStep.nonFiniteReward(count: Int(nonFinite))]
        } else {
            advantages = try combinedAdvantages(scored.scores, prompts: batch.prompts.map(\.text))
            (stats, trained) = try train(batch, advantages: advantages)
        }
        let secondsUpdate = Date().timeIntervalSince(started)
        iteration += 1
        var log = try iterationLog(
            scored: scored, advantages: advantages, trainedSamples: trained, stats: stats,
            learningRate: learningRate,
            seconds: (batch.seconds, secondsReward, secondsUpdate))
        try countSkipped(stats.stepOutcomes, into: &log)
        return log
    }

    /// Adds the update's skipped steps to the run's counts and the log; throws once `maxConsecutiveSkippedSteps`
    /// were skipped in a row.
    func countSkipped(_ outcomes: [SkippedStep?], into log: inout IterationLog) throws {
        for outcome in outcomes {
            guard let reason = outcome else {
                consecutiveSkippedSteps = 0
                continue
            }
            skippedSteps += 1
            log.skippedSteps += 1
            log.skipReasons.append(reason.description)
            guard reason.countsTowardStop else { continue }  // an fp16 overflow: the loss scaler's routine
            consecutiveSkippedSteps += 1
            if consecutiveSkippedSteps >= config.maxConsecutiveSkippedSteps {
                throw TrainerError.tooManySkippedSteps(
                    count: consecutiveSkippedSteps, iteration: iteration, last: reason.description)
            }
        }
        log.skippedStepsTotal = skippedSteps
    }

    /// Draws the iteration's prompts and samples G trajectories of each with the stochastic sampler (or this
    /// iteration's MixGRPO window).
    func sampleRollout(iteration it: Int) throws -> IterationRollout {
        let seed = rankSeed(config.seed, rank: dataGroup.rank)
        let keys = RandomKey(seed: seed).split(into: 2)
        let iterationKey = keys[1].split(into: 1 + it)[it].split(into: 2)
        let prompts = try task.trainingPrompts(count: config.promptsPerIteration, iteration: it, seed: seed)
            .flatMap { [Prompt](repeating: $0, count: config.numGenerations) }
        let conditioning = try task.conditioning(prompts: prompts)
        var plan: [FlowSampler]? = nil
        if config.mixWindowSize > 0, case .flow(let sampler) = stochasticSampler {
            plan = MixGRPOWindow(
                steps: config.samplingSteps, windowSize: config.mixWindowSize,
                stride: config.mixWindowStride, itersPerShift: config.mixItersPerShift,
                rollBack: config.mixRollBack, sampler: sampler
            ).plan(iteration: it)
        }
        var rolloutConfig = RolloutConfig()
        rolloutConfig.process = task.chain.process(
            steps: config.samplingSteps, shift: config.shift,
            sampler: stochasticSampler, plan: plan)
        let unconditional: Conditioning? = config.guidanceScale != 1 ? try task.conditioning([""]) : nil
        if unconditional != nil { rolloutConfig.guidanceScale = config.guidanceScale }
        rolloutConfig.sameInitialNoise = config.initSameNoise
        rolloutConfig.initialNoiseGroupSize = config.initSameNoisePerPrompt ? config.numGenerations : 0
        rolloutConfig.batchSize = config.rolloutBatchSize
        let started = Date()
        let trajectories = try withTrainedWeights(forward: true) {
            rollout(
                policy: policy, conditioning: conditioning, latentShape: task.latentShape,
                config: rolloutConfig, key: iterationKey[0], unconditional: unconditional)
        }
        return IterationRollout(
            prompts: prompts, conditioning: conditioning, unconditional: unconditional,
            trajectories: trajectories, updateKey: iterationKey[1],
            seconds: Date().timeIntervalSince(started))
    }

    /// Decodes the final latents and scores them with every reward.
    func score(_ batch: IterationRollout) throws -> RewardSet.Scores {
        return try rewards.score(try task.samples(batch.trajectories.finalLatents), prompts: batch.prompts)
    }

    /// The clipped-surrogate update on the trained samples (all, or best-of-N's subset) and the EMA; returns the
    /// update's statistics and how many samples it trained.
    func train(_ batch: IterationRollout, advantages: [Float]) throws -> (UpdateStatistics, Int) {
        let trained =
            config.bestOfN > 0
            ? bestOfNSubset(advantages: advantages, groupSize: config.numGenerations, keep: config.bestOfN)
            : Array(advantages.indices)
        let trainedAll = trained.count == advantages.count
        var update = UpdateConfig()
        update.timestepFraction = config.timestepFraction
        update.clipRange = config.clipRange
        update.gradientAccumulationSteps = config.gradientAccumulationSteps
        update.maxGradNorm = config.maxGradNorm
        update.transitionBatchSize = config.transitionBatchSize
        update.beta = config.beta
        update.computeDType = config.mixedPrecision.computeDType
        let stats = try updatePolicy(
            policy: policy, optimizer: optimizer,
            rollout: trainedAll ? batch.trajectories : batch.trajectories.rows(trained),
            conditioning: trainedAll ? batch.conditioning : batch.conditioning.rows(trained),
            advantages: trained.map { advantages[$0] }, config: update, key: batch.updateKey,
            unconditional: batch.unconditional, processGroup: processGroup, lossScaler: lossScaler,
            sharded: sharded)
        if let ema {
            try ema.update(from: sharded?.shareModule ?? task.network)
            eval(ema.tensorsToEvaluate)
        }
        return (stats, trained.count)
    }

    /// The iteration's log line, with reward statistics over every rank's samples (advantages stay per group, and
    /// groups never span ranks).
    func iterationLog(
        scored: RewardSet.Scores, advantages: [Float], trainedSamples: Int, stats: UpdateStatistics,
        learningRate: Double, seconds: (rollout: Double, reward: Double, update: Double)
    ) throws
        -> IterationLog
    {
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(1, v.count)) }
        func std(_ v: [Double]) -> Double {
            let m = mean(v)
            return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(max(1, v.count - 1))).squareRoot()
        }
        var rewardMean: [String: Double] = [:], rewardStd: [String: Double] = [:]
        for (name, values) in zip(rewards.names, scored.scores) {
            // Statistics of the finite rewards: a non-finite one skipped the update and is counted there.
            let gathered = try dataGroup.allGather(values).filter(\.isFinite)
            rewardMean[name] = mean(gathered)
            rewardStd[name] = std(gathered)
        }
        var info: [String: Double] = [:]
        for name in scored.info.keys.sorted() { info[name] = mean(try dataGroup.allGather(scored.info[name]!)) }
        let ratios = stats.ratios.map(Double.init)
        var log = IterationLog(
            iteration: iteration, rewardMean: rewardMean, rewardStd: rewardStd,
            reward: zip(rewards.names, rewards.weights).reduce(0) { $0 + $1.1 * rewardMean[$1.0]! },
            accuracy: info["accuracy"], rewardInfo: info,
            advantageMean: mean(advantages.map(Double.init)), advantageAbsMax: Double(advantages.map(abs).max() ?? 0),
            trainedSamples: trainedSamples,
            ratioMean: mean(ratios), ratioMin: ratios.min() ?? 1, ratioMax: ratios.max() ?? 1,
            clipFraction: Double(stats.clipFraction), approxKL: Double(stats.approxKL),
            referenceKL: Double(stats.referenceKL), gradNorm: mean(stats.gradientNorms.map(Double.init)),
            learningRate: learningRate, secondsRollout: seconds.rollout, secondsReward: seconds.reward,
            secondsUpdate: seconds.update)
        log.skippedStepsTotal = skippedSteps
        return log
    }

    /// What gets normalised into advantages: each reward by name when per-reward advantages are summed, else the
    /// weighted reward sum ("reward").
    var normalizedStreams: [String] {
        config.rewardCombination == .advantage && rewards.entries.count > 1 ? rewards.names : ["reward"]
    }

    /// Per-group (or global, or per-prompt-history) advantages of the weighted rewards: of their sum, or the sum of
    /// each reward's advantages.
    public func combinedAdvantages(_ scores: [[Double]], prompts: [String]) throws -> [Float] {
        let normalization: AdvantageNormalization =
            !config.useGroup
            ? .global
            : config.globalStd
                ? .perGroupGlobalStd(groupSize: config.numGenerations) : .perGroup(groupSize: config.numGenerations)
        func advantages(_ values: [Double], stream: String) throws -> [Float] {
            if statTrackers[stream] != nil {
                // Every rank updates its tracker with every rank's prompts and rewards in rank order, so the histories
                // (and the checkpointed tracker) are the same on all ranks; each keeps the advantages of its samples.
                let everyone = try dataGroup.allGatherPrompts(prompts, values: values)
                let clip = Double(config.advantageClipMax)
                return statTrackers[stream]!.update(prompts: everyone.prompts, rewards: everyone.values)[everyone.mine]
                    .map { Float(Swift.min(Swift.max($0, -clip), clip)) }
            }
            let everyone =
                normalization.usesBatchStatistics ? Tensor(try dataGroup.allGather(values).map(Float.init)) : nil
            return groupAdvantages(
                rewards: Tensor(values.map(Float.init)), normalization: normalization, globalRewards: everyone,
                clipMax: config.advantageClipMax
            ).toArray(Float.self)
        }
        let weights = rewards.weights
        let streams = normalizedStreams
        if streams.count == 1 {
            let summed = (0..<scores[0].count).map { i in zip(weights, scores).reduce(0) { $0 + $1.0 * $1.1[i] } }
            return try advantages(summed, stream: streams[0])
        }
        let perReward = try zip(scores, streams).map { try advantages($0, stream: $1) }
        return (0..<scores[0].count).map { i in zip(weights, perReward).reduce(Float(0)) { $0 + Float($1.0) * $1.1[i] }
        }
    }

    /// Optimizer steps in the whole run: each process's B·G trained samples per iteration (B·bestOfN with best-of-N),
    /// in `updatePolicy`'s windows.
    static func optimizerSteps(_ config: Config) -> Int {
        let trainedPerPrompt = config.bestOfN > 0 ? config.bestOfN : config.numGenerations
        return config.iterations
            * optimizerStepCount(
                samples: config.promptsPerIteration * trainedPerPrompt,
                gradientAccumulationSteps: config.gradientAccumulationSteps)
    }

    /// The schedule `lrScheduler` names, over `optimizerSteps(config)` steps.
    static func learningRateSchedule(_ config: Config) throws -> LRSchedule {
        let total = optimizerSteps(config), warmup = config.lrWarmupSteps, lr = config.learningRate
        guard warmup >= 0 else { throw TrainerError.invalidSetting("--lr-warmup-steps must be ≥ 0, got \(warmup)") }
        switch config.lrScheduler {
        case .constant: return .constant(lr)
        case .constantWithWarmup: return .constantWithWarmup(lr, warmupSteps: warmup)
        case .linear, .cosine:
            guard warmup <= total else {
                throw TrainerError.invalidSetting(
                    "--lr-warmup-steps \(warmup) exceeds the run's \(total) optimizer steps")
            }
            return config.lrScheduler == .linear
                ? .linearWithWarmup(lr, warmupSteps: warmup, totalSteps: total)
                : .cosineWithWarmup(lr, warmupSteps: warmup, totalSteps: total)
        }
    }

    /// The sampler the config names, checked against the task's chain: DDIM chains take `ddim` and refuse
    /// flow-only options, flow chains refuse `ddim`.
    static func stochasticSampler(_ config: Config, chain: SamplingChain) throws -> RolloutSampler {
        switch chain {
        case .ddim:
            guard config.sampler == .ddim else {
                throw TrainerError.incompatibleWithModel(
                    """
                    sampler '\(config.sampler.rawValue)' is a flow-matching sampler; this model samples with DDIM \
                    (--sampler ddim, η from --eta)
                    """
                )
            }
            guard config.mixWindowSize == 0 else {
                throw TrainerError.incompatibleWithModel(
                    "MixGRPO windows (--mix-window-size) need a flow-matching model; this one samples with DDIM")
            }
        case .flow:
            guard config.sampler != .ddim else {
                throw TrainerError.incompatibleWithModel(
                    "sampler 'ddim' needs a DDIM model; flow models sample with dance-sde, flow-sde or cps")
            }
        }
        return config.rolloutSampler
    }

    // MARK: - Evaluation, checkpoints, resume

    /// Throws unless every rank holds the same trained weights (sum and sum of squares of every parameter, compared
    /// exactly): data-parallel ranks take identical optimizer steps, and a difference means they left lockstep.
    /// A collective: every rank calls it at the same iteration.
    /// Under ZeRO stage 3 no rank holds a copy of another's weights, so there is nothing to compare.
    public func checkRanksAgree() throws {
        guard processGroup.worldSize > 1, sharded?.stage != .parameters else { return }
        let parameters = task.network.trainableParameters().sorted { $0.key < $1.key }.map(\.value)
        let sums = parameters.map { $0.asType(.float32).sum() },
            squares = parameters.map { $0.asType(.float32).square().sum() }
        eval(sums + squares)
        let local = [
            sums.reduce(0.0) { $0 + Double($1.item(Float.self)) },
            squares.reduce(0.0) { $0 + Double($1.item(Float.self)) }
        ]
        let everyone = try processGroup.allGather(local)
        for r in 1..<processGroup.worldSize where Array(everyone[(2 * r)..<(2 * r + 2)]) != Array(everyone[0..<2]) {
            throw TrainerError.ranksOutOfStep(iteration: iteration, rank: r, sums: (everyone[2 * r], everyone[0]))
        }
    }

    /// The held-out evaluation (with the EMA weights when there are some). With several processes every rank calls it
    /// and each samples a share of the prompts; all get the whole result.
    public func evaluate() throws -> Evaluation.Result {
        try withWeights(averaged: ema, forward: true) {
            try heldOut.run(task, rewards: rewards, policy: policy, processGroup: dataGroup)
        }
    }

    /// `checkpoint-<iteration>-0/`: the network in diffusers layout (`transformer/` or `unet/`: config.json +
    /// safetensors) or its LoRA adapters, the optimizer and EMA state, `trainer_state.json` (with the settings) and,
    /// written last, `manifest.json` (each file's size and CRC-32C); written into a temporary folder and renamed, so a
    /// crash never leaves a half checkpoint under the final name. Refuses non-finite weights; a file-system failure
    /// (full disk, unwritable folder) names the path and leaves no temporary folder.
    ///
    /// The files are the same whatever the ZeRO stage and number of ranks (states per parameter, weights whole), so
    /// a run resumes on another rank count. With sharded training every rank calls this (the states and weights are
    /// gathered over the ranks) and rank 0 writes; otherwise rank 0 alone calls it.
    @discardableResult
    public func saveCheckpoint() throws -> URL {
        try Engine.checkErrors()
        let writes = processGroup.isMain || sharded == nil
        let final = runFolder.appendingPathComponent("checkpoint-\(iteration)-0")
        let temporary = runFolder.appendingPathComponent(".checkpoint-\(iteration)-0.tmp")
        do {
            try FileSystemFailure.wrapping("write checkpoint", path: temporary) {
                // Weights first (refused when not finite), then the states; sharded ones are gathered a unit or a
                // share at a time.
                guard try sharded?.weightsAreFinite() ?? parametersAreFinite(task.network) else {
                    throw TrainerError.nonFiniteWeights(iteration: iteration)
                }
                if writes {
                    try? FileManager.default.removeItem(at: temporary)
                    try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
                }
                try withWeightsForSaving(writes: writes) { try writeNetwork(into: temporary) }
                try writeStates(into: temporary, writes: writes)
                if let ema { try saveAveragedWeights(ema, into: temporary, writes: writes) }
                if writes { try CheckpointManifest.write(for: temporary) }
            }
        } catch {
            if writes { try? FileManager.default.removeItem(at: temporary) }
            throw error
        }
        guard writes else { return final }
        try FileSystemFailure.wrapping("replace checkpoint", path: final) {
            try? FileManager.default.removeItem(at: final)
            try FileManager.default.moveItem(at: temporary, to: final)
            try removeCheckpoints(keepingNewest: config.checkpointsTotalLimit)
        }
        return final
    }

    /// Runs `body` with the trained weights in the network (ZeRO-3 gathers them for it, block by block for a
    /// `forward` pass; a collective then).
    func withTrainedWeights<R>(forward: Bool = false, _ body: () throws -> R) throws -> R {
        try withWeights(averaged: nil, forward: forward, body)
    }

    /// Runs `body` with the EMA's averaged weights in the network when `ema` is given, else the trained ones;
    /// sharded training gathers them (block by block for a `forward` pass; a collective then).
    private func withWeights<R>(averaged ema: ExponentialMovingAverage?, forward: Bool, _ body: () throws -> R) throws
        -> R
    {
        guard let sharded else { return try ema?.withAveragedParameters(in: task.network, body) ?? body() }
        guard let ema else { return try sharded.withGatheredParameters(forward: forward, body) }
        return try sharded.withParameters(fromShares: averagedShares(ema, sharded), forward: forward, body)
    }

    /// The EMA's averages of this rank's shares, in unit order (sharded training averages the shares).
    private func averagedShares(_ ema: ExponentialMovingAverage, _ sharded: ShardedTraining) -> [Tensor] {
        sharded.shareKeys.map { ema.shadow[$0]! }
    }

    /// Runs `write` (on the writing rank) with the trained weights, or the EMA's, available to the network's writer:
    /// sharded training gathers them unit by unit while the file is written (LoRA adapters, which are small, whole).
    private func withWeightsForSaving(
        averaged ema: ExponentialMovingAverage? = nil, writes: Bool, _ write: () throws -> Void
    ) throws {
        if let sharded, config.loraRank == 0 {
            return try sharded.savingWeights(
                fromShares: ema.map { averagedShares($0, sharded) }, writes: writes, write)
        }
        try withWeights(averaged: ema, forward: false) { if writes { try write() } }
    }

    /// The trained network: its folder in diffusers layout, or its LoRA adapters.
    private func writeNetwork(into temporary: URL) throws {
        guard config.loraRank > 0 else { return try task.saveNetwork(to: temporary) }
        // DanceGRPO's LoRA checkpoint: adapters in diffusers' LoRA layout (`transformer.`/`unet.` prefix) +
        // lora_config.json.
        try task.network.saveLoRA(
            to: temporary.appendingPathComponent("pytorch_lora_weights.safetensors"), prefix: task.networkFolderName)
        let lora = task.network.currentLoRAConfig()!
        let loraState: [String: Any] = [
            "step": iteration,
            "lora_params": [
                "lora_rank": lora.rank, "lora_alpha": lora.alpha, "target_modules": config.loraTargets.modules
            ]
        ]
        try AtomicFile.write(
            try JSONSerialization.data(withJSONObject: loraState, options: [.sortedKeys, .prettyPrinted]),
            to: temporary.appendingPathComponent("lora_config.json"))
    }

    /// The optimizer and EMA states (per parameter whatever the stage), the per-prompt statistics and
    /// `trainer_state.json`. Sharded states are gathered by every rank; only `writes` writes.
    private func writeStates(into temporary: URL, writes: Bool) throws {
        let optimizerFile = temporary.appendingPathComponent("optimizer.safetensors")
        let emaFile = temporary.appendingPathComponent("ema.safetensors")
        if let sharded {
            try sharded.saveGatheredState(
                optimizer.stateTensors(), metadata: optimizer.stateMetadata, to: optimizerFile, writes: writes)
            if let ema {
                try sharded.saveGatheredState(
                    ema.stateTensors(), metadata: ema.stateMetadata, to: emaFile, writes: writes)
            }
        } else {
            try optimizer.saveState(to: optimizerFile)
            try ema?.saveState(to: emaFile)
        }
        guard writes else { return }
        for (stream, tracker) in statTrackers {
            try tracker.save(to: temporary.appendingPathComponent("per_prompt_stats-\(stream).json"))
        }
        var state: [String: Any] = [
            "iteration": iteration, "seed": config.seed, "skipped_steps": skippedSteps,
            "config": try JSONSerialization.jsonObject(with: JSONEncoder().encode(config))
        ]
        if let lossScaler { state["loss_scaler"] = lossScaler.state }
        try AtomicFile.write(
            try JSONSerialization.data(withJSONObject: state, options: [.sortedKeys]),
            to: temporary.appendingPathComponent("trainer_state.json"))
    }

    /// The EMA weights as loadable as the trained ones: `transformer_ema/` (or `unet_ema/`) in diffusers layout, or
    /// `<network>_ema/pytorch_lora_weights.safetensors` for LoRA adapters, so `sample --transformer` and diffusers'
    /// `from_pretrained` read them. `writes`: this rank writes (the others only take part in gathering).
    private func saveAveragedWeights(_ ema: ExponentialMovingAverage, into checkpoint: URL, writes: Bool) throws {
        let folder = checkpoint.appendingPathComponent(task.networkFolderName + "_ema")
        try withWeightsForSaving(averaged: ema, writes: writes) {
            if config.loraRank > 0 {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try task.network.saveLoRA(
                    to: folder.appendingPathComponent("pytorch_lora_weights.safetensors"),
                    prefix: task.networkFolderName)
            } else {
                let staging = checkpoint.appendingPathComponent(".ema")
                try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
                try task.saveNetwork(to: staging)
                try FileManager.default.moveItem(at: staging.appendingPathComponent(task.networkFolderName), to: folder)
                try FileManager.default.removeItem(at: staging)
            }
        }
    }

    /// Deletes all but the newest `limit` checkpoints of the run (0: keeps all), oldest first.
    func removeCheckpoints(keepingNewest limit: Int) throws {
        guard limit > 0 else { return }
        let checkpoints = Self.checkpoints(in: runFolder)
        for (_, url) in checkpoints.dropLast(limit) { try FileManager.default.removeItem(at: url) }
    }

    /// A run's `checkpoint-<iteration>-*` folders, oldest first.
    public static func checkpoints(in runFolder: URL) -> [(iteration: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runFolder.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("checkpoint-"), let n = Int(name.split(separator: "-")[1]) else { return nil }
            return (n, runFolder.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// The newest `checkpoint-*` folder of a run.
    public static func latestCheckpoint(in runFolder: URL) -> URL? {
        checkpoints(in: runFolder).last?.url
    }

    /// Restores weights, optimizer, EMA and the iteration counter from a checkpoint folder (written with any ZeRO
    /// stage and rank count: sharded training cuts its shares from the per-parameter files). With sharded training
    /// every rank calls it.
    public func resume(from checkpoint: URL) throws {
        try withTrainedWeights {
            if config.loraRank > 0 {
                try task.network.loadLoRA(
                    from: checkpoint.appendingPathComponent("pytorch_lora_weights.safetensors"),
                    prefix: task.networkFolderName)
            } else {
                try task.loadNetwork(from: checkpoint)
            }
            sharded?.adoptModelParameters()
        }
        // Per-parameter states, cut into this rank's shares when sharded.
        func cutting(_ prefix: String, _ file: URL) -> ([String: Tensor]) throws -> [String: Tensor] {
            { tensors in try self.sharded?.shardState(tensors, prefixes: [prefix], source: file.path) ?? tensors }
        }
        let optimizerFile = checkpoint.appendingPathComponent("optimizer.safetensors")
        try optimizer.loadState(from: optimizerFile, converting: cutting("state.", optimizerFile))
        let emaFile = checkpoint.appendingPathComponent("ema.safetensors")
        try ema?.loadState(from: emaFile, converting: cutting("shadow.", emaFile))
        for stream in statTrackers.keys {
            statTrackers[stream] = try PerPromptStatTracker.load(
                from: checkpoint.appendingPathComponent("per_prompt_stats-\(stream).json"))
        }
        let state = try ConfigFile.object(from: checkpoint.appendingPathComponent("trainer_state.json"))
        guard let it = state["iteration"] as? Int else {
            throw TrainerError.corruptCheckpoint(
                file: checkpoint.appendingPathComponent("trainer_state.json").path,
                reason: "no 'iteration' (expected {\"iteration\": n, \"seed\": s})")
        }
        iteration = it
        skippedSteps = state["skipped_steps"] as? Int ?? 0
        try restoreLossScaler(from: state, file: checkpoint.appendingPathComponent("trainer_state.json").path)
    }
}

/// Why a trainer cannot start or go on: each case names the setting or file and what would work instead.
public enum TrainerError: Error, CustomStringConvertible, Equatable {
    /// A setting out of its range, or settings that contradict each other (named by their flags).
    case invalidSetting(String)
    /// A setting the task's model cannot use (a flow sampler on a DDIM model, …).
    case incompatibleWithModel(String)
    /// Data-parallel ranks whose weights left lockstep.
    case ranksOutOfStep(iteration: Int, rank: Int, sums: (Double, Double))
    /// A checkpoint folder whose state cannot be read back.
    case corruptCheckpoint(file: String, reason: String)
    /// `count` optimizer steps in a row were skipped for non-finite values, the last at `iteration`.
    case tooManySkippedSteps(count: Int, iteration: Int, last: String)
    /// The trained weights are not finite: no checkpoint is written.
    case nonFiniteWeights(iteration: Int)

    public static func == (a: TrainerError, b: TrainerError) -> Bool { a.description == b.description }

    public var description: String {
        switch self {
        case .invalidSetting(let message), .incompatibleWithModel(let message): return message
        case .ranksOutOfStep(let iteration, let rank, let sums):
            return
                """
                after iteration \(iteration) rank \(rank)'s weights differ from rank 0's (sums \(sums.0) vs \
                \(sums.1)): the data-parallel ranks are out of step
                """
        case .corruptCheckpoint(let file, let reason): return "\(file): \(reason)"
        case .tooManySkippedSteps(let count, let iteration, let last):
            return
                """
                training stopped at iteration \(iteration): \(count) optimizer steps in a row were skipped for \
                non-finite values (the last: \(last)); the weights are those before the first skipped step, and \
                checkpoints hold only finite weights. Lower --learning-rate or --max-grad-norm, check the rewards, or \
                allow more with --max-consecutive-skipped-steps
                """
        case .nonFiniteWeights(let iteration):
            return "the trained weights at iteration \(iteration) are not finite: no checkpoint was written"
        }
    }
}
