import Checkpoints
import Engine
import Foundation

/// The text-embedding cache of the Qwen-Image trainer, in the layout of DanceGRPO's
/// `preprocess_qwenimage_embedding.py` (linked below): `prompt_embed/<i>.<ext>` `[T, hidden]` Qwen2.5-VL states of the
/// prompt as `QwenImagePipeline.encode_prompt` returns them, zero-padded to `T` tokens (the seed's 1024), and
/// `prompt_attention_mask/<i>.<ext>` `[T]` (1 for the prompt's tokens), with `videos2caption.json`, a list of
/// `{prompt_embed_path, prompt_attention_mask, caption, original_length}`: file names relative to the folders and the
/// prompt's own token count, the part of the padded tensors the seed's trainer feeds the transformer. Files are our
/// safetensors (one tensor named like its folder) or DanceGRPO's `torch.save` pickles. There is no negative prompt:
/// the seed trains Qwen-Image without classifier-free guidance.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/data_preprocess/preprocess_qwenimage_embedding.py
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/dataset/latent_qwenimage_rl_datasets.py
public struct QwenImageEmbeddingCache {
    public struct Entry: Codable, Sendable, Equatable {
        public var promptEmbedPath: String
        public var promptAttentionMask: String
        public var caption: String
        public var originalLength: Int

        public init(promptEmbedPath: String, promptAttentionMask: String, caption: String, originalLength: Int) {
            self.promptEmbedPath = promptEmbedPath
            self.promptAttentionMask = promptAttentionMask
            self.caption = caption
            self.originalLength = originalLength
        }

        enum CodingKeys: String, CodingKey {
            case promptEmbedPath = "prompt_embed_path", promptAttentionMask = "prompt_attention_mask"
            case caption, originalLength = "original_length"
        }
    }

    public static let manifestName = "videos2caption.json"
    public static let folders = (prompt: "prompt_embed", mask: "prompt_attention_mask")
    /// The seed pads every prompt's states and mask to this many tokens.
    public static let paddedLength = 1024

    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    public var manifestURL: URL { folder.appendingPathComponent(Self.manifestName) }

    /// Writes one prompt's states `[L, hidden]` zero-padded to `paddedLength` tokens and its mask (`L` ones, int64 as
    /// the seed's), each file atomically.
    public func write(index: Int, promptEmbeds: Tensor, caption: String, paddedLength: Int = paddedLength, dtype: DType)
        throws -> Entry
    {
        let length = promptEmbeds.dim(0)
        precondition(
            promptEmbeds.ndim == 2 && length >= 1 && length <= paddedLength,
            "QwenImageEmbeddingCache: expected states [L ≤ \(paddedLength), hidden], got \(promptEmbeds.shape)")
        let name = "\(index).safetensors"
        let f = Self.folders
        let padding = Tensor.zeros([paddedLength - length, promptEmbeds.dim(1)], dtype: promptEmbeds.dtype)
        let padded = concatenated([promptEmbeds, padding], axis: 0)
        let mask = Tensor((0..<paddedLength).map { Int64($0 < length ? 1 : 0) }, shape: [paddedLength])
        try SafeTensors.save(
            [f.prompt: padded.asType(dtype)], to: folder.appendingPathComponent(f.prompt).appendingPathComponent(name))
        try SafeTensors.save([f.mask: mask], to: folder.appendingPathComponent(f.mask).appendingPathComponent(name))
        return Entry(promptEmbedPath: name, promptAttentionMask: name, caption: caption, originalLength: length)
    }

    public func writeManifest(_ entries: [Entry]) throws {
        try EmbeddingCacheFile.writeManifest(entries, to: manifestURL)
    }

    /// The manifest's entries; every file name must lie inside its field's folder and every `original_length` be at
    /// least 1.
    public func readManifest() throws -> [Entry] {
        let entries: [Entry] = try EmbeddingCacheFile.readManifest(
            manifestURL, fields: ["prompt_embed_path", "prompt_attention_mask", "caption", "original_length"],
            preprocess: "dancegrpo preprocess --model qwen-image")
        let f = Self.folders
        for (index, entry) in entries.enumerated() {
            for (field, sub, name) in [
                ("prompt_embed_path", f.prompt, entry.promptEmbedPath),
                ("prompt_attention_mask", f.mask, entry.promptAttentionMask)
            ] where ContainedPath.resolve(name, in: folder.appendingPathComponent(sub)) == nil {
                throw FluxEmbeddingCacheError.pathOutsideCache(
                    file: manifestURL.path, index: index, field: field, path: name, folder: sub)
            }
            guard entry.originalLength >= 1 else {
                throw FluxEmbeddingCacheError.malformedManifest(
                    file: manifestURL.path,
                    reason: "entry [\(index)] has original_length \(entry.originalLength); expected at least 1 token")
            }
        }
        return entries
    }

    /// One entry's states and mask cut to its `original_length` tokens, as the seed's trainer slices them:
    /// `([original_length, hidden], [original_length])`, float32.
    public func load(_ entry: Entry) throws -> (promptEmbeds: Tensor, mask: Tensor) {
        let f = Self.folders
        let states = try EmbeddingCacheFile.read(
            entry.promptEmbedPath, subfolder: f.prompt, cache: folder, manifest: manifestURL)
        let mask = try EmbeddingCacheFile.read(
            entry.promptAttentionMask, subfolder: f.mask, cache: folder, manifest: manifestURL)
        let length = entry.originalLength
        guard states.ndim == 2, mask.ndim == 1, states.dim(0) == mask.dim(0), length <= states.dim(0) else {
            throw FluxEmbeddingCacheError.malformedManifest(
                file: manifestURL.path,
                reason:
                    """
                    \(f.prompt)/\(entry.promptEmbedPath) \(states.shape) and \(f.mask)/\(entry.promptAttentionMask) \
                    \(mask.shape) are not states [T, hidden] and a mask [T] with T ≥ original_length \(length)
                    """)
        }
        return (states[0..<length], mask[0..<length])
    }
}
