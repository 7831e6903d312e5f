// The reference ids written by tools/goldens/tokenizer_ids.py, and shared helpers of the tokenizer tests.
import Foundation
import TestSupport
import Tokenizers
import XCTest

struct CLIPGolden: Decodable {
    struct Prompt: Decodable {
        let category: String
        let text: String
        let open_clip: [Int]
        let transformers: [Int]
    }
    struct Batch: Decodable {
        let texts: [String]
        let max_length: Int
        let open_clip_ids: [[Int]]
        let transformers_ids: [[Int]]
        let transformers_attention_mask: [[Int]]
    }
    let prompts: [Prompt]
    let batch: Batch

    static let shared: CLIPGolden = load("tokenizers/clip.json")
}

struct T5Golden: Decodable {
    struct Prompt: Decodable {
        let category: String
        let text: String
        let sentencepiece: [Int]
        let transformers: [Int]
    }
    struct Model: Decodable {
        /// SentencePiece pieces, and transformers' vocabulary size (pieces plus the 100 sentinels).
        let pieces: Int
        let transformers_vocab_size: Int
        let prompts: [Prompt]
    }
    struct Batch: Decodable {
        let texts: [String]
        let max_length: Int
        let transformers_ids: [[Int]]
        let transformers_attention_mask: [[Int]]
    }
    let nfkc: Model
    let rules: Model
    /// transformers' ids for the rules model's tokenizer.json rearranged into the older layout (see
    /// T5TokenizerTests.legacyLayout), one row per prompt of `rules`.
    let rules_legacy_layout_ids: [[Int]]
    let batch: Batch

    static let shared: T5Golden = load("tokenizers/t5.json")
}

/// UMT5-style goldens (tools/goldens/umt5.py): a unigram model with byte fallback in both transformers layouts.
struct UMT5Golden: Decodable {
    struct Prompt: Decodable {
        let category: String
        let text: String
        /// sentencepiece: unknown characters as their UTF-8 byte pieces.
        let sentencepiece: [Int]
        /// transformers (AutoTokenizer) on the spiece.model-only folder and on the tokenizer.json-only folder.
        let transformers_spiece: [Int]
        let transformers_json: [Int]
        /// `tokenizers` on that tokenizer.json with `model.byte_fallback` set to true.
        let byte_fallback_json: [Int]
    }
    struct Cleaning: Decodable {
        let prompts: [String]
        /// diffusers' `prompt_clean` of each prompt, and transformers' ids of the cleaned text.
        let cleaned: [String]
        let ids: [[Int]]
    }
    struct Batch: Decodable {
        let prompts: [String]
        let max_length: Int
        let ids: [[Int]]
        let attention_mask: [[Int]]
    }
    let pieces: Int
    let transformers_vocab_size: Int
    let prompts: [Prompt]
    let cleaning: Cleaning
    /// Prompts cleaned and tokenized as WanPipeline does (512, padded, truncated, with the mask).
    let wan_batch: Batch

    static let shared: UMT5Golden = load("tokenizers/umt5.json")
}

private func load<T: Decodable>(_ name: String) -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: Fixture.url(name)))
    } catch {
        fatalError("cannot read fixture \(name): \(error)")
    }
}

/// Loaded once: building the 49k-merge vocabulary takes a moment in debug builds.
enum SharedTokenizers {
    /// The vocabulary bundled with the Tokenizers target (tools/goldens/tokenizer_ids.py copies it from the
    /// open_clip wheel): every open_clip parity test runs on the file users get.
    static let openCLIPVocabulary = CLIPTokenizer.bundledOpenCLIPVocabulary!
    static let openCLIP: CLIPTokenizer = try! CLIPTokenizer(openCLIPVocabulary: openCLIPVocabulary)
    static let clipHuggingFace: CLIPTokenizer = try! CLIPTokenizer(
        openCLIPVocabulary: openCLIPVocabulary, cleaning: .huggingFace)
}

/// Compares `actual(text)` with the expected ids of every prompt; returns the prompts that differ, described.
func mismatches<P>(
    _ prompts: [P], text: (P) -> String, expected: (P) -> [Int], actual: (String) -> [Int]
) -> [String] {
    prompts.compactMap { prompt in
        let ids = actual(text(prompt))
        guard ids != expected(prompt) else { return nil }
        return "\(text(prompt).debugDescription): got \(ids) expected \(expected(prompt))"
    }
}
