import Engine
import NN

/// diffusers' `ResnetBlock2D` as the VAE uses it (no time embedding, pre-norm, output scale 1, no dropout at
/// inference): `x + conv2(silu(norm2(conv1(silu(norm1(x))))))`, the skip through a 1×1 `conv_shortcut` when the
/// channel count changes. Keys `norm1`, `conv1`, `norm2`, `conv2`, `conv_shortcut`.
/// Activations are channels-last, `[N, H, W, C]`.
public final class ResnetBlock2D: Module, UnaryLayer {
    public let norm1: GroupNorm
    public let conv1: Conv2d
    public let norm2: GroupNorm
    public let conv2: Conv2d
    @Child(key: "conv_shortcut") public var convShortcut: Conv2d? = nil

    /// `eps` is the VAE's 1e-6 (diffusers passes `resnet_eps=1e-6` to every block of the encoder and decoder).
    public init(inChannels: Int, outChannels: Int, groups: Int, eps: Float = 1e-6, dtype: DType = .float32,
                key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 3)
        norm1 = GroupNorm(groups: groups, channels: inChannels, eps: eps, dtype: dtype)
        conv1 = Conv2d(inChannels, outChannels, kernelSize: 3, padding: 1, dtype: dtype, key: keys[0])
        norm2 = GroupNorm(groups: groups, channels: outChannels, eps: eps, dtype: dtype)
        conv2 = Conv2d(outChannels, outChannels, kernelSize: 3, padding: 1, dtype: dtype, key: keys[1])
        super.init()
        if inChannels != outChannels {
            convShortcut = Conv2d(inChannels, outChannels, kernelSize: 1, dtype: dtype, key: keys[2])
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = conv1(silu(norm1(x)))
        h = conv2(silu(norm2(h)))
        return (convShortcut.map { $0(x) } ?? x) + h
    }
}
