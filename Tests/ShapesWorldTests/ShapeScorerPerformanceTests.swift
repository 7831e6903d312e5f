import Foundation
import Imaging
import ShapesWorld
import XCTest

/// Scoring runs inside the training loop: it must handle thousands of 64×64 images per second. Debug builds are many
/// times slower than release, so the bound asserted here is loose; the measured rate is printed.
final class ShapeScorerPerformanceTests: XCTestCase {
    func testScoringRate() throws {
        var generator = PromptGenerator(seed: 77)
        let renderer = ShapeRenderer(size: 64)
        let cases = try generator.next(200).enumerated().map { ($0.element, try renderer.render($0.element, seed: UInt64($0.offset))) }
        let scorer = ShapeScorer.standard
        _ = scorer.score(cases[0].1, cases[0].0)  // builds the colour table
        let start = Date()
        var scored = 0
        while Date().timeIntervalSince(start) < 0.5 {
            for (spec, image) in cases { _ = scorer.score(image, spec) }
            scored += cases.count
        }
        let rate = Double(scored) / Date().timeIntervalSince(start)
        print("ShapeScorer: \(Int(rate)) images/s at 64×64 (this build)")
        XCTAssertGreaterThan(rate, 500)
    }
}
