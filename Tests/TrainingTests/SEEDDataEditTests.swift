import Foundation
import TestSupport
import Training
import XCTest

/// The SEED-Data-Edit annotation reader: the seed's JSONL fields, paths under the file's folder by default, JPEG and
/// PNG sources as 8-bit RGB, and every bad line named by file and line.
final class SEEDDataEditTests: XCTestCase {
    func testReadsTheAnnotationFileAndItsImages() throws {
        let file = Fixture.url("qwen_image_edit_seed_data/edit_data.jsonl")
        let data = try SEEDDataEdit(file: file)
        XCTAssertEqual(data.samples.map(\.instruction), ["make the sky red", "add a hat"])
        XCTAssertEqual(data.samples.map(\.line), [1, 2])
        XCTAssertEqual(data.samples.map(\.targetImage), ["images/2_1.jpg", "images/28_1.jpg"])
        XCTAssertEqual(
            data.samples[0].sourceURL.path,
            file.deletingLastPathComponent().appendingPathComponent("images/2_0.jpg").standardizedFileURL.path)
        let jpeg = try data.sourceRGB(data.samples[0])
        let png = try data.sourceRGB(data.samples[1])
        XCTAssertEqual([jpeg.width, jpeg.height, png.width, png.height], [40, 24, 24, 40])
        XCTAssertEqual(Array(png.pixels[0..<6]), [0, 40, 180, 9, 40, 180], "the generator's first two pixels")
    }

    func testBadLinesAreNamed() throws {
        let folder = try temporaryDirectory(self)
        let images = Fixture.url("qwen_image_edit_seed_data")
        let file = folder.appendingPathComponent("edit.jsonl")
        let good = #"{"source_image": "images/28_0.png", "instruction": "x"}"#
        for (text, expected) in [
            ("\(good)\n\n[1, 2]\n", SEEDDataEditError.badLine(file: file.path, line: 3, reason: "not a JSON object")),
            (#"{"instruction": "x"}"#, .missingKey(file: file.path, line: 1, key: "source_image")),
            (
                #"{"source_image": "images/none.png", "instruction": "x"}"#,
                .missingImage(
                    file: file.path, line: 1, image: images.appendingPathComponent("images/none.png").path)
            ),
            ("\n\n", .unreadable(file: file.path, reason: "no annotation lines"))
        ] {
            try text.write(to: file, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try SEEDDataEdit(file: file, imageRoot: images)) {
                XCTAssertEqual($0 as? SEEDDataEditError, expected)
            }
        }
    }
}
