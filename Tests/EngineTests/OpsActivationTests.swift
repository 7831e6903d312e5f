import Engine
import Foundation
import TestSupport
import XCTest

/// Softmax family and activation functions against PyTorch.
final class OpsActivationTests: XCTestCase {
    func testSoftmaxOverOneOrSeveralAxes() throws {
        let x = try golden("act.x")
        assertClose(softmax(x), try golden("act.softmax_m1"), tolerance: 1e-6, "last axis")
        assertClose(softmax(x, axis: 1), try golden("act.softmax_1"), tolerance: 1e-6, "axis 1")
        assertClose(softmax(x, axes: [1, 2]), try golden("act.softmax_12"), tolerance: 1e-6, "axes 1, 2")
        // Rows sum to one.
        assertClose(softmax(x).sum(axis: -1), Tensor.ones([2, 3]), tolerance: 1e-6, "normalised")
    }

    func testLogSoftmax() throws {
        let x = try golden("act.x")
        assertClose(logSoftmax(x), try golden("act.log_softmax"), tolerance: 1e-5, "logSoftmax")
        // Stable for large logits, where exp overflows float32.
        let big = logSoftmax(Tensor([1000, 0] as [Float])).toArray(Float.self)
        XCTAssertEqual(big[0], 0, accuracy: 1e-5)
        XCTAssertEqual(big[1], -1000, accuracy: 1e-3)
    }

    func testPreciseSoftmaxInBFloat16() throws {
        let x = try golden("cast.bf16_softmax.x")
        XCTAssertEqual(x.dtype, .bfloat16)
        let out = softmax(x, precise: true)
        XCTAssertEqual(out.dtype, .bfloat16)
        // One bfloat16 ulp near the largest probabilities (2^-8 relative).
        assertClose(out.asType(.float32), try golden("cast.bf16_softmax.out").asType(.float32), tolerance: 4e-3)
    }

    func testPointwiseActivations() throws {
        let x = try golden("act.x")
        let cases: [(String, (Tensor) -> Tensor)] = [
            ("sigmoid", sigmoid), ("silu", silu), ("gelu", gelu), ("gelu_tanh", geluApproximate),
            ("quick_gelu", quickGelu), ("relu", relu), ("leaky_relu", { leakyRelu($0, negativeSlope: 0.2) })
        ]
        for (name, op) in cases {
            assertClose(op(x), try golden("act.\(name)"), tolerance: 2e-6, name)
        }
    }

    func testExactAndTanhGeluDiffer() throws {
        // The two forms differ by up to ~1e-3 on this range; a swap of the two would go unnoticed otherwise.
        let x = try golden("act.x")
        XCTAssertGreaterThan(maxAbsDifference(try golden("act.gelu"), try golden("act.gelu_tanh")), 1e-4)
        XCTAssertGreaterThan(maxAbsDifference(gelu(x), geluApproximate(x)), 1e-4)
    }
}
