import EmbeddedWorld
import Foundation
import Imaging
import NN
import Rewards
import TestSupport
import Training
import XCTest

/// `GRPOTrainer.run` as a library call: events in order, checkpoints pruned to the limit, EMA weights saved in
/// diffusers layout next to the trained ones, an observer's stop honoured.
final class TrainerRunTests: XCTestCase {
    private final class Recorder: TrainingObserver {
        var events: [String] = []
        var stopAfter: Int?

        func trainer(_ trainer: GRPOTrainer, didReport event: TrainingEvent) throws -> TrainingDecision {
            switch event {
            case .started(let first): events.append("started \(first)")
            case .evaluated(_, let iteration): events.append("evaluated \(iteration)")
            case .iteration(let entry):
                events.append("iteration \(entry.iteration)")
                if let stopAfter, entry.iteration >= stopAfter { return .stop }
            case .checkpointSaved(let url, _): events.append("saved \(url.lastPathComponent)")
            case .timeBudgetReached: events.append("budget")
            case .finished(_, let iteration, _): events.append("finished \(iteration)")
            }
            return .proceed
        }
    }

    private func tinyTask() -> WorldTask {
        var settings = WorldModel.Settings()
        settings.imageSize = 16
        return WorldTask(model: WorldModel.create(seed: 3, settings: settings))
    }

    private func tinyConfig() -> GRPOTrainer.Config {
        var c = GRPOTrainer.Config()
        c.iterations = 3
        c.promptsPerIteration = 1
        c.numGenerations = 2
        c.samplingSteps = 3
        c.gradientAccumulationSteps = 2
        c.evalPrompts = 2
        c.evalEvery = 2
        c.checkpointEvery = 1
        c.checkpointsTotalLimit = 2
        c.emaDecay = 0.5
        c.rewards = "shapes,jpeg-compressibility:0.1"
        return c
    }

    func testEventsCheckpointLimitAndEMALayout() throws {
        let folder = try temporaryDirectory(self)
        let task = tinyTask()
        let trainer = try GRPOTrainer(task: task, config: tinyConfig(), runFolder: folder)
        let recorder = Recorder()
        let final = try trainer.run(observers: [recorder])
        XCTAssertEqual(
            recorder.events,
            [
                "started 0", "evaluated 0", "iteration 1", "saved checkpoint-1-0",
                "evaluated 2", "iteration 2", "saved checkpoint-2-0",
                "evaluated 3", "iteration 3", "saved checkpoint-3-0", "finished 3"
            ])
        XCTAssertNotNil(final.accuracy, "the shapes rewards report accuracy")
        // The grid: 16 px samples enlarged 8× in 160 px cells, every prompt whole under its image.
        let lines = final.prompts.map { BitmapFont.wrapped($0, toWidth: 160, maxLines: Int.max) }
        for (prompt, wrapped) in zip(final.prompts, lines) { XCTAssertEqual(wrapped.joined(separator: " "), prompt) }
        let grid = try final.grid()
        XCTAssertEqual(grid.width, 2 * 160 + 3 * 4)
        XCTAssertEqual(grid.height, 128 + 2 + lines.map(\.count).max()! * BitmapFont.lineHeight + 2 * 4)
        XCTAssertEqual(GRPOTrainer.checkpoints(in: folder).map(\.iteration), [2, 3], "--checkpoints-total-limit 2")

        // The EMA folder is the averaged network in diffusers layout: loading it gives the averaged weights.
        let emaFolder = folder.appendingPathComponent("checkpoint-3-0/transformer_ema")
        XCTAssertTrue(FileManager.default.fileExists(atPath: emaFolder.appendingPathComponent("config.json").path))
        let averaged = try trainer.ema!.withAveragedParameters(in: task.network) {
            task.network.parameters().mapValues { $0.toArray(Float.self) }
        }
        let reloaded = tinyTask()
        try reloaded.network.load(contentsOf: emaFolder)
        let loaded = reloaded.network.parameters().mapValues { $0.toArray(Float.self) }
        XCTAssertEqual(loaded, averaged)
        XCTAssertNotEqual(loaded, task.network.parameters().mapValues { $0.toArray(Float.self) })
    }

    func testAnObserverStopsTheRunWithACheckpointAndEvaluation() throws {
        let folder = try temporaryDirectory(self)
        var config = tinyConfig()
        config.checkpointEvery = 0
        config.evalEvery = 0
        let trainer = try GRPOTrainer(task: tinyTask(), config: config, runFolder: folder)
        let recorder = Recorder()
        recorder.stopAfter = 1
        try trainer.run(observers: [recorder])
        XCTAssertEqual(
            recorder.events, ["started 0", "evaluated 0", "iteration 1", "saved checkpoint-1-0", "finished 1"])
    }
}
