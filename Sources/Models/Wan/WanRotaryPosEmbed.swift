import Engine
import NN

/// diffusers' `WanRotaryPosEmbed`: each video token (frame, row, column after patching) rotates its own slice of
/// every head per axis (``WanTransformer3DConfig/rotaryAxesDims``: the head split as diffusers splits it), adjacent
/// feature pairs, frequencies `10000^(−2i/d)` per axis.
///
/// As in diffusers, the tables of every axis are built once for positions `0 ..< rope_max_seq_len` and each forward
/// cuts and broadcasts them to its grid. Per axis they are FLUX's 3-axis tables with the position as every id, so
/// ``FluxPositionEmbedding`` builds them (float64 angles rounded to float32, as diffusers).
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_wan.py
public struct WanRotaryPosEmbed: Sendable {
    public let axesDims: [Int]
    /// Positions the tables cover on each axis (`rope_max_seq_len`).
    public let maxSeqLen: Int
    /// `[maxSeqLen, head_dim]`, the frame axis's features first, then the rows', then the columns'.
    let cos: Tensor
    let sin: Tensor

    public init(axesDims: [Int], maxSeqLen: Int, theta: Double = 10_000) {
        self.axesDims = axesDims
        self.maxSeqLen = maxSeqLen
        let positions = Tensor.arange(0, Double(maxSeqLen)).expandedDims(axis: 1).broadcast(to: [maxSeqLen, 3])
        guard case .tables(let cos, let sin, _) = FluxPositionEmbedding(axesDims: axesDims, theta: theta)(positions)
        else { preconditionFailure("FluxPositionEmbedding gives tables") }
        (self.cos, self.sin) = (cos, sin)
    }

    /// Interleaved cos/sin tables `[frames·height·width, head_dim]` for the patched grid, frame-major.
    public func callAsFunction(frames: Int, height: Int, width: Int) -> RotaryEmbedding {
        precondition(
            max(frames, height, width) <= maxSeqLen,
            "WanRotaryPosEmbed: a \(frames)×\(height)×\(width) token grid does not fit rope_max_seq_len \(maxSeqLen)")
        return .tables(
            cos: grid(cos, frames, height, width), sin: grid(sin, frames, height, width), layout: .interleaved)
    }

    /// Each axis's first `n` rows of its feature slice, broadcast over the other two axes and joined per token.
    private func grid(_ table: Tensor, _ frames: Int, _ height: Int, _ width: Int) -> Tensor {
        let counts = [frames, height, width]
        var start = 0
        let parts = axesDims.enumerated().map { axis, dim in
            defer { start += dim }
            var shape = [1, 1, 1, dim]
            shape[axis] = counts[axis]
            return table[..<counts[axis], start..<(start + dim)].reshaped(shape).broadcast(to: counts + [dim])
        }
        return concatenated(parts, axis: -1).reshaped([frames * height * width, -1])
    }
}
