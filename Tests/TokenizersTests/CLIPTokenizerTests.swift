// CLIP tokenizer against open_clip's SimpleTokenizer and transformers' CLIPTokenizer on the same prompts.
import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

final class CLIPTokenizerTests: XCTestCase {
    private var golden: CLIPGolden { CLIPGolden.shared }

    /// ftfy's mojibake repair is deliberately not reproduced (see TextFixer.swift); those prompts are reported only.
    private var parityPrompts: [CLIPGolden.Prompt] { golden.prompts.filter { $0.category != "mojibake" } }

    func testVocabularyMatchesOpenCLIP() {
        let tokenizer = SharedTokenizers.openCLIP
        XCTAssertEqual(tokenizer.vocabularySize, 49408)
        XCTAssertEqual(tokenizer.startOfTextID, 49406)
        XCTAssertEqual(tokenizer.endOfTextID, 49407)
        XCTAssertEqual(tokenizer.padTokenID, 0)
    }

    /// The vocabulary bundled with the Tokenizers target (for HPS-v2.1 and open_clip folders without one) is found
    /// in SwiftPM's resource bundle and tokenizes as open_clip's `tokenize` (ids from the real open_clip module,
    /// padded to 77; every other open_clip test here uses the same file through `SharedTokenizers`).
    func testBundledVocabularyMatchesOpenCLIPTokenize() throws {
        let url = try XCTUnwrap(CLIPTokenizer.bundledOpenCLIPVocabulary)
        XCTAssertTrue(url.path.contains("DanceGRPO_Tokenizers.resources/"), url.path)
        XCTAssertEqual(url.lastPathComponent, "bpe_simple_vocab_16e6.txt.gz")
        let tokenizer = try CLIPTokenizer.openCLIPBundled()
        XCTAssertEqual(tokenizer.vocabularySize, 49408)
        let batch = golden.batch
        let count = min(6, batch.texts.count)
        let result = tokenizer(Array(batch.texts.prefix(count)), maxLength: batch.max_length)
        XCTAssertEqual(result.ids, Array(batch.open_clip_ids.prefix(count)))
    }

    func testOpenCLIPParity() {
        let tokenizer = SharedTokenizers.openCLIP
        let failures = mismatches(parityPrompts, text: \.text, expected: \.open_clip, actual: tokenizer.encode)
        print("CLIP open_clip parity: \(parityPrompts.count - failures.count)/\(parityPrompts.count) prompts identical")
        XCTAssertEqual(failures, [])
        let mojibake = golden.prompts.filter { $0.category == "mojibake" }
        let mojibakeFailures = mismatches(mojibake, text: \.text, expected: \.open_clip, actual: tokenizer.encode)
        let identical = mojibake.count - mojibakeFailures.count
        print("CLIP open_clip on mojibake (ftfy repair not implemented): \(identical)/\(mojibake.count) identical")
    }

    func testTransformersParityWithOpenCLIPFile() {
        let tokenizer = SharedTokenizers.clipHuggingFace
        let failures = mismatches(golden.prompts, text: \.text, expected: \.transformers, actual: tokenizer.encode)
        let identical = golden.prompts.count - failures.count
        print("CLIP transformers parity: \(identical)/\(golden.prompts.count) prompts identical")
        XCTAssertEqual(failures, [])
    }

    func testBatchPaddingAndTruncationMatchOpenCLIP() {
        let batch = golden.batch
        let result = SharedTokenizers.openCLIP(batch.texts, maxLength: batch.max_length)
        let untruncated = Dictionary(golden.prompts.map { ($0.text, $0.open_clip) }, uniquingKeysWith: { a, _ in a })
        for (index, text) in batch.texts.enumerated() {
            XCTAssertEqual(result.ids[index], batch.open_clip_ids[index], text.debugDescription)
            // open_clip pads with 0 and returns no mask; the mask covers the framed text, truncated to 77.
            let length = min(untruncated[text]!.count, 77)
            let expectedMask = Array(repeating: 1, count: length) + Array(repeating: 0, count: 77 - length)
            XCTAssertEqual(result.attentionMask[index], expectedMask, text.debugDescription)
        }
    }

    func testBatchPaddingAndTruncationMatchTransformers() {
        let batch = golden.batch
        let result = SharedTokenizers.clipHuggingFace(batch.texts, maxLength: batch.max_length)
        XCTAssertEqual(result.ids, batch.transformers_ids)
        XCTAssertEqual(result.attentionMask, batch.transformers_attention_mask)
    }

    func testTruncationKeepsEndOfText() {
        let long = String(repeating: "cat ", count: 200)
        let ids = SharedTokenizers.openCLIP([long]).ids[0]
        XCTAssertEqual(ids.count, 77)
        XCTAssertEqual(ids.first, 49406)
        XCTAssertEqual(ids.last, 49407)
        let untruncated = SharedTokenizers.openCLIP([long], truncation: false).ids[0]
        XCTAssertEqual(untruncated.count, 202)
        XCTAssertEqual(Array(untruncated.prefix(76)), Array(ids.prefix(76)))
    }

    func testLongestPaddingAndNoPadding() {
        let tokenizer = SharedTokenizers.clipHuggingFace
        let longest = tokenizer(["a", "a photo of a cat"], padding: .longest)
        XCTAssertEqual(longest.ids.map(\.count), [7, 7])
        XCTAssertEqual(longest.ids[0], [49406, 320, 49407, 49407, 49407, 49407, 49407])
        XCTAssertEqual(longest.attentionMask[0], [1, 1, 1, 0, 0, 0, 0])
        let ragged = tokenizer(["a", "a photo of a cat"], padding: .none)
        XCTAssertEqual(ragged.ids.map(\.count), [3, 7])
        XCTAssertEqual(ragged.attentionMask[1], Array(repeating: 1, count: 7))
    }

