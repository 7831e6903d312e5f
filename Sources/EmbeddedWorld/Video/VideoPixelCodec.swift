import Engine
import Imaging

/// The moving-shapes world's "autoencoder" for clips: each frame rearranged 2×2 by ``PixelCodec`` into 12 channels,
/// laid out as Wan's latents `[B, C, F, H, W]` (channels first, then frames). `WanTransformer3DModel` then patches
/// them (1, 2, 2) into tokens of 48 features, one per 4×4 pixels of a frame, as it patches `AutoencoderKLWan`'s.
public enum VideoPixelCodec {
    public static var latentChannels: Int { PixelCodec.latentChannels }

    /// Clips `[B, F, H, W, 3]` (values in [−1, 1]) → latents `[B, 12, F, H/2, W/2]`.
    public static func encode(_ clips: Tensor) -> Tensor {
        let (b, f, h, w) = (clips.dim(0), clips.dim(1), clips.dim(2), clips.dim(3))
        return PixelCodec.grid(clips.reshaped([b * f, h, w, 3]))
            .reshaped([b, f, h / 2, w / 2, latentChannels])
            .transposed([0, 4, 1, 2, 3])
    }

    /// Latents `[B, 12, F, h, w]` → clips `[B, F, 2h, 2w, 3]` (the inverse of ``encode(_:)``).
    public static func decode(_ latents: Tensor) -> Tensor {
        let (b, f, h, w) = (latents.dim(0), latents.dim(2), latents.dim(3), latents.dim(4))
        let grid = latents.transposed([0, 2, 3, 4, 1]).reshaped([b * f, h, w, latentChannels])
        return PixelCodec.images(fromGrid: grid).reshaped([b, f, 2 * h, 2 * w, 3])
    }

    /// One clip's latent shape `[12, frames, size/2, size/2]`.
    public static func latentShape(frames: Int, size: Int) -> [Int] { [latentChannels, frames, size / 2, size / 2] }

    /// Clips `[B, F, H, W, 3]` in [−1, 1] → each clip's 8-bit frames (rounded, clipped to the range).
    public static func frames(_ clips: Tensor) throws -> [[RGBImage]] {
        let (b, f, h, w) = (clips.dim(0), clips.dim(1), clips.dim(2), clips.dim(3))
        let images = try PixelCodec.rgbImages(clips.reshaped([b * f, h, w, 3]))
        return (0..<b).map { Array(images[($0 * f)..<(($0 + 1) * f)]) }
    }
}
