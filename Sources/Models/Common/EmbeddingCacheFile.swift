import Checkpoints
import Engine
import Foundation

/// One tensor of a prompt-embedding cache in DanceGRPO's preprocessing layout (a subfolder per field, a file per
/// prompt): our caches write `<i>.safetensors` holding one tensor named like its folder; DanceGRPO's own write
/// `<i>.pt`, a `torch.save`d tensor, read by the restricted unpickler. Returned in float32. The FLUX and Wan caches
/// share it.
enum EmbeddingCacheFile {
    /// The tensor `file` of the cache's `subfolder`; `manifest` names the cache in errors. A name that leads out of
    /// the subfolder (absolute, `..`, a link elsewhere) is refused, for entries made by hand as for the manifest's.
    static func read(_ file: String, subfolder: String, cache folder: URL, manifest: URL) throws -> Tensor {
        guard let url = ContainedPath.resolve(file, in: folder.appendingPathComponent(subfolder)) else {
            throw FluxEmbeddingCacheError.pathOutsideCache(
                file: manifest.path, index: nil, field: subfolder, path: file, folder: subfolder)
        }
        if url.pathExtension != "safetensors" {
            let checkpoint = try TorchCheckpointFile(path: url)
            guard checkpoint.keys == [TorchCheckpointFile.singleTensorKey] else {
                throw TorchCheckpointError.notASingleTensor(file: url.path, keys: checkpoint.keys)
            }
            return try checkpoint.tensor(TorchCheckpointFile.singleTensorKey).asType(.float32)
        }
        let tensors = try SafeTensors.load(url)
        guard let t = tensors[subfolder] ?? (tensors.count == 1 ? tensors.values.first : nil) else {
            throw SafeTensorsError.unexpectedKeys(file: url.path, expected: subfolder, found: tensors.keys.sorted())
        }
        return t.asType(.float32)
    }

    /// The entries of a cache's manifest `videos2caption.json`: a clear error when it is missing (`preprocess` names
    /// the command that writes it), unreadable, or not a list of entries with `fields`.
    static func readManifest<Entry: Decodable>(_ url: URL, fields: [String], preprocess: String) throws -> [Entry] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelFolderError.embeddingManifest(
                file: url.path, reason: "no embedding manifest (run `\(preprocess)` first)")
        }
        do {
            return try JSONDecoder().decode([Entry].self, from: Data(contentsOf: url))
        } catch let error as DecodingError {
            throw FluxEmbeddingCacheError.malformedManifest(file: url.path, reason: describe(error, fields: fields))
        } catch {
            throw ModelFolderError.embeddingManifest(file: url.path, reason: "unreadable: \(error)")
        }
    }

    /// Writes a manifest atomically, pretty-printed with sorted keys as people read and diff it.
    static func writeManifest<Entry: Encodable>(_ entries: [Entry], to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(entries), to: url)
    }

    /// A manifest decoding failure as the key path and what was expected (`fields`), without Swift's internal
    /// description.
    static func describe(_ error: DecodingError, fields: [String]) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        let expected = "expected a list of {\(fields.joined(separator: ", "))} strings"
        switch error {
        case .keyNotFound(let key, let context):
            return "entry\(path(context.codingPath)) has no '\(key.stringValue)'; \(expected)"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let at = context.codingPath.isEmpty ? "the top level" : "entry\(path(context.codingPath))"
            return "\(at) is not a \(type); \(expected)"
        case .dataCorrupted(let context):
            return "not valid JSON (\(context.debugDescription)); \(expected)"
        @unknown default: return expected
        }
    }
}
