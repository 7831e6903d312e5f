import Foundation

/// The diffusers side of `dancegrpo-bench flux`: tools/bench/flux_bench.py, in a child process after the Swift
/// measurements (never at the same time: both use every core), with the same repeat policy and thread count.
enum FluxTorchReference {
    static let script = "tools/bench/flux_bench.py"

    /// What the script prints with `--json`.
    struct Results: Codable {
        struct Timing: Codable {
            var parameters: Int
            var forwardMilliseconds: Double
            var forwardBackwardMilliseconds: Double?
            enum CodingKeys: String, CodingKey {
                case parameters, forwardMilliseconds = "forward_ms", forwardBackwardMilliseconds = "forward_backward_ms"
            }
        }
        var torchVersion: String
        var diffusersVersion: String
        var threads: Int
        /// By dtype name ("float32", "bfloat16").
        var results: [String: Timing]
        enum CodingKeys: String, CodingKey {
            case torchVersion = "torch_version", diffusersVersion = "diffusers_version", threads, results
        }
    }

    /// The results, or why there are none (printed in place of the ratios).
    static func run(warmup: Int, repeats: Int, threads: Int, backward: Bool) -> Result<Results, FluxBenchSkipped> {
        guard let root = FluxProcesses.packageRoot(containing: script) else {
            return .failure(.init("\(script) not found (run from the package root): ratios skipped"))
        }
        guard let python = FluxProcesses.python(importing: ["torch", "diffusers"], root: root) else {
            return .failure(
                .init(
                    """
                    torch and diffusers not importable: ratios skipped (run `scripts/tools-env.sh true` once to create \
                    .venv-tools; it takes a few minutes)
                    """))
        }
        var arguments = [
            root.appendingPathComponent(script).path, "--json", "--warmup", "\(warmup)",
            "--repeats", "\(repeats)", "--threads", "\(threads)"
        ]
        if !backward { arguments.append("--no-backward") }
        print("diffusers: \(python.path) \(arguments.joined(separator: " "))")
        guard let (status, output) = FluxProcesses.run(python, arguments), status == 0 else {
            return .failure(.init("\(script) failed (see its messages above): ratios skipped"))
        }
        do {
            return .success(try JSONDecoder().decode(Results.self, from: output))
        } catch {
            return .failure(.init("\(script) printed unreadable JSON (\(error)): ratios skipped"))
        }
    }
}

/// Why a comparison was not made.
struct FluxBenchSkipped: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
