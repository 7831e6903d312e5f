import Foundation

/// Child processes for the FLUX modes: the diffusers script, and this benchmark re-run in a hidden mode so that a
/// memory measurement starts from a fresh address space.
enum FluxProcesses {
    /// Runs a program to completion; returns its exit status and standard output (standard error passes through,
    /// or is discarded when `quiet`). Nil when it cannot be started.
    /// `environment` adds to (or overrides) this process's variables.
    static func run(
        _ program: URL, _ arguments: [String], environment: [String: String] = [:],
        quiet: Bool = false
    ) -> (status: Int32, output: Data)? {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let stdout = Pipe()
        process.standardOutput = stdout
        if quiet { process.standardError = FileHandle.nullDevice }
        // Our buffered output first, so a piped log reads in order.
        fflush(nil)
        do { try process.run() } catch { return nil }
        // Read before waiting, so a large output cannot fill the pipe and block the child.
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    /// This benchmark's own executable (to re-run it in a hidden mode).
    static var executable: URL {
        let link = URL(fileURLWithPath: "/proc/self/exe")
        if FileManager.default.fileExists(atPath: link.path) { return link.resolvingSymlinksInPath() }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    }

    /// The package folder holding `relativePath`: the working directory (`make bench`), else three levels above the
    /// executable (.build/<triple>/release/dancegrpo-bench).
    static func packageRoot(containing relativePath: String) -> URL? {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let candidates = [
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
            binary.deletingLastPathComponent().deletingLastPathComponent(),
            binary.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent(relativePath).path) }
    }

    /// The tools venv's python when it can import the modules (never created here: installing torch takes
    /// minutes), else a `python3` on the PATH that can.
    static func python(importing modules: [String], root: URL) -> URL? {
        let check = ["-c", "import " + modules.joined(separator: ", ")]
        let venv = root.appendingPathComponent(".venv-tools/bin/python")
        if FileManager.default.isExecutableFile(atPath: venv.path), run(venv, check, quiet: true)?.status == 0 {
            return venv
        }
        let env = URL(fileURLWithPath: "/usr/bin/env")
        guard run(env, ["python3"] + check, quiet: true)?.status == 0,
            let (_, path) = run(env, ["python3", "-c", "import sys; print(sys.executable, end='')"]),
            let text = String(data: path, encoding: .utf8), !text.isEmpty
        else { return nil }
        return URL(fileURLWithPath: text)
    }
}
