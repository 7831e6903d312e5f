// GPT-2/CLIP byte-level alphabet: every byte gets a printable stand-in character, so BPE can work on any UTF-8
// text without whitespace or control characters inside its symbols.

enum ByteLevelAlphabet {
    /// `characters[b]` is the stand-in of byte `b`. Printable Latin-1 bytes stand for themselves; the other 68 bytes
    /// (controls, space, DEL, NBSP, soft hyphen) take U+0100, U+0101, … in byte order.
    static let characters: [Character] = {
        func isPrintable(_ byte: Int) -> Bool {
            (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
        }
        var next = 0x100
        return (0..<256).map { byte in
            if isPrintable(byte) { return Character(Unicode.Scalar(UInt8(byte))) }
            defer { next += 1 }
            return Character(Unicode.Scalar(UInt32(next))!)
        }
    }()

    /// The order of the base vocabulary: printable bytes first, then the remapped ones (this is the order of
    /// CLIP's first 256 vocabulary entries).
    static let vocabularyOrder: [Character] = {
        let printable = characters.enumerated().filter { $0.element.unicodeScalars.first!.value < 0x100 }
        let remapped = characters.enumerated().filter { $0.element.unicodeScalars.first!.value >= 0x100 }
        return (printable + remapped).map(\.element)
    }()
}
