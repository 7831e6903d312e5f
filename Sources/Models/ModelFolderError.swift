import Foundation

/// A model folder or cache that is not what the loader expects, or a model that cannot be written as asked; each
/// case names the file or folder. (Config files with wrong values are `ConfigFile.Error`s.)
public enum ModelFolderError: Error, CustomStringConvertible, Equatable {
    /// A diffusers pipeline folder without one of its components.
    case missingComponents(file: String, reason: String)
    /// A network that still carries LoRA adapters where full weights are written.
    case unmergedAdapters(file: String, reason: String)
    /// A FLUX prompt-embedding cache without a readable manifest.
    case embeddingManifest(file: String, reason: String)

    public var description: String {
        switch self {
        case .missingComponents(let file, let reason), .unmergedAdapters(let file, let reason),
            .embeddingManifest(let file, let reason):
            return "\(file): \(reason)"
        }
    }
}
