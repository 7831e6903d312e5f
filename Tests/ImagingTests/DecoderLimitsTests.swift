import Imaging
import XCTest

/// Image files declare their size in a few header bytes: a decoder must refuse a size beyond its stated bound
/// (32768 per side, 2^26 pixels) before allocating, and corrupt data must end in an error, never a crash.
final class DecoderLimitsTests: XCTestCase {
    private static let crcTable: [UInt32] = (0..<256).map { n in
        (0..<8).reduce(UInt32(n)) { c, _ in c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }

    private func crc(_ bytes: [UInt8]) -> UInt32 {
        ~bytes.reduce(~UInt32(0)) { Self.crcTable[Int(($0 ^ UInt32($1)) & 0xFF)] ^ ($0 >> 8) }
    }

    private func bigEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }

    /// A PNG whose IHDR says `width × height` RGB, with a tiny IDAT and IEND, CRCs right.
    private func png(width: UInt32, height: UInt32) -> [UInt8] {
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return bigEndian(UInt32(data.count)) + body + bigEndian(crc(body))
        }
        let header = bigEndian(width) + bigEndian(height) + [8, 2, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header)
            + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", [])
    }

    private func assertRefused(_ body: @autoclosure () throws -> Any, _ expected: String, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            XCTAssert("\(error)".contains(expected), "'\(expected)' missing from: \(error)", line: line)
        }
    }

    func testPNGBeyondThePixelBoundIsRefusedBeforeDecoding() {
        assertRefused(
            try PNGDecoder.decode(png(width: 30000, height: 30000)),
            "corrupt PNG: image of 30000 x 30000 pixels is larger than the decoder accepts (at most 32768 per side "
                + "and 67108864 pixels)")
    }

    /// libpng checks the side bound itself while reading IHDR (its warning names the limit; the error is its own).
    func testPNGBeyondTheSideBoundIsRefusedByTheHeaderCheck() {
        assertRefused(try PNGDecoder.decode(png(width: 40000, height: 1)), "corrupt PNG: Invalid IHDR data")
    }

    func testTruncatedAndGarbledPNGsAreErrors() throws {
        let valid = try PNGEncoder.encode(RGBImage(width: 5, height: 4, fill: RGB(1, 2, 3)))
        assertRefused(try PNGDecoder.decode(Array(valid.prefix(40))), "corrupt PNG")
        var garbled = valid
        for i in stride(from: 45, to: garbled.count - 12, by: 3) { garbled[i] ^= 0x5A }
        assertRefused(try PNGDecoder.decode(garbled), "corrupt PNG")
    }

    /// A valid JPEG whose frame header (SOF) then claims `width × height`.
    private func jpeg(width: UInt16, height: UInt16) throws -> [UInt8] {
        var bytes = try JPEGEncoder(quality: 80).encode(RGBImage(width: 8, height: 8, fill: RGB(9, 9, 9)))
        let sof = try XCTUnwrap((0..<bytes.count - 1).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        bytes.replaceSubrange(
            (sof + 5)..<(sof + 9),
            with: withUnsafeBytes(of: height.bigEndian, Array.init)
                + withUnsafeBytes(of: width.bigEndian, Array.init))
        return bytes
    }

    func testJPEGBeyondThePixelBoundIsRefusedBeforeDecoding() throws {
        assertRefused(
            try JPEGDecoder.decode(try jpeg(width: 60000, height: 60000)),
            "corrupt JPEG: image of 60000 x 60000 pixels is larger than the decoder accepts")
    }

    func testTruncatedAndEmptyJPEGsAreErrors() throws {
        let valid = try JPEGEncoder(quality: 80).encode(RGBImage(width: 16, height: 16, fill: RGB(9, 90, 200)))
        assertRefused(try JPEGDecoder.decode(Array(valid.prefix(valid.count / 2))), "corrupt JPEG")
        assertRefused(try JPEGDecoder.decode([]), "corrupt JPEG")
        assertRefused(try JPEGDecoder.decode([0xFF, 0xD8, 0xFF]), "corrupt JPEG")
    }
}
