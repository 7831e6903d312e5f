import Foundation

/// A small baseline JPEG decoder (sequential DCT, Huffman, 8-bit; greyscale or YCbCr with any sampling factors up to
/// 4; restart intervals), enough to check this package's encoder and read ordinary camera-style files. Subsampled
/// chroma is interpolated bilinearly. Progressive and arithmetic-coded files are rejected with a clear error.
public enum JPEGDecoder {
    public static func decode(_ bytes: [UInt8]) throws -> RGBImage {
        var parser = JPEGParser(bytes)
        return try parser.decode()
    }

    public static func decode(contentsOf url: URL) throws -> RGBImage {
        try decode([UInt8](Data(contentsOf: url)))
    }
}

private struct JPEGComponent {
    let id: Int
    let horizontal: Int
    let vertical: Int
    let quantisationTable: Int
    var dcTable = 0
    var acTable = 0
    var blocksPerLine = 0
    var blocksPerColumn = 0
    var samples: [Float] = []
}

/// Canonical Huffman decoding the way T.81 F.2.2.3 describes it: per code length, the largest code and where its
/// symbols start.
private struct JPEGHuffmanDecoder {
    var maxCode = [Int](repeating: -1, count: 18)
    var valueOffset = [Int](repeating: 0, count: 17)
    var symbols: [UInt8] = []

    init(counts: [Int], symbols: [UInt8]) {
        self.symbols = symbols
        var code = 0, k = 0
        for length in 1...16 {
            let count = counts[length - 1]
            valueOffset[length] = k - code
            code += count
            k += count
            maxCode[length] = count > 0 ? code - 1 : -1
            code <<= 1
        }
    }

    func decode(_ reader: inout JPEGBitReader) throws -> Int {
        var code = 0
        for length in 1...16 {
            code = code << 1 | reader.bit()
            if code <= maxCode[length] { return Int(symbols[code + valueOffset[length]]) }
        }
        throw ImagingError.invalidJPEG("bit pattern matches no Huffman code")
    }
}

/// Reads entropy-coded bits most-significant first, removing stuffed zero bytes; at a marker it feeds zeros.
private struct JPEGBitReader {
    let bytes: [UInt8]
    var position: Int
    private var buffer = 0
    private var count = 0

    init(_ bytes: [UInt8], position: Int) {
        self.bytes = bytes
        self.position = position
    }

    mutating func bit() -> Int {
        if count == 0 {
            var byte = 0
            if position < bytes.count {
                byte = Int(bytes[position])
                if byte == 0xFF {
                    let next = position + 1 < bytes.count ? bytes[position + 1] : 0xD9
                    if next == 0 { position += 2 } else { byte = 0 }  // a marker: stay on it
                } else {
                    position += 1
                }
            }
            buffer = byte
            count = 8
        }
        count -= 1
        return (buffer >> count) & 1
    }

    mutating func bits(_ n: Int) -> Int {
        var v = 0
        for _ in 0..<n { v = v << 1 | bit() }
        return v
    }

    /// Value of an n-bit magnitude field (T.81 F.2.2.1, EXTEND).
    mutating func signed(_ n: Int) -> Int {
        guard n > 0 else { return 0 }
        let v = bits(n)
        return v < 1 << (n - 1) ? v - (1 << n) + 1 : v
    }

    /// Drops buffered bits and steps over an RSTn marker.
    mutating func restart() throws {
        count = 0
        while position + 1 < bytes.count && !(bytes[position] == 0xFF && (0xD0...0xD7).contains(bytes[position + 1])) {
            position += 1
        }
        guard position + 1 < bytes.count else { throw ImagingError.invalidJPEG("missing restart marker") }
        position += 2
    }
}

private struct JPEGParser {
    let bytes: [UInt8]
    var position = 2
    var quantisation = [[Int]](repeating: [Int](repeating: 1, count: 64), count: 4)
    var dcTables = [JPEGHuffmanDecoder?](repeating: nil, count: 4)
    var acTables = [JPEGHuffmanDecoder?](repeating: nil, count: 4)
    var components: [JPEGComponent] = []
    var width = 0, height = 0
    var restartInterval = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func decode() throws -> RGBImage {
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { throw ImagingError.invalidJPEG("missing SOI marker") }
        var scanned = false
        while position + 4 <= bytes.count {
            guard bytes[position] == 0xFF else { throw ImagingError.invalidJPEG("expected a marker at byte \(position)") }
            let marker = bytes[position + 1]
            if marker == 0xFF { position += 1; continue }  // fill byte
            if marker == 0xD9 { break }
            let length = Int(bytes[position + 2]) << 8 | Int(bytes[position + 3])
            guard length >= 2, position + 2 + length <= bytes.count else {
                throw ImagingError.invalidJPEG("segment 0xFF\(String(marker, radix: 16)) at byte \(position) runs past the end")
            }
            let segment = Array(bytes[(position + 4)..<(position + 2 + length)])
            position += 2 + length
            switch marker {
            case 0xDB: try readQuantisation(segment)
            case 0xC4: try readHuffman(segment)
            case 0xC0, 0xC1: try readFrame(segment)
            case 0xC2, 0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF:
                throw ImagingError.unsupportedJPEG("only baseline/extended sequential Huffman JPEG is supported (SOF marker 0x\(String(marker, radix: 16)))")
            case 0xDD: restartInterval = Int(segment[0]) << 8 | Int(segment[1])
            case 0xDA:
                try readScan(segment)
                scanned = true
            default: break  // APPn, COM and friends
            }
        }
        guard scanned else { throw ImagingError.invalidJPEG("no scan (SOS) found") }
        return try assemble()
    }

