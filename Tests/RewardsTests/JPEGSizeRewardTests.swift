import Foundation
import Imaging
import Rewards
import XCTest

/// DDPO's JPEG rewards through the `Reward` protocol: quality-95 size in kB, signed by direction; a video scores the
/// mean of its frames.
final class JPEGSizeRewardTests: XCTestCase {
    private func noise(_ side: Int, seed: UInt8) throws -> RGBImage {
        var state = UInt32(seed) &+ 1
        let pixels = (0..<(side * side * 3)).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        return try RGBImage(width: side, height: side, pixels: pixels)
    }

    func testSizesSignsAndVideoFrames() throws {
        let flat = RGBImage(width: 64, height: 64, fill: .white), busy = try noise(64, seed: 3)
        let prompts = [Prompt(text: "a"), Prompt(text: "b")]
        let compress = try JPEGSizeReward(.compressibility).score(images: [flat, busy], prompts: prompts)
        let expand = try JPEGSizeReward(.incompressibility).score(images: [flat, busy], prompts: prompts)
        XCTAssertEqual(compress.scores[0], -Double(try JPEGEncoder().encode(flat).count) / 1000)
        XCTAssertGreaterThan(compress.scores[0], compress.scores[1])
        XCTAssertEqual(compress.scores, expand.scores.map { -$0 })
        let video = try JPEGSizeReward(.incompressibility).score(
            [.video(frames: [flat, busy], framesPerSecond: 8)], prompts: [Prompt(text: "a")])
        XCTAssertEqual(video.scores[0], (expand.scores[0] + expand.scores[1]) / 2, accuracy: 1e-12)
        XCTAssertThrowsError(try JPEGSizeReward(.compressibility).score(images: [flat], prompts: prompts)) {
            XCTAssertTrue("\($0)".contains("1 samples but 2 prompts"), "\($0)")
        }
    }

    func testOneParserForEveryRewardList() throws {
        XCTAssertEqual(
            try RewardSpec.parseList(" Shapes , jpeg-compressibility:0.1"),
            [RewardSpec(name: "shapes"), RewardSpec(name: "jpeg-compressibility", weight: 0.1)])
        for (text, message) in [("a,,b", "empty entry"), ("a:x", "not a finite number"), ("a,a", "listed twice")] {
            XCTAssertThrowsError(try RewardSpec.parseList(text)) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        let set = try RewardCatalog.standard.makeSet("jpeg-incompressibility:2")
        XCTAssertEqual(set.names, ["jpeg-incompressibility"])
        XCTAssertEqual(set.weights, [2])
        XCTAssertThrowsError(try RewardCatalog.standard.makeSet("shapes")) {
            XCTAssertTrue("\($0)".contains("unknown reward 'shapes'") && "\($0)".contains("hpsv2.1"), "\($0)")
        }
    }
}
