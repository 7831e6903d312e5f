import Checkpoints
import Engine
import Foundation
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L964
/// diffusers' `AutoencoderKLWan`, the video VAE of Wan 2.1; parameter keys are the diffusers keys, so a `vae/` folder
/// of a Wan 2.1 checkpoint loads as is. Built from `vae/config.json` (``AutoencoderKLWanConfig``).
///
/// Layout: the public tensors are diffusers' channels-first videos, `[B, C, F, H, W]` (B batch, C channels, F
/// frames, H × W pixels or latent positions), as `WanPipeline` passes latents around; inside, everything runs
/// channels-last, `[B, F, H, W, C]`, as MLX convolves.
///
/// Time runs in chunks with a feature cache, exactly as diffusers runs it (``WanFeatureCache``): encode takes frame 0
/// alone, then 4 frames at a time, so F = 1 + 4k frames give 1 + k latent frames; decode takes one latent frame at a
/// time. Height and width shrink by ``AutoencoderKLWanConfig/spatialCompression`` (8 for Wan 2.1).
///
/// Not final: ``AutoencoderKLQwenImage`` is this module tree under another config file.
public class AutoencoderKLWan: Module {
    public let config: AutoencoderKLWanConfig
    public let encoder: WanEncoder3d
    public let decoder: WanDecoder3d
    @Child(key: "quant_conv") public var quantConv: WanCausalConv3d
    @Child(key: "post_quant_conv") public var postQuantConv: WanCausalConv3d

    /// Frames the encoder takes per chunk after the first (diffusers hard-codes 4, Wan 2.1's temporal compression).
    public static let encoderChunkFrames = 4

    /// Random weights (PyTorch's default initialisation) for `config`; load a checkpoint over them. Stops with the
    /// config's problems if this implementation cannot build it (``AutoencoderKLWanConfig/load(_:)`` throws them).
    public init(_ config: AutoencoderKLWanConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let problems = config.problems()
        precondition(problems.isEmpty, "AutoencoderKLWan: " + problems.joined(separator: "; "))
        self.config = config
        let keys = key.split(into: 4)
        encoder = WanEncoder3d(config, dtype: dtype, key: keys[0])
        decoder = WanDecoder3d(config, dtype: dtype, key: keys[1])
        super.init()
        let z = config.zDim
        quantConv = WanCausalConv3d(2 * z, 2 * z, kernelSize: 1, dtype: dtype, key: keys[2])
        postQuantConv = WanCausalConv3d(z, z, kernelSize: 1, dtype: dtype, key: keys[3])
    }

    /// Builds the model from a diffusers `vae/` folder: config.json and the weights, one safetensors file or shards
    /// with their index. Loading is strict: every key of the model must be there with its shape, and no other.
    /// `dtype` nil keeps the checkpoint's (bfloat16 weights stay bfloat16).
    public class func load(from folder: URL, dtype: DType? = nil) throws -> AutoencoderKLWan {
        // Engine failures while building (sizes the config checks missed) are thrown here, not later.
        try Engine.catchingErrors {
            let config = try AutoencoderKLWanConfig.load(folder)
            let model = AutoencoderKLWan(config, dtype: dtype ?? .float32)
            try model.load(from: SafeTensorsCheckpoint(path: folder), dtype: dtype)
            return model
        }
    }

    // MARK: - Encode and decode

    /// The posterior over latents for videos `[B, in_channels, F, H, W]` in [−1, 1] (diffusers'
    /// `vae.encode(x).latent_dist`); its mean and log-variance are `[B, z_dim, 1 + (F − 1) / 4, H/8, W/8]` for Wan
    /// 2.1. As in diffusers, frames past the last whole chunk of 4 are not encoded, so F should be 1 + 4k.
    public func encode(_ video: Tensor) -> DiagonalGaussian {
        precondition(
            video.ndim == 5 && video.dim(1) == config.inChannels && video.dim(2) >= 1,
            "AutoencoderKLWan.encode: expected videos [B, \(config.inChannels), F ≥ 1, H, W], got \(video.shape)")
        let x = video.transposed([0, 2, 3, 4, 1])
        let chunks = 1 + (x.dim(1) - 1) / Self.encoderChunkFrames
        let cache = WanFeatureCache()
        var moments: [Tensor] = []
        for i in 0..<chunks {
            cache.startChunk()
            let frames = i == 0 ? 0..<1 : (1 + Self.encoderChunkFrames * (i - 1))..<(1 + Self.encoderChunkFrames * i)
            moments.append(encoder(x[.all, frames], cache: cache))
        }
        let h = quantConv(concatenated(moments, axis: 1)).transposed([0, 4, 1, 2, 3])
        return DiagonalGaussian(moments: h, axis: 1)
    }

    /// Videos `[B, out_channels, 1 + 4(f − 1), h·8, w·8]` (Wan 2.1's factors) clamped to [−1, 1], as diffusers'
    /// `vae.decode(z).sample`, for raw latents `[B, z_dim, f, h, w]`. Latents from the transformer go through
    /// ``denormalize(_:)`` first.
    public func decode(_ latents: Tensor) -> Tensor {
        precondition(
            latents.ndim == 5 && latents.dim(1) == config.zDim && latents.dim(2) >= 1,
            "AutoencoderKLWan.decode: expected latents [B, \(config.zDim), f ≥ 1, h, w], got \(latents.shape)")
        let x = postQuantConv(latents.transposed([0, 2, 3, 4, 1]))
        let cache = WanFeatureCache()
        var frames: [Tensor] = []
        for i in 0..<x.dim(1) {
            cache.startChunk()
            frames.append(decoder(x[.all, i..<(i + 1)], cache: cache))
        }
        return concatenated(frames, axis: 1).clipped(min: -1, max: 1).transposed([0, 4, 1, 2, 3])
    }

    // MARK: - Latent normalisation

    /// `latents_mean` as `[1, z_dim, 1, 1, 1]`.
    public var latentsMean: Tensor { Tensor(config.latentsMean, shape: [1, config.zDim, 1, 1, 1]) }

    /// `1 / latents_std` as `[1, z_dim, 1, 1, 1]`: the pipelines keep the reciprocal, and multiply or divide by it.
    public var inverseLatentsStd: Tensor { 1 / Tensor(config.latentsStd, shape: [1, config.zDim, 1, 1, 1]) }

    /// Raw VAE latents `[B, z_dim, f, h, w]` → the transformer's, `(z − mean) · (1 / std)`: exactly
    /// pipeline_wan_i2v.py:462 `latent_condition = (latent_condition - latents_mean) * latents_std` (there
    /// `latents_std` holds `1.0 / std`) in diffusers 0.42.1.
    public func normalize(_ latents: Tensor) -> Tensor {
        (latents - latentsMean.asType(latents.dtype)) * inverseLatentsStd.asType(latents.dtype)
    }

    /// The transformer's latents → raw VAE latents for ``decode(_:)``, `z / (1 / std) + mean`: exactly
    /// pipeline_wan.py:672 `latents = latents / latents_std + latents_mean` in diffusers 0.42.1.
    public func denormalize(_ latents: Tensor) -> Tensor {
        latents / inverseLatentsStd.asType(latents.dtype) + latentsMean.asType(latents.dtype)
    }
}
