import Foundation
import Training

/// The terminal's view of a run: what trains, the held-out scores before and after, a progress bar with the reward.
final class TrainingProgress: TrainingObserver {
    private let summary: String
    private let folder: URL
    private let log: RunLog
    private var bar: ProgressBar?

    init(summary: String, folder: URL, log: RunLog) {
        self.summary = summary
        self.folder = folder
        self.log = log
    }

    func trainer(_ trainer: GRPOTrainer, didReport event: TrainingEvent) throws -> TrainingDecision {
        let c = trainer.config
        switch event {
        case .started(let first):
            let ranks =
                trainer.processGroup.worldSize > 1 ? " in each of \(trainer.processGroup.worldSize) processes" : ""
            print(
                """
                GRPO on \(summary): \(c.promptsPerIteration) prompts × \(c.numGenerations) samples\(ranks), \
                T=\(c.samplingSteps), η=\(c.eta), lr \(c.learningRate), \(c.iterations) iterations → \(folder.path)
                """
            )
            // The bar's clock starts with the first iteration: the evaluation before training is not its work.
            if first > 0 { bar = ProgressBar(total: c.iterations, label: "GRPO") }
        case .evaluated(let result, let iteration) where iteration == 0:
            print("held-out before training: " + describe(result))
            bar = ProgressBar(total: c.iterations, label: "GRPO")
        case .iteration(let entry):
            let held = log.lastHeldOut.map { String(format: " held-out %.3f", $0) } ?? ""
            // Skipped optimizer steps are counted where the reward is shown, as loss scalers report overflow skips.
            let skipped = entry.skippedStepsTotal > 0 ? " · skipped steps \(entry.skippedStepsTotal)" : ""
            bar?.update(entry.iteration, suffix: String(format: "reward %.3f%@", entry.reward, held) + skipped)
        case .timeBudgetReached(let minutes):
            print("time budget of \(minutes) min reached")
        case .finished(let result, let iteration, let seconds):
            print("held-out after \(iteration) iterations: " + describe(result) + " (\(formatDuration(seconds)))")
            let samples =
                result.videos == nil ? "samples-before.png, samples-after.png" : "samples-before/after.png and .mp4"
            print(
                """
                run folder \(folder.path): reward.txt, metrics.jsonl, eval.jsonl, reward_curve.png, \(samples), \
                checkpoint-*/, TensorBoard events (tensorboard --logdir \(folder.path))
                """
            )
        case .evaluated, .checkpointSaved:
            break
        }
        return .proceed
    }

    private func describe(_ result: Evaluation.Result) -> String {
        let each =
            result.rewardMeans.count > 1
            ? " ("
                + result.rewardMeans.sorted { $0.key < $1.key }.map { String(format: "%@ %.3f", $0.key, $0.value) }
                .joined(separator: ", ") + ")"
            : ""
        return String(format: "reward %.3f", result.meanReward) + each
            + (result.accuracy.map { String(format: ", accuracy %.1f%%", 100 * $0) } ?? "")
    }
}
