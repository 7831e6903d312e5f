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

extension ModelFolderError {
    /// Throws ``missingComponents(file:reason:)`` when `folder` lacks any of the subfolders `parts`: "not a diffusers
    /// `model` folder: missing (the absent ones) (`role` `listed`/, …)", `listed` the parts a loader names (default:
    /// `parts`).
    public static func checkComponents(
        _ parts: [String], in folder: URL, model: String, role: String = "expected", listed: [String]? = nil
    ) throws {
        let missing = parts.filter { !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
        guard missing.isEmpty else {
            throw ModelFolderError.missingComponents(
                file: folder.path,
                reason:
                    "not a diffusers \(model) folder: missing \(missing.joined(separator: ", "))"
                    + " (\(role) \((listed ?? parts).map { $0 + "/" }.joined(separator: ", ")))")
        }
    }
}
