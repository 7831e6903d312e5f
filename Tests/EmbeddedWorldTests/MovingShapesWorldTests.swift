import Checkpoints
import EmbeddedWorld
import Engine
import Foundation
import GRPO
import Imaging
import Models
import NN
import Rewards
import ShapesWorld
import TestSupport
import Training
import XCTest

/// The moving-shapes world end to end on a tiny model: the clip codec, prompts and caption noise, the model folder,
/// pretraining, and video GRPO through the one trainer (ratio one, resume, checkpoints, clips for the rewards).
final class MovingShapesWorldTests: XCTestCase {
    /// 3 frames of 24 px moving 2 px per frame, a one-block Wan transformer of one 16-wide head.
    private func tinyModel(seed: UInt64 = 5) -> MovingShapesWorldModel {
        var settings = MovingShapesWorldModel.Settings()
        settings.imageSize = 24
        settings.frames = 3
        return MovingShapesWorldModel.create(seed: seed, settings: settings, heads: 1, headDim: 16, layers: 1)
    }

    private func tinyConfig() -> GRPOTrainer.Config {
        var c = GRPOTrainer.Config.movingShapesWorld
        c.processes = 1
        c.promptsPerIteration = 2
        c.numGenerations = 2
        c.samplingSteps = 3
        c.gradientAccumulationSteps = 4
        c.evalPrompts = 2
        // An untrained model draws no shapes, so the motion reward is 0 for every clip; JPEG size varies with the
        // pixels, so the tiny runs have advantages and updates to compare.
        c.rewards = "motion,jpeg-compressibility:0.1"
        return c
    }

    func testCodecRoundTripsClipsInWanLayout() throws {
        let clips = Random.uniform([2, 3, 8, 8, 3], key: RandomKey(seed: 1)) * 2 - 1
        let latents = VideoPixelCodec.encode(clips)
        XCTAssertEqual(latents.shape, [2, 12, 3, 4, 4])
        XCTAssertEqual(VideoPixelCodec.decode(latents).toArray(Float.self), clips.toArray(Float.self))
        // Frame 1 of clip 0 is frame 1's own 2×2 space-to-depth.
        let frame = PixelCodec.grid(clips[0][1].expandedDims(axis: 0))
        XCTAssertEqual(
            latents[0].transposed([1, 2, 3, 0])[1].toArray(Float.self), frame.reshaped([4, 4, 12]).toArray(Float.self))
    }

    func testPromptsHoldOutStillPromptsAndMotionNoiseKeepsItsRate() throws {
        var heldOut = MovingPromptGenerator(seed: 3, split: .heldOut)
        for prompt in heldOut.next(50) {
            XCTAssertEqual(PromptCatalog.split(of: prompt.spec), .heldOut, prompt.text)
            XCTAssertEqual(try MovingPrompt.parse(prompt.text), prompt)
        }
        let tokenizer = WorldTokenizer.forMovingShapesWorld()
        for word in ["moving", "left", "right", "up", "down", "circle"] { XCTAssertNotNil(tokenizer.vocabulary[word]) }
        XCTAssert(tokenizer.maxLength >= WorldTokenizer.forShapesWorld().maxLength + 2)

        var train = MovingPromptGenerator(seed: 4)
        let prompts = train.next(2000)
        XCTAssertEqual(Set(prompts.map(\.direction)).count, 4)
        let noise = MotionNoise(wrongDirectionRate: 0.6)
        let wrong = prompts.enumerated().filter { noise.shown(for: $1, seed: UInt64($0)).direction != $1.direction }
        XCTAssertEqual(Double(wrong.count) / 2000, 0.6, accuracy: 0.04)
        XCTAssert(prompts.enumerated().allSatisfy { noise.shown(for: $1, seed: UInt64($0)).spec == $1.spec })
        XCTAssertEqual(MotionNoise.none.shown(for: prompts[0], seed: 1), prompts[0])
    }

