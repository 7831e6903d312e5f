import Engine
import GRPO
import NN
import Sampling
import TestSupport
import XCTest

/// The policy update under mixed precision on the toy policy: bf16 passes from float32 master weights give the
/// float32 update to bf16 rounding, an untouched policy rescored in bf16 reproduces the bf16 rollout's log-probs,
/// and fp16's loss scaler skips an overflowing step.
final class MixedPrecisionUpdateTests: XCTestCase {
    private let conditioning = Conditioning(["text": Tensor([1, 0, 0, 1] as [Float], shape: [2, 2])]).repeatingEachRow(
        3)
    private let advantages: [Float] = [1, -1, 0.5, -0.5, 2, -2]

    private func rolloutConfig(batch: Int) -> RolloutConfig {
        var c = RolloutConfig.flow(steps: 6)
        c.batchSize = batch
        return c
    }

    /// One optimizer step of plain SGD (learning rate 1, no clipping in effect), so the weights move by exactly the
    /// negated gradient: the step compares gradients, which AdamW's first step (±lr) would hide.
    private func step(
        _ policy: ToyPolicy, computeDType: DType?, rollout r: RolloutBatch, transitionBatch: Int = 6,
        clipRange: Float = 10, lossScaler: LossScaler? = nil
    ) throws -> (stats: UpdateStatistics, change: [String: Tensor]) {
        let before = policy.parameters()
        var update = UpdateConfig()
        update.gradientAccumulationSteps = 6
        update.transitionBatchSize = transitionBatch
        update.maxGradNorm = 1e6
        update.computeDType = computeDType
        // Wide enough that no ratio is clipped: the float32 rollout rescored in bf16 or fp16 has ratios ≠ 1 by the
        // rounding, which the default ε = 1e-4 would clip to a zero gradient, hiding the comparison.
        update.clipRange = clipRange
        let wrapped: DenoisingPolicy = computeDType.map { MixedPrecisionPolicy(policy, computeDType: $0) } ?? policy
        let stats = try updatePolicy(
            policy: wrapped, optimizer: SGD(model: policy, learningRate: 1), rollout: r, conditioning: conditioning,
            advantages: advantages, config: update, key: RandomKey(seed: 6), lossScaler: lossScaler)
        let after = policy.parameters()
        return (stats, Dictionary(uniqueKeysWithValues: after.map { ($0.key, $0.value - before[$0.key]!) }))
    }

    /// Relative to the float32 step's largest entry, per tensor.
    private func largestRelativeDifference(_ a: [String: Tensor], _ b: [String: Tensor]) -> Float {
        b.keys.map { key in maxAbsDifference(a[key]!, b[key]!) / b[key]!.abs().max().item(Float.self) }.max()!
    }

    /// The same float32 rollout trained in float32 and in bf16: the weight change (the gradient) agrees to bf16
    /// rounding; measured 0.6% of each tensor's largest entry (bf16's unit roundoff is 0.4%), the bound is 3%, and
    /// the gradient norms to 1% (measured 0.06%). The master weights stay float32.
    func testBF16UpdateMatchesTheFloat32UpdateToBF16Rounding() throws {
        let r = rollout(
            policy: ToyPolicy(), conditioning: conditioning, latentShape: [4, 3], config: rolloutConfig(batch: 6),
            key: RandomKey(seed: 5))
        let full = try step(ToyPolicy(), computeDType: nil, rollout: r)
        let policy = ToyPolicy()
        let mixed = try step(policy, computeDType: .bfloat16, rollout: r)
        for (key, value) in policy.parameters() { XCTAssertEqual(value.dtype, .float32, "\(key) is a master weight") }
        XCTAssertEqual(mixed.stats.optimizerSteps, 1)
        let difference = largestRelativeDifference(mixed.change, full.change)
        XCTAssertGreaterThan(difference, 0, "bf16 rounding must show")
        XCTAssertLessThan(difference, 0.03)
        XCTAssertEqual(
            mixed.stats.gradientNorms[0], full.stats.gradientNorms[0], accuracy: 0.01 * full.stats.gradientNorms[0])
    }

