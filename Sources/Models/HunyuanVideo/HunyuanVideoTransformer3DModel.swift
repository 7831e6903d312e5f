import Checkpoints
import Engine
import Foundation
import NN

/// The HunyuanVideo transformer (diffusers `HunyuanVideoTransformer3DModel`); parameter keys are the diffusers keys, so
/// a `transformer/` folder of a HunyuanVideo checkpoint (`hunyuanvideo-community/HunyuanVideo`) loads as is.
///
/// Latents `[B, C, F, H, W]` are cut into non-overlapping patches (`x_embedder`), the text states are refined
/// (`context_embedder`), and both go through FLUX-like double-stream blocks (separate weights, joint attention) and
/// single-stream blocks (one sequence), conditioned on the timestep, the guidance scale and the pooled text vector
/// (`time_text_embed`); the video tokens get 3-axis rotary positions and the padded text tokens are masked out as
/// keys. The output norm and projection turn each video token back into its patch.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_hunyuan_video.py
public final class HunyuanVideoTransformer3DModel: Module {
    public let config: HunyuanVideoTransformer3DConfig
    /// diffusers' `Conv3d(in_channels, D, kernel_size=stride=(patch_size_t, patch_size, patch_size))`. Checkpoints
    /// hold its weight as PyTorch's `[D, C, t, h, w]`; the layer keeps the engine's channels-last `[D, t, h, w, C]`
    /// (converted by its load/save hooks, so saved folders keep diffusers' layout).
    @Child(key: "x_embedder.proj") public var patchEmbedding: Conv3d
    @Child(key: "context_embedder") public var contextEmbedder: HunyuanVideoTokenRefiner
    /// Timestep (+ guidance) + pooled-text conditioning (diffusers' `HunyuanVideoConditionEmbedding` without token
    /// replacement: FLUX's `CombinedTimestepGuidanceTextProjEmbeddings` math and keys).
    @Child(key: "time_text_embed") public var timeTextEmbed: FluxTransformer2DModel.TimeTextEmbedding
    @Child(key: "transformer_blocks") public var transformerBlocks: [HunyuanVideoTransformerBlock]
    @Child(key: "single_transformer_blocks") public var singleTransformerBlocks: [HunyuanVideoSingleTransformerBlock]
    @Child(key: "norm_out") public var normOut: AdaLayerNormContinuous
    @Child(key: "proj_out") public var projOut: Linear
    let rope: HunyuanVideoRotaryPosEmbed
    /// Recompute each block in the backward pass instead of keeping its activations (memory for time).
    public var gradientCheckpointing = false
    /// Ulysses sequence parallelism over a group of ranks holding the same sample: each runs the blocks on its shard
    /// of the video tokens (the text whole) and the output is gathered (see ``SequenceParallelism``); the video token
    /// count must divide by the group's size. Nil: one process computes everything.
    public var sequenceParallel: SequenceParallelism?

