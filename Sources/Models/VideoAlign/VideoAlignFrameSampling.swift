import Foundation

// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/models/videoalign/vision_process.py
/// Which frames of a decoded video VideoAlign's `fetch_video` keeps (`_read_video_torchvision`, with `smart_nframes`):
/// a `video` entry either names a sampling rate (`fps`, with optional `min_frames` / `max_frames`) or a frame count
/// (`nframes`), and a `sample_type`.
public struct VideoAlignFrameSampling: Sendable, Equatable {
    /// `sample_type`: the two ways `_read_video_torchvision` picks frames.
    public enum SampleType: String, Sendable, Equatable, CaseIterable {
        /// `smart_nframes` frames spread over the whole clip, first and last included.
        case uniform
        /// Four windows of six consecutive frames of the clip resampled at 8 fps, the windows' centres spread over it.
        case multiPoints = "multi_pts"
    }

    /// `fps` or `nframes`: the reference asserts that an entry has only one of them.
    public enum Count: Sendable, Equatable {
        case fps(Double, minFrames: Int? = nil, maxFrames: Int? = nil)
        case frames(Int)
    }

    public static let frameFactor = 2
    public static let defaultFPS = 2.0
    public static let fpsMinFrames = 4
    public static let fpsMaxFrames = 768

    public var count: Count
    public var sampleType: SampleType

    public init(count: Count = .fps(defaultFPS), sampleType: SampleType = .uniform) {
        self.count = count
        self.sampleType = sampleType
    }

    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case frameCount(nframes: Int, totalFrames: Int)
        case noFrameRate
        case noFrames
        case sampleType(String)
        /// Neither a frame rate nor a frame count to sample by (`fps` null and no `num_frames`).
        case noCount
        public var description: String {
            switch self {
            case .frameCount(let n, let total):
                return "VideoAlign frame sampling: nframes should be in [\(frameFactor), \(total)], but got \(n) "
                    + "(a video of \(total) frames)"
            case .noFrameRate: return "VideoAlign frame sampling: the video states no frame rate to sample by"
            case .noFrames: return "VideoAlign frame sampling: the video has no frames"
            case .noCount: return "VideoAlign frame sampling: data_config: expected fps or num_frames, found neither"
            case .sampleType(let name):
                return "VideoAlign frame sampling: sample_type \"\(name)\" is not one of "
                    + SampleType.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            }
        }
    }

    /// `smart_nframes`: the frame count, even (FRAME_FACTOR), at most `totalFrames`.
    public func frameCount(totalFrames: Int, videoFPS: Double) throws -> Int {
        var n: Int
        switch count {
        case .frames(let frames):
            n = Self.roundByFactor(Double(frames), Self.frameFactor)
        case .fps(let fps, let minFrames, let maxFrames):
            guard videoFPS > 0, videoFPS.isFinite else { throw Error.noFrameRate }
            let low = Self.ceilByFactor(Double(minFrames ?? Self.fpsMinFrames), Self.frameFactor)
            let high = Self.floorByFactor(
                Double(maxFrames ?? min(Self.fpsMaxFrames, totalFrames)), Self.frameFactor)
            let wanted = Double(totalFrames) / videoFPS * fps
            n = Self.roundByFactor(min(max(wanted, Double(low)), Double(high)), Self.frameFactor)
        }
        n = min(n, totalFrames)
        guard Self.frameFactor <= n else { throw Error.frameCount(nframes: n, totalFrames: totalFrames) }
        return n
    }

    /// The indices, in the decoded video, of the frames kept, in order (repeats possible with `multi_pts`).
    public func indices(totalFrames: Int, videoFPS: Double) throws -> [Int] {
        guard totalFrames > 0 else { throw Error.noFrames }
        switch sampleType {
        case .uniform:
            let n = try frameCount(totalFrames: totalFrames, videoFPS: videoFPS)
            return Self.roundedLinspace(0, Float(totalFrames - 1), n)
        case .multiPoints:
            guard videoFPS > 0, videoFPS.isFinite else { throw Error.noFrameRate }
            let (framesEachPoint, points, fps) = (6, 4, 8)
            let n = Int(Self.pythonFloorDivision(Double(totalFrames * fps), videoFPS))
            let frames = Self.roundedLinspace(0, Float(totalFrames - 1), n)
            let half = framesEachPoint / 2
            var kept: [Int] = []
            for point in Self.roundedLinspace(Float(half), Float(n - half - 1), points) {
                kept += Self.pythonSlice(frames, from: point - half, to: point + half)
            }
            return kept
        }
    }

    /// `torch.linspace(start, end, steps).round().long()`: float32 values as torch's CPU kernel makes them (the first
    /// half from `start`, the second from `end`), rounded half to even.
    static func roundedLinspace(_ start: Float, _ end: Float, _ steps: Int) -> [Int] {
        guard steps > 0 else { return [] }
        guard steps > 1 else { return [Int(start.rounded(.toNearestOrEven))] }
        let step = (end - start) / Float(steps - 1)
        let halfway = steps / 2
        return (0..<steps).map { i in
            let value = i < halfway ? start + step * Float(i) : end - step * Float(steps - i - 1)
            return Int(value.rounded(.toNearestOrEven))
        }
    }

    /// Python's `a // b` on floats: the floor of the exact quotient (through `fmod`, as CPython computes it), which
    /// `floor(a / b)` overshoots when the rounded quotient reaches the next integer.
    static func pythonFloorDivision(_ a: Double, _ b: Double) -> Double {
        var mod = fmod(a, b)
        var div = (a - mod) / b
        if mod != 0, (b < 0) != (mod < 0) {
            mod += b
            div -= 1
        }
        guard div != 0 else { return 0 }
        var floored = div.rounded(.down)
        if div - floored > 0.5 { floored += 1 }
        return floored
    }

    /// Python's `list[a:b]` (negative bounds count from the end, bounds clamped).
    static func pythonSlice(_ list: [Int], from a: Int, to b: Int) -> [Int] {
        func bound(_ i: Int) -> Int { i < 0 ? max(0, list.count + i) : min(i, list.count) }
        let (lo, hi) = (bound(a), bound(b))
        return lo < hi ? Array(list[lo..<hi]) : []
    }

    /// `round_by_factor`: Python's `round` (halves to even) of `number / factor`, times `factor`.
    static func roundByFactor(_ number: Double, _ factor: Int) -> Int {
        Int((number / Double(factor)).rounded(.toNearestOrEven)) * factor
    }

    static func ceilByFactor(_ number: Double, _ factor: Int) -> Int {
        Int((number / Double(factor)).rounded(.up)) * factor
    }

    static func floorByFactor(_ number: Double, _ factor: Int) -> Int {
        Int((number / Double(factor)).rounded(.down)) * factor
    }
}
