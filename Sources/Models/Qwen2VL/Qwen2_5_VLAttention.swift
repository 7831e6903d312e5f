import Engine
import NN

/// transformers `Qwen2_5_VLAttention` (text side): grouped-query self-attention with biases on `q_proj`, `k_proj`,
/// `v_proj` (none on `o_proj`), the multimodal rotary embedding on queries and keys, scale 1/sqrt(head_dim).
public final class Qwen2_5_VLAttention: Module {
    @Child(key: "q_proj") public var qProj: Linear
    @Child(key: "k_proj") public var kProj: Linear
    @Child(key: "v_proj") public var vProj: Linear
    @Child(key: "o_proj") public var oProj: Linear
    public let heads: Int
    public let keyValueHeads: Int
    public let headDim: Int

    public init(_ config: Qwen2_5_VLTextConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 4)
        heads = config.numAttentionHeads
        keyValueHeads = config.numKeyValueHeads
        headDim = config.headDim
        super.init()
        let hidden = config.hiddenSize
        qProj = Linear(hidden, heads * headDim, bias: true, dtype: dtype, key: keys[0])
        kProj = Linear(hidden, keyValueHeads * headDim, bias: true, dtype: dtype, key: keys[1])
        vProj = Linear(hidden, keyValueHeads * headDim, bias: true, dtype: dtype, key: keys[2])
        oProj = Linear(heads * headDim, hidden, bias: false, dtype: dtype, key: keys[3])
    }

    /// `x [B, L, hidden]`; `cos`, `sin` `[B, L, head_dim]`; `mask` causal, or an additive `[B, 1, L, L]` one.
    public func callAsFunction(_ x: Tensor, cos: Tensor, sin: Tensor, mask: AttentionMask) -> Tensor {
        let (batch, length) = (x.dim(0), x.dim(1))
        func heads(_ t: Tensor, _ count: Int) -> Tensor { t.reshaped([batch, length, count, headDim]) }
        let q = rotaryEmbedding(heads(qProj(x), self.heads), cos: cos, sin: sin, interleaved: false)
        let k = rotaryEmbedding(heads(kProj(x), keyValueHeads), cos: cos, sin: sin, interleaved: false)
        let v = heads(vProj(x), keyValueHeads)
        let out = scaledDotProductAttention(
            queries: q.asType(x.dtype).transposed([0, 2, 1, 3]), keys: k.asType(x.dtype).transposed([0, 2, 1, 3]),
            values: v.transposed([0, 2, 1, 3]), scale: 1 / Float(headDim).squareRoot(), mask: mask)
        return oProj(out.transposed([0, 2, 1, 3]).reshaped([batch, length, self.heads * headDim]))
    }
}
