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
    private var textCache: [String: Conditioning] = [:]

    public init(model: WorldModel) {
        self.model = model
        model.textEncoder.freeze()
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

    /// A fresh generator per (seed, iteration), so a resumed run draws the same prompts.
    public func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [TrainingPrompt] {
        var generator = PromptGenerator(seed: seed &* 1_000_003 &+ UInt64(iteration), split: .train)
        return generator.next(count).map(TrainingPrompt.init)
    }

    public func evaluationPrompts(count: Int) throws -> [TrainingPrompt] {
        WorldEvaluation.prompts(split: .heldOut, count: count).map(TrainingPrompt.init)
    }

    public func conditioning(_ texts: [String]) throws -> Conditioning {
        let missing = Array(Set(texts.filter { textCache[$0] == nil })).sorted()
        if !missing.isEmpty {
            let encoded = model.encode(missing)
            eval(Array(encoded.tensors.values))
            for (i, text) in missing.enumerated() { textCache[text] = encoded.rows([i]) }
        }
        let rows = texts.map { textCache[$0]! }
        var tensors: [String: Tensor] = [:]
        for key in rows[0].tensors.keys { tensors[key] = concatenated(rows.map { $0[key] }, axis: 0) }
        return Conditioning(tensors)
    }

    public func images(_ latents: Tensor) throws -> [RGBImage] { try model.images(latents) }
}
