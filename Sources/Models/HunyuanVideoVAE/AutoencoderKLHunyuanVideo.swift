import Checkpoints
import Engine
import Foundation
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L625
/// diffusers' `AutoencoderKLHunyuanVideo`, the causal video VAE of HunyuanVideo; parameter keys are the diffusers
/// keys, so the `vae/` folder of `hunyuanvideo-community/HunyuanVideo` loads as is. Built from `vae/config.json`
/// (``AutoencoderKLHunyuanVideoConfig``).
///
/// Layout: the public tensors are diffusers' channels-first videos, `[B, C, F, H, W]` (B batch, C channels, F frames,
/// H × W pixels or latent positions); inside, everything runs channels-last, `[B, F, H, W, C]`, as MLX convolves.
///
/// Unlike Wan's VAE there is no frame cache: every layer sees the whole clip (causal convolutions pad the past with
/// copies of the first frame, group norms take statistics over all frames, the mid-block attention is masked so that
/// a frame attends only to itself and earlier frames). Long clips and large frames go through diffusers' overlapping
/// tiles instead (``tiling``: by default clips over 16 frames, as diffusers' `use_framewise_encoding/decoding`).
public class AutoencoderKLHunyuanVideo: Module {
    public let config: AutoencoderKLHunyuanVideoConfig
    public let encoder: HunyuanVideoEncoder3D
    public let decoder: HunyuanVideoDecoder3D
    @Child(key: "quant_conv") public var quantConv: Conv3d
    @Child(key: "post_quant_conv") public var postQuantConv: Conv3d
    /// When encode and decode split the clip into overlapping tiles; diffusers' defaults (temporal tiles only).
    public var tiling = HunyuanVideoVAETiling()

