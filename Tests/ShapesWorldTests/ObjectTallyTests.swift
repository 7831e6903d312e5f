import Imaging
import ShapesWorld
import XCTest

/// The evaluation's per-family tally: found, asked and extras per image, and the shares of drawn objects in a named
/// colour or shape, on rendered images whose content is known.
final class ObjectTallyTests: XCTestCase {
    private let renderer = ShapeRenderer(size: 64)

    private func scored(_ shapes: [PlacedShape], _ prompt: String) throws -> (score: ShapeScore, spec: PromptSpec) {
        let spec = try PromptParser.parse(prompt)
        return (ShapeScorer.standard.score(renderer.render(shapes), spec), spec)
    }

    func testSharesCountDrawnObjectsAgainstTheirOwnPrompt() throws {
        let tally = ObjectTally([
            // Right: two red circles.
            try scored(
                [
                    PlacedShape(color: .red, shape: .circle, x: 4, y: 4, size: 14),
                    PlacedShape(color: .red, shape: .circle, x: 40, y: 30, size: 14)
                ], "two red circles"),
            // Right shape, wrong colour, plus an extra in neither the named colour nor the named shape.
            try scored(
                [
                    PlacedShape(color: .blue, shape: .square, x: 4, y: 4, size: 14),
                    PlacedShape(color: .green, shape: .triangle, x: 40, y: 30, size: 14)
                ], "a yellow square")
        ])
        XCTAssertEqual(tally.images, 2)
        XCTAssertEqual(tally.found, 2)
        XCTAssertEqual(tally.asked, 1.5)
        XCTAssertEqual(tally.extras, 0.5)
        // Four objects drawn: both red circles are named in colour and shape, the blue square only in shape.
        XCTAssertEqual(tally.namedColourShare, 0.5)
        XCTAssertEqual(tally.namedShapeShare, 0.75)
    }

    func testNothingDrawnOrNothingScored() throws {
        XCTAssertEqual(ObjectTally([]), ObjectTally([]))
        XCTAssertEqual(ObjectTally([]).images, 0)
        let blank = ObjectTally([try scored([], "three green triangles")])
        XCTAssertEqual(blank.images, 1)
        XCTAssertEqual(blank.found, 0)
        XCTAssertEqual(blank.asked, 3)
        XCTAssertEqual(blank.namedColourShare, 0)
        XCTAssertEqual(blank.namedShapeShare, 0)
    }
}
