import Engine
import NN

/// diffusers' `WanTimeTextImageEmbedding` (the transformer's `condition_embedder`): the timestep's sinusoidal
/// embedding through `time_embedder` (the conditioning vector of the output norm) and `time_proj` (the six modulation
/// vectors of every block), the text states through a gelu-tanh MLP to the model width, and for I2V the image
/// states through `image_embedder`.
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_wan.py
public final class WanConditionEmbedder: Module {
    @Child(key: "time_embedder") public var timeEmbedder: TimestepEmbedding
    @Child(key: "time_proj") public var timeProjection: Linear
    @Child(key: "text_embedder") public var textEmbedder: TextProjection
    @Child(key: "image_embedder") public var imageEmbedder: WanImageEmbedding?
    public let frequencyDim: Int

    public init(_ config: WanTransformer3DConfig, dtype: DType = .float32, key: RandomKey = RandomKey(seed: 0)) {
        frequencyDim = config.freqDim
        super.init()
        let dim = config.innerDim
        let keys = key.split(into: 4)
        timeEmbedder = TimestepEmbedding(inChannels: config.freqDim, embeddingDim: dim, dtype: dtype, key: keys[0])
        timeProjection = Linear(dim, 6 * dim, dtype: dtype, key: keys[1])
        textEmbedder = TextProjection(
            inChannels: config.textDim, embeddingDim: dim, activation: .geluTanh, dtype: dtype, key: keys[2])
        imageEmbedder = config.imageDim.map {
            WanImageEmbedding(
                $0, dim, positionTokens: config.posEmbedSeqLen, eps: 1e-5, dtype: dtype, key: keys[3])
        }
    }

    /// `timestep [B]` in the scheduler's 0…1000 range, `text [B, L, text_dim]`, `image [B', Li, image_dim]`.
    /// Returns the time embedding `[B, D]`, the block modulation `[B, 6, D]` and the embedded text (and image) tokens.
    public func callAsFunction(timestep: Tensor, text: Tensor, image: Tensor?) -> (
        time: Tensor, modulation: Tensor, text: Tensor, image: Tensor?
    ) {
        // diffusers computes the sinusoid in float32 and feeds it to the time MLP in that MLP's dtype.
        let sinusoid = sinusoidalTimestepEmbedding(
            timestep, channels: frequencyDim, flipSinToCos: true, downscaleFrequencyShift: 0)
        let time = timeEmbedder(sinusoid.asType(timeEmbedder.linear1.weight.dtype)).asType(text.dtype)
        let modulation = timeProjection(silu(time))
        return (
            time, modulation.reshaped([modulation.dim(0), 6, -1]), textEmbedder(text), image.map { imageEmbedder!($0) }
        )
    }
}

/// diffusers' `WanImageEmbedding`: image-encoder states through an affine LayerNorm in float32 (`norm1`), a GELU MLP
/// to the model width (`ff`) and a second LayerNorm (`norm2`). First-last-frame models add `pos_embed` to the two
/// images' tokens joined along the sequence: their states come as two batch entries per sample.
public final class WanImageEmbedding: Module {
    public let norm1: LayerNorm
    public let ff: FeedForward
    public let norm2: LayerNorm
    @Param(key: "pos_embed") public var positionEmbedding: Tensor?

    public init(
        _ inputDim: Int, _ outputDim: Int, positionTokens: Int?, eps: Float, dtype: DType = .float32,
        key: RandomKey = RandomKey(seed: 0)
    ) {
        norm1 = LayerNorm(inputDim, eps: eps, dtype: dtype)
        ff = FeedForward(
            dim: inputDim, outputDim: outputDim, multiplier: 1, approximation: .none, dtype: dtype, key: key)
        norm2 = LayerNorm(outputDim, eps: eps, dtype: dtype)
        super.init()
        positionEmbedding = positionTokens.map { Tensor.zeros([1, $0, inputDim], dtype: dtype) }
    }

    /// `image [B, Li, image_dim]` → `[B, Li, D]`; with the position embedding `[2B, Li, image_dim]` →
    /// `[B, 2Li, D]`.
    public func callAsFunction(_ image: Tensor) -> Tensor {
        var x = image
        if let positionEmbedding {
            let joined = 2 * x.dim(1)
            precondition(
                x.dim(0) % 2 == 0 && joined == positionEmbedding.dim(1),
                "WanImageEmbedding: pos_embed \(positionEmbedding.shape) needs two images of "
                    + "\(positionEmbedding.dim(1) / 2) tokens per sample, got \(image.shape)")
            x = x.reshaped([x.dim(0) / 2, joined, x.dim(2)]) + positionEmbedding
        }
        return float32LayerNorm(ff(float32LayerNorm(x, norm1)), norm2)
    }
}

/// diffusers' `FP32LayerNorm`: the statistics and the affine part in float32 whatever the input's dtype, the result
/// rounded back to it.
func float32LayerNorm(_ x: Tensor, _ norm: LayerNorm) -> Tensor {
    layerNorm(
        x.asType(.float32), weight: norm.weight?.asType(.float32), bias: norm.bias?.asType(.float32), eps: norm.eps
    ).asType(x.dtype)
}
