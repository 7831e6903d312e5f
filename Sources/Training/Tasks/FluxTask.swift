import Checkpoints
import Engine
import Foundation
import Rewards
import GRPO
import Imaging
import Models
import NN

/// DanceGRPO's FLUX setting (`train_grpo_flux.py`) as a GRPO task: a diffusers FLUX folder (transformer trained,
/// VAE frozen, no text encoders: prompts come from the `dancegrpo preprocess` embedding cache, as DanceGRPO's
/// `--data_json_path`), images of `height × width`, and the distilled guidance value fed to FLUX.1-dev's guidance
/// embedding.
public final class FluxTask: TrainingTask {
    public let pipeline: FluxPipeline
    public let cache: FluxEmbeddingCache
    public let entries: [FluxEmbeddingCache.Entry]
    public let height: Int
    public let width: Int
    /// The value of FLUX.1-dev's guidance embedding (DanceGRPO passes 3.5; ignored by models without one).
    public let guidance: Float
    private let byCaption: [String: FluxEmbeddingCache.Entry]
    private let imageIds: Tensor

    public init(pipeline: FluxPipeline, embeddings: URL, height: Int = 720, width: Int = 720, guidance: Float = 3.5)
        throws
    {
        self.pipeline = pipeline
        transformerParameters = pipeline.transformer.parameterCount()
        cache = FluxEmbeddingCache(folder: embeddings)
        entries = try cache.readManifest()
        guard !entries.isEmpty else {
            throw TrainingDataError.embeddingCache(
                file: cache.manifestURL.path, reason: "the embedding manifest lists no prompts")
        }
        self.height = height
        self.width = width
        self.guidance = guidance
        byCaption = Dictionary(entries.map { ($0.caption, $0) }, uniquingKeysWith: { first, _ in first })
        let (h, w) = pipeline.latentSize(height: height, width: width)
        imageIds = FluxLatents.imageIds(height: h, width: w)
        pipeline.vae.freeze()
        // Check one entry now, so a cache made by another model fails before the first rollout.
        let sample = try cache.load([entries[0]])
        let expected = (pipeline.transformer.config.jointAttentionDim, pipeline.transformer.config.pooledProjectionDim)
        guard sample.promptEmbeds.dim(-1) == expected.0, sample.pooledPromptEmbeds.dim(-1) == expected.1 else {
            throw TrainingDataError.embeddingCache(
                file: cache.manifestURL.path,
                reason:
                    """
                    embeddings of \(sample.promptEmbeds.dim(-1))/\(sample.pooledPromptEmbeds.dim(-1)) features, \
                    expected joint_attention_dim \(expected.0) / pooled_projection_dim \(expected.1) of the \
                    transformer (was the cache made with another model?)
                    """
            )
        }
    }

    /// Counted when the task is made: sharded training empties the network's own tensors.
    private let transformerParameters: Int

    public var summary: String {
        """
        FLUX (\(transformerParameters) transformer parameters) on \(entries.count) cached prompts, \
        \(width)×\(height) px
        """
    }
    /// FLUX's transformer over the packed latents of `height × width` (16 px per token) and the cache's text tokens
    /// (the first cached prompt's length; DanceGRPO's 512 without a readable cache).
    public static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate? {
        let scale = 2 * (try ActivationEstimate.vaeScaleFactor(vaeFolder: folder.appendingPathComponent("vae")))
        return try .flux(
            transformerFolder: folder.appendingPathComponent("transformer"),
            imageTokens: (settings.height / scale) * (settings.width / scale),
            textTokens: settings.embeddings.flatMap { cachedTextLength(URL(fileURLWithPath: $0)) } ?? 512)
    }

    /// Tokens of the first prompt in an embedding cache, from its safetensors header (nil for DanceGRPO's pickles or
    /// an unreadable cache: the run itself reports those).
    static func cachedTextLength(_ folder: URL) -> Int? {
        let cache = FluxEmbeddingCache(folder: folder)
        guard let first = try? cache.readManifest().first,
            let url = ContainedPath.resolve(first.promptEmbedPath, in: folder.appendingPathComponent("prompt_embed")),
            url.pathExtension == "safetensors", let file = try? SafeTensorsFile(url: url),
            let shape = file.entries.values.first?.shape, shape.count == 2
        else { return nil }
        return shape[0]
    }

