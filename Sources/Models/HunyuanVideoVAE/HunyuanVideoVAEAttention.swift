import Engine
import NN

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L217
/// The mid-block attention of diffusers' `HunyuanVideoMidBlock3D`: an `Attention` with one head spanning all channels,
/// `group_norm` before it, biases everywhere and the residual added, `x + to_out(attention(group_norm(x)))`, over all
/// T·H·W positions of the clip at once under `prepare_causal_attention_mask`: a position attends to every position of
/// its own frame and of the frames before it, none after. Keys `group_norm`, `to_q`, `to_k`, `to_v`, `to_out.0`.
/// Same keys as the image VAE's ``VAEAttention``, but that one attends within one image, without a mask.
/// Activations `[B, T, H, W, C]`.
public final class HunyuanVideoVAEAttention: Module, UnaryLayer {
    @Child(key: "group_norm") public var groupNorm: GroupNorm
    @Child(key: "to_q") public var toQuery: Linear
    @Child(key: "to_k") public var toKey: Linear
    @Child(key: "to_v") public var toValue: Linear
    @Child(key: "to_out.0") public var toOut: Linear
    public let channels: Int

    public init(channels: Int, groups: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.channels = channels
        super.init()
        let keys = key.split(into: 4)
        groupNorm = GroupNorm(groups: groups, channels: channels, eps: 1e-6, dtype: dtype)
        toQuery = Linear(channels, channels, dtype: dtype, key: keys[0])
        toKey = Linear(channels, channels, dtype: dtype, key: keys[1])
        toValue = Linear(channels, channels, dtype: dtype, key: keys[2])
        toOut = Linear(channels, channels, dtype: dtype, key: keys[3])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(
            x.ndim == 5 && x.dim(4) == channels,
            "HunyuanVideoVAEAttention: expected [B, T, H, W, \(channels)], got \(x.shape)")
        let (b, t, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        // [B, 1 head, T·H·W, C]: channels-last positions are already in diffusers' token order (frame, row, column).
        let tokens = groupNorm(x).reshaped([b, 1, t * h * w, channels])
        let attended = scaledDotProductAttention(
            queries: toQuery(tokens), keys: toKey(tokens), values: toValue(tokens),
            scale: 1 / Float(channels).squareRoot(), mask: .array(Self.causalFrameMask(frames: t, positions: h * w)))
        return x + toOut(attended).reshaped([b, t, h, w, channels])
    }

    /// `[T·P, T·P]`, true where the key's frame is not after the query's (diffusers' 0 entries; its −inf ones are
    /// false).
    static func causalFrameMask(frames: Int, positions: Int) -> Tensor {
        let frame = Tensor.arange(frames).repeated(positions, axis: 0)
        return frame.reshaped([1, -1]) .<= frame.reshaped([-1, 1])
    }
}

// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_hunyuan_video.py#L187
/// diffusers' `HunyuanVideoMidBlock3D` with one layer: `resnets.0`, `attentions.0` (when `mid_block_add_attention`;
/// diffusers then stores no `attentions.*` keys either), `resnets.1`, at constant width. Activations `[B, T, H, W, C]`.
public final class HunyuanVideoMidBlock3D: Module, UnaryLayer {
    public let resnets: [HunyuanVideoResnetBlockCausal3D]
    public let attentions: [HunyuanVideoVAEAttention]

    public init(
        channels: Int, groups: Int, addAttention: Bool, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: 3)
        resnets = (0..<2).map {
            HunyuanVideoResnetBlockCausal3D(
                inChannels: channels, outChannels: channels, groups: groups, dtype: dtype, key: keys[$0])
        }
        attentions =
            addAttention
            ? [HunyuanVideoVAEAttention(channels: channels, groups: groups, dtype: dtype, key: keys[2])] : []
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = resnets[0](x)
        if let attention = attentions.first { h = attention(h) }
        return resnets[1](h)
    }
}
