import Engine
import Foundation
import NN

/// transformers `CLIPTextModel`: the text tower under `text_model.`, keys as in the `text_encoder/` folder of Stable
/// Diffusion and FLUX checkpoints.
public final class CLIPTextModel: Module {
    public let config: CLIPTextConfig
    @Child(key: "text_model") public var textModel: CLIPTextTransformer

    /// Random weights for `config`; load a checkpoint over them.
    public init(_ config: CLIPTextConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        super.init()
        textModel = CLIPTextTransformer(config, dtype: dtype, key: key)
    }

    /// Builds the model from a transformers folder (config.json + safetensors, sharded or not). A full CLIP
    /// checkpoint (nested `text_config`) works too: its vision tower and projections are left aside.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> CLIPTextModel {
        // Engine failures while building (sizes the config checks missed) are thrown here, not later.
        try Engine.catchingErrors {
            let model = CLIPTextModel(try CLIPTextConfig.load(folder), dtype: dtype ?? .float32)
            try model.loadCheckpoint(folder, dtype: dtype) { key in
                CLIPCheckpointKeys.isOtherTower(key) || key == "text_projection.weight"
                    || CLIPCheckpointKeys.isPositionIds(key)
            }
            return model
        }
    }

    /// - inputIds: `[B, L]` token ids; attentionMask: optional `[B, L]`, nonzero = real token.
    public func callAsFunction(_ inputIds: Tensor, attentionMask: Tensor? = nil) -> CLIPTextOutput {
        textModel(inputIds, attentionMask: attentionMask)
    }
}

/// Keys of CLIP checkpoints that a text-only model does not hold.
enum CLIPCheckpointKeys {
    /// The vision tower and the contrastive head of a full `CLIPModel`.
    static func isOtherTower(_ key: String) -> Bool {
        key.hasPrefix("vision_model.") || key == "visual_projection.weight" || key == "logit_scale"
    }

    /// The `position_ids` buffer that transformers saved before 4.31 (always 0..<max_position_embeddings).
    static func isPositionIds(_ key: String) -> Bool { key.hasSuffix("embeddings.position_ids") }
}
