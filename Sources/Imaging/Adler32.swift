/// Adler-32, the checksum that closes a zlib stream.
public struct Adler32: Sendable {
    private var a: UInt32 = 1
    private var b: UInt32 = 0

    public init() {}

    public var value: UInt32 { (b << 16) | a }

    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        // 5552 is the most bytes that can be summed before b may overflow 32 bits, so the modulo runs once per chunk.
        var pending = 0
        for byte in bytes {
            a += UInt32(byte)
            b += a
            pending += 1
            if pending == 5552 {
                a %= 65521
                b %= 65521
                pending = 0
            }
        }
        a %= 65521
        b %= 65521
    }

    public static func checksum<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var adler = Adler32()
        adler.update(bytes)
        return adler.value
    }
}
