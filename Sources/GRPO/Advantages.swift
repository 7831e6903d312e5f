import Engine

// Advantages from terminal rewards, as DanceGRPO's FLUX trainer computes them (linked below). Rewards are one
// scalar per trajectory; the groups are contiguous blocks of `groupSize` samples of the same prompt, local to this
// process.
// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py#L548

public enum AdvantageNormalization: Sendable, Equatable {
    /// (r − mean) / (std + ε) inside each block of `groupSize` consecutive samples (`--use_group`).
    case perGroup(groupSize: Int)
    /// (r − group mean) / (std + ε) with the std of all the given statistics (Flow-GRPO's `global_std`): a group
    /// whose rewards barely differ gets small advantages instead of ones as large as a group's with a real spread.
    case perGroupGlobalStd(groupSize: Int)
    /// (r − mean) / (std + ε) over the given statistics (DanceGRPO without `--use_group` uses the rewards gathered
    /// from every process).
    case global

    /// Whether the statistics come from the whole batch (every process's rewards), not from the local groups alone.
    public var usesBatchStatistics: Bool {
        if case .perGroup = self { return false }
        return true
    }
}

/// Normalised, clipped advantages, [N].
/// - rewards: [N] rewards of the local samples.
/// - globalRewards: the rewards from every process, for `.global` and `.perGroupGlobalStd` (defaults to the local
/// ones). The std is the unbiased sample std (divisor n−1, PyTorch's default, as DanceGRPO uses) plus `epsilon`; a
/// group whose rewards are all equal gets advantage 0. Advantages are then clamped to ±`clipMax`.
public func groupAdvantages(
    rewards: Tensor, normalization: AdvantageNormalization, globalRewards: Tensor? = nil,
    epsilon: Float = 1e-8, clipMax: Float = 5
) -> Tensor {
    let r = rewards.asType(.float32)
    let normalized: Tensor
    switch normalization {
    case .perGroup(let g), .perGroupGlobalStd(let g):
        precondition(g >= 2, "groupAdvantages: group size must be at least 2, got \(g)")
        precondition(r.count % g == 0, "groupAdvantages: \(r.count) rewards do not split into groups of \(g)")
        let groups = r.reshaped([r.count / g, g])
        let mean = groups.mean(axis: 1, keepDims: true)
        let std =
            normalization.usesBatchStatistics
            ? (globalRewards ?? r).asType(.float32).std(ddof: 1)
            : groups.std(axes: [1], keepDims: true, ddof: 1)
        normalized = ((groups - mean) / (std + epsilon)).reshaped([r.count])
    case .global:
        let all = (globalRewards ?? r).asType(.float32)
        precondition(all.count >= 2, "groupAdvantages: global normalisation needs at least 2 rewards")
        normalized = (r - all.mean()) / (all.std(ddof: 1) + epsilon)
    }
    return normalized.clipped(min: -clipMax, max: clipMax)
}