    func testDirectoryLoaderMatchesTransformers() throws {
        let folder = try temporaryDirectory(self)
        try writeTransformersFolder(to: folder)
        let tokenizer = try CLIPTokenizer(directory: folder)
        XCTAssertEqual(tokenizer.cleaning, .huggingFace)
        XCTAssertEqual(tokenizer.padTokenID, 49407)
        XCTAssertEqual(tokenizer.defaultMaxLength, 77)
        let failures = mismatches(golden.prompts, text: \.text, expected: \.transformers, actual: tokenizer.encode)
        XCTAssertEqual(failures, [])
        let batch = golden.batch
        XCTAssertEqual(tokenizer(batch.texts).ids, batch.transformers_ids)
    }

    func testDirectoryLoaderReadsSpecialTokensFromConfig() throws {
        let folder = try temporaryDirectory(self)
        try writeTransformersFolder(to: folder)
        // Stable Diffusion 2's tokenizer pads with "!" (id 0); special_tokens_map.json wins over tokenizer_config.json.
        try Data(#"{"pad_token": "<|endoftext|>", "model_max_length": 64}"#.utf8)
            .write(to: folder.appendingPathComponent("tokenizer_config.json"))
        try Data(#"{"pad_token": {"content": "!", "lstrip": false}}"#.utf8)
            .write(to: folder.appendingPathComponent("special_tokens_map.json"))
        let tokenizer = try CLIPTokenizer(directory: folder)
        XCTAssertEqual(tokenizer.padTokenID, 0)
        XCTAssertEqual(tokenizer.defaultMaxLength, 64)
        XCTAssertEqual(tokenizer(["a"]).ids[0].suffix(2), [0, 0])
        // transformers then splits every "!" out as the pad token (ids from CLIPTokenizer(..., pad_token="!")).
        XCTAssertEqual(tokenizer.encode("hello!world !!"), [49406, 3306, 0, 1002, 0, 0, 49407])
    }

    func testMissingFilesAreNamed() throws {
        let folder = try temporaryDirectory(self)
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder)) { error in
            let vocabulary = folder.appendingPathComponent("vocab.json")
            XCTAssertEqual(error as? TokenizerError, .missingFile(path: vocabulary.path))
        }
        try writeTransformersFolder(to: folder)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("merges.txt"))
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder)) { error in
            let merges = folder.appendingPathComponent("merges.txt")
            XCTAssertEqual(error as? TokenizerError, .missingFile(path: merges.path))
        }
        let missing = folder.appendingPathComponent("bpe_simple_vocab_16e6.txt.gz")
        XCTAssertThrowsError(try CLIPTokenizer(openCLIPVocabulary: missing)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingFile(path: missing.path))
        }
    }

    func testCorruptFilesAreNamed() throws {
        let folder = try temporaryDirectory(self)
        try writeTransformersFolder(to: folder)
        let vocab = folder.appendingPathComponent("vocab.json")
        try Data("{not json".utf8).write(to: vocab)
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder)) { error in
            XCTAssertTrue("\(error)".contains(vocab.path), "\(error)")
        }
        try writeTransformersFolder(to: folder)
        let merges = folder.appendingPathComponent("merges.txt")
        try Data("#version: 0.2\ni n\nthree parts here\n".utf8).write(to: merges)
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder)) { error in
            XCTAssertEqual(
                error as? TokenizerError,
                .invalidFile(
                    path: merges.path, reason: "line 3 is not a merge rule of two symbols: \"three parts here\""))
        }
        try Data("#version: 0.2\nq \u{1F600}\n".utf8).write(to: merges)
        XCTAssertThrowsError(try CLIPTokenizer(directory: folder)) { error in
            XCTAssertTrue("\(error)".contains("missing from the vocabulary"), "\(error)")
        }
        // A gzip file cut in half fails its trailer checks.
        var gz = try Data(contentsOf: SharedTokenizers.openCLIPVocabulary)
        gz = gz.prefix(gz.count / 2)
        let truncated = folder.appendingPathComponent("truncated.txt.gz")
        try gz.write(to: truncated)
        XCTAssertThrowsError(try CLIPTokenizer(openCLIPVocabulary: truncated)) { error in
            XCTAssertTrue("\(error)".contains(truncated.path), "\(error)")
        }
    }

    /// Writes vocab.json, merges.txt and special_tokens_map.json built from open_clip's merges the way the golden
    /// generator exported them for transformers.
    private func writeTransformersFolder(to folder: URL) throws {
        let compressed = [UInt8](try Data(contentsOf: SharedTokenizers.openCLIPVocabulary))
        let text = String(decoding: try Gzip.decompress(compressed), as: UTF8.self)
        let merges = text.split(separator: "\n", omittingEmptySubsequences: false)[1...48894]
        var tokens = ByteLevelAlphabet.vocabularyOrder.map { String($0) }
        tokens += tokens.map { $0 + "</w>" }
        tokens += merges.map { $0.replacingOccurrences(of: " ", with: "") }
        tokens += ["<|startoftext|>", "<|endoftext|>"]
        let vocabulary = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($0.element, $0.offset) })
        try JSONSerialization.data(withJSONObject: vocabulary).write(to: folder.appendingPathComponent("vocab.json"))
        try Data(("#version: 0.2\n" + merges.joined(separator: "\n") + "\n").utf8)
            .write(to: folder.appendingPathComponent("merges.txt"))
        let specialTokens = #"""
            {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
             "unk_token": {"content": "<|endoftext|>"}}
            """#
        try Data(specialTokens.utf8).write(to: folder.appendingPathComponent("special_tokens_map.json"))
        try? FileManager.default.removeItem(at: folder.appendingPathComponent("tokenizer_config.json"))
    }
}
