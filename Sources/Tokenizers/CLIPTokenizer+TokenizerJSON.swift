// Loading a CLIP tokenizer saved by transformers 5, which writes the BPE model as `tokenizer.json` alone (no
// vocab.json / merges.txt): `model` holds the vocabulary and merges, `added_tokens` the special tokens.
import Foundation

extension CLIPTokenizer {
    /// Loads a `tokenizer.json` whose model is CLIP's BPE (`"type": "BPE"`, end-of-word suffix `</w>`), with the
    /// special tokens and maximum length from `configurationFiles` as for `vocab.json` + `merges.txt`.
    public init(tokenizerJSON url: URL, configurationFiles: [URL] = [], cleaning: TextCleaning = .huggingFace) throws {
        let root = try TokenizerFiles.jsonObject(url)
        func invalid(_ reason: String) -> TokenizerError { .invalidFile(path: url.path, reason: reason) }
        guard let model = root["model"] as? [String: Any] else { throw invalid("no \"model\" object") }
        guard model["type"] as? String == "BPE" else {
            throw invalid("model.type \(model["type"] ?? "missing") is not supported (expected BPE)")
        }
        let suffix = model["end_of_word_suffix"] as? String
        guard suffix == BytePairEncoder.endOfWord else {
            throw invalid(
                "model.end_of_word_suffix \(suffix.map { "\"\($0)\"" } ?? "missing") is not CLIP's "
                    + "\"\(BytePairEncoder.endOfWord)\"")
        }
        guard let vocabularyObject = model["vocab"] as? [String: Any] else {
            throw invalid("model.vocab is not an object of token ids")
        }
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(vocabularyObject.count)
        for (token, value) in vocabularyObject {
            guard let id = TokenizerFiles.integer(value), TokenizerFiles.tokenIDs.contains(id) else {
                throw invalid("model.vocab id of \"\(token)\" is \(value), expected \(TokenizerFiles.tokenIDs)")
            }
            vocabulary[token] = id
        }
        guard let mergeList = model["merges"] as? [Any] else { throw invalid("model.merges is not a list") }
        // tokenizers writes each merge as "left right" (before 0.20) or as ["left", "right"].
        var mergeRules: [(String, String)] = []
        mergeRules.reserveCapacity(mergeList.count)
        for (index, entry) in mergeList.enumerated() {
            if let pair = entry as? [String], pair.count == 2 {
                mergeRules.append((pair[0], pair[1]))
            } else if let text = entry as? String, case let parts = text.split(separator: " "), parts.count == 2 {
                mergeRules.append((String(parts[0]), String(parts[1])))
            } else {
                throw invalid("model.merges[\(index)] is not a pair of symbols")
            }
        }
        var addedTokens: [String: Int] = [:]
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let content = entry["content"] as? String, let id = TokenizerFiles.integer(entry["id"]) else {
                throw invalid("an added_tokens entry has no content or id")
            }
            guard TokenizerFiles.tokenIDs.contains(id) else {
                throw invalid("added token \"\(content)\" has id \(id), expected \(TokenizerFiles.tokenIDs)")
            }
            addedTokens[content] = id
        }
        try self.init(
            vocabulary: vocabulary, mergeRules: mergeRules, addedTokens: addedTokens,
            configurationFiles: configurationFiles, cleaning: cleaning, vocabularyPath: url.path, mergesPath: url.path)
    }
}
