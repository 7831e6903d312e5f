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

    /// What does not fit in the config's numbers; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        // FLUX packs 2×2 patches outside the transformer and builds it with 1.
        if patchSize != 1 { c.add("patch_size: expected 1 (FLUX packs 2×2 patches outside), found \(patchSize)") }
        c.size("in_channels", inChannels)
        if let outChannels { c.size("out_channels", outChannels) }
        c.count("num_layers", numLayers)
        c.count("num_single_layers", numSingleLayers)
        c.heads(headDim: attentionHeadDim, heads: numAttentionHeads)
        c.size("joint_attention_dim", jointAttentionDim)
        c.size("pooled_projection_dim", pooledProjectionDim)
        // One rotary axis per column of the position ids (text/image index, row, column), each rotating pairs.
        c.rotaryAxes(axesDimsRope, axes: "one per position id column", headDim: attentionHeadDim)
        return c.problems
    }

    /// Reads `config.json` from a `transformer/` folder (or the file) and checks its numbers, reporting every problem
    /// at once.
    public static func load(_ url: URL) throws -> FluxConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(FluxConfig.self, from: file)
        var checks = ConfigChecks()
        config.problems().forEach { checks.add($0) }
        try checks.check(file: file.path)
        return config
    }
}
