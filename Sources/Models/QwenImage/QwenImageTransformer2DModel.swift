import Checkpoints
import Engine
import Foundation
import NN

/// The Qwen-Image transformer (diffusers `QwenImageTransformer2DModel`, the MMDiT of `Qwen/Qwen-Image` and
/// `Qwen/Qwen-Image-Edit`); parameter keys are the diffusers keys, so a `transformer/` folder loads as is.
///
/// Packed latent tokens (`img_in`) and the text encoder's states (`txt_norm`, an RMSNorm, then `txt_in`) go through
/// double-stream blocks conditioned on the timestep embedding, with Qwen's 3-axis rotary positions and the text
/// padding masked out of the attention; the image tokens leave through `norm_out` and `proj_out`.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_qwenimage.py
public final class QwenImageTransformer2DModel: Module {
    /// diffusers' `QwenTimestepProjEmbeddings`: the sinusoidal projection (256 channels, `[cos, sin]`, timesteps
    /// scaled by 1000) and the `timestep_embedder` MLP. FLUX's `TimeTextEmbedding` adds a pooled-text projection that
    /// Qwen-Image has not, hence this one.
    public final class TimestepProjEmbeddings: Module {
        @Child(key: "timestep_embedder") public var timestepEmbedder: TimestepEmbedding

        init(dim: Int, dtype: DType, key: RandomKey) {
            super.init()
            timestepEmbedder = TimestepEmbedding(inChannels: 256, embeddingDim: dim, dtype: dtype, key: key)
        }

        /// `timestep [B]` in 0…1, already in the activations' `dtype`.
        func callAsFunction(_ timestep: Tensor, dtype: DType) -> Tensor {
            let projected = sinusoidalTimestepEmbedding(
                timestep, channels: 256, flipSinToCos: true, downscaleFrequencyShift: 0, scale: 1000)
            return timestepEmbedder(projected.asType(dtype))
        }
    }

    public let config: QwenImageTransformer2DConfig
    @Child(key: "img_in") public var imageIn: Linear
    @Child(key: "txt_in") public var textIn: Linear
    @Child(key: "txt_norm") public var textNorm: RMSNorm
    @Child(key: "time_text_embed") public var timeTextEmbed: TimestepProjEmbeddings
    @Child(key: "transformer_blocks") public var transformerBlocks: [QwenImageTransformerBlock]
    @Child(key: "norm_out") public var normOut: AdaLayerNormContinuous
    @Child(key: "proj_out") public var projOut: Linear
    public let positionEmbedding: QwenEmbedRope
    /// Recompute each block in the backward pass instead of keeping its activations (memory for time).
    public var gradientCheckpointing = false

    /// Random weights (PyTorch's default initialisation) for `config`; load a checkpoint over them.
    public init(_ config: QwenImageTransformer2DConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        positionEmbedding = QwenEmbedRope(axesDims: config.axesDimsRope, scaleRope: true)
        super.init()
        let dim = config.innerDim
        let keys = key.split(into: 5 + config.numLayers)
        imageIn = Linear(config.inChannels, dim, dtype: dtype, key: keys[0])
        textIn = Linear(config.jointAttentionDim, dim, dtype: dtype, key: keys[1])
        textNorm = RMSNorm(config.jointAttentionDim, eps: 1e-6, dtype: dtype)
        timeTextEmbed = TimestepProjEmbeddings(dim: dim, dtype: dtype, key: keys[2])
        transformerBlocks = (0..<config.numLayers).map {
            QwenImageTransformerBlock(
                dim: dim, heads: config.numAttentionHeads, headDim: config.attentionHeadDim, dtype: dtype,
                key: keys[5 + $0])
        }
        normOut = AdaLayerNormContinuous(dim, conditioningDim: dim, eps: 1e-6, dtype: dtype, key: keys[3])
        projOut = Linear(dim, config.patchSize * config.patchSize * config.outputChannels, dtype: dtype, key: keys[4])
    }

