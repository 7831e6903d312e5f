import Checkpoints
import Engine
import Foundation

/// A config value that is one number for every block or a list with one entry per block (diffusers accepts both for
/// `layers_per_block`, `attention_head_dim`, `cross_attention_dim`, `transformer_layers_per_block`,
/// `only_cross_attention`).
public enum PerBlock<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    case all(Value)
    case each([Value])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let value = try? c.decode(Value.self) {
            self = .all(value)
        } else {
            self = .each(try c.decode([Value].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .all(let value): try c.encode(value)
        case .each(let values): try c.encode(values)
        }
    }

    /// One value per block.
    public func values(_ count: Int) -> [Value] {
        switch self {
        case .all(let value): return Array(repeating: value, count: count)
        case .each(let values): return values
        }
    }

    var count: Int? { if case .each(let values) = self { return values.count } else { return nil } }
}

/// `unet/config.json` of a diffusers Stable Diffusion checkpoint (`UNet2DConditionModel`). Field names are the file's;
/// absent fields take the defaults of diffusers' `UNet2DConditionModel.__init__` (which are SD v1's sizes), so a tiny
/// test config can list only what differs. Options this implementation cannot build are reported by ``load(_:)``
/// with the file and the key (``problems()`` for the fields held here, ``unsupportedOptions(in:)`` for the rest).
///
/// Naming quirk kept from diffusers: `attention_head_dim` is the number of attention **heads** of each block (8 for
/// SD v1); the head width is the block's channels divided by it (diffusers issue #2011).
public struct UNet2DConditionConfig: Codable, Sendable, Equatable {
    public static let supportedDownBlockTypes: Set<String> = ["CrossAttnDownBlock2D", "DownBlock2D"]
    public static let supportedUpBlockTypes: Set<String> = ["CrossAttnUpBlock2D", "UpBlock2D"]
    public static let supportedMidBlockTypes: Set<String> = ["UNetMidBlock2DCrossAttn"]
    /// diffusers' `get_activation` maps both names to SiLU.
    public static let supportedActivations: Set<String> = ["silu", "swish"]

    /// The latent resolution the model was trained at (64 for SD v1 at 512 px); one number or `[height, width]`.
    public var sampleSize = [64]
    public var inChannels = 4
    public var outChannels = 4
    /// Feeds `2·x − 1` instead of x.
    public var centerInputSample = false
    /// Sinusoidal timestep embedding as `[cos, sin]` (true for SD) instead of `[sin, cos]`.
    public var flipSinToCos = true
    /// `downscale_freq_shift` of the sinusoidal embedding (0 for SD).
    public var freqShift: Float = 0
    public var downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    /// nil: no mid block.
    public var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    public var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    public var onlyCrossAttention: PerBlock<Bool> = .all(false)
    public var blockOutChannels = [320, 640, 1280, 1280]
    public var layersPerBlock: PerBlock<Int> = .all(2)
    /// Padding of the down-sampling convolutions; 0 means diffusers' asymmetric (bottom/right) zero padding.
    public var downsamplePadding = 1
    /// Output scale of the mid block's ResNets (`(x + h) / s`).
    public var midBlockScaleFactor: Float = 1
    public var actFn = "silu"
    public var normNumGroups = 32
    public var normEps: Float = 1e-5
    public var crossAttentionDim: PerBlock<Int> = .all(1280)
    public var transformerLayersPerBlock: PerBlock<Int> = .all(1)
    /// Heads per block (see the type's note).
    public var attentionHeadDim: PerBlock<Int> = .all(8)
    /// Linear `proj_in`/`proj_out` in the spatial transformers (SD 2) instead of 1×1 convolutions (SD 1).
    public var useLinearProjection = false
    /// diffusers computes attention scores in float32 when set (SD 2.1); the engine's fused attention accumulates in
    /// float32 anyway, so the flag changes nothing here.
    public var upcastAttention = false
    /// Width of the time embedding; nil = 4 × block_out_channels[0].
    public var timeEmbeddingDim: Int?
    public var convInKernel = 3
    public var convOutKernel = 3

    public var timeEmbeddingChannels: Int { timeEmbeddingDim ?? 4 * blockOutChannels[0] }
    /// How many times the down path halves the latent (the spatial size must be a multiple of 2^this).
    public var downsamplingSteps: Int { Swift.max(blockOutChannels.count - 1, 0) }

