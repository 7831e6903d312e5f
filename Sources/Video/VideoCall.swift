/// Calls one of CVideoCodecs' functions, which return a status (−1 on failure) and write a message on failure.
enum VideoCall {
    static let messageCapacity = 512

    /// Runs `body` with a message buffer; a status of −1 throws `failure(message)`, anything else is returned.
    static func run(
        failure: (String) -> VideoError, _ body: (UnsafeMutablePointer<CChar>, Int) -> Int32
    ) throws -> Int32 {
        var message = [CChar](repeating: 0, count: messageCapacity)
        let status = message.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        guard status >= 0 else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw failure(text.isEmpty ? "unknown error" : text)
        }
        return status
    }
}
