// Text read from files (tensor names, keys, tokens, paths) is printed in messages; a file must not be able to move
// the cursor, clear the screen, recolour the terminal, reorder what follows (bidirectional overrides) or fake extra
// lines. So every such scalar is written as a Swift escape instead.

public extension String {
    /// The text with control characters (C0, DEL, C1: newlines, tabs, ESC sequences) and invisible formatting
    /// scalars (bidirectional overrides and isolates, zero-width characters, the byte-order mark) written as
    /// `\n`, `\t`, `\r` or `\u{…}`; everything else unchanged.
    var escapedForTerminal: String {
        guard unicodeScalars.contains(where: \.needsTerminalEscape) else { return self }
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.needsTerminalEscape:
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

extension Unicode.Scalar {
    fileprivate var needsTerminalEscape: Bool {
        switch value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        // Zero-width spaces and joiners, marks, bidi embeddings/overrides, isolates, the BOM; line and paragraph
        // separators.
        case 0x200B...0x200F, 0x2028...0x202E, 0x2066...0x2069, 0xFEFF: return true
        default: return false
        }
    }
}
