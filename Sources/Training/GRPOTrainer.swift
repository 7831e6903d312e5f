import Checkpoints
import Engine
import Sampling
import Foundation
import GRPO
import Imaging
import NN
import Rewards
import ShapesWorld

/// DanceGRPO for any ``TrainingTask``: each iteration draws B training prompts, samples G trajectories per prompt
/// with the task's chain (Dance/Flow-GRPO SDE, CPS or MixGRPO window for flows; DDIM η for Stable Diffusion),
/// scores the decoded images, normalises rewards per prompt group, and trains the task's network with the clipped
/// surrogate (spec §1). Every random draw derives from (seed, iteration), so a resumed run continues exactly as an
/// uninterrupted one. `Config()` is the base of the presets: `world` (the embedded world, `make run`), and
/// `stableDiffusion` and `flux` (the seed's settings).
public final class GRPOTrainer {
    public struct Config: Codable, Sendable, Equatable {
        /// The base settings (full fine-tuning); `GRPOTrainer.Config.world` is what `make run` uses.
        public var iterations = 80
        public var promptsPerIteration = 8
        public var numGenerations = 8
        public var samplingSteps = 12
        public var shift: Float = 3
        public var eta: Float = 0.3
        public var learningRate = 5e-5
        /// Learning-rate schedule over the run's optimizer steps, by diffusers' `get_scheduler` names: constant,
        /// constant_with_warmup (the seed's, with warm-up 0), linear (to 0 at the last step) or cosine (half a cosine
        /// to 0); `lrWarmupSteps` optimizer steps of linear warm-up from 0 first.
        public var lrScheduler = "constant_with_warmup"
        public var lrWarmupSteps = 0
        public var weightDecay = 1e-4
        /// AdamW's moment decays and ε (diffusers' `--adam_beta1`, `--adam_beta2`, `--adam_epsilon`; PyTorch's defaults).
        public var adamBeta1 = 0.9
        public var adamBeta2 = 0.999
        public var adamEpsilon = 1e-8
        public var clipRange: Float = 1e-2
        public var advantageClipMax: Float = 5
        public var timestepFraction: Float = 0.6
        /// Best-of-N (the seed's `bestofn`): train only the `bestOfN / 2` highest- and lowest-advantage samples of
        /// each prompt group (0: all `numGenerations`); `gradientAccumulationSteps` counts trained samples.
        public var bestOfN = 0
        public var gradientAccumulationSteps = 32
        public var maxGradNorm: Float = 1
        public var initSameNoise = false
        /// With `initSameNoise`: one initial noise per prompt group rather than one for all the process's samples.
        public var initSameNoisePerPrompt = false
        public var useGroup = true
        /// With `useGroup`: divide by the std of the whole batch's rewards (gathered over processes) instead of each
        /// group's (Flow-GRPO's `global_std`).
        public var globalStd = false
        public var rewards = "shapes"
        /// "reward" (weighted reward sum, then advantages) or "advantage" (per-reward advantages, weighted sum).
        public var rewardCombination = "advantage"
        public var rolloutBatchSize = 64
        public var transitionBatchSize = 64
        public var evalEvery = 10
        public var evalPrompts = 64
        public var checkpointEvery = 20
        /// EMA decay of the trained weights for evaluation and checkpoints (0: no EMA). Not optional, so that every
        /// setting is a key of `config.json` and a resumed run reads back exactly what it ran with.
        public var emaDecay: Double = 0
        /// The rollout's stochastic step: dance-sde (DanceGRPO), flow-sde (Flow-GRPO), cps (coefficient-preserving);
        /// `eta` is its noise level (η, Flow-GRPO's `noise_level` a, or CPS's η).
        public var sampler = "dance-sde"
        /// MixGRPO: SDE only inside a window of this many steps (0: every step is stochastic), ODE outside; the
        /// window moves by `mixWindowStride` steps every `mixItersPerShift` iterations (0: it stays on the first steps).
        public var mixWindowSize = 0
        public var mixWindowStride = 1
        public var mixItersPerShift = 25
        public var mixRollBack = false
        /// KL penalty weight β to the initial policy (Flow-GRPO; 0: none, as DanceGRPO).
        public var beta: Float = 0
        /// Classifier-free guidance scale in rollout and training (1: off); the unconditional branch is the empty prompt.
        public var guidanceScale: Float = 1
        /// Flow-GRPO/DDPO per-prompt statistics across iterations instead of the current group's (0: off).
        public var perPromptStatBuffer = 0
        public var perPromptStatMinCount = 16
        /// LoRA rank; 0 trains every transformer weight (the seed's full fine-tuning), > 0 only adapters (the seed's
        /// LoRA script: rank 128, alpha 256 on to_k, to_q, to_v, to_out.0).
        public var loraRank = 0
        public var loraAlpha: Float = 0
        public var loraTargets = "to_k,to_q,to_v,to_out.0"
        public var seed: UInt64 = 0
        /// Data-parallel processes (`train --processes N` starts them; torchrun's `--nproc_per_node`). Every other
        /// setting is per process, as the seed's per-GPU batch: each process draws `promptsPerIteration` prompts, and an
        /// optimizer step averages the gradients of `gradientAccumulationSteps` samples from each process.
        public var processes = 1
        public init() {}

