import Engine
import Sampling
import GRPO
import NN
import TestSupport
import XCTest

/// A policy without a reference: the default `referenceOutput` throws.
final class NoReferencePolicy: Module, DenoisingPolicy {
    let layer = Linear(12 + 1 + 2, 12, key: RandomKey(seed: 23))
    var module: Module { self }
    func modelOutput(_ x: Tensor, timesteps: Tensor, conditioning: Conditioning) -> Tensor {
        let b = x.dim(0)
        return layer(
            concatenated([x.reshaped([b, 12]), (timesteps / 1000).expandedDims(axis: 1), conditioning["text"]], axis: 1)
        ).reshaped(x.shape)
    }
}

final class SamplerVariantsTests: XCTestCase {
    private let conditioning = Conditioning(["text": Tensor([1, 0, 0, 1] as [Float], shape: [2, 2])]).repeatingEachRow(
        3)
    private let advantages: [Float] = [1, -1, 0.5, 1.5, 2, -0.25]

    private func rolloutConfig(_ sampler: FlowSampler, steps: Int = 6, batch: Int = 4) -> RolloutConfig {
        var c = RolloutConfig.flow(steps: steps, sampler: sampler)
        c.batchSize = batch
        return c
    }

    private func updateConfig(transitionBatch: Int = 3, fraction: Float = 0.6) -> UpdateConfig {
        var u = UpdateConfig()
        u.gradientAccumulationSteps = 6
        u.transitionBatchSize = transitionBatch
        u.timestepFraction = fraction
        return u
    }

    private func assertRatiosAreOne(
        _ stats: UpdateStatistics, _ message: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertFalse(stats.ratios.isEmpty, message, file: file, line: line)
        XCTAssertLessThan(stats.ratios.map { abs($0 - 1) }.max() ?? 1, 1e-5, message, file: file, line: line)
    }

    /// The rollout's log-probs are recomputed exactly in training for Flow-SDE and CPS, batched or not.
    func testFirstRatiosAreOneForFlowGRPOSamplers() throws {
        for sampler in [FlowSampler.flowSDE(noiseLevel: 0.7), .cps(noiseLevel: 0.8)] {
            for (rolloutBatch, transitionBatch) in [(1, 1), (4, 3)] {
                let policy = ToyPolicy(seed: 21, keepsReference: true)
                let r = rollout(
                    policy: policy, conditioning: conditioning, latentShape: [4, 3],
                    config: rolloutConfig(sampler, batch: rolloutBatch), key: RandomKey(seed: 5))
                XCTAssertEqual(r.flow?.samplers, [FlowSampler](repeating: sampler, count: 6))
                XCTAssertTrue(r.logProbs.toArray(Float.self).allSatisfy(\.isFinite))
                let stats = try updatePolicy(
                    policy: policy, optimizer: AdamW(model: policy, learningRate: 1e-3), rollout: r,
                    conditioning: conditioning, advantages: advantages, sampler: sampler,
                    config: updateConfig(transitionBatch: transitionBatch), key: RandomKey(seed: 6))
                XCTAssertEqual(stats.ratios.count, 6 * 3)
                assertRatiosAreOne(stats, "\(sampler) \(rolloutBatch)/\(transitionBatch)")
                XCTAssertEqual(stats.optimizerSteps, 1)
            }
        }
    }

