import Engine
import Sampling
import GRPO
import NN
import TestSupport
import XCTest

final class PolicyUpdateTests: XCTestCase {
    private let conditioning = Conditioning(["text": Tensor([1, 0, 0, 1] as [Float], shape: [2, 2])]).repeatingEachRow(
        3)

    private func config(batch: Int) -> RolloutConfig {
        var c = RolloutConfig.flow(steps: 6)
        c.batchSize = batch
        return c
    }

    func testRolloutIsDeterministicAndBatchInvariant() {
        let policy = ToyPolicy()
        let a = rollout(
            policy: policy, conditioning: conditioning, latentShape: [4, 3], config: config(batch: 1),
            key: RandomKey(seed: 3))
        let b = rollout(
            policy: policy, conditioning: conditioning, latentShape: [4, 3], config: config(batch: 1),
            key: RandomKey(seed: 3))
        let c = rollout(
            policy: policy, conditioning: conditioning, latentShape: [4, 3], config: config(batch: 4),
            key: RandomKey(seed: 3))
        XCTAssertEqual(a.latents.shape, [6, 7, 4, 3])
        XCTAssertEqual(a.logProbs.shape, [6, 6])
        XCTAssertEqual(a.latents.toArray(Float.self), b.latents.toArray(Float.self))
        assertClose(c.latents, a.latents, tolerance: 1e-5)
        assertClose(c.logProbs, a.logProbs, tolerance: 1e-5)
        let other = rollout(
            policy: policy, conditioning: conditioning, latentShape: [4, 3], config: config(batch: 1),
            key: RandomKey(seed: 4))
        XCTAssertGreaterThan(maxAbsDifference(other.latents, a.latents), 0.1)
    }

    func testSharedInitialNoise() {
        var c = config(batch: 2)
        c.sameInitialNoise = true
        let r = rollout(
            policy: ToyPolicy(), conditioning: conditioning, latentShape: [4, 3], config: c, key: RandomKey(seed: 3))
        let first = r.latents[.all, 0]
        for i in 1..<6 { XCTAssertEqual(first[i].toArray(Float.self), first[0].toArray(Float.self)) }
        XCTAssertGreaterThan(maxAbsDifference(r.latents[1, 1], r.latents[0, 1]), 1e-3, "step noise must still differ")

        // Per prompt group: rows 0–2 share one noise, rows 3–5 another; a group of all six is the shared draw
        // above.
        c.initialNoiseGroupSize = 3
        let grouped = rollout(
            policy: ToyPolicy(), conditioning: conditioning, latentShape: [4, 3], config: c, key: RandomKey(seed: 3))
        let starts = grouped.latents[.all, 0]
        for i in [1, 2] { XCTAssertEqual(starts[i].toArray(Float.self), starts[0].toArray(Float.self)) }
        for i in [4, 5] { XCTAssertEqual(starts[i].toArray(Float.self), starts[3].toArray(Float.self)) }
        XCTAssertGreaterThan(maxAbsDifference(starts[3], starts[0]), 0.1)
        c.initialNoiseGroupSize = 6
        let whole = rollout(
            policy: ToyPolicy(), conditioning: conditioning, latentShape: [4, 3], config: c, key: RandomKey(seed: 3))
        XCTAssertEqual(whole.latents.toArray(Float.self), r.latents.toArray(Float.self))
    }

    /// Before any optimizer step the training log-probs equal the rollout's: every ratio is 1 to float rounding,
    /// for batched rollouts and batched training alike.
    func testFirstRatiosAreOne() throws {
        for (rolloutBatch, transitionBatch) in [(1, 1), (4, 3), (6, 7)] {  // 7 rows span samples
            let policy = ToyPolicy()
            let r = rollout(
                policy: policy, conditioning: conditioning, latentShape: [4, 3], config: config(batch: rolloutBatch),
                key: RandomKey(seed: 5))
            var update = UpdateConfig()
            update.gradientAccumulationSteps = 6
            update.transitionBatchSize = transitionBatch
            let optimizer = AdamW(model: policy, learningRate: 1e-3)
            let stats = try updatePolicy(
                policy: policy, optimizer: optimizer, rollout: r, conditioning: conditioning,
                advantages: [1, -1, 0.5, -0.5, 2, -2], sampler: .danceSDE(eta: 0.3), config: update,
                key: RandomKey(seed: 6))
            // K = floor((6 − 1)·0.6) = 3 transitions per sample.
            XCTAssertEqual(stats.ratios.count, 6 * 3)
            XCTAssertLessThan(
                stats.ratios.map { abs($0 - 1) }.max()!, 1e-5, "batches \(rolloutBatch)/\(transitionBatch)")
            XCTAssertEqual(stats.optimizerSteps, 1)
            XCTAssertGreaterThan(stats.gradientNorms[0], 0)
        }
    }