        /// The seed's Stable Diffusion v1.4 settings (spec §5.2, config_sd/dgx.py:hpsv2): DDIM 50 steps, η 1, CFG 5,
        /// 4 prompts × 16 samples, clip 1e-4, all 49 trainable transitions, per-prompt statistics, lr 1e-5.
        public static var stableDiffusion: Config {
            var c = Config()
            c.promptsPerIteration = 4
            c.numGenerations = 16
            c.samplingSteps = 50
            c.eta = 1
            c.guidanceScale = 5
            c.learningRate = 1e-5
            c.clipRange = 1e-4
            c.timestepFraction = 1
            c.gradientAccumulationSteps = 8
            c.perPromptStatBuffer = 16
            c.perPromptStatMinCount = 16
            c.rewards = "hpsv2.1"
            c.sampler = "ddim"
            c.rolloutBatchSize = 4
            c.transitionBatchSize = 1
            c.evalPrompts = 8
            c.checkpointEvery = 50
            return c
        }

        /// The seed's FLUX settings (spec §5.3, scripts/finetune/finetune_flux_grpo.sh): T 16, η 0.3, shift 3,
        /// 12 samples per prompt, clip 1e-4, fraction 0.6, lr 1e-5, HPS-v2.1.
        public static var flux: Config {
            var c = Config()
            c.promptsPerIteration = 1
            c.numGenerations = 12
            c.samplingSteps = 16
            c.eta = 0.3
            c.shift = 3
            c.learningRate = 1e-5
            c.clipRange = 1e-4
            c.timestepFraction = 0.6
            c.gradientAccumulationSteps = 12
            c.rewards = "hpsv2.1"
            c.rolloutBatchSize = 1
            c.transitionBatchSize = 1
            c.evalPrompts = 8
            c.checkpointEvery = 60
            return c
        }
    }

    public let config: Config
    public let task: TrainingTask
    public let runFolder: URL
    public let optimizer: AdamW
    public let rewards: RewardMix
    public let ema: ExponentialMovingAverage?
    public private(set) var iteration = 0
    let policy: DenoisingPolicy
    let stochasticSampler: FlowSampler
    /// Per-prompt reward histories (when `perPromptStatBuffer` > 0), one per normalised quantity: each reward when
    /// advantages are summed, else the weighted reward sum (see `normalizedStreams`); saved with checkpoints.
    public private(set) var statTrackers: [String: PerPromptStatTracker] = [:]
    let heldOut: Evaluation

    /// The processes of the run: rewards are gathered over it for statistics, seeds differ per rank.
    public let processGroup: ProcessGroup

