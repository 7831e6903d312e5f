import Engine
import Foundation
import GRPO
import XCTest

/// Real ranks for collective tests: MLX keeps one group per process, so each rank is a copy of this test bundle that
/// runs one named test method as mlx.launch would start it (`MLX_RANK`, `MLX_HOSTFILE` for a ring on loopback).
/// Those methods do nothing in an ordinary test run (``isWorker`` is false there).
enum RankProcesses {
    static let workerVariable = "DANCEGRPO_TEST_RANK_WORKER"
    static let outputVariable = "DANCEGRPO_TEST_RANK_OUTPUT"

    /// A started rank: its process and everything it printed (standard output and error together).
    final class Rank: @unchecked Sendable {
        let process = Process()
        let rank: Int
        private let lock = NSLock()
        private var collected = Data()
        let outputFile: URL

        init(rank: Int, outputFile: URL) {
            self.rank = rank
            self.outputFile = outputFile
        }

        var output: String {
            lock.lock()
            defer { lock.unlock() }
            return String(decoding: collected, as: UTF8.self)
        }

        fileprivate func append(_ data: Data) {
            lock.lock()
            collected.append(data)
            lock.unlock()
        }
    }

    /// Whether this process is a rank started by ``start(_:count:)``.
    static var isWorker: Bool { ProcessInfo.processInfo.environment[workerVariable] != nil }

    /// Starts `count` ranks, each running test `method` (`Class/method`) of this bundle with `extra` added to its
    /// environment, for `test` (which removes their files when it ends).
    static func start(
        _ method: String, count: Int = 2, environment extra: [String: String] = [:], for test: XCTestCase
    ) throws -> [Rank] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ranks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let hostfile = folder.appendingPathComponent("hostfile.json")
        try RingHostfile.loopback(count: count).write(to: hostfile)
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return try (0..<count).map { rank in
            let started = Rank(rank: rank, outputFile: folder.appendingPathComponent("rank-\(rank).json"))
            started.process.executableURL = bundle
            started.process.arguments = ["GRPOTests.\(method)"]
            var environment = ProcessInfo.processInfo.environment
            environment["MLX_RANK"] = String(rank)
            environment["MLX_HOSTFILE"] = hostfile.path
            environment[workerVariable] = "1"
            environment[outputVariable] = started.outputFile.path
            environment["OPENBLAS_NUM_THREADS"] = "1"
            environment.merge(extra) { $1 }
            started.process.environment = environment
            let pipe = Pipe()
            started.process.standardOutput = pipe
            started.process.standardError = pipe
            pipe.fileHandleForReading.readabilityHandler = { handle in started.append(handle.availableData) }
            try started.process.run()
            return started
        }
    }

    /// The worker's group, from the environment `start` gave it.
    static func formGroup() throws -> ProcessGroup {
        let plan = try RankPlan.resolve(processes: 1, hostfile: nil, backend: nil)
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("hostfile-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: copy) }
        return try plan.form(hostfileURL: copy)
    }

    /// Writes the worker's results for the test that started it.
    static func report(_ values: [String: [Double]]) throws {
        let path = ProcessInfo.processInfo.environment[outputVariable]!
        try JSONSerialization.data(withJSONObject: values).write(to: URL(fileURLWithPath: path))
    }

    /// Waits up to `seconds` for every rank to exit; false if one is still running (then every rank is killed).
    static func wait(_ ranks: [Rank], seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while ranks.contains(where: \.process.isRunning) && Date() < deadline { usleep(50_000) }
        let finished = !ranks.contains(where: \.process.isRunning)
        ranks.filter(\.process.isRunning).forEach { kill($0.process.processIdentifier, SIGKILL) }
        return finished
    }

    static func results(_ rank: Rank) throws -> [String: [Double]] {
        let data = try Data(contentsOf: rank.outputFile)
        return try JSONSerialization.jsonObject(with: data) as? [String: [Double]] ?? [:]
    }
}
