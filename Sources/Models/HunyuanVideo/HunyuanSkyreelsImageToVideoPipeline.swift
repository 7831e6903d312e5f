import Checkpoints
import Engine
import Foundation
import Sampling

/// diffusers' `HunyuanSkyreelsImageToVideoPipeline`: SkyReels-V1, HunyuanVideo fine-tuned to animate a first frame.
/// The transformer takes `2·C` input channels, the noisy latents followed on the channel axis by the image's latents
/// (the VAE's posterior of the one-frame clip, sampled, times `scaling_factor`) in latent frame 0 and zeros in the
/// frames after it. Everything else is ``HunyuanVideoPipeline``'s: the templated Llama 3 states with CLIP-L's pooled
/// vector, the folder's shifted flow-matching Euler scheduler over `linspace(1, 0, T + 1)[:-1]`, the embedded guidance
/// `g · 1000`, true CFG `v_n + s·(v − v_n)` against a negative prompt (on by default in SkyReels,
/// `true_cfg_scale` 6), and the VAE decoding `latents / scaling_factor`.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/hunyuan_video/pipeline_hunyuan_skyreels_image2video.py#L417-L781
public final class HunyuanSkyreelsImageToVideoPipeline {
    public let transformer: HunyuanVideoTransformer3DModel
    public let vae: AutoencoderKLHunyuanVideo
    /// The text side; nil when loaded for training, whose prompts come from an embedding cache.
    public let text: HunyuanVideoTextEncoding?
    public let scheduler: SchedulerConfig

    public init(
        transformer: HunyuanVideoTransformer3DModel, vae: AutoencoderKLHunyuanVideo, text: HunyuanVideoTextEncoding?,
        scheduler: SchedulerConfig
    ) {
        self.transformer = transformer
        self.vae = vae
        self.text = text
        self.scheduler = scheduler
    }

    /// Loads a diffusers HunyuanVideo folder whose transformer takes twice the VAE's latent channels and returns
    /// them once (SkyReels' 32 → 16); `transformerFolder` replaces `transformer/` (SkyReels' released transformer
    /// folder on `hunyuanvideo-community/HunyuanVideo`, as diffusers' example loads it, or a training checkpoint folder
    /// with `transformer/` inside). `loadTextEncoders` false skips the Llama and CLIP parts (training reads cached
    /// states). The other arguments are ``HunyuanVideoPipeline/load(from:dtype:transformerFolder:cropStart:)``'s.
    public static func load(
        from folder: URL, dtype: DType? = nil, transformerFolder: URL? = nil, cropStart: Int? = nil,
        loadTextEncoders: Bool = true
    ) throws -> HunyuanSkyreelsImageToVideoPipeline {
        let textParts = ["text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2"]
        try ModelFolderError.checkComponents(
            HunyuanVideoPipeline.components.filter {
                ($0 != "transformer" || transformerFolder == nil) && (loadTextEncoders || !textParts.contains($0))
            }, in: folder, model: "HunyuanVideo", listed: HunyuanVideoPipeline.components)
        let transformerURL = TransformerFolder.url(in: folder, replacement: transformerFolder)
        let transformer = try HunyuanVideoTransformer3DModel.load(from: transformerURL, dtype: dtype)
        let vae = try AutoencoderKLHunyuanVideo.load(from: folder.appendingPathComponent("vae"), dtype: dtype)
        let latent = vae.config.latentChannels
        guard transformer.config.inChannels == 2 * latent, transformer.config.outputChannels == latent else {
            throw ModelFolderError.missingComponents(
                file: transformerURL.path,
                reason:
                    """
                    not a SkyReels image-to-video transformer: it takes \(transformer.config.inChannels) and returns \
                    \(transformer.config.outputChannels) channels, expected \(2 * latent) (noisy and image latents) \
                    and \(latent) for the VAE's latent_channels \(latent)
                    """)
        }
        let scheduler = try SchedulerConfig.load(folder.appendingPathComponent("scheduler"))
        guard loadTextEncoders else {
            return HunyuanSkyreelsImageToVideoPipeline(
                transformer: transformer, vae: vae, text: nil, scheduler: scheduler)
        }
        let text = try HunyuanVideoTextEncoding.load(
            from: folder, dtype: dtype, cropStart: cropStart, textEmbedDim: transformer.config.textEmbedDim)
        return HunyuanSkyreelsImageToVideoPipeline(transformer: transformer, vae: vae, text: text, scheduler: scheduler)
    }

    public var latentChannels: Int { vae.config.latentChannels }
    /// Pixels per latent cell in height and width, and frames per latent frame after the first.
    public var spatialScale: Int { vae.spatialCompression }
    public var temporalScale: Int { vae.temporalCompression }

    /// One sample's noisy-latent shape `[C, f, h, w]` (C the VAE's latent channels, half the transformer's input).
    public func latentShape(frames: Int, height: Int, width: Int) -> [Int] {
        [latentChannels, 1 + (frames - 1) / temporalScale, height / spatialScale, width / spatialScale]
    }

