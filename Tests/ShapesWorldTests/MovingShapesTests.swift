import Imaging
import ShapesWorld
import XCTest

/// The moving-shapes world's prompts, clips and scorer: rendered clips score 1, a still clip or one moving the other
/// way gets no motion credit, and every object stays inside the frame.
final class MovingShapesTests: XCTestCase {
    private let renderer = MovingShapeRenderer(renderer: ShapeRenderer(size: 32), frames: 5, speed: 2)

    func testPromptsReadBack() throws {
        for text in [
            "a red circle moving right", "two blue squares moving up",
            "a green triangle left of a red circle moving down"
        ] {
            XCTAssertEqual(try MovingPrompt.parse(text).text, text)
        }
        XCTAssertThrowsError(try MovingPrompt.parse("a red circle")) { XCTAssert("\($0)".contains("moving"), "\($0)") }
        XCTAssertThrowsError(try MovingPrompt.parse("a red circle moving sideways"))
    }

    func testRenderedClipsMoveInsideTheFrameAndScoreOne() throws {
        let scorer = MotionScorer(travel: renderer.travel)
        for direction in MotionDirection.allCases {
            for text in ["a red circle", "two blue squares", "a yellow triangle and a green square"] {
                let prompt = MovingPrompt(spec: try PromptParser.parse(text), direction: direction)
                for seed in 0..<3 as Range<UInt64> {
                    let layout = try renderer.layout(prompt, seed: seed)
                    XCTAssertEqual(layout.count, 5)
                    for shape in layout.flatMap({ $0 }) {
                        XCTAssert(
                            shape.x >= 0 && shape.y >= 0 && shape.x + shape.size <= 32 && shape.y + shape.size <= 32,
                            "\(prompt) seed \(seed): \(shape)")
                    }
                    let score = scorer.score(try renderer.render(prompt, seed: seed), prompt)
                    XCTAssertEqual(score.reward, 1, accuracy: 1e-9, "\(prompt) seed \(seed)")
                    XCTAssert(score.correct, "\(prompt) seed \(seed)")
                }
            }
        }
    }

    func testStillAndBackwardClipsGetNoMotionCredit() throws {
        let scorer = MotionScorer(travel: renderer.travel)
        let right = MovingPrompt(spec: try PromptParser.parse("a red circle"), direction: .right)
        let frames = try renderer.render(right, seed: 1)
        let still = [RGBImage](repeating: frames[0], count: 5)
        XCTAssertEqual(scorer.score(still, right).motion, 0)
        XCTAssertEqual(scorer.score(still, right).reward, 0.5, accuracy: 1e-9, "right shapes, no motion")
        XCTAssertEqual(scorer.score(Array(frames.reversed()), right).motion, 0, "moving left")
        let up = MovingPrompt(spec: right.spec, direction: .up)
        XCTAssertEqual(scorer.score(frames, up).motion, 0, "moving across the asked direction")
        let blank = [RGBImage](repeating: RGBImage(width: 32, height: 32, fill: .white), count: 5)
        XCTAssertEqual(scorer.score(blank, right).reward, 0)
    }
}
