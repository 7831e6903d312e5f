// DEFLATE decoder (RFC 1951): stored, fixed-Huffman and dynamic-Huffman blocks.

/// A canonical Huffman code as a direct lookup table indexed by the next `maxLength` input bits (DEFLATE sends codes
/// most-significant bit first inside a least-significant-bit-first stream, so the table is indexed by the reversed
/// code). Each entry is `symbol << 4 | codeLength`; a code length of 0 marks a bit pattern no code uses.
struct HuffmanTable {
    let entries: [UInt16]
    let maxLength: Int

    init(codeLengths: ArraySlice<UInt8>, name: String) throws {
        var countPerLength = [Int](repeating: 0, count: 16)
        for length in codeLengths { countPerLength[Int(length)] += 1 }
        countPerLength[0] = 0
        // Kraft check: more codes of some length than the tree has room for means a corrupt header.
        var room = 1
        for length in 1...15 {
            room = room * 2 - countPerLength[length]
            if room < 0 { throw GzipError(reason: "over-subscribed \(name) Huffman code") }
        }
        let maxLength = max(1, countPerLength.lastIndex { $0 > 0 } ?? 1)
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for length in 1...15 {
            code = (code + countPerLength[length - 1]) << 1
            nextCode[length] = code
        }
        var entries = [UInt16](repeating: 0, count: 1 << maxLength)
        for (offset, lengthByte) in codeLengths.enumerated() where lengthByte > 0 {
            let length = Int(lengthByte)
            let symbol = offset
            var reversed = 0
            var value = nextCode[length]
            nextCode[length] += 1
            for _ in 0..<length {
                reversed = reversed << 1 | value & 1
                value >>= 1
            }
            let entry = UInt16(symbol << 4 | length)
            var index = reversed
            while index < entries.count {
                entries[index] = entry
                index += 1 << length
            }
        }
        self.entries = entries
        self.maxLength = maxLength
    }
}

struct Inflater {
    private let data: [UInt8]
    private var position: Int
    private var bitBuffer: UInt64 = 0
    private var bitCount = 0

    init(_ data: [UInt8], start: Int) {
        self.data = data
        self.position = start
    }

    /// The first byte after the final block (the stream ends on a byte boundary).
    var byteOffsetAfterEnd: Int { position - bitCount / 8 }

    mutating func run(into output: inout [UInt8]) throws {
        var isFinal = false
        while !isFinal {
            isFinal = try bits(1) == 1
            switch try bits(2) {
            case 0: try copyStoredBlock(into: &output)
            case 1: try inflateBlock(literals: Self.fixedLiterals, distances: Self.fixedDistances, into: &output)
            case 2:
                let (literals, distances) = try readDynamicTables()
                try inflateBlock(literals: literals, distances: distances, into: &output)
            default: throw GzipError(reason: "reserved DEFLATE block type 3")
            }
        }
        // Drop the bits left in the current byte.
        bitBuffer >>= UInt64(bitCount % 8)
        bitCount -= bitCount % 8
    }

    // MARK: bits

    private mutating func refill() {
        while bitCount <= 56, position < data.count {
            bitBuffer |= UInt64(data[position]) << UInt64(bitCount)
            position += 1
            bitCount += 8
        }
    }

    private mutating func bits(_ count: Int) throws -> Int {
        if bitCount < count {
            refill()
            guard bitCount >= count else { throw GzipError(reason: "DEFLATE stream ends unexpectedly") }
        }
        let value = Int(bitBuffer & ((1 << UInt64(count)) - 1))
        bitBuffer >>= UInt64(count)
        bitCount -= count
        return value
    }

    private mutating func symbol(_ table: HuffmanTable) throws -> Int {
        if bitCount < table.maxLength { refill() }
        // Past the end of the data the missing high bits read as zero; a code longer than what is left fails below.
        let entry = Int(table.entries[Int(bitBuffer & ((1 << UInt64(table.maxLength)) - 1))])
        let length = entry & 15
        guard length > 0 else { throw GzipError(reason: "invalid Huffman code in DEFLATE stream") }
        guard length <= bitCount else { throw GzipError(reason: "DEFLATE stream ends unexpectedly") }
        bitBuffer >>= UInt64(length)
        bitCount -= length
        return entry >> 4
    }

