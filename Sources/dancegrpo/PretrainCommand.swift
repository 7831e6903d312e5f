import ArgumentParser
import EmbeddedWorld
import Training
import Engine
import Foundation
import Imaging
import Models

/// Supervised pretraining of the embedded world's model, the starting point of the default GRPO run.
struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pretrain the embedded shapes-world model by flow matching on rendered images.")

    @Option(help: "World (shapes).")
    var world = "shapes"

    @Option(help: "Optimizer steps.")
    var steps = 6000

    @Option(help: "Images per step.")
    var batchSize = 32

    @Option(help: "Peak learning rate (cosine schedule with warm-up).")
    var learningRate = 1e-3

    @Option(help: "Seed of weights, prompts, images and noise.")
    var seed: UInt64 = 0

    @Option(help: "Image size in pixels (a multiple of 4).")
    var imageSize = 32

    @Option(help: "What the transformer predicts: velocity (the FLUX convention) or sample (x̂0, the JiT recipe for pixel-space models).")
    var prediction = "velocity"

    @Option(help: "Transformer attention heads of 16 features (width 16·heads; the committed model has 4).")
    var heads = 4

    @Option(help: "Transformer double-stream and single-stream blocks, each (the committed model has 2).")
    var layers = 2

    @Option(help: "Latents the transformer denoises: vae (a tiny AutoencoderKL trained first, as FLUX's VAE) or pixels (the first models).")
    var codec = "pixels"

    @Option(help: "Autoencoder training steps (codec vae).")
    var vaeSteps = 1500

    @Option(help: "Reuse the vae/ folder of an earlier model instead of training one (codec vae).")
    var vae: String?

    @Option(help: "Output model folder.")
    var out = "assets/shapes-model"

    func run() throws {
        guard world == "shapes" else { throw ValidationError("unknown world '\(world)' (available: shapes)") }
        guard imageSize % 4 == 0 else { throw ValidationError("--image-size must be a multiple of 4") }
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
                var recent: [Float] = []
                autoencoder = try WorldAutoencoderTraining(config: vaeConfig).run(size: imageSize) { step, loss in
                    recent.append(loss)
                    if recent.count > 50 { recent.removeFirst() }
                    vaeBar.update(step, suffix: String(format: "reconstruction %.5f", recent.reduce(0, +) / Float(recent.count)))
                }
                print("autoencoder trained in \(formatDuration(Date().timeIntervalSince(vaeStarted)))")
            }
        }
        let model = WorldModel.create(seed: seed, settings: settings, heads: heads, layers: layers, vae: autoencoder)
        print("world model: \(formatCount(model.transformer.parameterCount())) transformer + \(formatCount(model.textEncoder.parameterCount())) text-encoder parameters")
        var config = WorldPretraining.Config()
        config.steps = steps
        config.batchSize = batchSize
        config.learningRate = learningRate
        config.seed = seed
        let started = Date()
        let bar = ProgressBar(total: steps, label: "pretraining")
        var recent: [Float] = []
        try WorldPretraining(config: config).run(model) { step, loss in
            recent.append(loss)
            if recent.count > 50 { recent.removeFirst() }
            bar.update(step, suffix: String(format: "loss %.4f", recent.reduce(0, +) / Float(recent.count)))
        }
        let folder = URL(fileURLWithPath: out)
        try model.writeFolder(to: folder)
        print("saved \(folder.path) after \(formatDuration(Date().timeIntervalSince(started)))")
        for (name, evaluation) in [("train", WorldEvaluation(split: .train, count: 64)), ("held-out", WorldEvaluation(split: .heldOut, count: 64))] {
            let result = try evaluation.run(model)
            print(String(format: "%@ prompts: mean reward %.3f, accuracy %.1f%%", name, result.meanReward, 100 * (result.accuracy ?? 0)))
            try PNGEncoder.write(try result.grid(), to: folder.appendingPathComponent("samples-\(name).png"))
        }
    }
}
