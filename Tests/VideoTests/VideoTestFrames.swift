import Foundation
import Imaging
import TestSupport
import XCTest

/// Synthetic clips and the committed reference files for the video tests.
enum VideoTestFrames {
    /// `count` frames of a gradient with a light square moving right by 2 pixels a frame and a dark one moving down,
    /// on the 2 × 2 grid of 4:2:0 chroma (as tools/goldens/video.py draws them): content whose loss is the codec's,
    /// not the chroma subsampling's.
    static func movingSquares(count: Int, width: Int, height: Int) -> [RGBImage] {
        (0..<count).map { f in
            var image = RGBImage(width: width, height: height)
            for y in 0..<height {
                for x in 0..<width {
                    image[x, y] = RGB(
                        UInt8(x * 200 / max(1, width - 1) + 20), UInt8(y * 180 / max(1, height - 1) + 40),
                        UInt8(90 + 8 * f))
                }
            }
            for y in 6..<min(16, height) {
                for x in (2 + 2 * f)..<min(12 + 2 * f, width) { image[x, y] = RGB(235, 230, 220) }
            }
            let column = (width * 2 / 3) & ~1
            for y in (2 + 2 * f)..<min(10 + 2 * f, height) {
                for x in column..<min(column + 8, width) { image[x, y] = RGB(30, 35, 50) }
            }
            return image
        }
    }

    /// One clip of Tests/TestSupport/Fixtures/video (see tools/goldens/video.py): the file, the frames its encoder
    /// was given, the frames PyAV decoded from it, and the manifest's facts.
    struct Reference {
        let url: URL
        let width: Int
        let height: Int
        let fps: Double
        let codec: String
        let source: [RGBImage]
        let decodedByPyAV: [RGBImage]

        init(_ name: String) throws {
            let manifestData = try Data(contentsOf: Fixture.url("video/manifest.json"))
            let manifest = try XCTUnwrap(
                try JSONSerialization.jsonObject(with: manifestData) as? [String: [String: Any]])
            let entry = try XCTUnwrap(manifest[name], "no \(name) in video/manifest.json")
            url = Fixture.url("video/" + (try XCTUnwrap(entry["file"] as? String)))
            width = try XCTUnwrap(entry["width"] as? Int)
            height = try XCTUnwrap(entry["height"] as? Int)
            let count = try XCTUnwrap(entry["frames"] as? Int)
            fps = Double(try XCTUnwrap(entry["fps_num"] as? Int)) / Double(try XCTUnwrap(entry["fps_den"] as? Int))
            codec = try XCTUnwrap(entry["codec"] as? String)
            let (w, h) = (width, height)
            func frames(_ suffix: String) throws -> [RGBImage] {
                let bytes = [UInt8](try Data(contentsOf: Fixture.url("video/\(name).\(suffix).rgb")))
                XCTAssertEqual(bytes.count, count * w * h * 3, "\(name).\(suffix).rgb")
                return try (0..<count).map { f in
                    try RGBImage(width: w, height: h, pixels: Array(bytes[(f * w * h * 3)..<((f + 1) * w * h * 3)]))
                }
            }
            source = try frames("source")
            decodedByPyAV = try frames("decoded")
        }
    }

    /// Largest per-sample |a − b| over two images of one size.
    static func maxAbsDifference(_ a: RGBImage, _ b: RGBImage) -> Int {
        zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }
}
