/// DEFLATE decompression (RFC 1951): stored, fixed-Huffman and dynamic-Huffman blocks.
struct Inflater {
    private var reader: BitReader
    private var output: [UInt8] = []

    init(_ data: [UInt8], startingAt position: Int = 0) {
        reader = BitReader(data, startingAt: position)
    }

    /// Index of the first input byte after the stream (valid after `inflate`).
    var endPosition: Int { reader.bytePosition }

    mutating func inflate() throws -> [UInt8] {
        var final = false
        repeat {
            final = try reader.read(1) == 1
            switch try reader.read(2) {
            case 0: try copyStoredBlock()
            case 1: try inflateBlock(literal: Self.fixedLiteral, distance: Self.fixedDistance)
            case 2:
                let (literal, distance) = try readDynamicCodes()
                try inflateBlock(literal: literal, distance: distance)
            default: throw ImagingError.invalidDeflateStream("reserved block type 3")
            }
        } while !final
        reader.alignToByte()
        return output
    }

    // Built on first use; a failure here would be a bug in the fixed tables, not bad input.
    private static let fixedLiteral = try! HuffmanDecoder(lengths: DeflateTables.fixedLiteralLengths, name: "fixed literal")
    private static let fixedDistance = try! HuffmanDecoder(lengths: DeflateTables.fixedDistanceLengths, name: "fixed distance")

    private mutating func copyStoredBlock() throws {
        reader.alignToByte()
        let length = try reader.read(16), complement = try reader.read(16)
        guard length == ~complement & 0xFFFF else {
            throw ImagingError.invalidDeflateStream("stored block length \(length) does not match its complement \(complement)")
        }
        output.reserveCapacity(output.count + length)
        for _ in 0..<length { output.append(UInt8(try reader.read(8))) }
    }

    private mutating func readDynamicCodes() throws -> (HuffmanDecoder, HuffmanDecoder) {
        let literalCount = try reader.read(5) + 257
        let distanceCount = try reader.read(5) + 1
        let lengthCodeCount = try reader.read(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else {
            throw ImagingError.invalidDeflateStream("dynamic block declares \(literalCount) literal and \(distanceCount) distance codes (max 286 and 30)")
        }
        var lengthCodeLengths = [UInt8](repeating: 0, count: 19)
        for symbol in DeflateTables.codeLengthOrder[0..<lengthCodeCount] {
            lengthCodeLengths[symbol] = UInt8(try reader.read(3))
        }
        let lengthDecoder = try HuffmanDecoder(lengths: lengthCodeLengths, name: "code-length")
        var lengths: [UInt8] = []
        lengths.reserveCapacity(literalCount + distanceCount)
        while lengths.count < literalCount + distanceCount {
            let symbol = try lengthDecoder.decode(&reader)
            switch symbol {
            case 0...15:
                lengths.append(UInt8(symbol))
            case 16:
                guard let previous = lengths.last else {
                    throw ImagingError.invalidDeflateStream("code-length repeat (16) with no previous length")
                }
                lengths.append(contentsOf: repeatElement(previous, count: 3 + (try reader.read(2))))
            case 17:
                lengths.append(contentsOf: repeatElement(0, count: 3 + (try reader.read(3))))
            default:
                lengths.append(contentsOf: repeatElement(0, count: 11 + (try reader.read(7))))
            }
        }
        guard lengths.count == literalCount + distanceCount else {
            throw ImagingError.invalidDeflateStream("code-length repeats run past the declared \(literalCount + distanceCount) lengths")
        }
        guard lengths[256] > 0 else { throw ImagingError.invalidDeflateStream("dynamic block has no end-of-block code") }
        let literal = try HuffmanDecoder(lengths: Array(lengths[0..<literalCount]), name: "literal/length")
        let distanceLengths = Array(lengths[literalCount...])
        // A block with only literals may describe no distance codes; give it a dummy code that is never used.
        let distance = try distanceLengths.contains { $0 > 0 }
            ? HuffmanDecoder(lengths: distanceLengths, name: "distance")
            : Self.fixedDistance
        return (literal, distance)
    }

    private mutating func inflateBlock(literal: HuffmanDecoder, distance: HuffmanDecoder) throws {
        while true {
            let symbol = try literal.decode(&reader)
            if symbol < 256 {
                output.append(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let l = symbol - 257
            guard l < 29 else { throw ImagingError.invalidDeflateStream("invalid length symbol \(symbol)") }
            let length = DeflateTables.lengthBase[l] + (try reader.read(DeflateTables.lengthExtraBits[l]))
            let d = try distance.decode(&reader)
            guard d < 30 else { throw ImagingError.invalidDeflateStream("invalid distance symbol \(d)") }
            let back = DeflateTables.distanceBase[d] + (try reader.read(DeflateTables.distanceExtraBits[d]))
            guard back <= output.count else {
                throw ImagingError.invalidDeflateStream("distance \(back) reaches before the start of the output (\(output.count) bytes)")
            }
            // Byte by byte, because a match may overlap the bytes it produces (distance < length).
            var from = output.count - back
            for _ in 0..<length {
                output.append(output[from])
                from += 1
            }
        }
    }
}
