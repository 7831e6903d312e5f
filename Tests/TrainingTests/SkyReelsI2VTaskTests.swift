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

/// `train --model skyreels-i2v`: the miniature SkyReels folder (tools/goldens/skyreels_i2v_mini.py), a cache in the
/// seed's layout written from the folder's own text encoders (with the empty prompt's), first frames from a folder,
/// trained by the same GRPOTrainer as every family with the seed's classifier-free guidance.
final class SkyReelsI2VTaskTests: XCTestCase {
    private let prompts = ["A cat walks on the grass, realistic style.", "two blue cubes on a table"]

    /// A cache of `prompts` at 8 tokens and first frames `0.png`, `1.png` (the fixture image and its mirror).
    private func data() throws -> (cache: URL, frames: URL) {
        let root = try temporaryDirectory(self)
        let pipeline = try HunyuanSkyreelsImageToVideoPipeline.load(from: Fixture.url("skyreels_i2v_mini"))
        let cache = SkyReelsEmbeddingCache(folder: root.appendingPathComponent("cache"))
        let empty = SkyReelsEmbeddingCache(folder: cache.folder.appendingPathComponent("empty"))
        let all = pipeline.encode(prompts + [""], maxSequenceLength: 8)
        var entries: [SkyReelsEmbeddingCache.Entry] = []
        for (i, prompt) in (prompts + [""]).enumerated() {
            let target = prompt.isEmpty ? empty : cache
            let entry = try target.write(
                index: prompt.isEmpty ? 0 : i, promptEmbeds: all.promptEmbeds[i], attentionMask: all.attentionMask[i],
                pooledPromptEmbeds: all.pooledPromptEmbeds[i], caption: prompt, dtype: .float32)
            if prompt.isEmpty { try empty.writeManifest([entry]) } else { entries.append(entry) }
        }
        try cache.writeManifest(entries)
        let frames = root.appendingPathComponent("frames")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        let image = try PNGDecoder.decode(contentsOf: Fixture.url("skyreels_i2v_mini_image.png")).rgbImage()
        var mirrored = image
        for y in 0..<image.height {
            for x in 0..<image.width { mirrored[x, y] = image[image.width - 1 - x, y] }
        }
        try PNGEncoder.write(image, to: frames.appendingPathComponent("0.png"))
        try PNGEncoder.write(mirrored, to: frames.appendingPathComponent("1.png"))
        return (cache.folder, frames)
    }

    private func task(_ data: (cache: URL, frames: URL)) throws -> SkyReelsI2VTask {
        let pipeline = try HunyuanSkyreelsImageToVideoPipeline.load(
            from: Fixture.url("skyreels_i2v_mini"), dtype: .float32, loadTextEncoders: false)
        XCTAssertNil(pipeline.text)
        return try SkyReelsI2VTask(
            pipeline: pipeline, embeddings: data.cache, references: .folder(data.frames), frames: 5, height: 32,
            width: 32)
    }

