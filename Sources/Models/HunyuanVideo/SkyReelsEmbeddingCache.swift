import Checkpoints
import Engine
import Foundation

/// The text-embedding cache of DanceGRPO's HunyuanVideo and SkyReels-I2V trainers, in the layout its
/// `preprocess_hunyuan_embeddings.py` writes (run by preprocess_skyreels_rl_embeddings.sh): `prompt_embed/<i>.<ext>`
/// `[1 + L, D]`, the CLIP-L pooled vector zero-padded to D in row 0 followed by the L templated Llama 3 states,
/// `prompt_attention_mask/<i>.<ext>` `[L]` the Llama mask, and `videos2caption.json`, a list of `{prompt_embed_path,
/// prompt_attention_mask, caption}`. The seed caches the empty prompt the same way in a folder of its own
/// (`data/empty`, the unconditional branch of its CFG); `preprocess` writes it to ``emptyFolderName`` inside the cache.
/// Files are our safetensors (one tensor named like its folder) or DanceGRPO's `torch.save` pickles.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/utils/load.py#L150-L160
public struct SkyReelsEmbeddingCache {
    public struct Entry: Codable, Sendable, Equatable {
        public var promptEmbedPath: String
        public var promptAttentionMask: String
        public var caption: String

        public init(promptEmbedPath: String, promptAttentionMask: String, caption: String) {
            self.promptEmbedPath = promptEmbedPath
            self.promptAttentionMask = promptAttentionMask
            self.caption = caption
        }

        enum CodingKeys: String, CodingKey {
            case promptEmbedPath = "prompt_embed_path", promptAttentionMask = "prompt_attention_mask", caption
        }
    }

    public static let manifestName = "videos2caption.json"
    public static let folders = (prompt: "prompt_embed", mask: "prompt_attention_mask")
    /// Where `preprocess` caches the empty prompt: a cache of its own inside this one.
    public static let emptyFolderName = "empty"

    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    public var manifestURL: URL { folder.appendingPathComponent(Self.manifestName) }

    /// The empty prompt's cache: `<cache>/empty`, else the seed's sibling `data/empty` beside `data/rl_embeddings`.
    public var emptyCache: SkyReelsEmbeddingCache? {
        [
            folder.appendingPathComponent(Self.emptyFolderName),
            folder.deletingLastPathComponent().appendingPathComponent(Self.emptyFolderName)
        ].map(SkyReelsEmbeddingCache.init).first {
            FileManager.default.fileExists(atPath: $0.manifestURL.path)
        }
    }

    /// The seed's row layout for one prompt: `[1 + L, D]` from states `[L, D]` and pooled `[P]`, P ≤ D.
    public static func packed(promptEmbeds: Tensor, pooled: Tensor) -> Tensor {
        let d = promptEmbeds.dim(-1)
        precondition(pooled.dim(-1) <= d, "a pooled vector of \(pooled.dim(-1)) features beside \(d)-dim states")
        let row = concatenated([pooled.asType(.float32), Tensor.zeros([d - pooled.dim(-1)])], axis: 0)
        return concatenated([row.expandedDims(axis: 0), promptEmbeds.asType(.float32)], axis: 0)
    }

    /// Writes one prompt's files (states `[L, D]`, mask `[L]`, pooled `[P]`), each atomically.
    public func write(
        index: Int, promptEmbeds: Tensor, attentionMask: Tensor, pooled: Tensor, caption: String, dtype: DType
    ) throws -> Entry {
        let name = "\(index).safetensors"
        let f = Self.folders
        try SafeTensors.save(
            [f.prompt: Self.packed(promptEmbeds: promptEmbeds, pooled: pooled).asType(dtype)],
            to: folder.appendingPathComponent(f.prompt).appendingPathComponent(name))
        try SafeTensors.save(
            [f.mask: attentionMask.asType(.float32)],
            to: folder.appendingPathComponent(f.mask).appendingPathComponent(name))
        return Entry(promptEmbedPath: name, promptAttentionMask: name, caption: caption)
    }

    public func writeManifest(_ entries: [Entry]) throws {
        try EmbeddingCacheFile.writeManifest(entries, to: manifestURL)
    }

    /// The manifest's entries; every file name in it must lie inside its field's folder of the cache.
    public func readManifest() throws -> [Entry] {
        let entries: [Entry] = try EmbeddingCacheFile.readManifest(
            manifestURL, fields: ["prompt_embed_path", "prompt_attention_mask", "caption"],
            preprocess: "dancegrpo preprocess --model skyreels-i2v")
        let f = Self.folders
        for (index, entry) in entries.enumerated() {
            for (field, sub, name) in [
                ("prompt_embed_path", f.prompt, entry.promptEmbedPath),
                ("prompt_attention_mask", f.mask, entry.promptAttentionMask)
            ] where ContainedPath.resolve(name, in: folder.appendingPathComponent(sub)) == nil {
                throw FluxEmbeddingCacheError.pathOutsideCache(
                    file: manifestURL.path, index: index, field: field, path: name, folder: sub)
            }
        }
        return entries
    }

    /// The conditioning of several entries as one batch: states `[B, L, D]`, mask `[B, L]` and the pooled vectors
    /// `[B, pooledDim]` (row 0's first `pooledDim` features, as the seed's transformer reads them), float32.
    public func conditioning(_ entries: [Entry], pooledDim: Int) throws -> HunyuanVideoPipeline.Conditioning {
        guard !entries.isEmpty else { throw FluxEmbeddingCacheError.noEntries(folder: folder.path) }
        var embeds: [Tensor] = [], masks: [Tensor] = []
        for entry in entries {
            let e = try EmbeddingCacheFile.read(
                entry.promptEmbedPath, subfolder: Self.folders.prompt, cache: folder, manifest: manifestURL)
            let m = try EmbeddingCacheFile.read(
                entry.promptAttentionMask, subfolder: Self.folders.mask, cache: folder, manifest: manifestURL)
            guard e.ndim == 2, m.ndim == 1, e.dim(0) == m.dim(0) + 1, e.dim(1) >= pooledDim,
                embeds.first.map({ $0.shape == e.shape }) ?? true
            else {
                throw FluxEmbeddingCacheError.malformedManifest(
                    file: manifestURL.path,
                    reason:
                        """
                        \(entry.promptEmbedPath): states \(e.shape) and mask \(m.shape), expected [1 + L, D ≥ \
                        \(pooledDim)] (the pooled vector in row 0) and [L], the batch's first's shapes
                        """)
            }
            embeds.append(e.asType(.float32))
            masks.append(m.asType(.float32))
        }
        let states = stacked(embeds, axis: 0)
        let length = states.dim(1)
        return HunyuanVideoPipeline.Conditioning(
            promptEmbeds: states[.all, 1..<length], attentionMask: stacked(masks, axis: 0),
            pooledPromptEmbeds: states[.all, 0, 0..<pooledDim])
    }
}
