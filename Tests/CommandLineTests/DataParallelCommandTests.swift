import Foundation
import XCTest

/// `dancegrpo train --processes 2` as users run it: the built executable, two real processes on the embedded world,
/// rank 0 writing the run folder. Tiny settings (1 prompt × 2 samples per process, 4 steps).
final class DataParallelCommandTests: XCTestCase {
    private var executable: URL { DancegrpoExecutable.url }

    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try DancegrpoExecutable.run(arguments)
    }

    private func train(_ folder: URL, iterations: Int, _ extra: [String] = []) throws -> (status: Int32, output: String)
    {
        try run(
            [
                "train", "--processes", "2", "--prompts-per-iteration", "1", "--num-generations", "2",
                "--sampling-steps", "4",
                "--gradient-accumulation-steps", "2", "--eval-prompts", "4", "--eval-every", "2", "--checkpoint-every",
                "2",
                "--iterations", "\(iterations)", "--output-dir", folder.path
            ] + extra)
    }

    func testTwoProcessesTrainCheckpointAndResumeExactly() throws {
        guard FileManager.default.fileExists(atPath: executable.path) else {
            return XCTFail("\(executable.path) is missing: build with `swift build --build-tests` (make test does)")
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("dancegrpo-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let whole = root.appendingPathComponent("whole"), resumed = root.appendingPathComponent("resumed")

        let first = try train(whole, iterations: 3)
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("1 prompts × 2 samples in each of 2 processes"), first.output)
        XCTAssertTrue(first.output.contains("held-out after 3 iterations"), first.output)
        let rewards = try String(contentsOf: whole.appendingPathComponent("reward.txt"), encoding: .utf8)
            .split(separator: "\n").compactMap { Double($0) }
        XCTAssertEqual(rewards.count, 3, "one mean reward per iteration, written by rank 0 alone")
        XCTAssertTrue(rewards.allSatisfy(\.isFinite))
        for name in [
            "checkpoint-2-0/transformer/diffusion_pytorch_model.safetensors", "checkpoint-3-0/trainer_state.json",
            "metrics.jsonl", "samples-after.png"
        ] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: whole.appendingPathComponent(name).path), name)
        }
        // `evaluate` given the run folder scores its newest checkpoint.
        let scored = try run(["evaluate", "--checkpoint", whole.path, "--prompts", "2"])
        XCTAssertEqual(scored.status, 0, scored.output)
        XCTAssertTrue(scored.output.contains("scoring its newest checkpoint, checkpoint-3-0"), scored.output)
        XCTAssertTrue(
            scored.output.contains("checkpoint-3-0 (2 held-out prompts, 12 steps, EMA weights): mean reward"),
            scored.output)

        // Killed after iteration 2 and resumed: the same rewards as the uninterrupted run. `--resume` alone continues
        // in the run's folder with the settings of its config.json (here 2 processes, tiny batch), flags overriding.
        XCTAssertEqual(try train(resumed, iterations: 2).status, 0)
        let continued = try run(["train", "--resume", resumed.path, "--iterations", "3"])
        XCTAssertEqual(continued.status, 0, continued.output)
        XCTAssertEqual(
            try String(contentsOf: resumed.appendingPathComponent("reward.txt"), encoding: .utf8),
            try String(contentsOf: whole.appendingPathComponent("reward.txt"), encoding: .utf8))

        // A run without an EMA resumes without one (its config.json says so; the preset has one).
        let plain = root.appendingPathComponent("no-ema")
        XCTAssertEqual(try train(plain, iterations: 1, ["--ema-decay", "0"]).status, 0)
        let plainContinued = try run(["train", "--resume", plain.path, "--iterations", "2"])
        XCTAssertEqual(plainContinued.status, 0, plainContinued.output)
        XCTAssertEqual(
            try String(contentsOf: plain.appendingPathComponent("reward.txt"), encoding: .utf8).split(separator: "\n")
                .count, 2)

        // A spent time budget: rank 0's clock stops both ranks before the next iteration (no rank is left waiting).
        let stopped = try train(root.appendingPathComponent("budget"), iterations: 3, ["--time-budget", "0.0001"])
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("time budget of 0.0001 min reached"), stopped.output)
        XCTAssertTrue(stopped.output.contains("held-out after 0 iterations"), stopped.output)
    }

    /// Per-prompt statistics gather every rank's prompts and rewards: the tracker rank 0 checkpoints holds the
    /// histories of both ranks' prompts, and the ranks stay in agreement (the checkpoint's rank check).
    func testPerPromptStatisticsSeeEveryRanksPrompts() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dancegrpo-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try train(
            folder, iterations: 2, ["--per-prompt-stat-buffer", "16", "--per-prompt-stat-min-count", "1"])
        XCTAssertEqual(result.status, 0, result.output)
        let tracker = try JSONSerialization.jsonObject(
            with: Data(contentsOf: folder.appendingPathComponent("checkpoint-2-0/per_prompt_stats-shapes.json")))
        let histories = try XCTUnwrap((tracker as? [String: Any])?["history"] as? [String: [Double]], "\(tracker)")
        XCTAssertEqual(
            histories.values.reduce(0) { $0 + $1.count }, 8, "2 iterations × 2 ranks × 2 samples: \(histories)")
    }

    func testBadFlagsAreRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dancegrpo-dp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        for (flags, message) in [
            (["--processes", "0"], "--processes must be at least 1"),
            (["--ema-decay", "1.5"], "--ema-decay must be in [0, 1)"),
            (["--adam-beta1", "1"], "--adam-beta1 1.0 and --adam-beta2 0.999 must be in [0, 1)"),
            (["--eval-every=-1"], "--eval-every and --checkpoint-every must be ≥ 0"),
            (["--mix-window-size", "4", "--mix-window-stride", "0"], "MixGRPO needs --mix-window-size ≥ 0")
        ] {
            let refused = try run(["train", "--output-dir", folder.path] + flags)
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(refused.output.contains(message), refused.output)
        }
    }
}
