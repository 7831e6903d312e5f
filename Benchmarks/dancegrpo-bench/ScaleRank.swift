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
        /// `Memory.peak`: the engine allocator's high-water mark (bytes).
        var enginePeakBytes: Int
        /// Whether the stage's training state was really sharded (see ``ScaleRank/makeSharding``).
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

    /// One GRPO training pass of a rank: the rollout, its advantages and the sampling key in, statistics out.
    typealias TrainingPass = (RolloutBatch, Conditioning, [Float], RandomKey) throws -> UpdateStatistics

    /// The benchmark's AdamW (the trainer's defaults), over the model or, sharded, over a module of shares.
    static func makeOptimizer(_ module: Module) -> Optimizer {
        AdamW(model: module, learningRate: 1e-5, weightDecay: 1e-4)
    }

    /// The per-stage path of the benchmark, in one place. Stages 1-3 need `ShardedTraining` (Sources/GRPO/Sharding/,
    /// `updatePolicy(... sharded:)`), which is not on this branch: until the integrator wires it here (a
    /// `ShardedTraining(model:stage:processGroup:blocks:makeOptimizer:)` over the double and single blocks, passed as
    /// `sharded:`), every stage trains replicated (stage 0's all-sum of gradients) and reports `sharded: false`,
    /// which the table marks.
    static func makeSharding(
        stage: Int, model: FluxTransformer2DModel, policy: DenoisingPolicy, group: ProcessGroup?,
        update: UpdateConfig
    ) throws -> (pass: TrainingPass, sharded: Bool) {
        let optimizer = makeOptimizer(model)
        let pass: TrainingPass = { rollout, conditioning, advantages, key in
            try updatePolicy(
                policy: policy, optimizer: optimizer, rollout: rollout, conditioning: conditioning,
                advantages: advantages, config: update, key: key, processGroup: group)
        }
        return (pass, false)
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
        let (pass, sharded) = try makeSharding(
            stage: stage, model: model, policy: policy, group: group, update: update)

        let keys = RandomKey(seed: 100 + UInt64(rank)).split(into: 2)
        let conditioning = Conditioning([
            "text": Random.normal([1, options.textTokens, config.jointAttentionDim], key: keys[0]),
            "pooled": Random.normal([1, config.pooledProjectionDim], key: keys[1])
        ]).repeatingEachRow(options.samples)
        var rolloutConfig = RolloutConfig.flow(steps: options.samplingSteps, shift: 3, sampler: .danceSDE(eta: 0.3))
        rolloutConfig.batchSize = options.samples
        var seconds: [Double] = []
        for iteration in 0...options.steps {
            let iterationKeys = RandomKey(seed: 1000 * UInt64(rank) + UInt64(iteration)).split(into: 2)
            let trajectories = rollout(
                policy: policy, conditioning: conditioning, latentShape: [options.side * options.side, 64],
                config: rolloutConfig, key: iterationKeys[0])
            let rewards = -trajectories.finalLatents.abs().mean(axes: [1, 2])
            let advantages = groupAdvantages(
                rewards: rewards, normalization: .perGroup(groupSize: options.samples), clipMax: 5)
            let start = Date()
            let stats = try pass(trajectories, conditioning, advantages.toArray(Float.self), iterationKeys[1])
            if iteration > 0 { seconds.append(Date().timeIntervalSince(start)) }
            precondition(stats.optimizerSteps == 1, "scale-rank: \(stats.optimizerSteps) optimizer steps")
        }
        let memory = FluxProcessMemory.now()
        let report = Report(
            rank: rank, parameters: model.parameterCount(),
            largestBlock: model.transformerBlocks.first?.parameterCount() ?? 0, seconds: seconds,
            maxResidentKiB: memory?.maxResidentKiB ?? 0, highWaterKiB: memory?.highWaterKiB ?? 0,
            enginePeakBytes: Memory.peak, sharded: sharded)
        print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
    }
}
