import Foundation

/// Baseline JPEG encoder: YCbCr, 8×8 DCT, the standard quantisation tables scaled by quality (IJG formula) and the
/// standard Huffman tables. With these defaults (quality 95, 4:2:0) its files are close in size to PIL's, which is
/// what DDPO's JPEG-compressibility reward measures.
public struct JPEGEncoder: Sendable {
    public enum ChromaSubsampling: Sendable {
        /// Full-resolution chroma.
        case none444
        /// Chroma halved in both directions (PIL's default).
        case quarter420
    }

    public var quality: Int
    public var subsampling: ChromaSubsampling

    public init(quality: Int = 95, subsampling: ChromaSubsampling = .quarter420) {
        self.quality = quality
        self.subsampling = subsampling
    }

    public func encode(_ image: RGBImage) throws -> [UInt8] {
        guard !image.isEmpty, image.width <= 65535, image.height <= 65535 else {
            throw ImagingError.invalidArgument("JPEG needs a size between 1×1 and 65535×65535, got \(image.width)×\(image.height)")
        }
        let lumaTable = JPEGTables.quantisation(JPEGTables.luminanceQuantisation, quality: quality)
        let chromaTable = JPEGTables.quantisation(JPEGTables.chrominanceQuantisation, quality: quality)
        let factor = subsampling == .quarter420 ? 2 : 1

        var out: [UInt8] = [0xFF, 0xD8]
        // APP0 JFIF 1.1, no density information, no thumbnail.
        appendSegment(0xE0, [0x4A, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, 0, 1, 0, 1, 0, 0], to: &out)
        appendSegment(0xDB, [0] + JPEGTables.zigZag.map { UInt8(lumaTable[$0]) }
                      + [1] + JPEGTables.zigZag.map { UInt8(chromaTable[$0]) }, to: &out)
        let sampling = UInt8(factor << 4 | factor)
        appendSegment(0xC0, [8, UInt8(image.height >> 8), UInt8(image.height & 0xFF), UInt8(image.width >> 8),
                             UInt8(image.width & 0xFF), 3, 1, sampling, 0, 2, 0x11, 1, 3, 0x11, 1], to: &out)
        for (tableClass, id, spec) in [(0, 0, JPEGTables.luminanceDC), (1, 0, JPEGTables.luminanceAC),
                                       (0, 1, JPEGTables.chrominanceDC), (1, 1, JPEGTables.chrominanceAC)] {
            appendSegment(0xC4, [UInt8(tableClass << 4 | id)] + spec.counts.map { UInt8($0) } + spec.symbols, to: &out)
        }
        appendSegment(0xDA, [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0], to: &out)
        out += entropyCodedData(image, factor: factor, lumaTable: lumaTable, chromaTable: chromaTable)
        out += [0xFF, 0xD9]
        return out
    }

    private func appendSegment(_ marker: UInt8, _ payload: [UInt8], to out: inout [UInt8]) {
        let length = payload.count + 2
        out += [0xFF, marker, UInt8(length >> 8), UInt8(length & 0xFF)]
        out += payload
    }

    // MARK: - Scan

    private func entropyCodedData(_ image: RGBImage, factor: Int, lumaTable: [Int], chromaTable: [Int]) -> [UInt8] {
        let mcuSize = 8 * factor
        let paddedWidth = (image.width + mcuSize - 1) / mcuSize * mcuSize
        let paddedHeight = (image.height + mcuSize - 1) / mcuSize * mcuSize
        let planes = YCbCrPlanes(image, paddedWidth: paddedWidth, paddedHeight: paddedHeight, chromaFactor: factor)

        let luma = (dc: JPEGHuffmanEncoder(JPEGTables.luminanceDC), ac: JPEGHuffmanEncoder(JPEGTables.luminanceAC))
        let chroma = (dc: JPEGHuffmanEncoder(JPEGTables.chrominanceDC), ac: JPEGHuffmanEncoder(JPEGTables.chrominanceAC))
        var writer = JPEGBitWriter()
        var predictors = [0, 0, 0]
        var block = [Float](repeating: 0, count: 64)

        func encodeBlock(_ plane: [Float], planeWidth: Int, x: Int, y: Int, table: [Int],
                         codes: (dc: JPEGHuffmanEncoder, ac: JPEGHuffmanEncoder), component: Int) {
            for r in 0..<8 {
                for c in 0..<8 { block[r * 8 + c] = plane[(y + r) * planeWidth + x + c] }
            }
            DCT8x8.forward(&block)
            var quantised = [Int](repeating: 0, count: 64)
            for k in 0..<64 {
                let n = JPEGTables.zigZag[k]
                quantised[k] = Int((block[n] / Float(table[n])).rounded())
            }
            let difference = quantised[0] - predictors[component]
            predictors[component] = quantised[0]
            let dcSize = Self.magnitudeCategory(difference)
            codes.dc.write(symbol: dcSize, to: &writer)
            writer.write(Self.magnitudeBits(difference, size: dcSize), count: dcSize)
            var zeros = 0
            for k in 1..<64 {
                let value = quantised[k]
                if value == 0 { zeros += 1; continue }
                while zeros > 15 {
                    codes.ac.write(symbol: 0xF0, to: &writer)  // ZRL: sixteen zeros
                    zeros -= 16
                }
                let size = Self.magnitudeCategory(value)
                codes.ac.write(symbol: zeros << 4 | size, to: &writer)
                writer.write(Self.magnitudeBits(value, size: size), count: size)
                zeros = 0
            }
            if zeros > 0 { codes.ac.write(symbol: 0x00, to: &writer) }  // EOB
        }

        let chromaWidth = paddedWidth / factor
        for mcuY in stride(from: 0, to: paddedHeight, by: mcuSize) {
            for mcuX in stride(from: 0, to: paddedWidth, by: mcuSize) {
                for by in 0..<factor {
                    for bx in 0..<factor {
                        encodeBlock(planes.y, planeWidth: paddedWidth, x: mcuX + 8 * bx, y: mcuY + 8 * by,
                                    table: lumaTable, codes: luma, component: 0)
                    }
                }
                encodeBlock(planes.cb, planeWidth: chromaWidth, x: mcuX / factor, y: mcuY / factor,
                            table: chromaTable, codes: chroma, component: 1)
                encodeBlock(planes.cr, planeWidth: chromaWidth, x: mcuX / factor, y: mcuY / factor,
                            table: chromaTable, codes: chroma, component: 2)
            }
        }
        writer.flush()
        return writer.bytes
    }

