// Qwen2's byte-level BPE tokenizer (Qwen-Image's tokenizer/) against transformers and `tokenizers` on a small BPE
// trained by tools/goldens/qwen2vl_text.py, in both folder layouts: vocab.json + merges.txt (transformers 4) and
// tokenizer.json (transformers 5).
import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

private struct Qwen2Golden: Decodable {
    struct Prompt: Decodable {
        let category: String
        let text: String
        let ids: [Int]
    }
    struct Batch: Decodable {
        let template: String
        let max_length: Int
        let prompts: [String]
        let ids: [[Int]]
        let attention_mask: [[Int]]
    }
    let bpe_vocabulary_size: Int
    let added_tokens: [String]
    let prompts: [Prompt]
    let qwen_image_batch: Batch

    static let shared: Qwen2Golden = {
        do {
            return try JSONDecoder().decode(
                Qwen2Golden.self, from: Data(contentsOf: Fixture.url("tokenizers/qwen2.json")))
        } catch {
            fatalError("cannot read fixture tokenizers/qwen2.json: \(error)")
        }
    }()
}

final class Qwen2TokenizerTests: XCTestCase {
    private var golden: Qwen2Golden { Qwen2Golden.shared }
    private let legacyFolder = Fixture.url("tokenizers/qwen2/legacy")
    private let jsonFolder = Fixture.url("tokenizers/qwen2/json")

    private func check(_ tokenizer: Qwen2Tokenizer, _ name: String, file: StaticString = #filePath, line: UInt = #line)
    {
        let prompts = golden.prompts
        let failures = mismatches(prompts, text: \.text, expected: \.ids, actual: tokenizer.encode)
        print("Qwen2 \(name): \(prompts.count - failures.count)/\(prompts.count) prompts identical")
        XCTAssertEqual(failures, [], name, file: file, line: line)
        // The prompt set reaches what the brief asks for: CJK, emoji, numbers, long prompts, added tokens in text.
        for category in ["cjk", "emoji", "numbers", "long", "special", "whitespace"] {
            XCTAssert(prompts.contains { $0.category == category }, category)
        }
    }

    func testTransformersParityFromVocabAndMerges() throws {
        let tokenizer = try Qwen2Tokenizer(directory: legacyFolder)
        XCTAssertEqual(tokenizer.vocabularySize, golden.bpe_vocabulary_size)
        XCTAssertEqual(tokenizer.addedTokens.map(\.content), golden.added_tokens)
        XCTAssertEqual(tokenizer.id(of: "<|endoftext|>"), golden.bpe_vocabulary_size)
        XCTAssertEqual(tokenizer.padTokenID, tokenizer.id(of: "<|endoftext|>"))
        XCTAssertEqual(tokenizer.prefixTokenIDs + tokenizer.suffixTokenIDs, [])
        check(tokenizer, "transformers from vocab.json + merges.txt")
    }

    func testTransformersParityFromTokenizerJSON() throws {
        let tokenizer = try Qwen2Tokenizer(directory: jsonFolder)
        XCTAssertEqual(tokenizer.vocabularySize, golden.bpe_vocabulary_size)
        XCTAssertEqual(tokenizer.addedTokens.map(\.content), golden.added_tokens)
        XCTAssertEqual(tokenizer.defaultMaxLength, 131072)
        check(tokenizer, "transformers from tokenizer.json")
    }

    /// The pipeline's call: the chat template around each prompt, padded to the longest row with <|endoftext|> on the
    /// right, truncated to 1024 + 34 tokens (two prompts are longer).
    func testQwenImageTemplateBatch() throws {
        let tokenizer = try Qwen2Tokenizer(directory: jsonFolder)
        let batch = golden.qwen_image_batch
        let texts = batch.prompts.map { batch.template.replacingOccurrences(of: "{}", with: $0) }
        let out = tokenizer(texts, maxLength: batch.max_length, padding: .longest)
        XCTAssertEqual(out.ids, batch.ids)
        XCTAssertEqual(out.attentionMask, batch.attention_mask)
        XCTAssertEqual(out.ids.last?.count, 1024 + 34)
        XCTAssert(batch.attention_mask.contains { $0.contains(0) }, "a padded row")
    }

    /// The pre-tokenizer's alternatives one by one (pieces as the pattern's `findall` gives them).
    func testPreTokenizerPieces() {
        func pieces(_ text: String) -> [String] { Qwen2PreTokenizer.split(Scalars(text)).map(\.string) }
        XCTAssertEqual(pieces("I'M here's"), ["I", "'M", " here", "'s"])
        XCTAssertEqual(pieces("2024 abc!!x"), ["2", "0", "2", "4", " abc", "!!", "x"])
        XCTAssertEqual(pieces("a  b"), ["a", " ", " b"])
        XCTAssertEqual(pieces(" \t\n\n  x  "), [" \t\n\n", " ", " x", "  "])
        XCTAssertEqual(pieces("!?\n\nnext"), ["!?\n\n", "next"])
        XCTAssertEqual(pieces("\u{4e00}\u{53ea}\u{732b}, 猫"), ["\u{4e00}\u{53ea}\u{732b}", ",", " 猫"])
    }

    func testFolderErrors() throws {
        let folder = try temporaryDirectory(self)
        XCTAssertThrowsError(try Qwen2Tokenizer(directory: folder)) { error in
            XCTAssert("\(error)".contains("vocab.json"), "\(error)")
        }
        // A tokenizer.json with another pre-tokenizer is refused, not tokenized differently.
        var root =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: jsonFolder.appendingPathComponent("tokenizer.json"))) as! [String: Any]
        root["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true]
        try JSONSerialization.data(withJSONObject: root).write(to: folder.appendingPathComponent("tokenizer.json"))
        XCTAssertThrowsError(try Qwen2Tokenizer(directory: folder)) { error in
            XCTAssert("\(error)".contains("pre_tokenizer is not Qwen2's"), "\(error)")
        }
    }
}
