import Engine
import NN

/// Token plus learned absolute position embeddings (transformers `CLIPTextEmbeddings`): keys `token_embedding`,
/// `position_embedding`. Older checkpoints also store the `position_ids` buffer; loaders skip it, positions are
/// always 0..<L here.
public final class CLIPTextEmbeddings: Module {
    @Child(key: "token_embedding") public var tokenEmbedding: Embedding
    @Child(key: "position_embedding") public var positionEmbedding: Embedding

    public init(_ config: CLIPTextConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        super.init()
        let keys = key.split(into: 2)
        tokenEmbedding = Embedding(config.vocabSize, config.hiddenSize, dtype: dtype, key: keys[0])
        positionEmbedding = Embedding(config.maxPositionEmbeddings, config.hiddenSize, dtype: dtype, key: keys[1])
    }

    /// `inputIds [B, L]` integer token ids → `[B, L, D]`.
    public func callAsFunction(_ inputIds: Tensor) -> Tensor {
        let length = inputIds.dim(-1)
        guard length <= positionEmbedding.count else {
            Engine.refuse(
                "CLIP text embeddings",
                "sequence length \(length) exceeds max_position_embeddings \(positionEmbedding.count)",
                operands: [inputIds])
            return Tensor.zeros(inputIds.shape + [tokenEmbedding.dimensions], dtype: tokenEmbedding.weight.dtype)
        }
        return tokenEmbedding(inputIds) + positionEmbedding.weight[0..<length]
    }
}