    /// Random weights (PyTorch's default initialisation) for `config`; load a checkpoint over them. Stops with the
    /// config's problems if this implementation cannot build it (``AutoencoderKLHunyuanVideoConfig/load(_:)`` throws
    /// them).
    public init(_ config: AutoencoderKLHunyuanVideoConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0))
    {
        let problems = config.problems()
        precondition(problems.isEmpty, "AutoencoderKLHunyuanVideo: " + problems.joined(separator: "; "))
        self.config = config
        let keys = key.split(into: 4)
        encoder = HunyuanVideoEncoder3D(config, dtype: dtype, key: keys[0])
        decoder = HunyuanVideoDecoder3D(config, dtype: dtype, key: keys[1])
        super.init()
        let z = config.latentChannels
        quantConv = Conv3d(2 * z, 2 * z, kernelSize: 1, dtype: dtype, key: keys[2])
        postQuantConv = Conv3d(z, z, kernelSize: 1, dtype: dtype, key: keys[3])
    }

    /// Builds the model from a diffusers `vae/` folder: config.json and the weights, one safetensors file or shards
    /// with their index. Loading is strict: every key of the model must be there with its shape, and no other.
    /// `dtype` nil keeps the checkpoint's (bfloat16 weights stay bfloat16).
    public class func load(from folder: URL, dtype: DType? = nil) throws -> AutoencoderKLHunyuanVideo {
        try Engine.catchingErrors {
            let config = try AutoencoderKLHunyuanVideoConfig.load(folder)
            let model = AutoencoderKLHunyuanVideo(config, dtype: dtype ?? .float32)
            try model.load(from: SafeTensorsCheckpoint(path: folder), dtype: dtype)
            return model
        }
    }

    /// Height and width shrink by this (8 for the released model).
    public var spatialCompression: Int { config.spatialCompressionRatio }
    /// F = 1 + 4k frames give 1 + k latent frames.
    public var temporalCompression: Int { config.temporalCompressionRatio }

    // MARK: - Encode and decode

    /// The posterior over latents for videos `[B, in_channels, F, H, W]` in [−1, 1] (diffusers'
    /// `vae.encode(x).latent_dist`); its mean and log-variance are `[B, latent_channels, 1 + (F − 1)/4, H/8, W/8]`
    /// for the released model (F should be 1 + 4k: frames past the last such count get no latent frame of their own).
    /// The transformer takes the mean (``DiagonalGaussian/mode()``) times
    /// ``AutoencoderKLHunyuanVideoConfig/scalingFactor``.
    public func encode(_ video: Tensor) -> DiagonalGaussian {
        precondition(
            video.ndim == 5 && video.dim(1) == config.inChannels && video.dim(2) >= 1,
            "AutoencoderKLHunyuanVideo.encode: expected videos [B, \(config.inChannels), F ≥ 1, H, W], got "
                + "\(video.shape)")
        let moments = sliced(video.transposed([0, 2, 3, 4, 1]), encodeChannelsLast)
        return DiagonalGaussian(moments: moments.transposed([0, 4, 1, 2, 3]), axis: 1)
    }

    /// Videos `[B, out_channels, 1 + 4(f − 1), 8h, 8w]` (the released model's factors), not clamped, as diffusers'
    /// `vae.decode(z).sample`, for raw latents `[B, latent_channels, f, h, w]` (the transformer's divided by
    /// ``AutoencoderKLHunyuanVideoConfig/scalingFactor``).
    public func decode(_ latents: Tensor) -> Tensor {
        precondition(
            latents.ndim == 5 && latents.dim(1) == config.latentChannels && latents.dim(2) >= 1,
            "AutoencoderKLHunyuanVideo.decode: expected latents [B, \(config.latentChannels), f ≥ 1, h, w], got "
                + "\(latents.shape)")
        return sliced(latents.transposed([0, 2, 3, 4, 1]), decodeChannelsLast).transposed([0, 4, 1, 2, 3])
    }

    /// diffusers' `use_slicing`: one batch item at a time when ``HunyuanVideoVAETiling/useSlicing`` is on (less
    /// memory, same result: nothing mixes batch items).
    private func sliced(_ x: Tensor, _ body: (Tensor) -> Tensor) -> Tensor {
        guard tiling.useSlicing && x.dim(0) > 1 else { return body(x) }
        return concatenated((0..<x.dim(0)).map { body(x[$0..<($0 + 1)]) }, axis: 0)
    }

    // MARK: - Latent scaling

    /// Raw VAE latents → the transformer's, `z · scaling_factor`: exactly pipeline_hunyuan_video_image2video.py:585
    /// `image_latents = ... * self.vae_scaling_factor` in diffusers 0.42.1.
    public func normalize(_ latents: Tensor) -> Tensor { latents * Float(config.scalingFactor) }

    /// The transformer's latents → raw VAE latents for ``decode(_:)``, `z / scaling_factor`: exactly
    /// pipeline_hunyuan_video.py:726 `latents = latents.to(self.vae.dtype) / self.vae.config.scaling_factor` in
    /// diffusers 0.42.1.
    public func denormalize(_ latents: Tensor) -> Tensor { latents / Float(config.scalingFactor) }

    // MARK: - Tiles

    /// diffusers' `_encode`: temporal tiles for long clips, else spatial tiles for large frames (when enabled), else
    /// the whole clip. `[B, F, H, W, C]` → moments `[B, f, h, w, 2·latent_channels]`.
    func encodeChannelsLast(_ x: Tensor) -> Tensor {
        if tiling.useFramewiseEncoding && x.dim(1) > tiling.sampleMinFrames { return temporalTiledEncode(x) }
        if tiling.useTiling && (x.dim(3) > tiling.sampleMinWidth || x.dim(2) > tiling.sampleMinHeight) {
            return tiledEncode(x)
        }
        return quantConv(encoder(x))
    }

    /// diffusers' `_decode`, in the same order. `[B, f, h, w, latent_channels]` → `[B, F, H, W, out_channels]`.
    func decodeChannelsLast(_ z: Tensor) -> Tensor {
        if tiling.useFramewiseDecoding && z.dim(1) > tiling.sampleMinFrames / temporalCompression {
            return temporalTiledDecode(z)
        }
        let minHeight = tiling.sampleMinHeight / spatialCompression
        let minWidth = tiling.sampleMinWidth / spatialCompression
        if tiling.useTiling && (z.dim(3) > minWidth || z.dim(2) > minHeight) { return tiledDecode(z) }
        return decoder(postQuantConv(z))
    }
}
