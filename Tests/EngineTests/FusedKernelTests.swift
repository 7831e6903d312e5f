import Engine
import XCTest

/// The fused CPU kernels (FusedKernels.cpp) against the same formulas composed from MLX's own ops: the tanh-GELU and
/// SiLU nodes (both tails, strided and broadcast views, a broadcast cotangent, dtypes that must take the composed path)
/// and the attention softmax inside `scaledDotProductAttention` (values and gradients, additive and −∞ masks,
/// grouped heads).
final class FusedKernelTests: XCTestCase {
    /// Each fused activation with the MLX composition it replaces.
    private let activations: [(name: String, fused: (Tensor) -> Tensor, composed: (Tensor) -> Tensor)] = [
        ("gelu_tanh", geluApproximate, geluApproximateComposed),
        ("silu", silu, siluComposed),
        ("gelu_erf", gelu, geluComposed),
        ("quick_gelu", quickGelu, quickGeluComposed)
    ]

    private func difference(_ a: Tensor, _ b: Tensor) -> Float { (a - b).abs().max().item(Float.self) }

    func testValuesMatchTheComposedFormulaOverBothTails() {
        let x = Tensor.linspace(-30, 30, count: 60_001)
        let small = Tensor.linspace(-1e-3, 1e-3, count: 2001)
        for (name, fused, composed) in activations {
            // |x| ≤ 30: ≤ 1e-7 of the output
            XCTAssertLessThanOrEqual(difference(fused(x), composed(x)), 4e-6, name)
            XCTAssertLessThanOrEqual(difference(fused(small), composed(small)), 1e-9, name)
            for (value, expected) in zip(
                fused(Tensor([-100, 0, 100] as [Float])).toArray(Float.self), [Float(0), 0, 100])
            {
                XCTAssertEqual(value, expected, accuracy: 1e-30, name)
            }
        }
    }

    func testStridedAndBroadcastInputs() {
        let base = Random.normal([7, 5], key: RandomKey(seed: 3)) * 3
        for (name, fused, composed) in activations {
            for view in [base.transposed(), base[1..<4], Tensor([0.5, -2] as [Float]).broadcast(to: [3, 2])] {
                XCTAssertLessThanOrEqual(difference(fused(view), composed(view)), 1e-6, name)
            }
            XCTAssertEqual(fused(base.transposed()).shape, [5, 7], name)
        }
    }

    func testGradientMatchesTheComposedFormula() {
        let x = Random.normal([6, 9], key: RandomKey(seed: 4)) * 4
        let weights = Random.normal([9], key: RandomKey(seed: 5))  // broadcast cotangent rows
        for (name, fused, composed) in activations {
            func gradient(_ f: @escaping (Tensor) -> Tensor) -> Tensor {
                valueAndGrad { [(f($0[0]) * weights).sum()] }([x]).gradients[0]
            }
            let expected = gradient(composed)
            XCTAssertLessThanOrEqual(difference(gradient(fused), expected), 2e-6, name)
            // Through a strided view as well.
            let viaTranspose = valueAndGrad { [(fused($0[0].transposed()) * weights.reshaped([9, 1])).sum()] }([x])
                .gradients[0]
            XCTAssertLessThanOrEqual(difference(viaTranspose.transposed(), expected.transposed()), 2e-6, name)
        }
    }

    func testOtherDTypesKeepTheirDType() {
        let x = (Random.normal([4, 4], key: RandomKey(seed: 6)) * 2).asType(.bfloat16)
        for (name, fused, composed) in activations {
            let y = fused(x)
            XCTAssertEqual(y.dtype, .bfloat16, name)
            XCTAssertLessThanOrEqual(difference(y.asType(.float32), composed(x.asType(.float32))), 0.05, name)
        }
    }

