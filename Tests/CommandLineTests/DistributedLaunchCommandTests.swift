import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// How `train` forms its ranks over MLX's distributed module, as users launch it: a rank killed in the middle of a
/// `--processes 2` run stops the other with a message naming it, and a bad hostfile, an unavailable backend or an
/// address in use is one line before any work (no run folder).
final class DistributedLaunchCommandTests: XCTestCase {
    private let tiny = [
        "--prompts-per-iteration", "1", "--num-generations", "2", "--sampling-steps", "4",
        "--gradient-accumulation-steps", "2", "--eval-prompts", "2", "--eval-every", "0",
        "--checkpoint-every", "0"
    ]

    private func temporary(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "dancegrpo-\(name)-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func assertRefusedBeforeWork(_ flags: [String], _ message: String, line: UInt = #line) throws {
        let folder = temporary("refused")
        let result = try DancegrpoExecutable.run(["train", "--output-dir", folder.path] + flags)
        XCTAssertNotEqual(result.status, 0, line: line)
        let errors = result.output.split(separator: "\n").filter { $0.hasPrefix("Error:") || $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, result.output, line: line)
        XCTAssertTrue(result.output.contains(message), result.output, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path), "a run folder was made", line: line)
    }

    func testBadHostfileUnavailableBackendAndAddressInUseAreOneLineBeforeWork() throws {
        let broken = temporary("hostfile")
        try "{\"hosts\": [".write(to: broken, atomically: true, encoding: .utf8)
        try assertRefusedBeforeWork(
            ["--hostfile", broken.path],
            "hostfile \(broken.path): expected JSON (mlx.launch's hostfile), found text that does not parse")
        // The CPU build has no NCCL.
        try assertRefusedBeforeWork(
            ["--processes", "2", "--backend", "nccl"],
            "the nccl backend is not available in this build (available: ring")

        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        XCTAssertTrue(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let hostfile = temporary("hostfile-in-use")
        try #"[["127.0.0.1:\#(port)"], ["127.0.0.1:\#(port == 65535 ? port - 1 : port + 1)"]]"#.write(
            to: hostfile, atomically: true, encoding: .utf8)
        try assertRefusedBeforeWork(
            ["--processes", "2", "--hostfile", hostfile.path], "rank 0's address 127.0.0.1:\(port) is in use")
    }

    /// The pid of a child of `parent` (Linux: the kernel's children list, else a scan of /proc).
    private func child(of parent: Int32) -> Int32? {
        let list = try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8)
        if let first = list?.split(separator: " ").first, let pid = Int32(first) { return pid }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == parent { return pid }
        }
        return nil
    }

    func testAKilledRankStopsTheRunWithAMessageNamingItWithinSeconds() throws {
        let folder = temporary("killed")
        let process = DancegrpoExecutable.process(
            ["train", "--processes", "2", "--iterations", "1000", "--output-dir", folder.path] + tiny)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = OutputCollector()
        pipe.fileHandleForReading.readabilityHandler = { output.append($0.availableData) }
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // Rank 1 once it runs and the run has trained a few seconds.
        var rankOne: Int32?
        let deadline = Date().addingTimeInterval(60)
        while rankOne == nil && Date() < deadline && process.isRunning {
            rankOne = child(of: process.processIdentifier)
            usleep(100_000)
        }
        guard let rankOne else { return XCTFail("rank 1 never started: \(output.text)") }
        sleep(4)
        XCTAssertTrue(process.isRunning, output.text)
        kill(rankOne, SIGKILL)
        let killed = Date()
        while process.isRunning && Date().timeIntervalSince(killed) < 15 { usleep(50_000) }
        XCTAssertFalse(process.isRunning, "rank 0 still runs 15 s after rank 1 was killed: \(output.text)")
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertTrue(
            output.text.contains("rank 1 was killed by signal 9")
                || output.text.contains("rank 1 has most likely exited"),
            output.text)
    }
}

/// Output a child writes, collected from its pipe's handler thread.
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) {
        lock.lock()
        data.append(more)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}
