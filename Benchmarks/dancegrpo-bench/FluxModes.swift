import Engine
import Foundation

/// The FLUX transformer measurements, as modes of the benchmark (main.swift hands over when the first argument
/// names one):
///   dancegrpo-bench flux [--quick] [--repeats N] [--no-torch] [--no-backward]
///       forward (and forward+backward) time of FluxTransformer2DModel on a medium config, float32 and bfloat16,
///       against diffusers on the same machine
///   dancegrpo-bench flux-memory [--keep]
///       peak resident memory of loading sharded tiny and ≈100M-parameter checkpoints
///   dancegrpo-bench grpo --weights DIR …
///       seconds per GRPO iteration on a tiny FLUX (GRPOBench.swift; `make bench-grpo` adds the PyTorch loop)
///   dancegrpo-bench scale …
///       peak memory per rank and seconds per step at 1, 2, 4 ranks and each ZeRO stage (ScaleBench.swift;
///       `make bench-scale`)
enum FluxModes {
    static let speed = "flux", memory = "flux-memory"
    /// Hidden: the writer and loader processes of `flux-memory`.
    static let memoryChild = "flux-memory-child"

    static let usage = """
        usage: dancegrpo-bench flux [--quick] [--repeats N] [--no-torch] [--no-backward]
               dancegrpo-bench flux-memory [--keep]
          --quick        1 warm-up and 3 timed runs (default: 2 and 10)
          --repeats N    timed runs (the median is reported)
          --no-torch     skip the diffusers comparison
          --no-backward  time the forward pass only
          --keep         keep the checkpoints written for the memory measurement
        """

    /// The exit status when `arguments` (CommandLine.arguments) name a FLUX mode; nil otherwise.
    static func run(_ arguments: [String]) -> Int32? {
        guard arguments.count >= 2 else { return nil }
        let rest = Array(arguments.dropFirst(2))
        do {
            switch arguments[1] {
            case speed: return try runSpeed(rest)
            case memory: return try runMemory(rest)
            case GRPOBench.mode: return try GRPOBench.run(rest)
            case ScaleBench.mode: return try ScaleBench.run(rest)
            case ScaleRank.mode:
                try ScaleRank.run(rest)
                return 0
            case memoryChild:
                try FluxMemoryBench.runChild(rest)
                return 0
            default: return nil
            }
        } catch {
            // The hidden child's caller reports the failure; the usage is for people.
            let help = [memoryChild, ScaleRank.mode].contains(arguments[1]) ? "" : "\n\(usage)"
            FileHandle.standardError.write(Data("dancegrpo-bench \(arguments[1]): \(error)\(help)\n".utf8))
            return 2
        }
    }

    private static func runSpeed(_ arguments: [String]) throws -> Int32 {
        var quick = false, withTorch = true, backward = true
        var repeats: Int?
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--quick": quick = true
            case "--no-torch": withTorch = false
            case "--no-backward": backward = false
            case "--repeats":
                guard let text = rest.popFirst(), let n = Int(text), n >= 1 else {
                    throw FluxBenchSkipped("--repeats needs a positive integer")
                }
                repeats = n
            case "-h", "--help": print(usage); return 0
            default: throw FluxBenchSkipped("unknown argument \(argument)")
            }
        }
        let warmup = quick ? 1 : 2, timedRuns = repeats ?? (quick ? 3 : 10)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("MLX \(Engine.mlxVersion); cblas_sgemm from \(Engine.sgemmProvider); \(cores) cores")
        let config = FluxBench.config
        print(
            "FLUX transformer: \(config.numLayers) double + \(config.numSingleLayers) single blocks, "
                + "\(config.numAttentionHeads) heads × \(config.attentionHeadDim), \(FluxBench.imageTokens) image + "
                + "\(FluxBench.textTokens) text tokens, batch \(FluxBench.batch)")

        let swiftPhase = BackgroundLoad()
        var swift: [FluxBench.Result] = []
        for dtype in FluxBench.dtypes {
            let result = FluxBench.run(dtype: dtype, warmup: warmup, repeats: timedRuns, backward: backward)
            swift.append(result)
            print(
                String(format: "swift flux %@: forward %.1f ms", dtype.description, 1e3 * result.forwardSeconds)
                    + (result.forwardBackwardSeconds.map { String(format: ", forward+backward %.1f ms", 1e3 * $0) }
                        ?? ""))
        }
        let swiftBackground = swiftPhase.otherCores()
        let torchPhase = BackgroundLoad()
        let torch =
            withTorch
            ? FluxTorchReference.run(warmup: warmup, repeats: timedRuns, threads: cores, backward: backward)
            : .failure(FluxBenchSkipped("diffusers comparison skipped (--no-torch)"))
        let torchBackground = withTorch ? torchPhase.otherCores() : nil
        FluxReport.printSpeed(
            swift: swift, torch: torch, warmup: warmup, repeats: timedRuns,
            background: [("Swift", swiftBackground), ("diffusers", torchBackground)])
        return 0
    }

    private static func runMemory(_ arguments: [String]) throws -> Int32 {
        var keep = false
        for argument in arguments {
            switch argument {
            case "--keep": keep = true
            case "-h", "--help": print(usage); return 0
            default: throw FluxBenchSkipped("unknown argument \(argument)")
            }
        }
        return FluxMemoryBench.run(keepFiles: keep)
    }
}
