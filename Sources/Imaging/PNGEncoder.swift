import Foundation

/// Writes 8-bit RGB PNG files: signature, IHDR, one IDAT holding a zlib stream of filtered scanlines, IEND.
public enum PNGEncoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The PNG file bytes for `image`. Each row gets the filter whose output has the smallest sum of absolute signed
    /// bytes, the heuristic the PNG specification recommends for truecolour images.
    public static func encode(_ image: RGBImage, strategy: Deflate.BlockStrategy = .automatic) throws -> [UInt8] {
        guard !image.isEmpty else {
            throw ImagingError.invalidArgument("PNG cannot store an empty \(image.width)×\(image.height) image")
        }
        var header: [UInt8] = []
        appendBigEndian(UInt32(image.width), to: &header)
        appendBigEndian(UInt32(image.height), to: &header)
        header += [8, 2, 0, 0, 0]  // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace

        var out = signature
        appendChunk("IHDR", header, to: &out)
        appendChunk("IDAT", Zlib.compress(filteredScanlines(image), strategy: strategy), to: &out)
        appendChunk("IEND", [], to: &out)
        return out
    }

    public static func write(_ image: RGBImage, to url: URL) throws {
        try Data(try encode(image)).write(to: url, options: .atomic)
    }

    static func filteredScanlines(_ image: RGBImage) -> [UInt8] {
        let rowBytes = image.width * 3
        guard rowBytes > 0 else { return [UInt8](repeating: 0, count: image.height) }
        var out = [UInt8](repeating: 0, count: image.height * (rowBytes + 1))
        var candidate = [UInt8](repeating: 0, count: rowBytes)
        let zeros = [UInt8](repeating: 0, count: rowBytes)
        image.pixels.withUnsafeBufferPointer { pixels in
            zeros.withUnsafeBufferPointer { zeros in
                out.withUnsafeMutableBufferPointer { out in
                    candidate.withUnsafeMutableBufferPointer { candidate in
                        for y in 0..<image.height {
                            let row = UnsafeBufferPointer(rebasing: pixels[(y * rowBytes)..<((y + 1) * rowBytes)])
                            let previous = y == 0 ? zeros : UnsafeBufferPointer(rebasing: pixels[((y - 1) * rowBytes)..<(y * rowBytes)])
                            let target = UnsafeMutableBufferPointer(rebasing: out[(y * (rowBytes + 1) + 1)..<((y + 1) * (rowBytes + 1))])
                            var bestCost = Int.max
                            for filter in PNGFilter.allCases {
                                PNGFilter.apply(filter, row: row, previous: previous, bpp: 3, into: candidate)
                                var cost = 0
                                for byte in candidate { cost += abs(Int(Int8(bitPattern: byte))) }
                                if cost < bestCost {
                                    bestCost = cost
                                    out[y * (rowBytes + 1)] = filter.rawValue
                                    _ = target.update(fromContentsOf: candidate)
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    static func appendChunk(_ type: String, _ data: [UInt8], to out: inout [UInt8]) {
        appendBigEndian(UInt32(data.count), to: &out)
        let typeBytes = Array(type.utf8)
        var crc = CRC32()
        crc.update(typeBytes)
        crc.update(data)
        out += typeBytes
        out += data
        appendBigEndian(crc.value, to: &out)
    }

    static func appendBigEndian(_ value: UInt32, to out: inout [UInt8]) {
        out += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}
