import Engine
import NN

/// diffusers' `WanTransformerBlock`: self-attention with rotary positions, cross-attention to the text (and image)
/// tokens, and a gelu-tanh MLP, each added to the residual stream. Self-attention and MLP are modulated by the
/// timestep: `scale_shift_table [1, 6, D]` plus the block's share of the time projection gives shift, scale and gate
/// of each (AdaLN as in DiT, but one projection shared by all blocks and a learned offset per block).
///
/// As in diffusers, the norms (`FP32LayerNorm`), the modulation and the gated residual sums run in float32 and are
/// rounded back to the stream's dtype; a bfloat16 model rounds where diffusers' does.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_wan.py
public final class WanTransformerBlock: Module {
    let norm1: LayerNorm
    public let attn1: WanAttention
    public let attn2: WanAttention
    /// The affine LayerNorm before the cross-attention (`cross_attn_norm`); nil is diffusers' `nn.Identity`.
    public let norm2: LayerNorm?
    public let ffn: FeedForward
    let norm3: LayerNorm
    @Param(key: "scale_shift_table") public var scaleShiftTable: Tensor

    public init(_ config: WanTransformer3DConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let dim = config.innerDim, eps = Float(config.eps)
        let keys = key.split(into: 4)
        norm1 = LayerNorm(dim, eps: eps, elementwiseAffine: false)
        attn1 = WanAttention(
            dim: dim, heads: config.numAttentionHeads, headDim: config.attentionHeadDim, eps: eps, dtype: dtype,
            key: keys[0])
        attn2 = WanAttention(
            dim: dim, heads: config.numAttentionHeads, headDim: config.attentionHeadDim, eps: eps,
            addedKVDim: config.addedKVProjDim, dtype: dtype, key: keys[1])
        norm2 = config.crossAttnNorm ? LayerNorm(dim, eps: eps, dtype: dtype) : nil
        ffn = FeedForward(dim: dim, innerDim: config.ffnDim, approximation: .tanh, dtype: dtype, key: keys[2])
        norm3 = LayerNorm(dim, eps: eps, elementwiseAffine: false)
        super.init()
        // diffusers' initialisation: randn / sqrt(D).
        scaleShiftTable = (Random.normal([1, 6, dim], key: keys[3]) / Float(dim).squareRoot()).asType(dtype)
    }

    /// - Parameters:
    ///   - x: `[B, L, D]` the video tokens.
    ///   - context: `[B, Lt, D]` the embedded text tokens; `imageContext` `[B, Li, D]` the embedded image tokens (I2V).
    ///   - modulation: `[B, 6, D]` the time projection.
    ///   - rotary: the positions of the video tokens.
    public func callAsFunction(
        _ x: Tensor, context: Tensor, imageContext: Tensor? = nil, modulation: Tensor, rotary: RotaryEmbedding,
        sequenceParallel: SequenceParallelism? = nil
    ) -> Tensor {
        let dtype = x.dtype
        // shift, scale, gate of the self-attention, then of the MLP: [B, 1, D] each.
        let m = (scaleShiftTable.asType(.float32) + modulation.asType(.float32)).split(parts: 6, axis: 1)
        var h = x
        let attended = attn1(
            modulated(h, norm1, shift: m[0], scale: m[1]), rotary: rotary, sequenceParallel: sequenceParallel)
        h = (h.asType(.float32) + attended * m[2]).asType(dtype)

        let crossInput = norm2.map { float32LayerNorm(h, $0) } ?? h
        h = h + attn2(crossInput, context: context, imageContext: imageContext)

        let fed = ffn(modulated(h, norm3, shift: m[3], scale: m[4]))
        return (h.asType(.float32) + fed.asType(.float32) * m[5]).asType(dtype)
    }

    /// `norm(x)·(1 + scale) + shift` in float32, rounded to `x`'s dtype.
    private func modulated(_ x: Tensor, _ norm: LayerNorm, shift: Tensor, scale: Tensor) -> Tensor {
        (float32LayerNorm(x.asType(.float32), norm) * (scale + 1) + shift).asType(x.dtype)
    }
}
