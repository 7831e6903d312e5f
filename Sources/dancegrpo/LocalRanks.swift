import Engine
import Foundation
import GRPO

/// `train --processes N` on one machine (torchrun's `--nproc_per_node`): this process becomes rank 0, listens on a free
/// loopback port, and starts ranks 1…N−1 as copies of itself with the same arguments and torchrun's environment
/// (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`). The other ranks print
/// nothing but their errors, which arrive here prefixed with their rank.
final class LocalRanks {
    let group: ProcessGroup
    private let children: [Process]

    private init(group: ProcessGroup, children: [Process]) {
        self.group = group
        self.children = children
    }

    static func start(count: Int) throws -> LocalRanks {
        let listener = try SocketProcessGroup.makeListener()
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let arguments = Array(CommandLine.arguments.dropFirst())
        var children: [Process] = []
        do {
            for rank in 1..<count {
                let child = Process()
                child.executableURL =
                    FileManager.default.fileExists(atPath: executable.path)
                    ? executable : URL(fileURLWithPath: CommandLine.arguments[0])
                child.arguments = arguments
                var environment = ProcessInfo.processInfo.environment
                environment["RANK"] = String(rank)
                environment["LOCAL_RANK"] = String(rank)
                environment["WORLD_SIZE"] = String(count)
                environment["LOCAL_WORLD_SIZE"] = String(count)
                environment["MASTER_ADDR"] = "127.0.0.1"
                environment["MASTER_PORT"] = String(listener.port)
                child.environment = environment
                child.standardOutput = FileHandle.nullDevice
                let errors = Pipe()
                child.standardError = errors
                errors.fileHandleForReading.readabilityHandler = { handle in
                    let data = handle.availableData
                    guard !data.isEmpty, let text = String(data: data, encoding: .utf8) else { return }
                    let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map {
                        "[rank \(rank)] \($0)\n"
                    }
                    FileHandle.standardError.write(lines.joined().data(using: .utf8)!)
                }
                try child.run()
                children.append(child)
            }
            let group = try SocketProcessGroup.accepting(worldSize: count, listener: listener) {
                for (index, child) in children.enumerated() where !child.isRunning {
                    throw ProcessGroupError.rankExitedBeforeJoining(rank: index + 1, status: child.terminationStatus)
                }
            }
            return LocalRanks(group: group, children: children)
        } catch {
            children.filter(\.isRunning).forEach { $0.terminate() }
            throw error
        }
    }

    /// Waits for ranks 1…N−1 to finish and throws if one of them failed.
    func finish() throws {
        for (index, child) in children.enumerated() {
            child.waitUntilExit()
            guard child.terminationStatus == 0 else {
                throw ProcessGroupError.rankFailed(rank: index + 1, status: child.terminationStatus)
            }
        }
    }

    /// Stops ranks that are still running (rank 0 failed, so they would wait for it forever).
    func abandon() {
        children.filter(\.isRunning).forEach { $0.terminate() }
    }

    /// One BLAS thread per core share: N ranks on C cores each use ⌊C/N⌋ threads, unless `OPENBLAS_NUM_THREADS`
    /// says otherwise.
    static func shareCores(localWorldSize: Int) {
        guard localWorldSize > 1, ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil else { return }
        Engine.setBLASThreads(max(1, ProcessInfo.processInfo.activeProcessorCount / localWorldSize))
    }
}
