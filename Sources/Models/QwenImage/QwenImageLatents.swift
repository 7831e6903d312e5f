import Engine

/// How the Qwen-Image pipelines lay latents out for the transformer (diffusers `QwenImagePipeline._pack_latents`,
/// `_unpack_latents`). Latents are the VAE's 5-D `[B, C, 1, H, W]` (one frame); packing takes 2×2 patches into tokens
/// of `4·C` features ordered (c, dy, dx), row-major over the `(H/2) × (W/2)` grid, as diffusers does, so packed
/// tensors are identical element for element.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/pipelines/qwenimage/pipeline_qwenimage.py
public enum QwenImageLatents {
    /// `[B, C, 1, H, W]` (or `[B, C, H, W]`) → `[B, (H/2)·(W/2), 4·C]`.
    public static func pack(_ latents: Tensor) -> Tensor {
        precondition(
            latents.ndim == 5 && latents.dim(2) == 1 || latents.ndim == 4,
            "QwenImageLatents.pack: expected latents [B, C, 1, H, W], got \(latents.shape)")
        let (b, c, h, w) = (latents.dim(0), latents.dim(1), latents.dim(-2), latents.dim(-1))
        precondition(
            h % 2 == 0 && w % 2 == 0, "QwenImageLatents.pack: latent height and width must be even, got \(h)×\(w)")
        return latents.reshaped([b, c, h / 2, 2, w / 2, 2])
            .transposed([0, 2, 4, 1, 3, 5])
            .reshaped([b, (h / 2) * (w / 2), c * 4])
    }

    /// The inverse of ``pack(_:)`` for a latent grid of `height × width` (latent pixels, even): `[B, C, 1, H, W]`.
    public static func unpack(_ tokens: Tensor, height: Int, width: Int) -> Tensor {
        let (b, c) = (tokens.dim(0), tokens.dim(2) / 4)
        precondition(
            tokens.ndim == 3 && tokens.dim(1) == (height / 2) * (width / 2) && tokens.dim(2) % 4 == 0,
            "QwenImageLatents.unpack: tokens \(tokens.shape) do not fit a \(height)×\(width) latent grid")
        return tokens.reshaped([b, height / 2, width / 2, c, 2, 2])
            .transposed([0, 3, 1, 4, 2, 5])
            .reshaped([b, c, 1, height, width])
    }

    /// The transformer's `img_shapes` entry for a latent grid: one frame of `(H/2) × (W/2)` tokens.
    public static func imageShape(height: Int, width: Int) -> QwenEmbedRope.ImageShape { (1, height / 2, width / 2) }

    /// Latent grid for an image size: the VAE downsamples by 8 and packing needs an even grid, so sizes round down
    /// to multiples of 16 as the pipeline does.
    public static func latentSize(imageHeight: Int, imageWidth: Int, vaeScaleFactor: Int = 8) -> (
        height: Int, width: Int
    ) {
        (2 * (imageHeight / (vaeScaleFactor * 2)), 2 * (imageWidth / (vaeScaleFactor * 2)))
    }
}

/// Qwen-Image-Edit's condition image in the transformer's terms: its VAE latents normalised and packed,
/// `[1 or B, (h/2)·(w/2), 4·z_dim]` (`prepare_latents`' `image_latents`), and their `img_shapes` entry.
public struct QwenImageConditionLatents {
    public let latents: Tensor
    public let shape: QwenEmbedRope.ImageShape

    public init(latents: Tensor, shape: QwenEmbedRope.ImageShape) {
        self.latents = latents
        self.shape = shape
    }
}
