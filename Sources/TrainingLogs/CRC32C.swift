/// CRC-32C (Castagnoli) as TFRecord framing stores it (and checkpoint manifests use it). zlib only has the ISO-HDLC
/// polynomial, so the table-driven reflected CRC is computed here.
public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        checksum(bytes, continuing: 0)
    }

    /// The checksum of `previous`'s bytes followed by `bytes`, for data read in chunks (`previous` 0: no bytes).
    public static func checksum<Bytes: Sequence>(_ bytes: Bytes, continuing previous: UInt32) -> UInt32
    where Bytes.Element == UInt8 {
        var c = ~previous
        table.withUnsafeBufferPointer { table in
            for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        }
        return ~c
    }

    /// TFRecord stores checksums rotated and offset so that a CRC over data containing CRCs stays well distributed.
    static func masked<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
