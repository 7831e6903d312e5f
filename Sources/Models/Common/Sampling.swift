import Engine
import NN

/// diffusers' `Downsample2D` with `use_conv=True`, shared by the VAE encoder and SD's UNet: a 3×3 convolution of
/// stride 2. With `padding` 0 (the VAE) one zero row is added at the bottom and one zero column at the right first
/// (`F.pad(x, (0, 1, 0, 1))`), so an H×W input gives ⌊H/2⌋×⌊W/2⌋; otherwise the convolution pads
/// symmetrically (the UNet's `downsample_padding`, 1 for SD). Key `conv`. Activations are channels-last, `[N, H, W,
/// C]`.
public final class Downsample2D: Module, UnaryLayer {
    public let conv: Conv2d
    public let padding: Int

    public init(channels: Int, padding: Int = 0, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        conv = Conv2d(
            channels, channels, kernelSize: 3, stride: 2, padding: .explicit([padding]), dtype: dtype, key: key)
        self.padding = padding
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv(padding == 0 ? x.padded([(0, 0), (0, 1), (0, 1), (0, 0)]) : x)
    }
}

/// diffusers' `Upsample2D` with `use_conv=True` (VAE decoder and SD's UNet): nearest-neighbour ×2
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
