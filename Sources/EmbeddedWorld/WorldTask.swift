import Engine
import Foundation
import GRPO
import Imaging
import NN
import ShapesWorld
import Training

/// The embedded world as a GRPO task: prompts from the shapes world's train / held-out splits, the world model's
/// frozen text encoder (with a per-text cache), its FLUX-architecture transformer as the trained network, and pixel
/// latents decoded by `PixelCodec`.
public final class WorldTask: TrainingTask {
    public let model: WorldModel
    private let textCache: TextConditioningCache

    public init(model: WorldModel) {
        self.model = model
        model.textEncoder.freeze()
        textCache = TextConditioningCache { model.encode($0) }
    }

    public var summary: String { "the shapes world (\(model.transformer.parameterCount()) transformer parameters, \(model.settings.imageSize) px)" }
    public var network: Module { model.transformer }
    public var networkFolderName: String { "transformer" }
    public var chain: SamplingChain { .flow }
    public var latentShape: [Int] { model.latentShape }

    public func saveNetwork(to folder: URL) throws {
        try model.writeFolder(to: folder, transformerOnly: true)
    }

    public func policy(reference: ReferenceWeights?) -> DenoisingPolicy {
        WorldPolicy(model: model, reference: reference)
    }

    public func trainingPrompts(count: Int, iteration: Int, seed: UInt64) throws -> [TrainingPrompt] {
        WorldEvaluation.trainingPrompts(count: count, iteration: iteration, seed: seed)
    }

    public func evaluationPrompts(count: Int) throws -> [TrainingPrompt] {
        WorldEvaluation.prompts(split: .heldOut, count: count).map(TrainingPrompt.init)
    }

    public func conditioning(_ texts: [String]) throws -> Conditioning { try textCache(texts) }

    public func images(_ latents: Tensor) throws -> [RGBImage] { try model.images(latents) }
}

extension GRPOTrainer.Config {
    /// The embedded world's defaults (`train --model world`, `make run`): two data-parallel processes, each drawing
    /// 4 prompts × 8 samples per iteration (8 × 8 in all), T 12, shift 3, clip 1e-2, fraction 0.6,
    /// coefficient-preserving sampling at noise level 0.5 and one initial noise per process and iteration, so that
    /// a group's rewards differ only through the trained transitions; the whole transformer trained at lr 1e-4 with
    /// all 64 samples of an iteration in one optimizer step (a gradient averaged over 64 samples is what keeps full
    /// fine-tuning from drifting: at 8 or 16 samples per step it lost held-out reward), evaluated and checkpointed
    /// with an EMA of decay 0.95 (the same training run scored 0.348 with the average and 0.320 with its last
    /// weights). The reward is the scorer's partial credit plus half its binary verdict
    /// (`shapes,shapes-correct:0.5`, each normalised per group): partial credit alone pays hedging with extra
    /// objects, the verdict only exact images; it kept the held-out partial-credit score above that of partial
    /// credit alone by 2.8 and 1.3 points (seeds 0 and 1, means of the evaluations at 180–300). Two processes on
    /// two cores run an iteration in about 1.8–2.4 s instead of 4 s for one process with two BLAS threads (MLX's
    /// element-wise kernels use one core), so 300 iterations fit in 9–12 minutes. The README's status table has the
    /// settings compared; `--processes 1 --prompts-per-iteration 8 --gradient-accumulation-steps 64` is the same
    /// batch in one process.
    public static var world: GRPOTrainer.Config {
        var c = GRPOTrainer.Config()
        c.processes = 2
        c.promptsPerIteration = 4
        c.gradientAccumulationSteps = 32
        c.iterations = 300
        c.sampler = "cps"
        c.eta = 0.5
        c.initSameNoise = true
        c.learningRate = 1e-4
        c.emaDecay = 0.95
        c.rewards = "shapes,shapes-correct:0.5"
        c.evalEvery = 20
        c.evalPrompts = 128
        return c
    }
}
