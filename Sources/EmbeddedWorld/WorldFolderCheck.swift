import Checkpoints
import Foundation
import Models

/// Checks a world model folder's parts against each other before any of them is built: `world.json`'s image size
/// against the codec and the network, the network's channels against the codec, its text width against the text
/// encoder. Each part is valid alone (its config checks its own numbers); together they could still disagree and
/// fail inside the engine.
enum WorldFolderCheck {
    static let imageSizeLimit = 4096

    /// The FLUX-architecture world (``WorldModel``).
    static func flux(_ folder: URL, settings: WorldModel.Settings) throws {
        let transformer = try FluxConfig.load(folder.appendingPathComponent("transformer"))
        let text = try CLIPTextConfig.load(folder.appendingPathComponent("text_encoder"))
        var latentChannels = PixelCodec.latentChannels
        var factor = 4  // 2×2 space-to-depth, then FLUX's 2×2 packing
        if settings.codec == .vae {
            let vae = try AutoencoderKLConfig.load(folder.appendingPathComponent("vae"))
            latentChannels = vae.latentChannels
            factor = 2 * vae.downsamplingFactor
        }
        var problems = imageSizeProblems(settings.imageSize, multipleOf: factor)
        let features = 4 * latentChannels
        for (key, value) in [("in_channels", transformer.inChannels), ("out_channels", transformer.outputChannels)]
        where value != features {
            problems.append("transformer/config.json \(key): expected \(features) (packed latents), found \(value)")
        }
        for (key, value) in [
            ("joint_attention_dim", transformer.jointAttentionDim),
            ("pooled_projection_dim", transformer.pooledProjectionDim)
        ] where value != text.hiddenSize {
            problems.append(
                "transformer/config.json \(key): expected text_encoder hidden_size \(text.hiddenSize), found \(value)")
        }
        try report(problems, folder)
    }

    /// The UNet world (``StableDiffusionWorldModel``).
    static func unet(_ folder: URL, imageSize: Int) throws {
        let unet = try UNet2DConditionConfig.load(folder.appendingPathComponent("unet"))
        let text = try CLIPTextConfig.load(folder.appendingPathComponent("text_encoder"))
        var problems = imageSizeProblems(imageSize, multipleOf: 2 << unet.downsamplingSteps)
        for (key, value) in [("in_channels", unet.inChannels), ("out_channels", unet.outChannels)]
        where value != PixelCodec.latentChannels {
            problems.append(
                "unet/config.json \(key): expected \(PixelCodec.latentChannels) (the pixel codec), found \(value)")
        }
        for (i, value) in unet.crossAttentionDims.enumerated() where value != text.hiddenSize {
            problems.append(
                "unet/config.json cross_attention_dim[\(i)]: expected text_encoder hidden_size \(text.hiddenSize), "
                    + "found \(value)")
        }
        try report(problems, folder)
    }

    /// The moving-shapes world (``MovingShapesWorldModel``): the Wan transformer on the pixel codec's 12 channels,
    /// patched (1, 2, 2), cross-attending to the text encoder's states.
    static func wan(_ folder: URL, settings: MovingShapesWorldModel.Settings) throws {
        let transformer = try WanTransformer3DConfig.load(folder.appendingPathComponent("transformer"))
        let text = try CLIPTextConfig.load(folder.appendingPathComponent("text_encoder"))
        var problems = imageSizeProblems(settings.imageSize, multipleOf: 4)
        if !(2...64).contains(settings.frames) {
            problems.append("world.json frames: expected 2...64, found \(settings.frames)")
        }
        if settings.speed < 1 || settings.speed * (settings.frames - 1) >= settings.imageSize {
            problems.append(
                "world.json speed: expected at least 1 and a travel under the image size, found \(settings.speed)")
        }
        let channels = VideoPixelCodec.latentChannels
        for (key, value) in [("in_channels", transformer.inChannels), ("out_channels", transformer.outputChannels)]
        where value != channels {
            problems.append("transformer/config.json \(key): expected \(channels) (the pixel codec), found \(value)")
        }
        if transformer.patchSize != [1, 2, 2] {
            problems.append("transformer/config.json patch_size: expected [1, 2, 2], found \(transformer.patchSize)")
        }
        if transformer.textDim != text.hiddenSize {
            problems.append(
                "transformer/config.json text_dim: expected text_encoder hidden_size \(text.hiddenSize), found "
                    + "\(transformer.textDim)")
        }
        try report(problems, folder)
    }

    private static func imageSizeProblems(_ size: Int, multipleOf factor: Int) -> [String] {
        guard (1...imageSizeLimit).contains(size), size % factor == 0 else {
            return ["world.json image_size: expected a multiple of \(factor) up to \(imageSizeLimit), found \(size)"]
        }
        return []
    }

    private static func report(_ problems: [String], _ folder: URL) throws {
        guard problems.isEmpty else {
            throw WorldFolderError.components(file: folder.path, reason: problems.joined(separator: "; "))
        }
    }
}
