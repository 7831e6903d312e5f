import Checkpoints
import Foundation
import FuzzTargets
import XCTest

/// Replays the committed fuzz inputs (Tests/Fuzz/corpus: the seeds; Tests/Fuzz/regressions: every crasher found,
/// fixed) through their parsers in the normal build, so `make test` keeps them fixed without the sanitizer build. A
/// regression input must be refused with an error, never crash the test process.
final class FuzzRegressionTests: XCTestCase {
    static let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    private func inputs(_ kind: String, _ target: FuzzTarget) -> [URL] {
        let folder = Self.fuzzFolder.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { folder.appendingPathComponent($0) }
    }

    func testSeedCorpusIsAccepted() throws {
        for target in FuzzTarget.allCases {
            let seeds = inputs("corpus", target)
            XCTAssertFalse(seeds.isEmpty, "no seeds for \(target.rawValue)")
            for seed in seeds {
                let error = target.run([UInt8](try Data(contentsOf: seed)))
                XCTAssertNil(error, "\(target.rawValue) seed \(seed.lastPathComponent): \(error.map { "\($0)" } ?? "")")
            }
        }
    }

    func testRegressionInputsAreRefusedWithoutCrashing() throws {
        for target in FuzzTarget.allCases {
            for input in inputs("regressions", target) {
                // Reaching the assertion is the test: these inputs trapped or read out of bounds before their fix.
                let error = target.run([UInt8](try Data(contentsOf: input)))
                XCTAssertNotNil(error, "\(target.rawValue) regression \(input.lastPathComponent) was accepted")
            }
        }
    }
}
