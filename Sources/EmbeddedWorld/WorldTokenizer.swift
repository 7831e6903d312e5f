import Checkpoints
import Engine
import Foundation
import Models
import ShapesWorld

/// A word-level tokenizer over the shapes world's vocabulary (the world has a few dozen words; a 49k-token BPE table
/// would be most of the embedded model's size). Ids: 0 pad, 1 start, 2 end, 3 unknown, then the words in sorted order.
/// Stored as `tokenizer/vocab.json` (`{word: id}`) beside the model.
public struct WorldTokenizer: Sendable, Equatable {
    public static let specials = ["<pad>", "<|startoftext|>", "<|endoftext|>", "<unk>"]
    public let vocabulary: [String: Int]
    public let maxLength: Int

    public var padID: Int { 0 }
    public var startID: Int { 1 }
    public var endID: Int { 2 }
    public var unknownID: Int { 3 }

    public init(vocabulary: [String: Int], maxLength: Int) {
        self.vocabulary = vocabulary
        self.maxLength = maxLength
    }

    /// The vocabulary of every prompt the world can produce.
    public static func forShapesWorld() -> WorldTokenizer {
        let prompts = PromptKind.allCases.flatMap { PromptCatalog.all($0) }.map(\.text)
        let words = Set(prompts.flatMap(split)).sorted()
        var vocabulary: [String: Int] = [:]
        for (i, token) in (specials + words).enumerated() { vocabulary[token] = i }
        let longest = prompts.map { split($0).count }.max() ?? 0
        return WorldTokenizer(vocabulary: vocabulary, maxLength: longest + 2)
    }

    /// The shapes world's vocabulary and the moving-shapes world's motion words ("moving left", …), long enough for
    /// any still prompt followed by its motion.
    public static func forMovingShapesWorld() -> WorldTokenizer {
        let still = forShapesWorld()
        var vocabulary = still.vocabulary
        let motion = Set(MotionDirection.allCases.flatMap { split($0.phrase) }).subtracting(vocabulary.keys).sorted()
        for word in motion { vocabulary[word] = vocabulary.count }
        return WorldTokenizer(vocabulary: vocabulary, maxLength: still.maxLength + 2)
    }

    static func split(_ text: String) -> [String] {
        text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
    }

    /// Ids `[B, maxLength]` (int32): start, words (unknown words → `<unk>`, over-long prompts truncated), end,
    /// padding.
    public func callAsFunction(_ texts: [String]) -> Tensor {
        let rows = texts.map { text -> [Int32] in
            let words = WorldTokenizer.split(text).prefix(maxLength - 2).map { Int32(vocabulary[$0] ?? unknownID) }
            let row = [Int32(startID)] + words + [Int32(endID)]
            return row + [Int32](repeating: Int32(padID), count: maxLength - row.count)
        }
        return Tensor(rows.flatMap { $0 }, shape: [texts.count, maxLength])
    }

    public func save(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let object: [String: Any] = ["vocab": vocabulary, "model_max_length": maxLength]
        try AtomicFile.write(
            try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]),
            to: folder.appendingPathComponent("vocab.json"))
    }

    public static func load(from folder: URL) throws -> WorldTokenizer {
        let url = folder.appendingPathComponent("vocab.json")
        let object = try ConfigFile.object(from: url)
        guard let vocab = object["vocab"] as? [String: Int], let maxLength = object["model_max_length"] as? Int else {
            throw WorldFolderError.tokenizer(
                file: url.path, reason: "expected {\"vocab\": {word: id}, \"model_max_length\": n}")
        }
        // The ids become int32 rows of the text encoder's table; the length frames at least start and end.
        var problems: [String] = []
        if !(2...(1 << 16)).contains(maxLength) {
            problems.append("model_max_length: expected 2...\(1 << 16) (start and end tokens), found \(maxLength)")
        }
        for (index, name) in specials.enumerated() where vocab[name] != index {
            problems.append("vocab[\"\(name)\"]: expected \(index), found \(vocab[name].map(String.init) ?? "none")")
        }
        if let (word, id) = vocab.first(where: { !(0...Int(Int32.max)).contains($0.value) }) {
            problems.append("vocab[\"\(word)\"]: expected an id in 0...\(Int32.max), found \(id)")
        }
        guard problems.isEmpty else {
            throw WorldFolderError.tokenizer(file: url.path, reason: problems.joined(separator: "; "))
        }
        return WorldTokenizer(vocabulary: vocab, maxLength: maxLength)
    }

    /// The `tokenizer/` of a world model folder, checked against the embedding and position tables of its
    /// `text_encoder/` (both files named when they do not fit).
    static func load(modelFolder folder: URL) throws -> WorldTokenizer {
        let tokenizerFolder = folder.appendingPathComponent("tokenizer")
        let encoderFolder = folder.appendingPathComponent("text_encoder")
        let tokenizer = try load(from: tokenizerFolder)
        let config = try CLIPTextConfig.load(encoderFolder)
        try TokenizerFit.check(
            ids: 0...tokenizer.largestID, vocabularySize: config.vocabSize, sequenceLength: tokenizer.maxLength,
            maxPositions: config.maxPositionEmbeddings,
            tokenizer: tokenizerFolder.appendingPathComponent("vocab.json").path,
            model: encoderFolder.appendingPathComponent("config.json").path)
        return tokenizer
    }

    /// The largest id the tokenizer writes.
    public var largestID: Int { max(vocabulary.values.max() ?? 0, unknownID) }
}
