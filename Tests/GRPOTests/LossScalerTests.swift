@testable import GRPO
import Engine
import XCTest

/// GradScaler's rules: start at 2^16, halve and reset the streak on a non-finite step, double after `growthInterval`
/// finite steps in a row (2000 by default).
final class LossScalerTests: XCTestCase {
    func testTheDefaultScaleDoublesAfter2000FiniteSteps() {
        let scaler = LossScaler()
        XCTAssertEqual(scaler.scale, 65536)
        XCTAssertEqual(scaler.growthInterval, 2000)
        for _ in 0..<1999 { scaler.update(foundNonFinite: false) }
        XCTAssertEqual(scaler.scale, 65536)
        XCTAssertEqual(scaler.growthTracker, 1999)
        scaler.update(foundNonFinite: false)
        XCTAssertEqual(scaler.scale, 131072)
        XCTAssertEqual(scaler.growthTracker, 0)
    }

    func testAnOverflowHalvesTheScaleAndRestartsTheStreak() {
        let scaler = LossScaler(initialScale: 1024, growthInterval: 3)
        scaler.update(foundNonFinite: false)
        scaler.update(foundNonFinite: false)
        scaler.update(foundNonFinite: true)
        XCTAssertEqual(scaler.scale, 512)
        XCTAssertEqual(scaler.growthTracker, 0)
        for _ in 0..<3 { scaler.update(foundNonFinite: false) }
        XCTAssertEqual(scaler.scale, 1024)
    }

    func testScalingAndUnscalingAreExact() {
        let scaler = LossScaler(initialScale: 0x1p20)
        let loss = Tensor(0.123_456_7 as Float)
        XCTAssertEqual(scaler.scaled(loss).item(Float.self), 0.123_456_7 * 0x1p20)
        let gradient = Tensor([3e-7, -2.5] as [Float])
        XCTAssertEqual(
            scaler.unscale(["w": gradient * scaler.scale])["w"]!.toArray(Float.self), gradient.toArray(Float.self))
    }

    /// Above a scale of 1 a non-finite window is an overflow (not counted toward the stop); at 1 or below the scaling
    /// no longer explains it, and the value's own reason (which counts) is returned. The scale halves either way.
    func testANonFiniteWindowAtScaleOneIsNoLongerAnOverflow() {
        let scaler = LossScaler(initialScale: 2)
        XCTAssertEqual(scaler.skipNonFinite(.nonFiniteGradientNorm(.infinity)), .gradientOverflow(lossScale: 2))
        XCTAssertEqual(
            scaler.skipNonFinite(.nonFiniteLoss(.nan)).description, SkippedStep.nonFiniteLoss(.nan).description)
        XCTAssertEqual(scaler.scale, 0.5)
        XCTAssertTrue(SkippedStep.nonFiniteLoss(.nan).countsTowardStop)
        XCTAssertEqual(
            SkippedStep.gradientOverflow(lossScale: 65536).description,
            "fp16 gradient overflow at loss scale 65536.0 (scale halved)")
    }
}
