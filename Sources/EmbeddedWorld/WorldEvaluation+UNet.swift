import Rewards
import Training

extension WorldEvaluation {
    /// Scores the UNet world model the same way: its task's deterministic chain (DDIM with η = 0 over `steps` steps
    /// of the model's scheduler) from the fixed noise, by the shapes scorer.
    public func run(_ model: StableDiffusionWorldModel, batchSize: Int = 32) throws -> Evaluation.Result {
        try evaluation.run(
            StableDiffusionWorldTask(model: model), rewards: try RewardCatalog.shapesWorld.makeSet("shapes"),
            batchSize: batchSize)
    }
}
