/// zlib streams (RFC 1950): a two-byte header, a DEFLATE stream and the Adler-32 of the uncompressed data.
public enum Zlib {
    public static func compress(_ data: [UInt8], strategy: Deflate.BlockStrategy = .automatic) -> [UInt8] {
        // CMF 0x78: deflate with a 32 KiB window. FLG 0xDA: "maximum compression" level hint, check bits so that
        // (CMF × 256 + FLG) is a multiple of 31.
        var out: [UInt8] = [0x78, 0xDA]
        out += Deflate.compress(data, strategy: strategy)
        let adler = Adler32.checksum(data)
        out += [UInt8(adler >> 24), UInt8((adler >> 16) & 0xFF), UInt8((adler >> 8) & 0xFF), UInt8(adler & 0xFF)]
        return out
    }

    public static func decompress(_ data: [UInt8]) throws -> [UInt8] {
        guard data.count >= 6 else { throw ImagingError.invalidDeflateStream("zlib stream of \(data.count) bytes is too short") }
        let cmf = Int(data[0]), flg = Int(data[1])
        guard cmf & 0x0F == 8, cmf >> 4 <= 7 else {
            throw ImagingError.invalidDeflateStream("zlib header \(cmf) does not announce deflate with a ≤ 32 KiB window")
        }
        guard (cmf << 8 | flg) % 31 == 0 else { throw ImagingError.invalidDeflateStream("zlib header check bits are wrong") }
        guard flg & 0x20 == 0 else { throw ImagingError.invalidDeflateStream("zlib preset dictionaries are not supported") }
        var inflater = Inflater(data, startingAt: 2)
        let output = try inflater.inflate()
        let end = inflater.endPosition
        guard end + 4 <= data.count else { throw ImagingError.invalidDeflateStream("zlib stream lacks its Adler-32 trailer") }
        let stored = UInt32(data[end]) << 24 | UInt32(data[end + 1]) << 16 | UInt32(data[end + 2]) << 8 | UInt32(data[end + 3])
        let actual = Adler32.checksum(output)
        guard stored == actual else {
            throw ImagingError.invalidDeflateStream("Adler-32 mismatch: stream says \(hex(stored)), data gives \(hex(actual))")
        }
        return output
    }

    private static func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16, uppercase: true) }
}
