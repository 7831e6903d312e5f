import Checkpoints
import EmbeddedWorld
import Engine
import Foundation
import Imaging
import Training
import TrainingLogs

/// The files a training run writes as it goes: `reward.txt` (mean reward per iteration, one per line, as the seed
/// writes it), `metrics.jsonl` (one JSON object per iteration), `eval.jsonl` (held-out scores), `config.json`, and at
/// the end `reward_curve.png`; TensorBoard event files with the same scalars and the held-out sample grids. Resuming truncates the logs to the checkpoint's iteration, so a resumed run's logs are
/// those of an uninterrupted one.
struct RunLog {
    let folder: URL
    private(set) var rewards: [Double] = []
    /// The latest held-out reward, for the progress bar (the curve reads them all from `eval.jsonl`).
    private(set) var lastHeldOut: Double?
    private var tensorBoard: TensorBoardWriter?

    init(folder: URL, resuming: Bool) throws {
        self.folder = folder
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if !resuming {
            for name in ["reward.txt", "metrics.jsonl", "eval.jsonl"] { try? FileManager.default.removeItem(at: folder.appendingPathComponent(name)) }
        }
    }

    /// Starts the TensorBoard event file; `resumingAt` the iteration a resumed run continues from.
    mutating func startTensorBoard(resumingAt iteration: Int?) throws {
        tensorBoard = try TensorBoardWriter(folder: folder, resumingAt: iteration)
    }

    func writeConfig(_ config: GRPOTrainer.Config) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(config), to: folder.appendingPathComponent("config.json"))
    }

    mutating func append(_ entry: GRPOTrainer.IterationLog) throws {
        let reward = entry.reward
        rewards.append(reward)
        try appendLine(String(format: "%.6f", reward), to: "reward.txt")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try appendLine(String(decoding: try encoder.encode(entry), as: UTF8.self), to: "metrics.jsonl")
        var scalars: [(tag: String, value: Double)] = []
        for (name, value) in entry.rewardMean.sorted(by: { $0.key < $1.key }) { scalars.append(("reward/\(name)", value)) }
        for (name, value) in entry.rewardStd.sorted(by: { $0.key < $1.key }) { scalars.append(("reward_std/\(name)", value)) }
        if let accuracy = entry.accuracy { scalars.append(("train/accuracy", accuracy)) }
        scalars += [("advantage/mean", entry.advantageMean), ("advantage/abs_max", entry.advantageAbsMax),
                    ("ratio/mean", entry.ratioMean), ("ratio/min", entry.ratioMin), ("ratio/max", entry.ratioMax),
                    ("train/clip_fraction", entry.clipFraction), ("train/approx_kl", entry.approxKL), ("train/reference_kl", entry.referenceKL), ("train/grad_norm", entry.gradNorm),
                    ("train/learning_rate", entry.learningRate), ("seconds/rollout", entry.secondsRollout),
                    ("seconds/reward", entry.secondsReward), ("seconds/update", entry.secondsUpdate)]
        if let r = entry.heldOutReward { scalars.append(("held_out/reward", r)) }
        if let a = entry.heldOutAccuracy { scalars.append(("held_out/accuracy", a)) }
        try tensorBoard?.addScalars(scalars, step: entry.iteration)
    }

    /// The held-out sample grid, as a TensorBoard image at `iteration`.
    func record(grid: RGBImage, at iteration: Int) throws {
        try tensorBoard?.addImage("held_out/samples", png: Data(try PNGEncoder.encode(grid)), width: grid.width, height: grid.height, step: iteration)
    }

    mutating func record(evaluation: Evaluation.Result, at iteration: Int) throws {
        lastHeldOut = evaluation.meanReward
        var line = String(format: "{\"iteration\":%d,\"held_out_reward\":%.6f", iteration, evaluation.meanReward)
        if let accuracy = evaluation.accuracy { line += String(format: ",\"held_out_accuracy\":%.6f", accuracy) }
        if evaluation.rewardMeans.count > 1 {  // held_out_reward is their weighted sum; each on its own as well
            line += ",\"held_out_rewards\":{" + evaluation.rewardMeans.sorted { $0.key < $1.key }
                .map { String(format: "\"%@\":%.6f", $0.key, $0.value) }.joined(separator: ",") + "}"
        }
        try appendLine(line + "}", to: "eval.jsonl")
    }

    /// Keeps the first `iterations` lines of the per-iteration logs and the evaluations up to that iteration.
    mutating func truncate(after iterations: Int) throws {
        func lines(_ name: String) -> [String] {
            ((try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        let rewardLines = Array(lines("reward.txt").prefix(iterations))
        rewards = rewardLines.compactMap(Double.init)
        try AtomicFile.write(Data(rewardLines.map { $0 + "\n" }.joined().utf8), to: folder.appendingPathComponent("reward.txt"))
        try AtomicFile.write(Data(lines("metrics.jsonl").prefix(iterations).map { $0 + "\n" }.joined().utf8), to: folder.appendingPathComponent("metrics.jsonl"))
        var kept: [String] = []
        for line in lines("eval.jsonl") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let it = object["iteration"] as? Int, it <= iterations, let r = object["held_out_reward"] as? Double else { continue }
            kept.append(line)
            lastHeldOut = r
        }
        try AtomicFile.write(Data(kept.map { $0 + "\n" }.joined().utf8), to: folder.appendingPathComponent("eval.jsonl"))
    }

    private func appendLine(_ line: String, to name: String) throws {
        let url = folder.appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }  // FileHandle below reports a failure
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((line + "\n").utf8))
    }

    /// `reward_curve.png`: training reward (raw and moving average) and held-out reward.
    func writePlots() throws {
        try RewardCurve.write(rewards: rewards, heldOut: RewardCurve.heldOutSeries(in: folder),
                              to: folder.appendingPathComponent("reward_curve.png"))
    }
}

