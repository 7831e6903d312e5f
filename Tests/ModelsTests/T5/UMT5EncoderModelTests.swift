import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with transformers' UMT5EncoderModel (Wan's text encoder) on a tiny random config written by
/// tools/goldens/umt5.py: 3 layers, each with its own relative_attention_bias.
final class UMT5EncoderModelTests: XCTestCase {
    private struct Golden {
        let configJSON: String
        let config: T5Config
        let params: [String: Tensor]
        let tensors: [String: Tensor]
        subscript(_ key: String) -> Tensor { tensors[key]! }
    }

    private func golden() throws -> Golden {
        let file = try SafeTensorsFile(url: Fixture.url("umt5_encoder.safetensors"))
        let json = file.metadata["config"]!
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        return Golden(
            configJSON: json, config: try JSONDecoder().decode(T5Config.self, from: Data(json.utf8)), params: params,
            tensors: all)
    }

    private func loaded(_ g: Golden) throws -> T5EncoderModel {
        let model = T5EncoderModel(g.config)
        try model.load(g.params)  // strict
        XCTAssertEqual(model.parameterCount(), g.params.values.reduce(0) { $0 + $1.count })
        return model
    }

    private func folder(_ g: Golden, _ params: [String: Tensor]) throws -> URL {
        let folder = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: folder.appendingPathComponent("config.json"))
        try SafeTensors.save(params, to: folder.appendingPathComponent("model.safetensors"))
        return folder
    }

    func testConfigFromUMT5JSON() throws {
        let g = try golden()
        XCTAssertEqual(g.config.modelType, "umt5")
        XCTAssert(g.config.hasPerLayerPositionBias)
        XCTAssertEqual(g.config.activation, .geluTanh)
        XCTAssertEqual(g.config.numLayers, 3)
        // Absent fields take UMT5Config's defaults, not T5Config's.
        let defaults = try JSONDecoder().decode(T5Config.self, from: Data(#"{"model_type": "umt5"}"#.utf8))
        XCTAssertEqual(defaults, T5Config.umt5)
        XCTAssertEqual(defaults.feedForwardProj, "gated-gelu")
        XCTAssertEqual(defaults.vocabSize, 250112)
        XCTAssertFalse(try JSONDecoder().decode(T5Config.self, from: Data("{}".utf8)).hasPerLayerPositionBias)
    }

    func testMatchesTransformers() throws {
        let g = try golden()
        let model = try loaded(g)
        for layer in model.encoder.block { XCTAssertNotNil(layer.attention.selfAttention.relativeAttentionBias) }
        let out = model(g["input.input_ids"])
        let masked = model(g["input.input_ids"], attentionMask: g["input.attention_mask"])
        let long = model(g["input.long_ids"])
        assertClose(out, g["output.last_hidden_state"], tolerance: 1e-4, "unmasked")
        assertClose(masked, g["output.masked.last_hidden_state"], tolerance: 1e-4, "masked")
        assertClose(long, g["output.long.last_hidden_state"], tolerance: 1e-4, "160 tokens")
        print(
            "UMT5 parity (max abs error / max |reference|): "
                + "unmasked \(maxAbsDifference(out, g["output.last_hidden_state"])) / "
                + "\(g["output.last_hidden_state"].abs().max().item(Float.self)), "
                + "masked \(maxAbsDifference(masked, g["output.masked.last_hidden_state"])), "
                + "long \(maxAbsDifference(long, g["output.long.last_hidden_state"]))")
    }

    /// The per-layer tables matter: the same weights read as T5 (layer 0's bias for all) give another result.
    func testPerLayerBiasIsUsed() throws {
        let g = try golden()
        var t5Config = g.config
        t5Config.modelType = "t5"
        let t5 = T5EncoderModel(t5Config)
        try t5.load(g.params.filter { !$0.key.contains("relative_attention_bias") || $0.key.contains("block.0.") })
        let error = maxAbsDifference(t5(g["input.input_ids"]), g["output.last_hidden_state"])
        XCTAssertGreaterThan(error, 1e-2)
    }

    /// A diffusers/transformers `text_encoder/` folder: one file, shards with an index, bfloat16, with the tied
    /// `encoder.embed_tokens.weight` alongside `shared.weight`.
    func testLoadsFolder() throws {
        let g = try golden()
        let ids = g["input.input_ids"]
        let mask = g["input.attention_mask"]
        let expected = g["output.masked.last_hidden_state"]
        var both = g.params
        both["encoder.embed_tokens.weight"] = g.params["shared.weight"]!
        let single = try folder(g, both)
        let model = try T5EncoderModel.load(from: single)
        XCTAssertEqual(model.config, g.config)
        assertClose(model(ids, attentionMask: mask), expected, tolerance: 1e-4, "one file")

        let sharded = try temporaryDirectory(self)
        try Data(g.configJSON.utf8).write(to: sharded.appendingPathComponent("config.json"))
        try SafeTensorsCheckpoint.save(g.params, to: sharded, name: "model", maxShardBytes: 24 << 10)
        let files = try FileManager.default.contentsOfDirectory(atPath: sharded.path)
        XCTAssert(files.contains("model.safetensors.index.json"), "\(files)")
        XCTAssertGreaterThan(files.filter { $0.hasSuffix(".safetensors") }.count, 1, "\(files)")
        assertClose(
            try T5EncoderModel.load(from: sharded)(ids, attentionMask: mask), expected, tolerance: 1e-4, "sharded")

        // Wan ships umt5-xxl in bfloat16; the norm statistics stay in float32.
        let half = try folder(g, g.params.mapValues { $0.asType(.bfloat16) })
        let bf16 = try T5EncoderModel.load(from: half, dtype: .bfloat16)
        let out = bf16(ids, attentionMask: mask)
        XCTAssertEqual(out.dtype, .bfloat16)
        let error = maxAbsDifference(out, expected)
        XCTAssertLessThan(error, 0.05 * expected.abs().max().item(Float.self))
        print("UMT5 bfloat16 max abs error: \(error)")
    }

    func testFolderErrors() throws {
        let g = try golden()
        // A T5 checkpoint (bias in block 0 only) under a UMT5 config: the mismatch is named.
        let t5Layout = try folder(
            g, g.params.filter { !$0.key.contains("relative_attention_bias") || $0.key.contains("block.0.") })
        XCTAssertThrowsError(try T5EncoderModel.load(from: t5Layout)) { error in
            XCTAssert("\(error)".contains("only in block 0 (T5)"), "\(error)")
            XCTAssert("\(error)".contains("config.json"), "\(error)")
        }
        // The reverse: a UMT5 checkpoint under a T5 config.
        let asT5 = try folder(g, g.params)
        let t5JSON = g.configJSON.replacingOccurrences(of: #""model_type": "umt5""#, with: #""model_type": "t5""#)
        XCTAssertNotEqual(t5JSON, g.configJSON)
        try Data(t5JSON.utf8).write(to: asT5.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try T5EncoderModel.load(from: asT5)) { error in
            XCTAssert("\(error)".contains("in blocks [0, 1, 2]"), "\(error)")
        }
        // A missing tensor is named (strict keys).
        var missing = g.params
        missing["encoder.block.2.layer.1.DenseReluDense.wi_0.weight"] = nil
        XCTAssertThrowsError(try T5EncoderModel.load(from: try folder(g, missing))) { error in
            XCTAssert("\(error)".contains("encoder.block.2.layer.1.DenseReluDense.wi_0.weight"), "\(error)")
        }
        // An unknown model type and a missing config.json.
        let other = try folder(g, g.params)
        try Data(#"{"model_type": "bert"}"#.utf8).write(to: other.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try T5EncoderModel.load(from: other)) { error in
            XCTAssert("\(error)".contains("model_type: expected t5, mt5 or umt5, found 'bert'"), "\(error)")
        }
        try FileManager.default.removeItem(at: other.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try T5EncoderModel.load(from: other)) { error in
            XCTAssert("\(error)".contains("config.json"), "\(error)")
        }
    }
}
