import Foundation
import Imaging
import TestSupport
import XCTest

/// The encoder against PIL's own quality-95 files (tools/goldens/jpeg_sizes.py): DDPO's JPEG-size rewards measure
/// PIL's file, so every image must come out the same size, and with the same libjpeg-turbo the same bytes. And the
/// decoder against PIL's decoding of progressive, greyscale and CMYK files.
final class JPEGParityTests: XCTestCase {
    private struct Golden: Decodable {
        let width: Int
        let height: Int
        let bytes: Int
        let crc32: UInt32
    }

    private struct Document: Decodable {
        let quality: Int
        let images: [String: Golden]
    }

    func testQuality95FilesAreByteIdenticalToPILs() throws {
        let json = Data(try TestImages.fixtureBytes("jpeg_parity/sizes.json"))
        let document = try JSONDecoder().decode(Document.self, from: json)
        XCTAssertGreaterThanOrEqual(document.images.count, 20)
        var report: [String] = []
        for (name, golden) in document.images.sorted(by: { $0.key < $1.key }) {
            let image = try PNGDecoder.decode(TestImages.fixtureBytes("jpeg_parity/\(name).png")).rgbImage()
            XCTAssertEqual([image.width, image.height], [golden.width, golden.height], name)
            let jpeg = try JPEGEncoder(quality: document.quality).encode(image)
            XCTAssertEqual(jpeg.count, golden.bytes, "\(name): size differs from PIL's")
            XCTAssertEqual(Zlib.crc32(jpeg), golden.crc32, "\(name): bytes differ from PIL's")
            report.append("\(name) \(jpeg.count - golden.bytes)")
        }
        print("JPEG size difference from PIL (bytes): " + report.joined(separator: ", "))
    }

    /// libjpeg-turbo decodes identically across versions for these files; allow 1 for a different build.
    func testDecodesPILsProgressiveGreyAndCMYKFiles() throws {
        for name in ["progressive", "grey", "cmyk"] {
            let decoded = try JPEGDecoder.decode(TestImages.fixtureBytes("jpeg_parity/\(name).jpg"))
            let pil = try TestImages.fixtureBytes("jpeg_parity/\(name).samples")
            XCTAssertEqual([decoded.width, decoded.height], [48, 40], name)
            XCTAssertEqual(decoded.pixels.count, pil.count, name)
            let worst = zip(decoded.pixels, pil).map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1, "\(name): largest difference from PIL's decoding")
        }
    }
}
