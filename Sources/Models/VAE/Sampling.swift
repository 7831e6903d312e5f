import Engine
import NN

/// diffusers' `Downsample2D` as the VAE encoder builds it (`use_conv=True, padding=0`): pad one zero row at the
/// bottom and one zero column at the right (`F.pad(x, (0, 1, 0, 1))`), then a 3×3 convolution of stride 2, so an
/// H×W input gives ⌊H/2⌋×⌊W/2⌋ — not the symmetric padding a plain `padding=1` convolution would use. Key `conv`.
/// Activations are channels-last, `[N, H, W, C]`.
public final class Downsample2D: Module, UnaryLayer {
    public let conv: Conv2d

    public init(channels: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        conv = Conv2d(channels, channels, kernelSize: 3, stride: 2, padding: 0, dtype: dtype, key: key)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv(x.padded([(0, 0), (0, 1), (0, 1), (0, 0)]))
    }
}

/// diffusers' `Upsample2D` as the VAE decoder builds it (`use_conv=True`): nearest-neighbour ×2
/// (`F.interpolate(scale_factor=2, mode="nearest")`), then a 3×3 convolution with padding 1. Key `conv`.
/// Activations are channels-last, `[N, H, W, C]`.
public final class Upsample2D: Module, UnaryLayer {
    public let conv: Conv2d

    public init(channels: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        conv = Conv2d(channels, channels, kernelSize: 3, padding: 1, dtype: dtype, key: key)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv(x.upsampledNearest(scale: 2))
    }
}
