import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L513
/// diffusers' `WanEncoder3d` for Wan 2.1 (`is_residual=False`, no attention in the levels):
/// `conv_in`, then `down_blocks` as one flat list (per level `num_res_blocks` ``WanResidualBlock``s, then a
/// ``WanResample`` downsampler on every level but the last), `mid_block`, `norm_out`, SiLU, `conv_out` to the
/// posterior's 2·z_dim moments. Activations `[B, T, H, W, C]`.
public final class WanEncoder3d: Module {
    @Child(key: "conv_in") public var convIn: WanCausalConv3d
    /// ``WanResidualBlock``s and ``WanResample``s, numbered as diffusers' `nn.ModuleList` numbers them.
    @Child(key: "down_blocks") public var downBlocks: [Module]
    @Child(key: "mid_block") public var midBlock: WanMidBlock
    @Child(key: "norm_out") public var normOut: WanRMSNorm
    @Child(key: "conv_out") public var convOut: WanCausalConv3d

    public init(_ config: AutoencoderKLWanConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        super.init()
        let levels = config.dimMult.count
        let dims = [config.baseDim] + config.dimMult.map { config.baseDim * $0 }
        var keys = key.split(into: 3 + levels * (config.numResBlocks + 1))
        convIn = WanCausalConv3d(
            config.inChannels, dims[0], kernelSize: 3, padding: 1, dtype: dtype, key: keys.removeLast())
        var blocks: [Module] = []
        for level in 0..<levels {
            var inChannels = dims[level]
            for _ in 0..<config.numResBlocks {
                blocks.append(
                    WanResidualBlock(
                        inChannels: inChannels, outChannels: dims[level + 1], dtype: dtype, key: keys.removeLast()))
                inChannels = dims[level + 1]
            }
            if level < levels - 1 {
                let mode: WanResample.Mode = config.temperalDownsample[level] ? .downsample3d : .downsample2d
                blocks.append(WanResample(channels: dims[level + 1], mode: mode, dtype: dtype, key: keys.removeLast()))
            }
        }
        downBlocks = blocks
        let top = dims[levels]
        midBlock = WanMidBlock(channels: top, dtype: dtype, key: keys.removeLast())
        normOut = WanRMSNorm(top, images: false, dtype: dtype)
        convOut = WanCausalConv3d(top, 2 * config.zDim, kernelSize: 3, padding: 1, dtype: dtype, key: keys.removeLast())
    }

    /// One chunk of video `[B, T, H, W, in_channels]` → moments `[B, T', H/s, W/s, 2·z_dim]` (s the spatial
    /// compression; T' = T for the first chunk, T / temporal compression after it).
    public func callAsFunction(_ x: Tensor, cache: WanFeatureCache) -> Tensor {
        var h = convIn(x, cache: cache)
        for block in downBlocks {
            switch block {
            case let resnet as WanResidualBlock: h = resnet(h, cache: cache)
            case let resample as WanResample: h = resample(h, cache: cache)
            default: preconditionFailure("WanEncoder3d: unexpected block \(type(of: block))")
            }
        }
        h = midBlock(h, cache: cache)
        return convOut(silu(normOut(h)), cache: cache)
    }
}
