/// A tiny fixed-width bitmap font (5×8 cells, ASCII) for labels in grids and plots; no font files needed.
/// Characters outside printable ASCII are drawn as '?'.
public enum BitmapFont {
    public static let glyphWidth = 5
    public static let glyphHeight = 8
    /// Horizontal distance between consecutive characters at scale 1 (glyph plus one blank column).
    public static let advance = 6
    /// Vertical distance between consecutive lines at scale 1.
    public static let lineHeight = 10

    /// Bit masks per glyph row, bit 4 = leftmost column; indexed by ASCII code − 32.
    private static let masks: [[UInt8]] = (32...126).map { code in
        let character = Character(Unicode.Scalar(UInt8(code)))
        let rows = (BitmapFontGlyphs.rows[character] ?? "").split(separator: " ")
        precondition(
            rows.count <= glyphHeight, "glyph '\(character)' has \(rows.count) rows, at most \(glyphHeight) allowed")
        return (0..<glyphHeight).map { r in
            guard r < rows.count else { return 0 }
            let row = rows[r]
            precondition(
                row.count == glyphWidth, "glyph '\(character)' row \(r) is \(row.count) columns, expected \(glyphWidth)"
            )
            return row.reduce(0) { $0 << 1 | ($1 == "#" ? 1 : 0) }
        }
    }

    static func mask(for character: Character) -> [UInt8] {
        guard let ascii = character.asciiValue, (32...126).contains(ascii) else {
            return masks[Int(UInt8(ascii: "?")) - 32]
        }
        return masks[Int(ascii) - 32]
    }

    /// Width in pixels of `text` on one line (no trailing gap after the last character).
    public static func width(of text: String, scale: Int = 1) -> Int {
        text.isEmpty ? 0 : (text.count * advance - 1) * scale
    }

    /// Draws `text` with its top-left corner at (x, y); pixels outside the image are skipped.
    public static func draw(_ text: String, into image: inout RGBImage, x: Int, y: Int, color: RGB, scale: Int = 1) {
        let s = max(1, scale)
        var penX = x
        for character in text {
            let rows = mask(for: character)
            for (r, bits) in rows.enumerated() where bits != 0 {
                for c in 0..<glyphWidth where bits & (1 << (glyphWidth - 1 - c)) != 0 {
                    if s == 1 {
                        image.plot(x: penX + c, y: y + r, color: color)
                    } else {
                        image.fillRect(x: penX + c * s, y: y + r * s, width: s, height: s, color: color)
                    }
                }
            }
            penX += advance * s
        }
    }

    /// `text` shortened to fit `maxWidth` pixels, ending in ".." when something was cut.
    public static func truncated(_ text: String, toWidth maxWidth: Int, scale: Int = 1) -> String {
        if width(of: text, scale: scale) <= maxWidth { return text }
        let fits = max(0, (maxWidth / max(1, scale) + 1) / advance)
        guard fits > 2 else { return String(text.prefix(fits)) }
        return String(text.prefix(fits - 2)) + ".."
    }

    /// Word-wraps `text` into at most `maxLines` lines of `maxWidth` pixels; the last line is truncated with "..".
    /// Words longer than a line are cut.
    public static func wrapped(_ text: String, toWidth maxWidth: Int, maxLines: Int, scale: Int = 1) -> [String] {
        guard maxLines > 0 else { return [] }
        let perLine = max(1, (maxWidth / max(1, scale) + 1) / advance)
        var lines: [String] = []
        var current = ""
        var words = text.split(separator: " ").map(String.init)
        while !words.isEmpty {
            var word = words.removeFirst()
            if word.count > perLine {
                words.insert(String(word.dropFirst(perLine)), at: 0)
                word = String(word.prefix(perLine))
            }
            let candidate = current.isEmpty ? word : current + " " + word
            if candidate.count <= perLine {
                current = candidate
                continue
            }
            lines.append(current)
            current = word
            if lines.count == maxLines { break }
        }
        if lines.count < maxLines, !current.isEmpty { lines.append(current); current = "" }
        let cut = !words.isEmpty || !current.isEmpty
        if cut, let last = lines.popLast() {
            let shortened =
                last.count + 2 <= perLine ? last + ".." : truncated(last + "...", toWidth: maxWidth, scale: scale)
            lines.append(shortened)
        }
        return lines
    }
}
