import Checkpoints
import Engine
import Sampling
import Foundation
import GRPO
import Imaging
import NN
import Rewards
import ShapesWorld
import Training

/// GRPO on the embedded UNet world model (``StableDiffusionWorldModel``): the Stable Diffusion path (ε- or
/// v-prediction UNet, DDIM chain, text states from a frozen CLIP-architecture encoder) at a size that trains on a CPU,
/// scored by the shapes world's rule-based scorer. Training prompts come from the training split of the prompt
/// catalogue, drawn as the FLUX world's trainer draws them; evaluation prompts are the fixed held-out ones of
/// ``WorldEvaluation``.
public final class StableDiffusionWorldTask: TrainingTask {
    public let model: StableDiffusionWorldModel
    /// Where the model came from, for the summary.
    public let source: String
    private let textCache: TextConditioningCache

    public init(model: StableDiffusionWorldModel, source: String = "the embedded UNet world model") {
        self.model = model
        self.source = source
        textCache = TextConditioningCache { model.encode($0) }
        model.textEncoder.freeze()
    }

    public var summary: String {
        """
        shapes world, UNet model from \(source) (\(model.unet.parameterCount()) UNet + \
        \(model.textEncoder.parameterCount()) text-encoder parameters, \(model.settings.imageSize) px)
        """
    }

    /// The world's UNet over its latent grid: pixels rearranged 2×2 (world.json's image size halved).
    public static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate? {
        let world = try ConfigFile.object(from: folder.appendingPathComponent("world.json"))
        let side = (world["image_size"] as? Int ?? 32) / 2
        return try .unet(unetFolder: folder.appendingPathComponent("unet"), pixels: side * side)
    }

    public var network: Module { model.unet }
    public var networkFolderName: String { "unet" }

    /// `folder/unet/` in diffusers layout.
    public func saveNetwork(to folder: URL) throws {
        try model.writeFolder(to: folder, unetOnly: true)
    }

    public func policy(reference: ReferenceWeights?) -> DenoisingPolicy {
        UNetPolicy(unet: model.unet, reference: reference)
    }

    public var chain: SamplingChain { .ddim(model.schedulerConfig) }
    public var rewardCatalog: RewardCatalog { .shapesWorld }
    public var latentShape: [Int] { model.latentShape }

    /// Training-split prompts from a generator seeded by (seed, iteration), as the FLUX world's trainer draws them.
    public func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [Prompt] {
        WorldEvaluation.trainingPrompts(count: count, iteration: iteration, seed: seed)
    }

    /// The fixed held-out prompts of ``WorldEvaluation`` (the FLUX world's evaluation prompts).
    public func evaluationPrompts(count: Int) throws -> [Prompt] {
        WorldEvaluation.prompts(split: .heldOut, count: count).map(Prompt.init(shapes:))
    }

    public func conditioning(_ texts: [String]) throws -> Conditioning {
        try textCache(texts)
    }

    public func images(_ latents: Tensor) throws -> [RGBImage] {
        try model.images(latents)
    }
}

extension GRPOTrainer.Config {
    /// The embedded world's defaults on the UNet world model (`train --model sd` without a diffusers folder): DDIM
    /// with η = 1 (DDPO/DanceGRPO's SD rollout noise) at the world's 12 steps, otherwise the FLUX world's settings.
    public static var unetWorld: GRPOTrainer.Config {
        var c = GRPOTrainer.Config()
        c.sampler = .ddim
        c.eta = 1
        return c
    }
}
