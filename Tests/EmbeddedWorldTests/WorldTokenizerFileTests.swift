@testable import EmbeddedWorld
import Foundation
import Models
import TestSupport
import XCTest

/// The world tokenizer's file is checked like any downloaded tokenizer: ids that fit int32 and the fixed special ids,
/// a length that frames start and end, and ids and length that fit the folder's text encoder.
final class WorldTokenizerFileTests: XCTestCase {
    private func write(vocabulary: [String: Int], maxLength: Int, to folder: URL) throws -> URL {
        let tokenizer = folder.appendingPathComponent("tokenizer")
        try WorldTokenizer(vocabulary: vocabulary, maxLength: maxLength).save(to: tokenizer)
        return tokenizer.appendingPathComponent("vocab.json")
    }

    private var specials: [String: Int] {
        Dictionary(uniqueKeysWithValues: WorldTokenizer.specials.enumerated().map { ($1, $0) })
    }

    func testBadIdsAndLengthsAreRefusedNamingTheFile() throws {
        let folder = try temporaryDirectory(self)
        var vocabulary = specials
        vocabulary["<unk>"] = 7
        vocabulary["circle"] = 1 << 33
        let file = try write(vocabulary: vocabulary, maxLength: 1, to: folder)
        XCTAssertThrowsError(try WorldTokenizer.load(from: folder.appendingPathComponent("tokenizer"))) { error in
            XCTAssertEqual(
                error as? WorldFolderError,
                .tokenizer(
                    file: file.path,
                    reason:
                        "model_max_length: expected 2...65536 (start and end tokens), found 1; "
                        + "vocab[\"<unk>\"]: expected 3, found 7; "
                        + "vocab[\"circle\"]: expected an id in 0...2147483647, found 8589934592"))
        }
    }

    func testATokenizerPastTheTextEncoderIsRefusedNamingBothFiles() throws {
        let folder = try temporaryDirectory(self)
        var vocabulary = specials
        vocabulary["circle"] = 40
        let file = try write(vocabulary: vocabulary, maxLength: 12, to: folder)
        var config = CLIPTextConfig()
        config.vocabSize = 20
        config.maxPositionEmbeddings = 8
        config.eosTokenId = 2
        let encoder = folder.appendingPathComponent("text_encoder")
        try FileManager.default.createDirectory(at: encoder, withIntermediateDirectories: true)
        try JSONEncoder().encode(config).write(to: encoder.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try WorldTokenizer.load(modelFolder: folder)) { error in
            XCTAssertEqual(
                error as? ModelConfigError,
                .tokenizerMismatch(
                    tokenizer: file.path, model: encoder.appendingPathComponent("config.json").path,
                    problems: [
                        "token ids: expected ids below vocab_size 20 (the embedding table), found ids up to 40",
                        "model_max_length: expected at most max_position_embeddings 8, found 12"
                    ]))
        }
    }
}