    /// Builds the model from a diffusers `transformer/` folder (config.json + safetensors, sharded with
    /// `diffusion_pytorch_model.safetensors.index.json` or not, any floating dtype). Loading is strict: a missing,
    /// unexpected or mis-shaped tensor fails with every such key listed. `dtype` converts the weights (nil keeps the
    /// checkpoint's); diffusers keeps no module of this model in float32.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> QwenImageTransformer2DModel {
        // Engine failures while building (sizes the config checks missed) are thrown here, not later.
        try Engine.catchingErrors {
            let config = try QwenImageTransformer2DConfig.load(folder)
            let model = QwenImageTransformer2DModel(config, dtype: dtype ?? .float32)
            try model.load(contentsOf: folder, dtype: dtype)
            return model
        }
    }

    /// The velocity for packed latents, with diffusers' forward signature:
    /// - hiddenStates: `[B, Li, in_channels]` packed 2×2 latent patches (``QwenImageLatents/pack(_:)``), the images
    ///   of `imageShapes` one after the other.
    /// - encoderHiddenStates: `[B, Lt, joint_attention_dim]` the text encoder's states.
    /// - encoderHiddenStatesMask: `[B, Lt]`, nonzero (or true) for real tokens and zero for padding, any pattern;
    ///   padding tokens are masked out as keys of the joint attention (they still attend themselves, as in
    ///   diffusers). nil attends to every token.
    /// - timestep: `[B]` in 0…1 (σ, or τ/1000), scaled by 1000 inside as diffusers does.
    /// - imageShapes: per batch row, the (frames, height, width) token grids of its images: one for text-to-image,
    ///   the generated and the condition image for Edit. As in diffusers, the first row's list positions every row.
    /// - txtSeqLens: older diffusers' text lengths (`txt_seq_lens`), whose maximum set the text's rotary length;
    ///   diffusers 0.42 takes that length from `encoderHiddenStates` instead. When given, the maximum must equal `Lt`,
    ///   the only value older versions accepted.
    /// Returns `[B, Li, patch_size² · out_channels]`.
    public func callAsFunction(
        hiddenStates: Tensor, encoderHiddenStates: Tensor, encoderHiddenStatesMask: Tensor? = nil, timestep: Tensor,
        imageShapes: [[QwenEmbedRope.ImageShape]], txtSeqLens: [Int]? = nil
    ) -> Tensor {
        let (b, li, lt) = (hiddenStates.dim(0), hiddenStates.dim(1), encoderHiddenStates.dim(1))
        precondition(
            hiddenStates.ndim == 3 && hiddenStates.dim(2) == config.inChannels,
            "QwenImageTransformer2DModel: expected packed latents [B, Li, \(config.inChannels)], got "
                + "\(hiddenStates.shape)")
        precondition(
            encoderHiddenStates.ndim == 3 && encoderHiddenStates.dim(0) == b
                && encoderHiddenStates.dim(2) == config.jointAttentionDim,
            "QwenImageTransformer2DModel: expected text states [\(b), Lt, \(config.jointAttentionDim)], got "
                + "\(encoderHiddenStates.shape)")
        precondition(
            timestep.ndim == 1 && (timestep.dim(0) == b || timestep.dim(0) == 1),
            "QwenImageTransformer2DModel: expected one timestep per sample [\(b)] (or [1]), got \(timestep.shape)")
        precondition(
            imageShapes.count == b,
            "QwenImageTransformer2DModel: expected img_shapes for each of the \(b) batch rows, got \(imageShapes.count)"
        )
        let shapes = imageShapes[0]
        precondition(
            shapes.reduce(0) { $0 + $1.frames * $1.height * $1.width } == li,
            "QwenImageTransformer2DModel: img_shapes \(shapes) give "
                + "\(shapes.reduce(0) { $0 + $1.frames * $1.height * $1.width }) tokens, hidden states have \(li)")
        if let txtSeqLens {
            precondition(
                txtSeqLens.max() == lt,
                "QwenImageTransformer2DModel: max(txt_seq_lens) \(txtSeqLens.max() ?? 0) ≠ the text length \(lt)")
        }
        var mask = AttentionMask.none
        if let textMask = encoderHiddenStatesMask {
            precondition(
                textMask.shape == [b, lt],
                "QwenImageTransformer2DModel: expected a text mask [\(b), \(lt)], got \(textMask.shape)")
            let keep = textMask.dtype == .bool ? textMask : textMask .!= Tensor.zeros([], dtype: textMask.dtype)
            mask = .keyPadding(concatenated([keep, Tensor.ones([b, li], dtype: .bool)], axis: 1))
        }

        let dtype = hiddenStates.dtype
        var x = imageIn(hiddenStates)
        var context = textIn(textNorm(encoderHiddenStates))
        let embedding = timeTextEmbed(timestep.asType(dtype), dtype: dtype)
        let rotary = positionEmbedding(imageShapes: shapes, textLength: lt)

        for block in transformerBlocks {
            if gradientCheckpointing {
                let out = block.withCheckpointing([x, context, embedding]) { inputs in
                    let (x, c) = block(inputs[0], context: inputs[1], embedding: inputs[2], mask: mask, rotary: rotary)
                    return [x, c]
                }
                (x, context) = (out[0], out[1])
            } else {
                (x, context) = block(x, context: context, embedding: embedding, mask: mask, rotary: rotary)
            }
        }
        return projOut(normOut(x, conditioning: embedding))
    }
}

extension QwenImageTransformer2DModel: GradientCheckpointable {
    public var checkpointedBlocks: [Module] { transformerBlocks }
}
