import Foundation
import Imaging
import TestSupport
import Video
import XCTest

/// Swift's MP4 files read back by Swift's reader: H.264 is lossy, so pixels are held to a PSNR bound rather than
/// equality; sizes, counts and rates must be exact.
final class MP4WriterTests: XCTestCase {
    func testMovingSquaresRoundTripKeepsCountSizeRateAndPixels() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("squares.mp4")
        let frames = VideoTestFrames.movingSquares(count: 8, width: 48, height: 32)
        try writeMP4(frames: frames, fps: 8, to: url)

        let video = try readVideo(url)
        XCTAssertEqual(video.frames.count, 8)
        XCTAssertEqual(video.fps, 8)
        XCTAssertEqual(video.sourceFrameIndices, Array(0..<8))
        XCTAssertEqual(video.codec, "h264")
        XCTAssertTrue(video.container.contains("mp4"), video.container)
        var worst = Double.infinity
        for (decoded, original) in zip(video.frames, frames) {
            XCTAssertEqual([decoded.width, decoded.height], [48, 32])
            worst = min(worst, try RGBImage.psnr(decoded, original))
        }
        // Measured 36.3 dB at the default CRF 18 (PyAV decodes this file to the same bytes); below 30 dB a moving edge
        // visibly breaks up.
        XCTAssertGreaterThan(worst, 30, "worst frame PSNR \(worst) dB")
        // No temporary file is left beside the video.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["squares.mp4"])
    }

    func testQualitySettingTradesSizeForFidelity() throws {
        let folder = try temporaryDirectory(self)
        let frames = VideoTestFrames.movingSquares(count: 6, width: 32, height: 32)
        var results: [(bytes: Int, psnr: Double)] = []
        for crf in [10, 40] {
            let url = folder.appendingPathComponent("crf\(crf).mp4")
            try writeMP4(frames: frames, fps: 6, to: url, encoding: VideoEncoding(crf: crf, preset: "fast"))
            let decoded = try readVideo(url).frames
            let psnr = try zip(decoded, frames).map { try RGBImage.psnr($0, $1) }.min()!
            results.append((try Data(contentsOf: url).count, psnr))
        }
        XCTAssertGreaterThan(results[0].bytes, results[1].bytes, "\(results)")
        XCTAssertGreaterThan(results[0].psnr, results[1].psnr + 3, "\(results)")
    }

    func testOddSizesArePaddedByRepeatingTheEdgeOrRejected() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("odd.mp4")
        let frames = VideoTestFrames.movingSquares(count: 4, width: 33, height: 25)
        try writeMP4(frames: frames, fps: 4, to: url)
        let video = try readVideo(url)
        XCTAssertEqual(video.frames.count, 4)
        for (decoded, original) in zip(video.frames, frames) {
            XCTAssertEqual([decoded.width, decoded.height], [34, 26])
            let region = try decoded.cropped(x: 0, y: 0, width: 33, height: 25)
            XCTAssertGreaterThan(try RGBImage.psnr(region, original), 30)
            // The added column and row repeat the last ones (up to the codec's loss).
            for y in 0..<25 {
                XCTAssertLessThanOrEqual(decoded[33, y].squaredDistance(to: original[32, y]), 3 * 20 * 20, "row \(y)")
            }
            for x in 0..<33 {
                XCTAssertLessThanOrEqual(decoded[x, 25].squaredDistance(to: original[x, 24]), 3 * 20 * 20, "col \(x)")
            }
        }

        XCTAssertThrowsError(
            try writeMP4(frames: frames, fps: 4, to: url, encoding: VideoEncoding(oddSize: .reject))
        ) { error in
            guard case VideoError.invalidArgument(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("33×25"), message)
        }
    }

    func testFractionalRatesAreStoredExactly() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("ntsc.mp4")
        try writeMP4(frames: VideoTestFrames.movingSquares(count: 3, width: 32, height: 32), fps: 30000 / 1001, to: url)
        XCTAssertEqual(try readVideo(url).fps, 30000 / 1001, accuracy: 1e-9)
    }

    func testFailedWriteLeavesTheDestinationAsItWas() throws {
        let folder = try temporaryDirectory(self)
        let url = folder.appendingPathComponent("keep.mp4")
        try Data("previous".utf8).write(to: url)
        let frames = VideoTestFrames.movingSquares(count: 2, width: 32, height: 32)
        let other = VideoTestFrames.movingSquares(count: 1, width: 16, height: 16)
        XCTAssertThrowsError(try writeMP4(frames: frames + other, fps: 4, to: url)) { error in
            guard case VideoError.invalidArgument(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("16×16"), message)
        }
        XCTAssertEqual(try Data(contentsOf: url), Data("previous".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["keep.mp4"])

        XCTAssertThrowsError(try writeMP4(frames: [], fps: 4, to: url))
        XCTAssertThrowsError(try writeMP4(frames: frames, fps: 0, to: url))
        XCTAssertThrowsError(try writeMP4(frames: frames, fps: 4, to: url, encoding: VideoEncoding(crf: 60)))
        XCTAssertThrowsError(
            try writeMP4(frames: frames, fps: 4, to: url, encoding: VideoEncoding(preset: "warp-speed"))
        ) { error in
            guard case VideoError.invalidArgument(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("warp-speed"), message)
        }
        // A folder where the file should go: FFmpeg's own error, naming the destination.
        let folderInTheWay = folder.appendingPathComponent("taken.mp4")
        try FileManager.default.createDirectory(at: folderInTheWay, withIntermediateDirectories: true)
        XCTAssertThrowsError(try writeMP4(frames: frames, fps: 4, to: folderInTheWay)) { error in
            guard case VideoError.writeFailed(let path, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, folderInTheWay.path)
            XCTAssertFalse(reason.isEmpty)
        }
        try FileManager.default.removeItem(at: folderInTheWay)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["keep.mp4"])
    }
}
