import Foundation

/// A decoded PNG: 8-bit samples, `channels` per pixel (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA), rows from the top.
public struct PNGImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public let samples: [UInt8]

    /// The image as RGB: grey is copied to all channels, alpha is composited over `background`.
    public func rgbImage(background: RGB = .white) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let bg = [Int(background.r), Int(background.g), Int(background.b)]
        for i in 0..<(width * height) {
            let s = i * channels
            let alpha = channels == 2 || channels == 4 ? Int(samples[s + channels - 1]) : 255
            for c in 0..<3 {
                let value = Int(channels <= 2 ? samples[s] : samples[s + c])
                pixels[i * 3 + c] = UInt8((value * alpha + bg[c] * (255 - alpha) + 127) / 255)
            }
        }
        // The buffer length is right by construction.
        return try! RGBImage(width: width, height: height, pixels: pixels)
    }
}

/// Reads PNG files: greyscale (1–16 bit), RGB, palette (1–8 bit, with tRNS alpha), grey + alpha and RGBA (8 or 16
/// bit), all five filters, chunk CRCs checked. 16-bit samples keep their high byte; low-bit-depth grey is scaled to
/// 0…255. Interlaced (Adam7) files are rejected with a clear error.
public enum PNGDecoder {
    public static func decode(_ bytes: [UInt8]) throws -> PNGImage {
        let chunks = try readChunks(bytes)
        guard let ihdr = chunks.first, ihdr.type == "IHDR", ihdr.data.count == 13 else {
            throw ImagingError.invalidPNG("the first chunk must be a 13-byte IHDR")
        }
        let header = try Header(ihdr.data)
        var palette: [UInt8]? = nil
        var transparency: [UInt8]? = nil
        var compressed: [UInt8] = []
        var sawEnd = false
        for chunk in chunks.dropFirst() {
            switch chunk.type {
            case "PLTE": palette = chunk.data
            case "tRNS": transparency = chunk.data
            case "IDAT": compressed += chunk.data
            case "IEND": sawEnd = true
            default:
                // Bit 5 of the first letter clear marks a critical chunk, which a decoder must understand.
                if let first = chunk.type.utf8.first, first & 0x20 == 0 {
                    throw ImagingError.unsupportedPNG("critical chunk \(chunk.type) is not supported")
                }
            }
        }
        guard sawEnd else { throw ImagingError.invalidPNG("missing IEND chunk") }
        guard !compressed.isEmpty else { throw ImagingError.invalidPNG("no IDAT chunk") }
        let raw = try Zlib.decompress(compressed)
        let rows = try unfilter(raw, header: header)
        return try expand(rows, header: header, palette: palette, transparency: transparency)
    }

    public static func decode(contentsOf url: URL) throws -> PNGImage {
        try decode([UInt8](Data(contentsOf: url)))
    }

    /// Decodes and converts to RGB (alpha composited over white).
    public static func decodeRGB(_ bytes: [UInt8]) throws -> RGBImage { try decode(bytes).rgbImage() }

    // MARK: - Structure

    private struct Chunk {
        let type: String
        let data: [UInt8]
    }

    private static func readChunks(_ bytes: [UInt8]) throws -> [Chunk] {
        guard bytes.count >= 8, Array(bytes[0..<8]) == PNGEncoder.signature else {
            throw ImagingError.invalidPNG("missing PNG signature")
        }
        var chunks: [Chunk] = []
        var position = 8
        while position < bytes.count {
            guard position + 12 <= bytes.count else { throw ImagingError.invalidPNG("truncated chunk header at byte \(position)") }
            let length = Int(readBigEndian(bytes, position))
            let typeBytes = Array(bytes[(position + 4)..<(position + 8)])
            guard typeBytes.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
                throw ImagingError.invalidPNG("chunk type at byte \(position + 4) is not four letters")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= bytes.count - position - 12 else {
                throw ImagingError.invalidPNG("chunk \(type) declares \(length) bytes, only \(bytes.count - position - 12) remain")
            }
            let data = Array(bytes[(position + 8)..<(position + 8 + length)])
            let stored = readBigEndian(bytes, position + 8 + length)
            let actual = CRC32.checksum(bytes[(position + 4)..<(position + 8 + length)])
            guard stored == actual else { throw ImagingError.invalidPNG("CRC mismatch in chunk \(type)") }
            chunks.append(Chunk(type: type, data: data))
            position += 12 + length
            if type == "IEND" { break }
        }
        return chunks
    }

