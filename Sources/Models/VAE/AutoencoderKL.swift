import Checkpoints
import Engine
import Foundation
import NN

/// diffusers' `AutoencoderKL`, the VAE of FLUX.1 and Stable Diffusion; parameter keys are the diffusers keys, so a
/// `vae/` folder of either checkpoint loads as is. Built from `vae/config.json` (``AutoencoderKLConfig``), never from
/// hard-coded sizes.
///
/// Layout: images and latents are channels-last, images `[N, H, W, in_channels]` with values in [−1, 1], latents
/// `[N, H/f, W/f, latent_channels]` with f = ``AutoencoderKLConfig/downsamplingFactor`` (8 for FLUX and SD). The
/// checkpoint world is channels-first (`[N, C, H, W]`): transpose with `[0, 2, 3, 1]` when comparing with diffusers.
///
/// Latent scale: ``encode(_:)`` and ``decode(_:)`` work on the VAE's raw latents, as diffusers' `vae.encode` and
/// `vae.decode` do. The denoiser sees ``normalize(_:)``d latents; ``denormalize(_:)`` undoes it before decoding.
public final class AutoencoderKL: Module {
    public let config: AutoencoderKLConfig
    public let encoder: VAEEncoder
    public let decoder: VAEDecoder
    @Child(key: "quant_conv") public var quantConv: Conv2d? = nil
    @Child(key: "post_quant_conv") public var postQuantConv: Conv2d? = nil

    /// Random weights (PyTorch's default initialisation) for `config`; load a checkpoint over them. Stops with the
    /// config's problems if this implementation cannot build it (``AutoencoderKLConfig/load(_:)`` throws them instead).
    public init(_ config: AutoencoderKLConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let problems = config.problems()
        precondition(problems.isEmpty, "AutoencoderKL: " + problems.joined(separator: "; "))
        self.config = config
        let keys = key.split(into: 4)
        encoder = VAEEncoder(config, dtype: dtype, key: keys[0])
        decoder = VAEDecoder(config, dtype: dtype, key: keys[1])
        super.init()
        let latent = config.latentChannels
        if config.useQuantConv { quantConv = Conv2d(2 * latent, 2 * latent, kernelSize: 1, dtype: dtype, key: keys[2]) }
        if config.usePostQuantConv { postQuantConv = Conv2d(latent, latent, kernelSize: 1, dtype: dtype, key: keys[3]) }
    }

    /// Builds the model from a diffusers `vae/` folder (config.json + safetensors). Checkpoints saved before diffusers
    /// renamed the mid-block attention (`query`, `key`, `value`, `proj_attn`) load too, renamed as diffusers does
    /// when it loads them (`ModelMixin._convert_deprecated_attention_blocks`). `dtype` nil keeps the checkpoint's
    /// (FLUX ships bfloat16); pass `.float32` where the config's `force_upcast` asks for full precision.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> AutoencoderKL {
        // Engine failures while building (sizes the config checks missed) are thrown here, not later.
        try Engine.catchingErrors {
            let config = try AutoencoderKLConfig.load(folder)
            let model = AutoencoderKL(config, dtype: dtype ?? .float32)
            let checkpoint = try SafeTensorsCheckpoint(path: folder)
            let keys = checkpoint.keys
            if keys.contains(where: { renamedAttentionKey($0) != nil }) {
                var tensors: [String: Tensor] = [:]
                for key in keys { tensors[renamedAttentionKey(key) ?? key] = try checkpoint.tensor(key) }
                try model.load(tensors, dtype: dtype, source: checkpoint.source)
            } else {
                try model.load(from: checkpoint, dtype: dtype)
            }
            return model
        }
    }

    /// The current name of a pre-0.14 diffusers attention key (`….attentions.0.query.weight` → `….to_q.weight`),
    /// nil for any other key.
    static func renamedAttentionKey(_ key: String) -> String? {
        let renames = ["query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"]
        var parts = key.split(separator: ".").map(String.init)
        guard parts.count >= 3, parts.contains("attentions"),
            let new = renames[parts[parts.count - 2]]
        else { return nil }
        parts[parts.count - 2] = new
        return parts.joined(separator: ".")
    }

    // MARK: - Encode and decode

    /// The posterior over latents for images `[N, H, W, in_channels]` in [−1, 1] (diffusers'
    /// `vae.encode(x).latent_dist`).
    public func encode(_ images: Tensor) -> DiagonalGaussian {
        precondition(
            images.ndim == 4 && images.dim(3) == config.inChannels,
            "AutoencoderKL.encode: expected channels-last images [N, H, W, \(config.inChannels)], got \(images.shape)")
        let moments = encoder(images)
        return DiagonalGaussian(moments: quantConv.map { $0(moments) } ?? moments)
    }

    /// Images `[N, h·f, w·f, out_channels]` (nominally in [−1, 1], not clipped) for raw latents `[N, h, w,
    /// latent_channels]` (diffusers' `vae.decode(z).sample`). Pass latents through ``denormalize(_:)`` first if they
    /// come from the denoiser.
    public func decode(_ latents: Tensor) -> Tensor {
        precondition(
            latents.ndim == 4 && latents.dim(3) == config.latentChannels,
            """
            AutoencoderKL.decode: expected channels-last latents [N, h, w, \(config.latentChannels)], got \
            \(latents.shape)
            """
        )
        return decoder(postQuantConv.map { $0(latents) } ?? latents)
    }

    // MARK: - Latent normalisation

    /// Raw VAE latents → the denoiser's latents, `(z − shift_factor) · scaling_factor` (shift 0 when the config
    /// has none). Exactly diffusers 0.42's pipeline_flux_img2img.py:474 `image_latents = (image_latents -
    /// self.vae.config.shift_factor) * self.vae.config.scaling_factor` and, without a shift,
    /// pipeline_stable_diffusion_img2img.py:771 `init_latents = self.vae.config.scaling_factor * init_latents`.
    public func normalize(_ latents: Tensor) -> Tensor {
        let shifted = config.shiftFactor.map { latents - $0 } ?? latents
        return shifted * config.scalingFactor
    }

    /// The denoiser's latents → raw VAE latents for ``decode(_:)``, `z / scaling_factor + shift_factor`. Exactly
    /// pipeline_flux.py:962 `latents = (latents / self.vae.config.scaling_factor) + self.vae.config.shift_factor` and,
    /// without a shift, pipeline_stable_diffusion.py:1085 `self.vae.decode(latents / self.vae.config.scaling_factor,
    /// …)`.
    public func denormalize(_ latents: Tensor) -> Tensor {
        let scaled = latents / config.scalingFactor
        return config.shiftFactor.map { scaled + $0 } ?? scaled
    }
}
