import ArgumentParser
import EmbeddedWorld
import Foundation
import Imaging
import ShapesWorld
import Training
import Video

/// `pretrain --world moving-shapes`: the clip settings of the moving-shapes world.
struct MovingShapesPretrainFlags: ParsableArguments {
    @Option(help: "moving-shapes: frames per clip.")
    var frames = 5

    @Option(help: "moving-shapes: pixels every object moves per frame.")
    var speed = 2

    @Option(
        help:
            """
            moving-shapes caption noise: chance that a training clip moves one of the three other directions than \
            its caption says.
            """
    )
    var wrongDirectionRate = 0.0

    @Option(help: "moving-shapes: Wan transformer blocks (--heads sets the width).")
    var blocks = 4

    @Option(help: "moving-shapes: features per attention head (width: heads × head dim).")
    var headDim = 16
}

extension PretrainCommand {
    /// Flow-matching pretraining of ``MovingShapesWorldModel`` on rendered clips, then its train / held-out scores
    /// and sample clips (MP4 grids and filmstrip PNGs) in the folder.
    func runMovingShapes() throws {
        guard model == "flux", codec == "vae", vae == nil, prediction == "velocity", !freezeTextEncoder else {
            throw ValidationError(
                """
                --model, --codec, --vae, --prediction and --freeze-text-encoder are for the shapes world (the \
                moving-shapes model is a Wan transformer on pixel latents, predicting velocity)
                """
            )
        }
        guard (2...64).contains(motion.frames), motion.speed >= 1, motion.speed * (motion.frames - 1) < imageSize else {
            throw ValidationError(
                "--frames must be 2...64 and --speed at least 1, with a travel speed·(frames-1) under the image size"
            )
        }
        guard (0...1).contains(motion.wrongDirectionRate) else {
            throw ValidationError("--wrong-direction-rate is a probability in [0, 1], got \(motion.wrongDirectionRate)")
        }
        let model: MovingShapesWorldModel
        if let initFrom {
            model = try MovingShapesWorldModel.load(from: URL(fileURLWithPath: initFrom))
            print("continuing from \(initFrom)")
        } else {
            var settings = MovingShapesWorldModel.Settings()
            settings.imageSize = imageSize
            settings.frames = motion.frames
            settings.speed = motion.speed
            model = MovingShapesWorldModel.create(
                seed: seed, settings: settings, heads: heads, headDim: motion.headDim, layers: motion.blocks)
        }
        print(
            """
            moving-shapes model: \(formatCount(model.transformer.parameterCount())) Wan-transformer + \
            \(formatCount(model.textEncoder.parameterCount())) text-encoder parameters, \(model.settings.frames) \
            frames of \(model.settings.imageSize) px
            """
        )
        let started = Date()
        let bar = ProgressBar(total: steps, label: "pretraining")
        try MovingShapesPretraining(
            config: pretrainingConfig, motionNoise: MotionNoise(wrongDirectionRate: motion.wrongDirectionRate)
        ).run(model) { step, loss in
            bar.update(step, runningMeanOf: loss, named: "loss")
        }
        let folder = URL(fileURLWithPath: out ?? WorldName.movingShapes.defaultModelFolder)
        try model.writeFolder(to: folder)
        print("saved \(folder.path) after \(formatDuration(Date().timeIntervalSince(started)))")
        for (name, split) in [("train", PromptCatalog.Split.train), ("held-out", .heldOut)] {
            let result = try MovingShapesEvaluation.run(model, split: split, count: 64)
            print(
                String(
                    format: "%@ prompts: mean reward %.3f (motion %.3f), accuracy %.1f%%", name, result.meanReward,
                    result.infoMeans["motion"] ?? Double.nan, 100 * (result.accuracy ?? 0)))
            try PNGEncoder.write(try result.grid(), to: folder.appendingPathComponent("samples-\(name).png"))
            if let clip = try result.videoGrid() {
                try writeMP4(
                    frames: clip, fps: result.framesPerSecond,
                    to: folder.appendingPathComponent("samples-\(name).mp4"))
            }
        }
    }
}
