import Foundation
import Rewards
import ShapesWorld
import Training

/// Held-out evaluation of a world model by the rule-based scorer alone (`dancegrpo evaluate`, pretraining reports):
/// deterministic ODE sampling of fixed prompts from fixed noise, so the scores of checkpoints are comparable.
public struct WorldEvaluation {
    public let evaluation: Evaluation
    /// The prompts, in evaluation order.
    public var specs: [PromptSpec] { evaluation.prompts.compactMap { $0.metadata as? PromptSpec } }

    /// `count` prompts drawn from `split` with a fixed generator seed.
    /// `guidanceScale` > 1: classifier-free guidance against the empty prompt (used by the UNet world model).
    public init(
        split: PromptCatalog.Split, count: Int, steps: Int = 12, shift: Float = 3, guidanceScale: Float = 1,
        seed: UInt64 = 1234
    ) {
        evaluation = Evaluation(
            prompts: WorldEvaluation.prompts(split: split, count: count, seed: seed).map(Prompt.init(shapes:)),
            steps: steps, shift: shift, guidanceScale: guidanceScale, seed: seed)
    }

    /// The training prompts of GRPO iteration `iteration`: a fresh generator per (seed, iteration), so a resumed run
    /// draws the same prompts (both world tasks train on these).
    public static func trainingPrompts(count: Int, iteration: Int, seed: UInt64) -> [Prompt] {
        var generator = PromptGenerator(seed: seed &* 1_000_003 &+ UInt64(iteration), split: .train)
        return generator.next(count).map(Prompt.init(shapes:))
    }

    /// The fixed evaluation prompts of a split (the trainer's held-out prompts are these too).
    public static func prompts(split: PromptCatalog.Split, count: Int, seed: UInt64 = 1234) -> [PromptSpec] {
        var generator = PromptGenerator(seed: seed, split: split)
        return generator.next(count)
    }

    public func run(_ model: WorldModel, batchSize: Int = 32) throws -> Evaluation.Result {
        try evaluation.run(
            WorldTask(model: model), rewards: try RewardCatalog.shapesWorld.makeSet("shapes"), batchSize: batchSize)
    }
}
