import Checkpoints
import Engine
import Foundation
import NN

/// The language model of transformers `Qwen2_5_VLForConditionalGeneration` (`Qwen2_5_VLTextModel`): Qwen-Image's
/// text encoder, whose pipeline takes `hidden_states[-1]`, the output of the final `norm`. Keys `embed_tokens`,
/// `layers.N`, `norm`; in a checkpoint they sit under `model.` (what transformers 4 and 5 both write, Qwen-Image's
/// `text_encoder/` included) or under `model.language_model.` (transformers 5's in-memory names), beside the vision
/// tower (`visual.*` / `model.visual.*`) and `lm_head`, which are left aside here.
/// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py
public final class Qwen2_5_VLTextModel: Module {
    public let config: Qwen2_5_VLTextConfig
    @Child(key: "embed_tokens") public var embedTokens: Embedding
    public let layers: [Qwen2_5_VLDecoderLayer]
    public let norm: Qwen2_5_VLRMSNorm
    public let rotary: Qwen2_5_VLRotaryEmbedding

    /// Random weights for `config`; load a checkpoint over them.
    public init(_ config: Qwen2_5_VLTextConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        let keys = key.split(into: config.numHiddenLayers + 1)
        layers = (0..<config.numHiddenLayers).map { Qwen2_5_VLDecoderLayer(config, dtype: dtype, key: keys[$0 + 1]) }
        norm = Qwen2_5_VLRMSNorm(config.hiddenSize, eps: config.rmsNormEps, dtype: dtype)
        rotary = Qwen2_5_VLRotaryEmbedding(config)
        super.init()
        embedTokens = Embedding(config.vocabSize, config.hiddenSize, dtype: dtype, key: keys[0])
    }

    /// The checkpoint prefixes of the language model, tried in order.
    public static let checkpointPrefixes = ["model.language_model.", "model."]

    /// Builds the language model from a transformers Qwen2.5-VL folder (`config.json` in either layout, safetensors
    /// sharded or not, any float dtype).
    public static func load(from folder: URL, dtype: DType? = nil) throws -> Qwen2_5_VLTextModel {
        try Engine.catchingErrors {
            let config = try Qwen2_5_VLTextConfig.load(folder)
            let checkpoint = try openCheckpoint(path: folder)
            let model = Qwen2_5_VLTextModel(config, dtype: dtype ?? .float32)
            var tensors: [String: Tensor] = [:]
            for key in checkpoint.keys {
                guard let name = languageModelKey(key) else { continue }
                tensors[name] = try checkpoint.tensor(key)
            }
            try model.load(tensors, strict: true, dtype: dtype, source: checkpoint.source)
            return model
        }
    }

    /// The model key of a checkpoint key, or nil for the vision tower, `lm_head` and anything outside `model.`.
    static func languageModelKey(_ key: String) -> String? {
        if key.hasPrefix("model.visual.") { return nil }
        for prefix in checkpointPrefixes where key.hasPrefix(prefix) { return String(key.dropFirst(prefix.count)) }
        return nil
    }

    /// - inputIds: `[B, L]` integer token ids.
    /// - attentionMask: optional `[B, L]`, nonzero = real token; with or without it attention is causal.
    /// - positionIDs: optional `[3, B, L]` (temporal, height, width); by default `0 ..< L` in every row, which is
    ///   what transformers uses for text without images (and, with right padding, what its transformers 4
    ///   `get_rope_index` gives on the real tokens).
    /// - Returns: `hidden_states[-1]` `[B, L, hidden]`, after the final norm.
    public func callAsFunction(_ inputIds: Tensor, attentionMask: Tensor? = nil, positionIDs: Tensor? = nil) -> Tensor {
        precondition(
            inputIds.ndim == 2 && !inputIds.dtype.isFloatingPoint,
            "Qwen2_5_VLTextModel: expected integer token ids [B, L], got \(inputIds.dtype) \(inputIds.shape)")
        return callAsFunction(
            inputsEmbeds: embedTokens(inputIds), attentionMask: attentionMask, positionIDs: positionIDs)
    }

    /// The same from the input embeddings `[B, L, hidden]` (transformers' `inputs_embeds`): the token embeddings
    /// with the vision tower's merged tokens in place of the image placeholders (``QwenImageEditTextEncoding``).
    public func callAsFunction(inputsEmbeds: Tensor, attentionMask: Tensor? = nil, positionIDs: Tensor? = nil) -> Tensor
    {
        precondition(
            inputsEmbeds.ndim == 3 && inputsEmbeds.dim(2) == config.hiddenSize,
            "Qwen2_5_VLTextModel: expected input embeddings [B, L, \(config.hiddenSize)], got \(inputsEmbeds.shape)")
        let (batch, length) = (inputsEmbeds.dim(0), inputsEmbeds.dim(1))
        var x = inputsEmbeds
        let positions = positionIDs ?? Qwen2_5_VLRotaryEmbedding.textPositionIDs(batch: batch, length: length)
        precondition(
            positions.shape == [3, batch, length],
            "Qwen2_5_VLTextModel: position ids \(positions.shape) do not match [3, \(batch), \(length)]")
        let (cos, sin) = rotary.tables(positionIDs: positions)
        let mask = Self.causalMask(attentionMask, batch: batch, length: length, dtype: x.dtype)
        for layer in layers { x = layer(x, cos: cos, sin: sin, mask: mask) }
        return norm(x)
    }

    /// Causal attention, restricted to the real keys when there is a padding mask: an additive `[B, 1, L, L]` mask
    /// with the lowest finite value where a key is masked (transformers' `create_causal_mask`), so that a padded row
    /// with no key left stays finite.
    static func causalMask(_ attentionMask: Tensor?, batch: Int, length: Int, dtype: DType) -> AttentionMask {
        guard let attentionMask else { return .causal }
        precondition(
            attentionMask.shape == [batch, length],
            "Qwen2_5_VLTextModel: attention mask \(attentionMask.shape) does not match [\(batch), \(length)]")
        let positions = Tensor.arange(length)
        let causal = positions.reshaped([1, length]) .<= positions.reshaped([length, 1])
        let allowed =
            causal.reshaped([1, 1, length, length])
            .&& keptTokens(attentionMask).reshaped([batch, 1, 1, length])
        return .array(additiveMask(allowed: allowed, dtype: dtype))
    }
}
