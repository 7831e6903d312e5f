import Engine
import Foundation
import Models

/// Where the world model's latents live: raw pixels (``PixelCodec``: a 2×2 space-to-depth grid) or a tiny
/// `AutoencoderKL`'s normalised latents, packed 2×2 into FLUX tokens either way.
public enum WorldLatents {
    /// The latent grid `(height, width, channels)` before FLUX's 2×2 packing.
    static func grid(settings: WorldModel.Settings, vae: AutoencoderKL?) -> (Int, Int, Int) {
        guard let vae else { return (settings.imageSize / 2, settings.imageSize / 2, PixelCodec.latentChannels) }
        let side = settings.imageSize / vae.config.downsamplingFactor
        return (side, side, vae.config.latentChannels)
    }

    /// Features of one packed token (the transformer's `in_channels`).
    public static func tokenFeatures(settings: WorldModel.Settings, vae: AutoencoderKL?) -> Int {
        4 * grid(settings: settings, vae: vae).2
    }

    /// One sample's packed latent shape `[tokens, features]`.
    public static func latentShape(settings: WorldModel.Settings, vae: AutoencoderKL?) -> [Int] {
        let (h, w, c) = grid(settings: settings, vae: vae)
        return [(h / 2) * (w / 2), 4 * c]
    }

    public static func imageIds(settings: WorldModel.Settings, vae: AutoencoderKL?) -> Tensor {
        let (h, w, _) = grid(settings: settings, vae: vae)
        return FluxLatents.imageIds(height: h, width: w)
    }

    /// Packed latents → images `[B, size, size, 3]` (nominally in [−1, 1], as the codec makes them).
    public static func decode(_ latents: Tensor, settings: WorldModel.Settings, vae: AutoencoderKL?) -> Tensor {
        guard let vae else { return PixelCodec.decode(latents, size: settings.imageSize) }
        let (h, w, _) = grid(settings: settings, vae: vae)
        return vae.decode(vae.denormalize(FluxLatents.unpack(latents, height: h, width: w)))
    }

    /// Writes a VAE as diffusers does (`config.json` + `diffusion_pytorch_model.safetensors`).
    public static func writeVAE(_ vae: AutoencoderKL, to folder: URL) throws {
        try vae.writePretrainedFolder(folder, config: vae.config)
    }
}
