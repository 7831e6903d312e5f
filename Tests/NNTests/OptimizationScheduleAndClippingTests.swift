import XCTest
import Engine
import NN
import TestSupport

/// Learning-rate schedules against diffusers' `get_*_schedule` and gradient clipping against PyTorch's
/// `clip_grad_norm_` (tools/goldens/optimizers.py).
final class OptimizationScheduleAndClippingTests: XCTestCase {
    private var golden: [String: Tensor] = [:]

    override func setUpWithError() throws { golden = try Fixture.load("optimizers.safetensors") }

    func testSchedulesMatchDiffusers() {
        let schedules: [(String, LRSchedule)] = [
            ("constant", .constant(1e-3)),
            ("constant_with_warmup", .constantWithWarmup(1e-3, warmupSteps: 5)),
            ("linear_with_warmup", .linearWithWarmup(1e-3, warmupSteps: 5, totalSteps: 20)),
            ("cosine_with_warmup", .cosineWithWarmup(1e-3, warmupSteps: 5, totalSteps: 20))
        ]
        for (name, schedule) in schedules {
            let expected = golden["schedule.\(name)"]!.toArray(Float.self)
            let actual = (0..<expected.count).map { Float(schedule.learningRate(at: $0)) }
            XCTAssertEqual(actual, expected, accuracy: 1e-9, name)
        }
    }

    func testWarmupStartsFromZeroAndZeroWarmupIsConstant() {
        let warm = LRSchedule.constantWithWarmup(2, warmupSteps: 4)
        XCTAssertEqual([0, 1, 2, 3, 4, 100].map { warm.learningRate(at: $0) }, [0, 0.5, 1, 1.5, 2, 2])
        XCTAssertEqual(LRSchedule.constantWithWarmup(2, warmupSteps: 0).learningRate(at: 0), 2)
        let linear = LRSchedule.linearWithWarmup(1, warmupSteps: 0, totalSteps: 4)
        XCTAssertEqual((0..<6).map { linear.multiplier(at: $0) }, [1, 0.75, 0.5, 0.25, 0, 0])
        let cosine = LRSchedule.cosineWithWarmup(1, warmupSteps: 2, totalSteps: 6)
        XCTAssertEqual(cosine.multiplier(at: 4), 0.5, accuracy: 1e-12)  // half-way through the half cosine
    }

    func testClippingAboveTheLimitMatchesPyTorchAndReturnsThePreClipNorm() {
        let (clipped, norm) = clip("clip_above")
        let expectedNorm = golden["clip_above.norm"]!.item(Float.self)
        XCTAssertEqual(norm, expectedNorm, accuracy: 1e-6 * expectedNorm)
        XCTAssertGreaterThan(norm, 1)
        for (key, value) in clipped {
            XCTAssertLessThanOrEqual(maxAbsDifference(value, golden["clip_above.clipped.\(key)"]!), 1e-6, key)
        }
        XCTAssertEqual(globalGradientNorm(clipped).item(Float.self), 1, accuracy: 1e-5)
    }

    func testClippingBelowTheLimitLeavesGradientsExactlyAlone() {
        let (clipped, norm) = clip("clip_below")
        let expectedNorm = golden["clip_below.norm"]!.item(Float.self)
        XCTAssertEqual(norm, expectedNorm, accuracy: 1e-6 * expectedNorm)
        for (key, value) in clipped {
            XCTAssertEqual(maxAbsDifference(value, golden["clip_below.grad.\(key)"]!), 0, key)
            XCTAssertEqual(maxAbsDifference(value, golden["clip_below.clipped.\(key)"]!), 0, key)
        }
    }

    func testClippingKeepsEachGradientsDtype() {
        let gradients = ["a": Tensor.full([4], 3, dtype: .bfloat16), "b": Tensor.full([4], 4)]
        let (clipped, norm) = clipGradientNorm(gradients, maxNorm: 1)
        XCTAssertEqual(norm, 10, accuracy: 1e-5)
        XCTAssertEqual(clipped["a"]!.dtype, .bfloat16)
        XCTAssertEqual(clipped["b"]!.dtype, .float32)
        XCTAssertEqual(clipped["b"]!.toArray(Float.self), [Float](repeating: 0.4, count: 4), accuracy: 1e-6)
        XCTAssertEqual(clipGradientNorm([:], maxNorm: 1).norm, 0)
    }

    private func clip(_ goldenCase: String) -> (clipped: [String: Tensor], norm: Float) {
        let prefix = "\(goldenCase).grad."
        let gradients = Dictionary(
            uniqueKeysWithValues: golden.filter { $0.key.hasPrefix(prefix) }.map {
                (String($0.key.dropFirst(prefix.count)), $0.value)
            })
        XCTAssertEqual(gradients.count, 3)
        return clipGradientNorm(gradients, maxNorm: golden["\(goldenCase).max_norm"]!.item(Float.self))
    }
}
