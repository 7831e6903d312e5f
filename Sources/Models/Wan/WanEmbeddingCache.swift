import Checkpoints
import Engine
import Foundation

/// The text-embedding cache of the Wan trainer, in the layout of DanceGRPO's `preprocess_wan_2_1_embeddings.py` (linked
/// below): `prompt_embed/<i>.<ext>` `[L, 4096]` UMT5 states of the prompt and `negative_prompt_embeds/<i>.<ext>` `[L,
/// 4096]` those of the negative prompt (the empty prompt in DanceGRPO), zero-padded past each prompt's length as
/// `WanPipeline.encode_prompt` returns them, and `videos2caption.json`, a list of `{prompt_embed_path,
/// negative_prompt_embeds_path, caption}` with file names relative to the folders. Files are our safetensors (one
/// tensor named like its folder) or DanceGRPO's `torch.save` pickles.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/data_preprocess/preprocess_wan_2_1_embeddings.py
public struct WanEmbeddingCache {
    public struct Entry: Codable, Sendable, Equatable {
        public var promptEmbedPath: String
        public var negativePromptEmbedsPath: String
        public var caption: String

        public init(promptEmbedPath: String, negativePromptEmbedsPath: String, caption: String) {
            self.promptEmbedPath = promptEmbedPath
            self.negativePromptEmbedsPath = negativePromptEmbedsPath
            self.caption = caption
        }

        enum CodingKeys: String, CodingKey {
            case promptEmbedPath = "prompt_embed_path", negativePromptEmbedsPath = "negative_prompt_embeds_path"
            case caption
        }
    }

    public static let manifestName = "videos2caption.json"
    public static let folders = (prompt: "prompt_embed", negative: "negative_prompt_embeds")

    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    public var manifestURL: URL { folder.appendingPathComponent(Self.manifestName) }

    /// Writes one prompt's states and its negative prompt's (`[L, D]` each), each file atomically.
    public func write(index: Int, promptEmbeds: Tensor, negativePromptEmbeds: Tensor, caption: String, dtype: DType)
        throws -> Entry
    {
        let name = "\(index).safetensors"
        let f = Self.folders
        try SafeTensors.save(
            [f.prompt: promptEmbeds.asType(dtype)],
            to: folder.appendingPathComponent(f.prompt).appendingPathComponent(name))
        try SafeTensors.save(
            [f.negative: negativePromptEmbeds.asType(dtype)],
            to: folder.appendingPathComponent(f.negative).appendingPathComponent(name))
        return Entry(promptEmbedPath: name, negativePromptEmbedsPath: name, caption: caption)
    }

    public func writeManifest(_ entries: [Entry]) throws {
        try EmbeddingCacheFile.writeManifest(entries, to: manifestURL)
    }

    /// The manifest's entries; every file name in it must lie inside its field's folder of the cache.
    public func readManifest() throws -> [Entry] {
        let entries: [Entry] = try EmbeddingCacheFile.readManifest(
            manifestURL, fields: ["prompt_embed_path", "negative_prompt_embeds_path", "caption"],
            preprocess: "dancegrpo preprocess --model wan")
        let f = Self.folders
        for (index, entry) in entries.enumerated() {
            for (field, sub, name) in [
                ("prompt_embed_path", f.prompt, entry.promptEmbedPath),
                ("negative_prompt_embeds_path", f.negative, entry.negativePromptEmbedsPath)
            ] where ContainedPath.resolve(name, in: folder.appendingPathComponent(sub)) == nil {
                throw FluxEmbeddingCacheError.pathOutsideCache(
                    file: manifestURL.path, index: index, field: field, path: name, folder: sub)
            }
        }
        return entries
    }

    /// The prompt states of several entries as one batch `[B, L, D]`, float32.
    public func promptEmbeds(_ entries: [Entry]) throws -> Tensor {
        try batch(entries.map { ($0.promptEmbedPath, Self.folders.prompt) })
    }

    /// The negative prompt states of several entries as one batch `[B, L, D]`, float32.
    public func negativePromptEmbeds(_ entries: [Entry]) throws -> Tensor {
        try batch(entries.map { ($0.negativePromptEmbedsPath, Self.folders.negative) })
    }

    private func batch(_ files: [(name: String, subfolder: String)]) throws -> Tensor {
        guard !files.isEmpty else { throw FluxEmbeddingCacheError.noEntries(folder: folder.path) }
        let rows = try files.map {
            try EmbeddingCacheFile.read($0.name, subfolder: $0.subfolder, cache: folder, manifest: manifestURL)
        }
        let shape = rows[0].shape
        for (row, file) in zip(rows, files) where row.shape != shape || row.ndim != 2 {
            throw FluxEmbeddingCacheError.malformedManifest(
                file: manifestURL.path,
                reason:
                    """
                    \(file.subfolder)/\(file.name) holds a tensor of shape \(row.shape), expected [L, D] like the \
                    batch's first, \(shape)
                    """)
        }
        return stacked(rows, axis: 0)
    }
}