    /// The conditioning holds the cached text (the pooled vector unpacked from row 0), each prompt's first-frame
    /// latents (one per prompt and draw, zero after latent frame 0) and the unconditional row's flag; the policy's
    /// guided call gives the empty prompt's rows their partners' first frames.
    func testConditioningAndGuidedFirstFrames() throws {
        let task = try task(try data())
        XCTAssertEqual(task.latentShape, [4, 2, 4, 4])
        let prompts = try task.trainingPrompts(count: 2, iteration: 0, seed: 3)
        let rows = [prompts[0], prompts[0], prompts[1]]
        let c = try task.conditioning(prompts: rows)
        XCTAssertEqual(c["prompt_embeds"].shape, [3, 8, 32])
        XCTAssertEqual(c["pooled_prompt_embeds"].shape, [3, 16])
        let images = c["image_latents"]
        XCTAssertEqual(images.shape, [3, 4, 2, 4, 4])
        XCTAssertEqual(maxAbsDifference(images[0], images[1]), 0, "a group shares its first frame")
        XCTAssertGreaterThan(maxAbsDifference(images[0], images[2]), 1e-3)
        XCTAssertEqual(images[0..., 0..., 1...].abs().max().item(Float.self), 0, "zeros after latent frame 0")
        let again = try task.conditioning(prompts: [prompts[0]])
        XCTAssertEqual(maxAbsDifference(again["image_latents"], images[0..<1]), 0, "a pure function of the draw")
        let later = try task.trainingPrompts(count: 2, iteration: 1, seed: 3)
        if let same = later.first(where: { $0.text == prompts[0].text }) {
            let redrawn = try task.conditioning(prompts: [same])["image_latents"]
            XCTAssertGreaterThan(maxAbsDifference(redrawn, images[0..<1]), 1e-4, "a new posterior draw each step")
        }

        let unconditional = try task.conditioning([""])
        XCTAssertEqual(unconditional["paired_image"].toArray(Float.self), [1])
        let policy = task.policy(reference: nil)
        let x = Random.normal([3] + task.latentShape, key: RandomKey(seed: 5))
        let t = Tensor([700, 700, 700] as [Float], shape: [3])
        let guided = policy.modelOutput(
            concatenated([x, x], axis: 0), timesteps: concatenated([t, t], axis: 0),
            conditioning: .concatenating(unconditional.rows([0, 0, 0]), c))
        let emptyText = HunyuanVideoPipeline.Conditioning(
            promptEmbeds: unconditional["prompt_embeds"].repeated(3, axis: 0),
            attentionMask: unconditional["attention_mask"].repeated(3, axis: 0),
            pooledPromptEmbeds: unconditional["pooled_prompt_embeds"].repeated(3, axis: 0))
        let expected = task.pipeline.velocity(
            x, imageLatents: images, timesteps: t, conditioning: emptyText, guidance: Tensor.full([3], 1000))
        XCTAssertLessThanOrEqual(maxAbsDifference(guided[0..<3], expected), 1e-5)
    }

