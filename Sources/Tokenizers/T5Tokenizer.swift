// T5's SentencePiece unigram tokenizer: normalize, segment with the unigram model, append `</s>`; pad with `<pad>`.
//
// Two text pipelines around the same model, chosen with `pipeline`:
// - `.sentencePiece` reproduces the `sentencepiece` library (`SentencePieceProcessor.encode`) exactly: the compiled
//   normalization rules by longest byte match, SentencePiece's whitespace handling, one Viterbi pass over the
//   normalized text.
// - `.huggingFace` reproduces transformers' T5Tokenizer(Fast), which FLUX's diffusers pipeline calls: special tokens
//   typed in the text (`</s>`, `<extra_id_0>`, …) become those ids, and the text is split into words first (see
//   HuggingFaceUnigramPipeline). On ordinary prompts both give the same ids.
import Foundation

public struct T5Tokenizer: TextTokenizer {
    public enum Pipeline: Sendable, Equatable {
        case sentencePiece
        case huggingFace
    }

    public let pipeline: Pipeline
    /// The last suffix token (`</s>`, id 1 for T5), or -1 when the tokenizer appends none.
    public let endOfSequenceID: Int
    public let padTokenID: Int
    public let unknownID: Int
    public let defaultMaxLength: Int
    /// Size of the model's piece vocabulary (added tokens such as the 100 `<extra_id_N>` not included).
    public let vocabularySize: Int
    public let prefixTokenIDs: [Int]
    /// `[</s>]` for T5.
    public let suffixTokenIDs: [Int]

    private let model: UnigramModel
    private let normalizer: SentencePieceNormalizer
    private let huggingFace: HuggingFaceUnigramPipeline
    /// Ids of the tokens added to the pieces (`<extra_id_N>`, …); the `.huggingFace` pipeline can produce them.
    var addedTokenIDs: [Int] { huggingFace.addedTokens.map(\.id) }

    init(
        pipeline: Pipeline, model: UnigramModel, normalizer: SentencePieceNormalizer,
        huggingFace: HuggingFaceUnigramPipeline, vocabularySize: Int, prefixTokenIDs: [Int] = [],
        suffixTokenIDs: [Int], padTokenID: Int, defaultMaxLength: Int
    ) {
        self.pipeline = pipeline
        self.model = model
        self.normalizer = normalizer
        self.huggingFace = huggingFace
        self.vocabularySize = vocabularySize
        self.prefixTokenIDs = prefixTokenIDs
        self.suffixTokenIDs = suffixTokenIDs
        self.endOfSequenceID = suffixTokenIDs.last ?? -1
        self.padTokenID = padTokenID
        self.unknownID = model.unknownID
        self.defaultMaxLength = defaultMaxLength
    }

    public func tokenize(_ text: String) -> [Int] {
        switch pipeline {
        case .sentencePiece:
            return model.encode(normalizer.normalize(Array(text.utf8)))
        case .huggingFace:
            var ids: [Int] = []
            for piece in huggingFace.pieces(text) {
                switch piece {
                case .addedToken(let id): ids.append(id)
                case .word(let bytes): ids += model.encode(bytes)
                }
            }
            return ids
        }
    }
}
