import Engine
import Foundation
import Imaging
import NN
import ShapesWorld

/// Supervised flow-matching pretraining of the world model on rendered images of training prompts (`dancegrpo
/// pretrain --world shapes`): x_t = (1−t)·x0 + t·ε, target v = ε − x0, mean-square loss; text encoder and
/// transformer trained together with AdamW. For x̂0-predicting models (`WorldModel.Settings.prediction`) the
/// loss is the same velocity error written through x̂0, ‖(x0 − x̂0)/max(t, 0.05)‖². Half of each batch draws t
/// from SD3's logit-normal (mid noise levels, where composition is decided), half uniformly (so the low-noise end,
/// which sharpens edges the scorer segments, is not starved). Deterministic for a seed.
public struct WorldPretraining {
    public struct Config: Sendable {
        public var steps = 6000
        public var batchSize = 32
        public var learningRate = 1e-3
        public var warmupSteps = 100
        public var seed: UInt64 = 0
        /// For VAE-codec models: batches encoded once up front and cycled through, so the frozen encoder does not run
        /// every step (0: encode every batch).
        public var latentCacheBatches = 500
        /// How far training images stray from their captions (not at all by default).
        public var captionNoise = CaptionNoise.none
        /// Trains the transformer alone, the text encoder kept as it is (a second stage on noisy captions then
        /// leaves the prompt's words encoded as the clean stage learned them).
        public var freezeTextEncoder = false
        public init() {}
    }

    public let config: Config
    public init(config: Config) { self.config = config }

    /// A batch of (prompt text, image tensor [B, H, W, 3] in [−1, 1]) from the training split.
    public static func batch(
        _ generator: inout PromptGenerator, count: Int, size: Int, seed: UInt64,
        captionNoise: CaptionNoise = .none
    ) throws -> ([String], Tensor) {
        let renderer = ShapeRenderer(size: size)
        let specs = generator.next(count)
        var pixels: [Float] = []
        pixels.reserveCapacity(count * size * size * 3)
        for (i, spec) in specs.enumerated() {
            let imageSeed = seed &* 7919 &+ UInt64(i)
            let scene = captionNoise.scene(for: spec, seed: imageSeed)
            pixels += try renderer.render(scene.shown, unmentioned: scene.unmentioned, seed: imageSeed).floatValues(
                range: .minusOneToOne)
        }
        return (specs.map(\.text), Tensor(pixels, shape: [count, size, size, 3]))
    }

    /// A batch's noise levels t `[count]`: the first half from SD3's logit-normal, the rest uniform (why: the type's
    /// documentation). Shared by the picture and clip worlds' pretraining.
    public static func noiseLevels(count: Int, key: RandomKey) -> Tensor {
        let half = count / 2
        let keys = key.split(into: 2)
        return concatenated(
            [sigmoid(Random.normal([half], key: keys[0])), Random.uniform([count - half], key: keys[1])], axis: 0)
    }

    /// Trains `model` in place; `report(step, loss)` after every step.
    public func run(_ model: WorldModel, report: (Int, Float) -> Void) throws {
        var generator = PromptGenerator(seed: config.seed, split: .train)
        let schedule = LRSchedule.cosineWithWarmup(
            config.learningRate, warmupSteps: min(config.warmupSteps, config.steps / 10), totalSteps: config.steps)
        if config.freezeTextEncoder { model.textEncoder.freeze() }
        defer { if config.freezeTextEncoder { model.textEncoder.unfreeze() } }
        let optimizer = AdamW(model: model, schedule: schedule, weightDecay: 1e-4)
        var key = RandomKey(seed: config.seed &+ 1)
        let size = model.settings.imageSize
        var cache: [([String], Tensor)] = []
        let caching = model.vae != nil && config.latentCacheBatches > 0
        for step in 0..<config.steps {
            let prompts: [String], x0: Tensor
            if caching && step >= config.latentCacheBatches {
                (prompts, x0) = cache[step % config.latentCacheBatches]
            } else {
                let (texts, images) = try WorldPretraining.batch(
                    &generator, count: config.batchSize, size: size,
                    seed: config.seed &+ UInt64(step), captionNoise: config.captionNoise)
                prompts = texts
                x0 = model.latents(of: images)
                if caching {
                    eval(x0)
                    cache.append((prompts, x0))
                }
            }
            let keys = key.split(into: 3)
            key = keys[0]
            let t = Self.noiseLevels(count: config.batchSize, key: keys[1])
            let noise = Random.normal(x0.shape, key: keys[2])
            let tb = t.reshaped([config.batchSize, 1, 1])
            let xt = (1 - tb) * x0 + tb * noise
            let target = noise - x0
            let (values, gradients) = valueAndGrad(model: model) {
                let out = model.networkOutput(xt, timesteps: t * 1000, conditioning: model.encode(prompts))
                switch model.settings.prediction {
                case .velocity:
                    return [(out - target).square().mean()]
                case .sample:
                    // The velocity loss of an x̂0 prediction, ‖(x0 − x̂0)/σ‖², with σ ≥ 0.05 so the nearly
                    // clean end does not dominate (the JiT recipe).
                    return [((out - x0) / tb.maximum(0.05)).square().mean()]
                }
            }
            let (clipped, _) = clipGradientNorm(gradients, maxNorm: 1)
            try optimizer.step(gradients: clipped)
            eval(optimizer.tensorsToEvaluate + [values[0]])
            report(step + 1, values[0].item(Float.self))
        }
    }
}
