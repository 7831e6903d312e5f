import Engine
import NN

/// diffusers' `WanRotaryPosEmbed`: each video token (frame, row, column after patching) rotates its own slice of
/// every head per axis (``WanTransformer3DConfig/rotaryAxesDims``: the head split as diffusers splits it), adjacent
/// feature pairs, frequencies `10000^(−2i/d)` per axis. These are FLUX's 3-axis tables with the token's grid
/// position as its ids, so ``FluxPositionEmbedding`` builds them (float64 angles rounded to float32, as diffusers).
/// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/transformers/transformer_wan.py
public struct WanRotaryPosEmbed: Sendable {
    public let axesDims: [Int]
    /// Positions diffusers' tables cover on each axis (`rope_max_seq_len`); a longer axis would not fit them.
    public let maxSeqLen: Int
    let tables: FluxPositionEmbedding

    public init(axesDims: [Int], maxSeqLen: Int, theta: Double = 10_000) {
        self.axesDims = axesDims
        self.maxSeqLen = maxSeqLen
        tables = FluxPositionEmbedding(axesDims: axesDims, theta: theta)
    }

    /// Interleaved cos/sin tables `[frames·height·width, head_dim]` for the patched grid, frame-major.
    public func callAsFunction(frames: Int, height: Int, width: Int) -> RotaryEmbedding {
        precondition(
            max(frames, height, width) <= maxSeqLen,
            "WanRotaryPosEmbed: a \(frames)×\(height)×\(width) token grid does not fit rope_max_seq_len \(maxSeqLen)")
        var ids: [Float] = []
        ids.reserveCapacity(3 * frames * height * width)
        for f in 0..<frames {
            for h in 0..<height {
                for w in 0..<width { ids += [Float(f), Float(h), Float(w)] }
            }
        }
        return tables(Tensor(ids, shape: [frames * height * width, 3]))
    }
}
