import Imaging
@testable import ShapesWorld
import XCTest

final class CaptionNoiseTests: XCTestCase {
    func testWrongColorsKeepCountsShapesAndRelationsAtTheRate() throws {
        var generator = PromptGenerator(seed: 21)
        let noise = CaptionNoise(wrongColorRate: 0.5)
        var recoloured = 0, groups = 0
        for (i, spec) in generator.next(2000).enumerated() {
            let scene = noise.scene(for: spec, seed: UInt64(i))
            XCTAssertEqual(scene.shown, noise.scene(for: spec, seed: UInt64(i)).shown, "same seed, same scene")
            XCTAssertEqual(scene.unmentioned, [])
            XCTAssertEqual(scene.shown.relation, spec.relation)
            XCTAssertEqual(scene.shown.groups.map(\.shape), spec.groups.map(\.shape))
            XCTAssertEqual(scene.shown.groups.map(\.count), spec.groups.map(\.count))
            recoloured += zip(scene.shown.groups, spec.groups).filter { $0.color != $1.color }.count
            groups += spec.groups.count
        }
        // 2000 prompts hold about 3300 groups: the share recoloured is within ±0.03 of 0.5 with overwhelming
        // probability.
        XCTAssertEqual(Double(recoloured) / Double(groups), 0.5, accuracy: 0.03)
    }

    func testWrongShapesKeepCountsColoursAndRelationsAtTheRateAndLeaveTheColourDraws() throws {
        var generator = PromptGenerator(seed: 23)
        let colours = CaptionNoise(wrongColorRate: 0.5)
        let both = CaptionNoise(wrongColorRate: 0.5, wrongShapeRate: 0.5)
        var reshaped = 0, groups = 0
        for (i, spec) in generator.next(2000).enumerated() {
            let recoloured = colours.scene(for: spec, seed: UInt64(i)).shown
            let scene = both.scene(for: spec, seed: UInt64(i))
            XCTAssertEqual(
                scene.shown.groups.map(\.color), recoloured.groups.map(\.color), "shape noise changed the colour draws")
            XCTAssertEqual(scene.shown.relation, spec.relation)
            XCTAssertEqual(scene.shown.groups.map(\.count), spec.groups.map(\.count))
            XCTAssertEqual(
                Set(scene.shown.groups.map { [$0.color.rawValue, $0.shape.rawValue] }).count, spec.groups.count)
            reshaped += zip(scene.shown.groups, spec.groups).filter { $0.shape != $1.shape }.count
            groups += spec.groups.count
        }
        XCTAssertEqual(Double(reshaped) / Double(groups), 0.5, accuracy: 0.03)
    }

    func testUnmentionedObjectsAreNeverNamedAndComeAtTheRate() throws {
        var generator = PromptGenerator(seed: 22)
        let noise = CaptionNoise(unmentionedObjectRate: 0.6, unmentionedObjectSlots: 2)
        var drawn = 0
        let specs = generator.next(2000)
        for (i, spec) in specs.enumerated() {
            let scene = noise.scene(for: spec, seed: UInt64(i))
            XCTAssertEqual(scene.shown, spec)
            for object in scene.unmentioned {
                XCTAssertFalse(
                    spec.groups.contains { $0.color == object.color && $0.shape == object.shape },
                    "\(object) is named by '\(spec.text)'")
            }
            XCTAssertEqual(
                Set(scene.unmentioned.map { [$0.color.rawValue, $0.shape.rawValue] }).count, scene.unmentioned.count,
                "repeats are merged into one group")
            drawn += scene.unmentioned.reduce(0) { $0 + $1.count }
        }
        // Expected 2 · 0.6 = 1.2 per image; ±0.05 is over four standard errors.
        XCTAssertEqual(Double(drawn) / Double(specs.count), 1.2, accuracy: 0.05)
        XCTAssertEqual(
            CaptionNoise(unmentionedObjectRate: 1, unmentionedObjectSlots: 3)
                .scene(for: try PromptParser.parse("a red circle"), seed: 1).unmentioned.reduce(0) { $0 + $1.count }, 3)
    }

    func testTheScorerSeesWhatTheNoisyImagesShow() throws {
        var generator = PromptGenerator(seed: 4)
        let renderer = ShapeRenderer(size: 32)
        let noise = CaptionNoise(wrongColorRate: 0.5, unmentionedObjectRate: 1, unmentionedObjectSlots: 2)
        var agree = 0
        let specs = generator.next(200)
        for (i, spec) in specs.enumerated() {
            let scene = noise.scene(for: spec, seed: UInt64(i))
            let layout = try renderer.layout(scene.shown, unmentioned: scene.unmentioned, seed: UInt64(i))
            XCTAssertEqual(layout.count, spec.objectCount + 2)
            if let relation = spec.relation {
                XCTAssertTrue(
                    layout[0].satisfies(relation, layout[1], gap: renderer.options.gap), "\(spec.text): \(layout)")
            }
            let image = renderer.render(layout)
            XCTAssertFalse(
                ShapeScorer.standard.score(image, spec).correct, "'\(spec.text)' with two unmentioned objects")
            // Scored against what was drawn, the unmentioned objects are exactly the extras.
            let score = ShapeScorer.standard.score(image, scene.shown)
            if score.extraObjects == 2 && score.matchedCounts == scene.shown.groups.map(\.count)
                && score.relationSatisfied != false
            {
                agree += 1
            }
        }
        // Up to six shapes in 32 px: the scorer still reads almost every scene as drawn.
        XCTAssertGreaterThanOrEqual(Double(agree) / Double(specs.count), 0.97)
    }

    func testCleanCaptionsLeaveTheImagesUnchanged() throws {
        let spec = try PromptParser.parse("a blue square left of a yellow triangle")
        let scene = CaptionNoise.none.scene(for: spec, seed: 9)
        XCTAssertEqual(scene.shown, spec)
        XCTAssertEqual(scene.unmentioned, [])
        let renderer = ShapeRenderer(size: 32)
        XCTAssertEqual(try renderer.render(spec, unmentioned: [], seed: 9), try renderer.render(spec, seed: 9))
    }
}
