import Checkpoints
import Engine
import Foundation
@testable import Models
import NN
import TestSupport
import XCTest

/// Parity with the language model of transformers' Qwen2_5_VLForConditionalGeneration (Qwen-Image's text encoder)
/// on a tiny random config written by tools/goldens/qwen2vl_text.py: 2 layers, hidden 32, 4 heads, 2 key/value heads,
/// mrope_section [1, 1, 2].
final class Qwen2_5_VLTextModelTests: XCTestCase {
    struct Golden {
        let metadata: [String: String]
        let config: Qwen2_5_VLTextConfig
        let params: [String: Tensor]
        let tensors: [String: Tensor]
        subscript(_ key: String) -> Tensor { tensors[key]! }
    }

    static func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("qwen2vl_text.safetensors"))
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        let config = try JSONDecoder().decode(Qwen2_5_VLTextConfig.self, from: Data(file.metadata["config"]!.utf8))
        return Golden(metadata: file.metadata, config: config, params: params, tensors: all)
    }

    /// The checkpoint keys (`model.…`) as model keys, loaded strictly.
    static func loaded(_ g: Golden) throws -> Qwen2_5_VLTextModel {
        let model = Qwen2_5_VLTextModel(g.config)
        var tensors: [String: Tensor] = [:]
        for (key, value) in g.params { tensors[Qwen2_5_VLTextModel.languageModelKey(key)!] = value }
        try model.load(tensors)  // strict
        XCTAssertEqual(model.parameterCount(), g.params.values.reduce(0) { $0 + $1.count })
        return model
    }

    private func folder(_ configJSON: String, _ params: [String: Tensor]) throws -> URL {
        let folder = try temporaryDirectory(self)
        try Data(configJSON.utf8).write(to: folder.appendingPathComponent("config.json"))
        try SafeTensors.save(params, to: folder.appendingPathComponent("model.safetensors"))
        return folder
    }

    /// transformers 5's config (text_config, rope_parameters) and the transformers 4 form (top level, rope_scaling
    /// with type "mrope", rope_theta) decode to the same struct.
    func testConfigBothLayouts() throws {
        let g = try Self.golden()
        let v4 = try JSONDecoder().decode(Qwen2_5_VLTextConfig.self, from: Data(g.metadata["config_v4"]!.utf8))
        XCTAssertEqual(g.config.hiddenSize, 32)
        XCTAssertEqual(g.config.numKeyValueHeads, 2)
        XCTAssertEqual(g.config.mropeSection, [1, 1, 2])
        XCTAssertEqual(g.config.ropeTheta, 10000)
        XCTAssertEqual(g.config.rmsNormEps, 1e-6)
        XCTAssertEqual(v4.ropeType, "mrope")
        var same = v4
        same.ropeType = "default"
        XCTAssertEqual(same, g.config)
        XCTAssertEqual(g.config.problems(), [])
        XCTAssertEqual(v4.problems(), [])
        XCTAssertThrowsError(
            try JSONDecoder().decode(Qwen2_5_VLTextConfig.self, from: Data(#"{"text_config": {}}"#.utf8)))
        var bad = g.config
        bad.mropeSection = [1, 1, 1]
        bad.numKeyValueHeads = 3
        XCTAssertEqual(bad.problems().count, 2, "\(bad.problems())")
    }

    func testMatchesTransformers() throws {
        let g = try Self.golden()
        let model = try Self.loaded(g)
        let ids = g["input.input_ids"]
        let plain = model(ids)
        let masked = model(ids, attentionMask: g["input.attention_mask"])
        let mrope = model(ids, positionIDs: g["input.position_ids"])
        for (name, out, expected) in [
            ("no mask", plain, g["output.hidden_states_last"]),
            ("padding mask", masked, g["output.masked.hidden_states_last"]),
            ("3-row position ids", mrope, g["output.mrope.last_hidden_state"])
        ] {
            let scale = expected.abs().max().item(Float.self)
            let error = maxAbsDifference(out, expected)
            XCTAssertLessThanOrEqual(error, 1e-4 * max(scale, 1), name)
            print("Qwen2.5-VL text \(name): max abs error \(error), max |reference| \(scale)")
        }
        // The three rows matter: the same ids at text positions give another result.
        XCTAssertGreaterThan(maxAbsDifference(plain, g["output.mrope.last_hidden_state"]), 1e-2)
        // The mask matters for the padded rows.
        XCTAssertGreaterThan(maxAbsDifference(plain, g["output.masked.hidden_states_last"]), 1e-2)
    }

    /// Text-only positions are ordinary RoPE: the sectioned tables equal one-section tables when all rows agree.
    func testTextPositionsAreOrdinaryRoPE() {
        let sectioned = Qwen2_5_VLRotaryEmbedding(headDim: 8, theta: 10000, mropeSection: [1, 1, 2])
        let single = Qwen2_5_VLRotaryEmbedding(headDim: 8, theta: 10000, mropeSection: [4, 0, 0])
        let positions = Qwen2_5_VLRotaryEmbedding.textPositionIDs(batch: 2, length: 5)
        let (c1, s1) = sectioned.tables(positionIDs: positions)
        let (c2, s2) = single.tables(positionIDs: positions)
        XCTAssertEqual(maxAbsDifference(c1, c2), 0)
        XCTAssertEqual(maxAbsDifference(s1, s2), 0)
        // and the same as MLX's rope over the two halves
        let x = Tensor.arange(0, 2 * 5 * 3 * 8, dtype: .float32).reshaped([2, 5, 3, 8]) / 100
        let ours = rotaryEmbedding(x, cos: c1, sin: s1, interleaved: false)
        let reference = rope(x.transposed([0, 2, 1, 3]), dimensions: 8, traditional: false, base: 10000)
        XCTAssertLessThan(maxAbsDifference(ours, reference.transposed([0, 2, 1, 3])), 1e-5)
    }

    /// Folders in both key layouts (`model.…` as transformers writes it, `model.language_model.…` as its module
    /// tree names it) beside a vision tower and lm_head, sharded or not, and bfloat16.
    func testLoadsFolder() throws {
        let g = try Self.golden()
        let ids = g["input.input_ids"]
        let mask = g["input.attention_mask"]
        let expected = g["output.masked.hidden_states_last"]
        var withExtras = g.params
        withExtras["visual.patch_embed.proj.weight"] = Tensor.zeros([4, 4])
        withExtras["lm_head.weight"] = g.params["model.embed_tokens.weight"]!
        let v4 = try folder(g.metadata["config_v4"]!, withExtras)
        assertClose(try Qwen2_5_VLTextModel.load(from: v4)(ids, attentionMask: mask), expected, tolerance: 1e-4, "v4")

        var renamed: [String: Tensor] = ["model.visual.merger.ln_q.weight": Tensor.zeros([4])]
        for (key, value) in g.params {
            renamed["model.language_model." + key.dropFirst("model.".count)] = value
        }
        let v5 = try temporaryDirectory(self)
        try Data(g.metadata["config"]!.utf8).write(to: v5.appendingPathComponent("config.json"))
        try SafeTensorsCheckpoint.save(renamed, to: v5, name: "model", maxShardBytes: 24 << 10)
        assertClose(try Qwen2_5_VLTextModel.load(from: v5)(ids, attentionMask: mask), expected, tolerance: 1e-4, "v5")

        let half = try folder(g.metadata["config"]!, g.params.mapValues { $0.asType(.bfloat16) })
        let out = try Qwen2_5_VLTextModel.load(from: half, dtype: .bfloat16)(ids, attentionMask: mask)
        XCTAssertEqual(out.dtype, .bfloat16)
        let bf16Error = maxAbsDifference(out, expected)
        XCTAssertLessThan(bf16Error, 0.05 * expected.abs().max().item(Float.self))
        print("Qwen2.5-VL text bfloat16 max abs error: \(bf16Error)")

        var missing = g.params
        missing["model.layers.1.self_attn.k_proj.bias"] = nil
        XCTAssertThrowsError(try Qwen2_5_VLTextModel.load(from: try folder(g.metadata["config"]!, missing))) {
            XCTAssert("\($0)".contains("layers.1.self_attn.k_proj.bias"), "\($0)")
        }
    }
}
