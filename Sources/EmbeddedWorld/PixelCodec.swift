import Engine
import Imaging
import Models

/// The embedded models' "autoencoder": images are their own latents, rearranged. A 2×2 space-to-depth turns
/// `[B, H, W, 3]` pixels into a `[B, H/2, W/2, 12]` latent grid (what the UNet world model denoises, like SD's
/// `[B, h, w, 4]` VAE latents), which FLUX's usual 2×2 packing turns into tokens of 48 features for the FLUX world
/// model — so both run the same code path as on VAE latents, with nothing to train or to lose.
public enum PixelCodec {
    public static let latentChannels = 12

    /// Images `[B, H, W, 3]` → the latent grid `[B, H/2, W/2, 12]` (2×2 space-to-depth).
    public static func grid(_ images: Tensor) -> Tensor {
        let (b, h, w, c) = (images.dim(0), images.dim(1), images.dim(2), images.dim(3))
        return images.reshaped([b, h / 2, 2, w / 2, 2, c]).transposed([0, 1, 3, 2, 4, 5]).reshaped([
            b, h / 2, w / 2, 4 * c
        ])
    }

    /// The latent grid `[B, h, w, 12]` → images `[B, 2h, 2w, 3]` (depth-to-space, the inverse of ``grid(_:)``).
    public static func images(fromGrid grid: Tensor) -> Tensor {
        let (b, h, w) = (grid.dim(0), grid.dim(1), grid.dim(2))
        return grid.reshaped([b, h, w, 2, 2, 3]).transposed([0, 1, 3, 2, 4, 5]).reshaped([b, 2 * h, 2 * w, 3])
    }

    /// Images in [−1, 1], `[B, H, W, 3]` → packed tokens `[B, (H/4)·(W/4), 48]`.
    public static func encode(_ images: Tensor) -> Tensor {
        FluxLatents.pack(grid(images))
    }

    /// Packed tokens → images `[B, size, size, 3]` (values as the model made them).
    public static func decode(_ tokens: Tensor, size: Int) -> Tensor {
        images(fromGrid: FluxLatents.unpack(tokens, height: size / 2, width: size / 2))
    }

    /// Image position ids of the packed tokens.
    public static func imageIds(size: Int) -> Tensor { FluxLatents.imageIds(height: size / 2, width: size / 2) }

    /// The per-sample latent shape `[tokens, 48]`.
    public static func latentShape(size: Int) -> [Int] { [(size / 4) * (size / 4), 4 * latentChannels] }

    /// Pixels in [−1, 1], `[B, H, W, 3]` → 8-bit images (rounded; values outside the range clipped).
    public static func rgbImages(_ pixels: Tensor) throws -> [RGBImage] {
        let (b, h, w) = (pixels.dim(0), pixels.dim(1), pixels.dim(2))
        let values = pixels.asType(.float32).toArray(Float.self)
        let size = h * w * 3
        return try (0..<b).map { i in
            try RGBImage(hwc: Array(values[(i * size)..<((i + 1) * size)]), shape: [h, w, 3], range: .minusOneToOne)
        }
    }
}
