import Engine
import NN

/// The feed-forward of a T5 layer (`DenseReluDense`): `wo(act(wi(x)))`, or with a gated activation
/// `wo(act(wi_0(x)) · wi_1(x))` (T5 v1.1). No biases.
public final class T5DenseFeedForward: Module, UnaryLayer {
    @Child(key: "wi") public var wi: Linear?
    @Child(key: "wi_0") public var wi0: Linear?
    @Child(key: "wi_1") public var wi1: Linear?
    public let wo: Linear
    public let activation: Activation

    public init(_ config: T5Config, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        let keys = key.split(into: 3)
        wo = Linear(config.dFf, config.dModel, bias: false, dtype: dtype, key: keys[2])
        activation = config.activation ?? .relu
        super.init()
        // Every keyed child must be assigned, nil included.
        let gated = config.isGated
        wi = gated ? nil : Linear(config.dModel, config.dFf, bias: false, dtype: dtype, key: keys[0])
        wi0 = gated ? Linear(config.dModel, config.dFf, bias: false, dtype: dtype, key: keys[0]) : nil
        wi1 = gated ? Linear(config.dModel, config.dFf, bias: false, dtype: dtype, key: keys[1]) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let wi0, let wi1 { return wo(activation(wi0(x)) * wi1(x)) }
        return wo(activation(wi!(x)))
    }
}

/// `layer.0` of a T5 block: pre-norm self-attention with a residual (`T5LayerSelfAttention`).
public final class T5LayerSelfAttention: Module {
    @Child(key: "SelfAttention") public var selfAttention: T5Attention
    @Child(key: "layer_norm") public var layerNorm: T5LayerNorm

    init(_ config: T5Config, hasRelativeAttentionBias: Bool, dtype: DType, key: RandomKey) {
        super.init()
        selfAttention = T5Attention(config, hasRelativeAttentionBias: hasRelativeAttentionBias, dtype: dtype, key: key)
        layerNorm = T5LayerNorm(config.dModel, eps: config.layerNormEpsilon, dtype: dtype)
    }

    func callAsFunction(_ x: Tensor, bias: Tensor) -> Tensor { x + selfAttention(layerNorm(x), bias: bias) }
}

/// `layer.1` of a T5 encoder block: pre-norm feed-forward with a residual (`T5LayerFF`).
public final class T5LayerFF: Module {
    @Child(key: "DenseReluDense") public var denseReluDense: T5DenseFeedForward
    @Child(key: "layer_norm") public var layerNorm: T5LayerNorm

    init(_ config: T5Config, dtype: DType, key: RandomKey) {
        super.init()
        denseReluDense = T5DenseFeedForward(config, dtype: dtype, key: key)
        layerNorm = T5LayerNorm(config.dModel, eps: config.layerNormEpsilon, dtype: dtype)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { x + denseReluDense(layerNorm(x)) }
}

/// One encoder block (transformers `T5Block` without cross-attention): `layer.0` attention, `layer.1` feed-forward.
public final class T5Block: Module {
    @Child(key: "layer.0") public var attention: T5LayerSelfAttention
    @Child(key: "layer.1") public var feedForward: T5LayerFF

    public init(
        _ config: T5Config, hasRelativeAttentionBias: Bool, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)
    ) {
        super.init()
        let keys = key.split(into: 2)
        attention = T5LayerSelfAttention(
            config, hasRelativeAttentionBias: hasRelativeAttentionBias, dtype: dtype, key: keys[0])
        feedForward = T5LayerFF(config, dtype: dtype, key: keys[1])
    }

    public func callAsFunction(_ x: Tensor, bias: Tensor) -> Tensor {
        let attended = T5Block.clampedForHalf(attention(x, bias: bias))
        return T5Block.clampedForHalf(feedForward(attended))
    }

    /// transformers keeps float16 activations finite after each sub-layer (T5 overflows in half precision): clamp to
    /// ±max, or to ±(max − 1000) once something is infinite. Other dtypes pass through.
    static func clampedForHalf(_ x: Tensor) -> Tensor {
        guard x.dtype == .float16 else { return x }
        let bound = Tensor.where(
            x.isInf().any(), Tensor.scalar(64504, dtype: .float16), Tensor.scalar(65504, dtype: .float16))
        return x.clipped(min: -bound, max: bound)
    }
}