    public var network: Module { pipeline.transformer }
    public var networkFolderName: String { "transformer" }
    public var chain: SamplingChain { .flow }

    public var latentShape: [Int] {
        let (h, w) = pipeline.latentSize(height: height, width: width)
        return [(h / 2) * (w / 2), 4 * pipeline.vae.config.latentChannels]
    }

    public func saveNetwork(to folder: URL) throws {
        try pipeline.transformer.writePretrainedFolder(
            folder.appendingPathComponent(networkFolderName), config: pipeline.transformer.config)
    }

    public func policy(reference: ReferenceWeights?) -> DenoisingPolicy {
        FluxPolicy(pipeline: pipeline, imageIds: imageIds, guidance: guidance, reference: reference)
    }

    /// The cache's prompts in ``CachedPromptOrder``.
    public func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [Prompt] {
        CachedPromptOrder.prompts(entries.map(\.caption), count: count, iteration: iteration, seed: seed)
    }

    /// The first `count` prompts of the cache (all of them if fewer).
    public func evaluationPrompts(count: Int) throws -> [Prompt] {
        entries.prefix(count).map { Prompt(text: $0.caption) }
    }

    public func conditioning(_ texts: [String]) throws -> Conditioning {
        let rows = try texts.map { text -> FluxEmbeddingCache.Entry in
            guard let entry = byCaption[text] else {
                if text.isEmpty {
                    throw TrainingDataError.embeddingCache(
                        file: cache.manifestURL.path,
                        reason:
                            """
                            FLUX.1-dev is guidance-distilled and the cache holds no empty prompt for classifier-free \
                            guidance: keep --guidance-scale 1 (the distilled guidance value is --flux-guidance)
                            """
                    )
                }
                throw TrainingDataError.embeddingCache(
                    file: cache.manifestURL.path, reason: "no cached embedding for the prompt '\(text)'")
            }
            return entry
        }
        let embeddings = try cache.load(rows)
        return Conditioning([
            "prompt_embeds": embeddings.promptEmbeds, "pooled_prompt_embeds": embeddings.pooledPromptEmbeds
        ])
    }

    /// The pipeline's decode (unpack, VAE scaling and shift, decoder) and 8-bit rounding as `VaeImageProcessor`.
    public func images(_ latents: Tensor) throws -> [RGBImage] {
        let pixels = pipeline.decode(latents, height: height, width: width)
        let (b, h, w) = (pixels.dim(0), pixels.dim(1), pixels.dim(2))
        let values = pixels.toArray(Float.self)
        return try (0..<b).map { i in
            try RGBImage(
                hwc: Array(values[(i * h * w * 3)..<((i + 1) * h * w * 3)]), shape: [h, w, 3], range: .zeroToOne)
        }
    }
}

/// GRPO's view of FLUX: the transformer's velocity at packed latents for cached text states, with the guidance
/// embedding's value and the FLUX text ids (zeros).
final class FluxPolicy: SnapshotReferencePolicy {
    let pipeline: FluxPipeline
    let imageIds: Tensor
    let guidance: Float
    let reference: ReferenceWeights?

    init(pipeline: FluxPipeline, imageIds: Tensor, guidance: Float, reference: ReferenceWeights?) {
        self.pipeline = pipeline
        self.imageIds = imageIds
        self.guidance = guidance
        self.reference = reference
    }

    var module: Module { pipeline.transformer }

    func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        let states = conditioning["prompt_embeds"]
        let embeddings = FluxPromptEmbeddings(
            promptEmbeds: states, pooledPromptEmbeds: conditioning["pooled_prompt_embeds"],
            textIds: FluxLatents.textIds(length: states.dim(1)))
        let dtype = pipeline.transformer.xEmbedder.weight.dtype
        return pipeline.velocity(
            x.asType(dtype), timesteps: timesteps, embeddings: embeddings, imageIds: imageIds, guidance: guidance)
    }

}
