import Engine
import Foundation
import NN

/// Stable Diffusion's denoiser (diffusers `UNet2DConditionModel`); parameter keys are the diffusers keys, so the
/// `unet/` folder of an SD checkpoint loads as is. Built from `unet/config.json` (``UNet2DConditionConfig``).
///
/// Structure: `conv_in`; the sinusoidal `time_proj` (no weights) and `time_embedding.linear_1/2`; `down_blocks.<i>`
/// (``UNetDownBlock``), `mid_block` (``UNetMidBlock``), `up_blocks.<i>` (``UNetUpBlock``, block sizes in reverse,
/// consuming the down path's skip activations); `conv_norm_out`, SiLU, `conv_out`.
///
/// Layout: latents are channels-last, `[N, H, W, in_channels]` (diffusers' `[N, C, H, W]` transposed with
/// `[0, 2, 3, 1]`); H and W must be multiples of 2^(levels − 1) (8 for SD v1: 64×64 latents at 512 px).
public final class UNet2DConditionModel: Module {
    public let config: UNet2DConditionConfig
    @Child(key: "conv_in") public var convIn: Conv2d
    @Child(key: "time_embedding") public var timeEmbedding: TimestepEmbedding
    @Child(key: "down_blocks") public var downBlocks: [UNetDownBlock]
    @Child(key: "mid_block") public var midBlock: UNetMidBlock? = nil
    @Child(key: "up_blocks") public var upBlocks: [UNetUpBlock]
    @Child(key: "conv_norm_out") public var convNormOut: GroupNorm
    @Child(key: "conv_out") public var convOut: Conv2d
    /// Recompute each block in the backward pass instead of keeping its activations (memory for time).
    public var gradientCheckpointing = false

    /// Random weights (PyTorch's default initialisation) for `config`; load a checkpoint over them. Stops with the
    /// config's problems if this implementation cannot build it (``UNet2DConditionConfig/load(_:)`` throws them).
    public init(_ config: UNet2DConditionConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let problems = config.problems()
        precondition(problems.isEmpty, "UNet2DConditionModel: " + problems.joined(separator: "; "))
        self.config = config
        super.init()
        let channels = config.blockOutChannels, count = config.blockCount
        let keys = key.split(into: 5 + 2 * count)
        func settings(_ i: Int) -> UNetBlockSettings {
            UNetBlockSettings(
                groups: config.normNumGroups, eps: config.normEps, timeEmbeddingChannels: config.timeEmbeddingChannels,
                heads: config.heads[i], contextDim: config.crossAttentionDims[i],
                transformerLayers: config.transformerLayers[i], linearProjection: config.useLinearProjection,
                onlyCrossAttention: config.onlyCrossAttentions[i], dtype: dtype)
        }

        convIn = Conv2d(
            config.inChannels, channels[0], kernelSize: config.convInKernel,
            padding: .explicit([(config.convInKernel - 1) / 2]),
            dtype: dtype, key: keys[0])
        timeEmbedding = TimestepEmbedding(
            inChannels: channels[0], embeddingDim: config.timeEmbeddingChannels, dtype: dtype, key: keys[1])
        downBlocks = (0..<count).map { i in
            UNetDownBlock(
                inChannels: i == 0 ? channels[0] : channels[i - 1], outChannels: channels[i], layers: config.layers[i],
                crossAttention: config.downBlockTypes[i] == "CrossAttnDownBlock2D", downsample: i < count - 1,
                downsamplePadding: config.downsamplePadding, settings: settings(i), key: keys[5 + i])
        }
        if config.midBlockType != nil {
            // diffusers' UNetMidBlock2DCrossAttn takes no only_cross_attention: its attn1 is always self-attention.
            var mid = settings(count - 1)
            mid.onlyCrossAttention = false
            midBlock = UNetMidBlock(
                channels: channels[count - 1], outputScaleFactor: config.midBlockScaleFactor, settings: mid,
                key: keys[2])
        }
        // The up path: level i mirrors down level count−1−i (diffusers reverses every per-block list).
        let reversed = Array(channels.reversed())
        upBlocks = (0..<count).map { i in
            let mirrored = count - 1 - i
            return UNetUpBlock(
                previousChannels: i == 0 ? reversed[0] : reversed[i - 1],
                skipChannels: reversed[Swift.min(i + 1, count - 1)], outChannels: reversed[i],
                layers: config.layers[mirrored] + 1, crossAttention: config.upBlockTypes[i] == "CrossAttnUpBlock2D",
                upsample: i < count - 1, settings: settings(mirrored), key: keys[5 + count + i])
        }
        convNormOut = GroupNorm(groups: config.normNumGroups, channels: channels[0], eps: config.normEps, dtype: dtype)
        convOut = Conv2d(
            channels[0], config.outChannels, kernelSize: config.convOutKernel,
            padding: .explicit([(config.convOutKernel - 1) / 2]), dtype: dtype, key: keys[3])
    }

