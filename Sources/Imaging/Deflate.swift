/// DEFLATE compression (RFC 1951): LZ77 parsing, then per block the cheapest of a dynamic Huffman code, the fixed
/// code or stored bytes.
public enum Deflate {
    /// Which block types the compressor may use. `.automatic` picks the smallest per block; the others force one type
    /// (for tests and interoperability checks).
    public enum BlockStrategy: Sendable {
        case automatic
        case storedOnly
        case fixedOnly
        case dynamicOnly
    }

    /// Raw DEFLATE stream of `data` (no zlib header).
    public static func compress(_ data: [UInt8], strategy: BlockStrategy = .automatic) -> [UInt8] {
        var writer = BitWriter(reservingCapacity: data.count / 2 + 64)
        if strategy == .storedOnly {
            writeStored(data[...], final: true, into: &writer)
            return writer.bytes
        }
        let tokens = LZ77Matcher().tokens(for: data)
        // Blocks of a bounded number of tokens let the code adapt to changing statistics across an image.
        let tokensPerBlock = 1 << 14
        var start = 0, byteStart = 0
        repeat {
            let end = min(tokens.count, start + tokensPerBlock)
            var byteEnd = byteStart
            for t in tokens[start..<end] { byteEnd += t.isLiteral ? 1 : Int(t.literalOrLength) }
            writeBlock(tokens: tokens[start..<end], bytes: data[byteStart..<byteEnd], final: end == tokens.count,
                       strategy: strategy, into: &writer)
            start = end
            byteStart = byteEnd
        } while start < tokens.count
        writer.alignToByte()
        return writer.bytes
    }

    /// Inflates a raw DEFLATE stream.
    public static func decompress(_ data: [UInt8]) throws -> [UInt8] {
        var inflater = Inflater(data)
        return try inflater.inflate()
    }

    // MARK: - Blocks

    private static func writeBlock(tokens: ArraySlice<LZ77Token>, bytes: ArraySlice<UInt8>, final: Bool,
                                   strategy: BlockStrategy, into writer: inout BitWriter) {
        var literalFrequencies = [Int](repeating: 0, count: 286)
        var distanceFrequencies = [Int](repeating: 0, count: 30)
        var extraBits = 0
        for t in tokens {
            if t.isLiteral {
                literalFrequencies[Int(t.literalOrLength)] += 1
            } else {
                let l = Int(DeflateTables.lengthSymbolIndex[Int(t.literalOrLength)])
                let d = DeflateTables.distanceSymbol(Int(t.distance))
                literalFrequencies[257 + l] += 1
                distanceFrequencies[d] += 1
                extraBits += DeflateTables.lengthExtraBits[l] + DeflateTables.distanceExtraBits[d]
            }
        }
        literalFrequencies[256] = 1

        let dynamic = DynamicHeader(literalFrequencies: literalFrequencies, distanceFrequencies: distanceFrequencies)
        let fixedLiteral = HuffmanCode(lengths: DeflateTables.fixedLiteralLengths)
        let fixedDistance = HuffmanCode(lengths: DeflateTables.fixedDistanceLengths)
        func codedBits(_ literal: HuffmanCode, _ distance: HuffmanCode) -> Int {
            var bits = extraBits
            for (s, f) in literalFrequencies.enumerated() where f > 0 { bits += f * Int(literal.lengths[s]) }
            for (s, f) in distanceFrequencies.enumerated() where f > 0 { bits += f * Int(distance.lengths[s]) }
            return bits
        }
        let dynamicBits = 3 + dynamic.headerBits + codedBits(dynamic.literalCode, dynamic.distanceCode)
        let fixedBits = 3 + codedBits(fixedLiteral, fixedDistance)
        // Stored: 3 header bits padded to a byte, then 4 length bytes, per chunk of ≤ 65535 bytes.
        let storedBits = (bytes.count + 65534) / 65535 * (8 + 32) + bytes.count * 8 + (bytes.isEmpty ? 40 : 0)

        let choice: BlockStrategy
        switch strategy {
        case .automatic:
            choice = storedBits < min(fixedBits, dynamicBits) ? .storedOnly : (fixedBits <= dynamicBits ? .fixedOnly : .dynamicOnly)
        default:
            choice = strategy
        }
        switch choice {
        case .storedOnly:
            writeStored(bytes, final: final, into: &writer)
        case .fixedOnly:
            writer.write(final ? 1 : 0, bits: 1)
            writer.write(1, bits: 2)
            writeTokens(tokens, literal: fixedLiteral, distance: fixedDistance, into: &writer)
        default:
            writer.write(final ? 1 : 0, bits: 1)
            writer.write(2, bits: 2)
            dynamic.write(into: &writer)
            writeTokens(tokens, literal: dynamic.literalCode, distance: dynamic.distanceCode, into: &writer)
        }
    }

    private static func writeStored(_ bytes: ArraySlice<UInt8>, final: Bool, into writer: inout BitWriter) {
        var start = bytes.startIndex
        repeat {
            let end = min(bytes.endIndex, start + 65535)
            writer.write(final && end == bytes.endIndex ? 1 : 0, bits: 1)
            writer.write(0, bits: 2)
            writer.alignToByte()
            let length = UInt32(end - start)
            writer.write(length, bits: 16)
            writer.write(~length & 0xFFFF, bits: 16)
            writer.append(bytes: bytes[start..<end])
            start = end
        } while start < bytes.endIndex
    }

