import Checkpoints
import Engine
import Foundation
import GRPO
import Models
import NN
import TestSupport
@testable import Training
import XCTest

/// `--mixed-precision` in the trainer on the miniature FLUX: bf16 passes from float32 master weights (checkpoints stay
/// float32), gradient checkpointing under bf16, LoRA on a frozen bf16 base, and fp16's loss scale saved and restored
/// with checkpoints.
final class MixedPrecisionTrainingTests: XCTestCase {
    private func task() throws -> FluxTask {
        let pipeline = try FluxPipeline.load(from: Fixture.url("flux_mini"), dtype: .float32, loadTextEncoders: false)
        return try FluxTask(pipeline: pipeline, embeddings: Fixture.url("flux_seed_cache"), height: 32, width: 32)
    }

    private func config(_ precision: MixedPrecision, loraRank: Int = 0) -> GRPOTrainer.Config {
        var c = GRPOTrainer.Config.tinyFlux
        c.gradientCheckpointing = false
        c.mixedPrecision = precision
        c.loraRank = loraRank
        return c
    }

    private func trainer(_ config: GRPOTrainer.Config, _ folder: URL) throws -> GRPOTrainer {
        try GRPOTrainer(task: try task(), config: config, runFolder: folder)
    }

    private func bytes(_ tensors: [(key: String, slot: ParameterSlot)]) -> Int {
        tensors.reduce(0) { $0 + $1.slot.value!.count * $1.slot.value!.dtype.size }
    }

    /// Full fine-tuning in bf16: rollout and training passes in bf16 with the first ratios exactly 1 (training's calls
    /// of 2 rows repeat the rollout's operations on the same casts; the sampler's float32 log-probs see the same
    /// velocities), the weights float32 before and after, and the checkpoint's transformer float32 (the master
    /// weights).
    func testBF16FullFineTuningKeepsFloat32MasterWeightsAndCheckpoints() throws {
        let folder = try temporaryDirectory(self)
        let trainer = try trainer(config(.bf16), folder)
        let before = trainer.task.network.parameters()
        let log = try trainer.step()
        XCTAssertEqual(log.ratioMin, 1, "training repeats the bf16 rollout's operations on the same casts")
        XCTAssertEqual(log.ratioMax, 1)
        XCTAssert(log.gradNorm.isFinite && log.gradNorm > 0)
        XCTAssertEqual(log.skippedSteps, 0)
        var moved: Float = 0
        for (key, value) in trainer.task.network.parameters() {
            XCTAssertEqual(value.dtype, .float32, key)
            moved = max(moved, maxAbsDifference(value, before[key]!))
        }
        XCTAssertGreaterThan(moved, 0)
        let checkpoint = try trainer.saveCheckpoint()
        let saved = try SafeTensors.load(
            checkpoint.appendingPathComponent("transformer/diffusion_pytorch_model.safetensors"))
        XCTAssertFalse(saved.isEmpty)
        for (key, value) in saved { XCTAssertEqual(value.dtype, .float32, key) }
        XCTAssertNil(trainer.lossScaler)
    }

    /// LoRA on a frozen bf16 base: the base is stored in bf16 at trainer start (its bytes halve), the adapters stay
    /// float32 and are all AdamW holds state for; a step trains the adapters only.
    func testLoRAOnAFrozenBF16Base() throws {
        let folder = try temporaryDirectory(self)
        let float32Bytes = bytes(try task().network.namedSlots().filter { !$0.slot.isBuffer })
        let trainer = try trainer(config(.bf16, loraRank: 4), folder)
        let slots = trainer.task.network.namedSlots().filter { !$0.slot.isBuffer }
        let adapters = slots.filter { $0.key.contains(".lora_") }
        let base = slots.filter { !$0.key.contains(".lora_") }
        XCTAssertFalse(adapters.isEmpty)
        for (key, slot) in base {
            XCTAssert(slot.isFrozen, key)
            XCTAssertEqual(slot.value!.dtype, .bfloat16, key)
        }
        for (key, slot) in adapters {
            XCTAssertFalse(slot.isFrozen, key)
            XCTAssertEqual(slot.value!.dtype, .float32, key)
        }
        XCTAssertEqual(bytes(base) * 2, float32Bytes, "the base's parameter bytes halve")
        let frozenBase = base.map { ($0.key, $0.slot.value!) }
        let log = try trainer.step()
        XCTAssertEqual(log.ratioMin, 1)
        XCTAssertEqual(log.ratioMax, 1)
        let stateKeys = trainer.optimizer.stateTensors().keys.filter { $0.hasPrefix("state.") }
        XCTAssertFalse(stateKeys.isEmpty)
        XCTAssert(stateKeys.allSatisfy { $0.contains(".lora_A.") || $0.contains(".lora_B.") }, "\(stateKeys.sorted())")
        XCTAssert(trainer.optimizer.stateTensors().values.allSatisfy { $0.dtype != .bfloat16 })
        for (key, value) in frozenBase {
            XCTAssertEqual(maxAbsDifference(trainer.task.network.parameters()[key]!, value), 0, "\(key) is frozen")
        }
        XCTAssert(adapters.allSatisfy { $0.slot.value!.dtype == .float32 })
    }

