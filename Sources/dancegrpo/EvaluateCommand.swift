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

    @Option(
        help:
            """
            Model folder (from `pretrain`, FLUX or UNet architecture), or a run's checkpoint-*/ folder (its \
            transformer or unet replaces the pretrained one; LoRA adapters are merged into it), or a run folder (its \
            newest checkpoint). Default: the world's committed model.
            """
    )
    var checkpoint: String?

    @Option(
        help:
            """
            The pretrained folder whose text encoder a checkpoint folder is combined with (default: the world's \
            committed model; assets/shapes-model-sd for a UNet checkpoint).
            """
    )
    var base: String?

    @Option(help: "The embedded world: shapes or moving-shapes (clips, scored on what is drawn and how it moves).")
    var world = WorldName.shapes

    @Option(help: "Prompt split: held-out or train.")
    var split = "held-out"

    @Option(help: "Number of prompts (drawn with a fixed seed, so runs compare).")
    var prompts = 64

    @Option(help: "Denoising steps (default: 12 for the FLUX model's ODE, 20 for the UNet model's DDIM).") var steps:
        Int?
    @Option(help: "Time shift of the sigma schedule (FLUX model).") var shift: Float = 3
    @Option(help: "Classifier-free guidance against the empty prompt (UNet model; 1: off).") var guidanceScale: Float =
        1
    @Option(help: "Seed of prompts and noise.") var seed: UInt64 = 1234
    @Option(help: "Write the captioned sample grid here (PNG).") var grid: String?
    @Flag(
        inversion: .prefixedNo,
        help:
            """
            For a checkpoint of a run with --ema-decay: its averaged weights (ema.safetensors), which the trainer's \
            held-out scores use; --no-ema: the trained weights.
            """
    ) var ema = true

    func run() throws {
        let splitValue: PromptCatalog.Split
        switch split {
        case "held-out", "heldOut": splitValue = .heldOut
        case "train": splitValue = .train
        default: throw ValidationError("--split must be held-out or train, got '\(split)'")
        }
        let folder = Self.modelFolder(checkpoint ?? world.defaultModelFolder)
        let checkpointURL = URL(fileURLWithPath: folder)
        let base = self.base ?? world.defaultModelFolder
        let architecture = try WorldArchitecture.of(folder: checkpointURL)
        // A GRPO checkpoint holds only transformer/: its base's world.json says which world it belongs to.
        if architecture == .wan
            || (architecture == .flux && (try? WorldArchitecture.of(folder: URL(fileURLWithPath: base))) == .wan)
        {
            return try evaluateMovingShapes(folder: folder, base: base, split: splitValue)
        }
        let result: Evaluation.Result, evaluation: WorldEvaluation, stepCount: Int
        switch architecture {
        case .wan: preconditionFailure("the moving-shapes world is evaluated above")
        case .flux:
            stepCount = steps ?? 12
            let model = try WorldModel.load(
                checkpointOrModel: checkpointURL, base: URL(fileURLWithPath: base), averaged: ema)
            evaluation = WorldEvaluation(split: splitValue, count: prompts, steps: stepCount, shift: shift, seed: seed)
            result = try evaluation.run(model)
        case .unet:
            stepCount = steps ?? 20
            // A UNet checkpoint needs the UNet world model as its base.
            let baseURL =
                base == "assets/shapes-model"
                ? URL(fileURLWithPath: "assets/shapes-model-sd") : URL(fileURLWithPath: base)
            let model = try StableDiffusionWorldModel.load(
                checkpointOrModel: checkpointURL, base: baseURL, averaged: ema)
            evaluation = WorldEvaluation(
                split: splitValue, count: prompts, steps: stepCount, guidanceScale: guidanceScale, seed: seed)
            result = try evaluation.run(model)
        }
        let weights =
            ema && FileManager.default.fileExists(atPath: checkpointURL.appendingPathComponent("ema.safetensors").path)
            ? ", EMA weights" : ""
        print(
            String(
                format: "%@ (%d %@ prompts, %d steps%@): mean reward %.3f, accuracy %.1f%%", folder, prompts, split,
                stepCount,
                weights, result.meanReward, 100 * (result.accuracy ?? 0)))
        // Objects found against objects asked, and the colours and shapes drawn, show what a partial-credit reward can
        // hide: a model that hedges with more (or fewer) shapes than the prompt names, or draws them in other colours.
        let specs = evaluation.specs
        let scores = zip(result.images, specs).map { ShapeScorer.standard.score($0, $1) }
        for kind in PromptKind.allCases {
            let rows = specs.indices.filter { specs[$0].kind == kind }
            guard !rows.isEmpty else { continue }
            let n = Double(rows.count)
            let reward = rows.map { result.rewards[$0] }.reduce(0, +) / n
            let correct = rows.filter { result.rewards[$0] == 1 }.count
            let tally = ObjectTally(rows.map { (scores[$0], specs[$0]) })
            print(
                String(
                    format:
                        """
                          %-9@ %3d prompts  reward %.3f  correct %5.1f%%  objects found %.2f (asked %.2f, extras \
                        %.2f), named colour %.0f%%, named shape %.0f%%
                        """,
                    kind.rawValue, rows.count, reward, 100 * Double(correct) / n, tally.found, tally.asked,
                    tally.extras,
                    100 * tally.namedColourShare, 100 * tally.namedShapeShare))
        }
        if let grid {
            try PNGEncoder.write(try result.grid(), to: URL(fileURLWithPath: grid))
            print("grid: \(grid)")
        }
    }

    /// `path` itself, or the newest `checkpoint-*` of a run folder (one that holds checkpoints but no model), so that
    /// `evaluate --checkpoint runs/shapes-grpo` scores where a run ended.
    static func modelFolder(_ path: String) -> String {
        let url = URL(fileURLWithPath: path)
        guard (try? WorldArchitecture.of(folder: url)) == nil, let newest = GRPOTrainer.latestCheckpoint(in: url) else {
            return path
        }
        print("\(path): a run folder; scoring its newest checkpoint, \(newest.lastPathComponent)")
        return (path as NSString).appendingPathComponent(newest.lastPathComponent)
    }
}
