import Checkpoints
import Engine
import Foundation
import Models
import NN
import TestSupport
import XCTest

/// Parity with transformers' T5EncoderModel on tiny random configs (tools/goldens/text_encoders.py): v1.1 gated-GELU
/// and the original ReLU feed-forward.
final class T5EncoderModelTests: XCTestCase {
    private func golden(_ name: String) throws -> (T5Config, [String: Tensor], [String: Tensor]) {
        let file = try SafeTensorsFile(url: Fixture.url(name))
        let config = try JSONDecoder().decode(T5Config.self, from: Data(file.metadata["config"]!.utf8))
        let all = try file.tensors()
        var params: [String: Tensor] = [:]
        for (k, v) in all where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        return (config, params, all)
    }

    private func loaded(_ name: String) throws -> (T5EncoderModel, [String: Tensor]) {
        let (config, params, g) = try golden(name)
        let model = T5EncoderModel(config)
        try model.load(params)  // strict
        XCTAssertEqual(model.parameterCount(), params.values.reduce(0) { $0 + $1.count })
        return (model, g)
    }

    func testGatedGeluMatchesTransformers() throws {
        let (model, g) = try loaded("t5_encoder.safetensors")
        XCTAssertEqual(model.config.activation, .geluTanh)
        XCTAssertNotNil(model.encoder.block[0].attention.selfAttention.relativeAttentionBias)
        XCTAssertNil(model.encoder.block[1].attention.selfAttention.relativeAttentionBias)

        let out = model(g["input.input_ids"]!)
        assertClose(out, g["output.last_hidden_state"]!, tolerance: 1e-4, "unmasked")
        let masked = model(g["input.input_ids"]!, attentionMask: g["input.attention_mask"]!)
        assertClose(masked, g["output.masked.last_hidden_state"]!, tolerance: 1e-4, "masked")
        let long = model(g["input.long_ids"]!)
        assertClose(long, g["output.long.last_hidden_state"]!, tolerance: 1e-4, "160 tokens")
        print(
            "T5 gated-gelu parity: unmasked \(maxAbsDifference(out, g["output.last_hidden_state"]!)), "
                + "masked \(maxAbsDifference(masked, g["output.masked.last_hidden_state"]!)), "
                + "long \(maxAbsDifference(long, g["output.long.last_hidden_state"]!))")
    }

    func testReluFeedForwardMatchesTransformers() throws {
        let (model, g) = try loaded("t5_encoder_relu.safetensors")
        XCTAssertNotNil(model.encoder.block[0].feedForward.denseReluDense.wi)
        let out = model(g["input.input_ids"]!)
        assertClose(out, g["output.last_hidden_state"]!, tolerance: 1e-4, "unmasked")
        let masked = model(g["input.input_ids"]!, attentionMask: g["input.attention_mask"]!)
        assertClose(masked, g["output.masked.last_hidden_state"]!, tolerance: 1e-4, "masked")
        print(
            "T5 relu parity: unmasked \(maxAbsDifference(out, g["output.last_hidden_state"]!)), "
                + "masked \(maxAbsDifference(masked, g["output.masked.last_hidden_state"]!))")
    }

    func testRelativePositionBucketsMatchTransformers() throws {
        let (_, _, g) = try golden("t5_encoder.safetensors")
        let relative = g["bucket.relative_position"]!.toArray(Int32.self).map(Int.init)
        for (name, bidirectional, buckets, distance) in [
            ("bidirectional", true, 32, 128), ("unidirectional", false, 32, 128),
            ("bidirectional_64_256", true, 64, 256),
            ("unidirectional_64_256", false, 64, 256)
        ] {
            let expected = g["bucket.\(name)"]!.toArray(Int32.self).map(Int.init)
            let actual = relative.map {
                T5RelativePosition.bucket($0, bidirectional: bidirectional, numBuckets: buckets, maxDistance: distance)
            }
            let wrong = zip(relative, zip(actual, expected)).filter { $1.0 != $1.1 }
            XCTAssert(
                wrong.isEmpty, "\(name): (distance, got, expected) \(wrong.prefix(5).map { ($0.0, $0.1.0, $0.1.1) })")
        }
        // The grid: query i, key j holds the bucket of j − i.
        let grid = T5RelativePosition.buckets(
            queryLength: 3, keyLength: 3, bidirectional: true, numBuckets: 32, maxDistance: 128)
        XCTAssertEqual(grid.toArray(Int32.self), [0, 17, 18, 1, 0, 17, 2, 1, 0])
    }

