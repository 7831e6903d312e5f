/// Failures of the image codecs and helpers. Each message names what was wrong and, where it helps, what was expected.
public enum ImagingError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidArgument(String)
    case invalidDeflateStream(String)
    case invalidPNG(String)
    case unsupportedPNG(String)
    case invalidJPEG(String)
    case unsupportedJPEG(String)

    public var description: String {
        switch self {
        case .invalidArgument(let message): return "invalid argument: \(message)"
        case .invalidDeflateStream(let message): return "invalid deflate/zlib stream: \(message)"
        case .invalidPNG(let message): return "invalid PNG: \(message)"
        case .unsupportedPNG(let message): return "unsupported PNG: \(message)"
        case .invalidJPEG(let message): return "invalid JPEG: \(message)"
        case .unsupportedJPEG(let message): return "unsupported JPEG: \(message)"
        }
    }
}
