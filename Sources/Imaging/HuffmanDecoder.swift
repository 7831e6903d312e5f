/// Decodes one canonical Huffman code with a single lookup table indexed by the next `maxLength` input bits.
struct HuffmanDecoder {
    /// Entry = symbol << 4 | code length; 0 marks bit patterns that no code starts with.
    private let table: [UInt16]
    private let maxLength: Int

    init(lengths: [UInt8], name: String) throws {
        maxLength = Int(lengths.max() ?? 0)
        guard maxLength > 0 else {
            throw ImagingError.invalidDeflateStream("\(name) code has no symbols")
        }
        guard maxLength <= 15 else {
            throw ImagingError.invalidDeflateStream("\(name) code length \(maxLength) exceeds 15")
        }
        var countPerLength = [Int](repeating: 0, count: maxLength + 1)
        for l in lengths where l > 0 { countPerLength[Int(l)] += 1 }
        // Kraft inequality: more codes of a length than the tree has room for cannot be decoded.
        var room = 1
        for bits in 1...maxLength {
            room = room * 2 - countPerLength[bits]
            guard room >= 0 else { throw ImagingError.invalidDeflateStream("\(name) code is over-subscribed") }
        }
        var nextCode = [Int](repeating: 0, count: maxLength + 2)
        var code = 0
        for bits in 1...maxLength {
            code = (code + countPerLength[bits - 1]) << 1
            nextCode[bits] = code
        }
        var table = [UInt16](repeating: 0, count: 1 << maxLength)
        for (symbol, l) in lengths.enumerated() where l > 0 {
            let length = Int(l)
            let reversed = HuffmanCode.reverse(nextCode[length], bits: length)
            nextCode[length] += 1
            let entry = UInt16(symbol << 4 | length)
            // Every table index whose low `length` bits are this code decodes to the symbol.
            for index in stride(from: reversed, to: table.count, by: 1 << length) { table[index] = entry }
        }
        self.table = table
    }

    @inline(__always) func decode(_ reader: inout BitReader) throws -> Int {
        let entry = table[reader.peek(maxLength)]
        guard entry != 0 else { throw ImagingError.invalidDeflateStream("bit pattern matches no Huffman code") }
        try reader.consume(Int(entry & 15))
        return Int(entry >> 4)
    }
}
