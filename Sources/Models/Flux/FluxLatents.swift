import Engine

/// How the FLUX pipeline lays latents out for the transformer (diffusers `FluxPipeline._pack_latents`,
/// `_unpack_latents`, `_prepare_latent_image_ids`). The VAE's latents are `[B, C, H, W]` in the checkpoint world;
/// here they are channels-last `[B, H, W, C]`, and packing takes 2×2 patches into tokens of `4·C` features in the
/// same (c, dy, dx) order as diffusers, so packed tensors are identical element for element.
public enum FluxLatents {
    /// `[B, H, W, C]` → `[B, (H/2)·(W/2), C·4]`.
    public static func pack(_ latents: Tensor) -> Tensor {
        let (b, h, w, c) = (latents.dim(0), latents.dim(1), latents.dim(2), latents.dim(3))
        precondition(h % 2 == 0 && w % 2 == 0, "FluxLatents.pack: latent height and width must be even, got \(h)×\(w)")
        return latents.reshaped([b, h / 2, 2, w / 2, 2, c])
            .transposed([0, 1, 3, 5, 2, 4])
            .reshaped([b, (h / 2) * (w / 2), c * 4])
    }

    /// The inverse of ``pack(_:)`` for a latent grid of `height × width` (latent pixels, even).
    public static func unpack(_ tokens: Tensor, height: Int, width: Int) -> Tensor {
        let (b, c) = (tokens.dim(0), tokens.dim(2) / 4)
        return tokens.reshaped([b, height / 2, width / 2, c, 2, 2])
            .transposed([0, 1, 4, 2, 5, 3])
            .reshaped([b, height, width, c])
    }

    /// Position ids `[(H/2)·(W/2), 3]` = (0, row, column) of each packed token.
    public static func imageIds(height: Int, width: Int) -> Tensor {
        let (rows, columns) = (height / 2, width / 2)
        var ids = [Float](repeating: 0, count: rows * columns * 3)
        for r in 0..<rows {
            for c in 0..<columns {
                ids[(r * columns + c) * 3 + 1] = Float(r)
                ids[(r * columns + c) * 3 + 2] = Float(c)
            }
        }
        return Tensor(ids, shape: [rows * columns, 3])
    }

    /// Text position ids: zeros `[length, 3]`.
    public static func textIds(length: Int) -> Tensor { Tensor.zeros([length, 3]) }

    /// Latent grid for an image size: the VAE downsamples by 8 and packing needs an even grid, so sizes round down
    /// to multiples of 16 as the pipeline does.
    public static func latentSize(imageHeight: Int, imageWidth: Int, vaeScaleFactor: Int = 8) -> (
        height: Int, width: Int
    ) {
        (2 * (imageHeight / (vaeScaleFactor * 2)), 2 * (imageWidth / (vaeScaleFactor * 2)))
    }
}
