import XCTest
@testable import ShapesWorld

/// `ShapeFormCredit` grades the scorer's own shape test: it must agree with the classifier's verdicts, pay the
/// renderer's shapes well as what they are and badly as anything else, and never pay for drawing less.
final class ShapeFormCreditTests: XCTestCase {
    private let renderer = ShapeRenderer(size: 32)

    private func objects(_ shapes: [PlacedShape]) -> [DetectedObject] {
        let found = ShapeScorer.standard.detect(renderer.render(shapes))
        XCTAssertEqual(found.count, shapes.count, "the scorer sees every rendered shape")
        return found
    }

    private func credit(_ shapes: [PlacedShape], _ prompt: String) throws -> Double {
        ShapeFormCredit.credit(objects: objects(shapes), try PromptParser.parse(prompt))
    }

    /// A positive margin means exactly the classifier's verdict, over the whole plane of fill × bottom share.
    func testMarginIsPositiveExactlyWhereTheClassifierNamesTheShape() {
        let classifier = ShapeClassifier()
        for fillStep in 0...100 {
            for shareStep in 0...100 {
                let fill = 0.005 + Double(fillStep) / 101, share = 0.005 + Double(shareStep) / 101
                let verdict = classifier.classify(fill: fill, bottomShare: share, width: 8, height: 8)
                for shape in ShapeKind.allCases {
                    let margin = classifier.margin(to: shape, fill: fill, bottomShare: share, width: 8, height: 8)
                    XCTAssertEqual(
                        margin > 0, verdict == shape,
                        """
                        fill \(fill), bottom share \(share), \(shape): margin \(margin), verdict \
                        \(String(describing: verdict))
                        """
                    )
                }
            }
        }
        // Too elongated a box is no shape at all.
        XCTAssertLessThan(classifier.margin(to: .square, fill: 1, bottomShare: 0.5, width: 20, height: 8), 0)
    }

    func testRenderedShapesScoreWellAsThemselvesAndBadlyAsOthers() throws {
        for kind in ShapeKind.allCases {
            for size in [7, 10] {
                let drawn = PlacedShape(color: .red, shape: kind, x: 8, y: 8, size: size)
                for asked in ShapeKind.allCases {
                    let value = try credit([drawn], "a red \(asked.name)")
                    if asked == kind {
                        XCTAssertGreaterThan(value, 0.7, "a \(size)-pixel \(kind) as itself")
                    } else {
                        XCTAssertLessThan(value, 0.3, "a \(size)-pixel \(kind) as a \(asked)")
                    }
                }
            }
        }
    }

    func testMissingObjectsAndOtherColoursAddNothing() throws {
        let circle = PlacedShape(color: .red, shape: .circle, x: 2, y: 2, size: 10)
        let other = PlacedShape(color: .blue, shape: .circle, x: 18, y: 18, size: 10)
        let one = try credit([circle], "two red circles")
        XCTAssertEqual(try credit([], "two red circles"), 0)
        XCTAssertEqual(try credit([other], "a red circle"), 0)
        XCTAssertEqual(
            try credit([circle, other], "two red circles"), one, accuracy: 1e-12, "a blue circle fills no red slot")
        XCTAssertEqual(
            try credit([circle], "a red circle"), 2 * one, accuracy: 1e-12, "one of two asked is half the credit")
    }

    /// Each group takes its own colour's best-fitting objects, and an object serves one group only.
    func testGroupsOfOneColourShareNoObject() throws {
        let square = PlacedShape(color: .red, shape: .square, x: 2, y: 2, size: 10)
        let circle = PlacedShape(color: .red, shape: .circle, x: 18, y: 18, size: 10)
        let both = try credit([square, circle], "a red square and a red circle")
        let squareAlone = try credit([square], "a red square and a red circle")
        XCTAssertGreaterThan(both, 0.7)
        XCTAssertLessThan(squareAlone, 0.5 + 1e-9, "one object cannot fill both groups")
    }
}
