// SentencePiece's normalizer (normalizer.cc): the compiled rules (NFKC-like for "nmt_nfkc"), then whitespace
// handling: leading, trailing and repeated spaces removed, a dummy "▁" prefix added, spaces escaped as "▁".
// Works on UTF-8 bytes, like the original, so rules and lengths are exactly SentencePiece's.

struct SentencePieceNormalizer: Sendable {
    var charsMap: PrecompiledCharsMap?
    /// User-defined symbols pass through unnormalized (matched before the rules, longest first).
    var userDefinedSymbols = PieceTrie()
    var addsDummyPrefix = true
    var removesExtraWhitespaces = true
    var escapesWhitespaces = true
    var treatsWhitespaceAsSuffix = false

    static let spaceSymbol: [UInt8] = Array("\u{2581}".utf8)

    func normalize(_ input: [UInt8]) -> [UInt8] {
        var position = 0
        if removesExtraWhitespaces {
            while position < input.count {
                let (replacement, consumed) = normalizePrefix(input, at: position)
                guard replacement.elementsEqual([0x20]) else { break }
                position += consumed
            }
        }
        guard position < input.count else { return [] }

        var output: [UInt8] = []
        output.reserveCapacity(input.count * 3)
        let space: [UInt8] = escapesWhitespaces ? Self.spaceSymbol : [0x20]
        if !treatsWhitespaceAsSuffix, addsDummyPrefix { output += space }
        var previousIsSpace = removesExtraWhitespaces
        while position < input.count {
            let (replacement, consumed) = normalizePrefix(input, at: position)
            var piece = replacement[...]
            while previousIsSpace, piece.first == 0x20 { piece = piece.dropFirst() }
            if !piece.isEmpty {
                for byte in piece {
                    if escapesWhitespaces, byte == 0x20 { output += Self.spaceSymbol } else { output.append(byte) }
                }
                previousIsSpace = piece.last == 0x20
            }
            position += consumed
            if !removesExtraWhitespaces { previousIsSpace = false }
        }
        if removesExtraWhitespaces {
            while output.count >= space.count, output.suffix(space.count).elementsEqual(space) {
                output.removeLast(space.count)
            }
        }
        if treatsWhitespaceAsSuffix, addsDummyPrefix { output += space }
        return output
    }

    /// The normalized form of the longest rule (or user-defined symbol, or else single character) at `position`,
    /// and how many input bytes it covers.
    private func normalizePrefix(_ input: [UInt8], at position: Int) -> (ArraySlice<UInt8>, Int) {
        if let symbol = userDefinedSymbols.longestPrefix(of: input, from: position) {
            return (input[position..<position + symbol.length], symbol.length)
        }
        if let charsMap, let rule = charsMap.longestMatch(input, from: position) {
            return (rule.replacement, rule.length)
        }
        let length = min(UTF8Text.sequenceLength(leadByte: input[position]), input.count - position)
        return (input[position..<position + length], length)
    }
}

enum UTF8Text {
    /// Byte length of the UTF-8 sequence starting with `leadByte` (1 for stray continuation bytes).
    static func sequenceLength(leadByte: UInt8) -> Int {
        switch leadByte {
        case 0xF0...: return 4
        case 0xE0...: return 3
        case 0xC0...: return 2
        default: return 1
        }
    }
}