    /// Standard normal initial latents `[count, C, f, h, w]`, the layout the pipeline takes as `latents`.
    public func initialNoise(count: Int, frames: Int, height: Int, width: Int, key: RandomKey) -> Tensor {
        Random.normal([count] + latentShape(frames: frames, height: height, width: width), key: key)
    }

    /// `encode_prompt` (the text-to-video pipeline's, same template and lengths); needs the text encoders.
    public func encode(
        _ prompts: [String], maxSequenceLength: Int = HunyuanVideoTextEncoding.defaultMaxSequenceLength
    ) -> HunyuanVideoPipeline.Conditioning {
        guard let text else { preconditionFailure("HunyuanSkyreelsImageToVideoPipeline: loaded without text encoders") }
        let (embeds, mask, pooled) = text.encodePrompt(prompts, maxSequenceLength: maxSequenceLength)
        return HunyuanVideoPipeline.Conditioning(promptEmbeds: embeds, attentionMask: mask, pooledPromptEmbeds: pooled)
    }

    /// The ε of `latent_dist.sample(generator)` for `count` images of `height × width` pixels: `[count, C, 1, h, w]`.
    public func imageNoise(count: Int, height: Int, width: Int, key: RandomKey) -> Tensor {
        Random.normal([count, latentChannels, 1, height / spatialScale, width / spatialScale], key: key)
    }

    /// `prepare_latents`' image half for pixels `[B, 3, H, W]` in [−1, 1] (``SkyreelsImagePreprocessing``'s): the
    /// posterior of each image as a one-frame clip, sampled as `mean + std · noise` (`retrieve_latents`' default
    /// `sample_mode="sample"`; `noise` `[B, C, 1, h, w]`, nil for the mean), times `scaling_factor`, then zeros for
    /// the latent frames after the first of a `frames`-frame video: `[B, C, f, h, w]`.
    public func imageLatents(pixels: Tensor, frames: Int, noise: Tensor?) -> Tensor {
        let clip = pixels.expandedDims(axis: 2).asType(vae.quantConv.weight.dtype)
        let posterior = vae.encode(clip)
        let mean = posterior.mean.asType(.float32)
        var latents = mean
        if let noise {
            precondition(noise.shape == mean.shape, "image noise \(noise.shape), expected \(mean.shape)")
            latents = mean + posterior.std.asType(.float32) * noise.asType(.float32)
        }
        latents = vae.normalize(latents)
        let latentFrames = 1 + (frames - 1) / temporalScale
        guard latentFrames > 1 else { return latents }
        var padding = latents.shape
        padding[2] = latentFrames - 1
        return concatenated([latents, Tensor.zeros(padding)], axis: 2)
    }

    /// The transformer's velocity for noisy latents `[B, C, f, h, w]` beside `imageLatents` of the same shape
    /// (`torch.cat([latents, image_latents], dim=1)`), timesteps `[B]` on the 0…1000 scale, guidance `[B]` already
    /// × 1000.
    public func velocity(
        _ x: Tensor, imageLatents: Tensor, timesteps: Tensor, conditioning: HunyuanVideoPipeline.Conditioning,
        guidance: Tensor
    ) -> Tensor {
        transformer.velocity(
            concatenated([x, imageLatents], axis: 1), timesteps: timesteps, conditioning: conditioning,
            guidance: guidance)
    }

    /// `__call__`'s denoising loop from `latents` `[B, C, f, h, w]` with ``imageLatents(pixels:frames:noise:)`` of
    /// each sample: the folder's scheduler over `steps` σs (its shift, or `shift`), embedded guidance `guidance ·
    /// 1000`, and with `trueCFGScale` > 1 and `negative` true CFG. Returns the final latents (`output_type="latent"`).
    public func denoise(
        _ latents: Tensor, imageLatents: Tensor, conditioning: HunyuanVideoPipeline.Conditioning,
        negative: HunyuanVideoPipeline.Conditioning? = nil, guidance: Float = 1, trueCFGScale: Float = 6,
        steps: Int, shift: Float? = nil, progress: (Int, Int) -> Void = { _, _ in }
    ) -> Tensor {
        let embedded = Tensor.full([latents.dim(0)], Double(guidance) * 1000)
        func branch(_ x: Tensor, _ t: Tensor, _ c: HunyuanVideoPipeline.Conditioning) -> Tensor {
            velocity(x, imageLatents: imageLatents, timesteps: t, conditioning: c, guidance: embedded)
        }
        return scheduler.denoise(
            latents, steps: steps, shift: shift, scale: trueCFGScale, progress: progress,
            velocity: { x, t in branch(x, t, conditioning) },
            unconditional: negative.map { negative in { x, t in branch(x, t, negative) } })
    }

    /// Final latents `[B, C, f, h, w]` → videos `[B, F, H, W, 3]` in [0, 1] (`vae.decode(latents /
    /// scaling_factor)`, then `postprocess_video`'s `x / 2 + 0.5` clamped).
    public func decode(_ latents: Tensor) -> Tensor { vae.decodeVideos(latents) }
}
