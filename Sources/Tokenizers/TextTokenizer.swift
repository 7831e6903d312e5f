// The interface shared by the CLIP and T5 tokenizers: text in, padded id rows and attention masks out.

/// How a batch is padded.
public enum Padding: Sendable, Equatable {
    /// Every row is padded to `maxLength` (what the diffusion pipelines do: CLIP 77, T5 512).
    case maxLength
    /// Rows are padded to the longest row of the batch.
    case longest
    /// Rows keep their own lengths.
    case none
}

/// Token ids of a batch of texts, one row per text.
public struct TokenizedBatch: Sendable, Equatable {
    /// Token ids, special tokens and padding included.
    public var ids: [[Int]]
    /// 1 where `ids` holds a token of the text (special tokens included), 0 where it holds padding.
    public var attentionMask: [[Int]]

    public init(ids: [[Int]], attentionMask: [[Int]]) {
        self.ids = ids
        self.attentionMask = attentionMask
    }
}

public protocol TextTokenizer: Sendable {
    /// Ids of the text alone, without the special tokens that frame a sequence.
    func tokenize(_ text: String) -> [Int]
    /// Special tokens placed before the text's ids (CLIP: start of text; T5: none).
    var prefixTokenIDs: [Int] { get }
    /// Special tokens placed after the text's ids (CLIP: end of text; T5: `</s>`); kept when a row is truncated.
    var suffixTokenIDs: [Int] { get }
    /// The id written into padded positions.
    var padTokenID: Int { get }
    /// The length the model was trained with (CLIP 77, T5 512).
    var defaultMaxLength: Int { get }
}

extension TextTokenizer {
    /// The full sequence of one text: prefix, the text's ids, suffix; no truncation, no padding.
    public func encode(_ text: String) -> [Int] {
        prefixTokenIDs + tokenize(text) + suffixTokenIDs
    }

    /// Tokenizes a batch the way the reference pipelines call their tokenizers
    /// (`padding="max_length", max_length=…, truncation=True`).
    ///
    /// Truncation cuts the text's ids and keeps the prefix and suffix tokens, so a truncated CLIP row still ends with
    /// the end-of-text token (as open_clip and transformers do) and a truncated T5 row still ends with `</s>`.
    public func callAsFunction(
        _ texts: [String], maxLength: Int? = nil, padding: Padding = .maxLength, truncation: Bool = true
    ) -> TokenizedBatch {
        let maxLength = maxLength ?? defaultMaxLength
        let frameLength = prefixTokenIDs.count + suffixTokenIDs.count
        precondition(
            !truncation || maxLength >= frameLength,
            "maxLength \(maxLength) cannot hold the \(frameLength) special tokens framing every sequence")
        var rows: [[Int]] = texts.map { text in
            var body = tokenize(text)
            if truncation, frameLength + body.count > maxLength {
                body.removeLast(frameLength + body.count - maxLength)
            }
            return prefixTokenIDs + body + suffixTokenIDs
        }
        let width: Int
        switch padding {
        case .maxLength: width = maxLength
        case .longest: width = rows.map(\.count).max() ?? 0
        case .none: width = 0
        }
        var masks: [[Int]] = []
        masks.reserveCapacity(rows.count)
        for index in rows.indices {
            let length = rows[index].count
            let padCount = max(0, width - length)
            rows[index] += Array(repeating: padTokenID, count: padCount)
            masks.append(Array(repeating: 1, count: length) + Array(repeating: 0, count: padCount))
        }
        return TokenizedBatch(ids: rows, attentionMask: masks)
    }
}
