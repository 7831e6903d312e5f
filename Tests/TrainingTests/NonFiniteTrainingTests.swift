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

/// The trainer on non-finite values, on the miniature FLUX: a NaN reward skips its iteration's update and is counted,
/// a run of skipped steps stops with the reason, and non-finite weights are never written to a checkpoint.
final class NonFiniteTrainingTests: XCTestCase {
    /// The images' mean brightness, NaN on the calls `nanCalls` names (0-based).
    private final class BrightnessWithNaN: Reward {
        let name = "brightness-nan"
        let nanCalls: Set<Int>
        var calls = 0

        init(nanCalls: Set<Int>) {
            self.nanCalls = nanCalls
        }

        func score(_ samples: [GeneratedSample], prompts: [Prompt]) throws -> RewardScores {
            defer { calls += 1 }
            let scores = samples.map { sample -> Double in
                guard case .image(let image) = sample else { return 0 }
                return Double(image.pixels.reduce(0) { $0 + Int($1) }) / Double(255 * image.pixels.count)
            }
            guard nanCalls.contains(calls) else { return RewardScores(scores: scores) }
            return RewardScores(scores: [.nan] + scores.dropFirst())
        }
    }

    private func trainer(nanCalls: Set<Int>, learningRate: Double = 1e-3, iterations: Int = 3) throws -> GRPOTrainer {
        let pipeline = try FluxPipeline.load(from: Fixture.url("flux_mini"), dtype: .float32, loadTextEncoders: false)
        let task = try FluxTask(pipeline: pipeline, embeddings: Fixture.url("flux_seed_cache"), height: 32, width: 32)
        var catalog = RewardCatalog()
        catalog.register("brightness-nan", summary: "test reward") { _ in BrightnessWithNaN(nanCalls: nanCalls) }
        var c = GRPOTrainer.Config.tinyFlux
        c.iterations = iterations
        c.rewards = "brightness-nan"
        c.learningRate = learningRate
        return try GRPOTrainer(
            task: task, config: c, runFolder: try temporaryDirectory(self), rewardCatalog: catalog)
    }

    private func weights(_ trainer: GRPOTrainer) -> [String: [Float]] {
        trainer.task.network.trainableParameters().reduce(into: [:]) { $0[$1.key] = $1.value.toArray(Float.self) }
    }

    func testANaNRewardSkipsItsUpdateAndIsCounted() throws {
        let trainer = try trainer(nanCalls: [1])
        let first = try trainer.step()
        XCTAssertEqual(first.skippedSteps, 0)
        let before = weights(trainer)
        let second = try trainer.step()
        XCTAssertEqual(second.skippedSteps, 1)
        XCTAssertEqual(second.skipReasons, ["1 non-finite reward(s)"])
        XCTAssertEqual(second.skippedStepsTotal, 1)
        XCTAssertEqual(second.trainedSamples, 0)
        XCTAssert(second.reward.isFinite, "statistics of the finite rewards")
        XCTAssertEqual(weights(trainer), before, "the update was skipped")
        XCTAssertEqual(trainer.optimizer.stepCount, 1)
        let third = try trainer.step()
        XCTAssertEqual(third.skippedSteps, 0)
        XCTAssertEqual(third.skippedStepsTotal, 1)
        XCTAssertEqual(trainer.consecutiveSkippedSteps, 0)
        XCTAssertEqual(trainer.optimizer.stepCount, 2)
        // The count goes into the checkpoint and comes back on resume.
        let checkpoint = try trainer.saveCheckpoint()
        let resumed = try self.trainer(nanCalls: [])
        try resumed.resume(from: checkpoint)
        XCTAssertEqual(resumed.skippedSteps, 1)
    }

    func testSkippedStepsInARowStopTheRunWithTheReason() throws {
        let trainer = try trainer(nanCalls: [1, 2, 3], iterations: 5)
        _ = try trainer.step()
        _ = try trainer.step()
        _ = try trainer.step()
        XCTAssertThrowsError(try trainer.step()) {
            XCTAssertEqual(
                $0 as? TrainerError, .tooManySkippedSteps(count: 3, iteration: 4, last: "1 non-finite reward(s)"))
        }
    }

    func testNonFiniteWeightsAreNeverWritten() throws {
        let trainer = try trainer(nanCalls: [])
        _ = try trainer.step()
        let (key, value) = trainer.task.network.trainableParameters()[0]
        trainer.task.network.update(parameters: [key: value * Float.nan])
        XCTAssertThrowsError(try trainer.saveCheckpoint()) {
            XCTAssertEqual($0 as? TrainerError, .nonFiniteWeights(iteration: 1))
        }
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: trainer.runFolder.path).filter {
                $0.contains("checkpoint")
            }, [], "no checkpoint and no temporary folder")
    }
}
