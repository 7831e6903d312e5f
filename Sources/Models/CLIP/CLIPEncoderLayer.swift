import Engine
import NN

/// A pre-norm transformer layer of CLIP (transformers `CLIPEncoderLayer`): keys `self_attn`, `layer_norm1`, `mlp`
/// (`fc1`, `fc2`), `layer_norm2`.
public final class CLIPEncoderLayer: Module {
    @Child(key: "self_attn") public var selfAttention: CLIPAttention
    @Child(key: "layer_norm1") public var layerNorm1: LayerNorm
    public let mlp: MLP
    @Child(key: "layer_norm2") public var layerNorm2: LayerNorm

    public convenience init(_ config: CLIPTextConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.init(
            hiddenSize: config.hiddenSize, intermediateSize: config.intermediateSize,
            heads: config.numAttentionHeads, layerNormEps: config.layerNormEps,
            activation: config.activation ?? .quickGelu, dtype: dtype, key: key)
    }

    /// The same layer for any tower (the text and vision towers of transformers' CLIP share the class).
    public init(
        hiddenSize: Int, intermediateSize: Int, heads: Int, layerNormEps: Float, activation: Activation,
        dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: 2)
        mlp = MLP(
            inputDimensions: hiddenSize, hiddenDimensions: intermediateSize, activation: activation, dtype: dtype,
            key: keys[1])
        super.init()
        selfAttention = CLIPAttention(dim: hiddenSize, heads: heads, dtype: dtype, key: keys[0])
        layerNorm1 = LayerNorm(hiddenSize, eps: layerNormEps, dtype: dtype)
        layerNorm2 = LayerNorm(hiddenSize, eps: layerNormEps, dtype: dtype)
    }

    public func callAsFunction(_ x: Tensor, mask: AttentionMask) -> Tensor {
        let x = x + selfAttention(layerNorm1(x), mask: mask)
        return x + mlp(layerNorm2(x))
    }
}
