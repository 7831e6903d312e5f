import Engine
import XCTest

/// The fused tanh-GELU node (one primitive with its own CPU kernel and gradient) against the same formula composed
/// from MLX's element-wise ops, on the inputs that exercise its kernel: both tails, strided and broadcast views, a
/// broadcast cotangent, and dtypes that must take the composed path.
final class FusedActivationTests: XCTestCase {
    private func composedAndFusedDifference(_ x: Tensor) -> Float {
        (geluApproximate(x) - geluApproximateComposed(x)).abs().max().item(Float.self)
    }

    func testValuesMatchTheComposedFormulaOverBothTails() {
        let x = Tensor.linspace(-30, 30, count: 60_001)
        XCTAssertLessThanOrEqual(composedAndFusedDifference(x), 4e-6)  // |x| ≤ 30: ≤ 1e-7 relative to the output
        let small = Tensor.linspace(-1e-3, 1e-3, count: 2001)
        XCTAssertLessThanOrEqual(composedAndFusedDifference(small), 1e-9)
        XCTAssertEqual(geluApproximate(Tensor([-100, 0, 100] as [Float])).toArray(Float.self), [0, 0, 100])
    }

    func testStridedAndBroadcastInputs() {
        let base = Random.normal([7, 5], key: RandomKey(seed: 3)) * 3
        XCTAssertLessThanOrEqual(composedAndFusedDifference(base.transposed()), 1e-6)
        XCTAssertLessThanOrEqual(composedAndFusedDifference(base[1..<4]), 1e-6)
        XCTAssertLessThanOrEqual(composedAndFusedDifference(Tensor([0.5, -2] as [Float]).broadcast(to: [3, 2])), 1e-6)
        XCTAssertEqual(geluApproximate(base.transposed()).shape, [5, 7])
    }

    func testGradientMatchesTheComposedFormula() {
        let x = Random.normal([6, 9], key: RandomKey(seed: 4)) * 4
        let weights = Random.normal([9], key: RandomKey(seed: 5))  // broadcast cotangent rows
        func gradient(_ f: @escaping (Tensor) -> Tensor) -> Tensor {
            valueAndGrad { [(f($0[0]) * weights).sum()] }([x]).gradients[0]
        }
        let fused = gradient(geluApproximate), composed = gradient(geluApproximateComposed)
        XCTAssertLessThanOrEqual((fused - composed).abs().max().item(Float.self), 2e-6)
        // Through a strided view as well.
        let viaTranspose = valueAndGrad { [(geluApproximate($0[0].transposed()) * weights.reshaped([9, 1])).sum()] }([x]).gradients[0]
        XCTAssertLessThanOrEqual((viaTranspose - composed).abs().max().item(Float.self), 2e-6)
    }

    func testOtherDTypesKeepTheirDType() {
        let x = (Random.normal([4, 4], key: RandomKey(seed: 6)) * 2).asType(.bfloat16)
        let y = geluApproximate(x)
        XCTAssertEqual(y.dtype, .bfloat16)
        let reference = geluApproximateComposed(x.asType(.float32))
        XCTAssertLessThanOrEqual((y.asType(.float32) - reference).abs().max().item(Float.self), 0.05)
    }
}
