/// Writes bits least-significant first, the order DEFLATE packs them into bytes.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var buffer: UInt64 = 0
    private var count = 0

    init(reservingCapacity capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// Appends the low `bits` bits of `value` (at most 32).
    @inline(__always) mutating func write(_ value: UInt32, bits: Int) {
        buffer |= UInt64(value) << UInt64(count)
        count += bits
        while count >= 8 {
            bytes.append(UInt8(truncatingIfNeeded: buffer))
            buffer >>= 8
            count -= 8
        }
    }

    /// Pads with zero bits up to the next byte boundary.
    mutating func alignToByte() {
        if count > 0 {
            bytes.append(UInt8(truncatingIfNeeded: buffer))
            buffer = 0
            count = 0
        }
    }

    /// Appends whole bytes; the writer must be byte-aligned.
    mutating func append<C: Collection>(bytes more: C) where C.Element == UInt8 {
        precondition(count == 0, "BitWriter.append(bytes:) needs a byte-aligned writer")
        bytes.append(contentsOf: more)
    }

    var bitCount: Int { bytes.count * 8 + count }
}
