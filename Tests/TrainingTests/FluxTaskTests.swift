import Checkpoints
import Engine
import Foundation
import GRPO
import Models
import NN
import TestSupport
import Training
import XCTest

/// `train --model flux`: the miniature diffusers FLUX folder with an embedding cache written as `dancegrpo preprocess`
/// writes it, trained by the same GRPOTrainer as the embedded world.
final class FluxTaskTests: XCTestCase {
    private let prompts = ["a red apple", "a cat on a mat", "two blue cars"]

    /// A cache of the three prompts, encoded by the folder's own text encoders.
    private func makeCache(in folder: URL) throws -> URL {
        let pipeline = try FluxPipeline.load(from: Fixture.url("flux_mini"))
        let embeddings = pipeline.textEncoders!.encode(prompts, maxSequenceLength: 16)
        let cacheFolder = folder.appendingPathComponent("rl_embeddings")
        let cache = FluxEmbeddingCache(folder: cacheFolder)
        var entries: [FluxEmbeddingCache.Entry] = []
        for (row, prompt) in prompts.enumerated() {
            var entry = try cache.write(index: row, embeddings: embeddings, row: row, dtype: .float32)
            entry.caption = prompt
            entries.append(entry)
        }
        try cache.writeManifest(entries)
        return cacheFolder
    }

    private func task(_ folder: URL) throws -> FluxTask {
        let pipeline = try FluxPipeline.load(from: Fixture.url("flux_mini"), dtype: .float32, loadTextEncoders: false)
        return try FluxTask(pipeline: pipeline, embeddings: try makeCache(in: folder), height: 32, width: 32)
    }

    private func config() -> GRPOTrainer.Config { .tinyFlux }

    func testPromptsConditioningAndDecoding() throws {
        let task = try task(try temporaryDirectory(self))
        let first = try task.trainingPrompts(count: 2, iteration: 0, seed: 5)
        XCTAssertEqual(
            try task.trainingPrompts(count: 2, iteration: 0, seed: 5), first,
            "prompts are a function of (seed, iteration)")
        // One epoch of 3 prompts visits each once.
        let epoch = try (0..<3).flatMap { try task.trainingPrompts(count: 1, iteration: $0, seed: 5) }.map(\.text)
        XCTAssertEqual(Set(epoch), Set(prompts))
        let cond = try task.conditioning(prompts)
        XCTAssertEqual(cond["prompt_embeds"].shape, [3, 16, task.pipeline.transformer.config.jointAttentionDim])
        XCTAssertEqual(cond["pooled_prompt_embeds"].shape, [3, task.pipeline.transformer.config.pooledProjectionDim])
        let images = try task.images(Random.normal([2] + task.latentShape, key: RandomKey(seed: 1)))
        XCTAssertEqual(images.count, 2)
        XCTAssertEqual(images[0].width, 32)
        XCTAssertThrowsError(try task.conditioning([""])) { XCTAssert("\($0)".contains("guidance-distilled"), "\($0)") }
        XCTAssertThrowsError(try task.conditioning(["not cached"])) {
            XCTAssert("\($0)".contains("no cached embedding"), "\($0)")
        }
    }

