import Engine
import NN

/// The self-attention of the VAE's mid block: diffusers' `Attention` built with `norm_num_groups` and
/// `residual_connection=True` (one head spanning all channels, biases everywhere, output scale 1):
/// `x + to_out(attention(group_norm(x)))` over the H·W positions. Keys `group_norm`, `to_q`, `to_k`, `to_v`,
/// `to_out.0` (older checkpoints' `query`, `key`, `value`, `proj_attn` are renamed by
/// ``AutoencoderKL/load(from:dtype:)``). Activations are channels-last, `[N, H, W, C]`.
public final class VAEAttention: Module, UnaryLayer {
    @Child(key: "group_norm") public var groupNorm: GroupNorm
    @Child(key: "to_q") public var toQuery: Linear
    @Child(key: "to_k") public var toKey: Linear
    @Child(key: "to_v") public var toValue: Linear
    @Child(key: "to_out.0") public var toOut: Linear
    public let channels: Int

    public init(
        channels: Int, groups: Int, eps: Float = 1e-6, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        self.channels = channels
        super.init()
        let keys = key.split(into: 4)
        groupNorm = GroupNorm(groups: groups, channels: channels, eps: eps, dtype: dtype)
        toQuery = Linear(channels, channels, dtype: dtype, key: keys[0])
        toKey = Linear(channels, channels, dtype: dtype, key: keys[1])
        toValue = Linear(channels, channels, dtype: dtype, key: keys[2])
        toOut = Linear(channels, channels, dtype: dtype, key: keys[3])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(
            x.ndim == 4 && x.dim(3) == channels, "VAEAttention: expected [N, H, W, \(channels)], got \(x.shape)")
        let (n, h, w) = (x.dim(0), x.dim(1), x.dim(2))
        // [N, 1 head, H·W, C]: channels-last activations are already in token order, no transpose needed.
        let tokens = groupNorm(x).reshaped([n, 1, h * w, channels])
        let attended = scaledDotProductAttention(
            queries: toQuery(tokens), keys: toKey(tokens), values: toValue(tokens),
            scale: 1 / Float(channels).squareRoot())
        return x + toOut(attended).reshaped([n, h, w, channels])
    }
}
