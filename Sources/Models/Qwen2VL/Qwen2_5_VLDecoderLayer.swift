import Engine
import NN

/// transformers `Qwen2MLP`: SwiGLU, `down_proj(silu(gate_proj(x)) · up_proj(x))`, no biases.
public final class Qwen2MLP: Module, UnaryLayer {
    @Child(key: "gate_proj") public var gateProj: Linear
    @Child(key: "up_proj") public var upProj: Linear
    @Child(key: "down_proj") public var downProj: Linear

    public init(_ config: Qwen2_5_VLTextConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 3)
        super.init()
        gateProj = Linear(config.hiddenSize, config.intermediateSize, bias: false, dtype: dtype, key: keys[0])
        upProj = Linear(config.hiddenSize, config.intermediateSize, bias: false, dtype: dtype, key: keys[1])
        downProj = Linear(config.intermediateSize, config.hiddenSize, bias: false, dtype: dtype, key: keys[2])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { downProj(silu(gateProj(x)) * upProj(x)) }
}

/// transformers `Qwen2_5_VLDecoderLayer`: pre-norm attention and MLP, each with a residual. Keys `self_attn`, `mlp`,
/// `input_layernorm`, `post_attention_layernorm`.
public final class Qwen2_5_VLDecoderLayer: Module {
    @Child(key: "self_attn") public var selfAttention: Qwen2_5_VLAttention
    public let mlp: Qwen2MLP
    @Child(key: "input_layernorm") public var inputLayerNorm: Qwen2_5_VLRMSNorm
    @Child(key: "post_attention_layernorm") public var postAttentionLayerNorm: Qwen2_5_VLRMSNorm

    public init(_ config: Qwen2_5_VLTextConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 2)
        mlp = Qwen2MLP(config, dtype: dtype, key: keys[1])
        super.init()
        selfAttention = Qwen2_5_VLAttention(config, dtype: dtype, key: keys[0])
        inputLayerNorm = Qwen2_5_VLRMSNorm(config.hiddenSize, eps: config.rmsNormEps, dtype: dtype)
        postAttentionLayerNorm = Qwen2_5_VLRMSNorm(config.hiddenSize, eps: config.rmsNormEps, dtype: dtype)
    }

    public func callAsFunction(_ x: Tensor, cos: Tensor, sin: Tensor, mask: AttentionMask) -> Tensor {
        let attended = x + selfAttention(inputLayerNorm(x), cos: cos, sin: sin, mask: mask)
        return attended + mlp(postAttentionLayerNorm(attended))
    }
}
