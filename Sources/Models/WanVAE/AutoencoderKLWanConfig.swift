import Checkpoints
import Foundation

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L979
/// `vae/config.json` of a Wan 2.1 diffusers checkpoint (`AutoencoderKLWan`, e.g. `Wan-AI/Wan2.1-T2V-1.3B-Diffusers`:
/// base_dim 96, z_dim 16, dim_mult [1, 2, 4, 4], num_res_blocks 2, temperal_downsample [false, true, true]). Field
/// names are the file's (diffusers spells `temperal`); absent fields take the defaults of diffusers'
/// `AutoencoderKLWan.__init__`, which are Wan 2.1's, so diffusers has no required field and neither has this.
/// Unknown keys are ignored.
public struct AutoencoderKLWanConfig: Codable, Sendable, Equatable {
    public var baseDim = 96
    /// The decoder's base width; nil means `base_dim`.
    public var decoderBaseDim: Int?
    public var zDim = 16
    /// Channel multipliers of the levels (encoder order); every level but the last halves height and width.
    public var dimMult = [1, 2, 4, 4]
    public var numResBlocks = 2
    /// Levels (as 1, 1/2, 1/4, …) whose encoder blocks get attention. Only empty is supported: diffusers 0.42.1's
    /// encoder calls its attention blocks with the feature cache they do not take, so it cannot encode with them.
    public var attnScales: [Double] = []
    /// Per level transition: whether it also halves time (the decoder doubles time in the mirrored order).
    public var temperalDownsample = [false, true, true]
    /// Unused at inference (diffusers' VAE runs in eval mode); kept so the file round-trips.
    public var dropout: Double = 0
    /// Per-channel statistics of the raw latents, used by the pipelines to normalise them (``AutoencoderKLWan``'s
    /// `normalize`/`denormalize`).
    public var latentsMean: [Float] = [
        -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517, -0.3632,
        -0.1922, -0.9497, 0.2503, -0.2921
    ]
    public var latentsStd: [Float] = [
        2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253,
        2.8251, 1.9160
    ]
    /// Wan 2.2's residual up/down blocks; not supported.
    public var isResidual = false
    public var inChannels = 3
    public var outChannels = 3
    /// Wan 2.2's patchified input; nil (or 1) is Wan 2.1's.
    public var patchSize: Int?
    /// What the pipelines read as the VAE's compression (nil falls back to 4 and 8 there, as in WanPipeline).
    public var scaleFactorTemporal: Int? = 4
    public var scaleFactorSpatial: Int? = 8

    /// The decoder's base width, `decoder_base_dim ?? base_dim`.
    public var decoderDim: Int { decoderBaseDim ?? baseDim }
    /// How many times the encoder halves height and width: diffusers' `spatial_compression_ratio`,
    /// `2 ** len(temperal_downsample)` (8 for Wan 2.1).
    public var spatialCompression: Int { 1 << temperalDownsample.count }
    /// How many times the encoder shortens time (4 for Wan 2.1): F = 1 + 4k frames give 1 + k latent frames.
    public var temporalCompression: Int { 1 << temperalDownsample.filter { $0 }.count }

