import Engine
import NN

/// diffusers' `HunyuanVideoTokenRefiner` (the model's `context_embedder`): the text encoder's states are projected to
/// the model width and refined by a few self-attention blocks among the text tokens, each gated by an embedding of
/// the timestep and the masked mean of the text states.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_hunyuan_video.py
public final class HunyuanVideoTokenRefiner: Module {
    /// diffusers' `HunyuanVideoIndividualTokenRefinerBlock`: pre-norm self-attention and a SiLU MLP, each added to the
    /// stream with a gate from the refiner's conditioning (`norm_out`, diffusers' `HunyuanVideoAdaNorm`).
    public final class Block: Module {
        /// diffusers' `FeedForward(activation_fn="linear-silu")`: `net.2(silu(net.0.proj(x)))`.
        public final class SiLUFeedForward: Module, UnaryLayer {
            @Child(key: "net.0.proj") public var input: Linear
            @Child(key: "net.2") public var output: Linear

            init(dim: Int, inner: Int, dtype: DType, key: RandomKey) {
                super.init()
                let keys = key.split(into: 2)
                input = Linear(dim, inner, dtype: dtype, key: keys[0])
                output = Linear(inner, dim, dtype: dtype, key: keys[1])
            }

            public func callAsFunction(_ x: Tensor) -> Tensor { output(silu(input(x))) }
        }

        public let norm1: LayerNorm
        public let attn: MultiHeadAttention
        public let norm2: LayerNorm
        public let ff: SiLUFeedForward
        /// `linear(silu(temb))` → the attention's and the MLP's gates.
        @Child(key: "norm_out.linear") public var gates: Linear

        init(heads: Int, headDim: Int, dtype: DType, key: RandomKey) {
            let dim = heads * headDim, keys = key.split(into: 3)
            norm1 = LayerNorm(dim, eps: 1e-6, dtype: dtype)
            attn = MultiHeadAttention(
                queryDimensions: dim, heads: heads, headDimensions: headDim, bias: true, dtype: dtype, key: keys[0])
            norm2 = LayerNorm(dim, eps: 1e-6, dtype: dtype)
            // The refiner's MLP ratio is diffusers' default 4 whatever the config's `mlp_ratio`.
            ff = SiLUFeedForward(dim: dim, inner: 4 * dim, dtype: dtype, key: keys[1])
            super.init()
            gates = Linear(dim, 2 * dim, dtype: dtype, key: keys[2])
        }

        /// `x [B, L, D]`, `embedding [B, D]`.
        func callAsFunction(_ x: Tensor, embedding: Tensor, mask: AttentionMask) -> Tensor {
            let g = gates(silu(embedding)).expandedDims(axis: 1).split(parts: 2, axis: 2)
            let h = x + attn(norm1(x), mask: mask) * g[0]
            return h + ff(norm2(h)) * g[1]
        }
    }

    /// diffusers' `CombinedTimestepTextProjEmbeddings`: FLUX's timestep + pooled-text embedding without guidance,
    /// fed the masked mean of the text states.
    @Child(key: "time_text_embed") public var timeTextEmbed: FluxTransformer2DModel.TimeTextEmbedding
    @Child(key: "proj_in") public var projIn: Linear
    @Child(key: "token_refiner.refiner_blocks") public var refinerBlocks: [Block]

    public init(
        textDim: Int, heads: Int, headDim: Int, layers: Int, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        super.init()
        let dim = heads * headDim, keys = key.split(into: 2 + layers)
        timeTextEmbed = FluxTransformer2DModel.TimeTextEmbedding(
            dim: dim, pooledDim: textDim, guidance: false, dtype: dtype, key: keys[0])
        projIn = Linear(textDim, dim, dtype: dtype, key: keys[1])
        refinerBlocks = (0..<layers).map { Block(heads: heads, headDim: headDim, dtype: dtype, key: keys[2 + $0]) }
    }

    /// - Parameters:
    ///   - text: `[B, L, text_embed_dim]` the text encoder's states.
    ///   - timestep: `[B]` as the model gets it.
    ///   - mask: `[B, L]`, nonzero = token, zero = padding.
    /// Returns `[B, L, D]`.
    public func callAsFunction(_ text: Tensor, timestep: Tensor, mask: Tensor) -> Tensor {
        // The mean over the tokens only, in float32 as diffusers computes it.
        let keep = (mask .!= Tensor.zeros([], dtype: mask.dtype)).asType(.float32).expandedDims(axis: -1)
        let pooled = ((text.asType(.float32) * keep).sum(axis: 1) / keep.sum(axis: 1)).asType(text.dtype)
        let embedding = timeTextEmbed(timestep: timestep, guidance: nil, pooled: pooled)
        var x = projIn(text)
        let attentionMask = HunyuanVideoTokenRefiner.selfAttentionMask(keep.squeezed(axis: -1))
        for block in refinerBlocks { x = block(x, embedding: embedding, mask: attentionMask) }
        return x
    }

    /// diffusers' refiner mask: a token attends to the tokens when both it and they are unpadded; every token may
    /// attend to the first one, so a padded token's row is never empty (no NaN).
    static func selfAttentionMask(_ keep: Tensor) -> AttentionMask {
        let l = keep.dim(1)
        let valid = keep .> Float(0)
        let pairs = valid.expandedDims(axis: 2) .&& valid.expandedDims(axis: 1)  // [B, L, L]
        let first = Tensor.arange(l).reshaped([1, 1, l]) .== Tensor.zeros([], dtype: .int32)
        return .boolean(pairs .|| first)
    }
}
