import Engine
import Foundation

// `make bench [ARGS="..."]`: GEMM throughput and a small transformer's forward/backward time through the engine,
// then the same workloads through PyTorch CPU on the same machine, as ratios. Not part of the tests.

struct BenchOptions {
    var quick = false
    var jsonPath: String?
    var withTorch = true
    var repeats: Int?

    var warmup: Int { quick ? 1 : 2 }
    var timedRuns: Int { repeats ?? (quick ? 3 : 10) }

    static let usage = """
        usage: dancegrpo-bench [--quick] [--repeats N] [--no-torch] [--json PATH]
          --quick      1 warm-up and 3 timed runs per workload (default: 2 and 10); same shapes
          --repeats N  timed runs per workload (the median is reported)
          --no-torch   skip the PyTorch comparison
          --json PATH  also write the results as JSON to PATH
        """

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        func value(after flag: String) throws -> String {
            guard let v = rest.popFirst() else { throw UsageError("\(flag) needs a value") }
            return v
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--quick": quick = true
            case "--no-torch": withTorch = false
            case "--json": jsonPath = try value(after: argument)
            case "--repeats":
                let text = try value(after: argument)
                guard let n = Int(text), n >= 1 else {
                    throw UsageError("--repeats needs a positive integer, got \(text)")
                }
                repeats = n
            case "-h", "--help": print(Self.usage); exit(0)
            default: throw UsageError("unknown argument \(argument)")
            }
        }
    }
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// `dancegrpo-bench flux …`, `flux-memory …`: the FLUX transformer measurements (FluxModes.swift).
if let status = FluxModes.run(CommandLine.arguments) { exit(status) }
// `dancegrpo-bench sd-unet …`: Stable Diffusion UNet forward/backward against diffusers (SDUNetBench.swift).
if let status = SDUNetBench.run(CommandLine.arguments) { exit(status) }
// `dancegrpo-bench ops`: the SD UNet's primitives one at a time (OpsBench.swift).
if let status = OpsBench.run(CommandLine.arguments) { exit(status) }
// `dancegrpo-bench rewards …`: reward-model scoring throughput (RewardsBench.swift).
if let status = RewardsBench.run(CommandLine.arguments) { exit(status) }

let options: BenchOptions
do {
    options = try BenchOptions(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("dancegrpo-bench: \(error)\n\(BenchOptions.usage)\n".utf8))
    exit(2)
}

let cores = ProcessInfo.processInfo.activeProcessorCount
print("MLX \(Engine.mlxVersion); cblas_sgemm from \(Engine.sgemmProvider); \(cores) cores")
if !Engine.usesOptimizedBLAS {
    print("warning: matrix products run on the reference BLAS bundled with the MLX wheel; install libopenblas-dev")
}

let swiftPhase = BackgroundLoad()
var gemm: [(size: Int, gigaflops: Double)] = []
for n in GemmBench.sizes {
    let gflops = GemmBench.gigaflops(size: n, warmup: options.warmup, repeats: options.timedRuns)
    gemm.append((n, gflops))
    print(String(format: "swift sgemm %d: %.1f GFLOP/s", n, gflops))
}
let transformer = TransformerBench.run(warmup: options.warmup, repeats: options.timedRuns)
print(
    String(
        format: "swift transformer: forward %.1f ms, forward+backward %.1f ms (%d parameters)",
        1e3 * transformer.forwardSeconds, 1e3 * transformer.forwardBackwardSeconds, transformer.parameterCount))

let swiftBackground = swiftPhase.otherCores()

let torchPhase = BackgroundLoad()
let torch: TorchReference.Outcome =
    options.withTorch
    ? TorchReference.run(warmup: options.warmup, repeats: options.timedRuns, threads: cores)
    : .unavailable("PyTorch comparison skipped (--no-torch)")

let torchBackground: Double?
if case .measured = torch { torchBackground = torchPhase.otherCores() } else { torchBackground = nil }

let report = Report(
    gemm: gemm, transformer: transformer, torch: torch, warmup: options.warmup,
    repeats: options.timedRuns,
    background: .init(duringSwift: swiftBackground, duringTorch: torchBackground))
report.printTable()
if let path = options.jsonPath {
    do {
        try report.writeJSON(to: path)
        print("\nJSON written to \(path)")
    } catch {
        FileHandle.standardError.write(Data("dancegrpo-bench: cannot write \(path): \(error)\n".utf8))
        exit(1)
    }
}
