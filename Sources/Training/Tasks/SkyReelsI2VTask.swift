import Checkpoints
import Engine
import Foundation
import GRPO
import Imaging
import Models
import NN
import Rewards

/// DanceGRPO's SkyReels-V1 image-to-video setting (`train_grpo_skyreels_i2v.py`) as a GRPO task: a diffusers
/// HunyuanVideo folder with SkyReels' transformer (trained; the VAE frozen, no text encoder: prompts and the empty
/// prompt come from the seed-layout cache, ``SkyReelsEmbeddingCache``), videos of `frames` frames of `height ×
/// width`, each prompt's first frame made by ``SkyReelsReferenceImages`` (FLUX from the prompt, as the seed, or an
/// image of the dataset), encoded by the VAE (a posterior sample × scaling_factor, zero latent frames after it) and
/// concatenated to the noisy latents on the channel axis; the embedded guidance 1000 the seed passes; classifier-free
/// guidance against the cached empty prompt with the same first frame in both branches. The rewards score the
/// decoded videos (the seed's: VideoAlign's motion quality).
/// Deliberate deviation: the seed writes each FLUX image as a JPEG and reads it back, and each video as an MP4 it
/// scores from the file, so both codecs' losses enter; here the image is rounded to 8 bits and the rewards see the
/// decoded frames themselves.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/train_grpo_skyreels_i2v.py#L226-L300
public final class SkyReelsI2VTask: RewardFramesVideoTask {
    public let pipeline: HunyuanSkyreelsImageToVideoPipeline
    public let cache: SkyReelsEmbeddingCache
    public let entries: [SkyReelsEmbeddingCache.Entry]
    public let frames: Int
    public let height: Int
    public let width: Int
    public let references: SkyReelsReferenceImages
    /// The seed's `--fps 8` for the videos it writes.
    public static let framesPerSecond = 8.0
    /// The embedded guidance the seed's training passes (`guidance=torch.tensor([1000.0])`: guidance scale 1).
    public static let embeddedGuidance: Float = 1000
    public var framesPerSecond: Double { Self.framesPerSecond }
    public var frameCount: Int { frames }
    /// Every frame of each video: the seed's reward scores the whole clip.
    public var rewardFrames: RewardFrames { .all }
    private let byCaption: [String: Int]
    /// The empty prompt's conditioning (one row), read once.
    private let empty: HunyuanVideoPipeline.Conditioning
    private let transformerParameters: Int

    public init(
        pipeline: HunyuanSkyreelsImageToVideoPipeline, embeddings: URL, references: SkyReelsReferenceImages,
        frames: Int = 53, height: Int = 400, width: Int = 640
    ) throws {
        self.pipeline = pipeline
        transformerParameters = pipeline.transformer.parameterCount()
        cache = SkyReelsEmbeddingCache(folder: embeddings)
        entries = try TrainingDataError.requirePrompts(try cache.readManifest(), manifest: cache.manifestURL)
        guard let emptyCache = cache.emptyCache, let emptyEntry = try emptyCache.readManifest().first else {
            throw TrainingDataError.embeddingCache(
                file: cache.folder.path,
                reason:
                    """
                    no cache of the empty prompt (\(SkyReelsEmbeddingCache.emptyFolderName)/ inside the cache or \
                    beside it, as DanceGRPO's data/empty): run `dancegrpo preprocess --model skyreels-i2v`
                    """)
        }
        self.frames = frames
        self.height = height
        self.width = width
        self.references = references
        byCaption = Dictionary(entries.enumerated().map { ($1.caption, $0) }, uniquingKeysWith: { first, _ in first })
        let pooledDim = pipeline.transformer.config.pooledProjectionDim
        empty = try emptyCache.conditioning([emptyEntry], pooledDim: pooledDim)
        pipeline.vae.freeze()
        // The seed's `vae.enable_tiling()` before it encodes the first frame and decodes the videos (diffusers'
        // default tile sizes: frames of 400 × 640 px are cut into 256 px tiles).
        pipeline.vae.tiling.enable()
        // Check one entry now, so a cache made by another model fails before the first rollout.
        let sample = try cache.conditioning([entries[0]], pooledDim: pooledDim)
        let textDim = pipeline.transformer.config.textEmbedDim
        guard sample.promptEmbeds.dim(-1) == textDim, sample.promptEmbeds.shape == empty.promptEmbeds.shape else {
            throw TrainingDataError.embeddingCache(
                file: cache.manifestURL.path,
                reason:
                    """
                    states \(sample.promptEmbeds.shape) and the empty prompt's \(empty.promptEmbeds.shape), expected \
                    the same length and the transformer's text_embed_dim \(textDim) (was the cache made with another \
                    model or length?)
                    """)
        }
    }

