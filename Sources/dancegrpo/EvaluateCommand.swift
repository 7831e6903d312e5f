import ArgumentParser
import EmbeddedWorld
import Training
import Foundation
import Imaging
import ShapesWorld

/// Scores a shapes-world model (pretrained folder or a training checkpoint) on fixed prompts with deterministic
/// sampling: the same numbers `train` logs as held-out scores, with a breakdown per prompt family.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score an embedded-world model on held-out (or training) prompts with the rule-based scorer.")

    @Option(help: "Model folder (from `pretrain`), or a run's checkpoint-*/ folder (its transformer replaces the pretrained one).")
    var checkpoint = "assets/shapes-model"

    @Option(help: "The pretrained folder whose text encoder a checkpoint folder is combined with.")
    var base = "assets/shapes-model"

    @Option(help: "Prompt split: held-out or train.")
    var split = "held-out"

    @Option(help: "Number of prompts (drawn with a fixed seed, so runs compare).")
    var prompts = 64

    @Option(help: "Denoising steps.") var steps = 12
    @Option(help: "Time shift of the sigma schedule.") var shift: Float = 3
    @Option(help: "Seed of prompts and noise.") var seed: UInt64 = 1234
    @Option(help: "Write the captioned sample grid here (PNG).") var grid: String?

    func run() throws {
        let splitValue: PromptCatalog.Split
        switch split {
        case "held-out", "heldOut": splitValue = .heldOut
        case "train": splitValue = .train
        default: throw ValidationError("--split must be held-out or train, got '\(split)'")
        }
        let model = try WorldModel.load(checkpointOrModel: URL(fileURLWithPath: checkpoint), base: URL(fileURLWithPath: base))
        let evaluation = WorldEvaluation(split: splitValue, count: prompts, steps: steps, shift: shift, seed: seed)
        let result = try evaluation.run(model)
        print(String(format: "%@ (%d %@ prompts, %d steps): mean reward %.3f, accuracy %.1f%%", checkpoint, prompts, split, steps,
                     result.meanReward, 100 * (result.accuracy ?? 0)))
        for kind in PromptKind.allCases {
            let specs = evaluation.specs
            let rows = specs.indices.filter { specs[$0].kind == kind }
            guard !rows.isEmpty else { continue }
            let reward = rows.map { result.rewards[$0] }.reduce(0, +) / Double(rows.count)
            let correct = rows.filter { result.rewards[$0] == 1 }.count
            print(String(format: "  %-9@ %3d prompts  reward %.3f  correct %.1f%%", kind.rawValue, rows.count, reward,
                         100 * Double(correct) / Double(rows.count)))
        }
        if let grid {
            try PNGEncoder.write(try result.grid(), to: URL(fileURLWithPath: grid))
            print("grid: \(grid)")
        }
    }
}
