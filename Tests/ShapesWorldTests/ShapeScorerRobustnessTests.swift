import Imaging
import ShapesWorld
import XCTest

/// A generator's samples are soft and noisy, not hard-edged renders. The scorer should still read mildly degraded
/// renders correctly, so that GRPO rewards content rather than crispness, and fail on heavily smeared ones.
final class ShapeScorerRobustnessTests: XCTestCase {
    /// 3×3 (radius 1) or 5×5 (radius 2) box blur with clamped edges.
    private func boxBlur(_ image: RGBImage, radius: Int) -> RGBImage {
        var out = image
        for y in 0..<image.height {
            for x in 0..<image.width {
                for c in 0..<3 {
                    var sum = 0, count = 0
                    for dy in -radius...radius {
                        for dx in -radius...radius {
                            let sx = min(image.width - 1, max(0, x + dx)), sy = min(image.height - 1, max(0, y + dy))
                            sum += Int(image.pixels[image.offset(x: sx, y: sy) + c])
                            count += 1
                        }
                    }
                    out.pixels[image.offset(x: x, y: y) + c] = UInt8(sum / count)
                }
            }
        }
        return out
    }

    private func accuracy(size: Int, count: Int, degrade: (RGBImage) -> RGBImage) throws -> Double {
        var generator = PromptGenerator(seed: 31)
        var correct = 0
        for (i, spec) in generator.next(count).enumerated() {
            let renderer = ShapeRenderer(size: size, background: i % 2 == 0 ? .white : .lightGrey)
            if ShapeScorer.standard.score(degrade(try renderer.render(spec, seed: UInt64(i))), spec).correct {
                correct += 1
            }
        }
        return Double(correct) / Double(count)
    }

    func testMildBlurAndNoiseAreTolerated() throws {
        var state: UInt64 = 7
        let noisy: (RGBImage) -> RGBImage = { image in
            var out = image
            for i in out.pixels.indices {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                out.pixels[i] = UInt8(clamping: Int(out.pixels[i]) + Int(state >> 59) - 16)  // ±16
            }
            return out
        }
        for size in [32, 64] {
            let blurred = try accuracy(size: size, count: 100) { self.boxBlur($0, radius: 1) }
            XCTAssertGreaterThanOrEqual(blurred, 0.97, "3×3 blur at \(size) px")
            let blurredNoisy = try accuracy(size: size, count: 100) { noisy(self.boxBlur($0, radius: 1)) }
            XCTAssertGreaterThanOrEqual(blurredNoisy, 0.95, "3×3 blur and ±16 noise at \(size) px")
        }
    }

    func testHeavySmearingIsNotCalledCorrect() throws {
        // A 5×5 blur dissolves 7–10 pixel shapes at 32 px: most images must fail.
        XCTAssertLessThan(try accuracy(size: 32, count: 100) { self.boxBlur($0, radius: 2) }, 0.5)
    }
}
