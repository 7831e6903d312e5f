import Checkpoints
import Engine
import Foundation

/// The cache of the Qwen-Image-Edit trainer, in the layout of DanceGRPO's `preprocess_qwenimage_edit_embeddings.py`
/// (linked below): per sample `prompt_embed/<i>.<ext>` `[T, hidden]`, the instruction's Qwen2.5-VL states encoded
/// with the condition image in the Edit template (`QwenImageEditPipeline.encode_prompt(image=…)`), zero-padded to `T`
/// tokens (the seed's 5000); `prompt_attention_mask/<i>.<ext>` `[T]` (1 for the real tokens); and
/// `image_latents/<i>.<ext>` `[z_dim, 1, h, w]`, the condition image's VAE latents as `_encode_vae_image` returns them
/// (the posterior's mean, `(z − mean) / std`, not packed) at the size `calculate_dimensions(1024², w / h)` gives.
/// `videos2caption.json` lists `{prompt_embed_path, prompt_attention_mask, image_latents, caption, original_length,
/// calculated_height, calculated_width}`: file names relative to their folders, the instruction, its token count and
/// the condition image's size in pixels. Files are our safetensors (one tensor named like its folder) or the seed's
/// `torch.save` pickles.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/data_preprocess/preprocess_qwenimage_edit_embeddings.py
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/dataset/latent_qwenimage_edit_rl_datasets.py
public struct QwenImageEditEmbeddingCache {
    public struct Entry: Codable, Sendable, Equatable {
        public var promptEmbedPath: String
        public var promptAttentionMask: String
        public var imageLatents: String
        public var caption: String
        public var originalLength: Int
        public var calculatedHeight: Int
        public var calculatedWidth: Int

        public init(
            promptEmbedPath: String, promptAttentionMask: String, imageLatents: String, caption: String,
            originalLength: Int, calculatedHeight: Int, calculatedWidth: Int
        ) {
            self.promptEmbedPath = promptEmbedPath
            self.promptAttentionMask = promptAttentionMask
            self.imageLatents = imageLatents
            self.caption = caption
            self.originalLength = originalLength
            self.calculatedHeight = calculatedHeight
            self.calculatedWidth = calculatedWidth
        }

        enum CodingKeys: String, CodingKey {
            case promptEmbedPath = "prompt_embed_path", promptAttentionMask = "prompt_attention_mask"
            case imageLatents = "image_latents", caption, originalLength = "original_length"
            case calculatedHeight = "calculated_height", calculatedWidth = "calculated_width"
        }
    }

    /// One sample as the trainer takes it: the instruction's states `[original_length, hidden]` and mask, float32; the
    /// condition latents packed `[(h/2)·(w/2), 4·z_dim]` with their `img_shapes` entry.
    public struct Sample {
        public var promptEmbeds: Tensor
        public var mask: Tensor
        public var condition: QwenImageConditionLatents
    }

    public static let manifestName = "videos2caption.json"
    public static let folders = (prompt: "prompt_embed", mask: "prompt_attention_mask", image: "image_latents")
    /// The seed pads every sample's states and mask to this many tokens.
    public static let paddedLength = 5000

    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    public var manifestURL: URL { folder.appendingPathComponent(Self.manifestName) }

    /// Writes one sample: states `[L, hidden]` zero-padded to `paddedLength` tokens, the mask (`L` ones, int64 as the
    /// seed's) and the condition latents `[1, z_dim, 1, h, w]` or `[z_dim, 1, h, w]` (stored as the latter), each file
    /// atomically.
    public func write(
        index: Int, promptEmbeds: Tensor, imageLatents: Tensor, caption: String,
        calculatedSize: (height: Int, width: Int), paddedLength: Int = paddedLength, dtype: DType
    ) throws -> Entry {
        let length = promptEmbeds.dim(0)
        precondition(
            promptEmbeds.ndim == 2 && length >= 1 && length <= paddedLength,
            "QwenImageEditEmbeddingCache: expected states [L ≤ \(paddedLength), hidden], got \(promptEmbeds.shape)")
        let latents = imageLatents.ndim == 5 ? imageLatents[0] : imageLatents
        precondition(
            latents.ndim == 4 && latents.dim(1) == 1,
            "QwenImageEditEmbeddingCache: expected latents [z_dim, 1, h, w], got \(imageLatents.shape)")
        let name = "\(index).safetensors"
        let f = Self.folders
        let padding = Tensor.zeros([paddedLength - length, promptEmbeds.dim(1)], dtype: promptEmbeds.dtype)
        let padded = concatenated([promptEmbeds, padding], axis: 0)
        let mask = Tensor((0..<paddedLength).map { Int64($0 < length ? 1 : 0) }, shape: [paddedLength])
        for (sub, tensor) in [(f.prompt, padded.asType(dtype)), (f.mask, mask), (f.image, latents.asType(dtype))] {
            try SafeTensors.save([sub: tensor], to: folder.appendingPathComponent(sub).appendingPathComponent(name))
        }
        return Entry(
            promptEmbedPath: name, promptAttentionMask: name, imageLatents: name, caption: caption,
            originalLength: length, calculatedHeight: calculatedSize.height, calculatedWidth: calculatedSize.width)
    }

