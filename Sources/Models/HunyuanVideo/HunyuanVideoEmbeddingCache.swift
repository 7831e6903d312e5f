import Checkpoints
import Engine
import Foundation

/// The text-embedding cache of the HunyuanVideo trainer, in the layout of DanceGRPO's
/// `preprocess_hunyuan_embeddings.py` with `--model_type hunyuan_hf` (its `HunyuanTextEncoderWrapper.encode_prompt`,
/// linked below): `prompt_embed/<i>.<ext>` `[1 + L, hidden]`, whose row 0 is CLIP-L's pooled vector zero-padded to the
/// Llama width and whose rows 1… are the Llama states of the templated prompt after the template's `crop_start`
/// tokens (padded to the sequence length; the padding positions' states as the encoder returns them), and
/// `prompt_attention_mask/<i>.<ext>` `[L]` (1 for the prompt's tokens), with `videos2caption.json`, a list of
/// `{prompt_embed_path, prompt_attention_mask, caption}` with file names relative to the folders. The seed's
/// transformer (`fastvideo/models/hunyuan_hf`) splits row 0 off again (its first `pooled_projection_dim` features are
/// the pooled vector). Files are our safetensors (one tensor named like its folder) or DanceGRPO's `torch.save`
/// pickles. There is no negative prompt: the seed trains HunyuanVideo with the transformer's embedded guidance only.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/utils/load.py#L62-L174
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/dataset/latent_rl_datasets.py
public struct HunyuanVideoEmbeddingCache {
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
            case promptEmbedPath = "prompt_embed_path", promptAttentionMask = "prompt_attention_mask"
            case caption
        }
    }

    /// One prompt's conditioning as the transformer takes it.
    public struct Row {
        /// Llama states `[L, hidden]`.
        public var promptEmbeds: Tensor
        /// `[L]`, int32, 1 for the prompt's tokens.
        public var attentionMask: Tensor
        /// CLIP's pooled vector `[pooled]`.
        public var pooledPromptEmbeds: Tensor
    }

    public static let manifestName = "videos2caption.json"
    public static let folders = (prompt: "prompt_embed", mask: "prompt_attention_mask")

    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    public var manifestURL: URL { folder.appendingPathComponent(Self.manifestName) }

    /// The seed's packing of one prompt: CLIP's pooled vector `[pooled]` zero-padded to the states' width, then the
    /// states `[L, hidden]`: `[1 + L, hidden]`.
    public static func packed(promptEmbeds: Tensor, pooledPromptEmbeds: Tensor) -> Tensor {
        let hidden = promptEmbeds.dim(1)
        let pooled = pooledPromptEmbeds.dim(0)
        precondition(
            promptEmbeds.ndim == 2 && pooledPromptEmbeds.ndim == 1 && pooled <= hidden,
            """
            HunyuanVideoEmbeddingCache: expected states [L, hidden] and a pooled vector of at most hidden \
            features, got \(promptEmbeds.shape) and \(pooledPromptEmbeds.shape)
            """)
        let first = concatenated(
            [pooledPromptEmbeds.asType(promptEmbeds.dtype), Tensor.zeros([hidden - pooled], dtype: promptEmbeds.dtype)],
            axis: 0)
        return concatenated([first.expandedDims(axis: 0), promptEmbeds], axis: 0)
    }

    /// Writes one prompt's packed states and its mask (int64, as the tokenizer's mask the seed saves), each file
    /// atomically.
    public func write(
        index: Int, promptEmbeds: Tensor, attentionMask: Tensor, pooledPromptEmbeds: Tensor, caption: String,
        dtype: DType
    ) throws -> Entry {
        precondition(
            attentionMask.shape == [promptEmbeds.dim(0)],
            "HunyuanVideoEmbeddingCache: a mask \(attentionMask.shape) for states \(promptEmbeds.shape)")
        let name = "\(index).safetensors"
        let f = Self.folders
        let packed = Self.packed(promptEmbeds: promptEmbeds, pooledPromptEmbeds: pooledPromptEmbeds)
        try SafeTensors.save(
            [f.prompt: packed.asType(dtype)], to: folder.appendingPathComponent(f.prompt).appendingPathComponent(name))
        try SafeTensors.save(
            [f.mask: attentionMask.asType(.int64)],
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
            preprocess: "dancegrpo preprocess --model hunyuan-video")
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

    /// One entry split as the seed's transformer splits it: row 0's first `pooledDim` features are the pooled vector,
    /// rows 1… the states, with the mask of as many tokens; float32 states, int32 mask.
    public func load(_ entry: Entry, pooledDim: Int) throws -> Row {
        let f = Self.folders
        let packed = try EmbeddingCacheFile.read(
            entry.promptEmbedPath, subfolder: f.prompt, cache: folder, manifest: manifestURL)
        let mask = try EmbeddingCacheFile.read(
            entry.promptAttentionMask, subfolder: f.mask, cache: folder, manifest: manifestURL)
        guard packed.ndim == 2, mask.ndim == 1, packed.dim(0) == mask.dim(0) + 1, pooledDim <= packed.dim(1) else {
            throw FluxEmbeddingCacheError.malformedManifest(
                file: manifestURL.path,
                reason:
                    """
                    \(f.prompt)/\(entry.promptEmbedPath) \(packed.shape) and \(f.mask)/\(entry.promptAttentionMask) \
                    \(mask.shape) are not packed states [1 + L, hidden] (row 0: the pooled vector of \(pooledDim) \
                    features) and a mask [L]
                    """)
        }
        return Row(
            promptEmbeds: packed[1..<packed.dim(0)], attentionMask: mask.asType(.int32),
            pooledPromptEmbeds: packed[0][0..<pooledDim])
    }
}
