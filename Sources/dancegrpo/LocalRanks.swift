import Engine
import Foundation
import GRPO

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `train --processes N` on one machine, as mlx.launch runs one host: this process becomes rank 0 of a ring on
/// loopback, writes the ring's hostfile, and starts ranks 1…N−1 as copies of itself with the same arguments and
/// MLX's environment (`MLX_RANK`, `MLX_HOSTFILE`; `LOCAL_WORLD_SIZE` for the core share). The other ranks print
/// nothing but their errors, which arrive here prefixed with their rank. A rank that exits early stops the run:
/// rank 0 names it and stops the others, and ranks whose launcher went away stop themselves.
final class LocalRanks: @unchecked Sendable {
    private static let launcherVariable = "DANCEGRPO_LAUNCHER_PID"
    /// How long rank 0 lets a rank's failure arrive through the run itself (its message, rank 0's own error) before
    /// stopping everything with the exit status.
    private static let grace: TimeInterval = 2

    private(set) var group: ProcessGroup = SingleProcessGroup()
    private let children: [Process]
    private let hostfile: URL
    private let lock = NSLock()
    private var finishing = false

    private init(children: [Process], hostfile: URL) {
        self.children = children
        self.hostfile = hostfile
    }

    /// The process group of `plan`: this process launching local ranks, joining as one rank, or alone.
    static func group(for plan: RankPlan) throws -> (ProcessGroup, LocalRanks?) {
        if case .launcher(let count) = plan.role {
            let ranks = try start(count: count, plan: plan)
            return (ranks.group, ranks)
        }
        watchLauncher()
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "dancegrpo-hostfile-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: url) }
        return (try plan.form(hostfileURL: plan.hostfile != nil ? url : nil), nil)
    }

    private static func start(count: Int, plan: RankPlan) throws -> LocalRanks {
        let hostfile = FileManager.default.temporaryDirectory.appendingPathComponent(
            "dancegrpo-hostfile-\(getpid()).json")
        try plan.hostfile!.write(to: hostfile)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let arguments = Array(CommandLine.arguments.dropFirst())
        var children: [Process] = []
        for rank in 1..<count {
            let child = Process()
            child.executableURL =
                FileManager.default.fileExists(atPath: executable.path)
                ? executable : URL(fileURLWithPath: CommandLine.arguments[0])
            child.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            for name in ["RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"] {
                environment.removeValue(forKey: name)
            }
            environment["MLX_RANK"] = String(rank)
            environment["MLX_HOSTFILE"] = hostfile.path
            environment["LOCAL_WORLD_SIZE"] = String(count)
            environment[launcherVariable] = String(getpid())
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
            children.append(child)
        }
        let ranks = LocalRanks(children: children, hostfile: hostfile)
        for (index, child) in children.enumerated() {
            child.terminationHandler = { [ranks] process in ranks.rankExited(index + 1, process) }
            do {
                try child.run()
            } catch {
                ranks.abandon()
                throw error
            }
        }
        do {
            ranks.group = try plan.form(rank: 0, hostfileURL: hostfile)
            return ranks
        } catch {
            ranks.abandon()
            throw error
        }
    }

    /// A rank failed while the run goes on: after the grace period, unless the run ended meanwhile, rank 0 says which
    /// rank and how, stops the others and exits.
    private func rankExited(_ rank: Int, _ process: Process) {
        let signaled = process.terminationReason == .uncaughtSignal
        let status = process.terminationStatus
        guard signaled || status != 0 else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + (signaled ? 0 : Self.grace)) { [self] in
            lock.lock()
            let ended = finishing
            if !ended { finishing = true }
            lock.unlock()
            guard !ended else { return }
            let error = ProcessGroupError.rankExited(rank: rank, status: status, signaled: signaled)
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            children.filter(\.isRunning).forEach { $0.terminate() }
            try? FileManager.default.removeItem(at: hostfile)
            _exit(1)
        }
    }

    /// Waits for ranks 1…N−1 to finish and throws if one of them failed.
    func finish() throws {
        lock.lock()
        finishing = true
        lock.unlock()
        defer { try? FileManager.default.removeItem(at: hostfile) }
        for (index, child) in children.enumerated() {
            child.waitUntilExit()
            guard child.terminationStatus == 0 else {
                throw ProcessGroupError.rankExited(
                    rank: index + 1, status: child.terminationStatus,
                    signaled: child.terminationReason == .uncaughtSignal)
            }
        }
    }

    /// Stops ranks that are still running (rank 0 failed, so they would wait for it forever).
    func abandon() {
        lock.lock()
        finishing = true
        lock.unlock()
        children.filter(\.isRunning).forEach { $0.terminate() }
        try? FileManager.default.removeItem(at: hostfile)
    }

    /// A rank started by `--processes` stops when its launcher is gone (it would otherwise wait on the ring until its
    /// next collective, or forever while the ring forms).
    private static func watchLauncher() {
        guard let text = ProcessInfo.processInfo.environment[launcherVariable], let launcher = Int32(text) else {
            return
        }
        let rank = Int(ProcessInfo.processInfo.environment["MLX_RANK"] ?? "") ?? 0
        Thread.detachNewThread {
            while getppid() == launcher { usleep(200_000) }
            FileHandle.standardError.write(Data("error: \(ProcessGroupError.launcherExited(rank: rank))\n".utf8))
            _exit(1)
        }
    }

    /// One BLAS thread per core share: N ranks on C cores each use ⌊C/N⌋ threads, unless `OPENBLAS_NUM_THREADS`
    /// says otherwise.
    static func shareCores(localWorldSize: Int) {
        guard localWorldSize > 1, ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil else { return }
        Engine.setBLASThreads(max(1, ProcessInfo.processInfo.activeProcessorCount / localWorldSize))
    }
}
