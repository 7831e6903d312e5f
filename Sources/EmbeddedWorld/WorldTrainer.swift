import Engine
import FlowSampling
import Foundation
import GRPO
import Imaging
import NN
import ShapesWorld

/// DanceGRPO on the embedded world: each iteration draws B training prompts, samples G trajectories per prompt with
/// the Dance SDE, scores the decoded x̂0 images, normalises rewards per prompt group, and trains the transformer with
/// the clipped surrogate (spec §1). Every random draw derives from (seed, iteration), so a resumed run continues
/// exactly as an uninterrupted one.
public final class WorldTrainer {
    public struct Config: Codable, Sendable, Equatable {
        public var iterations = 100
        public var promptsPerIteration = 8
        public var numGenerations = 8
        public var samplingSteps = 12
        public var shift: Float = 3
        public var eta: Float = 0.3
        public var learningRate = 5e-5
        public var weightDecay = 1e-4
        public var clipRange: Float = 1e-2
        public var advantageClipMax: Float = 5
        public var timestepFraction: Float = 0.6
        public var gradientAccumulationSteps = 32
        public var maxGradNorm: Float = 1
        public var initSameNoise = false
        public var useGroup = true
        public var rewards = "shapes"
        /// "reward" (weighted reward sum, then advantages) or "advantage" (per-reward advantages, weighted sum).
        public var rewardCombination = "advantage"
        public var rolloutBatchSize = 16
        public var transitionBatchSize = 6
        public var evalEvery = 10
        public var evalPrompts = 64
        public var checkpointEvery = 20
        public var emaDecay: Double? = nil
        /// LoRA rank; 0 trains every transformer weight (the seed's full fine-tuning), > 0 only adapters (the seed's
        /// LoRA script: rank 128, alpha 256 on to_k, to_q, to_v, to_out.0).
        public var loraRank = 0
        public var loraAlpha: Float = 0
        public var loraTargets = "to_k,to_q,to_v,to_out.0"
        public var seed: UInt64 = 0
        public init() {}
    }

    public let config: Config
    public let model: WorldModel
    public let runFolder: URL
    public let optimizer: AdamW
    public let rewards: WorldRewardMix
    public let ema: ExponentialMovingAverage?
    public private(set) var iteration = 0
    let policy: WorldPolicy
    let heldOut: WorldEvaluation
    var textCache: [String: Conditioning] = [:]

    /// The processes of the run: rewards are gathered over it for statistics, seeds differ per rank.
    public let processGroup: ProcessGroup

    public init(model: WorldModel, config: Config, runFolder: URL, processGroup: ProcessGroup = SingleProcessGroup()) throws {
        self.config = config
        self.processGroup = processGroup
        self.model = model
        self.runFolder = runFolder
        rewards = try WorldRewardMix(parsing: config.rewards)
        guard ["reward", "advantage"].contains(config.rewardCombination) else {
            throw WorldRewardError(message: "reward combination must be 'reward' or 'advantage', got '\(config.rewardCombination)'")
        }
        model.textEncoder.freeze()
        if config.loraRank > 0 {
            let targets = config.loraTargets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let lora = LoRAConfig(rank: config.loraRank, alpha: config.loraAlpha > 0 ? config.loraAlpha : Float(2 * config.loraRank),
                                  targetModules: targets)
            try model.transformer.addLoRA(lora, key: RandomKey(seed: config.seed &+ 17))
        }
        policy = WorldPolicy(model: model)
        optimizer = AdamW(model: model.transformer, schedule: .constantWithWarmup(config.learningRate, warmupSteps: 0),
                          weightDecay: config.weightDecay)
        ema = config.emaDecay.map { ExponentialMovingAverage(model: model.transformer, decay: $0) }
        heldOut = WorldEvaluation(split: .heldOut, count: config.evalPrompts, steps: config.samplingSteps, shift: config.shift)
        try FileManager.default.createDirectory(at: runFolder, withIntermediateDirectories: true)
    }

    // MARK: - One iteration

    public struct IterationLog: Codable, Sendable {
        public var iteration: Int
        public var rewardMean: [String: Double]
        public var rewardStd: [String: Double]
        public var accuracy: Double
        public var advantageMean: Double
        public var advantageAbsMax: Double
        public var ratioMean: Double
        public var ratioMin: Double
        public var ratioMax: Double
        public var clipFraction: Double
        public var approxKL: Double
        public var gradNorm: Double
        public var learningRate: Double
        public var secondsRollout: Double
        public var secondsReward: Double
        public var secondsUpdate: Double
        public var heldOutReward: Double?
        public var heldOutAccuracy: Double?
    }

