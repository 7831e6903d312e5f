import Engine
import Foundation
import NN
import ShapesWorld

/// Supervised flow-matching pretraining of the moving-shapes model (`dancegrpo pretrain --world moving-shapes`), the
/// FLUX world's recipe (``WorldPretraining``) on clips: x_t = (1−t)·x0 + t·ε over the clip's latents, target
/// v = ε − x0, mean-square loss, half of each batch's t from SD3's logit-normal and half uniform; text encoder and
/// transformer trained together with AdamW (cosine schedule with warm-up, gradient norm clipped at 1). Clips are
/// rendered from training-split prompts, their motion as `motionNoise` says. Deterministic for a seed.
public struct MovingShapesPretraining {
    public let config: WorldPretraining.Config
    /// How often a training clip moves another way than its caption says.
    public let motionNoise: MotionNoise

    public init(config: WorldPretraining.Config, motionNoise: MotionNoise = .none) {
        self.config = config
        self.motionNoise = motionNoise
    }

    /// A batch of captions and clips `[B, F, H, W, 3]` in [−1, 1] from the training split; each clip shows what
    /// `motionNoise` makes of its caption.
    public static func batch(
        _ generator: inout MovingPromptGenerator, count: Int, renderer: MovingShapeRenderer, seed: UInt64,
        motionNoise: MotionNoise = .none
    ) throws -> ([String], Tensor) {
        var texts: [String] = []
        var pixels: [Float] = []
        let size = renderer.renderer.options.size
        pixels.reserveCapacity(count * renderer.frames * size * size * 3)
        var drawn = 0
        var attempt: UInt64 = 0
        while drawn < count {
            guard attempt < 100 * UInt64(count) else {
                throw MotionError.noRoomToMove(
                    travel: renderer.travel, imageSize: size, prompt: "any of \(attempt) training prompts")
            }
            let prompt = generator.next()
            let clipSeed = seed &* 7919 &+ attempt
            attempt += 1
            // Four objects of one kind do not always fit the canvas shortened by the travel; draw another prompt.
            guard let frames = try? renderer.render(motionNoise.shown(for: prompt, seed: clipSeed), seed: clipSeed)
            else { continue }
            texts.append(prompt.text)
            for frame in frames { pixels += frame.floatValues(range: .minusOneToOne) }
            drawn += 1
        }
        return (texts, Tensor(pixels, shape: [count, renderer.frames, size, size, 3]))
    }

    /// Trains `model` in place; `report(step, loss)` after every step.
    public func run(_ model: MovingShapesWorldModel, report: (Int, Float) -> Void) throws {
        var generator = MovingPromptGenerator(seed: config.seed, split: .train)
        let schedule = LRSchedule.cosineWithWarmup(
            config.learningRate, warmupSteps: min(config.warmupSteps, config.steps / 10), totalSteps: config.steps)
        let optimizer = AdamW(model: model, schedule: schedule, weightDecay: 1e-4)
        var key = RandomKey(seed: config.seed &+ 1)
        let renderer = model.settings.renderer
        let b = config.batchSize
        for step in 0..<config.steps {
            let (prompts, clips) = try Self.batch(
                &generator, count: b, renderer: renderer, seed: config.seed &+ UInt64(step), motionNoise: motionNoise)
            let x0 = VideoPixelCodec.encode(clips)
            let keys = key.split(into: 3)
            key = keys[0]
            let t = WorldPretraining.noiseLevels(count: b, key: keys[1])
            let noise = Random.normal(x0.shape, key: keys[2])
            let tb = t.reshaped([b, 1, 1, 1, 1])
            let xt = (1 - tb) * x0 + tb * noise
            let target = noise - x0
            let (values, gradients) = valueAndGrad(model: model) {
                let v = model.velocity(xt, timesteps: t * 1000, conditioning: model.encode(prompts))
                return [(v - target).square().mean()]
            }
            let (clipped, _) = clipGradientNorm(gradients, maxNorm: 1)
            try optimizer.step(gradients: clipped)
            eval(optimizer.tensorsToEvaluate + [values[0]])
            report(step + 1, values[0].item(Float.self))
        }
    }
}
