import Engine
import GRPO
import NN
import Sampling
import TestSupport
import XCTest

/// Optimizer steps with a non-finite loss, gradient norm or resulting weights are skipped, counted and leave the
/// policy and the optimizer as they were; the other windows of the same update still train.
final class NonFiniteStepTests: XCTestCase {
    private let conditioning = Conditioning(["text": Tensor([1, 0, 0, 1] as [Float], shape: [2, 2])]).repeatingEachRow(
        3)

    private func rolloutBatch() -> RolloutBatch {
        var c = RolloutConfig.flow(steps: 6)
        c.batchSize = 6
        return rollout(
            policy: ToyPolicy(), conditioning: conditioning, latentShape: [4, 3], config: c, key: RandomKey(seed: 31))
    }

    private func values(_ module: Module) -> [String: [Float]] {
        module.trainableParameters().reduce(into: [:]) { $0[$1.key] = $1.value.toArray(Float.self) }
    }

    /// Three windows of two samples, a NaN advantage in the second: that step is skipped (NaN loss), the first and
    /// third are taken; the optimizer counts two steps, as if the second window had not been there.
    func testANaNAdvantageSkipsItsWindowOnly() throws {
        let r = rolloutBatch()
        var update = UpdateConfig()
        update.gradientAccumulationSteps = 2
        let policy = ToyPolicy()
        let optimizer = AdamW(model: policy, learningRate: 1e-2, weightDecay: 0)
        let stats = try updatePolicy(
            policy: policy, optimizer: optimizer, rollout: r, conditioning: conditioning,
            advantages: [1, -1, .nan, -0.5, 2, -2], config: update, key: RandomKey(seed: 32))
        XCTAssertEqual(stats.stepOutcomes.count, 3)
        XCTAssertNil(stats.stepOutcomes[0])
        guard case .nonFiniteLoss(let loss)? = stats.stepOutcomes[1] else {
            return XCTFail("the NaN window's step: \(String(describing: stats.stepOutcomes[1]))")
        }
        XCTAssert(loss.isNaN)
        XCTAssertNil(stats.stepOutcomes[2])
        XCTAssertEqual(stats.skippedSteps.count, 1)
        XCTAssertEqual(stats.optimizerSteps, 2)
        XCTAssertEqual(optimizer.stepCount, 2, "a skipped step does not advance the schedule")
        XCTAssert(values(policy).values.allSatisfy { $0.allSatisfy(\.isFinite) })
    }

    /// An infinite learning rate makes every weight non-finite: the step is undone, weights and AdamW's moments and
    /// step counts are exactly those before it.
    func testAStepThatBreaksTheWeightsIsUndone() throws {
        let r = rolloutBatch()
        var update = UpdateConfig()
        update.gradientAccumulationSteps = 3
        let policy = ToyPolicy()
        let optimizer = AdamW(model: policy, learningRate: 1e-2, weightDecay: 0)
        let first = try updatePolicy(
            policy: policy, optimizer: optimizer, rollout: r, conditioning: conditioning,
            advantages: [1, -1, 0.5, -0.5, 2, -2], config: update, key: RandomKey(seed: 33))
        XCTAssertEqual(first.skippedSteps, [])
        let weights = values(policy)
        let state = optimizer.stateTensors().mapValues { $0.asType(.float32).toArray(Float.self) }
        optimizer.schedule = .constant(1e39)  // float32 infinity where it meets the weights
        let broken = try updatePolicy(
            policy: policy, optimizer: optimizer, rollout: r, conditioning: conditioning,
            advantages: [1, -1, 0.5, -0.5, 2, -2], config: update, key: RandomKey(seed: 34))
        XCTAssertEqual(broken.skippedSteps, [.nonFiniteWeights, .nonFiniteWeights])
        XCTAssertEqual(broken.optimizerSteps, 0)
        XCTAssertEqual(values(policy), weights)
        XCTAssertEqual(optimizer.stateTensors().mapValues { $0.asType(.float32).toArray(Float.self) }, state)
        XCTAssertEqual(optimizer.stepCount, 2)
        XCTAssert(parametersAreFinite(policy))
    }

    func testAFractionThatTrainsNothingIsAnError() throws {
        var update = UpdateConfig()
        update.timestepFraction = 0.1
        let policy = ToyPolicy()
        XCTAssertThrowsError(
            try updatePolicy(
                policy: policy, optimizer: AdamW(model: policy, learningRate: 1e-2), rollout: rolloutBatch(),
                conditioning: conditioning, advantages: [1, -1, 0.5, -0.5, 2, -2], config: update,
                key: RandomKey(seed: 35))
        ) {
            XCTAssertEqual($0 as? PolicyUpdateError, .noTransitionTrained(fraction: 0.1, trainable: 5))
            XCTAssert("\($0)".contains("--timestep-fraction must be at least 1/5"), "\($0)")
        }
    }
}