    func testFolderRoundTripAndMismatchedPartsAreNamed() throws {
        let folder = try temporaryDirectory(self).appendingPathComponent("model")
        let model = tinyModel()
        model.transformer.projOut.weight = Random.normal(
            model.transformer.projOut.weight.shape, key: RandomKey(seed: 2))
        try model.writeFolder(to: folder)
        XCTAssertEqual(try WorldArchitecture.of(folder: folder), .wan)
        let loaded = try MovingShapesWorldModel.load(from: folder)
        XCTAssertEqual(loaded.settings, model.settings)
        let x = Random.normal([2] + model.latentShape, key: RandomKey(seed: 3))
        let prompts = ["a red circle moving left", "two blue squares moving up"]
        let t = Tensor([500, 20] as [Float])
        XCTAssertEqual(
            loaded.velocity(x, timesteps: t, conditioning: loaded.encode(prompts)).toArray(Float.self),
            model.velocity(x, timesteps: t, conditioning: model.encode(prompts)).toArray(Float.self))

        let world = folder.appendingPathComponent("world.json")
        let original = try Data(contentsOf: world)
        try Data(#"{"architecture": "wan", "image_size": 24, "frames": 3, "speed": 12}"#.utf8).write(to: world)
        XCTAssertThrowsError(try MovingShapesWorldModel.load(from: folder)) {
            XCTAssert("\($0)".contains("world.json speed"), "\($0)")
        }
        try original.write(to: world)
        let config = folder.appendingPathComponent("transformer/config.json")
        var object = try ConfigFile.object(from: config)
        object["in_channels"] = 16
        try JSONSerialization.data(withJSONObject: object).write(to: config)
        XCTAssertThrowsError(try MovingShapesWorldModel.load(from: folder)) {
            XCTAssert("\($0)".contains("in_channels: expected 12 (the pixel codec), found 16"), "\($0)")
        }
    }

    /// Rendered clips score 1 under the motion reward, a still clip only its appearance half; pictures are refused.
    func testMotionRewardsScoreClips() throws {
        let model = tinyModel()
        let renderer = model.settings.renderer
        let prompt = try MovingPrompt.parse("a red circle moving right")
        let frames = try renderer.render(prompt, seed: 1)
        let task = MovingShapesWorldTask(model: model)
        let rewards = try task.rewardCatalog.makeSet("motion,motion-correct:0.5")
        let clip = GeneratedSample.video(frames: frames, framesPerSecond: 4)
        let still = GeneratedSample.video(frames: Array(repeating: frames[0], count: 3), framesPerSecond: 4)
        let scored = try rewards.score([clip, still], prompts: [Prompt(moving: prompt), Prompt(text: prompt.text)])
        XCTAssertEqual(scored.scores[0], [1, 0.5])
        XCTAssertEqual(scored.scores[1], [1, 0])
        XCTAssertEqual(scored.info["motion"], [1, 0])
        XCTAssertThrowsError(try rewards.score([.image(frames[0])], prompts: [Prompt(moving: prompt)]))
        XCTAssertThrowsError(try rewards.score([clip], prompts: [Prompt(text: "a red circle")])) {
            XCTAssert("\($0)".contains("moving-shapes world"), "\($0)")
        }
        XCTAssertEqual(MovingShapesWorldTask.filmstrip(frames).width, 72)
    }

    func testPretrainingIsDeterministicAndLowersTheLoss() throws {
        var config = WorldPretraining.Config()
        config.steps = 12
        config.batchSize = 4
        config.learningRate = 3e-3
        var runs: [[Float]] = []
        for _ in 0..<2 {
            var losses: [Float] = []
            try MovingShapesPretraining(config: config, motionNoise: MotionNoise(wrongDirectionRate: 0.5)).run(
                tinyModel()
            ) { losses.append($1) }
            runs.append(losses)
        }
        XCTAssertEqual(runs[0], runs[1])
        let first = runs[0].prefix(3).reduce(0, +), last = runs[0].suffix(3).reduce(0, +)
        XCTAssertLessThan(last, first, "\(runs[0])")
    }

    /// The first update's ratios are one; clips reach the rewards whole; the checkpoint reloads to the trained
    /// weights; an interrupted run resumed from its checkpoint continues exactly as the uninterrupted one.
    func testVideoGRPOStartsAtRatioOneAndResumesExactly() throws {
        let folder = try temporaryDirectory(self)
        let straight = try GRPOTrainer(
            task: MovingShapesWorldTask(model: tinyModel()), config: tinyConfig(),
            runFolder: folder.appendingPathComponent("straight"))
        let first = try straight.step()
        XCTAssertEqual(first.ratioMin, 1, accuracy: 1e-5)
        XCTAssertEqual(first.ratioMax, 1, accuracy: 1e-5)
        XCTAssert(first.gradNorm.isFinite && first.gradNorm > 0, "\(first.gradNorm)")
        XCTAssertNotNil(first.rewardInfo["motion"])
        let second = try straight.step()
        XCTAssertNotEqual(
            straight.task.network.parameters()["proj_out.weight"]!.toArray(Float.self),
            tinyModel().transformer.projOut.weight.toArray(Float.self), "the updates changed the weights")

        let interrupted = try GRPOTrainer(
            task: MovingShapesWorldTask(model: tinyModel()), config: tinyConfig(),
            runFolder: folder.appendingPathComponent("interrupted"))
        _ = try interrupted.step()
        let saved = try interrupted.saveCheckpoint()
        let reloaded = try MovingShapesWorldModel.load(
            checkpointOrModel: saved,
            base: try {
                let base = folder.appendingPathComponent("base")
                try tinyModel().writeFolder(to: base)
                return base
            }(), averaged: false)
        for (key, value) in interrupted.task.network.parameters() {
            XCTAssertEqual(reloaded.transformer.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
        let resumed = try GRPOTrainer(
            task: MovingShapesWorldTask(model: tinyModel()), config: tinyConfig(),
            runFolder: folder.appendingPathComponent("interrupted"))
        try resumed.resume(from: saved)
        let again = try resumed.step()
        XCTAssertEqual(again.rewardMean, second.rewardMean)
        for (key, value) in straight.task.network.parameters() {
            XCTAssertEqual(resumed.task.network.parameters()[key]!.toArray(Float.self), value.toArray(Float.self), key)
        }
        let evaluation = try straight.evaluate()
        XCTAssertEqual(evaluation.videos?.map(\.count), [3, 3])
        XCTAssertEqual(evaluation.images.map(\.width), [72, 72], "filmstrips of 3 frames")
    }
}
