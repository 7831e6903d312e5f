import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L46
/// diffusers' `HunyuanVideoCausalConv3d`:
/// a 3D convolution (`conv`, an `nn.Conv3d` without padding of its own) over an input padded by *repeating* its edge
/// values (`F.pad(mode="replicate")`): `k − 1` copies of the first frame before it and none after, so an output frame
/// never sees a later input frame, and `k / 2` copies of the edge rows and columns on each side. Keys `conv.weight`
/// (`[C_out, C_in, k, k, k]` on disk), `conv.bias`. Activations `[B, T, H, W, C]`.
public final class HunyuanVideoCausalConv3d: Module, UnaryLayer {
    public let conv: Conv3d
    /// Copies of the first frame put before the input.
    public let timePadding: Int
    /// Copies of the edge rows (and columns) put on each side.
    public let spacePadding: Int

    public init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: Int = 3, stride: ConvolutionSize = 1,
        dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        timePadding = kernelSize - 1
        spacePadding = kernelSize / 2
        conv = Conv3d(inputChannels, outputChannels, kernelSize: kernelSize, stride: stride, dtype: dtype, key: key)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var x = x.edgePadded(axis: 1, before: timePadding, after: 0)
        x = x.edgePadded(axis: 2, before: spacePadding, after: spacePadding)
        return conv(x.edgePadded(axis: 3, before: spacePadding, after: spacePadding))
    }
}

extension Tensor {
    /// `before` copies of the first slice along `axis` before it and `after` copies of the last after it (torch's
    /// replicate padding of one axis).
    func edgePadded(axis: Int, before: Int, after: Int) -> Tensor {
        guard before > 0 || after > 0 else { return self }
        let n = dim(axis)
        let indices = (0..<(before + n + after)).map { Int32(Swift.min(Swift.max($0 - before, 0), n - 1)) }
        return take(Tensor(indices), axis: axis)
    }
}
