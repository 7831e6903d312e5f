import Checkpoints
import Engine
import Foundation
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_qwenimage.py#L673
/// diffusers' `AutoencoderKLQwenImage`, the VAE of Qwen-Image and Qwen-Image-Edit: Wan 2.1's causal video VAE
/// fine-tuned, with the same modules and checkpoint keys, so it is ``AutoencoderKLWan`` built from the Qwen config
/// file (``AutoencoderKLQwenImageConfig``). Compared line by line with diffusers' `autoencoder_kl_wan.py`, the Qwen
/// file computes the same function on the paths used here: its caches take `x[:, :, -min(2, T):]` where Wan's take
/// `x[:, :, -2:]` (the same slice), and it lacks Wan 2.2's residual blocks, patchify and `first_chunk`. Its tiled
/// decode does not clamp (Wan's does); tiling is not implemented here for either.
///
/// The pipelines use it on single images: `[B, 3, 1, H, W]` in [−1, 1] encode to `[B, 16, 1, H/8, W/8]`, and the
/// decoded `[B, 3, 1, H, W]` is read at frame 0.
public final class AutoencoderKLQwenImage: AutoencoderKLWan {
    /// The config as the folder spells it (``AutoencoderKLWan/config`` is its Wan form).
    public let qwenConfig: AutoencoderKLQwenImageConfig

    /// Random weights for `config`; load a checkpoint over them. Stops with the config's problems if this
    /// implementation cannot build it (``AutoencoderKLQwenImageConfig/load(_:)`` throws them).
    public init(_ config: AutoencoderKLQwenImageConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let problems = config.problems()
        precondition(problems.isEmpty, "AutoencoderKLQwenImage: " + problems.joined(separator: "; "))
        qwenConfig = config
        super.init(config.wan, dtype: dtype, key: key)
    }

    /// Builds the model from Qwen-Image's `vae/` folder (config.json and one safetensors file or shards with their
    /// index). Strict: every key of the model must be there with its shape, and no other. `dtype` nil keeps the
    /// checkpoint's.
    public override class func load(from folder: URL, dtype: DType? = nil) throws -> AutoencoderKLQwenImage {
        try Engine.catchingErrors {
            let config = try AutoencoderKLQwenImageConfig.load(folder)
            let model = AutoencoderKLQwenImage(config, dtype: dtype ?? .float32)
            try model.load(from: SafeTensorsCheckpoint(path: folder), dtype: dtype)
            return model
        }
    }

    /// Raw VAE latents `[B, z_dim, f, h, w]` → the transformer's, `(z − mean) / std`: exactly
    /// pipeline_qwenimage_edit.py:425 `image_latents = (image_latents - latents_mean) / latents_std` in diffusers
    /// 0.42.1 (a division, where Wan's pipelines multiply by the reciprocal).
    public override func normalize(_ latents: Tensor) -> Tensor {
        let std = Tensor(config.latentsStd, shape: [1, config.zDim, 1, 1, 1]).asType(latents.dtype)
        return (latents - latentsMean.asType(latents.dtype)) / std
    }

    // ``denormalize(_:)`` is inherited: pipeline_qwenimage.py:710-713 computes `latents / (1 / std) + mean`, Wan's
    // formula.
}
