import Engine
import Foundation
import TestSupport
import XCTest

/// MLX's fused kernels (normalisation, rotary embedding, attention) against PyTorch and hand-written references.
final class OpsFastTests: XCTestCase {
    func testLayerNorm() throws {
        let x = try golden("norm.x"), w = try golden("norm.w"), b = try golden("norm.b")
        assertClose(
            layerNorm(x, weight: w, bias: b, eps: 1e-5), try golden("norm.layer_affine"), tolerance: 1e-5,
            "weight and bias")
        assertClose(
            layerNorm(x, weight: nil, bias: nil, eps: 1e-5), try golden("norm.layer_plain"), tolerance: 1e-5,
            "no affine")
        assertClose(
            layerNorm(x, weight: w, bias: nil, eps: 1e-5), try golden("norm.layer_weight_only"),
            tolerance: 1e-5, "weight only")
    }

    func testRMSNorm() throws {
        let x = try golden("norm.x"), w = try golden("norm.w")
        assertClose(rmsNorm(x, weight: w, eps: 1e-6), try golden("norm.rms_weight"), tolerance: 1e-5, "with weight")
        assertClose(rmsNorm(x, weight: nil, eps: 1e-6), try golden("norm.rms_plain"), tolerance: 1e-5, "no weight")
    }

    func testRopeTraditionalAndHalfSplit() throws {
        let x = try golden("rope.x")
        assertClose(rope(x, dimensions: 8, traditional: true), try golden("rope.trad"), tolerance: 1e-5, "traditional")
        assertClose(rope(x, dimensions: 8, traditional: false), try golden("rope.half"), tolerance: 1e-5, "half split")
        // The two conventions pair different features, so they must not agree.
        XCTAssertGreaterThan(maxAbsDifference(try golden("rope.trad"), try golden("rope.half")), 0.1)
    }

    func testRopePartialDimensionsBaseScaleAndOffset() throws {
        let x = try golden("rope.x")
        assertClose(
            rope(x, dimensions: 4, traditional: false, base: 500, scale: 0.5, offset: 3),
            try golden("rope.half_partial"), tolerance: 1e-5, "half split, 4 of 8 features")
        assertClose(
            rope(x, dimensions: 6, traditional: true, base: 10_000, scale: 2, offset: 7),
            try golden("rope.trad_partial"), tolerance: 1e-5, "traditional, 6 of 8 features")
        // Features past `dimensions` pass through untouched.
        let partial = rope(x, dimensions: 4, traditional: false, base: 500, scale: 0.5, offset: 3)
        assertClose(partial[.ellipsis, 4...], x[.ellipsis, 4...], tolerance: 0, "unrotated tail")
    }

    func testRopeWithExplicitFrequencies() throws {
        let x = try golden("rope.x")
        assertClose(
            rope(x, dimensions: 8, traditional: false, offset: 2, frequencies: try golden("rope.freqs")),
            try golden("rope.half_freqs"), tolerance: 1e-5, "frequencies")
    }

    private func attentionInputs() throws -> (Tensor, Tensor, Tensor) {
        (try golden("sdpa.q"), try golden("sdpa.k"), try golden("sdpa.v"))
    }

    func testAttentionWithoutMaskWithGroupedHeads() throws {
        let (q, k, v) = try attentionInputs()
        // Four query heads share two key/value heads.
        XCTAssertEqual(q.shape, [2, 4, 3, 8])
        XCTAssertEqual(k.shape, [2, 2, 5, 8])
        let out = scaledDotProductAttention(queries: q, keys: k, values: v, scale: 1 / Float(8).squareRoot())
        assertClose(out, try golden("sdpa.none"), tolerance: 1e-5, "no mask")
    }

    func testAttentionCausalAlignsToTheLastKeys() throws {
        let (q, k, v) = try attentionInputs()
        let out = scaledDotProductAttention(
            queries: q, keys: k, values: v, scale: 1 / Float(8).squareRoot(),
            mask: .causal)
        assertClose(out, try golden("sdpa.causal"), tolerance: 1e-5, "causal")
    }

    func testAttentionWithAdditiveMask() throws {
        let (q, k, v) = try attentionInputs()
        let out = scaledDotProductAttention(
            queries: q, keys: k, values: v, scale: 0.3,
            mask: .array(try golden("sdpa.float_mask")))
        assertClose(out, try golden("sdpa.float"), tolerance: 1e-5, "additive mask")
    }

    func testAttentionWithBooleanMask() throws {
        let (q, k, v) = try attentionInputs()
        let mask = try golden("sdpa.bool_mask") .> 0.5  // stored as 0/1 floats
        XCTAssertEqual(mask.dtype, .bool)
        let out = scaledDotProductAttention(
            queries: q, keys: k, values: v, scale: 1 / Float(8).squareRoot(),
            mask: .array(mask))
        assertClose(out, try golden("sdpa.bool"), tolerance: 1e-5, "boolean mask")
    }

    func testAttentionMatchesTheComposedFormula() throws {
        // Same heads for queries and keys, so the plain formula applies without regrouping.
        let q = try golden("sdpa.q")[.all, 0..<2], k = try golden("sdpa.k"), v = try golden("sdpa.v")
        let scores = q.matmul(k.T) * 0.25
        let expected = softmax(scores, axis: -1).matmul(v)
        assertClose(scaledDotProductAttention(queries: q, keys: k, values: v, scale: 0.25), expected, tolerance: 1e-5)
    }
}
