import Foundation

/// The PyTorch CPU side of the comparison: tools/bench/torch_bench.py, run with the same repeat policy and thread
/// count, in a child process after the Swift measurements (never at the same time: both use every core).
enum TorchReference {
    /// What tools/bench/torch_bench.py prints with `--json`.
    struct Results: Codable {
        struct Transformer: Codable {
            var parameters: Int
            var forwardMilliseconds: Double
            var forwardBackwardMilliseconds: Double
            enum CodingKeys: String, CodingKey {
                case parameters
                case forwardMilliseconds = "forward_ms"
                case forwardBackwardMilliseconds = "forward_backward_ms"
            }
        }
        var torchVersion: String
        var threads: Int
        var blas: String
        var gemmGigaflops: [String: Double]
        var transformer: Transformer
        enum CodingKeys: String, CodingKey {
            case torchVersion = "torch_version", threads, blas, gemmGigaflops = "gemm_gflops", transformer
        }
    }

    enum Outcome {
        case measured(Results)
        /// Not run, or run and failed; the reason is printed in place of the ratios.
        case unavailable(String)
    }

    static func run(warmup: Int, repeats: Int, threads: Int) -> Outcome {
        guard let root = packageRoot() else {
            return .unavailable("tools/bench/torch_bench.py not found (run from the package root): ratio skipped")
        }
        guard let python = pythonWithTorch(root: root) else {
            return .unavailable(
                """
                PyTorch not importable: ratio skipped (run `scripts/tools-env.sh true` once to create .venv-tools \
                with torch; it takes a few minutes)
                """)
        }
        let script = root.appendingPathComponent("tools/bench/torch_bench.py").path
        let arguments = [
            script, "--json", "--warmup", "\(warmup)", "--repeats", "\(repeats)", "--threads", "\(threads)"
        ]
        print("PyTorch: \(python.path) \(arguments.joined(separator: " "))")
        guard let (status, output) = launch(python, arguments), status == 0 else {
            return .unavailable("tools/bench/torch_bench.py failed (see its messages above): ratio skipped")
        }
        do {
            return .measured(try JSONDecoder().decode(Results.self, from: output))
        } catch {
            return .unavailable("tools/bench/torch_bench.py printed unreadable JSON (\(error)): ratio skipped")
        }
    }

    /// The folder holding tools/bench/torch_bench.py: the working directory (`make bench`), else two levels above
    /// the executable (.build/release/dancegrpo-bench).
    private static func packageRoot() -> URL? {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidates = [
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
            executable.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        ]
        return candidates.first {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent("tools/bench/torch_bench.py").path)
        }
    }

    /// The tools venv's python when it exists (never created here: installing torch takes minutes), else a
    /// `python3` on the PATH that can import torch.
    private static func pythonWithTorch(root: URL) -> URL? {
        let venvPython = root.appendingPathComponent(".venv-tools/bin/python")
        if FileManager.default.isExecutableFile(atPath: venvPython.path) { return venvPython }
        let env = URL(fileURLWithPath: "/usr/bin/env")
        if let (status, _) = launch(env, ["python3", "-c", "import torch"], quiet: true), status == 0 {
            // Resolve through env so the report names the interpreter that was used.
            if let (_, path) = launch(env, ["python3", "-c", "import sys; print(sys.executable, end='')"]),
                let text = String(data: path, encoding: .utf8), !text.isEmpty
            {
                return URL(fileURLWithPath: text)
            }
        }
        return nil
    }

    /// Runs a program to completion; returns its exit status and standard output (standard error passes through,
    /// or is discarded when `quiet`). Nil when it cannot be started.
    private static func launch(_ program: URL, _ arguments: [String], quiet: Bool = false) -> (Int32, Data)? {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
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
}
