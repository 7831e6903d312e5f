import Checkpoints
import Engine
import Foundation
import GRPO
import Models
import NN
import Rewards
import TestSupport
import Training
import XCTest

extension GRPOTrainer.Config {
    /// The Qwen-Image preset shrunk for tests on `qwen_image_mini`, with both cached prompts in each iteration so that
    /// prompts of different lengths share the calls (padding and mask in rollout and training), and one optimizer
    /// step per iteration (the ratios after a step are no longer one).
    static var tinyQwenImage: GRPOTrainer.Config {
        var c = GRPOTrainer.Config.qwenImage.shrunkForTests()
        c.promptsPerIteration = 2
        c.gradientAccumulationSteps = 4
        return c
    }
}

/// `train --model qwen-image`: the miniature diffusers Qwen-Image folder and the seed's own embedding cache layout
/// (bf16 states and int64 masks padded to 1024 tokens, `torch.save` pickles, written by diffusers' `encode_prompt` as
/// the seed's preprocessing does: tools/goldens/qwen_image_seed_cache.py), trained by the same GRPOTrainer as every
/// family.
final class QwenImageTaskTests: XCTestCase {
    private let prompts = ["a red fox running in the snow", "two blue cubes on a table"]
    /// The prompts' own token counts, the manifest's `original_length`.
    private let lengths = [66, 71]

    private func task(embeddings: URL = Fixture.url("qwen_image_mini_embeddings")) throws -> QwenImageTask {
        let networks = try QwenImageTask.loadNetworks(from: Fixture.url("qwen_image_mini"), dtype: .float32)
        return try QwenImageTask(
            transformer: networks.transformer, vae: networks.vae, embeddings: embeddings, height: 32, width: 32)
    }

    func testSeedCacheConditioningAndDecoding() throws {
        let task = try task()
        XCTAssertEqual(task.entries.map(\.caption), prompts)
        XCTAssertEqual(task.entries.map(\.originalLength), lengths)
        XCTAssertEqual(task.latentShape, [4, 16], "32 px → a 4×4 latent grid → 2×2 tokens of 4 channels × 2×2")
        // Each prompt is cut to its own tokens; the shorter is padded to the longer with a zero mask.
        let conditioning = try task.conditioning([prompts[1], prompts[0]])
        XCTAssertEqual(conditioning["prompt_embeds"].shape, [2, 71, 32])
        let mask = conditioning["prompt_mask"].toArray(Float.self)
        XCTAssertEqual(mask[0..<71].filter { $0 == 1 }.count, 71)
        XCTAssertEqual(Array(mask[71..<142]), Array(repeating: 1, count: 66) + Array(repeating: 0, count: 5))
        let rows = conditioning["prompt_embeds"].abs().sum(axis: 2).toArray(Float.self)
        XCTAssert(rows[71..<(71 + 66)].allSatisfy { $0 > 0 } && rows[(71 + 66)...].allSatisfy { $0 == 0 }, "\(rows)")
        XCTAssertThrowsError(try task.conditioning([""])) {
            XCTAssert("\($0)".contains("without classifier-free guidance"), "\($0)")
        }
        XCTAssertThrowsError(try task.conditioning(["not cached"])) {
            XCTAssert("\($0)".contains("no cached embedding"), "\($0)")
        }
        let images = try task.images(Random.normal([2] + task.latentShape, key: RandomKey(seed: 1)))
        XCTAssertEqual(images.count, 2)
        XCTAssertEqual([images[0].width, images[0].height], [32, 32])
    }

    /// The padding a shorter prompt gets beside a longer one, masked, leaves its velocity as it is alone.
    func testPaddedPromptGivesTheSameVelocity() throws {
        let task = try task()
        let policy = task.policy(reference: nil)
        let x = Random.normal([1] + task.latentShape, key: RandomKey(seed: 2))
        let t = Tensor([Float(750)])
        let alone = policy.modelOutput(x, timesteps: t, conditioning: try task.conditioning([prompts[0]]))
        let padded = policy.modelOutput(
            concatenated([x, x], axis: 0), timesteps: Tensor([Float(750), 750]),
            conditioning: try task.conditioning([prompts[0], prompts[1]]))[0..<1]
        let scale = alone.abs().max().item(Float.self)
        XCTAssertGreaterThan(scale, 0)
        XCTAssertLessThanOrEqual(maxAbsDifference(padded, alone), 1e-5 * scale)
        let other = policy.modelOutput(x, timesteps: t, conditioning: try task.conditioning([prompts[1]]))
        XCTAssertGreaterThan(maxAbsDifference(other, alone), 1e-3 * scale, "the text must matter")
    }

    func testCacheFromAnotherModelAndMissingFolderPartsAreRefused() throws {
        let folder = try temporaryDirectory(self)
        let cache = QwenImageEmbeddingCache(folder: folder)
        let entry = try cache.write(
            index: 0, promptEmbeds: Tensor.ones([3, 7]), caption: "x", paddedLength: 8, dtype: .float32)
        try cache.writeManifest([entry])
        XCTAssertThrowsError(try task(embeddings: folder)) {
            XCTAssert("\($0)".contains("expected the transformer's joint_attention_dim 32"), "\($0)")
        }
        XCTAssertThrowsError(try task(embeddings: folder.appendingPathComponent("missing"))) {
            XCTAssert("\($0)".contains("videos2caption.json"), "\($0)")
        }
        XCTAssertThrowsError(try task(embeddings: Fixture.url("wan_mini_embeddings"))) {
            XCTAssert("\($0)".contains("prompt_attention_mask"), "a Wan cache lacks the mask field: \($0)")
        }
        XCTAssertThrowsError(try QwenImageTask.loadNetworks(from: folder)) {
            XCTAssert("\($0)".contains("not a diffusers Qwen-Image folder: missing transformer, vae"), "\($0)")
        }
    }

