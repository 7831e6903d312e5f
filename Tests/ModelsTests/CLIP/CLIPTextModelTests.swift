import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with transformers' CLIPTextModel / CLIPTextModelWithProjection on a tiny random config
/// (tools/goldens/text_encoders.py). One set of weights, two configs: legacy `eos_token_id` 2 and 998.
final class CLIPTextModelTests: XCTestCase {
    private struct Golden {
        let legacy: CLIPTextConfig
        let eos: CLIPTextConfig
        let params: [String: Tensor]
        let tensors: [String: Tensor]
        var ids: Tensor { tensors["input.input_ids"]! }
        var mask: Tensor { tensors["input.attention_mask"]! }
        var towerParams: [String: Tensor] { params.filter { $0.key.hasPrefix("text_model.") } }
    }

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("clip_text.safetensors"))
        func config(_ name: String) throws -> CLIPTextConfig {
            try JSONDecoder().decode(CLIPTextConfig.self, from: Data(file.metadata[name]!.utf8))
        }
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        return Golden(legacy: try config("config"), eos: try config("config_eos"), params: params, tensors: all)
    }

    private func check(_ config: CLIPTextConfig, prefix: String, _ g: Golden) throws {
        let model = CLIPTextModel(config)
        try model.load(g.towerParams)  // strict
        XCTAssertEqual(model.parameterCount(), g.towerParams.values.reduce(0) { $0 + $1.count })

        let out = model(g.ids)
        func expected(_ name: String) -> Tensor { g.tensors["\(prefix).\(name)"]! }
        assertClose(out.lastHiddenState, expected("last_hidden_state"), tolerance: 1e-4, "\(prefix) last_hidden_state")
        assertClose(out.pooled, expected("pooled"), tolerance: 1e-4, "\(prefix) pooled")
        XCTAssertEqual(out.hiddenStates.count, config.numHiddenLayers + 1)
        for (i, h) in out.hiddenStates.enumerated() {
            assertClose(h, expected("hidden_states.\(i)"), tolerance: 1e-4, "\(prefix) hidden_states.\(i)")
        }
        assertClose(
            out.penultimateHiddenState, expected("hidden_states.\(config.numHiddenLayers - 1)"), tolerance: 1e-4)

        let masked = model(g.ids, attentionMask: g.mask)
        assertClose(masked.lastHiddenState, expected("masked.last_hidden_state"), tolerance: 1e-4, "\(prefix) masked")
        assertClose(masked.pooled, expected("masked.pooled"), tolerance: 1e-4, "\(prefix) masked pooled")
        print(
            """
            CLIP text (\(prefix)) parity: last \
            \(maxAbsDifference(out.lastHiddenState, expected("last_hidden_state"))), pooled \
            \(maxAbsDifference(out.pooled, expected("pooled"))), masked \
            \(maxAbsDifference(masked.lastHiddenState, expected("masked.last_hidden_state")))
            """)
    }

    func testLegacyConfigMatchesTransformers() throws {
        let g = try golden()
        XCTAssert(g.legacy.usesLegacyPooling)
        try check(g.legacy, prefix: "legacy", g)
    }

    func testEosTokenConfigMatchesTransformers() throws {
        let g = try golden()
        XCTAssertEqual(g.eos.eosTokenId, 998)
        try check(g.eos, prefix: "eos", g)
    }

    /// Left padding leaves the first queries with no visible key; they must stay finite and the real tokens must not
    /// depend on what the padding ids are (transformers 5 returns NaN for the whole sequence here: no golden).
    func testLeftPaddingStaysFiniteAndIgnoresPadTokens() throws {
        let g = try golden()
        let model = CLIPTextModel(g.eos)
        try model.load(g.towerParams)
        let mask = Tensor([0, 0, 0, 1, 1, 1, 1] as [Int32], shape: [1, 7])
        let a = model(Tensor([1, 1, 1, 997, 5, 6, 998] as [Int32], shape: [1, 7]), attentionMask: mask)
        let b = model(Tensor([400, 7, 3, 997, 5, 6, 998] as [Int32], shape: [1, 7]), attentionMask: mask)
        XCTAssertEqual(a.lastHiddenState.isFinite().all().item(Bool.self), true)
        assertClose(a.lastHiddenState[0..., 3...], b.lastHiddenState[0..., 3...], tolerance: 1e-6)
        assertClose(a.pooled, b.pooled, tolerance: 1e-6)
        XCTAssertGreaterThan(maxAbsDifference(a.lastHiddenState[0..., ..<3], b.lastHiddenState[0..., ..<3]), 1e-3)
    }

    func testPoolingPositionsFollowBothRules() throws {
        let g = try golden()
        // Row 0: EOS 999 repeated as padding; row 1: 998 then a larger id; row 2: 998 twice; see the generator.
        XCTAssertEqual(CLIPTextTransformer.eosPositions(g.ids, eosTokenId: 2).toArray(Int32.self), [5, 3, 7])
        XCTAssertEqual(CLIPTextTransformer.eosPositions(g.ids, eosTokenId: 998).toArray(Int32.self), [0, 2, 7])
    }

    func testWithProjectionMatchesTransformers() throws {
        let g = try golden()
        for (config, prefix) in [(g.legacy, "legacy"), (g.eos, "eos")] {
            let model = CLIPTextModelWithProjection(config)
            try model.load(g.params)  // strict: text_model.* and text_projection.weight
            let (output, embeds) = model(g.ids)
            assertClose(embeds, g.tensors["\(prefix).text_embeds"]!, tolerance: 1e-4, "\(prefix) text_embeds")
            assertClose(output.pooled, g.tensors["\(prefix).pooled"]!, tolerance: 1e-4)
            print(
                "CLIP text_embeds (\(prefix)) parity: \(maxAbsDifference(embeds, g.tensors["\(prefix).text_embeds"]!))")
        }
    }

    func testStrictLoadNamesMissingAndUnexpectedKeys() throws {
        let g = try golden()
        var params = g.towerParams
        params["text_model.encoder.layers.1.self_attn.k_proj.bias"] = nil
        params["text_model.extra.weight"] = Tensor.zeros([1])
        XCTAssertThrowsError(try CLIPTextModel(g.legacy).load(params)) { error in
            XCTAssert("\(error)".contains("text_model.encoder.layers.1.self_attn.k_proj.bias"), "\(error)")
            XCTAssert("\(error)".contains("text_model.extra.weight"), "\(error)")
        }
    }

    /// A full CLIPModel folder (reward models): nested text_config, top-level projection_dim, a vision tower and the
    /// pre-4.31 position_ids buffer, none of which the text models hold.
    func testLoadsFromAFullCLIPFolder() throws {
        let g = try golden()
        let folder = try temporaryDirectory(self)
        let config: [String: Any] = [
            "architectures": ["CLIPModel"], "projection_dim": 24, "logit_scale_init_value": 2.6592,
            "text_config": try JSONSerialization.jsonObject(
                with: Data(
                    try SafeTensorsFile(url: Fixture.url("clip_text.safetensors")).metadata["config_eos"]!.utf8)),
            "vision_config": ["hidden_size": 8, "projection_dim": 24]
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        var tensors = g.params
        tensors["text_model.embeddings.position_ids"] = Tensor.arange(77).reshaped([1, 77])
        tensors["vision_model.post_layernorm.weight"] = Tensor.ones([8])
        tensors["visual_projection.weight"] = Tensor.zeros([24, 8])
        tensors["logit_scale"] = Tensor(Float(2.6592))
        try SafeTensors.save(tensors, to: folder.appendingPathComponent("model.safetensors"))

        let loadedConfig = try CLIPTextConfig.load(folder)
        XCTAssertEqual(loadedConfig, g.eos)
        let text = try CLIPTextModel.load(from: folder)
        assertClose(text(g.ids).pooled, g.tensors["eos.pooled"]!, tolerance: 1e-4)
        let projected = try CLIPTextModelWithProjection.load(from: folder)
        assertClose(projected(g.ids).textEmbeds, g.tensors["eos.text_embeds"]!, tolerance: 1e-4)

        // A key the model does not know is still an error, named.
        tensors["text_model.encoder.layers.9.mlp.fc1.weight"] = Tensor.zeros([1])
        try SafeTensors.save(tensors, to: folder.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try CLIPTextModel.load(from: folder)) {
            XCTAssert("\($0)".contains("text_model.encoder.layers.9.mlp.fc1.weight"), "\($0)")
        }
    }

    func testConfigDefaultsAndErrors() throws {
        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("config.json")
        // FLUX's text_encoder/config.json (ViT-L/14 text tower), trimmed to the fields the model reads.
        try Data(
            #"""
            {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "eos_token_id": 2, \#
            "projection_dim": 768}
            """#
            .utf8
        ).write(to: file)
        let config = try CLIPTextConfig.load(folder)
        XCTAssertEqual(config.numHiddenLayers, 12)
        XCTAssertEqual(config.maxPositionEmbeddings, 77)
        XCTAssertEqual(config.activation, .quickGelu)
        XCTAssertEqual(config.headDim, 64)
        XCTAssert(config.usesLegacyPooling)

        try Data(#"{"hidden_act": "mish"}"#.utf8).write(to: file)
        XCTAssertThrowsError(try CLIPTextConfig.load(folder)) { XCTAssert("\($0)".contains("mish"), "\($0)") }
        try Data(#"{"hidden_size": 30, "num_attention_heads": 4}"#.utf8).write(to: file)
        XCTAssertThrowsError(try CLIPTextConfig.load(folder)) {
            XCTAssert("\($0)".contains("num_attention_heads"), "\($0)")
        }
    }
}
