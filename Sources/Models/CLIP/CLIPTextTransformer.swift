import Engine
import NN

/// What the CLIP text tower returns (transformers' `BaseModelOutputWithPooling` with `output_hidden_states=True`).
public struct CLIPTextOutput {
    /// `[B, L, D]` after the final layer norm (what Stable Diffusion 1.x conditions on).
    public let lastHiddenState: Tensor
    /// `[B, D]`: the final-normed state at each row's EOS token (FLUX's pooled text vector; the input of
    /// `text_projection`).
    public let pooled: Tensor
    /// The embeddings, then each layer's output before the final norm: `numHiddenLayers + 1` tensors `[B, L, D]`.
    /// The engine is lazy, so layers after the one a caller evaluates are never computed.
    public let hiddenStates: [Tensor]

    /// The second-to-last layer's output, not normalised (SDXL, "CLIP skip 2").
    public var penultimateHiddenState: Tensor { hiddenStates[hiddenStates.count - 2] }
}

/// The CLIP text tower (transformers `CLIPTextTransformer`, stored under `text_model.`): keys `embeddings`,
/// `encoder.layers.<i>`, `final_layer_norm`. Causal self-attention, optionally restricted further by a padding mask.
public final class CLIPTextTransformer: Module {
    /// `encoder.layers.<i>` in the checkpoint.
    public final class Encoder: Module {
        public let layers: [CLIPEncoderLayer]
        public init(_ layers: [CLIPEncoderLayer]) {
            self.layers = layers
            super.init()
        }
    }

    public let config: CLIPTextConfig
    public let embeddings: CLIPTextEmbeddings
    public let encoder: Encoder
    @Child(key: "final_layer_norm") public var finalLayerNorm: LayerNorm

    public init(_ config: CLIPTextConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        let keys = key.split(into: config.numHiddenLayers + 1)
        embeddings = CLIPTextEmbeddings(config, dtype: dtype, key: keys[0])
        encoder = Encoder(
            (0..<config.numHiddenLayers).map { CLIPEncoderLayer(config, dtype: dtype, key: keys[$0 + 1]) })
        super.init()
        finalLayerNorm = LayerNorm(config.hiddenSize, eps: config.layerNormEps, dtype: dtype)
    }

    /// - inputIds: `[B, L]` integer token ids, L ≤ max_position_embeddings.
    /// - attentionMask: `[B, L]`, nonzero = real token; nil attends to every earlier token (what SD and FLUX do).
    public func callAsFunction(_ inputIds: Tensor, attentionMask: Tensor? = nil) -> CLIPTextOutput {
        precondition(
            inputIds.ndim == 2 && !inputIds.dtype.isFloatingPoint,
            "CLIPTextTransformer: expected integer token ids [B, L], got \(inputIds.dtype) \(inputIds.shape)")
        var x = embeddings(inputIds)
        let mask = CLIPTextTransformer.causalMask(length: inputIds.dim(1), padding: attentionMask, dtype: x.dtype)
        var hiddenStates = [x]
        for layer in encoder.layers {
            x = layer(x, mask: mask)
            hiddenStates.append(x)
        }
        let last = finalLayerNorm(x)
        let positions = CLIPTextTransformer.eosPositions(inputIds, eosTokenId: config.eosTokenId)
        return CLIPTextOutput(
            lastHiddenState: last, pooled: CLIPTextTransformer.gatherRows(last, at: positions),
            hiddenStates: hiddenStates)
    }

    /// Query i sees keys 0...i, and with `padding` only the real ones among them (an additive mask built as
    /// transformers builds it, see ``additiveMask(allowed:dtype:)``).
    static func causalMask(length: Int, padding: Tensor?, dtype: DType) -> AttentionMask {
        guard let padding else { return .causal }
        precondition(
            padding.ndim == 2 && padding.dim(1) == length,
            "CLIPTextTransformer: attention mask \(padding.shape) does not match the ids' length \(length)")
        let positions = Tensor.arange(length)
        let causal = positions.reshaped([length, 1]) .>= positions.reshaped([1, length])
        let keep = keptTokens(padding).reshaped([padding.dim(0), 1, 1, length])
        return .array(additiveMask(allowed: causal .&& keep, dtype: dtype))
    }

    /// Row b's EOS position, exactly as transformers picks it: with the legacy `eos_token_id == 2`, the first
    /// position of the row's largest id; otherwise the first position of `eos_token_id`, or 0 when the row has none
    /// (torch's argmax of an all-false row). Returns `[B]` int32.
    public static func eosPositions(_ inputIds: Tensor, eosTokenId: Int) -> Tensor {
        let ids = inputIds.asType(.int32)
        let length = ids.dim(-1)
        let target = eosTokenId == 2 ? ids.max(axis: -1, keepDims: true) : Tensor(Int32(eosTokenId))
        let none = Tensor(Int32(length))
        let first = Tensor.where(ids .== target, Tensor.arange(length), none).min(axis: -1)
        return Tensor.where(first .== none, Tensor(Int32(0)), first)
    }

    /// `x [B, L, D]`, `positions [B]` → `[B, D]` with row b taken at `positions[b]`.
    static func gatherRows(_ x: Tensor, at positions: Tensor) -> Tensor {
        let (batch, length) = (x.dim(0), x.dim(1))
        let flat = positions + Tensor.arange(batch) * Tensor(Int32(length))
        return x.reshaped([batch * length, x.dim(2)]).take(flat, axis: 0)
    }
}
