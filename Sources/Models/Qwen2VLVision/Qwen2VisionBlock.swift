import Engine
import NN

// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_vl/modeling_qwen2_vl.py#L295
/// transformers' Qwen2-VL `VisionMlp`: `fc2(act(fc1(x)))`, both with bias, `embed_dim · mlp_ratio` wide inside.
public final class Qwen2VisionMLP: Module, UnaryLayer {
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
/// transformers' `Qwen2VLVisionBlock`: the towers' pre-norm block (``Qwen2VisionTowerBlock``) with LayerNorm (eps
/// 1e-6) and the `fc1`/`fc2` MLP.
public final class Qwen2VisionBlock: Qwen2VisionTowerBlock<LayerNorm, Qwen2VisionMLP> {
    public init(_ config: Qwen2VisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 2)
        super.init(
            norm1: LayerNorm(config.embedDim, eps: 1e-6, dtype: dtype),
            norm2: LayerNorm(config.embedDim, eps: 1e-6, dtype: dtype),
            attn: Qwen2VLVisionAttention(config, dtype: dtype, key: keys[0]),
            mlp: Qwen2VisionMLP(config, dtype: dtype, key: keys[1]))
    }
}
