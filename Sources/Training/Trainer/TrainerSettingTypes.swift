import Foundation
import GRPO
import Sampling

/// The rollout's stochastic step, by its `sampler` name: DanceGRPO's SDE, Flow-GRPO's SDE, coefficient-preserving
/// sampling (flow models) or DDPO's DDIM step (Stable Diffusion). The noise level (`eta`) travels with it in
/// ``RolloutSampler``.
public enum SamplerKind: String, Codable, CaseIterable, Sendable {
    case danceSDE = "dance-sde"
    case flowSDE = "flow-sde"
    case cps
    case ddim
}

/// A stochastic step with its noise level: η of the Dance SDE, Flow-GRPO's `noise_level` a, CPS's η, or DDIM's η.
public enum RolloutSampler: Sendable, Equatable {
    case flow(FlowSampler)
    case ddim(eta: Float)

    public init(_ kind: SamplerKind, noiseLevel: Float) {
        switch kind {
        case .danceSDE: self = .flow(.danceSDE(eta: noiseLevel))
        case .flowSDE: self = .flow(.flowSDE(noiseLevel: noiseLevel))
        case .cps: self = .flow(.cps(noiseLevel: noiseLevel))
        case .ddim: self = .ddim(eta: noiseLevel)
        }
    }
}

/// Learning-rate schedules by diffusers' `get_scheduler` names (hyphens read as underscores).
public enum LRSchedulerKind: String, Codable, CaseIterable, Sendable {
    case constant
    case constantWithWarmup = "constant_with_warmup"
    case linear
    case cosine

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let kind = LRSchedulerKind(rawValue: text.replacingOccurrences(of: "-", with: "_")) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription:
                        """
                        unknown learning-rate schedule '\(text)' \
                        (\(Self.allCases.map(\.rawValue).joined(separator: ", ")))
                        """
                ))
        }
        self = kind
    }
}

/// The compute dtype of the training passes (`--mixed-precision`, accelerate's names).
public enum MixedPrecision: String, Codable, CaseIterable, Sendable {
    case no
    case bf16
    case fp16
}

/// How several rewards make one advantage: the advantage of their weighted sum (`reward`), or the weighted sum of
/// each reward's own advantage (`advantage`).
public enum RewardCombination: String, Codable, CaseIterable, Sendable {
    case reward
    case advantage
}

/// The module names LoRA adapters attach to. Written as one comma-separated string, as DanceGRPO's scripts and
/// diffusers' `--lora_target_modules` spell it; a JSON array is read too.
public struct LoRATargets: Codable, Sendable, Equatable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var modules: [String]

    public init(_ modules: [String]) { self.modules = modules }
    public init(arrayLiteral modules: String...) { self.modules = modules }

    public init(parsing text: String) {
        modules = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    public var description: String { modules.joined(separator: ",") }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let list = try? container.decode([String].self) {
            self.init(list)
        } else {
            self.init(parsing: try container.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
