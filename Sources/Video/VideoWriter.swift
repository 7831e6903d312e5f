import CVideoCodecs
import Foundation
import Imaging

/// Writes an MP4 file (H.264, yuv420p) one frame at a time through FFmpeg's libraries. The frames go to a temporary
/// file beside the destination, which `finish()` renames over it: a reader, or a crash, never sees a half-written
/// video, and a writer dropped before `finish()` removes its temporary file and leaves the destination as it was.
public final class VideoWriter {
    public let url: URL
    /// The size of the frames `append` takes.
    public let width: Int
    public let height: Int
    /// The size stored in the file: `width × height` rounded up to even sides under `OddSize.padEdge`.
    public let encodedWidth: Int
    public let encodedHeight: Int
    public private(set) var frameCount = 0
    private let temporary: URL
    private var writer: OpaquePointer?

    public init(url: URL, width: Int, height: Int, fps: Double, encoding: VideoEncoding = VideoEncoding()) throws {
        guard width > 0, height > 0 else {
            throw VideoError.invalidArgument("video frames must not be empty, got \(width)×\(height)")
        }
        guard fps.isFinite, fps > 0 else { throw VideoError.invalidArgument("frame rate must be positive, got \(fps)") }
        guard (0...51).contains(encoding.crf) else {
            throw VideoError.invalidArgument("x264's CRF must be in 0…51, got \(encoding.crf)")
        }
        guard VideoEncoding.presets.contains(encoding.preset) else {
            throw VideoError.invalidArgument(
                "unknown x264 preset \"\(encoding.preset)\" (one of \(VideoEncoding.presets.joined(separator: ", ")))")
        }
        if encoding.oddSize == .reject, width % 2 != 0 || height % 2 != 0 {
            throw VideoError.invalidArgument(
                "H.264 in yuv420p needs even sides, got \(width)×\(height) (use OddSize.padEdge to pad them)")
        }
        self.url = url
        self.width = width
        self.height = height
        encodedWidth = width + width % 2
        encodedHeight = height + height % 2
        let folder = url.deletingLastPathComponent()
        temporary = folder.appendingPathComponent(
            """
            .\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\
            \(UInt32.random(in: 0...UInt32.max))
            """
        )
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw VideoError.writeFailed(path: url.path, reason: "cannot create the folder: \(error)")
        }
        let (numerator, denominator) = Self.rational(fps)
        var opened: OpaquePointer?
        do {
            _ = try VideoCall.run(failure: { .writeFailed(path: url.path, reason: $0) }) { message, size in
                dg_video_writer_open(
                    temporary.path, Int32(encodedWidth), Int32(encodedHeight), numerator, denominator,
                    Int32(encoding.crf), encoding.preset, &opened, message, size)
            }
        } catch {
            // FFmpeg may have created the file before failing (on writing the header).
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        writer = opened
    }

    deinit {
        if let writer {
            dg_video_writer_free(writer)
            try? FileManager.default.removeItem(at: temporary)
        }
    }

    /// Encodes the next frame, which must be `width × height`.
    public func append(_ frame: RGBImage) throws {
        guard let writer else { throw VideoError.invalidArgument("the video \(url.path) is already finished") }
        guard frame.width == width, frame.height == height else {
            throw VideoError.invalidArgument(
                "frame \(frameCount) is \(frame.width)×\(frame.height), the video's frames are \(width)×\(height)")
        }
        let pixels = encodedWidth == width && encodedHeight == height ? frame.pixels : Self.padEdge(frame).pixels
        _ = try VideoCall.run(failure: { .writeFailed(path: self.url.path, reason: $0) }) { message, size in
            pixels.withUnsafeBufferPointer { dg_video_writer_write_rgb(writer, $0.baseAddress, message, size) }
        }
        frameCount += 1
    }

    /// Completes the file and moves it to `url`. A video needs at least one frame.
    public func finish() throws {
        guard let writer else { throw VideoError.invalidArgument("the video \(url.path) is already finished") }
        guard frameCount > 0 else { throw VideoError.invalidArgument("a video needs at least one frame") }
        self.writer = nil
        do {
            _ = try VideoCall.run(failure: { .writeFailed(path: self.url.path, reason: $0) }) { message, size in
                dg_video_writer_finish(writer, message, size)
            }
            // rename(2) replaces the destination atomically on POSIX file systems.
            guard rename(temporary.path, url.path) == 0 else {
                throw VideoError.writeFailed(path: url.path, reason: String(cString: strerror(errno)))
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// `fps` as a fraction FFmpeg can store exactly where it is a usual rate: whole numbers, the NTSC rates
    /// (30000/1001, …), and decimals with up to three places.
    static func rational(_ fps: Double) -> (Int32, Int32) {
        for denominator in [1, 1001, 2, 4, 5, 8, 10, 100, 1000] {
            let numerator = (fps * Double(denominator)).rounded()
            if abs(numerator / Double(denominator) - fps) <= 1e-9 * fps, numerator <= Double(Int32.max) {
                return (Int32(numerator), Int32(denominator))
            }
        }
        let denominator = 1_000_000.0
        return (Int32(min(Double(Int32.max), (fps * denominator).rounded())), Int32(denominator))
    }

    /// The frame with its last column and/or row repeated, to even sides.
    static func padEdge(_ frame: RGBImage) -> RGBImage {
        let (w, h) = (frame.width + frame.width % 2, frame.height + frame.height % 2)
        var padded = RGBImage(width: w, height: h)
        for y in 0..<h {
            let sourceRow = min(y, frame.height - 1) * frame.width * 3
            let targetRow = y * w * 3
            padded.pixels.replaceSubrange(
                targetRow..<(targetRow + frame.width * 3),
                with: frame.pixels[sourceRow..<(sourceRow + frame.width * 3)])
            if w > frame.width {
                let last = sourceRow + (frame.width - 1) * 3
                padded.pixels.replaceSubrange(
                    (targetRow + frame.width * 3)..<(targetRow + w * 3), with: frame.pixels[last..<(last + 3)])
            }
        }
        return padded
    }
}

/// Writes `frames` (all of one size) as an H.264 MP4 file at `fps` frames per second, atomically.
public func writeMP4(
    frames: [RGBImage], fps: Double, to url: URL, encoding: VideoEncoding = VideoEncoding()
) throws {
    guard let first = frames.first else { throw VideoError.invalidArgument("a video needs at least one frame") }
    let writer = try VideoWriter(url: url, width: first.width, height: first.height, fps: fps, encoding: encoding)
    for frame in frames { try writer.append(frame) }
    try writer.finish()
}