    public func writeManifest(_ entries: [Entry]) throws {
        try EmbeddingCacheFile.writeManifest(entries, to: manifestURL)
    }

    /// The manifest's entries; every file name must lie inside its field's folder, every `original_length` and
    /// condition size be at least 1.
    public func readManifest() throws -> [Entry] {
        let entries: [Entry] = try EmbeddingCacheFile.readManifest(
            manifestURL,
            fields: [
                "prompt_embed_path", "prompt_attention_mask", "image_latents", "caption", "original_length",
                "calculated_height", "calculated_width"
            ],
            preprocess: "dancegrpo preprocess --model qwen-image-edit")
        let f = Self.folders
        for (index, entry) in entries.enumerated() {
            for (field, sub, name) in [
                ("prompt_embed_path", f.prompt, entry.promptEmbedPath),
                ("prompt_attention_mask", f.mask, entry.promptAttentionMask),
                ("image_latents", f.image, entry.imageLatents)
            ] where ContainedPath.resolve(name, in: folder.appendingPathComponent(sub)) == nil {
                throw FluxEmbeddingCacheError.pathOutsideCache(
                    file: manifestURL.path, index: index, field: field, path: name, folder: sub)
            }
            guard entry.originalLength >= 1, entry.calculatedHeight >= 1, entry.calculatedWidth >= 1 else {
                throw FluxEmbeddingCacheError.malformedManifest(
                    file: manifestURL.path,
                    reason:
                        """
                        entry [\(index)] has original_length \(entry.originalLength), calculated size \
                        \(entry.calculatedHeight)×\(entry.calculatedWidth); expected at least 1 each
                        """)
            }
        }
        return entries
    }

    /// One entry's states and mask cut to its `original_length` tokens, as the seed's trainer slices them, and its
    /// condition latents packed as the seed's `pack_latents` does, their grid checked against the calculated size
    /// (`vaeScaleFactor` pixels per latent cell: the seed's `img_shapes` entry is `calculated // 8 // 2`).
    public func load(_ entry: Entry, vaeScaleFactor: Int = 8) throws -> Sample {
        let f = Self.folders
        func read(_ name: String, _ sub: String) throws -> Tensor {
            try EmbeddingCacheFile.read(name, subfolder: sub, cache: folder, manifest: manifestURL)
        }
        let states = try read(entry.promptEmbedPath, f.prompt)
        let mask = try read(entry.promptAttentionMask, f.mask)
        var latents = try read(entry.imageLatents, f.image)
        if latents.ndim == 3 { latents = latents.expandedDims(axis: 1) }
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
        let cell = 2 * vaeScaleFactor
        let grid = (height: entry.calculatedHeight / cell * 2, width: entry.calculatedWidth / cell * 2)
        guard latents.ndim == 4, latents.dim(1) == 1, latents.dim(2) == grid.height, latents.dim(3) == grid.width
        else {
            throw FluxEmbeddingCacheError.malformedManifest(
                file: manifestURL.path,
                reason:
                    """
                    \(f.image)/\(entry.imageLatents) \(latents.shape) are not latents [z_dim, 1, \(grid.height), \
                    \(grid.width)] of the calculated size \(entry.calculatedHeight)×\(entry.calculatedWidth)
                    """)
        }
        let packed = QwenImageLatents.pack(latents.expandedDims(axis: 0))[0]
        return Sample(
            promptEmbeds: states[0..<length], mask: mask[0..<length],
            condition: QwenImageConditionLatents(
                latents: packed, shape: QwenImageLatents.imageShape(height: grid.height, width: grid.width)))
    }
}
