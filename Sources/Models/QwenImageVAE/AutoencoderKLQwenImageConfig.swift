import Checkpoints
import Foundation

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_qwenimage.py#L685
/// `vae/config.json` of Qwen-Image and Qwen-Image-Edit (`AutoencoderKLQwenImage`: base_dim 96, z_dim 16, dim_mult
/// [1, 2, 4, 4], num_res_blocks 2, temperal_downsample [false, true, true], and Wan 2.1's latents_mean/std). The
/// network is Wan 2.1's VAE (fine-tuned weights, same module tree and keys), so this is a thin adapter onto
/// ``AutoencoderKLWanConfig``. What the file differs in from Wan's:
/// - one `input_channels` for the encoder's input and the decoder's output (Wan has `in_channels`, `out_channels`);
/// - no `decoder_base_dim`, `is_residual`, `patch_size` (Wan 2.2's options): always Wan 2.1's structure;
/// - no `scale_factor_spatial`/`_temporal`: the compression is `2 ** len(temperal_downsample)` spatially, as
///   diffusers' `spatial_compression_ratio` and the Qwen pipelines' `vae_scale_factor` compute it.
/// Absent fields take the defaults of diffusers' `__init__`; unknown keys are ignored.
public struct AutoencoderKLQwenImageConfig: Codable, Sendable, Equatable {
    public var baseDim = 96
    public var zDim = 16
    public var dimMult = [1, 2, 4, 4]
    public var numResBlocks = 2
    /// Only empty is supported, for the reason ``AutoencoderKLWanConfig/attnScales`` gives (diffusers' Qwen encoder
    /// passes the feature cache to its attention blocks just as Wan's does).
    public var attnScales: [Double] = []
    public var temperalDownsample = [false, true, true]
    public var dropout: Double = 0
    /// Channels of the images in (encoder) and out (decoder).
    public var inputChannels = 3
    public var latentsMean = AutoencoderKLWanConfig().latentsMean
    public var latentsStd = AutoencoderKLWanConfig().latentsStd

    enum CodingKeys: String, CodingKey {
        case baseDim = "base_dim", zDim = "z_dim", dimMult = "dim_mult", numResBlocks = "num_res_blocks"
        case attnScales = "attn_scales", temperalDownsample = "temperal_downsample", dropout
        case inputChannels = "input_channels", latentsMean = "latents_mean", latentsStd = "latents_std"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AutoencoderKLQwenImageConfig()
        baseDim = try c.decodeIfPresent(Int.self, forKey: .baseDim) ?? d.baseDim
        zDim = try c.decodeIfPresent(Int.self, forKey: .zDim) ?? d.zDim
        dimMult = try c.decodeIfPresent([Int].self, forKey: .dimMult) ?? d.dimMult
        numResBlocks = try c.decodeIfPresent(Int.self, forKey: .numResBlocks) ?? d.numResBlocks
        attnScales = try c.decodeIfPresent([Double].self, forKey: .attnScales) ?? d.attnScales
        temperalDownsample = try c.decodeIfPresent([Bool].self, forKey: .temperalDownsample) ?? d.temperalDownsample
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? d.dropout
        inputChannels = try c.decodeIfPresent(Int.self, forKey: .inputChannels) ?? d.inputChannels
        latentsMean = try c.decodeIfPresent([Float].self, forKey: .latentsMean) ?? d.latentsMean
        latentsStd = try c.decodeIfPresent([Float].self, forKey: .latentsStd) ?? d.latentsStd
    }

    /// The same network as a Wan config: what ``AutoencoderKLQwenImage`` builds.
    public var wan: AutoencoderKLWanConfig {
        var w = AutoencoderKLWanConfig()
        w.baseDim = baseDim
        w.decoderBaseDim = nil
        w.zDim = zDim
        w.dimMult = dimMult
        w.numResBlocks = numResBlocks
        w.attnScales = attnScales
        w.temperalDownsample = temperalDownsample
        w.dropout = dropout
        w.latentsMean = latentsMean
        w.latentsStd = latentsStd
        w.inChannels = inputChannels
        w.outChannels = inputChannels
        w.scaleFactorSpatial = w.spatialCompression
        w.scaleFactorTemporal = w.temporalCompression
        return w
    }

    /// How many times the VAE halves height and width (the Qwen pipelines' `vae_scale_factor`, 8).
    public var spatialCompression: Int { 1 << temperalDownsample.count }

    /// What this implementation cannot build from the config, each naming this file's key; empty when it is fine.
    public func problems() -> [String] {
        // Wan's checks with its channel keys renamed to this file's one key (reported once).
        var seen = Set<String>()
        return wan.problems().compactMap { problem in
            var p = problem
            for key in ["in_channels:", "out_channels:"] where p.hasPrefix(key) {
                p = "input_channels:" + p.dropFirst(key.count)
            }
            return seen.insert(p).inserted ? p : nil
        }
    }

    /// Reads `config.json` from a `vae/` folder (or the file itself) and checks that this implementation can build it.
    public static func load(_ url: URL) throws -> AutoencoderKLQwenImageConfig {
        let file = url.hasDirectoryPath || url.pathExtension.isEmpty ? url.appendingPathComponent("config.json") : url
        let config = try ConfigFile.decode(AutoencoderKLQwenImageConfig.self, from: file)
        let problems = config.problems()
        guard problems.isEmpty else { throw ModelConfigError.invalidValues(file: file.path, problems: problems) }
        return config
    }
}
