// gzip (RFC 1952) and DEFLATE (RFC 1951) decoding, enough to read open_clip's `bpe_simple_vocab_16e6.txt.gz`.
// Foundation on Linux has no gzip API and the package avoids linking zlib, so the decoder is written here.

/// A decoding failure; `reason` says which structure was wrong.
public struct GzipError: Error, CustomStringConvertible, Equatable {
    public var reason: String
    public var description: String { "gzip: \(reason)" }
}

public enum Gzip {
    /// Decompresses a whole gzip file (every member, if several are concatenated) and checks each member's CRC-32
    /// and length.
    public static func decompress(_ data: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(data.count * 3)
        var offset = 0
        repeat {
            offset = try decompressMember(data, from: offset, into: &output)
        } while offset < data.count && data[offset] == 0x1F
        return output
    }

    private static func decompressMember(_ data: [UInt8], from start: Int, into output: inout [UInt8]) throws -> Int {
        func byte(_ index: Int) throws -> UInt8 {
            guard index < data.count else { throw GzipError(reason: "file ends inside the header") }
            return data[index]
        }
        guard try byte(start) == 0x1F, try byte(start + 1) == 0x8B else {
            throw GzipError(reason: "not a gzip file (magic bytes \(hex(data.prefix(2))) instead of 1f 8b)")
        }
        guard try byte(start + 2) == 8 else {
            throw GzipError(reason: "compression method \(data[start + 2]) is not DEFLATE (8)")
        }
        let flags = try byte(start + 3)
        var offset = start + 10
        if flags & 0x04 != 0 {  // FEXTRA
            let length = Int(try byte(offset)) | Int(try byte(offset + 1)) << 8
            offset += 2 + length
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 {  // FNAME, FCOMMENT: zero-terminated
            while try byte(offset) != 0 { offset += 1 }
            offset += 1
        }
        if flags & 0x02 != 0 { offset += 2 }  // FHCRC
        let memberStart = output.count
        var inflater = Inflater(data, start: offset)
        try inflater.run(into: &output)
        offset = inflater.byteOffsetAfterEnd
        guard offset + 8 <= data.count else { throw GzipError(reason: "file ends before the CRC-32 and size trailer") }
        let storedCRC = readLittleEndian32(data, offset)
        let storedSize = readLittleEndian32(data, offset + 4)
        let produced = output.count - memberStart
        guard UInt32(truncatingIfNeeded: produced) == storedSize else {
            throw GzipError(reason: "decompressed \(produced) bytes but the trailer says \(storedSize)")
        }
        let crc = output.withUnsafeBufferPointer { CRC32.checksum(UnsafeBufferPointer(rebasing: $0[memberStart...])) }
        guard crc == storedCRC else {
            throw GzipError(reason: "CRC-32 mismatch (computed \(crc), stored \(storedCRC)): the file is corrupt")
        }
        return offset + 8
    }

    private static func readLittleEndian32(_ data: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(data[offset]) | UInt32(data[offset + 1]) << 8 | UInt32(data[offset + 2]) << 16
            | UInt32(data[offset + 3]) << 24
    }

    private static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        bytes.map { String($0, radix: 16) }.joined(separator: " ")
    }
}

enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        table.withUnsafeBufferPointer { table in
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
            return crc ^ 0xFFFF_FFFF
        }
    }
}