    func conditioning(_ texts: [String]) -> Conditioning {
        let missing = Array(Set(texts.filter { textCache[$0] == nil })).sorted()
        if !missing.isEmpty {
            let encoded = model.encode(missing)
            eval(Array(encoded.tensors.values))
            for (i, text) in missing.enumerated() { textCache[text] = encoded.rows([i]) }
        }
        let rows = texts.map { textCache[$0]! }
        var tensors: [String: Tensor] = [:]
        for key in rows[0].tensors.keys { tensors[key] = concatenated(rows.map { $0[key] }, axis: 0) }
        return Conditioning(tensors)
    }

    /// Rollout, reward, advantages and update for the next iteration.
    public func step() throws -> IterationLog {
        let it = iteration
        let seed = rankSeed(config.seed, rank: processGroup.rank)
        let keys = RandomKey(seed: seed).split(into: 2)
        let iterationKey = keys[1].split(into: 1 + it)[it].split(into: 2)
        var generator = PromptGenerator(seed: seed &* 1_000_003 &+ UInt64(it), split: .train)
        let specs = generator.next(config.promptsPerIteration).flatMap { [PromptSpec](repeating: $0, count: config.numGenerations) }
        let cond = conditioning(specs.map(\.text))

        var rolloutConfig = RolloutConfig()
        rolloutConfig.steps = config.samplingSteps
        rolloutConfig.shift = config.shift
        rolloutConfig.sampler = .danceSDE(eta: config.eta)
        rolloutConfig.sameInitialNoise = config.initSameNoise
        rolloutConfig.batchSize = config.rolloutBatchSize
        var started = Date()
        let trajectories = rollout(policy: policy, conditioning: cond, latentShape: model.latentShape, config: rolloutConfig, key: iterationKey[0])
        let secondsRollout = Date().timeIntervalSince(started)

        started = Date()
        let images = try model.images(trajectories.finalPrediction)
        let scores = try rewards.scores(images, prompts: specs)
        let correct = zip(images, specs).filter { ShapeScorer.standard.score($0, $1).correct }.count
        let secondsReward = Date().timeIntervalSince(started)
        let advantages = combinedAdvantages(scores)

        started = Date()
        var update = UpdateConfig()
        update.timestepFraction = config.timestepFraction
        update.clipRange = config.clipRange
        update.gradientAccumulationSteps = config.gradientAccumulationSteps
        update.maxGradNorm = config.maxGradNorm
        update.transitionBatchSize = config.transitionBatchSize
        let learningRate = optimizer.learningRate
        let stats = try updatePolicy(policy: policy, optimizer: optimizer, rollout: trajectories, conditioning: cond,
                                     advantages: advantages, sampler: rolloutConfig.sampler, config: update, key: iterationKey[1])
        if let ema {
            try ema.update(from: model.transformer)
            eval(ema.tensorsToEvaluate)
        }
        let secondsUpdate = Date().timeIntervalSince(started)
        iteration += 1

        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(1, v.count)) }
        func std(_ v: [Double]) -> Double { let m = mean(v); return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(max(1, v.count - 1))).squareRoot() }
        // Statistics over every rank's samples (advantages stay per group, and groups never span ranks).
        var rewardMean: [String: Double] = [:], rewardStd: [String: Double] = [:]
        for (term, values) in zip(rewards.terms, scores) {
            let gathered = try processGroup.allGather(values)
            rewardMean[term.reward.rawValue] = mean(gathered)
            rewardStd[term.reward.rawValue] = std(gathered)
        }
        let gatheredCorrect: [Double] = try processGroup.allGather([Double(correct)])
        let gatheredCounts: [Double] = try processGroup.allGather([Double(specs.count)])
        let accuracy: Double = gatheredCorrect.reduce(0, +) / gatheredCounts.reduce(0, +)
        let ratios = stats.ratios.map(Double.init)
        return IterationLog(
            iteration: iteration, rewardMean: rewardMean, rewardStd: rewardStd, accuracy: accuracy,
            advantageMean: mean(advantages.map(Double.init)), advantageAbsMax: Double(advantages.map(abs).max() ?? 0),
            ratioMean: mean(ratios), ratioMin: ratios.min() ?? 1, ratioMax: ratios.max() ?? 1,
            clipFraction: Double(stats.clipFraction), approxKL: Double(stats.approxKL),
            gradNorm: mean(stats.gradientNorms.map(Double.init)), learningRate: learningRate,
            secondsRollout: secondsRollout, secondsReward: secondsReward, secondsUpdate: secondsUpdate)
    }

    /// Per-group (or global) advantages of the weighted rewards: of their sum, or the sum of each reward's advantages.
    func combinedAdvantages(_ scores: [[Double]]) -> [Float] {
        let normalization: AdvantageNormalization = config.useGroup ? .perGroup(groupSize: config.numGenerations) : .global
        func advantages(_ values: [Double]) -> [Float] {
            groupAdvantages(rewards: Tensor(values.map(Float.init)), normalization: normalization, clipMax: config.advantageClipMax).toArray(Float.self)
        }
        let weights = rewards.terms.map(\.weight)
        if config.rewardCombination == "reward" || scores.count == 1 {
            let summed = (0..<scores[0].count).map { i in zip(weights, scores).reduce(0) { $0 + $1.0 * $1.1[i] } }
            return advantages(summed)
        }
        let perReward = scores.map(advantages)
        return (0..<scores[0].count).map { i in zip(weights, perReward).reduce(Float(0)) { $0 + Float($1.0) * $1.1[i] } }
    }

    // MARK: - Evaluation, checkpoints, resume

    public func evaluate() throws -> WorldEvaluation.Result {
        if let ema { return try ema.withAveragedParameters(in: model.transformer) { try heldOut.run(model) } }
        return try heldOut.run(model)
    }

    /// `checkpoint-<iteration>-0/`: the transformer in diffusers layout (config.json + safetensors), the optimizer
    /// and EMA state, and `trainer_state.json`; written into a temporary folder and renamed, so a crash never
    /// leaves a half checkpoint.
    @discardableResult
    public func saveCheckpoint() throws -> URL {
        let final = runFolder.appendingPathComponent("checkpoint-\(iteration)-0")
        let temporary = runFolder.appendingPathComponent(".checkpoint-\(iteration)-0.tmp")
        try? FileManager.default.removeItem(at: temporary)
        if config.loraRank > 0 {
            // The seed's LoRA checkpoint: adapters in diffusers' FLUX LoRA layout (`transformer.` prefix) + lora_config.json.
            try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
            try model.transformer.saveLoRA(to: temporary.appendingPathComponent("pytorch_lora_weights.safetensors"), prefix: "transformer")
            let lora = model.transformer.currentLoRAConfig()!
            let loraState: [String: Any] = ["step": iteration, "lora_params": ["lora_rank": lora.rank, "lora_alpha": lora.alpha,
                                                                             "target_modules": config.loraTargets.split(separator: ",").map(String.init)]]
            try AtomicFile.write(try JSONSerialization.data(withJSONObject: loraState, options: [.sortedKeys, .prettyPrinted]),
                                 to: temporary.appendingPathComponent("lora_config.json"))
        } else {
            try model.writeFolder(to: temporary, transformerOnly: true)
        }
        try optimizer.saveState(to: temporary.appendingPathComponent("optimizer.safetensors"))
        if let ema {
            try ema.saveState(to: temporary.appendingPathComponent("ema.safetensors"))
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
            try model.transformer.loadLoRA(from: checkpoint.appendingPathComponent("pytorch_lora_weights.safetensors"), prefix: "transformer")
        } else {
            try model.transformer.load(contentsOf: checkpoint.appendingPathComponent("transformer"))
        }
        try optimizer.loadState(from: checkpoint.appendingPathComponent("optimizer.safetensors"))
        if let ema { try ema.loadState(from: checkpoint.appendingPathComponent("ema.safetensors")) }
        let state = try ConfigFile.object(from: checkpoint.appendingPathComponent("trainer_state.json"))
        guard let it = state["iteration"] as? Int else {
            throw ConfigFile.Error(file: checkpoint.appendingPathComponent("trainer_state.json").path, message: "no 'iteration'")
        }
        iteration = it
    }
}
