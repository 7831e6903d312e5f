import Imaging
import ShapesWorld
import XCTest

final class PromptTests: XCTestCase {
    func testPaletteColoursAreWellSeparated() {
        let colours = ShapeColor.allCases.map(\.rgb)
        for (i, a) in colours.enumerated() {
            for b in colours[(i + 1)...] {
                XCTAssertGreaterThanOrEqual(a.squaredDistance(to: b), 120 * 120, "\(a) vs \(b)")
            }
            for background in [RGB.white, RGB.lightGrey] {
                XCTAssertGreaterThanOrEqual(a.squaredDistance(to: background), 120 * 120, "\(a) vs \(background)")
            }
        }
    }

    func testPromptText() throws {
        XCTAssertEqual(try PromptSpec.counting(.red, .circle, count: 2).text, "two red circles")
        XCTAssertEqual(try PromptSpec.counting(.blue, .square, count: 1).text, "a blue square")
        let square = ObjectGroup(color: .blue, shape: .square), triangle = ObjectGroup(color: .yellow, shape: .triangle)
        XCTAssertEqual(
            try PromptSpec.relation(square, .leftOf, triangle).text, "a blue square left of a yellow triangle")
        XCTAssertEqual(try PromptSpec.relation(square, .above, triangle).text, "a blue square above a yellow triangle")
        XCTAssertEqual(
            try PromptSpec.binding(ObjectGroup(color: .red, shape: .circle), ObjectGroup(color: .green, shape: .square))
                .text,
            "a red circle and a green square")
        XCTAssertEqual(try PromptSpec.counting(.red, .circle, count: 2).kind, .counting)
        XCTAssertEqual(try PromptSpec.relation(square, .below, triangle).kind, .relation)
        XCTAssertEqual(try PromptSpec.binding(square, triangle).kind, .binding)
    }

    func testParserRoundTripsEveryCatalogPrompt() throws {
        for kind in PromptKind.allCases {
            for spec in PromptCatalog.all(kind) { XCTAssertEqual(try PromptParser.parse(spec.text), spec, spec.text) }
        }
    }

    func testParserAcceptsVariants() throws {
        let blueSquare = ObjectGroup(color: .blue, shape: .square),
            yellowTriangle = ObjectGroup(color: .yellow, shape: .triangle)
        XCTAssertEqual(
            try PromptParser.parse("A blue square to the left of a yellow triangle."),
            try PromptSpec.relation(blueSquare, .leftOf, yellowTriangle))
        XCTAssertEqual(
            try PromptParser.parse("an yellow triangle on above one blue square"),
            try PromptSpec.relation(yellowTriangle, .above, blueSquare))
        XCTAssertEqual(try PromptParser.parse("3 red circles"), try PromptSpec.counting(.red, .circle, count: 3))
        XCTAssertEqual(try PromptParser.parse("two green square"), try PromptSpec.counting(.green, .square, count: 2))
        XCTAssertEqual(
            try PromptParser.parse("a red circle, and a green square"),
            try PromptSpec.binding(ObjectGroup(color: .red, shape: .circle), ObjectGroup(color: .green, shape: .square))
        )
        let three = try PromptParser.parse("two red circles and a blue square and four cyan triangles")
        XCTAssertEqual(three.groups.map(\.count), [2, 1, 4])
        XCTAssertEqual(three.objectCount, 7)
    }