    mutating func readQuantisation(_ s: [UInt8]) throws {
        var i = 0
        while i < s.count {
            let precision = Int(s[i] >> 4), id = Int(s[i] & 15)
            let size = precision == 0 ? 64 : 128
            guard id < 4, i + 1 + size <= s.count else { throw ImagingError.invalidJPEG("bad DQT segment") }
            for k in 0..<64 {
                let v = precision == 0 ? Int(s[i + 1 + k]) : Int(s[i + 1 + 2 * k]) << 8 | Int(s[i + 2 + 2 * k])
                quantisation[id][JPEGTables.zigZag[k]] = v
            }
            i += 1 + size
        }
    }

    mutating func readHuffman(_ s: [UInt8]) throws {
        var i = 0
        while i < s.count {
            guard i + 17 <= s.count else { throw ImagingError.invalidJPEG("bad DHT segment") }
            let tableClass = Int(s[i] >> 4), id = Int(s[i] & 15)
            let counts = s[(i + 1)..<(i + 17)].map(Int.init)
            let total = counts.reduce(0, +)
            guard id < 4, tableClass < 2, i + 17 + total <= s.count else { throw ImagingError.invalidJPEG("bad DHT segment") }
            let table = JPEGHuffmanDecoder(counts: counts, symbols: Array(s[(i + 17)..<(i + 17 + total)]))
            if tableClass == 0 { dcTables[id] = table } else { acTables[id] = table }
            i += 17 + total
        }
    }

    mutating func readFrame(_ s: [UInt8]) throws {
        guard s.count >= 6, s[0] == 8 else { throw ImagingError.unsupportedJPEG("only 8-bit samples are supported") }
        height = Int(s[1]) << 8 | Int(s[2])
        width = Int(s[3]) << 8 | Int(s[4])
        let count = Int(s[5])
        guard width > 0, height > 0, count == 1 || count == 3, s.count >= 6 + 3 * count else {
            throw ImagingError.unsupportedJPEG("frame \(width)×\(height) with \(count) components (need 1 or 3, known height)")
        }
        components = try (0..<count).map { c in
            let h = Int(s[7 + 3 * c] >> 4), v = Int(s[7 + 3 * c] & 15)
            guard (1...4).contains(h), (1...4).contains(v) else { throw ImagingError.invalidJPEG("sampling factors \(h)×\(v)") }
            return JPEGComponent(id: Int(s[6 + 3 * c]), horizontal: h, vertical: v, quantisationTable: Int(s[8 + 3 * c] & 3))
        }
    }

