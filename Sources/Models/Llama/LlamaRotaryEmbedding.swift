import Engine
import Foundation

/// transformers `LlamaRotaryEmbedding`: ordinary RoPE over the two halves of each head, its frequencies
/// `1 / theta^(2j / head_dim)`, for "llama3" rescaled as `_compute_llama3_parameters` does (long wavelengths divided
/// by `factor`, short ones kept, a smooth blend between). Angles are taken in float32 whatever the model's dtype.
/// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/modeling_rope_utils.py#L598
public struct LlamaRotaryEmbedding: Sendable {
    public let headDim: Int
    /// The frequencies, `head_dim / 2` of them.
    public let inverseFrequencies: [Float]

    public init(headDim: Int, rope: LlamaRopeParameters) {
        self.headDim = headDim
        let base = stride(from: 0, to: headDim, by: 2).map { 1 / powf(rope.ropeTheta, Float($0) / Float(headDim)) }
        inverseFrequencies = rope.ropeType == "llama3" ? base.map { Self.llama3($0, rope) } : base
    }

    public init(_ config: LlamaConfig) { self.init(headDim: config.headDim, rope: config.rope) }

    private static func llama3(_ frequency: Float, _ rope: LlamaRopeParameters) -> Float {
        let context = Float(rope.originalMaxPositionEmbeddings)
        let lowFrequencyWavelength = context / rope.lowFreqFactor
        let highFrequencyWavelength = context / rope.highFreqFactor
        let wavelength = 2 * Float.pi / frequency
        if wavelength < highFrequencyWavelength { return frequency }
        if wavelength > lowFrequencyWavelength { return frequency / rope.factor }
        let smooth = (context / wavelength - rope.lowFreqFactor) / (rope.highFreqFactor - rope.lowFreqFactor)
        return (1 - smooth) * frequency / rope.factor + smooth * frequency
    }

    /// `cos`, `sin` tables `[length, head_dim]` for positions `0 ..< length` (each angle twice: for the first and the
    /// second half of the head).
    public func tables(length: Int) -> (cos: Tensor, sin: Tensor) {
        let positions = Tensor.arange(length).asType(.float32).reshaped([length, 1])
        let angles = positions * Tensor(inverseFrequencies, shape: [1, inverseFrequencies.count])
        let doubled = concatenated([angles, angles], axis: -1)
        return (doubled.cos(), doubled.sin())
    }
}
