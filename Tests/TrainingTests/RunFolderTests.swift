import Foundation
import TestSupport
import Training
import XCTest

/// Checkpoint manifests, the run folder's checks before a run, and file-system failures in words.
final class RunFolderTests: XCTestCase {
    private func makeCheckpoint(_ folder: URL, iteration: Int) throws -> URL {
        let checkpoint = folder.appendingPathComponent("checkpoint-\(iteration)-0")
        try FileManager.default.createDirectory(
            at: checkpoint.appendingPathComponent("transformer"), withIntermediateDirectories: true)
        try Data(repeating: UInt8(iteration), count: 1000).write(
            to: checkpoint.appendingPathComponent("transformer/weights.safetensors"))
        try Data(#"{"iteration": \#(iteration), "seed": 0}"#.utf8).write(
            to: checkpoint.appendingPathComponent("trainer_state.json"))
        try CheckpointManifest.write(for: checkpoint)
        return checkpoint
    }

    func testTheManifestCatchesTruncatedChangedMissingAndExtraFiles() throws {
        let folder = try temporaryDirectory(self)
        let checkpoint = try makeCheckpoint(folder, iteration: 1)
        XCTAssertNoThrow(try CheckpointManifest.verify(checkpoint))
        let weights = checkpoint.appendingPathComponent("transformer/weights.safetensors")
        try Data(repeating: 1, count: 999).write(to: weights)
        XCTAssertThrowsError(try CheckpointManifest.verify(checkpoint)) {
            XCTAssertEqual($0 as? CheckpointIntegrityError, .wrongSize(file: weights.path, expected: 1000, found: 999))
        }
        try Data(repeating: 2, count: 1000).write(to: weights)
        XCTAssertThrowsError(try CheckpointManifest.verify(checkpoint)) {
            XCTAssertEqual($0 as? CheckpointIntegrityError, .wrongChecksum(file: weights.path))
        }
        try FileManager.default.removeItem(at: weights)
        XCTAssertThrowsError(try CheckpointManifest.verify(checkpoint)) {
            XCTAssertEqual($0 as? CheckpointIntegrityError, .missing(file: weights.path))
        }
        try Data(repeating: 1, count: 1000).write(to: weights)
        let extra = checkpoint.appendingPathComponent("extra.bin")
        try Data([1]).write(to: extra)
        XCTAssertThrowsError(try CheckpointManifest.verify(checkpoint)) {
            XCTAssertEqual($0 as? CheckpointIntegrityError, .unlisted(file: extra.path))
        }
        try FileManager.default.removeItem(at: checkpoint.appendingPathComponent(CheckpointManifest.fileName))
        XCTAssertThrowsError(try CheckpointManifest.verify(checkpoint)) {
            XCTAssertEqual($0 as? CheckpointIntegrityError, .noManifest(folder: checkpoint.path))
        }
        XCTAssertEqual(
            try CheckpointManifest.verifyAllowingUnlisted(checkpoint),
            "checkpoint-1-0 has no manifest.json (written before manifests): its files are not checked")
    }

    func testResumeFallsBackToTheNewestCompleteCheckpoint() throws {
        let folder = try temporaryDirectory(self)
        _ = try makeCheckpoint(folder, iteration: 1)
        let second = try makeCheckpoint(folder, iteration: 2)
        let third = try makeCheckpoint(folder, iteration: 3)
        let unfinished = folder.appendingPathComponent(".checkpoint-4-0.tmp")
        try FileManager.default.createDirectory(at: unfinished, withIntermediateDirectories: true)
        try Data([9]).write(to: third.appendingPathComponent("trainer_state.json"))
        let run = RunFolder(folder)
        let point = try run.resumePoint()
        XCTAssertEqual(point.checkpoint?.lastPathComponent, second.lastPathComponent)
        XCTAssertEqual(point.warnings.count, 2)
        XCTAssertTrue(point.warnings[0].hasPrefix("skipping checkpoint-3-0: "), point.warnings[0])
        XCTAssertTrue(point.warnings[0].contains("trainer_state.json: 1 bytes, the manifest says"), point.warnings[0])
        XCTAssertEqual(point.warnings[1], "resuming from the older checkpoint-2-0")
        XCTAssertFalse(FileManager.default.fileExists(atPath: unfinished.path), "unfinished writes are removed")

        for checkpoint in [second, folder.appendingPathComponent("checkpoint-1-0")] {
            try FileManager.default.removeItem(at: checkpoint.appendingPathComponent("transformer"))
        }
        XCTAssertThrowsError(try run.resumePoint()) {
            guard case .noValidCheckpoint(let path, let problems)? = $0 as? RunFolderError else {
                return XCTFail("\($0)")
            }
            XCTAssertEqual(path, folder.path)
            XCTAssertEqual(problems.count, 3)
        }
    }

    func testANewRunRefusesAnotherRunsCheckpointsUnlessOverwriting() throws {
        let folder = try temporaryDirectory(self)
        _ = try makeCheckpoint(folder, iteration: 5)
        XCTAssertThrowsError(try RunFolder(folder).prepareNewRun(overwrite: false)) {
            XCTAssertEqual(
                $0 as? RunFolderError, .holdsAnotherRun(folder: folder.path, checkpoints: ["checkpoint-5-0"]))
            XCTAssertTrue("\($0)".contains("continue it with --resume \(folder.path)"), "\($0)")
        }
        try RunFolder(folder).prepareNewRun(overwrite: true, deleting: false)
        XCTAssertEqual(RunFolder(folder).checkpoints.count, 1, "a dry run deletes nothing")
        try RunFolder(folder).prepareNewRun(overwrite: true)
        XCTAssertEqual(RunFolder(folder).checkpoints.count, 0)
    }

    func testFileSystemFailuresSayWhatAndWhere() throws {
        let full = URL(fileURLWithPath: "/dev/full")
        guard FileManager.default.fileExists(atPath: full.path) else { throw XCTSkip("no /dev/full here") }
        XCTAssertThrowsError(
            try FileSystemFailure.wrapping("write checkpoint", path: full) {
                let handle = try FileHandle(forWritingTo: full)
                defer { try? handle.close() }
                try handle.write(contentsOf: Data(count: 1 << 16))
                try handle.synchronize()
            }
        ) {
            let failure = $0 as? FileSystemFailure
            XCTAssertEqual(failure?.action, "write checkpoint")
            XCTAssertEqual(failure?.reason, "No space left on device", "\($0)")
        }
        let file = try temporaryDirectory(self).appendingPathComponent("file")
        try Data().write(to: file)
        XCTAssertThrowsError(
            try FileSystemFailure.wrapping("create the run folder", path: file.appendingPathComponent("run")) {
                try FileManager.default.createDirectory(
                    at: file.appendingPathComponent("run"), withIntermediateDirectories: true)
            }
        ) {
            XCTAssertTrue("\($0)".hasPrefix("cannot create the run folder \(file.path)"), "\($0)")
            XCTAssertFalse("\($0)".contains("NSCocoaErrorDomain"), "\($0)")
        }
    }
}
