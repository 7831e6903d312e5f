import Training

extension GRPOTrainer.Config {
    /// The FLUX preset shrunk for tests on `flux_mini`.
    static var tinyFlux: GRPOTrainer.Config { GRPOTrainer.Config.flux.shrunkForTests() }

    /// A preset shrunk for tests on a miniature folder: 2 iterations of 1 prompt × 2 samples, 4 steps, one optimizer
    /// step per iteration, a reward that needs no checkpoint; everything else (guidance, sampler) as the preset.
    func shrunkForTests() -> GRPOTrainer.Config {
        var c = self
        c.iterations = 2
        c.promptsPerIteration = 1
        c.numGenerations = 2
        c.samplingSteps = 4
        c.gradientAccumulationSteps = 2
        c.rewards = "jpeg-compressibility"
        c.evalPrompts = 2
        c.rolloutBatchSize = 2
        c.transitionBatchSize = 2
        c.learningRate = 1e-3
        return c
    }
}
