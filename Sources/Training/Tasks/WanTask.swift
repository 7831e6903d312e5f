import Checkpoints
import Engine
import Foundation
import GRPO
import Imaging
import Models
import NN
import Rewards

/// DanceGRPO's Wan-2.1 setting (`train_grpo_wan_2_1.py`) as a GRPO task: a diffusers Wan folder (transformer trained,
/// VAE frozen, no text encoder: prompts and the negative prompt come from the embedding cache, as DanceGRPO's
/// `--data_json_path`), videos of `frames` frames of `height × width` (1 frame: Wan as an image model, as the seed
/// trains it), classifier-free guidance against the cached negative prompt, image rewards on `rewardFrames`.
/// Deliberate deviation: the seed writes each video as an H.264 MP4 and scores frame 0 read back from the file, so
/// the codec's loss enters its reward; here the reward sees the decoded frames themselves.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/train_grpo_wan_2_1.py
public final class WanTask: RewardFramesVideoTask, CachedCaptionsTask {
    public let pipeline: WanPipeline
    public let cache: WanEmbeddingCache
    public let entries: [WanEmbeddingCache.Entry]
    public let frames: Int
    public let height: Int
    public let width: Int
    public let rewardFrames: RewardFrames
    /// Frames per second of the videos written for people to watch (Wan-2.1's own export rate).
    public static let framesPerSecond = 16.0
    public var framesPerSecond: Double { Self.framesPerSecond }
    public var frameCount: Int { frames }
    private let byCaption: [String: WanEmbeddingCache.Entry]
    /// The negative prompt's states `[1, L, D]`, read once: classifier-free guidance asks for them every iteration.
    private let negativePromptEmbeds: Tensor

    public init(
        pipeline: WanPipeline, embeddings: URL, frames: Int = 1, height: Int = 512, width: Int = 512,
        rewardFrames: RewardFrames = .first
    ) throws {
        self.pipeline = pipeline
        transformerParameters = pipeline.transformer.parameterCount()
        cache = WanEmbeddingCache(folder: embeddings)
        entries = try TrainingDataError.requirePrompts(try cache.readManifest(), manifest: cache.manifestURL)
        self.frames = frames
        self.height = height
        self.width = width
        self.rewardFrames = rewardFrames
        byCaption = Dictionary(entries.map { ($0.caption, $0) }, uniquingKeysWith: { first, _ in first })
        negativePromptEmbeds = try cache.negativePromptEmbeds([entries[0]])
        pipeline.vae.freeze()
        // Check one entry now, so a cache made by another model fails before the first rollout.
        let sample = try cache.promptEmbeds([entries[0]])
        let textDim = pipeline.transformer.config.textDim
        guard sample.dim(-1) == textDim else {
            throw TrainingDataError.embeddingCache(
                file: cache.manifestURL.path,
                reason:
                    """
                    embeddings of \(sample.dim(-1)) features, expected the transformer's text_dim \(textDim) (was \
                    the cache made with another model?)
                    """)
        }
    }

    /// Counted when the task is made: sharded training empties the network's own tensors.
    private let transformerParameters: Int

    public var summary: String {
        """
        Wan (\(transformerParameters) transformer parameters) on \(entries.count) cached prompts, \
        \(frames) frame\(frames == 1 ? "" : "s") of \(width)×\(height) px
        """
    }

    /// Wan's transformer over the patch tokens of `numFrames` frames of `height × width` (16 px and 4 frames per
    /// token after the first frame) and the cache's text length (the first cached prompt's; 512 without a readable
    /// cache, as `WanPipeline` pads).
    public static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate? {
        let latentFrames = 1 + (settings.numFrames - 1) / 4
        return try .wan(
            transformerFolder: folder.appendingPathComponent("transformer"),
            videoTokens: latentFrames * (settings.height / 16) * (settings.width / 16),
            textTokens: settings.embeddings.flatMap { cachedTextLength(URL(fileURLWithPath: $0)) } ?? 512)
    }

    /// Tokens of the first prompt in an embedding cache (nil for an unreadable cache: the run itself reports it).
    static func cachedTextLength(_ folder: URL) -> Int? {
        let cache = WanEmbeddingCache(folder: folder)
        guard let first = try? cache.readManifest().first, let states = try? cache.promptEmbeds([first]) else {
            return nil
        }
        return states.dim(1)
    }

    public var network: Module { pipeline.transformer }
    public var networkFolderName: String { "transformer" }
    public var chain: SamplingChain { .flow }
    public var latentShape: [Int] { pipeline.latentShape(frames: frames, height: height, width: width) }

    public func saveNetwork(to folder: URL) throws {
        try pipeline.transformer.writePretrainedFolder(
            folder.appendingPathComponent(networkFolderName), config: pipeline.transformer.config)
    }

    public func policy(reference: ReferenceWeights?) -> DenoisingPolicy {
        WanPolicy(pipeline: pipeline, reference: reference)
    }

    public var cachedCaptions: [String] { entries.map(\.caption) }

    /// Cached UMT5 states per text; the empty text (classifier-free guidance's unconditional branch) is the cached
    /// negative prompt, which DanceGRPO encodes from "".
    public func conditioning(_ texts: [String]) throws -> Conditioning {
        var rows: [Tensor] = []
        for text in texts {
            if text.isEmpty {
                rows.append(negativePromptEmbeds)
                continue
            }
            guard let entry = byCaption[text] else {
                throw TrainingDataError.uncachedPrompt(text, manifest: cache.manifestURL)
            }
            rows.append(try cache.promptEmbeds([entry]))
        }
        return Conditioning(["prompt_embeds": concatenated(rows, axis: 0)])
    }

    /// Final latents → every sample's frames, rounded to 8 bits as `VideoProcessor.postprocess_video` does.
    public func videos(_ latents: Tensor) throws -> [[RGBImage]] {
        try DecodedVideos.frames(pipeline.decode(latents))
    }
}

/// GRPO's view of Wan: the transformer's velocity for latents `[B, z_dim, f, h, w]` and cached UMT5 states, fed the
/// flow chain's timesteps unscaled (DanceGRPO passes its integer τ = trunc(1000σ) to the transformer).
final class WanPolicy: SnapshotReferencePolicy {
    let pipeline: WanPipeline
    let reference: ReferenceWeights?

    init(pipeline: WanPipeline, reference: ReferenceWeights?) {
        self.pipeline = pipeline
        self.reference = reference
    }

    var module: Module { pipeline.transformer }

    func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        pipeline.velocity(x, timesteps: timesteps, promptEmbeds: conditioning["prompt_embeds"])
    }

}
