import Checkpoints
import Engine
import Foundation
import GRPO
import Imaging
import Models
import NN
import Rewards

/// DanceGRPO's HunyuanVideo text-to-video setting (`train_grpo_hunyuan.py`, `--model_type hunyuan_hf`) as a GRPO task:
/// a diffusers HunyuanVideo folder (transformer trained, VAE frozen with tiling on as the seed's `vae.enable_tiling()`,
/// no text encoders: prompts come from the embedding cache, as the seed's `--data_json_path`), videos of `frames`
/// frames of `height × width` as latents `[C, 1 + (F − 1)/4, H/8, W/8]`. The seed samples with its `flux_step`,
/// which is the Dance SDE of the flow chain (`FlowSampler.danceSDE`: the same mean with the score term, std η·√(σ
/// − σ′), and the Gaussian log-likelihood averaged over elements), on `linspace(1, 0, T + 1)` bent by
/// `sd3_time_shift(shift)`, feeding the transformer τ = trunc(1000σ), and decodes the last step's x̂0
/// (`pred_original / 0.476986`).
///
/// The guidance-distilled transformer gets the seed's embedded guidance, `torch.tensor([6018.0], dtype=bfloat16)`,
/// which bfloat16 rounds to 6016 (``seedEmbeddedGuidance``). There is no classifier-free guidance: the seed's `--cfg
/// 0.0` is a caption-dropout rate and it caches no negative prompt, so an unconditional branch is refused.
///
/// Deliberate deviation, as the Wan task's: the seed writes each video as an MP4 at `--fps 8` and scores the file
/// (VideoAlign), so the codec's loss enters its reward; here the rewards see the decoded frames themselves, as
/// ``samples(fromVideos:)`` picks them (`rewardFrames`), videos at ``framesPerSecond``.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/train_grpo_hunyuan.py
public final class HunyuanVideoTask: RewardFramesVideoTask, CachedCaptionsTask {
    public let transformer: HunyuanVideoTransformer3DModel
    public let vae: AutoencoderKLHunyuanVideo
    public let cache: HunyuanVideoEmbeddingCache
    public let entries: [HunyuanVideoEmbeddingCache.Entry]
    public let frames: Int
    public let height: Int
    public let width: Int
    public let rewardFrames: RewardFrames
    /// The transformer's guidance input (already × 1000).
    public let guidance: Float
    /// The seed's `guidance=torch.tensor([6018.0], dtype=torch.bfloat16)`: bfloat16 keeps 8 significant bits, so the
    /// transformer sees 6016 (its default when no guidance is passed, too).
    public static let seedEmbeddedGuidance: Float = 6016
    /// The seed's `--fps 8`: the rate its videos are written at for the reward.
    public static let framesPerSecond = 8.0
    public var framesPerSecond: Double { Self.framesPerSecond }
    public var frameCount: Int { frames }
    private let byCaption: [String: HunyuanVideoEmbeddingCache.Entry]

    public init(
        transformer: HunyuanVideoTransformer3DModel, vae: AutoencoderKLHunyuanVideo, embeddings: URL, frames: Int = 53,
        height: Int = 480, width: Int = 480, rewardFrames: RewardFrames = .all, guidance: Float = seedEmbeddedGuidance
    ) throws {
        self.transformer = transformer
        self.vae = vae
        transformerParameters = transformer.parameterCount()
        cache = HunyuanVideoEmbeddingCache(folder: embeddings)
        entries = try TrainingDataError.requirePrompts(try cache.readManifest(), manifest: cache.manifestURL)
        self.frames = frames
        self.height = height
        self.width = width
        self.rewardFrames = rewardFrames
        self.guidance = guidance
        byCaption = Dictionary(entries.map { ($0.caption, $0) }, uniquingKeysWith: { first, _ in first })
        vae.freeze()
        vae.tiling.useTiling = true
        // Check one entry now, so a cache made by another model fails before the first rollout.
        let config = transformer.config
        let sample = try cache.load(entries[0], pooledDim: config.pooledProjectionDim)
        guard sample.promptEmbeds.dim(-1) == config.textEmbedDim else {
            throw TrainingDataError.embeddingCache(
                file: cache.manifestURL.path,
                reason:
                    """
                    embeddings of \(sample.promptEmbeds.dim(-1)) features, expected the transformer's text_embed_dim \
                    \(config.textEmbedDim) (was the cache made with another model?)
                    """)
        }
    }

