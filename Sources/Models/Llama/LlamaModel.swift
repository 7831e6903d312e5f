import Checkpoints
import Engine
import Foundation
import NN

/// transformers `LlamaModel` (HunyuanVideo's text encoder, the language model of llava-llama-3): token embeddings,
/// decoder layers, a final RMSNorm. Keys `embed_tokens`, `layers.N`, `norm`, at the top level of a `LlamaModel`
/// checkpoint or under `model.` in a `LlamaForCausalLM` one (whose `lm_head` is left aside).
/// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/llama/modeling_llama.py#L337
public final class LlamaModel: Module {
    public let config: LlamaConfig
    @Child(key: "embed_tokens") public var embedTokens: Embedding
    public let layers: [LlamaDecoderLayer]
    public let norm: Qwen2_5_VLRMSNorm
    public let rotary: LlamaRotaryEmbedding

    /// Random weights for `config`; load a checkpoint over them.
    public init(_ config: LlamaConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        let keys = key.split(into: config.numHiddenLayers + 1)
        layers = (0..<config.numHiddenLayers).map { LlamaDecoderLayer(config, dtype: dtype, key: keys[$0 + 1]) }
        norm = Qwen2_5_VLRMSNorm(config.hiddenSize, eps: config.rmsNormEps, dtype: dtype)
        rotary = LlamaRotaryEmbedding(config)
        super.init()
        embedTokens = Embedding(config.vocabSize, config.hiddenSize, dtype: dtype, key: keys[0])
    }

    /// Builds the model from a transformers folder (`config.json` in either layout, safetensors sharded or not, any
    /// float dtype).
    public static func load(from folder: URL, dtype: DType? = nil) throws -> LlamaModel {
        try Engine.catchingErrors {
            let config = try LlamaConfig.load(folder)
            let checkpoint = try openCheckpoint(path: folder)
            let model = LlamaModel(config, dtype: dtype ?? .float32)
            let nested = checkpoint.keys.contains { $0.hasPrefix("model.") }
            var tensors: [String: Tensor] = [:]
            for key in checkpoint.keys {
                if key.hasPrefix("lm_head.") { continue }
                guard !nested || key.hasPrefix("model.") else { continue }
                tensors[nested ? String(key.dropFirst("model.".count)) : key] = try checkpoint.tensor(key)
            }
            try model.load(tensors, strict: true, dtype: dtype, source: checkpoint.source)
            return model
        }
    }

    /// `hidden_states[-1]` (`last_hidden_state`) of `inputIds [B, L]`, with an optional `[B, L]` attention mask
    /// (nonzero = real token); with or without it attention is causal.
    public func callAsFunction(_ inputIds: Tensor, attentionMask: Tensor? = nil) -> Tensor {
        hiddenState(inputIds, attentionMask: attentionMask, index: -1)
    }

    /// `hidden_states[index]` of transformers' `output_hidden_states=True`, Python's indexing: 0 the embeddings, i the
    /// output of layer i - 1, the last (-1) the output of the final norm. Only the layers needed are run, so
    /// HunyuanVideo's `hidden_states[-3]` skips the last two.
    public func hiddenState(_ inputIds: Tensor, attentionMask: Tensor? = nil, index: Int) -> Tensor {
        precondition(
            inputIds.ndim == 2 && !inputIds.dtype.isFloatingPoint,
            "LlamaModel: expected integer token ids [B, L], got \(inputIds.dtype) \(inputIds.shape)")
        let count = layers.count + 1
        precondition(-count <= index && index < count, "LlamaModel: hidden state \(index) of \(count)")
        let target = index < 0 ? count + index : index
        let (batch, length) = (inputIds.dim(0), inputIds.dim(1))
        var x = embedTokens(inputIds)
        let (cos, sin) = rotary.tables(length: length)
        // The same causal and padding mask as Qwen2's decoder (transformers' `create_causal_mask`).
        let mask = Qwen2_5_VLTextModel.causalMask(attentionMask, batch: batch, length: length, dtype: x.dtype)
        for layer in layers.prefix(target) { x = layer(x, cos: cos, sin: sin, mask: mask) }
        return target == layers.count ? norm(x) : x
    }
}
