import Foundation
import XCTest

/// The memory plan as `train` prints it: after the settings of `--dry-run` and at the start of a run, and a run whose
/// plan does not fit the device (its size set through DANCEGRPO_DEVICE_MEMORY_BYTES) refused before any weights
/// load, with the settings that would fit.
final class MemoryPlanCommandTests: XCTestCase {
    private func run(_ arguments: [String], deviceBytes: Int? = nil) throws -> (status: Int32, output: String) {
        try DancegrpoExecutable.run(
            arguments, environment: deviceBytes.map { ["DANCEGRPO_DEVICE_MEMORY_BYTES": String($0)] } ?? [:])
    }

    func testDryRunPrintsThePlanPerRank() throws {
        let plain = try run(["train", "--dry-run"])
        XCTAssertEqual(plain.status, 0, plain.output)
        // The embedded world's preset: 2 ranks, its 1,805,792-parameter transformer.
        XCTAssertTrue(
            plain.output.contains(
                "memory plan per rank (2 ranks, ZeRO stage 0, compute float32, checkpointing off, 1805792 trained "
                    + "parameters"),
            plain.output)
        for item in ["weights", "frozen", "gradients", "optimizer", "ema", "reference", "activations (training)"] {
            XCTAssertNotNil(
                plain.output.range(
                    of: "\n  \(NSRegularExpression.escapedPattern(for: item)) +[0-9.]+ GiB", options: .regularExpression
                ),
                "\(item)\n\(plain.output)")
        }
        XCTAssertNotNil(
            plain.output.range(of: "\n  total +[0-9.]+ GiB  \\(of [0-9.]+ GiB: RAM", options: .regularExpression),
            plain.output)
        let sharded = try run([
            "train", "--dry-run", "--processes", "4", "--zero-stage", "3", "--gradient-checkpointing",
            "--mixed-precision", "bf16"
        ])
        XCTAssertEqual(sharded.status, 0, sharded.output)
        XCTAssertTrue(
            sharded.output.contains("(4 ranks, ZeRO stage 3, compute bfloat16, checkpointing on"), sharded.output)
    }

    func testAPlanOverTheDeviceIsRefusedWithWhatWouldFit() throws {
        // The world preset needs 0.13 GiB per rank; 0.12 GiB fits with checkpointing or bf16.
        let refused = try run(["train", "--dry-run"], deviceBytes: 130_000_000)
        XCTAssertNotEqual(refused.status, 0)
        for line in [
            "the memory plan needs 0.13 GiB per rank, more than the 0.12 GiB of the device "
                + "(DANCEGRPO_DEVICE_MEMORY_BYTES):",
            "settings that would fit:", "\n  --gradient-checkpointing: 0.11 GiB per rank",
            "\n  --mixed-precision bf16: 0.089 GiB per rank", "\n  --zero-stage 3: 0.12 GiB per rank"
        ] {
            XCTAssertTrue(refused.output.contains(line), "\(line)\n\(refused.output)")
        }
        // A real run stops the same way before loading the model or writing a checkpoint.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let start = try run(
            ["train", "--output-dir", folder.path, "--iterations", "1", "--processes", "1"], deviceBytes: 20_000_000)
        XCTAssertNotEqual(start.status, 0)
        XCTAssertTrue(start.output.contains("more than the 0.019 GiB of the device"), start.output)
        XCTAssertTrue(
            start.output.contains(
                "no change of ranks (up to 1024), ZeRO stage, checkpointing, precision or LoRA fits"), start.output)
        let written = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        XCTAssertFalse(written.contains { $0.hasPrefix("checkpoint-") }, "\(written)")

        let bad = try run(["train", "--dry-run"], deviceBytes: -5)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(
            bad.output.contains("DANCEGRPO_DEVICE_MEMORY_BYTES: expected a positive number of bytes, found '-5'"),
            bad.output)
    }
}
