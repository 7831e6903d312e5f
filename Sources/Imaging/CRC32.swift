/// Table-driven reflected CRC-32: ISO-HDLC (polynomial 0xEDB88320, as PNG chunks and gzip use it) by default, or
/// Castagnoli (0x82F63B78, CRC-32C, as TFRecord files use it).
public struct CRC32: Sendable {
    public enum Polynomial: Sendable {
        case isoHDLC, castagnoli

        fileprivate var table: [UInt32] {
            switch self {
            case .isoHDLC: return CRC32.isoHDLCTable
            case .castagnoli: return CRC32.castagnoliTable
            }
        }
    }

    public private(set) var value: UInt32 = 0
    private let table: [UInt32]

    public init(_ polynomial: Polynomial = .isoHDLC) { table = polynomial.table }

    private static func makeTable(_ reversedPolynomial: UInt32) -> [UInt32] {
        (0..<256).map { n in
            var c = UInt32(n)
            for _ in 0..<8 { c = (c & 1) != 0 ? reversedPolynomial ^ (c >> 1) : c >> 1 }
            return c
        }
    }

    private static let isoHDLCTable = makeTable(0xEDB8_8320)
    private static let castagnoliTable = makeTable(0x82F6_3B78)

    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        var c = ~value
        table.withUnsafeBufferPointer { table in
            for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        }
        value = ~c
    }

    public static func checksum<S: Sequence>(_ bytes: S, _ polynomial: Polynomial = .isoHDLC) -> UInt32 where S.Element == UInt8 {
        var crc = CRC32(polynomial)
        crc.update(bytes)
        return crc.value
    }
}
