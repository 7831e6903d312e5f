import Engine
import GRPO
import Models

/// Qwen-Image-Edit's training memory through the same ``MemoryPlan``, at the seed's setting
/// (`finetune_qwenimage_edit_grpo.sh`: Qwen-Image's 20B transformer and FSDP setting, ``ScaleQwenImageEstimate``,
/// at 512×512 px outputs). Each call attends jointly over the 1024 noise tokens, the condition image's tokens and the
/// instruction encoded with that image. At the seed's 1024² condition area (a square image): 64×64 = 4096 condition
/// tokens, and the vision tower's 37×37 merged tokens of the 1036² image the Qwen2-VL processor makes of it plus 64
/// for the instruction and the template's tail. At a 512² area (`preprocess --image-area 262144`): 32×32 and
/// 18×18 + 64.
enum ScaleQwenImageEditEstimate {
    static let imageTokens = (512 / 16) * (512 / 16)

    /// Tokens per call for a square condition of `side` px: noise, condition, vision tokens and text.
    static func tokens(conditionSide side: Int) -> Int {
        let vision = Int((Double(side) / 28).rounded(.toNearestOrEven))
        return imageTokens + (side / 16) * (side / 16) + vision * vision + 64
    }

    static func plan(ranks: Int, stage: Int, conditionSide: Int = 1024) -> MemoryPlan {
        let c = ScaleQwenImageEstimate.config()
        let (parameters, block) = ScaleQwenImageEstimate.sizes()
        var inputs = MemoryPlan.Inputs(trainableParameters: parameters)
        inputs.largestUnitParameters = block
        inputs.frozenBytes = ScaleQwenImageEstimate.vaeBytes()
        inputs.worldSize = ranks
        inputs.zeroStage = stage
        inputs.computeDType = .bfloat16
        inputs.gradientCheckpointing = true
        inputs.activations = .transformer(
            tokens: tokens(conditionSide: conditionSide), hidden: c.innerDim, heads: c.numAttentionHeads,
            blocks: c.numLayers)
        return MemoryPlan(inputs)
    }

    /// (label, plan): the seed's 8 GPUs at ZeRO-3 and ZeRO-2, and for each condition area the fewest 80 GB GPUs that
    /// hold it at ZeRO-3 (none up to 64: the plan at 64).
    static func plans() -> [(String, MemoryPlan)] {
        func fewest(_ side: Int) -> (String, MemoryPlan) {
            let count = (1...64).first {
                plan(ranks: $0, stage: 3, conditionSide: side).fits(ScaleQwenImageEstimate.gpuBytes)
            }
            let label = "condition area \(side)², \(tokens(conditionSide: side)) tokens per call, ZeRO-3: "
            return (
                label + (count.map { "the fewest 80 GB GPUs: \($0)" } ?? "no GPU count up to 64 fits (64 shown)"),
                plan(ranks: count ?? 64, stage: 3, conditionSide: side)
            )
        }
        return [
            (
                "the seed's setting: 8 GPUs, ZeRO-3 (FSDP full shard), \(tokens(conditionSide: 1024)) tokens per call",
                plan(ranks: 8, stage: 3)
            ),
            ("8 GPUs, ZeRO-2", plan(ranks: 8, stage: 2)),
            fewest(1024),
            fewest(512)
        ]
    }
}
