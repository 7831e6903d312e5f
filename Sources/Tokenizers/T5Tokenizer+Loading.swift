// Loading T5's tokenizer from a SentencePiece `spiece.model`, a transformers `tokenizer.json`, or a diffusers
// `tokenizer_2/` folder holding either.
import Foundation

extension T5Tokenizer {
    /// The sequence length FLUX uses for T5 (`max_sequence_length=512`).
    public static let fluxMaxLength = 512

    /// Loads a SentencePiece unigram model file.
    ///
    /// - Parameters:
    ///   - pipeline: `.sentencePiece` (default) reproduces the sentencepiece library; `.huggingFace` reproduces the
    ///     transformers tokenizer that `T5Tokenizer.from_pretrained` converts from this file.
    ///   - extraIDs: the `<extra_id_N>` sentinels transformers appends after the pieces (T5: 100); they are only
    ///     recognized in text by the `.huggingFace` pipeline.
    public init(
        sentencePieceModel url: URL, pipeline: Pipeline = .sentencePiece, extraIDs: Int = 100,
        maxLength: Int = fluxMaxLength
    ) throws {
        let file: SentencePieceModelFile
        do {
            file = try SentencePieceModelFile(TokenizerFiles.bytes(url))
        } catch let error as ProtobufError {
            throw TokenizerError.invalidFile(path: url.path, reason: "not a SentencePiece model: \(error)")
        }
        func invalid(_ reason: String) -> TokenizerError { .invalidFile(path: url.path, reason: reason) }
        guard extraIDs >= 0 else { throw invalid("extraIDs \(extraIDs) is negative") }
        guard file.modelType == .unigram else {
            throw invalid("model type \(file.modelType) is not supported (only the unigram model, which T5 uses)")
        }
        guard file.pieces.indices.contains(file.unknownID) else {
            throw invalid("unk_id \(file.unknownID) is outside the \(file.pieces.count) pieces")
        }
        guard file.pieces.indices.contains(file.endOfSentenceID) else {
            throw invalid("eos_id \(file.endOfSentenceID) is outside the \(file.pieces.count) pieces")
        }
        let charsMap: PrecompiledCharsMap?
        do {
            charsMap = file.precompiledCharsMap.isEmpty ? nil : try PrecompiledCharsMap(file.precompiledCharsMap)
        } catch let error as ProtobufError {
            throw invalid(error.description)
        }
        let allIDs = file.pieces.indices
        func ids(of type: SentencePieceModelFile.PieceType) -> [Int] { allIDs.filter { file.pieces[$0].type == type } }

        var normalizer = SentencePieceNormalizer()
        var huggingFace = HuggingFaceUnigramPipeline()
        let model: UnigramModel
        switch pipeline {
        case .sentencePiece:
            // The lattice holds normal, user-defined and unused pieces; the score range comes from normal ones. With
            // byte fallback (UMT5's model) the byte pieces stand in for unknown characters.
            var byteIDs: [Int]?
            if file.usesByteFallback {
                let bytePieces = ids(of: .byte).map { (String(decoding: file.pieces[$0].text, as: UTF8.self), $0) }
                byteIDs = UnigramModel.bytePieceIDs(Dictionary(bytePieces, uniquingKeysWith: { first, _ in first }))
                guard byteIDs != nil else {
                    throw invalid("byte_fallback is set but some of the 256 byte pieces <0x00>…<0xFF> are missing")
                }
            }
            let latticeTypes: Set<SentencePieceModelFile.PieceType> = [.normal, .userDefined, .unused]
            model = UnigramModel(
                pieces: file.pieces.map { ($0.text, $0.score, latticeTypes.contains($0.type)) },
                userDefined: Set(ids(of: .userDefined)), unused: Set(ids(of: .unused)),
                normalScoreIDs: ids(of: .normal), unknownID: file.unknownID, arithmetic: .sentencePiece,
                byteIDs: byteIDs)
            normalizer.charsMap = charsMap
            normalizer.userDefinedSymbols = PieceTrie(ids(of: .userDefined).map { (file.pieces[$0].text, $0) })
            normalizer.addsDummyPrefix = file.addsDummyPrefix
            normalizer.removesExtraWhitespaces = file.removesExtraWhitespaces
            normalizer.escapesWhitespaces = file.escapesWhitespaces
            normalizer.treatsWhitespaceAsSuffix = file.treatsWhitespaceAsSuffix
        case .huggingFace:
            // transformers' conversion: every piece in the Unigram vocabulary; control, user-defined and unknown
            // pieces and the sentinels as added tokens; Precompiled normalizer; WhitespaceSplit + Metaspace. Its
            // Unigram has no byte fallback whatever the file says (transformers 4's T5Converter and transformers 5's
            // T5Tokenizer both build it with byte_fallback=False), so a UMT5 model's unknown characters stay <unk>:
            // https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/t5/tokenization_t5.py
            model = UnigramModel(
                pieces: file.pieces.map { ($0.text, $0.score, true) }, normalScoreIDs: Array(allIDs),
                unknownID: file.unknownID, arithmetic: .huggingFace)
            huggingFace.normalizers = charsMap.map { [.precompiled($0)] } ?? []
            let addedTypes: Set<SentencePieceModelFile.PieceType> = [.control, .userDefined, .unknown]
            let added = allIDs.filter { addedTypes.contains(file.pieces[$0].type) }
            var addedTokens = added.map { (text: String(decoding: file.pieces[$0].text, as: UTF8.self), id: $0) }
            addedTokens += (0..<extraIDs).map { (text: "<extra_id_\($0)>", id: file.pieces.count + extraIDs - 1 - $0) }
            huggingFace.setAddedTokens(addedTokens)
        }
        let padID = file.paddingID >= 0 ? file.paddingID : 0
        self.init(
            pipeline: pipeline, model: model, normalizer: normalizer, huggingFace: huggingFace,
            vocabularySize: file.pieces.count, suffixTokenIDs: [file.endOfSentenceID], padTokenID: padID,
            defaultMaxLength: maxLength)
    }