    // MARK: blocks

    private mutating func copyStoredBlock(into output: inout [UInt8]) throws {
        bitBuffer >>= UInt64(bitCount % 8)
        bitCount -= bitCount % 8
        let length = try bits(16)
        let complement = try bits(16)
        guard length == ~complement & 0xFFFF else { throw GzipError(reason: "stored block length check failed") }
        // Whole bytes may still sit in the bit buffer.
        var remaining = length
        while remaining > 0, bitCount >= 8 {
            output.append(UInt8(try bits(8)))
            remaining -= 1
        }
        guard position + remaining <= data.count else { throw GzipError(reason: "stored block runs past the end") }
        output.append(contentsOf: data[position..<position + remaining])
        position += remaining
    }

    private static let lengthBases: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ]
    private static let lengthExtraBits: [Int] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ]
    private static let distanceBases: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ]
    private static let distanceExtraBits: [Int] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]
    private static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    private static let fixedLiterals: HuffmanTable = {
        var lengths = [UInt8](repeating: 8, count: 288)
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        return try! HuffmanTable(codeLengths: lengths[...], name: "fixed literal")
    }()
    private static let fixedDistances = try! HuffmanTable(
        codeLengths: [UInt8](repeating: 5, count: 30)[...], name: "fixed distance")

    private mutating func readDynamicTables() throws -> (HuffmanTable, HuffmanTable) {
        let literalCount = try bits(5) + 257
        let distanceCount = try bits(5) + 1
        let codeLengthCount = try bits(4) + 4
        var codeLengthLengths = [UInt8](repeating: 0, count: 19)
        for i in 0..<codeLengthCount { codeLengthLengths[Self.codeLengthOrder[i]] = UInt8(try bits(3)) }
        let codeLengthTable = try HuffmanTable(codeLengths: codeLengthLengths[...], name: "code length")
        var lengths: [UInt8] = []
        lengths.reserveCapacity(literalCount + distanceCount)
        while lengths.count < literalCount + distanceCount {
            let symbol = try symbol(codeLengthTable)
            switch symbol {
            case 0...15:
                lengths.append(UInt8(symbol))
            case 16:
                guard let previous = lengths.last else {
                    throw GzipError(reason: "repeat code with no previous length")
                }
                lengths += repeatElement(previous, count: 3 + (try bits(2)))
            case 17:
                lengths += repeatElement(0, count: 3 + (try bits(3)))
            default:
                lengths += repeatElement(0, count: 11 + (try bits(7)))
            }
        }
        guard lengths.count == literalCount + distanceCount else {
            throw GzipError(reason: "code lengths overrun the declared table sizes")
        }
        guard lengths[256] > 0 else { throw GzipError(reason: "dynamic block has no end-of-block code") }
        return (
            try HuffmanTable(codeLengths: lengths[0..<literalCount], name: "literal/length"),
            try HuffmanTable(codeLengths: lengths[literalCount...], name: "distance")
        )
    }

    private mutating func inflateBlock(
        literals: HuffmanTable, distances: HuffmanTable, into output: inout [UInt8]
    ) throws {
        while true {
            let symbol = try symbol(literals)
            if symbol < 256 {
                output.append(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let lengthCode = symbol - 257
            guard lengthCode < 29 else { throw GzipError(reason: "invalid length symbol \(symbol)") }
            let length = Self.lengthBases[lengthCode] + (try bits(Self.lengthExtraBits[lengthCode]))
            let distanceCode = try self.symbol(distances)
            guard distanceCode < 30 else { throw GzipError(reason: "invalid distance symbol \(distanceCode)") }
            let distance = Self.distanceBases[distanceCode] + (try bits(Self.distanceExtraBits[distanceCode]))
            guard distance <= output.count else {
                throw GzipError(reason: "back-reference distance \(distance) reaches before the start of the data")
            }
            // Copies byte by byte on purpose: a match may overlap the bytes it is producing.
            let start = output.count - distance
            for i in 0..<length { output.append(output[start + i]) }
        }
    }
}
