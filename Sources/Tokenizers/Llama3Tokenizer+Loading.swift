// Loading a Llama 3 tokenizer folder: `tokenizer.json` (BPE model, pre-tokenizer, added tokens, the post-processor's
// template) with `tokenizer_config.json` (pad token, padding side, model_max_length), as transformers'
// `PreTrainedTokenizerFast` reads them. Only Llama 3's pipeline is reproduced; another one is refused when loading.
import Foundation

extension Llama3Tokenizer {
    /// The length used when the config names no `model_max_length`.
    public static let fallbackMaxLength = 131072

    /// Reads `tokenizer.json` and `tokenizer_config.json` of a folder.
    public init(directory: URL) throws {
        let url = directory.appendingPathComponent("tokenizer.json")
        let config = try TokenizerFiles.optionalJSONObject(directory.appendingPathComponent("tokenizer_config.json"))
        let root = try TokenizerFiles.jsonObject(url)
        func invalid(_ reason: String) -> TokenizerError { .invalidFile(path: url.path, reason: reason) }
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "BPE" else {
            throw invalid("model.type is not BPE")
        }
        if let suffix = model["end_of_word_suffix"] as? String, !suffix.isEmpty {
            throw invalid("model.end_of_word_suffix \"\(suffix)\": Llama 3's BPE has none")
        }
        if !(root["normalizer"] is NSNull || root["normalizer"] == nil) {
            throw invalid("normalizer: Llama 3's tokenizer has none")
        }
        try Self.checkPreTokenizer(root["pre_tokenizer"], invalid: invalid)
        guard let vocabularyObject = model["vocab"] as? [String: Any] else {
            throw invalid("model.vocab is not an object of token ids")
        }
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(vocabularyObject.count)
        for (token, value) in vocabularyObject {
            guard let id = TokenizerFiles.integer(value), TokenizerFiles.tokenIDs.contains(id) else {
                throw invalid("the id of \"\(token)\" is \(value), expected \(TokenizerFiles.tokenIDs)")
            }
            vocabulary[token] = id
        }
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
        var added: [Qwen2Tokenizer.AddedToken] = []
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let content = entry["content"] as? String, let id = TokenizerFiles.integer(entry["id"]),
                TokenizerFiles.tokenIDs.contains(id)
            else { throw invalid("an added_tokens entry has no content or a valid id") }
            added.append(.init(content: content, id: id, special: entry["special"] as? Bool ?? false))
        }
        let encoder = try BytePairEncoder(
            vocabulary: vocabulary, mergeRules: mergeRules, unknownID: nil, source: url.path, endOfWordSuffix: "")
        let frame = try Self.template(root["post_processor"], invalid: invalid)
        guard let padToken = TokenizerFiles.tokenContent(config?["pad_token"]) else {
            throw invalid("tokenizer_config.json names no pad_token, which the pipelines' padding needs")
        }
        guard let padID = added.first(where: { $0.content == padToken })?.id ?? vocabulary[padToken] else {
            throw invalid("pad token \"\(padToken)\" is not a token")
        }
        let sideName = config?["padding_side"] as? String ?? PaddingSide.right.rawValue
        guard let side = PaddingSide(rawValue: sideName) else {
            throw invalid("tokenizer_config.json padding_side \"\(sideName)\" is neither left nor right")
        }
        let maxLength = TokenizerFiles.integer(config?["model_max_length"]).map { min($0, Int(Int32.max)) }
        self.init(
            encoder: encoder, addedTokens: added, padTokenID: padID,
            defaultMaxLength: maxLength ?? Self.fallbackMaxLength, prefixTokenIDs: frame.prefix,
            suffixTokenIDs: frame.suffix, paddingSide: side, ignoresMerges: model["ignore_merges"] as? Bool ?? false)
    }

    /// Llama 3's pre-tokenizer: a Split on its pattern, then ByteLevel without its own regex or prefix space.
    private static func checkPreTokenizer(_ value: Any?, invalid: (String) -> TokenizerError) throws {
        let object = value as? [String: Any]
        let steps = object?["pretokenizers"] as? [[String: Any]] ?? []
        let split = steps.first { $0["type"] as? String == "Split" }
        let pattern = (split?["pattern"] as? [String: Any])?["Regex"] as? String
        let byteLevel = steps.first { $0["type"] as? String == "ByteLevel" }
        guard object?["type"] as? String == "Sequence", steps.count == 2, pattern == Qwen2PreTokenizer.llama3Pattern,
            split?["behavior"] as? String == "Isolated", split?["invert"] as? Bool != true,
            byteLevel?["use_regex"] as? Bool == false, byteLevel?["add_prefix_space"] as? Bool != true
        else {
            throw invalid(
                "pre_tokenizer is not Llama 3's (a Split on its regex, then ByteLevel without regex or prefix space)")
        }
    }

    /// The special tokens the post-processor's `TemplateProcessing` puts around a single sequence (none without one;
    /// a ByteLevel step beside it only fixes offsets).
    private static func template(
        _ value: Any?, invalid: (String) -> TokenizerError
    ) throws -> (prefix: [Int], suffix: [Int]) {
        guard let object = value as? [String: Any] else { return ([], []) }
        let steps = object["type"] as? String == "Sequence" ? object["processors"] as? [[String: Any]] ?? [] : [object]
        var frame: (prefix: [Int], suffix: [Int]) = ([], [])
        for step in steps {
            switch step["type"] as? String {
            case "ByteLevel": continue
            case "TemplateProcessing":
                let specials = step["special_tokens"] as? [String: Any] ?? [:]
                var seenSequence = false
                for item in step["single"] as? [[String: Any]] ?? [] {
                    if item["Sequence"] != nil {
                        seenSequence = true
                    } else if let special = item["SpecialToken"] as? [String: Any], let name = special["id"] as? String,
                        let ids = (specials[name] as? [String: Any])?["ids"] as? [Any]
                    {
                        let values = ids.compactMap { TokenizerFiles.integer($0) }
                        guard values.count == ids.count else { throw invalid("special token \"\(name)\" ids") }
                        if seenSequence { frame.suffix += values } else { frame.prefix += values }
                    } else {
                        throw invalid("post_processor template item \(item) is not a sequence or a known special token")
                    }
                }
            default:
                throw invalid("post_processor \(step["type"] ?? "?") is not Llama 3's (TemplateProcessing)")
            }
        }
        return frame
    }
}
