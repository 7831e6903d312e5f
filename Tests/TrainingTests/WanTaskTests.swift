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
    /// The Wan preset shrunk for tests on `wan_mini`, classifier-free guidance 5 kept (as the seed's Wan script).
    static var tinyWan: GRPOTrainer.Config { GRPOTrainer.Config.wan.shrunkForTests() }
}

/// `train --model wan`: the miniature diffusers Wan folder written by diffusers' save_pretrained and the seed's own
/// embedding cache layout (bf16 `torch.save` pickles), trained by the same GRPOTrainer as every family, as an image
/// model (1 frame, as DanceGRPO) and as a video model.
final class WanTaskTests: XCTestCase {
    private let prompts = ["a red fox running in the snow", "two blue cubes on a table", "a sailing boat at sunset"]

    private func task(frames: Int = 1, rewardFrames: RewardFrames = .first) throws -> WanTask {
        let pipeline = try WanPipeline.load(from: Fixture.url("wan_mini"), dtype: .float32)
        return try WanTask(
            pipeline: pipeline, embeddings: Fixture.url("wan_mini_embeddings"), frames: frames, height: 32, width: 32,
            rewardFrames: rewardFrames)
    }

    func testSeedCacheConditioningAndDecoding() throws {
        let task = try task(frames: 5, rewardFrames: .all)
        XCTAssertEqual(task.entries.map(\.caption), prompts)
        XCTAssertEqual(task.latentShape, [4, 2, 4, 4], "5 frames → 2 latent frames; 32 px → 4 latent cells")
        let conditioning = try task.conditioning([prompts[1], ""])
        XCTAssertEqual(conditioning["prompt_embeds"].shape, [2, 8, 16])
        // The seed's cache pads each prompt with zeros past its length (prompt 1: 4 tokens) and "" is the negative.
        let rows = conditioning["prompt_embeds"].abs().sum(axis: 2).toArray(Float.self)
        XCTAssert(rows[0..<4].allSatisfy { $0 > 0 } && rows[4..<8].allSatisfy { $0 == 0 }, "\(rows)")
        XCTAssert(rows[8] > 0 && rows[9..<16].allSatisfy { $0 == 0 }, "\(rows)")
        XCTAssertThrowsError(try task.conditioning(["not cached"])) {
            XCTAssert("\($0)".contains("no cached embedding"), "\($0)")
        }

        let latents = Random.normal([2] + task.latentShape, key: RandomKey(seed: 1))
        let videos = try task.videos(latents)
        XCTAssertEqual(videos.count, 2)
        XCTAssertEqual(videos[0].count, 5, "1 + 4·(2 − 1) frames")
        XCTAssertEqual([videos[0][0].width, videos[0][0].height], [32, 32])
        XCTAssertEqual(try task.images(latents), videos.map { $0[0] })
        guard case .video(let frames, _) = try task.samples(latents)[1] else { return XCTFail("expected a video") }
        XCTAssertEqual(frames, videos[1])
        let middle = try self.task(frames: 5, rewardFrames: .middle)
        XCTAssertEqual(try middle.samples(latents)[0], .image(videos[0][2]))
    }

    func testCacheFromAnotherModelIsRefused() throws {
        let folder = try temporaryDirectory(self)
        let cache = WanEmbeddingCache(folder: folder)
        let entry = try cache.write(
            index: 0, promptEmbeds: Tensor.zeros([4, 7]), negativePromptEmbeds: Tensor.zeros([4, 7]), caption: "x",
            dtype: .float32)
        try cache.writeManifest([entry])
        let pipeline = try WanPipeline.load(from: Fixture.url("wan_mini"))
        XCTAssertThrowsError(try WanTask(pipeline: pipeline, embeddings: folder)) {
            XCTAssert("\($0)".contains("expected the transformer's text_dim 16"), "\($0)")
        }
        XCTAssertThrowsError(try WanTask(pipeline: pipeline, embeddings: folder.appendingPathComponent("missing"))) {
            XCTAssert("\($0)".contains("videos2caption.json"), "\($0)")
        }
        XCTAssertThrowsError(try WanPipeline.load(from: folder)) {
            XCTAssert("\($0)".contains("not a diffusers Wan folder: missing transformer, vae"), "\($0)")
        }
    }

