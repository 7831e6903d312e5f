import Engine
import NN

/// diffusers' `WanAttention` with `WanAttnProcessor`: keys `to_q`, `to_k`, `to_v`, `to_out.0`, `norm_q`, `norm_k`,
/// and for image-to-video cross-attention `add_k_proj`, `add_v_proj`, `norm_added_k`.
///
/// It differs from ``MultiHeadAttention`` in two ways that change the numbers, so it is its own module: the RMS
/// norms of queries and keys run over all heads together (`rms_norm_across_heads`, weights of the model width)
/// before the heads are split, and the image tokens of I2V are a second, separate attention of the same queries
/// whose output is added to the text attention's (not a joint sequence). The projections, the fused attention
/// kernel and the rotary kernel are NN's and the engine's.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_wan.py
public final class WanAttention: Module {
    @Child(key: "to_q") public private(set) var toQuery: Linear
    @Child(key: "to_k") public private(set) var toKey: Linear
    @Child(key: "to_v") public private(set) var toValue: Linear
    @Child(key: "to_out.0") public private(set) var toOut: Linear
    @Child(key: "norm_q") public private(set) var normQuery: RMSNorm
    @Child(key: "norm_k") public private(set) var normKey: RMSNorm
    @Child(key: "add_k_proj") public private(set) var addKey: Linear? = nil
    @Child(key: "add_v_proj") public private(set) var addValue: Linear? = nil
    @Child(key: "norm_added_k") public private(set) var normAddedKey: RMSNorm? = nil

    public let heads: Int
    public let headDim: Int

    /// - Parameter addedKVDim: width of the image tokens (`added_kv_proj_dim`); nil for text-only attention.
    public init(
        dim: Int, heads: Int, headDim: Int, eps: Float, addedKVDim: Int? = nil, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        self.heads = heads
        self.headDim = headDim
        super.init()
        let inner = heads * headDim
        let keys = key.split(into: 6)
        toQuery = Linear(dim, inner, dtype: dtype, key: keys[0])
        toKey = Linear(dim, inner, dtype: dtype, key: keys[1])
        toValue = Linear(dim, inner, dtype: dtype, key: keys[2])
        toOut = Linear(inner, dim, dtype: dtype, key: keys[3])
        normQuery = RMSNorm(inner, eps: eps, dtype: dtype)
        normKey = RMSNorm(inner, eps: eps, dtype: dtype)
        if let addedKVDim {
            addKey = Linear(addedKVDim, inner, dtype: dtype, key: keys[4])
            addValue = Linear(addedKVDim, inner, dtype: dtype, key: keys[5])
            normAddedKey = RMSNorm(inner, eps: eps, dtype: dtype)
        }
    }

    /// Self-attention over `x [B, L, dim]` (with `rotary` over the tokens), or cross-attention to
    /// `context [B, Lc, dim]` (and, I2V, to `imageContext [B, Li, added_kv_proj_dim]`).
    /// With `sequenceParallel`, self-attention's `x` is this rank's shard of the tokens (`rotary` at their global
    /// positions; see ``SequenceParallelism``); cross-attention needs no exchange (each shard's queries see the whole
    /// text).
    public func callAsFunction(
        _ x: Tensor, context: Tensor? = nil, imageContext: Tensor? = nil, rotary: RotaryEmbedding? = nil,
        sequenceParallel: SequenceParallelism? = nil
    ) -> Tensor {
        let source = context ?? x
        var q = splitHeads(normQuery(toQuery(x)))
        var k = splitHeads(normKey(toKey(source)))
        let v = splitHeads(toValue(source))
        if let rotary { (q, k) = (rotary.sequenceMajor(q), rotary.sequenceMajor(k)) }
        var out: Tensor
        if let sequenceParallel, context == nil {
            out = sequenceParallel.attention(q, k, v) { self.fused($0, $1, $2) }
                .reshaped([q.dim(0), q.dim(1), heads * headDim])
        } else {
            out = attend(q, k, v)
        }
        if let imageContext {
            guard let addKey, let addValue, let normAddedKey else {
                preconditionFailure("WanAttention: image tokens given to an attention without added_kv_proj_dim")
            }
            out = out + attend(q, splitHeads(normAddedKey(addKey(imageContext))), splitHeads(addValue(imageContext)))
        }
        return toOut(out)
    }

    /// `[B, L, heads · D]` → `[B, L, heads, D]`, the layout the fused kernels read in place.
    private func splitHeads(_ x: Tensor) -> Tensor { x.reshaped([x.dim(0), x.dim(1), heads, headDim]) }

    private func attend(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> Tensor {
        fused(q, k, v).reshaped([q.dim(0), q.dim(1), heads * headDim])
    }

    private func fused(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> Tensor {
        sequenceMajorAttention(queries: q, keys: k, values: v, scale: 1 / Float(headDim).squareRoot())
    }
}
