import Checkpoints
import Foundation

/// `transformer/config.json` of a diffusers Qwen-Image checkpoint (`QwenImageTransformer2DModel`, e.g.
/// `Qwen/Qwen-Image`, `Qwen/Qwen-Image-Edit`). Field names are the file's; absent fields take diffusers' defaults (the
/// released 20B model's), so a tiny test config can list only what differs. `_class_name`, `pooled_projection_dim`
/// (written by the release, read by no module) and other unknown fields are ignored.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_qwenimage.py
public struct QwenImageTransformer2DConfig: Codable, Sendable, Equatable {
    /// Side of the latent patches the pipeline packs into one token; only `proj_out`'s width depends on it here.
    public var patchSize = 2
    /// Features of a packed token: latent channels × patch_size².
    public var inChannels = 64
    /// Latent channels of the output before unpacking; diffusers builds `out_channels or in_channels`.
    public var outChannels: Int? = 16
    public var numLayers = 60
    public var attentionHeadDim = 128
    public var numAttentionHeads = 24
    /// Width of the text encoder's hidden states (Qwen2.5-VL-7B: 3584).
    public var jointAttentionDim = 3584
    /// Read as diffusers reads it, and, as there, nothing is built for it (its forward cannot take a guidance value).
    public var guidanceEmbeds = false
    /// Rotary features of each head given to the frame, row and column positions.
    public var axesDimsRope = [16, 56, 56]
    /// Later variants' switches (Qwen-Image-Edit-2511's timestep-zero condition stream, Qwen-Image-Layered's extra
    /// timestep condition and layer rotary); not built here, so `true` is rejected by name.
    public var zeroCondT = false
    public var useAdditionalTCond = false
    public var useLayer3dRope = false

    public var innerDim: Int { numAttentionHeads * attentionHeadDim }
    public var outputChannels: Int { outChannels ?? inChannels }

    enum CodingKeys: String, CodingKey {
        case patchSize = "patch_size", inChannels = "in_channels", outChannels = "out_channels"
        case numLayers = "num_layers", attentionHeadDim = "attention_head_dim"
        case numAttentionHeads = "num_attention_heads", jointAttentionDim = "joint_attention_dim"
        case guidanceEmbeds = "guidance_embeds", axesDimsRope = "axes_dims_rope", zeroCondT = "zero_cond_t"
        case useAdditionalTCond = "use_additional_t_cond", useLayer3dRope = "use_layer3d_rope"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = QwenImageTransformer2DConfig()
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        // An explicit null means `in_channels`, as in diffusers.
        outChannels = c.contains(.outChannels) ? try c.decodeIfPresent(Int.self, forKey: .outChannels) : d.outChannels
        numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? d.numLayers
        attentionHeadDim = try c.decodeIfPresent(Int.self, forKey: .attentionHeadDim) ?? d.attentionHeadDim
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        jointAttentionDim = try c.decodeIfPresent(Int.self, forKey: .jointAttentionDim) ?? d.jointAttentionDim
        guidanceEmbeds = try c.decodeIfPresent(Bool.self, forKey: .guidanceEmbeds) ?? d.guidanceEmbeds
        axesDimsRope = try c.decodeIfPresent([Int].self, forKey: .axesDimsRope) ?? d.axesDimsRope
        zeroCondT = try c.decodeIfPresent(Bool.self, forKey: .zeroCondT) ?? d.zeroCondT
        useAdditionalTCond = try c.decodeIfPresent(Bool.self, forKey: .useAdditionalTCond) ?? d.useAdditionalTCond
        useLayer3dRope = try c.decodeIfPresent(Bool.self, forKey: .useLayer3dRope) ?? d.useLayer3dRope
    }

    /// What does not fit in the config's numbers; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        // QwenImagePipeline packs 2×2 latent patches whatever the config says; another size would not unpack.
        if patchSize != 2 {
            c.add("patch_size: expected 2 (the pipeline packs 2×2 latent patches), found \(patchSize)")
        }
        c.size("in_channels", inChannels)
        if let outChannels { c.size("out_channels", outChannels) }
        c.count("num_layers", numLayers)
        c.heads(headDim: attentionHeadDim, heads: numAttentionHeads)
        c.size("joint_attention_dim", jointAttentionDim)
        // One rotary axis per position (frame, row, column), each rotating pairs of features.
        c.rotaryAxes(axesDimsRope, axes: "frame, row, column", headDim: attentionHeadDim)
        for (key, on) in [
            ("zero_cond_t", zeroCondT), ("use_additional_t_cond", useAdditionalTCond),
            ("use_layer3d_rope", useLayer3dRope)
        ] where on {
            c.add("\(key): expected false (later Qwen-Image variants' option, not supported), found true")
        }
        return c.problems
    }

    /// Reads `config.json` from a `transformer/` folder (or the file) and checks its numbers, reporting every problem
    /// at once.
    public static func load(_ url: URL) throws -> QwenImageTransformer2DConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(QwenImageTransformer2DConfig.self, from: file)
        var checks = ConfigChecks()
        config.problems().forEach { checks.add($0) }
        try checks.check(file: file.path)
        return config
    }
}
