import Engine
import Foundation
import GRPO
import Imaging
import ShapesWorld

/// Evaluation of a task's policy on fixed prompts: deterministic sampling (ODE / DDIM η = 0) from fixed noise, scored
/// by the run's rewards. The same prompts and noise every time, so the scores of checkpoints are comparable.
public struct Evaluation {
    public struct Result: Sendable {
        /// Mean of the weighted reward sum over the prompts.
        public var meanReward: Double
        /// Each reward's mean, by name.
        public var rewardMeans: [String: Double]
        /// Fraction of images the shapes scorer marks fully correct (GenEval-style accuracy); nil unless every prompt
        /// comes from the shapes world.
        public var accuracy: Double?
        public var images: [RGBImage]
        public var prompts: [String]
        /// The weighted reward sum of each image.
        public var rewards: [Double]

        /// The samples as a captioned grid, eight per row (a run folder's `samples-*.png` and TensorBoard images).
        public func grid() throws -> RGBImage {
            try ImageGrid(columns: 8).render(images, captions: prompts.map { String($0.prefix(24)) })
        }
    }

    public let prompts: [TrainingPrompt]
    public let steps: Int
    public let shift: Float
    public let guidanceScale: Float
    public let seed: UInt64

    public init(prompts: [TrainingPrompt], steps: Int, shift: Float = 3, guidanceScale: Float = 1, seed: UInt64 = 1234) {
        self.prompts = prompts
        self.steps = steps
        self.shift = shift
        self.guidanceScale = guidanceScale
        self.seed = seed
    }

    /// Samples and scores every prompt with `policy` (the task's current policy unless given). With several processes
    /// each samples and scores a contiguous share of the prompts, with the noise those prompts have in a one-process
    /// evaluation, and every process returns the whole result (images included) in prompt order.
    public func run(_ task: TrainingTask, rewards: RewardMix, policy: DenoisingPolicy? = nil, batchSize: Int = 32,
                    processGroup: ProcessGroup = SingleProcessGroup()) throws -> Result {
        var config = RolloutConfig()
        config.process = task.chain.deterministicProcess(steps: steps, shift: shift)
        config.batchSize = batchSize
        let ranks = processGroup.worldSize, rank = processGroup.rank
        let share = (prompts.count * rank / ranks)..<(prompts.count * (rank + 1) / ranks)
        config.rows = share
        let unconditional: Conditioning? = guidanceScale != 1 ? try task.conditioning([""]) : nil
        if unconditional != nil { config.guidanceScale = guidanceScale }
        let texts = prompts.map(\.text)
        var images: [RGBImage] = []
        var scores = [[Double]](repeating: [], count: rewards.names.count)
        var correct: [Double] = []
        let specs = prompts.compactMap(\.spec)
        let scoresCorrectness = specs.count == prompts.count && !specs.isEmpty
        if !share.isEmpty {
            let batch = rollout(policy: policy ?? task.policy(reference: nil), conditioning: try task.conditioning(texts),
                                latentShape: task.latentShape, config: config, key: RandomKey(seed: seed), unconditional: unconditional)
            images = try task.images(batch.finalLatents)
            scores = try rewards.scores(images, prompts: Array(prompts[share]))
            if scoresCorrectness {
                correct = zip(images, specs[share]).map { ShapeScorer.standard.score($0, $1).correct ? 1 : 0 }
            }
        }
        if ranks > 1 {
            scores = try scores.map { try processGroup.allGather($0) }
            correct = try processGroup.allGather(correct)
            images = try gatherImages(images, processGroup: processGroup)
        }
        let weighted = (0..<images.count).map { i in zip(rewards.weights, scores).reduce(0) { $0 + $1.0 * $1.1[i] } }
        var means: [String: Double] = [:]
        for (name, values) in zip(rewards.names, scores) { means[name] = values.reduce(0, +) / Double(max(1, values.count)) }
        let accuracy: Double? = scoresCorrectness ? correct.reduce(0, +) / Double(specs.count) : nil
        return Result(meanReward: weighted.reduce(0, +) / Double(max(1, weighted.count)), rewardMeans: means, accuracy: accuracy,
                      images: images, prompts: texts, rewards: weighted)
    }

    /// Every process's images in rank order: sizes first, then the pixel bytes (a few KB per image here).
    private func gatherImages(_ images: [RGBImage], processGroup: ProcessGroup) throws -> [RGBImage] {
        let sizes = try processGroup.allGather(images.flatMap { [Double($0.width), Double($0.height)] })
        let bytes = try processGroup.allGather(images.flatMap { $0.pixels.map(Double.init) })
        var gathered: [RGBImage] = [], offset = 0
        for i in stride(from: 0, to: sizes.count, by: 2) {
            let width = Int(sizes[i]), height = Int(sizes[i + 1]), count = width * height * 3
            gathered.append(try RGBImage(width: width, height: height, pixels: bytes[offset..<(offset + count)].map { UInt8($0) }))
            offset += count
        }
        return gathered
    }
}
