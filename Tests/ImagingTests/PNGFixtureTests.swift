import Foundation
import Imaging
import TestSupport
import XCTest

/// PNG files written by PIL and by Python's zlib (tools/goldens/imaging.py), decoded by the Swift decoder.
final class PNGFixtureTests: XCTestCase {
    private struct Entry: Decodable {
        let width: Int
        let height: Int
        let channels: Int
    }

    func testDecodesEveryFixture() throws {
        let manifest = try JSONDecoder().decode([String: Entry].self, from: Data(contentsOf: Fixture.url("imaging/manifest.json")))
        XCTAssertGreaterThanOrEqual(manifest.count, 17)
        for (name, entry) in manifest.sorted(by: { $0.key < $1.key }) {
            let image = try PNGDecoder.decode(TestImages.fixtureBytes(name + ".png"))
            XCTAssertEqual(image.width, entry.width, name)
            XCTAssertEqual(image.height, entry.height, name)
            XCTAssertEqual(image.channels, entry.channels, name)
            XCTAssertEqual(image.samples, try TestImages.fixtureBytes(name + ".samples"), name)
        }
    }

    func testAlphaIsCompositedOverTheBackground() throws {
        let image = try PNGDecoder.decode(TestImages.fixtureBytes("pil_rgba.png"))
        let rgb = image.rgbImage(background: .black)
        for i in 0..<(image.width * image.height) {
            let alpha = Int(image.samples[4 * i + 3])
            for c in 0..<3 {
                XCTAssertEqual(Int(rgb.pixels[3 * i + c]), (Int(image.samples[4 * i + c]) * alpha + 127) / 255)
            }
        }
        let grey = try PNGDecoder.decode(TestImages.fixtureBytes("pil_gray.png")).rgbImage()
        XCTAssertEqual(grey[3, 2].r, grey[3, 2].g)
        XCTAssertEqual(grey[3, 2].g, grey[3, 2].b)
    }

    func testRejectsBrokenFiles() throws {
        let good = try TestImages.fixtureBytes("pil_rgb.png")
        var badSignature = good
        badSignature[1] = 0
        XCTAssertThrowsError(try PNGDecoder.decode(badSignature)) { XCTAssertTrue("\($0)".contains("signature"), "\($0)") }
        var badCRC = good
        badCRC[20] ^= 0xFF  // inside IHDR data
        XCTAssertThrowsError(try PNGDecoder.decode(badCRC)) { XCTAssertTrue("\($0)".contains("CRC"), "\($0)") }
        XCTAssertThrowsError(try PNGDecoder.decode(Array(good.prefix(good.count - 20))))
        // Mark the image interlaced (and fix IHDR's CRC): a clear "unsupported" error, not garbage.
        var interlaced = good
        interlaced[28] = 1
        let crc = CRC32.checksum(interlaced[12..<29])
        interlaced[29...32] = [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
        XCTAssertThrowsError(try PNGDecoder.decode(interlaced)) { XCTAssertTrue("\($0)".contains("interlaced"), "\($0)") }
    }
}
