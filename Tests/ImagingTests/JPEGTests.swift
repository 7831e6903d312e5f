import Imaging
import Foundation
import TestSupport
import XCTest

/// The libjpeg-backed JPEG encoder and decoder: file layout, round trips, sizes; `JPEGParityTests` checks the bytes
/// against PIL's and `SwiftWrittenFilesTests` that PIL decodes the encoder's output.
final class JPEGTests: XCTestCase {
    func testMarkersAndSegments() throws {
        let jpeg = try JPEGEncoder(quality: 80).encode(TestImages.smooth(width: 20, height: 12))
        XCTAssertEqual(Array(jpeg.prefix(2)), [0xFF, 0xD8], "SOI")
        XCTAssertEqual(Array(jpeg.suffix(2)), [0xFF, 0xD9], "EOI")
        let segments = Self.segments(jpeg)
        XCTAssertEqual(segments.map(\.marker), [0xE0, 0xDB, 0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, 0xDA])
        // JFIF 1.01, density 1:1 without unit, no thumbnail: what PIL writes when no dpi is given.
        XCTAssertEqual(segments[0].payload, [0x4A, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, 0, 1, 0, 1, 0, 0])
        // SOF0: 8-bit, 12 rows, 20 columns, three components, luma sampled 2×2 (4:2:0).
        XCTAssertEqual(Array(segments[3].payload.prefix(8)), [8, 0, 12, 0, 20, 3, 1, 0x22])
        let jpeg444 = try JPEGEncoder(subsampling: .none444).encode(TestImages.smooth(width: 9, height: 9))
        let sof444 = Self.segments(jpeg444)
        XCTAssertEqual(sof444.first { $0.marker == 0xC0 }?.payload[7], 0x11)
    }

    func testQualityTablesFollowTheIJGScaling() throws {
        let dqt = Self.segments(try JPEGEncoder(quality: 95).encode(TestImages.smooth(width: 8, height: 8)))
            .filter { $0.marker == 0xDB }
        // What PIL writes in its luma DQT segment at quality 95 (zig-zag order, first entries).
        XCTAssertEqual(Array(dqt[0].payload[1...10]), [2, 1, 1, 1, 1, 1, 2, 1, 1, 1])
        let q100 = Self.segments(try JPEGEncoder(quality: 100).encode(TestImages.smooth(width: 8, height: 8)))
        XCTAssertTrue(q100.filter { $0.marker == 0xDB }.allSatisfy { $0.payload.dropFirst().allSatisfy { $0 == 1 } })
    }

    func testProgressiveFilesRoundTrip() throws {
        let source = TestImages.smooth(width: 30, height: 21, rectangle: RGB(40, 40, 40))
        let jpeg = try JPEGEncoder(quality: 95, progressive: true).encode(source)
        XCTAssertTrue(Self.segments(jpeg).contains { $0.marker == 0xC2 }, "SOF2")
        XCTAssertGreaterThan(try RGBImage.psnr(try JPEGDecoder.decode(jpeg), source), 30)
    }

    func testDecodedImageIsCloseToTheSource() throws {
        for (width, height) in [(48, 40), (17, 9), (1, 1), (33, 16)] {
            // Saturated colour edges are what 4:2:0 loses most (PIL's own files too, see jpeg_pil_reference.json), so
            // this picture keeps its sharp edge in luma only.
            let source = TestImages.smooth(width: width, height: height, rectangle: RGB(40, 40, 40))
            for (subsampling, minimum) in [(JPEGEncoder.ChromaSubsampling.quarter420, 30.0), (.none444, 36.0)] {
                let decoded = try JPEGDecoder.decode(
                    try JPEGEncoder(quality: 95, subsampling: subsampling).encode(source))
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
        XCTAssertLessThan(
            try JPEGEncoder(quality: 30).encode(image).count, try JPEGEncoder(quality: 95).encode(image).count)

    }

    /// Same library, same settings as PIL: the sizes of PIL's files of jpeg_source.png, exactly.
    func testSizesEqualPILs() throws {
        let source = try PNGDecoder.decode(TestImages.fixtureBytes("jpeg_source.png")).rgbImage()
        let pil = try PILReference.load()
        for (key, encoder) in [
            ("q95_420", JPEGEncoder(quality: 95)), ("q75_420", JPEGEncoder(quality: 75)),
            ("q90_444", JPEGEncoder(quality: 90, subsampling: .none444)),
            ("q95_444", JPEGEncoder(quality: 95, subsampling: .none444))
        ] {
            XCTAssertEqual(try encoder.encode(source).count, try XCTUnwrap(pil[key]).bytes, key)
        }
    }

    func testBrokenInputThrowsNamedErrors() throws {
        let jpeg = try JPEGEncoder().encode(TestImages.smooth(width: 32, height: 32))
        XCTAssertThrowsError(try JPEGDecoder.decode(Array(jpeg.prefix(jpeg.count / 2)))) { error in
            XCTAssertEqual(error as? ImageCodecError, .corruptJPEG("Premature end of JPEG file"))
        }
        XCTAssertThrowsError(try JPEGDecoder.decode([0x00, 0x01, 0x02, 0x03])) {
            XCTAssertTrue("\($0)".contains("corrupt JPEG: Not a JPEG file"), "\($0)")
        }
        XCTAssertThrowsError(try JPEGDecoder.decode([])) { XCTAssertTrue("\($0)".contains("corrupt JPEG"), "\($0)") }
        XCTAssertThrowsError(try JPEGEncoder().encode(RGBImage(width: 0, height: 3))) {
            XCTAssertTrue("\($0)".contains("0×3"), "\($0)")
        }
        XCTAssertThrowsError(try JPEGEncoder(quality: 0).encode(RGBImage(width: 2, height: 2)))
    }

    /// (marker, payload) of each segment up to and including the first SOS.
    static func segments(_ jpeg: [UInt8]) -> [(marker: UInt8, payload: [UInt8])] {
        var result: [(marker: UInt8, payload: [UInt8])] = []
        var position = 2
        while position + 4 <= jpeg.count, jpeg[position] == 0xFF {
            let marker = jpeg[position + 1], length = Int(jpeg[position + 2]) << 8 | Int(jpeg[position + 3])
            result.append((marker, Array(jpeg[(position + 4)..<(position + 2 + length)])))
            if marker == 0xDA { break }
            position += 2 + length
        }
        return result
    }
}

/// PIL's own JPEGs of jpeg_source.png: size and PSNR against the source (tools/goldens/imaging.py).
struct PILReference: Decodable {
    let bytes: Int
    let psnr: Double

    static func load() throws -> [String: PILReference] {
        try JSONDecoder().decode(
            [String: PILReference].self, from: Data(contentsOf: Fixture.url("imaging/jpeg_pil_reference.json")))
    }
}
