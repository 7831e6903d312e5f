import Engine
import XCTest

/// The fused CPU kernels (FusedKernels.cpp) against the same formulas composed from MLX's own ops: the tanh-GELU node
/// (both tails, strided and broadcast views, a broadcast cotangent, dtypes that must take the composed path) and the
/// attention softmax inside `scaledDotProductAttention` (values and gradients, additive and −∞ masks, grouped heads).
final class FusedKernelTests: XCTestCase {
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

    /// softmax(q kᵀ · scale + mask) v written out with MLX's softmax.
    private func referenceAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float, mask: Tensor? = nil) -> Tensor {
        var scores = (q * scale).matmul(k.transposed(0, 1, 3, 2))
        if let mask { scores = scores + mask }
        return softmax(scores, axis: -1).matmul(v)
    }

    func testAttentionValuesAndGradientsMatchTheComposedFormula() {
        let keys = RandomKey(seed: 11).split(into: 4)
        let q = Random.normal([2, 3, 5, 8], key: keys[0]) * 2, k = Random.normal([2, 3, 7, 8], key: keys[1]) * 2
        let v = Random.normal([2, 3, 7, 8], key: keys[2])
        let additive = Random.normal([1, 1, 5, 7], key: keys[3])
        for mask in [nil, additive] {
            let fused = scaledDotProductAttention(queries: q, keys: k, values: v, scale: 0.35, mask: mask.map { .array($0) } ?? .none)
            let reference = referenceAttention(q, k, v, scale: 0.35, mask: mask)
            XCTAssertLessThanOrEqual((fused - reference).abs().max().item(Float.self), 2e-6)
            let cotangent = Random.normal(reference.shape, key: RandomKey(seed: 12))
            let g1 = valueAndGrad { [(scaledDotProductAttention(queries: $0[0], keys: $0[1], values: $0[2], scale: 0.35,
                                                                 mask: mask.map { .array($0) } ?? .none) * cotangent).sum()] }([q, k, v]).gradients
            let g2 = valueAndGrad { [(self.referenceAttention($0[0], $0[1], $0[2], scale: 0.35, mask: mask) * cotangent).sum()] }([q, k, v]).gradients
            for (a, b) in zip(g1, g2) { XCTAssertLessThanOrEqual((a - b).abs().max().item(Float.self), 1e-5) }
        }
    }

    func testMinusInfinityMaskGivesNoWeight() {
        let q = Random.normal([1, 1, 2, 4], key: RandomKey(seed: 13)), k = Random.normal([1, 1, 3, 4], key: RandomKey(seed: 14))
        let v = Tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1000, 0] as [Float], shape: [1, 1, 3, 4])
        let mask = Tensor([0, 0, -Float.infinity, 0, 0, -Float.infinity] as [Float], shape: [1, 1, 2, 3])
        let out = scaledDotProductAttention(queries: q, keys: k, values: v, scale: 1, mask: .array(mask))
        XCTAssertEqual(out[.ellipsis, 2..<3].abs().max().item(Float.self), 0, "the masked key's value leaked in")
        XCTAssertEqual((out.sum(axes: [-1]) - 1).abs().max().item(Float.self), 0, accuracy: 1e-6)
    }

    func testGroupedKeyValueHeadsAndLongRows() {
        // Fewer key/value heads take MLX's kernel; 1000 keys exercise the vector loops and their remainders.
        let keys = RandomKey(seed: 15).split(into: 3)
        let q = Random.normal([1, 4, 3, 16], key: keys[0]), k = Random.normal([1, 2, 1003, 16], key: keys[1])
        let v = Random.normal([1, 2, 1003, 16], key: keys[2])
        let out = scaledDotProductAttention(queries: q, keys: k, values: v, scale: 0.25)
        let expanded = { (t: Tensor) in t.reshaped([1, 2, 1, 1003, 16]).broadcast(to: [1, 2, 2, 1003, 16]).reshaped([1, 4, 1003, 16]) }
        XCTAssertLessThanOrEqual((out - referenceAttention(q, expanded(k), expanded(v), scale: 0.25)).abs().max().item(Float.self), 2e-6)
        let sameHeads = scaledDotProductAttention(queries: q, keys: expanded(k), values: expanded(v), scale: 0.25)
        XCTAssertLessThanOrEqual((sameHeads - out).abs().max().item(Float.self), 2e-6)
    }
}
