import Engine
import Foundation
import NN

/// transformers `CLIPTextModelWithProjection`: the text tower plus `text_projection` (no bias), the text half of a
/// CLIP model's joint embedding space (SDXL's second encoder, CLIP-based rewards).
public final class CLIPTextModelWithProjection: Module {
    public let config: CLIPTextConfig
    @Child(key: "text_model") public var textModel: CLIPTextTransformer
    @Child(key: "text_projection") public var textProjection: Linear

    public init(_ config: CLIPTextConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        super.init()
        let keys = key.split(into: 2)
        textModel = CLIPTextTransformer(config, dtype: dtype, key: keys[0])
        textProjection = Linear(config.hiddenSize, config.projectionDim, bias: false, dtype: dtype, key: keys[1])
    }

    /// Builds the model from a transformers folder: a `CLIPTextModelWithProjection` checkpoint or a full CLIP one
    /// (whose vision tower is left aside; `projection_dim` then comes from the top level of its config).
    public static func load(from folder: URL, dtype: DType? = nil) throws -> CLIPTextModelWithProjection {
        // Engine failures while building (sizes the config checks missed) are thrown here, not later.
        try Engine.catchingErrors {
            let model = CLIPTextModelWithProjection(try CLIPTextConfig.load(folder), dtype: dtype ?? .float32)
            try model.loadCheckpoint(folder, dtype: dtype) {
                CLIPCheckpointKeys.isOtherTower($0) || CLIPCheckpointKeys.isPositionIds($0)
            }
            return model
        }
    }

    /// The tower's outputs and `textEmbeds [B, projection_dim]` = `text_projection(pooled)` (not normalised).
    public func callAsFunction(_ inputIds: Tensor, attentionMask: Tensor? = nil) -> (
        output: CLIPTextOutput, textEmbeds: Tensor
    ) {
        let output = textModel(inputIds, attentionMask: attentionMask)
        return (output, textProjection(output.pooled))
    }
}
