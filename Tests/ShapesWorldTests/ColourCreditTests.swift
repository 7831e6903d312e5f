import Imaging
import ShapesWorld
import XCTest

/// The colour-and-count credit on rendered images whose content is known: shapes and relations do not count, colours
/// and numbers do, and objects in colours the prompt does not name are penalised as the scorer's extras are.
final class ColourCreditTests: XCTestCase {
    private let renderer = ShapeRenderer(size: 64)

    private func credit(_ shapes: [PlacedShape], _ prompt: String) throws -> Double {
        let objects = ShapeScorer.standard.detect(renderer.render(shapes))
        XCTAssertEqual(objects.count, shapes.count, "the scorer sees every rendered shape (\(prompt))")
        return ColourCredit.credit(objects: objects, try PromptParser.parse(prompt))
    }

    private func shape(_ color: ShapeColor, _ kind: ShapeKind, _ x: Int, _ y: Int) -> PlacedShape {
        PlacedShape(color: color, shape: kind, x: x, y: y, size: 14)
    }

    func testRightColoursAndCountsScoreOneWhateverTheShapes() throws {
        XCTAssertEqual(try credit([shape(.red, .circle, 4, 4), shape(.red, .circle, 40, 30)], "two red circles"), 1)
        XCTAssertEqual(try credit([shape(.red, .square, 4, 4), shape(.red, .triangle, 40, 30)], "two red circles"), 1)
        // A relation prompt with the objects on the wrong sides: colours right, so full credit.
        XCTAssertEqual(
            try credit(
                [shape(.yellow, .triangle, 4, 20), shape(.blue, .square, 40, 20)],
                "a blue square left of a yellow triangle"), 1)
    }

    func testMissingWrongAndSurplusColours() throws {
        XCTAssertEqual(try credit([], "a red circle"), 0)
        XCTAssertEqual(try credit([shape(.blue, .circle, 20, 20)], "a red circle"), 0)
        // One of two reds found, plus a blue extra: ½ / 1.5.
        XCTAssertEqual(
            try credit([shape(.red, .square, 4, 4), shape(.blue, .circle, 40, 30)], "two red circles"),
            1.0 / 3, accuracy: 1e-12)
        // Three reds for two: full presence, one surplus.
        XCTAssertEqual(
            try credit(
                [shape(.red, .circle, 4, 4), shape(.red, .circle, 40, 4), shape(.red, .circle, 20, 44)],
                "two red circles"), 1 / 1.5, accuracy: 1e-12)
        // Two named colours, one missing: ½.
        XCTAssertEqual(try credit([shape(.green, .square, 4, 4)], "a green square and a yellow circle"), 0.5)
    }

    /// Groups of one colour share its count: "a red circle and a red square" asks for two red objects.
    func testGroupsOfOneColourPoolTheirCounts() throws {
        XCTAssertEqual(
            try credit([shape(.red, .circle, 4, 4), shape(.red, .circle, 40, 30)], "a red circle and a red square"), 1)
        XCTAssertEqual(try credit([shape(.red, .circle, 4, 4)], "a red circle and a red square"), 0.5)
    }
}
