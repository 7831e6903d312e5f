import Engine
import Foundation
import NN

/// The FLUX.1 transformer (diffusers `FluxTransformer2DModel`); parameter keys are the diffusers keys, so a
/// `transformer/` folder of a FLUX checkpoint loads as is.
public final class FluxTransformer2DModel: Module {
    /// Timestep (+ guidance) + pooled-text conditioning (diffusers `CombinedTimestep[Guidance]TextProjEmbeddings`).
    public final class TimeTextEmbedding: Module {
        @Child(key: "timestep_embedder") public var timestepEmbedder: TimestepEmbedding
        @Child(key: "guidance_embedder") public var guidanceEmbedder: TimestepEmbedding?
        @Child(key: "text_embedder") public var textEmbedder: TextProjection

        init(dim: Int, pooledDim: Int, guidance: Bool, dtype: DType, key: RandomKey) {
            super.init()
            let keys = key.split(into: 3)
            timestepEmbedder = TimestepEmbedding(inChannels: 256, embeddingDim: dim, dtype: dtype, key: keys[0])
            guidanceEmbedder =
                guidance ? TimestepEmbedding(inChannels: 256, embeddingDim: dim, dtype: dtype, key: keys[1]) : nil
            textEmbedder = TextProjection(inChannels: pooledDim, embeddingDim: dim, dtype: dtype, key: keys[2])
        }

        /// `timestep`, `guidance` already scaled to the network's 0…1000 range, [B]; `pooled [B, pooledDim]`.
        func callAsFunction(timestep: Tensor, guidance: Tensor?, pooled: Tensor) -> Tensor {
            func project(_ t: Tensor) -> Tensor {
                sinusoidalTimestepEmbedding(t, channels: 256, flipSinToCos: true, downscaleFrequencyShift: 0).asType(
                    pooled.dtype)
            }
            var embedding = timestepEmbedder(project(timestep))
            if let guidanceEmbedder {
                guard let guidance else {
                    preconditionFailure(
                        "FluxTransformer2DModel: this checkpoint embeds guidance; pass a guidance value")
                }
                embedding = embedding + guidanceEmbedder(project(guidance))
            }
            return embedding + textEmbedder(pooled)
        }
    }

    public let config: FluxConfig
    @Child(key: "time_text_embed") public var timeTextEmbed: TimeTextEmbedding
    @Child(key: "context_embedder") public var contextEmbedder: Linear
    @Child(key: "x_embedder") public var xEmbedder: Linear
    @Child(key: "transformer_blocks") public var transformerBlocks: [FluxTransformerBlock]
    @Child(key: "single_transformer_blocks") public var singleTransformerBlocks: [FluxSingleTransformerBlock]
    @Child(key: "norm_out") public var normOut: AdaLayerNormContinuous
    @Child(key: "proj_out") public var projOut: Linear
    let positionEmbedding: FluxPositionEmbedding
    /// Recompute each block in the backward pass instead of keeping its activations (memory for time).
    public var gradientCheckpointing = false

    /// Random weights (PyTorch's default initialisation) for `config`; load a checkpoint over them.
    public init(_ config: FluxConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        positionEmbedding = FluxPositionEmbedding(axesDims: config.axesDimsRope)
        super.init()
        let dim = config.innerDim
        let keys = key.split(into: 6 + config.numLayers + config.numSingleLayers)
        timeTextEmbed = TimeTextEmbedding(
            dim: dim, pooledDim: config.pooledProjectionDim, guidance: config.guidanceEmbeds,
            dtype: dtype, key: keys[0])
        contextEmbedder = Linear(config.jointAttentionDim, dim, dtype: dtype, key: keys[1])
        xEmbedder = Linear(config.inChannels, dim, dtype: dtype, key: keys[2])
        transformerBlocks = (0..<config.numLayers).map {
            FluxTransformerBlock(
                dim: dim, heads: config.numAttentionHeads, headDim: config.attentionHeadDim, dtype: dtype,
                key: keys[6 + $0])
        }
        singleTransformerBlocks = (0..<config.numSingleLayers).map {
            FluxSingleTransformerBlock(
                dim: dim, heads: config.numAttentionHeads, headDim: config.attentionHeadDim, dtype: dtype,
                key: keys[6 + config.numLayers + $0])
        }
        normOut = AdaLayerNormContinuous(dim, conditioningDim: dim, dtype: dtype, key: keys[3])
        projOut = Linear(dim, config.patchSize * config.patchSize * config.outputChannels, dtype: dtype, key: keys[4])
    }

    /// Builds the model from a diffusers `transformer/` folder (config.json + safetensors, sharded or not).
    public static func load(from folder: URL, dtype: DType? = nil) throws -> FluxTransformer2DModel {
        // Engine failures while building (sizes the config checks missed) are thrown here, not later.
        try Engine.catchingErrors {
            let config = try FluxConfig.load(folder)
            let model = FluxTransformer2DModel(config, dtype: dtype ?? .float32)
            try model.load(contentsOf: folder, dtype: dtype)
            return model
        }
    }

    /// The velocity for packed latents, with diffusers' forward signature:
    /// - hiddenStates: `[B, Li, in_channels]` packed 2×2 latent patches.
    /// - encoderHiddenStates: `[B, Lt, joint_attention_dim]` T5 states; pooled: `[B, pooled_projection_dim]` CLIP.
    /// - timestep: `[B]` in 0…1 (σ, or τ/1000), scaled by 1000 inside as diffusers does; guidance: `[B]` (raw
    /// scale).
    /// - imageIds `[Li, 3]`, textIds `[Lt, 3]`.
    public func callAsFunction(
        hiddenStates: Tensor, encoderHiddenStates: Tensor, pooled: Tensor, timestep: Tensor,
        imageIds: Tensor, textIds: Tensor, guidance: Tensor? = nil
    ) -> Tensor {
        let dtype = hiddenStates.dtype
        var x = xEmbedder(hiddenStates)
        let embedding = timeTextEmbed(
            timestep: timestep.asType(dtype) * 1000, guidance: guidance.map { $0.asType(dtype) * 1000 },
            pooled: pooled)
        var context = contextEmbedder(encoderHiddenStates)
        let rotary = positionEmbedding(concatenated([textIds, imageIds], axis: 0))
        let textLength = context.dim(1)

        for block in transformerBlocks {
            if gradientCheckpointing {
                let out = block.withCheckpointing([x, context, embedding]) { inputs in
                    let (x, c) = block(inputs[0], context: inputs[1], embedding: inputs[2], rotary: rotary)
                    return [x, c]
                }
                (x, context) = (out[0], out[1])
            } else {
                (x, context) = block(x, context: context, embedding: embedding, rotary: rotary)
            }
        }
        var joint = concatenated([context, x], axis: 1)
        for block in singleTransformerBlocks {
            if gradientCheckpointing {
                joint =
                    block.withCheckpointing([joint, embedding]) { [block($0[0], embedding: $0[1], rotary: rotary)] }[0]
            } else {
                joint = block(joint, embedding: embedding, rotary: rotary)
            }
        }
        x = joint[.all, textLength...]
        return projOut(normOut(x, conditioning: embedding))
    }
}

extension FluxTransformer2DModel: GradientCheckpointable {
    public var checkpointedBlocks: [Module] { transformerBlocks + singleTransformerBlocks }
}