    public var summary: String {
        """
        SkyReels-I2V (\(transformerParameters) transformer parameters) on \(entries.count) cached prompts, \
        \(frames) frames of \(width)×\(height) px, first frames from \(references.summary)
        """
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
        SkyReelsI2VPolicy(pipeline: pipeline, reference: reference)
    }

    /// The cache's prompts in ``CachedPromptOrder``, each with the draw of its first frame: a pure function of
    /// (seed, iteration), so a resumed run sees the same images.
    public func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [Prompt] {
        CachedPromptOrder.prompts(entries.map(\.caption), count: count, iteration: iteration, seed: seed)
            .enumerated().map { slot, prompt in
                let draw = (seed &* 1_000_003 &+ UInt64(iteration)) &* 8_191 &+ UInt64(slot) &+ 1
                return Prompt(text: prompt.text, metadata: SkyReelsFirstFrameDraw(draw: draw))
            }
    }

    /// The first `count` prompts of the cache (all of them if fewer), each with a fixed first frame.
    public func evaluationPrompts(count: Int) throws -> [Prompt] {
        entries.prefix(count).enumerated().map {
            Prompt(text: $1.caption, metadata: SkyReelsFirstFrameDraw(draw: UInt64($0)))
        }
    }

    public func conditioning(_ texts: [String]) throws -> Conditioning {
        try conditioning(prompts: texts.map { Prompt(text: $0) })
    }

    /// Cached text conditioning and each prompt's first-frame latents (computed once per distinct prompt and draw:
    /// a GRPO group shares its first frame, as in the seed). The empty text is the unconditional branch: the cached
    /// empty prompt, whose first frame is its conditional partner's (``SkyReelsI2VPolicy``).
    public func conditioning(prompts: [Prompt]) throws -> Conditioning {
        var states: [Tensor] = [], masks: [Tensor] = [], pooled: [Tensor] = [], images: [Tensor] = []
        var paired: [Float] = []
        var made: [String: Tensor] = [:], text: [Int: HunyuanVideoPipeline.Conditioning] = [:]
        let imageShape = [1] + latentShape
        for prompt in prompts {
            if prompt.text.isEmpty {
                states.append(empty.promptEmbeds)
                masks.append(empty.attentionMask)
                pooled.append(empty.pooledPromptEmbeds)
                images.append(Tensor.zeros(imageShape))
                paired.append(1)
                continue
            }
            guard let index = byCaption[prompt.text] else {
                throw TrainingDataError.uncachedPrompt(prompt.text, manifest: cache.manifestURL)
            }
            if text[index] == nil {
                text[index] = try cache.conditioning(
                    [entries[index]], pooledDim: pipeline.transformer.config.pooledProjectionDim)
            }
            let c = text[index]!
            states.append(c.promptEmbeds)
            masks.append(c.attentionMask)
            pooled.append(c.pooledPromptEmbeds)
            let draw = (prompt.metadata as? SkyReelsFirstFrameDraw)?.draw ?? UInt64(index)
            let key = "\(draw) \(prompt.text)"
            if made[key] == nil { made[key] = try firstFrameLatents(prompt.text, index: index, draw: draw) }
            images.append(made[key]!)
            paired.append(0)
        }
        return Conditioning([
            "prompt_embeds": concatenated(states, axis: 0), "attention_mask": concatenated(masks, axis: 0),
            "pooled_prompt_embeds": concatenated(pooled, axis: 0), "image_latents": concatenated(images, axis: 0),
            "paired_image": Tensor(paired, shape: [paired.count])
        ])
    }

