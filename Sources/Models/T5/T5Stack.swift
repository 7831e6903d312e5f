import Engine
import NN

/// The encoder stack (transformers `T5Stack`, stored under `encoder.`): keys `block.<i>`, `final_layer_norm`. Its
/// `embed_tokens` is the model's `shared` table, so it is not a key of its own here.
public final class T5Stack: Module {
    public let block: [T5Block]
    @Child(key: "final_layer_norm") public var finalLayerNorm: T5LayerNorm

    public init(_ config: T5Config, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: config.numLayers)
        block = (0..<config.numLayers).map {
            T5Block(config, hasRelativeAttentionBias: $0 == 0, dtype: dtype, key: keys[$0])
        }
        super.init()
        finalLayerNorm = T5LayerNorm(config.dModel, eps: config.layerNormEpsilon, dtype: dtype)
    }

    /// `embeddings [B, L, d_model]`; `attentionMask [B, L]`, nonzero = real token (any padding side).
    public func callAsFunction(_ embeddings: Tensor, attentionMask: Tensor? = nil) -> Tensor {
        let length = embeddings.dim(1)
        // The first layer's table gives the bias for all layers, as in transformers.
        var bias = block[0].attention.selfAttention.positionBias(length: length)
        if let attentionMask {
            precondition(
                attentionMask.ndim == 2 && attentionMask.dim(1) == length,
                "T5Stack: attention mask \(attentionMask.shape) does not match the sequence length \(length)")
            let keep = keptTokens(attentionMask).reshaped([attentionMask.dim(0), 1, 1, length])
            bias = bias + additiveMask(allowed: keep, dtype: bias.dtype)
        }
        var x = embeddings
        for layer in block { x = layer(x, bias: bias) }
        return finalLayerNorm(x)
    }
}
