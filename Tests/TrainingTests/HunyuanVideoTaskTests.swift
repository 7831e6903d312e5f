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
    /// The HunyuanVideo preset shrunk for tests on `hunyuan_video_mini`: 4 samples of one prompt, best-of-2 trained
    /// (the preset's best-of-N path), the Dance SDE at η 0.25 and shift 5 kept.
    static var tinyHunyuanVideo: GRPOTrainer.Config {
        var c = GRPOTrainer.Config.hunyuanVideo.shrunkForTests()
        c.numGenerations = 4
        c.bestOfN = 2
        c.rolloutBatchSize = 4
        return c
    }
}

/// `train --model hunyuan-video`: the miniature diffusers HunyuanVideo folder and the seed's own embedding cache layout
/// (`torch.save` pickles of the packed CLIP + Llama rows, written by tools/goldens/hunyuan_video_seed_cache.py),
/// trained by the same GRPOTrainer as every family.
final class HunyuanVideoTaskTests: XCTestCase {
    private let captions = [
        "a cat", "two blue cubes on a table", "A cat walks on the grass, realistic style, sunny afternoon."
    ]

    private func task(frames: Int = 5, rewardFrames: RewardFrames = .all) throws -> HunyuanVideoTask {
        let networks = try HunyuanVideoTask.loadNetworks(from: Fixture.url("hunyuan_video_mini"), dtype: .float32)
        return try HunyuanVideoTask(
            transformer: networks.transformer, vae: networks.vae,
            embeddings: Fixture.url("hunyuan_video_mini_embeddings"), frames: frames, height: 32, width: 32,
            rewardFrames: rewardFrames)
    }

    /// The seed's packed rows split as its transformer splits them (row 0's first 16 features: CLIP's pooled vector;
    /// rows 1…: the Llama states, with the mask), exactly the values the generator saved; 5 frames of 32 px are
    /// latents [4, 2, 4, 4] and decode to 5 frames that the rewards see whole.
    func testSeedCacheConditioningAndDecoding() throws {
        let task = try task()
        XCTAssertEqual(task.entries.map(\.caption), captions)
        XCTAssertEqual(task.latentShape, [4, 2, 4, 4], "5 frames → 2 latent frames; 32 px → 4 latent cells")
        let expected = try SafeTensors.load(Fixture.url("hunyuan_video_mini_embeddings/expected.safetensors"))
        let c = try task.conditioning([captions[0], captions[2]])
        XCTAssertEqual(c["prompt_embeds"].shape, [2, 32, 32])
        XCTAssertEqual(c["prompt_attention_mask"].shape, [2, 32])
        XCTAssertEqual(c["pooled_prompt_embeds"].shape, [2, 16])
        XCTAssertEqual(c["prompt_attention_mask"].dtype, .int32)
        XCTAssertEqual(c["prompt_attention_mask"].sum(axis: 1).toArray(Int32.self), [4, 32], "the prompts' tokens")
        for (row, file) in [(0, 0), (1, 2)] {
            let packed = expected["prompt_embed/\(file)"]!
            XCTAssertEqual(c["prompt_embeds"][row].toArray(Float.self), packed[1..<33].toArray(Float.self))
            XCTAssertEqual(c["pooled_prompt_embeds"][row].toArray(Float.self), packed[0][0..<16].toArray(Float.self))
            XCTAssertEqual(packed[0][16..<32].abs().max().item(Float.self), 0, "the pooled vector's zero padding")
            XCTAssertEqual(
                c["prompt_attention_mask"][row].toArray(Int32.self),
                expected["prompt_attention_mask/\(file)"]!.toArray(Float.self).map { Int32($0) })
        }
        XCTAssertThrowsError(try task.conditioning([""])) {
            XCTAssert("\($0)".contains("keep --guidance-scale 1"), "\($0)")
        }
        XCTAssertThrowsError(try task.conditioning(["not cached"])) {
            XCTAssert("\($0)".contains("no cached embedding for the prompt 'not cached'"), "\($0)")
        }

        let latents = Random.normal([2] + task.latentShape, key: RandomKey(seed: 1))
        let videos = try task.videos(latents)
        XCTAssertEqual(videos.map(\.count), [5, 5], "1 + 4·(2 − 1) frames")
        XCTAssertEqual([videos[0][0].width, videos[0][0].height], [32, 32])
        XCTAssertEqual(try task.images(latents), videos.map { $0[0] })
        guard case .video(let frames, let fps) = try task.samples(latents)[1] else {
            return XCTFail("expected a video")
        }
        XCTAssertEqual(frames, videos[1])
        XCTAssertEqual(fps, 8, "the seed's --fps 8")
        XCTAssertEqual(try self.task(rewardFrames: .middle).samples(latents)[0], .image(videos[0][2]))

        // diffusers' HunyuanVideoPipeline decodes its final latents to these videos in [0, 1]
        // (hunyuan_video_mini.py): the task's frames are them in 8 bits.
        let pipeline = try SafeTensors.load(Fixture.url("hunyuan_video_mini_pipeline.safetensors"))
        let decoded = try task.videos(pipeline["final_latents"]!)
        let reference = pipeline["video"]!.toArray(Float.self)
        let ours = decoded.flatMap { $0.flatMap(\.pixels) }.map { Float($0) / 255 }
        XCTAssertEqual(ours.count, reference.count)
        let error = zip(ours, reference).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(error, 0.5 / 255 + 1e-4, "8-bit rounding of diffusers' decoded video")
    }

