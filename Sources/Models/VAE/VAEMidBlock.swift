import Engine
import NN

/// diffusers' `UNetMidBlock2D` as the VAE uses it (one layer, no time embedding): `resnets.0`, then
/// `attentions.0` (when `mid_block_add_attention`) and `resnets.1`. Activations are channels-last, `[N, H, W, C]`.
public final class VAEMidBlock: Module, UnaryLayer {
    public let resnets: [ResnetBlock2D]
    /// Empty when the config turns attention off; diffusers then stores no `attentions.*` keys either.
    public let attentions: [VAEAttention]

    public init(
        channels: Int, groups: Int, addAttention: Bool, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: 3)
        resnets = (0..<2).map {
            ResnetBlock2D(inChannels: channels, outChannels: channels, groups: groups, dtype: dtype, key: keys[$0])
        }
        attentions = addAttention ? [VAEAttention(channels: channels, groups: groups, dtype: dtype, key: keys[2])] : []
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = resnets[0](x)
        if let attention = attentions.first { h = attention(h) }
        return resnets[1](h)
    }
}
