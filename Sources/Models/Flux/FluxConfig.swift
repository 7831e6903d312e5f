import Checkpoints
import Engine
import Foundation

/// `transformer/config.json` of a diffusers FLUX checkpoint (`FluxTransformer2DModel`). Field names are the file's;
/// absent fields take diffusers' defaults, so a tiny test config can list only what differs.
public struct FluxConfig: Codable, Sendable, Equatable {
    public var patchSize = 1
    public var inChannels = 64
    public var outChannels: Int?
    public var numLayers = 19
    public var numSingleLayers = 38
    public var attentionHeadDim = 128
    public var numAttentionHeads = 24
    public var jointAttentionDim = 4096
    public var pooledProjectionDim = 768
    public var guidanceEmbeds = false
    public var axesDimsRope = [16, 56, 56]

    public var innerDim: Int { numAttentionHeads * attentionHeadDim }
    public var outputChannels: Int { outChannels ?? inChannels }

    enum CodingKeys: String, CodingKey {
        case patchSize = "patch_size", inChannels = "in_channels", outChannels = "out_channels"
        case numLayers = "num_layers", numSingleLayers = "num_single_layers"
        case attentionHeadDim = "attention_head_dim", numAttentionHeads = "num_attention_heads"
        case jointAttentionDim = "joint_attention_dim", pooledProjectionDim = "pooled_projection_dim"
        case guidanceEmbeds = "guidance_embeds", axesDimsRope = "axes_dims_rope"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = FluxConfig()
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels)
        numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? d.numLayers
        numSingleLayers = try c.decodeIfPresent(Int.self, forKey: .numSingleLayers) ?? d.numSingleLayers
        attentionHeadDim = try c.decodeIfPresent(Int.self, forKey: .attentionHeadDim) ?? d.attentionHeadDim
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        jointAttentionDim = try c.decodeIfPresent(Int.self, forKey: .jointAttentionDim) ?? d.jointAttentionDim
        pooledProjectionDim = try c.decodeIfPresent(Int.self, forKey: .pooledProjectionDim) ?? d.pooledProjectionDim
        guidanceEmbeds = try c.decodeIfPresent(Bool.self, forKey: .guidanceEmbeds) ?? d.guidanceEmbeds
        axesDimsRope = try c.decodeIfPresent([Int].self, forKey: .axesDimsRope) ?? d.axesDimsRope
    }

    /// Reads `config.json` from a transformer folder (or the file itself) and checks that the sizes fit together.
    public static func load(_ url: URL) throws -> FluxConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(FluxConfig.self, from: file)
        guard config.axesDimsRope.reduce(0, +) == config.attentionHeadDim else {
            throw ConfigFile.Error(
                file: file.path,
                message:
                    "axes_dims_rope \(config.axesDimsRope) must sum to attention_head_dim \(config.attentionHeadDim)")
        }
        guard config.patchSize == 1 else {
            throw ConfigFile.Error(
                file: file.path,
                message:
                    """
                    patch_size \(config.patchSize) is not supported (FLUX packs 2×2 patches outside the transformer \
                    and uses 1)
                    """
            )
        }
        return config
    }
}
