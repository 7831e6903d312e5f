import Engine
import GRPO
import TestSupport
import Foundation
import XCTest

final class AdvantagesTests: XCTestCase {
    func testPerGroupUsesUnbiasedStd() {
        let rewards = Tensor([1, 2, 3, 4, 10, 10, 10, 10] as [Float])
        let a = groupAdvantages(rewards: rewards, normalization: .perGroup(groupSize: 4)).toArray(Float.self)
        // Group 1: mean 2.5, unbiased std sqrt(5/3) = 1.29099.
        let s = Float(5.0 / 3.0).squareRoot()
        XCTAssertEqual(Array(a[0..<4]), [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], accuracy: 1e-5)
        // All-equal rewards give zero advantage, not NaN.
        XCTAssertEqual(Array(a[4..<8]), [0, 0, 0, 0])
    }

    func testBestOfNKeepsEachGroupsExtremes() {
        let advantages: [Float] = [0.5, -1, 2, 0, /* second prompt */ 3, 3, -2, 1]
        // One highest and one lowest per group; of the tied highest the earlier sample.
        XCTAssertEqual(bestOfNSubset(advantages: advantages, groupSize: 4, keep: 2), [1, 2, 4, 6])
        XCTAssertEqual(bestOfNSubset(advantages: advantages, groupSize: 4, keep: 4), Array(0..<8))
        XCTAssertEqual(bestOfNSubset(advantages: [0.1, 0.7, -0.3, 0.2, -0.9, 0.4], groupSize: 6, keep: 4), [1, 2, 4, 5])
    }

    func testClippedAtFive() {
        // One outlier among many equal values: (r − mean)/std exceeds 5 before clipping.
        var values = [Float](repeating: 0, count: 49)
        values.append(100)
        let a = groupAdvantages(rewards: Tensor(values), normalization: .perGroup(groupSize: 50)).toArray(Float.self)
        XCTAssertEqual(a.last, 5)
        XCTAssertEqual(a.max(), 5)
    }

    func testGroupMeanWithTheGatheredStd() {
        // Groups of 2 here; the std comes from every process's rewards.
        let local = Tensor([1, 3, 10, 10.5] as [Float])
        let gathered = Tensor([1, 3, 10, 10.5, 0, 4] as [Float])
        let a = groupAdvantages(
            rewards: local, normalization: .perGroupGlobalStd(groupSize: 2), globalRewards: gathered
        ).toArray(Float.self)
        let values: [Float] = [1, 3, 10, 10.5, 0, 4]
        let mean = values.reduce(0, +) / 6
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 5).squareRoot()
        // The barely-differing group gets a quarter of the first group's advantages, not the same ±0.71.
        XCTAssertEqual(a, [-1 / std, 1 / std, -0.25 / std, 0.25 / std], accuracy: 1e-5)
    }

    func testGlobalUsesGatheredStatistics() {
        let local = Tensor([1, 3] as [Float])
        let gathered = Tensor([1, 3, 5, 7] as [Float])
        let a = groupAdvantages(rewards: local, normalization: .global, globalRewards: gathered).toArray(Float.self)
        let std = Float(20.0 / 3.0).squareRoot()
        XCTAssertEqual(a, [-3 / std, -1 / std], accuracy: 1e-5)
    }
}

final class ClippedSurrogateTests: XCTestCase {
    func testRatioOneGivesMinusAdvantage() {
        let logp = Tensor([-1.0, -2.0] as [Float])
        let out = clippedPolicyLoss(
            logProb: logp, oldLogProb: logp, advantage: Tensor([0.5, -1.5] as [Float]), clipRange: 1e-4, normalizer: 2)
        XCTAssertEqual(out.loss.item(Float.self), (-0.5 + 1.5) / 2, accuracy: 1e-6)
        XCTAssertEqual(out.ratio.toArray(Float.self), [1, 1])
        XCTAssertEqual(out.clipFraction.item(Float.self), 0)
    }

    func testClippedSideHasNoGradient() {
        // Positive advantage, ratio above 1+ε: the clipped term is the max, its gradient is zero.
        let old = Tensor([0.0, 0.0] as [Float])
        let advantage = Tensor([1.0, 1.0] as [Float])
        let grad = vjp(
            { [clippedPolicyLoss(logProb: $0[0], oldLogProb: old, advantage: advantage, clipRange: 0.1).loss] },
            primals: [Tensor([0.5, 0.01] as [Float])], cotangents: [Tensor(Float(1))]
        ).gradients[0].toArray(Float.self)
        XCTAssertEqual(grad[0], 0)
        // Inside the clip range the gradient is −A·ratio.
        XCTAssertEqual(grad[1], -expf(0.01), accuracy: 1e-6)
        let out = clippedPolicyLoss(
            logProb: Tensor([0.5, 0.01] as [Float]), oldLogProb: old, advantage: advantage, clipRange: 0.1)
        XCTAssertEqual(out.clipFraction.item(Float.self), 0.5)
        XCTAssertEqual(out.approxKL.item(Float.self), 0.5 * (0.25 + 0.0001) / 2, accuracy: 1e-7)
    }
}