enum RewardCurve {
    typealias Series = (name: String, points: [(iteration: Int, value: Double)])

    /// The held-out scores in a run folder's `eval.jsonl`: `held_out_reward`, and each reward's own mean when the run
    /// had several (`held_out_rewards`), so that a weighted sum does not hide what each reward did.
    static func heldOutSeries(in folder: URL) -> [Series] {
        guard let text = try? String(contentsOf: folder.appendingPathComponent("eval.jsonl"), encoding: .utf8) else { return [] }
        var total: [(Int, Double)] = [], each: [String: [(Int, Double)]] = [:]
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let it = object["iteration"] as? Int, let r = object["held_out_reward"] as? Double else { continue }
            total.append((it, r))
            for (name, value) in object["held_out_rewards"] as? [String: Double] ?? [:] { each[name, default: []].append((it, value)) }
        }
        guard !total.isEmpty else { return [] }
        if each.isEmpty { return [("held-out", total)] }
        return [("held-out (weighted sum)", total)] + each.sorted { $0.key < $1.key }.map { ("held-out \($0.key)", $0.value) }
    }

    static func write(rewards: [Double], heldOut: [Series], to url: URL) throws {
        guard !rewards.isEmpty else { return }
        let steps = rewards.indices.map { Double($0 + 1) }
        var plot = LinePlot(title: "GRPO reward", xLabel: "iteration", yLabel: "reward")
        plot.series = [
            .init(name: "train (raw)", x: steps, y: rewards, color: LinePlot.palette[0]),
            .init(name: "train (moving avg 10)", x: steps, y: LinePlot.movingAverage(rewards, window: 10), color: LinePlot.palette[1], thickness: 2),
        ]
        for (i, series) in heldOut.enumerated() {
            plot.series.append(.init(name: series.name, x: series.points.map { Double($0.iteration) }, y: series.points.map(\.value),
                                     color: LinePlot.palette[(2 + i) % LinePlot.palette.count], thickness: 2))
        }
        try plot.writePNG(to: url)
    }
}

/// Training settings from a JSON file: keys in snake_case (`learning_rate`) or as the flags (`learning-rate`).
enum TrainConfigFile {
    static func read(_ path: String, into defaults: GRPOTrainer.Config) throws -> GRPOTrainer.Config {
        let object = try ConfigFile.object(from: URL(fileURLWithPath: path))
        var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults)) as! [String: Any]
        let known = Set(merged.keys)
        for (key, value) in object {
            let normalized = camelCase(key)
            guard known.contains(normalized) else {
                throw ConfigFile.Error(file: path, message: "unknown setting '\(key)' (known: \(known.sorted().joined(separator: ", ")))")
            }
            merged[normalized] = value
        }
        do {
            return try JSONDecoder().decode(GRPOTrainer.Config.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch {
            throw ConfigFile.Error(file: path, message: "invalid value: \(error)")
        }
    }

    static func camelCase(_ key: String) -> String {
        let parts = key.split(whereSeparator: { $0 == "_" || $0 == "-" })
        guard let first = parts.first else { return key }
        return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}