    /// The cache writer keeps the prompt's tokens and pads as the seed: reading it back gives `encode_prompt`'s states
    /// (diffusers' own, float32) within 1e-4 of their scale, cut to `original_length`.
    func testPreprocessedStatesMatchDiffusersEncodePrompt() throws {
        let golden = try SafeTensors.load(Fixture.url("qwen_image_mini_preprocess.safetensors"))
        let encoding = try QwenImageTextEncoding.load(from: Fixture.url("qwen_image_mini"))
        let cache = QwenImageEmbeddingCache(folder: try temporaryDirectory(self))
        for (i, prompt) in prompts.enumerated() {
            let states = encoding.encodePrompt([prompt], maxSequenceLength: 1024).promptEmbeds[0]
            let entry = try cache.write(index: i, promptEmbeds: states, caption: prompt, dtype: .float32)
            XCTAssertEqual(entry.originalLength, lengths[i])
            let read = try cache.load(entry)
            let expected = golden["prompt_embeds.\(i)"]!
            XCTAssertEqual(read.promptEmbeds.shape, expected.shape)
            let scale = expected.abs().max().item(Float.self)
            XCTAssertLessThanOrEqual(maxAbsDifference(read.promptEmbeds, expected), 1e-4 * scale, prompt)
            XCTAssertEqual(read.mask.toArray(Float.self), Array(repeating: 1, count: lengths[i]))
        }
    }

    /// The first update's ratios are one (rollout and training score the same transitions, prompts of two lengths
    /// sharing calls), losses and gradients are finite, and the checkpoint is a diffusers transformer folder holding
    /// the trained weights; LoRA on the attention projections with bf16 mixed precision trains too.
    func testTrainingStartsAtRatioOneAndCheckpoints() throws {
        let folder = try temporaryDirectory(self)
        let trainer = try GRPOTrainer(
            task: try task(), config: .tinyQwenImage, runFolder: folder.appendingPathComponent("run"))
        XCTAssertEqual((trainer.task.network as? QwenImageTransformer2DModel)?.gradientCheckpointing, true)
        let first = try trainer.step()
        XCTAssertEqual(first.ratioMin, 1, accuracy: 1e-5)
        XCTAssertEqual(first.ratioMax, 1, accuracy: 1e-5)
        XCTAssertEqual(first.skippedSteps, 0, "no optimizer step skipped for a non-finite loss: \(first.skipReasons)")
        XCTAssert(first.gradNorm.isFinite && first.gradNorm > 0, "\(first.gradNorm)")
        let second = try trainer.step()
        XCTAssert(second.rewardMean.values.allSatisfy(\.isFinite), "\(second.rewardMean)")
        let checkpoint = try trainer.saveCheckpoint()
        let reloaded = try QwenImageTransformer2DModel.load(from: checkpoint.appendingPathComponent("transformer"))
        for (key, value) in trainer.task.network.parameters() {
            XCTAssertEqual(reloaded.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
        let evaluation = try trainer.evaluate()
        XCTAssertEqual(evaluation.images.count, 2)
        XCTAssert(evaluation.meanReward.isFinite)

        var lora = GRPOTrainer.Config.tinyQwenImage
        lora.loraRank = 4
        lora.mixedPrecision = .bf16
        let adapted = try GRPOTrainer(task: try task(), config: lora, runFolder: folder.appendingPathComponent("lora"))
        let log = try adapted.step()
        XCTAssert(log.gradNorm.isFinite && log.gradNorm > 0, "\(log.gradNorm)")
        let adapters = adapted.task.network.parameters().keys.filter { $0.contains("lora") }
        XCTAssertFalse(adapters.isEmpty, "LoRA adapters on Qwen-Image's to_q/to_k/to_v/to_out.0")
    }

    /// EMA and the KL penalty against the frozen reference train with finite statistics, and a run interrupted after
    /// one iteration and resumed from its checkpoint continues exactly as the uninterrupted one.
    func testEMAKLAndResume() throws {
        var features = GRPOTrainer.Config.tinyQwenImage
        features.emaDecay = 0.9
        features.beta = 0.01
        let folder = try temporaryDirectory(self)
        let withFeatures = try GRPOTrainer(
            task: try task(), config: features, runFolder: folder.appendingPathComponent("features"))
        let log = try withFeatures.step()
        XCTAssert(log.gradNorm.isFinite && log.gradNorm > 0 && log.referenceKL.isFinite, "\(log)")

        let straight = try GRPOTrainer(
            task: try task(), config: .tinyQwenImage, runFolder: folder.appendingPathComponent("straight"))
        _ = try straight.step()
        let second = try straight.step()
        let interrupted = try GRPOTrainer(
            task: try task(), config: .tinyQwenImage, runFolder: folder.appendingPathComponent("interrupted"))
        _ = try interrupted.step()
        let saved = try interrupted.saveCheckpoint()
        let resumed = try GRPOTrainer(
            task: try task(), config: .tinyQwenImage, runFolder: folder.appendingPathComponent("interrupted"))
        try resumed.resume(from: saved)
        let again = try resumed.step()
        XCTAssertEqual(again.rewardMean, second.rewardMean)
        for (key, value) in straight.task.network.parameters() {
            XCTAssertEqual(resumed.task.network.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
    }
}
