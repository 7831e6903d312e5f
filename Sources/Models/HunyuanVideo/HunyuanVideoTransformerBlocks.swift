import Engine
import NN

// HunyuanVideo's double- and single-stream blocks. Their math and keys are FLUX's blocks' except that the text
// tokens' keys are masked (padding) and the MLP width follows `mlp_ratio`, so they are written here with a mask.
//
// diffusers orders the joint sequence [video, text] and rotates only the video tokens; here it is [text, video]
// (``MultiHeadAttention/joint(_:context:mask:rotary:)``'s order) with identity rotation rows for the text. Attention
// is the same for any token order as long as the mask and rotation follow the tokens, and everything else is per
// token.
// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_hunyuan_video.py

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
        _ x: Tensor, context: Tensor, embedding: Tensor, mask: AttentionMask, rotary: RotaryEmbedding
    ) -> (x: Tensor, context: Tensor) {
        let n = norm1(x, embedding: embedding)
        let c = norm1Context(context, embedding: embedding)
        let attended = attn.joint(n.x, context: c.x, mask: mask, rotary: rotary)

        var x = x + n.gateMSA.expandedDims(axis: 1) * attended.x
        x = x + n.gateMLP.expandedDims(axis: 1) * ff(modulate(norm2(x), shift: n.shiftMLP, scale: n.scaleMLP))

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

    /// `x [B, Lt + Lv, D]`: the text tokens followed by the video tokens; `mask` and `rotary` cover them.
    public func callAsFunction(_ x: Tensor, embedding: Tensor, mask: AttentionMask, rotary: RotaryEmbedding) -> Tensor {
        let n = norm(x, embedding: embedding)
        let mlp = geluApproximate(projMLP(n.x))
        let attended = attn(n.x, mask: mask, rotary: rotary)
        return x + n.gate.expandedDims(axis: 1) * projOut(concatenated([attended, mlp], axis: 2))
    }
}
