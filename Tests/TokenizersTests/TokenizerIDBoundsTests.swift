// Token ids from downloaded files become int32 rows of an embedding table: the loaders refuse ids that cannot be
// one, report the ids they can write, and say which defaults they took.
import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

final class TokenizerIDBoundsTests: XCTestCase {
    private let fluxTokenizer = Fixture.url("flux_mini/tokenizer")

    /// A copy of flux_mini's CLIP tokenizer folder.
    private func clipFolder() throws -> URL {
        let folder = try temporaryDirectory(self).appendingPathComponent("tokenizer")
        try FileManager.default.copyItem(at: fluxTokenizer, to: folder)
        return folder
    }

    private func setVocabularyID(_ id: Int, of token: String, in folder: URL) throws {
        let file = folder.appendingPathComponent("vocab.json")
        var vocabulary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        vocabulary[token] = id
        try JSONSerialization.data(withJSONObject: vocabulary).write(to: file)
    }

    func testTheIdRangeCoversTheVocabularyAndSpecialTokens() throws {
        let tokenizer = try CLIPTokenizer(directory: fluxTokenizer)
        XCTAssertEqual(tokenizer.tokenIDRange, 0...570)
    }

    func testAnIdPastInt32InVocabJSONIsRefused() throws {
        let folder = try clipFolder()
        try setVocabularyID(1 << 31, of: "zebra", in: folder)
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder)) { error in
            XCTAssertEqual(
                error as? TokenizerError,
                .invalidFile(
                    path: folder.appendingPathComponent("vocab.json").path,
                    reason: "the id of token \"zebra\" is 2147483648, expected 0...2147483647"))
        }
    }

    func testANegativeIdInVocabJSONIsRefused() throws {
        let folder = try clipFolder()
        try setVocabularyID(-5, of: "zebra", in: folder)
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder)) { error in
            XCTAssertTrue("\(error)".contains("is -5, expected 0...2147483647"), "\(error)")
        }
    }

    /// A large id that fits int32 loads; the range then tells the model loader it does not fit the table.
    func testALargeIdWidensTheRange() throws {
        let folder = try clipFolder()
        try setVocabularyID(100_000_000, of: "zebra", in: folder)
        XCTAssertEqual(try CLIPTokenizer(directory: folder).tokenIDRange, 0...100_000_000)
    }

    func testAnAddedTokenIdPastInt32IsRefusedNamingTheConfig() throws {
        let folder = try clipFolder()
        let config = folder.appendingPathComponent("tokenizer_config.json")
        try Data(#"{"model_max_length": 77, "added_tokens_decoder": {"4294967296": {"content": "<x>"}}}"#.utf8)
            .write(to: config)
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder)) { error in
            XCTAssertEqual(
                error as? TokenizerError,
                .invalidFile(
                    path: config.path,
                    reason: "added_tokens_decoder id 4294967296 of \"<x>\": expected 0...2147483647"))
        }
    }

    func testAMissingModelMaxLengthWarnsWithTheDefault() throws {
        let folder = try clipFolder()
        let config = folder.appendingPathComponent("tokenizer_config.json")
        try Data(#"{"pad_token": "<|endoftext|>"}"#.utf8).write(to: config)
        let (tokenizer, warnings) = try LoadWarnings.collecting { try CLIPTokenizer(directory: folder) }
        XCTAssertEqual(tokenizer.defaultMaxLength, 77)
        XCTAssertEqual(warnings.map(\.description), ["\(config.path): model_max_length missing; using the default 77"])
        // transformers' "no limit" value is not a length either.
        try Data(#"{"model_max_length": 1000000000000000019884624838656}"#.utf8).write(to: config)
        let huge = try LoadWarnings.collecting { try CLIPTokenizer(directory: folder) }.warnings
        XCTAssertEqual(
            huge.map(\.description),
            [
                "\(config.path): model_max_length not used (1000000000000000019884624838656 is no length); "
                    + "using the default 77"
            ])
        // A configured length is used without a word.
        try Data(#"{"model_max_length": 64}"#.utf8).write(to: config)
        let configured = try LoadWarnings.collecting { try CLIPTokenizer(directory: folder) }
        XCTAssertEqual(configured.result.defaultMaxLength, 64)
        XCTAssertEqual(configured.warnings, [])
    }

    func testACLIPTokenizerJSONWithAnIdPastInt32IsRefused() throws {
        let folder = try temporaryDirectory(self)
        let file = folder.appendingPathComponent("tokenizer.json")
        let json = #"""
            {"model": {"type": "BPE", "end_of_word_suffix": "</w>", "vocab": {"a</w>": 3000000000}, "merges": []}}
            """#
        try Data(json.utf8).write(to: file)
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder)) { error in
            XCTAssertEqual(
                error as? TokenizerError,
                .invalidFile(
                    path: file.path, reason: "model.vocab id of \"a</w>\" is 3000000000, expected 0...2147483647"))
        }
    }

    /// T5 folders say how many `<extra_id_N>` sentinels follow the pieces; those ids must be in the model's table,
    /// so the count is the file's, not a fixed 100.
    func testT5ExtraIdsComeFromTheTokenizerConfig() throws {
        let folder = Fixture.url("flux_mini/tokenizer_2")  // extra_ids 0, 400 pieces
        let tokenizer = try T5Tokenizer(directory: folder)
        XCTAssertEqual(tokenizer.tokenIDRange, 0...399)

        let bare = try temporaryDirectory(self)
        try FileManager.default.copyItem(
            at: folder.appendingPathComponent("spiece.model"), to: bare.appendingPathComponent("spiece.model"))
        let (defaulted, warnings) = try LoadWarnings.collecting { try T5Tokenizer(directory: bare) }
        XCTAssertEqual(defaulted.tokenIDRange, 0...499)
        let config = bare.appendingPathComponent("tokenizer_config.json").path
        XCTAssertEqual(
            warnings.map(\.description),
            [
                "\(config): model_max_length missing; using the default 512",
                "\(config): extra_ids missing; using the default 100"
            ])
    }
}
