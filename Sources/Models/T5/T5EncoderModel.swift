import Checkpoints
import Engine
import Foundation
import NN

/// transformers `T5EncoderModel` (FLUX's `text_encoder_2`, T5 v1.1 XXL) and `UMT5EncoderModel` (Wan's
/// `text_encoder`, google/umt5-xxl: `model_type` "umt5" in config.json, see T5Stack): keys `shared.weight` and
/// `encoder.…`.
public final class T5EncoderModel: Module {
    public let config: T5Config
    public let shared: Embedding
    public let encoder: T5Stack

    /// Random weights for `config`; load a checkpoint over them.
    public init(_ config: T5Config, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        let keys = key.split(into: 2)
        shared = Embedding(config.vocabSize, config.dModel, dtype: dtype, key: keys[0])
        encoder = T5Stack(config, dtype: dtype, key: keys[1])
        super.init()
    }

    /// Builds the encoder from a transformers folder (config.json + safetensors, sharded or not). The token table
    /// may be stored as `shared.weight`, as the tied `encoder.embed_tokens.weight`, or both; a full encoder-decoder
    /// checkpoint's `decoder.*` and `lm_head` are left aside.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> T5EncoderModel {
        // Engine failures while building (sizes the config checks missed) are thrown here, not later.
        try Engine.catchingErrors {
            let config = try T5Config.load(folder)
            let keys = Set(try SafeTensorsCheckpoint(path: folder).keys)
            try checkPositionBiasLayout(config, keys: keys, folder: folder)
            let model = T5EncoderModel(config, dtype: dtype ?? .float32)
            let tiedKey = "encoder.embed_tokens.weight"
            let hasShared = keys.contains("shared.weight")
            try model.loadCheckpoint(folder, dtype: dtype, renaming: hasShared ? [:] : [tiedKey: "shared.weight"]) {
                key in
                key.hasPrefix("decoder.") || key == "lm_head.weight" || (hasShared && key == tiedKey)
            }
            return model
        }
    }

    /// A T5 checkpoint read as UMT5 (or the reverse) would fail the strict load on the position-bias keys alone;
    /// name the mismatch instead.
    private static func checkPositionBiasLayout(_ config: T5Config, keys: Set<String>, folder: URL) throws {
        let biasLayers = (0..<config.numLayers).filter {
            keys.contains("encoder.block.\($0).layer.0.SelfAttention.relative_attention_bias.weight")
        }
        let expected = config.hasPerLayerPositionBias ? Array(0..<config.numLayers) : [0]
        guard biasLayers != expected, config.numLayers > 1, !biasLayers.isEmpty else { return }
        let file =
            folder.hasDirectoryPath || folder.pathExtension.isEmpty
            ? folder.appendingPathComponent("config.json") : folder
        let found = biasLayers == [0] ? "only in block 0 (T5)" : "in blocks \(biasLayers)"
        throw ModelConfigError.invalidValues(
            file: file.path,
            problems: [
                """
                model_type '\(config.modelType)' expects encoder.block.N.layer.0.SelfAttention.relative_attention_bias \
                \(config.hasPerLayerPositionBias ? "in every block (UMT5)" : "in block 0 only (T5)"), the checkpoint \
                has it \(found)
                """
            ])
    }

    /// - inputIds: `[B, L]` integer token ids (FLUX: L = 512, padded, no attention mask).
    /// - attentionMask: optional `[B, L]`, nonzero = real token.
    /// - Returns: the last hidden state `[B, L, d_model]`.
    public func callAsFunction(_ inputIds: Tensor, attentionMask: Tensor? = nil) -> Tensor {
        precondition(
            inputIds.ndim == 2 && !inputIds.dtype.isFloatingPoint,
            "T5EncoderModel: expected integer token ids [B, L], got \(inputIds.dtype) \(inputIds.shape)")
        return encoder(shared(inputIds), attentionMask: attentionMask)
    }
}
