import Engine
import GRPO
import Models

/// Wan2.1-T2V-1.3B's training memory through the same ``MemoryPlan``: the seed's setting (one GPU's own copy, no
/// sharding: DanceGRPO's Wan trainer has no FSDP; bf16 compute, gradient checkpointing, classifier-free guidance so
/// two rows per network call, 226 UMT5 tokens, 512×512 px as one frame), then real video at Wan's 81 frames, against
/// an 80 GB GPU.
enum ScaleWanEstimate {
    /// The released transformer config (`Wan-AI/Wan2.1-T2V-1.3B-Diffusers/transformer/config.json`).
    static func config() -> WanTransformer3DConfig {
        var c = WanTransformer3DConfig()
        c.numAttentionHeads = 12
        c.attentionHeadDim = 128
        c.ffnDim = 8960
        c.numLayers = 30
        c.ropeMaxSeqLen = 1024
        return c
    }

    static let gpuBytes = 80 * 1_000_000_000
    static let textTokens = 226
    /// AutoencoderKLWan's 126,892,531 parameters, frozen, in bf16.
    static let vaeBytes = 126_892_531 * 2

    /// (label, plan) for the seed's image setting and for videos of 17 to 81 frames.
    static func plans() -> [(String, MemoryPlan)] {
        let config = config()
        // Built lazily: counting parameters never evaluates the 1.4B weights.
        let model = WanTransformer3DModel(config)
        let parameters = model.parameterCount()
        let block = model.blocks[0].parameterCount()
        func plan(frames: Int, height: Int, width: Int, stage: Int, ranks: Int) -> MemoryPlan {
            var inputs = MemoryPlan.Inputs(trainableParameters: parameters)
            inputs.largestUnitParameters = block
            inputs.frozenBytes = vaeBytes
            inputs.worldSize = ranks
            inputs.zeroStage = stage
            inputs.computeDType = .bfloat16
            inputs.gradientCheckpointing = true
            inputs.transitionsPerCall = 2
            inputs.rolloutBatch = 2
            let latentFrames = 1 + (frames - 1) / 4
            inputs.activations = .transformer(
                tokens: latentFrames * (height / 16) * (width / 16),
                hidden: config.numAttentionHeads
                    * config.attentionHeadDim, heads: config.numAttentionHeads, blocks: config.numLayers,
                crossTokens: textTokens)
            return MemoryPlan(inputs)
        }
        let settings: [(String, Int, Int, Int, Int, Int)] = [
            ("the seed's setting: 1 frame, 512×512 px, 1 GPU", 1, 512, 512, 0, 1),
            ("17 frames, 512×512 px, 1 GPU", 17, 512, 512, 0, 1),
            ("33 frames, 512×512 px, 1 GPU", 33, 512, 512, 0, 1),
            ("81 frames, 832×480 px (Wan's 480p), 1 GPU", 81, 480, 832, 0, 1),
            ("81 frames, 832×480 px, 8 GPUs, ZeRO-3", 81, 480, 832, 3, 8)
        ]
        return settings.map { ($0.0, plan(frames: $0.1, height: $0.2, width: $0.3, stage: $0.4, ranks: $0.5)) }
    }
}
