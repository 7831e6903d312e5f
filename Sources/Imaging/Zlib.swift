import CZlib
import ZlibStream

/// zlib streams (RFC 1950) and the CRC-32 of PNG and gzip, from the system zlib.
public enum Zlib {
    /// The zlib stream of `data` at `level` (0 stores, 9 compresses most, −1 is zlib's default, 6).
    public static func compress(_ data: [UInt8], level: Int = 9) -> [UInt8] {
        var capacity = compressBound(uLong(data.count))
        let level = Int32(min(max(level, -1), 9))
        var out = [UInt8](repeating: 0, count: Int(capacity))
        let status = out.withUnsafeMutableBufferPointer { out in
            data.withUnsafeBufferPointer { data in
                compress2(out.baseAddress, &capacity, data.baseAddress, uLong(data.count), level)
            }
        }
        // compressBound is enough room for any input, and the level is clamped below, so zlib cannot fail here.
        precondition(status == Z_OK, "zlib compress2 failed with status \(status)")
        out.removeSubrange(Int(capacity)...)
        return out
    }

    /// Inflates one whole zlib stream; throws if it is damaged, truncated or followed by other bytes.
    public static func decompress(_ data: [UInt8]) throws -> [UInt8] {
        do {
            return try ZlibStream.inflate(data, wrapper: .zlib)
        } catch .outOfMemory {
            throw ImageCodecError.corruptZlib("zlib could not start inflating (out of memory)")
        } catch .truncated {
            throw ImageCodecError.corruptZlib("stream of \(data.count) bytes ends before its end marker")
        } catch .corrupt(let message) {
            throw ImageCodecError.corruptZlib(message)
        } catch .trailingBytes(let count) {
            throw ImageCodecError.corruptZlib("\(count) bytes follow the end of the stream")
        }
    }

    /// The CRC-32 (ISO-HDLC polynomial, as PNG chunks and gzip use it) of `bytes`, continuing from `crc` when
    /// checksumming in pieces.
    public static func crc32<Bytes: Collection>(_ bytes: Bytes, continuing crc: UInt32 = 0) -> UInt32
    where Bytes.Element == UInt8 {
        let contiguous = bytes.withContiguousStorageIfAvailable { buffer in
            UInt32(CZlib.crc32(uLong(crc), buffer.baseAddress, uInt(buffer.count)))
        }
        if let contiguous { return contiguous }
        return Array(bytes).withUnsafeBufferPointer { UInt32(CZlib.crc32(uLong(crc), $0.baseAddress, uInt($0.count))) }
    }
}
