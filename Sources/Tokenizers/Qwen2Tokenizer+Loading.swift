// Loading a Qwen2 tokenizer folder in either generation's layout: transformers 5 writes `tokenizer.json` (BPE model,
// pre-tokenizer and added tokens) with `tokenizer_config.json`; transformers 4 folders such as Qwen/Qwen-Image's
// `tokenizer/` hold `vocab.json` + `merges.txt`, the added tokens in `tokenizer_config.json`'s `added_tokens_decoder`
// (and possibly `added_tokens.json`).
import Foundation

extension Qwen2Tokenizer {
    /// transformers' default `pad_token` for Qwen2.
    public static let defaultPadToken = "<|endoftext|>"
    /// `MAX_MODEL_INPUT_SIZES` of transformers' Qwen2 tokenizer, used when the config names no `model_max_length`.
    public static let fallbackMaxLength = 32768

    /// Reads `tokenizer.json` when the folder has one, else `vocab.json` + `merges.txt`.
    public init(directory: URL) throws {
        let json = directory.appendingPathComponent("tokenizer.json")
        let config = try TokenizerFiles.optionalJSONObject(directory.appendingPathComponent("tokenizer_config.json"))
        if FileManager.default.fileExists(atPath: json.path) {
            try self.init(tokenizerJSON: json, config: config)
        } else {
            try self.init(
                vocabulary: directory.appendingPathComponent("vocab.json"),
                merges: directory.appendingPathComponent("merges.txt"),
                addedTokensFile: directory.appendingPathComponent("added_tokens.json"), config: config)
        }
    }

