import Checkpoints
import Engine
import Foundation
import GRPO
import Imaging
import Models
import NN
import Rewards
import TestSupport
import Training
import XCTest

extension GRPOTrainer.Config {
    /// The Qwen-Image-Edit preset shrunk for tests on `qwen_image_edit_mini`: both cached samples in each iteration
    /// (conditions of two sizes and instructions of two lengths sharing calls), one optimizer step per iteration.
    static var tinyQwenImageEdit: GRPOTrainer.Config {
        var c = GRPOTrainer.Config.qwenImageEdit.shrunkForTests()
        c.promptsPerIteration = 2
        c.gradientAccumulationSteps = 4
        return c
    }
}

/// `train --model qwen-image-edit`: the miniature diffusers Qwen-Image-Edit folder, a cache in the seed's layout
/// written from two source images (a wide and a tall one, so their conditions differ in size) by the preprocessing
/// that diffusers' `QwenImageEditPipeline` matches, trained by the one GRPOTrainer.
final class QwenImageEditTaskTests: XCTestCase {
    private let folder = Fixture.url("qwen_image_edit_mini")
    private let golden = "qwen_image_edit_mini_pipeline.safetensors"
    /// The golden's condition area (64²; diffusers' is 1024²).
    private let area = 4096

    /// A two-colour test picture of `width × height`.
    private func picture(width: Int, height: Int, seed: Int) -> [UInt8] {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 { pixels[(y * width + x) * 3 + c] = UInt8((x * 37 + y * 11 + c * 71 + seed * 13) % 256) }
            }
        }
        return pixels
    }

    /// A cache of a 40×24 and a 24×40 picture; `duplicate` gives both the same instruction.
    private func writeCache(duplicate: Bool = false) throws -> URL {
        let out = try temporaryDirectory(self)
        let preprocessing = try QwenImageEditPreprocessing.load(from: folder)
        let cache = QwenImageEditEmbeddingCache(folder: out)
        let instructions = duplicate ? ["make it blue", "make it blue"] : ["make it blue", "add a red hat to the cat"]
        var entries: [QwenImageEditEmbeddingCache.Entry] = []
        for (i, (w, h)) in [(40, 24), (24, 40)].enumerated() {
            let encoded = try preprocessing.encode(
                rgb: picture(width: w, height: h, seed: i), height: h, width: w, instruction: instructions[i],
                targetArea: area)
            entries.append(
                try cache.write(
                    index: i, promptEmbeds: encoded.promptEmbeds, imageLatents: encoded.imageLatents,
                    caption: instructions[i], calculatedSize: encoded.calculated, paddedLength: 256, dtype: .float32))
        }
        try cache.writeManifest(entries)
        return out
    }

    private func makeTask(_ embeddings: URL) throws -> QwenImageEditTask {
        let networks = try QwenImageEditTask.loadNetworks(from: folder, dtype: .float32)
        return try QwenImageEditTask(
            transformer: networks.transformer, vae: networks.vae, embeddings: embeddings, height: 32, width: 32)
    }

    /// The seed's `calculate_embeds` as written here gives diffusers' `encode_prompt(image=…)` states and
    /// `_encode_vae_image` latents for the golden's condition image (packed as `prepare_latents` packs them) within
    /// 1e-4 of their scale, at the calculated size 96 × 64; the cache keeps them through its padding.
    func testPreprocessingMatchesDiffusers() throws {
        let expected = try Fixture.load(golden)
        let png = try PNGDecoder.decode(contentsOf: Fixture.url("qwen_image_edit_mini_condition.png"))
        let rgb = try png.rgbImage()
        let preprocessing = try QwenImageEditPreprocessing.load(from: folder)
        let encoded = try preprocessing.encode(
            rgb: rgb.pixels, height: rgb.height, width: rgb.width,
            instruction: "Turn the sky purple \u{7d2b}\u{8272} and add 3 stars \u{2b50}", targetArea: area)
        XCTAssertEqual(encoded.calculated.height, 64)
        XCTAssertEqual(encoded.calculated.width, 96)
        let states = expected["prompt_embeds"]![0]
        let latents = expected["image_latents"]![0]
        let cache = QwenImageEditEmbeddingCache(folder: try temporaryDirectory(self))
        let entry = try cache.write(
            index: 0, promptEmbeds: encoded.promptEmbeds, imageLatents: encoded.imageLatents, caption: "x",
            calculatedSize: encoded.calculated, paddedLength: 200, dtype: .float32)
        XCTAssertEqual(entry.originalLength, 172)
        let sample = try cache.load(entry)
        for (name, actual, reference) in [
            ("prompt_embeds", sample.promptEmbeds, states), ("image_latents", sample.condition.latents, latents)
        ] {
            XCTAssertEqual(actual.shape, reference.shape, name)
            let scale = reference.abs().max().item(Float.self)
            let error = maxAbsDifference(actual, reference)
            XCTAssertLessThanOrEqual(error, 1e-4 * scale, name)
            print("qwen-image-edit preprocessing: \(name) max abs error \(error) (scale \(scale))")
        }
        XCTAssertEqual(sample.condition.shape.height, 4)
        XCTAssertEqual(sample.condition.shape.width, 6)
    }

    /// Rows of one call carry their own instruction length and condition size; a row's velocity is the same alone as
    /// beside a row with another condition size (separate transformer calls, no padded condition token attended to),
    /// and the condition image matters. Samples sharing an instruction stay apart through the prompts' metadata.
    func testConditioningPerSampleAndVelocity() throws {
        let task = try makeTask(try writeCache())
        XCTAssertEqual(task.latentShape, [4, 16])
        let both = try task.conditioning(indices: [0, 1])
        XCTAssertEqual(both["condition_grid"].toArray(Int32.self), [4, 6, 6, 4])
        XCTAssertEqual(both["condition_latents"].shape, [2, 24, 16])
        let policy = task.policy(reference: nil)
        let x = Random.normal([1] + task.latentShape, key: RandomKey(seed: 2))
        let t = Tensor([Float(750)])
        let alone = policy.modelOutput(x, timesteps: t, conditioning: try task.conditioning(indices: [1]))
        let beside = policy.modelOutput(
            concatenated([x, x], axis: 0), timesteps: Tensor([Float(750), 750]),
            conditioning: try task.conditioning(indices: [0, 1]))[1..<2]
        let scale = alone.abs().max().item(Float.self)
        XCTAssertGreaterThan(scale, 0)
        XCTAssertLessThanOrEqual(maxAbsDifference(beside, alone), 1e-5 * scale)
        var swapped = try task.conditioning(indices: [1])
        swapped.tensors["condition_latents"] = swapped["condition_latents"] * 0.5
        let other = policy.modelOutput(x, timesteps: t, conditioning: swapped)
        XCTAssertGreaterThan(maxAbsDifference(other, alone), 1e-3 * scale, "the condition image must matter")
        XCTAssertThrowsError(try task.conditioning([""])) {
            XCTAssert("\($0)".contains("without classifier-free guidance"), "\($0)")
        }

        let shared = try makeTask(try writeCache(duplicate: true))
        let prompts = try shared.trainingPrompts(count: 2, iteration: 0, seed: 1)
        XCTAssertEqual(Set(prompts.map(\.text)), ["make it blue"])
        let grids = try shared.conditioning(prompts: prompts)["condition_grid"].toArray(Int32.self)
        XCTAssertEqual(Set([Array(grids[0..<2]), Array(grids[2..<4])]), [[4, 6], [6, 4]], "both samples, not one twice")
    }

    /// The seed's own cache (`torch.save` pickles: bf16 states padded past `original_length`, int64 masks, bf16
    /// `[z, 1, h, w]` latents, written by diffusers as the seed's preprocessing does:
    /// tools/goldens/qwen_image_edit_seed_cache.py) loads within bf16 rounding of the float32 tensors, packed, and
    /// trains from a ratio of one.
    func testSeedCacheLoadsAndTrains() throws {
        let task = try makeTask(Fixture.url("qwen_image_edit_seed_cache"))
        XCTAssertEqual(task.entries.map(\.caption), ["make the sky red", "add a hat"])
        let reference = try Fixture.load("qwen_image_edit_seed_preprocess.safetensors")
        let conditioning = try task.conditioning(indices: [0, 1])
        XCTAssertEqual(conditioning["prompt_embeds"].shape, [2, 148, 32])
        XCTAssertEqual(conditioning["condition_grid"].toArray(Int32.self), [4, 6, 6, 4])
        for (i, length) in [(0, 148), (1, 146)] {
            let states = conditioning["prompt_embeds"][i][0..<length]
            let expected = reference["prompt_embeds.\(i)"]!
            let scale = expected.abs().max().item(Float.self)
            XCTAssertLessThanOrEqual(maxAbsDifference(states, expected), scale / 128, "bf16 rounding")
            let latents = reference["image_latents.\(i)"]!.expandedDims(axis: 0)
            let packed = QwenImageLatents.pack(latents)[0]
            XCTAssertLessThanOrEqual(
                maxAbsDifference(conditioning["condition_latents"][i], packed),
                packed.abs().max().item(Float.self) / 128)
        }
        XCTAssertEqual(conditioning["prompt_mask"][1].toArray(Float.self), Array(repeating: 1, count: 146) + [0, 0])
        let trainer = try GRPOTrainer(
            task: task, config: .tinyQwenImageEdit, runFolder: try temporaryDirectory(self).appendingPathComponent("r"))
        let log = try trainer.step()
        XCTAssertEqual(log.ratioMin, 1, accuracy: 1e-5)
        XCTAssertEqual(log.ratioMax, 1, accuracy: 1e-5)
        XCTAssert(log.gradNorm.isFinite && log.gradNorm > 0, "\(log.gradNorm)")
    }

    /// LoRA on the attention projections with bf16 mixed precision (the condition latents cast with the text, the
    /// condition grid left as integers), and EMA with the KL penalty against the frozen reference, train with finite
    /// statistics.
    func testLoRAMixedPrecisionEMAAndKL() throws {
        let cache = Fixture.url("qwen_image_edit_seed_cache")
        let folder = try temporaryDirectory(self)
        var lora = GRPOTrainer.Config.tinyQwenImageEdit
        lora.loraRank = 4
        lora.mixedPrecision = .bf16
        let adapted = try GRPOTrainer(
            task: try makeTask(cache), config: lora, runFolder: folder.appendingPathComponent("lora"))
        let log = try adapted.step()
        XCTAssert(log.gradNorm.isFinite && log.gradNorm > 0, "\(log.gradNorm)")
        XCTAssertFalse(adapted.task.network.parameters().keys.filter { $0.contains("lora") }.isEmpty)

        var features = GRPOTrainer.Config.tinyQwenImageEdit
        features.emaDecay = 0.9
        features.beta = 0.01
        let withFeatures = try GRPOTrainer(
            task: try makeTask(cache), config: features, runFolder: folder.appendingPathComponent("features"))
        let stats = try withFeatures.step()
        XCTAssert(stats.gradNorm.isFinite && stats.gradNorm > 0 && stats.referenceKL.isFinite, "\(stats)")
    }

    /// The first update's ratios are one, losses and gradients finite, the checkpoint a diffusers transformer folder
    /// holding the trained weights; a run interrupted after one iteration and resumed from its checkpoint continues
    /// exactly as the uninterrupted one.
    func testTrainingStartsAtRatioOneCheckpointsAndResumes() throws {
        let cache = try writeCache()
        let folder = try temporaryDirectory(self)
        let straight = try GRPOTrainer(
            task: try makeTask(cache), config: .tinyQwenImageEdit, runFolder: folder.appendingPathComponent("straight"))
        let first = try straight.step()
        XCTAssertEqual(first.ratioMin, 1, accuracy: 1e-5)
        XCTAssertEqual(first.ratioMax, 1, accuracy: 1e-5)
        XCTAssertEqual(first.skippedSteps, 0, "no step skipped for a non-finite loss: \(first.skipReasons)")
        XCTAssert(first.gradNorm.isFinite && first.gradNorm > 0, "\(first.gradNorm)")
        XCTAssert(first.approxKL.isFinite && first.clipFraction.isFinite, "\(first)")
        let second = try straight.step()
        let checkpoint = try straight.saveCheckpoint()
        let reloaded = try QwenImageTransformer2DModel.load(from: checkpoint.appendingPathComponent("transformer"))
        for (key, value) in straight.task.network.parameters() {
            XCTAssertEqual(reloaded.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }

        let interrupted = try GRPOTrainer(
            task: try makeTask(cache), config: .tinyQwenImageEdit,
            runFolder: folder.appendingPathComponent("interrupted"))
        _ = try interrupted.step()
        let saved = try interrupted.saveCheckpoint()
        let resumed = try GRPOTrainer(
            task: try makeTask(cache), config: .tinyQwenImageEdit,
            runFolder: folder.appendingPathComponent("interrupted"))
        try resumed.resume(from: saved)
        let again = try resumed.step()
        XCTAssertEqual(again.rewardMean, second.rewardMean)
        for (key, value) in straight.task.network.parameters() {
            XCTAssertEqual(resumed.task.network.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
    }
}
