import Engine
import NN
import TestSupport
import XCTest

/// MultiHeadAttention against diffusers' `Attention` / `FluxAttention` (and their processors written out in torch
/// for masks, grouped-query attention and rotary embeddings).
final class LayerAttentionTests: XCTestCase {
    private func tensor(_ key: String) -> Tensor { LayerFixture.tensor(key) }

    func testSelfAttentionWithRMSNormMatchesDiffusers() throws {
        let attention = try LayerFixture.load(
            "attn_self",
            into: MultiHeadAttention(
                queryDimensions: 8, heads: 2, headDimensions: 4, bias: true, qkNorm: .rmsNorm(eps: 1e-6)))
        XCTAssertEqual(
            Set(attention.namedSlots().map(\.key)),
            [
                "to_q.weight", "to_q.bias", "to_k.weight", "to_k.bias", "to_v.weight", "to_v.bias",
                "to_out.0.weight", "to_out.0.bias", "norm_q.weight", "norm_k.weight"
            ])
        assertClose(attention(tensor("attn_self.x")), tensor("attn_self.out"))
    }

    func testCrossAttentionWithKeyPaddingMask() throws {
        let attention = try LayerFixture.load(
            "attn_cross",
            into: MultiHeadAttention(
                queryDimensions: 8, contextDimensions: 6, heads: 2, headDimensions: 4, outputBias: false,
                qkNorm: .layerNorm()))
        let x = tensor("attn_cross.x"), context = tensor("attn_cross.x1")
        let expected = tensor("attn_cross.out")
        assertClose(attention(x, context: context, mask: .keyPadding(LayerFixture.mask("attn_cross.keep"))), expected)
        // Same mask given as 0/1 integers, as tokenizers return it.
        let keepInts = LayerFixture.tensor("attn_cross.keep").asType(.int32)
        assertClose(attention(x, context: context, mask: .keyPadding(keepInts)), expected)
        // Without the mask the first sample differs: the test can see the mask.
        XCTAssertGreaterThan(maxAbsDifference(attention(x, context: context), expected), 1e-3)
    }

    func testGroupedQueryAttentionWithCausalMask() throws {
        let attention = try LayerFixture.load(
            "attn_gqa",
            into: MultiHeadAttention(
                queryDimensions: 8, heads: 2, headDimensions: 4, keyValueHeads: 1))
        XCTAssertEqual(attention.toKey.weight.shape, [4, 8])
        let x = tensor("attn_gqa.x")
        assertClose(attention(x, mask: .causal), tensor("attn_gqa.out"))
        let lowerTriangle = Tensor.tri(4, dtype: .bool)
        assertClose(attention(x, mask: .boolean(lowerTriangle)), tensor("attn_gqa.out"))
    }

    func testBooleanAndAdditiveMasks() throws {
        let attention = try LayerFixture.load(
            "attn_masks",
            into: MultiHeadAttention(
                queryDimensions: 8, heads: 2, headDimensions: 4, bias: true))
        let x = tensor("attn_masks.x"), context = tensor("attn_masks.x1")
        assertClose(
            attention(x, context: context, mask: .boolean(LayerFixture.mask("attn_masks.allowed"))),
            tensor("attn_masks.out0"))
        assertClose(
            attention(x, context: context, mask: .additive(tensor("attn_masks.additive"))),
            tensor("attn_masks.out1"))
    }

    /// Rotary tables as diffusers builds them, the engine's fused kernel on positions 3…8, and the table builder
    /// must all give diffusers' result, for both feature pairings.
    func testRotaryEmbeddingInBothLayouts() throws {
        for (name, layout) in [("interleaved", RotaryLayout.interleaved), ("halves", .halves)] {
            let attention = try LayerFixture.load(
                "attn_rope_\(name)",
                into: MultiHeadAttention(
                    queryDimensions: 8, heads: 2, headDimensions: 4, qkNorm: .rmsNorm(eps: 1e-6)))
            let x = tensor("attn_rope_\(name).x"), expected = tensor("attn_rope_\(name).out")
            let cos = tensor("attn_rope_\(name).cos"), sin = tensor("attn_rope_\(name).sin")
            assertClose(attention(x, rotary: .tables(cos: cos, sin: sin, layout: layout)), expected, name)
            assertClose(attention(x, rotary: .positions(offset: 3, layout: layout)), expected, name)
            let built = RotaryEmbedding.tables(positions: Tensor.arange(3, 9), dimensions: 4, layout: layout)
            guard case let .tables(builtCos, builtSin, _) = built else { return XCTFail("tables expected") }
            assertClose(builtCos, cos, name)
            assertClose(builtSin, sin, name)
            // Per-sample tables [B, L, D] broadcast over heads.
            let batched = RotaryEmbedding.tables(cos: stacked([cos, cos]), sin: stacked([sin, sin]), layout: layout)
            assertClose(attention(x, rotary: batched), expected, name)
            XCTAssertGreaterThan(maxAbsDifference(attention(x), expected), 1e-3, "rotary must matter")
        }
    }