    private static func writeTokens(_ tokens: ArraySlice<LZ77Token>, literal: HuffmanCode, distance: HuffmanCode,
                                    into writer: inout BitWriter) {
        for t in tokens {
            if t.isLiteral {
                let s = Int(t.literalOrLength)
                writer.write(UInt32(literal.reversedCodes[s]), bits: Int(literal.lengths[s]))
                continue
            }
            let length = Int(t.literalOrLength)
            let l = Int(DeflateTables.lengthSymbolIndex[length])
            writer.write(UInt32(literal.reversedCodes[257 + l]), bits: Int(literal.lengths[257 + l]))
            writer.write(UInt32(length - DeflateTables.lengthBase[l]), bits: DeflateTables.lengthExtraBits[l])
            let dist = Int(t.distance)
            let d = DeflateTables.distanceSymbol(dist)
            writer.write(UInt32(distance.reversedCodes[d]), bits: Int(distance.lengths[d]))
            writer.write(UInt32(dist - DeflateTables.distanceBase[d]), bits: DeflateTables.distanceExtraBits[d])
        }
        writer.write(UInt32(literal.reversedCodes[256]), bits: Int(literal.lengths[256]))
    }
}

/// The code description at the start of a dynamic-Huffman block: both codes' lengths, run-length encoded with the
/// code-length alphabet (16 = repeat previous 3–6 times, 17 = 3–10 zeros, 18 = 11–138 zeros), itself Huffman coded.
private struct DynamicHeader {
    let literalCode: HuffmanCode
    let distanceCode: HuffmanCode
    private let literalCount: Int
    private let distanceCount: Int
    private let runs: [(symbol: Int, extra: Int)]
    private let lengthCode: HuffmanCode
    private let lengthCodeCount: Int

    init(literalFrequencies: [Int], distanceFrequencies: [Int]) {
        literalCode = HuffmanCode(lengths: HuffmanCode.lengths(frequencies: literalFrequencies, maxLength: 15))
        distanceCode = HuffmanCode(lengths: HuffmanCode.lengths(frequencies: distanceFrequencies, maxLength: 15))
        literalCount = max(257, (literalCode.lengths.lastIndex { $0 > 0 } ?? 0) + 1)
        distanceCount = max(1, (distanceCode.lengths.lastIndex { $0 > 0 } ?? 0) + 1)
        let all = Array(literalCode.lengths[0..<literalCount]) + Array(distanceCode.lengths[0..<distanceCount])
        runs = Self.runLengthEncode(all)
        var frequencies = [Int](repeating: 0, count: 19)
        for run in runs { frequencies[run.symbol] += 1 }
        let lengthCode = HuffmanCode(lengths: HuffmanCode.lengths(frequencies: frequencies, maxLength: 7))
        self.lengthCode = lengthCode
        lengthCodeCount = max(4, (DeflateTables.codeLengthOrder.lastIndex { lengthCode.lengths[$0] > 0 } ?? 0) + 1)
    }

    private static func runLengthEncode(_ lengths: [UInt8]) -> [(symbol: Int, extra: Int)] {
        var out: [(symbol: Int, extra: Int)] = []
        var i = 0
        while i < lengths.count {
            let value = lengths[i]
            var run = 1
            while i + run < lengths.count && lengths[i + run] == value { run += 1 }
            i += run
            if value == 0 {
                while run >= 11 { let r = min(run, 138); out.append((18, r - 11)); run -= r }
                if run >= 3 { out.append((17, run - 3)); run = 0 }
                while run > 0 { out.append((0, 0)); run -= 1 }
            } else {
                out.append((Int(value), 0))
                run -= 1
                while run >= 3 { let r = min(run, 6); out.append((16, r - 3)); run -= r }
                while run > 0 { out.append((Int(value), 0)); run -= 1 }
            }
        }
        return out
    }

    private static func extraBits(_ symbol: Int) -> Int { symbol == 16 ? 2 : symbol == 17 ? 3 : symbol == 18 ? 7 : 0 }

    var headerBits: Int {
        14 + 3 * lengthCodeCount + runs.reduce(0) { $0 + Int(lengthCode.lengths[$1.symbol]) + Self.extraBits($1.symbol) }
    }

    func write(into writer: inout BitWriter) {
        writer.write(UInt32(literalCount - 257), bits: 5)
        writer.write(UInt32(distanceCount - 1), bits: 5)
        writer.write(UInt32(lengthCodeCount - 4), bits: 4)
        for symbol in DeflateTables.codeLengthOrder[0..<lengthCodeCount] {
            writer.write(UInt32(lengthCode.lengths[symbol]), bits: 3)
        }
        for run in runs {
            writer.write(UInt32(lengthCode.reversedCodes[run.symbol]), bits: Int(lengthCode.lengths[run.symbol]))
            writer.write(UInt32(run.extra), bits: Self.extraBits(run.symbol))
        }
    }
}
