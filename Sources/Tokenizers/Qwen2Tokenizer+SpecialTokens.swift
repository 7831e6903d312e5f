// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/tokenization_utils_base.py
extension Qwen2Tokenizer {
    /// transformers' `add_special_tokens({"additional_special_tokens": tokens})`, as VideoAlign adds its reward tokens:
    /// a token the tokenizer already has keeps its id and becomes special; each new one gets the next id after every
    /// id in use (the tokenizer's length), in order. Added tokens are matched in the raw text like the others.
    public func addingSpecialTokens(_ tokens: [String]) -> Qwen2Tokenizer {
        var added = addedTokens
        var next = tokenIDRange.upperBound + 1
        for token in tokens where !token.isEmpty {
            if let index = added.firstIndex(where: { $0.content == token }) {
                added[index] = AddedToken(content: token, id: added[index].id, special: true)
            } else if let id = encoder.vocabulary[token] {
                added.append(AddedToken(content: token, id: id, special: true))
            } else {
                added.append(AddedToken(content: token, id: next, special: true))
                next += 1
            }
        }
        return Qwen2Tokenizer(
            encoder: encoder, addedTokens: added, padTokenID: padTokenID, defaultMaxLength: defaultMaxLength)
    }
}
