import Checkpoints
import Engine
import Foundation

/// The text-embedding cache of the FLUX trainer, in the layout of DanceGRPO's `preprocess_flux_embedding.py`
/// (linked below) with safetensors instead of pickles: `prompt_embed/<i>.safetensors` `[L, 4096]`,
/// `pooled_prompt_embeds/<i>.safetensors` `[768]`, `text_ids/<i>.safetensors` `[L, 3]` (one tensor each, named like
/// its folder) and `videos2caption.json`, a list of `{prompt_embed_path, pooled_prompt_embeds_path, text_ids, caption}`
/// with file names relative to the folders. `i` is the prompt's line number in the source file. Caches written by
/// DanceGRPO itself (`<i>.pt` files, each a `torch.save`d tensor) are read too, so its preprocessed embeddings need no
/// conversion.
/// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/data_preprocess/preprocess_flux_embedding.py#L116
public struct FluxEmbeddingCache {
    public struct Entry: Codable, Sendable, Equatable {
        public var promptEmbedPath: String
        public var pooledPromptEmbedsPath: String
        public var textIds: String
        public var caption: String

        public init(promptEmbedPath: String, pooledPromptEmbedsPath: String, textIds: String, caption: String) {
            self.promptEmbedPath = promptEmbedPath
            self.pooledPromptEmbedsPath = pooledPromptEmbedsPath
            self.textIds = textIds
            self.caption = caption
        }

        enum CodingKeys: String, CodingKey {
            case promptEmbedPath = "prompt_embed_path", pooledPromptEmbedsPath = "pooled_prompt_embeds_path"
            case textIds = "text_ids", caption
        }
    }

    public static let manifestName = "videos2caption.json"
    static let folders = (prompt: "prompt_embed", pooled: "pooled_prompt_embeds", ids: "text_ids")

    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    public var manifestURL: URL { folder.appendingPathComponent(FluxEmbeddingCache.manifestName) }

    /// File name of prompt `index`.
    static func fileName(_ index: Int) -> String { "\(index).safetensors" }

    /// Whether prompt `index` has all three files (a resumed run skips it).
    public func contains(_ index: Int) -> Bool {
        let name = FluxEmbeddingCache.fileName(index)
        let f = FluxEmbeddingCache.folders
        return [f.prompt, f.pooled, f.ids].allSatisfy {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).appendingPathComponent(name).path)
        }
    }

    /// Writes one prompt's tensors (each file atomically; the ids file last, so `contains` sees complete entries).
    public func write(index: Int, embeddings: FluxPromptEmbeddings, row: Int, dtype: DType) throws -> Entry {
        let name = FluxEmbeddingCache.fileName(index)
        let f = FluxEmbeddingCache.folders
        try SafeTensors.save(
            [f.prompt: embeddings.promptEmbeds[row].asType(dtype)],
            to: folder.appendingPathComponent(f.prompt).appendingPathComponent(name))
        try SafeTensors.save(
            [f.pooled: embeddings.pooledPromptEmbeds[row].asType(dtype)],
            to: folder.appendingPathComponent(f.pooled).appendingPathComponent(name))
        try SafeTensors.save(
            [f.ids: embeddings.textIds], to: folder.appendingPathComponent(f.ids).appendingPathComponent(name))
        return Entry(promptEmbedPath: name, pooledPromptEmbedsPath: name, textIds: name, caption: "")
    }

    public func writeManifest(_ entries: [Entry]) throws {
        try EmbeddingCacheFile.writeManifest(entries, to: manifestURL)
    }

    /// The manifest's entries; every file name in it must lie inside its field's folder of the cache.
    public func readManifest() throws -> [Entry] {
        let entries: [Entry] = try EmbeddingCacheFile.readManifest(
            manifestURL, fields: ["prompt_embed_path", "pooled_prompt_embeds_path", "text_ids", "caption"],
            preprocess: "dancegrpo preprocess")
        let f = FluxEmbeddingCache.folders
        for (index, entry) in entries.enumerated() {
            for (field, sub, name) in [
                ("prompt_embed_path", f.prompt, entry.promptEmbedPath),
                ("pooled_prompt_embeds_path", f.pooled, entry.pooledPromptEmbedsPath),
                ("text_ids", f.ids, entry.textIds)
            ] where ContainedPath.resolve(name, in: folder.appendingPathComponent(sub)) == nil {
                throw FluxEmbeddingCacheError.pathOutsideCache(
                    file: manifestURL.path, index: index, field: field, path: name, folder: sub)
            }
        }
        return entries
    }

    /// The embeddings of several entries as one batch, in float32.
    public func load(_ entries: [Entry]) throws -> FluxPromptEmbeddings {
        let f = FluxEmbeddingCache.folders
        func read(_ sub: String, _ file: String) throws -> Tensor {
            try EmbeddingCacheFile.read(file, subfolder: sub, cache: folder, manifest: manifestURL)
        }
        guard let first = entries.first else {
            throw FluxEmbeddingCacheError.noEntries(folder: folder.path)
        }
        let prompts = try entries.map { try read(f.prompt, $0.promptEmbedPath) }
        let pooled = try entries.map { try read(f.pooled, $0.pooledPromptEmbedsPath) }
        let ids = try read(f.ids, first.textIds)
        return FluxPromptEmbeddings(
            promptEmbeds: stacked(prompts, axis: 0), pooledPromptEmbeds: stacked(pooled, axis: 0), textIds: ids)
    }
}

/// What is wrong with an embedding cache's manifest or its use.
public enum FluxEmbeddingCacheError: Error, CustomStringConvertible, Sendable {
    /// The manifest is not a list of entries (`reason`: where, and what was expected).
    case malformedManifest(file: String, reason: String)
    /// Entry `index` (nil: an entry not read from the manifest) names `path` in `field`, which leads out of the
    /// cache's `folder` (an absolute path, `..`, or a symbolic link pointing elsewhere).
    case pathOutsideCache(file: String, index: Int?, field: String, path: String, folder: String)
    /// Loading a batch of no entries.
    case noEntries(folder: String)

    public var description: String {
        switch self {
        case .malformedManifest(let file, let reason):
            return "\(file.escapedForTerminal): malformed embedding manifest: \(reason.escapedForTerminal)"
        case .pathOutsideCache(let file, let index, let field, let path, let folder):
            let entry = index.map { "entry \($0): " } ?? ""
            return """
                \(file.escapedForTerminal): \(entry)\(field) '\(path.escapedForTerminal)' is outside the cache's \
                \(folder)/ folder (expected a file name inside it)
                """
        case .noEntries(let folder): return "\(folder.escapedForTerminal): no embedding cache entries to load"
        }
    }
}