    /// The transformer and VAE of a diffusers HunyuanVideo folder (`transformerFolder`: another `transformer/`, e.g. a
    /// checkpoint's), checked against each other as `HunyuanVideoPipeline.load` does; the text side is not loaded.
    public static func loadNetworks(from folder: URL, dtype: DType? = nil, transformerFolder: URL? = nil) throws -> (
        transformer: HunyuanVideoTransformer3DModel, vae: AutoencoderKLHunyuanVideo
    ) {
        try ModelFolderError.checkComponents(
            ["transformer", "vae"], in: folder, model: "HunyuanVideo", role: "training reads")
        let transformer = try HunyuanVideoTransformer3DModel.load(
            from: transformerFolder ?? folder.appendingPathComponent("transformer"), dtype: dtype)
        let vae = try AutoencoderKLHunyuanVideo.load(from: folder.appendingPathComponent("vae"), dtype: dtype)
        let (config, channels) = (transformer.config, vae.config.latentChannels)
        guard config.inChannels == channels, config.outputChannels == channels, config.guidanceEmbeds,
            config.imageConditionType == nil
        else {
            throw ModelFolderError.missingComponents(
                file: folder.path,
                reason:
                    """
                    the transformer takes \(config.inChannels) and returns \(config.outputChannels) latent channels \
                    (guidance_embeds \(config.guidanceEmbeds), image_condition_type \
                    \(config.imageConditionType ?? "null")); text-to-video training needs the VAE's latent_channels \
                    \(channels) both ways, the embedded guidance, and no image condition
                    """)
        }
        return (transformer, vae)
    }

    /// Counted when the task is made: sharded training empties the network's own tensors.
    private let transformerParameters: Int

    public var summary: String {
        """
        HunyuanVideo (\(transformerParameters) transformer parameters) on \(entries.count) cached prompts, \
        \(frames) frame\(frames == 1 ? "" : "s") of \(width)×\(height) px
        """
    }

    /// HunyuanVideo's transformer over the patch tokens of `numFrames` frames of `height × width` (16 px and 4 frames
    /// per token after the first frame, by the folder's VAE) and the cache's text length (256, the seed's, without a
    /// readable cache): double- and single-stream blocks alike attend over video and text tokens jointly.
    public static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate? {
        let vaeFolder = folder.appendingPathComponent("vae")
        let spatial = 2 * (try ActivationEstimate.vaeScaleFactor(vaeFolder: vaeFolder))
        let latentFrames = 1 + (settings.numFrames - 1) / 4
        return try .hunyuanVideo(
            transformerFolder: folder.appendingPathComponent("transformer"),
            videoTokens: latentFrames * (settings.height / spatial) * (settings.width / spatial),
            textTokens: settings.embeddings.flatMap { cachedTextLength(URL(fileURLWithPath: $0)) }
                ?? HunyuanVideoTextEncoding.defaultMaxSequenceLength)
    }

    /// Text tokens of the first prompt in an embedding cache (nil for an unreadable cache: the run reports it).
    static func cachedTextLength(_ folder: URL) -> Int? {
        let cache = HunyuanVideoEmbeddingCache(folder: folder)
        guard let first = try? cache.readManifest().first, let row = try? cache.load(first, pooledDim: 0) else {
            return nil
        }
        return row.attentionMask.dim(0)
    }

    public var network: Module { transformer }
    public var networkFolderName: String { "transformer" }
    public var chain: SamplingChain { .flow }

