import Engine
import Foundation
import Tokenizers

/// Checks, when a pipeline or reward model loads a tokenizer with its text encoder, that every id the tokenizer can
/// write has a row in the encoder's embedding table and that the sequences it is asked for have positions; files come
/// from different downloads, and a mismatch would read outside the tables.
public enum TokenizerFit {
    /// - Parameters:
    ///   - ids: the tokenizer's smallest and largest id (`tokenIDRange`).
    ///   - sequenceLength: the length the caller tokenizes to, when the model has learned positions
    ///     (`maxPositions`); nil for relative positions (T5).
    ///   - tokenizer, model: the tokenizer's file or folder and the text encoder's config file, named in the error.
    public static func check(
        ids: ClosedRange<Int>, vocabularySize: Int, sequenceLength: Int? = nil, maxPositions: Int? = nil,
        tokenizer: String, model: String
    ) throws {
        var problems: [String] = []
        if ids.lowerBound < 0 {
            problems.append("token ids: expected ids from 0, found \(ids.lowerBound)")
        }
        if ids.upperBound >= vocabularySize {
            problems.append(
                "token ids: expected ids below vocab_size \(vocabularySize) (the embedding table), found ids up to "
                    + "\(ids.upperBound)")
        }
        if let sequenceLength, let maxPositions, sequenceLength > maxPositions {
            problems.append(
                "model_max_length: expected at most max_position_embeddings \(maxPositions), found \(sequenceLength)")
        }
        if !problems.isEmpty {
            throw ModelConfigError.tokenizerMismatch(tokenizer: tokenizer, model: model, problems: problems)
        }
    }

    /// A CLIP tokenizer against a CLIP text encoder's embedding table and learned positions, for sequences of
    /// `sequenceLength` tokens.
    public static func check(
        _ clip: CLIPTokenizer, fits config: CLIPTextConfig, sequenceLength: Int, tokenizer: String, model: String
    ) throws {
        try check(
            ids: clip.tokenIDRange, vocabularySize: config.vocabSize, sequenceLength: sequenceLength,
            maxPositions: config.maxPositionEmbeddings, tokenizer: tokenizer, model: model)
    }
}

/// Token id rows as the int32 tensor text encoders take. An id outside int32 (only a tokenizer that skipped the load
/// checks can write one) is refused through the engine's error scope instead of trapping in the conversion; its
/// place holds -1, which the embedding refuses too.
public enum TokenIDTensor {
    public static func make(_ rows: [[Int]]) -> Tensor {
        var flat: [Int32] = []
        flat.reserveCapacity(rows.reduce(0) { $0 + $1.count })
        var outside: Int?
        for row in rows {
            for id in row {
                if let narrow = Int32(exactly: id) {
                    flat.append(narrow)
                } else {
                    outside = outside ?? id
                    flat.append(-1)
                }
            }
        }
        let tensor = Tensor(flat, shape: [rows.count, rows.first?.count ?? 0])
        if let outside {
            Engine.refuse("token ids", "id \(outside) does not fit int32", operands: [tensor])
        }
        return tensor
    }
}
