import Foundation
import XCTest

/// The moving-shapes world from the command line: `pretrain --world moving-shapes` writes a Wan-architecture model
/// folder with sample clips, `train --world moving-shapes` trains it with video GRPO (MP4 clips, reward curve,
/// diffusers-layout checkpoint) and `evaluate` scores the run's checkpoint against its base.
final class MovingShapesCommandTests: XCTestCase {
    func testPretrainTrainAndEvaluate() throws {
        guard FileManager.default.fileExists(atPath: DancegrpoExecutable.url.path) else {
            return XCTFail("\(DancegrpoExecutable.url.path) is missing: build with `swift build --build-tests`")
        }
        let root = try RunFolderFiles.temporaryRoot("moving-shapes")
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("model")
        let pretrain = try DancegrpoExecutable.run([
            "pretrain", "--world", "moving-shapes", "--image-size", "24", "--frames", "3", "--heads", "1",
            "--head-dim", "16", "--blocks", "1", "--steps", "3", "--batch-size", "4", "--wrong-direction-rate", "0.5",
            "--out", model.path
        ])
        XCTAssertEqual(pretrain.status, 0, pretrain.output)
        XCTAssert(pretrain.output.contains("held-out prompts: mean reward"), pretrain.output)
        for file in ["world.json", "transformer/config.json", "samples-held-out.png", "samples-held-out.mp4"] {
            XCTAssert(FileManager.default.fileExists(atPath: model.appendingPathComponent(file).path), file)
        }

        let run = root.appendingPathComponent("run")
        let train = try DancegrpoExecutable.run([
            "train", "--world", "moving-shapes", "--checkpoint", model.path, "--processes", "1",
            "--prompts-per-iteration", "1", "--num-generations", "2", "--sampling-steps", "3",
            "--gradient-accumulation-steps", "2", "--eval-prompts", "2", "--eval-every", "1", "--checkpoint-every", "2",
            "--iterations", "2", "--output-dir", run.path
        ])
        XCTAssertEqual(train.status, 0, train.output)
        XCTAssert(train.output.contains("moving-shapes world"), train.output)
        let rewards = try String(contentsOf: run.appendingPathComponent("reward.txt"), encoding: .utf8)
            .split(separator: "\n").compactMap { Double($0) }
        XCTAssertEqual(rewards.count, 2)
        XCTAssert(rewards.allSatisfy(\.isFinite), "\(rewards)")
        for file in ["samples-before.mp4", "samples-after.mp4", "samples-after.png", "checkpoint-2-0/transformer"] {
            XCTAssert(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), file)
        }

        let evaluate = try DancegrpoExecutable.run([
            "evaluate", "--checkpoint", run.path, "--base", model.path, "--prompts", "4", "--steps", "3"
        ])
        XCTAssertEqual(evaluate.status, 0, evaluate.output)
        XCTAssert(evaluate.output.contains("appearance") && evaluate.output.contains("moving"), evaluate.output)

        let wrongModel = try DancegrpoExecutable.run([
            "train", "--world", "moving-shapes", "--model", "flux", "--dry-run"
        ])
        XCTAssertNotEqual(wrongModel.status, 0)
        XCTAssert(wrongModel.output.contains("world"), wrongModel.output)
    }

    /// `make run ARGS="--world moving-shapes"`: the committed model and the world's preset, checked without training.
    func testCommittedModelAndPresetResolve() throws {
        let root = try RunFolderFiles.temporaryRoot("moving-shapes-dry-run")
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try DancegrpoExecutable.run([
            "--world", "moving-shapes", "--dry-run", "--output-dir", root.appendingPathComponent("run").path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssert(result.output.contains("motion,motion-correct:0.5"), result.output)
        XCTAssert(result.output.contains("moving shapes"), result.output)
    }
}
