/// The fixed tables of DEFLATE (RFC 1951, section 3.2.5): length and distance symbols with their extra bits.
enum DeflateTables {
    /// Smallest match length of length symbols 257...285.
    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                    35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtraBits: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                         3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    /// Smallest distance of distance symbols 0...29.
    static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                      257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtraBits: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                           7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    /// Order in which a dynamic block lists the code lengths of the code-length alphabet.
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// Literal/length code lengths of the fixed Huffman code.
    static let fixedLiteralLengths: [UInt8] = (0..<288).map { s in s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8 }
    static let fixedDistanceLengths = [UInt8](repeating: 5, count: 30)

    /// Length symbol index (0...28, add 257 for the symbol) for every match length 0...258 (entries below 3 unused).
    static let lengthSymbolIndex: [UInt8] = (0...258).map { length in
        guard length >= 3 else { return 0 }
        var index = lengthBase.count - 1
        while lengthBase[index] > length { index -= 1 }
        return UInt8(index)
    }

    static func distanceSymbol(_ distance: Int) -> Int {
        // Distances ≤ 256 by table; above, the symbol follows from the position of the top bit.
        if distance <= 256 { return Int(smallDistanceSymbol[distance]) }
        let d = distance - 1
        let topBit = Int.bitWidth - 1 - d.leadingZeroBitCount
        return 2 * topBit + ((d >> (topBit - 1)) & 1)
    }

    private static let smallDistanceSymbol: [UInt8] = (0...256).map { distance in
        guard distance >= 1 else { return 0 }
        var index = distanceBase.count - 1
        while distanceBase[index] > distance { index -= 1 }
        return UInt8(index)
    }
}