    /// A MixGRPO plan: only the window's SDE steps are trained, each sample trains all of them with fraction 1, and
    /// the first ratios are one.
    func testMixGRPOPlanTrainsOnlyTheWindow() throws {
        let window = MixGRPOWindow(
            steps: 8, windowSize: 3, stride: 1, itersPerShift: 2, sampler: .flowSDE(noiseLevel: 0.7))
        var config = rolloutConfig(.ode, steps: 8)
        // shift 2: window 2..<5
        config.process = FlowProcess(steps: 8, shift: 3, sampler: .ode, plan: window.plan(iteration: 5))
        let policy = ToyPolicy(seed: 21, keepsReference: true)
        let r = rollout(
            policy: policy, conditioning: conditioning, latentShape: [4, 3], config: config, key: RandomKey(seed: 7))
        XCTAssertEqual(r.flow?.samplers.map(\.isStochastic), [false, false, true, true, true, false, false, false])
        // ODE steps are deterministic Euler steps with log-prob 0.
        let logProbs = r.logProbs.toArray(Float.self)
        for n in 0..<6 { for i in [0, 1, 5, 6, 7] { XCTAssertEqual(logProbs[n * 8 + i], 0) } }
        let stats = try updatePolicy(
            policy: policy, optimizer: AdamW(model: policy, learningRate: 1e-3), rollout: r,
            conditioning: conditioning, advantages: advantages, config: updateConfig(fraction: 1),
            key: RandomKey(seed: 8))
        XCTAssertEqual(stats.trainableSteps, [2, 3, 4])
        XCTAssertEqual(stats.ratios.count, 6 * 3)
        XCTAssertEqual(Set(stats.trainedSteps), [2, 3, 4])
        for n in 0..<6 { XCTAssertEqual(Set(stats.trainedSteps[(n * 3)..<(n * 3 + 3)]), [2, 3, 4]) }
        assertRatiosAreOne(stats, "MixGRPO")
    }

    /// An all-ODE plan (the window past the end) trains nothing and takes no optimizer step.
    func testEmptyWindowTrainsNothing() throws {
        var config = rolloutConfig(.ode, steps: 6)
        config.process = FlowProcess(steps: 6, shift: 3, sampler: .ode, plan: [FlowSampler](repeating: .ode, count: 6))
        let policy = ToyPolicy(seed: 21, keepsReference: true)
        let r = rollout(
            policy: policy, conditioning: conditioning, latentShape: [4, 3], config: config, key: RandomKey(seed: 7))
        let stats = try updatePolicy(
            policy: policy, optimizer: AdamW(model: policy, learningRate: 1e-3), rollout: r,
            conditioning: conditioning, advantages: advantages, config: updateConfig(), key: RandomKey(seed: 8))
        XCTAssertTrue(stats.ratios.isEmpty)
        XCTAssertEqual(stats.optimizerSteps, 0)
    }

    /// CFG: rollout and training use the same guided velocity, one batched call, so the first ratios are one; the
    /// guided trajectories differ from unguided ones; the formula is v_u + w(v_c − v_u).
    func testClassifierFreeGuidance() throws {
        let unconditional = Conditioning(["text": Tensor([0, 0] as [Float], shape: [1, 2])])
        for (rolloutBatch, transitionBatch) in [(1, 1), (4, 3)] {
            let policy = ToyPolicy(seed: 21, keepsReference: true)
            var config = rolloutConfig(.danceSDE(eta: 0.3), batch: rolloutBatch)
            config.guidanceScale = 4.5
            let r = rollout(
                policy: policy, conditioning: conditioning, latentShape: [4, 3], config: config,
                key: RandomKey(seed: 5), unconditional: unconditional)
            XCTAssertEqual(r.guidanceScale, 4.5)
            let plain = rollout(
                policy: policy, conditioning: conditioning, latentShape: [4, 3],
                config: rolloutConfig(.danceSDE(eta: 0.3), batch: rolloutBatch), key: RandomKey(seed: 5))
            XCTAssertGreaterThan(maxAbsDifference(plain.latents, r.latents), 1e-3)
            let stats = try updatePolicy(
                policy: policy, optimizer: AdamW(model: policy, learningRate: 1e-3), rollout: r,
                conditioning: conditioning, advantages: advantages,
                config: updateConfig(transitionBatch: transitionBatch), key: RandomKey(seed: 6),
                unconditional: unconditional)
            assertRatiosAreOne(stats, "CFG \(rolloutBatch)/\(transitionBatch)")
        }
        // The first step of sample 0 by hand: x1 = μ(v_u + w(v_c − v_u)) + s·z.
        let policy = ToyPolicy(seed: 21, keepsReference: true)
        var config = rolloutConfig(.ode, steps: 4, batch: 6)
        config.guidanceScale = 3
        let r = rollout(
            policy: policy, conditioning: conditioning, latentShape: [4, 3], config: config,
            key: RandomKey(seed: 9), unconditional: unconditional)
        let x0 = r.latents[0, 0].expandedDims(axis: 0)
        let t = Tensor([Float(r.flow!.schedule.timesteps[0])])
        let vc = policy.modelOutput(x0, timesteps: t, conditioning: conditioning.rows([0]))
        let vu = policy.modelOutput(x0, timesteps: t, conditioning: unconditional)
        let expected = x0 + (r.flow!.schedule.sigmas[1] - r.flow!.schedule.sigmas[0]) * (vu + 3 * (vc - vu))
        assertClose(r.latents[0, 1].expandedDims(axis: 0), expected, tolerance: 1e-5)
    }

