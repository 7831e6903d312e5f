/// Settings that would make a plan fit, each with its plan: what a refusal suggests.
public struct MemoryPlanAlternative: Sendable, Equatable {
    /// The change, in flags (e.g. "--processes 4 --zero-stage 3").
    public var change: String
    public var plan: MemoryPlan
}

extension MemoryPlan {
    /// The most ranks an alternative proposes.
    public static let maxSuggestedRanks = 1024

    /// The single changes that fit `deviceBytes`, then (when none does) their combination: more ranks (the fewest
    /// that fit, at this stage or, for stage 0, at stage 3), a higher ZeRO stage at these ranks, gradient
    /// checkpointing, bf16 mixed precision, and LoRA (`lora`: these inputs with the adapters of `loraChange` as the
    /// trained parameters and the base frozen). Only alternatives whose total fits are listed.
    public func alternatives(fitting deviceBytes: Int, lora: Inputs? = nil, loraChange: String = "--lora-rank 128")
        -> [MemoryPlanAlternative]
    {
        var found: [MemoryPlanAlternative] = []
        func consider(_ change: String, _ edit: (inout Inputs) -> Void, from base: Inputs? = nil) {
            var changed = base ?? inputs
            edit(&changed)
            let plan = MemoryPlan(changed)
            if plan.fits(deviceBytes) { found.append(MemoryPlanAlternative(change: change, plan: plan)) }
        }
        func fewestRanks(from base: Inputs, stage: Int) -> Int? {
            var ranks = max(2, base.worldSize * 2)
            while ranks <= Self.maxSuggestedRanks {
                var changed = base
                changed.worldSize = ranks
                changed.zeroStage = stage
                if MemoryPlan(changed).fits(deviceBytes) { return ranks }
                ranks *= 2
            }
            return nil
        }
        // More ranks shrink nothing at stage 0, so that suggestion shards everything.
        let target = inputs.zeroStage == 0 ? 3 : inputs.zeroStage
        if let ranks = fewestRanks(from: inputs, stage: target) {
            let stageFlag = inputs.zeroStage == 0 ? " --zero-stage 3" : ""
            consider("--processes \(ranks)\(stageFlag)") {
                $0.worldSize = ranks
                $0.zeroStage = target
            }
        }
        if inputs.worldSize > 1 {
            for higher in stride(from: inputs.zeroStage + 1, through: 3, by: 1) {
                consider("--zero-stage \(higher)") { $0.zeroStage = higher }
            }
        }
        if !inputs.gradientCheckpointing {
            consider("--gradient-checkpointing") { $0.gradientCheckpointing = true }
        }
        if inputs.computeDType == .float32 {
            consider("--mixed-precision bf16") { $0.computeDType = .bfloat16 }
        }
        if let lora { consider(loraChange, { _ in }, from: lora) }
        guard found.isEmpty else { return found }
        // No single change fits: all the memory-saving settings together, then the fewest ranks.
        var together = lora ?? inputs
        together.gradientCheckpointing = true
        together.computeDType = .bfloat16
        let flags =
            (lora != nil ? " \(loraChange)" : "") + (inputs.gradientCheckpointing ? "" : " --gradient-checkpointing")
            + (inputs.computeDType == .float32 ? " --mixed-precision bf16" : "")
        if MemoryPlan(together).fits(deviceBytes) {
            consider(String(flags.dropFirst()), { _ in }, from: together)
        } else if let ranks = fewestRanks(from: together, stage: 3) {
            consider(
                "--processes \(ranks) --zero-stage 3" + flags,
                {
                    $0.worldSize = ranks
                    $0.zeroStage = 3
                }, from: together)
        }
        return found
    }
}
