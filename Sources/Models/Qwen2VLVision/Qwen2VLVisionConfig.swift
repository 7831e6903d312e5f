import Checkpoints
import Foundation

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/configuration_qwen2_5_vl.py
/// The `vision_config` of a Qwen2.5-VL checkpoint (transformers' `Qwen2_5_VLVisionConfig`), e.g. the `text_encoder/`
/// of Qwen-Image-Edit (Qwen2.5-VL-7B: depth 32, hidden_size 1280, num_heads 16, intermediate_size 3420,
/// out_hidden_size 3584, window_size 112, fullatt_block_indexes [7, 15, 23, 31]). The patch, merge and rotary fields
/// read as ``Qwen2VisionTowerConfig`` says. Absent fields take transformers' defaults; unknown keys are ignored.
public struct Qwen2VLVisionConfig: Qwen2VisionTowerConfig, Sendable, Equatable {
    public var depth = 32
    public var hiddenSize = 3584
    /// The blocks' MLP activation: "silu" (Qwen2.5-VL's) or "gelu".
    public var hiddenAct = "silu"
    public var intermediateSize = 3420
    public var numHeads = 16
    public var inChannels = 3
    public var patchSize = 14
    public var spatialMergeSize = 2
    public var temporalPatchSize = 2
    /// Pixels per attention window side (112: 8 × 8 patches, 4 × 4 merged tokens).
    public var windowSize = 112
    /// Width of the merged tokens (the language model's hidden size).
    public var outHiddenSize = 3584
    /// Blocks that attend over the whole image; the others attend within windows.
    public var fullattBlockIndexes = [7, 15, 23, 31]
    public var ropeTheta: Double = 10_000

    enum CodingKeys: String, CodingKey {
        case depth, hiddenSize = "hidden_size", hiddenAct = "hidden_act", intermediateSize = "intermediate_size"
        case numHeads = "num_heads", windowSize = "window_size", outHiddenSize = "out_hidden_size"
        case fullattBlockIndexes = "fullatt_block_indexes"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? depth
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? hiddenSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? hiddenAct
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? intermediateSize
        numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? numHeads
        windowSize = try c.decodeIfPresent(Int.self, forKey: .windowSize) ?? windowSize
        outHiddenSize = try c.decodeIfPresent(Int.self, forKey: .outHiddenSize) ?? outHiddenSize
        fullattBlockIndexes = try c.decodeIfPresent([Int].self, forKey: .fullattBlockIndexes) ?? fullattBlockIndexes
        try decodeSharedFields(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(depth, forKey: .depth)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHeads, forKey: .numHeads)
        try c.encode(windowSize, forKey: .windowSize)
        try c.encode(outHiddenSize, forKey: .outHiddenSize)
        try c.encode(fullattBlockIndexes, forKey: .fullattBlockIndexes)
        try encodeSharedFields(to: encoder)
    }

    public var blockWidth: Int { hiddenSize }
    public static let blockWidthKey = "hidden_size"
    /// Merged tokens per window side (transformers' `vit_merger_window_size`, 4 for Qwen2.5-VL).
    public var mergedWindowSize: Int { windowSize / spatialMergeSize / max(patchSize, 1) }

    public func problems() -> [String] {
        var c = ConfigChecks()
        c.size("hidden_size", hiddenSize)
        checkHeads(&c)
        c.count("depth", depth)
        c.size("intermediate_size", intermediateSize)
        checkPatches(&c)
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
}
