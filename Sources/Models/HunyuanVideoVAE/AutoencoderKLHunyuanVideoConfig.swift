import Checkpoints
import Foundation

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L637
/// `vae/config.json` of a diffusers HunyuanVideo checkpoint (`AutoencoderKLHunyuanVideo`, e.g.
/// `hunyuanvideo-community/HunyuanVideo`: block_out_channels [128, 256, 512, 512], latent_channels 16, two resnets per
/// down block, spatial compression 8, temporal 4). Field names are the file's; absent fields take the defaults of
/// diffusers' `AutoencoderKLHunyuanVideo.__init__`, which are the released model's, so diffusers has no required field
/// and neither has this. Unknown keys (`_class_name`, …) are ignored.
public struct AutoencoderKLHunyuanVideoConfig: Codable, Sendable, Equatable {
    public static let downBlockType = "HunyuanVideoDownBlock3D"
    public static let upBlockType = "HunyuanVideoUpBlock3D"

    public var inChannels = 3
    public var outChannels = 3
    public var latentChannels = 16
    /// One entry per encoder block; diffusers builds only `HunyuanVideoDownBlock3D`.
    public var downBlockTypes = Array(repeating: Self.downBlockType, count: 4)
    /// One entry per decoder block; diffusers builds only `HunyuanVideoUpBlock3D`.
    public var upBlockTypes = Array(repeating: Self.upBlockType, count: 4)
    /// Widths of the encoder blocks (the decoder runs them in reverse).
    public var blockOutChannels = [128, 256, 512, 512]
    /// Resnets per down block; the up blocks have one more.
    public var layersPerBlock = 2
    /// The resnets' activation; only SiLU (`"silu"`, `"swish"`) is built.
    public var actFn = "silu"
    public var normNumGroups = 32
    /// What the pipelines multiply raw latents by before the transformer (and divide by before ``decode``).
    public var scalingFactor = 0.476986
    /// Height and width shrink by this (a power of two): the first log2 of it blocks halve them.
    public var spatialCompressionRatio = 8
    /// Time shrinks by this: F = 1 + 4k frames give 1 + k latent frames. Only 4 (diffusers' decoder takes nothing
    /// else).
    public var temporalCompressionRatio = 4
    public var midBlockAddAttention = true

    /// The blocks (down or up) in index order.
    public var blockCount: Int { blockOutChannels.count }

