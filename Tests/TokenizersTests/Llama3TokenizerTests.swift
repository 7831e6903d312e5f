// Llama 3's byte-level BPE tokenizer (HunyuanVideo's tokenizer/) against transformers and `tokenizers` on a small BPE
// trained by tools/goldens/hunyuan_video_text.py (tokenizer.json, as PreTrainedTokenizerFast saves it).
import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

private struct Llama3Golden: Decodable {
    struct Prompt: Decodable {
        let category: String
        let text: String
        let ids: [Int]
    }
    let bpe_vocabulary_size: Int
    let added_tokens: [String]
    let prompts: [Prompt]

    static let shared: Llama3Golden = {
        do {
            return try JSONDecoder().decode(
                Llama3Golden.self, from: Data(contentsOf: Fixture.url("tokenizers/llama3.json")))
        } catch {
            fatalError("cannot read fixture tokenizers/llama3.json: \(error)")
        }
    }()
}

final class Llama3TokenizerTests: XCTestCase {
    private var golden: Llama3Golden { Llama3Golden.shared }
    private let folder = Fixture.url("hunyuan_video_text/tokenizer")

    /// Every prompt's ids, <|begin_of_text|> in front, identical to transformers' (CJK, emoji, digit runs, whitespace,
    /// special tokens inside text, long prompts, and whole words that only `ignore_merges` keeps whole).
    func testTransformersParity() throws {
        let tokenizer = try Llama3Tokenizer(directory: folder)
        XCTAssertEqual(tokenizer.vocabularySize, golden.bpe_vocabulary_size)
        XCTAssertEqual(tokenizer.addedTokens.map(\.content), golden.added_tokens)
        XCTAssertEqual(tokenizer.prefixTokenIDs, [tokenizer.id(of: "<|begin_of_text|>")!])
        XCTAssertEqual(tokenizer.suffixTokenIDs, [])
        XCTAssertEqual(tokenizer.padTokenID, tokenizer.id(of: "<pad>"))
        XCTAssertEqual(tokenizer.paddingSide, .right)
        XCTAssertEqual(tokenizer.defaultMaxLength, 131072)
        XCTAssert(tokenizer.ignoresMerges)
        let prompts = golden.prompts
        let failures = mismatches(prompts, text: \.text, expected: \.ids, actual: tokenizer.encode)
        print("Llama 3: \(prompts.count - failures.count)/\(prompts.count) prompts identical")
        XCTAssertEqual(failures, [])
        for category in ["cjk", "emoji", "numbers", "long", "special", "whitespace", "ignore_merges"] {
            XCTAssert(prompts.contains { $0.category == category }, category)
        }
        // The digit runs and ignore_merges matter: Qwen2's single digits, or BPE over a whole word, give other ids.
        let qwenDigits = prompts.filter { $0.category == "numbers" }.map { prompt in
            tokenizer.prefixTokenIDs
                + Qwen2PreTokenizer.split(Scalars(prompt.text)).flatMap {
                    tokenizer.encoder.encode(wordBytes: Array($0.string.utf8))
                }
        }
        XCTAssertNotEqual(qwenDigits, prompts.filter { $0.category == "numbers" }.map(\.ids))
        let whole = prompts.first { $0.category == "ignore_merges" }!
        let merged = Qwen2PreTokenizer.split(Scalars(whole.text), digitRun: 3).flatMap {
            tokenizer.encoder.encode(wordBytes: Array($0.string.utf8))
        }
        XCTAssertNotEqual(tokenizer.prefixTokenIDs + merged, whole.ids)
    }

    /// Llama 3's pattern: numbers in runs of up to three, the rest as Qwen2's.
    func testPreTokenizerPieces() {
        func pieces(_ text: String) -> [String] {
            Qwen2PreTokenizer.split(Scalars(text), digitRun: 3).map(\.string)
        }
        XCTAssertEqual(pieces("1234567 ab12"), ["123", "456", "7", " ab", "12"])
        XCTAssertEqual(pieces("\u{661}\u{662}\u{663}\u{664}"), ["\u{661}\u{662}\u{663}", "\u{664}"])
        XCTAssertEqual(pieces("I'M 3.14"), ["I", "'M", " ", "3", ".", "14"])
    }

    /// Truncation keeps <|begin_of_text|>; left padding (a `padding_side` of "left") moves the pad tokens in front.
    func testBatchPadding() throws {
        let tokenizer = try Llama3Tokenizer(directory: folder)
        let right = tokenizer.batch(["a cat", "a red fox jumps over the lazy dog"], maxLength: 6)
        XCTAssertEqual(right.ids[0].count, 6)
        XCTAssertEqual(right.ids[1], Array(tokenizer.encode("a red fox jumps over the lazy dog").prefix(6)))
        XCTAssertEqual(right.ids[0].last, tokenizer.padTokenID)
        let left = Llama3Tokenizer(
            encoder: tokenizer.encoder, addedTokens: tokenizer.addedTokens, padTokenID: tokenizer.padTokenID,
            defaultMaxLength: 6, prefixTokenIDs: tokenizer.prefixTokenIDs, suffixTokenIDs: [], paddingSide: .left,
            ignoresMerges: true
        ).batch(["a cat"], maxLength: 6)
        let kept = right.attentionMask[0].reduce(0, +)
        XCTAssertEqual(left.ids[0], Array(right.ids[0][kept...]) + Array(right.ids[0][..<kept]))
        XCTAssertEqual(left.attentionMask[0], Array(right.attentionMask[0].reversed()))
    }

    /// A tokenizer.json with Qwen2's pre-tokenizer, or a normalizer, is refused, not tokenized differently.
    func testFolderErrors() throws {
        let scratch = try temporaryDirectory(self)
        XCTAssertThrowsError(try Llama3Tokenizer(directory: scratch)) { error in
            XCTAssert("\(error)".contains("tokenizer.json"), "\(error)")
        }
        XCTAssertThrowsError(try Llama3Tokenizer(directory: Fixture.url("tokenizers/qwen2/json"))) { error in
            XCTAssert("\(error)".contains("normalizer") || "\(error)".contains("pre_tokenizer"), "\(error)")
        }
        let root =
            try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("tokenizer.json")))
            as! [String: Any]
        var changed = root
        changed["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true]
        try JSONSerialization.data(withJSONObject: changed).write(to: scratch.appendingPathComponent("tokenizer.json"))
        try FileManager.default.copyItem(
            at: folder.appendingPathComponent("tokenizer_config.json"),
            to: scratch.appendingPathComponent("tokenizer_config.json"))
        XCTAssertThrowsError(try Llama3Tokenizer(directory: scratch)) { error in
            XCTAssert("\(error)".contains("pre_tokenizer is not Llama 3's"), "\(error)")
        }
    }
}
