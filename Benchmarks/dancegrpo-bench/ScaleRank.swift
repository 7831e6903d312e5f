import Engine
import Foundation
import GRPO
import Models
import NN
import Sampling

/// One rank of a `dancegrpo-bench scale` run (the hidden mode `scale-rank STAGE OPTIONS-JSON`, started by
/// ``ScaleBench`` with `MLX_RANK` and `MLX_HOSTFILE` as mlx.launch starts ranks): GRPO iterations on the FLUX
/// transformer of the options (the same random weights on every rank, each rank its own prompts), then one JSON line
/// with its peak memory and the seconds of each training pass.
enum ScaleRank {
    static let mode = "scale-rank"

    struct Report: Codable {
        var rank: Int
        var parameters: Int
        var largestBlock: Int
        /// Seconds of each timed `updatePolicy` (one optimizer step each).
        var seconds: [Double]
        /// getrusage's ru_maxrss, and /proc/self/status's VmHWM (KiB).
        var maxResidentKiB: Int
        var highWaterKiB: Int
        /// `Memory.peak`, the engine allocator's high-water mark (bytes), over the rollouts and over the training
        /// passes (the peak is reset before each).
        var rolloutPeakBytes: Int
        var trainingPeakBytes: Int
        var enginePeakBytes: Int { max(rolloutPeakBytes, trainingPeakBytes) }
        /// Whether the training state was sharded (stages 1-3 with several ranks).
        var sharded: Bool
    }

    /// The transformer as a velocity field on packed latents `[B, side², 64]`.
    final class Policy: DenoisingPolicy {
        let model: FluxTransformer2DModel
        let imageIds: Tensor, textIds: Tensor
        var module: Module { model }

        init(model: FluxTransformer2DModel, options: ScaleOptions) {
            self.model = model
            imageIds = FluxLatents.imageIds(height: 2 * options.side, width: 2 * options.side)
            textIds = FluxLatents.textIds(length: options.textTokens)
        }

