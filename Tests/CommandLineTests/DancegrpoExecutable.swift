import Foundation

/// The `dancegrpo` built beside the test bundle (`swift build --build-tests` builds both into one folder), run in
/// the package root (where `assets/` is) as users run it: one BLAS thread, no outside launcher's WORLD_SIZE or
/// MLX_RANK.
enum DancegrpoExecutable {
    static var url: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("dancegrpo")
    }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// A child process running `dancegrpo arguments`, not started, with its output discarded unless redirected.
    /// `oneBLASThread` false lets OpenBLAS use every core, as users run it: its matrix products then split rows over
    /// threads by the matrix's height, so results of differently batched products can differ in the last bit.
    static func process(_ arguments: [String], oneBLASThread: Bool = true) -> Process {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = oneBLASThread ? "1" : nil
        for name in ["WORLD_SIZE", "MLX_RANK", "MLX_HOSTFILE"] { environment.removeValue(forKey: name) }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        return process
    }

    /// Runs the executable with `environment` added to this process's; returns its status and everything it printed.
    static func run(_ arguments: [String], oneBLASThread: Bool = true, environment: [String: String] = [:]) throws
        -> (status: Int32, output: String)
    {
        let process = process(arguments, oneBLASThread: oneBLASThread)
        process.environment?.merge(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
