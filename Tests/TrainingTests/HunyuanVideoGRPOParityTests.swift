import Checkpoints
import Engine
import Foundation
import GRPO
import Models
import Sampling
import TestSupport
import Training
import XCTest

/// `HunyuanVideoTask` against the seed's own rollout (tools/goldens/hunyuan_video_grpo_rollout.py: `run_sample_step`
/// with `flux_step` of train_grpo_hunyuan.py, in float64): the task's policy on the flow chain's Dance SDE, scoring
/// the seed's trajectory, gives its timesteps, every transition's Gaussian mean and log-probability, and the decoded
/// x̂0 of the last step.
final class HunyuanVideoGRPOParityTests: XCTestCase {
    func testPolicyScoresTheSeedsTrajectory() throws {
        let golden = try SafeTensors.load(Fixture.url("hunyuan_video_grpo_rollout.safetensors"))
        let networks = try HunyuanVideoTask.loadNetworks(from: Fixture.url("hunyuan_video_mini"), dtype: .float32)
        let task = try HunyuanVideoTask(
            transformer: networks.transformer, vae: networks.vae,
            embeddings: Fixture.url("hunyuan_video_mini_embeddings"), frames: 5, height: 32, width: 32)
        let config = GRPOTrainer.Config.hunyuanVideo
        let steps = 4
        let process = task.chain.process(
            steps: steps, shift: config.shift, sampler: RolloutSampler(config.sampler, noiseLevel: config.eta))
        XCTAssertEqual(
            (0..<steps).map { process.networkTimestep($0) }, golden["timesteps"]!.toArray(Float.self),
            "τ = int(1000σ) of sd3_time_shift(5, linspace(1, 0, 5))")
        let conditioning = try task.conditioning([task.entries[0].caption, task.entries[2].caption])
        let policy = task.policy(reference: nil)
        let trajectory = golden["latents"]!
        var worstMean: Float = 0, worstLogProb: Float = 0
        for i in 0..<steps {
            let x = trajectory[.all, i]
            let v = policy.modelOutput(
                x, timesteps: Tensor.full([2], Double(process.networkTimestep(i))), conditioning: conditioning)
            let out = process.transition(i, modelOutput: v, sample: x, nextSample: trajectory[.all, i + 1], noise: nil)
            let mean = golden["means"]![.all, i]
            let meanError = maxAbsDifference(out.mean, mean) / mean.abs().max().item(Float.self)
            let logProb = golden["log_probs"]![.all, i]
            let logProbError = maxAbsDifference(out.logProb, logProb) / logProb.abs().max().item(Float.self)
            worstMean = max(worstMean, meanError)
            worstLogProb = max(worstLogProb, logProbError)
            if i == steps - 1 {
                let decoded = golden["decoded"]!
                XCTAssertLessThanOrEqual(
                    maxAbsDifference(process.decodedLatent(lastStep: out), decoded),
                    1e-4 * decoded.abs().max().item(Float.self), "the decoded latent: the last step's x̂0")
            }
        }
        XCTAssertLessThanOrEqual(worstMean, 1e-4, "transition means, max abs error / scale")
        XCTAssertLessThanOrEqual(worstLogProb, 1e-4, "log-probabilities, max abs error / scale")
    }
}
