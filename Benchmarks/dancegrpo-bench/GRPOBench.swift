import Engine
import Sampling
import Foundation
import GRPO
import Models
import NN

/// `dancegrpo-bench grpo --weights DIR [--warmup N] [--repeats N] [--rollout-batch N] [--transition-batch N]`:
/// seconds per GRPO iteration of the trainer (`GRPO.rollout`, `groupAdvantages`, `updatePolicy`) on a tiny FLUX. The
/// PyTorch twin is tools/bench/grpo_loop.py, which also writes the weights both sides load (`make bench-grpo` runs
/// both); keep the two in step: 1 double + 2 single blocks, 4 heads of 32, 64 image tokens × 64 channels, 16 text
/// tokens of random embeddings, 2 prompts × 4 generations, 8 Dance-SDE steps (η 0.3, shift 3), timestep fraction 0.6
/// (K = 4 of 7), accumulation 4 samples, clip range 1e-4, advantages clipped at 5, grad-norm clip 1, AdamW (lr 1e-5,
/// weight decay 1e-4), reward −mean|x̂0|, float32. Batch sizes default to the trainer's (`train`'s 64 and 64, which
/// here means the 8 samples of a rollout step and the 16 transitions of an optimizer window per call); 1 and 1 is the
/// seed's batching.
enum GRPOBench {
    static let mode = "grpo"
    static let usage = """
        usage: dancegrpo-bench grpo --weights DIR [--warmup N] [--repeats N] [--rollout-batch N] [--transition-batch \
        N] [--json]
          --weights DIR         diffusers transformer folder (tools/bench/grpo_loop.py --write-weights DIR)
          --warmup N            untimed iterations first (default 1)
          --repeats N           timed iterations, the median is reported (default 3)
          --rollout-batch N     samples per network call in the rollout (default 64, as `train`; 1 is the seed's)
          --transition-batch N  transitions per network call in training, across the samples of an optimizer
                                window (default 64, as `train`; 1 is the seed's)
          --json                print one JSON object on the last line
        """
    static let prompts = 2, generations = 4, steps = 8, textTokens = 16, latentSide = 16

    /// A FLUX transformer seen as a velocity field on packed latents [B, 64, 64].
    final class FluxPolicy: DenoisingPolicy {
        let model: FluxTransformer2DModel
        let imageIds: Tensor, textIds: Tensor
        var module: Module { model }

        init(model: FluxTransformer2DModel) {
            self.model = model
            imageIds = FluxLatents.imageIds(height: GRPOBench.latentSide, width: GRPOBench.latentSide)
            textIds = FluxLatents.textIds(length: GRPOBench.textTokens)
        }

        func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
            let b = x.dim(0)
            return model(
                hiddenStates: x, encoderHiddenStates: conditioning["text"], pooled: conditioning["pooled"],
                timestep: timesteps / 1000, imageIds: imageIds, textIds: textIds,
                guidance: Tensor.full([b], 3.5))
        }
    }

    static func run(_ arguments: [String]) throws -> Int32 {
        var weights: String?, warmup = 1, repeats = 3, rolloutBatch = 64, transitionBatch = 64, json = false
        var rest = arguments[...]
        func integer(_ flag: String) throws -> Int {
            guard let text = rest.popFirst(), let n = Int(text), n >= 0 else {
                throw FluxBenchSkipped("\(flag) needs an integer")
            }
            return n
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--weights": weights = rest.popFirst()
            case "--warmup": warmup = try integer(argument)
            case "--repeats": repeats = max(1, try integer(argument))
            case "--rollout-batch": rolloutBatch = max(1, try integer(argument))
            case "--transition-batch": transitionBatch = max(1, try integer(argument))
            case "--json": json = true
            case "-h", "--help": print(usage); return 0
            default: throw FluxBenchSkipped("unknown argument \(argument)")
            }
        }
        guard let weights else { throw FluxBenchSkipped("--weights DIR is required") }
        let model = try FluxTransformer2DModel.load(from: URL(fileURLWithPath: weights), dtype: .float32)
        let policy = FluxPolicy(model: model)
        let config = model.config
        let optimizer = AdamW(model: model, learningRate: 1e-5, weightDecay: 1e-4)
        let keys = RandomKey(seed: 1).split(into: 2)
        let conditioning = Conditioning([
            "text": Random.normal([prompts, textTokens, config.jointAttentionDim], key: keys[0]),
            "pooled": Random.normal([prompts, config.pooledProjectionDim], key: keys[1])
        ]).repeatingEachRow(generations)

        var rolloutConfig = RolloutConfig.flow(steps: steps, shift: 3, sampler: .danceSDE(eta: 0.3))
        rolloutConfig.batchSize = rolloutBatch
        var update = UpdateConfig()
        update.timestepFraction = 0.6
        update.clipRange = 1e-4
        update.gradientAccumulationSteps = 4
        update.maxGradNorm = 1
        update.transitionBatchSize = transitionBatch
        let latentShape = [(latentSide / 2) * (latentSide / 2), config.inChannels]
        // What a call really holds: a rollout step has prompts × generations samples, an optimizer window
        // accumulation × K transitions (K = floor((steps − 1) · fraction)).
        let trained = Int(Float(steps - 1) * update.timestepFraction)
        rolloutBatch = min(rolloutBatch, prompts * generations)
        transitionBatch = min(transitionBatch, update.gradientAccumulationSteps * trained)

        let cores = ProcessInfo.processInfo.activeProcessorCount
        if !json {
            print(
                """
                MLX \(Engine.mlxVersion); \(cores) cores; \(model.parameterCount()) parameters; batches \
                \(rolloutBatch)/\(transitionBatch)
                """
            )
        }
        var seconds: [Double] = []
        for i in 0..<(warmup + repeats) {
            let start = Date()
            let iterationKeys = RandomKey(seed: 100 + UInt64(i)).split(into: 2)
            let trajectories = rollout(
                policy: policy, conditioning: conditioning, latentShape: latentShape,
                config: rolloutConfig, key: iterationKeys[0])
            let rewards = -trajectories.finalLatents.abs().mean(axes: [1, 2])
            let advantages = groupAdvantages(
                rewards: rewards, normalization: .perGroup(groupSize: generations), clipMax: 5)
            let stats = try updatePolicy(
                policy: policy, optimizer: optimizer, rollout: trajectories, conditioning: conditioning,
                advantages: advantages.toArray(Float.self), config: update, key: iterationKeys[1])
            let elapsed = Date().timeIntervalSince(start)
            let line = String(
                format: "swift grpo iteration %d%@: %.2f s, reward %.4f, %d transitions, %d optimizer steps",
                i, i < warmup ? " (warm-up)" : "", elapsed, rewards.mean().item(Float.self),
                stats.ratios.count, stats.optimizerSteps)
            FileHandle.standardError.write(Data((line + "\n").utf8))
            if i >= warmup { seconds.append(elapsed) }
        }
        let sorted = seconds.sorted()
        let median =
            sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        if json {
            let object: [String: Any] = [
                "seconds": seconds, "median_seconds": median, "rollout_batch": rolloutBatch,
                "transition_batch": transitionBatch
            ]
            print(String(data: try JSONSerialization.data(withJSONObject: object), encoding: .utf8)!)
        } else {
            print(String(format: "swift grpo: %.3f s/iteration (median of %d)", median, seconds.count))
        }
        return 0
    }
}
