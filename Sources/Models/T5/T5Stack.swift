import Engine
import NN

/// The encoder stack (transformers `T5Stack`, or `UMT5Stack`; stored under `encoder.`): keys `block.<i>`,
/// `final_layer_norm`. Its `embed_tokens` is the model's `shared` table, so it is not a key of its own here.
///
/// UMT5 differs from T5 v1.1 only in the position bias: every block holds a `relative_attention_bias` and adds its own
/// bias (plus the padding mask) to its scores, where T5 computes the bias once in block 0 and reuses it. The buckets,
/// norms, feed-forward and the unscaled attention are the same code in transformers (`modeling_umt5.py` copies them
/// from `modeling_t5.py`):
/// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/umt5/modeling_umt5.py
public final class T5Stack: Module {
    public let block: [T5Block]
    public let hasPerLayerPositionBias: Bool
    @Child(key: "final_layer_norm") public var finalLayerNorm: T5LayerNorm

    public init(_ config: T5Config, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: config.numLayers)
        block = (0..<config.numLayers).map {
            T5Block(
                config, hasRelativeAttentionBias: config.hasPerLayerPositionBias || $0 == 0, dtype: dtype, key: keys[$0]
            )
        }
        hasPerLayerPositionBias = config.hasPerLayerPositionBias
        super.init()
        finalLayerNorm = T5LayerNorm(config.dModel, eps: config.layerNormEpsilon, dtype: dtype)
    }

    /// `embeddings [B, L, d_model]`; `attentionMask [B, L]`, nonzero = real token (any padding side).
    public func callAsFunction(_ embeddings: Tensor, attentionMask: Tensor? = nil) -> Tensor {
        let length = embeddings.dim(1)
        var keep: Tensor?
        if let attentionMask {
            precondition(
                attentionMask.ndim == 2 && attentionMask.dim(1) == length,
                "T5Stack: attention mask \(attentionMask.shape) does not match the sequence length \(length)")
            keep = keptTokens(attentionMask).reshaped([attentionMask.dim(0), 1, 1, length])
        }
        func bias(of layer: T5Block) -> Tensor {
            let positions = layer.attention.selfAttention.positionBias(length: length)
            return keep.map { positions + additiveMask(allowed: $0, dtype: positions.dtype) } ?? positions
        }
        // T5: the first layer's table gives the bias for all layers, as in transformers.
        let shared = hasPerLayerPositionBias ? nil : bias(of: block[0])
        var x = embeddings
        for layer in block { x = layer(x, bias: shared ?? bias(of: layer)) }
        return finalLayerNorm(x)
    }
}
