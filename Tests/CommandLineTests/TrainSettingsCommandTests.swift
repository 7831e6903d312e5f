import Foundation
import XCTest

/// `train --dry-run` as users run it: every setting resolved with its origin, each with a flag, DanceGRPO's launch
/// script as a config file, unknown keys refused.
final class TrainSettingsCommandTests: XCTestCase {
    private var executable: URL { DancegrpoExecutable.url }

    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try DancegrpoExecutable.run(arguments)
    }

    /// The settings `--dry-run` lists (the first word of each line before the memory plan).
    private func settingNames(_ output: String) -> [String] {
        output.components(separatedBy: "\nmemory plan")[0].split(separator: "\n").filter { !$0.hasPrefix("ignored:") }
            .compactMap {
                $0.split(separator: " ").first.map(String.init)
            }
    }

    func testEverySettingHasAFlagAndTheSeedScriptResolves() throws {
        let plain = try run(["train", "--dry-run"])
        XCTAssertEqual(plain.status, 0, plain.output)
        let names = settingNames(plain.output)
        XCTAssertGreaterThan(names.count, 50)
        let help = try run(["train", "--help"]).output
        for name in names {
            let flag =
                "--"
                + name.replacingOccurrences(of: "([a-z0-9])([A-Z])", with: "$1-$2", options: .regularExpression)
                .lowercased()
            XCTAssertTrue(help.contains(flag), "setting \(name) has no flag \(flag)")
        }
        XCTAssertTrue(help.contains("dance-sde") && help.contains("cosine"), "--help lists the choices")

        let seed = try run(["train", "--config", "configs/seed-flux.json", "--dry-run", "--iterations", "7"])
        XCTAssertEqual(seed.status, 0, seed.output)
        for line in [
            "numGenerations              12    (", "gradientAccumulationSteps   4    (",
            "rewards                     hpsv2.1    (",
            "embeddings                  data/rl_embeddings    (", "iterations                  7    (command line)",
            "ignored: mixed_precision"
        ] {
            XCTAssertTrue(seed.output.contains(line), "\(line)\n\(seed.output)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "dancegrpo-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let bad = folder.appendingPathComponent("bad.yaml")
        try "num_generation: 3\n".write(to: bad, atomically: true, encoding: .utf8)
        let refused = try run(["train", "--config", bad.path, "--dry-run"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("bad.yaml: unknown setting 'num_generation'"), refused.output)
    }
}