    /// KL to the frozen reference: zero while the weights are the initial ones, positive after an update; β = 0 gives
    /// exactly the loss without KL and never evaluates the reference.
    func testReferenceKL() throws {
        let sampler = FlowSampler.flowSDE(noiseLevel: 0.7)
        let policy = ToyPolicy(seed: 21, keepsReference: true)
        let r = rollout(
            policy: policy, conditioning: conditioning, latentShape: [4, 3], config: rolloutConfig(sampler),
            key: RandomKey(seed: 5))
        var update = updateConfig()
        update.beta = 0.5
        let optimizer = AdamW(model: policy, learningRate: 1e-2)
        // One optimizer step at the end of the pass: every transition is scored with the initial weights.
        let first = try updatePolicy(
            policy: policy, optimizer: optimizer, rollout: r, conditioning: conditioning,
            advantages: advantages, config: update, key: RandomKey(seed: 6))
        XCTAssertEqual(first.referenceKL, 0)
        assertRatiosAreOne(first, "KL first pass")
        // With ratios 1 and a zero KL the loss is the policy loss alone: Σ_n K·(−A_n)/(accumulation·K).
        XCTAssertEqual(first.loss, -advantages.reduce(0, +) / 6, accuracy: 1e-5)
        let second = try updatePolicy(
            policy: policy, optimizer: optimizer, rollout: r, conditioning: conditioning,
            advantages: advantages, config: update, key: RandomKey(seed: 6))
        XCTAssertGreaterThan(second.referenceKL, 0)
        // The reference stayed the initial policy: its velocity differs from the trained one now.
        let x = r.latents[0, 1].expandedDims(axis: 0), t = Tensor([Float(r.flow!.schedule.timesteps[1])])
        let trained = policy.modelOutput(x, timesteps: t, conditioning: conditioning.rows([0]))
        let reference = try policy.referenceOutput(x, timesteps: t, conditioning: conditioning.rows([0]))
        XCTAssertGreaterThan(maxAbsDifference(trained, reference), 1e-4)
        XCTAssertEqual(
            maxAbsDifference(policy.modelOutput(x, timesteps: t, conditioning: conditioning.rows([0])), trained), 0,
            "evaluating the reference restores the trained weights")

        // β = 0: same loss as the KL-free path; a policy without a reference works; β > 0 without one throws.
        let plain = NoReferencePolicy()
        let rp = rollout(
            policy: plain, conditioning: conditioning, latentShape: [4, 3], config: rolloutConfig(sampler),
            key: RandomKey(seed: 5))
        let withBetaZero = try updatePolicy(
            policy: plain, optimizer: AdamW(model: plain, learningRate: 0), rollout: rp,
            conditioning: conditioning, advantages: advantages, config: updateConfig(), key: RandomKey(seed: 6))
        XCTAssertEqual(withBetaZero.referenceKL, 0)
        XCTAssertEqual(withBetaZero.loss, -advantages.reduce(0, +) / 6, accuracy: 1e-5)
        var withBeta = updateConfig()
        withBeta.beta = 0.1
        XCTAssertThrowsError(
            try updatePolicy(
                policy: plain, optimizer: AdamW(model: plain, learningRate: 0), rollout: rp,
                conditioning: conditioning, advantages: advantages, config: withBeta,
                key: RandomKey(seed: 6))
        ) { error in
            XCTAssertEqual(error as? GRPOError, .noReferencePolicy("NoReferencePolicy"))
        }
    }
}
