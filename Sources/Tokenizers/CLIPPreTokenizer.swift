// CLIP's pre-tokenizer: the words `findall` extracts with the pattern
//     <special>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// written out by hand, with the regex semantics the references use: alternatives tried in order at each position
// (first match wins, not longest), code points as characters, \p{L}/\p{N} as general categories, \s as White_Space.
// Characters no alternative matches (whitespace) are dropped.

struct CLIPPreTokenizer: Sendable {
    enum Piece: Equatable {
        case word(Scalars)
        /// The text (given) matched the special string at this index of `specialStrings`, possibly in another case.
        case special(Int, Scalars)
    }

    /// Strings tried before anything else, in order.
    let specialStrings: [Scalars]
    /// open_clip compiles its pattern with IGNORECASE: the literal letters of the special strings and contractions
    /// then also match their case variants (after lower-casing, in practice only "ſ" for "s").
    let ignoresCase: Bool

    private static let contractions: [Scalars] = ["s", "t", "re", "ve", "m", "ll", "d"].map { ["'"] + Scalars($0) }

    func split(_ text: Scalars) -> [Piece] {
        var pieces: [Piece] = []
        var i = 0
        let n = text.count
        nextPosition: while i < n {
            for (index, special) in specialStrings.enumerated() where matches(special, in: text, at: i) {
                pieces.append(.special(index, Scalars(text[i..<i + special.count])))
                i += special.count
                continue nextPosition
            }
            for contraction in Self.contractions where matches(contraction, in: text, at: i) {
                pieces.append(.word(Scalars(text[i..<i + contraction.count])))
                i += contraction.count
                continue nextPosition
            }
            let scalar = text[i]
            var end = i + 1
            if UnicodeText.isLetter(scalar) {
                while end < n, UnicodeText.isLetter(text[end]) { end += 1 }
            } else if UnicodeText.isNumber(scalar) {
                // A single number character per word: "2024" is four words.
            } else if isSymbol(scalar) {
                while end < n, isSymbol(text[end]) { end += 1 }
            } else {
                // Whitespace, and under IGNORECASE U+0345: matched by no alternative, so dropped.
                i += 1
                continue
            }
            pieces.append(.word(Scalars(text[i..<end])))
            i = end
        }
        return pieces
    }

    private func isSymbol(_ scalar: Unicode.Scalar) -> Bool {
        // Under IGNORECASE a negated class excludes a character when any case variant is excluded: U+0345 COMBINING
        // GREEK YPOGEGRAMMENI (a mark whose upper case is the letter Ι) is the only such character.
        if ignoresCase, scalar.value == 0x0345 { return false }
        return !UnicodeText.isRegexSpace(scalar) && !UnicodeText.isLetter(scalar) && !UnicodeText.isNumber(scalar)
    }

    private func matches(_ literal: Scalars, in text: Scalars, at start: Int) -> Bool {
        guard start + literal.count <= text.count else { return false }
        for (offset, expected) in literal.enumerated() {
            let actual = text[start + offset]
            if actual == expected { continue }
            if ignoresCase, Self.simpleCaseFold(actual) == Self.simpleCaseFold(expected) { continue }
            return false
        }
        return true
    }

    /// Simple case folding, enough to compare with the ASCII letters of the pattern.
    private static func simpleCaseFold(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x41...0x5A: return Unicode.Scalar(scalar.value + 32)!
        case 0x017F: return "s"  // LATIN SMALL LETTER LONG S
        case 0x212A: return "k"  // KELVIN SIGN
        default: return scalar
        }
    }
}
