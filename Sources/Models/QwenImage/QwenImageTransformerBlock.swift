import Engine
import NN

/// A double-stream block (diffusers `QwenImageTransformerBlock`): image and text tokens keep separate modulation,
/// norms, q/k/v and MLPs, and meet in one joint attention over `[text, image]`.
///
/// The arithmetic is FLUX's double-stream block (six modulation chunks per stream: shift, scale, gate for the attention
/// and for the MLP; parameter-free LayerNorms with eps 1e-6; RMS q/k norms; tanh-GELU MLPs; gated residuals), and the
/// attention and MLPs are the same layers as FLUX's. Only the modulation's keys differ (`img_mod.1`, an
/// `nn.Sequential(SiLU, Linear)`, where FLUX has `norm1.linear`), so the projection is held here rather than in an
/// ``AdaLayerNormZero``.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_qwenimage.py
public final class QwenImageTransformerBlock: Module {
    @Child(key: "img_mod.1") public var imageModulation: Linear
    @Child(key: "txt_mod.1") public var textModulation: Linear
    public let attn: MultiHeadAttention
    @Child(key: "img_mlp") public var imageMLP: FeedForward
    @Child(key: "txt_mlp") public var textMLP: FeedForward
    let norm: LayerNorm

    public init(dim: Int, heads: Int, headDim: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 5)
        attn = MultiHeadAttention(
            queryDimensions: dim, heads: heads, headDimensions: headDim, outputDimensions: dim,
            bias: true, qkNorm: .rmsNorm(eps: 1e-6), addedContextDimensions: dim, dtype: dtype, key: keys[0])
        // img_norm1/2, txt_norm1/2 are the same parameter-free LayerNorm.
        norm = LayerNorm(dim, eps: 1e-6, elementwiseAffine: false)
        super.init()
        imageModulation = Linear(dim, 6 * dim, dtype: dtype, key: keys[1])
        textModulation = Linear(dim, 6 * dim, dtype: dtype, key: keys[2])
        imageMLP = FeedForward(dim: dim, dtype: dtype, key: keys[3])
        textMLP = FeedForward(dim: dim, dtype: dtype, key: keys[4])
    }

    /// - x: `[B, Li, D]` image tokens; context: `[B, Lt, D]` text tokens; embedding: `[B, D]` the timestep embedding.
    /// - mask: over the joint sequence `[text, image]` (padding text keys masked out), or `.none`.
    /// - rotary: tables for the joint sequence.
    public func callAsFunction(
        _ x: Tensor, context: Tensor, embedding: Tensor, mask: AttentionMask, rotary: RotaryEmbedding
    ) -> (x: Tensor, context: Tensor) {
        let conditioning = silu(embedding)
        let m = imageModulation(conditioning).split(parts: 6, axis: 1)
        let t = textModulation(conditioning).split(parts: 6, axis: 1)
        let attended = attn.joint(
            modulate(norm(x), shift: m[0], scale: m[1]), context: modulate(norm(context), shift: t[0], scale: t[1]),
            mask: mask, rotary: rotary)

        var x = x + m[2].expandedDims(axis: 1) * attended.x
        var context = context + t[2].expandedDims(axis: 1) * attended.context
        x = x + m[5].expandedDims(axis: 1) * imageMLP(modulate(norm(x), shift: m[3], scale: m[4]))
        context = context + t[5].expandedDims(axis: 1) * textMLP(modulate(norm(context), shift: t[3], scale: t[4]))
        // diffusers keeps float16 activations finite; other dtypes pass unchanged.
        if x.dtype == .float16 { x = x.clipped(min: -65504, max: 65504) }
        if context.dtype == .float16 { context = context.clipped(min: -65504, max: 65504) }
        return (x, context)
    }
}
