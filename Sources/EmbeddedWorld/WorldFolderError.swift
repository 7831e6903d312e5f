import Foundation

/// An embedded-world model folder or checkpoint that cannot be read; each case names the file or folder.
public enum WorldFolderError: Error, CustomStringConvertible, Equatable {
    /// Neither a model folder (world.json) nor a checkpoint of either architecture.
    case notAWorldFolder(file: String, reason: String)
    /// A world.json naming an architecture this build does not have.
    case unknownArchitecture(file: String, reason: String)
    /// A world tokenizer file of the wrong shape.
    case tokenizer(file: String, reason: String)
    /// Parts of a world folder that are each valid but do not fit together (image size, channels, text width).
    case components(file: String, reason: String)

    public var description: String {
        switch self {
        case .notAWorldFolder(let file, let reason), .unknownArchitecture(let file, let reason),
            .tokenizer(let file, let reason), .components(let file, let reason):
            return "\(file): \(reason)"
        }
    }
}
