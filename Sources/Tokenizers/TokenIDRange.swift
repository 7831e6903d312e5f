// The ids a tokenizer can write, for checking them against the embedding table of the model it feeds: vocabulary
// files are downloaded, and an id past the table reads outside it.

extension CLIPTokenizer {
    /// Smallest and largest id this tokenizer can produce: vocabulary entries, special tokens and padding.
    public var tokenIDRange: ClosedRange<Int> {
        let ids =
            [startOfTextID, endOfTextID, padTokenID] + specialTokens.map(\.id) + (encoder.unknownID.map { [$0] } ?? [])
        let vocabulary = encoder.vocabulary.values
        let low = Swift.min(ids.min()!, vocabulary.min() ?? Int.max)
        let high = Swift.max(ids.max()!, vocabulary.max() ?? Int.min)
        return low...high
    }
}

extension T5Tokenizer {
    /// Smallest and largest id this tokenizer can produce: the model's pieces, added tokens, the template's special
    /// tokens and padding.
    public var tokenIDRange: ClosedRange<Int> {
        let ids =
            [0, vocabularySize - 1, padTokenID, unknownID] + prefixTokenIDs + suffixTokenIDs
            + addedTokenIDs
        return ids.min()!...ids.max()!
    }
}
