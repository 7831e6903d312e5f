import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L347
/// diffusers' `HunyuanVideoUpBlock3D`: `resnets` (`layers_per_block + 1` of them, the first changing the width), then
/// `upsamplers.0` when the block enlarges time or space. Activations `[B, T, H, W, C]`.
public final class HunyuanVideoUpBlock3D: Module, UnaryLayer {
    public let resnets: [HunyuanVideoResnetBlockCausal3D]
    public let upsamplers: [HunyuanVideoUpsampleCausal3D]

    public init(
        inChannels: Int, outChannels: Int, layers: Int, groups: Int, stride: (time: Int, space: Int),
        dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: layers + 1)
        resnets = (0..<layers).map {
            HunyuanVideoResnetBlockCausal3D(
                inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels, groups: groups, dtype: dtype,
                key: keys[$0])
        }
        upsamplers =
            stride.time > 1 || stride.space > 1
            ? [
                HunyuanVideoUpsampleCausal3D(
                    channels: outChannels, time: stride.time, space: stride.space, dtype: dtype, key: keys[layers])
            ] : []
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        upsamplers.reduce(resnets.reduce(x) { $1($0) }) { $1($0) }
    }
}

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L518
/// diffusers' `HunyuanVideoDecoder3D`: `conv_in`, `mid_block`, `up_blocks` (widths of the encoder in reverse),
/// `conv_norm_out`, SiLU, `conv_out`. Latents `[B, f, h, w, latent_channels]` → `[B, 1 + 4(f − 1), 8h, 8w,
/// out_channels]` for the released config, not clamped.
public final class HunyuanVideoDecoder3D: Module, UnaryLayer {
    @Child(key: "conv_in") public var convIn: HunyuanVideoCausalConv3d
    @Child(key: "mid_block") public var midBlock: HunyuanVideoMidBlock3D
    @Child(key: "up_blocks") public var upBlocks: [HunyuanVideoUpBlock3D]
    @Child(key: "conv_norm_out") public var convNormOut: GroupNorm
    @Child(key: "conv_out") public var convOut: HunyuanVideoCausalConv3d

    public init(_ config: AutoencoderKLHunyuanVideoConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0))
    {
        let widths = Array(config.blockOutChannels.reversed())
        let groups = config.normNumGroups
        let keys = key.split(into: 3 + widths.count)
        super.init()
        convIn = HunyuanVideoCausalConv3d(config.latentChannels, widths[0], dtype: dtype, key: keys[0])
        midBlock = HunyuanVideoMidBlock3D(
            channels: widths[0], groups: groups, addAttention: config.midBlockAddAttention, dtype: dtype, key: keys[1])
        upBlocks = zip(widths.indices, config.blockStrides).map { i, stride in
            HunyuanVideoUpBlock3D(
                inChannels: i == 0 ? widths[0] : widths[i - 1], outChannels: widths[i],
                layers: config.layersPerBlock + 1, groups: groups, stride: stride, dtype: dtype, key: keys[3 + i])
        }
        convNormOut = GroupNorm(groups: groups, channels: widths.last!, eps: 1e-6, dtype: dtype)
        convOut = HunyuanVideoCausalConv3d(widths.last!, config.outChannels, dtype: dtype, key: keys[2])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = upBlocks.reduce(midBlock(convIn(x))) { $1($0) }
        return convOut(silu(convNormOut(h)))
    }
}
