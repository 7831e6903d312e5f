import Checkpoints
import Engine
import Foundation
import NN

/// The Wan-2.1 video transformer (diffusers `WanTransformer3DModel`); parameter keys are the diffusers keys, so a
/// `transformer/` folder of a Wan checkpoint (`Wan-AI/Wan2.1-T2V-1.3B-Diffusers`, or an I2V one) loads as is.
///
/// Latents `[B, C, F, H, W]` are cut into non-overlapping patches (the `patch_embedding` convolution), the tokens
/// (frames × rows × columns) go through the blocks with 3-axis rotary positions, cross-attending to the text (and
/// image) tokens, and the output norm and projection turn each token back into its patch.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_wan.py
public final class WanTransformer3DModel: Module {
    public let config: WanTransformer3DConfig
    /// diffusers' `Conv3d(in_channels, D, kernel_size=patch_size, stride=patch_size)`. Checkpoints hold its weight
    /// as PyTorch's `[D, C, t, h, w]`; the layer keeps the engine's channels-last `[D, t, h, w, C]` (converted by its
    /// load/save hooks, so saved folders keep diffusers' layout).
    @Child(key: "patch_embedding") public var patchEmbedding: Conv3d
    @Child(key: "condition_embedder") public var conditionEmbedder: WanConditionEmbedder
    public let blocks: [WanTransformerBlock]
    @Child(key: "norm_out") var normOut: LayerNorm
    @Child(key: "proj_out") public var projOut: Linear
    @Param(key: "scale_shift_table") public var scaleShiftTable: Tensor
    let rope: WanRotaryPosEmbed
    /// Recompute each block in the backward pass instead of keeping its activations (memory for time).
    public var gradientCheckpointing = false
    /// Ulysses sequence parallelism over a group of ranks holding the same sample (see ``SequenceParallelism``): each
    /// runs the blocks on its shard of the video tokens and the output is gathered; the token count must divide by the
    /// group's size. Nil: one process computes everything.
    public var sequenceParallel: SequenceParallelism?

    /// Random weights (PyTorch's default initialisation, diffusers' for the modulation tables) for `config`; load a
    /// checkpoint over them.
    public init(_ config: WanTransformer3DConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        self.config = config
        rope = WanRotaryPosEmbed(axesDims: config.rotaryAxesDims, maxSeqLen: config.ropeMaxSeqLen)
        let dim = config.innerDim
        let keys = key.split(into: 4 + config.numLayers)
        blocks = (0..<config.numLayers).map { WanTransformerBlock(config, dtype: dtype, key: keys[4 + $0]) }
        super.init()
        patchEmbedding = Conv3d(
            config.inChannels, dim, kernelSize: config.patchSize, stride: config.patchSize, dtype: dtype, key: keys[0])
        conditionEmbedder = WanConditionEmbedder(config, dtype: dtype, key: keys[1])
        normOut = LayerNorm(dim, eps: Float(config.eps), elementwiseAffine: false)
        projOut = Linear(dim, config.outputChannels * config.patchVolume, dtype: dtype, key: keys[2])
        scaleShiftTable = (Random.normal([1, 2, dim], key: keys[3]) / Float(dim).squareRoot()).asType(dtype)
    }

    /// Builds the model from a diffusers `transformer/` folder (config.json + safetensors, sharded with
    /// `diffusion_pytorch_model.safetensors.index.json` or not, any floating dtype). Loading is strict: a missing,
    /// unexpected or mis-shaped tensor fails with every such key listed. As in diffusers, `norm_added_q` tensors are
    /// skipped: I2V folders written by older diffusers (whose generic `Attention` built one) hold a query norm for the
    /// image attention that no version applied.
    ///
    /// `dtype` converts the weights (nil keeps the checkpoint's); a 16-bit `dtype` keeps in float32 what diffusers
    /// keeps there (``keepsFloat32(_:)``).
    public static func load(from folder: URL, dtype: DType? = nil) throws -> WanTransformer3DModel {
        // Engine failures while building (sizes the config checks missed) are thrown here, not later.
        try Engine.catchingErrors {
            let config = try WanTransformer3DConfig.load(folder)
            let model = WanTransformer3DModel(config, dtype: dtype ?? .float32)
            let checkpoint = CheckpointKeyFilter(try openCheckpoint(path: folder)) { $0.contains("norm_added_q") }
            try model.load(from: checkpoint, dtype: dtype)
            if let dtype, dtype == .bfloat16 || dtype == .float16 {
                // Read again from the file rather than widened from 16 bits, so they keep the checkpoint's precision.
                try model.load(
                    from: CheckpointKeyFilter(checkpoint) { !keepsFloat32($0) }, strict: false, dtype: .float32)
            }
            return model
        }
    }

    /// diffusers' `_keep_in_fp32_modules` for Wan: tensors under a module named `time_embedder`, `norm1`, `norm2`,
    /// `norm3` or `scale_shift_table` (the time MLP, the affine norms, the modulation tables) stay float32 when the
    /// model is loaded in 16 bits, as diffusers' `from_pretrained(torch_dtype=…)` leaves them.
    public static func keepsFloat32(_ key: String) -> Bool {
        key.split(separator: ".").contains {
            ["time_embedder", "norm1", "norm2", "norm3", "scale_shift_table"].contains($0)
        }
    }

