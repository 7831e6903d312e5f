import Foundation
import Sampling
import GRPO
import TestSupport
import XCTest

final class MixGRPOWindowTests: XCTestCase {
    /// MixGRPO's progressive schedule (grpo_states.py), replayed by hand for T = 10 (max_timesteps = 8), window 4,
    /// iters_per_group 3: without overlap the window starts at 0, 4, 8 (empty: 8..<8) and stays there.
    func testProgressiveWithoutOverlap() {
        let w = MixGRPOWindow(steps: 10, windowSize: 4, itersPerShift: 3)
        XCTAssertEqual(w.stride, 4)
        let expected: [Range<Int>] = [0..<4, 0..<4, 0..<4, 4..<8, 4..<8, 4..<8, 8..<8, 8..<8, 8..<8, 8..<8]
        XCTAssertEqual((0..<10).map { w.window(iteration: $0) }, expected)
        XCTAssertEqual(
            w.plan(iteration: 4).map(\.isStochastic), [false, false, false, false, true, true, true, true, false, false]
        )
        XCTAssertEqual(w.plan(iteration: 4)[5], .flowSDE(noiseLevel: 0.7))
        XCTAssertTrue(w.plan(iteration: 100).allSatisfy { !$0.isStochastic })
    }

    /// With `--prog_overlap --prog_overlap_step 1` the window slides one step per shift and is cut at T − 2.
    func testOverlapStrideAndRollBack() {
        let w = MixGRPOWindow(steps: 8, windowSize: 3, stride: 1, itersPerShift: 2, sampler: .cps(noiseLevel: 0.8))
        // maxStep 6: starts 0,0,1,1,2,2,3,3,4,4,5,5,6,6,6…
        XCTAssertEqual(w.window(iteration: 0), 0..<3)
        XCTAssertEqual(w.window(iteration: 7), 3..<6)
        XCTAssertEqual(w.window(iteration: 9), 4..<6)
        XCTAssertEqual(w.window(iteration: 11), 5..<6)
        XCTAssertEqual(w.window(iteration: 13), 6..<6)
        XCTAssertEqual(w.window(iteration: 50), 6..<6)
        var r = w
        r.rollBack = true
        // Starts cycle 0…6 (7 shifts), then restart at 0.
        XCTAssertEqual((0..<8).map { r.start(iteration: 2 * $0) }, [0, 1, 2, 3, 4, 5, 6, 0])
        // A stride that does not divide max: 0, 4, then back to 0 (8 > 6).
        let big = MixGRPOWindow(steps: 8, windowSize: 2, stride: 4, itersPerShift: 1, rollBack: true)
        XCTAssertEqual((0..<5).map { big.start(iteration: $0) }, [0, 4, 0, 4, 0])
    }

    /// `itersPerShift` 0: the window stays on the first steps for every iteration (and is cut at T − 2 like any
    /// other).
    func testAFixedWindowNeverMoves() {
        let w = MixGRPOWindow(steps: 12, windowSize: 5, itersPerShift: 0, sampler: .cps(noiseLevel: 0.5))
        for k in [0, 1, 24, 25, 10_000] {
            XCTAssertEqual(w.window(iteration: k), 0..<5)
            XCTAssertEqual(w.plan(iteration: k).map(\.isStochastic), (0..<12).map { $0 < 5 })
        }
        XCTAssertEqual(MixGRPOWindow(steps: 6, windowSize: 5, itersPerShift: 0).window(iteration: 3), 0..<4)
    }

    /// The same schedule as MixGRPO's stateful class, stepped as their loop does (read, then update_iteration).
    func testMatchesTheStatefulSchedule() {
        for (steps, size, stride, iters, rollBack) in [
            (16, 4, 4, 3, false), (16, 4, 1, 2, false), (12, 3, 2, 1, true), (25, 4, 1, 25, false)
        ] {
            let w = MixGRPOWindow(
                steps: steps, windowSize: size, stride: stride, itersPerShift: iters, rollBack: rollBack)
            let maxT = steps - 2
            var current = 0, inGroup = 0
            for k in 0..<200 {
                XCTAssertEqual(
                    w.window(iteration: k), current..<max(current, min(current + size, maxT)),
                    "\(steps)/\(size)/\(stride)/\(iters) k=\(k)")
                inGroup += 1
                if inGroup >= iters { inGroup = 0; current += stride }
                if current > maxT {
                    if rollBack { current = 0; inGroup = 0 } else { current = maxT }
                }
            }
        }
    }
}

