import Engine
import Sampling
import Foundation
import NN
import ShapesWorld

/// DDPM pretraining of the UNet world model (`dancegrpo pretrain --world shapes --model sd`): on the rendered
/// images of training prompts (``WorldPretraining/batch(_:count:size:seed:captionNoise:)``, the FLUX world's data), x0
/// = the pixel grid, t uniform in 0..<T, x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε with the model's DDIM ᾱ table, loss
/// = mean (ε̂ − ε)² (Ho et al. 2020's simple loss, SD v1's objective), or the v / x0 error for a model whose
/// scheduler predicts those. A fraction of the prompts is replaced by the empty prompt (`conditioningDropout`, SD's
/// 10%), so classifier-free guidance has an unconditional branch to use. Text encoder and UNet train together with
/// AdamW (cosine schedule with warm-up, gradient norm clipped at 1). Deterministic for a seed.
public struct StableDiffusionWorldPretraining {
    public let config: WorldPretraining.Config
    /// Probability that a training prompt is replaced by "".
    public let conditioningDropout: Double

    public init(config: WorldPretraining.Config, conditioningDropout: Double = 0.1) {
        precondition(
            conditioningDropout >= 0 && conditioningDropout < 1,
            "conditioning dropout \(conditioningDropout) must be in [0, 1)")
        self.config = config
        self.conditioningDropout = conditioningDropout
    }

    /// The denoising loss of `model` on clean grids `x0 [B, h, w, 12]` at integer timesteps `t` (B values) with
    /// noise `noise` (x0's shape): mean (out − target)² with the target the scheduler's `prediction_type` names
    /// (ε by default; v = √ᾱ·ε − √(1−ᾱ)·x0 for `v_prediction`, SD 2's; x0 for `sample`).
    public static func loss(
        _ model: StableDiffusionWorldModel, x0: Tensor, prompts: [String], timesteps t: [Int], noise: Tensor,
        alphasCumprod: [Float]
    ) -> Tensor {
        let b = x0.dim(0)
        precondition(
            t.count == b && prompts.count == b, "loss: \(b) samples, \(t.count) timesteps, \(prompts.count) prompts")
        let alpha = t.map { alphasCumprod[$0] }
        let signal = Tensor(alpha.map { $0.squareRoot() }, shape: [b, 1, 1, 1])
        let noiseScale = Tensor(alpha.map { (1 - $0).squareRoot() }, shape: [b, 1, 1, 1])
        let xt = signal * x0 + noiseScale * noise
        let predicted = model.networkOutput(
            xt, timesteps: Tensor(t.map(Float.init)), conditioning: model.encode(prompts))
        let target: Tensor
        switch model.schedulerConfig.predictionType {
        // v = √ᾱ·ε − √(1−ᾱ)·x0 (Salimans & Ho 2022)
        case .vPrediction: target = signal * noise - noiseScale * x0
        case .sample: target = x0
        case .epsilon: target = noise
        }
        return (predicted - target).square().mean()
    }

    /// One step's inputs: the batch of step `step` (prompts after dropout, clean grids), its timesteps and noise.
    func inputs(step: Int, generator: inout PromptGenerator, size: Int, timestepCount: Int, key: RandomKey)
        throws -> (prompts: [String], x0: Tensor, timesteps: [Int], noise: Tensor)
    {
        let (texts, images) = try WorldPretraining.batch(
            &generator, count: config.batchSize, size: size,
            seed: config.seed &+ UInt64(step), captionNoise: config.captionNoise)
        var draws = SeededGenerator(seed: (config.seed &+ 0x51D) &* 1_000_003 &+ UInt64(step))
        let timesteps = (0..<config.batchSize).map { _ in draws.below(timestepCount) }
        let prompts = texts.map { draws.unit() < conditioningDropout ? "" : $0 }
        let x0 = PixelCodec.grid(images)
        return (prompts, x0, timesteps, Random.normal(x0.shape, key: key))
    }

    /// Trains `model` in place; `report(step, loss)` after every step.
    public func run(_ model: StableDiffusionWorldModel, report: (Int, Float) -> Void) throws {
        var generator = PromptGenerator(seed: config.seed, split: .train)
        let schedule = LRSchedule.cosineWithWarmup(
            config.learningRate, warmupSteps: min(config.warmupSteps, config.steps / 10), totalSteps: config.steps)
        let optimizer = AdamW(model: model, schedule: schedule, weightDecay: 1e-4)
        let scheduler = DDIMScheduler(config: model.schedulerConfig, steps: 1)  // only its ᾱ table is used
        var key = RandomKey(seed: config.seed &+ 1)
        for step in 0..<config.steps {
            let keys = key.split(into: 2)
            key = keys[0]
            let batch = try inputs(
                step: step, generator: &generator, size: model.settings.imageSize,
                timestepCount: scheduler.alphasCumprod.count, key: keys[1])
            let (values, gradients) = valueAndGrad(model: model) {
                [
                    StableDiffusionWorldPretraining.loss(
                        model, x0: batch.x0, prompts: batch.prompts, timesteps: batch.timesteps,
                        noise: batch.noise, alphasCumprod: scheduler.alphasCumprod)
                ]
            }
            let (clipped, _) = clipGradientNorm(gradients, maxNorm: 1)
            try optimizer.step(gradients: clipped)
            eval(optimizer.tensorsToEvaluate + [values[0]])
            report(step + 1, values[0].item(Float.self))
        }
    }
}
