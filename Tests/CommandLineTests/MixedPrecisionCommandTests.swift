import Foundation
import XCTest

/// `train --mixed-precision bf16` as users run it on the embedded world: one iteration trains, and the checkpoint
/// holds the float32 master weights with the setting recorded.
final class MixedPrecisionCommandTests: XCTestCase {
    func testABF16RunTrainsAndCheckpointsFloat32Weights() throws {
        guard FileManager.default.fileExists(atPath: DancegrpoExecutable.url.path) else {
            return XCTFail("\(DancegrpoExecutable.url.path) is missing: build with `swift build --build-tests`")
        }
        let root = try RunFolderFiles.temporaryRoot("bf16")
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("run")
        let result = try DancegrpoExecutable.run([
            "train", "--processes", "1", "--mixed-precision", "bf16", "--prompts-per-iteration", "1",
            "--num-generations", "2", "--sampling-steps", "4", "--gradient-accumulation-steps", "2",
            "--eval-prompts", "2", "--eval-every", "0", "--checkpoint-every", "1", "--iterations", "1",
            "--output-dir", run.path
        ])
        XCTAssertEqual(result.status, 0, result.output)
        let checkpoint = run.appendingPathComponent("checkpoint-1-0")
        let state =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: checkpoint.appendingPathComponent("trainer_state.json"))) as? [String: Any]
        XCTAssertEqual((state?["config"] as? [String: Any])?["mixedPrecision"] as? String, "bf16")
        XCTAssertNil(state?["loss_scaler"], "bf16 needs no loss scaling")
        let weights = try Data(
            contentsOf: checkpoint.appendingPathComponent("transformer/diffusion_pytorch_model.safetensors"))
        let headerLength = weights.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = String(decoding: weights.dropFirst(8).prefix(headerLength), as: UTF8.self)
        XCTAssert(header.contains("\"dtype\":\"F32\""), header)
        XCTAssertFalse(header.contains("BF16"), header)
        let rewards = try String(contentsOf: run.appendingPathComponent("reward.txt"), encoding: .utf8)
            .split(separator: "\n").compactMap { Double($0) }
        XCTAssertEqual(rewards.count, 1)
        XCTAssert(rewards.allSatisfy(\.isFinite))
    }
}
