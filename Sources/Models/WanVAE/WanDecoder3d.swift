import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L723
/// diffusers' `WanUpBlock`:
/// `num_res_blocks + 1` ``WanResidualBlock``s, then (all levels but the last) `upsamplers.0`, a ``WanResample``
/// whose convolution halves the channels. Activations `[B, T, H, W, C]`.
public final class WanUpBlock: Module {
    public let resnets: [WanResidualBlock]
    /// Empty on the last level (diffusers: `upsamplers = None`).
    public let upsamplers: [WanResample]

    public init(
        inChannels: Int, outChannels: Int, residualBlocks: Int, upsample: WanResample.Mode?, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: residualBlocks + 1)
        resnets = (0..<residualBlocks).map {
            WanResidualBlock(
                inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels, dtype: dtype, key: keys[$0])
        }
        upsamplers =
            upsample.map { [WanResample(channels: outChannels, mode: $0, dtype: dtype, key: keys.last!)] } ?? []
        super.init()
    }

    public func callAsFunction(_ x: Tensor, cache: WanFeatureCache) -> Tensor {
        let h = resnets.reduce(x) { $1($0, cache: cache) }
        return upsamplers.reduce(h) { $1($0, cache: cache) }
    }
}

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L792
/// diffusers' `WanDecoder3d` for Wan 2.1 (`is_residual=False`):
/// `conv_in` from z_dim, `mid_block`, `up_blocks` (the encoder's levels mirrored, time doubled where the encoder
/// halved it), `norm_out`, SiLU, `conv_out`. Widths are `decoder_base_dim × [dim_mult.last] + dim_mult reversed`;
/// every level after the first starts at half the previous level's width, what its upsampler leaves. Activations
/// `[B, T, H, W, C]`.
public final class WanDecoder3d: Module {
    @Child(key: "conv_in") public var convIn: WanCausalConv3d
    @Child(key: "mid_block") public var midBlock: WanMidBlock
    @Child(key: "up_blocks") public var upBlocks: [WanUpBlock]
    @Child(key: "norm_out") public var normOut: WanRMSNorm
    @Child(key: "conv_out") public var convOut: WanCausalConv3d

    public init(_ config: AutoencoderKLWanConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        super.init()
        let levels = config.dimMult.count
        let base = config.decoderDim
        let dims = ([config.dimMult.last!] + config.dimMult.reversed()).map { base * $0 }
        let temporalUpsample = Array(config.temperalDownsample.reversed())
        let keys = key.split(into: 3 + levels)
        convIn = WanCausalConv3d(config.zDim, dims[0], kernelSize: 3, padding: 1, dtype: dtype, key: keys[0])
        midBlock = WanMidBlock(channels: dims[0], dtype: dtype, key: keys[1])
        upBlocks = (0..<levels).map { level in
            let mode: WanResample.Mode? =
                level == levels - 1 ? nil : temporalUpsample[level] ? .upsample3d : .upsample2d
            return WanUpBlock(
                inChannels: level == 0 ? dims[0] : dims[level] / 2, outChannels: dims[level + 1],
                residualBlocks: config.numResBlocks + 1, upsample: mode, dtype: dtype, key: keys[3 + level])
        }
        normOut = WanRMSNorm(dims[levels], images: false, dtype: dtype)
        convOut = WanCausalConv3d(
            dims[levels], config.outChannels, kernelSize: 3, padding: 1, dtype: dtype, key: keys[2])
    }

    /// One latent frame (or chunk) `[B, t, h, w, z_dim]` → video `[B, T, h·s, w·s, out_channels]`, not clamped; the
    /// first chunk gives one frame per latent frame, later ones the temporal compression's worth.
    public func callAsFunction(_ z: Tensor, cache: WanFeatureCache) -> Tensor {
        var h = midBlock(convIn(z, cache: cache), cache: cache)
        h = upBlocks.reduce(h) { $1($0, cache: cache) }
        return convOut(silu(normOut(h)), cache: cache)
    }
}
