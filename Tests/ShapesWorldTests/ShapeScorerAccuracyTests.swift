import Imaging
import ShapesWorld
import XCTest

/// The requirement: the scorer must call ≥ 99% of the renderer's own images fully correct.
final class ShapeScorerAccuracyTests: XCTestCase {
    func testScoresRenderedImagesCorrectAcrossPromptKindsSizesAndStyles() throws {
        let scorer = ShapeScorer.standard
        let styles: [ShapeRenderer.Options] = [
            .init(size: 32), .init(size: 64),
            .init(size: 32, background: .lightGrey, antialiased: true),
            .init(size: 64, background: .lightGrey, antialiased: true)
        ]
        var train = PromptGenerator(seed: 2024, split: .train)
        var heldOut = PromptGenerator(seed: 2025, split: .heldOut)
        var correct = 0, total = 0
        var failures: [String] = []
        var perKind: [PromptKind: Int] = [:]
        for i in 0..<1000 {
            let spec = i % 4 == 3 ? heldOut.next() : train.next()
            let options = styles[i % styles.count]
            let image = try ShapeRenderer(options: options).render(spec, seed: SeededGenerator.derive(99, UInt64(i)))
            let score = scorer.score(image, spec)
            total += 1
            perKind[spec.kind, default: 0] += 1
            if score.correct {
                correct += 1
                XCTAssertEqual(score.reward, 1)
            } else {
                XCTAssertLessThan(score.reward, 1)
                failures.append("\(spec.text) at \(options.size) px: \(score)")
            }
        }
        let accuracy = Double(correct) / Double(total)
        print("scorer accuracy on rendered images: \(correct)/\(total) = \(accuracy); per kind \(perKind)")
        XCTAssertGreaterThanOrEqual(accuracy, 0.99, failures.prefix(5).joined(separator: "\n"))
        XCTAssertTrue(PromptKind.allCases.allSatisfy { (perKind[$0] ?? 0) > 200 })
    }
}
