import Foundation
import Imaging
import Rewards
import ShapesWorld

/// The embedded rewards: the shapes scorer (GenEval-style partial credit in [0, 1], GenEval's binary verdict, 1 for a
/// fully correct image, or the partial credit of colours and counts alone; all need prompts of the shapes world) and
/// DDPO's JPEG (in)compressibility (any image).
public enum EmbeddedReward: String, CaseIterable, Sendable, Codable {
    case shapes
    case shapesCorrect = "shapes-correct"
    case shapesColour = "shapes-colour"
    case shapesForm = "shapes-form"
    case jpegCompressibility = "jpeg-compressibility"
    case jpegIncompressibility = "jpeg-incompressibility"

    public func score(_ image: RGBImage, prompt: TrainingPrompt) throws -> Double {
        switch self {
        case .shapes, .shapesCorrect, .shapesColour, .shapesForm: return value(of: try verdict(image, prompt: prompt), prompt: prompt)
        case .jpegCompressibility: return try JPEGSizeReward.compressibility(image)
        case .jpegIncompressibility: return try JPEGSizeReward.incompressibility(image)
        }
    }

    /// Whether the reward is read off the shapes scorer's verdict (which a mix computes once per image for all such).
    var readsShapeScore: Bool { [.shapes, .shapesCorrect, .shapesColour, .shapesForm].contains(self) }

    /// The shapes scorer's verdict on an image of a shapes-world prompt.
    func verdict(_ image: RGBImage, prompt: TrainingPrompt) throws -> ShapeScore {
        guard let spec = prompt.spec else {
            throw RewardMixError(message: "the \(rawValue) reward scores prompts of the shapes world, and '\(prompt.text)' is not one (use it with the embedded world, or choose another reward)")
        }
        return ShapeScorer.standard.score(image, spec)
    }

    /// The reward a shapes verdict gives: partial credit, 1 for a fully correct image, or the credit of its colours
    /// and counts alone (`ColourCredit`).
    func value(of verdict: ShapeScore, prompt: TrainingPrompt) -> Double {
        switch self {
        case .shapes: return verdict.reward
        case .shapesCorrect: return verdict.correct ? 1 : 0
        case .shapesColour: return prompt.spec.map { ColourCredit.credit(objects: verdict.objects, $0) } ?? 0
        case .shapesForm: return prompt.spec.map { ShapeFormCredit.credit(objects: verdict.objects, $0) } ?? 0
        case .jpegCompressibility, .jpegIncompressibility: preconditionFailure("\(rawValue) is not read off the shapes scorer")
        }
    }
}

/// A weighted list of rewards, parsed from `name[:weight],…` (e.g. `shapes,jpeg-compressibility:0.1` or
/// `shapes,hpsv2.1:0.5`): the embedded rewards, and the reward models (HPS-v2.1, PickScore, CLIP score, aesthetic)
/// loaded from the checkpoint files `locations` points at. Order and weights are kept as given.
public struct RewardMix {
    public enum Source {
        case embedded(EmbeddedReward)
        case model(any ImageRewardModel)
    }

    public var terms: [(name: String, source: Source, weight: Double)]

    public init(parsing text: String, locations: RewardLocations = RewardLocations()) throws {
        terms = try text.split(separator: ",").map { item in
            let parts = item.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let name = parts[0]
            let weight = parts.count > 1 ? Double(parts[1]) : 1
            guard let weight else { throw RewardMixError(message: "reward '\(name)': weight '\(parts[1])' is not a number") }
            if let reward = EmbeddedReward(rawValue: name) { return (name, .embedded(reward), weight) }
            guard RewardRegistry.names.contains(name) else {
                let known = EmbeddedReward.allCases.map(\.rawValue) + RewardRegistry.names
                throw RewardMixError(message: "unknown reward '\(name)' (available: \(known.joined(separator: ", ")))")
            }
            return (name, .model(try RewardRegistry.makeModel(name, locations: locations)), weight)
        }
        guard !terms.isEmpty else { throw RewardMixError(message: "no reward given") }
    }

    public var names: [String] { terms.map(\.name) }
    public var weights: [Double] { terms.map(\.weight) }

    /// Each reward's score per image, `[reward][image]`.
    public func scores(_ images: [RGBImage], prompts: [TrainingPrompt]) throws -> [[Double]] {
        var verdicts: [ShapeScore]? = nil  // shared by the rewards read off the shapes scorer
        return try terms.map { term in
            switch term.source {
            case .embedded(let reward) where reward.readsShapeScore:
                if verdicts == nil { verdicts = try zip(images, prompts).map { try reward.verdict($0, prompt: $1) } }
                return zip(verdicts!, prompts).map { reward.value(of: $0, prompt: $1) }
            case .embedded(let reward): return try zip(images, prompts).map { try reward.score($0, prompt: $1) }
            case .model(let model): return try model.scores(images: images, prompts: prompts.map(\.text))
            }
        }
    }
}

public struct RewardMixError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
