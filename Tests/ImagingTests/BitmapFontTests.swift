@testable import Imaging
import XCTest

final class BitmapFontTests: XCTestCase {
    func testEveryPrintableCharacterHasADistinctGlyph() {
        var seen: [[UInt8]: Character] = [:]
        for code in 33...126 {
            let character = Character(Unicode.Scalar(UInt8(code)))
            let mask = BitmapFont.mask(for: character)
            XCTAssertEqual(mask.count, BitmapFont.glyphHeight)
            XCTAssertTrue(mask.contains { $0 != 0 }, "'\(character)' has no ink")
            XCTAssertNil(seen[mask], "'\(character)' looks exactly like '\(seen[mask].map(String.init) ?? "")'")
            seen[mask] = character
        }
        XCTAssertEqual(BitmapFont.mask(for: " "), [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(BitmapFont.mask(for: "é"), BitmapFont.mask(for: "?"))
    }

    func testDrawsInkOnlyInsideTheTextBox() {
        var image = RGBImage(width: 60, height: 20, fill: .white)
        BitmapFont.draw("Hi 0.5", into: &image, x: 3, y: 4, color: .black)
        let width = BitmapFont.width(of: "Hi 0.5")
        XCTAssertEqual(width, 6 * 6 - 1)
        var ink = 0
        for y in 0..<20 {
            for x in 0..<60 where image[x, y] == .black {
                ink += 1
                XCTAssertTrue(
                    (3..<(3 + width)).contains(x) && (4..<(4 + BitmapFont.glyphHeight)).contains(y),
                    "ink at (\(x), \(y))")
            }
        }
        XCTAssertGreaterThan(ink, 40)
        // "H" has full-height stems in its first column.
        for row in 0..<7 { XCTAssertEqual(image[3, 4 + row], .black) }
    }

    func testScaledDrawingIsTheGlyphEnlarged() {
        var small = RGBImage(width: 5, height: 8, fill: .white)
        var large = RGBImage(width: 15, height: 24, fill: .white)
        BitmapFont.draw("g", into: &small, x: 0, y: 0, color: .black)
        BitmapFont.draw("g", into: &large, x: 0, y: 0, color: .black, scale: 3)
        XCTAssertEqual(try small.upscaled(by: 3), large)
    }

    func testTruncationAndWrapping() {
        XCTAssertEqual(BitmapFont.truncated("short", toWidth: 100), "short")
        let cut = BitmapFont.truncated("a blue square left of a yellow triangle", toWidth: 59)
        XCTAssertEqual(cut, "a blue s..")
        XCTAssertLessThanOrEqual(BitmapFont.width(of: cut), 59)
        XCTAssertEqual(
            BitmapFont.wrapped("a blue square left of a yellow triangle", toWidth: 83, maxLines: 2),
            ["a blue square", "left of a.."])
        XCTAssertEqual(BitmapFont.wrapped("two red circles", toWidth: 83, maxLines: 3), ["two red", "circles"])
        // Words longer than a line are cut across lines; the last line shows that text was dropped.
        XCTAssertEqual(
            BitmapFont.wrapped("supercalifragilistic", toWidth: 35, maxLines: 3), ["superc", "alifra", "gili.."])
    }
}
