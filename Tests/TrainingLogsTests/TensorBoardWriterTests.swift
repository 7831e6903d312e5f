import Foundation
import TestSupport
@testable import TrainingLogs
import XCTest

final class TensorBoardWriterTests: XCTestCase {
    func testCRC32CMatchesPublishedCheckValues() {
        // RFC 3720 B.4 and the standard "123456789" check value of CRC-32C.
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
    }

    func testProtobufEncodingOfKnownMessages() {
        var w = ProtobufWriter()
        w.int64(2, 150)  // field 2 varint: 0x10 0x96 0x01
        w.string(1, "ab")  // field 1 length-delimited
        w.float(2, 1)  // field 2 fixed32
        XCTAssertEqual(w.bytes, [0x10, 0x96, 0x01, 0x0A, 0x02, 0x61, 0x62, 0x15, 0x00, 0x00, 0x80, 0x3F])
    }

    /// Reads the records back with their checksums and finds the logged values in the payloads.
    func testRecordsAreFramedWithValidChecksums() throws {
        let folder = try temporaryDirectory(self)
        let writer = try TensorBoardWriter(folder: folder)
        try writer.addScalars([("reward/shapes", 0.25), ("train/kl", 1e-3)], step: 7)
        try writer.addImage("samples", png: Data([1, 2, 3]), width: 1, height: 1, step: 7)
        let records = try readRecords(writer.file)
        XCTAssertEqual(records.count, 3)
        XCTAssertTrue(String(decoding: records[0], as: UTF8.self).contains("brain.Event:2"))
        XCTAssertTrue(records[1].containsSubsequence(Array("reward/shapes".utf8)))
        var quarter = Float(0.25).bitPattern.littleEndian
        XCTAssertTrue(records[1].containsSubsequence(withUnsafeBytes(of: &quarter) { Array($0) }))
        XCTAssertTrue(records[2].containsSubsequence([0x22, 0x03, 1, 2, 3]))  // encoded_image_string
    }

    func testResumedWriterStartsANewFileWithASessionStart() throws {
        let folder = try temporaryDirectory(self)
        let first = try TensorBoardWriter(folder: folder)
        let second = try TensorBoardWriter(folder: folder, resumingAt: 12)
        XCTAssertNotEqual(first.file, second.file)
        let records = try readRecords(second.file)
        XCTAssertEqual(records.count, 2)
        // Event{2: step 12, 6: SessionLog{1: START}}.
        XCTAssertTrue(records[1].containsSubsequence([0x10, 12, 0x32, 0x02, 0x08, 0x01]))
    }

    private func readRecords(_ url: URL) throws -> [[UInt8]] {
        let data = [UInt8](try Data(contentsOf: url))
        var records: [[UInt8]] = [], offset = 0
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(data[at + $1]) << (8 * $1) } }
        while offset < data.count {
            let lengthBytes = Array(data[offset..<(offset + 8)])
            let length = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(lengthBytes[$1]) << (8 * $1) })
            XCTAssertEqual(u32(offset + 8), CRC32C.masked(lengthBytes))
            let payload = Array(data[(offset + 12)..<(offset + 12 + length)])
            XCTAssertEqual(u32(offset + 12 + length), CRC32C.masked(payload))
            records.append(payload)
            offset += 16 + length
        }
        return records
    }
}

private extension Array where Element == UInt8 {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
