import Checkpoints
import Foundation

/// What the two Qwen2-VL vision configs share and read alike: version 1's (``Qwen2VisionConfig``, VideoAlign's) and
/// Qwen2.5-VL's (``Qwen2VLVisionConfig``, Qwen-Image-Edit's). Both towers cut the pixels into the same patches,
/// merge the same m × m units, and rotate heads of `blockWidth / num_heads` features by the same 2D rotary; they
/// differ in their blocks and windows, which each config reads itself.
///
/// The shared fields read the same from both layouts transformers writes: transformers 4 spells the input channels
/// `in_chans` and carries no rotary base (10000); transformers 5 writes `in_channels` and
/// `rope_parameters.rope_theta`. Absent fields keep the config's defaults.
public protocol Qwen2VisionTowerConfig: Codable {
    init()
    /// Width of the blocks (version 1's `embed_dim`, Qwen2.5-VL's `hidden_size`).
    var blockWidth: Int { get }
    /// The key ``blockWidth`` is read from, to name it in ``problems()``.
    static var blockWidthKey: String { get }
    var numHeads: Int { get }
    var inChannels: Int { get set }
    /// Pixels per patch side (14).
    var patchSize: Int { get set }
    /// Patches per merged token side (2: 2 × 2 patches become one language-model token).
    var spatialMergeSize: Int { get set }
    /// Frames per patch (2; an image is repeated to fill them).
    var temporalPatchSize: Int { get set }
    /// The rotary base (`rope_parameters.rope_theta`, 10000 when absent).
    var ropeTheta: Double { get set }
    /// What this implementation cannot build from the config, each naming its key; empty when it is fine.
    func problems() -> [String]
}

private enum Qwen2VisionTowerKeys: String, CodingKey {
    case inChannels = "in_channels", inChans = "in_chans", patchSize = "patch_size"
    case spatialMergeSize = "spatial_merge_size", temporalPatchSize = "temporal_patch_size"
    case ropeParameters = "rope_parameters"
}

private struct Qwen2VisionRopeParameters: Codable {
    var ropeTheta: Double?
    var ropeType: String?
    enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta", ropeType = "rope_type" }
}

private struct Qwen2VisionConfigFile<Vision: Decodable>: Decodable {
    let visionConfig: Vision
    enum CodingKeys: String, CodingKey { case visionConfig = "vision_config" }
}

extension Qwen2VisionTowerConfig {
    public var headDim: Int { blockWidth / max(numHeads, 1) }
    /// Values of one patch row of `pixel_values(_videos)`: channels × frames × pixels.
    public var patchValues: Int { inChannels * temporalPatchSize * patchSize * patchSize }
    /// Patches per merged token (4).
    public var mergeUnit: Int { spatialMergeSize * spatialMergeSize }

    /// Reads the shared fields from `decoder`, whose other keys the config reads itself.
    mutating func decodeSharedFields(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Qwen2VisionTowerKeys.self)
        inChannels =
            try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? c.decodeIfPresent(Int.self, forKey: .inChans)
            ?? inChannels
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? patchSize
        spatialMergeSize = try c.decodeIfPresent(Int.self, forKey: .spatialMergeSize) ?? spatialMergeSize
        temporalPatchSize = try c.decodeIfPresent(Int.self, forKey: .temporalPatchSize) ?? temporalPatchSize
        ropeTheta =
            try c.decodeIfPresent(Qwen2VisionRopeParameters.self, forKey: .ropeParameters)?.ropeTheta ?? ropeTheta
    }

    /// Writes the shared fields in transformers 5's spelling, beside the keys the config writes itself.
    func encodeSharedFields(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Qwen2VisionTowerKeys.self)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(patchSize, forKey: .patchSize)
        try c.encode(spatialMergeSize, forKey: .spatialMergeSize)
        try c.encode(temporalPatchSize, forKey: .temporalPatchSize)
        try c.encode(Qwen2VisionRopeParameters(ropeTheta: ropeTheta, ropeType: "axial"), forKey: .ropeParameters)
    }

    /// The heads' checks: a whole number of heads in ``blockWidth``, each split evenly by the 2D rotary.
    func checkHeads(_ c: inout ConfigChecks) {
        let key = Self.blockWidthKey
        c.size("num_heads", numHeads, limit: ConfigChecks.countLimit)
        c.multiple(key, blockWidth, of: "num_heads", numHeads)
        // The 2D rotary splits each head into two halves (height, width) of cos/sin pairs.
        if blockWidth > 0, numHeads > 0, blockWidth % numHeads == 0, headDim % 4 != 0 {
            c.add("\(key): expected heads of a multiple of 4 features for the 2D rotary, found \(headDim)")
        }
    }

    /// The patch geometry's checks.
    func checkPatches(_ c: inout ConfigChecks) {
        c.size("in_channels", inChannels, limit: ConfigChecks.countLimit)
        c.size("patch_size", patchSize, limit: ConfigChecks.countLimit)
        c.size("spatial_merge_size", spatialMergeSize, limit: ConfigChecks.countLimit)
        c.size("temporal_patch_size", temporalPatchSize, limit: ConfigChecks.countLimit)
    }

    /// The `vision_config` of a Qwen2-VL or Qwen2.5-VL `config.json` (a folder, e.g. Qwen-Image-Edit's
    /// `text_encoder/`, or the file itself), checked.
    public static func load(_ url: URL) throws -> Self {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(Qwen2VisionConfigFile<Self>.self, from: file).visionConfig
        let problems = config.problems()
        guard problems.isEmpty else {
            throw ModelConfigError.invalidValues(file: file.path, problems: problems.map { "vision_config." + $0 })
        }
        return config
    }
}