    /// Builds the model from a diffusers `unet/` folder (config.json + safetensors, sharded or not). `dtype` nil keeps
    /// the checkpoint's.
    public static func load(from folder: URL, dtype: DType? = nil) throws -> UNet2DConditionModel {
        // Engine failures while building (sizes the config checks missed) are thrown here, not later.
        try Engine.catchingErrors {
            let config = try UNet2DConditionConfig.load(folder)
            let model = UNet2DConditionModel(config, dtype: dtype ?? .float32)
            try model.load(contentsOf: folder, dtype: dtype)
            return model
        }
    }

    /// The network output (noise ε for SD v1) for latents `sample [N, H, W, in_channels]` at training timesteps
    /// `timesteps` (`[N]` or one value for all, integers or floats in 0…T), conditioned on the text states
    /// `encoderHiddenStates [N, L, cross_attention_dim]`. Returns `[N, H, W, out_channels]`, in the weights' dtype.
    public func callAsFunction(_ sample: Tensor, timesteps: Tensor, encoderHiddenStates: Tensor) -> Tensor {
        precondition(
            sample.ndim == 4 && sample.dim(3) == config.inChannels,
            "UNet2DConditionModel: expected channels-last latents [N, H, W, \(config.inChannels)], got \(sample.shape)")
        let n = sample.dim(0), factor = 1 << config.downsamplingSteps
        precondition(
            sample.dim(1) % factor == 0 && sample.dim(2) % factor == 0,
            "UNet2DConditionModel: latent size \(sample.dim(1))×\(sample.dim(2)) is not a multiple of \(factor)")
        precondition(
            encoderHiddenStates.ndim == 3 && encoderHiddenStates.dim(0) == n,
            "UNet2DConditionModel: expected text states [\(n), L, D], got \(encoderHiddenStates.shape)")
        let dtype = convIn.weight.dtype
        var x = sample.asType(dtype)
        if config.centerInputSample { x = 2 * x - 1 }
        let context = encoderHiddenStates.asType(dtype)

        let t = timesteps.count == 1 ? timesteps.reshaped([1]).broadcast(to: [n]) : timesteps
        precondition(t.shape == [n], "UNet2DConditionModel: expected \(n) timesteps (or one), got \(timesteps.shape)")
        let projected = sinusoidalTimestepEmbedding(
            t, channels: config.blockOutChannels[0], flipSinToCos: config.flipSinToCos,
            downscaleFrequencyShift: config.freqShift)
        let embedding = timeEmbedding(projected.asType(dtype))

        x = convIn(x)
        var skips = [x]
        for block in downBlocks {
            // A down block's output is also its last skip activation: returned once, since a checkpointed function
            // that returns the same array twice would lose one of the two gradients flowing back into it.
            let outputs = checkpointing(block, [x, embedding, context]) { inputs in
                block(inputs[0], embedding: inputs[1], context: inputs[2]).skips
            }
            x = outputs[outputs.count - 1]
            skips += outputs
        }
        if let midBlock {
            x =
                checkpointing(midBlock, [x, embedding, context]) {
                    [midBlock($0[0], embedding: $0[1], context: $0[2])]
                }[0]
        }
        for block in upBlocks {
            let taken = Array(skips.suffix(block.resnets.count))
            skips.removeLast(block.resnets.count)
            x =
                checkpointing(block, [x, embedding, context] + taken) { inputs in
                    [block(inputs[0], skips: Array(inputs[3...]), embedding: inputs[1], context: inputs[2])]
                }[0]
        }
        return convOut(silu(convNormOut(x)))
    }

    /// `body(inputs)`, through ``Module/withCheckpointing(_:_:)`` when ``gradientCheckpointing`` is on.
    private func checkpointing(_ block: Module, _ inputs: [Tensor], _ body: @escaping ([Tensor]) -> [Tensor])
        -> [Tensor]
    {
        gradientCheckpointing ? block.withCheckpointing(inputs, body) : body(inputs)
    }
}

extension UNet2DConditionModel: GradientCheckpointable {
    public var checkpointedBlocks: [Module] { downBlocks + (midBlock.map { [$0] } ?? []) + upBlocks }
}
