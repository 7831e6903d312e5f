import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L135
/// diffusers' `WanCausalConv3d`:
/// a 3D convolution over (frames, height, width) that pads height and width on both sides but time only on the past
/// side (`2·p_t` zero frames before, none after), so an output frame never sees a later input frame. Keys `weight`,
/// `bias`.
///
/// Weight layout: the checkpoint holds torch's `[C_out, C_in, k_t, k_h, k_w]`; MLX convolves channels-last, so the
/// layer holds `[C_out, k_t, k_h, k_w, C_in]`, converted on load and save by ``Convolution``'s checkpoint hooks.
/// Activations `[B, T, H, W, C]`.
public final class WanCausalConv3d: Convolution {
    /// Zero frames put before the input when there is no past (diffusers' `_padding[4]`, twice the time padding).
    public let causalPadding: Int

    /// `padding` per axis as torch's `Conv3d` takes it; the time part becomes ``causalPadding``.
    public init(
        _ inputChannels: Int, _ outputChannels: Int, kernelSize: ConvolutionSize, stride: ConvolutionSize = 1,
        padding: ConvolutionSize = 0, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        let p = padding.values(3)
        causalPadding = 2 * p[0]
        super.init(
            spatialAxes: 3, inputChannels, outputChannels, kernelSize: kernelSize, stride: stride,
            padding: .explicit([0, p[1], p[2]]), dtype: dtype, key: key)
    }

    override public func callAsFunction(_ x: Tensor) -> Tensor { callAsFunction(x, past: nil) }

    /// `past`: the frames just before `x` (the previous chunk's), which take the place of as many zero frames. A
    /// convolution without causal padding ignores it, as diffusers' does.
    public func callAsFunction(_ x: Tensor, past: Tensor?) -> Tensor {
        var x = x
        var zeros = causalPadding
        if let past, causalPadding > 0 {
            x = concatenated([past, x], axis: 1)
            zeros -= past.dim(1)
        }
        precondition(zeros >= 0, "WanCausalConv3d: \(past?.dim(1) ?? 0) past frames for a padding of \(causalPadding)")
        if zeros > 0 { x = x.padded([(0, 0), (zeros, 0)]) }
        return super.callAsFunction(x)
    }

    /// One chunk through the convolution as diffusers' blocks run it: the cache entry holds the last two input frames
    /// seen so far (the previous chunk's last frame joins a one-frame chunk), the causal past of the next chunk.
    public func callAsFunction(_ x: Tensor, cache: WanFeatureCache) -> Tensor {
        cache.visit { entry in
            let past = entry.frames
            var keep = x.lastFrames(2)
            if keep.dim(1) < 2, let past { keep = concatenated([past.lastFrames(1), keep], axis: 1) }
            return (.frames(keep), callAsFunction(x, past: past))
        }
    }
}
