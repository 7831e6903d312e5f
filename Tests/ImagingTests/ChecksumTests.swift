import Imaging
import XCTest

final class ChecksumTests: XCTestCase {
    func testCRC32KnownValues() {
        XCTAssertEqual(CRC32.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)  // the standard check value
        XCTAssertEqual(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414F_A339)
        // PNG's IEND chunk always ends with this CRC.
        XCTAssertEqual(CRC32.checksum(Array("IEND".utf8)), 0xAE42_6082)
    }

    func testCRC32IsIncremental() {
        let bytes = Array("The quick brown fox jumps over the lazy dog".utf8)
        var crc = CRC32()
        crc.update(bytes[..<10])
        crc.update(bytes[10...])
        XCTAssertEqual(crc.value, CRC32.checksum(bytes))
    }

    func testAdler32KnownValues() {
        XCTAssertEqual(Adler32.checksum([UInt8]()), 1)
        XCTAssertEqual(Adler32.checksum(Array("Wikipedia".utf8)), 0x11E6_0398)
        XCTAssertEqual(Adler32.checksum(Array("123456789".utf8)), 0x091E_01DE)
    }

    /// Long inputs exercise the deferred modulo: compare with the definition computed with a modulo per byte.
    func testAdler32MatchesDefinitionOnLongInput() {
        let bytes = [UInt8](repeating: 0xFF, count: 100_000) + (0..<20_000).map { UInt8($0 % 251) }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        XCTAssertEqual(Adler32.checksum(bytes), b << 16 | a)
    }
}
