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
