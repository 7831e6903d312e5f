import Engine
import NN

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/modeling_qwen2_vl.py#L295
/// transformers' Qwen2-VL `VisionMlp`: `fc2(act(fc1(x)))`, both with bias, `embed_dim · mlp_ratio` wide inside.
public final class Qwen2VisionMLP: Module {
    public let fc1: Linear
    public let fc2: Linear
    public let activation: Activation

    public init(_ config: Qwen2VisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 2)
        fc1 = Linear(config.embedDim, config.mlpHiddenDim, dtype: dtype, key: keys[0])
        fc2 = Linear(config.mlpHiddenDim, config.embedDim, dtype: dtype, key: keys[1])
        activation = Activation(rawValue: config.hiddenAct) ?? .quickGelu
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(activation(fc1(x))) }
}

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/modeling_qwen2_vl.py#L427
/// transformers' `Qwen2VLVisionBlock`: pre-norm (LayerNorm, eps 1e-6) attention and MLP, each added back. The
/// attention (keys `qkv`, `proj`, 2D rotary, one run per frame) is Qwen2.5-VL's (``Qwen2VLVisionAttention``).
public final class Qwen2VisionBlock: Module {
    public let norm1: LayerNorm
    public let norm2: LayerNorm
    public let attn: Qwen2VLVisionAttention
    public let mlp: Qwen2VisionMLP

    public init(_ config: Qwen2VisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 2)
        norm1 = LayerNorm(config.embedDim, eps: 1e-6, dtype: dtype)
        norm2 = LayerNorm(config.embedDim, eps: 1e-6, dtype: dtype)
        attn = Qwen2VLVisionAttention(config, dtype: dtype, key: keys[0])
        mlp = Qwen2VisionMLP(config, dtype: dtype, key: keys[1])
        super.init()
    }

    public func callAsFunction(_ x: Tensor, cos: Tensor, sin: Tensor, runs: Qwen2VLAttentionRuns) -> Tensor {
        let h = x + attn(norm1(x), cos: cos, sin: sin, runs: runs)
        return h + mlp(norm2(h))
    }
}
