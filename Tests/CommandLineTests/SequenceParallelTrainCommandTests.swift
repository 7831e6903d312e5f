import Checkpoints
import Engine
import Foundation
import TestSupport
import XCTest

/// `train --sp-size`: two processes sharing each sample through Ulysses sequence parallelism train the same weights
/// as one process (the moving-shapes world's Wan transformer, 108 video tokens split 54 + 54).
final class SequenceParallelTrainCommandTests: XCTestCase {
    func testTwoProcessesSharingEachSampleTrainWhatOneProcessTrains() throws {
        guard FileManager.default.fileExists(atPath: DancegrpoExecutable.url.path) else {
            return XCTFail("\(DancegrpoExecutable.url.path) is missing: build with `swift build --build-tests`")
        }
        let root = try RunFolderFiles.temporaryRoot("sequence-parallel")
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("model")
        let pretrain = try DancegrpoExecutable.run([
            "pretrain", "--world", "moving-shapes", "--image-size", "24", "--frames", "3", "--heads", "2",
            "--head-dim", "8", "--blocks", "1", "--steps", "3", "--batch-size", "4", "--out", model.path
        ])
        XCTAssertEqual(pretrain.status, 0, pretrain.output)

        func train(_ name: String, _ extra: [String]) throws -> (
            rewards: [String], gradientNorms: [Double], weights: [String: Tensor]
        ) {
            let run = root.appendingPathComponent(name)
            let result = try DancegrpoExecutable.run(
                [
                    "train", "--world", "moving-shapes", "--checkpoint", model.path, "--prompts-per-iteration", "1",
                    "--num-generations", "2", "--sampling-steps", "3", "--gradient-accumulation-steps", "2",
                    "--eval-prompts", "2", "--eval-every", "0", "--checkpoint-every", "2", "--iterations", "2",
                    "--output-dir", run.path
                ] + extra)
            XCTAssertEqual(result.status, 0, result.output)
            let rewards = try String(contentsOf: run.appendingPathComponent("reward.txt"), encoding: .utf8)
                .split(separator: "\n").map(String.init)
            let norms = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
                .split(separator: "\n").map {
                    let line = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                    return try XCTUnwrap(line?["gradNorm"] as? Double)
                }
            let file = run.appendingPathComponent("checkpoint-2-0/transformer/diffusion_pytorch_model.safetensors")
            return (rewards, norms, try SafeTensorsFile(url: file).tensors())
        }
        let one = try train("one", ["--processes", "1"])
        let two = try train("two", ["--processes", "2", "--sp-size", "2"])
        // The same run again: the same bits (the ranks' exchanges pair up in the same order every time).
        let again = try train("again", ["--processes", "2", "--sp-size", "2"])
        XCTAssertEqual(again.gradientNorms, two.gradientNorms)
        for (key, value) in two.weights {
            XCTAssertEqual(maxAbsDifference(try XCTUnwrap(again.weights[key], key), value), 0, key)
        }
        XCTAssertEqual(one.rewards.count, 2)
        XCTAssertEqual(two.rewards, one.rewards)
        // The gradient summed from the two ranks' shares has the one process's norm.
        XCTAssertEqual(two.gradientNorms.count, one.gradientNorms.count)
        XCTAssertGreaterThan(one.gradientNorms.max() ?? 0, 1e-4)
        for (got, expected) in zip(two.gradientNorms, one.gradientNorms) {
            XCTAssertEqual(got, expected, accuracy: 1e-5 * max(expected, 1e-6))
        }
        // AdamW's first steps are about ±lr per weight whatever the gradient's size, so a weight whose gradient is
        // zero up to rounding (a key bias: softmax ignores it) could step either way; the others step alike.
        let base = try SafeTensorsFile(
            url: model.appendingPathComponent("transformer/diffusion_pytorch_model.safetensors")
        ).tensors()
        var same = 0, moved = 0, count = 0
        for (key, expected) in one.weights {
            let got = try XCTUnwrap(two.weights[key], key), start = try XCTUnwrap(base[key], key)
            same += Int(((got - expected).abs() .< Tensor(5e-6)).asType(.int32).sum().item(Int32.self))
            moved += Int(((expected - start).abs() .> Tensor(5e-5)).asType(.int32).sum().item(Int32.self))
            count += expected.count
        }
        XCTAssertGreaterThan(moved, count / 2, "training moved too few weights for the comparison to mean much")
        XCTAssertGreaterThanOrEqual(same, count * 99 / 100)
        print("--sp-size 2 against one process: \(same) of \(count) weights equal within 5e-6 (\(moved) moved)")

        let refused = try DancegrpoExecutable.run([
            "train", "--world", "moving-shapes", "--checkpoint", model.path, "--processes", "2", "--sp-size", "3",
            "--iterations", "1", "--output-dir", root.appendingPathComponent("refused").path
        ])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssert(refused.output.contains("--sp-size 3"), refused.output)
    }
}
