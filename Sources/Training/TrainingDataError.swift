import Foundation

/// What is wrong with a run's data or model for training; each case names the file or folder.
public enum TrainingDataError: Error, CustomStringConvertible, Equatable {
    /// A prompt file that cannot be read, is not UTF-8 text, or holds no prompt.
    case promptFile(file: String, reason: String)
    /// A FLUX prompt-embedding cache that does not fit the model or lacks a prompt.
    case embeddingCache(file: String, reason: String)
    /// A model folder loaded without what training needs, or a size it cannot train at.
    case unusableModel(file: String, reason: String)

    public var description: String {
        switch self {
        case .promptFile(let file, let reason), .embeddingCache(let file, let reason),
            .unusableModel(let file, let reason):
            return "\(file): \(reason)"
        }
    }
}

extension TrainingDataError {
    /// A prompt the embedding cache with manifest `manifest` holds no row for.
    static func uncachedPrompt(_ text: String, manifest: URL) -> TrainingDataError {
        .embeddingCache(file: manifest.path, reason: "no cached embedding for the prompt '\(text)'")
    }

    /// The entries read from the embedding cache with manifest `manifest`, refused when it lists none.
    static func requirePrompts<Entry>(_ entries: [Entry], manifest: URL) throws -> [Entry] {
        guard !entries.isEmpty else {
            throw TrainingDataError.embeddingCache(
                file: manifest.path, reason: "the embedding manifest lists no prompts")
        }
        return entries
    }
}