    /// With guidance 5 the first update's ratios are one (rollout and training score the same guided transitions),
    /// losses and gradients are finite, and the checkpoint is a diffusers transformer folder holding the trained
    /// weights; for one frame (the seed's setting) and for a 5-frame video.
    func testTrainingStartsAtRatioOneAndCheckpointsForImagesAndVideos() throws {
        for frames in [1, 5] {
            let trainer = try GRPOTrainer(
                task: try task(frames: frames), config: .tinyWan,
                runFolder: try temporaryDirectory(self).appendingPathComponent("run-\(frames)"))
            XCTAssertEqual((trainer.task.network as? WanTransformer3DModel)?.gradientCheckpointing, true)
            let first = try trainer.step()
            XCTAssertEqual(first.ratioMin, 1, accuracy: 1e-5, "\(frames) frames")
            XCTAssertEqual(first.ratioMax, 1, accuracy: 1e-5, "\(frames) frames")
            XCTAssert(first.gradNorm.isFinite && first.gradNorm > 0, "\(frames) frames: \(first.gradNorm)")
            let second = try trainer.step()
            XCTAssert(second.rewardMean.values.allSatisfy(\.isFinite), "\(second.rewardMean)")
            let checkpoint = try trainer.saveCheckpoint()
            let reloaded = try WanTransformer3DModel.load(from: checkpoint.appendingPathComponent("transformer"))
            for (key, value) in trainer.task.network.parameters() {
                XCTAssertEqual(reloaded.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
            }
            let evaluation = try trainer.evaluate()
            XCTAssertEqual(evaluation.images.count, 2)
            XCTAssert(evaluation.meanReward.isFinite)
        }
    }

    /// The trainer's features on the Wan path: LoRA on the attention projections, EMA, the KL penalty against the
    /// frozen reference and bf16 mixed precision train with finite statistics, and a run interrupted after one
    /// iteration and resumed from its checkpoint continues exactly as the uninterrupted one.
    func testLoRAEMAKLMixedPrecisionAndResume() throws {
        var features = GRPOTrainer.Config.tinyWan
        features.loraRank = 4
        features.emaDecay = 0.9
        features.beta = 0.01
        features.mixedPrecision = .bf16
        let folder = try temporaryDirectory(self)
        let withFeatures = try GRPOTrainer(
            task: try task(frames: 5), config: features, runFolder: folder.appendingPathComponent("features"))
        let log = try withFeatures.step()
        XCTAssert(log.gradNorm.isFinite && log.gradNorm > 0, "\(log.gradNorm)")
        XCTAssert(log.rewardMean.values.allSatisfy(\.isFinite))
        let adapters = withFeatures.task.network.parameters().keys.filter { $0.contains("lora") }
        XCTAssertFalse(adapters.isEmpty, "LoRA adapters on Wan's to_q/to_k/to_v/to_out.0")

        let straight = try GRPOTrainer(
            task: try task(), config: .tinyWan, runFolder: folder.appendingPathComponent("straight"))
        _ = try straight.step()
        let second = try straight.step()
        let interrupted = try GRPOTrainer(
            task: try task(), config: .tinyWan, runFolder: folder.appendingPathComponent("interrupted"))
        _ = try interrupted.step()
        let saved = try interrupted.saveCheckpoint()
        let resumed = try GRPOTrainer(
            task: try task(), config: .tinyWan, runFolder: folder.appendingPathComponent("interrupted"))
        try resumed.resume(from: saved)
        let again = try resumed.step()
        XCTAssertEqual(again.rewardMean, second.rewardMean)
        for (key, value) in straight.task.network.parameters() {
            XCTAssertEqual(resumed.task.network.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
    }

    /// The folder's own text side (UMT5 and its tokenizer) gives the states diffusers' `WanPipeline.encode_prompt`
    /// gives, prompt and empty negative prompt alike: what `dancegrpo preprocess --model wan` caches.
    func testTextEncoderMatchesWanPipelineEncodePrompt() throws {
        let golden = try SafeTensors.load(Fixture.url("wan_mini_preprocess.safetensors"))
        let encoder = try WanTextEncoder.load(from: Fixture.url("wan_mini"))
        let (prompt, negative) = encoder.encode(prompts, negativePrompt: "", maxSequenceLength: 16)
        for (name, actual) in [("prompt_embeds", prompt), ("negative_prompt_embeds", negative)] {
            let expected = golden[name]!
            XCTAssertEqual(actual.shape, expected.shape, name)
            let scale = expected.abs().max().item(Float.self)
            XCTAssertLessThanOrEqual(maxAbsDifference(actual, expected), 1e-4 * scale, name)
        }
    }
}
