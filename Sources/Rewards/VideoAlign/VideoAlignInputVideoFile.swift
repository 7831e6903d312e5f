import Foundation
import Models
import Video

extension VideoAlignInputVideo {
    /// Every frame of the video file at `url` (MP4 or any format FFmpeg reads) with its frame rate, as VideoAlign's
    /// torchvision `read_video` gives them to `fetch_video` (which then keeps the sampled frames).
    public init(contentsOf url: URL) throws {
        let decoded = try readVideo(url)
        guard let first = decoded.frames.first else {
            throw VideoError.unreadable(path: url.path, reason: "no frame could be decoded")
        }
        guard decoded.sourceFPS > 0 else {
            throw VideoError.unreadable(
                path: url.path, reason: "the file states no frame rate, which VideoAlign samples by")
        }
        self.init(
            frames: decoded.frames.map(\.pixels), height: first.height, width: first.width, fps: decoded.sourceFPS)
    }
}

extension VideoAlignInputProcessor {
    /// `prepare_batch(video_paths, prompts)`: the files read (``VideoAlignInputVideo/init(contentsOf:)``), then
    /// ``batch(videos:prompts:settings:)-(_,_,VideoAlignInputSettings)``. A file that cannot be read is named.
    public func batch(files: [URL], prompts: [String], settings: VideoAlignInputSettings) throws -> VideoAlignInputBatch
    {
        let videos = try files.map { try VideoAlignInputVideo(contentsOf: $0) }
        return try batch(videos: videos, prompts: prompts, settings: settings)
    }
}
