import Checkpoints
import Engine
import Foundation
import Imaging
import TrainingLogs
import Video

/// The files a training run writes as it goes: `reward.txt` (mean reward per iteration, one per line, as DanceGRPO
/// writes it), `metrics.jsonl` (one JSON object per iteration), `eval.jsonl` (held-out scores), `config.json`, and at
/// the end `reward_curve.png`; TensorBoard event files with the same scalars and the held-out sample grids; sample
/// grids `samples-before.png`, `samples-latest.png`, `samples-after.png` (for video tasks also `.mp4` clips of
/// grids). Resuming truncates the logs to the checkpoint's iteration, so a resumed run's logs are those of an
/// uninterrupted one.
public final class RunLog: TrainingObserver {
    public let folder: URL
    public private(set) var rewards: [Double] = []
    /// The latest held-out reward, for the progress bar (the curve reads them all from `eval.jsonl`).
    public private(set) var lastHeldOut: Double?
    private var tensorBoard: TensorBoardWriter?

    public init(folder: URL, resuming: Bool) throws {
        self.folder = folder
        try FileSystemFailure.wrapping("create the run folder", path: folder) {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        if !resuming {
            for name in ["reward.txt", "vq_reward.txt", "mq_reward.txt", "metrics.jsonl", "eval.jsonl"] {
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
            }
        }
    }

    /// Starts the TensorBoard event file; `resumingAt` the iteration a resumed run continues from.
    public func startTensorBoard(resumingAt iteration: Int?) throws {
        tensorBoard = try TensorBoardWriter(folder: folder, resumingAt: iteration)
    }

    public func writeConfig(_ config: GRPOTrainer.Config) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(config), to: folder.appendingPathComponent("config.json"))
    }

    public func append(_ entry: GRPOTrainer.IterationLog) throws {
        let reward = entry.reward
        rewards.append(reward)
        try appendLine(String(format: "%.6f", reward), to: "reward.txt")
        // VideoAlign's heads, as the seed's HunyuanVideo trainer writes them beside reward.txt.
        for (key, file) in [("VQ", "vq_reward.txt"), ("MQ", "mq_reward.txt")] {
            if let value = entry.rewardInfo[key] { try appendLine(String(format: "%.6f", value), to: file) }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try appendLine(String(decoding: try encoder.encode(entry), as: UTF8.self), to: "metrics.jsonl")
        var scalars: [(tag: String, value: Double)] = []
        for (name, value) in entry.rewardMean.sorted(by: { $0.key < $1.key }) {
            scalars.append(("reward/\(name)", value))
        }
        for (name, value) in entry.rewardStd.sorted(by: { $0.key < $1.key }) {
            scalars.append(("reward_std/\(name)", value))
        }
        if let accuracy = entry.accuracy { scalars.append(("train/accuracy", accuracy)) }
        for (name, value) in entry.rewardInfo.sorted(by: { $0.key < $1.key }) where name != "accuracy" {
            scalars.append(("reward_info/\(name)", value))
        }
        scalars += [
            ("advantage/mean", entry.advantageMean), ("advantage/abs_max", entry.advantageAbsMax),
            ("ratio/mean", entry.ratioMean), ("ratio/min", entry.ratioMin), ("ratio/max", entry.ratioMax),
            ("train/clip_fraction", entry.clipFraction), ("train/approx_kl", entry.approxKL),
            ("train/reference_kl", entry.referenceKL), ("train/grad_norm", entry.gradNorm),
            ("train/learning_rate", entry.learningRate), ("seconds/rollout", entry.secondsRollout),
            ("seconds/reward", entry.secondsReward), ("seconds/update", entry.secondsUpdate)
        ]
        scalars.append(("train/skipped_steps", Double(entry.skippedStepsTotal)))
        if let r = entry.heldOutReward { scalars.append(("held_out/reward", r)) }
        if let a = entry.heldOutAccuracy { scalars.append(("held_out/accuracy", a)) }
        try tensorBoard?.addScalars(scalars, step: entry.iteration)
    }

    /// The held-out sample grid, as a TensorBoard image at `iteration`.
    public func record(grid: RGBImage, at iteration: Int) throws {
        try tensorBoard?.addImage(
            "held_out/samples", png: Data(try PNGEncoder.encode(grid)), width: grid.width, height: grid.height,
            step: iteration)
    }

    public func record(evaluation: Evaluation.Result, at iteration: Int) throws {
        lastHeldOut = evaluation.meanReward
        var line = String(format: "{\"iteration\":%d,\"held_out_reward\":%.6f", iteration, evaluation.meanReward)
        if let accuracy = evaluation.accuracy { line += String(format: ",\"held_out_accuracy\":%.6f", accuracy) }
        if evaluation.rewardMeans.count > 1 {  // held_out_reward is their weighted sum; each on its own as well
            line +=
                ",\"held_out_rewards\":{"
                + evaluation.rewardMeans.sorted { $0.key < $1.key }
                .map { String(format: "\"%@\":%.6f", $0.key, $0.value) }.joined(separator: ",") + "}"
        }
        try appendLine(line + "}", to: "eval.jsonl")
    }

    public func trainer(_ trainer: GRPOTrainer, didReport event: TrainingEvent) throws -> TrainingDecision {
        try FileSystemFailure.wrapping("write the run log in", path: folder) { try record(event, of: trainer) }
        return .proceed
    }

    private func record(_ event: TrainingEvent, of trainer: GRPOTrainer) throws {
        switch event {
        case .started(let first):
            try writeConfig(trainer.config)
            try startTensorBoard(resumingAt: first > 0 ? first : nil)
        case .evaluated(let result, let iteration):
            try record(evaluation: result, at: iteration)
            let grid = try result.grid()
            let name = iteration == 0 ? "samples-before" : "samples-latest"
            try PNGEncoder.write(grid, to: folder.appendingPathComponent(name + ".png"))
            try writeClip(result, name: name)
            try record(grid: grid, at: iteration)
        case .iteration(let entry):
            try append(entry)
        case .finished(let result, _, _):
            try writePlots()
            try PNGEncoder.write(try result.grid(), to: folder.appendingPathComponent("samples-after.png"))
            try writeClip(result, name: "samples-after")
        case .checkpointSaved, .timeBudgetReached:
            break
        }
    }

    /// A video task's held-out clips as one MP4 of grids (`name.mp4` beside the PNG of their first frames).
    private func writeClip(_ result: Evaluation.Result, name: String) throws {
        guard let frames = try result.videoGrid() else { return }
        try writeMP4(frames: frames, fps: result.framesPerSecond, to: folder.appendingPathComponent(name + ".mp4"))
    }

    /// Keeps the first `iterations` lines of the per-iteration logs and the evaluations up to that iteration.
    public func truncate(after iterations: Int) throws {
        func lines(_ name: String) -> [String] {
            ((try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)) ?? "").split(
                separator: "\n"
            ).map(String.init)
        }
        let rewardLines = Array(lines("reward.txt").prefix(iterations))
        rewards = rewardLines.compactMap(Double.init)
        try AtomicFile.write(
            Data(rewardLines.map { $0 + "\n" }.joined().utf8), to: folder.appendingPathComponent("reward.txt"))
        for name in ["vq_reward.txt", "mq_reward.txt"] where !lines(name).isEmpty {
            let kept = lines(name).prefix(iterations).map { $0 + "\n" }.joined()
            try AtomicFile.write(Data(kept.utf8), to: folder.appendingPathComponent(name))
        }
        try AtomicFile.write(
            Data(lines("metrics.jsonl").prefix(iterations).map { $0 + "\n" }.joined().utf8),
            to: folder.appendingPathComponent("metrics.jsonl"))
        var kept: [String] = []
        for line in lines("eval.jsonl") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let it = object["iteration"] as? Int, it <= iterations, let r = object["held_out_reward"] as? Double
            else { continue }
            kept.append(line)
            lastHeldOut = r
        }
        try AtomicFile.write(
            Data(kept.map { $0 + "\n" }.joined().utf8), to: folder.appendingPathComponent("eval.jsonl"))
    }

    private func appendLine(_ line: String, to name: String) throws {
        let url = folder.appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        }  // FileHandle below reports a failure
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((line + "\n").utf8))
    }

    /// `reward_curve.png`: training reward (raw and moving average) and held-out reward.
    public func writePlots() throws {
        try RewardCurve.write(
            rewards: rewards, heldOut: RewardCurve.heldOutSeries(in: folder),
            to: folder.appendingPathComponent("reward_curve.png"))
    }
}
