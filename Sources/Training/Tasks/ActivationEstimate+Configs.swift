import Checkpoints
import Foundation
import GRPO
import Models

extension ActivationEstimate {
    /// A FLUX transformer (`transformer/config.json` of a model folder) over `imageTokens` packed latent tokens and
    /// `textTokens` text tokens: double- and single-stream blocks alike see every token.
    public static func flux(transformerFolder: URL, imageTokens: Int, textTokens: Int) throws -> ActivationEstimate {
        let config = try FluxConfig.load(transformerFolder)
        return .transformer(
            tokens: imageTokens + textTokens, hidden: config.innerDim, heads: config.numAttentionHeads,
            blocks: config.numLayers + config.numSingleLayers)
    }

    /// A Wan transformer (`transformer/config.json`) over `videoTokens` patch tokens (f × h/2 × w/2 for latents
    /// f × h × w) that cross-attend to `textTokens` text states.
    public static func wan(transformerFolder: URL, videoTokens: Int, textTokens: Int) throws -> ActivationEstimate {
        let config = try WanTransformer3DConfig.load(transformerFolder.appendingPathComponent("config.json"))
        return .transformer(
            tokens: videoTokens, hidden: config.numAttentionHeads * config.attentionHeadDim,
            heads: config.numAttentionHeads, blocks: config.numLayers, crossTokens: textTokens)
    }

    /// A HunyuanVideo transformer (`transformer/config.json`) over `videoTokens` patch tokens (f × h/2 × w/2 for
    /// latents f × h × w) and `textTokens` text tokens: its double- and single-stream blocks alike attend over both
    /// jointly (the token refiner's few blocks over the text alone are left out).
    public static func hunyuanVideo(transformerFolder: URL, videoTokens: Int, textTokens: Int) throws
        -> ActivationEstimate
    {
        let config = try HunyuanVideoTransformer3DConfig.load(transformerFolder)
        return .transformer(
            tokens: videoTokens + textTokens, hidden: config.innerDim, heads: config.numAttentionHeads,
            blocks: config.numLayers + config.numSingleLayers)
    }

    /// A Qwen-Image transformer (`transformer/config.json`) over `imageTokens` packed latent tokens and `textTokens`
    /// text tokens: every double-stream block attends over both jointly.
    public static func qwenImage(transformerFolder: URL, imageTokens: Int, textTokens: Int) throws
        -> ActivationEstimate
    {
        let config = try QwenImageTransformer2DConfig.load(transformerFolder)
        return .transformer(
            tokens: imageTokens + textTokens, hidden: config.innerDim, heads: config.numAttentionHeads,
            blocks: config.numLayers)
    }

    /// A diffusers UNet (`unet/config.json`) over latents of `pixels` positions: its levels' channels, layers per
    /// block, and attention where the down blocks are cross-attention blocks.
    public static func unet(unetFolder: URL, pixels: Int) throws -> ActivationEstimate {
        let file = unetFolder.appendingPathComponent("config.json")
        let object = try ConfigFile.object(from: file)
        guard let channels = object["block_out_channels"] as? [Int], !channels.isEmpty else {
            throw TrainingDataError.unusableModel(
                file: file.path, reason: "block_out_channels: expected a list of channel counts")
        }
        let layers = object["layers_per_block"] as? Int ?? 2
        let types = object["down_block_types"] as? [String] ?? []
        let attention = Set(types.indices.filter { types[$0].contains("CrossAttn") })
        let heads = (object["attention_head_dim"] as? [Int])?.max() ?? (object["attention_head_dim"] as? Int) ?? 8
        return .unet(pixels: pixels, channels: channels, layers: layers, attentionLevels: attention, heads: heads)
    }

    /// The VAE's downsampling factor from `vae/config.json` (2 per level after the first), 8 when the folder has
    /// none.
    public static func vaeScaleFactor(vaeFolder: URL) throws -> Int {
        let file = vaeFolder.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: file.path) else { return 8 }
        let levels = (try ConfigFile.object(from: file)["block_out_channels"] as? [Int])?.count ?? 4
        return 1 << max(0, levels - 1)
    }
}
