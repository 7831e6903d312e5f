import Checkpoints
import Engine
import Foundation
import GRPO
import Imaging
import Models
import NN
import Rewards

/// DanceGRPO's Qwen-Image setting (`train_grpo_qwenimage.py`) as a GRPO task: a diffusers Qwen-Image folder
/// (transformer trained, VAE frozen, no text encoder: prompts come from the embedding cache, as the seed's
/// `--data_json_path`), images of `height × width` as packed latents `[(h/2)·(w/2), 4·z_dim]`, decoded as the seed
/// does (unpack, `latents / (1/std) + mean`, frame 0) for the rewards.
///
/// Each prompt's states are its cached `original_length` tokens, as the seed slices them; prompts of one call are
/// right-padded to the longest with the padding masked out of the joint attention, which leaves every image token's
/// velocity as it is without the padding. The seed samples and trains without classifier-free guidance (its `--cfg` is
/// a caption-dropout rate, 0, and it caches no negative prompt), so the policy is the transformer's conditional
/// velocity, and an unconditional branch is refused.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/train_grpo_qwenimage.py
public final class QwenImageTask: CachedCaptionsTask {
    public let transformer: QwenImageTransformer2DModel
    public let vae: AutoencoderKLQwenImage
    public let cache: QwenImageEmbeddingCache
    public let entries: [QwenImageEmbeddingCache.Entry]
    public let height: Int
    public let width: Int
    private let byCaption: [String: QwenImageEmbeddingCache.Entry]
    /// The packed token grid the transformer's rotary positions take (`img_shapes`).
    private let imageShape: QwenEmbedRope.ImageShape
    /// The latent grid of one image (before packing).
    private let latentGrid: (height: Int, width: Int)

    public init(
        transformer: QwenImageTransformer2DModel, vae: AutoencoderKLQwenImage, embeddings: URL, height: Int = 720,
        width: Int = 720
    ) throws {
        self.transformer = transformer
        self.vae = vae
        transformerParameters = transformer.parameterCount()
        cache = QwenImageEmbeddingCache(folder: embeddings)
        entries = try TrainingDataError.requirePrompts(try cache.readManifest(), manifest: cache.manifestURL)
        self.height = height
        self.width = width
        byCaption = Dictionary(entries.map { ($0.caption, $0) }, uniquingKeysWith: { first, _ in first })
        latentGrid = QwenImageLatents.latentSize(
            imageHeight: height, imageWidth: width, vaeScaleFactor: vae.config.spatialCompression)
        imageShape = QwenImageLatents.imageShape(height: latentGrid.height, width: latentGrid.width)
        vae.freeze()
        // Check one entry now, so a cache made by another model fails before the first rollout.
        let sample = try cache.load(entries[0]).promptEmbeds
        let textDim = transformer.config.jointAttentionDim
        guard sample.dim(-1) == textDim else {
            throw TrainingDataError.embeddingCache(
                file: cache.manifestURL.path,
                reason:
                    """
                    embeddings of \(sample.dim(-1)) features, expected the transformer's joint_attention_dim \
                    \(textDim) (was the cache made with another model?)
                    """)
        }
    }

    /// The transformer and VAE of a diffusers Qwen-Image folder (`transformerFolder`: another `transformer/`, e.g. a
    /// checkpoint's), checked against each other as `QwenImagePipeline.load` does; the text side is not loaded.
    public static func loadNetworks(from folder: URL, dtype: DType? = nil, transformerFolder: URL? = nil) throws -> (
        transformer: QwenImageTransformer2DModel, vae: AutoencoderKLQwenImage
    ) {
        try ModelFolderError.checkComponents(
            ["transformer", "vae"], in: folder, model: "Qwen-Image", role: "training reads")
        let transformer = try QwenImageTransformer2DModel.load(
            from: transformerFolder ?? folder.appendingPathComponent("transformer"), dtype: dtype)
        let vae = try AutoencoderKLQwenImage.load(from: folder.appendingPathComponent("vae"), dtype: dtype)
        let (config, zDim) = (transformer.config, vae.config.zDim)
        guard config.inChannels == 4 * zDim, config.outputChannels == zDim, !config.guidanceEmbeds else {
            throw ModelFolderError.missingComponents(
                file: folder.path,
                reason:
                    """
                    the transformer takes \(config.inChannels) and returns \(config.outputChannels) channels \
                    (guidance_embeds \(config.guidanceEmbeds)); the VAE's z_dim \(zDim) needs \(4 * zDim) and \(zDim) \
                    without guidance embedding
                    """)
        }
        return (transformer, vae)
    }

    /// Counted when the task is made: sharded training empties the network's own tensors.
    private let transformerParameters: Int

    public var summary: String {
        """
        Qwen-Image (\(transformerParameters) transformer parameters) on \(entries.count) cached prompts, \
        \(width)×\(height) px
        """
    }

    /// Qwen-Image's transformer over the packed image tokens of `height × width` (16 px per token) and the cache's
    /// longest prompt (its manifest's `original_length`; 1024, the seed's padded length, without a readable cache):
    /// every double-stream block attends over text and image tokens jointly.
    public static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate? {
        let scale = 2 * (try ActivationEstimate.vaeScaleFactor(vaeFolder: folder.appendingPathComponent("vae")))
        return try .qwenImage(
            transformerFolder: folder.appendingPathComponent("transformer"),
            imageTokens: (settings.height / scale) * (settings.width / scale),
            textTokens: settings.embeddings.flatMap { cachedTextLength(URL(fileURLWithPath: $0)) }
                ?? QwenImageEmbeddingCache.paddedLength)
    }

