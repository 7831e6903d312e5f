import Checkpoints
import Engine
import Foundation

/// `vae/config.json` of a diffusers checkpoint (`AutoencoderKL`): FLUX.1 (16 latent channels, scaling 0.3611,
/// shift 0.1159, no quant convs) and Stable Diffusion v1 (4 latent channels, scaling 0.18215, no shift) alike. Field
/// names are the file's; absent fields take the defaults of diffusers' `AutoencoderKL.__init__`, so a tiny test
/// config can list only what differs. Keys the Swift model has no use for (`_class_name`, `latents_mean`, …) are
/// ignored.
public struct AutoencoderKLConfig: Codable, Sendable, Equatable {
    public static let supportedDownBlockTypes: Set<String> = ["DownEncoderBlock2D"]
    public static let supportedUpBlockTypes: Set<String> = ["UpDecoderBlock2D"]
    /// diffusers' `get_activation` maps both names to SiLU.
    public static let supportedActivations: Set<String> = ["silu", "swish"]

    public var inChannels = 3
    public var outChannels = 3
    public var downBlockTypes = ["DownEncoderBlock2D"]
    public var upBlockTypes = ["UpDecoderBlock2D"]
    public var blockOutChannels = [64]
    public var layersPerBlock = 1
    public var actFn = "silu"
    public var latentChannels = 4
    public var normNumGroups = 32
    /// The training resolution; one number or `[height, width]` in the file. Only diffusers' tiling reads it.
    public var sampleSize = [32]
    public var scalingFactor: Float = 0.18215
    /// nil (Stable Diffusion) means no shift.
    public var shiftFactor: Float?
    /// Whether diffusers runs this VAE in float32 even in a half-precision pipeline (its fp16 activations overflow).
    public var forceUpcast = true
    public var useQuantConv = true
    public var usePostQuantConv = true
    public var midBlockAddAttention = true

    /// How many times the encoder halves the image (and the decoder doubles the latent): one per block but the last.
    public var downsamplingFactor: Int { 1 << max(0, blockOutChannels.count - 1) }

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels"
        case downBlockTypes = "down_block_types", upBlockTypes = "up_block_types"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block", actFn = "act_fn"
        case latentChannels = "latent_channels", normNumGroups = "norm_num_groups", sampleSize = "sample_size"
        case scalingFactor = "scaling_factor", shiftFactor = "shift_factor", forceUpcast = "force_upcast"
        case useQuantConv = "use_quant_conv", usePostQuantConv = "use_post_quant_conv"
        case midBlockAddAttention = "mid_block_add_attention"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AutoencoderKLConfig()
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? d.outChannels
        downBlockTypes = try c.decodeIfPresent([String].self, forKey: .downBlockTypes) ?? d.downBlockTypes
        upBlockTypes = try c.decodeIfPresent([String].self, forKey: .upBlockTypes) ?? d.upBlockTypes
        blockOutChannels = try c.decodeIfPresent([Int].self, forKey: .blockOutChannels) ?? d.blockOutChannels
        layersPerBlock = try c.decodeIfPresent(Int.self, forKey: .layersPerBlock) ?? d.layersPerBlock
        actFn = try c.decodeIfPresent(String.self, forKey: .actFn) ?? d.actFn
        latentChannels = try c.decodeIfPresent(Int.self, forKey: .latentChannels) ?? d.latentChannels
        normNumGroups = try c.decodeIfPresent(Int.self, forKey: .normNumGroups) ?? d.normNumGroups
        if let size = try? c.decodeIfPresent(Int.self, forKey: .sampleSize) {
            sampleSize = [size]
        } else {
            sampleSize = try c.decodeIfPresent([Int].self, forKey: .sampleSize) ?? d.sampleSize
        }
        scalingFactor = try c.decodeIfPresent(Float.self, forKey: .scalingFactor) ?? d.scalingFactor
        shiftFactor = try c.decodeIfPresent(Float.self, forKey: .shiftFactor)
        forceUpcast = try c.decodeIfPresent(Bool.self, forKey: .forceUpcast) ?? d.forceUpcast
        useQuantConv = try c.decodeIfPresent(Bool.self, forKey: .useQuantConv) ?? d.useQuantConv
        usePostQuantConv = try c.decodeIfPresent(Bool.self, forKey: .usePostQuantConv) ?? d.usePostQuantConv
        midBlockAddAttention = try c.decodeIfPresent(Bool.self, forKey: .midBlockAddAttention) ?? d.midBlockAddAttention
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels)
        try c.encode(downBlockTypes, forKey: .downBlockTypes)
        try c.encode(upBlockTypes, forKey: .upBlockTypes)
        try c.encode(blockOutChannels, forKey: .blockOutChannels)
        try c.encode(layersPerBlock, forKey: .layersPerBlock)
        try c.encode(actFn, forKey: .actFn)
        try c.encode(latentChannels, forKey: .latentChannels)
        try c.encode(normNumGroups, forKey: .normNumGroups)
        if sampleSize.count == 1 {
            try c.encode(sampleSize[0], forKey: .sampleSize)
        } else {
            try c.encode(sampleSize, forKey: .sampleSize)
        }
        try c.encode(scalingFactor, forKey: .scalingFactor)
        try c.encode(shiftFactor, forKey: .shiftFactor)  // null when absent, as diffusers writes it
        try c.encode(forceUpcast, forKey: .forceUpcast)
        try c.encode(useQuantConv, forKey: .useQuantConv)
        try c.encode(usePostQuantConv, forKey: .usePostQuantConv)
        try c.encode(midBlockAddAttention, forKey: .midBlockAddAttention)
    }

    /// What this implementation cannot build from the config; empty when it is fine.
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
        if blockOutChannels.isEmpty { found.append("block_out_channels is empty") }
        if downBlockTypes.count != blockOutChannels.count || upBlockTypes.count != blockOutChannels.count {
            found.append(
                "down_block_types (\(downBlockTypes.count)), up_block_types (\(upBlockTypes.count)) and "
                    + "block_out_channels (\(blockOutChannels.count)) must have the same length")
        }
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
        var c = ConfigChecks()
        // Each block after the first halves the resolution (downsamplingFactor is 2^(blocks − 1)).
        if blockOutChannels.count > 12 {
            c.add("block_out_channels: expected at most 12 blocks, found \(blockOutChannels.count)")
        }
        c.sizes("block_out_channels", blockOutChannels)
        c.sizes("sample_size", sampleSize, limit: 1 << 16)
        c.size("layers_per_block", layersPerBlock, limit: ConfigChecks.countLimit)
        c.size("in_channels", inChannels, limit: ConfigChecks.countLimit)
        c.size("out_channels", outChannels, limit: ConfigChecks.countLimit)
        c.size("latent_channels", latentChannels, limit: ConfigChecks.countLimit)
        found += c.problems
        if scalingFactor == 0 || !scalingFactor.isFinite {
            found.append("scaling_factor \(scalingFactor) must be finite and nonzero")
        }
        return found
    }

    /// Reads `config.json` from a `vae/` folder (or the file itself) and checks that this implementation can build it.
    public static func load(_ url: URL) throws -> AutoencoderKLConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(AutoencoderKLConfig.self, from: file)
        let problems = config.problems()
        guard problems.isEmpty else {
            throw ModelConfigError.invalidValues(file: file.path, problems: problems)
        }
        return config
    }
}
