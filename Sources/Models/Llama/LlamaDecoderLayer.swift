import Engine
import NN

/// transformers `LlamaAttention`: grouped-query self-attention (biases only with `attention_bias`), the rotary
/// embedding on queries and keys, scale 1/sqrt(head_dim).
public final class LlamaAttention: Module {
    @Child(key: "q_proj") public var qProj: Linear
    @Child(key: "k_proj") public var kProj: Linear
    @Child(key: "v_proj") public var vProj: Linear
    @Child(key: "o_proj") public var oProj: Linear
    public let heads: Int
    public let keyValueHeads: Int
    public let headDim: Int

    public init(_ config: LlamaConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 4)
        heads = config.numAttentionHeads
        keyValueHeads = config.numKeyValueHeads
        headDim = config.headDim
        super.init()
        let (hidden, bias) = (config.hiddenSize, config.attentionBias)
        qProj = Linear(hidden, heads * headDim, bias: bias, dtype: dtype, key: keys[0])
        kProj = Linear(hidden, keyValueHeads * headDim, bias: bias, dtype: dtype, key: keys[1])
        vProj = Linear(hidden, keyValueHeads * headDim, bias: bias, dtype: dtype, key: keys[2])
        oProj = Linear(heads * headDim, hidden, bias: bias, dtype: dtype, key: keys[3])
    }

    /// `x [B, L, hidden]`; `cos`, `sin` `[L, head_dim]`; `mask` causal, or an additive `[B, 1, L, L]` one.
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

/// transformers `LlamaMLP`: SwiGLU, `down_proj(silu(gate_proj(x)) · up_proj(x))`, biases only with `mlp_bias`.
public final class LlamaMLP: Module, UnaryLayer {
    @Child(key: "gate_proj") public var gateProj: Linear
    @Child(key: "up_proj") public var upProj: Linear
    @Child(key: "down_proj") public var downProj: Linear

    public init(_ config: LlamaConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 3)
        let (hidden, inner, bias) = (config.hiddenSize, config.intermediateSize, config.mlpBias)
        super.init()
        gateProj = Linear(hidden, inner, bias: bias, dtype: dtype, key: keys[0])
        upProj = Linear(hidden, inner, bias: bias, dtype: dtype, key: keys[1])
        downProj = Linear(inner, hidden, bias: bias, dtype: dtype, key: keys[2])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { downProj(silu(gateProj(x)) * upProj(x)) }
}

/// transformers `LlamaDecoderLayer`: pre-norm attention and MLP, each with a residual. Keys `self_attn`, `mlp`,
/// `input_layernorm`, `post_attention_layernorm`; the norms are Qwen2's RMSNorm (the same math as `LlamaRMSNorm`).
public final class LlamaDecoderLayer: Module {
    @Child(key: "self_attn") public var selfAttention: LlamaAttention
    public let mlp: LlamaMLP
    @Child(key: "input_layernorm") public var inputLayerNorm: Qwen2_5_VLRMSNorm
    @Child(key: "post_attention_layernorm") public var postAttentionLayerNorm: Qwen2_5_VLRMSNorm

    public init(_ config: LlamaConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 2)
        mlp = LlamaMLP(config, dtype: dtype, key: keys[1])
        super.init()
        selfAttention = LlamaAttention(config, dtype: dtype, key: keys[0])
        inputLayerNorm = Qwen2_5_VLRMSNorm(config.hiddenSize, eps: config.rmsNormEps, dtype: dtype)
        postAttentionLayerNorm = Qwen2_5_VLRMSNorm(config.hiddenSize, eps: config.rmsNormEps, dtype: dtype)
    }

    public func callAsFunction(_ x: Tensor, cos: Tensor, sin: Tensor, mask: AttentionMask) -> Tensor {
        let attended = x + selfAttention(inputLayerNorm(x), cos: cos, sin: sin, mask: mask)
        return attended + mlp(postAttentionLayerNorm(attended))
    }
}
