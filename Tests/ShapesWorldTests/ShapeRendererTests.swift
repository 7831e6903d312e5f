import Imaging
@testable import ShapesWorld
import XCTest

final class ShapeRendererTests: XCTestCase {
    func testSameSeedSamePixels() throws {
        let spec = try PromptParser.parse("a blue square left of a yellow triangle")
        for options in [ShapeRenderer.Options(size: 32), .init(size: 64, background: .lightGrey, antialiased: true)] {
            let renderer = ShapeRenderer(options: options)
            XCTAssertEqual(try renderer.render(spec, seed: 7), try renderer.render(spec, seed: 7))
            XCTAssertNotEqual(try renderer.render(spec, seed: 7), try renderer.render(spec, seed: 8))
        }
        // Determinism end to end: the pixels of a fixed prompt stream hash to the same value on every run.
        var generator = PromptGenerator(seed: 3)
        var crc: UInt32 = 0
        for (i, spec) in generator.next(20).enumerated() {
            crc = Zlib.crc32(try ShapeRenderer(size: 32).render(spec, seed: UInt64(i)).pixels, continuing: crc)
        }
        var again = PromptGenerator(seed: 3)
        var crcAgain: UInt32 = 0
        for (i, spec) in again.next(20).enumerated() {
            crcAgain = Zlib.crc32(
                try ShapeRenderer(size: 32).render(spec, seed: UInt64(i)).pixels, continuing: crcAgain)
        }
        XCTAssertEqual(crc, crcAgain)
    }

    func testLayoutsSatisfyTheirConstraints() throws {
        var generator = PromptGenerator(seed: 11)
        for size in [32, 48, 64] {
            let renderer = ShapeRenderer(size: size)
            let options = renderer.options
            for (i, spec) in generator.next(300).enumerated() {
                let shapes = try renderer.layout(spec, seed: UInt64(i))
                XCTAssertEqual(shapes.count, spec.objectCount)
                for (k, s) in shapes.enumerated() {
                    XCTAssertTrue(
                        s.x >= 1 && s.y >= 1 && s.x + s.size <= size - 1 && s.y + s.size <= size - 1, "\(s) outside")
                    XCTAssertTrue(
                        options.shapeSizes.contains(s.size) || s.size < options.shapeSizes.lowerBound, "\(s) size")
                    for t in shapes[(k + 1)...] {
                        XCTAssertTrue(s.isSeparated(from: t, gap: options.gap), "\(s) touches \(t)")
                    }
                }
                if let relation = spec.relation {
                    XCTAssertTrue(shapes[0].satisfies(relation, shapes[1], gap: options.gap), "\(spec.text): \(shapes)")
                }
                // Shapes come in group order with the groups' colours and kinds.
                let expected = spec.groups.flatMap { g in
                    Array(repeating: [g.color.rawValue, g.shape.rawValue], count: g.count)
                }
                XCTAssertEqual(shapes.map { [$0.color.rawValue, $0.shape.rawValue] }, expected)
            }
        }
    }

    func testHardEdgedImagesHoldOnlyPaletteAndBackgroundColours() throws {
        let allowed = Set(ShapeColor.allCases.map(\.rgb) + [RGB.lightGrey])
        var generator = PromptGenerator(seed: 5)
        let renderer = ShapeRenderer(size: 40, background: .lightGrey)
        for (i, spec) in generator.next(30).enumerated() {
            let image = try renderer.render(spec, seed: UInt64(i))
            XCTAssertEqual(image.width, 40)
            for y in 0..<40 { for x in 0..<40 { XCTAssertTrue(allowed.contains(image[x, y])) } }
        }
    }

    func testShapesAreDrawnWhereTheLayoutSays() {
        let renderer = ShapeRenderer(size: 32)
        let image = renderer.render([
            PlacedShape(color: .red, shape: .square, x: 2, y: 3, size: 8),
            PlacedShape(color: .blue, shape: .circle, x: 16, y: 16, size: 10),
            PlacedShape(color: .green, shape: .triangle, x: 3, y: 18, size: 10)
        ])
        XCTAssertEqual(image[2, 3], ShapeColor.red.rgb)
        XCTAssertEqual(image[9, 10], ShapeColor.red.rgb)
        XCTAssertEqual(image[10, 10], .white)
        XCTAssertEqual(image[21, 21], ShapeColor.blue.rgb)  // centre
        XCTAssertEqual(image[16, 16], .white)  // bounding-box corner outside the circle
        XCTAssertEqual(image[8, 19], ShapeColor.green.rgb)  // below the apex
        XCTAssertEqual(image[3, 19], .white)  // upper-left corner of the triangle's box
        XCTAssertEqual(image[3, 27], ShapeColor.green.rgb)  // base row reaches the corners
    }

    func testAntialiasedEdgesBlendTowardsTheBackground() {
        let renderer = ShapeRenderer(size: 32, antialiased: true)
        let image = renderer.render([PlacedShape(color: .blue, shape: .circle, x: 6, y: 6, size: 20)])
        let blends = Set((0..<32).flatMap { y in (0..<32).map { x in image[x, y] } }).subtracting([
            .white, ShapeColor.blue.rgb
        ])
        XCTAssertFalse(blends.isEmpty)
        XCTAssertEqual(image[16, 16], ShapeColor.blue.rgb)
    }
}
