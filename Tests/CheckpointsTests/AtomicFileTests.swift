import Foundation
import XCTest

@testable import Checkpoints

final class AtomicFileTests: XCTestCase {
    private func scratchFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        return folder
    }

    /// The system's own reason reaches the caller (root ignores permissions here, so a name too long stands in for
    /// the failures a user meets: a full disk, a read-only volume).
    func testAFailedCreateCarriesTheSystemReasonAndThePath() throws {
        let folder = try scratchFolder()
        let target = folder.appendingPathComponent(String(repeating: "n", count: 300))
        XCTAssertThrowsError(try AtomicFile.write(Data([1, 2, 3]), to: target)) { error in
            guard let cocoa = error as? CocoaError, let posix = cocoa.underlying as? POSIXError else {
                return XCTFail("expected a file error with its errno, got \(error)")
            }
            XCTAssertEqual(posix.code, .ENAMETOOLONG)
            XCTAssertTrue(cocoa.filePath?.hasPrefix(folder.path) ?? false, "\(String(describing: cocoa.filePath))")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [], "no temporary file left")
    }

    func testABodyThatThrowsLeavesTheDestinationAndNoTemporaryFile() throws {
        struct Interrupted: Error {}
        let folder = try scratchFolder()
        let target = folder.appendingPathComponent("weights.bin")
        try AtomicFile.write(Data([7]), to: target)
        XCTAssertThrowsError(
            try AtomicFile.write(to: target) { handle in
                try handle.write(contentsOf: Data([1, 2]))
                throw Interrupted()
            })
        XCTAssertEqual(try Data(contentsOf: target), Data([7]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["weights.bin"])
    }
}