    init(tokenizerJSON url: URL, config: [String: Any]?) throws {
        let root = try TokenizerFiles.jsonObject(url)
        func invalid(_ reason: String) -> TokenizerError { .invalidFile(path: url.path, reason: reason) }
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "BPE" else {
            throw invalid("model.type is not BPE")
        }
        if let suffix = model["end_of_word_suffix"] as? String, !suffix.isEmpty {
            throw invalid("model.end_of_word_suffix \"\(suffix)\": Qwen2's BPE has none")
        }
        try Self.checkPreTokenizer(root["pre_tokenizer"], invalid: invalid)
        guard let vocabularyObject = model["vocab"] as? [String: Any] else {
            throw invalid("model.vocab is not an object of token ids")
        }
        let vocabulary = try Self.vocabulary(vocabularyObject, invalid: invalid)
        guard let mergeList = model["merges"] as? [Any] else { throw invalid("model.merges is not a list") }
        var mergeRules: [(String, String)] = []
        for (index, entry) in mergeList.enumerated() {
            if let pair = entry as? [String], pair.count == 2 {
                mergeRules.append((pair[0], pair[1]))
            } else if let text = entry as? String, case let parts = text.split(separator: " "), parts.count == 2 {
                mergeRules.append((String(parts[0]), String(parts[1])))
            } else {
                throw invalid("model.merges[\(index)] is not a pair of symbols")
            }
        }
        var added: [AddedToken] = []
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let content = entry["content"] as? String, let id = TokenizerFiles.integer(entry["id"]),
                TokenizerFiles.tokenIDs.contains(id)
            else { throw invalid("an added_tokens entry has no content or a valid id") }
            added.append(AddedToken(content: content, id: id, special: entry["special"] as? Bool ?? false))
        }
        try self.init(
            vocabulary: vocabulary, mergeRules: mergeRules, addedTokens: added, config: config, source: url.path)
    }

    init(vocabulary vocabularyURL: URL, merges mergesURL: URL, addedTokensFile: URL, config: [String: Any]?) throws {
        let vocabularyObject = try TokenizerFiles.jsonObject(vocabularyURL)
        let vocabulary = try Self.vocabulary(vocabularyObject) {
            TokenizerError.invalidFile(path: vocabularyURL.path, reason: $0)
        }
        var mergeRules: [(String, String)] = []
        let lines = try TokenizerFiles.text(mergesURL).split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            if line.hasPrefix("#version") || line.isEmpty { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw TokenizerError.invalidFile(
                    path: mergesURL.path, reason: "line \(index + 1) is not a merge rule of two symbols: \"\(line)\"")
            }
            mergeRules.append((String(parts[0]), String(parts[1])))
        }
        // `added_tokens_decoder` {"id": {"content", "special", …}}; an older `added_tokens.json` {"content": id}.
        var added: [Int: AddedToken] = [:]
        for (key, value) in config?["added_tokens_decoder"] as? [String: Any] ?? [:] {
            guard let id = Int(key), TokenizerFiles.tokenIDs.contains(id),
                let entry = value as? [String: Any], let content = entry["content"] as? String
            else {
                throw TokenizerError.invalidFile(
                    path: mergesURL.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json").path,
                    reason: "added_tokens_decoder entry \"\(key)\" is not an id with a content")
            }
            added[id] = AddedToken(content: content, id: id, special: entry["special"] as? Bool ?? false)
        }
        for (content, value) in try TokenizerFiles.optionalJSONObject(addedTokensFile) ?? [:] {
            guard let id = TokenizerFiles.integer(value), TokenizerFiles.tokenIDs.contains(id) else {
                throw TokenizerError.invalidFile(
                    path: addedTokensFile.path, reason: "the id of \"\(content)\" is \(value), not a token id")
            }
            if added[id] == nil { added[id] = AddedToken(content: content, id: id, special: false) }
        }
        try self.init(
            vocabulary: vocabulary, mergeRules: mergeRules, addedTokens: added.values.sorted { $0.id < $1.id },
            config: config, source: vocabularyURL.path)
    }

    private init(
        vocabulary: [String: Int], mergeRules: [(String, String)], addedTokens: [AddedToken], config: [String: Any]?,
        source: String
    ) throws {
        let encoder = try BytePairEncoder(
            vocabulary: vocabulary, mergeRules: mergeRules, unknownID: nil, source: source, endOfWordSuffix: "")
        let padToken = TokenizerFiles.tokenContent(config?["pad_token"]) ?? Self.defaultPadToken
        guard let padID = addedTokens.first(where: { $0.content == padToken })?.id ?? vocabulary[padToken] else {
            throw TokenizerError.invalidFile(path: source, reason: "pad token \"\(padToken)\" is not a token")
        }
        let maxLength = TokenizerFiles.integer(config?["model_max_length"]).map { min($0, Int(Int32.max)) }
        self.init(
            encoder: encoder, addedTokens: addedTokens, padTokenID: padID,
            defaultMaxLength: maxLength ?? Self.fallbackMaxLength)
    }

    private static func vocabulary(
        _ object: [String: Any], invalid: (String) -> TokenizerError
    ) throws -> [String: Int] {
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(object.count)
        for (token, value) in object {
            guard let id = TokenizerFiles.integer(value), TokenizerFiles.tokenIDs.contains(id) else {
                throw invalid("the id of \"\(token)\" is \(value), expected \(TokenizerFiles.tokenIDs)")
            }
            vocabulary[token] = id
        }
        return vocabulary
    }

    /// Only Qwen2's pre-tokenizer is reproduced: a Split on its pattern, then ByteLevel without its own regex.
    private static func checkPreTokenizer(_ value: Any?, invalid: (String) -> TokenizerError) throws {
        let object = value as? [String: Any]
        let steps = object?["pretokenizers"] as? [[String: Any]] ?? []
        let split = steps.first { $0["type"] as? String == "Split" }
        let pattern = (split?["pattern"] as? [String: Any])?["Regex"] as? String
        let byteLevel = steps.first { $0["type"] as? String == "ByteLevel" }
        guard object?["type"] as? String == "Sequence", steps.count == 2, pattern == Qwen2PreTokenizer.pattern,
            byteLevel?["use_regex"] as? Bool == false, byteLevel?["add_prefix_space"] as? Bool != true
        else {
            throw invalid(
                "pre_tokenizer is not Qwen2's (a Split on its regex, then ByteLevel without regex or prefix space)")
        }
    }
}