    /// The first update's ratios are one (rollout and training score the same transitions through the same policy),
    /// the gradient is finite and nonzero, the weights move, the checkpoint is a diffusers transformer folder that
    /// loads back to the trained weights, and the policy gets the seed's embedded guidance.
    func testTrainingStartsAtRatioOneAndCheckpoints() throws {
        let trainer = try GRPOTrainer(
            task: try task(), config: .tinyHunyuanVideo,
            runFolder: try temporaryDirectory(self).appendingPathComponent("run"))
        let task = try XCTUnwrap(trainer.task as? HunyuanVideoTask)
        XCTAssertEqual(task.guidance, 6016)
        XCTAssertEqual(Tensor([6018] as [Float]).asType(.bfloat16).asType(.float32).item(Float.self), 6016)
        XCTAssertEqual(task.transformer.gradientCheckpointing, true)
        let before = task.network.parameters().mapValues { $0.toArray(Float.self) }
        let first = try trainer.step()
        XCTAssertEqual(first.ratioMin, 1, accuracy: 1e-5)
        XCTAssertEqual(first.ratioMax, 1, accuracy: 1e-5)
        XCTAssert(first.gradNorm.isFinite && first.gradNorm > 0, "\(first.gradNorm)")
        let after = task.network.parameters()
        let moved = before.filter { key, value in after[key]!.toArray(Float.self) != value }.count
        XCTAssertGreaterThan(moved, before.count / 2, "\(moved) of \(before.count) tensors changed")
        let second = try trainer.step()
        XCTAssert(second.rewardMean.values.allSatisfy(\.isFinite), "\(second.rewardMean)")
        let checkpoint = try trainer.saveCheckpoint()
        let reloaded = try HunyuanVideoTransformer3DModel.load(from: checkpoint.appendingPathComponent("transformer"))
        for (key, value) in task.network.parameters() {
            XCTAssertEqual(reloaded.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
        let evaluation = try trainer.evaluate()
        XCTAssertEqual(evaluation.images.count, 2)
        XCTAssert(evaluation.meanReward.isFinite)
    }

    /// A run interrupted after one iteration and resumed from its checkpoint continues exactly as the uninterrupted
    /// one: the same rewards and the same weights, bit for bit.
    func testResumeIsExact() throws {
        let folder = try temporaryDirectory(self)
        let straight = try GRPOTrainer(
            task: try task(), config: .tinyHunyuanVideo, runFolder: folder.appendingPathComponent("straight"))
        _ = try straight.step()
        let second = try straight.step()
        let interrupted = try GRPOTrainer(
            task: try task(), config: .tinyHunyuanVideo, runFolder: folder.appendingPathComponent("interrupted"))
        _ = try interrupted.step()
        let saved = try interrupted.saveCheckpoint()
        let resumed = try GRPOTrainer(
            task: try task(), config: .tinyHunyuanVideo, runFolder: folder.appendingPathComponent("interrupted"))
        try resumed.resume(from: saved)
        let again = try resumed.step()
        XCTAssertEqual(again.rewardMean, second.rewardMean)
        for (key, value) in straight.task.network.parameters() {
            XCTAssertEqual(resumed.task.network.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
    }

    /// The trainer's features on the HunyuanVideo path: LoRA on the attention projections, EMA, the KL penalty against
    /// the frozen reference and bf16 mixed precision train with finite statistics, and the first ratios stay one.
    func testLoRAEMAKLAndMixedPrecision() throws {
        var features = GRPOTrainer.Config.tinyHunyuanVideo
        features.loraRank = 4
        features.emaDecay = 0.9
        features.beta = 0.01
        features.mixedPrecision = .bf16
        let trainer = try GRPOTrainer(
            task: try task(), config: features, runFolder: try temporaryDirectory(self).appendingPathComponent("run"))
        let adapters = trainer.task.network.parameters().keys.filter { $0.contains("lora") }
        XCTAssertFalse(adapters.isEmpty, "LoRA adapters on HunyuanVideo's to_q/to_k/to_v/to_out.0")
        let log = try trainer.step()
        XCTAssert(log.gradNorm.isFinite && log.gradNorm > 0, "\(log.gradNorm)")
        XCTAssert(log.rewardMean.values.allSatisfy(\.isFinite), "\(log.rewardMean)")
        XCTAssertEqual(log.ratioMin, 1, accuracy: 1e-3)
        XCTAssertEqual(log.ratioMax, 1, accuracy: 1e-3)
        let checkpoint = try trainer.saveCheckpoint()
        XCTAssertNoThrow(try RunFolder.checkNetwork(of: checkpoint, networkFolder: "transformer", lora: true))
    }

    /// A cache of another width, a missing manifest, files that are not the seed's packed rows and a folder without a
    /// transformer are refused, each naming what is wrong.
    func testBadInputIsNamed() throws {
        let networks = try HunyuanVideoTask.loadNetworks(from: Fixture.url("hunyuan_video_mini"))
        let folder = try temporaryDirectory(self)
        let cache = HunyuanVideoEmbeddingCache(folder: folder)
        let entry = try cache.write(
            index: 0, promptEmbeds: Tensor.zeros([4, 24]), attentionMask: Tensor.ones([4]),
            pooledPromptEmbeds: Tensor.zeros([16]), caption: "x", dtype: .float32)
        try cache.writeManifest([entry])
        XCTAssertThrowsError(
            try HunyuanVideoTask(transformer: networks.transformer, vae: networks.vae, embeddings: folder)
        ) {
            XCTAssert("\($0)".contains("expected the transformer's text_embed_dim 32"), "\($0)")
        }
        XCTAssertThrowsError(
            try HunyuanVideoTask(
                transformer: networks.transformer, vae: networks.vae,
                embeddings: folder.appendingPathComponent("missing"))
        ) {
            XCTAssert("\($0)".contains("videos2caption.json"), "\($0)")
        }
        try SafeTensors.save(
            ["prompt_attention_mask": Tensor.ones([7])],
            to: folder.appendingPathComponent("prompt_attention_mask/0.safetensors"))
        XCTAssertThrowsError(try cache.load(entry, pooledDim: 16)) {
            XCTAssert("\($0)".contains("are not packed states [1 + L, hidden]"), "\($0)")
        }
        XCTAssertThrowsError(try HunyuanVideoTask.loadNetworks(from: folder)) {
            XCTAssert("\($0)".contains("not a diffusers HunyuanVideo folder: missing transformer, vae"), "\($0)")
        }
    }

    /// The seed script's video arguments in a config file: `--t` is the frame count of a hunyuan-video run (an image
    /// family's must stay 1), and `--use_videoalign` with `--vq_coef`/`--mq_coef` the weighted VideoAlign heads, a
    /// weight of 0 left out.
    func testSeedVideoArgumentsInAConfigFile() throws {
        let folder = try temporaryDirectory(self)
        func written(_ name: String, _ text: String) throws -> URL {
            let url = folder.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url
        }
        let file = try written(
            "seed.json",
            #"{"model": "hunyuan-video", "t": 53, "use_videoalign": true, "vq_coef": 1.0, "mq_coef": 0.5}"#)
        let resolved = try RunSettings.resolve(
            preset: .hunyuanVideo, presetName: "hunyuan-video", layers: [try SettingsLayer.file(file)])
        XCTAssertEqual(resolved.task.numFrames, 53)
        XCTAssertEqual(resolved.trainer.rewards, "videoalign-vq,videoalign-mq:0.5")
        let vqOnly = try written(
            "vq.json", #"{"use_videoalign": true, "vq_coef": 1.0, "mq_coef": 0.0}"#)
        XCTAssertEqual(
            try RunSettings.resolve(preset: .flux, presetName: "flux", layers: [try SettingsLayer.file(vqOnly)])
                .trainer.rewards, GRPOTrainer.Config.hunyuanVideoReward)
        XCTAssertThrowsError(try SettingsLayer.file(written("t.json", #"{"t": 53}"#))) {
            XCTAssert("\($0)".contains("setting 't' = 53"), "\($0)")
        }
    }

    /// The memory plan's activations for the released 13B transformer (hunyuanvideo-community/HunyuanVideo's
    /// config.json) at the seed's 53 frames of 480 × 480: 14 latent frames of 30 × 30 patch tokens and 256 text
    /// tokens through 20 double- and 40 single-stream blocks of 24 heads × 128.
    func testActivationEstimateOfThe13BTransformerAt53Frames() throws {
        let folder = try temporaryDirectory(self)
        let transformer = folder.appendingPathComponent("transformer")
        let vae = folder.appendingPathComponent("vae")
        try FileManager.default.createDirectory(at: transformer, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: vae, withIntermediateDirectories: true)
        try """
        {"_class_name": "HunyuanVideoTransformer3DModel", "attention_head_dim": 128, "guidance_embeds": true,
         "in_channels": 16, "mlp_ratio": 4.0, "num_attention_heads": 24, "num_layers": 20, "num_refiner_layers": 2,
         "num_single_layers": 40, "out_channels": 16, "patch_size": 2, "patch_size_t": 1, "pooled_projection_dim": 768,
         "qk_norm": "rms_norm", "rope_axes_dim": [16, 56, 56], "rope_theta": 256.0, "text_embed_dim": 4096}
        """.write(to: transformer.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try #"{"block_out_channels": [128, 256, 512, 512], "latent_channels": 16}"#.write(
            to: vae.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        var settings = TaskSettings()
        settings.model = .hunyuanVideo
        (settings.height, settings.width, settings.numFrames) = (480, 480, 53)
        let estimate = try XCTUnwrap(HunyuanVideoTask.activationEstimate(folder: folder, settings: settings))
        XCTAssertEqual(
            estimate, .transformer(tokens: 14 * 30 * 30 + 256, hidden: 3072, heads: 24, blocks: 60))
        // With a cache, its text length counts (the miniature cache: 32 tokens).
        settings.embeddings = Fixture.url("hunyuan_video_mini_embeddings").path
        XCTAssertEqual(
            try HunyuanVideoTask.activationEstimate(folder: folder, settings: settings),
            .transformer(tokens: 14 * 30 * 30 + 32, hidden: 3072, heads: 24, blocks: 60))
    }
}
