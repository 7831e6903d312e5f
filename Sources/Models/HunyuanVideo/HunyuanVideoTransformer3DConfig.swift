import Checkpoints
import Foundation

/// `transformer/config.json` of a diffusers HunyuanVideo checkpoint (`HunyuanVideoTransformer3DModel`, e.g.
/// `hunyuanvideo-community/HunyuanVideo`). Field names are the file's; absent fields take diffusers' defaults (which
/// are the released 13B model's), so a tiny test config can list only what differs. `_class_name` and other unknown
/// fields are ignored.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_hunyuan_video.py
public struct HunyuanVideoTransformer3DConfig: Codable, Sendable, Equatable {
    /// Latent channels in; latent-concat image conditioning (HunyuanVideo-I2V, SkyReels-V1) widens them with the
    /// image latents and mask.
    public var inChannels = 16
    /// diffusers builds `out_channels or in_channels`.
    public var outChannels: Int? = 16
    public var numAttentionHeads = 24
    public var attentionHeadDim = 128
    /// Double-stream blocks (`transformer_blocks`).
    public var numLayers = 20
    /// Single-stream blocks (`single_transformer_blocks`).
    public var numSingleLayers = 40
    /// Blocks of the text token refiner (`context_embedder.token_refiner.refiner_blocks`).
    public var numRefinerLayers = 2
    /// MLP width over model width in the double- and single-stream blocks (the refiner's is always 4).
    public var mlpRatio = 4.0
    /// Height and width of a patch.
    public var patchSize = 2
    /// Frames of a patch.
    public var patchSizeT = 1
    /// Per-head query/key norm of the double- and single-stream attentions; only diffusers' `"rms_norm"` is built.
    public var qkNorm: String? = "rms_norm"
    /// Guidance-distilled checkpoints embed the guidance scale like a timestep.
    public var guidanceEmbeds = true
    /// Width of the text encoder's states (Llava-Llama-3: 4096).
    public var textEmbedDim = 4096
    /// Width of the pooled text vector (CLIP-L: 768).
    public var pooledProjectionDim = 768
    public var ropeTheta = 256.0
    /// Head features rotated by the frame, row and column position (sum = `attention_head_dim`).
    public var ropeAxesDim = [16, 56, 56]
    /// nil (text-to-video), `"latent_concat"` (the image latents join the input channels; nothing else in the
    /// transformer changes) or `"token_replace"` (HunyuanVideo-I2V: the first latent frame's tokens are modulated by
    /// the conditioning of timestep 0; same weights).
    public var imageConditionType: String?

