/// Reads bits least-significant first from a byte array (DEFLATE's bit order).
struct BitReader {
    private let bytes: [UInt8]
    private(set) var position: Int
    private var buffer: UInt64 = 0
    private(set) var bitCount = 0

    init(_ bytes: [UInt8], startingAt position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    @inline(__always) private mutating func refill() {
        while bitCount <= 56 && position < bytes.count {
            buffer |= UInt64(bytes[position]) << UInt64(bitCount)
            position += 1
            bitCount += 8
        }
    }

    /// The next `count` bits without consuming them; missing bits past the end read as zero.
    @inline(__always) mutating func peek(_ count: Int) -> Int {
        if bitCount < count { refill() }
        return Int(buffer & ((1 << UInt64(count)) - 1))
    }

    @inline(__always) mutating func consume(_ count: Int) throws {
        guard count <= bitCount else {
            throw ImagingError.invalidDeflateStream("unexpected end of data (needed \(count) more bits at byte \(position))")
        }
        buffer >>= UInt64(count)
        bitCount -= count
    }

    /// Reads `count` bits (at most 32) as an unsigned number.
    @inline(__always) mutating func read(_ count: Int) throws -> Int {
        guard count > 0 else { return 0 }
        let value = peek(count)
        try consume(count)
        return value
    }

    /// Drops the bits left in the current byte.
    mutating func alignToByte() {
        let drop = bitCount % 8
        buffer >>= UInt64(drop)
        bitCount -= drop
    }

    /// Index of the first byte not yet consumed (buffered whole bytes count as unconsumed).
    var bytePosition: Int { position - bitCount / 8 }
}
