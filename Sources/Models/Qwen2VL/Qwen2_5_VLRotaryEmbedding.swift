import Engine
import Foundation

/// Qwen2.5-VL's multimodal rotary embedding (transformers `Qwen2_5_VLRotaryEmbedding`): the head's `head_dim / 2`
/// frequencies are split by `mrope_section` into three runs, and run r turns with position row r of `[3, B, L]` ids
/// (temporal, height, width). For text alone the three rows are equal and this is ordinary RoPE over the two halves.
/// Angles are taken in float32, as transformers does whatever the model's dtype:
/// https://github.com/huggingface/transformers/blob/v5.25.0/src/transformers/models/qwen2_5_vl/modeling_qwen2_5_vl.py
public struct Qwen2_5_VLRotaryEmbedding: Sendable {
    public let headDim: Int
    public let mropeSection: [Int]
    /// `1 / theta^(2j / head_dim)` for j in 0 ..< head_dim / 2.
    public let inverseFrequencies: [Float]

    public init(headDim: Int, theta: Float, mropeSection: [Int]) {
        precondition(
            mropeSection.count == 3 && mropeSection.reduce(0, +) == headDim / 2,
            "Qwen2_5_VLRotaryEmbedding: mrope_section \(mropeSection) does not split head_dim / 2 = \(headDim / 2)")
        self.headDim = headDim
        self.mropeSection = mropeSection
        inverseFrequencies = stride(from: 0, to: headDim, by: 2).map { 1 / powf(theta, Float($0) / Float(headDim)) }
    }

    public init(_ config: Qwen2_5_VLTextConfig) {
        self.init(headDim: config.headDim, theta: config.ropeTheta, mropeSection: config.mropeSection)
    }

    /// Text positions `0 ..< length` in all three rows, for every sequence of the batch: `[3, batch, length]` int32.
    public static func textPositionIDs(batch: Int, length: Int) -> Tensor {
        Tensor.arange(length).reshaped([1, 1, length]).broadcast(to: [3, batch, length])
    }

    /// `cos`, `sin` tables `[B, L, head_dim]` (each angle twice: for the first and the second half of the head) from
    /// position ids `[3, B, L]`.
    public func tables(positionIDs: Tensor) -> (cos: Tensor, sin: Tensor) {
        precondition(
            positionIDs.ndim == 3 && positionIDs.dim(0) == 3,
            "Qwen2_5_VLRotaryEmbedding: expected position ids [3, B, L], got \(positionIDs.shape)")
        let positions = positionIDs.asType(.float32)
        var runs: [Tensor] = []
        var start = 0
        for (row, count) in mropeSection.enumerated() where count > 0 {
            let frequencies = Tensor(Array(inverseFrequencies[start..<start + count]), shape: [count])
            runs.append(positions[row].expandedDims(axis: -1) * frequencies)
            start += count
        }
        let angles = concatenated(runs, axis: -1)
        let doubled = concatenated([angles, angles], axis: -1)
        return (doubled.cos(), doubled.sin())
    }
}