    /// Number of bits needed for |value| (JPEG's "SSSS" category).
    static func magnitudeCategory(_ value: Int) -> Int {
        let magnitude = abs(value)
        return magnitude == 0 ? 0 : Int.bitWidth - magnitude.leadingZeroBitCount
    }

    /// The extra bits after a category: the value itself if positive, else its one's complement in `size` bits.
    static func magnitudeBits(_ value: Int, size: Int) -> Int {
        value >= 0 ? value : value + (1 << size) - 1
    }
}

/// Level-shifted Y, Cb and Cr planes, padded by edge replication to whole MCUs, chroma averaged over
/// `chromaFactor × chromaFactor` pixels.
private struct YCbCrPlanes {
    var y: [Float]
    var cb: [Float]
    var cr: [Float]

    init(_ image: RGBImage, paddedWidth: Int, paddedHeight: Int, chromaFactor: Int) {
        var y = [Float](repeating: 0, count: paddedWidth * paddedHeight)
        var cbFull = y, crFull = y
        for py in 0..<paddedHeight {
            let sy = min(py, image.height - 1)
            for px in 0..<paddedWidth {
                let o = image.offset(x: min(px, image.width - 1), y: sy)
                let r = Float(image.pixels[o]), g = Float(image.pixels[o + 1]), b = Float(image.pixels[o + 2])
                let i = py * paddedWidth + px
                y[i] = 0.299 * r + 0.587 * g + 0.114 * b - 128
                cbFull[i] = -0.168_736 * r - 0.331_264 * g + 0.5 * b
                crFull[i] = 0.5 * r - 0.418_688 * g - 0.081_312 * b
            }
        }
        self.y = y
        guard chromaFactor > 1 else {
            cb = cbFull
            cr = crFull
            return
        }
        let w = paddedWidth / chromaFactor, h = paddedHeight / chromaFactor
        let area = Float(chromaFactor * chromaFactor)
        cb = [Float](repeating: 0, count: w * h)
        cr = cb
        for cy in 0..<h {
            for cx in 0..<w {
                var sumB: Float = 0, sumR: Float = 0
                for dy in 0..<chromaFactor {
                    for dx in 0..<chromaFactor {
                        let i = (cy * chromaFactor + dy) * paddedWidth + cx * chromaFactor + dx
                        sumB += cbFull[i]
                        sumR += crFull[i]
                    }
                }
                cb[cy * w + cx] = sumB / area
                cr[cy * w + cx] = sumR / area
            }
        }
    }
}

/// Canonical Huffman codes from a DHT-style table, for writing.
struct JPEGHuffmanEncoder {
    private var codes = [(code: Int, length: Int)](repeating: (0, 0), count: 256)

    init(_ spec: JPEGTables.HuffmanSpec) {
        var code = 0, k = 0
        for (index, count) in spec.counts.enumerated() {
            for _ in 0..<count {
                codes[Int(spec.symbols[k])] = (code, index + 1)
                code += 1
                k += 1
            }
            code <<= 1
        }
    }

    func write(symbol: Int, to writer: inout JPEGBitWriter) {
        let entry = codes[symbol]
        precondition(entry.length > 0, "JPEG Huffman table has no code for symbol \(symbol)")
        writer.write(entry.code, count: entry.length)
    }
}

/// Writes bits most-significant first and stuffs a zero byte after every 0xFF, as JPEG entropy-coded data requires.
struct JPEGBitWriter {
    private(set) var bytes: [UInt8] = []
    private var buffer = 0
    private var count = 0

    mutating func write(_ value: Int, count bits: Int) {
        guard bits > 0 else { return }
        buffer = buffer << bits | (value & ((1 << bits) - 1))
        count += bits
        while count >= 8 {
            let byte = UInt8((buffer >> (count - 8)) & 0xFF)
            bytes.append(byte)
            if byte == 0xFF { bytes.append(0) }
            count -= 8
        }
        buffer &= (1 << count) - 1
    }

    /// Pads the last byte with one bits.
    mutating func flush() {
        if count > 0 { write((1 << (8 - count)) - 1, count: 8 - count) }
    }
}
