import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L284
/// diffusers' `HunyuanVideoDownBlock3D`: `resnets` (`layers_per_block` of them, the first changing the width), then
/// `downsamplers.0` when the block shrinks time or space. Activations `[B, T, H, W, C]`.
public final class HunyuanVideoDownBlock3D: Module, UnaryLayer {
    public let resnets: [HunyuanVideoResnetBlockCausal3D]
    public let downsamplers: [HunyuanVideoDownsampleCausal3D]

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
        downsamplers =
            stride.time > 1 || stride.space > 1
            ? [
                HunyuanVideoDownsampleCausal3D(
                    channels: outChannels, time: stride.time, space: stride.space, dtype: dtype, key: keys[layers])
            ] : []
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        downsamplers.reduce(resnets.reduce(x) { $1($0) }) { $1($0) }
    }
}

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L410
/// diffusers' `HunyuanVideoEncoder3D`: `conv_in`, `down_blocks`, `mid_block` (attention over all frames, causal),
/// `conv_norm_out`, SiLU, `conv_out` to 2 · `latent_channels` moments (mean, then log-variance). Videos
/// `[B, T, H, W, in_channels]` → `[B, 1 + (T − 1)/4, H/8, W/8, 2·latent_channels]` for the released config.
public final class HunyuanVideoEncoder3D: Module, UnaryLayer {
    @Child(key: "conv_in") public var convIn: HunyuanVideoCausalConv3d
    @Child(key: "down_blocks") public var downBlocks: [HunyuanVideoDownBlock3D]
    @Child(key: "mid_block") public var midBlock: HunyuanVideoMidBlock3D
    @Child(key: "conv_norm_out") public var convNormOut: GroupNorm
    @Child(key: "conv_out") public var convOut: HunyuanVideoCausalConv3d

    public init(_ config: AutoencoderKLHunyuanVideoConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0))
    {
        let widths = config.blockOutChannels
        let groups = config.normNumGroups
        let keys = key.split(into: 3 + widths.count)
        super.init()
        convIn = HunyuanVideoCausalConv3d(config.inChannels, widths[0], dtype: dtype, key: keys[0])
        downBlocks = zip(widths.indices, config.blockStrides).map { i, stride in
            HunyuanVideoDownBlock3D(
                inChannels: i == 0 ? widths[0] : widths[i - 1], outChannels: widths[i], layers: config.layersPerBlock,
                groups: groups, stride: stride, dtype: dtype, key: keys[3 + i])
        }
        midBlock = HunyuanVideoMidBlock3D(
            channels: widths.last!, groups: groups, addAttention: config.midBlockAddAttention, dtype: dtype,
            key: keys[1])
        convNormOut = GroupNorm(groups: groups, channels: widths.last!, eps: 1e-6, dtype: dtype)
        convOut = HunyuanVideoCausalConv3d(widths.last!, 2 * config.latentChannels, dtype: dtype, key: keys[2])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = midBlock(downBlocks.reduce(convIn(x)) { $1($0) })
        return convOut(silu(convNormOut(h)))
    }
}
