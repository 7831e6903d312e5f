import CVideoCodecs
import Foundation
import Imaging

/// Frames decoded from a video file, with where they came from.
public struct DecodedVideo: Sendable {
    public var frames: [RGBImage]
    /// The rate of `frames`: the file's own rate when every frame was kept, else the rate the sampling left
    /// (frames kept over the clip's duration). 0 when the file states no rate.
    public var fps: Double
    /// The file's frame rate (0 when it states none) and frame count.
    public var sourceFPS: Double
    public var sourceFrameCount: Int
    /// The index in the file of each frame of `frames`.
    public var sourceFrameIndices: [Int]
    /// FFmpeg's short names of the video codec and the container ("h264", "mov,mp4,m4a,3gp,3g2,mj2").
    public var codec: String
    public var container: String
}

/// Which frames a sampled read keeps: `n` spread evenly over the whole clip, first and last included (indices
/// round(i · (N − 1) / (n − 1)), halves to even, as Qwen2-VL's video preprocessing, which VideoAlign uses, picks
/// them). `n` is the
/// count `sampleFPS` gives over the clip's duration (N / sourceFPS seconds), at most `maxFrames`, at most N.
public enum VideoSampling {
    public static func indices(frameCount: Int, sourceFPS: Double, sampleFPS: Double?, maxFrames: Int?) -> [Int] {
        guard frameCount > 0 else { return [] }
        var n = frameCount
        if let sampleFPS, sourceFPS > 0 {
            n = min(n, max(1, Int((Double(frameCount) * sampleFPS / sourceFPS).rounded())))
        }
        if let maxFrames { n = min(n, maxFrames) }
        guard n > 1 else { return n == 1 ? [0] : [] }
        return (0..<n).map { Int((Double($0) * Double(frameCount - 1) / Double(n - 1)).rounded(.toNearestOrEven)) }
    }
}

/// Decodes the first video stream of the file at `url`, in any container and codec FFmpeg reads, to RGB frames at
/// the stream's size. `sampleFPS` and `maxFrames` keep fewer frames spread over the clip (see `VideoSampling`);
/// without them every frame is kept. Frames not kept are decoded but never converted; kept ones are all held in
/// memory (W × H × 3 bytes each), so long files are read with `maxFrames`. The file is read twice: once to count
/// the frames (packets only), once to decode.
public func readVideo(_ url: URL, sampleFPS: Double? = nil, maxFrames: Int? = nil) throws -> DecodedVideo {
    if let sampleFPS, !(sampleFPS.isFinite && sampleFPS > 0) {
        throw VideoError.invalidArgument("sampling rate must be positive, got \(sampleFPS)")
    }
    if let maxFrames, maxFrames < 1 { throw VideoError.invalidArgument("maxFrames must be ≥ 1, got \(maxFrames)") }
    let path = url.path
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else {
        throw VideoError.missingFile(path: path)
    }
    let failure = { (reason: String) in VideoError.unreadable(path: path, reason: reason) }
    var info = dg_video_info()
    var opened: OpaquePointer?
    _ = try VideoCall.run(failure: failure) { message, size in
        dg_video_reader_open(path, &opened, &info, message, size)
    }
    guard let reader = opened else { throw failure("the reader did not open") }
    defer { dg_video_reader_free(reader) }

    let sourceFPS = info.fps_den > 0 ? Double(info.fps_num) / Double(info.fps_den) : 0
    if sampleFPS != nil, sourceFPS == 0 { throw failure("the file states no frame rate to sample by") }
    let frameCount = Int(info.frame_count)
    let wanted = Set(
        VideoSampling.indices(
            frameCount: frameCount, sourceFPS: sourceFPS, sampleFPS: sampleFPS, maxFrames: maxFrames))
    let keepAll = sampleFPS == nil && maxFrames == nil
    let (width, height) = (Int(info.width), Int(info.height))
    var frames: [RGBImage] = []
    var indices: [Int] = []
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    var index = 0
    while keepAll || indices.count < wanted.count {
        let keep = keepAll || wanted.contains(index)
        let status = try VideoCall.run(failure: failure) { message, size in
            keep
                ? pixels.withUnsafeMutableBufferPointer { dg_video_reader_next(reader, $0.baseAddress, message, size) }
                : dg_video_reader_next(reader, nil, message, size)
        }
        guard status == 1 else { break }
        if keep {
            frames.append(try RGBImage(width: width, height: height, pixels: pixels))
            indices.append(index)
        }
        index += 1
    }
    guard !frames.isEmpty else { throw failure("no frame could be decoded") }
    let total = keepAll ? frames.count : frameCount
    return DecodedVideo(
        frames: frames, fps: keepAll ? sourceFPS : sourceFPS * Double(frames.count) / Double(max(1, total)),
        sourceFPS: sourceFPS, sourceFrameCount: total, sourceFrameIndices: indices,
        codec: withUnsafeBytes(of: info.codec) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) },
        container: withUnsafeBytes(of: info.format) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) })
}
