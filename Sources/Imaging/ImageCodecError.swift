import Foundation

/// Failures of the PNG, JPEG and zlib codecs. Each message says what was wrong, in the library's words where it
/// gave some; failures of files read from disk name the file.
public indirect enum ImageCodecError: Error, CustomStringConvertible, Equatable, Sendable {
    case corruptPNG(String)
    case corruptJPEG(String)
    case corruptZlib(String)
    /// Valid input the codecs cannot handle (an empty image, a quality out of range).
    case unsupported(String)
    /// A failure while decoding the file at `path`.
    case inFile(path: String, ImageCodecError)

    public var description: String {
        switch self {
        case .corruptPNG(let message): return "corrupt PNG: \(message)"
        case .corruptJPEG(let message): return "corrupt JPEG: \(message)"
        case .corruptZlib(let message): return "corrupt zlib stream: \(message)"
        case .unsupported(let message): return "unsupported: \(message)"
        case .inFile(let path, let error): return "\(path): \(error)"
        }
    }
}

extension ImageCodecError {
    /// Runs `decode` on the bytes of the file at `url`; a codec failure comes back naming the file.
    static func decodingFile<T>(_ url: URL, _ decode: ([UInt8]) throws -> T) throws -> T {
        let bytes = [UInt8](try Data(contentsOf: url))
        do {
            return try decode(bytes)
        } catch let error as ImageCodecError {
            throw ImageCodecError.inFile(path: url.path, error)
        }
    }
}
