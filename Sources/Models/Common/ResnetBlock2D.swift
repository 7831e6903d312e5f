import Engine
import NN

/// diffusers' `ResnetBlock2D` (pre-norm, `time_embedding_norm="default"`, no dropout at inference), shared by the VAE
/// and Stable Diffusion's UNet: `(x + conv2(silu(norm2(conv1(silu(norm1(x))) + t))))/s`, where the skip goes
/// through a 1×1 `conv_shortcut` when the channel count changes and t = `time_emb_proj(silu(temb))` is added per
/// channel when the block takes a time embedding (the UNet's; the VAE's blocks have none). Keys `norm1`, `conv1`,
/// `time_emb_proj`, `norm2`, `conv2`, `conv_shortcut`. Activations are channels-last, `[N, H, W, C]`.
public final class ResnetBlock2D: Module, UnaryLayer {
    public let norm1: GroupNorm
    public let conv1: Conv2d
    @Child(key: "time_emb_proj") public var timeEmbeddingProjection: Linear? = nil
    public let norm2: GroupNorm
    public let conv2: Conv2d
    @Child(key: "conv_shortcut") public var convShortcut: Conv2d? = nil
    /// diffusers' `output_scale_factor` (1 everywhere but a UNet mid block configured otherwise).
    public let outputScaleFactor: Float

    /// `eps` is the VAE's 1e-6 by default (diffusers passes `resnet_eps=1e-6` to every block of the encoder and
    /// decoder); the UNet passes its `norm_eps`. `timeEmbeddingChannels` adds `time_emb_proj`.
    public init(
        inChannels: Int, outChannels: Int, groups: Int, eps: Float = 1e-6, timeEmbeddingChannels: Int? = nil,
        outputScaleFactor: Float = 1, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: timeEmbeddingChannels == nil ? 3 : 4)
        norm1 = GroupNorm(groups: groups, channels: inChannels, eps: eps, dtype: dtype)
        conv1 = Conv2d(inChannels, outChannels, kernelSize: 3, padding: 1, dtype: dtype, key: keys[0])
        norm2 = GroupNorm(groups: groups, channels: outChannels, eps: eps, dtype: dtype)
        conv2 = Conv2d(outChannels, outChannels, kernelSize: 3, padding: 1, dtype: dtype, key: keys[1])
        self.outputScaleFactor = outputScaleFactor
        super.init()
        if inChannels != outChannels {
            convShortcut = Conv2d(inChannels, outChannels, kernelSize: 1, dtype: dtype, key: keys[2])
        }
        if let timeEmbeddingChannels {
            timeEmbeddingProjection = Linear(timeEmbeddingChannels, outChannels, dtype: dtype, key: keys[3])
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { callAsFunction(x, timeEmbedding: nil) }

    /// `timeEmbedding [N, temb_channels]`; nil adds nothing (as diffusers does with `temb=None`).
    public func callAsFunction(_ x: Tensor, timeEmbedding: Tensor?) -> Tensor {
        var h = conv1(silu(norm1(x)))
        if let timeEmbeddingProjection, let timeEmbedding {
            let t = timeEmbeddingProjection(silu(timeEmbedding))
            h = h + t.reshaped([t.dim(0), 1, 1, t.dim(1)])
        }
        h = conv2(silu(norm2(h)))
        let out = (convShortcut.map { $0(x) } ?? x) + h
        return outputScaleFactor == 1 ? out : out / outputScaleFactor
    }
}
