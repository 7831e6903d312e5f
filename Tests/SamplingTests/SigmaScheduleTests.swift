import Sampling
import XCTest

/// DanceGRPO's τ tables (see SigmaSchedule.swift; float32 emulation of the reference's torch arithmetic).
final class SigmaScheduleTests: XCTestCase {
    func testFluxSixteenSteps() {
        let s = SigmaSchedule(steps: 16, shift: 3)
        XCTAssertEqual(s.timesteps, [1000, 978, 954, 928, 900, 868, 833, 794, 750, 700, 642, 576, 500, 409, 300, 166])
        XCTAssertEqual(s.sigmas.count, 17)
        XCTAssertEqual(s.sigmas.first, 1)
        XCTAssertEqual(s.sigmas.last, 0)
        let expected: [Float] = [
            1.0, 0.9783, 0.9545, 0.9286, 0.9, 0.8684, 0.8333, 0.7941, 0.75, 0.7, 0.6429, 0.5769, 0.5, 0.4091, 0.3,
            0.1667, 0
        ]
        for (a, b) in zip(s.sigmas, expected) { XCTAssertEqual(a, b, accuracy: 5e-5) }
    }

    func testFluxLoRATwelveStepsKeepsFloat32Rounding() {
        // float64 arithmetic would give 600 where the reference feeds the network 599.
        XCTAssertEqual(
            SigmaSchedule(steps: 12, shift: 3).timesteps, [1000, 970, 937, 900, 857, 807, 750, 681, 599, 500, 375, 214])
    }

    func testTwentyStepsShiftThree() {
        XCTAssertEqual(
            SigmaSchedule(steps: 20, shift: 3).timesteps,
            [1000, 982, 964, 944, 923, 900, 874, 847, 818, 785, 750, 710, 666, 617, 562, 500, 428, 346, 250, 136])
    }

    func testHunyuanAndSkyReelsShifts() {
        XCTAssertEqual(
            SigmaSchedule(steps: 16, shift: 5).timesteps,
            [1000, 986, 972, 955, 937, 916, 892, 865, 833, 795, 750, 694, 625, 535, 416, 250])
        XCTAssertEqual(
            SigmaSchedule(steps: 16, shift: 7).timesteps,
            [1000, 990, 980, 968, 954, 939, 921, 900, 875, 844, 807, 760, 700, 617, 500, 318])
    }

    func testShiftOneIsTheLinearGrid() {
        let s = SigmaSchedule(steps: 4, shift: 1)
        XCTAssertEqual(s.sigmas, [1, 0.75, 0.5, 0.25, 0])
        XCTAssertEqual(s.timesteps, [1000, 750, 500, 250])
    }
}
