/// Failures of the video reader and writer. Each names the file, and says what was wrong in FFmpeg's words where it
/// gave some.
public enum VideoError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No file at `path`.
    case missingFile(path: String)
    /// The file exists but cannot be decoded: not a video, corrupt, or a codec this FFmpeg build lacks (`reason`
    /// says which).
    case unreadable(path: String, reason: String)
    /// Encoding or writing the file at `path` failed; the destination is left as it was.
    case writeFailed(path: String, reason: String)
    /// Frames or settings the writer cannot take (no frames, frames of different sizes, a bad frame rate).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .missingFile(let path): return "\(path): no such video file"
        case .unreadable(let path, let reason): return "\(path): cannot read the video: \(reason)"
        case .writeFailed(let path, let reason): return "\(path): cannot write the video: \(reason)"
        case .invalidArgument(let message): return "invalid argument: \(message)"
        }
    }
}
