import Checkpoints
import Engine
import Foundation
import Sampling

/// diffusers' `HunyuanVideoPipeline` on a diffusers HunyuanVideo folder (`hunyuanvideo-community/HunyuanVideo`): the
/// text side (Llama 3 states with CLIP-L's pooled vector, ``HunyuanVideoTextEncoding``), latents laid out as the
/// pipeline takes them (`[B, C, f, h, w]`, f = 1 + (F − 1)/4 for F frames, h = H/8, w = W/8), the folder's
/// flow-matching Euler scheduler over `linspace(1, 0, T + 1)[:-1]` bent by its shift, the guidance-distilled
/// transformer fed the embedded guidance `g · 1000`, optional true CFG against a negative prompt, and the VAE decoding
/// `latents / scaling_factor` to videos in [0, 1].
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/hunyuan_video/pipeline_hunyuan_video.py#L440-L735
public final class HunyuanVideoPipeline {
    public let transformer: HunyuanVideoTransformer3DModel
    public let vae: AutoencoderKLHunyuanVideo
    public let text: HunyuanVideoTextEncoding
    public let scheduler: SchedulerConfig

    /// The text conditioning of a batch: `encode_prompt`'s `prompt_embeds [B, L, hidden]`, `prompt_attention_mask
    /// [B, L]` and `pooled_prompt_embeds [B, D]`.
    public struct Conditioning {
        public var promptEmbeds: Tensor
        public var attentionMask: Tensor
        public var pooledPromptEmbeds: Tensor

        public init(promptEmbeds: Tensor, attentionMask: Tensor, pooledPromptEmbeds: Tensor) {
            self.promptEmbeds = promptEmbeds
            self.attentionMask = attentionMask
            self.pooledPromptEmbeds = pooledPromptEmbeds
        }
    }

    public static let components = [
        "transformer", "vae", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2", "scheduler"
    ]

    public init(
        transformer: HunyuanVideoTransformer3DModel, vae: AutoencoderKLHunyuanVideo, text: HunyuanVideoTextEncoding,
        scheduler: SchedulerConfig
    ) {
        self.transformer = transformer
        self.vae = vae
        self.text = text
        self.scheduler = scheduler
    }

    /// Loads every part of a diffusers HunyuanVideo folder; `transformerFolder` replaces `transformer/` (a training
    /// checkpoint folder with `transformer/` inside, or a transformer folder), `dtype` nil keeps the checkpoints' own.
    /// `cropStart` nil counts the template's prefix with the folder's tokenizer: 95 with HunyuanVideo's, diffusers'
    /// `DEFAULT_PROMPT_TEMPLATE["crop_start"]`, and the right count for a tokenizer of another vocabulary.
    public static func load(
        from folder: URL, dtype: DType? = nil, transformerFolder: URL? = nil, cropStart: Int? = nil
    ) throws -> HunyuanVideoPipeline {
        try ModelFolderError.checkComponents(components, in: folder, model: "HunyuanVideo")
        let transformerURL = TransformerFolder.url(in: folder, replacement: transformerFolder)
        let transformer = try HunyuanVideoTransformer3DModel.load(from: transformerURL, dtype: dtype)
        let vae = try AutoencoderKLHunyuanVideo.load(from: folder.appendingPathComponent("vae"), dtype: dtype)
        let latentChannels = vae.config.latentChannels
        guard transformer.config.inChannels == latentChannels, transformer.config.outputChannels == latentChannels
        else {
            throw ModelFolderError.missingComponents(
                file: folder.path,
                reason:
                    """
                    the transformer takes \(transformer.config.inChannels) and returns \
                    \(transformer.config.outputChannels) latent channels, the VAE has latent_channels \(latentChannels)
                    """)
        }
        let text = try HunyuanVideoTextEncoding.load(
            from: folder, dtype: dtype, cropStart: cropStart, textEmbedDim: transformer.config.textEmbedDim)
        let scheduler = try SchedulerConfig.load(folder.appendingPathComponent("scheduler"))
        return HunyuanVideoPipeline(transformer: transformer, vae: vae, text: text, scheduler: scheduler)
    }

    /// Pixels per latent cell in height and width, and frames per latent frame after the first.
    public var spatialScale: Int { vae.spatialCompression }
    public var temporalScale: Int { vae.temporalCompression }

    /// One sample's latent shape `[C, f, h, w]` for `frames` frames of `height × width` (`prepare_latents`).
    public func latentShape(frames: Int, height: Int, width: Int) -> [Int] {
        [
            transformer.config.inChannels, 1 + (frames - 1) / temporalScale, height / spatialScale,
            width / spatialScale
        ]
    }

    /// Standard normal initial latents `[count, C, f, h, w]`, the layout the pipeline takes as `latents`.
    public func initialNoise(count: Int, frames: Int, height: Int, width: Int, key: RandomKey) -> Tensor {
        Random.normal([count] + latentShape(frames: frames, height: height, width: width), key: key)
    }

    /// `encode_prompt` for `prompts` (`prompt_2` the same), text at `maxSequenceLength` tokens after the template.
    public func encode(
        _ prompts: [String], maxSequenceLength: Int = HunyuanVideoTextEncoding.defaultMaxSequenceLength
    ) -> Conditioning {
        let (embeds, mask, pooled) = text.encodePrompt(prompts, maxSequenceLength: maxSequenceLength)
        return Conditioning(promptEmbeds: embeds, attentionMask: mask, pooledPromptEmbeds: pooled)
    }

    /// The transformer's velocity for latents `[B, C, f, h, w]`, timesteps `[B]` on the scheduler's 0…1000 scale and
    /// the embedded guidance `[B]` as the pipeline passes it (`guidance_scale · 1000`).
    public func velocity(_ x: Tensor, timesteps: Tensor, conditioning c: Conditioning, guidance: Tensor) -> Tensor {
        transformer.velocity(x, timesteps: timesteps, conditioning: c, guidance: guidance)
    }

    /// `__call__`'s denoising loop from `latents` `[B, C, f, h, w]`: the folder's scheduler over `steps` σs
    /// `linspace(1, 0, steps + 1)[:-1]` (its shift, or `shift`), the transformer given `guidance · 1000` as its
    /// embedded guidance, and with `trueCFGScale` > 1 and `negative` true CFG `v_n + s·(v − v_n)`. Returns the final
    /// latents (diffusers' `output_type="latent"`).
    public func denoise(
        _ latents: Tensor, conditioning: Conditioning, negative: Conditioning? = nil, guidance: Float,
        trueCFGScale: Float = 1, steps: Int, shift: Float? = nil, progress: (Int, Int) -> Void = { _, _ in }
    ) -> Tensor {
        // diffusers passes these σs to `set_timesteps`; they are the scheduler's own `linspace(1, 1/T, T)`.
        let embedded = Tensor.full([latents.dim(0)], Double(guidance) * 1000)
        return scheduler.denoise(
            latents, steps: steps, shift: shift, scale: trueCFGScale, progress: progress,
            velocity: { x, t in velocity(x, timesteps: t, conditioning: conditioning, guidance: embedded) },
            unconditional: negative.map { negative in
                { x, t in self.velocity(x, timesteps: t, conditioning: negative, guidance: embedded) }
            })
    }

    /// Final latents `[B, C, f, h, w]` → videos `[B, F, H, W, 3]` in [0, 1] (`vae.decode(latents / scaling_factor)`,
    /// then `postprocess_video`'s `x / 2 + 0.5` clamped).
    public func decode(_ latents: Tensor) -> Tensor { vae.decodeVideos(latents) }
}
