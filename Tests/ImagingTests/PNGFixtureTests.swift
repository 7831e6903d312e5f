import Foundation
import Imaging
import TestSupport
import XCTest

/// PNG files written by PIL and by Python's zlib (tools/goldens/imaging.py), decoded through libpng.
final class PNGFixtureTests: XCTestCase {
    private struct Entry: Decodable {
        let width: Int
        let height: Int
        let channels: Int
    }

    func testDecodesEveryFixture() throws {
        let manifest = try JSONDecoder().decode(
            [String: Entry].self, from: Data(contentsOf: Fixture.url("imaging/manifest.json")))
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
        XCTAssertThrowsError(try PNGDecoder.decode(badSignature)) {
            XCTAssertTrue("\($0)".contains("signature"), "\($0)")
        }
        var badCRC = good
        badCRC[20] ^= 0xFF  // inside IHDR data
        XCTAssertThrowsError(try PNGDecoder.decode(badCRC)) { XCTAssertTrue("\($0)".contains("CRC"), "\($0)") }
        XCTAssertThrowsError(try PNGDecoder.decode(Array(good.prefix(good.count - 20)))) {
            XCTAssertTrue("\($0)".contains("corrupt PNG"), "\($0)")
        }
        // Marked interlaced (IHDR's CRC fixed) but holding non-interlaced data: an error, not garbage.
        var interlaced = good
        interlaced[28] = 1
        let crc = Zlib.crc32(interlaced[12..<29])
        interlaced[29...32] = [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
        XCTAssertThrowsError(try PNGDecoder.decode(interlaced))
    }

    func testErrorsFromFilesNameTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).png")
        try Data(Array(try TestImages.fixtureBytes("pil_rgb.png").prefix(40))).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try PNGDecoder.decode(contentsOf: url)) { error in
            XCTAssertTrue("\(error)".contains(url.path), "\(error)")
            guard case .inFile(let path, .corruptPNG) = error as? ImageCodecError else {
                return XCTFail("expected a corrupt PNG in a named file, got \(error)")
            }
            XCTAssertEqual(path, url.path)
        }
    }
}