    /// Loads a transformers `tokenizer.json` with a Unigram model (as saved by T5TokenizerFast); always the
    /// `.huggingFace` pipeline. The pad token is the added token `<pad>` unless `padToken` names another.
    public init(tokenizerJSON url: URL, padToken: String = "<pad>", maxLength: Int = fluxMaxLength) throws {
        let root = try TokenizerFiles.jsonObject(url)
        func invalid(_ reason: String) -> TokenizerError { .invalidFile(path: url.path, reason: reason) }

        guard let modelObject = root["model"] as? [String: Any] else { throw invalid("no \"model\" object") }
        guard modelObject["type"] as? String == "Unigram" else {
            throw invalid("model type \(modelObject["type"] ?? "missing") is not supported (expected Unigram)")
        }
        guard let vocabulary = modelObject["vocab"] as? [[Any]] else { throw invalid("model.vocab is not a list") }
        var pieces: [(bytes: [UInt8], score: Float, inLattice: Bool)] = []
        pieces.reserveCapacity(vocabulary.count)
        for (index, entry) in vocabulary.enumerated() {
            guard entry.count == 2, let piece = entry[0] as? String, let score = entry[1] as? NSNumber else {
                throw invalid("model.vocab[\(index)] is not a [piece, score] pair")
            }
            pieces.append((Array(piece.utf8), score.floatValue, true))
        }
        guard let unknownID = TokenizerFiles.integer(modelObject["unk_id"]), pieces.indices.contains(unknownID) else {
            throw invalid("model.unk_id is missing or outside the vocabulary")
        }
        // With byte fallback, `tokenizers` spells an unknown stretch with the pieces "<0xXX>" of its bytes, when all
        // of them are in the vocabulary (else <unk>).
        var byteIDs: [Int]?
        if modelObject["byte_fallback"] as? Bool == true {
            let pieceIDs = Dictionary(
                pieces.enumerated().map { (String(decoding: $0.element.bytes, as: UTF8.self), $0.offset) },
                uniquingKeysWith: { first, _ in first })
            byteIDs = UnigramModel.bytePieceIDs(pieceIDs)
        }
        let model = UnigramModel(
            pieces: pieces, normalScoreIDs: Array(pieces.indices), unknownID: unknownID, arithmetic: .huggingFace,
            byteIDs: byteIDs)

        var pipeline = HuggingFaceUnigramPipeline()
        do {
            pipeline.normalizers = try Self.normalizers(root["normalizer"])
            try Self.configurePreTokenizer(root["pre_tokenizer"], of: &pipeline)
        } catch let error as ProtobufError {
            throw invalid(error.description)
        }
        var addedTokens: [(text: String, id: Int)] = []
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let content = entry["content"] as? String, let id = TokenizerFiles.integer(entry["id"]) else {
                throw invalid("an added_tokens entry has no content or id")
            }
            guard TokenizerFiles.tokenIDs.contains(id) else {
                throw invalid("added token \"\(content)\" has id \(id), expected \(TokenizerFiles.tokenIDs)")
            }
            addedTokens.append((content, id))
        }
        pipeline.setAddedTokens(addedTokens)
        let ids = Dictionary(addedTokens.map { ($0.text, $0.id) }, uniquingKeysWith: { first, _ in first })
        let (prefix, suffix) = try Self.template(root["post_processor"], addedTokenIDs: ids, invalid: invalid)
        guard let padID = ids[padToken] else { throw invalid("pad token \(padToken) is not an added token") }
        self.init(
            pipeline: .huggingFace, model: model, normalizer: SentencePieceNormalizer(), huggingFace: pipeline,
            vocabularySize: pieces.count, prefixTokenIDs: prefix, suffixTokenIDs: suffix, padTokenID: padID,
            defaultMaxLength: maxLength)
    }

    /// Loads a diffusers/transformers T5 tokenizer folder such as FLUX's `tokenizer_2/`: `tokenizer.json` for the
    /// `.huggingFace` pipeline when present (what T5TokenizerFast reads), else `spiece.model`. The maximum length
    /// comes from `tokenizer_config.json` when it sets a sensible `model_max_length`.
    public init(directory: URL, pipeline: Pipeline = .huggingFace) throws {
        let json = directory.appendingPathComponent("tokenizer.json")
        let model = directory.appendingPathComponent("spiece.model")
        var maxLength = Self.fluxMaxLength
        let configFile = directory.appendingPathComponent("tokenizer_config.json")
        let config = try TokenizerFiles.optionalJSONObject(configFile)
        let configured = config?["model_max_length"]
        if let value = TokenizerFiles.integer(configured), (1...(1 << 20)).contains(value) {
            maxLength = value
        } else {
            // transformers writes a huge model_max_length for "no limit".
            LoadWarnings.defaultTaken(
                file: configFile.path, key: "model_max_length", value: "\(Self.fluxMaxLength)",
                reason: configured.map { "\($0) is no length" })
        }
        let padToken = TokenizerFiles.tokenContent(config?["pad_token"]) ?? "<pad>"
        if pipeline == .huggingFace, FileManager.default.fileExists(atPath: json.path) {
            try self.init(tokenizerJSON: json, padToken: padToken, maxLength: maxLength)
        } else {
            // The sentinels transformers appends to the pieces (T5TokenizerFast's `extra_ids`, 100 by default):
            // ids past the pieces, which the text encoder's table must hold.
            let extraIDs = TokenizerFiles.integer(config?["extra_ids"])
            if let extraIDs, !(0...(1 << 16)).contains(extraIDs) {
                throw TokenizerError.invalidFile(
                    path: configFile.path, reason: "extra_ids: expected 0...\(1 << 16), found \(extraIDs)")
            }
            if pipeline == .huggingFace, extraIDs == nil {
                LoadWarnings.defaultTaken(file: configFile.path, key: "extra_ids", value: "100")
            }
            try self.init(
                sentencePieceModel: model, pipeline: pipeline, extraIDs: extraIDs ?? 100, maxLength: maxLength)
        }
    }

    // MARK: tokenizer.json components

    private static func normalizers(_ value: Any?) throws -> [HuggingFaceUnigramPipeline.Normalizer] {
        guard let object = value as? [String: Any] else { return [] }  // null: no normalizer
        let type = object["type"] as? String ?? ""
        switch type {
        case "Sequence":
            return try (object["normalizers"] as? [Any] ?? []).flatMap(normalizers)
        case "Precompiled":
            guard let encoded = object["precompiled_charsmap"] as? String, !encoded.isEmpty else { return [] }
            guard let blob = Data(base64Encoded: encoded) else {
                throw ProtobufError.charsMapNotBase64
            }
            return [.precompiled(try PrecompiledCharsMap([UInt8](blob)))]
        case "Replace":
            let content = Scalars(object["content"] as? String ?? "")
            let pattern = object["pattern"] as? [String: Any] ?? [:]
            if let literal = pattern["String"] as? String { return [.replaceLiteral(Scalars(literal), with: content)] }
            if let regex = pattern["Regex"] as? String, regex.hasPrefix(" {"), regex.hasSuffix(",}"),
                let minimum = Int(regex.dropFirst(2).dropLast(2))
            {
                return [.replaceSpaceRuns(minimum: minimum, with: content)]
            }
            throw ProtobufError.unsupportedReplacePattern("\(pattern)")
        case "Strip":
            return [.strip(left: object["strip_left"] as? Bool ?? true, right: object["strip_right"] as? Bool ?? true)]
        case "NFC": return [.nfc]
        case "NFKC": return [.nfkc]
        case "Lowercase": return [.lowercase]
        default:
            throw ProtobufError.unsupportedNormalizer(type: type)
        }
    }

    private static func configurePreTokenizer(_ value: Any?, of pipeline: inout HuggingFaceUnigramPipeline) throws {
        pipeline.splitsOnWhitespace = false
        pipeline.metaspace = nil
        func visit(_ value: Any?) throws {
            guard let object = value as? [String: Any] else { return }
            let type = object["type"] as? String ?? ""
            switch type {
            case "Sequence":
                for child in object["pretokenizers"] as? [Any] ?? [] { try visit(child) }
            case "WhitespaceSplit":
                pipeline.splitsOnWhitespace = true
            case "Metaspace":
                var metaspace = HuggingFaceUnigramPipeline.Metaspace()
                if let replacement = (object["replacement"] as? String)?.unicodeScalars, replacement.count == 1 {
                    metaspace.replacement = replacement.first!
                }
                switch object["prepend_scheme"] as? String {
                case "always": metaspace.prependScheme = .always
                case "first": metaspace.prependScheme = .first
                case "never": metaspace.prependScheme = .never
                default:  // older files: add_prefix_space
                    metaspace.prependScheme = object["add_prefix_space"] as? Bool == false ? .never : .always
                }
                metaspace.split = object["split"] as? Bool ?? true
                pipeline.metaspace = metaspace
            default:
                throw ProtobufError.unsupportedPreTokenizer(type: type)
            }
        }
        try visit(value)
    }

    /// The special tokens a `TemplateProcessing` post-processor puts around a single sequence (T5: none before,
    /// `</s>` after). Without a post-processor, `</s>` is appended.
    private static func template(
        _ value: Any?, addedTokenIDs: [String: Int], invalid: (String) -> TokenizerError
    ) throws -> (prefix: [Int], suffix: [Int]) {
        guard let object = value as? [String: Any] else {
            guard let eos = addedTokenIDs["</s>"] else { throw invalid("no post_processor and no </s> added token") }
            return ([], [eos])
        }
        guard object["type"] as? String == "TemplateProcessing", let single = object["single"] as? [[String: Any]]
        else {
            throw invalid("post_processor \(object["type"] ?? "?") is not supported (expected TemplateProcessing)")
        }
        let specials = object["special_tokens"] as? [String: Any] ?? [:]
        var prefix: [Int] = []
        var suffix: [Int] = []
        var seenSequence = false
        for item in single {
            if item["Sequence"] != nil {
                seenSequence = true
                continue
            }
            guard let token = (item["SpecialToken"] as? [String: Any])?["id"] as? String else { continue }
            let special = specials[token] as? [String: Any]
            let ids =
                (special?["ids"] as? [Any])?.compactMap(TokenizerFiles.integer) ?? addedTokenIDs[token].map { [$0] }
            guard let ids else { throw invalid("post_processor names special token \(token) with no id") }
            if seenSequence { suffix += ids } else { prefix += ids }
        }
        return (prefix, suffix)
    }
}
