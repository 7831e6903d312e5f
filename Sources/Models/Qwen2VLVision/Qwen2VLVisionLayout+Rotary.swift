import Engine
import Foundation

extension Qwen2VLVisionLayout {
    /// `[L, head_dim]` cos and sin of each patch's rotary angles (float32), the same in both Qwen2-VL towers: the
    /// first half of a head turns with the row, the second with the column, each over `head_dim / 4` frequencies
    /// repeated twice (rotate-half layout).
    func rotary(headDim: Int, theta: Double) -> (cos: Tensor, sin: Tensor) {
        let quarter = headDim / 4
        let spatial = Double(headDim / 2)
        let inverse = (0..<quarter).map { Float(1 / pow(theta, Double(2 * $0) / spatial)) }
        let freqs = Tensor(inverse, shape: [1, quarter])
        let rows = Tensor(positions.map { Float($0.h) }, shape: [patchCount, 1]) * freqs
        let cols = Tensor(positions.map { Float($0.w) }, shape: [patchCount, 1]) * freqs
        let angles = concatenated([rows, cols, rows, cols], axis: 1)
        return (angles.cos(), angles.sin())
    }
}
