import CZlib

/// zlib's inflate over a whole buffer, for the two wrappers the project reads: zlib streams (PNG data, Imaging's
/// `Zlib`) and gzip files (open_clip's vocabulary, Tokenizers' `Gzip`). Each caller turns `Failure` into its own
/// error with its own wording.
public enum ZlibStream {
    public enum Wrapper: Sendable {
        /// One zlib stream (RFC 1950); bytes after its end are an error.
        case zlib
        /// gzip members (RFC 1952), as many as are concatenated; anything after the last one is ignored, as gzip does.
        case gzip
    }

    public enum Failure: Error, Equatable {
        case outOfMemory
        /// The input ran out before the end marker.
        case truncated
        /// zlib's own message (or status) for damaged data.
        case corrupt(String)
        /// Bytes after the end of a zlib stream.
        case trailingBytes(Int)
    }

    public static func inflate(_ data: [UInt8], wrapper: Wrapper) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        // Window bits 15, plus 16 for a gzip wrapper instead of a zlib one.
        let windowBits: Int32 = wrapper == .gzip ? 15 + 16 : 15
        guard inflateInit2_(&stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .outOfMemory
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let result: Failure? = data.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { chunk in
                    stream.next_out = chunk.baseAddress
                    stream.avail_out = uInt(chunk.count)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                output += chunk.prefix(chunk.count - Int(stream.avail_out))
                switch status {
                case Z_STREAM_END:
                    guard wrapper == .gzip, stream.avail_in > 0, stream.next_in.pointee == 0x1F else {
                        return wrapper == .zlib && stream.avail_in > 0 ? .trailingBytes(Int(stream.avail_in)) : nil
                    }
                    inflateReset(&stream)  // another gzip member follows
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    return .truncated  // no progress possible: the input ran out before the end marker
                default:
                    return .corrupt(stream.msg.map { String(cString: $0) } ?? "zlib status \(status)")
                }
            }
        }
        if let result { throw result }
        return output
    }
}
