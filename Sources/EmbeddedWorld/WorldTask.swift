import Engine
import Foundation
import GRPO
import Imaging
import NN
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

    public var summary: String { "the shapes world (\(model.transformer.parameterCount()) transformer parameters, \(model.settings.imageSize) px)" }
    public var network: Module { model.transformer }
    public var networkFolderName: String { "transformer" }
    public var chain: SamplingChain { .flow }
    public var latentShape: [Int] { model.latentShape }

    public func saveNetwork(to folder: URL) throws {
        try model.writeFolder(to: folder, transformerOnly: true)
    }

    public func policy(reference: ReferenceWeights?) -> DenoisingPolicy {
        WorldPolicy(model: model, reference: reference)
    }

    public func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [TrainingPrompt] {
        WorldEvaluation.trainingPrompts(count: count, iteration: iteration, seed: seed)
    }

    public func evaluationPrompts(count: Int) throws -> [TrainingPrompt] {
        WorldEvaluation.prompts(split: .heldOut, count: count).map(TrainingPrompt.init)
    }

    public func conditioning(_ texts: [String]) throws -> Conditioning { try textCache(texts) }

    public func images(_ latents: Tensor) throws -> [RGBImage] { try model.images(latents) }
}

extension GRPOTrainer.Config {
    /// The embedded world's defaults (`train --model world`, `make run`): the base settings (8 prompts × 8, T 12,
    /// shift 3, clip 1e-2, fraction 0.6) with coefficient-preserving sampling at noise level 0.5 and one initial noise
    /// per iteration, so that a group's rewards differ only through the trained transitions; the whole transformer
    /// trained at lr 1e-4 with all 64 samples of an iteration in one optimizer step (a gradient averaged over 64
    /// samples is what keeps full fine-tuning from drifting: at 8 or 16 samples per step it lost held-out reward);
    /// 180 iterations, about 12 minutes on 2 cores. At noise level 0.8 the rollouts stray further from the
    /// deterministic sampler the held-out score uses, and the model learned to hedge with extra objects (+11 points;
    /// +12 to +16 in three runs at 0.5). The README's status table has the settings compared.
    public static var world: GRPOTrainer.Config {
        var c = GRPOTrainer.Config()
        c.iterations = 180
        c.sampler = "cps"
        c.eta = 0.5
        c.initSameNoise = true
        c.learningRate = 1e-4
        c.gradientAccumulationSteps = 64
        c.evalEvery = 20
        c.evalPrompts = 128
        return c
    }
}