    /// The flow (velocity) prediction, with diffusers' forward signature:
    /// - hiddenStates: `[B, C, F, H, W]` latents; F, H, W multiples of the patch size.
    /// - timestep: `[B]` in the scheduler's 0…1000 range, passed as diffusers' pipeline passes it (unlike FLUX, the
    ///   model does not scale it).
    /// - encoderHiddenStates: `[B, Lt, text_dim]` UMT5 states (the pipeline pads them to 512 with zeros).
    /// - encoderHiddenStatesImage: I2V only, `[B, Li, image_dim]` image-encoder states (`[2B, Li, image_dim]` for
    ///   first-last-frame models). diffusers joins them in front of the text and splits them off again by assuming
    ///   512 text tokens; here they stay apart, which is the same when the text has 512 tokens.
    /// Returns `[B, out_channels, F, H, W]`.
    public func callAsFunction(
        hiddenStates: Tensor, timestep: Tensor, encoderHiddenStates: Tensor, encoderHiddenStatesImage: Tensor? = nil
    ) -> Tensor {
        let shape = hiddenStates.shape
        let (pt, ph, pw) = (config.patchSize[0], config.patchSize[1], config.patchSize[2])
        precondition(
            shape.count == 5 && shape[1] == config.inChannels && shape[2] % pt == 0 && shape[3] % ph == 0
                && shape[4] % pw == 0,
            "WanTransformer3DModel: expected latents [B, \(config.inChannels), F, H, W] with F, H, W multiples of "
                + "\(config.patchSize), got \(shape)")
        precondition(
            timestep.ndim == 1 && (timestep.dim(0) == shape[0] || timestep.dim(0) == 1),
            "WanTransformer3DModel: expected one timestep per sample [\(shape[0])] (or [1]), got \(timestep.shape)")
        precondition(
            encoderHiddenStates.ndim == 3 && encoderHiddenStates.dim(0) == shape[0]
                && encoderHiddenStates.dim(2) == config.textDim,
            "WanTransformer3DModel: expected text states [\(shape[0]), L, \(config.textDim)], got "
                + "\(encoderHiddenStates.shape)")
        precondition(
            encoderHiddenStatesImage == nil || conditionEmbedder.imageEmbedder != nil,
            "WanTransformer3DModel: image states given to a model without image_dim (text-to-video)")
        let grid = (frames: shape[2] / pt, height: shape[3] / ph, width: shape[4] / pw)
        var rotary = rope(frames: grid.frames, height: grid.height, width: grid.width)

        var x = patchify(hiddenStates)
        var parallel = sequenceParallel
        parallel?.replicatedLength = 0  // only video tokens attend to themselves; the text is cross-attended
        if let parallel { (x, rotary) = parallel.shard(x, rotary: rotary) }
        let c = conditionEmbedder(
            timestep: timestep, text: encoderHiddenStates, image: encoderHiddenStatesImage)
        for block in blocks {
            if gradientCheckpointing {
                let inputs = [x, c.text, c.modulation] + (c.image.map { [$0] } ?? [])
                x =
                    block.withCheckpointing(inputs) {
                        [
                            block(
                                $0[0], context: $0[1], imageContext: $0.count > 3 ? $0[3] : nil, modulation: $0[2],
                                rotary: rotary, sequenceParallel: parallel)
                        ]
                    }[0]
            } else {
                x = block(
                    x, context: c.text, imageContext: c.image, modulation: c.modulation, rotary: rotary,
                    sequenceParallel: parallel)
            }
        }

        // The output norm's shift and scale: the table plus the time embedding (not its projection), [B, 1, D] each.
        let m = (scaleShiftTable.asType(.float32) + c.time.asType(.float32).expandedDims(axis: 1)).split(
            parts: 2, axis: 1)
        x = (float32LayerNorm(x.asType(.float32), normOut) * (m[1] + 1) + m[0]).asType(x.dtype)
        let out = projOut(x)
        return unpatchify(parallel.map { $0.gatherSequence(out) } ?? out, grid: grid)
    }

    /// `[B, C, F, H, W]` → tokens `[B, F'·H'·W', D]` (frame-major, then rows, then columns, as diffusers flattens
    /// the convolution's output). With kernel = stride the convolution is one matrix product over non-overlapping
    /// patches whose features are ordered (t, h, w, C), as the layer's channels-last weight is; the product goes to
    /// BLAS instead of the engine's general convolution kernel.
    private func patchify(_ latents: Tensor) -> Tensor {
        let s = latents.shape, p = config.patchSize
        let (f, h, w) = (s[2] / p[0], s[3] / p[1], s[4] / p[2])
        let patches = latents.reshaped([s[0], s[1], f, p[0], h, p[1], w, p[2]])
            .transposed([0, 2, 4, 6, 3, 5, 7, 1])
            .reshaped([s[0], f * h * w, config.patchVolume * s[1]])
        let weight = patchEmbedding.weight.reshaped([patchEmbedding.weight.dim(0), -1])
        let tokens = patches.asType(weight.dtype).matmul(weight.transposed())
        return patchEmbedding.bias.map { tokens + $0 } ?? tokens
    }

    /// `[B, L, t·h·w·C_out]` → `[B, C_out, F, H, W]` (diffusers: per token the patch's values ordered
    /// (t, h, w, C)).
    private func unpatchify(_ tokens: Tensor, grid: (frames: Int, height: Int, width: Int)) -> Tensor {
        let p = config.patchSize, b = tokens.dim(0), c = config.outputChannels
        return tokens.reshaped([b, grid.frames, grid.height, grid.width, p[0], p[1], p[2], c])
            .transposed([0, 7, 1, 4, 2, 5, 3, 6])
            .reshaped([b, c, grid.frames * p[0], grid.height * p[1], grid.width * p[2]])
    }
}

extension WanTransformer3DModel: SequenceParallelizable {}

extension WanTransformer3DModel: GradientCheckpointable {
    public var checkpointedBlocks: [Module] { blocks }
}
