import Foundation
import XCTest

/// `train --resume` as users meet it: a resumed run writes the same checkpoint bytes as an uninterrupted one, also
/// after being killed at random moments (checkpoint writes included); an incomplete newest checkpoint is passed over
/// with a warning; runs never mix in one folder; a changed seed is refused and other changed settings named.
final class ResumeCommandTests: XCTestCase {
    /// A tiny world run in one process: 2 prompts × 2 samples, 4 steps, a checkpoint every iteration. With seed 1 the
    /// fourth iteration (index 3) draws a prompt of an earlier iteration and a new one: the uninterrupted run encodes
    /// the new text alone, a run resumed at 3 both together — where batched text encoding once made resumes differ
    /// (with several BLAS threads).
    private func arguments(_ folder: URL, iterations: Int) -> [String] {
        [
            "train", "--processes", "1", "--seed", "1", "--prompts-per-iteration", "2", "--num-generations", "2",
            "--sampling-steps", "4", "--gradient-accumulation-steps", "2", "--eval-prompts", "2", "--eval-every", "0",
            "--checkpoint-every", "1", "--iterations", "\(iterations)", "--output-dir", folder.path
        ]
    }

    /// With every BLAS thread, as users run it (where batch-dependent rounding shows).
    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try DancegrpoExecutable.run(arguments, oneBLASThread: false)
    }

    private func requireExecutable() throws {
        guard FileManager.default.fileExists(atPath: DancegrpoExecutable.url.path) else {
            throw XCTSkip("\(DancegrpoExecutable.url.path) is missing: build with `swift build --build-tests`")
        }
    }

    func testAResumedRunWritesTheUninterruptedRunsBytes() throws {
        try requireExecutable()
        let root = try RunFolderFiles.temporaryRoot("resume")
        defer { try? FileManager.default.removeItem(at: root) }
        let whole = root.appendingPathComponent("whole"), parts = root.appendingPathComponent("parts")
        let first = try run(arguments(whole, iterations: 6))
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertEqual(try run(arguments(parts, iterations: 3)).status, 0)
        let resumed = try run(["train", "--resume", parts.path, "--iterations", "6"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("at iteration 3"), resumed.output)
        XCTAssertFalse(resumed.output.contains("warning"), "only the length changed: \(resumed.output)")
        for iteration in 4...6 {
            try RunFolderFiles.assertSameBytes(
                whole.appendingPathComponent("checkpoint-\(iteration)-0"),
                parts.appendingPathComponent("checkpoint-\(iteration)-0"))
        }
        XCTAssertEqual(
            try Data(contentsOf: parts.appendingPathComponent("reward.txt")),
            try Data(contentsOf: whole.appendingPathComponent("reward.txt")))
    }

    /// SIGKILL at random moments — some as soon as a checkpoint's temporary folder appears, so inside its write —
    /// then `--resume` until the run finishes: the final checkpoint's bytes are the uninterrupted run's.
    func testARunKilledAtRandomMomentsResumesToTheSameBytes() throws {
        try requireExecutable()
        let root = try RunFolderFiles.temporaryRoot("kill")
        defer { try? FileManager.default.removeItem(at: root) }
        let whole = root.appendingPathComponent("whole"), killed = root.appendingPathComponent("killed")
        let started = Date()
        XCTAssertEqual(try run(arguments(whole, iterations: 6)).status, 0)
        let duration = Date().timeIntervalSince(started)

        var generator = SystemRandomNumberGenerator()
        var kills = 0, killsInCheckpointWrites = 0, attempts = 0
        while true {
            attempts += 1
            let resuming = FileManager.default.fileExists(atPath: killed.appendingPathComponent("config.json").path)
            let process = DancegrpoExecutable.process(
                resuming ? ["train", "--resume", killed.path] : arguments(killed, iterations: 6) + ["--overwrite"],
                oneBLASThread: false)
            try process.run()
            // Random moments on odd attempts, a checkpoint write on even ones, until both kinds of kill happened.
            if attempts <= 20 && (kills < 6 || killsInCheckpointWrites == 0) {
                let deadline = Date().addingTimeInterval(
                    Double.random(in: 0.05...max(0.1, duration / 2), using: &generator))
                let waitForCheckpointWrite = attempts % 2 == 0
                while process.isRunning && Date() < deadline {
                    if waitForCheckpointWrite, hasUnfinishedCheckpoint(killed) { break }
                    usleep(waitForCheckpointWrite ? 200 : 5_000)
                }
                if process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                    process.waitUntilExit()
                    kills += 1
                    if hasUnfinishedCheckpoint(killed) { killsInCheckpointWrites += 1 }
                    continue
                }
            }
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "attempt \(attempts)")
            break
        }
        XCTAssertGreaterThanOrEqual(kills, 6)
        XCTAssertGreaterThan(killsInCheckpointWrites, 0, "a kill inside a checkpoint write")
        print("killed \(kills) times, \(killsInCheckpointWrites) inside a checkpoint write")
        try RunFolderFiles.assertSameBytes(
            whole.appendingPathComponent("checkpoint-6-0"), killed.appendingPathComponent("checkpoint-6-0"))
        XCTAssertEqual(
            try Data(contentsOf: killed.appendingPathComponent("reward.txt")),
            try Data(contentsOf: whole.appendingPathComponent("reward.txt")))
        XCTAssertFalse(hasUnfinishedCheckpoint(killed), "no temporary folder is left behind")
    }

    private func hasUnfinishedCheckpoint(_ folder: URL) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).contains {
            $0.hasPrefix(".checkpoint-")
        }
    }

    func testIncompleteCheckpointsMixedRunsAndChangedSettings() throws {
        try requireExecutable()
        let root = try RunFolderFiles.temporaryRoot("resume-checks")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("run")
        XCTAssertEqual(try run(arguments(folder, iterations: 3)).status, 0)

        // A new run into the folder is refused, naming it and both ways on; --dry-run refuses it alike.
        for extra in [[], ["--dry-run"]] {
            let mixed = try run(arguments(folder, iterations: 3) + extra)
            XCTAssertNotEqual(mixed.status, 0)
            XCTAssertTrue(
                mixed.output.contains(
                    "Error: \(folder.path) holds the checkpoints of another run (checkpoint-1-0, checkpoint-2-0, "
                        + "checkpoint-3-0): continue it with --resume \(folder.path), or start a new run there with "
                        + "--overwrite"), mixed.output)
        }

        // The newest checkpoint truncated: passed over with a warning naming the file, the previous one resumed.
        let weights = folder.appendingPathComponent("checkpoint-3-0/optimizer.safetensors")
        let bytes = try Data(contentsOf: weights)
        try bytes.prefix(bytes.count - 100).write(to: weights)
        let resumed = try run(["train", "--resume", folder.path, "--iterations", "4"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(
            resumed.output.contains(
                "warning: skipping checkpoint-3-0: \(weights.path): \(bytes.count - 100) bytes, the manifest says "
                    + "\(bytes.count) (truncated or rewritten)"), resumed.output)
        XCTAssertTrue(
            resumed.output.contains("resumed from \(folder.path)/checkpoint-2-0 at iteration 2"), resumed.output)
        XCTAssertEqual(try Data(contentsOf: weights).count, bytes.count, "checkpoint-3-0 written again")

        // A changed seed is refused with both values; another changed setting is named with both values.
        let seed = try run(["train", "--resume", folder.path, "--iterations", "5", "--seed", "9", "--dry-run"])
        XCTAssertNotEqual(seed.status, 0)
        XCTAssertTrue(
            seed.output.contains("checkpoint-4-0 was trained with seed 1, the resumed run has seed 9"), seed.output)
        let changed = try run(["train", "--resume", folder.path, "--learning-rate", "0.001", "--dry-run"])
        XCTAssertEqual(changed.status, 0, changed.output)
        XCTAssertTrue(
            changed.output.contains(
                "warning: settings differ from checkpoint-4-0's: learningRate: 0.0001 in the "
                    + "checkpoint, 0.001 now"), changed.output)

        // --overwrite starts over: the old checkpoints are gone before the new run writes its own.
        let over = try run(arguments(folder, iterations: 1) + ["--overwrite"])
        XCTAssertEqual(over.status, 0, over.output)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
            $0.contains("checkpoint")
        }
        XCTAssertEqual(names, ["checkpoint-1-0"])
    }

    func testAnUnusableOutputFolderIsNamed() throws {
        try requireExecutable()
        let root = try RunFolderFiles.temporaryRoot("unwritable")
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        let refused = try run(arguments(file.appendingPathComponent("run"), iterations: 1))
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(
            refused.output.contains("Error: cannot create the run folder \(file.path)"), refused.output)
        XCTAssertFalse(refused.output.contains("NSCocoaErrorDomain"), refused.output)
    }
}
