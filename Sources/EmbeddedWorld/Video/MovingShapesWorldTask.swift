import Checkpoints
import Engine
import Foundation
import GRPO
import Imaging
import NN
import Rewards
import ShapesWorld
import Training

/// The moving-shapes world as a video GRPO task: moving prompts from the world's train / held-out splits, the model's
/// frozen text encoder (with a per-text cache), its Wan transformer as the trained network on the flow chain, clips
/// decoded by ``VideoPixelCodec`` and scored whole by the motion rewards.
public final class MovingShapesWorldTask: VideoTrainingTask {
    public let model: MovingShapesWorldModel
    private let textCache: TextConditioningCache
    /// Frames per second of the clips written for people to watch: slow enough to follow a 5-frame clip.
    public var framesPerSecond: Double { 4 }
    public var frameCount: Int { model.settings.frames }

    public init(model: MovingShapesWorldModel) {
        self.model = model
        model.textEncoder.freeze()
        textCache = TextConditioningCache { model.encode($0) }
    }

    public var summary: String {
        """
        the moving-shapes world (\(model.transformer.parameterCount()) Wan-transformer parameters, \
        \(model.settings.frames) frames of \(model.settings.imageSize) px)
        """
    }

    /// The Wan transformer over one clip's patch tokens (frames × (size/4)²) and the text encoder's positions.
    public static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate? {
        let world = try ConfigFile.object(from: folder.appendingPathComponent("world.json"))
        let side = (world["image_size"] as? Int ?? 32) / 4
        let text = try ConfigFile.object(from: folder.appendingPathComponent("text_encoder/config.json"))
        return try .wan(
            transformerFolder: folder.appendingPathComponent("transformer"),
            videoTokens: (world["frames"] as? Int ?? 5) * side * side,
            textTokens: text["max_position_embeddings"] as? Int ?? 16)
    }

    public var network: Module { model.transformer }
    public var networkFolderName: String { "transformer" }
    public var chain: SamplingChain { .flow }
    public var rewardCatalog: RewardCatalog { .movingShapesWorld(travel: model.settings.renderer.travel) }
    public var latentShape: [Int] { model.latentShape }

    public func saveNetwork(to folder: URL) throws {
        try model.writeFolder(to: folder, transformerOnly: true)
    }

    public func policy(reference: ReferenceWeights?) -> DenoisingPolicy {
        MovingShapesWorldPolicy(model: model, reference: reference)
    }

    public func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [Prompt] {
        MovingShapesEvaluation.trainingPrompts(count: count, iteration: iteration, seed: seed)
    }

    public func evaluationPrompts(count: Int) throws -> [Prompt] {
        MovingShapesEvaluation.prompts(split: .heldOut, count: count).map(Prompt.init(moving:))
    }

    public func conditioning(_ texts: [String]) throws -> Conditioning { try textCache(texts) }

    /// Each clip's frames side by side, so a picture of a sample shows its motion.
    public func images(_ latents: Tensor) throws -> [RGBImage] {
        try videos(latents).map(picture)
    }

    public func picture(of clip: [RGBImage]) -> RGBImage { Self.filmstrip(clip) }

    public func samples(_ latents: Tensor) throws -> [GeneratedSample] {
        samples(fromVideos: try videos(latents))
    }

    public func samples(fromVideos videos: [[RGBImage]]) -> [GeneratedSample] {
        videos.map { .video(frames: $0, framesPerSecond: framesPerSecond) }
    }

    public func videos(_ latents: Tensor) throws -> [[RGBImage]] { try model.videos(latents) }

    /// Frames laid left to right in one picture.
    public static func filmstrip(_ frames: [RGBImage]) -> RGBImage {
        let (w, h) = (frames[0].width, frames[0].height)
        var strip = RGBImage(width: w * frames.count, height: h, fill: .white)
        for (i, frame) in frames.enumerated() {
            for y in 0..<h {
                for x in 0..<w { strip[x + i * w, y] = frame[x, y] }
            }
        }
        return strip
    }
}

/// Held-out prompts and per-iteration training prompts of the moving-shapes world, drawn as the shapes world draws
/// its own (a fresh generator per seed and iteration, so a resumed run sees the same prompts).
public enum MovingShapesEvaluation {
    public static func trainingPrompts(count: Int, iteration: Int, seed: UInt64) -> [Prompt] {
        var generator = MovingPromptGenerator(seed: seed &* 1_000_003 &+ UInt64(iteration), split: .train)
        return generator.next(count).map(Prompt.init(moving:))
    }

    /// The fixed evaluation prompts of a split.
    public static func prompts(split: PromptCatalog.Split, count: Int, seed: UInt64 = 1234) -> [MovingPrompt] {
        var generator = MovingPromptGenerator(seed: seed, split: split)
        return generator.next(count)
    }

    /// Deterministic sampling of `count` fixed prompts of `split`, scored by the `motion` reward.
    public static func run(
        _ model: MovingShapesWorldModel, split: PromptCatalog.Split, count: Int, steps: Int = 12, shift: Float = 3
    ) throws -> Evaluation.Result {
        let task = MovingShapesWorldTask(model: model)
        let evaluation = Evaluation(
            prompts: prompts(split: split, count: count).map(Prompt.init(moving:)), steps: steps, shift: shift)
        return try evaluation.run(task, rewards: try task.rewardCatalog.makeSet("motion"))
    }
}

extension GRPOTrainer.Config {
    /// The moving-shapes world's defaults (`train --world moving-shapes`): the shapes world's settings (two processes
    /// of 4 prompts × 8 clips, T 12, shift 3, CPS at η 0.5 from one noise per process and iteration, lr 1e-4, all
    /// samples of an iteration in one optimizer step, EMA 0.95) with the motion reward plus half its verdict, and
    /// smaller evaluations (a clip costs five frames' tokens). Why: docs/experiments/moving-shapes-world.md.
    public static var movingShapesWorld: GRPOTrainer.Config {
        var c = GRPOTrainer.Config.world
        c.rewards = "motion,motion-correct:0.5"
        c.iterations = 150
        c.evalEvery = 25
        c.evalPrompts = 64
        return c
    }
}