    /// Two iterations: first ratios one, finite losses, a diffusers-layout checkpoint that reloads to the trained
    /// weights, and a resumed run that continues exactly.
    func testTrainingCheckpointAndResume() throws {
        let folder = try temporaryDirectory(self)
        let straight = try GRPOTrainer(
            task: try task(folder.appendingPathComponent("a")), config: config(),
            runFolder: folder.appendingPathComponent("run-a"))
        let first = try straight.step()
        XCTAssertEqual(first.ratioMin, 1, accuracy: 1e-5)
        XCTAssertEqual(first.ratioMax, 1, accuracy: 1e-5)
        XCTAssertNil(first.accuracy, "free-text prompts have no shapes accuracy")
        XCTAssert(first.gradNorm.isFinite && first.gradNorm > 0)
        let second = try straight.step()
        let checkpoint = try straight.saveCheckpoint()
        let reloaded = try FluxTransformer2DModel.load(from: checkpoint.appendingPathComponent("transformer"))
        for (key, value) in straight.task.network.parameters() {
            XCTAssertEqual(reloaded.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
        let evaluation = try straight.evaluate()
        XCTAssertEqual(evaluation.images.count, 2)
        XCTAssert(evaluation.meanReward.isFinite)

        let interrupted = try GRPOTrainer(
            task: try task(folder.appendingPathComponent("b")), config: config(),
            runFolder: folder.appendingPathComponent("run-b"))
        _ = try interrupted.step()
        let saved = try interrupted.saveCheckpoint()
        let resumed = try GRPOTrainer(
            task: try task(folder.appendingPathComponent("c")), config: config(),
            runFolder: folder.appendingPathComponent("run-b"))
        try resumed.resume(from: saved)
        let again = try resumed.step()
        XCTAssertEqual(again.rewardMean, second.rewardMean)
        for (key, value) in straight.task.network.parameters() {
            XCTAssertEqual(resumed.task.network.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
    }

    /// The seed's own cache (bf16 `torch.save(tensor)` pickles, text ids as a (3,) zero vector) loads as written and
    /// trains; values equal torch's float32 view of the bf16 tensors.
    /// `--gradient-checkpointing` (on in the flux preset, as in the seed's script) recomputes each block in the
    /// backward pass: the trained weights match a run that keeps the activations.
    func testGradientCheckpointingTrainsTheSameWeights() throws {
        let folder = try temporaryDirectory(self)
        var weights: [[String: Tensor]] = []
        for checkpointing in [true, false] {
            var settings = config()
            settings.gradientCheckpointing = checkpointing
            let trainer = try GRPOTrainer(
                task: try task(folder.appendingPathComponent("\(checkpointing)")), config: settings,
                runFolder: folder.appendingPathComponent("run-\(checkpointing)"))
            XCTAssertEqual((trainer.task.network as? FluxTransformer2DModel)?.gradientCheckpointing, checkpointing)
            _ = try trainer.step()
            weights.append(trainer.task.network.parameters())
        }
        var largest: Float = 0
        for (key, value) in weights[0] {
            let difference = (value - weights[1][key]!).abs().max().item(Float.self)
            largest = max(largest, difference)
        }
        XCTAssertLessThanOrEqual(largest, 1e-6, "max abs weight difference with and without checkpointing")
    }

    func testSeedLayoutCacheTrains() throws {
        let folder = Fixture.url("flux_seed_cache")
        let expected = try SafeTensors.load(folder.appendingPathComponent("expected.safetensors"))
        let cache = FluxEmbeddingCache(folder: folder)
        let entries = try cache.readManifest()
        XCTAssertEqual(entries.map(\.caption), ["a red apple on a table", "a lighthouse at dusk", "two cats asleep"])
        let loaded = try cache.load(entries)
        for i in 0..<3 {
            XCTAssertEqual(
                loaded.promptEmbeds[i].toArray(Float.self), expected["prompt_embed/\(i)"]!.toArray(Float.self))
            XCTAssertEqual(
                loaded.pooledPromptEmbeds[i].toArray(Float.self),
                expected["pooled_prompt_embeds/\(i)"]!.toArray(Float.self))
        }
        let pipeline = try FluxPipeline.load(from: Fixture.url("flux_mini"), dtype: .float32, loadTextEncoders: false)
        let task = try FluxTask(pipeline: pipeline, embeddings: folder, height: 32, width: 32)
        let trainer = try GRPOTrainer(task: task, config: config(), runFolder: try temporaryDirectory(self))
        let log = try trainer.step()
        XCTAssertEqual(log.ratioMax, 1, accuracy: 1e-5)
        XCTAssert(log.gradNorm.isFinite)
    }

    func testCacheFromAnotherModelIsRefused() throws {
        let folder = try temporaryDirectory(self)
        let cacheFolder = folder.appendingPathComponent("wrong")
        let cache = FluxEmbeddingCache(folder: cacheFolder)
        let embeddings = FluxPromptEmbeddings(
            promptEmbeds: Tensor.zeros([1, 4, 7]), pooledPromptEmbeds: Tensor.zeros([1, 5]),
            textIds: Tensor.zeros([4, 3]))
        var entry = try cache.write(index: 0, embeddings: embeddings, row: 0, dtype: .float32)
        entry.caption = "x"
        try cache.writeManifest([entry])
        let pipeline = try FluxPipeline.load(from: Fixture.url("flux_mini"), loadTextEncoders: false)
        XCTAssertThrowsError(try FluxTask(pipeline: pipeline, embeddings: cacheFolder, height: 32, width: 32)) {
            XCTAssert("\($0)".contains("expected joint_attention_dim"), "\($0)")
        }
        XCTAssertThrowsError(try FluxTask(pipeline: pipeline, embeddings: folder.appendingPathComponent("missing"))) {
            XCTAssert("\($0)".contains("videos2caption.json"), "\($0)")
        }
    }
}