    func testFluxJointAttention() throws {
        let attention = try LayerFixture.load(
            "attn_joint",
            into: MultiHeadAttention(
                queryDimensions: 8, heads: 2, headDimensions: 4, qkNorm: .rmsNorm(eps: 1e-6), addedContextDimensions: 6)
        )
        let rotary = RotaryEmbedding.tables(
            cos: tensor("attn_joint.cos"), sin: tensor("attn_joint.sin"),
            layout: .interleaved)
        let (image, text) = attention.joint(tensor("attn_joint.x"), context: tensor("attn_joint.x1"), rotary: rotary)
        assertClose(image, tensor("attn_joint.out0"))
        assertClose(text, tensor("attn_joint.out1"))
    }

    func testFluxSingleStreamAttentionHasNoOutputProjection() throws {
        let attention = try LayerFixture.load(
            "attn_preonly",
            into: MultiHeadAttention(
                queryDimensions: 8, heads: 2, headDimensions: 4, qkNorm: .rmsNorm(eps: 1e-6), preOnly: true))
        XCTAssertNil(attention.toOut)
        let rotary = RotaryEmbedding.tables(
            cos: tensor("attn_preonly.cos"), sin: tensor("attn_preonly.sin"),
            layout: .interleaved)
        assertClose(attention(tensor("attn_preonly.x"), rotary: rotary), tensor("attn_preonly.out"))
    }

    func testAttentionIsDifferentiable() {
        let attention = MultiHeadAttention(
            queryDimensions: 8, heads: 2, headDimensions: 4, qkNorm: .rmsNorm(),
            key: RandomKey(seed: 3))
        let x = Random.normal([1, 3, 8], key: RandomKey(seed: 4))
        let (_, gradients) = valueAndGrad(model: attention) {
            [attention(x, rotary: .positions(layout: .halves)).square().sum()]
        }
        XCTAssertEqual(Set(gradients.keys), Set(attention.trainableParameters().map(\.key)))
        for (key, g) in gradients { XCTAssertGreaterThan(g.abs().max().item(Float.self), 0, key) }
    }

    /// The fused rotary kernel against `RotaryEmbedding`'s composition on the transposed tensor, both layouts, shared
    /// and per-sample tables, values and gradients (the transposed rotation), and tables whose pair angles differ.
    func testRotaryEmbeddingOnSequenceMajorTensors() {
        let keys = RandomKey(seed: 23).split(into: 4)
        let x = Random.normal([2, 6, 3, 8], key: keys[0])
        let heads = { (t: Tensor) in t.transposed([0, 2, 1, 3]) }
        let cotangent = Random.normal([2, 6, 3, 8], key: keys[1])
        for tables in [[6, 8], [2, 6, 8]] {
            // Unrelated angles per feature: a kernel that assumed each pair shares its angle would be caught.
            let (c, s) = (Random.normal(tables, key: keys[2]), Random.normal(tables, key: keys[3]))
            for layout in [RotaryLayout.interleaved, .halves] {
                let rotary = RotaryEmbedding.tables(cos: c, sin: s, layout: layout)
                let reference = heads(rotary(heads(x)))
                XCTAssertLessThanOrEqual(maxDifference(rotary.sequenceMajor(x), reference), 1e-6, "\(tables) \(layout)")
                let g1 = valueAndGrad { [(rotary.sequenceMajor($0[0]) * cotangent).sum()] }([x]).gradients[0]
                let g2 = valueAndGrad { [(heads(rotary(heads($0[0]))) * cotangent).sum()] }([x]).gradients[0]
                XCTAssertLessThanOrEqual(maxDifference(g1, g2), 1e-5, "\(tables) \(layout)")
            }
        }
        let positions = RotaryEmbedding.positions(layout: .interleaved)
        XCTAssertLessThanOrEqual(maxDifference(positions.sequenceMajor(x), heads(positions(heads(x)))), 1e-6)
    }

    private func maxDifference(_ a: Tensor, _ b: Tensor) -> Float { (a - b).abs().max().item(Float.self) }
}
