import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py#L180
/// diffusers' `WanRMS_norm` with `channel_first=True`, `bias=False`, as every Wan block builds it:
/// `F.normalize(x, dim=channels) · √C · γ`, which is RMS normalisation over the channels,
/// `x / √mean(x²) · γ`. Key `gamma`, held in the checkpoint's shape, `[C, 1, 1, 1]` for video blocks
/// (`images=False`) and `[C, 1, 1]` for the attention's per-frame images, so it loads as it is. Activations
/// channels-last, `[..., C]`.
public final class WanRMSNorm: Module, UnaryLayer {
    @Param public var gamma: Tensor
    public let channels: Int

    public init(_ channels: Int, images: Bool, dtype: DType = .float32) {
        self.channels = channels
        gamma = Tensor.ones([channels] + (images ? [1, 1] : [1, 1, 1]), dtype: dtype)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(
            x.dim(-1) == channels, "WanRMSNorm: expected channels-last input [..., \(channels)], got \(x.shape)")
        // F.normalize divides by max(‖x‖, 1e-12); an ε of 1e-24/C under the mean square is the same bound, so an
        // all-zero position gives 0 rather than NaN.
        return rmsNorm(x, weight: gamma.reshaped([channels]), eps: 1e-24 / Float(channels))
    }
}
