import Checkpoints
import Engine
import Foundation
import Sampling

/// The parts of a diffusers Wan-2.1 folder (`Wan-AI/Wan2.1-T2V-1.3B-Diffusers`) that GRPO runs: the transformer and the
/// video VAE, latents laid out as `WanPipeline` takes them (`[B, z_dim, f, h, w]`, f = 1 + (F − 1)/4 for F frames, h
/// = H/8, w = W/8) and its decoding (`latents / latents_std + latents_mean`, the VAE, [−1, 1] → [0, 1] as
/// `VideoProcessor.postprocess_video`). Text states come from the embedding cache (``WanEmbeddingCache``), as in
/// DanceGRPO, whose trainer never runs the text encoder.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/wan/pipeline_wan.py
public final class WanPipeline {
    public let transformer: WanTransformer3DModel
    public let vae: AutoencoderKLWan

    public init(transformer: WanTransformer3DModel, vae: AutoencoderKLWan) {
        self.transformer = transformer
        self.vae = vae
    }

    /// Loads `transformer/` (or `transformerFolder`, e.g. a training checkpoint's) and `vae/` of a diffusers Wan
    /// folder; `dtype` nil keeps the checkpoints' own.
    public static func load(from folder: URL, dtype: DType? = nil, transformerFolder: URL? = nil) throws
        -> WanPipeline
    {
        try ModelFolderError.checkComponents(["transformer", "vae"], in: folder, model: "Wan")
        let transformerURL = TransformerFolder.url(in: folder, replacement: transformerFolder)
        let transformer = try WanTransformer3DModel.load(from: transformerURL, dtype: dtype)
        let vae = try AutoencoderKLWan.load(from: folder.appendingPathComponent("vae"), dtype: dtype)
        guard transformer.config.inChannels == vae.config.zDim, transformer.config.outChannels == vae.config.zDim else {
            throw ModelFolderError.missingComponents(
                file: folder.path,
                reason:
                    """
                    the transformer takes \(transformer.config.inChannels) and returns \
                    \(transformer.config.outChannels) latent channels, the VAE has z_dim \(vae.config.zDim)
                    """)
        }
        return WanPipeline(transformer: transformer, vae: vae)
    }

    /// Pixels per latent cell in height and width, and frames per latent frame after the first.
    public var spatialScale: Int { vae.config.spatialCompression }
    public var temporalScale: Int { vae.config.temporalCompression }

    /// One sample's latent shape `[z_dim, f, h, w]` for `frames` frames of `height × width`.
    public func latentShape(frames: Int, height: Int, width: Int) -> [Int] {
        [vae.config.zDim, 1 + (frames - 1) / temporalScale, height / spatialScale, width / spatialScale]
    }

    /// The transformer's velocity for latents `[B, z_dim, f, h, w]`, timesteps `[B]` on the scheduler's 0…1000 scale
    /// (Wan takes them unscaled) and UMT5 states `[B, L, text_dim]`.
    public func velocity(_ x: Tensor, timesteps: Tensor, promptEmbeds: Tensor) -> Tensor {
        let dtype = transformer.projOut.weight.dtype
        return transformer(
            hiddenStates: x.asType(dtype), timestep: timesteps, encoderHiddenStates: promptEmbeds.asType(dtype)
        ).asType(.float32)
    }

    /// Standard normal initial latents `[count, z_dim, f, h, w]` for `frames` frames of `height × width`, the layout
    /// `WanPipeline` takes as `latents`.
    public func initialNoise(count: Int, frames: Int, height: Int, width: Int, key: RandomKey) -> Tensor {
        Random.normal([count] + latentShape(frames: frames, height: height, width: width), key: key)
    }

    /// `WanPipeline.__call__`'s denoising loop from `latents` `[B, z_dim, f, h, w]`: the folder's scheduler (UniPC for
    /// Wan-2.1's folders, `shift` overriding its flow shift), the transformer fed the scheduler's timesteps, and with
    /// `guidance` > 1 classifier-free guidance `v_u + g·(v_c − v_u)` against `negativePromptEmbeds`. Returns the
    /// final latents (diffusers' `output_type="latent"`).
    public func denoise(
        _ latents: Tensor, promptEmbeds: Tensor, negativePromptEmbeds: Tensor?, guidance: Float,
        scheduler: SchedulerConfig, steps: Int, shift: Float? = nil, progress: (Int, Int) -> Void = { _, _ in }
    ) -> Tensor {
        scheduler.denoise(
            latents, steps: steps, shift: shift, scale: guidance, progress: progress,
            velocity: { x, t in velocity(x, timesteps: t, promptEmbeds: promptEmbeds) },
            unconditional: negativePromptEmbeds.map { negative in
                { x, t in self.velocity(x, timesteps: t, promptEmbeds: negative) }
            })
    }

    /// Final latents `[B, z_dim, f, h, w]` → videos `[B, F, H, W, 3]` in [0, 1].
    public func decode(_ latents: Tensor) -> Tensor { vae.decodeVideos(latents) }
}
