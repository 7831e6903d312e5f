// Llama 3's byte-level BPE tokenizer, as the `tokenizers` library runs a Llama-3 `tokenizer.json` (HunyuanVideo's
// `tokenizer/` folder, a `PreTrainedTokenizerFast`): added tokens (<|begin_of_text|>, <|start_header_id|>,
// <|eot_id|>, …) are cut out of the text first, wherever they appear; each stretch between them is split by Llama 3's
// pattern (Qwen2PreTokenizer with digits in runs of up to three), without any normalizer; a piece that is a whole
// vocabulary entry is that entry (the model's `ignore_merges`), any other is BPE-encoded over the byte-level alphabet.
// The post-processor's template frames a sequence (Llama 3: <|begin_of_text|> in front).
// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/convert_slow_tokenizer.py#L1954

public struct Llama3Tokenizer: TextTokenizer {
    /// Where padding goes (`tokenizer_config.json`'s `padding_side`).
    public enum PaddingSide: String, Sendable { case left, right }

    public let addedTokens: [Qwen2Tokenizer.AddedToken]
    public let padTokenID: Int
    public let defaultMaxLength: Int
    public let prefixTokenIDs: [Int]
    public let suffixTokenIDs: [Int]
    public let paddingSide: PaddingSide
    /// The model's `ignore_merges`: a piece found whole in the vocabulary is not split.
    public let ignoresMerges: Bool
    /// Size of the BPE vocabulary (added tokens not included).
    public var vocabularySize: Int { encoder.vocabulary.count }

    let encoder: BytePairEncoder
    private let addedSplitter: AddedTokenSplitter

    init(
        encoder: BytePairEncoder, addedTokens: [Qwen2Tokenizer.AddedToken], padTokenID: Int, defaultMaxLength: Int,
        prefixTokenIDs: [Int], suffixTokenIDs: [Int], paddingSide: PaddingSide, ignoresMerges: Bool
    ) {
        self.encoder = encoder
        self.addedTokens = addedTokens
        self.padTokenID = padTokenID
        self.defaultMaxLength = defaultMaxLength
        self.prefixTokenIDs = prefixTokenIDs
        self.suffixTokenIDs = suffixTokenIDs
        self.paddingSide = paddingSide
        self.ignoresMerges = ignoresMerges
        addedSplitter = AddedTokenSplitter(addedTokens)
    }

    /// The id of an added token, or of a vocabulary entry.
    public func id(of token: String) -> Int? {
        addedTokens.first(where: { $0.content == token })?.id ?? encoder.vocabulary[token]
    }

    public func tokenize(_ text: String) -> [Int] {
        addedSplitter.ids(text) { segment in
            Qwen2PreTokenizer.split(segment, digitRun: 3).flatMap { encodePiece(Array($0.string.utf8)) }
        }
    }

    /// A batch as the pipelines tokenize it, padded on the tokenizer's `paddingSide` (the protocol's call pads on
    /// the right).
    public func batch(
        _ texts: [String], maxLength: Int? = nil, padding: Padding = .maxLength, truncation: Bool = true
    ) -> TokenizedBatch {
        var batch = self(texts, maxLength: maxLength, padding: padding, truncation: truncation)
        guard paddingSide == .left else { return batch }
        for row in batch.ids.indices {
            let kept = batch.attentionMask[row].reduce(0, +)
            let padCount = batch.ids[row].count - kept
            batch.ids[row] = Array(batch.ids[row][kept...]) + Array(batch.ids[row][..<kept])
            batch.attentionMask[row] = Array(repeating: 0, count: padCount) + Array(repeating: 1, count: kept)
        }
        return batch
    }

    private func encodePiece(_ bytes: [UInt8]) -> [Int] {
        if ignoresMerges {
            let symbol = String(bytes.map { ByteLevelAlphabet.characters[Int($0)] })
            if let id = encoder.vocabulary[symbol] { return [id] }
        }
        return encoder.encode(wordBytes: bytes)
    }
}

extension Llama3Tokenizer {
    /// Smallest and largest id this tokenizer can produce: vocabulary entries, added tokens and padding.
    public var tokenIDRange: ClosedRange<Int> {
        let ids = [padTokenID] + addedTokens.map(\.id)
        let vocabulary = encoder.vocabulary.values
        return Swift.min(ids.min()!, vocabulary.min() ?? Int.max)...Swift.max(ids.max()!, vocabulary.max() ?? Int.min)
    }
}
