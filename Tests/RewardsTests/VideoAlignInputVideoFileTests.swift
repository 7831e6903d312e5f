import Engine
import Foundation
import Imaging
import Models
import Rewards
import TestSupport
import Video
import XCTest

/// VideoAlign's inputs read from MP4 files: a tiny clip written with writeMP4 and read back through
/// `VideoAlignInputVideo(contentsOf:)` keeps its frame count, size and rate, and the processor's pixel values from the
/// file stay close to those from the frames before encoding (H.264 is lossy); unreadable files are named.
final class VideoAlignInputVideoFileTests: XCTestCase {
    private func frames(count: Int, height: Int, width: Int) throws -> [RGBImage] {
        try (0..<count).map { t in
            var pixels = [UInt8](repeating: 0, count: height * width * 3)
            for y in 0..<height {
                for x in 0..<width {
                    for c in 0..<3 {
                        let v = 128 + 80 * sin(0.09 * Double(x + 3 * t) + 0.07 * Double(y) + 2 * Double(c))
                        pixels[(y * width + x) * 3 + c] = UInt8(v.rounded())
                    }
                }
            }
            return try RGBImage(width: width, height: height, pixels: pixels)
        }
    }

    func testMP4RoundTripGivesCloseInputs() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("clip.mp4")
        let source = try frames(count: 10, height: 56, width: 84)
        try writeMP4(frames: source, fps: 8, to: url)

        let video = try VideoAlignInputVideo(contentsOf: url)
        XCTAssertEqual([video.frames.count, video.height, video.width], [10, 56, 84])
        XCTAssertEqual(video.fps, 8, accuracy: 1e-9)
        let decoded = video.frames.flatMap { $0 }.map(Int.init)
        let original = source.flatMap(\.pixels).map(Int.init)
        let meanError = Double(zip(decoded, original).map { abs($0 - $1) }.reduce(0, +)) / Double(original.count)
        print("VideoAlign MP4 round trip: mean abs pixel error \(meanError)")
        XCTAssertLessThan(meanError, 4)

        let processor = try VideoAlignInputProcessor.load(from: videoAlignProcessorFolder("v4", self))
        let settings = VideoAlignInputSettings(
            sampling: VideoAlignFrameSampling(count: .fps(2)), sizing: VideoAlignFrameSizing(minPixels: 784),
            dimensions: [.visualQuality], template: .simple)
        let fromFile = try processor.batch(files: [url], prompts: ["waves"], settings: settings)
        let fromFrames = try processor.batch(
            videos: [VideoAlignInputVideo(frames: source.map(\.pixels), height: 56, width: 84, fps: 8)],
            prompts: ["waves"], settings: settings)
        // 10 frames at 8 fps sampled at 2 fps: 2.5, raised to min_frames 4; 56 × 84 stays; 2 × 4 × 6 patches.
        XCTAssertEqual(fromFile.grids.map { [$0.t, $0.h, $0.w] }, [[2, 4, 6]])
        XCTAssertEqual(fromFile.inputIDs.toArray(Int32.self), fromFrames.inputIDs.toArray(Int32.self))
        let difference = (fromFile.pixelValuesVideos - fromFrames.pixelValuesVideos).abs()
        let mean = difference.mean().item(Float.self)
        print("VideoAlign MP4 round trip: pixel_values_videos mean abs difference \(mean)")
        // One 8-bit step is 1 / 255 / 0.26 ≈ 0.015 after normalisation.
        XCTAssertLessThan(mean, 0.06)
    }

    func testUnreadableFilesAreNamed() throws {
        let folder = try temporaryDirectory(self)
        let bad = folder.appendingPathComponent("bad.mp4")
        try Data("not a video at all".utf8).write(to: bad)
        XCTAssertThrowsError(try VideoAlignInputVideo(contentsOf: bad)) {
            XCTAssertTrue("\($0)".contains("bad.mp4: cannot read the video"), "\($0)")
        }
        let missing = folder.appendingPathComponent("missing.mp4")
        XCTAssertThrowsError(try VideoAlignInputVideo(contentsOf: missing)) {
            XCTAssertTrue("\($0)".contains("missing.mp4: no such video file"), "\($0)")
        }
    }
}
