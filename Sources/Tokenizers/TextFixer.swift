// The part of ftfy's `fix_text` (ftfy 6, default configuration) that open_clip's tokenizer relies on for ordinary
// prompts. Each fix below is the same character-level rule as ftfy's; the loop repeats them until the text stops
// changing, line by line, as ftfy does.
//
// Not implemented: ftfy's mojibake repair (`fix_encoding`: re-decoding text such as "cafÃ©" that was decoded with
// the wrong code page). It is a statistical heuristic with large tables and only acts on text its "badness" test
// flags, which normal prompts are not; on such text this tokenizer and open_clip differ.
import Foundation

enum TextFixer {
    static func fixText(_ text: Scalars) -> Scalars {
        var output: Scalars = []
        output.reserveCapacity(text.count)
        var unescapesHTML = true
        var start = 0
        while start < text.count {
            let end = (text[start...].firstIndex(of: "\n") ?? text.count - 1) + 1
            let segment = Scalars(text[start..<end])
            // ftfy's "auto" HTML mode: a "<" suggests real HTML, whose entities are left alone from then on.
            if segment.contains("<") { unescapesHTML = false }
            output += fixSegment(segment, unescapesHTML: unescapesHTML)
            start = end
        }
        return output
    }

    private static func fixSegment(_ segment: Scalars, unescapesHTML: Bool) -> Scalars {
        var text = segment
        while true {
            let original = text
            if unescapesHTML { text = HTMLUnescaper.unescapeFtfy(text) }
            text = text.flatMap(fixCharacter)
            text = fixLineBreaks(text)
            text = removeTerminalEscapes(text)
            text = text.filter { !isRemovedControl($0) }
            text = UnicodeText.nfc(text)
            if text == original { return text }
        }
    }

    /// The per-character fixes, in ftfy's order: C1 controls read as Windows-1252, Latin ligatures split,
    /// full/half-width forms to normal width, curly quotes to straight ones.
    private static func fixCharacter(_ scalar: Unicode.Scalar) -> Scalars {
        var scalar = scalar
        if (0x80...0x9F).contains(scalar.value) {
            scalar = Unicode.Scalar(HTMLUnescaper.windows1252C1[scalar.value]!)!
        }
        if let replacement = ligatures[scalar] { return uncurlQuotes(replacement) }
        if let replacement = widthReplacement(scalar) { return uncurlQuotes(replacement) }
        return uncurlQuotes([scalar])
    }

    private static func uncurlQuotes(_ text: Scalars) -> Scalars {
        text.map { scalar in
            switch scalar.value {
            case 0x02BC, 0x2018...0x201B: return "'"
            case 0x201C...0x201F: return "\""
            default: return scalar
            }
        }
    }

    private static let ligatures: [Unicode.Scalar: Scalars] = [
        "Ĳ": ["I", "J"], "ĳ": ["i", "j"], "ŉ": ["\u{02BC}", "n"], "Ǳ": ["D", "Z"], "ǲ": ["D", "z"],
        "ǳ": ["d", "z"], "Ǆ": ["D", "Ž"], "ǅ": ["D", "ž"], "ǆ": ["d", "ž"], "Ǉ": ["L", "J"], "ǈ": ["L", "j"],
        "ǉ": ["l", "j"], "Ǌ": ["N", "J"], "ǋ": ["N", "j"], "ǌ": ["n", "j"], "ﬀ": ["f", "f"], "ﬁ": ["f", "i"],
        "ﬂ": ["f", "l"], "ﬃ": ["f", "f", "i"], "ﬄ": ["f", "f", "l"], "ﬅ": ["ſ", "t"], "ﬆ": ["s", "t"]
    ]

    /// ftfy's width map: U+3000 to a space, and each character of the Halfwidth and Fullwidth Forms block to its
    /// NFKC form.
    private static func widthReplacement(_ scalar: Unicode.Scalar) -> Scalars? {
        if scalar.value == 0x3000 { return [" "] }
        guard (0xFF01..<0xFFF0).contains(scalar.value) else { return nil }
        let normalized = UnicodeText.nfkc([scalar])
        return normalized == [scalar] ? nil : normalized
    }

    private static func fixLineBreaks(_ text: Scalars) -> Scalars {
        var output: Scalars = []
        output.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            switch text[i].value {
            case 0x0D:
                output.append("\n")
                if i + 1 < text.count, text[i + 1] == "\n" { i += 1 }
            case 0x2028, 0x2029, 0x85: output.append("\n")
            default: output.append(text[i])
            }
            i += 1
        }
        return output
    }

    /// Removes ANSI terminal escapes, `ESC [ (digit | ;)* letter` (digits in Python's Unicode sense).
    private static func removeTerminalEscapes(_ text: Scalars) -> Scalars {
        guard text.contains("\u{1B}") else { return text }
        var output: Scalars = []
        var i = 0
        while i < text.count {
            if text[i] == "\u{1B}", i + 1 < text.count, text[i + 1] == "[" {
                var j = i + 2
                while j < text.count, text[j] == ";" || text[j].properties.generalCategory == .decimalNumber {
                    j += 1
                }
                if j < text.count, text[j].isASCII, text[j].properties.isAlphabetic {
                    i = j + 1
                    continue
                }
            }
            output.append(text[i])
            i += 1
        }
        return output
    }

    /// Control and format characters ftfy deletes (tab, line feed, form feed and carriage return stay).
    private static func isRemovedControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: return true
        default: return false
        }
    }
}
