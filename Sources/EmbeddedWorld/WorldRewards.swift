import Foundation
import Imaging
import ShapesWorld

/// The embedded rewards: the shapes scorer (GenEval-style, in [0, 1]) and DDPO's JPEG (in)compressibility.
public enum WorldReward: String, CaseIterable, Sendable, Codable {
    case shapes
    case jpegCompressibility = "jpeg-compressibility"
    case jpegIncompressibility = "jpeg-incompressibility"

    public func score(_ image: RGBImage, prompt: PromptSpec) throws -> Double {
        switch self {
        case .shapes: return ShapeScorer.standard.score(image, prompt).reward
        case .jpegCompressibility: return try JPEGSizeReward.compressibility(image)
        case .jpegIncompressibility: return try JPEGSizeReward.incompressibility(image)
        }
    }
}

/// A weighted list of rewards, parsed from `name[:weight],…` (e.g. `shapes,jpeg-compressibility:0.1`).
public struct WorldRewardMix: Sendable, Equatable {
    public var terms: [(reward: WorldReward, weight: Double)]

    public static func == (a: WorldRewardMix, b: WorldRewardMix) -> Bool {
        a.terms.map(\.reward) == b.terms.map(\.reward) && a.terms.map(\.weight) == b.terms.map(\.weight)
    }

    public init(parsing text: String) throws {
        terms = try text.split(separator: ",").map { item in
            let parts = item.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard let reward = WorldReward(rawValue: parts[0]) else {
                throw WorldRewardError(message: "unknown reward '\(parts[0])' (embedded rewards: \(WorldReward.allCases.map(\.rawValue).joined(separator: ", ")); HPS-v2.1, PickScore and CLIP score come with the reward-model issue)")
            }
            let weight = parts.count > 1 ? Double(parts[1]) : 1
            guard let weight else { throw WorldRewardError(message: "reward '\(parts[0])': weight '\(parts[1])' is not a number") }
            return (reward, weight)
        }
        guard !terms.isEmpty else { throw WorldRewardError(message: "no reward given") }
    }

    /// Each reward's score per image, `[reward][image]`.
    public func scores(_ images: [RGBImage], prompts: [PromptSpec]) throws -> [[Double]] {
        try terms.map { term in try zip(images, prompts).map { try term.reward.score($0, prompt: $1) } }
    }
}

public struct WorldRewardError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