    public var innerDim: Int { numAttentionHeads * attentionHeadDim }
    public var outputChannels: Int { outChannels ?? inChannels }
    /// The MLP width of the double- and single-stream blocks (diffusers' `int(hidden_size * mlp_ratio)`).
    public var mlpDim: Int { Int(Double(innerDim) * mlpRatio) }
    /// Latent scalars per patch and channel.
    public var patchVolume: Int { patchSizeT * patchSize * patchSize }

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", numAttentionHeads = "num_attention_heads"
        case attentionHeadDim = "attention_head_dim", numLayers = "num_layers", numSingleLayers = "num_single_layers"
        case numRefinerLayers = "num_refiner_layers", mlpRatio = "mlp_ratio", patchSize = "patch_size"
        case patchSizeT = "patch_size_t", qkNorm = "qk_norm", guidanceEmbeds = "guidance_embeds"
        case textEmbedDim = "text_embed_dim", pooledProjectionDim = "pooled_projection_dim", ropeTheta = "rope_theta"
        case ropeAxesDim = "rope_axes_dim", imageConditionType = "image_condition_type"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = HunyuanVideoTransformer3DConfig()
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        // An explicit null means in_channels, as diffusers' `out_channels or in_channels`.
        outChannels = c.contains(.outChannels) ? try c.decodeIfPresent(Int.self, forKey: .outChannels) : d.outChannels
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        attentionHeadDim = try c.decodeIfPresent(Int.self, forKey: .attentionHeadDim) ?? d.attentionHeadDim
        numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? d.numLayers
        numSingleLayers = try c.decodeIfPresent(Int.self, forKey: .numSingleLayers) ?? d.numSingleLayers
        numRefinerLayers = try c.decodeIfPresent(Int.self, forKey: .numRefinerLayers) ?? d.numRefinerLayers
        mlpRatio = try c.decodeIfPresent(Double.self, forKey: .mlpRatio) ?? d.mlpRatio
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        patchSizeT = try c.decodeIfPresent(Int.self, forKey: .patchSizeT) ?? d.patchSizeT
        qkNorm = c.contains(.qkNorm) ? try c.decodeIfPresent(String.self, forKey: .qkNorm) : d.qkNorm
        guidanceEmbeds = try c.decodeIfPresent(Bool.self, forKey: .guidanceEmbeds) ?? d.guidanceEmbeds
        textEmbedDim = try c.decodeIfPresent(Int.self, forKey: .textEmbedDim) ?? d.textEmbedDim
        pooledProjectionDim = try c.decodeIfPresent(Int.self, forKey: .pooledProjectionDim) ?? d.pooledProjectionDim
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? d.ropeTheta
        ropeAxesDim = try c.decodeIfPresent([Int].self, forKey: .ropeAxesDim) ?? d.ropeAxesDim
        imageConditionType = try c.decodeIfPresent(String.self, forKey: .imageConditionType)
    }

    /// What does not fit in the config's numbers; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        c.size("in_channels", inChannels)
        if let outChannels { c.size("out_channels", outChannels) }
        c.heads(headDim: attentionHeadDim, heads: numAttentionHeads)
        c.count("num_layers", numLayers)
        c.count("num_single_layers", numSingleLayers)
        c.count("num_refiner_layers", numRefinerLayers)
        c.positive("mlp_ratio", mlpRatio)
        // The MLP width `int(inner × mlp_ratio)` (the heads' check reports an inner width that overflows).
        let (inner, overflow) = numAttentionHeads.multipliedReportingOverflow(by: attentionHeadDim)
        if !overflow, inner > 0, mlpRatio.isFinite, mlpRatio > 0 {
            let width = Double(inner) * mlpRatio
            if width > Double(ConfigChecks.sizeLimit) || width < 1 {
                c.add("mlp_ratio: expected an MLP width in 1...\(ConfigChecks.sizeLimit), found \(mlpRatio)×\(inner)")
            }
        }
        c.size("patch_size", patchSize, limit: ConfigChecks.countLimit)
        c.size("patch_size_t", patchSizeT, limit: ConfigChecks.countLimit)
        if qkNorm != "rms_norm" {
            let found = qkNorm.map { "\"\($0)\"" } ?? "null"
            c.add("qk_norm: expected \"rms_norm\" (the only norm built here), found \(found)")
        }
        c.size("text_embed_dim", textEmbedDim)
        c.size("pooled_projection_dim", pooledProjectionDim)
        c.positive("rope_theta", ropeTheta)
        // Each axis rotates whole feature pairs, and the three slices together are one head.
        if ropeAxesDim.count != 3 {
            c.add("rope_axes_dim: expected 3 entries (frames, rows, columns), found \(ropeAxesDim)")
        }
        for (i, dim) in ropeAxesDim.enumerated() where dim < 2 || dim % 2 != 0 {
            c.add("rope_axes_dim[\(i)]: expected a positive even number, found \(dim)")
        }
        let ropeSum = ropeAxesDim.reduce(0) { $0 &+ $1 }
        if ropeSum != attentionHeadDim {
            c.add(
                "rope_axes_dim: expected entries summing to attention_head_dim \(attentionHeadDim), "
                    + "found sum \(ropeSum)")
        }
        switch imageConditionType {
        case nil, "latent_concat", "token_replace": break
        case let other?:
            c.add("image_condition_type: expected null, \"latent_concat\" or \"token_replace\", found \"\(other)\"")
        }
        return c.problems
    }

    /// Reads `config.json` from a `transformer/` folder (or the file) and checks its numbers, reporting every problem
    /// at once.
    public static func load(_ url: URL) throws -> HunyuanVideoTransformer3DConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(HunyuanVideoTransformer3DConfig.self, from: file)
        var checks = ConfigChecks()
        config.problems().forEach { checks.add($0) }
        try checks.check(file: file.path)
        return config
    }
}
