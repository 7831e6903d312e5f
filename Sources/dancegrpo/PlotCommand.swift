import ArgumentParser
import Foundation
import Training

/// Redraws a run's reward curve from its logs (DanceGRPO's figure: raw reward per iteration and its moving average,
/// plus held-out scores when the run evaluated).
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Write reward_curve.png for a run folder from its reward.txt (and eval.jsonl).")

    @Option(name: .customLong("run"), help: "Run folder (with reward.txt).")
    var runFolder: String

    @Option(help: "Output PNG (default: <run>/reward_curve.png).")
    var out: String?

    func run() throws {
        let folder = URL(fileURLWithPath: runFolder)
        let rewardFile = folder.appendingPathComponent("reward.txt")
        guard let text = try? String(contentsOf: rewardFile, encoding: .utf8) else {
            throw ValidationError("\(rewardFile.path): no reward log (is \(runFolder) a training run folder?)")
        }
        var rewards: [Double] = []
        for (i, line) in text.split(separator: "\n").enumerated() {
            guard let value = Double(line.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("\(rewardFile.path): line \(i + 1) is not a number: '\(line)'")
            }
            rewards.append(value)
        }
        let heldOut = RewardCurve.heldOutSeries(in: folder)
        let url = out.map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent("reward_curve.png")
        try RewardCurve.write(rewards: rewards, heldOut: heldOut, to: url)
        print("wrote \(url.path) (\(rewards.count) iterations, \(heldOut.first?.points.count ?? 0) evaluations)")
    }
}
