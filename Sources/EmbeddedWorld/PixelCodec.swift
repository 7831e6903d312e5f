import Engine
import Models

/// The embedded model's "autoencoder": images are their own latents, rearranged. A 2×2 space-to-depth turns
/// `[B, H, W, 3]` pixels into a `[B, H/2, W/2, 12]` latent grid, which FLUX's usual 2×2 packing turns into tokens of
/// 48 features — so the transformer runs the same code path as on VAE latents, with nothing to train or to lose.
public enum PixelCodec {
    public static let latentChannels = 12

    /// Images in [−1, 1], `[B, H, W, 3]` → packed tokens `[B, (H/4)·(W/4), 48]`.
    public static func encode(_ images: Tensor) -> Tensor {
        let (b, h, w, c) = (images.dim(0), images.dim(1), images.dim(2), images.dim(3))
        let grid = images.reshaped([b, h / 2, 2, w / 2, 2, c]).transposed([0, 1, 3, 2, 4, 5]).reshaped([b, h / 2, w / 2, 4 * c])
        return FluxLatents.pack(grid)
    }

    /// Packed tokens → images `[B, size, size, 3]` (values as the model made them).
    public static func decode(_ tokens: Tensor, size: Int) -> Tensor {
        let b = tokens.dim(0)
        let grid = FluxLatents.unpack(tokens, height: size / 2, width: size / 2)
        return grid.reshaped([b, size / 2, size / 2, 2, 2, 3]).transposed([0, 1, 3, 2, 4, 5]).reshaped([b, size, size, 3])
    }

    /// Image position ids of the packed tokens.
    public static func imageIds(size: Int) -> Tensor { FluxLatents.imageIds(height: size / 2, width: size / 2) }

    /// The per-sample latent shape `[tokens, 48]`.
    public static func latentShape(size: Int) -> [Int] { [(size / 4) * (size / 4), 4 * latentChannels] }
}
