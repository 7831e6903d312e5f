import CImageCodecs

/// Calls one of CImageCodecs' functions, which return 0 or −1 with a message, and copies the buffer it allocated
/// into Swift memory (then frees it).
enum CodecCall {
    static let messageCapacity = 256

    /// `body` gets the message buffer and its size and returns the C status, the buffer and its length.
    static func run(
        failure: (String) -> ImageCodecError,
        _ body: (UnsafeMutablePointer<CChar>, Int) -> (
            status: Int32, buffer: UnsafeMutablePointer<UInt8>?,
            count: Int
        )
    ) throws -> [UInt8] {
        var message = [CChar](repeating: 0, count: messageCapacity)
        let (status, buffer, count) = message.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        defer { dg_codec_free(buffer) }
        guard status == 0, let buffer else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw failure(text.isEmpty ? "unknown error" : text)
        }
        return Array(UnsafeBufferPointer(start: buffer, count: count))
    }
}
