// T5 tokenizer against sentencepiece and transformers on two small unigram models trained by the golden generator:
// "t5" with sentencepiece's default nmt_nfkc rules (the ones T5 uses), "t5_rules" with a short custom rule table
// (its transformers tokenizer.json export is small enough to commit).
import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

final class T5TokenizerTests: XCTestCase {
    private var golden: T5Golden { T5Golden.shared }
    private let nfkcModel = Fixture.url("tokenizers/t5/spiece.model")
    private let rulesModel = Fixture.url("tokenizers/t5_rules/spiece.model")
    private let rulesJSON = Fixture.url("tokenizers/t5_rules/tokenizer.json")

    private func check(
        _ tokenizer: T5Tokenizer, _ prompts: [T5Golden.Prompt], expected: KeyPath<T5Golden.Prompt, [Int]>,
        _ name: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        let failures = mismatches(prompts, text: \.text, expected: { $0[keyPath: expected] }, actual: tokenizer.encode)
        print("T5 \(name): \(prompts.count - failures.count)/\(prompts.count) prompts identical")
        XCTAssertEqual(failures, [], name, file: file, line: line)
    }

    func testSentencePieceParityNFKC() throws {
        let tokenizer = try T5Tokenizer(sentencePieceModel: nfkcModel)
        XCTAssertEqual(tokenizer.vocabularySize, golden.nfkc.pieces)
        XCTAssertEqual(tokenizer.vocabularySize + 100, golden.nfkc.transformers_vocab_size)
        XCTAssertEqual(tokenizer.endOfSequenceID, 1)
        XCTAssertEqual(tokenizer.padTokenID, 0)
        XCTAssertEqual(tokenizer.unknownID, 2)
        check(tokenizer, golden.nfkc.prompts, expected: \.sentencepiece, "sentencepiece (nmt_nfkc)")
    }

    func testSentencePieceParityCustomRules() throws {
        let tokenizer = try T5Tokenizer(sentencePieceModel: rulesModel)
        check(tokenizer, golden.rules.prompts, expected: \.sentencepiece, "sentencepiece (custom rules)")
    }

    func testTransformersParityFromSentencePieceModel() throws {
        let nfkc = try T5Tokenizer(sentencePieceModel: nfkcModel, pipeline: .huggingFace)
        check(nfkc, golden.nfkc.prompts, expected: \.transformers, "transformers from spiece.model (nmt_nfkc)")
        let rules = try T5Tokenizer(sentencePieceModel: rulesModel, pipeline: .huggingFace)
        check(rules, golden.rules.prompts, expected: \.transformers, "transformers from spiece.model (custom rules)")
    }

    func testTransformersParityFromTokenizerJSON() throws {
        let tokenizer = try T5Tokenizer(tokenizerJSON: rulesJSON)
        XCTAssertEqual(tokenizer.pipeline, .huggingFace)
        XCTAssertEqual(tokenizer.suffixTokenIDs, [1])
        XCTAssertEqual(tokenizer.padTokenID, 0)
        check(tokenizer, golden.rules.prompts, expected: \.transformers, "transformers from tokenizer.json")
    }

