// The text side of a transformers (`tokenizers` library) Unigram tokenizer such as T5TokenizerFast, which diffusers
// uses for FLUX's T5: added tokens split off first, then the normalizers, then the pre-tokenizers (split on
// whitespace, "▁" prepended to every word), the Unigram model running on each word separately.
//
// It differs from SentencePiece's own pipeline (SentencePieceNormalizer) only on unusual text: special-token strings
// typed in the text become those tokens; whitespace that the normalization rules keep (such as a tab with a custom
// rule table) still separates words; the compiled rules are applied per grapheme cluster rather than by longest
// byte match.
import Foundation

struct HuggingFaceUnigramPipeline: Sendable {
    enum Normalizer: Sendable {
        case precompiled(PrecompiledCharsMap)
        /// `Replace` with a literal pattern.
        case replaceLiteral(Scalars, with: Scalars)
        /// `Replace` with the regex ` {n,}` (T5 tokenizer.json files collapse runs of spaces this way).
        case replaceSpaceRuns(minimum: Int, with: Scalars)
        case strip(left: Bool, right: Bool)
        case nfc, nfkc, lowercase
    }

    enum PrependScheme: Sendable {
        case always, first, never
    }

    struct Metaspace: Sendable {
        var replacement: Unicode.Scalar = "\u{2581}"
        var prependScheme = PrependScheme.always
        var split = true
    }

    enum Piece: Equatable {
        case addedToken(Int)
        case word([UInt8])
    }

    var normalizers: [Normalizer] = []
    var splitsOnWhitespace = true
    var metaspace: Metaspace? = Metaspace()
    /// Strings matched in the raw text, longest first (leftmost-longest, as transformers matches them).
    private(set) var addedTokens: [(text: Scalars, id: Int)] = []
    /// First characters of the added tokens: most positions are rejected with one set lookup.
    private var addedTokenStarts: Set<Unicode.Scalar> = []

    mutating func setAddedTokens(_ tokens: [(text: String, id: Int)]) {
        addedTokens = tokens.filter { !$0.text.isEmpty }.map { (Scalars($0.text), $0.id) }
            .sorted { $0.text.count > $1.text.count }
        addedTokenStarts = Set(addedTokens.map { $0.text[0] })
    }

    func pieces(_ text: String) -> [Piece] {
        var pieces: [Piece] = []
        let scalars = Scalars(text)
        var segmentStart = 0
        var i = 0
        func flushSegment(upTo end: Int) {
            guard segmentStart < end else { return }
            let words = preTokenize(normalize(Scalars(scalars[segmentStart..<end])), isFirst: segmentStart == 0)
            pieces += words.map { .word(Array($0.string.utf8)) }
        }
        scan: while i < scalars.count {
            guard addedTokenStarts.contains(scalars[i]) else {
                i += 1
                continue
            }
            for (token, id) in addedTokens
            where i + token.count <= scalars.count && scalars[i..<i + token.count].elementsEqual(token) {
                flushSegment(upTo: i)
                pieces.append(.addedToken(id))
                i += token.count
                segmentStart = i
                continue scan
            }
            i += 1
        }
        flushSegment(upTo: scalars.count)
        return pieces
    }

    // MARK: normalizers

    private func normalize(_ text: Scalars) -> Scalars {
        var text = text
        for normalizer in normalizers {
            switch normalizer {
            case .precompiled(let charsMap): text = Self.applyPerGrapheme(charsMap, to: text)
            case .replaceLiteral(let pattern, let content): text = Self.replace(pattern, with: content, in: text)
            case .replaceSpaceRuns(let minimum, let content): text = Self.replaceSpaceRuns(minimum, content, text)
            case .strip(let left, let right):
                if right { while let last = text.last, last.properties.isWhitespace { text.removeLast() } }
                if left, let first = text.firstIndex(where: { !$0.properties.isWhitespace }) {
                    text.removeFirst(first)
                } else if left {
                    text.removeAll()
                }
            case .nfc: text = UnicodeText.nfc(text)
            case .nfkc: text = UnicodeText.nfkc(text)
            case .lowercase: text = UnicodeText.lowercased(text, finalSigma: false)
            }
        }
        return text
    }

    /// transformers' `Precompiled` normalizer: each grapheme cluster shorter than 6 UTF-8 bytes is looked up whole
    /// (taking the shortest rule matching its start); otherwise, or when nothing matches, each character is looked up
    /// on its own.
    static func applyPerGrapheme(_ charsMap: PrecompiledCharsMap, to text: Scalars) -> Scalars {
        var output: Scalars = []
        output.reserveCapacity(text.count)
        for grapheme in text.string {
            let bytes = Array(grapheme.utf8)
            if bytes.count < 6, let rule = charsMap.prefixMatches(bytes, from: 0).first {
                output += Scalars(String(decoding: rule.replacement, as: UTF8.self))
                continue
            }
            for scalar in grapheme.unicodeScalars {
                let scalarBytes = Array(String(scalar).utf8)
                if let rule = charsMap.prefixMatches(scalarBytes, from: 0).first {
                    output += Scalars(String(decoding: rule.replacement, as: UTF8.self))
                } else {
                    output.append(scalar)
                }
            }
        }
        return output
    }

    private static func replace(_ pattern: Scalars, with content: Scalars, in text: Scalars) -> Scalars {
        guard !pattern.isEmpty else { return text }
        var output: Scalars = []
        var i = 0
        while i < text.count {
            if i + pattern.count <= text.count, text[i..<i + pattern.count].elementsEqual(pattern) {
                output += content
                i += pattern.count
            } else {
                output.append(text[i])
                i += 1
            }
        }
        return output
    }

    private static func replaceSpaceRuns(_ minimum: Int, _ content: Scalars, _ text: Scalars) -> Scalars {
        var output: Scalars = []
        var i = 0
        while i < text.count {
            var end = i
            while end < text.count, text[end] == " " { end += 1 }
            if end - i >= minimum {
                output += content
                i = end
            } else if end > i {
                output += text[i..<end]
                i = end
            } else {
                output.append(text[i])
                i += 1
            }
        }
        return output
    }

    // MARK: pre-tokenizers

    private func preTokenize(_ text: Scalars, isFirst: Bool) -> [Scalars] {
        var words: [Scalars]
        if splitsOnWhitespace {
            words = text.split(whereSeparator: { $0.properties.isWhitespace }).map(Array.init)
        } else {
            words = text.isEmpty ? [] : [text]
        }
        guard let metaspace else { return words }
        var output: [Scalars] = []
        for (index, var word) in words.enumerated() {
            word = word.map { $0 == " " ? metaspace.replacement : $0 }
            let prepends: Bool
            switch metaspace.prependScheme {
            case .always: prepends = true
            // Approximates "the pre-token starts at offset 0 of the input".
            case .first: prepends = isFirst && index == 0 && !(text.first?.properties.isWhitespace ?? false)
            case .never: prepends = false
            }
            if prepends, word.first != metaspace.replacement { word.insert(metaspace.replacement, at: 0) }
            guard metaspace.split else {
                output.append(word)
                continue
            }
            // Split before every replacement character (the delimiter stays with what follows it).
            var start = 0
            for position in word.indices.dropFirst() where word[position] == metaspace.replacement {
                output.append(Array(word[start..<position]))
                start = position
            }
            if start < word.count { output.append(Array(word[start...])) }
        }
        return output
    }
}
