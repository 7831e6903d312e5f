import Engine
import Sampling
import GRPO
import NN
import TestSupport
import XCTest

/// The ratio-is-one rule on Stable Diffusion's chain: DDPO's DDIM step (η = 1, SD v1.4's scheduler) with
/// classifier-free guidance, through the model-agnostic `rollout` and `updatePolicy`.
final class DDIMPolicyUpdateTests: XCTestCase {
    private let conditioning = Conditioning(["text": Tensor([1, 0, 0, 1] as [Float], shape: [2, 2])]).repeatingEachRow(
        3)
    private let unconditional = Conditioning(["text": Tensor([0, 0] as [Float], shape: [1, 2])])

    private func config(batch: Int, steps: Int = 6, guidance: Float? = 4) -> RolloutConfig {
        var c = RolloutConfig()
        c.process = DDIMProcess(scheduler: DDIMScheduler(config: .stableDiffusionV1, steps: steps), eta: 1)
        c.guidanceScale = guidance
        c.batchSize = batch
        return c
    }

    func testRolloutFollowsTheDDIMChain() {
        let policy = ToyPolicy(seed: 21)
        let r = rollout(
            policy: policy, conditioning: conditioning, latentShape: [2, 2, 3], config: config(batch: 2),
            key: RandomKey(seed: 3),
            unconditional: unconditional)
        XCTAssertEqual(r.latents.shape, [6, 7, 2, 2, 3])
        XCTAssertEqual(r.logProbs.shape, [6, 6])
        XCTAssertNil(r.flow)
        // DDIM decodes the final sample itself (as DanceGRPO's SD trainer), not x̂0 of the last step.
        XCTAssertEqual(r.finalLatents.toArray(Float.self), r.latents[.all, 6].toArray(Float.self))
        // SD v1.4's leading timesteps for 6 steps: 166·k + 1.
        XCTAssertEqual((0..<6).map { r.process.networkTimestep($0) }, [831, 665, 499, 333, 167, 1])
        let batched = rollout(
            policy: policy, conditioning: conditioning, latentShape: [2, 2, 3], config: config(batch: 4),
            key: RandomKey(seed: 3),
            unconditional: unconditional)
        assertClose(batched.latents, r.latents, tolerance: 1e-5)
        assertClose(batched.logProbs, r.logProbs, tolerance: 1e-5)
    }

    /// Before any optimizer step, training rescoring reproduces the rollout's log-probs: every ratio is 1 to float
    /// rounding, with CFG, for unbatched and batched rollouts and transitions.
    func testFirstRatiosAreOneWithGuidance() throws {
        for (rolloutBatch, transitionBatch) in [(1, 1), (4, 3), (6, 5)] {
            let policy = ToyPolicy(seed: 21)
            let r = rollout(
                policy: policy, conditioning: conditioning, latentShape: [2, 2, 3], config: config(batch: rolloutBatch),
                key: RandomKey(seed: 5), unconditional: unconditional)
            var update = UpdateConfig()
            update.gradientAccumulationSteps = 6
            update.transitionBatchSize = transitionBatch
            update.timestepFraction = 1
            let optimizer = AdamW(model: policy, learningRate: 1e-3)
            let stats = try updatePolicy(
                policy: policy, optimizer: optimizer, rollout: r, conditioning: conditioning,
                advantages: [1, -1, 0.5, -0.5, 2, -2], config: update, key: RandomKey(seed: 6),
                unconditional: unconditional)
            // The last of the 6 transitions is never trained (as in DanceGRPO and DDPO): K = 5 per sample.
            XCTAssertEqual(stats.trainableSteps, [0, 1, 2, 3, 4])
            XCTAssertEqual(stats.ratios.count, 6 * 5)
            XCTAssertLessThan(
                stats.ratios.map { abs($0 - 1) }.max()!, 1e-5, "batches \(rolloutBatch)/\(transitionBatch)")
            XCTAssertEqual(stats.optimizerSteps, 1)
            XCTAssertGreaterThan(stats.gradientNorms[0], 0)
        }
    }

    /// η = 0 is deterministic DDIM: no transition has a log-probability, so nothing trains.
    func testDeterministicDDIMTrainsNothing() throws {
        let policy = ToyPolicy(seed: 21)
        var c = config(batch: 6, guidance: nil)
        c.process = DDIMProcess(scheduler: DDIMScheduler(config: .stableDiffusionV1, steps: 4), eta: 0)
        let r = rollout(
            policy: policy, conditioning: conditioning, latentShape: [2, 2, 3], config: c, key: RandomKey(seed: 7))
        XCTAssertEqual(r.logProbs.toArray(Float.self), [Float](repeating: 0, count: 24))
        let stats = try updatePolicy(
            policy: policy, optimizer: AdamW(model: policy, learningRate: 1e-3), rollout: r,
            conditioning: conditioning, advantages: [Float](repeating: 1, count: 6), config: UpdateConfig(),
            key: RandomKey(seed: 8))
        XCTAssertTrue(stats.trainableSteps.isEmpty)
        XCTAssertEqual(stats.optimizerSteps, 0)
    }
}