    mutating func readScan(_ s: [UInt8]) throws {
        guard !components.isEmpty else { throw ImagingError.invalidJPEG("scan before frame header") }
        let count = Int(s[0])
        guard count == components.count else {
            throw ImagingError.unsupportedJPEG("non-interleaved scans (\(count) of \(components.count) components) are not supported")
        }
        for c in 0..<count {
            guard let index = components.firstIndex(where: { $0.id == Int(s[1 + 2 * c]) }) else {
                throw ImagingError.invalidJPEG("scan names unknown component \(s[1 + 2 * c])")
            }
            components[index].dcTable = Int(s[2 + 2 * c] >> 4)
            components[index].acTable = Int(s[2 + 2 * c] & 15)
        }
        let maxH = components.map(\.horizontal).max()!, maxV = components.map(\.vertical).max()!
        let mcusAcross = (width + 8 * maxH - 1) / (8 * maxH), mcusDown = (height + 8 * maxV - 1) / (8 * maxV)
        for i in components.indices {
            components[i].blocksPerLine = mcusAcross * components[i].horizontal
            components[i].blocksPerColumn = mcusDown * components[i].vertical
            components[i].samples = [Float](repeating: 0, count: components[i].blocksPerLine * components[i].blocksPerColumn * 64)
        }
        var reader = JPEGBitReader(bytes, position: position)
        var predictors = [Int](repeating: 0, count: components.count)
        var block = [Float](repeating: 0, count: 64)
        for mcu in 0..<(mcusAcross * mcusDown) {
            if restartInterval > 0 && mcu > 0 && mcu % restartInterval == 0 {
                try reader.restart()
                predictors = [Int](repeating: 0, count: components.count)
            }
            let mcuX = mcu % mcusAcross, mcuY = mcu / mcusAcross
            for c in components.indices {
                guard let dc = dcTables[components[c].dcTable], let ac = acTables[components[c].acTable] else {
                    throw ImagingError.invalidJPEG("component \(components[c].id) uses a Huffman table that was never defined")
                }
                let table = quantisation[components[c].quantisationTable]
                for by in 0..<components[c].vertical {
                    for bx in 0..<components[c].horizontal {
                        for k in 0..<64 { block[k] = 0 }
                        predictors[c] += reader.signed(try dc.decode(&reader))
                        block[0] = Float(predictors[c] * table[0])
                        var k = 1
                        while k < 64 {
                            let symbol = try ac.decode(&reader)
                            let run = symbol >> 4, size = symbol & 15
                            if size == 0 {
                                if run == 15 { k += 16; continue }
                                break  // end of block
                            }
                            k += run
                            guard k < 64 else { throw ImagingError.invalidJPEG("AC run past the end of a block") }
                            let n = JPEGTables.zigZag[k]
                            block[n] = Float(reader.signed(size) * table[n])
                            k += 1
                        }
                        DCT8x8.inverse(&block)
                        let blockX = mcuX * components[c].horizontal + bx, blockY = mcuY * components[c].vertical + by
                        let stride = components[c].blocksPerLine * 8
                        for r in 0..<8 {
                            for col in 0..<8 {
                                components[c].samples[(blockY * 8 + r) * stride + blockX * 8 + col] = block[r * 8 + col] + 128
                            }
                        }
                    }
                }
            }
        }
        position = reader.position
        // Skip to the next marker that is not a restart marker.
        while position + 1 < bytes.count && !(bytes[position] == 0xFF && bytes[position + 1] != 0 && !(0xD0...0xD7).contains(bytes[position + 1])) {
            position += 1
        }
    }

    func assemble() throws -> RGBImage {
        let maxH = components.map(\.horizontal).max()!, maxV = components.map(\.vertical).max()!
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        // Subsampled components are interpolated bilinearly between their sample centres (edges clamped).
        func sample(_ c: Int, _ x: Int, _ y: Int) -> Float {
            let comp = components[c]
            let stride = comp.blocksPerLine * 8
            if comp.horizontal == maxH && comp.vertical == maxV { return comp.samples[y * stride + x] }
            let lastX = (width * comp.horizontal + maxH - 1) / maxH - 1, lastY = (height * comp.vertical + maxV - 1) / maxV - 1
            let fx = max(0, (Float(x) + 0.5) * Float(comp.horizontal) / Float(maxH) - 0.5)
            let fy = max(0, (Float(y) + 0.5) * Float(comp.vertical) / Float(maxV) - 0.5)
            let x0 = min(lastX, Int(fx)), y0 = min(lastY, Int(fy))
            let x1 = min(lastX, x0 + 1), y1 = min(lastY, y0 + 1)
            let tx = fx - Float(x0), ty = fy - Float(y0)
            let top = comp.samples[y0 * stride + x0] * (1 - tx) + comp.samples[y0 * stride + x1] * tx
            let bottom = comp.samples[y1 * stride + x0] * (1 - tx) + comp.samples[y1 * stride + x1] * tx
            return top * (1 - ty) + bottom * ty
        }
        func clamp(_ v: Float) -> UInt8 { UInt8(min(255, max(0, v.rounded()))) }
        for y in 0..<height {
            for x in 0..<width {
                let o = (y * width + x) * 3
                let luma = sample(0, x, y)
                if components.count == 1 {
                    pixels[o] = clamp(luma)
                    pixels[o + 1] = pixels[o]
                    pixels[o + 2] = pixels[o]
                    continue
                }
                let cb = sample(1, x, y) - 128, cr = sample(2, x, y) - 128
                pixels[o] = clamp(luma + 1.402 * cr)
                pixels[o + 1] = clamp(luma - 0.344_136 * cb - 0.714_136 * cr)
                pixels[o + 2] = clamp(luma + 1.772 * cb)
            }
        }
        return try RGBImage(width: width, height: height, pixels: pixels)
    }
}