    public init(task: TrainingTask, config: Config, runFolder: URL, processGroup: ProcessGroup = SingleProcessGroup(),
                rewardLocations: RewardLocations = RewardLocations()) throws {
        self.config = config
        self.processGroup = processGroup
        self.task = task
        self.runFolder = runFolder
        rewards = try RewardMix(parsing: config.rewards, locations: rewardLocations)
        guard ["reward", "advantage"].contains(config.rewardCombination) else {
            throw RewardMixError(message: "reward combination must be 'reward' or 'advantage', got '\(config.rewardCombination)'")
        }
        guard config.mixWindowSize >= 0, config.mixWindowStride >= 1, config.mixItersPerShift >= 0 else {
            throw TrainerConfigError(message: "MixGRPO needs --mix-window-size ≥ 0 (0: off), --mix-window-stride ≥ 1 and --mix-iters-per-shift ≥ 0 (0: the window never moves), got \(config.mixWindowSize), \(config.mixWindowStride) and \(config.mixItersPerShift)")
        }
        guard config.emaDecay >= 0 && config.emaDecay < 1 else {
            throw TrainerConfigError(message: "--ema-decay must be in [0, 1) (0: no EMA), got \(config.emaDecay)")
        }
        guard (0..<1).contains(config.adamBeta1), (0..<1).contains(config.adamBeta2), config.adamEpsilon >= 0,
              config.weightDecay >= 0 else {
            throw TrainerConfigError(message: "--adam-beta1 \(config.adamBeta1) and --adam-beta2 \(config.adamBeta2) must be in [0, 1), --adam-epsilon \(config.adamEpsilon) and --weight-decay \(config.weightDecay) ≥ 0")
        }
        stochasticSampler = try GRPOTrainer.stochasticSampler(config, chain: task.chain)
        let network = task.network
        if config.loraRank > 0 {
            let targets = config.loraTargets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let lora = LoRAConfig(rank: config.loraRank, alpha: config.loraAlpha > 0 ? config.loraAlpha : Float(2 * config.loraRank),
                                  targetModules: targets)
            try network.addLoRA(lora, key: RandomKey(seed: config.seed &+ 17))
        }
        policy = task.policy(reference: config.beta > 0 ? ReferenceWeights(snapshotOf: network) : nil)
        optimizer = AdamW(model: network, schedule: try GRPOTrainer.learningRateSchedule(config),
                          betas: (config.adamBeta1, config.adamBeta2), eps: config.adamEpsilon,
                          weightDecay: config.weightDecay)
        ema = config.emaDecay > 0 ? ExponentialMovingAverage(model: network, decay: config.emaDecay) : nil
        heldOut = Evaluation(prompts: try task.evaluationPrompts(count: config.evalPrompts), steps: config.samplingSteps,
                             shift: config.shift, guidanceScale: config.guidanceScale)
        if config.bestOfN != 0 && (config.bestOfN < 2 || config.bestOfN % 2 != 0 || config.bestOfN > config.numGenerations) {
            throw TrainerConfigError(message: "--best-of-n \(config.bestOfN) must be an even number from 2 to --num-generations (\(config.numGenerations)), or 0 to train every sample")
        }
        if config.perPromptStatBuffer > 0 && processGroup.worldSize > 1 {
            throw TrainerConfigError(message: "--per-prompt-stat-buffer keeps each prompt's reward history in one process; it does not run with \(processGroup.worldSize) processes yet (use --processes 1)")
        }
        if config.perPromptStatBuffer > 0 {
            for stream in normalizedStreams {
                statTrackers[stream] = PerPromptStatTracker(bufferSize: config.perPromptStatBuffer, minCount: config.perPromptStatMinCount)
            }
        }
        try FileManager.default.createDirectory(at: runFolder, withIntermediateDirectories: true)
    }

    // MARK: - One iteration

