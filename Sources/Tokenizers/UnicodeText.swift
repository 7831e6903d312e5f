// Code-point level text operations with the exact semantics of the reference implementations (Python's str methods,
// Rust's char methods), which differ from Swift's grapheme-based String operations in small but visible ways.
import Foundation

typealias Scalars = [Unicode.Scalar]

extension Array where Element == Unicode.Scalar {
    init(_ string: String) { self = Array(string.unicodeScalars) }
    var string: String { String(String.UnicodeScalarView(self)) }
}

enum UnicodeText {
    /// Python's `str.isspace()`: the Unicode White_Space characters plus the four ASCII information separators
    /// U+001C…U+001F (Python counts characters of bidirectional class B and S as space).
    static func isPythonSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
    }

    /// `\s` of the `regex` module and of Oniguruma (used by `tokenizers`): exactly White_Space.
    static func isRegexSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace
    }

    static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// Python's `" ".join(text.split())`: runs of whitespace become one space, leading and trailing whitespace go.
    static func collapsePythonWhitespace(_ text: Scalars) -> Scalars {
        var output: Scalars = []
        output.reserveCapacity(text.count)
        var pendingSpace = false
        for scalar in text {
            if isPythonSpace(scalar) {
                pendingSpace = !output.isEmpty
            } else {
                if pendingSpace { output.append(" ") }
                pendingSpace = false
                output.append(scalar)
            }
        }
        return output
    }

    /// Full lowercase mapping of each code point (SpecialCasing's unconditional rules included, so "İ" becomes
    /// "i̇"). With `finalSigma`, a capital sigma that ends a word becomes "ς" as in Python's `str.lower()`;
    /// without it every capital sigma becomes "σ", as Rust's per-character `char::to_lowercase` (used by the
    /// `tokenizers` Lowercase normalizer) does.
    static func lowercased(_ text: Scalars, finalSigma: Bool) -> Scalars {
        var output: Scalars = []
        output.reserveCapacity(text.count)
        for (index, scalar) in text.enumerated() {
            if finalSigma, scalar == "\u{03A3}" {
                output.append(isFinalSigma(text, at: index) ? "\u{03C2}" : "\u{03C3}")
            } else if scalar.isASCII {
                output.append(scalar.properties.isUppercase ? Unicode.Scalar(scalar.value + 32)! : scalar)
            } else {
                output.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return output
    }

    /// Unicode's Final_Sigma condition: a cased letter (skipping case-ignorable characters) before, and no cased
    /// letter (again skipping case-ignorable ones) after.
    private static func isFinalSigma(_ text: Scalars, at index: Int) -> Bool {
        func firstNonIgnorable<S: Sequence>(_ scalars: S) -> Unicode.Scalar? where S.Element == Unicode.Scalar {
            scalars.first { !$0.properties.isCaseIgnorable }
        }
        guard let before = firstNonIgnorable(text[..<index].reversed()), before.properties.isCased else {
            return false
        }
        guard let after = firstNonIgnorable(text[(index + 1)...]) else { return true }
        return !after.properties.isCased
    }

    /// Canonical composition (NFC).
    static func nfc(_ text: Scalars) -> Scalars {
        if text.allSatisfy(\.isASCII) { return text }
        return Scalars(text.string.precomposedStringWithCanonicalMapping)
    }

    /// Compatibility composition (NFKC).
    static func nfkc(_ text: Scalars) -> Scalars {
        if text.allSatisfy(\.isASCII) { return text }
        return Scalars(text.string.precomposedStringWithCompatibilityMapping)
    }
}
