import Imaging
import ShapesWorld
import XCTest

/// Wrong images get less than a right one, with the partial credit documented on `ShapeScorer`.
final class ShapeScorerRewardTests: XCTestCase {
    private let renderer = ShapeRenderer(size: 64)
    private let scorer = ShapeScorer.standard

    private func score(_ shapes: [PlacedShape], _ prompt: String) throws -> ShapeScore {
        scorer.score(renderer.render(shapes), try PromptParser.parse(prompt))
    }

    private func circle(_ color: ShapeColor, _ x: Int, _ y: Int) -> PlacedShape {
        PlacedShape(color: color, shape: .circle, x: x, y: y, size: 14)
    }
    private func square(_ color: ShapeColor, _ x: Int, _ y: Int) -> PlacedShape {
        PlacedShape(color: color, shape: .square, x: x, y: y, size: 14)
    }
    private func triangle(_ color: ShapeColor, _ x: Int, _ y: Int) -> PlacedShape {
        PlacedShape(color: color, shape: .triangle, x: x, y: y, size: 14)
    }

    func testCorrectImagesScoreOne() throws {
        let right = try score([circle(.red, 4, 4), circle(.red, 40, 30)], "two red circles")
        XCTAssertTrue(right.correct)
        XCTAssertEqual(right.reward, 1)
        XCTAssertEqual(right.matchedCounts, [2])
        XCTAssertEqual(right.objects.map(\.shape), [.circle, .circle])
    }

    func testWrongCounts() throws {
        let tooMany = try score([circle(.red, 4, 4), circle(.red, 40, 30), circle(.red, 4, 40)], "two red circles")
        XCTAssertFalse(tooMany.correct)
        XCTAssertEqual(tooMany.reward, 0.5, accuracy: 1e-12)  // present 1, exact 0
        let tooFew = try score([circle(.red, 4, 4)], "two red circles")
        XCTAssertEqual(tooFew.reward, 0.25, accuracy: 1e-12)  // present ½, exact 0
        XCTAssertFalse(tooFew.correct)
        // Closer counts earn more: three of four beats one of four.
        let threeOfFour = try score([circle(.red, 4, 4), circle(.red, 40, 4), circle(.red, 4, 40)], "four red circles")
        let oneOfFour = try score([circle(.red, 4, 4)], "four red circles")
        XCTAssertGreaterThan(threeOfFour.reward, oneOfFour.reward)
    }

    func testWrongColourOrShapeEarnsNearMissCredit() throws {
        let wrongColour = try score([circle(.blue, 20, 20)], "a red circle")
        XCTAssertEqual(wrongColour.reward, 0.25, accuracy: 1e-12)
        XCTAssertEqual(wrongColour.extraObjects, 0)
        let wrongShape = try score([square(.red, 20, 20)], "a red circle")
        XCTAssertEqual(wrongShape.reward, 0.25, accuracy: 1e-12)
        let unrelated = try score([square(.blue, 20, 20)], "a red circle")
        XCTAssertEqual(unrelated.reward, 0, accuracy: 1e-12)
        XCTAssertEqual(unrelated.extraObjects, 1)
        // Binding: the green square drawn blue costs its group, not the red circle's.
        let swappedBinding = try score([circle(.red, 4, 4), square(.blue, 40, 40)], "a red circle and a green square")
        XCTAssertEqual(swappedBinding.reward, (2 + 0.5) / 4, accuracy: 1e-12)
        XCTAssertFalse(swappedBinding.correct)
    }

    func testSwappedRelation() throws {
        let right = try score(
            [square(.blue, 4, 20), triangle(.yellow, 40, 24)], "a blue square left of a yellow triangle")
        XCTAssertTrue(right.correct)
        XCTAssertEqual(right.relationSatisfied, true)
        let swapped = try score(
            [square(.blue, 40, 20), triangle(.yellow, 4, 24)], "a blue square left of a yellow triangle")
        XCTAssertFalse(swapped.correct)
        XCTAssertEqual(swapped.relationSatisfied, false)
        XCTAssertEqual(swapped.reward, 4.0 / 6, accuracy: 1e-12)
        // Side by side does not count as "above".
        let sideBySide = try score(
            [square(.blue, 4, 20), triangle(.yellow, 40, 22)], "a blue square above a yellow triangle")
        XCTAssertEqual(sideBySide.relationSatisfied, false)
        let above = try score(
            [square(.blue, 24, 4), triangle(.yellow, 20, 40)], "a blue square above a yellow triangle")
        XCTAssertTrue(above.correct)
        let missing = try score([square(.blue, 4, 20)], "a blue square right of a yellow triangle")
        XCTAssertEqual(missing.relationSatisfied, false)
        XCTAssertEqual(missing.reward, 2.0 / 6, accuracy: 1e-12)
    }

    func testBlankImageAndExtraObjects() throws {
        for prompt in [
            "a red circle", "four cyan triangles", "a blue square left of a yellow triangle",
            "a red circle and a green square"
        ] {
            let blank = try score([], prompt)
            XCTAssertEqual(blank.reward, 0, prompt)
            XCTAssertFalse(blank.correct)
            XCTAssertTrue(blank.objects.isEmpty)
        }
        let withExtra = try score(
            [circle(.red, 4, 4), circle(.red, 40, 30), triangle(.purple, 4, 40)], "two red circles")
        XCTAssertEqual(withExtra.extraObjects, 1)
        XCTAssertEqual(withExtra.reward, 1 / 1.5, accuracy: 1e-12)
        XCTAssertFalse(withExtra.correct)
    }

    func testSpecksAndBackgroundNoiseAreIgnored() throws {
        var image = renderer.render([circle(.green, 10, 10)])
        image.fillRect(x: 50, y: 50, width: 2, height: 2, color: ShapeColor.red.rgb)  // a speck below the minimum area
        // Mild noise on every pixel keeps colours within the segmentation threshold.
        var state: UInt64 = 1
        for i in image.pixels.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1
            let jitter = Int(state >> 60) - 8
            image.pixels[i] = UInt8(clamping: Int(image.pixels[i]) + jitter)
        }
        let result = scorer.score(image, try PromptParser.parse("a green circle"))
        XCTAssertTrue(result.correct, "\(result)")
    }

    func testRewardIsAlwaysInTheUnitInterval() throws {
        var generator = PromptGenerator(seed: 8)
        let specs = generator.next(100)
        for (i, spec) in specs.enumerated() {
            // Score each image against a different prompt: mostly wrong, all rewards must stay in [0, 1].
            let image = try ShapeRenderer(size: 32).render(spec, seed: UInt64(i))
            let other = specs[(i + 1) % specs.count]
            let result = scorer.score(image, other)
            XCTAssertTrue((0...1).contains(result.reward))
            XCTAssertEqual(result.correct, result.reward == 1)
        }
    }
}
