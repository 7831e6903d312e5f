import Engine
import NN

/// A double-stream block (diffusers `FluxTransformerBlock`): image and text keep separate weights (AdaLN, MLP, q/k/v)
/// and meet in one joint attention over `[text, image]`.
public final class FluxTransformerBlock: Module {
    public let norm1: AdaLayerNormZero
    @Child(key: "norm1_context") public var norm1Context: AdaLayerNormZero
    public let attn: MultiHeadAttention
    let norm2: LayerNorm
    public let ff: FeedForward
    @Child(key: "norm2_context") var norm2Context: LayerNorm
    @Child(key: "ff_context") public var ffContext: FeedForward

    public init(dim: Int, heads: Int, headDim: Int, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 5)
        norm1 = AdaLayerNormZero(dim, dtype: dtype, key: keys[0])
        attn = MultiHeadAttention(
            queryDimensions: dim, heads: heads, headDimensions: headDim, outputDimensions: dim,
            bias: true, qkNorm: .rmsNorm(eps: 1e-6), addedContextDimensions: dim, dtype: dtype, key: keys[1])
        norm2 = LayerNorm(dim, eps: 1e-6, elementwiseAffine: false)
        ff = FeedForward(dim: dim, dtype: dtype, key: keys[2])
        super.init()
        norm1Context = AdaLayerNormZero(dim, dtype: dtype, key: keys[3])
        norm2Context = LayerNorm(dim, eps: 1e-6, elementwiseAffine: false)
        ffContext = FeedForward(dim: dim, dtype: dtype, key: keys[4])
    }

    /// `x [B, Li, D]` image tokens, `context [B, Lt, D]` text tokens, `embedding [B, D]` the conditioning vector.
    public func callAsFunction(_ x: Tensor, context: Tensor, embedding: Tensor, rotary: RotaryEmbedding) -> (
        x: Tensor, context: Tensor
    ) {
        let n = norm1(x, embedding: embedding)
        let c = norm1Context(context, embedding: embedding)
        let attended = attn.joint(n.x, context: c.x, rotary: rotary)

        var x = x + n.gateMSA.expandedDims(axis: 1) * attended.x
        x = x + n.gateMLP.expandedDims(axis: 1) * ff(modulate(norm2(x), shift: n.shiftMLP, scale: n.scaleMLP))

        var context = context + c.gateMSA.expandedDims(axis: 1) * attended.context
        context =
            context + c.gateMLP.expandedDims(axis: 1)
            * ffContext(modulate(norm2Context(context), shift: c.shiftMLP, scale: c.scaleMLP))
        return (x, context)
    }
}

/// A single-stream block (diffusers `FluxSingleTransformerBlock`): text and image tokens as one sequence, attention
/// and a parallel MLP whose outputs are concatenated and projected together.
public final class FluxSingleTransformerBlock: Module {
    public let norm: AdaLayerNormZeroSingle
    @Child(key: "proj_mlp") public var projMLP: Linear
    public let attn: MultiHeadAttention
    @Child(key: "proj_out") public var projOut: Linear

    public init(
        dim: Int, heads: Int, headDim: Int, mlpRatio: Float = 4, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        let keys = key.split(into: 4)
        let mlpDim = Int(Float(dim) * mlpRatio)
        norm = AdaLayerNormZeroSingle(dim, dtype: dtype, key: keys[0])
        attn = MultiHeadAttention(
            queryDimensions: dim, heads: heads, headDimensions: headDim, bias: true,
            qkNorm: .rmsNorm(eps: 1e-6), preOnly: true, dtype: dtype, key: keys[1])
        super.init()
        projMLP = Linear(dim, mlpDim, dtype: dtype, key: keys[2])
        projOut = Linear(dim + mlpDim, dim, dtype: dtype, key: keys[3])
    }

    /// `x [B, Lt + Li, D]`: the text tokens followed by the image tokens.
    public func callAsFunction(_ x: Tensor, embedding: Tensor, rotary: RotaryEmbedding) -> Tensor {
        let n = norm(x, embedding: embedding)
        let mlp = geluApproximate(projMLP(n.x))
        let attended = attn(n.x, rotary: rotary)
        return x + n.gate.expandedDims(axis: 1) * projOut(concatenated([attended, mlp], axis: 2))
    }
}
