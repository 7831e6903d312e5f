import Checkpoints
import Foundation

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/configuration_qwen2_vl.py
/// The `vision_config` of a Qwen2-VL (version 1) checkpoint (transformers' `Qwen2VLVisionConfig`), e.g.
/// Qwen2-VL-2B-Instruct's: depth 32, embed_dim 1280, mlp_ratio 4, num_heads 16, hidden_size 1536 (the language
/// model's width, which the merger projects to). Unlike Qwen2.5-VL's (``Qwen2VLVisionConfig``) the blocks are
/// `embed_dim` wide with LayerNorm and a `fc1`/`fc2` MLP of `embed_dim · mlp_ratio`, and every block attends over
/// each frame (no windows). The patch, merge and rotary fields read as ``Qwen2VisionTowerConfig`` says. Absent fields
/// take transformers' defaults; unknown keys are ignored.
public struct Qwen2VisionConfig: Qwen2VisionTowerConfig, Sendable, Equatable {
    public var depth = 32
    /// Width of the blocks.
    public var embedDim = 1280
    /// Width of the merged tokens (the language model's hidden size).
    public var hiddenSize = 3584
    /// The blocks' MLP activation: "quick_gelu" (Qwen2-VL's), "gelu" or "silu".
    public var hiddenAct = "quick_gelu"
    public var mlpRatio: Double = 4
    public var numHeads = 16
    public var inChannels = 3
    public var patchSize = 14
    public var spatialMergeSize = 2
    public var temporalPatchSize = 2
    public var ropeTheta: Double = 10_000

    enum CodingKeys: String, CodingKey {
        case depth, embedDim = "embed_dim", hiddenSize = "hidden_size", hiddenAct = "hidden_act"
        case mlpRatio = "mlp_ratio", numHeads = "num_heads"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? depth
        embedDim = try c.decodeIfPresent(Int.self, forKey: .embedDim) ?? embedDim
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? hiddenSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? hiddenAct
        mlpRatio = try c.decodeIfPresent(Double.self, forKey: .mlpRatio) ?? mlpRatio
        numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? numHeads
        try decodeSharedFields(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(depth, forKey: .depth)
        try c.encode(embedDim, forKey: .embedDim)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(mlpRatio, forKey: .mlpRatio)
        try c.encode(numHeads, forKey: .numHeads)
        try encodeSharedFields(to: encoder)
    }

    public var blockWidth: Int { embedDim }
    public static let blockWidthKey = "embed_dim"
    /// The MLP's inner width, `int(embed_dim · mlp_ratio)` as transformers truncates it.
    public var mlpHiddenDim: Int { Int(Double(embedDim) * mlpRatio) }

    public func problems() -> [String] {
        var c = ConfigChecks()
        c.size("embed_dim", embedDim)
        c.size("hidden_size", hiddenSize)
        checkHeads(&c)
        c.count("depth", depth)
        c.positive("mlp_ratio", mlpRatio)
        if mlpRatio > 0, mlpRatio.isFinite { c.size("embed_dim × mlp_ratio", mlpHiddenDim) }
        checkPatches(&c)
        if !["quick_gelu", "gelu", "silu"].contains(hiddenAct) {
            c.add("hidden_act: expected \"quick_gelu\", \"gelu\" or \"silu\", found \"\(hiddenAct)\"")
        }
        c.positive("rope_parameters.rope_theta", ropeTheta)
        return c.problems
    }
}
