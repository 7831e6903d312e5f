import Foundation
import GRPO

extension GRPOTrainer.Config {
    /// Refuses settings out of range or contradicting each other before any work, naming the flags (a
    /// `SettingRangeError` for one number out of its range); what needs the model or the process group (the sampler's
    /// chain, per-prompt statistics over ranks) is checked by `GRPOTrainer`.
    public func validate() throws {
        try validateCounts()
        try validateNumbers()
        try validateCombinations()
        _ = try GRPOTrainer.learningRateSchedule(self)
    }

    /// Trained samples of one process per iteration: B·G, or B·N with best-of-N.
    public var trainedSamplesPerIteration: Int { promptsPerIteration * (bestOfN > 0 ? bestOfN : numGenerations) }

    private func validateCounts() throws {
        guard processes >= 1 else {
            throw TrainerError.invalidSetting("--processes must be at least 1, got \(processes)")
        }
        // Upper bounds far beyond any run keep the products of counts (samples per iteration, optimizer steps of the
        // run) inside Int.
        let huge = 1 << 24
        try SettingRange.integer(iterations, "iterations", atLeast: 1, atMost: huge)
        try SettingRange.integer(promptsPerIteration, "promptsPerIteration", atLeast: 1, atMost: huge)
        try SettingRange.integer(numGenerations, "numGenerations", atLeast: 1, atMost: huge)
        try SettingRange.integer(
            samplingSteps, "samplingSteps", atLeast: 2, atMost: huge, " (the last transition is never trained)")
        try SettingRange.integer(evalPrompts, "evalPrompts", atLeast: 1, atMost: huge)
        try SettingRange.integer(lrWarmupSteps, "lrWarmupSteps", atLeast: 0)
        try SettingRange.integer(loraRank, "loraRank", atLeast: 0, atMost: 1 << 16, " (0: full fine-tuning)")
        try SettingRange.integer(perPromptStatBuffer, "perPromptStatBuffer", atLeast: 0, " (0: off)")
        try SettingRange.integer(perPromptStatMinCount, "perPromptStatMinCount", atLeast: 0)
        try SettingRange.integer(maxConsecutiveSkippedSteps, "maxConsecutiveSkippedSteps", atLeast: 1)
        try SettingRange.integer(spSize, "spSize", atLeast: 1, atMost: 1 << 16, " (1: no sequence parallelism)")
        try SettingRange.integer(
            zeroStage, "zeroStage", atLeast: 0, atMost: 3,
            " (0: replicated, 1: optimizer state, 2: + gradients, 3: + parameters sharded)")
        guard evalEvery >= 0, checkpointEvery >= 0 else {
            throw TrainerError.invalidSetting(
                """
                --eval-every and --checkpoint-every must be ≥ 0 (0: only after the last iteration), got \
                \(evalEvery) and \(checkpointEvery)
                """
            )
        }
        guard numGenerations >= 2 || !useGroup else {
            throw TrainerError.invalidSetting("--num-generations must be at least 2 with group advantages")
        }
        guard rolloutBatchSize >= 1, transitionBatchSize >= 1 else {
            throw TrainerError.invalidSetting(
                """
                --rollout-batch-size and --transition-batch-size must be at least 1 (got \(rolloutBatchSize) and \
                \(transitionBatchSize))
                """
            )
        }
        guard mixWindowSize >= 0, mixWindowStride >= 1, mixItersPerShift >= 0 else {
            throw TrainerError.invalidSetting(
                """
                MixGRPO needs --mix-window-size ≥ 0 (0: off), --mix-window-stride ≥ 1 and \
                --mix-iters-per-shift ≥ 0 (0: the window never moves), got \(mixWindowSize), \(mixWindowStride) \
                and \(mixItersPerShift)
                """
            )
        }
        guard checkpointsTotalLimit >= 0 else {
            throw TrainerError.invalidSetting(
                "--checkpoints-total-limit must be ≥ 0 (0: keep all), got \(checkpointsTotalLimit)")
        }
    }

    private func validateNumbers() throws {
        try SettingRange.number(shift, "shift", above: 0)
        try SettingRange.number(eta, "eta", atLeast: 0)
        // The optimizer rounds the learning rate to float32 where it meets the weights: a larger value is infinite.
        try SettingRange.number(
            learningRate, "learningRate", above: 0, atMost: Double(Float.greatestFiniteMagnitude),
            " (float32's largest)")
        try SettingRange.number(clipRange, "clipRange", above: 0)
        try SettingRange.number(advantageClipMax, "advantageClipMax", above: 0)
        try SettingRange.number(timestepFraction, "timestepFraction", above: 0, atMost: 1)
        try SettingRange.number(maxGradNorm, "maxGradNorm", above: 0)
        try SettingRange.number(beta, "beta", atLeast: 0, " (0: no KL penalty)")
        try SettingRange.number(guidanceScale, "guidanceScale", atLeast: 0, " (1: off)")
        try SettingRange.number(loraAlpha, "loraAlpha", atLeast: 0, " (0: 2 × rank)")
        guard emaDecay >= 0 && emaDecay < 1 else {
            throw TrainerError.invalidSetting("--ema-decay must be in [0, 1) (0: no EMA), got \(emaDecay)")
        }
        guard (0..<1).contains(adamBeta1), (0..<1).contains(adamBeta2), adamEpsilon >= 0, weightDecay >= 0 else {
            throw TrainerError.invalidSetting(
                """
                --adam-beta1 \(adamBeta1) and --adam-beta2 \(adamBeta2) must be in [0, 1), --adam-epsilon \
                \(adamEpsilon) and --weight-decay \(weightDecay) ≥ 0
                """
            )
        }
        try SettingRange.number(adamEpsilon, "adamEpsilon", atLeast: 0)
        try SettingRange.number(weightDecay, "weightDecay", atLeast: 0)
    }

    private func validateCombinations() throws {
        if bestOfN != 0 && (bestOfN < 2 || bestOfN % 2 != 0 || bestOfN > numGenerations) {
            throw TrainerError.invalidSetting(
                """
                --best-of-n \(bestOfN) must be an even number from 2 to --num-generations (\(numGenerations)), or \
                0 to train every sample
                """
            )
        }
        // K = floor((T−1)·fraction) transitions per sample: at least one, or a rollout would train nothing.
        let transitions = samplingSteps - 1
        let stochastic = mixWindowSize > 0 ? min(mixWindowSize, transitions) : transitions
        guard Int((Float(stochastic) * timestepFraction).rounded(.down)) >= 1 else {
            throw SettingRangeError(
                key: "timestepFraction",
                expected:
                    "at least 1/\(stochastic) (it trains floor(\(stochastic) × fraction) of the \(stochastic) "
                    + "stochastic transitions per sample, none below that)",
                found: SettingRange.format(Double(timestepFraction)))
        }
        // Windows of gradientAccumulationSteps samples within one iteration's trained samples: a larger window would
        // never fill, and no optimizer step would ever happen.
        try SettingRange.integer(
            gradientAccumulationSteps, "gradientAccumulationSteps", atLeast: 1, atMost: trainedSamplesPerIteration,
            " (an optimizer step needs that many of an iteration's \(trainedSamplesPerIteration) trained samples: "
                + "--prompts-per-iteration × \(bestOfN > 0 ? "--best-of-n" : "--num-generations"))")
    }
}
