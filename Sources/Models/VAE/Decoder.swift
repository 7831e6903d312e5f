import Engine
import NN

/// One level of the VAE decoder, diffusers' `UpDecoderBlock2D`: `resnets.*` (`layers_per_block + 1` of them), then
/// (all levels but the last) `upsamplers.0`, doubling height and width. Activations are channels-last, `[N, H, W, C]`.
public final class UpDecoderBlock2D: Module, UnaryLayer {
    public let resnets: [ResnetBlock2D]
    /// Empty on the last level (diffusers: `upsamplers = None`).
    public let upsamplers: [Upsample2D]

    public init(
        inChannels: Int, outChannels: Int, layers: Int, groups: Int, upsample: Bool, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: layers + 1)
        resnets = (0..<layers).map {
            ResnetBlock2D(
                inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels, groups: groups,
                dtype: dtype, key: keys[$0])
        }
        upsamplers = upsample ? [Upsample2D(channels: outChannels, dtype: dtype, key: keys[layers])] : []
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = resnets.reduce(x) { $1($0) }
        return upsamplers.reduce(h) { $1($0) }
    }
}

/// The VAE decoder (diffusers' `vae.Decoder`, group norm): `conv_in`, `mid_block`, `up_blocks.*` (block channels
/// in reverse), `conv_norm_out`, SiLU, `conv_out`. Maps latents `[N, h, w, latent_channels]` (after
/// `post_quant_conv`) to images `[N, h·f, w·f, out_channels]`, f = ``AutoencoderKLConfig/downsamplingFactor``.
public final class VAEDecoder: Module, UnaryLayer {
    @Child(key: "conv_in") public var convIn: Conv2d
    @Child(key: "mid_block") public var midBlock: VAEMidBlock
    @Child(key: "up_blocks") public var upBlocks: [UpDecoderBlock2D]
    @Child(key: "conv_norm_out") public var convNormOut: GroupNorm
    @Child(key: "conv_out") public var convOut: Conv2d

    public init(_ config: AutoencoderKLConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        super.init()
        let channels = Array(config.blockOutChannels.reversed()), groups = config.normNumGroups
        let keys = key.split(into: channels.count + 3)
        convIn = Conv2d(config.latentChannels, channels[0], kernelSize: 3, padding: 1, dtype: dtype, key: keys[0])
        midBlock = VAEMidBlock(
            channels: channels[0], groups: groups, addAttention: config.midBlockAddAttention,
            dtype: dtype, key: keys[1])
        upBlocks = channels.indices.map { i in
            UpDecoderBlock2D(
                inChannels: i == 0 ? channels[0] : channels[i - 1], outChannels: channels[i],
                layers: config.layersPerBlock + 1, groups: groups, upsample: i < channels.count - 1,
                dtype: dtype, key: keys[3 + i])
        }
        convNormOut = GroupNorm(groups: groups, channels: channels.last!, eps: 1e-6, dtype: dtype)
        convOut = Conv2d(channels.last!, config.outChannels, kernelSize: 3, padding: 1, dtype: dtype, key: keys[2])
    }

    public func callAsFunction(_ latents: Tensor) -> Tensor {
        let h = upBlocks.reduce(midBlock(convIn(latents))) { $1($0) }
        return convOut(silu(convNormOut(h)))
    }
}