    /// Gradient checkpointing under bf16 recomputes each block from the same bf16 casts: the transformer's gradients
    /// with and without it are float32 and bit-identical for every tensor but the time/text embedding's. Those sum
    /// the bf16 gradients of the embedding every block receives, in another order when the blocks are checkpointed:
    /// measured 0.9% of each tensor's largest entry (about one bf16 ulp), bound 2%.
    func testGradientCheckpointingUnderBF16GivesTheSameGradients() throws {
        let task = try task()
        let transformer = try XCTUnwrap(task.network as? FluxTransformer2DModel)
        let policy = MixedPrecisionPolicy(task.policy(reference: nil), computeDType: .bfloat16)
        let texts = try task.trainingPrompts(count: 2, iteration: 0, seed: 1).map(\.text)
        let conditioning = try task.conditioning(texts)
        let x = Random.normal([2] + task.latentShape, key: RandomKey(seed: 2))
        let target = Random.normal([2] + task.latentShape, key: RandomKey(seed: 3))
        var gradients: [[String: Tensor]] = []
        for checkpointing in [true, false] {
            transformer.gradientCheckpointing = checkpointing
            let (_, g) = valueAndGrad(model: transformer, computeDType: .bfloat16) {
                let v = policy.modelOutput(x, timesteps: Tensor([750, 250] as [Float]), conditioning: conditioning)
                return [(v - target).square().mean()]
            }
            gradients.append(g)
        }
        XCTAssertEqual(gradients[0].keys.sorted(), gradients[1].keys.sorted())
        for (key, gradient) in gradients[1] {
            XCTAssertEqual(gradients[0][key]!.dtype, .float32, key)
            let difference = maxAbsDifference(gradients[0][key]!, gradient)
            if key.hasPrefix("time_text_embed.") {
                XCTAssertLessThanOrEqual(difference, 0.02 * gradient.abs().max().item(Float.self), key)
            } else {
                XCTAssertEqual(difference, 0, key)
            }
        }
    }

    /// The same through the trainer: one bf16 iteration with and without checkpointing trains weights that differ by
    /// 2.1e-5 at most (AdamW's first step moves each weight by up to the learning rate, 1e-3; bound 1e-4), while
    /// float32 training moves them 2e-3 away from bf16's (first-step signs of tiny gradients flip).
    func testGradientCheckpointingUnderBF16TrainsTheSameWeights() throws {
        let folder = try temporaryDirectory(self)
        var weights: [[String: Tensor]] = []
        for (checkpointing, precision) in [(true, MixedPrecision.bf16), (false, .bf16), (false, .no)] {
            var settings = config(precision)
            settings.gradientCheckpointing = checkpointing
            let trainer = try trainer(settings, folder.appendingPathComponent("\(checkpointing)-\(precision)"))
            _ = try trainer.step()
            weights.append(trainer.task.network.parameters())
        }
        func largest(_ a: [String: Tensor], _ b: [String: Tensor]) -> Float {
            a.keys.map { maxAbsDifference(a[$0]!, b[$0]!) }.max()!
        }
        XCTAssertLessThanOrEqual(largest(weights[0], weights[1]), 1e-4, "with and without checkpointing under bf16")
        XCTAssertGreaterThan(largest(weights[1], weights[2]), 1e-4, "bf16 against float32")
    }

