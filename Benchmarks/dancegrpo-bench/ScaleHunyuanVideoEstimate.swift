import Engine
import GRPO
import Models

/// HunyuanVideo's training memory through the same ``MemoryPlan``, at the seed's setting (`finetune_hunyuan_grpo.sh`:
/// the 13B transformer in float32 master weights under FSDP full shard on 32 GPUs, bf16 compute, gradient
/// checkpointing, one sample per network call with no classifier-free guidance, 53 frames of 480×480 px = 14 latent
/// frames of 30×30 patches = 12,600 video tokens and 256 text tokens), against 80 GB GPUs, with and without Ulysses
/// sequence parallelism (`--sp-size`: each rank of a group holds 1/sp of the tokens and of the heads' scores).
enum ScaleHunyuanVideoEstimate {
    /// The released transformer config (`hunyuanvideo-community/HunyuanVideo/transformer/config.json`, diffusers'
    /// defaults): 20 double-stream and 40 single-stream blocks, 24 heads of 128.
    static func config(heads: Int = 24, double: Int = 20, single: Int = 40) -> HunyuanVideoTransformer3DConfig {
        var c = HunyuanVideoTransformer3DConfig()
        c.numAttentionHeads = heads
        c.numLayers = double
        c.numSingleLayers = single
        return c
    }

    static let gpuBytes = 80 * 1_000_000_000
    static let videoTokens = ((53 - 1) / 4 + 1) * (480 / 16) * (480 / 16)
    static let textTokens = 256

    /// (parameters, the largest block's) of the 13B transformer without building it: at a fixed head size every
    /// tensor is a polynomial of degree ≤ 2 in the head count, so models of 1–3 heads fix the embedders and the two
    /// kinds of block exactly.
    static func sizes() -> (parameters: Int, block: Int) {
        func count(_ heads: Int, _ double: Int, _ single: Int) -> Int {
            HunyuanVideoTransformer3DModel(config(heads: heads, double: double, single: single)).parameterCount()
        }
        let samples = [1, 2, 3].map { h -> (rest: Int, double: Int, single: Int) in
            let base = count(h, 1, 1), double = count(h, 2, 1) - base, single = count(h, 1, 2) - base
            return (base - double - single, double, single)
        }
        func extrapolate(_ y: [Int], at h: Int) -> Int {
            let d1 = y[1] - y[0], d2 = y[2] - 2 * y[1] + y[0]
            return y[0] + (h - 1) * d1 + (h - 1) * (h - 2) / 2 * d2
        }
        let c = config()
        let double = extrapolate(samples.map(\.double), at: c.numAttentionHeads)
        let single = extrapolate(samples.map(\.single), at: c.numAttentionHeads)
        let rest = extrapolate(samples.map(\.rest), at: c.numAttentionHeads)
        return (rest + c.numLayers * double + c.numSingleLayers * single, max(double, single))
    }

    /// The frozen causal 3D VAE (diffusers' defaults are HunyuanVideo's) in bf16.
    static func vaeBytes() -> Int {
        AutoencoderKLHunyuanVideo(AutoencoderKLHunyuanVideoConfig()).parameterCount() * 2
    }

    static func plan(ranks: Int, sequenceParallel: Int) -> MemoryPlan {
        let c = config()
        let (parameters, block) = sizes()
        var inputs = MemoryPlan.Inputs(trainableParameters: parameters)
        inputs.largestUnitParameters = block
        inputs.frozenBytes = vaeBytes()
        inputs.worldSize = ranks
        inputs.zeroStage = 3
        inputs.computeDType = .bfloat16
        inputs.gradientCheckpointing = true
        inputs.activations = ActivationEstimate.transformer(
            tokens: videoTokens + textTokens, hidden: c.innerDim, heads: c.numAttentionHeads,
            blocks: c.numLayers + c.numSingleLayers
        ).sequenceParallel(sequenceParallel)
        return MemoryPlan(inputs)
    }

    /// (label, plan): the seed's 32 GPUs without sequence parallelism, then on 16 and 32 GPUs the smallest
    /// `--sp-size` (a divisor of the 24 heads) whose plan fits.
    static func plans() -> [(String, MemoryPlan)] {
        var result = [
            ("the seed's setting: 32 GPUs, ZeRO-3, no sequence parallelism", plan(ranks: 32, sequenceParallel: 1))
        ]
        for ranks in [16, 32] {
            let sizes = [2, 4, 8].filter { ranks % $0 == 0 }
            let fitting = sizes.first { plan(ranks: ranks, sequenceParallel: $0).fits(gpuBytes) }
            let size = fitting ?? sizes.last!
            let label =
                "\(ranks) GPUs, ZeRO-3, --sp-size \(size)"
                + (fitting == nil ? " (the largest tried; none fits)" : ": the smallest that fits")
            result.append((label, plan(ranks: ranks, sequenceParallel: size)))
        }
        return result
    }
}
