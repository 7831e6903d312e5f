import Foundation
import Imaging
import Rewards
import ShapesWorld

/// The moving-shapes world's rule-based rewards on clips (``MotionScorer``): `motion` (half what is drawn, half how it
/// moves, in [0, 1]), `motion-correct` (1 for a clip whose every frame is correct and whose motion is full) and
/// `motion-direction` (the motion credit alone). Each reports `accuracy` (fully correct clips), `motion` and
/// `appearance` (the scorer's two halves). Prompts are
/// moving-shapes prompts: their `MovingPrompt` metadata, or their text parsed.
public final class MovingShapesReward: Reward {
    public enum Kind: String, CaseIterable, Sendable {
        case motion
        case correct = "motion-correct"
        case direction = "motion-direction"
    }

    public let kind: Kind
    public let scorer: MotionScorer
    public var name: String { kind.rawValue }

    public init(_ kind: Kind, travel: Int) {
        self.kind = kind
        scorer = MotionScorer(travel: travel)
    }

    public func score(_ samples: [GeneratedSample], prompts: [Prompt]) throws -> RewardScores {
        guard samples.count == prompts.count else {
            throw RewardError.invalidInput("\(samples.count) samples but \(prompts.count) prompts (one per sample)")
        }
        let scores = try zip(samples, prompts).map { sample, prompt -> MotionScorer.Score in
            guard case .video(let frames, _) = sample else {
                throw RewardError.invalidInput("the \(name) reward scores clips, not single images")
            }
            return scorer.score(frames, try Self.prompt(of: prompt, reward: name))
        }
        let values: [Double] = scores.map {
            switch kind {
            case .motion: return $0.reward
            case .correct: return $0.correct ? 1 : 0
            case .direction: return $0.motion
            }
        }
        return RewardScores(
            scores: values,
            info: [
                "accuracy": scores.map { $0.correct ? 1 : 0 }, "motion": scores.map(\.motion),
                "appearance": scores.map(\.appearance)
            ])
    }

    static func prompt(of prompt: Prompt, reward: String) throws -> MovingPrompt {
        if let moving = prompt.metadata as? MovingPrompt { return moving }
        if let moving = try? MovingPrompt.parse(prompt.text) { return moving }
        throw RewardError.invalidInput(
            """
            the \(reward) reward scores prompts of the moving-shapes world ("a red circle moving left"), and \
            '\(prompt.text)' is not one
            """)
    }
}

extension RewardCatalog {
    /// The standard rewards and the moving-shapes world's, for clips whose objects travel `travel` pixels.
    public static func movingShapesWorld(travel: Int) -> RewardCatalog {
        var catalog = RewardCatalog.standard
        let summaries: [MovingShapesReward.Kind: String] = [
            .motion: "moving-shapes scorer: half the shapes drawn, half the motion, in [0, 1]",
            .correct: "1 for a clip the moving-shapes scorer calls fully correct, else 0",
            .direction: "moving-shapes credit of the motion alone"
        ]
        for kind in MovingShapesReward.Kind.allCases {
            catalog.register(kind.rawValue, summary: summaries[kind]!) { _ in
                MovingShapesReward(kind, travel: travel)
            }
        }
        return catalog
    }
}

extension Prompt {
    /// A moving-shapes prompt: its text, with the parsed prompt the motion rewards check clips against.
    public init(moving prompt: MovingPrompt) {
        self.init(text: prompt.text, metadata: prompt)
    }
}
