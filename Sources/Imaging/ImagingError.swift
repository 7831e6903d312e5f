/// Invalid arguments to the image helpers. Codec failures are `ImageCodecError`s.
public enum ImagingError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidArgument(let message): return "invalid argument: \(message)"
        }
    }
}
