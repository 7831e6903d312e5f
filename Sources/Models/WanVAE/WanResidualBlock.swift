import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L319
/// diffusers' `WanResidualBlock`:
/// `shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))))))` with causal 3×3×3 convolutions; the shortcut is a
/// 1×1×1 `conv_shortcut` when the channel count changes. Dropout is left out: diffusers' VAE runs in eval mode. Keys
/// `norm1`, `conv1`, `norm2`, `conv2`, `conv_shortcut`. Activations `[B, T, H, W, C]`.
public final class WanResidualBlock: Module {
    public let norm1: WanRMSNorm
    public let conv1: WanCausalConv3d
    public let norm2: WanRMSNorm
    public let conv2: WanCausalConv3d
    @Child(key: "conv_shortcut") public var convShortcut: WanCausalConv3d? = nil

    public init(inChannels: Int, outChannels: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 3)
        norm1 = WanRMSNorm(inChannels, images: false, dtype: dtype)
        conv1 = WanCausalConv3d(inChannels, outChannels, kernelSize: 3, padding: 1, dtype: dtype, key: keys[0])
        norm2 = WanRMSNorm(outChannels, images: false, dtype: dtype)
        conv2 = WanCausalConv3d(outChannels, outChannels, kernelSize: 3, padding: 1, dtype: dtype, key: keys[1])
        super.init()
        if inChannels != outChannels {
            convShortcut = WanCausalConv3d(inChannels, outChannels, kernelSize: 1, dtype: dtype, key: keys[2])
        }
    }

    /// One chunk; conv1 and conv2 take one cache entry each, in that order.
    public func callAsFunction(_ x: Tensor, cache: WanFeatureCache) -> Tensor {
        let shortcut = convShortcut.map { $0(x) } ?? x
        let h = conv1(silu(norm1(x)), cache: cache)
        return conv2(silu(norm2(h)), cache: cache) + shortcut
    }
}
