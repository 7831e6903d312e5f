// Qwen2's byte-level BPE tokenizer (transformers `Qwen2Tokenizer`, the tokenizer of Qwen2.5-VL and of Qwen-Image's
// `tokenizer/` folder): added tokens (<|im_start|>, <|im_end|>, <|endoftext|>, the vision tokens, …) are cut out of
// the text first, wherever they appear; each stretch between them is NFC-normalized, split by Qwen2PreTokenizer, and
// each piece's UTF-8 bytes are BPE-encoded over the byte-level alphabet (no end-of-word marker). No special tokens
// frame a sequence; padding (on the right) uses <|endoftext|>.
// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2/tokenization_qwen2.py

public struct Qwen2Tokenizer: TextTokenizer {
    /// An added token: matched in the raw text before anything else (the longest one at the leftmost position).
    public struct AddedToken: Sendable, Equatable {
        public let content: String
        public let id: Int
        public let special: Bool
    }

    public let addedTokens: [AddedToken]
    public let padTokenID: Int
    public let defaultMaxLength: Int
    public var prefixTokenIDs: [Int] { [] }
    public var suffixTokenIDs: [Int] { [] }
    /// Size of the BPE vocabulary (added tokens not included).
    public var vocabularySize: Int { encoder.vocabulary.count }

    let encoder: BytePairEncoder
    private let addedSplitter: AddedTokenSplitter

    init(encoder: BytePairEncoder, addedTokens: [AddedToken], padTokenID: Int, defaultMaxLength: Int) {
        self.encoder = encoder
        self.addedTokens = addedTokens
        self.padTokenID = padTokenID
        self.defaultMaxLength = defaultMaxLength
        addedSplitter = AddedTokenSplitter(addedTokens)
    }

    /// The id of an added token, or of a vocabulary entry.
    public func id(of token: String) -> Int? {
        addedTokens.first(where: { $0.content == token })?.id ?? encoder.vocabulary[token]
    }

    public func tokenize(_ text: String) -> [Int] {
        addedSplitter.ids(text) { segment in
            Qwen2PreTokenizer.split(UnicodeText.nfc(segment)).flatMap {
                encoder.encode(wordBytes: Array($0.string.utf8))
            }
        }
    }
}

extension Qwen2Tokenizer {
    /// Smallest and largest id this tokenizer can produce: vocabulary entries, added tokens and padding.
    public var tokenIDRange: ClosedRange<Int> {
        let ids = [padTokenID] + addedTokens.map(\.id)
        let vocabulary = encoder.vocabulary.values
        return Swift.min(ids.min()!, vocabulary.min() ?? Int.max)...Swift.max(ids.max()!, vocabulary.max() ?? Int.min)
    }
}
