// Errors raised while loading tokenizer files. Every case names the file so a broken model folder is easy to fix.

public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist or cannot be read.
    case missingFile(path: String)
    /// The file exists but its content is not what the loader expects.
    case invalidFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "tokenizer file not found or unreadable: \(path)"
        case .invalidFile(let path, let reason):
            return "invalid tokenizer file \(path): \(reason)"
        }
    }
}
