import ArgumentParser
import Foundation

/// Redraws a run's reward curve from its logs (the seed's figure: raw reward per iteration and its moving average,
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
        var heldOut: [(Int, Double)] = []
        if let evals = try? String(contentsOf: folder.appendingPathComponent("eval.jsonl"), encoding: .utf8) {
            for line in evals.split(separator: "\n") {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let it = object["iteration"] as? Int, let r = object["held_out_reward"] as? Double {
                    heldOut.append((it, r))
                }
            }
        }
        let url = out.map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent("reward_curve.png")
        try RewardCurve.write(rewards: rewards, heldOut: heldOut, to: url)
        print("wrote \(url.path) (\(rewards.count) iterations, \(heldOut.count) evaluations)")
    }
}
