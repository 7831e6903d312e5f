// Loading CLIP's vocabulary from open_clip's merges file or from a transformers/diffusers tokenizer folder.
import Foundation

extension CLIPTokenizer {
    /// open_clip's special tokens; transformers names the same two ids `<|startoftext|>` and `<|endoftext|>`.
    public static let openCLIPSpecialTokens = (start: "<start_of_text>", end: "<end_of_text>")
    public static let huggingFaceSpecialTokens = (start: "<|startoftext|>", end: "<|endoftext|>")
    public static let contextLength = 77

    /// Loads open_clip's `bpe_simple_vocab_16e6.txt.gz` (gzip-compressed or already decompressed): a header line,
    /// then one merge rule per line, of which CLIP uses the first 48,894. The vocabulary is built from them as
    /// open_clip does: the 256 byte symbols, the same with "</w>", one token per merge, then the two special tokens
    /// (ids 49406 and 49407).
    ///
    /// - Parameters:
    ///   - cleaning: `.openCLIP` (default) reproduces open_clip's `tokenize`; `.huggingFace` reproduces
    ///     transformers' `CLIPTokenizer` built from the same merges (special tokens then read `<|startoftext|>`,
    ///     `<|endoftext|>`).
    ///   - padTokenID: defaults to 0 for open_clip and to the end-of-text id for transformers.
    public init(openCLIPVocabulary url: URL, cleaning: TextCleaning = .openCLIP, padTokenID: Int? = nil) throws {
        var bytes = try TokenizerFiles.bytes(url)
        if bytes.starts(with: [0x1F, 0x8B]) {
            do {
                bytes = try Gzip.decompress(bytes)
            } catch let error as GzipError {
                throw TokenizerError.invalidFile(path: url.path, reason: error.description)
            }
        }
        _ = try TokenizerFiles.utf8(bytes, path: url.path)
        let mergeCount = 49152 - 256 - 2
        let lines = bytes.split(separator: 0x0A, maxSplits: mergeCount + 1, omittingEmptySubsequences: false)
        guard lines.count > mergeCount else {
            throw TokenizerError.invalidFile(
                path: url.path, reason: "expected a header and \(mergeCount) merge lines, found \(lines.count) lines")
        }
        var mergeRules: [(String, String)] = []
        mergeRules.reserveCapacity(mergeCount)
        for (index, line) in lines[1...mergeCount].enumerated() {
            // Python's `str.split()`: any run of ASCII whitespace separates.
            let parts = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
            guard parts.count == 2 else {
                let text = String(decoding: line, as: UTF8.self)
                throw TokenizerError.invalidFile(
                    path: url.path, reason: "line \(index + 2) is not a merge rule of two symbols: \"\(text)\"")
            }
            mergeRules.append((String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self)))
        }
        let names = cleaning == .openCLIP ? Self.openCLIPSpecialTokens : Self.huggingFaceSpecialTokens
        var tokens = ByteLevelAlphabet.vocabularyOrder.map { String($0) }
        tokens += tokens.map { $0 + BytePairEncoder.endOfWord }
        tokens += mergeRules.map { $0.0 + $0.1 }
        tokens += [names.start, names.end]
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() { vocabulary[token] = id }  // a repeated token keeps its last id
        let start = tokens.count - 2
        let end = tokens.count - 1
        let encoder = try BytePairEncoder(
            vocabulary: vocabulary, mergeRules: mergeRules, unknownID: cleaning == .openCLIP ? nil : end,
            source: url.path)
        self.init(
            encoder: encoder, startOfTextID: start, endOfTextID: end,
            padTokenID: padTokenID ?? (cleaning == .openCLIP ? 0 : end),
            specialTokens: [(names.start, start), (names.end, end)],
            cleaning: cleaning, defaultMaxLength: Self.contextLength)
    }

    /// The file name open_clip gives its vocabulary (`open_clip/bpe_simple_vocab_16e6.txt.gz` in the wheel).
    public static let openCLIPVocabularyFileName = "bpe_simple_vocab_16e6.txt.gz"

    /// open_clip's vocabulary as bundled with this package (Sources/Tokenizers/Resources, MIT, see NOTICE there), so
    /// that open_clip checkpoints need no separate vocabulary download; nil when the resource bundle is not found.
    ///
    /// The bundle is looked up by hand rather than through SwiftPM's generated `Bundle.module`, whose accessor calls
    /// `fatalError` when an executable was copied without its `DanceGRPO_Tokenizers.resources` folder: here the
    /// caller gets an error naming the file to provide instead. Looked in: the resource bundle next to the executable
    /// (SwiftPM's build folders, where `swift run`/`swift test` and `make run` find it, or an installed copy), then
    /// this source file's checkout.
    public static var bundledOpenCLIPVocabulary: URL? {
        let inBundle = "DanceGRPO_Tokenizers.resources/Resources/" + openCLIPVocabularyFileName
        var candidates = [Bundle.main.bundleURL.appendingPathComponent(inBundle)]
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent(inBundle))
        }
        candidates.append(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Resources/" + openCLIPVocabularyFileName))
        return candidates.first { FileManager.default.isReadableFile(atPath: $0.path) }
    }

    /// open_clip's tokenizer from the bundled vocabulary (``bundledOpenCLIPVocabulary``): open_clip's `tokenize` with
    /// its default `SimpleTokenizer`.
    public static func openCLIPBundled(cleaning: TextCleaning = .openCLIP) throws -> CLIPTokenizer {
        guard let url = bundledOpenCLIPVocabulary else {
            throw TokenizerError.missingFile(
                path: "DanceGRPO_Tokenizers.resources/Resources/\(openCLIPVocabularyFileName) (next to the executable)")
        }
        return try CLIPTokenizer(openCLIPVocabulary: url, cleaning: cleaning)
    }

    /// Loads a transformers/diffusers CLIP tokenizer folder (such as FLUX's `tokenizer/`) in either layout:
    /// `vocab.json` and `merges.txt` (transformers 4 and diffusers), or `tokenizer.json` alone (transformers 5), with
    /// the special tokens and maximum length from `tokenizer_config.json` and `special_tokens_map.json` when present
    /// (the latter wins, as in transformers).
    public init(directory: URL, cleaning: TextCleaning = .huggingFace) throws {
        let configurationFiles = [
            directory.appendingPathComponent("tokenizer_config.json"),
            directory.appendingPathComponent("special_tokens_map.json")
        ]
        let vocabularyFile = directory.appendingPathComponent("vocab.json")
        let tokenizerJSON = directory.appendingPathComponent("tokenizer.json")
        if !FileManager.default.fileExists(atPath: vocabularyFile.path),
            FileManager.default.fileExists(atPath: tokenizerJSON.path)
        {
            try self.init(tokenizerJSON: tokenizerJSON, configurationFiles: configurationFiles, cleaning: cleaning)
            return
        }
        try self.init(
            vocabularyFile: vocabularyFile, mergesFile: directory.appendingPathComponent("merges.txt"),
            configurationFiles: configurationFiles, cleaning: cleaning)
    }

    /// Loads `vocab.json` + `merges.txt`. `configurationFiles` are optional JSON files read in order (later ones
    /// override earlier ones) for `bos_token`, `eos_token`, `pad_token`, `unk_token`, `model_max_length` and
    /// `added_tokens_decoder`.
    public init(
        vocabularyFile: URL, mergesFile: URL, configurationFiles: [URL] = [], cleaning: TextCleaning = .huggingFace
    ) throws {
        var vocabulary: [String: Int] = [:]
        for (token, value) in try TokenizerFiles.jsonObject(vocabularyFile) {
            guard let id = TokenizerFiles.integer(value) else {
                throw TokenizerError.invalidFile(
                    path: vocabularyFile.path, reason: "the id of token \"\(token)\" is not an integer")
            }
            guard TokenizerFiles.tokenIDs.contains(id) else {
                throw TokenizerError.invalidFile(
                    path: vocabularyFile.path,
                    reason: "the id of token \"\(token)\" is \(id), expected \(TokenizerFiles.tokenIDs)")
            }
            vocabulary[token] = id
        }
        let mergeRules = try Self.readMerges(mergesFile)
        try self.init(
            vocabulary: vocabulary, mergeRules: mergeRules, addedTokens: [:], configurationFiles: configurationFiles,
            cleaning: cleaning, vocabularyPath: vocabularyFile.path, mergesPath: mergesFile.path)
    }

    /// The shared part of the transformers loaders: special tokens, unknown token and maximum length from the
    /// configuration files (later ones override earlier ones) over the parsed vocabulary, merges and added tokens.
    init(
        vocabulary: [String: Int], mergeRules: [(String, String)], addedTokens fileAddedTokens: [String: Int],
        configurationFiles: [URL], cleaning: TextCleaning, vocabularyPath: String, mergesPath: String
    ) throws {
        var settings: [String: Any] = [:]
        var addedTokens = fileAddedTokens
        var maxLengthSource: (file: String, value: Any)?
        for file in configurationFiles {
            guard let object = try TokenizerFiles.optionalJSONObject(file) else { continue }
            settings.merge(object) { _, new in new }
            if let value = object["model_max_length"] { maxLengthSource = (file.path, value) }
            for (key, value) in object["added_tokens_decoder"] as? [String: Any] ?? [:] {
                guard let id = Int(key), let content = TokenizerFiles.tokenContent(value) else { continue }
                guard TokenizerFiles.tokenIDs.contains(id) else {
                    throw TokenizerError.invalidFile(
                        path: file.path,
                        reason: "added_tokens_decoder id \(id) of \"\(content)\": expected \(TokenizerFiles.tokenIDs)")
                }
                addedTokens[content] = id
            }
        }
        func id(of key: String, default defaultToken: String) throws -> (String, Int) {
            let token = TokenizerFiles.tokenContent(settings[key]) ?? defaultToken
            guard let id = vocabulary[token] ?? addedTokens[token] else {
                throw TokenizerError.invalidFile(
                    path: vocabularyPath, reason: "\(key) \"\(token)\" is not in the vocabulary")
            }
            return (token, id)
        }
        let names = Self.huggingFaceSpecialTokens
        let bos = try id(of: "bos_token", default: names.start)
        let eos = try id(of: "eos_token", default: names.end)
        let pad = try id(of: "pad_token", default: names.end)
        let unk = try id(of: "unk_token", default: names.end)
        var maxLength = Self.contextLength
        if let source = maxLengthSource, let value = TokenizerFiles.integer(source.value),
            (1...(1 << 20)).contains(value)
        {
            maxLength = value
        } else {
            // transformers writes a huge model_max_length for "no limit"; CLIP's positions still end at 77.
            LoadWarnings.defaultTaken(
                file: maxLengthSource?.file ?? configurationFiles.first?.path ?? vocabularyPath,
                key: "model_max_length", value: "\(Self.contextLength)",
                reason: maxLengthSource.map { "\($0.value) is no length" })
        }
        let encoder = try BytePairEncoder(
            vocabulary: vocabulary, mergeRules: mergeRules, unknownID: unk.1, source: mergesPath)
        var specials: [(text: String, id: Int)] = []
        if cleaning == .huggingFace {
            // transformers splits every configured special token out of the raw text (for Stable Diffusion 2's
            // pad token "!", that includes every "!").
            for (text, id) in [bos, eos, pad, unk] where !specials.contains(where: { $0.text == text }) {
                specials.append((text, id))
            }
        } else {
            specials = [(Self.openCLIPSpecialTokens.start, bos.1), (Self.openCLIPSpecialTokens.end, eos.1)]
        }
        self.init(
            encoder: encoder, startOfTextID: bos.1, endOfTextID: eos.1, padTokenID: pad.1,
            specialTokens: specials, cleaning: cleaning, defaultMaxLength: maxLength)
    }

    /// transformers' merges.txt: an optional `#version` line, then one "left right" pair per line.
    private static func readMerges(_ url: URL) throws -> [(String, String)] {
        let bytes = try TokenizerFiles.bytes(url)
        _ = try TokenizerFiles.utf8(bytes, path: url.path)
        var rules: [(String, String)] = []
        // Bytes, not Characters: "\r\n" is one Character, and a symbol starting with a combining mark would join
        // the space before it.
        for (index, rawLine) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.last == 0x0D ? rawLine.dropLast() : rawLine
            if line.isEmpty || (index == 0 && line.starts(with: Array("#version".utf8))) { continue }
            let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                let text = String(decoding: line, as: UTF8.self)
                throw TokenizerError.invalidFile(
                    path: url.path, reason: "line \(index + 1) is not a merge rule of two symbols: \"\(text)\"")
            }
            rules.append((String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self)))
        }
        return rules
    }
}
