import Engine
import NN

/// T5 self-attention (transformers `T5Attention`, encoder use): keys `q`, `k`, `v`, `o` without biases, and in the
/// first layer only (in every layer for UMT5) `relative_attention_bias [num_buckets, heads]`. The scores are not
/// scaled by 1/sqrt(d_kv) (T5 folds that into the initialisation); position information enters only as the additive
/// bias.
public final class T5Attention: Module {
    public let q: Linear
    public let k: Linear
    public let v: Linear
    public let o: Linear
    @Child(key: "relative_attention_bias") public var relativeAttentionBias: Embedding?
    public let heads: Int
    public let headDim: Int
    let numBuckets: Int
    let maxDistance: Int

    public init(
        _ config: T5Config, hasRelativeAttentionBias: Bool, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: 5)
        let inner = config.numHeads * config.dKv
        q = Linear(config.dModel, inner, bias: false, dtype: dtype, key: keys[0])
        k = Linear(config.dModel, inner, bias: false, dtype: dtype, key: keys[1])
        v = Linear(config.dModel, inner, bias: false, dtype: dtype, key: keys[2])
        o = Linear(inner, config.dModel, bias: false, dtype: dtype, key: keys[3])
        heads = config.numHeads
        headDim = config.dKv
        numBuckets = config.relativeAttentionNumBuckets
        maxDistance = config.relativeAttentionMaxDistance
        super.init()
        relativeAttentionBias =
            hasRelativeAttentionBias
            ? Embedding(config.relativeAttentionNumBuckets, config.numHeads, dtype: dtype, key: keys[4]) : nil
    }

    /// The bidirectional position bias `[1, heads, length, length]` (only a layer that holds the table computes it;
    /// T5's encoder shares layer 0's with every layer).
    public func positionBias(length: Int) -> Tensor {
        guard let relativeAttentionBias else {
            preconditionFailure(
                "T5Attention: this layer has no relative_attention_bias (in T5 only the first layer does)")
        }
        let buckets = T5RelativePosition.buckets(
            queryLength: length, keyLength: length, bidirectional: true,
            numBuckets: numBuckets, maxDistance: maxDistance)
        return relativeAttentionBias(buckets).transposed([2, 0, 1]).expandedDims(axis: 0)
    }

    /// `x [B, L, d_model]`; `bias` the position bias plus any padding mask, broadcastable to `[B, heads, L, L]`.
    public func callAsFunction(_ x: Tensor, bias: Tensor) -> Tensor {
        let (batch, length) = (x.dim(0), x.dim(1))
        func split(_ t: Tensor) -> Tensor { t.reshaped([batch, length, heads, headDim]).transposed([0, 2, 1, 3]) }
        let out = scaledDotProductAttention(
            queries: split(q(x)), keys: split(k(x)), values: split(v(x)), scale: 1,
            mask: .array(bias.asType(x.dtype)))
        return o(out.transposed([0, 2, 1, 3]).reshaped([batch, length, heads * headDim]))
    }
}
