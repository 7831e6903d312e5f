import Engine
import NN

// HunyuanVideo's double- and single-stream blocks. Their math and keys are FLUX's blocks' except that the text
// tokens' keys are masked (padding) and the MLP width follows `mlp_ratio`, so they are written here with a mask.
//
// diffusers orders the joint sequence [video, text] and rotates only the video tokens; here it is [text, video]
// (``MultiHeadAttention/joint(_:context:mask:rotary:)``'s order) with identity rotation rows for the text. Attention
// is the same for any token order as long as the mask and rotation follow the tokens, and everything else is per
// token.
//
// With token replacement (HunyuanVideo-I2V's `image_condition_type: "token_replace"`) the first frame's video
// tokens are modulated (shift, scale, gate) by the conditioning of timestep 0 instead of the sample's; diffusers'
// token-replace blocks have the same keys, so the same classes serve with a ``HunyuanVideoTokenReplace``.
// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_hunyuan_video.py

/// The first frame's modulation under token replacement: `embedding [B, D]` the conditioning of timestep 0 (and the
/// pooled text), `firstFrameTokens` the video tokens of the first latent frame (they lead the video tokens).
public struct HunyuanVideoTokenReplace {
    public let embedding: Tensor
    public let firstFrameTokens: Int
}

/// `linear(silu(embedding))` cut into `parts` modulation tensors for a sequence of `length` tokens: `[B, 1, D]` each,
/// or with `replace` `[B, length, D]` where the `replace.firstFrameTokens` tokens from `offset` on take the chunks of
/// `replace.embedding`.
func modulationChunks(
    _ linear: Linear, embedding: Tensor, parts: Int, replace: HunyuanVideoTokenReplace?, offset: Int, length: Int
) -> [Tensor] {
    let chunks = linear(silu(embedding)).expandedDims(axis: 1).split(parts: parts, axis: 2)
    guard let replace else { return chunks }
    let replaced = linear(silu(replace.embedding)).expandedDims(axis: 1).split(parts: parts, axis: 2)
    let n = replace.firstFrameTokens, b = max(embedding.dim(0), replace.embedding.dim(0))
    return zip(chunks, replaced).map { chunk, first in
        var pieces: [Tensor] = []
        for (source, count) in [(chunk, offset), (first, n), (chunk, length - offset - n)] where count > 0 {
            pieces.append(source.broadcast(to: [b, count, chunk.dim(2)]))
        }
        return concatenated(pieces, axis: 1)
    }
}

/// diffusers' `HunyuanVideoTransformerBlock`: video and text keep separate weights (AdaLN, MLP, q/k/v) and meet in
/// one joint attention.
public final class HunyuanVideoTransformerBlock: Module {
    public let norm1: AdaLayerNormZero
    @Child(key: "norm1_context") public var norm1Context: AdaLayerNormZero
    public let attn: MultiHeadAttention
    let norm2: LayerNorm
    public let ff: FeedForward
    @Child(key: "norm2_context") var norm2Context: LayerNorm
    @Child(key: "ff_context") public var ffContext: FeedForward

    public init(_ config: HunyuanVideoTransformer3DConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0))
    {
        let dim = config.innerDim, keys = key.split(into: 5)
        norm1 = AdaLayerNormZero(dim, dtype: dtype, key: keys[0])
        attn = MultiHeadAttention(
            queryDimensions: dim, heads: config.numAttentionHeads, headDimensions: config.attentionHeadDim,
            outputDimensions: dim, bias: true, qkNorm: .rmsNorm(eps: 1e-6), addedContextDimensions: dim, dtype: dtype,
            key: keys[1])
        norm2 = LayerNorm(dim, eps: 1e-6, elementwiseAffine: false)
        ff = FeedForward(dim: dim, innerDim: config.mlpDim, approximation: .tanh, dtype: dtype, key: keys[2])
        super.init()
        norm1Context = AdaLayerNormZero(dim, dtype: dtype, key: keys[3])
        norm2Context = LayerNorm(dim, eps: 1e-6, elementwiseAffine: false)
        ffContext = FeedForward(dim: dim, innerDim: config.mlpDim, approximation: .tanh, dtype: dtype, key: keys[4])
    }

    /// `x [B, Lv, D]` video tokens, `context [B, Lt, D]` text tokens, `embedding [B, D]` the conditioning vector;
    /// `mask` and `rotary` cover `[text, video]`.
    public func callAsFunction(
        _ x: Tensor, context: Tensor, embedding: Tensor, mask: AttentionMask, rotary: RotaryEmbedding,
        replace: HunyuanVideoTokenReplace? = nil, sequenceParallel: SequenceParallelism? = nil
    ) -> (x: Tensor, context: Tensor) {
        // shift, scale, gate of the attention, then of the MLP.
        let m = modulationChunks(
            norm1.linear, embedding: embedding, parts: 6, replace: replace, offset: 0, length: x.dim(1))
        let c = norm1Context(context, embedding: embedding)
        let attended = attn.joint(
            norm1.norm(x) * (m[1] + 1) + m[0], context: c.x, mask: mask, rotary: rotary,
            sequenceParallel: sequenceParallel)

        var x = x + m[2] * attended.x
        x = x + m[5] * ff(norm2(x) * (m[4] + 1) + m[3])

        var context = context + c.gateMSA.expandedDims(axis: 1) * attended.context
        context =
            context + c.gateMLP.expandedDims(axis: 1)
            * ffContext(modulate(norm2Context(context), shift: c.shiftMLP, scale: c.scaleMLP))
        return (x, context)
    }
}

/// diffusers' `HunyuanVideoSingleTransformerBlock`: text and video tokens as one sequence, attention and a parallel
/// gelu-tanh MLP whose outputs are concatenated and projected together.
public final class HunyuanVideoSingleTransformerBlock: Module {
    public let norm: AdaLayerNormZeroSingle
    @Child(key: "proj_mlp") public var projMLP: Linear
    public let attn: MultiHeadAttention
    @Child(key: "proj_out") public var projOut: Linear

    public init(_ config: HunyuanVideoTransformer3DConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0))
    {
        let dim = config.innerDim, keys = key.split(into: 4)
        norm = AdaLayerNormZeroSingle(dim, dtype: dtype, key: keys[0])
        attn = MultiHeadAttention(
            queryDimensions: dim, heads: config.numAttentionHeads, headDimensions: config.attentionHeadDim,
            bias: true, qkNorm: .rmsNorm(eps: 1e-6), preOnly: true, dtype: dtype, key: keys[1])
        super.init()
        projMLP = Linear(dim, config.mlpDim, dtype: dtype, key: keys[2])
        projOut = Linear(dim + config.mlpDim, dim, dtype: dtype, key: keys[3])
    }

    /// `x [B, Lt + Lv, D]`: the `textLength` text tokens followed by the video tokens; `mask` and `rotary` cover
    /// them.
    public func callAsFunction(
        _ x: Tensor, embedding: Tensor, mask: AttentionMask, rotary: RotaryEmbedding, textLength: Int,
        replace: HunyuanVideoTokenReplace? = nil, sequenceParallel: SequenceParallelism? = nil
    ) -> Tensor {
        // shift, scale, gate.
        let m = modulationChunks(
            norm.linear, embedding: embedding, parts: 3, replace: replace, offset: textLength, length: x.dim(1))
        let normalized = norm.norm(x) * (m[1] + 1) + m[0]
        let mlp = geluApproximate(projMLP(normalized))
        let attended = attn(normalized, mask: mask, rotary: rotary, sequenceParallel: sequenceParallel)
        return x + m[2] * projOut(concatenated([attended, mlp], axis: 2))
    }
}
