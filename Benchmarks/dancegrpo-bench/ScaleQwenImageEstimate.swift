import Engine
import GRPO
import Models

/// Qwen-Image's training memory through the same ``MemoryPlan``, at the seed's setting (`finetune_qwenimage_grpo.sh`:
/// the 20B transformer in float32 master weights under FSDP full shard, bf16 compute, gradient checkpointing, one
/// sample per network call with no classifier-free guidance, 720×720 px = 2025 packed image tokens), against 80 GB
/// GPUs. The seed feeds each prompt's own tokens: 128 covers its HPDv2 prompts (written for CLIP's 77-token context)
/// and the template's 5 closing tokens; the cache's 1024-token cap bounds any prompt.
enum ScaleQwenImageEstimate {
    /// The released transformer config (`Qwen/Qwen-Image/transformer/config.json`): 60 blocks, 24 heads of 128, text
    /// states of 3584, 64 packed input channels (16 latent channels × 2×2).
    static func config(heads: Int = 24, layers: Int = 60) -> QwenImageTransformer2DConfig {
        var c = QwenImageTransformer2DConfig()
        c.numAttentionHeads = heads
        c.numLayers = layers
        return c
    }

    static let gpuBytes = 80 * 1_000_000_000
    static let imageTokens = (720 / 16) * (720 / 16)
    static let textTokens = 128
    static let textCap = 1024

    /// (parameters, one block's) of the 20B transformer without building it: at a fixed head size every tensor is a
    /// polynomial of degree ≤ 2 in the head count, so models of 1–3 heads fix the embedders and a block exactly.
    static func sizes() -> (parameters: Int, block: Int) {
        func count(heads: Int, layers: Int) -> Int {
            QwenImageTransformer2DModel(config(heads: heads, layers: layers)).parameterCount()
        }
        let samples = [1, 2, 3].map { h -> (rest: Int, block: Int) in
            let one = count(heads: h, layers: 1), two = count(heads: h, layers: 2)
            return (one - (two - one), two - one)
        }
        func extrapolate(_ y: [Int], at h: Int) -> Int {
            let d1 = y[1] - y[0], d2 = y[2] - 2 * y[1] + y[0]
            return y[0] + (h - 1) * d1 + (h - 1) * (h - 2) / 2 * d2
        }
        let c = config()
        let block = extrapolate(samples.map(\.block), at: c.numAttentionHeads)
        return (extrapolate(samples.map(\.rest), at: c.numAttentionHeads) + c.numLayers * block, block)
    }

    /// The frozen VAE (`AutoencoderKLQwenImage`, diffusers' defaults are Qwen-Image's) in bf16, as the seed loads it.
    static func vaeBytes() -> Int { AutoencoderKLQwenImage(AutoencoderKLQwenImageConfig()).parameterCount() * 2 }

    static func plan(ranks: Int, stage: Int, textTokens: Int = textTokens) -> MemoryPlan {
        let c = config()
        let (parameters, block) = sizes()
        var inputs = MemoryPlan.Inputs(trainableParameters: parameters)
        inputs.largestUnitParameters = block
        inputs.frozenBytes = vaeBytes()
        inputs.worldSize = ranks
        inputs.zeroStage = stage
        inputs.computeDType = .bfloat16
        inputs.gradientCheckpointing = true
        inputs.activations = .transformer(
            tokens: imageTokens + textTokens, hidden: c.innerDim, heads: c.numAttentionHeads, blocks: c.numLayers)
        return MemoryPlan(inputs)
    }

    /// (label, plan): the seed's 8 GPUs at ZeRO-3 and ZeRO-2, the text at its cap, and the fewest 80 GB GPUs that
    /// hold the seed's setting at ZeRO-3.
    static func plans() -> [(String, MemoryPlan)] {
        let fewest = (1...64).first { plan(ranks: $0, stage: 3).fits(gpuBytes) } ?? 64
        return [
            (
                "the seed's setting: 8 GPUs, ZeRO-3 (FSDP full shard), \(textTokens) text tokens",
                plan(ranks: 8, stage: 3)
            ),
            ("8 GPUs, ZeRO-2, \(textTokens) text tokens", plan(ranks: 8, stage: 2)),
            ("8 GPUs, ZeRO-3, \(textCap) text tokens", plan(ranks: 8, stage: 3, textTokens: textCap)),
            (
                "the fewest 80 GB GPUs at ZeRO-3 with \(textTokens) text tokens: \(fewest)",
                plan(ranks: fewest, stage: 3)
            )
        ]
    }
}
