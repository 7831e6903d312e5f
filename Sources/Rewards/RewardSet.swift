import Engine
import Foundation
import Imaging

/// Several rewards with their weights, in the order the `--reward` list gave them: what a trainer scores each batch
/// of decoded samples with. Combining them is the trainer's part (normalise each reward's scores per group, then sum
/// the advantages with these weights; or normalise the weighted sum).
public final class RewardSet {
    public let entries: [(spec: RewardSpec, reward: any Reward)]

    public var specs: [RewardSpec] { entries.map(\.spec) }
    public var names: [String] { entries.map(\.spec.name) }
    public var weights: [Double] { entries.map(\.spec.weight) }

    public init(_ entries: [(spec: RewardSpec, reward: any Reward)]) {
        precondition(
            entries.allSatisfy { $0.spec.name == $0.reward.name }, "RewardSet: a spec's name must be its reward's")
        self.entries = entries
    }

    /// Parses `specification` and builds every reward from `catalog` (the reward models by default).
    public convenience init(
        specification: String, locations: RewardLocations = RewardLocations(),
        catalog: RewardCatalog = .standard
    ) throws {
        self.init(try RewardSpec.parseList(specification).map { ($0, try catalog.make($0.name, locations: locations)) })
    }

    /// What one batch scored: `scores[r][i]` is reward r of sample i; `info` merges the rewards' named per-sample
    /// extras (the first reward to report a name wins).
    public struct Scores: Sendable {
        public var scores: [[Double]]
        public var info: [String: [Double]]
    }

    public func score(_ samples: [GeneratedSample], prompts: [Prompt]) throws -> Scores {
        var result = Scores(scores: [], info: [:])
        for (spec, reward) in entries {
            let scored = try reward.score(samples, prompts: prompts)
            guard scored.scores.count == samples.count else {
                throw RewardError.invalidInput(
                    "reward '\(spec.name)' gave \(scored.scores.count) scores for \(samples.count) samples")
            }
            result.scores.append(scored.scores)
            for (key, values) in scored.info where result.info[key] == nil { result.info[key] = values }
        }
        return result
    }

    /// One row of scores per reward, in order, for images and plain-text prompts.
    public func scores(images: [RGBImage], prompts: [String]) throws -> [(spec: RewardSpec, scores: [Double])] {
        let scored = try score(images.map(GeneratedSample.image), prompts: prompts.map { Prompt(text: $0) })
        return Array(zip(specs, scored.scores))
    }

    /// Σ_r weight_r · score_r per image (the raw weighted sum, for display; training normalises per reward first).
    public static func weightedSum(_ rows: [(spec: RewardSpec, scores: [Double])]) -> [Double] {
        guard let count = rows.first?.scores.count else { return [] }
        return (0..<count).map { i in rows.reduce(0) { $0 + $1.spec.weight * $1.scores[i] } }
    }
}