    /// fp16: the loss scaler's state (scale and streak) is written to `trainer_state.json` and restored on resume; a
    /// malformed entry is refused with the file named.
    func testTheFP16LossScaleRoundTripsThroughACheckpoint() throws {
        let folder = try temporaryDirectory(self)
        let trainer = try trainer(config(.fp16, loraRank: 4), folder.appendingPathComponent("run"))
        XCTAssertEqual(trainer.lossScaler?.scale, 65536)
        let log = try trainer.step()
        let scaler = try XCTUnwrap(trainer.lossScaler)
        XCTAssertEqual(log.ratioMin, 1, "fp16 rescoring repeats the fp16 rollout's operations")
        XCTAssertEqual(log.ratioMax, 1)
        // One optimizer step: either taken (streak 1) or an overflow (scale halved).
        XCTAssert(
            (scaler.scale == 65536 && scaler.growthTracker == 1 && log.skippedSteps == 0)
                || (scaler.scale == 32768 && scaler.growthTracker == 0 && log.skippedSteps == 1),
            "scale \(scaler.scale), streak \(scaler.growthTracker), skipped \(log.skipReasons)")
        scaler.restore(scale: 1024, growthTracker: 7)
        let checkpoint = try trainer.saveCheckpoint()
        let resumed = try self.trainer(config(.fp16, loraRank: 4), folder.appendingPathComponent("run"))
        try resumed.resume(from: checkpoint)
        XCTAssertEqual(resumed.lossScaler?.scale, 1024)
        XCTAssertEqual(resumed.lossScaler?.growthTracker, 7)

        let stateFile = checkpoint.appendingPathComponent("trainer_state.json")
        var state = try ConfigFile.object(from: stateFile)
        XCTAssertEqual((state["loss_scaler"] as? [String: Any])?["_growth_tracker"] as? Int, 7)
        state["loss_scaler"] = ["scale": -1]
        try JSONSerialization.data(withJSONObject: state).write(to: stateFile)
        XCTAssertThrowsError(try resumed.resume(from: checkpoint)) { error in
            XCTAssert("\(error)".hasPrefix("\(stateFile.path): 'loss_scaler' is"), "\(error)")
            XCTAssert("\(error)".contains("expected {\"scale\": a positive number"), "\(error)")
        }
    }

    /// fp16 overflows are counted and logged but do not count toward `--max-consecutive-skipped-steps`; other
    /// non-finite skips still stop the run.
    func testOverflowSkipsDoNotStopTheRun() throws {
        var settings = config(.fp16, loraRank: 4)
        settings.maxConsecutiveSkippedSteps = 2
        let trainer = try trainer(settings, try temporaryDirectory(self))
        var log = GRPOTrainer.IterationLog(
            iteration: 0, rewardMean: [:], rewardStd: [:], reward: 0, rewardInfo: [:], advantageMean: 0,
            advantageAbsMax: 0, trainedSamples: 0, ratioMean: 1, ratioMin: 1, ratioMax: 1, clipFraction: 0, approxKL: 0,
            referenceKL: 0, gradNorm: 0, learningRate: 0, secondsRollout: 0, secondsReward: 0, secondsUpdate: 0)
        let overflows = (0..<5).map { SkippedStep?.some(.gradientOverflow(lossScale: 0x1p16 / Float(1 << $0))) }
        try trainer.countSkipped([.nonFiniteGradientNorm(.nan)] + overflows, into: &log)
        XCTAssertEqual(trainer.skippedSteps, 6)
        XCTAssertEqual(trainer.consecutiveSkippedSteps, 1)
        XCTAssertEqual(log.skipReasons.last, "fp16 gradient overflow at loss scale 4096.0 (scale halved)")
        XCTAssertThrowsError(try trainer.countSkipped([.nonFiniteGradientNorm(.nan)], into: &log)) {
            XCTAssert("\($0)".contains("2 optimizer steps in a row were skipped"), "\($0)")
        }
    }
}
