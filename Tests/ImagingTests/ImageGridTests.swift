import Imaging
import XCTest

final class ImageGridTests: XCTestCase {
    func testDimensionsWithoutCaptions() throws {
        let images = (0..<5).map { TestImages.noise(width: 10, height: 8, seed: UInt64($0)) }
        let grid = try ImageGrid(columns: 3, padding: 2, frameColor: nil).render(images)
        XCTAssertEqual(grid.width, 3 * 10 + 4 * 2)
        XCTAssertEqual(grid.height, 2 * 8 + 3 * 2)
        // Image 4 sits in row 1, column 1.
        XCTAssertEqual(try grid.cropped(x: 2 + 12, y: 2 + 10, width: 10, height: 8), images[4])
        // The empty sixth cell stays background.
        XCTAssertEqual(grid[2 + 24 + 5, 2 + 10 + 4], .white)
    }

    func testDimensionsWithCaptionsTitleAndScale() throws {
        let images = (0..<4).map { TestImages.noise(width: 16, height: 16, seed: UInt64($0)) }
        let grid = ImageGrid(padding: 4, scale: 3, captionLines: 2, title: "after GRPO")
        let image = try grid.render(images, captions: ["two red circles", "a blue square", "x", "reward 1.00"])
        let layout = grid.layout(count: 4, tileWidth: 48, tileHeight: 48, captioned: true)
        XCTAssertEqual(layout.columns, 2)
        XCTAssertEqual(image.width, 2 * 48 + 3 * 4)
        XCTAssertEqual(image.height, (BitmapFont.lineHeight + 4) + 2 * (48 + 2 + 2 * BitmapFont.lineHeight) + 3 * 4)
        XCTAssertEqual([image.width, image.height], [layout.width, layout.height])
        let origin = layout.cellOrigin(3)
        XCTAssertEqual(
            try image.cropped(x: origin.x, y: origin.y, width: 48, height: 48), try images[3].upscaled(by: 3))
        // Caption ink below the tile, title ink on top.
        let captionBand = try image.cropped(
            x: origin.x, y: origin.y + 48, width: 48, height: 2 + 2 * BitmapFont.lineHeight)
        XCTAssertTrue(captionBand.pixels.contains(0))
        XCTAssertTrue(try image.cropped(x: 0, y: 0, width: image.width, height: 14).pixels.contains(0))
    }

    func testMixedSizesAreCentredAndFramed() throws {
        let grid = try ImageGrid(columns: 2, padding: 3).render([
            RGBImage(width: 10, height: 10, fill: .black),
            RGBImage(width: 4, height: 6, fill: .black)
        ])
        XCTAssertEqual(grid.width, 2 * 10 + 3 * 3)
        XCTAssertEqual(grid[3 + 13 + 3, 3 + 2], .black)  // second image starts at cell x + 3, y + 2
        XCTAssertEqual(grid[3 + 13 + 2, 3 + 2], RGB(200, 200, 200))  // its frame
    }

    func testRejectsMismatchedCaptions() {
        XCTAssertThrowsError(try ImageGrid().render([RGBImage(width: 2, height: 2)], captions: ["a", "b"]))
        XCTAssertThrowsError(try ImageGrid().render([]))
    }
}
