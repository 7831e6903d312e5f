import Engine
import NN

/// diffusers' `BasicTransformerBlock` as Stable Diffusion's UNet builds it (`norm_type="layer_norm"`,
/// `activation_fn="geglu"`, no attention biases): self-attention (`attn1`), cross-attention to the text states
/// (`attn2`), GEGLU feed-forward (`ff`), each after its own LayerNorm (`norm1`, `norm2`, `norm3`, eps 1e-5) and added
/// back to the residual stream. With `onlyCrossAttention`, `attn1` attends to the text as well.
/// Input `[B, L, dim]`, context `[B, Lc, contextDim]`.
public final class BasicTransformerBlock: Module {
    public let norm1: LayerNorm
    public let attn1: MultiHeadAttention
    public let norm2: LayerNorm
    public let attn2: MultiHeadAttention
    public let norm3: LayerNorm
    public let ff: FeedForward
    public let onlyCrossAttention: Bool

    public init(
        dim: Int, heads: Int, headDim: Int, contextDim: Int, onlyCrossAttention: Bool = false,
        dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: 3)
        self.onlyCrossAttention = onlyCrossAttention
        norm1 = LayerNorm(dim, eps: 1e-5, dtype: dtype)
        attn1 = MultiHeadAttention(
            queryDimensions: dim, contextDimensions: onlyCrossAttention ? contextDim : nil, heads: heads,
            headDimensions: headDim, bias: false, outputBias: true, dtype: dtype, key: keys[0])
        norm2 = LayerNorm(dim, eps: 1e-5, dtype: dtype)
        attn2 = MultiHeadAttention(
            queryDimensions: dim, contextDimensions: contextDim, heads: heads, headDimensions: headDim,
            bias: false, outputBias: true, dtype: dtype, key: keys[1])
        norm3 = LayerNorm(dim, eps: 1e-5, dtype: dtype)
        ff = FeedForward(dim: dim, gated: true, dtype: dtype, key: keys[2])
        super.init()
    }

    public func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        var x = x + attn1(norm1(x), context: onlyCrossAttention ? context : nil)
        x = x + attn2(norm2(x), context: context)
        return x + ff(norm3(x))
    }
}

/// diffusers' `Transformer2DModel` on continuous (latent) input, the attention layer of SD's UNet blocks:
/// `x + proj_out(blocks(proj_in(norm(x))))` over the H·W positions. Keys `norm` (GroupNorm, eps 1e-6), `proj_in` and
/// `proj_out` (1×1 convolutions in SD 1, linear layers with `use_linear_projection` in SD 2; the same map on
/// channels-last activations), `transformer_blocks.<k>`. Activations are channels-last, `[N, H, W, C]`.
public final class SpatialTransformer: Module {
    public let norm: GroupNorm
    /// A `Conv2d` (1×1) or a `Linear`, as the checkpoint has it.
    @Child(key: "proj_in") public var projIn: Module
    @Child(key: "transformer_blocks") public var transformerBlocks: [BasicTransformerBlock]
    @Child(key: "proj_out") public var projOut: Module
    public let channels: Int

    public init(
        channels: Int, heads: Int, layers: Int, contextDim: Int, groups: Int, linearProjection: Bool,
        onlyCrossAttention: Bool = false, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        self.channels = channels
        norm = GroupNorm(groups: groups, channels: channels, eps: 1e-6, dtype: dtype)
        super.init()
        let keys = key.split(into: layers + 2)
        func projection(_ key: RandomKey) -> Module {
            linearProjection
                ? Linear(channels, channels, dtype: dtype, key: key)
                : Conv2d(channels, channels, kernelSize: 1, dtype: dtype, key: key)
        }
        projIn = projection(keys[0])
        transformerBlocks = (0..<layers).map {
            BasicTransformerBlock(
                dim: channels, heads: heads, headDim: channels / heads, contextDim: contextDim,
                onlyCrossAttention: onlyCrossAttention, dtype: dtype, key: keys[2 + $0])
        }
        projOut = projection(keys[1])
    }

    public func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        let (n, h, w) = (x.dim(0), x.dim(1), x.dim(2))
        // Both projection kinds act on the channel axis, so they apply to the channels-last map directly.
        var tokens = (projIn as! UnaryLayer)(norm(x)).reshaped([n, h * w, channels])
        for block in transformerBlocks { tokens = block(tokens, context: context) }
        return x + (projOut as! UnaryLayer)(tokens.reshaped([n, h, w, channels]))
    }
}
