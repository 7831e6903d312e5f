import TrainingLogs
import XCTest

final class CRC32CTests: XCTestCase {
    /// RFC 3720's check value, and chunked checksums equal to the whole's (manifests read files in chunks).
    func testKnownValueAndChunks() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var running: UInt32 = 0
        for start in stride(from: 0, to: bytes.count, by: 777) {
            running = CRC32C.checksum(bytes[start..<min(bytes.count, start + 777)], continuing: running)
        }
        XCTAssertEqual(running, CRC32C.checksum(bytes))
        XCTAssertNotEqual(CRC32C.checksum(bytes.dropLast()), CRC32C.checksum(bytes))
    }
}
