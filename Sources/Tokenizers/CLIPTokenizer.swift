// CLIP's byte-level BPE tokenizer, following either of its two reference implementations.
//
// The two differ only in how text is cleaned before the BPE (the vocabulary and merges are the same):
//
// - Repair: open_clip runs ftfy's `fix_text` (curly quotes straightened, Latin ligatures split, full-width forms
//   narrowed, C1 controls read as Windows-1252, control characters dropped; see TextFixer); transformers does not.
// - HTML entities: open_clip decodes them (ftfy, then `html.unescape` twice); transformers keeps them as typed.
// - Unicode normalization: NFC in both.
// - Whitespace: open_clip collapses runs of Python-`isspace` characters and strips the ends; transformers turns runs
//   of White_Space into one space (the pre-tokenizer drops spaces anyway).
// - Lower-casing: open_clip uses Python's `str.lower` (a word-final "Σ" becomes "ς"); transformers lowers each
//   character on its own ("Σ" always becomes "σ").
// - Special tokens typed in the text: open_clip recognizes `<start_of_text>` and `<end_of_text>` after clean-up (so
//   in any letter case); transformers recognizes its configured bos/eos/pad/unk strings (`<|startoftext|>`,
//   `<|endoftext|>`) in the raw text, exactly.
// - Padding: open_clip pads with 0; transformers with its pad token (`<|endoftext|>` for FLUX and SD 1.x, "!" for
//   SD 2.x).
//
// transformers here means version 5, whose CLIPTokenizer is backed by the `tokenizers` library (the same as v4's
// CLIPTokenizerFast). v4's slow CLIPTokenizer cleaned text differently (with ftfy when installed, else BERT's
// BasicTokenizer, which also splits CJK characters apart); it is not reproduced.
//
// `CLIPTokenizer(openCLIPVocabulary:)` reads open_clip's `bpe_simple_vocab_16e6.txt.gz` and behaves like open_clip;
// `CLIPTokenizer(directory:)` reads a diffusers/transformers `tokenizer/` folder (vocab.json + merges.txt) and behaves
// like transformers. Either can be switched to the other clean-up with `cleaning:`.
import Foundation

public struct CLIPTokenizer: TextTokenizer {
    public enum TextCleaning: Sendable, Equatable {
        case openCLIP
        case huggingFace
    }

    public let cleaning: TextCleaning
    public let startOfTextID: Int
    public let endOfTextID: Int
    public let padTokenID: Int
    public let defaultMaxLength: Int
    public var prefixTokenIDs: [Int] { [startOfTextID] }
    public var suffixTokenIDs: [Int] { [endOfTextID] }
    /// Number of entries in the vocabulary (49408 for CLIP).
    public var vocabularySize: Int { encoder.vocabulary.count }

    let encoder: BytePairEncoder
    /// Strings that stand for a special token when they appear in the text, with their ids.
    let specialTokens: [(text: Scalars, id: Int)]
    private let preTokenizer: CLIPPreTokenizer

    /// transformers' pre-tokenizer pattern names these two strings whatever the configured special tokens are.
    private static let huggingFacePatternSpecials: [Scalars] = [Scalars("<|startoftext|>"), Scalars("<|endoftext|>")]
    private static let plainPreTokenizer = CLIPPreTokenizer(specialStrings: [], ignoresCase: false)

    init(
        encoder: BytePairEncoder, startOfTextID: Int, endOfTextID: Int, padTokenID: Int,
        specialTokens: [(text: String, id: Int)], cleaning: TextCleaning, defaultMaxLength: Int
    ) {
        self.encoder = encoder
        self.startOfTextID = startOfTextID
        self.endOfTextID = endOfTextID
        self.padTokenID = padTokenID
        // Longest first: transformers matches added tokens leftmost-longest.
        self.specialTokens = specialTokens.map { (Scalars($0.text), $0.id) }.sorted { $0.text.count > $1.text.count }
        self.cleaning = cleaning
        self.defaultMaxLength = defaultMaxLength
        switch cleaning {
        case .openCLIP:
            preTokenizer = CLIPPreTokenizer(specialStrings: self.specialTokens.map(\.text), ignoresCase: true)
        case .huggingFace:
            preTokenizer = CLIPPreTokenizer(specialStrings: Self.huggingFacePatternSpecials, ignoresCase: false)
        }
    }

    public func tokenize(_ text: String) -> [Int] {
        let scalars = Scalars(text)
        switch cleaning {
        case .openCLIP:
            return encodeCleaned(Self.openCLIPClean(scalars))
        case .huggingFace:
            var ids: [Int] = []
            for segment in splitOnSpecialTokens(scalars) {
                switch segment {
                case .special(let id): ids.append(id)
                case .text(let text): ids += encodeCleaned(Self.huggingFaceClean(text))
                }
            }
            return ids
        }
    }

    // MARK: clean-up

    /// open_clip's `_clean_lower`: `whitespace_clean(basic_clean(text)).lower()`.
    static func openCLIPClean(_ text: Scalars) -> Scalars {
        var text = TextFixer.fixText(text)
        text = HTMLUnescaper.unescape(HTMLUnescaper.unescape(text))
        text = UnicodeText.collapsePythonWhitespace(text)
        return UnicodeText.lowercased(text, finalSigma: true)
    }

    /// transformers' normalizer sequence: NFC, `\s+` → " ", Lowercase.
    static func huggingFaceClean(_ text: Scalars) -> Scalars {
        var collapsed: Scalars = []
        collapsed.reserveCapacity(text.count)
        for scalar in UnicodeText.nfc(text) {
            if UnicodeText.isRegexSpace(scalar) {
                if collapsed.last != " " { collapsed.append(" ") }
            } else {
                collapsed.append(scalar)
            }
        }
        return UnicodeText.lowercased(collapsed, finalSigma: false)
    }

    // MARK: special tokens typed in the text (transformers)

    private enum Segment {
        case text(Scalars)
        case special(Int)
    }

    private func splitOnSpecialTokens(_ text: Scalars) -> [Segment] {
        var segments: [Segment] = []
        var start = 0
        var i = 0
        scan: while i < text.count {
            for (special, id) in specialTokens
            where i + special.count <= text.count && text[i..<i + special.count].elementsEqual(special) {
                if start < i { segments.append(.text(Scalars(text[start..<i]))) }
                segments.append(.special(id))
                i += special.count
                start = i
                continue scan
            }
            i += 1
        }
        if start < text.count { segments.append(.text(Scalars(text[start...]))) }
        return segments
    }

    // MARK: BPE

    private func encodeCleaned(_ text: Scalars) -> [Int] {
        var ids: [Int] = []
        for piece in preTokenizer.split(text) {
            switch piece {
            case .word(let word):
                ids += encoder.encode(wordBytes: Array(word.string.utf8))
            case .special(let index, let matched):
                switch cleaning {
                case .openCLIP where matched == specialTokens[index].text:
                    ids.append(specialTokens[index].id)
                case .openCLIP:
                    // Matched only case-insensitively ("<ſtart_of_text>"): open_clip's special-token lookup is exact,
                    // so the match is encoded as one ordinary word.
                    ids += encoder.encode(wordBytes: Array(matched.string.utf8))
                case .huggingFace:
                    // No shortcut to the special id here: transformers' byte-level step splits the match again
                    // ("<|", "endoftext", "|>") and encodes the parts as ordinary words.
                    for case .word(let part) in Self.plainPreTokenizer.split(matched) {
                        ids += encoder.encode(wordBytes: Array(part.string.utf8))
                    }
                }
            }
        }
        return ids
    }
}
