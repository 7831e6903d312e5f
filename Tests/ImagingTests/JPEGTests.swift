@testable import Imaging
import Foundation
import TestSupport
import XCTest

/// The baseline JPEG encoder, checked with this package's own minimal decoder (PSNR against the source) and against
/// PIL's file sizes; `SwiftWrittenFilesTests` checks that PIL decodes the encoder's output.
final class JPEGTests: XCTestCase {
    func testMarkersAndSegments() throws {
        let jpeg = try JPEGEncoder(quality: 80).encode(TestImages.smooth(width: 20, height: 12))
        XCTAssertEqual(Array(jpeg.prefix(2)), [0xFF, 0xD8], "SOI")
        XCTAssertEqual(Array(jpeg.suffix(2)), [0xFF, 0xD9], "EOI")
        var markers: [UInt8] = []
        var position = 2
        while position < jpeg.count {
            XCTAssertEqual(jpeg[position], 0xFF)
            let marker = jpeg[position + 1]
            markers.append(marker)
            if marker == 0xDA { break }
            position += 2 + (Int(jpeg[position + 2]) << 8 | Int(jpeg[position + 3]))
        }
        XCTAssertEqual(markers, [0xE0, 0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, 0xDA])
        // SOF0: 8-bit, 12 rows, 20 columns, three components, luma sampled 2×2 (4:2:0).
        let sof = jpeg.firstRange(of: [0xFF, 0xC0])!.lowerBound
        XCTAssertEqual(Array(jpeg[(sof + 4)..<(sof + 12)]), [8, 0, 12, 0, 20, 3, 1, 0x22])
        // Entropy-coded data never contains a bare 0xFF: each is followed by a stuffed 0 (or is the EOI marker).
        let scan = jpeg[(position + 14)..<(jpeg.count - 2)]
        for i in scan.indices where scan[i] == 0xFF { XCTAssertEqual(jpeg[i + 1], 0) }
    }

    func testQualityTablesFollowTheIJGScaling() {
        XCTAssertEqual(JPEGTables.quantisation(JPEGTables.luminanceQuantisation, quality: 50), JPEGTables.luminanceQuantisation)
        let q95 = JPEGTables.quantisation(JPEGTables.luminanceQuantisation, quality: 95)
        // What PIL writes in its DQT segment at quality 95 (zig-zag order, first entries).
        XCTAssertEqual(JPEGTables.zigZag.prefix(10).map { q95[$0] }, [2, 1, 1, 1, 1, 1, 2, 1, 1, 1])
        XCTAssertTrue(JPEGTables.quantisation(JPEGTables.chrominanceQuantisation, quality: 100).allSatisfy { $0 == 1 })
        XCTAssertEqual(Set(JPEGTables.zigZag), Set(0..<64))
        XCTAssertEqual(Array(JPEGTables.zigZag.prefix(10)), [0, 1, 8, 16, 9, 2, 3, 10, 17, 24])
    }

    func testDCTIsOrthonormalAndInvertible() {
        var block = (0..<64).map { Float(($0 * 37) % 255) - 128 }
        let original = block
        DCT8x8.forward(&block)
        let energy = original.reduce(0) { $0 + $1 * $1 }, transformed = block.reduce(0) { $0 + $1 * $1 }
        XCTAssertEqual(transformed, energy, accuracy: energy * 1e-5)
        DCT8x8.inverse(&block)
        XCTAssertEqual(block, original, accuracy: 1e-3)
        var flat = [Float](repeating: 10, count: 64)
        DCT8x8.forward(&flat)
        XCTAssertEqual(flat[0], 80, accuracy: 1e-4)  // DC of a flat block = 8 × value
        XCTAssertEqual(flat[1...].map(abs).max()!, 0, accuracy: 1e-4)
    }

    func testDecodedImageIsCloseToTheSource() throws {
        for (width, height) in [(48, 40), (17, 9), (1, 1), (33, 16)] {
            // Saturated colour edges are what 4:2:0 loses most (PIL's own files too, see jpeg_pil_reference.json), so
            // this picture keeps its sharp edge in luma only.
            let source = TestImages.smooth(width: width, height: height, rectangle: RGB(40, 40, 40))
            for (subsampling, minimum) in [(JPEGEncoder.ChromaSubsampling.quarter420, 30.0), (.none444, 36.0)] {
                let decoded = try JPEGDecoder.decode(try JPEGEncoder(quality: 95, subsampling: subsampling).encode(source))
                XCTAssertEqual(decoded.width, width)
                XCTAssertEqual(decoded.height, height)
                let psnr = try RGBImage.psnr(decoded, source)
                XCTAssertGreaterThan(psnr, minimum, "\(width)×\(height) \(subsampling)")
            }
        }
    }

    func testSizesOrderAsExpected() throws {
        let flat = try JPEGEncoder().encode(RGBImage(width: 64, height: 64, fill: RGB(90, 150, 210)))
        let smooth = try JPEGEncoder().encode(TestImages.smooth(width: 64, height: 64))
        let noise = try JPEGEncoder().encode(TestImages.noise(width: 64, height: 64))
        XCTAssertLessThan(flat.count * 5, noise.count, "flat \(flat.count) B, noise \(noise.count) B")
        XCTAssertLessThan(flat.count, smooth.count)
        XCTAssertLessThan(smooth.count, noise.count)
        let image = TestImages.noise(width: 32, height: 32)
        XCTAssertLessThan(try JPEGEncoder(quality: 30).encode(image).count, try JPEGEncoder(quality: 95).encode(image).count)

    }

    /// Same tables and quality scaling as libjpeg: file sizes land near PIL's for the same picture (they differ
    /// by colour conversion rounding and chroma downsampling details).
    func testSizesAreCloseToPIL() throws {
        let source = try PNGDecoder.decode(TestImages.fixtureBytes("jpeg_source.png")).rgbImage()
        let pil = try PILReference.load()
        for (key, encoder) in [("q95_420", JPEGEncoder(quality: 95)), ("q75_420", JPEGEncoder(quality: 75)),
                               ("q90_444", JPEGEncoder(quality: 90, subsampling: .none444)),
                               ("q95_444", JPEGEncoder(quality: 95, subsampling: .none444))] {
            let ours = try encoder.encode(source).count, theirs = try XCTUnwrap(pil[key]).bytes
            XCTAssertEqual(Double(ours), Double(theirs), accuracy: 0.05 * Double(theirs), key)
        }
    }

    func testDecoderRejectsProgressiveFiles() throws {
        var jpeg = try JPEGEncoder().encode(RGBImage(width: 8, height: 8))
        let sof = jpeg.firstRange(of: [0xFF, 0xC0])!.lowerBound
        jpeg[sof + 1] = 0xC2
        XCTAssertThrowsError(try JPEGDecoder.decode(jpeg)) { XCTAssertTrue("\($0)".contains("baseline"), "\($0)") }
        XCTAssertThrowsError(try JPEGDecoder.decode([0x00, 0x01, 0x02, 0x03]))
        XCTAssertThrowsError(try JPEGEncoder().encode(RGBImage(width: 0, height: 3)))
    }
}

/// PIL's own JPEGs of jpeg_source.png: size and PSNR against the source (tools/goldens/imaging.py).
struct PILReference: Decodable {
    let bytes: Int
    let psnr: Double

    static func load() throws -> [String: PILReference] {
        try JSONDecoder().decode([String: PILReference].self, from: Data(contentsOf: Fixture.url("imaging/jpeg_pil_reference.json")))
    }
}