    /// With the seed's guidance 5 and two prompts per iteration the first update's ratios are one, gradients are
    /// finite, the checkpoint holds the trained weights, and evaluation decodes videos.
    func testTrainingStartsAtRatioOneAndCheckpoints() throws {
        var config = GRPOTrainer.Config.skyreelsI2V.shrunkForTests()
        XCTAssertEqual(config.guidanceScale, 5)
        config.promptsPerIteration = 2
        config.gradientAccumulationSteps = 4
        let trainer = try GRPOTrainer(
            task: try task(try data()), config: config,
            runFolder: try temporaryDirectory(self).appendingPathComponent("run"))
        let first = try trainer.step()
        XCTAssertEqual(first.ratioMin, 1, accuracy: 1e-5)
        XCTAssertEqual(first.ratioMax, 1, accuracy: 1e-5)
        XCTAssert(first.gradNorm.isFinite && first.gradNorm > 0, "\(first.gradNorm)")
        let second = try trainer.step()
        XCTAssert(second.rewardMean.values.allSatisfy(\.isFinite), "\(second.rewardMean)")
        let checkpoint = try trainer.saveCheckpoint()
        let reloaded = try HunyuanVideoTransformer3DModel.load(from: checkpoint.appendingPathComponent("transformer"))
        for (key, value) in trainer.task.network.parameters() {
            XCTAssertEqual(reloaded.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
        let evaluation = try trainer.evaluate()
        XCTAssertEqual(evaluation.images.count, 2)
        XCTAssert(evaluation.meanReward.isFinite)
        print("SkyReels-I2V GRPO: first ratios \(first.ratioMin)…\(first.ratioMax), grad norm \(first.gradNorm)")
    }

    /// The trainer's features on the SkyReels path: LoRA on the attention projections, EMA, the KL penalty against
    /// the frozen reference and bf16 mixed precision train with finite statistics; a run interrupted after one
    /// iteration and resumed from its checkpoint continues exactly as the uninterrupted one (the first frames are a
    /// function of seed and iteration).
    func testLoRAEMAKLMixedPrecisionAndResume() throws {
        let data = try data()
        var features = GRPOTrainer.Config.skyreelsI2V.shrunkForTests()
        features.loraRank = 4
        features.emaDecay = 0.9
        features.beta = 0.01
        features.mixedPrecision = .bf16
        let folder = try temporaryDirectory(self)
        let withFeatures = try GRPOTrainer(
            task: try task(data), config: features, runFolder: folder.appendingPathComponent("features"))
        let log = try withFeatures.step()
        XCTAssert(log.gradNorm.isFinite && log.gradNorm > 0, "\(log.gradNorm)")
        XCTAssert(log.rewardMean.values.allSatisfy(\.isFinite))
        XCTAssertFalse(withFeatures.task.network.parameters().keys.filter { $0.contains("lora") }.isEmpty)

        let config = GRPOTrainer.Config.skyreelsI2V.shrunkForTests()
        let straight = try GRPOTrainer(
            task: try task(data), config: config, runFolder: folder.appendingPathComponent("straight"))
        _ = try straight.step()
        let second = try straight.step()
        let interrupted = try GRPOTrainer(
            task: try task(data), config: config, runFolder: folder.appendingPathComponent("interrupted"))
        _ = try interrupted.step()
        let saved = try interrupted.saveCheckpoint()
        let resumed = try GRPOTrainer(
            task: try task(data), config: config, runFolder: folder.appendingPathComponent("interrupted"))
        try resumed.resume(from: saved)
        let again = try resumed.step()
        XCTAssertEqual(again.rewardMean, second.rewardMean)
        for (key, value) in straight.task.network.parameters() {
            XCTAssertEqual(resumed.task.network.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
    }

    /// A cache DanceGRPO wrote (tools/goldens/skyreels_seed_cache.py: bf16 `torch.save` states with the pooled vector
    /// in row 0, int64 masks, the empty prompt's cache beside it as data/empty) gives the text conditioning diffusers'
    /// `encode_prompt` gives, to bf16's precision.
    func testSeedCacheIsRead() throws {
        let seed = Fixture.url("skyreels_i2v_mini_seed_cache")
        let expected = try SafeTensors.load(seed.appendingPathComponent("expected.safetensors"))
        let pipeline = try HunyuanSkyreelsImageToVideoPipeline.load(
            from: Fixture.url("skyreels_i2v_mini"), loadTextEncoders: false)
        let task = try SkyReelsI2VTask(
            pipeline: pipeline, embeddings: seed.appendingPathComponent("rl_embeddings"),
            references: .folder(try data().frames), frames: 5, height: 32, width: 32)
        var worst: Float = 0
        for (i, name) in ["0", "1", "empty"].enumerated() {
            let c = try task.conditioning([i < 2 ? prompts[i] : ""])
            XCTAssertEqual(maxAbsDifference(c["attention_mask"][0], expected["attention_mask.\(name)"]!), 0)
            for (key, golden) in [("prompt_embeds", "prompt_embeds"), ("pooled_prompt_embeds", "pooled")] {
                let reference = expected["\(golden).\(name)"]!
                let error = maxAbsDifference(c[key][0], reference)
                let scale = reference.abs().max().item(Float.self)
                XCTAssertLessThanOrEqual(error, 1e-2 * scale, "\(key) \(name): bf16 rounding only")
                worst = max(worst, error / scale)
            }
        }
        print("SkyReels-I2V seed cache: max relative error \(worst) (bf16 files)")
    }

    /// A cache without the empty prompt's is refused with the command that writes it.
    func testMissingEmptyPromptIsNamed() throws {
        let data = try data()
        try FileManager.default.removeItem(at: data.cache.appendingPathComponent("empty"))
        XCTAssertThrowsError(try task(data)) {
            XCTAssert("\($0)".contains("preprocess --model skyreels-i2v"), "\($0)")
        }
    }
}
