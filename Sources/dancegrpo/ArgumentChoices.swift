import ArgumentParser
import Engine
import Sampling
import Training

// The typed choices of the command line: `--help` lists each one's values and a wrong value is refused naming them.

extension SamplerKind: ExpressibleByArgument {}
extension RewardCombination: ExpressibleByArgument {}
extension MixedPrecision: ExpressibleByArgument {}
extension ModelFamily: ExpressibleByArgument {}
extension RewardFrames: ExpressibleByArgument {}
extension WorldName: ExpressibleByArgument {}
extension PredictionType: ExpressibleByArgument {}

extension LRSchedulerKind: ExpressibleByArgument {
    /// diffusers' names, with hyphens read as underscores.
    public init?(argument: String) { self.init(rawValue: argument.replacingOccurrences(of: "-", with: "_")) }
}

extension LoRATargets: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension DType: ExpressibleByArgument {
    /// `--dtype` names: float32 (fp32), bfloat16 (bf16), float16 (fp16).
    public init?(argument: String) {
        switch argument.lowercased() {
        case "float32", "fp32": self = .float32
        case "bfloat16", "bf16": self = .bfloat16
        case "float16", "fp16": self = .float16
        default: return nil
        }
    }

    public static var allValueStrings: [String] { ["float32", "bfloat16", "float16"] }
}
