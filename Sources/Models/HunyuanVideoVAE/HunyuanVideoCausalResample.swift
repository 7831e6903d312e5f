import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L121
/// diffusers' `HunyuanVideoDownsampleCausal3D`:
/// a causal 3×3×3 convolution (`conv.conv`) with stride `time` over frames and `space` over height and width. With
/// the first frame repeated twice before the input, F frames become 1 + (F − 1) / 2 when time is halved. Activations
/// `[B, T, H, W, C]`.
public final class HunyuanVideoDownsampleCausal3D: Module, UnaryLayer {
    public let conv: HunyuanVideoCausalConv3d

    public init(channels: Int, time: Int, space: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        conv = HunyuanVideoCausalConv3d(channels, channels, stride: [time, space, space], dtype: dtype, key: key)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { conv(x) }
}

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L79
/// diffusers' `HunyuanVideoUpsampleCausal3D`:
/// nearest upsampling, then a causal 3×3×3 convolution (`conv.conv`). The first frame is only enlarged in height and
/// width; the later frames are also repeated `time` times, so f frames become 1 + (f − 1)·`time` (the inverse of the
/// downsampler's count). Activations `[B, T, H, W, C]`.
public final class HunyuanVideoUpsampleCausal3D: Module, UnaryLayer {
    public let conv: HunyuanVideoCausalConv3d
    public let time: Int
    public let space: Int

    public init(channels: Int, time: Int, space: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.time = time
        self.space = space
        conv = HunyuanVideoCausalConv3d(channels, channels, dtype: dtype, key: key)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        // Nearest interpolation by an integer factor repeats each element.
        let enlarged = x.repeated(space, axis: 2).repeated(space, axis: 3)
        var frames = enlarged
        if x.dim(1) > 1 && time > 1 {
            frames = concatenated(
                [enlarged[.all, 0..<1], enlarged[.all, 1...].repeated(time, axis: 1)], axis: 1)
        }
        return conv(frames)
    }
}
