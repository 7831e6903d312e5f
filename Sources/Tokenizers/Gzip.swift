import ZlibStream

// gzip (RFC 1952) decoding through the system zlib, to read open_clip's `bpe_simple_vocab_16e6.txt.gz`.

/// A decoding failure; each case says which structure was wrong.
public enum GzipError: Error, CustomStringConvertible, Equatable {
    /// The data does not start with gzip's magic bytes `1f 8b`; `magic` is what it starts with, in hex.
    case notGzip(magic: String)
    /// zlib could not allocate its inflate state.
    case outOfMemory
    /// The data ends inside a compressed member; `byteCount` is the size of the whole input.
    case truncated(byteCount: Int)
    /// A member's CRC-32 (or length) trailer does not match the inflated data; `zlibMessage` is zlib's own text.
    case checksumMismatch(zlibMessage: String)
    /// zlib rejected the compressed stream for another reason, given in its own words.
    case corrupt(zlibMessage: String)

    /// What was wrong, without the `gzip:` prefix.
    public var reason: String {
        switch self {
        case .notGzip(let magic): "not a gzip file (magic bytes \(magic) instead of 1f 8b)"
        case .outOfMemory: "zlib could not start inflating (out of memory)"
        case .truncated(let byteCount): "file ends after \(byteCount) bytes, inside the compressed data"
        case .checksumMismatch(let text): "CRC-32 mismatch (\(text)): the file is corrupt"
        case .corrupt(let text): text
        }
    }

    public var description: String { "gzip: \(reason)" }
}

public enum Gzip {
    /// Decompresses a whole gzip file (every member, if several are concatenated); zlib checks each member's CRC-32
    /// and length.
    public static func decompress(_ data: [UInt8]) throws -> [UInt8] {
        guard data.count >= 2, data[0] == 0x1F, data[1] == 0x8B else {
            let magic = data.prefix(2).map { String($0, radix: 16) }.joined(separator: " ")
            throw GzipError.notGzip(magic: magic)
        }
        do {
            return try ZlibStream.inflate(data, wrapper: .gzip)
        } catch .outOfMemory {
            throw GzipError.outOfMemory
        } catch .truncated {
            throw GzipError.truncated(byteCount: data.count)
        } catch .corrupt(let text) {
            // zlib's wording for a checksum failure is terse; say which checksum.
            throw text == "incorrect data check"
                ? GzipError.checksumMismatch(zlibMessage: text) : GzipError.corrupt(zlibMessage: text)
        } catch .trailingBytes {
            preconditionFailure("gzip inflation ignores what follows the last member")
        }
    }
}
