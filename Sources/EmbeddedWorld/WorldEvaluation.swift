import Engine
import FlowSampling
import Foundation
import GRPO
import Imaging
import ShapesWorld

/// Held-out evaluation of the world model: deterministic (ODE) sampling of fixed prompts from fixed noise, scored by
/// the rule-based scorer. The same prompts and seeds every time, so scores of checkpoints are comparable.
public struct WorldEvaluation {
    public struct Result: Sendable {
        /// Mean scorer reward in [0, 1].
        public var meanReward: Double
        /// Fraction of images the scorer marks fully correct (GenEval-style accuracy).
        public var accuracy: Double
        public var images: [RGBImage]
        public var prompts: [String]
        public var rewards: [Double]
    }

    public let prompts: [PromptSpec]
    public let steps: Int
    public let shift: Float
    public let seed: UInt64

    /// `count` prompts drawn from `split` with a fixed generator seed.
    public init(split: PromptCatalog.Split, count: Int, steps: Int = 12, shift: Float = 3, seed: UInt64 = 1234) {
        var generator = PromptGenerator(seed: seed, split: split)
        prompts = generator.next(count)
        self.steps = steps
        self.shift = shift
        self.seed = seed
    }

    public func run(_ model: WorldModel, batchSize: Int = 32) throws -> Result {
        var config = RolloutConfig.flow(steps: steps, shift: shift, sampler: .ode)
        config.batchSize = batchSize
        let texts = prompts.map(\.text)
        let batch = rollout(policy: WorldPolicy(model: model), conditioning: model.encode(texts), latentShape: model.latentShape,
                            config: config, key: RandomKey(seed: seed))
        let images = try model.images(batch.finalLatents)
        let scores = zip(images, prompts).map { ShapeScorer.standard.score($0, $1) }
        let rewards = scores.map(\.reward)
        return Result(meanReward: rewards.reduce(0, +) / Double(rewards.count),
                      accuracy: Double(scores.filter(\.correct).count) / Double(scores.count),
                      images: images, prompts: texts, rewards: rewards)
    }
}

extension WorldEvaluation.Result {
    /// The samples as a captioned grid, eight per row (the run folder's `samples-*.png` and TensorBoard images).
    public func grid() throws -> RGBImage {
        try ImageGrid(columns: 8).render(images, captions: prompts.map { String($0.prefix(24)) })
    }
}