    public struct IterationLog: Codable, Sendable {
        public var iteration: Int
        public var rewardMean: [String: Double]
        public var rewardStd: [String: Double]
        /// The weighted sum of the reward means (the one reward's mean when there is one): `reward.txt`'s value.
        public var reward: Double
        /// Fraction of fully correct images by the shapes scorer (shapes-world prompts only).
        public var accuracy: Double?
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
    }

    /// Rollout, reward, advantages and update for the next iteration.
    public func step() throws -> IterationLog {
        let it = iteration
        let seed = rankSeed(config.seed, rank: processGroup.rank)
        let keys = RandomKey(seed: seed).split(into: 2)
        let iterationKey = keys[1].split(into: 1 + it)[it].split(into: 2)
        let prompts = try task.trainingPrompts(count: config.promptsPerIteration, iteration: it, seed: seed)
            .flatMap { [TrainingPrompt](repeating: $0, count: config.numGenerations) }
        let cond = try task.conditioning(prompts.map(\.text))

        let plan = config.mixWindowSize > 0
            ? MixGRPOWindow(steps: config.samplingSteps, windowSize: config.mixWindowSize, stride: config.mixWindowStride,
                            itersPerShift: config.mixItersPerShift, rollBack: config.mixRollBack,
                            sampler: stochasticSampler).plan(iteration: it)
            : nil
        var rolloutConfig = RolloutConfig()
        rolloutConfig.process = task.chain.process(steps: config.samplingSteps, shift: config.shift, sampler: stochasticSampler,
                                                   eta: config.eta, plan: plan)
        let unconditional: Conditioning? = config.guidanceScale != 1 ? try task.conditioning([""]) : nil
        if unconditional != nil { rolloutConfig.guidanceScale = config.guidanceScale }
        rolloutConfig.sameInitialNoise = config.initSameNoise
        rolloutConfig.initialNoiseGroupSize = config.initSameNoisePerPrompt ? config.numGenerations : 0
        rolloutConfig.batchSize = config.rolloutBatchSize
        var started = Date()
        let trajectories = rollout(policy: policy, conditioning: cond, latentShape: task.latentShape, config: rolloutConfig, key: iterationKey[0],
                                   unconditional: unconditional)
        let secondsRollout = Date().timeIntervalSince(started)

        started = Date()
        let images = try task.images(trajectories.finalLatents)
        let scores = try rewards.scores(images, prompts: prompts)
        let specs = prompts.compactMap(\.spec)
        let correct: Int? = specs.count == prompts.count
            ? zip(images, specs).filter { ShapeScorer.standard.score($0, $1).correct }.count : nil
        let secondsReward = Date().timeIntervalSince(started)
        let advantages = try combinedAdvantages(scores, prompts: prompts.map(\.text))
        let trained = config.bestOfN > 0
            ? bestOfNSubset(advantages: advantages, groupSize: config.numGenerations, keep: config.bestOfN)
            : Array(advantages.indices)
        let trainedAll = trained.count == advantages.count

        started = Date()
        var update = UpdateConfig()
        update.timestepFraction = config.timestepFraction
        update.clipRange = config.clipRange
        update.gradientAccumulationSteps = config.gradientAccumulationSteps
        update.maxGradNorm = config.maxGradNorm
        update.transitionBatchSize = config.transitionBatchSize
        update.beta = config.beta
        let learningRate = optimizer.learningRate
        let stats = try updatePolicy(policy: policy, optimizer: optimizer,
                                     rollout: trainedAll ? trajectories : trajectories.rows(trained),
                                     conditioning: trainedAll ? cond : cond.rows(trained),
                                     advantages: trained.map { advantages[$0] }, config: update, key: iterationKey[1], unconditional: unconditional,
                                     processGroup: processGroup)
        if let ema {
            try ema.update(from: task.network)
            eval(ema.tensorsToEvaluate)
        }
        let secondsUpdate = Date().timeIntervalSince(started)
        iteration += 1

        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(1, v.count)) }
        func std(_ v: [Double]) -> Double { let m = mean(v); return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(max(1, v.count - 1))).squareRoot() }
        // Statistics over every rank's samples (advantages stay per group, and groups never span ranks).
        var rewardMean: [String: Double] = [:], rewardStd: [String: Double] = [:]
        for (name, values) in zip(rewards.names, scores) {
            let gathered = try processGroup.allGather(values)
            rewardMean[name] = mean(gathered)
            rewardStd[name] = std(gathered)
        }
        var accuracy: Double? = nil
        if let correct {
            let gatheredCorrect: [Double] = try processGroup.allGather([Double(correct)])
            let gatheredCounts: [Double] = try processGroup.allGather([Double(prompts.count)])
            accuracy = gatheredCorrect.reduce(0, +) / gatheredCounts.reduce(0, +)
        }
        let ratios = stats.ratios.map(Double.init)
        return IterationLog(
            iteration: iteration, rewardMean: rewardMean, rewardStd: rewardStd,
            reward: zip(rewards.names, rewards.weights).reduce(0) { $0 + $1.1 * rewardMean[$1.0]! }, accuracy: accuracy,
            advantageMean: mean(advantages.map(Double.init)), advantageAbsMax: Double(advantages.map(abs).max() ?? 0),
            trainedSamples: trained.count,
            ratioMean: mean(ratios), ratioMin: ratios.min() ?? 1, ratioMax: ratios.max() ?? 1,
            clipFraction: Double(stats.clipFraction), approxKL: Double(stats.approxKL), referenceKL: Double(stats.referenceKL),
            gradNorm: mean(stats.gradientNorms.map(Double.init)), learningRate: learningRate,
            secondsRollout: secondsRollout, secondsReward: secondsReward, secondsUpdate: secondsUpdate)
    }

    /// What gets normalised into advantages: each reward by name when per-reward advantages are summed, else the
    /// weighted reward sum ("reward").
    var normalizedStreams: [String] {
        config.rewardCombination == "advantage" && rewards.terms.count > 1 ? rewards.names : ["reward"]
    }

    /// Per-group (or global, or per-prompt-history) advantages of the weighted rewards: of their sum, or the sum of
    /// each reward's advantages.
    public func combinedAdvantages(_ scores: [[Double]], prompts: [String]) throws -> [Float] {
        let normalization: AdvantageNormalization = !config.useGroup ? .global
            : config.globalStd ? .perGroupGlobalStd(groupSize: config.numGenerations) : .perGroup(groupSize: config.numGenerations)
        func advantages(_ values: [Double], stream: String) throws -> [Float] {
            if statTrackers[stream] != nil {
                let clip = Double(config.advantageClipMax)
                return statTrackers[stream]!.update(prompts: prompts, rewards: values).map { Float(Swift.min(Swift.max($0, -clip), clip)) }
            }
            let everyone = normalization.usesBatchStatistics ? Tensor(try processGroup.allGather(values).map(Float.init)) : nil
            return groupAdvantages(rewards: Tensor(values.map(Float.init)), normalization: normalization, globalRewards: everyone,
                                   clipMax: config.advantageClipMax).toArray(Float.self)
        }
        let weights = rewards.weights
        let streams = normalizedStreams
        if streams.count == 1 {
            let summed = (0..<scores[0].count).map { i in zip(weights, scores).reduce(0) { $0 + $1.0 * $1.1[i] } }
            return try advantages(summed, stream: streams[0])
        }
        let perReward = try zip(scores, streams).map { try advantages($0, stream: $1) }
        return (0..<scores[0].count).map { i in zip(weights, perReward).reduce(Float(0)) { $0 + Float($1.0) * $1.1[i] } }
    }

    /// Optimizer steps in the whole run: each process's B·G trained samples per iteration (B·bestOfN with best-of-N),
    /// in `updatePolicy`'s windows.
    static func optimizerSteps(_ config: Config) -> Int {
        let trainedPerPrompt = config.bestOfN > 0 ? config.bestOfN : config.numGenerations
        return config.iterations * optimizerStepCount(samples: config.promptsPerIteration * trainedPerPrompt,
                                               gradientAccumulationSteps: config.gradientAccumulationSteps)
    }

    /// The schedule `lrScheduler` names, over `optimizerSteps(config)` steps.
    static func learningRateSchedule(_ config: Config) throws -> LRSchedule {
        let total = optimizerSteps(config), warmup = config.lrWarmupSteps, lr = config.learningRate
        guard warmup >= 0 else { throw TrainerConfigError(message: "--lr-warmup-steps must be ≥ 0, got \(warmup)") }
        let name = config.lrScheduler.replacingOccurrences(of: "-", with: "_")
        switch name {
        case "constant": return .constant(lr)
        case "constant_with_warmup": return .constantWithWarmup(lr, warmupSteps: warmup)
        case "linear", "cosine":
            guard warmup <= total else {
                throw TrainerConfigError(message: "--lr-warmup-steps \(warmup) exceeds the run's \(total) optimizer steps")
            }
            return name == "linear" ? .linearWithWarmup(lr, warmupSteps: warmup, totalSteps: total)
                : .cosineWithWarmup(lr, warmupSteps: warmup, totalSteps: total)
        default:
            throw TrainerConfigError(message: "unknown learning-rate schedule '\(config.lrScheduler)' (constant, constant_with_warmup, linear, cosine)")
        }
    }

    /// The flow sampler the config names; DDIM chains take "ddim" (η from `eta`) and refuse flow-only options.
    static func stochasticSampler(_ config: Config, chain: SamplingChain) throws -> FlowSampler {
        let eta = config.eta
        switch chain {
        case .ddim:
            guard config.sampler == "ddim" else {
                throw TrainerConfigError(message: "sampler '\(config.sampler)' is a flow-matching sampler; this model samples with DDIM (--sampler ddim, η from --eta)")
            }
            guard config.mixWindowSize == 0 else {
                throw TrainerConfigError(message: "MixGRPO windows (--mix-window-size) need a flow-matching model; this one samples with DDIM")
            }
            return .ode  // unused: the DDIM process takes η directly
        case .flow:
            switch config.sampler {
            case "dance-sde": return .danceSDE(eta: eta)
            case "flow-sde": return .flowSDE(noiseLevel: eta)
            case "cps": return .cps(noiseLevel: eta)
            default: throw TrainerConfigError(message: "unknown sampler '\(config.sampler)' (flow models: dance-sde, flow-sde, cps; DDIM models: ddim)")
            }
        }
    }

    // MARK: - Evaluation, checkpoints, resume

    /// Throws unless every rank holds the same trained weights (sum and sum of squares of every parameter, compared
    /// exactly): data-parallel ranks take identical optimizer steps, and a difference means they left lockstep.
    /// A collective: every rank calls it at the same iteration.
    public func checkRanksAgree() throws {
        guard processGroup.worldSize > 1 else { return }
        let parameters = task.network.trainableParameters().sorted { $0.key < $1.key }.map(\.value)
        let sums = parameters.map { $0.asType(.float32).sum() }, squares = parameters.map { $0.asType(.float32).square().sum() }
        eval(sums + squares)
        let local = [sums.reduce(0.0) { $0 + Double($1.item(Float.self)) }, squares.reduce(0.0) { $0 + Double($1.item(Float.self)) }]
        let everyone = try processGroup.allGather(local)
        for r in 1..<processGroup.worldSize where Array(everyone[(2 * r)..<(2 * r + 2)]) != Array(everyone[0..<2]) {
            throw TrainerConfigError(message: "after iteration \(iteration) rank \(r)'s weights differ from rank 0's (sums \(everyone[2 * r]) vs \(everyone[0])): the data-parallel ranks are out of step")
        }
    }

    /// The held-out evaluation (with the EMA weights when there are some). With several processes every rank calls it
    /// and each samples a share of the prompts; all get the whole result.
    public func evaluate() throws -> Evaluation.Result {
        if let ema {
            return try ema.withAveragedParameters(in: task.network) {
                try heldOut.run(task, rewards: rewards, policy: policy, processGroup: processGroup)
            }
        }
        return try heldOut.run(task, rewards: rewards, policy: policy, processGroup: processGroup)
    }

    /// `checkpoint-<iteration>-0/`: the network in diffusers layout (`transformer/` or `unet/`: config.json +
    /// safetensors) or its LoRA adapters, the optimizer
    /// and EMA state, and `trainer_state.json`; written into a temporary folder and renamed, so a crash never
    /// leaves a half checkpoint.
    @discardableResult
    public func saveCheckpoint() throws -> URL {
        let final = runFolder.appendingPathComponent("checkpoint-\(iteration)-0")
        let temporary = runFolder.appendingPathComponent(".checkpoint-\(iteration)-0.tmp")
        try? FileManager.default.removeItem(at: temporary)
        if config.loraRank > 0 {
            // The seed's LoRA checkpoint: adapters in diffusers' LoRA layout (`transformer.`/`unet.` prefix) + lora_config.json.
            try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
            try task.network.saveLoRA(to: temporary.appendingPathComponent("pytorch_lora_weights.safetensors"), prefix: task.networkFolderName)
            let lora = task.network.currentLoRAConfig()!
            let loraState: [String: Any] = ["step": iteration, "lora_params": ["lora_rank": lora.rank, "lora_alpha": lora.alpha,
                                                                             "target_modules": config.loraTargets.split(separator: ",").map(String.init)]]
            try AtomicFile.write(try JSONSerialization.data(withJSONObject: loraState, options: [.sortedKeys, .prettyPrinted]),
                                 to: temporary.appendingPathComponent("lora_config.json"))
        } else {
            try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
            try task.saveNetwork(to: temporary)
        }
        try optimizer.saveState(to: temporary.appendingPathComponent("optimizer.safetensors"))
        if let ema {
            try ema.saveState(to: temporary.appendingPathComponent("ema.safetensors"))
        }
        for (stream, tracker) in statTrackers {
            try tracker.save(to: temporary.appendingPathComponent("per_prompt_stats-\(stream).json"))
        }
        let state: [String: Any] = ["iteration": iteration, "seed": config.seed]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: state, options: [.sortedKeys]),
                             to: temporary.appendingPathComponent("trainer_state.json"))
        try? FileManager.default.removeItem(at: final)
        try FileManager.default.moveItem(at: temporary, to: final)
        return final
    }

    /// The newest `checkpoint-*` folder of a run.
    public static func latestCheckpoint(in runFolder: URL) -> URL? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runFolder.path)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), let n = Int(name.split(separator: "-")[1]) else { return nil }
            return (n, name)
        }.max { $0.0 < $1.0 }.map { runFolder.appendingPathComponent($0.1) }
    }

    /// Restores weights, optimizer, EMA and the iteration counter from a checkpoint folder.
    public func resume(from checkpoint: URL) throws {
        if config.loraRank > 0 {
            try task.network.loadLoRA(from: checkpoint.appendingPathComponent("pytorch_lora_weights.safetensors"), prefix: task.networkFolderName)
        } else {
            try task.loadNetwork(from: checkpoint)
        }
        try optimizer.loadState(from: checkpoint.appendingPathComponent("optimizer.safetensors"))
        if let ema { try ema.loadState(from: checkpoint.appendingPathComponent("ema.safetensors")) }
        for stream in statTrackers.keys {
            statTrackers[stream] = try PerPromptStatTracker.load(from: checkpoint.appendingPathComponent("per_prompt_stats-\(stream).json"))
        }
        let state = try ConfigFile.object(from: checkpoint.appendingPathComponent("trainer_state.json"))
        guard let it = state["iteration"] as? Int else {
            throw ConfigFile.Error(file: checkpoint.appendingPathComponent("trainer_state.json").path, message: "no 'iteration'")
        }
        iteration = it
    }
}

/// A setting the trainer cannot use with the task's model (named, with what would work instead).
public struct TrainerConfigError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
