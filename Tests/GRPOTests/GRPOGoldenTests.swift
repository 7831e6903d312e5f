import Engine
import Sampling
import GRPO
import TestSupport
import XCTest

/// Advantages, the clipped loss and its gradient, the KL penalty and the per-prompt tracker against
/// tools/goldens/grpo_steps.py.
final class GRPOGoldenTests: XCTestCase {
    func testAdvantages() throws {
        let g = try Fixture.load("grpo_steps.safetensors")
        assertClose(
            groupAdvantages(rewards: g["adv.group.rewards"]!, normalization: .perGroup(groupSize: 4)),
            g["adv.group.out"]!, tolerance: 1e-5)
        let clipped = groupAdvantages(rewards: g["adv.clip.rewards"]!, normalization: .perGroup(groupSize: 50))
        assertClose(clipped, g["adv.clip.out"]!, tolerance: 1e-5)
        XCTAssertEqual(clipped.max().item(Float.self), 5)
        assertClose(
            groupAdvantages(
                rewards: g["adv.global.rewards"]!, normalization: .global, globalRewards: g["adv.global.gathered"]!),
            g["adv.global.out"]!, tolerance: 1e-5)
    }

    func testClippedLossAndGradient() throws {
        let g = try Fixture.load("grpo_steps.safetensors")
        let old = g["loss.old"]!, adv = g["loss.adv"]!
        let out = clippedPolicyLoss(
            logProb: g["loss.logp"]!, oldLogProb: old, advantage: adv, clipRange: 0.2, normalizer: 3)
        assertClose(out.loss, g["loss.value"]!, tolerance: 1e-5)
        assertClose(out.ratio, g["loss.ratio"]!, tolerance: 1e-5)
        assertClose(out.clipFraction, g["loss.clipfrac"]!, tolerance: 1e-6)
        let grad = vjp(
            {
                [clippedPolicyLoss(logProb: $0[0], oldLogProb: old, advantage: adv, clipRange: 0.2, normalizer: 3).loss]
            },
            primals: [g["loss.logp"]!], cotangents: [Tensor(Float(1))]
        ).gradients[0]
        assertClose(grad, g["loss.grad"]!, tolerance: 1e-5)
    }

    func testReferenceKL() throws {
        let g = try Fixture.load("grpo_steps.safetensors")
        let x = g["x"]!, v = g["v"]!, vRef = g["kl.v_ref"]!
        let samplers: [(String, FlowSampler)] = [
            ("dance", .danceSDE(eta: 0.3)), ("flowsde", .flowSDE(noiseLevel: 0.7)),
            ("cps", .cps(noiseLevel: 0.8))
        ]
        for (name, sampler) in samplers {
            let sigma = g["\(name).step3.sigma"]!.item(Float.self),
                next = g["\(name).step3.sigma_next"]!.item(Float.self)
            let current = flowStep(sampler, velocity: v, sample: x, sigma: sigma, sigmaNext: next, nextSample: x)
            let reference = flowStep(sampler, velocity: vRef, sample: x, sigma: sigma, sigmaNext: next, nextSample: x)
            assertClose(reference.mean, g["kl.\(name).ref_mean"]!, tolerance: 1e-5, name)
            assertClose(
                referenceKL(mean: current.mean, referenceMean: reference.mean, noiseScale: current.noiseScale),
                g["kl.\(name).value"]!, tolerance: 1e-5, name)
        }
    }

    func testPerPromptTrackerMatchesDDPO() throws {
        let g = try Fixture.load("grpo_steps.safetensors")
        var tracker = PerPromptStatTracker(bufferSize: 4, minCount: 3, epsilon: 1e-6)
        for call in [1, 2] {
            let prompts = g["tracker.prompts\(call)"]!.toArray(Int32.self).map { "prompt \($0)" }
            let rewards = g["tracker.rewards\(call)"]!.toArray(Float.self)
            let advantages = tracker.advantages(prompts: prompts, rewards: rewards)
            XCTAssertEqual(advantages, g["tracker.adv\(call)"]!.toArray(Float.self), accuracy: 1e-4, "call \(call)")
        }
    }
}