    func testParserErrorsNameTheProblem() {
        func message(_ text: String) -> String {
            do {
                _ = try PromptParser.parse(text)
                return "parsed"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(message("a pink circle").contains("unknown colour 'pink'"))
        XCTAssertTrue(message("a red hexagon").contains("unknown shape 'hexagon'"))
        XCTAssertTrue(message("five red circles").contains("'five'"))
        XCTAssertTrue(message("a red circle near a blue square").contains("'near'"))
        XCTAssertTrue(message("a red circle and a red circle").contains("named twice"))
        XCTAssertTrue(message("two red circles left of a blue square").contains("two single objects"))
        XCTAssertTrue(message("two red").contains("expected '<count> <colour> <shape>'"))
        XCTAssertTrue(message("  ").contains("empty"))
    }

    func testCatalogSizesAndSplit() {
        XCTAssertEqual(PromptCatalog.all(.counting).count, 6 * 3 * 4)
        XCTAssertEqual(PromptCatalog.all(.relation).count, 18 * 17 * 4)
        XCTAssertEqual(PromptCatalog.all(.binding).count, 18 * 17)
        for kind in PromptKind.allCases {
            let all = PromptCatalog.all(kind)
            XCTAssertEqual(Set(all).count, all.count, "\(kind) prompts are distinct")
            let heldOut = PromptCatalog.prompts(kind, split: .heldOut),
                train = PromptCatalog.prompts(kind, split: .train)
            XCTAssertEqual(heldOut.count + train.count, all.count)
            let share = Double(heldOut.count) / Double(all.count)
            XCTAssertTrue((0.15...0.25).contains(share), "\(kind): \(share) held out")
        }
        XCTAssertEqual(PromptCatalog.prompts(.counting, split: .heldOut).count, 14)
        XCTAssertTrue(PromptCatalog.isHeldOut(try! PromptSpec.counting(.red, .triangle, count: 3)))
    }

    /// Held-out prompts are new combinations of parts that training does show.
    func testHeldOutCombinationsAreUnseenButTheirPartsAreSeen() {
        func pair(_ spec: PromptSpec) -> Set<ObjectGroup> { Set(spec.groups) }
        let trainTwoObject =
            PromptCatalog.prompts(.relation, split: .train) + PromptCatalog.prompts(.binding, split: .train)
        let trainPairs = Set(trainTwoObject.map(pair))
        for spec in PromptCatalog.prompts(.relation, split: .heldOut) + PromptCatalog.prompts(.binding, split: .heldOut)
        {
            XCTAssertFalse(trainPairs.contains(pair(spec)), "\(spec.text): its pair of objects appears in training")
        }
        let trainObjects = Set(trainTwoObject.flatMap(\.groups))
        XCTAssertEqual(trainObjects.count, 18, "every single object appears in two-object training prompts")
        XCTAssertEqual(Set(PromptCatalog.prompts(.relation, split: .train).compactMap(\.relation)).count, 4)
        let trainCounting = PromptCatalog.prompts(.counting, split: .train)
        for colour in ShapeColor.allCases {
            for shape in ShapeKind.allCases {
                let counts = trainCounting.filter { $0.groups[0].color == colour && $0.groups[0].shape == shape }.count
                XCTAssertGreaterThanOrEqual(counts, 3, "\(colour) \(shape.plural)")
            }
        }
        XCTAssertEqual(Set(trainCounting.map { $0.groups[0].count }), [1, 2, 3, 4])
    }

    func testGeneratorIsDeterministicAndRespectsSplitAndKinds() {
        var a = PromptGenerator(seed: 42), b = PromptGenerator(seed: 42), c = PromptGenerator(seed: 43)
        let first = a.next(200)
        XCTAssertEqual(first, b.next(200))
        XCTAssertNotEqual(first, c.next(200))
        XCTAssertEqual(Set(first.map(\.kind)), Set(PromptKind.allCases))
        XCTAssertTrue(first.allSatisfy { PromptCatalog.split(of: $0) == .train })
        var heldOut = PromptGenerator(seed: 1, split: .heldOut, kinds: [.relation])
        let drawn = heldOut.next(100)
        XCTAssertTrue(drawn.allSatisfy { PromptCatalog.isHeldOut($0) && $0.kind == .relation })
        XCTAssertGreaterThan(Set(drawn).count, 50)
    }

    func testSeededGenerator() {
        var g = SeededGenerator(seed: 0)
        // SplitMix64's published first output for seed 0.
        XCTAssertEqual(g.next(), 0xE220_A839_7B1D_CDAF)
        var h = SeededGenerator(seed: 5)
        var histogram = [Int](repeating: 0, count: 6)
        for _ in 0..<6000 { histogram[h.below(6)] += 1 }
        XCTAssertTrue(histogram.allSatisfy { (850...1150).contains($0) }, "\(histogram)")
        XCTAssertNotEqual(SeededGenerator.derive(1, 0), SeededGenerator.derive(1, 1))
    }
}
