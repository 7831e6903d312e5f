import Foundation
import Models

/// The workload of `dancegrpo-bench scale`: a FLUX-architecture transformer with random weights and the GRPO
/// iterations each rank runs. Everything is an argument so the same mode runs the default (minutes on 2 cores) or
/// the issue's ≈300M-parameter model (`--hidden 1024 --double 4 --single 8`, about 5.6 GiB of training state per
/// rank at stage 0).
struct ScaleOptions: Codable {
    /// Attention heads of 64 features: the transformer's width is 64 × heads.
    var heads = 8
    var double = 2
    var single = 4
    /// Packed latent tokens per side (image tokens = side², 16 px each) and text tokens.
    var side = 8
    var textTokens = 16
    /// Timed iterations after one warm-up.
    var steps = 2
    var ranks = [1, 2, 4]
    var stages = [0, 1, 2, 3]
    var checkpointing = true
    /// Print only the estimates of the seed's setups (FLUX.1-dev, Wan2.1-1.3B, Qwen-Image), measuring nothing.
    var estimatesOnly = false
    /// Samples per rank per iteration (one prompt's group), denoising steps, trained transitions per sample.
    var samples = 2
    var samplingSteps = 4

    static let usage = """
        usage: dancegrpo-bench scale [--heads N] [--double N] [--single N] [--side N] [--text-tokens N] [--steps N]
                                     [--ranks 1,2,4] [--stages 0,1,2,3] [--no-checkpointing] [--estimates]
          --heads N         attention heads of 64 features (width 64·N; default 8)
          --double/--single FLUX double- and single-stream blocks (default 2 and 4)
          --side N          packed image tokens per side (default 8: 64 tokens, a 128 px image)
          --text-tokens N   text tokens (default 16)
          --steps N         timed GRPO iterations per run after one warm-up (default 2)
          --ranks LIST      rank counts on loopback (default 1,2,4); --stages LIST ZeRO stages (default 0,1,2,3)
          --no-checkpointing  train without gradient checkpointing (default: on, as the seed)
          --estimates         print only the memory plans of the seed's setups (FLUX.1-dev, Wan2.1-T2V-1.3B,
                              Qwen-Image)
          The issue's ≈300M-parameter model: --heads 16 --double 4 --single 8 (width 1024).
        """

    init() {}

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        func integer(_ flag: String) throws -> Int {
            guard let text = rest.popFirst(), let n = Int(text), n >= 1 else {
                throw FluxBenchSkipped("\(flag) needs a positive integer")
            }
            return n
        }
        func list(_ flag: String, in range: ClosedRange<Int>) throws -> [Int] {
            let values = (rest.popFirst() ?? "").split(separator: ",").compactMap { Int($0) }
            guard !values.isEmpty, values.allSatisfy(range.contains) else {
                throw FluxBenchSkipped(
                    "\(flag) needs a comma-separated list of \(range.lowerBound)…\(range.upperBound)")
            }
            return values
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--heads": heads = try integer(argument)
            case "--double": double = try integer(argument)
            case "--single": single = try integer(argument)
            case "--side": side = try integer(argument)
            case "--text-tokens": textTokens = try integer(argument)
            case "--steps": steps = try integer(argument)
            case "--ranks": ranks = try list(argument, in: 1...64)
            case "--stages": stages = try list(argument, in: 0...3)
            case "--no-checkpointing": checkpointing = false
            case "--estimates": estimatesOnly = true
            default: throw FluxBenchSkipped("unknown argument \(argument)")
            }
        }
    }

    var config: FluxConfig {
        var c = FluxConfig()
        c.inChannels = 64
        c.numLayers = double
        c.numSingleLayers = single
        c.attentionHeadDim = 64
        c.numAttentionHeads = heads
        c.jointAttentionDim = 256
        c.pooledProjectionDim = 128
        c.guidanceEmbeds = true
        c.axesDimsRope = [8, 28, 28]
        return c
    }

    /// Each sample trains one transition of its `samplingSteps − 1` (fraction just over 1/(T−1)), and an optimizer
    /// step takes all `samples` of a rank: one training call of `samples` rows per step.
    var timestepFraction: Float { 1.0 / Float(samplingSteps - 1) + 1e-3 }
}