    /// The longest prompt of an embedding cache, from its manifest (nil for an unreadable one: the run reports it).
    static func cachedTextLength(_ folder: URL) -> Int? {
        (try? QwenImageEmbeddingCache(folder: folder).readManifest())?.map(\.originalLength).max()
    }

    public var network: Module { transformer }
    public var networkFolderName: String { "transformer" }
    public var chain: SamplingChain { .flow }
    public var latentShape: [Int] {
        [(latentGrid.height / 2) * (latentGrid.width / 2), 4 * vae.config.zDim]
    }

    public func saveNetwork(to folder: URL) throws {
        try transformer.writePretrainedFolder(
            folder.appendingPathComponent(networkFolderName), config: transformer.config)
    }

    public func policy(reference: ReferenceWeights?) -> DenoisingPolicy {
        QwenImagePolicy(transformer: transformer, imageShape: imageShape, reference: reference)
    }

    public var cachedCaptions: [String] { entries.map(\.caption) }

    /// Cached Qwen2.5-VL states per text (`prompt_embeds [B, L, hidden]`) and their mask (`prompt_mask [B, L]`, 1 for
    /// real tokens), each prompt's `original_length` tokens right-padded to the longest of the call.
    public func conditioning(_ texts: [String]) throws -> Conditioning {
        let rows = try texts.map { text -> (promptEmbeds: Tensor, mask: Tensor) in
            guard let entry = byCaption[text] else {
                if text.isEmpty {
                    throw TrainingDataError.embeddingCache(
                        file: cache.manifestURL.path,
                        reason:
                            """
                            the seed trains Qwen-Image without classifier-free guidance and the cache holds no \
                            negative prompt: keep --guidance-scale 1
                            """)
                }
                throw TrainingDataError.uncachedPrompt(text, manifest: cache.manifestURL)
            }
            return try cache.load(entry)
        }
        let length = rows.map { $0.promptEmbeds.dim(0) }.max() ?? 0
        let hidden = transformer.config.jointAttentionDim
        let states = rows.map { row -> Tensor in
            let pad = length - row.promptEmbeds.dim(0)
            return pad == 0 ? row.promptEmbeds : concatenated([row.promptEmbeds, Tensor.zeros([pad, hidden])], axis: 0)
        }
        let masks = rows.map { row -> Tensor in
            let pad = length - row.mask.dim(0)
            return pad == 0 ? row.mask : concatenated([row.mask, Tensor.zeros([pad])], axis: 0)
        }
        return Conditioning(["prompt_embeds": stacked(states, axis: 0), "prompt_mask": stacked(masks, axis: 0)])
    }

    /// Final packed latents → images, as the seed decodes them (unpacked, `latents / (1/std) + mean`, the VAE's frame
    /// 0, [−1, 1] → [0, 1]) and rounded to 8 bits as `VaeImageProcessor.postprocess`.
    public func images(_ latents: Tensor) throws -> [RGBImage] {
        let unpacked = QwenImageLatents.unpack(
            latents.asType(.float32), height: latentGrid.height, width: latentGrid.width)
        let raw = vae.denormalize(unpacked)
        let decoded = vae.decode(raw.asType(vae.quantConv.weight.dtype)).asType(.float32)
        let pixels = ((decoded[.all, .all, 0] + 1) * 0.5).clipped(min: 0, max: 1).transposed([0, 2, 3, 1])
        let (b, h, w) = (pixels.dim(0), pixels.dim(1), pixels.dim(2))
        let values = pixels.toArray(Float.self)
        return try (0..<b).map { i in
            try RGBImage(
                hwc: Array(values[(i * h * w * 3)..<((i + 1) * h * w * 3)]), shape: [h, w, 3], range: .zeroToOne)
        }
    }
}

/// GRPO's view of Qwen-Image: the transformer's velocity for packed latents `[B, Li, 4·z_dim]` and cached text with
/// its mask. The flow chain's network timesteps are the seed's integer τ = trunc(1000σ); the seed feeds the
/// transformer `τ / 1000`, which it scales by 1000 again inside.
final class QwenImagePolicy: SnapshotReferencePolicy {
    let transformer: QwenImageTransformer2DModel
    let imageShape: QwenEmbedRope.ImageShape
    let reference: ReferenceWeights?

    init(transformer: QwenImageTransformer2DModel, imageShape: QwenEmbedRope.ImageShape, reference: ReferenceWeights?) {
        self.transformer = transformer
        self.imageShape = imageShape
        self.reference = reference
    }

    var module: Module { transformer }

    func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        let dtype = transformer.imageIn.weight.dtype
        return transformer(
            hiddenStates: x.asType(dtype), encoderHiddenStates: conditioning["prompt_embeds"].asType(dtype),
            encoderHiddenStatesMask: conditioning["prompt_mask"], timestep: timesteps / 1000,
            imageShapes: Array(repeating: [imageShape], count: x.dim(0))
        ).asType(.float32)
    }

}
