import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L393
/// diffusers' `WanAttentionBlock`:
/// single-head self-attention within each frame (no mixing across time), `x + proj(attention(to_qkv(norm(x))))`,
/// with 1×1 convolutions for the projections. Keys `norm` (γ `[C, 1, 1]`), `to_qkv` (C → 3C: queries, keys,
/// values in that channel order), `proj`. Activations `[B, T, H, W, C]`.
public final class WanAttentionBlock: Module {
    public let norm: WanRMSNorm
    @Child(key: "to_qkv") public var toQKV: Conv2d
    public let proj: Conv2d
    public let channels: Int

    public init(channels: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.channels = channels
        let keys = key.split(into: 2)
        norm = WanRMSNorm(channels, images: true, dtype: dtype)
        proj = Conv2d(channels, channels, kernelSize: 1, dtype: dtype, key: keys[1])
        super.init()
        toQKV = Conv2d(channels, 3 * channels, kernelSize: 1, dtype: dtype, key: keys[0])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(
            x.ndim == 5 && x.dim(4) == channels, "WanAttentionBlock: expected [B, T, H, W, \(channels)], got \(x.shape)"
        )
        let (b, t, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        let frames = x.reshaped([b * t, h, w, channels])
        // [B·T, 1 head, H·W, 3C]: channels-last positions are already in token order.
        let qkv = toQKV(norm(frames)).reshaped([b * t, 1, h * w, 3 * channels]).split(parts: 3, axis: -1)
        let attended = scaledDotProductAttention(
            queries: qkv[0], keys: qkv[1], values: qkv[2], scale: 1 / Float(channels).squareRoot())
        return x + proj(attended.reshaped([b * t, h, w, channels])).reshaped([b, t, h, w, channels])
    }
}

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L438
/// diffusers' `WanMidBlock` with one layer:
/// `resnets.0`, `attentions.0`, `resnets.1` at constant width. Activations `[B, T, H, W, C]`.
public final class WanMidBlock: Module {
    public let resnets: [WanResidualBlock]
    public let attentions: [WanAttentionBlock]

    public init(channels: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 3)
        resnets = [
            WanResidualBlock(inChannels: channels, outChannels: channels, dtype: dtype, key: keys[0]),
            WanResidualBlock(inChannels: channels, outChannels: channels, dtype: dtype, key: keys[1])
        ]
        attentions = [WanAttentionBlock(channels: channels, dtype: dtype, key: keys[2])]
        super.init()
    }

    public func callAsFunction(_ x: Tensor, cache: WanFeatureCache) -> Tensor {
        resnets[1](attentions[0](resnets[0](x, cache: cache)), cache: cache)
    }
}
