import CZlib

// gzip (RFC 1952) decoding through the system zlib, to read open_clip's `bpe_simple_vocab_16e6.txt.gz`.

/// A decoding failure; `reason` says which structure was wrong.
public struct GzipError: Error, CustomStringConvertible, Equatable {
    public var reason: String
    public var description: String { "gzip: \(reason)" }
}

public enum Gzip {
    /// Decompresses a whole gzip file (every member, if several are concatenated); zlib checks each member's CRC-32
    /// and length.
    public static func decompress(_ data: [UInt8]) throws -> [UInt8] {
        guard data.count >= 2, data[0] == 0x1F, data[1] == 0x8B else {
            let magic = data.prefix(2).map { String($0, radix: 16) }.joined(separator: " ")
            throw GzipError(reason: "not a gzip file (magic bytes \(magic) instead of 1f 8b)")
        }
        var stream = z_stream()
        // Window bits 15 + 16: a gzip wrapper, not a zlib one.
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw GzipError(reason: "zlib could not start inflating (out of memory)")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(data.count * 3)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
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
                    // Another member may follow; anything else after the last member is ignored, as gzip does.
                    guard stream.avail_in > 0, stream.next_in.pointee == 0x1F else { return }
                    inflateReset(&stream)
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    throw GzipError(reason: "file ends after \(data.count) bytes, inside the compressed data")
                default:
                    throw GzipError(reason: Self.describe(stream, status: status))
                }
            }
        }
        return output
    }

    private static func describe(_ stream: z_stream, status: Int32) -> String {
        guard let text = stream.msg.map({ String(cString: $0) }) else { return "zlib status \(status)" }
        // zlib's wording for a checksum failure is terse; say which checksum.
        return text == "incorrect data check" ? "CRC-32 mismatch (\(text)): the file is corrupt" : text
    }
}