    /// Per block index (encoder order for the down blocks, decoder order for the up blocks: diffusers uses the same
    /// rule for both), the stride of its down- or upsampler over time and over height and width; (1, 1) means the
    /// block has none. The first log2(`spatial_compression_ratio`) blocks halve height and width; with temporal
    /// compression 4 the two blocks before the last also halve time. The released model: (1, 2), (2, 2), (2, 2),
    /// (1, 1).
    public var blockStrides: [(time: Int, space: Int)] {
        let spatialLayers = spatialCompressionRatio > 0 ? spatialCompressionRatio.trailingZeroBitCount : 0
        let n = blockCount
        return (0..<n).map { i in
            (time: i >= n - 3 && i != n - 1 ? 2 : 1, space: i < spatialLayers ? 2 : 1)
        }
    }

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", latentChannels = "latent_channels"
        case downBlockTypes = "down_block_types", upBlockTypes = "up_block_types"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block", actFn = "act_fn"
        case normNumGroups = "norm_num_groups", scalingFactor = "scaling_factor"
        case spatialCompressionRatio = "spatial_compression_ratio"
        case temporalCompressionRatio = "temporal_compression_ratio", midBlockAddAttention = "mid_block_add_attention"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AutoencoderKLHunyuanVideoConfig()
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? d.outChannels
        latentChannels = try c.decodeIfPresent(Int.self, forKey: .latentChannels) ?? d.latentChannels
        downBlockTypes = try c.decodeIfPresent([String].self, forKey: .downBlockTypes) ?? d.downBlockTypes
        upBlockTypes = try c.decodeIfPresent([String].self, forKey: .upBlockTypes) ?? d.upBlockTypes
        blockOutChannels = try c.decodeIfPresent([Int].self, forKey: .blockOutChannels) ?? d.blockOutChannels
        layersPerBlock = try c.decodeIfPresent(Int.self, forKey: .layersPerBlock) ?? d.layersPerBlock
        actFn = try c.decodeIfPresent(String.self, forKey: .actFn) ?? d.actFn
        normNumGroups = try c.decodeIfPresent(Int.self, forKey: .normNumGroups) ?? d.normNumGroups
        scalingFactor = try c.decodeIfPresent(Double.self, forKey: .scalingFactor) ?? d.scalingFactor
        spatialCompressionRatio =
            try c.decodeIfPresent(Int.self, forKey: .spatialCompressionRatio) ?? d.spatialCompressionRatio
        temporalCompressionRatio =
            try c.decodeIfPresent(Int.self, forKey: .temporalCompressionRatio) ?? d.temporalCompressionRatio
        midBlockAddAttention = try c.decodeIfPresent(Bool.self, forKey: .midBlockAddAttention) ?? d.midBlockAddAttention
    }

    /// What this implementation cannot build from the config, each naming its key; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        c.size("in_channels", inChannels, limit: ConfigChecks.countLimit)
        c.size("out_channels", outChannels, limit: ConfigChecks.countLimit)
        c.size("latent_channels", latentChannels, limit: ConfigChecks.countLimit)
        c.count("layers_per_block", layersPerBlock)
        c.size("norm_num_groups", normNumGroups, limit: ConfigChecks.countLimit)
        if blockOutChannels.isEmpty || blockOutChannels.count > 12 {
            c.add("block_out_channels: expected 1 to 12 blocks, found \(blockOutChannels.count)")
        }
        c.sizes("block_out_channels", blockOutChannels, limit: 1 << 14)
        for (i, width) in blockOutChannels.enumerated() {
            c.multiple("block_out_channels[\(i)]", width, of: "norm_num_groups", normNumGroups)
        }
        for (key, types, expected) in [
            ("down_block_types", downBlockTypes, Self.downBlockType), ("up_block_types", upBlockTypes, Self.upBlockType)
        ] {
            if types.count != blockOutChannels.count {
                c.add(
                    "\(key): expected one entry per block_out_channels entry (\(blockOutChannels.count)), found "
                        + "\(types.count)")
            }
            for (i, type) in types.enumerated() where type != expected {
                c.add("\(key)[\(i)]: expected \"\(expected)\", found \"\(type)\"")
            }
        }
        if actFn != "silu" && actFn != "swish" { c.add("act_fn: only \"silu\" is supported, found \"\(actFn)\"") }
        if !(scalingFactor.isFinite && scalingFactor != 0) {
            c.add("scaling_factor: expected a finite nonzero number, found \(scalingFactor)")
        }
        let spatialIsPower = spatialCompressionRatio > 0 && spatialCompressionRatio & (spatialCompressionRatio - 1) == 0
        if !spatialIsPower || spatialCompressionRatio.trailingZeroBitCount > blockOutChannels.count {
            c.add(
                "spatial_compression_ratio: expected a power of two with at most one halving per block "
                    + "(\(blockOutChannels.count) blocks), found \(spatialCompressionRatio)")
        }
        if temporalCompressionRatio != 4 {
            c.add(
                "temporal_compression_ratio: only 4 is supported (diffusers' decoder), found "
                    + "\(temporalCompressionRatio)")
        } else if blockOutChannels.count < 3 {
            c.add(
                "block_out_channels: temporal compression 4 needs at least 3 blocks (the two before the last halve "
                    + "time), found \(blockOutChannels.count)")
        }
        return c.problems
    }

    /// Reads `config.json` from a `vae/` folder (or the file itself) and checks that this implementation can build it.
    public static func load(_ url: URL) throws -> AutoencoderKLHunyuanVideoConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(AutoencoderKLHunyuanVideoConfig.self, from: file)
        let problems = config.problems()
        guard problems.isEmpty else { throw ModelConfigError.invalidValues(file: file.path, problems: problems) }
        return config
    }
}