    /// Random weights (PyTorch's default initialisation) for `config`; load a checkpoint over them.
    public init(_ config: HunyuanVideoTransformer3DConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0))
    {
        self.config = config
        rope = HunyuanVideoRotaryPosEmbed(axesDims: config.ropeAxesDim, theta: config.ropeTheta)
        super.init()
        let dim = config.innerDim
        let keys = key.split(into: 5 + config.numLayers + config.numSingleLayers)
        let patch = [config.patchSizeT, config.patchSize, config.patchSize]
        patchEmbedding = Conv3d(config.inChannels, dim, kernelSize: patch, stride: patch, dtype: dtype, key: keys[0])
        contextEmbedder = HunyuanVideoTokenRefiner(
            textDim: config.textEmbedDim, heads: config.numAttentionHeads, headDim: config.attentionHeadDim,
            layers: config.numRefinerLayers, dtype: dtype, key: keys[1])
        timeTextEmbed = FluxTransformer2DModel.TimeTextEmbedding(
            dim: dim, pooledDim: config.pooledProjectionDim, guidance: config.guidanceEmbeds, dtype: dtype,
            key: keys[2])
        transformerBlocks = (0..<config.numLayers).map {
            HunyuanVideoTransformerBlock(config, dtype: dtype, key: keys[5 + $0])
        }
        singleTransformerBlocks = (0..<config.numSingleLayers).map {
            HunyuanVideoSingleTransformerBlock(config, dtype: dtype, key: keys[5 + config.numLayers + $0])
        }
        normOut = AdaLayerNormContinuous(dim, conditioningDim: dim, dtype: dtype, key: keys[3])
        projOut = Linear(dim, config.patchVolume * config.outputChannels, dtype: dtype, key: keys[4])
    }

    /// Builds the model from a diffusers `transformer/` folder (config.json + safetensors, sharded with
    /// `diffusion_pytorch_model.safetensors.index.json` or not, any floating dtype). Loading is strict: a missing,
    /// unexpected or mis-shaped tensor fails with every such key listed. `dtype` converts the weights (nil keeps the
    /// checkpoint's); diffusers keeps no module of this model in float32 (no `_keep_in_fp32_modules`).
    public static func load(from folder: URL, dtype: DType? = nil) throws -> HunyuanVideoTransformer3DModel {
        // Engine failures while building (sizes the config checks missed) are thrown here, not later.
        try Engine.catchingErrors {
            let config = try HunyuanVideoTransformer3DConfig.load(folder)
            let model = HunyuanVideoTransformer3DModel(config, dtype: dtype ?? .float32)
            try model.load(contentsOf: folder, dtype: dtype)
            return model
        }
    }

    /// The flow (velocity) prediction, with diffusers' forward signature:
    /// - hiddenStates: `[B, in_channels, F, H, W]` latents; F a multiple of `patch_size_t`, H and W of `patch_size`.
    /// - timestep: `[B]` in the scheduler's 0…1000 range (the model does not scale it).
    /// - encoderHiddenStates: `[B, L, text_embed_dim]` text states; encoderAttentionMask `[B, L]`, nonzero = token.
    ///   As in diffusers, the refiner masks the zero entries, and the blocks keep each sample's first
    ///   `sum(mask)` text tokens (the padding is expected at the end).
    /// - pooledProjections: `[B, pooled_projection_dim]` (CLIP's pooled output).
    /// - guidance: `[B]` the guidance scale as the pipeline passes it (× 1000); required when `guidance_embeds`.
    /// With `image_condition_type` `"token_replace"` the first latent frame (where that pipeline puts the image's
    /// latents) is modulated as at timestep 0; with `"latent_concat"` the image latents are part of the channels.
    /// Returns `[B, out_channels, F, H, W]`.
    public func callAsFunction(
        hiddenStates: Tensor, timestep: Tensor, encoderHiddenStates: Tensor, encoderAttentionMask: Tensor,
        pooledProjections: Tensor, guidance: Tensor? = nil
    ) -> Tensor {
        let shape = hiddenStates.shape
        let (pt, p) = (config.patchSizeT, config.patchSize)
        precondition(
            shape.count == 5 && shape[1] == config.inChannels && shape[2] % pt == 0 && shape[3] % p == 0
                && shape[4] % p == 0,
            "HunyuanVideoTransformer3DModel: expected latents [B, \(config.inChannels), F, H, W] with F a multiple of "
                + "\(pt) and H, W of \(p), got \(shape)")
        let b = shape[0]
        precondition(
            timestep.ndim == 1 && (timestep.dim(0) == b || timestep.dim(0) == 1),
            "HunyuanVideoTransformer3DModel: expected one timestep per sample [\(b)] (or [1]), got \(timestep.shape)")
        precondition(
            encoderHiddenStates.ndim == 3 && encoderHiddenStates.dim(0) == b
                && encoderHiddenStates.dim(2) == config.textEmbedDim,
            "HunyuanVideoTransformer3DModel: expected text states [\(b), L, \(config.textEmbedDim)], got "
                + "\(encoderHiddenStates.shape)")
        precondition(
            encoderAttentionMask.shape == Array(encoderHiddenStates.shape.prefix(2)),
            "HunyuanVideoTransformer3DModel: expected a text mask \(Array(encoderHiddenStates.shape.prefix(2))), got "
                + "\(encoderAttentionMask.shape)")
        precondition(
            pooledProjections.shape == [b, config.pooledProjectionDim],
            "HunyuanVideoTransformer3DModel: expected pooled projections [\(b), \(config.pooledProjectionDim)], got "
                + "\(pooledProjections.shape)")
        precondition(
            !config.guidanceEmbeds || guidance != nil,
            "HunyuanVideoTransformer3DModel: this checkpoint embeds guidance (guidance_embeds); pass a guidance value")
        let grid = (frames: shape[2] / pt, height: shape[3] / p, width: shape[4] / p)
        let textLength = encoderHiddenStates.dim(1), videoLength = grid.frames * grid.height * grid.width
        let firstFrame = grid.height * grid.width
        var rotary = rope(frames: grid.frames, height: grid.height, width: grid.width, textLength: textLength)
        var parallel = sequenceParallel
        parallel?.replicatedLength = textLength

        // diffusers ignores a guidance value given to a model without the embedder.
        let embedding = timeTextEmbed(
            timestep: timestep, guidance: config.guidanceEmbeds ? guidance : nil, pooled: pooledProjections)
        var x = patchify(hiddenStates)
        var context = contextEmbedder(encoderHiddenStates, timestep: timestep, mask: encoderAttentionMask)
        let mask = jointKeyMask(encoderAttentionMask, videoLength: videoLength)
        let replace = tokenReplace(timestep: timestep, pooled: pooledProjections, firstFrameTokens: firstFrame)
        if let parallel {
            precondition(
                replace == nil,
                "HunyuanVideoTransformer3DModel: sequence parallelism does not support token_replace conditioning")
            (x, rotary) = parallel.shard(x, rotary: rotary)
        }

        for block in transformerBlocks {
            if gradientCheckpointing {
                let inputs = [x, context, embedding] + (replace.map { [$0.embedding] } ?? [])
                let out = block.withCheckpointing(inputs) {
                    let r =
                        $0.count > 3 ? HunyuanVideoTokenReplace(embedding: $0[3], firstFrameTokens: firstFrame) : nil
                    let (x, c) = block(
                        $0[0], context: $0[1], embedding: $0[2], mask: mask, rotary: rotary, replace: r,
                        sequenceParallel: parallel)
                    return [x, c]
                }
                (x, context) = (out[0], out[1])
            } else {
                (x, context) = block(
                    x, context: context, embedding: embedding, mask: mask, rotary: rotary, replace: replace,
                    sequenceParallel: parallel)
            }
        }
        var joint = concatenated([context, x], axis: 1)
        for block in singleTransformerBlocks {
            if gradientCheckpointing {
                let inputs = [joint, embedding] + (replace.map { [$0.embedding] } ?? [])
                joint =
                    block.withCheckpointing(inputs) {
                        let r =
                            $0.count > 2
                            ? HunyuanVideoTokenReplace(embedding: $0[2], firstFrameTokens: firstFrame) : nil
                        return [
                            block(
                                $0[0], embedding: $0[1], mask: mask, rotary: rotary, textLength: textLength, replace: r,
                                sequenceParallel: parallel)
                        ]
                    }[0]
            } else {
                joint = block(
                    joint, embedding: embedding, mask: mask, rotary: rotary, textLength: textLength, replace: replace,
                    sequenceParallel: parallel)
            }
        }
        x = joint[.all, textLength...]
        let out = projOut(normOut(x, conditioning: embedding))
        return unpatchify(parallel.map { $0.gatherSequence(out) } ?? out, grid: grid)
    }

    /// Token replacement's first-frame conditioning (diffusers' `token_replace_emb`): the embedding of timestep 0 plus
    /// the pooled text's, without guidance; nil unless `image_condition_type` is `"token_replace"`.
    private func tokenReplace(timestep: Tensor, pooled: Tensor, firstFrameTokens: Int) -> HunyuanVideoTokenReplace? {
        guard config.imageConditionType == "token_replace" else { return nil }
        let zero = sinusoidalTimestepEmbedding(
            Tensor.zeros(timestep.shape), channels: 256, flipSinToCos: true, downscaleFrequencyShift: 0)
        let embedding = timeTextEmbed.timestepEmbedder(zero.asType(pooled.dtype)) + timeTextEmbed.textEmbedder(pooled)
        return HunyuanVideoTokenReplace(embedding: embedding, firstFrameTokens: firstFrameTokens)
    }

    /// The keys each sample attends to over `[text, video]`: the video tokens and its first `sum(mask)` text tokens
    /// (diffusers counts the mask's tokens rather than reading their places).
    private func jointKeyMask(_ textMask: Tensor, videoLength: Int) -> AttentionMask {
        let b = textMask.dim(0), l = textMask.dim(1)
        let lengths = (textMask .!= Tensor.zeros([], dtype: textMask.dtype)).asType(.int32).sum(axis: 1)
        let text = (Tensor.arange(l).reshaped([1, l]) .< lengths.reshaped([b, 1])).asType(.float32)
        return .keyPadding(concatenated([text, Tensor.ones([b, videoLength])], axis: 1))
    }

    /// `[B, C, F, H, W]` → tokens `[B, F'·H'·W', D]` (frame-major, then rows, then columns, as diffusers flattens
    /// the convolution's output). With kernel = stride the convolution is one matrix product over non-overlapping
    /// patches whose features are ordered (t, h, w, C), as the layer's channels-last weight is.
    private func patchify(_ latents: Tensor) -> Tensor {
        let s = latents.shape, (pt, p) = (config.patchSizeT, config.patchSize)
        let (f, h, w) = (s[2] / pt, s[3] / p, s[4] / p)
        let patches = latents.reshaped([s[0], s[1], f, pt, h, p, w, p])
            .transposed([0, 2, 4, 6, 3, 5, 7, 1])
            .reshaped([s[0], f * h * w, config.patchVolume * s[1]])
        let weight = patchEmbedding.weight.reshaped([patchEmbedding.weight.dim(0), -1])
        let tokens = patches.asType(weight.dtype).matmul(weight.transposed())
        return patchEmbedding.bias.map { tokens + $0 } ?? tokens
    }

    /// `[B, L, C_out·t·h·w]` → `[B, C_out, F, H, W]`; unlike Wan's, each token's values are ordered (C, t, h, w).
    private func unpatchify(_ tokens: Tensor, grid: (frames: Int, height: Int, width: Int)) -> Tensor {
        let (pt, p) = (config.patchSizeT, config.patchSize), b = tokens.dim(0), c = config.outputChannels
        return tokens.reshaped([b, grid.frames, grid.height, grid.width, c, pt, p, p])
            .transposed([0, 4, 1, 5, 2, 6, 3, 7])
            .reshaped([b, c, grid.frames * pt, grid.height * p, grid.width * p])
    }
}

extension HunyuanVideoTransformer3DModel: SequenceParallelizable {}

extension HunyuanVideoTransformer3DModel: GradientCheckpointable {
    public var checkpointedBlocks: [Module] { transformerBlocks + singleTransformerBlocks }
}
