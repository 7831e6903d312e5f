// SentencePiece's compiled normalization rules (`precompiled_charsmap`): a Darts-clone double-array trie over UTF-8
// byte sequences whose values point into a pool of NUL-terminated replacement strings. Layout of the blob:
// <trie size in bytes: UInt32 little-endian><trie units: UInt32 little-endian each><replacement strings>.

struct PrecompiledCharsMap: Sendable {
    private let units: [UInt32]
    private let replacements: [UInt8]

    init(_ blob: [UInt8]) throws {
        guard blob.count > 4 else {
            throw ProtobufError.charsMapTooShort(byteCount: blob.count)
        }
        let trieSize = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard trieSize % 4 == 0, trieSize > 0, 4 + trieSize <= blob.count else {
            throw ProtobufError.charsMapBadTrieSize(trieSize: trieSize, byteCount: blob.count)
        }
        units = stride(from: 4, to: 4 + trieSize, by: 4).map { offset in
            UInt32(blob[offset]) | UInt32(blob[offset + 1]) << 8 | UInt32(blob[offset + 2]) << 16
                | UInt32(blob[offset + 3]) << 24
        }
        replacements = Array(blob[(4 + trieSize)...])
    }

    // Darts-clone unit fields.
    private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    private static func value(_ unit: UInt32) -> Int { Int(unit & 0x7FFF_FFFF) }
    private static func label(_ unit: UInt32) -> UInt32 { unit & (0x8000_0000 | 0xFF) }
    private static func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }

    /// Every rule whose key is a prefix of `key[start...]`, shortest first, as (key length, replacement).
    func prefixMatches<C: RandomAccessCollection>(
        _ key: C, from start: C.Index
    ) -> [(length: Int, replacement: ArraySlice<UInt8>)] where C.Element == UInt8 {
        var results: [(length: Int, replacement: ArraySlice<UInt8>)] = []
        var node = Self.offset(units[0])
        var length = 0
        var index = start
        while index != key.endIndex {
            let byte = key[index]
            node ^= Int(byte)
            guard node < units.count else { break }
            let unit = units[node]
            guard Self.label(unit) == UInt32(byte) else { break }
            node ^= Self.offset(unit)
            length += 1
            if Self.hasLeaf(unit) {
                guard node < units.count else { break }
                results.append((length, replacement(at: Self.value(units[node]))))
            }
            index = key.index(after: index)
        }
        return results
    }

    /// SentencePiece's choice: the longest matching rule.
    func longestMatch<C: RandomAccessCollection>(
        _ key: C, from start: C.Index
    ) -> (length: Int, replacement: ArraySlice<UInt8>)? where C.Element == UInt8 {
        prefixMatches(key, from: start).last
    }

    private func replacement(at offset: Int) -> ArraySlice<UInt8> {
        guard offset < replacements.count else { return [] }
        let end = replacements[offset...].firstIndex(of: 0) ?? replacements.count
        return replacements[offset..<end]
    }
}
