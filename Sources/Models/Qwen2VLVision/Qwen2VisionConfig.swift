import Checkpoints
import Foundation

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/configuration_qwen2_vl.py
/// The `vision_config` of a Qwen2-VL (version 1) checkpoint (transformers' `Qwen2VLVisionConfig`), e.g.
/// Qwen2-VL-2B-Instruct's: depth 32, embed_dim 1280, mlp_ratio 4, num_heads 16, hidden_size 1536 (the language
/// model's width, which the merger projects to). Unlike Qwen2.5-VL's (``Qwen2VLVisionConfig``) the blocks are
/// `embed_dim` wide with LayerNorm and a `fc1`/`fc2` MLP of `embed_dim · mlp_ratio`, and every block attends over
/// each frame (no windows). Both layouts transformers writes read the same: the hub's transformers 4 files spell the
/// input channels `in_chans` and carry no rotary base (10000); transformers 5 writes `in_channels` and
/// `rope_parameters.rope_theta`. Absent fields take transformers' defaults; unknown keys are ignored.
public struct Qwen2VisionConfig: Codable, Sendable, Equatable {
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
        case mlpRatio = "mlp_ratio", numHeads = "num_heads", inChannels = "in_channels", inChans = "in_chans"
        case patchSize = "patch_size", spatialMergeSize = "spatial_merge_size"
        case temporalPatchSize = "temporal_patch_size", ropeParameters = "rope_parameters"
    }

    private struct RopeParameters: Codable {
        var ropeTheta: Double?
        var ropeType: String?
        enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta", ropeType = "rope_type" }
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Qwen2VisionConfig()
        depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? d.depth
        embedDim = try c.decodeIfPresent(Int.self, forKey: .embedDim) ?? d.embedDim
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        mlpRatio = try c.decodeIfPresent(Double.self, forKey: .mlpRatio) ?? d.mlpRatio
        numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? d.numHeads
        inChannels =
            try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? c.decodeIfPresent(Int.self, forKey: .inChans)
            ?? d.inChannels
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        spatialMergeSize = try c.decodeIfPresent(Int.self, forKey: .spatialMergeSize) ?? d.spatialMergeSize
        temporalPatchSize = try c.decodeIfPresent(Int.self, forKey: .temporalPatchSize) ?? d.temporalPatchSize
        ropeTheta = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)?.ropeTheta ?? d.ropeTheta
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(depth, forKey: .depth)
        try c.encode(embedDim, forKey: .embedDim)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(mlpRatio, forKey: .mlpRatio)
        try c.encode(numHeads, forKey: .numHeads)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(patchSize, forKey: .patchSize)
        try c.encode(spatialMergeSize, forKey: .spatialMergeSize)
        try c.encode(temporalPatchSize, forKey: .temporalPatchSize)
        try c.encode(RopeParameters(ropeTheta: ropeTheta, ropeType: "axial"), forKey: .ropeParameters)
    }

    public var headDim: Int { embedDim / max(numHeads, 1) }
    /// The MLP's inner width, `int(embed_dim · mlp_ratio)` as transformers truncates it.
    public var mlpHiddenDim: Int { Int(Double(embedDim) * mlpRatio) }
    /// Values of one patch row of `pixel_values(_videos)`: channels × frames × pixels.
    public var patchValues: Int { inChannels * temporalPatchSize * patchSize * patchSize }

    /// The same tower in the terms of the Qwen2.5-VL config whose parts (patch embedding, attention, layout) this
    /// tower shares: blocks `embed_dim` wide, and no windowed block.
    var shared: Qwen2VLVisionConfig {
        var s = Qwen2VLVisionConfig()
        s.depth = depth
        s.hiddenSize = embedDim
        s.hiddenAct = "gelu"
        s.intermediateSize = mlpHiddenDim
        s.numHeads = numHeads
        s.inChannels = inChannels
        s.patchSize = patchSize
        s.spatialMergeSize = spatialMergeSize
        s.temporalPatchSize = temporalPatchSize
        s.windowSize = patchSize * spatialMergeSize
        s.outHiddenSize = hiddenSize
        s.fullattBlockIndexes = []
        s.ropeTheta = ropeTheta
        return s
    }

    /// What this implementation cannot build from the config, each naming its key; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        c.size("embed_dim", embedDim)
        c.size("hidden_size", hiddenSize)
        c.size("num_heads", numHeads, limit: ConfigChecks.countLimit)
        c.multiple("embed_dim", embedDim, of: "num_heads", numHeads)
        // The 2D rotary splits each head into two halves (height, width) of cos/sin pairs.
        if embedDim > 0, numHeads > 0, embedDim % numHeads == 0, headDim % 4 != 0 {
            c.add("embed_dim: expected heads of a multiple of 4 features for the 2D rotary, found \(headDim)")
        }
        c.count("depth", depth)
        c.positive("mlp_ratio", mlpRatio)
        if mlpRatio > 0, mlpRatio.isFinite { c.size("embed_dim × mlp_ratio", mlpHiddenDim) }
        c.size("in_channels", inChannels, limit: ConfigChecks.countLimit)
        c.size("patch_size", patchSize, limit: ConfigChecks.countLimit)
        c.size("spatial_merge_size", spatialMergeSize, limit: ConfigChecks.countLimit)
        c.size("temporal_patch_size", temporalPatchSize, limit: ConfigChecks.countLimit)
        if !["quick_gelu", "gelu", "silu"].contains(hiddenAct) {
            c.add("hidden_act: expected \"quick_gelu\", \"gelu\" or \"silu\", found \"\(hiddenAct)\"")
        }
        c.positive("rope_parameters.rope_theta", ropeTheta)
        return c.problems
    }

    /// The `vision_config` of a Qwen2-VL `config.json` (a folder or the file itself), checked.
    public static func load(_ url: URL) throws -> Qwen2VisionConfig {
        struct Outer: Decodable {
            let visionConfig: Qwen2VisionConfig
            enum CodingKeys: String, CodingKey { case visionConfig = "vision_config" }
        }
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(Outer.self, from: file).visionConfig
        let problems = config.problems()
        guard problems.isEmpty else {
            throw ModelConfigError.invalidValues(file: file.path, problems: problems.map { "vision_config." + $0 })
        }
        return config
    }
}
