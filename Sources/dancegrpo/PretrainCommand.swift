import ArgumentParser
import EmbeddedWorld
import Training
import Engine
import Sampling
import Foundation
import Imaging
import Models
import ShapesWorld

/// Supervised pretraining of the embedded world's model, the starting point of the default GRPO run.
struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract:
            """
            Pretrain the embedded shapes-world model on rendered images: flow matching (FLUX architecture) or DDPM \
            (UNet, --model sd).
            """
    )

    @Option(help: "World: shapes (pictures) or moving-shapes (clips, a Wan-architecture model).")
    var world = WorldName.shapes

    @OptionGroup(title: "Moving-shapes world") var motion: MovingShapesPretrainFlags

    @Option(
        help:
            """
            Architecture: flux (FLUX transformer, flow matching; the default) or sd (Stable Diffusion UNet, DDPM \
            ε-prediction, DDIM sampling).
            """
    )
    var model = "flux"

    @Option(help: "Optimizer steps (of the transformer or UNet; the autoencoder has --vae-steps).")
    var steps = 4000

    @Option(help: "Images per step.")
    var batchSize = 32

    @Option(help: "Peak learning rate (cosine schedule with warm-up).")
    var learningRate = 1e-3

    @Option(help: "Seed of weights, prompts, images and noise.")
    var seed: UInt64 = 0

    @Option(help: "Image size in pixels (a multiple of 4).")
    var imageSize = 32

    @Option(
        help:
            """
            What the transformer predicts: velocity (the FLUX convention) or sample (x̂0, the JiT recipe for \
            pixel-space models).
            """
    )
    var prediction = "velocity"

    @Option(help: "flux only: transformer attention heads of 16 features (width 16·heads; the committed model has 8).")
    var heads = 8

    @Option(help: "flux only: transformer double-stream and single-stream blocks, each (the committed model has 2).")
    var layers = 2

    @Option(
        help:
            """
            flux only: latents the transformer denoises: vae (a tiny AutoencoderKL trained first, as FLUX's VAE; the \
            committed model) or pixels (a 2×2 space-to-depth of the pixels, the first models).
            """
    )
    var codec = "vae"

    @Option(help: "flux only: autoencoder training steps (codec vae).")
    var vaeSteps = 1500

    @Option(help: "flux only: reuse the vae/ folder of an earlier model instead of training one (codec vae).")
    var vae: String?

    @Option(
        help:
            """
            sd only: probability that a training prompt is replaced by the empty prompt (the unconditional branch of \
            classifier-free guidance).
            """
    )
    var conditioningDropout = 0.1

    @Option(
        help:
            """
            sd only: what the UNet predicts, the scheduler's prediction_type: epsilon (SD v1), v_prediction (SD 2) or \
            sample.
            """
    )
    var predictionType = PredictionType.epsilon

    @Option(help: "sd only: DDIM steps of the evaluation after pretraining.")
    var evaluationSteps = 20

    @Option(
        help:
            """
            Caption noise: chance that each object group of a training image is drawn in another colour than its \
            caption names.
            """
    )
    var wrongColorRate = 0.0

    @Option(
        help:
            """
            Caption noise: chance that each object group of a training image is drawn as another shape than its \
            caption names.
            """
    )
    var wrongShapeRate = 0.0

    @Option(
        help: "Caption noise: chance, per slot, that a training image also shows an object its caption does not name.")
    var unmentionedObjectRate = 0.0

    @Option(help: "Caption noise: most unmentioned objects per training image.")
    var unmentionedObjectSlots = 2

    @Flag(
        help:
            """
            flux only: train the transformer alone and keep the text encoder as it is (with --init-from: a second \
            stage that cannot change how prompts are encoded).
            """
    )
    var freezeTextEncoder = false

    @Option(
        help:
            """
            Continue from this model folder (its architecture, text encoder and autoencoder) instead of new weights; \
            --heads, --layers, --codec, --prediction, --image-size and --vae then come from it.
            """
    )
    var initFrom: String?

    @Option(help: "Output model folder (default: assets/shapes-model, or assets/shapes-model-sd for --model sd).")
    var out: String?

    func run() throws {
        guard imageSize % 4 == 0 else { throw ValidationError("--image-size must be a multiple of 4") }
        for (flag, rate) in [
            ("--wrong-color-rate", wrongColorRate), ("--wrong-shape-rate", wrongShapeRate),
            ("--unmentioned-object-rate", unmentionedObjectRate)
        ]
        where !(0...1).contains(rate) {
            throw ValidationError("\(flag) is a probability in [0, 1], got \(rate)")
        }
        guard unmentionedObjectSlots >= 0 else {
            throw ValidationError("--unmentioned-object-slots cannot be negative, got \(unmentionedObjectSlots)")
        }
        if world == .movingShapes { return try runMovingShapes() }
        switch model {
        case "flux": try runFlux()
        case "sd": try runStableDiffusion()
        default: throw ValidationError("unknown model '\(model)' (available: flux, sd)")
        }
    }

    var pretrainingConfig: WorldPretraining.Config {
        var config = WorldPretraining.Config()
        config.steps = steps
        config.batchSize = batchSize
        config.learningRate = learningRate
        config.seed = seed
        config.freezeTextEncoder = freezeTextEncoder
        config.captionNoise = CaptionNoise(
            wrongColorRate: wrongColorRate, wrongShapeRate: wrongShapeRate,
            unmentionedObjectRate: unmentionedObjectRate,
            unmentionedObjectSlots: unmentionedObjectSlots)
        return config
    }

    private func runStableDiffusion() throws {
        guard !freezeTextEncoder else {
            throw ValidationError(
                "--freeze-text-encoder is for --model flux (the UNet world trains its text encoder with the UNet)")
        }
        guard prediction == "velocity", heads == 4, layers == 2, codec == "pixels", vae == nil else {
            throw ValidationError(
                """
                --prediction, --heads, --layers, --codec and --vae are for --model flux (the UNet predicts ε; its \
                size is StableDiffusionWorldModel.defaultUNetConfig)
                """
            )
        }
        var settings = StableDiffusionWorldModel.Settings()
        settings.imageSize = imageSize
        let model =
            try initFrom.map { try StableDiffusionWorldModel.load(from: URL(fileURLWithPath: $0)) }
            ?? StableDiffusionWorldModel.create(seed: seed, settings: settings, predictionType: predictionType)
        print(
            """
            UNet world model: \(formatCount(model.unet.parameterCount())) UNet + \
            \(formatCount(model.textEncoder.parameterCount())) text-encoder parameters
            """
        )
        let started = Date()
        let bar = ProgressBar(total: steps, label: "pretraining")
        try StableDiffusionWorldPretraining(config: pretrainingConfig, conditioningDropout: conditioningDropout).run(
            model
        ) { step, loss in
            bar.update(step, runningMeanOf: loss, named: "loss")
        }
        let folder = URL(fileURLWithPath: out ?? "assets/shapes-model-sd")
        try model.writeFolder(to: folder)
        print("saved \(folder.path) after \(formatDuration(Date().timeIntervalSince(started)))")
        for (name, split) in [("train", PromptCatalog.Split.train), ("held-out", .heldOut)] {
            let result = try WorldEvaluation(split: split, count: 64, steps: evaluationSteps).run(model)
            print(
                String(
                    format: "%@ prompts (DDIM η = 0, %d steps): mean reward %.3f, accuracy %.1f%%", name,
                    evaluationSteps,
                    result.meanReward, 100 * (result.accuracy ?? 0)))
            try PNGEncoder.write(try result.grid(), to: folder.appendingPathComponent("samples-\(name).png"))
        }
    }

    private func runFlux() throws {
        if let initFrom {
            guard vae == nil else {
                throw ValidationError(
                    "--vae and --init-from both name an autoencoder; the model of --init-from brings its own")
            }
            let model = try WorldModel.load(from: URL(fileURLWithPath: initFrom))
            print("continuing from \(initFrom)")
            return try pretrainFlux(model)
        }
        var settings = WorldModel.Settings()
        settings.imageSize = imageSize
        guard let predictionValue = WorldModel.Settings.Prediction(rawValue: prediction) else {
            throw ValidationError("--prediction must be sample or velocity, got '\(prediction)'")
        }
        settings.prediction = predictionValue
        guard let codecValue = WorldModel.Settings.Codec(rawValue: codec) else {
            throw ValidationError("--codec must be vae or pixels, got '\(codec)'")
        }
        settings.codec = codecValue
        var autoencoder: AutoencoderKL? = nil
        if codecValue == .vae {
            if let vae {
                autoencoder = try AutoencoderKL.load(from: URL(fileURLWithPath: vae))
                print("autoencoder from \(vae)")
            } else {
                var vaeConfig = WorldAutoencoderTraining.Config()
                vaeConfig.steps = vaeSteps
                vaeConfig.seed = seed
                let vaeStarted = Date()
                let vaeBar = ProgressBar(total: vaeSteps, label: "autoencoder")
                autoencoder = try WorldAutoencoderTraining(config: vaeConfig).run(size: imageSize) { step, loss in
                    vaeBar.update(step, runningMeanOf: loss, named: "reconstruction", format: "%.5f")
                }
                print("autoencoder trained in \(formatDuration(Date().timeIntervalSince(vaeStarted)))")
            }
        }
        try pretrainFlux(
            WorldModel.create(seed: seed, settings: settings, heads: heads, layers: layers, vae: autoencoder))
    }

    private func pretrainFlux(_ model: WorldModel) throws {
        print(
            """
            world model: \(formatCount(model.transformer.parameterCount())) transformer + \
            \(formatCount(model.textEncoder.parameterCount())) text-encoder parameters
            """
        )
        let config = pretrainingConfig
        let started = Date()
        let bar = ProgressBar(total: steps, label: "pretraining")
        try WorldPretraining(config: config).run(model) { step, loss in
            bar.update(step, runningMeanOf: loss, named: "loss")
        }
        let folder = URL(fileURLWithPath: out ?? "assets/shapes-model")
        try model.writeFolder(to: folder)
        print("saved \(folder.path) after \(formatDuration(Date().timeIntervalSince(started)))")
        for (name, evaluation) in [
            ("train", WorldEvaluation(split: .train, count: 64)),
            ("held-out", WorldEvaluation(split: .heldOut, count: 64))
        ] {
            let result = try evaluation.run(model)
            print(
                String(
                    format: "%@ prompts: mean reward %.3f, accuracy %.1f%%", name, result.meanReward,
                    100 * (result.accuracy ?? 0)))
            try PNGEncoder.write(try result.grid(), to: folder.appendingPathComponent("samples-\(name).png"))
        }
    }
}
