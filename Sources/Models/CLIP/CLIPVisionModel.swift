import Engine
import Foundation
import NN

/// Patch, class-token and position embeddings of CLIP's vision tower (transformers `CLIPVisionEmbeddings`): keys
/// `class_embedding [D]`, `patch_embedding.weight [D, C, p, p]` (no bias), `position_embedding.weight [N + 1, D]`.
public final class CLIPVisionEmbeddings: Module {
    @Param(key: "class_embedding") public var classEmbedding: Tensor
    @Child(key: "patch_embedding") public var patchEmbedding: Conv2d
    @Child(key: "position_embedding") public var positionEmbedding: Embedding

    public init(_ config: CLIPVisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 3)
        super.init()
        classEmbedding = Random.normal([config.hiddenSize], key: keys[0]).asType(dtype)
        patchEmbedding = Conv2d(
            config.numChannels, config.hiddenSize, kernelSize: config.patchSize,
            stride: config.patchSize, bias: false, dtype: dtype, key: keys[1])
        positionEmbedding = Embedding(
            config.gridSize * config.gridSize + 1, config.hiddenSize, dtype: dtype, key: keys[2])
    }

    /// `pixels [B, H, W, C]` (channels-last, normalised) → `[B, 1 + (H/p)(W/p), D]`, the class token first.
    public func callAsFunction(_ pixels: Tensor) -> Tensor {
        let patches = patchEmbedding(pixels.asType(classEmbedding.dtype))
        let (batch, dim) = (patches.dim(0), patches.dim(3))
        let tokens = patches.reshaped([batch, -1, dim])  // row-major over the patch grid, as torch's flatten(2)
        precondition(
            tokens.dim(1) + 1 == positionEmbedding.count,
            """
            CLIPVisionEmbeddings: \(tokens.dim(1)) patches do not match \(positionEmbedding.count - 1) position \
            embeddings (image size \(pixels.shape))
            """
        )
        let cls = classEmbedding.reshaped([1, 1, dim]).broadcast(to: [batch, 1, dim])
        return concatenated([cls, tokens], axis: 1) + positionEmbedding.weight
    }
}

/// What the vision tower returns (transformers' `BaseModelOutputWithPooling`).
public struct CLIPVisionOutput {
    /// `[B, N + 1, D]`, the last layer's output (no final norm, as transformers returns it).
    public let lastHiddenState: Tensor
    /// `[B, D]`: `post_layernorm` of the class token (the input of `visual_projection`).
    public let pooled: Tensor
}

/// CLIP's vision tower (transformers `CLIPVisionTransformer`, stored under `vision_model.`): keys `embeddings`,
/// `pre_layrnorm` (sic), `encoder.layers.<i>`, `post_layernorm`. Full (non-causal) self-attention.
public final class CLIPVisionTransformer: Module {
    public let config: CLIPVisionConfig
    public let embeddings: CLIPVisionEmbeddings
    @Child(key: "pre_layrnorm") public var preLayerNorm: LayerNorm
    public let encoder: CLIPTextTransformer.Encoder
    @Child(key: "post_layernorm") public var postLayerNorm: LayerNorm

    public init(_ config: CLIPVisionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        let keys = key.split(into: config.numHiddenLayers + 1)
        embeddings = CLIPVisionEmbeddings(config, dtype: dtype, key: keys[0])
        let activation = config.activation ?? .quickGelu
        encoder = CLIPTextTransformer.Encoder(
            (0..<config.numHiddenLayers).map {
                CLIPEncoderLayer(
                    hiddenSize: config.hiddenSize, intermediateSize: config.intermediateSize,
                    heads: config.numAttentionHeads, layerNormEps: config.layerNormEps,
                    activation: activation, dtype: dtype, key: keys[$0 + 1])
            })
        super.init()
        preLayerNorm = LayerNorm(config.hiddenSize, eps: config.layerNormEps, dtype: dtype)
        postLayerNorm = LayerNorm(config.hiddenSize, eps: config.layerNormEps, dtype: dtype)
    }

    /// `pixels [B, H, W, C]`, channels-last, already normalised (see the Rewards preprocessing).
    public func callAsFunction(_ pixels: Tensor) -> CLIPVisionOutput {
        var x = preLayerNorm(embeddings(pixels))
        for layer in encoder.layers { x = layer(x, mask: .none) }
        return CLIPVisionOutput(lastHiddenState: x, pooled: postLayerNorm(x[0..., 0]))
    }
}

/// transformers `CLIPModel`: both towers, their projections (no bias) and `logit_scale` — the layout of PickScore_v1,
/// openai/clip-vit-large-patch14 and laion's CLIP checkpoints on the Hub. The text tower is the one FLUX and Stable
/// Diffusion use (``CLIPTextTransformer``).
public final class CLIPModel: Module {
    public let config: CLIPConfig
    @Child(key: "text_model") public var textModel: CLIPTextTransformer
    @Child(key: "vision_model") public var visionModel: CLIPVisionTransformer
    @Child(key: "text_projection") public var textProjection: Linear
    @Child(key: "visual_projection") public var visualProjection: Linear
    @Param(key: "logit_scale") public var logitScale: Tensor

    public init(_ config: CLIPConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        let keys = key.split(into: 4)
        super.init()
        textModel = CLIPTextTransformer(config.text, dtype: dtype, key: keys[0])
        visionModel = CLIPVisionTransformer(config.vision, dtype: dtype, key: keys[1])
        textProjection = Linear(config.text.hiddenSize, config.projectionDim, bias: false, dtype: dtype, key: keys[2])
        visualProjection = Linear(
            config.vision.hiddenSize, config.projectionDim, bias: false, dtype: dtype, key: keys[3])
        logitScale = Tensor.scalar(Foundation.log(1 / 0.07), dtype: dtype)
    }

    /// Builds the model from a transformers folder (`config.json` + safetensors, sharded or not), loading strictly
    /// (old files' `position_ids` buffers are skipped).
    public static func load(from folder: URL, dtype: DType? = nil) throws -> CLIPModel {
        // Engine failures while building (sizes the config checks missed) are thrown here, not later.
        try Engine.catchingErrors {
            let model = CLIPModel(try CLIPConfig.load(folder), dtype: dtype ?? .float32)
            try model.loadCheckpoint(folder, dtype: dtype) { CLIPCheckpointKeys.isPositionIds($0) }
            return model
        }
    }

    /// `get_image_features`: `visual_projection(pooled)`, `[B, projection_dim]`, not normalised.
    public func imageFeatures(_ pixels: Tensor) -> Tensor { visualProjection(visionModel(pixels).pooled) }

    /// `get_text_features`: `text_projection(pooled)`, `[B, projection_dim]`, not normalised.
    public func textFeatures(_ inputIds: Tensor, attentionMask: Tensor? = nil) -> Tensor {
        textProjection(textModel(inputIds, attentionMask: attentionMask).pooled)
    }
}
