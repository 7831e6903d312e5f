import Engine
import GRPO
import Models

/// What the seed's setup needs per GPU, from its settings through the same ``MemoryPlan``: FLUX.1-dev (19 double +
/// 38 single blocks, 24 heads of 128) under FSDP full shard (ZeRO-3) on 8 GPUs, bf16 compute, gradient checkpointing,
/// one transition per call and one sample per rollout call at 720×720 px (2025 image tokens) with 512 T5 tokens.
enum ScaleSeedEstimate {
    static let gpus = 8

    /// FLUX.1-dev's transformer config (diffusers' `black-forest-labs/FLUX.1-dev/transformer/config.json`).
    static func fluxDev(heads: Int = 24, double: Int = 19, single: Int = 38) -> FluxConfig {
        var c = FluxConfig()
        c.numAttentionHeads = heads
        c.numLayers = double
        c.numSingleLayers = single
        c.guidanceEmbeds = true
        return c
    }

    /// (parameters, largest block) of FLUX.1-dev without building it (12B float32 weights would not fit here): every
    /// tensor is a polynomial of degree ≤ 2 in the width at a fixed head size, so three small widths (1–3 heads of
    /// 128) fix each of the model's parts (embedders, a double block, a single block) exactly.
    static func fluxDevSizes() -> (parameters: Int, largestBlock: Int) {
        func count(heads: Int, double: Int, single: Int) -> Int {
            FluxTransformer2DModel(fluxDev(heads: heads, double: double, single: single)).parameterCount()
        }
        // Parts at h heads: double block D(h), single block S(h), the rest E(h).
        func parts(_ h: Int) -> (rest: Int, double: Int, single: Int) {
            let base = count(heads: h, double: 1, single: 1)
            let d = count(heads: h, double: 2, single: 1) - base
            let s = count(heads: h, double: 1, single: 2) - base
            return (base - d - s, d, s)
        }
        let samples = [1, 2, 3].map(parts)
        // The quadratic through (1, y1), (2, y2), (3, y3), evaluated at h (Newton's form).
        func extrapolate(_ y: [Int], at h: Int) -> Int {
            let d1 = y[1] - y[0], d2 = y[2] - 2 * y[1] + y[0]
            return y[0] + (h - 1) * d1 + (h - 1) * (h - 2) / 2 * d2
        }
        let config = fluxDev()
        let h = config.numAttentionHeads
        let rest = extrapolate(samples.map(\.rest), at: h)
        let double = extrapolate(samples.map(\.double), at: h)
        let single = extrapolate(samples.map(\.single), at: h)
        return (rest + config.numLayers * double + config.numSingleLayers * single, max(double, single))
    }

    static func plan() -> MemoryPlan {
        let config = fluxDev()
        let (parameters, block) = fluxDevSizes()
        var inputs = MemoryPlan.Inputs(trainableParameters: parameters)
        inputs.largestUnitParameters = block
        inputs.worldSize = gpus
        inputs.zeroStage = 3
        inputs.computeDType = .bfloat16
        inputs.gradientCheckpointing = true
        inputs.activations = .transformer(
            tokens: (720 / 16) * (720 / 16) + 512, hidden: config.innerDim, heads: config.numAttentionHeads,
            blocks: config.numLayers + config.numSingleLayers)
        return MemoryPlan(inputs)
    }
}
