import Engine
import NN

/// One level of the VAE encoder, diffusers' `DownEncoderBlock2D`: `resnets.*`, then (all levels but the last)
/// `downsamplers.0`, halving height and width. Activations are channels-last, `[N, H, W, C]`.
public final class DownEncoderBlock2D: Module, UnaryLayer {
    public let resnets: [ResnetBlock2D]
    /// Empty on the last level, which keeps the resolution (diffusers: `downsamplers = None`).
    public let downsamplers: [Downsample2D]

    public init(
        inChannels: Int, outChannels: Int, layers: Int, groups: Int, downsample: Bool, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: layers + 1)
        resnets = (0..<layers).map {
            ResnetBlock2D(
                inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels, groups: groups,
                dtype: dtype, key: keys[$0])
        }
        downsamplers = downsample ? [Downsample2D(channels: outChannels, dtype: dtype, key: keys[layers])] : []
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = resnets.reduce(x) { $1($0) }
        return downsamplers.reduce(h) { $1($0) }
    }
}

/// The VAE encoder (diffusers' `vae.Encoder` with `double_z=True`): `conv_in`, `down_blocks.*`, `mid_block`,
/// `conv_norm_out`, SiLU, `conv_out`. Maps images `[N, H, W, in_channels]` to the posterior's moments
/// `[N, H/f, W/f, 2·latent_channels]` (mean channels first, then log-variance; f =
/// ``AutoencoderKLConfig/downsamplingFactor``).
public final class VAEEncoder: Module, UnaryLayer {
    @Child(key: "conv_in") public var convIn: Conv2d
    @Child(key: "down_blocks") public var downBlocks: [DownEncoderBlock2D]
    @Child(key: "mid_block") public var midBlock: VAEMidBlock
    @Child(key: "conv_norm_out") public var convNormOut: GroupNorm
    @Child(key: "conv_out") public var convOut: Conv2d

    public init(_ config: AutoencoderKLConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        super.init()
        let channels = config.blockOutChannels, groups = config.normNumGroups
        let keys = key.split(into: channels.count + 3)
        convIn = Conv2d(config.inChannels, channels[0], kernelSize: 3, padding: 1, dtype: dtype, key: keys[0])
        downBlocks = channels.indices.map { i in
            DownEncoderBlock2D(
                inChannels: i == 0 ? channels[0] : channels[i - 1], outChannels: channels[i],
                layers: config.layersPerBlock, groups: groups, downsample: i < channels.count - 1,
                dtype: dtype, key: keys[3 + i])
        }
        midBlock = VAEMidBlock(
            channels: channels.last!, groups: groups, addAttention: config.midBlockAddAttention,
            dtype: dtype, key: keys[1])
        convNormOut = GroupNorm(groups: groups, channels: channels.last!, eps: 1e-6, dtype: dtype)
        convOut = Conv2d(
            channels.last!, 2 * config.latentChannels, kernelSize: 3, padding: 1, dtype: dtype, key: keys[2])
    }

    public func callAsFunction(_ images: Tensor) -> Tensor {
        let h = downBlocks.reduce(convIn(images)) { $1($0) }
        return convOut(silu(convNormOut(midBlock(h))))
    }
}