    /// Calls of 1, 3 (one sample's K) or 7 (across samples) transitions, or all 12 of an optimizer window, give the
    /// same optimizer steps: parameters after two windows agree to float rounding, and so do the ratios.
    func testUpdateIsInvariantToTransitionBatching() throws {
        let r = rollout(
            policy: ToyPolicy(), conditioning: conditioning, latentShape: [4, 3], config: config(batch: 6),
            key: RandomKey(seed: 21))
        var results: [(parameters: [String: Tensor], ratios: [Float])] = []
        for transitionBatch in [1, 3, 7, 12] {
            let policy = ToyPolicy()
            var update = UpdateConfig()
            update.gradientAccumulationSteps = 3
            update.clipRange = 10
            update.transitionBatchSize = transitionBatch
            let optimizer = AdamW(model: policy, learningRate: 1e-2, weightDecay: 0)
            var ratios: [Float] = []
            for pass in 0..<2 {
                let stats = try updatePolicy(
                    policy: policy, optimizer: optimizer, rollout: r, conditioning: conditioning,
                    advantages: [1, -1, 0.5, -0.5, 2, -2], config: update, key: RandomKey(seed: 22 + UInt64(pass)))
                XCTAssertEqual(stats.optimizerSteps, 2)
                ratios += stats.ratios
            }
            results.append((policy.parameters(), ratios))
        }
        for (i, other) in results.enumerated().dropFirst() {
            XCTAssertLessThan(zip(results[0].ratios, other.ratios).map { abs($0 - $1) }.max()!, 1e-5, "batch case \(i)")
            XCTAssertGreaterThan(
                results[0].ratios.map { abs($0 - 1) }.max()!, 1e-4, "the second pass must see a changed policy")
            for (name, value) in results[0].parameters {
                XCTAssertLessThan(maxAbsDifference(value, other.parameters[name]!), 1e-5, "\(name), batch case \(i)")
            }
        }
    }

    /// 6 samples in windows of 4: one optimizer step, as `optimizerStepCount` (the learning-rate schedule's count)
    /// says; the incomplete window's transitions are still scored.
    func testAnIncompleteLastWindowTakesNoOptimizerStep() throws {
        let r = rollout(
            policy: ToyPolicy(), conditioning: conditioning, latentShape: [4, 3], config: config(batch: 6),
            key: RandomKey(seed: 23))
        let policy = ToyPolicy()
        var update = UpdateConfig()
        update.gradientAccumulationSteps = 4
        let stats = try updatePolicy(
            policy: policy, optimizer: AdamW(model: policy, learningRate: 1e-2, weightDecay: 0), rollout: r,
            conditioning: conditioning, advantages: [1, -1, 0.5, -0.5, 2, -2], config: update, key: RandomKey(seed: 24))
        XCTAssertEqual(stats.optimizerSteps, 1)
        XCTAssertEqual(optimizerStepCount(samples: 6, gradientAccumulationSteps: 4), stats.optimizerSteps)
        let k = Int((Float(stats.trainableSteps.count) * update.timestepFraction).rounded(.down))
        XCTAssertGreaterThan(k, 0)
        XCTAssertEqual(stats.ratios.count, 6 * k, "all six samples' transitions are scored")
    }

    /// A sample with a positive advantage becomes more likely after an update, one with a negative one less likely.
    func testUpdateMovesLogProbsWithTheAdvantage() throws {
        let policy = ToyPolicy()
        let cond = conditioning.rows([0, 1])
        var c = config(batch: 2)
        c.process = FlowProcess(steps: 4, shift: 3, sampler: .danceSDE(eta: 0.3))
        let r = rollout(policy: policy, conditioning: cond, latentShape: [4, 3], config: c, key: RandomKey(seed: 8))
        var update = UpdateConfig()
        update.gradientAccumulationSteps = 2
        update.clipRange = 10
        update.timestepFraction = 1
        let optimizer = AdamW(model: policy, learningRate: 1e-3, weightDecay: 0)
        for _ in 0..<5 {
            _ = try updatePolicy(
                policy: policy, optimizer: optimizer, rollout: r, conditioning: cond, advantages: [1, -1],
                sampler: .danceSDE(eta: 0.3), config: update, key: RandomKey(seed: 9))
        }
        // Re-score the stored transitions 0 and 1 under the updated policy.
        func logProb(_ n: Int) -> Float {
            (0..<3).map { j in
                let x = r.latents[n, j].expandedDims(axis: 0)
                let v = policy.modelOutput(
                    x, timesteps: Tensor([Float(r.flow!.schedule.timesteps[j])]), conditioning: cond.rows([n]))
                return flowStep(
                    .danceSDE(eta: 0.3), velocity: v, sample: x, sigma: r.flow!.schedule.sigmas[j],
                    sigmaNext: r.flow!.schedule.sigmas[j + 1],
                    nextSample: r.latents[n, j + 1].expandedDims(axis: 0)
                ).logProb.item(Float.self)
            }.reduce(0, +)
        }
        let before = (0..<2).map { n in (0..<3).map { r.logProbs[n, $0].item(Float.self) }.reduce(0, +) }
        XCTAssertGreaterThan(logProb(0), before[0])
        XCTAssertLessThan(logProb(1), before[1])
    }
}
