import Engine
import Foundation
import Models
import TestSupport
import Tokenizers
import XCTest

/// A pipeline refuses a tokenizer that writes ids past its text encoder's embedding table, or asks for more positions
/// than the encoder has, before reading any weights; and ids that reach an encoder anyway are refused by the engine's
/// error scope instead of reading past the table.
final class TokenizerFitTests: XCTestCase {
    /// flux_mini's text encoders and tokenizers, with `edit` applied to the CLIP text encoder's config.
    private func textFolder(editing edit: (inout [String: Any]) -> Void) throws -> URL {
        let folder = try temporaryDirectory(self)
        for name in ["tokenizer", "text_encoder", "tokenizer_2", "text_encoder_2"] {
            try FileManager.default.copyItem(
                at: Fixture.url("flux_mini/\(name)"), to: folder.appendingPathComponent(name))
        }
        let config = folder.appendingPathComponent("text_encoder/config.json")
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: config)) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: config)
        return folder
    }

    func testFluxTextEncodersRefuseATokenizerPastTheEmbeddingTable() throws {
        let folder = try textFolder {
            $0["vocab_size"] = 500; $0["eos_token_id"] = 2
        }
        XCTAssertThrowsError(try FluxTextEncoders.load(from: folder)) { error in
            XCTAssertEqual(
                error as? ModelConfigError,
                .tokenizerMismatch(
                    tokenizer: folder.appendingPathComponent("tokenizer").path,
                    model: folder.appendingPathComponent("text_encoder/config.json").path,
                    problems: [
                        "token ids: expected ids below vocab_size 500 (the embedding table), found ids up to 570"
                    ]))
        }
    }

    func testFluxTextEncodersRefuseALengthPastThePositions() throws {
        let folder = try textFolder { $0["max_position_embeddings"] = 64 }
        XCTAssertThrowsError(try FluxTextEncoders.load(from: folder)) { error in
            XCTAssertEqual(
                (error as? ModelConfigError)?.problems,
                ["model_max_length: expected at most max_position_embeddings 64, found 77"], "\(error)")
            XCTAssertTrue("\(error)".contains("text_encoder/config.json"), "\(error)")
        }
    }

    func testTheFixtureFits() throws {
        let encoders = try FluxTextEncoders.load(from: try textFolder { _ in })
        XCTAssertEqual(encoders.tokenize(["a red fox"], maxSequenceLength: 8).t5.shape, [1, 8])
    }

    /// An id past the table reaching the encoder anyway (here built by hand) is thrown by the scope, not read.
    func testAnIdPastTheTableReachingTheEncoderIsThrown() throws {
        var config = CLIPTextConfig()
        config.vocabSize = 10
        config.hiddenSize = 8
        config.intermediateSize = 16
        config.numHiddenLayers = 1
        config.numAttentionHeads = 2
        config.maxPositionEmbeddings = 4
        config.eosTokenId = 9
        let model = CLIPTextModel(config)
        XCTAssertThrowsError(
            try Engine.catchingErrors {
                let out = model(TokenIDTensor.make([[1, 100_000_000, 9]]))
                try Engine.evaluate([out.lastHiddenState, out.pooled])
            }
        ) { error in
            XCTAssertEqual(
                "\(error)",
                "embedding: index 100000000 is outside the table's 10 rows (expected 0..<10) "
                    + "(operand shapes [1, 3], [10, 8])")
        }
        XCTAssertThrowsError(try Engine.catchingErrors { _ = model(TokenIDTensor.make([[1, 2, 3, 4, 5]])) }) {
            error in
            XCTAssertTrue("\(error)".contains("sequence length 5 exceeds max_position_embeddings 4"), "\(error)")
        }
        XCTAssertThrowsError(try Engine.catchingErrors { _ = TokenIDTensor.make([[1, 1 << 40]]) }) { error in
            XCTAssertEqual("\(error)", "token ids: id 1099511627776 does not fit int32 (operand shapes [1, 2])")
        }
    }
}