final class PerPromptStatTrackerTests: XCTestCase {
    func testAgainstAHandComputation() {
        var tracker = PerPromptStatTracker(bufferSize: 3, minCount: 2, epsilon: 1e-6)
        // Call 1: "a" has two rewards (≥ min count): its own stats; "b" has one: the batch's stats.
        let a1 = tracker.update(prompts: ["a", "b", "a"], rewards: [1, 5, 3])
        let batchMean = 3.0, batchStd = (8.0 / 3.0).squareRoot()
        XCTAssertEqual(a1[0], (1 - 2) / (1 + 1e-6), accuracy: 1e-9)
        XCTAssertEqual(a1[2], (3 - 2) / (1 + 1e-6), accuracy: 1e-9)
        XCTAssertEqual(a1[1], (5 - batchMean) / (batchStd + 1e-6), accuracy: 1e-9)
        // Call 2: "a" buffer [1, 3] + [7, 9] keeps the last 3: [3, 7, 9]; "b" [5, 4].
        let a2 = tracker.update(prompts: ["a", "a", "b"], rewards: [7, 9, 4])
        XCTAssertEqual(tracker.history["a"], [3, 7, 9])
        XCTAssertEqual(tracker.history["b"], [5, 4])
        let meanA = 19.0 / 3, stdA = ((pow(3 - meanA, 2) + pow(7 - meanA, 2) + pow(9 - meanA, 2)) / 3).squareRoot()
        XCTAssertEqual(a2[0], (7 - meanA) / (stdA + 1e-6), accuracy: 1e-9)
        XCTAssertEqual(a2[1], (9 - meanA) / (stdA + 1e-6), accuracy: 1e-9)
        XCTAssertEqual(a2[2], (4 - 4.5) / (0.5 + 1e-6), accuracy: 1e-9)
        XCTAssertEqual(tracker.summary.prompts, 2)
        XCTAssertEqual(tracker.summary.averageCount, 2.5)
        tracker.clear()
        XCTAssertTrue(tracker.history.isEmpty)
    }

    func testGlobalStdAndUnboundedBuffer() {
        var tracker = PerPromptStatTracker(epsilon: 1e-4, globalStd: true)
        _ = tracker.update(prompts: ["a", "a"], rewards: [0, 2])
        let a = tracker.update(prompts: ["a", "b"], rewards: [4, 1])
        XCTAssertEqual(tracker.history["a"], [0, 2, 4])
        // Mean over the buffer (2), std over this call's rewards [4, 1] (population: 1.5).
        XCTAssertEqual(a[0], (4 - 2) / (1.5 + 1e-4), accuracy: 1e-9)
        XCTAssertEqual(a[1], 0, accuracy: 1e-9)
    }

    func testStateRoundTrip() throws {
        var tracker = PerPromptStatTracker(bufferSize: 16, minCount: 4)
        _ = tracker.update(
            prompts: ["a red circle", "a red circle", "two blue squares"], rewards: [0.1, 0.7, 0.3333333333])
        let url = try temporaryDirectory(self).appendingPathComponent("stat_tracker.json")
        try tracker.save(to: url)
        var loaded = try PerPromptStatTracker.load(from: url)
        XCTAssertEqual(loaded, tracker)
        // Resumed and uninterrupted trackers continue identically.
        let next = (["a red circle", "two blue squares", "new"], [0.5, 0.9, 0.2])
        XCTAssertEqual(
            loaded.update(prompts: next.0, rewards: next.1), tracker.update(prompts: next.0, rewards: next.1))
    }
}
