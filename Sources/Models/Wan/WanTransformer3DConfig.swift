import Checkpoints
import Foundation

/// `transformer/config.json` of a diffusers Wan checkpoint (`WanTransformer3DModel`, e.g.
/// `Wan-AI/Wan2.1-T2V-1.3B-Diffusers`). Field names are the file's; absent fields take diffusers' defaults (those of
/// the 14B model), so a tiny test config can list only what differs. `_class_name` and other unknown fields are
/// ignored.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_wan.py
public struct WanTransformer3DConfig: Codable, Sendable, Equatable {
    /// (frames, height, width) of one patch; the patch embedding is a convolution with this kernel and stride.
    public var patchSize = [1, 2, 2]
    public var numAttentionHeads = 40
    public var attentionHeadDim = 128
    public var inChannels = 16
    /// diffusers builds `out_channels or in_channels`.
    public var outChannels: Int?
    /// Width of the text encoder's states (UMT5-XXL: 4096).
    public var textDim = 4096
    /// Channels of the sinusoidal timestep embedding.
    public var freqDim = 256
    public var ffnDim = 13824
    public var numLayers = 40
    /// An affine LayerNorm before each cross-attention (`norm2`); without it the block has no `norm2` tensors.
    public var crossAttnNorm = true
    /// diffusers 0.42 builds the RMS norm over all heads whatever this says; other values are rejected rather than
    /// read differently from diffusers.
    public var qkNorm: String? = "rms_norm_across_heads"
    public var eps = 1e-6
    /// Width of the image encoder's states (I2V: CLIP ViT-H, 1280); nil for text-to-video.
    public var imageDim: Int?
    /// Input width of the image keys/values in each cross-attention (I2V: the model width).
    public var addedKVProjDim: Int?
    /// Positions the rotary tables cover on each axis (frames, rows, columns after patching).
    public var ropeMaxSeqLen = 1024
    /// First-last-frame models: a learned position embedding over the two images' tokens joined.
    public var posEmbedSeqLen: Int?

    public var innerDim: Int { numAttentionHeads * attentionHeadDim }
    public var outputChannels: Int { outChannels ?? inChannels }
    /// Scalars in one patch (of the input, or of the output with `outputChannels`).
    public var patchVolume: Int { patchSize.reduce(1, *) }

    /// diffusers' split of a head between the rotary axes: rows and columns get `2·(D/6)` features each (integer
    /// division), frames the rest (128 → 44, 42, 42).
    public var rotaryAxesDims: [Int] {
        let spatial = 2 * (attentionHeadDim / 6)
        return [attentionHeadDim - 2 * spatial, spatial, spatial]
    }

    enum CodingKeys: String, CodingKey {
        case patchSize = "patch_size", numAttentionHeads = "num_attention_heads"
        case attentionHeadDim = "attention_head_dim", inChannels = "in_channels", outChannels = "out_channels"
        case textDim = "text_dim", freqDim = "freq_dim", ffnDim = "ffn_dim", numLayers = "num_layers"
        case crossAttnNorm = "cross_attn_norm", qkNorm = "qk_norm", eps, imageDim = "image_dim"
        case addedKVProjDim = "added_kv_proj_dim", ropeMaxSeqLen = "rope_max_seq_len"
        case posEmbedSeqLen = "pos_embed_seq_len"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = WanTransformer3DConfig()
        patchSize = try c.decodeIfPresent([Int].self, forKey: .patchSize) ?? d.patchSize
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        attentionHeadDim = try c.decodeIfPresent(Int.self, forKey: .attentionHeadDim) ?? d.attentionHeadDim
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels)
        textDim = try c.decodeIfPresent(Int.self, forKey: .textDim) ?? d.textDim
        freqDim = try c.decodeIfPresent(Int.self, forKey: .freqDim) ?? d.freqDim
        ffnDim = try c.decodeIfPresent(Int.self, forKey: .ffnDim) ?? d.ffnDim
        numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? d.numLayers
        crossAttnNorm = try c.decodeIfPresent(Bool.self, forKey: .crossAttnNorm) ?? d.crossAttnNorm
        // An explicit null stays null (diffusers builds the same norms either way).
        qkNorm = c.contains(.qkNorm) ? try c.decodeIfPresent(String.self, forKey: .qkNorm) : d.qkNorm
        eps = try c.decodeIfPresent(Double.self, forKey: .eps) ?? d.eps
        imageDim = try c.decodeIfPresent(Int.self, forKey: .imageDim)
        addedKVProjDim = try c.decodeIfPresent(Int.self, forKey: .addedKVProjDim)
        ropeMaxSeqLen = try c.decodeIfPresent(Int.self, forKey: .ropeMaxSeqLen) ?? d.ropeMaxSeqLen
        posEmbedSeqLen = try c.decodeIfPresent(Int.self, forKey: .posEmbedSeqLen)
    }

    /// What does not fit in the config's numbers; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        if patchSize.count != 3 {
            c.add("patch_size: expected 3 entries (frames, height, width), found \(patchSize)")
        }
        c.sizes("patch_size", patchSize, limit: ConfigChecks.countLimit)
        c.heads(headDim: attentionHeadDim, heads: numAttentionHeads)
        // Rotary pairs: the frame axis gets D − 4·⌊D/6⌋ features, even only when D is.
        if attentionHeadDim > 0, attentionHeadDim % 2 != 0 {
            c.add(
                "attention_head_dim: expected an even number (rotary features come in pairs), found \(attentionHeadDim)"
            )
        }
        c.size("in_channels", inChannels)
        if let outChannels { c.size("out_channels", outChannels) }
        c.size("text_dim", textDim)
        c.size("freq_dim", freqDim)
        c.size("ffn_dim", ffnDim)
        c.count("num_layers", numLayers)
        c.positive("eps", eps)
        c.size("rope_max_seq_len", ropeMaxSeqLen)
        if let qkNorm, qkNorm != "rms_norm_across_heads" {
            c.add(
                "qk_norm: expected \"rms_norm_across_heads\" (the only norm Wan's attention has), found \"\(qkNorm)\"")
        }
        // The image embedder and the image keys/values of the cross-attentions only work together: the embedder's
        // output (the model width) is what the added projections read.
        if let imageDim { c.size("image_dim", imageDim) }
        switch (imageDim, addedKVProjDim) {
        case (nil, nil): break
        case (_, nil): c.add("added_kv_proj_dim: expected a value with image_dim set (I2V), found null")
        case (nil, _): c.add("image_dim: expected a value with added_kv_proj_dim set (I2V), found null")
        case (_, let added?):
            if added != innerDim, numAttentionHeads > 0, attentionHeadDim > 0 {
                c.add(
                    "added_kv_proj_dim: expected num_attention_heads × attention_head_dim \(innerDim) (the image "
                        + "embedder's width), found \(added)")
            }
        }
        if let posEmbedSeqLen {
            c.size("pos_embed_seq_len", posEmbedSeqLen)
            if imageDim == nil { c.add("pos_embed_seq_len: expected null without image_dim, found \(posEmbedSeqLen)") }
            if posEmbedSeqLen % 2 != 0 {
                c.add("pos_embed_seq_len: expected an even number (two images' tokens), found \(posEmbedSeqLen)")
            }
        }
        return c.problems
    }

    /// Reads `config.json` from a `transformer/` folder (or the file) and checks its numbers, reporting every problem
    /// at once.
    public static func load(_ url: URL) throws -> WanTransformer3DConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(WanTransformer3DConfig.self, from: file)
        var checks = ConfigChecks()
        config.problems().forEach { checks.add($0) }
        try checks.check(file: file.path)
        return config
    }
}
