/// Activation memory of a network, in elements (times the compute dtype's size for bytes), from its shape: what one
/// training row (a sample at one transition) keeps for the backward pass, with and without gradient checkpointing,
/// and what a forward pass without gradients needs for one sample.
public struct ActivationEstimate: Sendable, Equatable {
    /// Kept for the backward pass per row, without checkpointing.
    public var stored: Int
    /// Kept per row with checkpointing: each block's inputs, plus one block's activations while it is recomputed.
    public var checkpointed: Int
    /// The working set of a forward pass without gradients, per sample (about one block's activations).
    public var forward: Int

    public init(stored: Int, checkpointed: Int, forward: Int) {
        self.stored = stored
        self.checkpointed = checkpointed
        self.forward = forward
    }

    public func perRow(checkpointing: Bool) -> Int { checkpointing ? checkpointed : stored }

    /// One rank's share under Ulysses sequence parallelism over `ranks` ranks: each holds 1/`ranks` of the tokens'
    /// features and the attention scores of 1/`ranks` of the heads over the whole sequence (the replicated text, a
    /// few hundred tokens of thousands, is not counted apart; the exchange's gathered q, k, v are one block's
    /// transient).
    public func sequenceParallel(_ ranks: Int) -> ActivationEstimate {
        guard ranks > 1 else { return self }
        func share(_ bytes: Int) -> Int { (bytes + ranks - 1) / ranks }
        return ActivationEstimate(stored: share(stored), checkpointed: share(checkpointed), forward: share(forward))
    }

    /// Calibration (Tests/TrainingTests/MemoryPlanFluxTests.swift, `DANCEGRPO_CALIBRATE=1`): `Memory.peak` of the
    /// second of two training passes on tiny FLUX configs (4-8 heads of 16, 4-8 blocks, 96-608 tokens, 2-4 rows),
    /// less the weights and moments live before it and 8 bytes of gradient per parameter, per row. Without
    /// checkpointing that is (blocks + 1) x (a tokens hidden + b heads tokens^2): every block's activations plus one
    /// block's worth of backward buffers, with a = 21 and b = 0.87 (within 10% on every config). With checkpointing
    /// each block still held a' = 14 and b' = 0.38, far more than its inputs alone, plus one block recomputed.
    public static let transformerPerTokenFeature = 21.0
    /// Per attention score (heads × tokens²) of a block.
    public static let transformerPerScore = 0.87
    /// What a checkpointed block keeps, per token and feature and per attention score.
    public static let checkpointedPerTokenFeature = 14.0
    public static let checkpointedPerScore = 0.38

    /// A transformer of `blocks` blocks over `tokens` tokens (image and text) of `hidden` features in `heads` heads:
    /// tokens × hidden × blocks × a factor, plus the attention scores' term.
    /// `crossTokens`: tokens the blocks attend to without carrying them (Wan's text in cross-attention), which add
    /// heads × tokens × crossTokens scores per block.
    public static func transformer(tokens: Int, hidden: Int, heads: Int, blocks: Int, crossTokens: Int = 0)
        -> ActivationEstimate
    {
        let features = Double(tokens * hidden), scores = Double(heads * tokens * (tokens + crossTokens))
        let block = Int((transformerPerTokenFeature * features + transformerPerScore * scores).rounded())
        let kept = Int((checkpointedPerTokenFeature * features + checkpointedPerScore * scores).rounded())
        return ActivationEstimate(stored: (blocks + 1) * block, checkpointed: blocks * kept + block, forward: block)
    }

    /// Elements a UNet level keeps per pixel and channel for each of its 2·layers + 1 resnet layers (convolutions,
    /// group norms, SiLU, residuals, and what the formula leaves out: the up path's concatenated skips, the mid block,
    /// conv_in/out). Calibrated as the transformer's factors, on one model only: the embedded UNet world (channels
    /// 32/64, one layer per block, 16×16 latents, 4 rows; Tests/EmbeddedWorldTests/MemoryPlanUNetTests.swift), so
    /// Stable Diffusion v1.4 at 512 px is an extrapolation.
    public static let unetPerPixelChannel = 34
    /// What a checkpointed UNet level keeps per pixel and channel and layer (measured as the transformer's: far more
    /// than the block inputs alone).
    public static let unetCheckpointedPerPixelChannel = 11

    /// A UNet: at each level `channels[i]` features over `pixels` / 4^i positions, `layers` resnet layers down and
    /// `layers + 1` up, and attention over the positions of the levels in `attentionLevels` with `heads` heads.
    public static func unet(pixels: Int, channels: [Int], layers: Int, attentionLevels: Set<Int>, heads: Int)
        -> ActivationEstimate
    {
        var levels: [Int] = []
        for (i, c) in channels.enumerated() {
            let positions = max(1, pixels >> (2 * i))
            var level = unetPerPixelChannel * positions * c * (2 * layers + 1)
            if attentionLevels.contains(i) {
                let attention =
                    transformerPerTokenFeature * Double(positions * c) + transformerPerScore
                    * Double(heads * positions * positions)
                level += (2 * layers + 1) * Int(attention.rounded())
            }
            levels.append(level)
        }
        let stored = levels.reduce(0, +)
        let largest = levels.max() ?? 0
        // Checkpointed: what each level's blocks keep, plus the largest level's activations recomputed.
        let inputs = channels.enumerated().reduce(0) { sum, level in
            sum + unetCheckpointedPerPixelChannel * max(1, pixels >> (2 * level.offset)) * level.element
                * (2 * layers + 1)
        }
        return ActivationEstimate(stored: stored, checkpointed: inputs + largest, forward: largest)
    }
}