    /// Rollout and training both in bf16 from the same master weights: the training pass repeats the rollout's
    /// operations on the same bf16 casts, so with the same call shapes (one row per call) every ratio is exactly 1.
    /// Other batchings measured exactly 1 too on the CPU back end (its bf16 products are row by row); they are held to
    /// the float32 test's 1e-5, since a GPU kernel may round a row differently by batch size. A float32 rescoring of
    /// the bf16 rollout is off by ~1e-3, which the bounds catch.
    func testFirstRatiosAreOneUnderBF16() throws {
        for (rolloutBatch, transitionBatch, bound) in [(1, 1, Float(0)), (4, 3, 1e-5), (6, 7, 1e-5)] {
            let policy = ToyPolicy()
            let mixed = MixedPrecisionPolicy(policy, computeDType: .bfloat16)
            let r = rollout(
                policy: mixed, conditioning: conditioning, latentShape: [4, 3],
                config: rolloutConfig(batch: rolloutBatch), key: RandomKey(seed: 5))
            XCTAssertEqual(r.logProbs.dtype, .float32)
            XCTAssertEqual(r.latents.dtype, .float32)
            let (stats, _) = try step(policy, computeDType: .bfloat16, rollout: r, transitionBatch: transitionBatch)
            XCTAssertEqual(stats.ratios.count, 6 * 3)
            XCTAssertLessThanOrEqual(
                stats.ratios.map { abs($0 - 1) }.max()!, bound, "batches \(rolloutBatch)/\(transitionBatch)")
            let (float32, _) = try step(ToyPolicy(), computeDType: nil, rollout: r, transitionBatch: transitionBatch)
            XCTAssertGreaterThan(float32.ratios.map { abs($0 - 1) }.max()!, 1e-4, "a float32 rescoring differs")
        }
    }

    /// A loss scale far beyond fp16's range (2^40): the scaled gradients overflow, the step is skipped with the scale
    /// it overflowed at, the weights are untouched and the scale halves.
    func testAnFP16OverflowSkipsTheStepAndHalvesTheScale() throws {
        let r = rollout(
            policy: ToyPolicy(), conditioning: conditioning, latentShape: [4, 3], config: rolloutConfig(batch: 6),
            key: RandomKey(seed: 5))
        let scaler = LossScaler(initialScale: 0x1p40)
        let (stats, change) = try step(ToyPolicy(), computeDType: .float16, rollout: r, lossScaler: scaler)
        XCTAssertEqual(stats.stepOutcomes, [.gradientOverflow(lossScale: 0x1p40)])
        XCTAssertFalse(stats.stepOutcomes[0]!.countsTowardStop)
        XCTAssertEqual(change.values.map { $0.abs().max().item(Float.self) }.max(), 0, "no weight moved")
        XCTAssertEqual(scaler.scale, 0x1p39)
        XCTAssertEqual(scaler.growthTracker, 0)
        XCTAssert(stats.loss.isFinite, "the logged loss is the unscaled one")
    }

    /// A scale that fits: the step is taken, its gradient is the float32 one to fp16 rounding (measured 0.1%, bound
    /// 1%), the logged loss is the unscaled one (float32's is 0 here: the advantages sum to 0 and every ratio is 1;
    /// fp16's measured −5e-6), and with a growth interval of 1 the scale doubles.
    func testAnFP16StepWithAFittingScaleMatchesFloat32() throws {
        let r = rollout(
            policy: ToyPolicy(), conditioning: conditioning, latentShape: [4, 3], config: rolloutConfig(batch: 6),
            key: RandomKey(seed: 5))
        let full = try step(ToyPolicy(), computeDType: nil, rollout: r)
        let scaler = LossScaler(initialScale: 1024, growthInterval: 1)
        let half = try step(ToyPolicy(), computeDType: .float16, rollout: r, lossScaler: scaler)
        XCTAssertEqual(half.stats.stepOutcomes, [nil])
        XCTAssertLessThan(largestRelativeDifference(half.change, full.change), 0.01)
        XCTAssertEqual(half.stats.loss, full.stats.loss, accuracy: 1e-4)
        XCTAssertEqual(scaler.scale, 2048)
    }
}
