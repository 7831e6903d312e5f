import Foundation
import Imaging
import TestSupport
import Video
import XCTest

/// The reader against files it did not write (tools/goldens/video.py: encoded and decoded by PyAV), its sampling,
/// and its errors.
final class VideoReaderTests: XCTestCase {
    /// Decodes a reference clip and compares with PyAV's decode of the same file, which must be equal to the byte:
    /// the codecs decode bit-exactly and both convert with the same swscale settings (bicubic, accurate rounding,
    /// the stream's matrix, range and chroma siting), although PyAV's wheel carries another FFmpeg release. Against
    /// the frames PyAV's encoder was given, the worst frame must stay above `minimumPSNR`.
    private func checkReference(_ name: String, codec: String, minimumPSNR: Double) throws {
        let reference = try VideoTestFrames.Reference(name)
        let video = try readVideo(reference.url)
        XCTAssertEqual(video.codec, codec)
        XCTAssertEqual(video.fps, reference.fps)
        XCTAssertEqual(video.frames.count, reference.source.count)
        XCTAssertEqual(video.sourceFrameCount, reference.source.count)
        var worstDifference = 0
        var worstPSNR = Double.infinity
        for (f, frame) in video.frames.enumerated() {
            XCTAssertEqual([frame.width, frame.height], [reference.width, reference.height])
            worstDifference = max(worstDifference, VideoTestFrames.maxAbsDifference(frame, reference.decodedByPyAV[f]))
            worstPSNR = min(worstPSNR, try RGBImage.psnr(frame, reference.source[f]))
        }
        XCTAssertEqual(worstDifference, 0, "\(name): max |Swift − PyAV|")
        XCTAssertGreaterThan(worstPSNR, minimumPSNR, "\(name): worst frame PSNR against the source")
    }

    /// H.264 with B-frames: frames come out in display order, not the file's decode order.
    func testH264WithBFramesMatchesPyAV() throws {
        // Worst frame against the source: 34.4 dB.
        try checkReference("h264_bframes", codec: "h264", minimumPSNR: 32)
    }

    /// Motion JPEG in Matroska, full-range yuvj422p (centred chroma, subsampled across only) at an odd size.
    func testFullRangeMotionJPEGMatchesPyAV() throws {
        // Worst frame against the source: 28.9 dB (PyAV's JPEG encoder halves the chroma of 35 columns).
        try checkReference("mjpeg_fullrange", codec: "mjpeg", minimumPSNR: 27)
    }

    func testSamplingSpreadsFramesOverTheClip() throws {
        let url = try VideoTestFrames.Reference("h264_bframes").url
        let all = try readVideo(url)
        // 10 frames at 12 fps sampled at 6 fps: 5 frames, round(i · 9 / 4) with halves to even.
        let sampled = try readVideo(url, sampleFPS: 6)
        XCTAssertEqual(sampled.sourceFrameIndices, [0, 2, 4, 7, 9])
        XCTAssertEqual(sampled.frames, sampled.sourceFrameIndices.map { all.frames[$0] })
        XCTAssertEqual(sampled.fps, 6)
        XCTAssertEqual(sampled.sourceFPS, 12)
        XCTAssertEqual(sampled.sourceFrameCount, 10)

        let capped = try readVideo(url, maxFrames: 3)
        XCTAssertEqual(capped.sourceFrameIndices, [0, 4, 9])
        XCTAssertEqual(capped.frames, [all.frames[0], all.frames[4], all.frames[9]])
        XCTAssertEqual(try readVideo(url, sampleFPS: 100).sourceFrameIndices, Array(0..<10))
        XCTAssertEqual(try readVideo(url, sampleFPS: 6, maxFrames: 2).sourceFrameIndices, [0, 9])
        XCTAssertEqual(try readVideo(url, maxFrames: 1).frames, [all.frames[0]])
        XCTAssertThrowsError(try readVideo(url, maxFrames: 0))
        XCTAssertThrowsError(try readVideo(url, sampleFPS: -1))
    }

    func testMissingFileIsNamed() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("absent.mp4")
        XCTAssertThrowsError(try readVideo(url)) { error in
            XCTAssertEqual(error as? VideoError, .missingFile(path: url.path))
            XCTAssertTrue("\(error)".contains("absent.mp4"), "\(error)")
        }
    }

    func testCorruptFilesAreNamedWithFFmpegsReason() throws {
        let folder = try temporaryDirectory(self)
        // A Swift-written file has its index first (faststart), so a cut or damaged one opens and fails in decoding.
        let written = folder.appendingPathComponent("written.mp4")
        try writeMP4(frames: VideoTestFrames.movingSquares(count: 10, width: 64, height: 48), fps: 10, to: written)
        let mp4 = [UInt8](try Data(contentsOf: written))
        var noise = SystemRandomNumberGenerator()
        let cases: [(String, [UInt8])] = [
            ("noise.mp4", (0..<4096).map { _ in UInt8.random(in: 0...255, using: &noise) }),
            ("text.mp4", Array("not a video at all\n".utf8)),
            ("empty.mp4", []),
            ("index-cut.mp4", Array(mp4.prefix(300))),
            ("frames-cut.mp4", Array(mp4.prefix(mp4.count / 2))),
            ("damaged.mp4", mp4.enumerated().map { $0.offset > 1500 && $0.offset % 7 == 0 ? ~$0.element : $0.element })
        ]
        for (name, bytes) in cases {
            let url = folder.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            XCTAssertThrowsError(try readVideo(url), name) { error in
                guard case VideoError.unreadable(let path, let reason) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(path, url.path)
                XCTAssertFalse(reason.isEmpty)
                XCTAssertTrue("\(error)".hasPrefix(url.path + ": cannot read the video: "), "\(error)")
            }
        }
    }

    /// Any format FFmpeg reads: a PNG file is a one-frame video to its image demuxer, decoded to libpng's pixels.
    func testAPNGImageIsAOneFrameVideo() throws {
        let url = Fixture.url("imaging/jpeg_source.png")
        let video = try readVideo(url)
        XCTAssertEqual(video.codec, "png")
        XCTAssertEqual(video.frames, [try PNGDecoder.decodeRGB([UInt8](try Data(contentsOf: url)))])
    }
}
