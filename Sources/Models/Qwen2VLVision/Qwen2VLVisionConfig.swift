import Checkpoints
import Foundation

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/configuration_qwen2_5_vl.py
/// The `vision_config` of a Qwen2.5-VL checkpoint (transformers' `Qwen2_5_VLVisionConfig`), e.g. the `text_encoder/`
/// of Qwen-Image-Edit (Qwen2.5-VL-7B: depth 32, hidden_size 1280, num_heads 16, intermediate_size 3420,
/// out_hidden_size 3584, window_size 112, fullatt_block_indexes [7, 15, 23, 31]). Absent fields take transformers'
/// defaults; unknown keys are ignored. Older files spell the input channels `in_chans` (read when `in_channels` is
/// absent).
public struct Qwen2VLVisionConfig: Codable, Sendable, Equatable {
    public var depth = 32
    public var hiddenSize = 3584
    /// The blocks' MLP activation: "silu" (Qwen2.5-VL's) or "gelu".
    public var hiddenAct = "silu"
    public var intermediateSize = 3420
    public var numHeads = 16
    public var inChannels = 3
    /// Pixels per patch side (14).
    public var patchSize = 14
    /// Patches per merged token side (2: 2 × 2 patches become one language-model token).
    public var spatialMergeSize = 2
    /// Frames per patch (2; an image is repeated to fill them).
    public var temporalPatchSize = 2
    /// Pixels per attention window side (112: 8 × 8 patches, 4 × 4 merged tokens).
    public var windowSize = 112
    /// Width of the merged tokens (the language model's hidden size).
    public var outHiddenSize = 3584
    /// Blocks that attend over the whole image; the others attend within windows.
    public var fullattBlockIndexes = [7, 15, 23, 31]
    /// The rotary base (`rope_parameters.rope_theta`, 10000 when absent).
    public var ropeTheta: Double = 10_000

    enum CodingKeys: String, CodingKey {
        case depth, hiddenSize = "hidden_size", hiddenAct = "hidden_act", intermediateSize = "intermediate_size"
        case numHeads = "num_heads", inChannels = "in_channels", inChans = "in_chans", patchSize = "patch_size"
        case spatialMergeSize = "spatial_merge_size", temporalPatchSize = "temporal_patch_size"
        case windowSize = "window_size", outHiddenSize = "out_hidden_size"
        case fullattBlockIndexes = "fullatt_block_indexes", ropeParameters = "rope_parameters"
    }

    private struct RopeParameters: Codable {
        var ropeTheta: Double?
        var ropeType: String?
        enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta", ropeType = "rope_type" }
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Qwen2VLVisionConfig()
        depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? d.depth
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? d.numHeads
        inChannels =
            try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? c.decodeIfPresent(Int.self, forKey: .inChans)
            ?? d.inChannels
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        spatialMergeSize = try c.decodeIfPresent(Int.self, forKey: .spatialMergeSize) ?? d.spatialMergeSize
        temporalPatchSize = try c.decodeIfPresent(Int.self, forKey: .temporalPatchSize) ?? d.temporalPatchSize
        windowSize = try c.decodeIfPresent(Int.self, forKey: .windowSize) ?? d.windowSize
        outHiddenSize = try c.decodeIfPresent(Int.self, forKey: .outHiddenSize) ?? d.outHiddenSize
        fullattBlockIndexes = try c.decodeIfPresent([Int].self, forKey: .fullattBlockIndexes) ?? d.fullattBlockIndexes
        ropeTheta = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)?.ropeTheta ?? d.ropeTheta
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(depth, forKey: .depth)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHeads, forKey: .numHeads)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(patchSize, forKey: .patchSize)
        try c.encode(spatialMergeSize, forKey: .spatialMergeSize)
        try c.encode(temporalPatchSize, forKey: .temporalPatchSize)
        try c.encode(windowSize, forKey: .windowSize)
        try c.encode(outHiddenSize, forKey: .outHiddenSize)
        try c.encode(fullattBlockIndexes, forKey: .fullattBlockIndexes)
        try c.encode(RopeParameters(ropeTheta: ropeTheta, ropeType: "axial"), forKey: .ropeParameters)
    }

    public var headDim: Int { hiddenSize / max(numHeads, 1) }
    /// Values of one patch row of `pixel_values`: channels × frames × pixels.
    public var patchValues: Int { inChannels * temporalPatchSize * patchSize * patchSize }
    /// Patches per merged token (4).
    public var mergeUnit: Int { spatialMergeSize * spatialMergeSize }
    /// Merged tokens per window side (transformers' `vit_merger_window_size`, 4 for Qwen2.5-VL).
    public var mergedWindowSize: Int { windowSize / spatialMergeSize / max(patchSize, 1) }

    /// What this implementation cannot build from the config, each naming its key; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        c.size("hidden_size", hiddenSize)
        c.size("num_heads", numHeads, limit: ConfigChecks.countLimit)
        c.multiple("hidden_size", hiddenSize, of: "num_heads", numHeads)
        // The 2D rotary splits each head into two halves (height, width) of cos/sin pairs.
        if hiddenSize > 0, numHeads > 0, hiddenSize % numHeads == 0, headDim % 4 != 0 {
            c.add("hidden_size: expected heads of a multiple of 4 features for the 2D rotary, found \(headDim)")
        }
        c.count("depth", depth)
        c.size("intermediate_size", intermediateSize)
        c.size("in_channels", inChannels, limit: ConfigChecks.countLimit)
        c.size("patch_size", patchSize, limit: ConfigChecks.countLimit)
        c.size("spatial_merge_size", spatialMergeSize, limit: ConfigChecks.countLimit)
        c.size("temporal_patch_size", temporalPatchSize, limit: ConfigChecks.countLimit)
        c.size("out_hidden_size", outHiddenSize)
        c.size("window_size", windowSize)
        if windowSize > 0, spatialMergeSize > 0, patchSize > 0, mergedWindowSize < 1 {
            c.add(
                "window_size: expected at least spatial_merge_size × patch_size (\(spatialMergeSize * patchSize)) "
                    + "pixels, found \(windowSize)")
        }
        for i in fullattBlockIndexes where i < 0 || i >= depth {
            c.add("fullatt_block_indexes: expected block indexes in 0..<depth \(depth), found \(i)")
        }
        if !["silu", "gelu"].contains(hiddenAct) {
            c.add("hidden_act: expected \"silu\" or \"gelu\", found \"\(hiddenAct)\"")
        }
        c.positive("rope_parameters.rope_theta", ropeTheta)
        return c.problems
    }

    /// The `vision_config` of a Qwen2.5-VL `config.json` (a `text_encoder/` folder or the file itself), checked.
    public static func load(_ url: URL) throws -> Qwen2VLVisionConfig {
        struct Outer: Decodable {
            let visionConfig: Qwen2VLVisionConfig
            enum CodingKeys: String, CodingKey { case visionConfig = "vision_config" }
        }
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(Outer.self, from: file).visionConfig
        let problems = config.problems()
        guard problems.isEmpty else {
            throw ModelConfigError.invalidValues(
                file: file.path, problems: problems.map { "vision_config." + $0 })
        }
        return config
    }
}
