import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L141
/// diffusers' `HunyuanVideoResnetBlockCausal3D`:
/// `shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))))))` with causal 3×3×3 convolutions and group norms whose
/// statistics span all frames; the shortcut is a causal 1×1×1 `conv_shortcut` when the width changes. Dropout is left
/// out (diffusers' VAE runs in eval mode). Keys `norm1`, `conv1.conv`, `norm2`, `conv2.conv`, `conv_shortcut.conv`.
/// Activations `[B, T, H, W, C]`.
public final class HunyuanVideoResnetBlockCausal3D: Module, UnaryLayer {
    public let norm1: GroupNorm
    public let conv1: HunyuanVideoCausalConv3d
    public let norm2: GroupNorm
    public let conv2: HunyuanVideoCausalConv3d
    @Child(key: "conv_shortcut") public var convShortcut: HunyuanVideoCausalConv3d? = nil

    public init(
        inChannels: Int, outChannels: Int, groups: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: 3)
        norm1 = GroupNorm(groups: groups, channels: inChannels, eps: 1e-6, dtype: dtype)
        conv1 = HunyuanVideoCausalConv3d(inChannels, outChannels, dtype: dtype, key: keys[0])
        norm2 = GroupNorm(groups: groups, channels: outChannels, eps: 1e-6, dtype: dtype)
        conv2 = HunyuanVideoCausalConv3d(outChannels, outChannels, dtype: dtype, key: keys[1])
        super.init()
        if inChannels != outChannels {
            convShortcut = HunyuanVideoCausalConv3d(inChannels, outChannels, kernelSize: 1, dtype: dtype, key: keys[2])
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = conv2(silu(norm2(conv1(silu(norm1(x))))))
        return (convShortcut.map { $0(x) } ?? x) + h
    }
}