    /// One prompt's first frame as the transformer's image latents `[1, C, f, h, w]`: the image (FLUX's or the
    /// dataset's) at the video's size, its posterior sampled with the draw's key.
    func firstFrameLatents(_ text: String, index: Int, draw: UInt64) throws -> Tensor {
        let keys = RandomKey(seed: draw).split(into: 2)
        let image = try references.image(for: text, index: index, height: height, width: width, key: keys[0])
        let pixels = pipeline.preprocess(
            rgb: image.pixels, height: image.height, width: image.width, targetHeight: height, targetWidth: width)
        let noise = pipeline.imageNoise(count: 1, height: height, width: width, key: keys[1])
        let latents = pipeline.imageLatents(pixels: pixels, frames: frames, noise: noise)
        eval(latents)
        return latents
    }

    /// Final latents → every sample's frames, rounded to 8 bits as `VideoProcessor.postprocess_video` does.
    public func videos(_ latents: Tensor) throws -> [[RGBImage]] {
        try DecodedVideos.frames(pipeline.decode(latents))
    }
}

/// Which first frame a training prompt gets: a seed for the FLUX noise and the posterior sample of the image.
public struct SkyReelsFirstFrameDraw: Hashable, Sendable {
    public let draw: UInt64
}

/// GRPO's view of SkyReels: the transformer's velocity for latents `[B, C, f, h, w]` beside each row's first-frame
/// latents, fed the flow chain's timesteps unscaled (the seed passes τ = trunc(1000σ)) and the embedded guidance
/// 1000.
/// Rows flagged `paired_image` (the unconditional branch of classifier-free guidance, which `guidedOutput` lays out
/// as the first half of `[unconditional; conditional]`) take the first frame of their conditional partner, as the
/// seed repeats `first_frame_latents` over both branches.
final class SkyReelsI2VPolicy: SnapshotReferencePolicy {
    let pipeline: HunyuanSkyreelsImageToVideoPipeline
    let reference: ReferenceWeights?

    init(pipeline: HunyuanSkyreelsImageToVideoPipeline, reference: ReferenceWeights?) {
        self.pipeline = pipeline
        self.reference = reference
    }

    var module: Module { pipeline.transformer }

    func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        let rows = x.dim(0)
        var images = conditioning["image_latents"]
        let paired = conditioning["paired_image"].toArray(Float.self)
        if paired.contains(1) {
            let half = rows / 2
            precondition(
                rows % 2 == 0 && paired[..<half].allSatisfy { $0 == 1 } && paired[half...].allSatisfy { $0 == 0 },
                "SkyReelsI2VPolicy: the empty prompt's rows must be the first half of a guided batch, got \(paired)")
            let conditional = images[half..<rows]
            images = concatenated([conditional, conditional], axis: 0)
        }
        let text = HunyuanVideoPipeline.Conditioning(
            promptEmbeds: conditioning["prompt_embeds"], attentionMask: conditioning["attention_mask"],
            pooledPromptEmbeds: conditioning["pooled_prompt_embeds"])
        return pipeline.velocity(
            x, imageLatents: images, timesteps: timesteps, conditioning: text,
            guidance: Tensor.full([rows], Double(SkyReelsI2VTask.embeddedGuidance)))
    }
}

extension SkyReelsI2VTask {
    /// SkyReels-V1's transformer is HunyuanVideo's with the image latents' extra input channels, so its activations
    /// are HunyuanVideo's at the same size (the memory plan doubles the rows for classifier-free guidance).
    public static func activationEstimate(folder: URL, settings: TaskSettings) throws -> ActivationEstimate? {
        try HunyuanVideoTask.activationEstimate(folder: folder, settings: settings)
    }
}
