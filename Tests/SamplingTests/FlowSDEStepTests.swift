import Engine
import Sampling
import TestSupport
import Foundation
import XCTest

/// DanceGRPO's `flux_step` (see FlowSDEStep.swift), checked against its closed forms with independent arithmetic.
final class FlowSDEStepTests: XCTestCase {
    let x = Tensor([0.5, -1.0, 2.0, 0.25, -0.75, 1.5] as [Float], shape: [2, 3])
    let v = Tensor([0.1, 0.3, -0.2, 1.0, -0.5, 0.0] as [Float], shape: [2, 3])

    func testSDEMeanMatchesTheClosedForm() {
        let (sigma, next, eta): (Float, Float, Float) = (0.6429, 0.5769, 0.3)
        let out = flowStep(
            .danceSDE(eta: eta), velocity: v, sample: x, sigma: sigma, sigmaNext: next, noise: Tensor.zeros([2, 3]))
        let d = next - sigma
        // μ = x·(1 + η²dσ/(2σ)) + v·dσ·(1 + η²(1−σ)/(2σ))
        let xs = x.toArray(Float.self), vs = v.toArray(Float.self)
        let expected = zip(xs, vs).map { xi, vi in
            xi * (1 + eta * eta * d / (2 * sigma)) + vi * d * (1 + eta * eta * (1 - sigma) / (2 * sigma))
        }
        assertClose(out.mean, Tensor(expected, shape: [2, 3]), tolerance: 1e-6)
        assertClose(out.sample, out.mean, tolerance: 0)
        assertClose(out.predictedOriginal, x - sigma * v, tolerance: 1e-6)
        XCTAssertEqual(out.std, eta * (sigma - next).squareRoot(), accuracy: 1e-7)
        // With zero noise every element sits at the mean: log p = −log s − log √(2π).
        let atMean = -logf(out.std) - 0.5 * logf(2 * .pi)
        XCTAssertEqual(out.logProb.toArray(Float.self), [atMean, atMean], accuracy: 1e-5)
    }

    func testFluxStdTableOfTheSpec() {
        let s = SigmaSchedule(steps: 16, shift: 3)
        let expected: [Float] = [
            0.0442, 0.0462, 0.0483, 0.0507, 0.0533, 0.0562, 0.0594, 0.0630, 0.0671, 0.0717, 0.0770, 0.0832, 0.0905,
            0.0991, 0.1095, 0.1225
        ]
        for i in 0..<16 {
            let out = flowStep(
                .danceSDE(eta: 0.3), velocity: v, sample: x, sigma: s.sigmas[i], sigmaNext: s.sigmas[i + 1],
                noise: Tensor.zeros([2, 3]))
            XCTAssertEqual(out.std, expected[i], accuracy: 6e-5, "step \(i)")
        }
    }

    func testScoringTheDrawnSampleReproducesItsLogProb() {
        let noise = Random.normal([2, 3], key: RandomKey(seed: 7))
        let drawn = flowStep(.danceSDE(eta: 0.3), velocity: v, sample: x, sigma: 0.9, sigmaNext: 0.8684, noise: noise)
        let scored = flowStep(
            .danceSDE(eta: 0.3), velocity: v, sample: x, sigma: 0.9, sigmaNext: 0.8684, nextSample: drawn.sample)
        assertClose(scored.logProb, drawn.logProb, tolerance: 0)
        // Per-element mean of −z²/2 − log s − log√(2π).
        let z = noise.toArray(Float.self)
        let std = drawn.std
        let expected = (0..<2).map { b in
            (0..<3).map { -z[b * 3 + $0] * z[b * 3 + $0] / 2 - logf(std) - 0.5 * logf(2 * .pi) }.reduce(0, +) / 3
        }
        XCTAssertEqual(drawn.logProb.toArray(Float.self), expected, accuracy: 1e-4)
    }

    func testLogProbGradientReachesOnlyTheMean() {
        // d(log p)/dv through μ: ∂ℓ/∂μ = (x' − μ)/s², ∂μ/∂v = dσ·(1 + η²(1−σ)/(2σ)), averaged
        // over 3 elements.
        let (sigma, next, eta): (Float, Float, Float) = (0.9, 0.8684, 0.3)
        let x = self.x
        let target = x + 0.01
        let grad = vjp(
            { inputs in
                [
                    flowStep(
                        .danceSDE(eta: eta), velocity: inputs[0], sample: x, sigma: sigma, sigmaNext: next,
                        nextSample: target
                    ).logProb.sum()
                ]
            }, primals: [v], cotangents: [Tensor(Float(1))]
        ).gradients[0]
        let mean = flowStep(
            .danceSDE(eta: eta), velocity: v, sample: x, sigma: sigma, sigmaNext: next, nextSample: target)
        let std = mean.std
        let dMeanDv = (next - sigma) * (1 + eta * eta * (1 - sigma) / (2 * sigma))
        let expected = (target - mean.mean) / (std * std) * dMeanDv / 3
        assertClose(grad, expected, tolerance: 1e-4)
    }

    func testODEStepIsEuler() {
        let out = flowStep(.ode, velocity: v, sample: x, sigma: 0.5, sigmaNext: 0.25)
        assertClose(out.sample, x - 0.25 * v, tolerance: 1e-7)
        XCTAssertEqual(out.logProb.toArray(Float.self), [0, 0])
    }
}
