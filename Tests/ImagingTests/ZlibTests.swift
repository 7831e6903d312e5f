import Imaging
import XCTest

/// The zlib wrapper: round trips, compression that pays off, the CRC-32 of PNG and gzip, damaged streams.
final class ZlibTests: XCTestCase {
    private func inputs() -> [(String, [UInt8])] {
        let text = Array(String(repeating: "a blue square left of a yellow triangle; ", count: 40).utf8)
        let noise = TestImages.noise(width: 100, height: 100).pixels  // 30 000 incompressible bytes
        return [
            ("empty", []), ("one byte", [7]), ("text", text), ("noise", noise),
            ("zeros 200k", [UInt8](repeating: 0, count: 200_000))
        ]
    }

    func testRoundTripsAtEveryLevel() throws {
        for (name, data) in inputs() {
            for level in [-1, 0, 1, 6, 9] {
                XCTAssertEqual(try Zlib.decompress(Zlib.compress(data, level: level)), data, "\(name), level \(level)")
            }
        }
        XCTAssertLessThan(Zlib.compress([UInt8](repeating: 0, count: 200_000)).count, 500)
    }

    func testDecodesPythonsStream() throws {
        // Python: zlib.compress(b"hello hello hello hello", 9)
        let hello: [UInt8] = [120, 218, 203, 72, 205, 201, 201, 87, 200, 64, 39, 1, 104, 3, 8, 177]
        XCTAssertEqual(try Zlib.decompress(hello), Array("hello hello hello hello".utf8))
        XCTAssertEqual(try Zlib.decompress([120, 218, 3, 0, 0, 0, 0, 1]), [])
    }

    func testCRC32KnownValues() {
        XCTAssertEqual(Zlib.crc32([UInt8]()), 0)
        XCTAssertEqual(Zlib.crc32(Array("123456789".utf8)), 0xCBF4_3926)  // the standard check value
        XCTAssertEqual(Zlib.crc32(Array("IEND".utf8)), 0xAE42_6082)  // as every PNG file stores it
        let bytes = Array("The quick brown fox jumps over the lazy dog".utf8)
        XCTAssertEqual(Zlib.crc32(bytes[10...], continuing: Zlib.crc32(bytes[..<10])), 0x414F_A339)
    }

    func testDamagedStreamsThrowNamedErrors() {
        var stream = Zlib.compress(Array("hello hello hello hello".utf8))
        stream[stream.count - 1] ^= 1
        XCTAssertThrowsError(try Zlib.decompress(stream)) {
            XCTAssertTrue("\($0)".contains("incorrect data check"), "\($0)")
        }
        XCTAssertThrowsError(try Zlib.decompress([0x78, 0xDB, 3, 0, 0, 0, 0, 1])) {  // header check bits wrong
            XCTAssertTrue("\($0)".contains("corrupt zlib stream"), "\($0)")
        }
        let truncated = Array(Zlib.compress(Array("truncated data here".utf8)).dropLast(6))
        XCTAssertThrowsError(try Zlib.decompress(truncated)) { XCTAssertTrue("\($0)".contains("ends"), "\($0)") }
        XCTAssertThrowsError(try Zlib.decompress(Zlib.compress([1, 2, 3]) + [0])) {
            XCTAssertTrue("\($0)".contains("follow"), "\($0)")
        }
    }
}