    /// `prepare_latents`' shape: the VAE's channels, 1 + (F − 1)/4 latent frames, H/8 × W/8.
    public var latentShape: [Int] {
        [
            transformer.config.inChannels, 1 + (frames - 1) / vae.temporalCompression, height / vae.spatialCompression,
            width / vae.spatialCompression
        ]
    }

    public func saveNetwork(to folder: URL) throws {
        try transformer.writePretrainedFolder(
            folder.appendingPathComponent(networkFolderName), config: transformer.config,
            className: "HunyuanVideoTransformer3DModel")
    }

    public func policy(reference: ReferenceWeights?) -> DenoisingPolicy {
        HunyuanVideoPolicy(transformer: transformer, guidance: guidance, reference: reference)
    }

    public var cachedCaptions: [String] { entries.map(\.caption) }

    /// Cached conditioning per text: Llama states `prompt_embeds [B, L, D]` and their mask `prompt_attention_mask
    /// [B, L]` (int32; rows of other lengths right-padded to the longest, masked) and CLIP's `pooled_prompt_embeds
    /// [B, P]`, split from the seed's packed rows.
    public func conditioning(_ texts: [String]) throws -> Conditioning {
        let pooledDim = transformer.config.pooledProjectionDim
        let rows = try texts.map { text -> HunyuanVideoEmbeddingCache.Row in
            guard let entry = byCaption[text] else {
                if text.isEmpty {
                    throw TrainingDataError.embeddingCache(
                        file: cache.manifestURL.path,
                        reason:
                            """
                            the seed trains HunyuanVideo with its embedded guidance only, without classifier-free \
                            guidance, and the cache holds no negative prompt: keep --guidance-scale 1
                            """)
                }
                throw TrainingDataError.uncachedPrompt(text, manifest: cache.manifestURL)
            }
            return try cache.load(entry, pooledDim: pooledDim)
        }
        let length = rows.map { $0.attentionMask.dim(0) }.max() ?? 0
        let hidden = transformer.config.textEmbedDim
        func padded(_ t: Tensor, _ trailing: [Int]) -> Tensor {
            let pad = length - t.dim(0)
            return pad == 0 ? t : concatenated([t, Tensor.zeros([pad] + trailing, dtype: t.dtype)], axis: 0)
        }
        return Conditioning([
            "prompt_embeds": stacked(rows.map { padded($0.promptEmbeds, [hidden]) }, axis: 0),
            "prompt_attention_mask": stacked(rows.map { padded($0.attentionMask, []) }, axis: 0),
            "pooled_prompt_embeds": stacked(rows.map(\.pooledPromptEmbeds), axis: 0)
        ])
    }

    /// Final latents → every sample's frames: `vae.decode(latents / scaling_factor)`, `x / 2 + 0.5` clamped, rounded
    /// to 8 bits as `VideoProcessor.postprocess_video` does.
    public func videos(_ latents: Tensor) throws -> [[RGBImage]] {
        try DecodedVideos.frames(vae.decodeVideos(latents))
    }
}

/// GRPO's view of HunyuanVideo: the transformer's velocity for latents `[B, C, f, h, w]`, the cached text (states,
/// mask, pooled vector) and the embedded guidance, fed the flow chain's timesteps unscaled (the seed passes its integer
/// τ = trunc(1000σ)).
final class HunyuanVideoPolicy: SnapshotReferencePolicy {
    let transformer: HunyuanVideoTransformer3DModel
    let guidance: Float
    let reference: ReferenceWeights?

    init(transformer: HunyuanVideoTransformer3DModel, guidance: Float, reference: ReferenceWeights?) {
        self.transformer = transformer
        self.guidance = guidance
        self.reference = reference
    }

    var module: Module { transformer }

    func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        let text = HunyuanVideoPipeline.Conditioning(
            promptEmbeds: conditioning["prompt_embeds"], attentionMask: conditioning["prompt_attention_mask"],
            pooledPromptEmbeds: conditioning["pooled_prompt_embeds"])
        return transformer.velocity(
            x, timesteps: timesteps, conditioning: text, guidance: Tensor.full([x.dim(0)], Double(guidance)))
    }
}