    /// Real T5 checkpoints (google/t5-v1_1-xxl, FLUX's tokenizer_2) ship tokenizer.json files in an older layout:
    /// a Replace normalizer collapsing runs of spaces after the Precompiled one, and Metaspace without WhitespaceSplit
    /// (trailing spaces then make a "▁" token). The generator rearranged the committed file the same way.
    private func legacyLayout() throws -> URL {
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: rulesJSON)) as! [String: Any]
        root["normalizer"] = [
            "type": "Sequence",
            "normalizers": [
                root["normalizer"]!, ["type": "Replace", "pattern": ["Regex": " {2,}"], "content": " "]
            ]
        ]
        root["pre_tokenizer"] = ["type": "Metaspace", "replacement": "\u{2581}", "add_prefix_space": true]
        let url = try temporaryDirectory(self).appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: root).write(to: url)
        return url
    }

    func testTransformersParityWithLegacyTokenizerJSONLayout() throws {
        let tokenizer = try T5Tokenizer(tokenizerJSON: legacyLayout())
        let prompts = golden.rules.prompts
        let failures = zip(prompts, golden.rules_legacy_layout_ids).compactMap { prompt, expected in
            let ids = tokenizer.encode(prompt.text)
            return ids == expected ? nil : "\(prompt.text.debugDescription): got \(ids) expected \(expected)"
        }
        let identical = prompts.count - failures.count
        print("T5 transformers, legacy tokenizer.json layout: \(identical)/\(prompts.count) prompts identical")
        XCTAssertEqual(failures, [])
    }

    func testDirectoryPrefersTokenizerJSON() throws {
        let folder = try temporaryDirectory(self)
        try FileManager.default.copyItem(at: rulesJSON, to: folder.appendingPathComponent("tokenizer.json"))
        try FileManager.default.copyItem(at: rulesModel, to: folder.appendingPathComponent("spiece.model"))
        try Data(#"{"model_max_length": 16}"#.utf8).write(to: folder.appendingPathComponent("tokenizer_config.json"))
        let tokenizer = try T5Tokenizer(directory: folder)
        XCTAssertEqual(tokenizer.pipeline, .huggingFace)
        XCTAssertEqual(tokenizer.defaultMaxLength, 16)
        let special = "<extra_id_0> masked <extra_id_1>"
        let expected = golden.rules.prompts.first { $0.text == special }!
        XCTAssertEqual(tokenizer.encode(special), expected.transformers)
        let sentencePiece = try T5Tokenizer(directory: folder, pipeline: .sentencePiece)
        XCTAssertEqual(sentencePiece.encode(special), expected.sentencepiece)
    }

    func testBatchPaddingTruncationAndMask() throws {
        let tokenizer = try T5Tokenizer(sentencePieceModel: nfkcModel, pipeline: .huggingFace)
        let batch = golden.batch
        let result = tokenizer(batch.texts, maxLength: batch.max_length)
        for (index, text) in batch.texts.enumerated() {
            XCTAssertEqual(result.ids[index], batch.transformers_ids[index], text.debugDescription)
            XCTAssertEqual(result.attentionMask[index], batch.transformers_attention_mask[index], text.debugDescription)
        }
        XCTAssertTrue(result.ids.allSatisfy { $0.count == batch.max_length })
        // A truncated row still ends with </s>.
        let long = tokenizer([String(repeating: "a red fox ", count: 20)], maxLength: 8)
        XCTAssertEqual(long.ids[0].count, 8)
        XCTAssertEqual(long.ids[0].last, 1)
        XCTAssertEqual(long.attentionMask[0], Array(repeating: 1, count: 8))
        XCTAssertEqual(tokenizer([""]).ids[0].count, 512)
        XCTAssertEqual(tokenizer([""]).attentionMask[0].prefix(2), [1, 0])
    }

    func testMissingAndCorruptFilesAreNamed() throws {
        let folder = try temporaryDirectory(self)
        XCTAssertThrowsError(try T5Tokenizer(directory: folder)) { error in
            let model = folder.appendingPathComponent("spiece.model")
            XCTAssertEqual(error as? TokenizerError, .missingFile(path: model.path))
        }
        let corrupt = folder.appendingPathComponent("spiece.model")
        var bytes = try Data(contentsOf: nfkcModel)
        bytes = bytes.prefix(1000)
        try bytes.write(to: corrupt)
        XCTAssertThrowsError(try T5Tokenizer(sentencePieceModel: corrupt)) { error in
            guard case .invalidFile(let path, let reason)? = error as? TokenizerError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(path, corrupt.path)
            XCTAssertTrue(reason.contains("not a SentencePiece model"), reason)
        }
        try Data("not a model at all".utf8).write(to: corrupt)
        XCTAssertThrowsError(try T5Tokenizer(sentencePieceModel: corrupt)) { error in
            XCTAssertTrue("\(error)".contains(corrupt.path), "\(error)")
        }
        let json = folder.appendingPathComponent("tokenizer.json")
        try Data(#"{"model": {"type": "BPE", "vocab": {}}}"#.utf8).write(to: json)
        XCTAssertThrowsError(try T5Tokenizer(tokenizerJSON: json)) { error in
            XCTAssertEqual(
                error as? TokenizerError,
                .invalidFile(path: json.path, reason: "model type BPE is not supported (expected Unigram)"))
        }
    }
}
