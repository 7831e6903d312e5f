import Engine
import Sampling
import TestSupport
import XCTest

/// Every sampler's step against tools/goldens/grpo_steps.py (a plain-torch transcription of the reference formulas):
/// mean, drawn sample, x̂0, std, the reference's std_dev_t and the log-prob of the drawn and of a given next sample,
/// at the first (σ = 1), a middle and the last (σ' = 0) step of an 8-step shift-3 schedule.
final class FlowStepGoldenTests: XCTestCase {
    func testScheduleMatchesTorch() throws {
        let g = try Fixture.load("grpo_steps.safetensors")
        assertClose(Tensor(SigmaSchedule(steps: 8, shift: 3).sigmas), g["schedule.sigmas"]!, tolerance: 1e-7)
    }

    func testEverySamplerMatchesTheGoldens() throws {
        let g = try Fixture.load("grpo_steps.safetensors")
        let x = g["x"]!, v = g["v"]!, noise = g["noise"]!, given = g["given_next"]!
        let samplers: [(String, FlowSampler)] = [
            ("dance", .danceSDE(eta: 0.3)), ("flowsde", .flowSDE(noiseLevel: 0.7)),
            ("cps", .cps(noiseLevel: 0.8))
        ]
        for (name, sampler) in samplers {
            for step in [0, 3, 7] {
                let p = "\(name).step\(step)."
                let sigma = g[p + "sigma"]!.item(Float.self), next = g[p + "sigma_next"]!.item(Float.self)
                let drawn = flowStep(sampler, velocity: v, sample: x, sigma: sigma, sigmaNext: next, noise: noise)
                let scored = flowStep(sampler, velocity: v, sample: x, sigma: sigma, sigmaNext: next, nextSample: given)
                let label = "\(name) step \(step)"
                assertClose(drawn.mean, g[p + "mean"]!, tolerance: 1e-5, label)
                assertClose(drawn.sample, g[p + "sample"]!, tolerance: 1e-5, label)
                assertClose(drawn.predictedOriginal, g[p + "pred_original"]!, tolerance: 1e-5, label)
                XCTAssertEqual(drawn.std, g[p + "std"]!.item(Float.self), accuracy: 1e-6, label)
                XCTAssertEqual(drawn.noiseScale, g[p + "noise_scale"]!.item(Float.self), accuracy: 1e-5, label)
                assertClose(drawn.logProb, g[p + "logprob_drawn"]!, tolerance: 1e-5, label)
                assertClose(scored.logProb, g[p + "logprob_given"]!, tolerance: 1e-5, label)
                assertClose(scored.mean, drawn.mean, tolerance: 0, label)
            }
        }
    }

    func testFlowSDEFirstStepUsesTheNextSigma() {
        // At σ = 1 Flow-GRPO divides by 1 − sigmas[1]: a = level·√(1/(1−σ')).
        let x = Tensor.zeros([1, 2]), v = Tensor.zeros([1, 2])
        let out = flowStep(.flowSDE(noiseLevel: 0.7), velocity: v, sample: x, sigma: 1, sigmaNext: 0.9, noise: x)
        XCTAssertEqual(out.noiseScale, 0.7 * (1 / 0.1 as Float).squareRoot(), accuracy: 1e-5)
        XCTAssertEqual(out.std, out.noiseScale * (0.1 as Float).squareRoot(), accuracy: 1e-6)
        XCTAssertTrue(out.logProb.toArray(Float.self).allSatisfy(\.isFinite))
    }

    func testCPSPreservesCoefficients() {
        // With v = ε − x0 exact, x̂0 = x0 and x̂1 = ε, so μ = (1−σ')x0 + √(σ'² − s²)·ε and μ + s·z
        // keeps the coefficient (1−σ') on x0 and a total noise variance σ'² when z ⟂ ε.
        let x0 = Tensor([0.5, -1.0, 2.0] as [Float], shape: [1, 3]),
            eps = Tensor([1.0, 0.25, -0.5] as [Float], shape: [1, 3])
        let (sigma, next): (Float, Float) = (0.75, 0.5)
        let x = (1 - sigma) * x0 + sigma * eps
        let out = flowStep(
            .cps(noiseLevel: 0.8), velocity: eps - x0, sample: x, sigma: sigma, sigmaNext: next,
            noise: Tensor.zeros([1, 3]))
        let s = next * sinf(0.8 * .pi / 2)
        assertClose(out.mean, (1 - next) * x0 + (next * next - s * s).squareRoot() * eps, tolerance: 1e-6)
        XCTAssertEqual(out.std, s, accuracy: 1e-7)
        XCTAssertEqual(out.logProb.toArray(Float.self), [0], accuracy: 0)
    }

    func testStochasticFlags() {
        XCTAssertTrue(FlowSampler.danceSDE(eta: 0.3).isStochastic)
        XCTAssertTrue(FlowSampler.flowSDE(noiseLevel: 0.7).isStochastic)
        XCTAssertTrue(FlowSampler.cps(noiseLevel: 0.8).isStochastic)
        XCTAssertFalse(FlowSampler.ode.isStochastic)
    }
}
