import Checkpoints
import Engine
import Foundation
import GRPO
import Imaging
import NN
import Rewards
import ShapesWorld
import Training

/// The embedded world as a GRPO task: prompts from the shapes world's train / held-out splits, the world model's
/// frozen text encoder (with a per-text cache), its FLUX-architecture transformer as the trained network, and pixel
/// latents decoded by `PixelCodec`.
public final class WorldTask: TrainingTask {
    public let model: WorldModel
    private let textCache: TextConditioningCache

    public init(model: WorldModel) {
        self.model = model
        model.textEncoder.freeze()
        textCache = TextConditioningCache { model.encode($0) }
    }

    public var summary: String {
        """
        the shapes world (\(model.transformer.parameterCount()) transformer parameters, \(model.settings.imageSize) px)
        """
    }
    /// The world's FLUX-architecture transformer over the tokens of its latent grid (world.json's image size and
    /// codec) and its tokenizer's length (the text encoder's positions).
    public static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate? {
        let world = try ConfigFile.object(from: folder.appendingPathComponent("world.json"))
        let imageSize = world["image_size"] as? Int ?? 32
        let side =
            (world["codec"] as? String) == "vae"
            ? imageSize / (try ActivationEstimate.vaeScaleFactor(vaeFolder: folder.appendingPathComponent("vae")))
            : imageSize / 2
        let text = try ConfigFile.object(from: folder.appendingPathComponent("text_encoder/config.json"))
        return try .flux(
            transformerFolder: folder.appendingPathComponent("transformer"), imageTokens: (side / 2) * (side / 2),
            textTokens: text["max_position_embeddings"] as? Int ?? 16)
    }

    public var network: Module { model.transformer }
    public var networkFolderName: String { "transformer" }
    public var chain: SamplingChain { .flow }
    public var rewardCatalog: RewardCatalog { .shapesWorld }
    public var latentShape: [Int] { model.latentShape }

    public func saveNetwork(to folder: URL) throws {
        try model.writeFolder(to: folder, transformerOnly: true)
    }

    public func policy(reference: ReferenceWeights?) -> DenoisingPolicy {
        WorldPolicy(model: model, reference: reference)
    }

    public func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [Prompt] {
        WorldEvaluation.trainingPrompts(count: count, iteration: iteration, seed: seed)
    }

    public func evaluationPrompts(count: Int) throws -> [Prompt] {
        WorldEvaluation.prompts(split: .heldOut, count: count).map(Prompt.init(shapes:))
    }

    public func conditioning(_ texts: [String]) throws -> Conditioning { try textCache(texts) }

    public func images(_ latents: Tensor) throws -> [RGBImage] { try model.images(latents) }
}

extension GRPOTrainer.Config {
    /// The embedded world's defaults (`train --model world`, `make run`): two data-parallel processes, each drawing
    /// 4 prompts × 8 samples per iteration, T 12, shift 3, clip 1e-2, fraction 0.6, coefficient-preserving sampling
    /// at noise level 0.5 with one initial noise per process and iteration (a group's rewards then differ only
    /// through the trained transitions); the whole transformer trained at lr 1e-4 with all 64 samples of an
    /// iteration in one optimizer step, evaluated and checkpointed with an EMA of decay 0.95; the reward is the
    /// scorer's partial credit plus half its binary verdict; the newest 3 checkpoints are kept. Why each of these:
    /// docs/experiments/shapes-world.md.
    public static var world: GRPOTrainer.Config {
        var c = GRPOTrainer.Config()
        c.processes = 2
        c.promptsPerIteration = 4
        c.gradientAccumulationSteps = 32
        c.iterations = 300
        c.sampler = .cps
        c.eta = 0.5
        c.initSameNoise = true
        c.learningRate = 1e-4
        c.emaDecay = 0.95
        c.rewards = "shapes,shapes-correct:0.5"
        c.evalEvery = 20
        c.evalPrompts = 128
        c.checkpointsTotalLimit = 3
        return c
    }
}
