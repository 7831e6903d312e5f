import Engine
import Foundation
import TestSupport
import XCTest

/// Random sampling with explicit keys: determinism, key splitting, and rough distribution checks.
final class OpsRandomTests: XCTestCase {
    func testSameKeyGivesTheSameNumbers() {
        let a = Random.normal([64], key: RandomKey(seed: 42))
        let b = Random.normal([64], key: RandomKey(seed: 42))
        XCTAssertEqual(a.toArray(Float.self), b.toArray(Float.self))
        XCTAssertEqual(
            Random.uniform([16], key: RandomKey(seed: 7)).toArray(Float.self),
            Random.uniform([16], key: RandomKey(seed: 7)).toArray(Float.self))
        XCTAssertEqual(
            Random.bits([8], key: RandomKey(seed: 7)).toArray(UInt32.self),
            Random.bits([8], key: RandomKey(seed: 7)).toArray(UInt32.self))
    }

    func testDifferentSeedsGiveDifferentNumbers() {
        let a = Random.normal([64], key: RandomKey(seed: 1)).toArray(Float.self)
        let b = Random.normal([64], key: RandomKey(seed: 2)).toArray(Float.self)
        XCTAssertNotEqual(a, b)
    }

    func testSplitKeysDifferFromEachOtherAndTheParent() {
        let parent = RandomKey(seed: 3)
        let keys = parent.split(into: 3)
        XCTAssertEqual(keys.count, 3)
        let words = keys.map { $0.tensor.toArray(UInt32.self) }
        XCTAssertEqual(Set(words.map { "\($0)" }).count, 3, "split keys must be distinct: \(words)")
        XCTAssertFalse(words.contains(parent.tensor.toArray(UInt32.self)))
        let samples = keys.map { Random.normal([32], key: $0).toArray(Float.self) }
        XCTAssertNotEqual(samples[0], samples[1])
        XCTAssertNotEqual(samples[1], samples[2])
        XCTAssertNotEqual(samples[0], Random.normal([32], key: parent).toArray(Float.self))
        // Splitting is itself deterministic.
        XCTAssertEqual(parent.split(into: 3).map { $0.tensor.toArray(UInt32.self) }, words)
        let (now, later) = parent.split()
        XCTAssertEqual(now.tensor.toArray(UInt32.self), parent.split(into: 2)[0].tensor.toArray(UInt32.self))
        XCTAssertNotEqual(now.tensor.toArray(UInt32.self), later.tensor.toArray(UInt32.self))
    }

    func testKeyRoundTripsThroughItsTensor() {
        let key = RandomKey(seed: 11)
        let restored = RandomKey(tensor: Tensor(key.tensor.toArray(UInt32.self)))
        XCTAssertEqual(
            Random.normal([8], key: key).toArray(Float.self), Random.normal([8], key: restored).toArray(Float.self))
    }

    func testNormalHasRoughlyZeroMeanAndUnitStd() {
        let x = Random.normal([10_000], key: RandomKey(seed: 5))
        // Standard error of the mean is 0.01 and of the std about 0.007; these bounds are ~5 of them.
        XCTAssertEqual(x.mean().item(Float.self), 0, accuracy: 0.05)
        XCTAssertEqual(x.std().item(Float.self), 1, accuracy: 0.035)
        // About 68% within one standard deviation.
        let inside = (x.abs() .< 1).asType(.float32).mean().item(Float.self)
        XCTAssertEqual(inside, 0.6827, accuracy: 0.025)
    }

    func testUniformStaysInRange() {
        let u = Random.uniform([10_000], key: RandomKey(seed: 6))
        XCTAssertGreaterThanOrEqual(u.min().item(Float.self), 0)
        XCTAssertLessThan(u.max().item(Float.self), 1)
        XCTAssertEqual(u.mean().item(Float.self), 0.5, accuracy: 0.015)
        let v = Random.uniform([10_000], low: -3, high: 2, key: RandomKey(seed: 6))
        XCTAssertGreaterThanOrEqual(v.min().item(Float.self), -3)
        XCTAssertLessThan(v.max().item(Float.self), 2)
        XCTAssertEqual(v.mean().item(Float.self), -0.5, accuracy: 0.08)
    }

    func testPermutationContainsEveryIndexOnce() {
        let p = Random.permutation(50, key: RandomKey(seed: 8)).asType(.int32).toArray(Int32.self)
        XCTAssertEqual(p.sorted(), (0..<50).map(Int32.init))
        XCTAssertNotEqual(p, (0..<50).map(Int32.init), "a 50-element permutation is almost surely not the identity")
    }

    func testCategoricalFrequenciesFollowTheProbabilities() {
        let probabilities: [Float] = [0.2, 0.3, 0.5]
        let logits = Tensor(probabilities).log().broadcast(to: [10_000, 3])
        let samples = Random.categorical(logits: logits, key: RandomKey(seed: 9)).asType(.int32).toArray(Int32.self)
        XCTAssertEqual(samples.count, 10_000)
        for (category, p) in probabilities.enumerated() {
            let frequency = Float(samples.filter { $0 == Int32(category) }.count) / 10_000
            XCTAssertEqual(frequency, p, accuracy: 0.025, "category \(category)")
        }
    }
}
