import Engine
import NN

/// CLIP's multi-head self-attention (transformers `CLIPAttention`): keys `q_proj`, `k_proj`, `v_proj`, `out_proj`,
/// all with biases; scores scaled by 1/sqrt(head_dim).
public final class CLIPAttention: Module {
    @Child(key: "q_proj") public var queryProjection: Linear
    @Child(key: "k_proj") public var keyProjection: Linear
    @Child(key: "v_proj") public var valueProjection: Linear
    @Child(key: "out_proj") public var outputProjection: Linear
    public let heads: Int

    public init(dim: Int, heads: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        precondition(dim % heads == 0, "CLIPAttention: dim \(dim) is not a multiple of heads \(heads)")
        self.heads = heads
        super.init()
        let keys = key.split(into: 4)
        queryProjection = Linear(dim, dim, dtype: dtype, key: keys[0])
        keyProjection = Linear(dim, dim, dtype: dtype, key: keys[1])
        valueProjection = Linear(dim, dim, dtype: dtype, key: keys[2])
        outputProjection = Linear(dim, dim, dtype: dtype, key: keys[3])
    }

    /// `x [B, L, D]`; `mask` as the engine's fused attention takes it (`.causal`, or an additive mask in x's dtype).
    public func callAsFunction(_ x: Tensor, mask: AttentionMask) -> Tensor {
        let (batch, length, dim) = (x.dim(0), x.dim(1), x.dim(2))
        func heads(_ t: Tensor) -> Tensor { t.reshaped([batch, length, self.heads, -1]).transposed([0, 2, 1, 3]) }
        let headDim = dim / self.heads
        let out = scaledDotProductAttention(
            queries: heads(queryProjection(x)), keys: heads(keyProjection(x)),
            values: heads(valueProjection(x)), scale: 1 / Float(headDim).squareRoot(),
            mask: mask)
        return outputProjection(out.transposed([0, 2, 1, 3]).reshaped([batch, length, dim]))
    }
}