    /// softmax(q kᵀ · scale + mask) v written out with MLX's softmax.
    private func referenceAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float, mask: Tensor? = nil) -> Tensor
    {
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
            let fused = scaledDotProductAttention(
                queries: q, keys: k, values: v, scale: 0.35, mask: mask.map { .array($0) } ?? .none)
            let reference = referenceAttention(q, k, v, scale: 0.35, mask: mask)
            XCTAssertLessThanOrEqual((fused - reference).abs().max().item(Float.self), 2e-6)
            let cotangent = Random.normal(reference.shape, key: RandomKey(seed: 12))
            let g1 = valueAndGrad {
                [
                    (scaledDotProductAttention(
                        queries: $0[0], keys: $0[1], values: $0[2], scale: 0.35,
                        mask: mask.map { .array($0) } ?? .none) * cotangent).sum()
                ]
            }([q, k, v]).gradients
            let g2 = valueAndGrad {
                [(self.referenceAttention($0[0], $0[1], $0[2], scale: 0.35, mask: mask) * cotangent).sum()]
            }([q, k, v]).gradients
            for (a, b) in zip(g1, g2) { XCTAssertLessThanOrEqual((a - b).abs().max().item(Float.self), 1e-5) }
        }
    }

    func testMinusInfinityMaskGivesNoWeight() {
        let q = Random.normal([1, 1, 2, 4], key: RandomKey(seed: 13)),
            k = Random.normal([1, 1, 3, 4], key: RandomKey(seed: 14))
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
        let expanded = { (t: Tensor) in
            t.reshaped([1, 2, 1, 1003, 16]).broadcast(to: [1, 2, 2, 1003, 16]).reshaped([1, 4, 1003, 16])
        }
        XCTAssertLessThanOrEqual(
            (out - referenceAttention(q, expanded(k), expanded(v), scale: 0.25)).abs().max().item(Float.self), 2e-6)
        let sameHeads = scaledDotProductAttention(queries: q, keys: expanded(k), values: expanded(v), scale: 0.25)
        XCTAssertLessThanOrEqual((sameHeads - out).abs().max().item(Float.self), 2e-6)
    }

    // MARK: - Heads after the sequence ([B, L, H, D])

    /// `sequenceMajorAttention` against the formula on the transposed tensors: values and the gradients of q, k, v,
    /// with no mask, an additive mask broadcast over heads, and a per-head one; a boolean mask takes the transposing
    /// path.
    func testSequenceMajorAttentionMatchesTheTransposedFormula() {
        let keys = RandomKey(seed: 21).split(into: 5)
        let q = Random.normal([2, 5, 3, 8], key: keys[0]) * 2, k = Random.normal([2, 7, 3, 8], key: keys[1]) * 2
        let v = Random.normal([2, 7, 3, 8], key: keys[2])
        let heads = { (t: Tensor) in t.transposed([0, 2, 1, 3]) }
        for mask in [nil, Random.normal([1, 1, 5, 7], key: keys[3]), Random.normal([2, 3, 5, 7], key: keys[4])] {
            let attentionMask: AttentionMask = mask.map { .array($0) } ?? .none
            let fused = sequenceMajorAttention(queries: q, keys: k, values: v, scale: 0.35, mask: attentionMask)
            let reference = heads(referenceAttention(heads(q), heads(k), heads(v), scale: 0.35, mask: mask))
            XCTAssertEqual(fused.shape, [2, 5, 3, 8])
            XCTAssertLessThanOrEqual(difference(fused, reference), 2e-6)
            let cotangent = Random.normal(reference.shape, key: RandomKey(seed: 22))
            let g1 = valueAndGrad {
                [
                    (sequenceMajorAttention(
                        queries: $0[0], keys: $0[1], values: $0[2], scale: 0.35,
                        mask: attentionMask) * cotangent).sum()
                ]
            }([q, k, v]).gradients
            let g2 = valueAndGrad {
                [
                    (heads(
                        self.referenceAttention(
                            heads($0[0]), heads($0[1]), heads($0[2]), scale: 0.35,
                            mask: mask)) * cotangent).sum()
                ]
            }([q, k, v]).gradients
            for (a, b) in zip(g1, g2) { XCTAssertLessThanOrEqual(difference(a, b), 1e-5) }
        }
        let allowed = Random.uniform([2, 1, 1, 7], key: keys[3]) .> Tensor(0.3)
        let viaTransposes = sequenceMajorAttention(queries: q, keys: k, values: v, scale: 0.35, mask: .array(allowed))
        let expected = heads(
            scaledDotProductAttention(
                queries: heads(q), keys: heads(k), values: heads(v), scale: 0.35, mask: .array(allowed)))
        XCTAssertLessThanOrEqual(difference(viaTransposes, expected), 2e-6)
    }

    /// LayerNorm and RMSNorm written out from MLX ops (what MLX's CPU back end composes them from).
    private func composedNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float, centred: Bool) -> Tensor {
        let centre = centred ? x.mean(axis: -1, keepDims: true) : Tensor.zeros([1])
        let deviation = x - centre
        var y = deviation * (deviation.square().mean(axis: -1, keepDims: true) + eps).rsqrt()
        if let weight { y = y * weight }
        if let bias { y = y + bias }
        return y
    }

    private func fusedNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float, centred: Bool) -> Tensor {
        centred ? layerNorm(x, weight: weight, bias: bias, eps: eps) : rmsNorm(x, weight: weight, eps: eps)
    }

    func testNormsMatchTheComposedFormulaInValueAndGradient() {
        let keys = RandomKey(seed: 31).split(into: 5)
        // 37 columns: the eight-lane loops and their tails; an offset mean so that centring matters.
        let x = Random.normal([3, 4, 37], key: keys[0]) * 3 + 2
        let weight = Random.normal([37], key: keys[1]), bias = Random.normal([37], key: keys[2])
        let cotangent = Random.normal([3, 4, 37], key: keys[3])
        for centred in [true, false] {
            for (w, b) in [(nil, nil), (weight, nil), (weight, centred ? bias : nil)] as [(Tensor?, Tensor?)] {
                let name = "\(centred ? "layer" : "rms") norm, weight \(w != nil), bias \(b != nil)"
                let fused = fusedNorm(x, weight: w, bias: b, eps: 1e-6, centred: centred)
                let composed = composedNorm(x, weight: w, bias: b, eps: 1e-6, centred: centred)
                XCTAssertEqual(fused.shape, x.shape, name)
                XCTAssertLessThanOrEqual(difference(fused, composed), 2e-6, name)
                var inputs = [x]
                if let w { inputs.append(w) }
                if let b { inputs.append(b) }
                func gradients(_ norm: @escaping (Tensor, Tensor?, Tensor?) -> Tensor) -> [Tensor] {
                    valueAndGrad { p in
                        [(norm(p[0], w == nil ? nil : p[1], b == nil ? nil : p[2]) * cotangent).sum()]
                    }(inputs).gradients
                }
                let expected = gradients { self.composedNorm($0, weight: $1, bias: $2, eps: 1e-6, centred: centred) }
                let actual = gradients { self.fusedNorm($0, weight: $1, bias: $2, eps: 1e-6, centred: centred) }
                for (a, e) in zip(actual, expected) { XCTAssertLessThanOrEqual(difference(a, e), 2e-5, name) }
            }
        }
    }

    func testNormsOfStridedInputsAndLargeEpsilon() {
        let x = Random.normal([9, 6], key: RandomKey(seed: 32)) * 0.01
        for centred in [true, false] {
            // A transposed view is copied to rows first; eps 1 dominates the tiny variance.
            for view in [x.transposed(), x[2..<7]] {
                let fused = fusedNorm(view, weight: nil, bias: nil, eps: 1, centred: centred)
                let composed = composedNorm(view, weight: nil, bias: nil, eps: 1, centred: centred)
                XCTAssertLessThanOrEqual(difference(fused, composed), 1e-7)
            }
            // A constant row: centring leaves zeros, and the gradient stays finite.
            let constant = Tensor.full([2, 8], 5)
            let g = valueAndGrad {
                [(self.fusedNorm($0[0], weight: nil, bias: nil, eps: 1e-5, centred: centred)).sum()]
            }(
                [constant]
            ).gradients[0]
            XCTAssertTrue(g.abs().max().item(Float.self).isFinite)
        }
    }

    func testNormsOfOtherDTypesKeepTheirDType() {
        let x = (Random.normal([4, 16], key: RandomKey(seed: 33)) * 2).asType(.bfloat16)
        let weight = Tensor.ones([16]).asType(.bfloat16)
        for centred in [true, false] {
            let y = fusedNorm(x, weight: weight, bias: nil, eps: 1e-6, centred: centred)
            XCTAssertEqual(y.dtype, .bfloat16)
            let reference = composedNorm(x.asType(.float32), weight: nil, bias: nil, eps: 1e-6, centred: centred)
            XCTAssertLessThanOrEqual(difference(y.asType(.float32), reference), 0.05)
        }
    }
}
