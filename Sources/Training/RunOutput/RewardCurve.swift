import Foundation
import Imaging

/// `reward_curve.png`: the training reward per iteration (raw and moving average) and the held-out rewards.
public enum RewardCurve {
    public typealias Series = (name: String, points: [(iteration: Int, value: Double)])

    /// The held-out scores in a run folder's `eval.jsonl`: `held_out_reward`, and each reward's own mean when the run
    /// had several (`held_out_rewards`), so that a weighted sum does not hide what each reward did.
    public static func heldOutSeries(in folder: URL) -> [Series] {
        guard let text = try? String(contentsOf: folder.appendingPathComponent("eval.jsonl"), encoding: .utf8) else {
            return []
        }
        var total: [(Int, Double)] = [], each: [String: [(Int, Double)]] = [:]
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let it = object["iteration"] as? Int, let r = object["held_out_reward"] as? Double
            else { continue }
            total.append((it, r))
            for (name, value) in object["held_out_rewards"] as? [String: Double] ?? [:] {
                each[name, default: []].append((it, value))
            }
        }
        guard !total.isEmpty else { return [] }
        if each.isEmpty { return [("held-out", total)] }
        return [("held-out (weighted sum)", total)]
            + each.sorted { $0.key < $1.key }.map { ("held-out \($0.key)", $0.value) }
    }

    public static func write(rewards: [Double], heldOut: [Series], to url: URL) throws {
        guard !rewards.isEmpty else { return }
        let steps = rewards.indices.map { Double($0 + 1) }
        var plot = LinePlot(title: "GRPO reward", xLabel: "iteration", yLabel: "reward")
        plot.series = [
            .init(name: "train (raw)", x: steps, y: rewards, color: LinePlot.palette[0]),
            .init(
                name: "train (moving avg 10)", x: steps, y: LinePlot.movingAverage(rewards, window: 10),
                color: LinePlot.palette[1], thickness: 2)
        ]
        for (i, series) in heldOut.enumerated() {
            plot.series.append(
                .init(
                    name: series.name, x: series.points.map { Double($0.iteration) }, y: series.points.map(\.value),
                    color: LinePlot.palette[(2 + i) % LinePlot.palette.count], thickness: 2))
        }
        try plot.writePNG(to: url)
    }
}