    /// transformers checkpoints may hold the token table as `shared.weight`, as the tied
    /// `encoder.embed_tokens.weight`, or both, and full T5 files add a decoder.
    func testLoadsFromFolderWithEitherTokenTableKey() throws {
        let (config, params, g) = try golden("t5_encoder.safetensors")
        let folder = try temporaryDirectory(self)
        let configJSON = try JSONEncoder().encode(config)
        try configJSON.write(to: folder.appendingPathComponent("config.json"))
        XCTAssertEqual(try T5Config.load(folder), config)
        let file = folder.appendingPathComponent("model.safetensors")
        let expected = g["output.last_hidden_state"]!

        var tiedOnly = params
        tiedOnly["encoder.embed_tokens.weight"] = tiedOnly.removeValue(forKey: "shared.weight")
        tiedOnly["decoder.block.0.layer.0.SelfAttention.q.weight"] = Tensor.zeros([32, 32])
        tiedOnly["lm_head.weight"] = Tensor.zeros([200, 32])
        try SafeTensors.save(tiedOnly, to: file)
        assertClose(
            try T5EncoderModel.load(from: folder)(g["input.input_ids"]!), expected, tolerance: 1e-4, "tied key only")

        var both = params
        both["encoder.embed_tokens.weight"] = params["shared.weight"]!
        try SafeTensors.save(both, to: file)
        assertClose(
            try T5EncoderModel.load(from: folder)(g["input.input_ids"]!), expected, tolerance: 1e-4, "both keys")

        var missing = params
        missing["encoder.block.1.layer.1.DenseReluDense.wi_1.weight"] = nil
        try SafeTensors.save(missing, to: file)
        XCTAssertThrowsError(try T5EncoderModel.load(from: folder)) {
            XCTAssert("\($0)".contains("encoder.block.1.layer.1.DenseReluDense.wi_1.weight"), "\($0)")
        }
    }

    /// bfloat16 weights (how FLUX ships T5-XXL): the norm statistics stay in float32, so the result stays close.
    func testBFloat16StaysCloseToReference() throws {
        let (config, params, g) = try golden("t5_encoder.safetensors")
        let model = T5EncoderModel(config, dtype: .bfloat16)
        try model.load(params, dtype: .bfloat16)
        let out = model(g["input.input_ids"]!, attentionMask: g["input.attention_mask"]!)
        XCTAssertEqual(out.dtype, .bfloat16)
        let error = maxAbsDifference(out, g["output.masked.last_hidden_state"]!)
        XCTAssertLessThan(error, 0.15)
        print("T5 bfloat16 max abs error: \(error)")
    }

    func testConfigErrors() throws {
        let folder = try temporaryDirectory(self)
        try Data(#"{"feed_forward_proj": "gated-mish"}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try T5Config.load(folder)) { XCTAssert("\($0)".contains("gated-mish"), "\($0)") }
        // FLUX's text_encoder_2/config.json fields.
        try Data(
            #"""
            {"d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24, "num_heads": 64, "feed_forward_proj": \#
            "gated-gelu", "vocab_size": 32128}
            """#
            .utf8
        )
        .write(to: folder.appendingPathComponent("config.json"))
        let config = try T5Config.load(folder)
        XCTAssert(config.isGated)
        XCTAssertEqual(config.activation, .geluTanh)
        XCTAssertEqual(config.relativeAttentionMaxDistance, 128)
    }
}