        func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
            model(
                hiddenStates: x, encoderHiddenStates: conditioning["text"], pooled: conditioning["pooled"],
                timestep: timesteps / 1000, imageIds: imageIds, textIds: textIds,
                guidance: Tensor.full([x.dim(0)], 3.5))
        }
    }

    /// A rank's training state at one ZeRO stage: how it samples (stage 3 gathers each block for its call) and how it
    /// trains (`updatePolicy`, through ``ShardedTraining`` for stages 1-3 with several ranks).
    struct StagePath {
        var sharded: ShardedTraining?
        var optimizer: Optimizer

        func sample(_ body: () throws -> RolloutBatch) throws -> RolloutBatch {
            try sharded?.withGatheredParameters(forward: true, body) ?? body()
        }

        func train(
            policy: DenoisingPolicy, rollout: RolloutBatch, conditioning: Conditioning, advantages: [Float],
            update: UpdateConfig, key: RandomKey, group: ProcessGroup?
        ) throws -> UpdateStatistics {
            try updatePolicy(
                policy: policy, optimizer: optimizer, rollout: rollout, conditioning: conditioning,
                advantages: advantages, config: update, key: key, processGroup: group, sharded: sharded)
        }
    }

    /// The per-stage path, built as the trainer builds it: stage 0 (or one rank) an AdamW over the model, stages 1-3
    /// a ``ShardedTraining`` over the checkpointed blocks whose AdamW holds only this rank's shares.
    static func makeSharding(stage: Int, model: FluxTransformer2DModel, group: ProcessGroup?) throws -> StagePath {
        let makeOptimizer = { (module: Module) -> Optimizer in
            AdamW(model: module, learningRate: 1e-5, weightDecay: 1e-4)
        }
        guard let group, group.worldSize > 1, let zero = ZeroStage(rawValue: stage), zero != .replicated else {
            return StagePath(sharded: nil, optimizer: makeOptimizer(model))
        }
        let sharded = try ShardedTraining(
            model: model, stage: zero, processGroup: group, blocks: model.checkpointedBlocks,
            makeOptimizer: makeOptimizer)
        return StagePath(sharded: sharded, optimizer: sharded.optimizer)
    }

    static func run(_ arguments: [String]) throws {
        guard arguments.count == 2, let stage = Int(arguments[0]) else {
            throw FluxBenchSkipped("scale-rank needs STAGE OPTIONS-JSON")
        }
        let options = try JSONDecoder().decode(ScaleOptions.self, from: Data(arguments[1].utf8))
        var group: ProcessGroup?
        if ProcessInfo.processInfo.environment["MLX_RANK"] != nil {
            let plan = try RankPlan.resolve(processes: 1, hostfile: nil, backend: nil)
            let copy = FileManager.default.temporaryDirectory.appendingPathComponent("hostfile-\(getpid()).json")
            defer { try? FileManager.default.removeItem(at: copy) }
            group = try plan.form(hostfileURL: copy)
        }
        let rank = group?.rank ?? 0
        let config = options.config
        let model = FluxTransformer2DModel(config, key: RandomKey(seed: 7))
        model.gradientCheckpointing = options.checkpointing
        eval(model.parameters().map(\.value))
        let policy = Policy(model: model, options: options)
        var update = UpdateConfig()
        update.timestepFraction = options.timestepFraction
        update.gradientAccumulationSteps = options.samples
        update.transitionBatchSize = options.samples
        // Counted before sharding: stage 3 empties the model's weights.
        let parameters = model.parameterCount()
        let largestBlock = model.checkpointedBlocks.map { $0.parameterCount() }.max() ?? 0
        let path = try makeSharding(stage: stage, model: model, group: group)

        let keys = RandomKey(seed: 100 + UInt64(rank)).split(into: 2)
        let conditioning = Conditioning([
            "text": Random.normal([1, options.textTokens, config.jointAttentionDim], key: keys[0]),
            "pooled": Random.normal([1, config.pooledProjectionDim], key: keys[1])
        ]).repeatingEachRow(options.samples)
        var rolloutConfig = RolloutConfig.flow(steps: options.samplingSteps, shift: 3, sampler: .danceSDE(eta: 0.3))
        rolloutConfig.batchSize = options.samples
        var seconds: [Double] = []
        var rolloutPeak = 0, trainingPeak = 0
        for iteration in 0...options.steps {
            let iterationKeys = RandomKey(seed: 1000 * UInt64(rank) + UInt64(iteration)).split(into: 2)
            Memory.resetPeak()
            let trajectories = try path.sample {
                rollout(
                    policy: policy, conditioning: conditioning, latentShape: [options.side * options.side, 64],
                    config: rolloutConfig, key: iterationKeys[0])
            }
            let rewards = -trajectories.finalLatents.abs().mean(axes: [1, 2])
            let advantages = groupAdvantages(
                rewards: rewards, normalization: .perGroup(groupSize: options.samples), clipMax: 5)
            eval([trajectories.latents, trajectories.logProbs, advantages])
            rolloutPeak = max(rolloutPeak, Memory.peak)
            Memory.resetPeak()
            let start = Date()
            let stats = try path.train(
                policy: policy, rollout: trajectories, conditioning: conditioning,
                advantages: advantages.toArray(Float.self), update: update, key: iterationKeys[1], group: group)
            if iteration > 0 { seconds.append(Date().timeIntervalSince(start)) }
            trainingPeak = max(trainingPeak, Memory.peak)
            precondition(stats.optimizerSteps == 1, "scale-rank: \(stats.optimizerSteps) optimizer steps")
        }
        let memory = FluxProcessMemory.now()
        let report = Report(
            rank: rank, parameters: parameters, largestBlock: largestBlock, seconds: seconds,
            maxResidentKiB: memory?.maxResidentKiB ?? 0, highWaterKiB: memory?.highWaterKiB ?? 0,
            rolloutPeakBytes: rolloutPeak, trainingPeakBytes: trainingPeak, sharded: path.sharded != nil)
        print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
    }
}
