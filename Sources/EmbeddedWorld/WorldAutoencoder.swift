import Engine
import Foundation
import Models
import NN
import ShapesWorld

/// The embedded model's latent codec: a tiny `AutoencoderKL` (the class that loads FLUX's and SD's VAEs) trained on
/// rendered shapes-world images, so the transformer denoises compact latents and the convolutional decoder draws
/// the edges, as in the real FLUX pipeline. Loss: mean-square reconstruction of a posterior sample plus a small KL
/// to N(0, I) (`klWeight`), as Stable Diffusion's VAE was trained (without its perceptual and GAN terms). After
/// training, `shift_factor` and `scaling_factor` are set from the latents' mean and standard deviation, so the
/// denoiser sees unit-variance latents (FLUX's VAE config carries the same two numbers).
public struct WorldAutoencoderTraining {
    public struct Config: Sendable {
        public var steps = 1500
        public var batchSize = 32
        public var learningRate = 1e-3
        public var klWeight: Float = 1e-4
        public var seed: UInt64 = 0
        /// Images whose latents set the normalisation.
        public var normalizationImages = 256
        public init() {}
    }

    public let config: Config
    public init(config: Config) { self.config = config }

    /// The architecture: three blocks of 8, 16 and 32 channels (latents at 1/4 of the image side), 8 latent
    /// channels, group norms of 8 groups, the mid-block attention of diffusers' VAE. Small because MLX's CPU
    /// convolutions run at ~5 GFLOP/s on these shapes: twice the channels made a training step 4× slower (2.8 s).
    public static func architecture() -> AutoencoderKLConfig {
        var c = AutoencoderKLConfig()
        c.blockOutChannels = [8, 16, 32]
        c.downBlockTypes = [String](repeating: "DownEncoderBlock2D", count: 3)
        c.upBlockTypes = [String](repeating: "UpDecoderBlock2D", count: 3)
        c.layersPerBlock = 1
        c.latentChannels = 8
        c.normNumGroups = 8
        c.sampleSize = [32]
        c.scalingFactor = 1
        c.shiftFactor = 0
        return c
    }

    /// Trains a fresh autoencoder on `size`-pixel images; `report(step, reconstruction loss)` after every step.
    public func run(size: Int, report: (Int, Float) -> Void) throws -> AutoencoderKL {
        let vae = AutoencoderKL(WorldAutoencoderTraining.architecture(), key: RandomKey(seed: config.seed &+ 101))
        var generator = PromptGenerator(seed: config.seed &+ 7, split: .train)
        let schedule = LRSchedule.cosineWithWarmup(
            config.learningRate, warmupSteps: min(100, config.steps / 10), totalSteps: config.steps)
        let optimizer = AdamW(model: vae, schedule: schedule, weightDecay: 1e-4)
        var key = RandomKey(seed: config.seed &+ 202)
        for step in 0..<config.steps {
            let (_, images) = try WorldPretraining.batch(
                &generator, count: config.batchSize, size: size, seed: config.seed &+ 31 &+ UInt64(step))
            let keys = key.split(into: 2)
            key = keys[0]
            var reconstruction = Tensor.zeros([])
            let (_, gradients) = valueAndGrad(model: vae) {
                let posterior = vae.encode(images)
                let decoded = vae.decode(posterior.sample(key: keys[1]))
                reconstruction = (decoded - images).square().mean()
                let kl = 0.5 * (posterior.mean.square() + posterior.variance - 1 - posterior.logvar).mean()
                return [reconstruction + config.klWeight * kl]
            }
            let (clipped, _) = clipGradientNorm(gradients, maxNorm: 1)
            try optimizer.step(gradients: clipped)
            eval(optimizer.tensorsToEvaluate + [reconstruction])
            report(step + 1, reconstruction.stopGradient().item(Float.self))
        }
        return try WorldAutoencoderTraining.normalized(
            vae, size: size, images: config.normalizationImages, seed: config.seed)
    }

    /// The same weights with `shift_factor` / `scaling_factor` = mean / inverse standard deviation of the latent
    /// means of `count` training images.
    public static func normalized(_ vae: AutoencoderKL, size: Int, images count: Int = 256, seed: UInt64) throws
        -> AutoencoderKL
    {
        var generator = PromptGenerator(seed: seed &+ 9, split: .train)
        let (_, images) = try WorldPretraining.batch(&generator, count: count, size: size, seed: seed &+ 11)
        let latents = vae.encode(images).mode()
        let mean = latents.mean().item(Float.self)
        let std = (latents - mean).square().mean().sqrt().item(Float.self)
        var config = vae.config
        config.shiftFactor = mean
        config.scalingFactor = 1 / std
        let result = AutoencoderKL(config)
        result.update(parameters: vae.parameters())
        return result
    }
}
