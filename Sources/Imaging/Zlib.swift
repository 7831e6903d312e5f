import CZlib

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
        var stream = z_stream()
        guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ImageCodecError.corruptZlib("zlib could not start inflating (out of memory)")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(4096, data.count * 4))
        try data.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { chunk in
                    stream.next_out = chunk.baseAddress
                    stream.avail_out = uInt(chunk.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                output += chunk.prefix(chunk.count - Int(stream.avail_out))
                switch status {
                case Z_STREAM_END:
                    return
                case Z_OK where stream.avail_in > 0 || stream.avail_out == 0:
                    continue
                case Z_OK, Z_BUF_ERROR:
                    // No progress possible: the input ran out before the end marker.
                    throw ImageCodecError.corruptZlib("stream of \(data.count) bytes ends before its end marker")
                default:
                    throw ImageCodecError.corruptZlib(Self.message(stream, status: status))
                }
            }
        }
        guard stream.avail_in == 0 else {
            throw ImageCodecError.corruptZlib("\(stream.avail_in) bytes follow the end of the stream")
        }
        return output
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

    static func message(_ stream: z_stream, status: Int32) -> String {
        if let text = stream.msg { return String(cString: text) }
        return "zlib status \(status)"
    }
}