    private static func readBigEndian(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    private struct Header {
        let width: Int
        let height: Int
        let bitDepth: Int
        let colorType: Int

        init(_ d: [UInt8]) throws {
            width = Int(readBigEndian(d, 0))
            height = Int(readBigEndian(d, 4))
            bitDepth = Int(d[8])
            colorType = Int(d[9])
            guard width > 0, height > 0 else { throw ImagingError.invalidPNG("image size \(width)×\(height) must be positive") }
            let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
            guard let depths = allowed[colorType] else { throw ImagingError.invalidPNG("unknown colour type \(colorType)") }
            guard depths.contains(bitDepth) else {
                throw ImagingError.invalidPNG("bit depth \(bitDepth) is not allowed for colour type \(colorType) (allowed: \(depths))")
            }
            guard d[10] == 0, d[11] == 0 else { throw ImagingError.invalidPNG("unknown compression or filter method") }
            guard d[12] == 0 else { throw ImagingError.unsupportedPNG("interlaced (Adam7) images are not supported") }
        }

        var samplesPerPixel: Int { [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType]! }
        var bitsPerPixel: Int { samplesPerPixel * bitDepth }
        var rowBytes: Int { (width * bitsPerPixel + 7) / 8 }
    }

    // MARK: - Pixels

    /// Undoes the per-row filters; returns the rows back to back without their filter bytes.
    private static func unfilter(_ raw: [UInt8], header: Header) throws -> [UInt8] {
        let rowBytes = header.rowBytes, height = header.height
        guard raw.count >= height * (rowBytes + 1) else {
            throw ImagingError.invalidPNG("image data holds \(raw.count) bytes, \(height) rows of \(rowBytes + 1) need \(height * (rowBytes + 1))")
        }
        let bpp = max(1, header.bitsPerPixel / 8)
        var rows = [UInt8](repeating: 0, count: height * rowBytes)
        let zeros = [UInt8](repeating: 0, count: rowBytes)
        for y in 0..<height {
            let filterByte = raw[y * (rowBytes + 1)]
            guard let filter = PNGFilter(rawValue: filterByte) else {
                throw ImagingError.invalidPNG("row \(y) has unknown filter type \(filterByte)")
            }
            let source = y * (rowBytes + 1) + 1
            rows[(y * rowBytes)..<((y + 1) * rowBytes)] = raw[source..<(source + rowBytes)]
            rows.withUnsafeMutableBufferPointer { all in
                let row = UnsafeMutableBufferPointer(rebasing: all[(y * rowBytes)..<((y + 1) * rowBytes)])
                if y == 0 {
                    zeros.withUnsafeBufferPointer { PNGFilter.undo(filter, row: row, previous: $0, bpp: bpp) }
                } else {
                    let previous = UnsafeBufferPointer(rebasing: all[((y - 1) * rowBytes)..<(y * rowBytes)])
                    PNGFilter.undo(filter, row: row, previous: previous, bpp: bpp)
                }
            }
        }
        return rows
    }

    /// Converts unfiltered rows into 8-bit samples (expanding palettes and sub-byte depths).
    private static func expand(_ rows: [UInt8], header: Header, palette: [UInt8]?, transparency: [UInt8]?) throws -> PNGImage {
        let (width, height, depth) = (header.width, header.height, header.bitDepth)
        let rowBytes = header.rowBytes
        // Sample n of row y as an integer of `depth` bits.
        func sample(_ y: Int, _ n: Int) -> Int {
            switch depth {
            case 8: return Int(rows[y * rowBytes + n])
            case 16: return Int(rows[y * rowBytes + 2 * n]) << 8 | Int(rows[y * rowBytes + 2 * n + 1])
            default:
                let bit = n * depth
                let byte = Int(rows[y * rowBytes + bit / 8])
                return (byte >> (8 - depth - bit % 8)) & ((1 << depth) - 1)
            }
        }
        func to8Bit(_ v: Int) -> UInt8 {
            depth == 16 ? UInt8(v >> 8) : depth == 8 ? UInt8(v) : UInt8(v * 255 / ((1 << depth) - 1))
        }

        if header.colorType == 3 {
            guard let palette, palette.count % 3 == 0, !palette.isEmpty else {
                throw ImagingError.invalidPNG("palette image without a valid PLTE chunk")
            }
            let entries = palette.count / 3
            let alpha = transparency
            let channels = alpha == nil ? 3 : 4
            var samples = [UInt8](repeating: 0, count: width * height * channels)
            for y in 0..<height {
                for x in 0..<width {
                    let index = sample(y, x)
                    guard index < entries else {
                        throw ImagingError.invalidPNG("pixel (\(x), \(y)) uses palette entry \(index) of \(entries)")
                    }
                    let o = (y * width + x) * channels
                    samples[o] = palette[3 * index]
                    samples[o + 1] = palette[3 * index + 1]
                    samples[o + 2] = palette[3 * index + 2]
                    if let alpha { samples[o + 3] = index < alpha.count ? alpha[index] : 255 }
                }
            }
            return PNGImage(width: width, height: height, channels: channels, samples: samples)
        }

        let channels = header.samplesPerPixel
        var samples = [UInt8](repeating: 0, count: width * height * channels)
        for y in 0..<height {
            for n in 0..<(width * channels) { samples[y * width * channels + n] = to8Bit(sample(y, n)) }
        }
        return PNGImage(width: width, height: height, channels: channels, samples: samples)
    }
}
