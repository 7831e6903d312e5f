// Best-of-N training subsets (DanceGRPO's `--bestofn` of its HunyuanVideo script, linked below): of each prompt's G
// rollouts only the `keep / 2` with the highest and the `keep / 2` with the lowest advantage are trained. The extremes
// carry most of the policy gradient (its terms scale with |advantage|), while the update costs the same per trained
// sample, so training on them buys more gradient signal per second than on the whole group.
// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_hunyuan.py#L394

/// The samples to train, ascending: in each block of `groupSize` consecutive samples (a prompt's group), the
/// `keep / 2` largest and `keep / 2` smallest advantages (ties go to the earlier sample). Advantages are normalised
/// over the whole group before the selection, as DanceGRPO does.
///
/// DanceGRPO sorts all of a GPU's samples at once; with its one prompt per GPU that is the same as per group. Here a
/// process holds several groups, and selecting within each keeps every prompt in the update. DanceGRPO also shuffles
/// the kept samples; their order inside an optimizer window changes nothing but float rounding, so they stay in
/// sample order.
public func bestOfNSubset(advantages: [Float], groupSize: Int, keep: Int) -> [Int] {
    precondition(
        groupSize >= 1 && advantages.count % groupSize == 0,
        "bestOfNSubset: \(advantages.count) advantages do not split into groups of \(groupSize)")
    precondition(
        keep >= 2 && keep % 2 == 0 && keep <= groupSize,
        "bestOfNSubset: keep must be even and in 2...\(groupSize), got \(keep)")
    var chosen: [Int] = []
    for start in stride(from: 0, to: advantages.count, by: groupSize) {
        let ranked = (start..<(start + groupSize)).sorted {
            advantages[$0] != advantages[$1] ? advantages[$0] > advantages[$1] : $0 < $1
        }
        chosen += ranked.prefix(keep / 2) + ranked.suffix(keep / 2)
    }
    return chosen.sorted()
}
