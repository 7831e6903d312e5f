import Engine
import Foundation
import GRPO
import Imaging
import Rewards

/// Evaluation of a task's policy on fixed prompts: deterministic sampling (ODE / DDIM η = 0) from fixed noise, scored
/// by the run's rewards. The same prompts and noise every time, so the scores of checkpoints are comparable.
public struct Evaluation {
    public struct Result: Sendable {
        /// Mean of the weighted reward sum over the prompts.
        public var meanReward: Double
        /// Each reward's mean, by name.
        public var rewardMeans: [String: Double]
        /// The mean of each extra metric the rewards reported (e.g. the shapes world's `accuracy`).
        public var infoMeans: [String: Double]
        public var images: [RGBImage]
        /// A video task's whole clips, in prompt order (nil for pictures; `images` holds a picture of each, its
        /// first frame unless the task draws another).
        public var videos: [[RGBImage]]?
        /// Their frame rate.
        public var framesPerSecond: Double = 16
        public var prompts: [String]
        /// The weighted reward sum of each image.
        public var rewards: [Double]

        /// The fraction of images judged fully correct, when a reward reports `accuracy` (GenEval-style).
        public var accuracy: Double? { infoMeans["accuracy"] }

        /// The first `limit` samples as a grid people can read (a run folder's `samples-*.png` and TensorBoard
        /// images): eight per row, small samples enlarged to at least 128 px, each cell at least 160 px wide, and
        /// as many caption lines as the longest prompt needs, so every prompt is shown whole.
        public func grid(limit: Int = 32) throws -> RGBImage {
            let shown = Array(images.prefix(limit)), captions = Array(prompts.prefix(limit))
            let side = shown.map { max($0.width, $0.height) }.max() ?? 1
            let scale = max(1, 128 / side)
            let cellWidth = max(side * scale, 160)
            let lines = captions.map { BitmapFont.wrapped($0, toWidth: cellWidth, maxLines: Int.max).count }.max() ?? 1
            return try ImageGrid(columns: 8, scale: scale, captionLines: lines, minimumCellWidth: cellWidth)
                .render(shown, captions: captions)
        }

        /// A video task's first `limit` clips as one clip of grids: frame t is the grid of every clip's frame t, laid
        /// out as ``grid(limit:)`` (nil for pictures).
        public func videoGrid(limit: Int = 32) throws -> [RGBImage]? {
            guard let videos, let frames = videos.first?.count, frames > 1 else { return nil }
            return try (0..<frames).map { t in
                var result = self
                result.images = videos.map { $0[t] }
                return try result.grid(limit: limit)
            }
        }
    }

    public let prompts: [Prompt]
    public let steps: Int
    public let shift: Float
    public let guidanceScale: Float
    public let seed: UInt64

    public init(prompts: [Prompt], steps: Int, shift: Float = 3, guidanceScale: Float = 1, seed: UInt64 = 1234) {
        self.prompts = prompts
        self.steps = steps
        self.shift = shift
        self.guidanceScale = guidanceScale
        self.seed = seed
    }

    /// Samples and scores every prompt with `policy` (the task's current policy unless given). With several processes
    /// each samples and scores a contiguous share of the prompts, with the noise those prompts have in a one-process
    /// evaluation, and every process returns the whole result (images included) in prompt order.
    public func run(
        _ task: TrainingTask, rewards: RewardSet, policy: DenoisingPolicy? = nil, batchSize: Int = 32,
        processGroup: ProcessGroup = SingleProcessGroup()
    ) throws -> Result {
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
        let videoTask = task as? VideoTrainingTask
        var videos: [[RGBImage]]? = videoTask.map { _ in [] }
        var scores = [[Double]](repeating: [], count: rewards.names.count)
        var info: [String: [Double]] = [:]
        if !share.isEmpty {
            let batch = rollout(
                policy: policy ?? task.policy(reference: nil), conditioning: try task.conditioning(prompts: prompts),
                latentShape: task.latentShape, config: config, key: RandomKey(seed: seed), unconditional: unconditional)
            let samples: [GeneratedSample]
            if let videoTask {
                let clips = try videoTask.videos(batch.finalLatents)
                samples = videoTask.samples(fromVideos: clips)
                videos = clips
                images = clips.map(videoTask.picture)
            } else {
                samples = try task.samples(batch.finalLatents)
                images = samples.map { $0.frames[0] }
            }
            let scored = try rewards.score(samples, prompts: Array(prompts[share]))
            scores = scored.scores
            info = scored.info
        }
        // Every rank names the same metrics (they come from the same rewards), so the keys agree even where a rank
        // scored no prompt.
        var infoNames = info.keys.sorted()
        if ranks > 1 {
            scores = try scores.map { try processGroup.allGather($0) }
            infoNames = try gatherNames(infoNames, processGroup: processGroup)
            info = try Dictionary(
                uniqueKeysWithValues: infoNames.map { ($0, try processGroup.allGather(info[$0] ?? [])) })
            images = try gatherImages(images, processGroup: processGroup)
            if let videoTask, let local = videos {
                // Frame by frame: every rank's clips have the task's frame count.
                let byFrame = try (0..<videoTask.frameCount).map { t in
                    try gatherImages(local.map { $0[t] }, processGroup: processGroup)
                }
                videos = (0..<images.count).map { i in byFrame.map { $0[i] } }
            }
        }
        let weighted = (0..<images.count).map { i in zip(rewards.weights, scores).reduce(0) { $0 + $1.0 * $1.1[i] } }
        func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(1, values.count)) }
        var means: [String: Double] = [:]
        for (name, values) in zip(rewards.names, scores) { means[name] = mean(values) }
        return Result(
            meanReward: mean(weighted), rewardMeans: means, infoMeans: info.mapValues(mean),
            images: images, videos: videos, framesPerSecond: videoTask?.framesPerSecond ?? 16, prompts: texts,
            rewards: weighted)
    }

    /// The union of every rank's metric names (a rank with no prompts has none).
    private func gatherNames(_ names: [String], processGroup: ProcessGroup) throws -> [String] {
        let bytes = try processGroup.allGather(Array((names.joined(separator: "\n") + "\u{0}").utf8))
        let texts = String(decoding: bytes, as: UTF8.self).split(separator: "\u{0}")
        return Set(texts.flatMap { $0.split(separator: "\n").map(String.init) }).sorted()
    }

    /// Every process's images in rank order: sizes first, then the pixel bytes (a few KB per image here).
    private func gatherImages(_ images: [RGBImage], processGroup: ProcessGroup) throws -> [RGBImage] {
        let sizes = try processGroup.allGather(images.flatMap { [Double($0.width), Double($0.height)] })
        let bytes = try processGroup.allGather(images.flatMap(\.pixels))
        var gathered: [RGBImage] = [], offset = 0
        for i in stride(from: 0, to: sizes.count, by: 2) {
            let width = Int(sizes[i]), height = Int(sizes[i + 1]), count = width * height * 3
            gathered.append(
                try RGBImage(width: width, height: height, pixels: Array(bytes[offset..<(offset + count)])))
            offset += count
        }
        return gathered
    }
}
