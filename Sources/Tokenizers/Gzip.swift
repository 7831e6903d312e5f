import ZlibStream

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
        do {
            return try ZlibStream.inflate(data, wrapper: .gzip)
        } catch .outOfMemory {
            throw GzipError(reason: "zlib could not start inflating (out of memory)")
        } catch .truncated {
            throw GzipError(reason: "file ends after \(data.count) bytes, inside the compressed data")
        } catch .corrupt(let text) {
            // zlib's wording for a checksum failure is terse; say which checksum.
            throw GzipError(
                reason: text == "incorrect data check" ? "CRC-32 mismatch (\(text)): the file is corrupt" : text)
        } catch .trailingBytes {
            preconditionFailure("gzip inflation ignores what follows the last member")
        }
    }
}
