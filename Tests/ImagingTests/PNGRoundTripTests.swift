import Imaging
import XCTest

final class PNGRoundTripTests: XCTestCase {
    func testRoundTripsRandomFlatAndOddSizedImages() throws {
        let images = [
            TestImages.noise(width: 37, height: 23),
            RGBImage(width: 64, height: 64, fill: RGB(10, 200, 30)),
            TestImages.noise(width: 1, height: 1, seed: 9),
            TestImages.noise(width: 1, height: 7, seed: 3),
            TestImages.noise(width: 7, height: 1, seed: 4),
            TestImages.smooth(width: 13, height: 5),
            TestImages.smooth(width: 120, height: 90)
        ]
        for image in images {
            let decoded = try PNGDecoder.decode(try PNGEncoder.encode(image))
            XCTAssertEqual(decoded.channels, 3)
            XCTAssertEqual(decoded.rgbImage(), image, "\(image.width)×\(image.height)")
        }
    }

    func testFileStructure() throws {
        let image = TestImages.smooth(width: 21, height: 9)
        let png = try PNGEncoder.encode(image)
        XCTAssertEqual(Array(png[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // Walk the chunks: lengths consistent, CRCs right, IHDR first, IEND last.
        var position = 8
        var types: [String] = []
        while position < png.count {
            let length =
                Int(png[position]) << 24 | Int(png[position + 1]) << 16 | Int(png[position + 2]) << 8
                | Int(png[position + 3])
            let type = String(decoding: png[(position + 4)..<(position + 8)], as: UTF8.self)
            let crcStart = position + 8 + length
            let stored =
                UInt32(png[crcStart]) << 24 | UInt32(png[crcStart + 1]) << 16 | UInt32(png[crcStart + 2]) << 8
                | UInt32(png[crcStart + 3])
            XCTAssertEqual(stored, Zlib.crc32(png[(position + 4)..<crcStart]), "CRC of \(type)")
            if type == "IHDR" {
                XCTAssertEqual(Array(png[(position + 8)..<(position + 21)]), [0, 0, 0, 21, 0, 0, 0, 9, 8, 2, 0, 0, 0])
            }
            types.append(type)
            position = crcStart + 4
        }
        XCTAssertEqual(position, png.count)
        XCTAssertEqual(types, ["IHDR", "IDAT", "IEND"])
    }

    func testCompressesFlatImagesWell() throws {
        let flat = try PNGEncoder.encode(RGBImage(width: 256, height: 256, fill: .lightGrey))
        XCTAssertLessThan(flat.count, 1000, "196 KiB of one colour")
        let noise = try PNGEncoder.encode(TestImages.noise(width: 64, height: 64))
        XCTAssertGreaterThan(noise.count, 64 * 64 * 3)
    }

    func testEmptyImageIsRejected() {
        XCTAssertThrowsError(try PNGEncoder.encode(RGBImage(width: 0, height: 5)))
    }

    func testWritesFile() throws {
        let url = try temporaryFile("image.png")
        let image = TestImages.smooth(width: 10, height: 6)
        try PNGEncoder.write(image, to: url)
        XCTAssertEqual(try PNGDecoder.decode(contentsOf: url).rgbImage(), image)
    }

    private func temporaryFile(_ name: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("imaging-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        return folder.appendingPathComponent(name)
    }
}
