import Checkpoints
import Engine
import Foundation

/// SkyReels-I2V's trainer reads the same cache as HunyuanVideo's (the seed runs the same
/// `preprocess_hunyuan_embeddings.py` for both, from preprocess_skyreels_rl_embeddings.sh), plus the empty prompt
/// cached the same way in a folder of its own (`data/empty`, the unconditional branch of its CFG); `preprocess` writes
/// it to ``HunyuanVideoEmbeddingCache/emptyFolderName`` inside the cache.
/// https://github.com/XueZeyue/DanceGRPO/blob/15cc71d53cc2e6e18a68ee607d5fb6ba9a99e344/fastvideo/utils/load.py#L150-L160
public typealias SkyReelsEmbeddingCache = HunyuanVideoEmbeddingCache

extension HunyuanVideoEmbeddingCache {
    /// Where `preprocess --model skyreels-i2v` caches the empty prompt: a cache of its own inside this one.
    public static let emptyFolderName = "empty"

    /// The empty prompt's cache: `<cache>/empty`, else the seed's sibling `data/empty` beside `data/rl_embeddings`.
    public var emptyCache: HunyuanVideoEmbeddingCache? {
        [
            folder.appendingPathComponent(Self.emptyFolderName),
            folder.deletingLastPathComponent().appendingPathComponent(Self.emptyFolderName)
        ].map(HunyuanVideoEmbeddingCache.init).first {
            FileManager.default.fileExists(atPath: $0.manifestURL.path)
        }
    }

    /// The conditioning of several entries as one batch (``load(_:pooledDim:)`` each; equal lengths): states
    /// `[B, L, D]`, mask `[B, L]` and pooled vectors `[B, pooledDim]`, float32.
    public func conditioning(_ entries: [Entry], pooledDim: Int) throws -> HunyuanVideoPipeline.Conditioning {
        guard !entries.isEmpty else { throw FluxEmbeddingCacheError.noEntries(folder: folder.path) }
        let rows = try entries.map { try load($0, pooledDim: pooledDim) }
        if let other = rows.first(where: { $0.promptEmbeds.shape != rows[0].promptEmbeds.shape }) {
            throw FluxEmbeddingCacheError.malformedManifest(
                file: manifestURL.path,
                reason: "one batch holds states \(rows[0].promptEmbeds.shape) and \(other.promptEmbeds.shape)")
        }
        return HunyuanVideoPipeline.Conditioning(
            promptEmbeds: stacked(rows.map { $0.promptEmbeds.asType(.float32) }),
            attentionMask: stacked(rows.map { $0.attentionMask.asType(.float32) }),
            pooledPromptEmbeds: stacked(rows.map { $0.pooledPromptEmbeds.asType(.float32) }))
    }
}