    enum CodingKeys: String, CodingKey {
        case baseDim = "base_dim", decoderBaseDim = "decoder_base_dim", zDim = "z_dim", dimMult = "dim_mult"
        case numResBlocks = "num_res_blocks", attnScales = "attn_scales", temperalDownsample = "temperal_downsample"
        case dropout, latentsMean = "latents_mean", latentsStd = "latents_std", isResidual = "is_residual"
        case inChannels = "in_channels", outChannels = "out_channels", patchSize = "patch_size"
        case scaleFactorTemporal = "scale_factor_temporal", scaleFactorSpatial = "scale_factor_spatial"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AutoencoderKLWanConfig()
        baseDim = try c.decodeIfPresent(Int.self, forKey: .baseDim) ?? d.baseDim
        decoderBaseDim = try c.decodeIfPresent(Int.self, forKey: .decoderBaseDim)
        zDim = try c.decodeIfPresent(Int.self, forKey: .zDim) ?? d.zDim
        dimMult = try c.decodeIfPresent([Int].self, forKey: .dimMult) ?? d.dimMult
        numResBlocks = try c.decodeIfPresent(Int.self, forKey: .numResBlocks) ?? d.numResBlocks
        attnScales = try c.decodeIfPresent([Double].self, forKey: .attnScales) ?? d.attnScales
        temperalDownsample = try c.decodeIfPresent([Bool].self, forKey: .temperalDownsample) ?? d.temperalDownsample
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? d.dropout
        latentsMean = try c.decodeIfPresent([Float].self, forKey: .latentsMean) ?? d.latentsMean
        latentsStd = try c.decodeIfPresent([Float].self, forKey: .latentsStd) ?? d.latentsStd
        isResidual = try c.decodeIfPresent(Bool.self, forKey: .isResidual) ?? d.isResidual
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? d.outChannels
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize)
        // An explicit null stays null (the pipelines then use their own fallback); absent takes the default.
        scaleFactorTemporal =
            c.contains(.scaleFactorTemporal)
            ? try c.decodeIfPresent(Int.self, forKey: .scaleFactorTemporal) : d.scaleFactorTemporal
        scaleFactorSpatial =
            c.contains(.scaleFactorSpatial)
            ? try c.decodeIfPresent(Int.self, forKey: .scaleFactorSpatial) : d.scaleFactorSpatial
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(baseDim, forKey: .baseDim)
        try c.encode(decoderBaseDim, forKey: .decoderBaseDim)  // null when absent, as diffusers writes it
        try c.encode(zDim, forKey: .zDim)
        try c.encode(dimMult, forKey: .dimMult)
        try c.encode(numResBlocks, forKey: .numResBlocks)
        try c.encode(attnScales, forKey: .attnScales)
        try c.encode(temperalDownsample, forKey: .temperalDownsample)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(latentsMean, forKey: .latentsMean)
        try c.encode(latentsStd, forKey: .latentsStd)
        try c.encode(isResidual, forKey: .isResidual)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels)
        try c.encode(patchSize, forKey: .patchSize)
        try c.encode(scaleFactorTemporal, forKey: .scaleFactorTemporal)
        try c.encode(scaleFactorSpatial, forKey: .scaleFactorSpatial)
    }

    /// What this implementation cannot build from the config, each naming its key; empty when it is fine.
    public func problems() -> [String] {
        var c = ConfigChecks()
        c.size("base_dim", baseDim)
        if let decoderBaseDim { c.size("decoder_base_dim", decoderBaseDim) }
        c.size("z_dim", zDim, limit: ConfigChecks.countLimit)
        c.size("in_channels", inChannels, limit: ConfigChecks.countLimit)
        c.size("out_channels", outChannels, limit: ConfigChecks.countLimit)
        c.size("num_res_blocks", numResBlocks, limit: ConfigChecks.countLimit)
        if dimMult.isEmpty || dimMult.count > 12 {
            c.add("dim_mult: expected 1 to 12 levels, found \(dimMult.count)")
        }
        c.sizes("dim_mult", dimMult, limit: 1 << 10)
        if temperalDownsample.count != dimMult.count - 1 {
            c.add(
                "temperal_downsample: expected one entry per level transition (\(dimMult.count - 1) for dim_mult "
                    + "\(dimMult)), found \(temperalDownsample.count)")
        }
        // Every decoder level after the first starts from the previous level's upsampler, which halves the channels.
        for (i, m) in dimMult.dropFirst().enumerated() where m > 0 && decoderDim > 0 && decoderDim * m < 2 {
            c.add("dim_mult[\(i + 1)]: decoder_base_dim × \(m) leaves no channel after the upsampler halves it")
        }
        if latentsMean.count != zDim {
            c.add("latents_mean: expected z_dim \(zDim) entries, found \(latentsMean.count)")
        }
        if latentsStd.count != zDim { c.add("latents_std: expected z_dim \(zDim) entries, found \(latentsStd.count)") }
        for (i, s) in latentsStd.enumerated() where !(s.isFinite && s != 0) {
            c.add("latents_std[\(i)]: expected a finite nonzero number, found \(s)")
        }
        if !attnScales.isEmpty {
            c.add(
                "attn_scales: only [] is supported (diffusers 0.42.1 cannot encode with encoder attention), found "
                    + "\(attnScales)")
        }
        if isResidual { c.add("is_residual: Wan 2.2's residual blocks are not supported, found true") }
        if let patchSize, patchSize != 1 {
            c.add("patch_size: Wan 2.2's patchified VAE is not supported, found \(patchSize)")
        }
        return c.problems
    }

    /// Reads `config.json` from a `vae/` folder (or the file itself) and checks that this implementation can build it.
    public static func load(_ url: URL) throws -> AutoencoderKLWanConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(AutoencoderKLWanConfig.self, from: file)
        let problems = config.problems()
        guard problems.isEmpty else { throw ModelConfigError.invalidValues(file: file.path, problems: problems) }
        return config
    }
}
