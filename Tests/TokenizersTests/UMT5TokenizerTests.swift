// UMT5's tokenizer (Wan-2.1's google/umt5-xxl) against sentencepiece, transformers and `tokenizers` on a small unigram
// model with byte fallback trained by tools/goldens/umt5.py, in both folder layouts: spiece.model only (transformers 4)
// and tokenizer.json only (transformers 5).
import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

final class UMT5TokenizerTests: XCTestCase {
    private var golden: UMT5Golden { UMT5Golden.shared }
    private let spieceFolder = Fixture.url("tokenizers/umt5/spiece")
    private let jsonFolder = Fixture.url("tokenizers/umt5/json")

    private func check(
        _ tokenizer: T5Tokenizer, expected: KeyPath<UMT5Golden.Prompt, [Int]>, _ name: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let prompts = golden.prompts
        let failures = mismatches(prompts, text: \.text, expected: { $0[keyPath: expected] }, actual: tokenizer.encode)
        print("UMT5 \(name): \(prompts.count - failures.count)/\(prompts.count) prompts identical")
        XCTAssertEqual(failures, [], name, file: file, line: line)
    }

    /// The byte pieces follow <pad>, </s>, <unk>; characters outside the pieces become their UTF-8 bytes.
    func testSentencePieceByteFallbackParity() throws {
        let tokenizer = try T5Tokenizer(sentencePieceModel: spieceFolder.appendingPathComponent("spiece.model"))
        XCTAssertEqual(tokenizer.vocabularySize, golden.pieces)
        XCTAssertEqual(tokenizer.suffixTokenIDs, [1])
        XCTAssertEqual(tokenizer.padTokenID, 0)
        XCTAssertEqual(tokenizer.unknownID, 2)
        // "Ж" (U+0416, not in the training corpus) is D0 96: pieces <0xD0>, <0x96> at 3 + byte.
        XCTAssertEqual(tokenizer.tokenize("Ж").suffix(2), [3 + 0xD0, 3 + 0x96])
        XCTAssertFalse(golden.prompts.contains { $0.sentencepiece.contains(2) }, "byte fallback leaves no <unk>")
        check(tokenizer, expected: \.sentencepiece, "sentencepiece (byte fallback)")
    }

    /// transformers 4 layout: AutoTokenizer converts spiece.model, without byte fallback (unknown characters: <unk>).
    func testTransformersParityFromSpieceOnlyFolder() throws {
        let tokenizer = try T5Tokenizer(directory: spieceFolder)
        XCTAssertEqual(tokenizer.pipeline, .huggingFace)
        XCTAssertEqual(tokenizer.vocabularySize + 100, golden.transformers_vocab_size)
        XCTAssertEqual(tokenizer.defaultMaxLength, 512)
        XCTAssertEqual(tokenizer.tokenIDRange.upperBound, golden.transformers_vocab_size - 1)
        check(tokenizer, expected: \.transformers_spiece, "transformers from spiece.model")
    }

    /// transformers 5 layout: tokenizer.json (byte_fallback false, as transformers writes it for T5 models).
    func testTransformersParityFromJSONOnlyFolder() throws {
        let tokenizer = try T5Tokenizer(directory: jsonFolder)
        XCTAssertEqual(tokenizer.suffixTokenIDs, [1])
        XCTAssertEqual(tokenizer.padTokenID, 0)
        XCTAssertEqual(tokenizer.tokenIDRange.upperBound, golden.transformers_vocab_size - 1)
        check(tokenizer, expected: \.transformers_json, "transformers from tokenizer.json")
    }

    /// A tokenizer.json that declares byte fallback (`model.byte_fallback: true`) spells unknown characters in bytes.
    func testByteFallbackDeclaredInTokenizerJSON() throws {
        let source = jsonFolder.appendingPathComponent("tokenizer.json")
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as! [String: Any]
        var model = root["model"] as! [String: Any]
        model["byte_fallback"] = true
        root["model"] = model
        let url = try temporaryDirectory(self).appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: root).write(to: url)
        let tokenizer = try T5Tokenizer(tokenizerJSON: url)
        let differs = golden.prompts.filter { $0.byte_fallback_json != $0.transformers_json }.count
        XCTAssertGreaterThan(differs, 50, "the prompts exercise byte fallback")
        check(tokenizer, expected: \.byte_fallback_json, "tokenizers, tokenizer.json with byte_fallback")
    }

    /// diffusers' `prompt_clean` (ftfy, HTML entities, whitespace), then the ids of the cleaned text.
    func testWanPromptCleaning() throws {
        let cleaning = golden.cleaning
        let tokenizer = try T5Tokenizer(directory: jsonFolder)
        var wrongText: [String] = []
        var wrongIDs: [String] = []
        for (index, prompt) in cleaning.prompts.enumerated() {
            let cleaned = PromptCleaning.diffusers(prompt)
            if cleaned != cleaning.cleaned[index] {
                wrongText.append("\(prompt.debugDescription): got \(cleaned.debugDescription)")
            }
            if tokenizer.encode(cleaning.cleaned[index]) != cleaning.ids[index] {
                wrongIDs.append(prompt.debugDescription)
            }
        }
        let changed = zip(cleaning.prompts, cleaning.cleaned).filter { $0 != $1 }.count
        print("UMT5 prompt_clean: \(cleaning.prompts.count - wrongText.count)/\(cleaning.prompts.count) identical")
        XCTAssertGreaterThan(changed, 20, "the prompts exercise the cleaning")
        XCTAssertEqual(wrongText, [])
        XCTAssertEqual(wrongIDs, [])
    }

    /// WanPipeline's call: max length 512, padded with <pad> (0), truncated keeping </s>, with the attention mask.
    func testWanBatchPaddingTruncationAndMask() throws {
        let batch = golden.wan_batch
        let tokenizer = try T5Tokenizer(directory: jsonFolder)
        let result = tokenizer(batch.prompts.map(PromptCleaning.diffusers), maxLength: batch.max_length)
        XCTAssertEqual(result.ids, batch.ids)
        XCTAssertEqual(result.attentionMask, batch.attention_mask)
        XCTAssert(batch.attention_mask.contains { $0.allSatisfy { $0 == 1 } }, "one prompt is truncated to 512")
        XCTAssert(batch.ids.contains { $0.last == 0 }, "one prompt is padded")
    }

    func testByteFallbackWithoutBytePiecesIsAnError() throws {
        // A spiece.model that sets byte_fallback must hold the 256 byte pieces (sentencepiece refuses it otherwise).
        let source = spieceFolder.appendingPathComponent("spiece.model")
        var bytes = [UInt8](try Data(contentsOf: source))
        // Rename the piece "<0x41>" to "<0x4G>": the table of 256 byte pieces is then incomplete.
        let needle = Array("<0x41>".utf8)
        let at = (0...(bytes.count - needle.count)).first { Array(bytes[$0..<$0 + needle.count]) == needle }!
        bytes[at + 4] = UInt8(ascii: "4")
        bytes[at + 5] = UInt8(ascii: "G")
        let url = try temporaryDirectory(self).appendingPathComponent("spiece.model")
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try T5Tokenizer(sentencePieceModel: url)) { error in
            XCTAssert("\(error)".contains("byte_fallback"), "\(error)")
            XCTAssert("\(error)".contains(url.path), "\(error)")
        }
    }
}
