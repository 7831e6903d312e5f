import Foundation
import Imaging
import TestSupport
import XCTest

/// PIL reading this package's PNG and JPEG files. tools/goldens/imaging.py decodes the committed swift_sample.png,
/// swift_sample_q95.jpg and swift_sample_q95_444.jpg with PIL and stores the pixels; these tests check that the
/// committed files are what the encoders write today and that PIL's pixels match the source image.
///
/// To refresh after changing an encoder:
/// `DANCEGRPO_WRITE_IMAGING_FIXTURES=1 swift test --filter SwiftWrittenFilesTests`, then
/// `scripts/tools-env.sh python3 tools/goldens/imaging.py`.
final class SwiftWrittenFilesTests: XCTestCase {
    private var source: RGBImage {
        get throws { try PNGDecoder.decode(TestImages.fixtureBytes("jpeg_source.png")).rgbImage() }
    }

    /// The fixture folder in the source tree (not the copy in the build folder), for writing.
    private var sourceFixtureFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TestSupport/Fixtures/imaging")
    }

    private func checkCommitted(_ name: String, _ bytes: [UInt8]) throws {
        if ProcessInfo.processInfo.environment["DANCEGRPO_WRITE_IMAGING_FIXTURES"] == "1" {
            try Data(bytes).write(to: sourceFixtureFolder.appendingPathComponent(name))
            print("wrote \(name) (\(bytes.count) bytes); now run scripts/tools-env.sh python3 tools/goldens/imaging.py")
            return
        }
        let committed = try TestImages.fixtureBytes(name)
        XCTAssertTrue(
            committed == bytes,
            "\(name) (\(committed.count) bytes) differs from what the encoder writes now "
                + "(\(bytes.count) bytes): refresh it (see this class's comment)")
    }

    func testPILDecodesOurPNG() throws {
        let source = try source
        // PNG bytes come from the system zlib and may differ between its versions, so the committed file is held
        // to decoding to the source, like today's output, rather than to today's bytes.
        let png = try PNGEncoder.encode(source)
        if ProcessInfo.processInfo.environment["DANCEGRPO_WRITE_IMAGING_FIXTURES"] == "1" {
            try checkCommitted("swift_sample.png", png)
        }
        XCTAssertEqual(try PNGDecoder.decode(png).rgbImage(), source)
        XCTAssertEqual(try PNGDecoder.decode(TestImages.fixtureBytes("swift_sample.png")).rgbImage(), source)
        let pil = try TestImages.fixtureBytes("swift_sample_png_pil.samples")
        XCTAssertEqual(pil, source.pixels, "PIL's decoding of our PNG must be lossless")
    }

    func testPILDecodesOurJPEGs() throws {
        let source = try source
        let pil = try PILReference.load()
        for (name, subsampling, key) in [
            ("swift_sample_q95.jpg", JPEGEncoder.ChromaSubsampling.quarter420, "q95_420"),
            ("swift_sample_q95_444.jpg", .none444, "q95_444")
        ] {
            let jpeg = try JPEGEncoder(quality: 95, subsampling: subsampling).encode(source)
            try checkCommitted(name, jpeg)
            let decodedByPIL = try RGBImage(
                width: source.width, height: source.height,
                pixels: try TestImages.fixtureBytes(name.replacingOccurrences(of: ".", with: "_") + "_pil.samples"))
            let psnr = try RGBImage.psnr(decodedByPIL, source)
            // As faithful as PIL's own file with the same settings (4:2:0 loses the saturated edges in both).
            XCTAssertGreaterThan(psnr, try XCTUnwrap(pil[key]).psnr - 0.5, name)
            if subsampling == .none444 { XCTAssertGreaterThan(psnr, 30, name) }
            // Both decode with libjpeg-turbo's defaults: the same pixels, up to one level between its versions.
            let ours = try JPEGDecoder.decode(jpeg).pixels
            XCTAssertLessThanOrEqual(zip(ours, decodedByPIL.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0, 1, name)
        }
    }
}
