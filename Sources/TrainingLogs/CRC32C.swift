import Imaging

/// CRC-32C as TFRecord framing stores it.
enum CRC32C {
    static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        CRC32.checksum(bytes, .castagnoli)
    }

    /// TFRecord stores checksums rotated and offset so that a CRC over data containing CRCs stays well distributed.
    static func masked<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