    enum CodingKeys: String, CodingKey {
        case sampleSize = "sample_size", inChannels = "in_channels", outChannels = "out_channels"
        case centerInputSample = "center_input_sample", flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift"
        case downBlockTypes = "down_block_types", midBlockType = "mid_block_type", upBlockTypes = "up_block_types"
        case onlyCrossAttention = "only_cross_attention", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", downsamplePadding = "downsample_padding"
        case midBlockScaleFactor = "mid_block_scale_factor", actFn = "act_fn", normNumGroups = "norm_num_groups"
        case normEps = "norm_eps", crossAttentionDim = "cross_attention_dim"
        case transformerLayersPerBlock = "transformer_layers_per_block", attentionHeadDim = "attention_head_dim"
        case useLinearProjection = "use_linear_projection", upcastAttention = "upcast_attention"
        case timeEmbeddingDim = "time_embedding_dim", convInKernel = "conv_in_kernel", convOutKernel = "conv_out_kernel"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = UNet2DConditionConfig()
        if let size = try? c.decodeIfPresent(Int.self, forKey: .sampleSize) {
            sampleSize = [size]
        } else {
            sampleSize = try c.decodeIfPresent([Int].self, forKey: .sampleSize) ?? d.sampleSize
        }
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? d.outChannels
        centerInputSample = try c.decodeIfPresent(Bool.self, forKey: .centerInputSample) ?? d.centerInputSample
        flipSinToCos = try c.decodeIfPresent(Bool.self, forKey: .flipSinToCos) ?? d.flipSinToCos
        freqShift = try c.decodeIfPresent(Float.self, forKey: .freqShift) ?? d.freqShift
        downBlockTypes = try c.decodeIfPresent([String].self, forKey: .downBlockTypes) ?? d.downBlockTypes
        // An explicit null means "no mid block"; an absent key means diffusers' default.
        midBlockType =
            c.contains(.midBlockType) ? try c.decodeIfPresent(String.self, forKey: .midBlockType) : d.midBlockType
        upBlockTypes = try c.decodeIfPresent([String].self, forKey: .upBlockTypes) ?? d.upBlockTypes
        onlyCrossAttention =
            try c.decodeIfPresent(PerBlock<Bool>.self, forKey: .onlyCrossAttention) ?? d.onlyCrossAttention
        blockOutChannels = try c.decodeIfPresent([Int].self, forKey: .blockOutChannels) ?? d.blockOutChannels
        layersPerBlock = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .layersPerBlock) ?? d.layersPerBlock
        downsamplePadding = try c.decodeIfPresent(Int.self, forKey: .downsamplePadding) ?? d.downsamplePadding
        midBlockScaleFactor = try c.decodeIfPresent(Float.self, forKey: .midBlockScaleFactor) ?? d.midBlockScaleFactor
        actFn = try c.decodeIfPresent(String.self, forKey: .actFn) ?? d.actFn
        normNumGroups = try c.decodeIfPresent(Int.self, forKey: .normNumGroups) ?? d.normNumGroups
        normEps = try c.decodeIfPresent(Float.self, forKey: .normEps) ?? d.normEps
        crossAttentionDim = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .crossAttentionDim) ?? d.crossAttentionDim
        transformerLayersPerBlock =
            try c.decodeIfPresent(PerBlock<Int>.self, forKey: .transformerLayersPerBlock)
            ?? d.transformerLayersPerBlock
        attentionHeadDim = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .attentionHeadDim) ?? d.attentionHeadDim
        useLinearProjection = try c.decodeIfPresent(Bool.self, forKey: .useLinearProjection) ?? d.useLinearProjection
        upcastAttention = try c.decodeIfPresent(Bool.self, forKey: .upcastAttention) ?? d.upcastAttention
        timeEmbeddingDim = try c.decodeIfPresent(Int.self, forKey: .timeEmbeddingDim)
        convInKernel = try c.decodeIfPresent(Int.self, forKey: .convInKernel) ?? d.convInKernel
        convOutKernel = try c.decodeIfPresent(Int.self, forKey: .convOutKernel) ?? d.convOutKernel
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if sampleSize.count == 1 {
            try c.encode(sampleSize[0], forKey: .sampleSize)
        } else {
            try c.encode(sampleSize, forKey: .sampleSize)
        }
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels)
        try c.encode(centerInputSample, forKey: .centerInputSample)
        try c.encode(flipSinToCos, forKey: .flipSinToCos)
        try c.encode(freqShift, forKey: .freqShift)
        try c.encode(downBlockTypes, forKey: .downBlockTypes)
        try c.encode(midBlockType, forKey: .midBlockType)  // null when there is none, as diffusers writes it
        try c.encode(upBlockTypes, forKey: .upBlockTypes)
        try c.encode(onlyCrossAttention, forKey: .onlyCrossAttention)
        try c.encode(blockOutChannels, forKey: .blockOutChannels)
        try c.encode(layersPerBlock, forKey: .layersPerBlock)
        try c.encode(downsamplePadding, forKey: .downsamplePadding)
        try c.encode(midBlockScaleFactor, forKey: .midBlockScaleFactor)
        try c.encode(actFn, forKey: .actFn)
        try c.encode(normNumGroups, forKey: .normNumGroups)
        try c.encode(normEps, forKey: .normEps)
        try c.encode(crossAttentionDim, forKey: .crossAttentionDim)
        try c.encode(transformerLayersPerBlock, forKey: .transformerLayersPerBlock)
        try c.encode(attentionHeadDim, forKey: .attentionHeadDim)
        try c.encode(useLinearProjection, forKey: .useLinearProjection)
        try c.encode(upcastAttention, forKey: .upcastAttention)
        try c.encode(timeEmbeddingDim, forKey: .timeEmbeddingDim)
        try c.encode(convInKernel, forKey: .convInKernel)
        try c.encode(convOutKernel, forKey: .convOutKernel)
    }

    // MARK: - Per-block values (down path order; the up path reverses them, as diffusers does)

    public var blockCount: Int { blockOutChannels.count }
    public var layers: [Int] { layersPerBlock.values(blockCount) }
    public var heads: [Int] { attentionHeadDim.values(blockCount) }
    public var crossAttentionDims: [Int] { crossAttentionDim.values(blockCount) }
    public var transformerLayers: [Int] { transformerLayersPerBlock.values(blockCount) }
    public var onlyCrossAttentions: [Bool] { onlyCrossAttention.values(blockCount) }

    // MARK: - Checks

    /// What this implementation cannot build from the fields held here; empty when it is fine.
    public func problems() -> [String] {
        var found: [String] = []
        for (i, type) in downBlockTypes.enumerated() where !Self.supportedDownBlockTypes.contains(type) {
            found.append(
                """
                down_block_types[\(i)] '\(type)' is not supported (supported: \
                \(Self.supportedDownBlockTypes.sorted().joined(separator: ", ")))
                """
            )
        }
        for (i, type) in upBlockTypes.enumerated() where !Self.supportedUpBlockTypes.contains(type) {
            found.append(
                """
                up_block_types[\(i)] '\(type)' is not supported (supported: \
                \(Self.supportedUpBlockTypes.sorted().joined(separator: ", ")))
                """
            )
        }
        if let mid = midBlockType, !Self.supportedMidBlockTypes.contains(mid) {
            found.append(
                """
                mid_block_type '\(mid)' is not supported (supported: \
                \(Self.supportedMidBlockTypes.sorted().joined(separator: ", ")), or null)
                """
            )
        }
        if blockOutChannels.isEmpty { found.append("block_out_channels is empty") }
        if downBlockTypes.count != blockCount || upBlockTypes.count != blockCount {
            found.append(
                "down_block_types (\(downBlockTypes.count)), up_block_types (\(upBlockTypes.count)) and "
                    + "block_out_channels (\(blockCount)) must have the same length")
        }
        let lists: [(String, Int?)] = [
            ("layers_per_block", layersPerBlock.count), ("attention_head_dim", attentionHeadDim.count),
            ("cross_attention_dim", crossAttentionDim.count),
            ("transformer_layers_per_block", transformerLayersPerBlock.count),
            ("only_cross_attention", onlyCrossAttention.count)
        ]
        for (name, count) in lists where count != nil && count != blockCount {
            found.append("\(name) has \(count!) entries, expected one per block (\(blockCount))")
        }
        var sizes = ConfigChecks()
        // Each block after the first halves the resolution: more than a dozen leave no pixel of any real image.
        if blockCount > 12 { sizes.add("block_out_channels: expected at most 12 blocks, found \(blockCount)") }
        sizes.sizes("block_out_channels", blockOutChannels)
        sizes.sizes("sample_size", sampleSize, limit: 1 << 16)
        found += sizes.problems
        if !found.isEmpty { return found }  // the checks below index the per-block lists

        var c = ConfigChecks()
        c.sizes("attention_head_dim", heads, limit: ConfigChecks.countLimit)
        c.sizes("cross_attention_dim", crossAttentionDims)
        c.sizes("layers_per_block", layers, limit: ConfigChecks.countLimit)
        c.sizes("transformer_layers_per_block", transformerLayers, limit: ConfigChecks.countLimit)
        c.positive("norm_eps", Double(normEps))
        if let timeEmbeddingDim { c.size("time_embedding_dim", timeEmbeddingDim) }
        c.size("in_channels", inChannels, limit: ConfigChecks.countLimit)
        c.size("out_channels", outChannels, limit: ConfigChecks.countLimit)
        found += c.problems

        if !Self.supportedActivations.contains(actFn) {
            found.append(
                """
                act_fn '\(actFn)' is not supported (supported: \
                \(Self.supportedActivations.sorted().joined(separator: ", ")))
                """
            )
        }
        if normNumGroups <= 0 {
            found.append("norm_num_groups \(normNumGroups) must be positive")
        } else {
            for channels in blockOutChannels where channels % normNumGroups != 0 {
                found.append(
                    "block_out_channels entry \(channels) does not split into norm_num_groups \(normNumGroups)")
            }
        }
        for (i, channels) in blockOutChannels.enumerated() {
            let attended =
                downBlockTypes[i] == "CrossAttnDownBlock2D" || upBlockTypes[blockCount - 1 - i] == "CrossAttnUpBlock2D"
                || (i == blockCount - 1 && midBlockType != nil)
            if attended && (heads[i] < 1 || channels % heads[i] != 0) {
                found.append(
                    "block_out_channels entry \(channels) does not split into attention_head_dim \(heads[i]) heads")
            }
        }
        for (name, kernel) in [("conv_in_kernel", convInKernel), ("conv_out_kernel", convOutKernel)]
        where kernel < 1 || kernel % 2 == 0 {
            found.append("\(name) \(kernel) must be odd")
        }
        if downsamplePadding < 0 { found.append("downsample_padding \(downsamplePadding) must be non-negative") }
        return found
    }

    /// diffusers options that this implementation leaves out, with the values it accepts: a config that sets one of
    /// them to anything else is refused rather than silently computed differently. Keys not listed here and not held
    /// by the struct are either inert for the supported block types (`resnet_out_scale_factor`, `resnet_skip_time_act`,
    /// `cross_attention_norm`, `mid_block_only_cross_attention`, …) or bookkeeping (`_class_name`, …).
    static let unsupportedOptions: [(key: String, accepted: JSONScalar)] = [
        ("num_attention_heads", .null),  // diffusers itself refuses it (issue #2011)
        ("dual_cross_attention", .bool(false)),
        ("resnet_time_scale_shift", .string("default")),
        ("time_embedding_type", .string("positional")),
        ("time_embedding_act_fn", .null),
        ("timestep_post_act", .null),
        ("time_cond_proj_dim", .null),
        ("class_embed_type", .null),
        ("num_class_embeds", .null),
        ("addition_embed_type", .null),
        ("encoder_hid_dim", .null),
        ("encoder_hid_dim_type", .null),
        ("attention_type", .string("default")),
        ("reverse_transformer_layers_per_block", .null),
        // Dropout would make training differ from the reference; inference ignores it, but GRPO trains this model.
        ("dropout", .number(0))
    ]

    /// A JSON scalar as `JSONSerialization` returns it.
    enum JSONScalar: CustomStringConvertible {
        case null, bool(Bool), string(String), number(Double)

        func matches(_ value: Any) -> Bool {
            switch self {
            case .null: return value is NSNull
            case .bool(let b): return (value as? Bool) == b
            case .string(let s): return (value as? String) == s
            case .number(let d): return (value as? Double) == d || (value as? Int).map(Double.init) == d
            }
        }

        var description: String {
            switch self {
            case .null: return "null"
            case .bool(let b): return "\(b)"
            case .string(let s): return "'\(s)'"
            case .number(let d): return "\(d)"
            }
        }
    }

    /// The problems with keys of `object` (the parsed config.json) that the struct does not hold.
    static func unsupportedOptions(in object: [String: Any]) -> [String] {
        unsupportedOptions.compactMap { key, accepted in
            guard let value = object[key], !accepted.matches(value) else { return nil }
            return "\(key) \(value is NSNull ? "null" : "\(value)") is not supported (only \(accepted))"
        }
    }

    /// Reads `config.json` from a `unet/` folder (or the file itself) and checks that this implementation can build it;
    /// the error names the file and every offending key.
    public static func load(_ url: URL) throws -> UNet2DConditionConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(UNet2DConditionConfig.self, from: file)
        let problems = unsupportedOptions(in: try ConfigFile.object(from: file)) + config.problems()
        guard problems.isEmpty else {
            throw ModelConfigError.invalidValues(file: file.path, problems: problems)
        }
        return config
    }
}
